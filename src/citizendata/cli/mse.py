"""Command line: mse (filled in by its owner)."""

from __future__ import annotations
