"""The spec of small area estimates: an indicator by area level, through Fay–Herriot.

One entry per indicator and area level. The direct estimates come from the indicator's
own estimates by ``area`` (the project's weighting and variance, never a new
estimator); the covariates from a reference table with one row per area (census
margins, administrative counts). The model's estimates are benchmarked so that the
areas of each ``benchmark`` group (e.g. the wards of a county) add up to that group's
direct estimate, with the areas weighted by ``weights``.

In YAML (project spec, top level)::

    small_areas:
      - indicator: sba
        area: ward
        covariates: ward_covariates
        columns: [mean_distance_km, share_not_indigenous]
        transform: arcsin
        benchmark: county_of_ward
        benchmark_method: ratio
        weights: women
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = ["SmallAreaSpec"]


class SmallAreaSpec(BaseModel):
    """Model-based estimates of one indicator for the areas of one level."""

    model_config = ConfigDict(extra="forbid")
    indicator: str  # an indicator id of estimation.indicators (its direct estimates by area)
    area: str  # the dimension giving the areas (e.g. "ward")
    covariates: str  # the reference table with one row per area (census margins)
    # the covariate table's column holding the area code; default: the ``area`` name
    key: str | None = None
    columns: list[str] = Field(default_factory=list)  # covariate columns; empty: all numeric
    categorical: list[str] = Field(default_factory=list)  # expanded to treatment dummies
    method: str = Field(default="reml", pattern="^(reml|ml|fh)$")
    # "arcsin": the arcsine-square-root transformation of a proportion (and back)
    transform: str | None = Field(default=None, pattern="^(arcsin)$")
    # the dimension (or "national") whose direct estimates the areas must add up to;
    # None: no benchmarking
    benchmark: str | None = None
    benchmark_method: str = Field(default="ratio", pattern="^(ratio|difference)$")
    # the covariate column with each area's population (benchmark and aggregation
    # weights); needed when benchmarking
    weights: str | None = None
    # smooth the direct estimates' sampling variances with a generalised variance
    # function (log variance on log n, and log p(1-p) for a proportion) before the model:
    # a ward's design variance from two or three clusters is itself very uncertain
    smooth_variances: bool = False
    level: float = Field(default=0.95, gt=0.5, lt=1.0)
    bootstrap: int = Field(default=0, ge=0, le=2000)  # parametric bootstrap MSE replicates
    seed: int | None = None
    purpose: str = "publication"  # the consent respondents gave must cover this use

    @model_validator(mode="after")
    def _distinct(self) -> SmallAreaSpec:
        if self.benchmark is not None and self.benchmark == self.area:
            raise ValueError(f"benchmark {self.benchmark!r} is the area dimension itself: "
                             "name a coarser level (e.g. county) or 'national'")
        if self.benchmark is not None and not self.weights:
            raise ValueError("benchmarking needs weights: the covariate column with each "
                             "area's population")
        both = sorted(set(self.columns) & set(self.categorical))
        if both:
            raise ValueError(f"columns {both} are listed both as numeric and categorical")
        return self

    @property
    def id(self) -> str:
        """``indicator`` by ``area``: how results and routes name this entry."""
        return f"{self.indicator}:{self.area}"
