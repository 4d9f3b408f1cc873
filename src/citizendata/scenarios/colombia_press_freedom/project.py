"""The scenario's project spec: FLIP's case documentation with five other lists.

FLIP (Fundación para la Libertad de Prensa) is real; its role here, the partners'
roles and every figure are illustrative. The lists are modelled on real keepers of
such records (the Fiscalía's SPOA, the Defensoría's early-warning system, the unions'
human-rights database, a media monitor, an HRD protection NGO) but nothing here is
their data or their actual file layout.
"""

from __future__ import annotations

import copy
from typing import Any

from citizendata.projects.spec import ProjectSpec, load_spec
from citizendata.scenarios.colombia_press_freedom.export import LAYOUTS
from citizendata.scenarios.colombia_press_freedom.form import FORM_ID

__all__ = ["CASES", "DEMO_USERS", "ENGAGEMENT", "ORGANISATIONS", "PROJECT", "RELEASE",
           "VERIFICATION", "project_spec", "spec_dict"]

ORGANISATIONS: dict[str, str] = {
    "flip": "Fundación para la Libertad de Prensa (FLIP)",
    "fiscalia": "Fiscalía General de la Nación",
    "defensoria": "Defensoría del Pueblo",
    "sindical": "Departamento de derechos humanos de las centrales sindicales (illustrative)",
    "medios": "Monitor de medios regionales (illustrative)",
    "somos": "Programa de protección a personas defensoras (illustrative)",
}

# Level of community engagement (1 information ... 5 community-led) at each stage.
ENGAGEMENT: dict[str, int] = {
    "design": 5, "identify": 5, "collect": 5, "process": 5,
    "analyse": 4, "release": 5, "disseminate": 5,
    "connect": 4, "incentivise": 3, "influence": 5,
    "use": 4, "change": 3, "reuse": 3,
}
_ENGAGEMENT_NOTES: dict[str, str] = {
    "design": "FLIP and its correspondents' network wrote the intake and the verification "
              "criteria from twenty years of documenting attacks on the press.",
    "identify": "Correspondents in the regions, journalists and their families report attacks.",
    "collect": "FLIP's documentation team takes every report through its own intake form.",
    "process": "FLIP verifies each report against the written criteria before it counts.",
    "analyse": "FLIP's analysts link the lists and estimate the uncounted; the NSO reviews.",
    "release": "Nothing is published before FLIP's director signs it off.",
    "disseminate": "FLIP's annual report and the national press freedom day.",
}

# Written verification criteria (FLIP's own reports go from reported to verified).
VERIFICATION: dict[str, Any] = {
    "list": "flip",
    "criteria": [
        {"code": "two_sources", "text": "Two independent sources confirm the act (the victim or "
         "family, witnesses, official documents, another organisation, the press)."},
        {"code": "victim_work", "text": "The victim's work as a journalist or media worker, "
         "trade unionist or human-rights defender is established."},
        {"code": "act_16_10_1", "text": "The act is a killing, kidnapping, enforced disappearance, "
         "arbitrary detention or torture (SDG 16.10.1), not a threat or other attack."},
        {"code": "date_place", "text": "The date and the municipality of the act are established."},
        {"code": "work_related", "text": "The act is related to the victim's work, or that "
         "relation cannot be excluded."},
    ],
    "required": ["two_sources", "victim_work", "act_16_10_1", "date_place"],
    "verified_only": True,
}

CASES: dict[str, Any] = {
    "form": FORM_ID,
    "lists": [{"name": name, "organisation": ORGANISATIONS[name], "columns": dict(cols),
               "date_format": fmt} for name, (cols, fmt) in LAYOUTS.items()],
    "verification": VERIFICATION,
    "linkage": {"threshold": 0.9, "review_band": [0.5, 0.95], "date_tolerance_days": 45,
                "sensitivity": [0.5, 0.7, 0.9, 0.95, 0.99], "seed": 2016},
    "estimates": {
        "killings": {"series": "VC_VAW_MTUHRA",
                     "title": "Killings of journalists, media workers, trade unionists and "
                              "human-rights defenders",
                     "violations": ["killing"], "strata": ["period"],
                     "method": "loglinear", "selection": "bic", "confidence": 0.95},
        "disappearances": {"series": "VC_VOC_ENFDIS",
                           "title": "Enforced disappearances of journalists, media workers, "
                                    "trade unionists and human-rights defenders",
                           "violations": ["enforced_disappearance"], "strata": [],
                           "method": "loglinear", "selection": "bic",
                           # too few media and FLIP records of disappearances to stand alone
                           "merge": {"prensa": ["flip", "medios"]}, "confidence": 0.95},
    },
}

PROJECT: dict[str, Any] = {
    "slug": "colombia-press-freedom",
    "name": "Colombia: killings, disappearances and other attacks on journalists, trade "
            "unionists and human-rights defenders (SDG 16.10.1)",
    "country": "170",
    "purpose": "Document every attack on journalists, media workers, trade unionists and "
               "human-rights defenders in Colombia, verify FLIP's own reports against written "
               "criteria, link them with the records of five other organisations, and estimate "
               "the victims no list recorded, for SDG 16.10.1 (VC_VAW_MTUHRA, VC_VOC_ENFDIS).",
    "consent_basis": "Documentation of human-rights violations in the public interest; victims "
                     "and families decide whether a name may be published.",
    "data_sharing": "Names never leave FLIP's server: organisations that share only encodings "
                    "send Bloom-filter keys. Only counts and estimates are published, by period "
                    "and violation, through disclosure control.",
}

DEMO_USERS: list[dict[str, str]] = [
    {"username": "jonathan", "password": "demo-owner-2026", "role": "owner"},
    {"username": "laura", "password": "demo-collector-2026", "role": "collector"},
    {"username": "camila", "password": "demo-validator-2026", "role": "validator"},
    {"username": "andres", "password": "demo-analyst-2026", "role": "analyst"},
    {"username": "pedro", "password": "demo-representative-2026", "role": "viewer"},
]

RELEASE: dict[str, Any] = {
    "community_representatives": ["pedro"],
    "nso_signoff": True,
    "sdmx": {"victim_sex": {"dimension": "SEX", "codes": {"female": "F", "male": "M"}}},
    "language": "es",
}


def spec_dict() -> dict[str, Any]:
    """The project as a citizendata project spec (a mapping for ``load_spec``)."""
    p = PROJECT
    return copy.deepcopy({
        "slug": p["slug"],
        "name": p["name"],
        "initiator": {"slug": "flip", "name": ORGANISATIONS["flip"], "kind": "cso",
                      "country": "170"},
        "partners": [
            {"slug": "dane", "name": "DANE (Departamento Administrativo Nacional de Estadística)",
             "kind": "nso", "country": "170", "role": "nso"},
            {"slug": "defensoria", "name": ORGANISATIONS["defensoria"], "kind": "government",
             "country": "170", "role": "government"},
            {"slug": "fiscalia", "name": ORGANISATIONS["fiscalia"], "kind": "government",
             "country": "170", "role": "government"},
        ],
        "purpose": p["purpose"],
        "consent_basis": p["consent_basis"],
        "data_sharing": p["data_sharing"],
        "integration_intent": "publish_alongside",
        "country": p["country"],
        "engagement": {stage: {"level": level, "evidence": _ENGAGEMENT_NOTES.get(stage, "")}
                       for stage, level in ENGAGEMENT.items()},
        "release": RELEASE,
        # the other organisations' lists arrive as `received` submissions that are not
        # FLIP's to approve: analysis (linkage, estimates) takes every record not rejected;
        # FLIP's own reports count once verified (cases.verification.verified_only)
        "validation": {"analytics": "all_but_rejected"},
        "cases": CASES,
    })


def project_spec() -> ProjectSpec:
    """The project spec, validated."""
    return load_spec(spec_dict(), file="colombia-press-freedom")
