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

from collections.abc import Sequence
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationInfo, model_validator

if TYPE_CHECKING:
    from citizendata.projects.estimation import EstimationSpec

__all__ = ["NATIONAL", "SmallAreaList", "SmallAreaSpec", "check_small_areas", "entry_problem"]

NATIONAL = "national"  # the benchmark level of the whole population


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


def entry_problem(entry: SmallAreaSpec, estimation: EstimationSpec) -> tuple[str, str] | None:
    """The field of ``entry`` that cannot be estimated from the indicator's declared tables,
    and why; None when it can.

    The direct estimates by ``area`` and by ``benchmark`` are cut from the indicator's
    coordinated protection pattern, which covers its declared disaggregations only: a
    table outside them would be protected on its own, and its cells could be differenced
    against the declared tables. So both levels must be declared dimensions.
    """
    ind = estimation.indicator(entry.indicator)
    if ind is None:
        return "indicator", (f"indicator {entry.indicator!r} is not declared under "
                             "estimation.indicators (declared: "
                             f"{sorted(i.id for i in estimation.indicators)})")
    dims = {d for dis in ind.disaggregations for d in dis}
    levels = [("area", entry.area)]
    if entry.benchmark not in (None, NATIONAL):
        levels.append(("benchmark", str(entry.benchmark)))
    for what, dim in levels:
        if dim not in dims:
            return what, (f"{what} {dim!r} is not among indicator {ind.id!r}'s declared "
                          f"disaggregations {ind.disaggregations}: add it there (e.g. [[{dim!r}]]), "
                          "so its direct estimates come from the indicator's coordinated "
                          "protection")
    return None


def check_small_areas(value: Sequence[SmallAreaSpec], info: ValidationInfo
                      ) -> Sequence[SmallAreaSpec]:
    """Every entry's area and benchmark are declared dimensions of its indicator.

    Meant as ``ProjectSpec.small_areas``'s validator (after ``estimation``).
    """
    data: dict[str, Any] = info.data
    estimation = data.get("estimation")
    if estimation is None:
        return value  # the estimation section failed on its own: its errors are reported
    for i, entry in enumerate(value):
        problem = entry_problem(entry, estimation)
        if problem:
            raise ValueError(f"small_areas[{i}] ({entry.id}): {problem[1]}")
    return value


# ``ProjectSpec.small_areas``: the entries, checked against the declared indicators
SmallAreaList = Annotated[list[SmallAreaSpec], AfterValidator(check_small_areas)]
