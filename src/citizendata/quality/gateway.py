"""The pass/fail gateway checked before any scoring, after the ONS protocol for non-official sources.

Three criteria: ethics and privacy, transparency and accountability, need
(docs/methods/quality-gateway-fitness.md). Each is decided on the evidence first; a named
person's attestation ``gateway:<criterion>`` can fail a criterion (an ethics review
refused) but can never rescue failing evidence. Only for *need* does an attested need
stand in for a declared SDG series, because need is a judgement no data can show.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from citizendata.projects.spec import ProjectSpec
from citizendata.quality.model import Attestation, Evidence, GatewayCriterion, GatewayResult

__all__ = ["CRITERIA", "CriterionKey", "gateway"]

CriterionKey = Literal["ethics_privacy", "transparency_accountability", "need"]
CRITERIA: dict[str, str] = {
    "ethics_privacy": "Ethics and privacy",
    "transparency_accountability": "Transparency and accountability",
    "need": "Need",
}


def _standing(attestations: Sequence[Attestation], key: str) -> tuple[Attestation | None, list[str]]:
    """The attestation that stands for one criterion, and notes on those set aside.

    The latest signed one stands (an ethics review refused, then approved after changes);
    on the same date a fail wins, so a tie never opens the gateway.
    """
    notes: list[str] = []
    usable: list[Attestation] = []
    for a in attestations:
        if a.subject != f"gateway:{key}":
            continue
        if not a.by.strip():
            notes.append("An unsigned attestation was ignored: attestations must name a person.")
        elif a.rating not in ("pass", "fail"):
            notes.append(f"An attestation by {a.by} with rating {a.rating!r} was ignored: "
                         "gateway attestations are 'pass' or 'fail'.")
        else:
            usable.append(a)
    if not usable:
        return None, notes
    return max(usable, key=lambda a: (a.on, a.rating == "fail")), notes


def _signed(a: Attestation) -> str:
    said = f": “{a.statement.strip()}”" if a.statement.strip() else ""
    return f"{a.by} ({a.role}) on {a.on.isoformat()}{said}"


def _decide(
    key: CriterionKey,
    failures: list[str],
    passes: list[str],
    attestations: Sequence[Attestation],
    *,
    attestation_can_pass: bool = False,
) -> GatewayCriterion:
    """Combine the evidence checks with the standing attestation (fail only subtracts)."""
    standing, notes = _standing(attestations, key)
    reasons = [*failures] if failures else [*passes]
    reasons += notes
    if standing is not None and standing.rating == "fail":
        return GatewayCriterion(key, False, [f"Failed by attestation of {_signed(standing)}.",
                                             *reasons], "attestation")
    if failures:
        if standing is not None:
            reasons.append(f"A pass attested by {_signed(standing)} cannot override the failing "
                           "checks above; fix them and reassess.")
        return GatewayCriterion(key, False, reasons, "evidence")
    if standing is not None and not attestation_can_pass:
        reasons.append(f"Also attested as passing by {_signed(standing)}.")
    return GatewayCriterion(key, True, reasons, "evidence")


def _stated(text: str) -> bool:
    return bool(text and text.strip())


def _ethics_privacy(spec: ProjectSpec, ev: Evidence, att: Sequence[Attestation]) -> GatewayCriterion:
    failures, passes = [], []
    if _stated(spec.consent_basis):
        passes.append(f"Consent basis recorded: {spec.consent_basis.strip()}")
    elif ev.consent_recorded:
        passes.append("Consent is recorded in the form (a consent question).")
    else:
        failures.append("No consent is recorded: state the consent basis in the project spec "
                        "or add a consent question to the form.")
    if ev.personal_fields_tagged is False:
        failures.append("Personal fields are not tagged: tag every field that identifies a "
                        "person so it can be protected.")
    else:
        passes.append("Personal fields are tagged." if ev.personal_fields_tagged
                      else "No untagged personal fields found.")
    if ev.protection_level is None:
        failures.append("No protection policy is in force: set the project's protection "
                        "(threshold, suppression) before anything is published.")
    else:
        passes.append(f"Protection policy in force: level {ev.protection_level}"
                      + (f", threshold {ev.threshold}." if ev.threshold is not None else "."))
    return _decide("ethics_privacy", failures, passes, att)


def _transparency(spec: ProjectSpec, ev: Evidence, att: Sequence[Attestation]) -> GatewayCriterion:
    failures, passes = [], []
    if _stated(spec.initiator.name):
        passes.append(f"Initiated by {spec.initiator.name.strip()} ({spec.initiator.kind}).")
    else:
        failures.append("The initiator is not named.")
    if _stated(spec.purpose) or ev.purpose_stated:
        passes.append("The purpose is stated.")
    else:
        failures.append("The purpose is not stated: say what the data are for.")
    high = [s for s, e in spec.engagement.items() if e.level >= 4]
    bare = [s for s in high if not _stated(spec.engagement[s].evidence)]
    if bare:
        failures.append("The engagement record claims level 4 or 5 without evidence at: "
                        f"{', '.join(bare)}; describe how citizens took part there.")
    elif high:
        passes.append(f"Engagement at level 4 or 5 is evidenced at: {', '.join(high)}.")
    else:
        passes.append("No stage is claimed at level 4 or 5, so no engagement evidence is needed.")
    if ev.documented_methods:
        passes.append("The methods are documented.")
    else:
        failures.append("The methods are not documented" +
                        (" (not recorded)" if ev.documented_methods is None else "")
                        + ": publish how the data are collected, validated and processed.")
    if _stated(spec.stewardship.holder):
        passes.append(f"Data held by {spec.stewardship.holder.strip()}.")
    else:
        failures.append("No data steward is named: say who holds the data (stewardship.holder).")
    return _decide("transparency_accountability", failures, passes, att)


def _need(spec: ProjectSpec, ev: Evidence, att: Sequence[Attestation]) -> GatewayCriterion:
    failures, passes = [], []
    if _stated(spec.purpose) or ev.purpose_stated:
        passes.append("The purpose is stated.")
    else:
        failures.append("The purpose is not stated: say what need the data meet.")
    standing, _ = _standing(att, "need")
    attested = standing is not None and standing.rating == "pass" and _stated(standing.statement)
    source: Literal["evidence", "attestation"] = "evidence"
    if ev.sdg_series:
        passes.append(f"SDG series declared: {', '.join(ev.sdg_series)}.")
    elif attested and standing is not None:
        passes.append(f"Need attested by {_signed(standing)}.")
        source = "attestation"
    else:
        failures.append("No SDG series is declared and no need is attested: declare the SDG "
                        "series the data feed, or have the need attested with a statement.")
        if standing is not None and standing.rating == "pass":
            failures.append(f"The attestation by {standing.by} has no statement, so it does not "
                            "show a need.")
    result = _decide("need", failures, passes, att, attestation_can_pass=source == "attestation")
    if result.passed and source == "attestation":
        result.source = "attestation"
    return result


def gateway(spec: ProjectSpec, evidence: Evidence,
            attestations: Sequence[Attestation] = ()) -> GatewayResult:
    """The gateway: ethics and privacy, transparency and accountability, need — each pass/fail."""
    return GatewayResult([
        _ethics_privacy(spec, evidence, attestations),
        _transparency(spec, evidence, attestations),
        _need(spec, evidence, attestations),
    ])
