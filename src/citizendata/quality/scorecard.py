"""The quality scorecard's rules: rate each measure, combine measures into dimensions.

Pure functions from an ``Evidence`` (and any attestations) to a ``Scorecard``: no I/O,
no clock, the same result every time. The measures, their default thresholds, the
measure-to-dimension table and the combine rule are documented in
docs/methods/quality.md.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any, cast

from citizendata.projects.quality import ThresholdSpec
from citizendata.quality.model import (
    DIMENSIONS,
    Attestation,
    DimensionResult,
    Evidence,
    Rating,
    Scorecard,
)

__all__ = [
    "BOOLEAN_MEASURES",
    "DEFAULT_THRESHOLDS",
    "EXTRA_DISAGGREGATIONS",
    "FIELD_DIMENSIONS",
    "LOWER_IS_BETTER",
    "MEASURE_DIMENSIONS",
    "RATING_SCORE",
    "effective_thresholds",
    "rate",
    "score_dimensions",
]

# Default cut-offs per graded measure; sources in docs/methods/quality.md. For a
# measure in LOWER_IS_BETTER a value at or below ``high`` is high, at or below
# ``medium`` medium; otherwise at or above.
DEFAULT_THRESHOLDS: dict[str, ThresholdSpec] = {
    "validation_pass_rate": ThresholdSpec(high=0.95, medium=0.85),
    "duplicate_rate": ThresholdSpec(high=0.01, medium=0.05),
    "item_nonresponse": ThresholdSpec(high=0.05, medium=0.15),
    # Landis & Koch (1977): 0.61-0.80 substantial, 0.81-1.00 almost perfect
    "kappa": ThresholdSpec(high=0.8, medium=0.6),
    # the project's reliability flags (docs/methods/variance.md): caution above 15 %,
    # unreliable above 30 %
    "headline_cv": ThresholdSpec(high=0.15, medium=0.30),
    "lag_days": ThresholdSpec(high=365, medium=730),
    # Schouten, Cobben & Bethlehem (2009)
    "r_indicator": ThresholdSpec(high=0.8, medium=0.6),
    "coverage_distance": ThresholdSpec(high=0.05, medium=0.15),
    # rated on |z|: about the 95 % and 99.7 % two-sided normal limits
    "coherence_z": ThresholdSpec(high=2.0, medium=3.0),
    "identity_self_reported": ThresholdSpec(high=1.0, medium=0.5),
    "periods_available": ThresholdSpec(high=3, medium=2),
    # minimum respondents per published cell: 5 is the project's safe default,
    # 3 the smallest threshold rule in common use (Hundepool et al. 2012)
    "threshold": ThresholdSpec(high=5, medium=3),
    "metadata_share": ThresholdSpec(high=0.9, medium=0.6),
    # mean over the groups of the share of each group's cells that are published
    "group_cells": ThresholdSpec(high=0.8, medium=0.5),
    # share of the UN GA 71/313 disaggregations that are possible
    "sdg_disaggregations": ThresholdSpec(high=0.6, medium=0.3),
}
LOWER_IS_BETTER: frozenset[str] = frozenset(
    {"duplicate_rate", "item_nonresponse", "headline_cv", "lag_days", "coverage_distance",
     "coherence_z"}
)
# measures rated on their absolute value (a benchmark difference either way is incoherence)
_ABSOLUTE: frozenset[str] = frozenset({"coherence_z"})

# Yes/no measures: the rating for True and for False. wg_present False is only medium:
# a project without disability questions can still feed SDG series; the missing
# disaggregation already counts in sdg_disaggregations.
BOOLEAN_MEASURES: dict[str, tuple[Rating, Rating]] = {
    "wg_unaltered": ("high", "low"),
    "wg_present": ("high", "medium"),
    "sex_self_identified": ("high", "low"),
    "consent_recorded": ("high", "low"),
    "personal_fields_tagged": ("high", "low"),
    "purpose_stated": ("high", "low"),
    "documented_methods": ("high", "low"),
}
# protection levels that are a protection policy in force
_PROTECTION_LEVELS = frozenset({"standard", "strict"})
# sexual orientation and gender identity are reported but not counted in the share: they
# are not in GA 71/313, and in many places they are not safe to collect
EXTRA_DISAGGREGATIONS: frozenset[str] = frozenset({"sexual_orientation", "gender_identity"})

RATING_SCORE: dict[str, float] = {"high": 1.0, "medium": 0.5, "low": 0.0}
_ORDER = ("low", "medium", "high")

# Which measures each dimension combines, in the order their reasons are listed.
MEASURE_DIMENSIONS: dict[str, tuple[str, ...]] = {
    "relevance": ("sdg_series", "purpose_stated"),
    "accuracy_reliability": ("validation_pass_rate", "duplicate_rate", "item_nonresponse",
                             "kappa", "headline_cv"),
    "timeliness_punctuality": ("lag_days",),
    "accessibility_clarity": ("documented_methods",),
    "coherence_comparability": ("coherence_z", "wg_unaltered"),
    "self_identification": ("identity_self_reported", "sex_self_identified"),
    "confidentiality_privacy": ("protection_level", "threshold", "consent_recorded",
                                "personal_fields_tagged"),
    "metadata_completeness": ("metadata_share",),
    "sustainability_frequency": ("periods_available",),
    "integrability": ("sdg_disaggregations", "wg_present", "sdg_series"),
    "representativeness_coverage": ("r_indicator", "coverage_distance"),
    "inclusion": ("group_cells",),
}
# figures recorded with a dimension's evidence without being rated
_CONTEXT: dict[str, tuple[str, ...]] = {"coherence_comparability": ("coherence_difference",)}

def _field_dimensions() -> dict[str, tuple[str, ...]]:
    """Invert MEASURE_DIMENSIONS (and the context figures)."""
    out: dict[str, tuple[str, ...]] = {}
    for dim, names in MEASURE_DIMENSIONS.items():
        for name in (*names, *_CONTEXT.get(dim, ())):
            out[name] = (*out.get(name, ()), dim)
    return out


# Every Evidence field the scorecard reads -> the dimensions it can move. ``submissions``
# is not rated: sample size reaches accuracy through headline_cv.
FIELD_DIMENSIONS: dict[str, tuple[str, ...]] = _field_dimensions()

_LABELS: dict[str, str] = {
    "validation_pass_rate": "validation pass rate",
    "duplicate_rate": "duplicate rate",
    "item_nonresponse": "item non-response",
    "kappa": "validators' kappa",
    "headline_cv": "headline CV",
    "lag_days": "lag from the reference period to release",
    "r_indicator": "R-indicator",
    "coverage_distance": "largest gap to the census margins",
    "coherence_z": "|z| of the difference from the official benchmark",
    "identity_self_reported": "share of identity variables self-reported",
    "periods_available": "consecutive periods available",
    "threshold": "minimum respondents per published cell",
    "metadata_share": "metadata completeness",
    "group_cells": "publishable share of the marginalised groups' cells",
    "sdg_disaggregations": "share of the GA 71/313 disaggregations possible",
}
_PERCENT = frozenset({"validation_pass_rate", "duplicate_rate", "item_nonresponse",
                      "headline_cv", "coverage_distance", "identity_self_reported",
                      "metadata_share", "group_cells", "sdg_disaggregations"})


def effective_thresholds(overrides: Mapping[str, ThresholdSpec] | None = None
                         ) -> dict[str, ThresholdSpec]:
    """The defaults with a project's overrides (``quality.thresholds``) applied.

    An unknown measure name, or a ``high`` cut-off less demanding than ``medium``, is
    refused with ValueError: a typo must not silently leave the default in force.
    """
    out = dict(DEFAULT_THRESHOLDS)
    for name, spec in (overrides or {}).items():
        if name not in DEFAULT_THRESHOLDS:
            raise ValueError(f"unknown quality measure {name!r} in thresholds; "
                             f"use one of {sorted(DEFAULT_THRESHOLDS)}")
        inverted = spec.high > spec.medium if name in LOWER_IS_BETTER else spec.high < spec.medium
        if inverted:
            raise ValueError(f"thresholds for {name!r}: high ({spec.high:g}) must be at least as "
                             f"demanding as medium ({spec.medium:g})")
        out[name] = spec
    return out


def rate(measure: str, value: float, thresholds: Mapping[str, ThresholdSpec] | None = None
         ) -> Rating:
    """A graded measure's rating: high, medium or low by its thresholds (else the default)."""
    t = (thresholds or {}).get(measure) or DEFAULT_THRESHOLDS[measure]
    v = abs(value) if measure in _ABSOLUTE else value
    if measure in LOWER_IS_BETTER:
        return "high" if v <= t.high else "medium" if v <= t.medium else "low"
    return "high" if v >= t.high else "medium" if v >= t.medium else "low"


# -- formatting the reasons ------------------------------------------------------------


def _texts(measure: str, values: Sequence[float]) -> list[str]:
    """Figures as the reasons show them, with enough decimals that unequal ones differ."""
    def fmt(v: float, digits: int) -> str:
        if measure in _PERCENT:
            return f"{v * 100:.{digits}f}".rstrip("0").rstrip(".") + "%"
        return f"{v:.{digits}f}".rstrip("0").rstrip(".")

    for digits in range(1 if measure in _PERCENT else 2, 7):
        texts = [fmt(v, digits) for v in values]
        # rounding must not make a value look equal to a cut-off it misses
        if len(set(texts)) == len(set(values)):
            break
    unit = " days" if measure == "lag_days" else ""
    return [t + unit for t in texts]


def _graded_reason(measure: str, value: float, rating: Rating, t: ThresholdSpec) -> str:
    """Plain English: the measure, its value and the cut-off it met or missed."""
    label = _LABELS[measure]
    v = abs(value) if measure in _ABSOLUTE else value
    if measure in LOWER_IS_BETTER:
        meets, misses, but = "is within", "is above", "within"
    else:
        meets, misses, but = "meets", "is below", "meets"
    shown, high, medium = _texts(measure, [v, t.high, t.medium])
    if rating == "high":
        return f"{label} {shown} {meets} {high} (high)"
    if rating == "medium":
        return f"{label} {shown} {misses} {high} (high) but {but} {medium} (medium)"
    return f"{label} {shown} {misses} {medium} (medium)"


# -- rating one measure from the evidence ------------------------------------------------

_Measured = tuple[Rating, Any, list[str]]  # rating, the figure recorded, reasons


def _graded(measure: str, value: float | None, th: Mapping[str, ThresholdSpec]) -> _Measured | None:
    """A number rated by its thresholds; None when not measured (None or NaN)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    r = rate(measure, float(value), th)
    return r, value, [_graded_reason(measure, float(value), r, th[measure])]


def _boolean(measure: str, value: bool | None) -> _Measured | None:
    """A yes/no fact rated by BOOLEAN_MEASURES."""
    if value is None:
        return None
    yes, no = BOOLEAN_MEASURES[measure]
    r = yes if value else no
    text = {
        "wg_unaltered": ("the Washington Group questions keep their standard wording and answers",
                         "the Washington Group questions are altered: not comparable"),
        "wg_present": ("the Washington Group Short Set is in the form",
                       "the Washington Group Short Set is not in the form"),
        "sex_self_identified": ("sex is self-identified", "sex is not self-identified"),
        "consent_recorded": ("a consent basis or consent question is recorded",
                             "no consent basis or consent question is recorded"),
        "personal_fields_tagged": ("personal fields are tagged", "no field is tagged personal"),
        "purpose_stated": ("the purpose is stated", "no purpose is stated"),
        "documented_methods": ("every indicator's method is documented",
                               "the indicators' methods are not documented"),
    }[measure][0 if value else 1]
    return r, value, [f"{text} ({r})"]


def _protection(level: str | None) -> _Measured | None:
    """A protection policy in force (standard or strict) is high; none is low."""
    if level is None:
        return None
    if level in _PROTECTION_LEVELS:
        return "high", level, [f"protection policy '{level}' is in force (high)"]
    return "low", level, [f"protection level '{level}' is not a protection policy (low)"]


def _series(series: Sequence[str]) -> _Measured | None:
    """SDG series declared (an empty list is not measured: relevance may be attested)."""
    if not series:
        return None
    return "high", list(series), [f"SDG series declared: {', '.join(series)} (high)"]


def _groups(cells: Mapping[str, tuple[int, int]], th: Mapping[str, ThresholdSpec]
            ) -> _Measured | None:
    """Mean over the groups of the share of their cells published (0 for a group with none)."""
    if not cells:
        return None
    shares = [pub / total if total else 0.0 for pub, total in cells.values()]
    share = sum(shares) / len(shares)
    r = rate("group_cells", share, th)
    reasons = [_graded_reason("group_cells", share, r, th["group_cells"])]
    for name, (pub, total) in sorted(cells.items()):
        reasons.append(f"group '{name}': {pub} of {total} cells publishable")
    return r, share, reasons


def _disaggregations(possible: Mapping[str, bool], th: Mapping[str, ThresholdSpec]
                     ) -> _Measured | None:
    """Share of the GA 71/313 disaggregations possible; SOGI recorded, not counted."""
    core = {k: v for k, v in possible.items() if k not in EXTRA_DISAGGREGATIONS}
    if not core:
        return None
    share = sum(bool(v) for v in core.values()) / len(core)
    r = rate("sdg_disaggregations", share, th)
    reasons = [_graded_reason("sdg_disaggregations", share, r, th["sdg_disaggregations"])]
    missing = sorted(k for k, v in core.items() if not v)
    if missing:
        reasons.append(f"not possible: {', '.join(missing)}")
    extra = sorted(k for k, v in possible.items() if k in EXTRA_DISAGGREGATIONS and v)
    if extra:
        reasons.append(f"also possible (not counted): {', '.join(extra)}")
    return r, share, reasons


def _measure(name: str, ev: Evidence, th: Mapping[str, ThresholdSpec]) -> _Measured | None:
    """Rate one measure of the evidence; None when it is not measured."""
    special: dict[str, Callable[[], _Measured | None]] = {
        "protection_level": lambda: _protection(ev.protection_level),
        "sdg_series": lambda: _series(ev.sdg_series),
        "group_cells": lambda: _groups(ev.group_cells, th),
        "sdg_disaggregations": lambda: _disaggregations(ev.sdg_disaggregations, th),
    }
    if name in special:
        return special[name]()
    value = getattr(ev, name)
    if name in BOOLEAN_MEASURES:
        return _boolean(name, value)
    return _graded(name, value, th)


# -- the scorecard ------------------------------------------------------------------------


def _latest(attestations: Sequence[Attestation], key: str) -> Attestation | None:
    """The latest attestation for a dimension by date (on a tie, the later in the list)."""
    mine = [(a.on, i, a) for i, a in enumerate(attestations) if a.subject == key]
    if not mine:
        return None
    att = max(mine, key=lambda x: (x[0], x[1]))[2]
    if att.rating not in RATING_SCORE:
        raise ValueError(f"attestation for {key!r} rates it {att.rating!r}; "
                         "use high, medium or low")
    return att


def _attested(att: Attestation) -> str:
    """One line naming who attested what, when."""
    return (f"attested {att.rating} by {att.by} ({att.role}) on {att.on.isoformat()}: "
            f"{att.statement}")


def _dimension(key: str, ev: Evidence, th: Mapping[str, ThresholdSpec],
               attestations: Sequence[Attestation]) -> DimensionResult:
    """One dimension: worst measure's rating, mean of the measures' scores."""
    ratings: list[Rating] = []
    figures: dict[str, Any] = {}
    reasons: list[str] = []
    for name in MEASURE_DIMENSIONS[key]:
        measured = _measure(name, ev, th)
        if measured is None:
            continue
        r, value, why = measured
        ratings.append(r)
        figures[name] = value
        reasons.extend(why)
    att = _latest(attestations, key)
    if ratings:
        for name in _CONTEXT.get(key, ()):
            if getattr(ev, name) is not None:
                figures[name] = getattr(ev, name)
        if key == "inclusion":
            figures["group_cells_detail"] = {k: list(v) for k, v in sorted(ev.group_cells.items())}
        if key == "integrability" and ev.sdg_disaggregations:
            figures["sdg_disaggregations_detail"] = dict(sorted(ev.sdg_disaggregations.items()))
        worst = min(ratings, key=_ORDER.index)
        score = sum(RATING_SCORE[r] for r in ratings) / len(ratings)
        if att is not None:
            # recorded alongside, never instead of the evidence
            reasons.append(_attested(att) + " (recorded; the evidence decides)")
        return DimensionResult(key=key, name=DIMENSIONS[key], rating=worst, score=score,
                               source="evidence", evidence=figures, reasons=reasons,
                               attestation=att)
    if att is not None:
        return DimensionResult(key=key, name=DIMENSIONS[key], rating=cast(Rating, att.rating),
                               score=None, source="attestation",
                               reasons=["no measured evidence; " + _attested(att)],
                               attestation=att)
    return DimensionResult(key=key, name=DIMENSIONS[key], rating="not_assessed", score=None,
                           source="none", reasons=["no measured evidence and no attestation"])


def score_dimensions(evidence: Evidence, *, thresholds: Mapping[str, ThresholdSpec] | None = None,
                     attestations: Sequence[Attestation] = (), dataset: str,
                     indicator: str | None = None) -> Scorecard:
    """Every dimension of DIMENSIONS rated from the evidence, else from an attestation."""
    th = effective_thresholds(thresholds)
    dims = {key: _dimension(key, evidence, th, attestations) for key in DIMENSIONS}
    return Scorecard(dataset=dataset, indicator=indicator, dimensions=dims)
