"""Command line: the population commands (issue 20)."""

from __future__ import annotations

__all__: list[str] = []
