"""Citizen data combined with a probability survey, as a project spec declares it.

A form declared ``non_probability: true`` (``estimation.design``) is a convenience or
crowd sample: who took part may depend on the outcome. When a probability survey the
NSO holds (a DHS, a census sample) measures the same covariates, an indicator of the
form can be estimated from both (``Client.estimate_combined``): propensity
pseudo-weights and the doubly robust estimator (Chen, Li & Wu 2020), mass imputation
and nearest-neighbour imputation, each saying which assumption it needs.

``estimation.combine`` maps an indicator id to its :class:`CombineSpec`: the reference
table holding the survey's microdata, its design columns (weights, strata, PSU), the
covariates both samples share (form names; ``rename`` gives the survey's names where
they differ), the methods and the domain columns a table may be broken down by.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationInfo, model_validator

__all__ = ["COMBINE_KINDS", "COMBINE_METHODS", "CombineMap", "CombineSpec", "check_combine"]

Method = Literal["ipw", "dr", "mi", "nn"]
COMBINE_METHODS: tuple[Method, ...] = ("ipw", "dr", "mi", "nn")
COMBINE_KINDS = ("proportion", "mean")  # the estimators give a population mean


class CombineSpec(BaseModel):
    """The reference survey an indicator of a non-probability form is combined with."""

    model_config = ConfigDict(extra="forbid")
    reference: str  # the reference table holding the survey's microdata (one row per unit)
    weights: str  # the survey's design-weight column
    strata: str | None = None  # the survey's strata column
    psu: str | None = None  # the survey's first-stage units (clusters, EAs)
    # covariates measured the same way in both samples, by their names in the form (fields
    # of the unit or an enclosing level, or derived variables)
    covariates: list[str] = Field(min_length=1)
    # form names that carry other names in the survey (form -> survey), as WeightingSpec.rename
    rename: dict[str, str] = Field(default_factory=dict)
    # the survey's own measure of the indicator (0/1 for a proportion), if it has one: adds
    # its design-based estimate as a "survey" row to compare with (no method needs it)
    outcome: str | None = None
    # rows of the survey to keep, by its own column names, e.g. {"sex": ["female"]}
    filter: dict[str, list[str]] = Field(default_factory=dict)
    # either model its own covariates (form names, a subset of ``covariates``): None = all
    propensity_covariates: list[str] | None = None
    outcome_covariates: list[str] | None = None
    methods: list[Method] = Field(default_factory=lambda: list(COMBINE_METHODS), min_length=1)
    # columns (form names) a table may be broken down by; both samples must have them
    domains: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _subsets(self) -> CombineSpec:
        for name in ("propensity_covariates", "outcome_covariates"):
            extra = sorted(set(getattr(self, name) or []) - set(self.covariates))
            if extra:
                raise ValueError(f"{name} {extra} are not among the covariates {self.covariates}")
        unknown = sorted(set(self.rename) - set(self.covariates) - set(self.domains))
        if unknown:
            raise ValueError(f"rename names {unknown}, which are neither covariates nor domains")
        return self

    def survey_name(self, form_name: str) -> str:
        """The survey's name of a covariate or domain column."""
        return self.rename.get(form_name, form_name)


def check_combine(value: dict[str, CombineSpec], info: ValidationInfo) -> dict[str, CombineSpec]:
    """Each declaration names a declared proportion or mean of a non-probability form.

    Run as ``EstimationSpec.combine``'s validator, after the indicators and designs.
    """
    data: dict[str, Any] = info.data
    if "indicators" not in data or "design" not in data:
        return value  # those failed on their own: their errors are reported
    indicators = {i.id: i for i in data["indicators"]}
    for ind_id in value:
        ind = indicators.get(ind_id)
        if ind is None:
            raise ValueError(f"{ind_id!r} is not a declared indicator (declared: "
                             f"{sorted(indicators)})")
        if ind.kind not in COMBINE_KINDS:
            raise ValueError(f"indicator {ind_id!r} is a {ind.kind}; combining with a survey "
                             f"estimates a population mean, so only {' and '.join(COMBINE_KINDS)} "
                             "indicators can be combined")
        design = data["design"].get(ind.form)
        if design is None or not design.non_probability:
            raise ValueError(f"indicator {ind_id!r}: form {ind.form!r} is not declared a "
                             "non-probability sample (estimation.design.<form>.non_probability: "
                             "true); a probability sample does not need a reference survey: its "
                             "design weights already make it represent the population")
    return value


# ``EstimationSpec.combine``: indicator id -> the survey it is combined with
CombineMap = Annotated[dict[str, CombineSpec], AfterValidator(check_combine)]
