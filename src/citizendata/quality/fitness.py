"""Fitness for integration: a recommendation by rules R1–R4, and the NSO's decision on it.

The rules (docs/methods/quality-gateway-fitness.md), first match wins:

- R1 the gateway failed → stand_alone;
- R2 accuracy_reliability, coherence_comparability and representativeness_coverage high,
  the rest of NQAF at least medium, confidentiality_privacy high → integrate;
- R3 no NQAF dimension low and confidentiality_privacy at least medium → publish_alongside;
- R4 otherwise → stand_alone.

A dimension the rules read that is ``not_assessed`` (or missing) blocks R2 and R3: the
recommendation is stand_alone under R4, naming what is not assessed. The result never
exceeds the project's declared integration intent.
"""

from __future__ import annotations

from dataclasses import fields, replace
from datetime import date
from typing import Any, Literal

from citizendata.errors import BadInput, Where
from citizendata.quality.model import (
    DIMENSIONS,
    NQAF_DIMENSIONS,
    GatewayResult,
    Recommendation,
    Scorecard,
)

__all__ = ["INTENTS", "RULES", "RULE_DIMENSIONS", "Outcome", "apply_decision", "recommend"]

Outcome = Literal["integrate", "publish_alongside", "stand_alone"]
# ordered from least to most: a recommendation is capped at the declared intent
INTENTS: tuple[Outcome, ...] = ("stand_alone", "publish_alongside", "integrate")
RULES: dict[str, str] = {
    "R1": "The gateway failed: the data stand alone.",
    "R2": "Accuracy and reliability, coherence and comparability, and representativeness and "
          "coverage high; the rest of NQAF at least medium; confidentiality and privacy high: "
          "integrate.",
    "R3": "No NQAF dimension low and confidentiality and privacy at least medium: publish "
          "alongside official statistics.",
    "R4": "Otherwise: the data stand alone.",
}
_R2_HIGH = ("accuracy_reliability", "coherence_comparability", "representativeness_coverage")
# every dimension R2 or R3 reads; any of them not assessed blocks both rules
RULE_DIMENSIONS: tuple[str, ...] = (*NQAF_DIMENSIONS, "representativeness_coverage",
                                    "confidentiality_privacy")
_ORDER = {"low": 0, "medium": 1, "high": 2}
_LABELS = {
    "integrate": "integrate into official statistics",
    "publish_alongside": "publish alongside official statistics",
    "stand_alone": "stand alone",
}


def _rating(scorecard: Scorecard, key: str) -> str:
    result = scorecard.dimensions.get(key)
    return result.rating if result is not None else "not_assessed"


def _at_least(rating: str, floor: str) -> bool:
    return rating in _ORDER and _ORDER[rating] >= _ORDER[floor]


def _name(key: str) -> str:
    return DIMENSIONS.get(key, key)


def _intent(intent: str) -> Outcome:
    for value in INTENTS:
        if intent == value:
            return value
    raise BadInput("input.invalid", f"Unknown integration intent {intent!r}; use one of "
                   f"{', '.join(INTENTS)}.", where=Where(field="integration_intent"))


def recommend(gateway: GatewayResult, scorecard: Scorecard, *, meets_threshold: bool,
              intent: str) -> Recommendation:
    """The fitness-for-integration recommendation by rules R1–R4, capped at the declared intent."""
    declared = _intent(intent)
    reasons: list[str] = []
    if not meets_threshold:
        # still recommended by the rules: the Copenhagen definition does not bar use, it names it
        reasons.append("Not citizen data by the Copenhagen Framework definition: citizens are "
                       "not at level 4 or 5 in the design or collection stage.")
    rule, outcome = _rule(gateway, scorecard, reasons)
    if INTENTS.index(outcome) > INTENTS.index(declared):
        reasons.append(f"The rules allow “{_LABELS[outcome]}”, but the project declares the "
                       f"intent “{_LABELS[declared]}”; the recommendation does not exceed it.")
        outcome = declared
    return Recommendation(recommendation=outcome, reasons=reasons, rule=rule)


def _rule(gateway: GatewayResult, scorecard: Scorecard, reasons: list[str]) -> tuple[str, Outcome]:
    """The first rule that matches, appending its reasons."""
    if not gateway.passed:
        failed = [c.key for c in gateway.criteria if not c.passed]
        reasons.append(f"R1: the gateway failed on {', '.join(failed)}.")
        return "R1", "stand_alone"
    ratings = {k: _rating(scorecard, k) for k in RULE_DIMENSIONS}
    unassessed = [k for k, r in ratings.items() if r not in _ORDER]
    if unassessed:
        reasons.append(f"R4: {', '.join(_name(k) for k in unassessed)} not assessed; R2 and "
                       "R3 need every one of them rated.")
        return "R4", "stand_alone"
    rest = [k for k in NQAF_DIMENSIONS if k not in _R2_HIGH]
    if (all(ratings[k] == "high" for k in _R2_HIGH)
            and all(_at_least(ratings[k], "medium") for k in rest)
            and ratings["confidentiality_privacy"] == "high"):
        reasons.append("R2: " + RULES["R2"])
        return "R2", "integrate"
    low = [k for k in NQAF_DIMENSIONS if ratings[k] == "low"]
    privacy_ok = _at_least(ratings["confidentiality_privacy"], "medium")
    if not low and privacy_ok:
        not_high = [k for k in _R2_HIGH if ratings[k] != "high"]
        why = "R3: " + RULES["R3"]
        if not_high:
            why += f" Not integrate: {', '.join(_name(k) for k in not_high)} not high."
        else:
            # with no NQAF dimension low, the only other way R2 can miss is privacy medium
            why += " Not integrate: confidentiality and privacy not high."
        reasons.append(why)
        return "R3", "publish_alongside"
    why = "R4: " + RULES["R4"]
    if low:
        why += f" Low: {', '.join(_name(k) for k in low)}."
    if not privacy_ok:
        why += " Confidentiality and privacy low."
    reasons.append(why)
    return "R4", "stand_alone"


def apply_decision(rec: Recommendation, *, decision: str, by: str, on: date | str,
                   reason: str = "", role: str = "") -> Recommendation:
    """The NSO's confirmation or override; an override needs a reason. Role checks are the caller's."""
    value = _outcome(decision)
    if not by or not by.strip():
        raise BadInput("input.invalid", "A decision must name the person who takes it.",
                       where=Where(field="by"))
    why = (reason or "").strip()
    if value != rec.recommendation and not why:
        raise BadInput(
            "input.invalid",
            f"Overriding the recommendation “{_LABELS[rec.recommendation]}” with "
            f"“{_LABELS[value]}” needs a reason.",
            where=Where(field="reason"),
            rule="an override of the fitness recommendation is recorded with its reason",
        )
    day = on.isoformat() if isinstance(on, date) else str(on)
    changes: dict[str, Any] = {"decision": value, "decided_by": by.strip(), "decided_on": day,
                               "decision_reason": why or None}
    # Recommendation has no role field yet; record the role as soon as the model has one
    if "decided_role" in {f.name for f in fields(rec)}:
        changes["decided_role"] = role.strip() or None
    return replace(rec, **changes)


def _outcome(decision: str) -> Outcome:
    for value in INTENTS:
        if decision == value:
            return value
    raise BadInput("input.invalid", f"Unknown decision {decision!r}; use one of "
                   f"{', '.join(INTENTS)}.", where=Where(field="decision"))
