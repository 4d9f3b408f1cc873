"""The quality record's data: evidence, attestations, dimension results, gateway, decision.

Everything here is plain data, so the rules (gateway, scorecard, fitness) are pure
functions from evidence to results, testable without a database.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date
from typing import Any, Literal

__all__ = [
    "CITIZEN_DIMENSIONS",
    "DIMENSIONS",
    "NQAF_DIMENSIONS",
    "Attestation",
    "DimensionResult",
    "Evidence",
    "GatewayCriterion",
    "GatewayResult",
    "Recommendation",
    "Scorecard",
]

# UN NQAF (2019) output dimensions
NQAF_DIMENSIONS: dict[str, str] = {
    "relevance": "Relevance",
    "accuracy_reliability": "Accuracy and reliability",
    "timeliness_punctuality": "Timeliness and punctuality",
    "accessibility_clarity": "Accessibility and clarity",
    "coherence_comparability": "Coherence and comparability",
}
# the citizen-data dimensions (UNITAR criteria, Copenhagen Framework, HRBAD)
CITIZEN_DIMENSIONS: dict[str, str] = {
    "self_identification": "Self-identification",
    "confidentiality_privacy": "Confidentiality and privacy",
    "metadata_completeness": "Metadata completeness",
    "sustainability_frequency": "Sustainability and frequency",
    "integrability": "Integrability",
    "representativeness_coverage": "Representativeness and coverage",
    "inclusion": "Inclusion of marginalised groups",
}
DIMENSIONS: dict[str, str] = {**NQAF_DIMENSIONS, **CITIZEN_DIMENSIONS}

Rating = Literal["high", "medium", "low", "not_assessed"]


@dataclass
class Evidence:
    """Machine-checkable facts about one dataset (a form's data) and, optionally, one indicator.

    Every field may be None: not measured (no validation run yet, no weighting, …);
    a dimension whose evidence is missing falls back to an attestation.
    """

    # accuracy and reliability
    submissions: int = 0
    validation_pass_rate: float | None = None  # share of submissions without an error finding
    duplicate_rate: float | None = None  # share of submissions in confirmed/candidate duplicate pairs
    item_nonresponse: float | None = None  # mean share of relevant questions left blank
    kappa: float | None = None  # validators' agreement (Fleiss, or mean Cohen)
    headline_cv: float | None = None  # the indicator's headline CV
    # timeliness: days from the end of the reference period to release (or today)
    lag_days: float | None = None
    # representativeness and coverage
    r_indicator: float | None = None  # Schouten et al. (2009), 0..1
    coverage_distance: float | None = None  # max |sample share − census share| over margins
    # coherence with an official benchmark
    coherence_z: float | None = None  # (estimate − benchmark) / SE of the difference
    coherence_difference: float | None = None
    # self-identification: identity variables collected by self-report / declared
    identity_self_reported: float | None = None
    sex_self_identified: bool | None = None
    # sustainability and frequency
    periods_available: int | None = None  # consecutive reference periods with data
    # confidentiality: the protection policy in force (level, threshold) and consent
    protection_level: str | None = None
    threshold: int | None = None
    consent_recorded: bool | None = None  # a consent basis or consent question exists
    personal_fields_tagged: bool | None = None
    # metadata: share of the metadata items filled in (purpose, methods, periods, …)
    metadata_share: float | None = None
    # relevance: SDG series declared, need stated
    sdg_series: list[str] = field(default_factory=list)
    purpose_stated: bool | None = None
    # inclusion: marginalised groups (name -> cells publishable / cells asked)
    group_cells: dict[str, tuple[int, int]] = field(default_factory=dict)
    # integrability: standard SDG disaggregations possible (name -> possible)
    sdg_disaggregations: dict[str, bool] = field(default_factory=dict)
    wg_present: bool | None = None
    wg_unaltered: bool | None = None
    # accessibility: formats / documentation available
    documented_methods: bool | None = None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form."""
        d = asdict(self)
        d["group_cells"] = {k: list(v) for k, v in self.group_cells.items()}
        return d


@dataclass(frozen=True)
class Attestation:
    """A named person's statement about a dimension (or a gateway criterion), with a date."""

    subject: str  # a dimension key, or "gateway:<criterion>"
    rating: str  # high | medium | low (dimensions) or pass | fail (gateway)
    statement: str
    by: str  # user name
    role: str
    on: date


@dataclass
class DimensionResult:
    """One dimension's rating, the score behind it, and where it comes from."""

    key: str
    name: str
    rating: Rating
    score: float | None  # 0..1 where computed
    source: Literal["evidence", "attestation", "none"]
    evidence: dict[str, Any] = field(default_factory=dict)  # the figures used
    reasons: list[str] = field(default_factory=list)  # plain-English why
    attestation: Attestation | None = None


@dataclass
class Scorecard:
    """Every dimension for one dataset (and indicator, if given)."""

    dataset: str
    indicator: str | None
    dimensions: dict[str, DimensionResult]

    def rating(self, key: str) -> str:
        """One dimension's rating."""
        return self.dimensions[key].rating


@dataclass
class GatewayCriterion:
    """One gateway question (ONS protocol): pass or fail, with reasons."""

    key: Literal["ethics_privacy", "transparency_accountability", "need"]
    passed: bool
    reasons: list[str]
    source: Literal["evidence", "attestation"]


@dataclass
class GatewayResult:
    """Pass only if every criterion passes; checked before any scoring."""

    criteria: list[GatewayCriterion]

    @property
    def passed(self) -> bool:
        """True when every criterion passes."""
        return all(c.passed for c in self.criteria)


@dataclass
class Recommendation:
    """The fitness-for-integration recommendation, and a person's decision on it."""

    recommendation: Literal["integrate", "publish_alongside", "stand_alone"]
    reasons: list[str]
    rule: str  # which documented rule produced it
    decision: str | None = None  # confirmed value, or an override
    decided_by: str | None = None
    decided_role: str | None = None
    decided_on: str | None = None
    decision_reason: str | None = None
