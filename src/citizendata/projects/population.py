"""The spec of population estimates by small area: census coverage and bottom-up counts."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

__all__ = ["PopulationSpec"]


class PopulationSpec(BaseModel):
    """Where the census counts, dwelling counts and community enumeration come from."""

    model_config = ConfigDict(extra="forbid")
    census: str  # reference table: census counts by area
    dwellings: str  # reference table: dwelling counts by area (imagery, community mapping)
    enumeration: str  # the community enumeration form id
