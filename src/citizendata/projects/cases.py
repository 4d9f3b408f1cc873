"""Cases reported by several sources, as a project spec declares them (``cases:``).

A press-freedom organisation (Colombia's FLIP) documents attacks on journalists; the
prosecutor, the ombudsman, unions and media monitors keep lists of their own. Every
source record is a submission of the project's **case form** (``form``): the
organisation's own reports arrive through the normal intake, the other lists are
imported from each organisation's CSV/XLSX (``lists``, with that file's column names
mapped to the form's fields). Records are linked into unique victims
(``linkage``), the organisation's own reports are verified against written criteria
(``verification``), and the linked capture histories give a multiple systems estimate
of the uncounted (``estimates``).
"""

from __future__ import annotations

import builtins
import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

__all__ = [
    "CaseFields",
    "CasesSpec",
    "LinkageSettings",
    "ListSpec",
    "MSEIndicatorSpec",
    "VerificationCriterion",
    "VerificationSpec",
]

_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,39}$")


class CaseFields(BaseModel):
    """The case form's field names for each part of a source record."""

    model_config = ConfigDict(extra="forbid")
    source: str = "source"  # select_one: the list (organisation) the record comes from
    record_id: str = "record_id"  # the list's own id of the record
    given_names: str = "victim_given_names"
    surnames: str = "victim_surnames"
    sex: str = "victim_sex"
    age: str = "victim_age"
    role: str = "victim_role"  # journalist, media_worker, trade_unionist, hr_defender
    violation: str = "violation"  # killing, kidnapping, enforced_disappearance, ...
    event_date: str = "event_date"
    department: str = "department"  # DIVIPOLA department code
    municipality: str = "municipality"  # DIVIPOLA municipality code
    perpetrator: str = "perpetrator"


class ListSpec(BaseModel):
    """One organisation's list: its short name (a column of the capture histories)."""

    model_config = ConfigDict(extra="forbid")
    name: str  # the list's short name, a choice of the source field, e.g. "fiscalia"
    organisation: str  # who keeps it, e.g. "Fiscalía General de la Nación"
    # the organisation's file columns -> the case form's fields (CaseFields' values);
    # columns not named here are refused, so nothing unexpected is stored
    columns: dict[str, str] = Field(default_factory=dict)
    # date format of the file's date column (strftime), e.g. "%d/%m/%Y"
    date_format: str = "%Y-%m-%d"
    # True when the organisation shares encodings (Bloom filters), not names
    encoded: bool = False

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not _NAME.match(v):
            raise ValueError("a list name is a letter then letters, digits or _ (at most 40)")
        return v


class VerificationCriterion(BaseModel):
    """A written criterion the validator checks before a case is verified."""

    model_config = ConfigDict(extra="forbid")
    code: str
    text: str


class VerificationSpec(BaseModel):
    """How the organisation's own reports go from reported to verified or not verified."""

    model_config = ConfigDict(extra="forbid")
    # the list whose records are verified (the organisation's own intake)
    list: str
    # builtins.list: the field above shadows the name inside this class body
    criteria: builtins.list[VerificationCriterion] = Field(min_length=1)
    # codes every verified case must meet (default: all of them)
    required: builtins.list[str] | None = None
    # count only verified records of that list in the estimates (others are left out)
    verified_only: bool = True

    @model_validator(mode="after")
    def _known(self) -> VerificationSpec:
        codes = [c.code for c in self.criteria]
        if len(set(codes)) != len(codes):
            raise ValueError("criterion codes must be unique")
        unknown = sorted(set(self.required or []) - set(codes))
        if unknown:
            raise ValueError(f"required criteria {unknown} are not among the criteria {codes}")
        return self


class LinkageSettings(BaseModel):
    """Record linkage across the lists (Fellegi–Sunter, splink)."""

    model_config = ConfigDict(extra="forbid")
    # pairs at or above this match probability are linked
    threshold: float = Field(default=0.9, gt=0, lt=1)
    # pairs with a probability in [low, high) go to clerical review
    review_band: tuple[float, float] = (0.5, 0.95)
    # date tolerance in days for the event date comparison
    date_tolerance_days: int = Field(default=30, ge=0, le=3650)
    # thresholds at which the estimate is re-run to show the effect of linkage error
    sensitivity: list[float] = Field(default_factory=lambda: [0.5, 0.7, 0.9, 0.95, 0.99])
    seed: int = Field(default=2016, ge=0, le=2**31 - 1)

    @model_validator(mode="after")
    def _band(self) -> LinkageSettings:
        lo, hi = self.review_band
        if not 0 < lo < hi <= 1:
            raise ValueError("review_band is (low, high) with 0 < low < high <= 1")
        return self


class MSEIndicatorSpec(BaseModel):
    """An SDG series estimated by multiple systems estimation from the linked lists."""

    model_config = ConfigDict(extra="forbid")
    series: str  # e.g. VC_VAW_MTUHRA (killings), VC_VOC_ENFDIS (enforced disappearances)
    title: str = ""
    violations: list[str] = Field(min_length=1)  # values of the violation field counted
    # estimate separately in these strata and add up (year, a region column, violation)
    strata: list[str] = Field(default_factory=list)
    # loglinear: selection among hierarchical models (up to two-way); lcmcr: Bayesian
    method: Literal["loglinear", "lcmcr"] = "loglinear"
    selection: Literal["bic", "aic", "stepwise", "average"] = "bic"
    # lists merged into one before estimating (too sparse to stand alone)
    merge: dict[str, list[str]] = Field(default_factory=dict)
    confidence: float = Field(default=0.95, gt=0.5, lt=1)


class CasesSpec(BaseModel):
    """Cases from several lists, their verification, linkage and estimates."""

    model_config = ConfigDict(extra="forbid")
    form: str  # the case form's id
    fields: CaseFields = Field(default_factory=CaseFields)
    lists: list[ListSpec] = Field(min_length=2)
    verification: VerificationSpec | None = None
    linkage: LinkageSettings = Field(default_factory=LinkageSettings)
    estimates: dict[str, MSEIndicatorSpec] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _lists(self) -> CasesSpec:
        names = [x.name for x in self.lists]
        if len(set(names)) != len(names):
            raise ValueError(f"list names must be unique: {names}")
        if len(names) > 8:
            raise ValueError("at most 8 lists can be estimated from (2^8 - 1 patterns)")
        if self.verification and self.verification.list not in names:
            raise ValueError(f"verification.list {self.verification.list!r} is not among {names}")
        fields = set(self.fields.model_dump().values())
        for x in self.lists:
            bad = sorted(set(x.columns.values()) - fields)
            if bad:
                raise ValueError(f"list {x.name!r} maps columns to {bad}, not case fields")
        for key, est in self.estimates.items():
            merged = [m for group in est.merge.values() for m in group]
            unknown = sorted(set(merged) - set(names))
            if unknown:
                raise ValueError(f"estimate {key!r} merges unknown lists {unknown}")
        return self
