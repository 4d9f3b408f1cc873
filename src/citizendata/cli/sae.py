"""Command line: the sae commands (issue 20)."""

from __future__ import annotations

__all__: list[str] = []
