"""The release part of a project spec: who signs off, and what a release contains."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["ReleaseSpec"]


class ReleaseSpec(BaseModel):
    """Who must approve a release before it is public, and what goes in it."""

    model_config = ConfigDict(extra="forbid")
    # user names of the community's designated representatives: each must approve
    community_representatives: list[str] = Field(default_factory=list)
    # the NSO's approval; by default required when the project intends to integrate
    nso_signoff: bool | None = None
    indicators: list[str] = Field(default_factory=list)  # default: every indicator
    licence: str = "CC-BY-4.0"
