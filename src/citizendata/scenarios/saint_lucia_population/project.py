"""The scenario's project spec: a community enumeration that corrects the census.

The Central Statistics Office of Saint Lucia and its partners are real institutions;
their roles here, the community network and every figure are illustrative.
"""

from __future__ import annotations

import copy
from typing import Any

from citizendata.projects.spec import ProjectSpec, load_spec
from citizendata.scenarios.saint_lucia_population.form import FORM_ID

__all__ = ["DEMO_USERS", "ENGAGEMENT", "POPULATION", "PROJECT", "RELEASE", "project_spec",
           "spec_dict"]

ENGAGEMENT: dict[str, int] = {
    "design": 4, "identify": 5, "collect": 5, "process": 3,
    "analyse": 3, "release": 4, "disseminate": 4,
    "connect": 4, "incentivise": 3, "influence": 4,
    "use": 4, "change": 3, "reuse": 3,
}
_NOTES: dict[str, str] = {
    "design": "Settlement committees and the statistics office wrote the enumeration together.",
    "identify": "Residents named the settlements the census missed and walked them with mappers.",
    "collect": "Community mappers from each settlement list every dwelling and its members.",
    "analyse": "The statistics office matches the lists to the census; the committees review.",
    "release": "Estimates are published after the committees' representative signs them off.",
}

POPULATION: dict[str, Any] = {
    "census": "census_counts",
    "dwellings": "imagery_buildings",
    "enumeration": FORM_ID,
    "census_records": "census_records",
    "boundaries": "areas",
    "area_field": "area",
    "levels": ["district"],
    "post_strata": ["settlement_type"],
}

PROJECT: dict[str, Any] = {
    "slug": "saint-lucia-population",
    "name": "Saint Lucia: counting everyone — census coverage and population by settlement "
            "(illustrative)",
    "country": "662",
    "purpose": "Enumerate a sample of informal and formal settlements with community mappers, "
               "match the lists to the census to estimate its coverage, and combine it with "
               "dwellings counted on imagery to estimate the population and the census "
               "undercount of every settlement and district, with intervals.",
    "consent_basis": "Households agree to be listed; names are used only to match the census "
                     "and never leave the statistics office's server.",
    "data_sharing": "Only population estimates and counts by area and district are published.",
}

DEMO_USERS: list[dict[str, str]] = [
    {"username": "marcia", "password": "demo-owner-2026", "role": "owner"},
    {"username": "kervin", "password": "demo-collector-2026", "role": "collector"},
    {"username": "josette", "password": "demo-validator-2026", "role": "validator"},
    {"username": "desmond", "password": "demo-analyst-2026", "role": "analyst"},
    {"username": "gemma", "password": "demo-representative-2026", "role": "viewer"},
    {"username": "clement", "password": "demo-nso-2026", "role": "nso"},
]

RELEASE: dict[str, Any] = {"community_representatives": ["gemma"], "nso_signoff": True,
                           "language": "en"}


def spec_dict() -> dict[str, Any]:
    """The project as a citizendata project spec (a mapping for ``load_spec``)."""
    p = PROJECT
    return copy.deepcopy({
        "slug": p["slug"], "name": p["name"],
        "initiator": {"slug": "slu-settlement-committees",
                      "name": "Settlement committees' enumeration network (illustrative)",
                      "kind": "cso", "country": "662"},
        "partners": [{"slug": "cso-saint-lucia", "name": "Central Statistics Office of Saint "
                      "Lucia (illustrative role)", "kind": "nso", "country": "662",
                      "role": "nso"}],
        "purpose": p["purpose"], "consent_basis": p["consent_basis"],
        "data_sharing": p["data_sharing"], "integration_intent": "integrate",
        "country": p["country"],
        "engagement": {stage: {"level": level, "evidence": _NOTES.get(stage, "")}
                       for stage, level in ENGAGEMENT.items()},
        "release": RELEASE,
        # each dwelling's GPS point must lie in the area the mappers named (within 25 m):
        # the check of citizendata.integrate.places flags the planted swapped point
        "validation": {"forms": {FORM_ID: {"locations": [
            {"field": "gps", "area_field": "area", "boundaries": "areas",
             "tolerance_m": 25.0}]}}},
        "population": POPULATION,
    })


def project_spec() -> ProjectSpec:
    """The project spec, validated."""
    return load_spec(spec_dict(), file="saint-lucia-population")
