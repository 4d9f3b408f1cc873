"""The scenario's project description, protection policy, estimation spec and demo users.

The organisations are fictional or illustrative: the initiating network does not
exist, and the partners' roles are examples of how such an initiative could be set up.
"""

from __future__ import annotations

import copy
from typing import Any

from citizendata.projects.spec import ProjectSpec, load_spec
from citizendata.scenarios.mexico_lgbtiq.references import GENDER_GROUPS, ORIENTATION_GROUPS

__all__ = [
    "DEMO_USERS",
    "ENGAGEMENT",
    "ESTIMATION",
    "PROJECT",
    "PROTECTION",
    "RECODE_MAPS",
    "RELEASE",
    "VALIDATION",
    "VALUE_CHAIN",
    "project_spec",
    "spec_dict",
]

FORM = "mexico_lgbtiq"

# The Open Data Watch value chain with the Copenhagen Framework's "design" stage first.
VALUE_CHAIN: dict[str, tuple[str, ...]] = {
    "collection": ("design", "identify", "collect", "process"),
    "publication": ("analyse", "release", "disseminate"),
    "uptake": ("connect", "incentivise", "influence"),
    "impact": ("use", "change", "reuse"),
}

# Level of community engagement (1 information ... 5 community-led) at each stage.
ENGAGEMENT: dict[str, int] = {
    "design": 5, "identify": 5, "collect": 5, "process": 4,
    "analyse": 4, "release": 5, "disseminate": 5,
    "connect": 4, "incentivise": 2, "influence": 4,
    "use": 4, "change": 3, "reuse": 2,
}

PROJECT: dict[str, Any] = {
    "slug": "mexico-lgbtiq",
    "name": "Lo que vivimos: discrimination experienced by LGBTIQ+ people in eight states",
    "country": "484",
    "ref_area": "484",
    "initiator": {
        "name": "Red Arcoíris de Personas LGBTIQ+ (fictional)",
        "type": "community network of LGBTIQ+ people",
        "fictional": True,
    },
    "partners": [
        {"name": "State human rights commissions", "role": "receive the aggregate findings and "
         "follow up on reported cases", "illustrative": True},
        {"name": "INEGI (Instituto Nacional de Estadística y Geografía)", "role": "NSO partner: "
         "methods review and publication alongside the official discrimination surveys, with "
         "microdata only for respondents who consented to sharing", "illustrative": True},
    ],
    "purpose": "Count the discrimination and harassment LGBTIQ+ people live with, by the "
               "grounds and places where it happens, so that the community can press for "
               "protection and the figure for SDG 10.3.1 / 16.b.1 (VC_VOV_GDSD) no longer "
               "leaves out trans, non-binary, intersex and indigenous LGBTIQ+ people.",
    "topics": ["discrimination", "harassment", "sexual orientation and gender identity"],
    "population_groups": ["LGBTIQ+ people", "trans and non-binary people", "intersex people",
                          "indigenous peoples", "persons with disabilities"],
    "sdg_indicators": [{"indicator": "10.3.1", "series": "VC_VOV_GDSD"},
                       {"indicator": "16.b.1", "series": "VC_VOV_GDSD"}],
    "consent_basis": "informed consent recorded in the form, with a separate choice for each use "
                     "(analysis, aggregate publication, sharing with INEGI)",
    "integration_intent": "publish_alongside",
    "value_chain": {phase: list(stages) for phase, stages in VALUE_CHAIN.items()},
    "engagement": dict(ENGAGEMENT),
    "engagement_notes": {
        "design": "The network's assemblies wrote the questions and the identity categories.",
        "identify": "Members chose the states and the places to meet people safely.",
        "collect": "Trained volunteers from the community interview at safe meeting places.",
        "analyse": "The network's analysts run the estimates; INEGI reviews the methods.",
        "release": "Nothing is published before the assembly signs it off.",
        "disseminate": "Results go back to the community first, in Spanish and in plain words.",
    },
    "data_sharing": "Only protected aggregates are public (threshold 10, zeros suppressed). "
                    "Microdata never leave the network except, for respondents who consented "
                    "to it, k-anonymised records shared with INEGI under a written agreement. "
                    "Names, phones, narratives and GPS points never leave the system.",
    "fictional": True,
}

# Demo accounts for the example project only; never use these outside a local demo.
DEMO_USERS: list[dict[str, str]] = [
    {"username": "ximena", "password": "demo-owner-2026", "role": "owner"},
    {"username": "mar", "password": "demo-collector-2026", "role": "collector"},
    {"username": "dani", "password": "demo-validator-2026", "role": "validator"},
    {"username": "rocio", "password": "demo-analyst-2026", "role": "analyst"},
    # the network's assembly delegate who signs releases off for the community
    {"username": "itzel", "password": "demo-representative-2026", "role": "viewer"},
]

# Nothing is published before the assembly's delegate signs it off.
RELEASE: dict[str, Any] = {"community_representatives": ["itzel"]}

# Server-side checks beyond the form's own rules (citizendata.projects.spec.ValidationSpec).
VALIDATION: dict[str, Any] = {
    "analytics": "approved",
    # the only number is age, already bounded by the form: no outlier scores
    "forms": {FORM: {"outliers": None}},
}

# The strictest protection: the strict preset (threshold 10, zeros unsafe, 50% protection
# intervals, k = 10, a 10 km grid; l = 2 below) plus consent per use and the recoding ladders.
# The merging rungs for gender identity (trans women, trans men, non-binary and other
# identities -> trans_or_nonbinary) and sexual orientation, for public microdata.
# The last rung hides the identity altogether: at k = 10 on a sample of a hidden
# population, a public file may have to say no more than "LGBTIQ+ respondent".
RECODE_MAPS: dict[str, list[dict[str, Any]]] = {
    "gender_identity": [{"map": dict(GENDER_GROUPS)},
                        {"map": {k: "any" for k in GENDER_GROUPS}}],
    "sexual_orientation": [{"map": dict(ORIENTATION_GROUPS)},
                           {"map": {k: "any" for k in ORIENTATION_GROUPS}}],
}

PROTECTION: dict[str, Any] = {
    "level": "strict",
    "microdata": {
        "quasi_identifiers": ["age", "state", "municipality", "gender_identity",
                              "sexual_orientation", "indigenous"],
        "sensitive": ["discriminated"],
        # yes / no / prefer not to say: l = 2 (both answers in every class); the strict
        # preset's 3 would need "prefer not to say" in every class too
        "l": 2,
        "recode": {
            "age": [{"width": 10}, {"width": 20}, {"breaks": [18, 45]}],
            # municipality -> state through the "geography" reference table
            "municipality": [{"rollup": "state"}],
            **RECODE_MAPS,
        },
    },
    "consent": {
        "field": "consent_scope",
        "mapping": {"analysis": "analysis", "publication": "publication",
                    "nso_sharing": "nso_sharing"},
        # no recorded scope (e.g. an imported record without the question): no use at all
        "default": [],
    },
}


_CONSENTED = "${consent} = 'yes'"
_ANSWERED = "(${discriminated} = 'yes' or ${discriminated} = 'no')"
_DISAGGREGATIONS = [["gender_identity", "sexual_orientation"], ["gender_identity", "age_group"],
                    ["state"], ["indigenous", "state"], ["disability"]]

# Indicators and derived variables (citizendata.projects.estimation.EstimationSpec).
ESTIMATION: dict[str, Any] = {
    "derived": {
        "disability": {
            "kind": "washington_group", "identifier": "DISABILITY3", "missing": ["7", "9"],
            "fields": {"seeing": "wg_seeing", "hearing": "wg_hearing", "walking": "wg_walking",
                       "cognition": "wg_cognition", "selfcare": "wg_selfcare",
                       "communication": "wg_communication"},
        },
        "age_group": {"kind": "age_group", "field": "age", "scheme": "custom",
                      "breaks": [18, 30, 45, 60]},
        # broader groups for tables whose cells are too small at the detailed level
        "gender_group": {"kind": "rollup", "field": "gender_identity",
                         "geography": "identity_groups", "level": "gender_group"},
        "orientation_group": {"kind": "rollup", "field": "sexual_orientation",
                              "geography": "orientation_groups", "level": "orientation_group"},
    },
    # no weighting: a convenience sample of a hidden population has no official margins
    "weighting": {},
    "indicators": [
        {
            "id": "discrimination",
            "name": "People who felt discriminated against or harassed in the last 12 months",
            "form": FORM,
            "kind": "proportion",
            "numerator": "${discriminated} = 'yes'",
            # consenting respondents who answered yes or no ('prefer not to say' left out)
            "denominator": f"{_CONSENTED} and {_ANSWERED}",
            "unit_of_measure": "PT",
            "scale": 100,
            "series": "VC_VOV_GDSD",
            "weighted": False,
            "disaggregations": _DISAGGREGATIONS,
        },
        {
            "id": "discrimination_sogi",
            "name": "... on grounds of sexual orientation or gender identity or expression",
            "form": FORM,
            "kind": "proportion",
            "numerator": "${discriminated} = 'yes' and (selected(${grounds}, 'sexual_orientation') "
                         "or selected(${grounds}, 'gender_identity'))",
            "denominator": f"{_CONSENTED} and {_ANSWERED}",
            "unit_of_measure": "PT",
            "scale": 100,
            "weighted": False,
            # no grounds (not discriminated against): the condition is missing, i.e. not counted
            "missing": "zero",
            "disaggregations": _DISAGGREGATIONS,
        },
        {
            "id": "reported",
            "name": "Discrimination reported to an authority (of those discriminated against)",
            "form": FORM,
            "kind": "proportion",
            "numerator": "${reported} = 'yes'",
            "denominator": "${discriminated} = 'yes' and (${reported} = 'yes' or ${reported} = 'no')",
            "unit_of_measure": "PT",
            "scale": 100,
            "weighted": False,
            "disaggregations": [["gender_group"], ["orientation_group"], ["state"]],
        },
    ],
}


def spec_dict() -> dict[str, Any]:
    """The project as a citizendata project spec (a mapping for ``load_spec``)."""
    p = PROJECT
    notes: dict[str, str] = p["engagement_notes"]
    return copy.deepcopy({
        "slug": p["slug"],
        "name": p["name"],
        "initiator": {"slug": "red-arcoiris-lgbtiq", "name": p["initiator"]["name"], "kind": "cso",
                      "country": "484"},
        "partners": [
            {"slug": "state-human-rights-commissions", "name": p["partners"][0]["name"],
             "kind": "government", "country": "484", "role": "government"},
            {"slug": "inegi", "name": p["partners"][1]["name"], "kind": "nso", "country": "484",
             "role": "nso"},
        ],
        "purpose": p["purpose"],
        "consent_basis": p["consent_basis"],
        "data_sharing": p["data_sharing"],
        "integration_intent": p["integration_intent"],
        "country": p["country"],
        "engagement": {stage: {"level": level, "evidence": notes.get(stage, "")}
                       for stage, level in ENGAGEMENT.items()},
        "validation": VALIDATION,
        "estimation": ESTIMATION,
        "protection": PROTECTION,
        "release": RELEASE,
    })


def project_spec() -> ProjectSpec:
    """The project spec, validated."""
    return load_spec(spec_dict(), file="mexico-lgbtiq")
