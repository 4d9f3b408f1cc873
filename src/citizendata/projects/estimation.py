"""The estimation part of a project spec: derived variables, weighting and indicators.

An analyst declares each indicator once (what is counted, over which unit, which
SDG series it feeds) and the disaggregations it should be published for; the
derived variables (Washington Group disability status, age groups, location
roll-ups) and the weighting to official margins are declared beside them.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from citizendata.projects.combine import CombineMap
from citizendata.projects.design import DesignSpec

__all__ = [
    "AGE_SCHEMES",
    "BenchmarkSpec",
    "DerivedSpec",
    "DesignSpec",
    "EstimationSpec",
    "IndicatorSpec",
    "ReliabilitySpec",
    "WeightingSpec",
]

_ID = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")
WG_DOMAINS = ("seeing", "hearing", "walking", "cognition", "selfcare", "communication")
# Standard age bands: five-year groups and the bands the SDG database uses most.
AGE_SCHEMES: dict[str, tuple[int, ...]] = {
    "five_year": tuple(range(0, 95, 5)),
    "sdg": (0, 15, 25, 35, 45, 55, 65),
    "sdg_youth": (0, 15, 25),
    "reproductive": (15, 20, 25, 30, 35, 40, 45, 50),
}


class DerivedSpec(BaseModel):
    """A variable computed from answers: a WG disability status, an age group or a roll-up.

    * ``washington_group``: ``fields`` maps the six WG domains to the form's fields;
      ``identifier`` is DISABILITY1–4 (DISABILITY3 by default); ``missing`` lists the
      answer codes that mean don't know or refused; ``codes`` gives the answers for the
      four levels when the form does not code them 1–4 (an answer that is neither is
      refused with ``indicator.invalid``).
    * ``age_group``: ``field`` holds age in years; ``scheme`` is a standard set of
      bands or ``custom`` with ``breaks`` (lower bounds; the last is open-ended unless
      ``upper`` is given).
    * ``rollup``: ``field`` holds the lowest level (e.g. group ranch), ``geography``
      names a reference table with one column per level, ``level`` the column wanted.
    """

    model_config = ConfigDict(extra="forbid")
    kind: Literal["washington_group", "age_group", "rollup"]
    fields: dict[str, str] = Field(default_factory=dict)
    identifier: Literal["DISABILITY1", "DISABILITY2", "DISABILITY3", "DISABILITY4"] = "DISABILITY3"
    missing: list[str] = Field(default_factory=lambda: ["7", "8", "9"])
    # the answers meaning no difficulty / some / a lot / cannot do, when not coded 1–4
    # (e.g. 0–3, or choice names): keys exactly no_difficulty, some, a_lot, cannot
    codes: dict[Literal["no_difficulty", "some", "a_lot", "cannot"], str | list[str]] | None = None
    field: str | None = None
    scheme: str = "five_year"
    breaks: list[int] = Field(default_factory=list)
    upper: int | None = None
    geography: str | None = None
    level: str | None = None

    @model_validator(mode="after")
    def _complete(self) -> DerivedSpec:
        if self.kind == "washington_group":
            missing = sorted(set(WG_DOMAINS) - set(self.fields))
            extra = sorted(set(self.fields) - set(WG_DOMAINS))
            if missing or extra:
                raise ValueError(f"a washington_group variable needs exactly the six domains "
                                 f"{list(WG_DOMAINS)}; missing {missing}, unknown {extra}")
        elif self.kind == "age_group":
            if not self.field:
                raise ValueError("an age_group variable needs 'field' (the age in years)")
            if self.scheme == "custom":
                if len(self.breaks) < 1 or sorted(set(self.breaks)) != self.breaks:
                    raise ValueError("custom age groups need increasing 'breaks', e.g. [0, 18, 60]")
            elif self.scheme not in AGE_SCHEMES:
                raise ValueError(f"unknown age scheme {self.scheme!r}; use custom or one of "
                                 f"{sorted(AGE_SCHEMES)}")
        elif not (self.field and self.geography and self.level):
            raise ValueError("a rollup needs 'field', 'geography' (a reference table) and 'level'")
        return self

    def age_breaks(self) -> tuple[tuple[int, ...], int | None]:
        """The lower bounds of the bands and the upper limit (None: last band open)."""
        if self.scheme == "custom":
            return tuple(self.breaks), self.upper
        if self.scheme == "reproductive":
            return AGE_SCHEMES["reproductive"][:-1], 50
        return AGE_SCHEMES[self.scheme], self.upper


class ReliabilitySpec(BaseModel):
    """When an estimate is flagged: too few units, or a coefficient of variation too high."""

    model_config = ConfigDict(extra="forbid")
    min_n: int = Field(default=30, ge=1)
    caution_cv: float = Field(default=0.15, gt=0)
    unreliable_cv: float = Field(default=0.30, gt=0)


class WeightingSpec(BaseModel):
    """Calibration of one form's respondents to official population margins and totals.

    ``margins`` are categorical (counts per category, from the reference table);
    ``totals`` are continuous: a numeric auxiliary of the submission (enrolment,
    household size) and its population total, given as a number or as the name of a
    reference-table column whose sum is the total. With totals alone, ``margins`` may
    be empty; ``population_size`` then adds the population count (an intercept), and
    ``variance`` names the working model's variance column (the ratio estimator
    calibrates one total with ``variance`` the same auxiliary and no intercept).
    """

    model_config = ConfigDict(extra="forbid")
    reference: str  # name of the reference table of population counts
    total: str = "population"  # its count column
    margins: list[list[str]] = Field(default_factory=list)  # e.g. [["ward"], ["age_group"]]
    totals: dict[str, float | str] = Field(default_factory=dict)  # numeric auxiliary -> total
    population_size: float | None = Field(default=None, gt=0)
    variance: str | None = None  # working-model variance column (ratio estimator: the auxiliary)
    method: Literal["raking", "linear", "logit"] = "raking"
    bounds: tuple[float, float] | None = None
    trim: tuple[float | None, float | None] | None = None
    # sample variables that carry other names in the reference table (sample -> reference)
    rename: dict[str, str] = Field(default_factory=dict)
    # rows of the reference table to keep, e.g. {"sex": ["female"]} for a survey of women
    filter: dict[str, list[str]] = Field(default_factory=dict)
    # which submissions are in the design, e.g. "${consent} = 'yes'" (default: every analysed one)
    population: str | None = None
    # a unit without a value for a calibration variable: left out of the design (counted in
    # the diagnostics), or an error naming the units
    missing: Literal["drop", "error"] = "drop"

    @field_validator("margins")
    @classmethod
    def _margins(cls, v: list[list[str]]) -> list[list[str]]:
        if any(not m for m in v):
            raise ValueError("each margin is a list of one or more variables")
        return v

    @model_validator(mode="after")
    def _something(self) -> WeightingSpec:
        if not self.margins and not self.totals:
            raise ValueError("give at least one margin (categories) or one total (a numeric "
                             "auxiliary)")
        return self


class BenchmarkSpec(BaseModel):
    """An official figure to compare an estimate with (same unit and scale as the indicator)."""

    model_config = ConfigDict(extra="forbid")
    value: float
    se: float | None = Field(default=None, ge=0)
    source: str = ""
    year: int | None = None
    area: str = ""


class IndicatorSpec(BaseModel):
    """One indicator: what is estimated, over which unit, and for which disaggregations."""

    model_config = ConfigDict(extra="forbid")
    id: str
    name: str = ""
    form: str
    unit: str | None = None  # a repeat group's name (births, not women); None for the main table
    kind: Literal["proportion", "mean", "total", "ratio", "count"]
    numerator: str  # proportion/count: a condition; mean/total/ratio: a number
    denominator: str | None = None  # ratio: a number; others: a condition choosing the units
    unit_of_measure: str = ""  # e.g. PT (percent), NUMBER
    scale: float = Field(default=1.0, gt=0)  # 100 to publish a proportion as a percentage
    series: str | None = None  # SDG series code, e.g. SH_STA_BRTC
    disaggregations: list[list[str]] = Field(default_factory=list)
    weighted: bool = True
    missing: Literal["exclude", "zero"] = "exclude"
    ci: Literal["auto", "wilson", "clopper_pearson", "logit", "wald"] = "auto"
    benchmark: BenchmarkSpec | None = None

    @field_validator("id")
    @classmethod
    def _id(cls, v: str) -> str:
        if not _ID.match(v):
            raise ValueError("use letters, digits and underscores, starting with a letter")
        return v

    @model_validator(mode="after")
    def _ratio(self) -> IndicatorSpec:
        if self.kind == "ratio" and not self.denominator:
            raise ValueError("a ratio needs a denominator expression")
        return self


class EstimationSpec(BaseModel):
    """Derived variables, weighting per form, indicators and the reliability rule."""

    model_config = ConfigDict(extra="forbid")
    derived: dict[str, DerivedSpec] = Field(default_factory=dict)
    weighting: dict[str, WeightingSpec] = Field(default_factory=dict)  # form id -> weighting
    design: dict[str, DesignSpec] = Field(default_factory=dict)  # form id -> sampling design
    indicators: list[IndicatorSpec] = Field(default_factory=list)
    reliability: ReliabilitySpec = Field(default_factory=ReliabilitySpec)
    level: float = Field(default=0.95, gt=0.5, lt=1)
    # indicator id -> the probability survey a non-probability form is combined with
    combine: CombineMap = Field(default_factory=dict)

    @field_validator("derived")
    @classmethod
    def _names(cls, v: dict[str, DerivedSpec]) -> dict[str, DerivedSpec]:
        bad = [k for k in v if not _ID.match(k)]
        if bad:
            raise ValueError(f"derived variable names {bad}: use letters, digits and underscores")
        return v

    @field_validator("indicators")
    @classmethod
    def _unique(cls, v: list[IndicatorSpec]) -> list[IndicatorSpec]:
        ids = [i.id for i in v]
        dup = sorted({i for i in ids if ids.count(i) > 1})
        if dup:
            raise ValueError(f"indicator ids must be unique; repeated: {dup}")
        return v

    def indicator(self, indicator_id: str) -> IndicatorSpec | None:
        """The indicator with this id, if declared."""
        return next((i for i in self.indicators if i.id == indicator_id), None)
