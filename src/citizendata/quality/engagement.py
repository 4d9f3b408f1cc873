"""The engagement record: who takes part where in the value chain, the citizen-data threshold, P4T.

The threshold is the Copenhagen Framework's: citizens engaged at level 4 or 5 of the
participation ladder in the design or the collection stage. The Participation for
Transformation (P4T) category is this project's documented rule on top of the ladder
(docs/methods/quality-gateway-fitness.md); PARIS21 and UN Women publish the three
categories, not a mapping from ladder levels to them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from citizendata.projects.spec import LEVEL_NAMES, STAGES, THRESHOLD_STAGES, ProjectSpec

__all__ = [
    "COMMUNITY_KINDS",
    "OUTREACH_STAGES",
    "P4TCategory",
    "engagement_summary",
    "meets_threshold",
    "p4t_category",
]

P4TCategory = Literal["participation", "engagement", "empowerment"]

# Initiators that count as "the community initiated": the people concerned themselves, or
# a civil-society organisation acting for them. An NSO, ministry, university or funder
# initiating is not self-determination, however deep the engagement.
COMMUNITY_KINDS = frozenset({"community", "cso"})
# Stages after collection where citizens keep control of what is made of their data:
# the publication and uptake groups of the value chain.
OUTREACH_STAGES = tuple(s for s, g in STAGES.items() if g in ("publication", "uptake"))


def meets_threshold(levels: Mapping[str, int]) -> bool:
    """True when design or collect is at level 4 or 5 (Copenhagen Framework)."""
    return any((levels.get(s) or 0) >= 4 for s in THRESHOLD_STAGES)


_KIND_PHRASES = {
    "community": "the community itself",
    "cso": "a civil-society organisation",
    "nso": "the national statistical office",
    "government": "a government body",
    "academic": "an academic institution",
    "funder": "a funder",
}


def _initiated_by(kind: str) -> str:
    return _KIND_PHRASES.get(kind, f"an organisation of kind {kind!r}" if kind else "an "
                             "organisation of unstated kind")


def p4t_category(levels: Mapping[str, int], initiator_kind: str) -> tuple[P4TCategory, list[str]]:
    """This project's P4T rule: the category and the plain-English reasons for it."""
    kind = (initiator_kind or "").strip().lower()
    design, collect = levels.get("design"), levels.get("collect")
    outreach = [s for s in OUTREACH_STAGES if (levels.get(s) or 0) >= 4]
    if not levels:
        return "participation", [
            "No engagement is recorded, so no more than participation can be claimed."]
    community_led = kind in COMMUNITY_KINDS
    if community_led and design == 5 and collect == 5 and outreach:
        return "empowerment", [
            f"Initiated by {_initiated_by(kind)}, community-led (level 5) in design and "
            f"collection, and at level 4 or more in {', '.join(outreach)}."]
    if meets_threshold(levels):
        why = [f"Citizens are at level 4 or 5 in {_threshold_stages_met(levels)}: "
               "the citizen-data threshold is met."]
        # say what is missing for empowerment, so the record shows the way up
        if not community_led:
            why.append(f"Not empowerment: initiated by {_initiated_by(kind)}, not by the "
                       "community or a civil-society organisation.")
        if design != 5 or collect != 5:
            why.append("Not empowerment: design and collection are not both community-led "
                       "(level 5).")
        if not outreach:
            why.append("Not empowerment: no publication or uptake stage at level 4 or more.")
        return "engagement", why
    return "participation", [
        "Design and collection are at levels 1–3 (or not recorded): citizens take part but "
        "do not share the decisions; the citizen-data threshold is not met."]


def _threshold_stages_met(levels: Mapping[str, int]) -> str:
    return " and ".join(s for s in THRESHOLD_STAGES if (levels.get(s) or 0) >= 4)


def engagement_summary(spec: ProjectSpec) -> dict[str, Any]:
    """The engagement record of a project as JSON-ready data, with threshold and P4T category."""
    levels = {stage: entry.level for stage, entry in spec.engagement.items()}
    stages = []
    for stage, group in STAGES.items():
        entry = spec.engagement.get(stage)
        level = entry.level if entry is not None else None
        stages.append({
            "stage": stage,
            "group": group,
            "level": level,
            "level_name": LEVEL_NAMES.get(level) if level is not None else None,
            "evidence": entry.evidence if entry is not None else "",
        })
    category, reasons = p4t_category(levels, spec.initiator.kind)
    return {
        "project": spec.slug,
        "name": spec.name,
        "initiator": {
            "slug": spec.initiator.slug,
            "name": spec.initiator.name,
            "kind": spec.initiator.kind,
        },
        "purpose": spec.purpose,
        "stewardship": {
            "holder": spec.stewardship.holder,
            "agreement": spec.stewardship.agreement,
            "access": spec.stewardship.access,
        },
        "integration_intent": str(spec.integration_intent.value),
        "stages": stages,
        "threshold_stages": list(THRESHOLD_STAGES),
        "meets_threshold": meets_threshold(levels),
        "p4t_category": category,
        "p4t_reasons": reasons,
    }
