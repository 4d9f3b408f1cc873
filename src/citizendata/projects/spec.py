"""The project spec: one reviewable text file (YAML or JSON) describing a citizen data initiative."""

from __future__ import annotations

import json
import re
from enum import StrEnum
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from citizendata.config import DEFAULT_MAX_DEPTH
from citizendata.errors import BadInput, Problem, Where
from citizendata.ingest.depth import check_json_depth, check_object_depth
from citizendata.projects.cases import CasesSpec
from citizendata.projects.estimation import EstimationSpec
from citizendata.projects.population import PopulationSpec
from citizendata.projects.protection import ProtectionSpec
from citizendata.projects.quality import QualitySpec, Stewardship
from citizendata.projects.release import ReleaseSpec
from citizendata.projects.small_areas import SmallAreaList

__all__ = [
    "STAGES",
    "THRESHOLD_STAGES",
    "EngagementEntry",
    "EstimationSpec",
    "FormValidationSpec",
    "IntegrationIntent",
    "LimitSpec",
    "LocationCheckSpec",
    "OrganisationRef",
    "OutlierSpec",
    "ProjectSpec",
    "ProtectionSpec",
    "QualitySpec",
    "ReleaseSpec",
    "Stewardship",
    "ValidationSpec",
    "load_spec",
]

# Value-chain stages (Open Data Watch) with "design" added: the Copenhagen Framework's
# threshold asks for engagement "at the minimum in the design and/or collection stages".
STAGES: dict[str, str] = {
    "design": "collection",
    "identify": "collection",
    "collect": "collection",
    "process": "collection",
    "analyse": "publication",
    "release": "publication",
    "disseminate": "publication",
    "connect": "uptake",
    "incentivise": "uptake",
    "influence": "uptake",
    "use": "impact",
    "change": "impact",
    "reuse": "impact",
}
THRESHOLD_STAGES = ("design", "collect")
LEVEL_NAMES = {
    1: "information",
    2: "consultation",
    3: "limited participation",
    4: "shared decision-making",
    5: "community-led",
}
_SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{1,98}[a-z0-9]$")


class IntegrationIntent(StrEnum):
    """What the initiative intends for its data with respect to official statistics."""

    INTEGRATE = "integrate"
    PUBLISH_ALONGSIDE = "publish_alongside"
    STAND_ALONE = "stand_alone"


class OrganisationRef(BaseModel):
    """An organisation named in a spec (docs/guide.md: who may attach which organisation)."""

    model_config = ConfigDict(extra="forbid")
    # the lengths the database holds (a longer value would fail there); specs stored
    # before these limits are still read, so nothing stricter is asked here
    slug: str = Field(max_length=100)
    name: str = Field(max_length=300)
    kind: str = Field(default="cso", max_length=40)
    country: str | None = Field(default=None, max_length=3)
    # for partners: cso, nso, government, academic, funder, other
    role: str | None = Field(default=None, max_length=40)


class EngagementEntry(BaseModel):
    """Participation level 1–5 at one value-chain stage, with evidence."""

    model_config = ConfigDict(extra="forbid")
    level: int = Field(ge=1, le=5)
    evidence: str = ""


class OutlierSpec(BaseModel):
    """Robust z-score outliers of numeric questions, optionally within groups."""

    model_config = ConfigDict(extra="forbid")
    fields: list[str] = Field(default_factory=list)  # empty: every numeric question
    by: list[str] = Field(default_factory=list)  # e.g. ["ward"]
    threshold: float = Field(default=3.5, gt=0)
    min_count: int = Field(default=20, ge=1)  # smaller groups get no score


class LimitSpec(BaseModel):
    """A plausible range for a numeric question; values outside are flagged."""

    model_config = ConfigDict(extra="forbid")
    field: str
    min: float | None = None
    max: float | None = None
    severity: str = Field(default="warning", pattern="^(warning|error)$")


class LocationCheckSpec(BaseModel):
    """A GPS answer must lie in the area another answer names, within a tolerance."""

    model_config = ConfigDict(extra="forbid")
    field: str  # the geopoint question
    area_field: str  # the question naming the area; its values are the boundaries' codes
    boundaries: str  # the project's reference table of boundaries (kind "boundaries")
    tolerance_m: float = Field(default=0.0, ge=0)
    severity: str = Field(default="warning", pattern="^(warning|error)$")


class FormValidationSpec(BaseModel):
    """What the server checks on one form beyond the form's own rules."""

    model_config = ConfigDict(extra="forbid")
    outliers: OutlierSpec | None = Field(default_factory=OutlierSpec)
    limits: list[LimitSpec] = Field(default_factory=list)
    # probable duplicates: citizendata.validate.probable.DuplicateConfig.from_dict
    duplicates: dict[str, Any] | None = None
    # GPS points checked against the area the submission names (citizendata.integrate.places)
    locations: list[LocationCheckSpec] = Field(default_factory=list)


class ValidationSpec(BaseModel):
    """Validation settings: which reviewed data analysis sees, and per-form checks."""

    model_config = ConfigDict(extra="forbid")
    # ODK Central-style review: only approved submissions, or all but rejected ones
    analytics: str = Field(default="approved", pattern="^(approved|all_but_rejected)$")
    forms: dict[str, FormValidationSpec] = Field(default_factory=dict)


class ProjectSpec(BaseModel):
    """A citizen data initiative: who, why, on what terms, and how citizens are engaged."""

    model_config = ConfigDict(extra="forbid")
    slug: str
    name: str = Field(max_length=300)
    initiator: OrganisationRef
    partners: list[OrganisationRef] = Field(default_factory=list)
    purpose: str = ""
    consent_basis: str = ""
    data_sharing: str = ""
    integration_intent: IntegrationIntent = IntegrationIntent.STAND_ALONE
    country: str | None = None  # UN M49 code, e.g. "404" for Kenya
    engagement: dict[str, EngagementEntry] = Field(default_factory=dict)
    validation: ValidationSpec = Field(default_factory=ValidationSpec)
    estimation: EstimationSpec = Field(default_factory=EstimationSpec)
    protection: ProtectionSpec = Field(default_factory=ProtectionSpec)
    stewardship: Stewardship = Field(default_factory=Stewardship)
    quality: QualitySpec = Field(default_factory=QualitySpec)
    release: ReleaseSpec = Field(default_factory=ReleaseSpec)
    # cases reported by several lists: verification, linkage, multiple systems estimation
    cases: CasesSpec | None = None
    # small area estimates (Fay–Herriot) of indicators, by area level
    small_areas: SmallAreaList = Field(default_factory=list)
    # population by small area: coverage of a census and bottom-up estimates
    population: PopulationSpec | None = None

    @field_validator("slug")
    @classmethod
    def _slug(cls, v: str) -> str:
        if not _SLUG.match(v):
            raise ValueError("use 3–100 lower-case letters, digits and hyphens, e.g. 'kenya-births'")
        return v

    @field_validator("engagement")
    @classmethod
    def _stages(cls, v: dict[str, EngagementEntry]) -> dict[str, EngagementEntry]:
        unknown = sorted(set(v) - set(STAGES))
        if unknown:
            raise ValueError(f"unknown value-chain stage(s) {unknown}; use {list(STAGES)}")
        # value-chain order, whatever order the file used
        return {stage: v[stage] for stage in STAGES if stage in v}

    @property
    def meets_citizen_data_threshold(self) -> bool:
        """True when citizens are at level 4 or 5 in design or collection (Copenhagen Framework)."""
        return any(
            s in self.engagement and self.engagement[s].level >= 4 for s in THRESHOLD_STAGES
        )

    def to_yaml(self) -> str:
        """The spec as reviewable YAML."""
        return yaml.safe_dump(self.model_dump(mode="json"), sort_keys=False, allow_unicode=True)


def _parse_text(text: str, name: str | None, max_depth: int) -> Any:
    """JSON or YAML text as data; JSON's depth is measured before parsing."""
    try:
        if text.lstrip().startswith("{"):
            check_json_depth(text, max_depth, file=name, what="The project spec")
            return json.loads(text)
        return yaml.safe_load(text)
    except RecursionError:
        # PyYAML's composer recurses once per level; the depth is reported as JSON's is
        raise BadInput("input.too_deep", f"The project spec nests deeper than {max_depth} "
                       "levels", where=Where(file=name), details={"limit": max_depth},
                       fix=f"Nest the spec at most {max_depth} levels deep.") from None
    except (ValueError, yaml.YAMLError) as exc:
        raise BadInput("input.invalid", f"The project spec cannot be read: {exc}",
                       where=Where(file=name)) from exc


def _validation_problems(exc: ValidationError, file: str | None) -> list[Problem]:
    return [
        Problem(
            "input.invalid",
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}",
            where=Where(file=file, field=".".join(str(p) for p in e["loc"])),
        )
        for e in exc.errors()
    ]


def load_spec(source: str | Path | dict[str, Any], *, file: str | None = None,
              max_depth: int = DEFAULT_MAX_DEPTH) -> ProjectSpec:
    """Read a spec from a YAML/JSON file, text or dict; every problem reported together.

    A spec nested deeper than ``max_depth`` is refused (input.too_deep).
    """
    name = file
    data: Any = source
    if isinstance(source, Path):
        name = name or source.name
        data = source.read_text(encoding="utf-8")
    if isinstance(data, str):
        data = _parse_text(data, name, max_depth)
    check_object_depth(data, max_depth, file=name, what="The project spec")
    if not isinstance(data, dict):
        raise BadInput("input.invalid", "The project spec must be a mapping of keys to values.",
                       where=Where(file=name))
    try:
        return ProjectSpec.model_validate(data)
    except ValidationError as exc:
        problems = _validation_problems(exc, name)
        raise BadInput(
            "input.invalid",
            f"The project spec has {len(problems)} problem(s): "
            + "; ".join(p.message for p in problems),
            where=Where(file=name),
            problems=problems,
        ) from exc
