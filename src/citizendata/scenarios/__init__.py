"""The reference scenarios that ship with citizendata, by their stable names."""

from __future__ import annotations

from types import ModuleType

from citizendata.errors import NotFound, Where
from citizendata.scenarios import (
    colombia_press_freedom,
    kenya_maternal_health,
    mexico_lgbtiq,
    saint_lucia_population,
)

__all__ = ["SCENARIOS", "get_scenario"]

# name -> module exposing NAME, FORM_PATH, PROJECT, DEMO_USERS, generate() and write_files().
SCENARIOS: dict[str, ModuleType] = {
    colombia_press_freedom.NAME: colombia_press_freedom,
    kenya_maternal_health.NAME: kenya_maternal_health,
    mexico_lgbtiq.NAME: mexico_lgbtiq,
    saint_lucia_population.NAME: saint_lucia_population,
}


def get_scenario(name: str) -> ModuleType:
    """The scenario module called ``name``; a coded error listing the known names otherwise."""
    try:
        return SCENARIOS[name]
    except KeyError:
        known = ", ".join(sorted(SCENARIOS))
        raise NotFound("not_found.scenario", f"no scenario called {name!r}; known scenarios: {known}",
                       where=Where(field="scenario"), fix=f"Use one of: {known}.") from None
