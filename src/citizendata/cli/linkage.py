"""Command line: linkage (filled in by its owner)."""

from __future__ import annotations
