"""Client methods for small area estimates (Fay–Herriot) of a project's indicators."""

from __future__ import annotations

__all__ = ["SmallAreaMethods"]


class SmallAreaMethods:
    """Small area estimates by area level, through the project's disclosure control."""
