"""Command line: pprl (filled in by its owner)."""

from __future__ import annotations
