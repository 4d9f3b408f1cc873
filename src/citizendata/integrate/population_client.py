"""Client methods for population by small area: census coverage and bottom-up estimates."""

from __future__ import annotations

__all__ = ["PopulationMethods"]


class PopulationMethods:
    """Population estimates and census undercount by area."""
