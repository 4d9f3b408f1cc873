"""The quality part of a project spec: what the scorecard needs that the data cannot tell.

The reference period (for timeliness), which answers are identity variables and
whether they are self-reported, which marginalised groups must be reportable, the
periods with data, who holds the data, and the scales' thresholds when a project
needs other ones than the documented defaults (docs/methods/quality.md).
"""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["GroupSpec", "IdentitySpec", "QualitySpec", "Stewardship", "ThresholdSpec"]


class Stewardship(BaseModel):
    """Who holds the data and under which agreement."""

    model_config = ConfigDict(extra="forbid")
    holder: str = ""
    agreement: str = ""  # e.g. "data-sharing agreement with KNBS, 2026-03"
    access: str = ""  # who may use the data, on what terms


class IdentitySpec(BaseModel):
    """An identity variable (sex, gender identity, ethnicity, disability, …) of the form."""

    model_config = ConfigDict(extra="forbid")
    field: str
    self_reported: bool = True  # False: recorded by an enumerator or taken from a register


class GroupSpec(BaseModel):
    """A marginalised group whose estimates the initiative wants to report."""

    model_config = ConfigDict(extra="forbid")
    dimension: str  # a disaggregation dimension of the indicators, e.g. disability
    values: list[str]  # its codes that make up the group, e.g. [with_disability]


class ThresholdSpec(BaseModel):
    """A measure's cut-offs: at or beyond ``high`` is high, at or beyond ``medium`` medium."""

    model_config = ConfigDict(extra="forbid")
    high: float
    medium: float


class QualitySpec(BaseModel):
    """Quality settings; each has a documented default."""

    model_config = ConfigDict(extra="forbid")
    reference_period_start: date | None = None
    reference_period_end: date | None = None
    released_on: date | None = None  # default: today, for a dataset not yet released
    periods: list[str] = Field(default_factory=list)  # reference periods with data, e.g. ["2025"]
    identity: dict[str, IdentitySpec] = Field(default_factory=dict)  # sex, gender_identity, …
    groups: dict[str, GroupSpec] = Field(default_factory=dict)
    # overrides of the default thresholds, per measure name (docs/methods/quality.md)
    thresholds: dict[str, ThresholdSpec] = Field(default_factory=dict)
