"""The spec of small area estimates: an indicator by area level, through Fay–Herriot."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["SmallAreaSpec"]


class SmallAreaSpec(BaseModel):
    """Model-based estimates of one indicator for the areas of one level."""

    model_config = ConfigDict(extra="forbid")
    indicator: str  # an indicator id of estimation.indicators (its direct estimates by area)
    area: str  # the dimension giving the areas (e.g. "ward")
    covariates: str  # the reference table with one row per area (census margins)
    columns: list[str] = Field(default_factory=list)  # covariate columns; empty: all numeric
    method: str = Field(default="reml", pattern="^(reml|ml|fh)$")
