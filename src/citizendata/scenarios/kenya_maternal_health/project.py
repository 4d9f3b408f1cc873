"""The scenario's project description, official benchmark and demo users.

The organisations are fictional or illustrative: the initiator does not exist, and
the partners' roles are examples of how such an initiative could be set up.
"""

from __future__ import annotations

from typing import Any

__all__ = ["BENCHMARK", "DEMO_USERS", "ENGAGEMENT", "ESTIMATION", "PROJECT", "QUALITY", "RELEASE",
           "SMALL_AREAS", "STEWARDSHIP", "VALIDATION", "VALUE_CHAIN"]

# The Open Data Watch value chain: phase -> stages, in order.
VALUE_CHAIN: dict[str, tuple[str, ...]] = {
    "collection": ("identify", "collect", "process"),
    "publication": ("analyse", "release", "disseminate"),
    "uptake": ("connect", "incentivise", "influence"),
    "impact": ("use", "change", "reuse"),
}

# Level of community engagement (1 information ... 5 community-led) at each stage.
ENGAGEMENT: dict[str, int] = {
    "identify": 5, "collect": 5, "process": 4,
    "analyse": 3, "release": 4, "disseminate": 5,
    "connect": 4, "incentivise": 2, "influence": 4,
    "use": 4, "change": 3, "reuse": 3,
}

PROJECT: dict[str, Any] = {
    "slug": "kenya-maternal-health",
    "name": "Where our children are born: maternal health in pastoralist group ranches",
    "country": "KE",
    "ref_area": "404",
    "initiator": {
        "name": "Olkeri Pastoralist Women's Network",
        "type": "indigenous women's organisation",
        "fictional": True,
    },
    "partners": [
        {"name": "County Department of Health (Kajiado, Narok, Samburu)", "role": "health facility "
         "data and follow-up on findings", "illustrative": True},
        {"name": "Kenya National Bureau of Statistics", "role": "NSO partner: census margins, "
         "methods review, comparison with the national household survey", "illustrative": True},
    ],
    "purpose": "Show where births happen in Maasai and Samburu group ranches, who attends them "
               "and how far women are from a maternity ward, so that the community can press "
               "for services and the national figure on skilled birth attendance (SDG 3.1.2) "
               "no longer hides pastoralist women, including women with disabilities.",
    "topics": ["maternal health", "skilled birth attendance", "access to health services"],
    "population_groups": ["women", "indigenous peoples", "persons with disabilities"],
    "sdg_indicators": [{"indicator": "3.1.2", "series": "SH_STA_BRTC"}],
    "consent_basis": "informed verbal consent recorded in the form",
    "integration_intent": "publish_alongside",
    "value_chain": {phase: list(stages) for phase, stages in VALUE_CHAIN.items()},
    "engagement": dict(ENGAGEMENT),
    "engagement_notes": {
        "identify": "The network's members chose the questions and the wards.",
        "collect": "Community health volunteers from the group ranches interview women.",
        "analyse": "The NSO partner leads weighting; members review the results.",
        "disseminate": "Results are read back at community meetings (barazas) first.",
        "process": "Two members of the network review every flagged interview with the "
                   "volunteer who made it before it is approved.",
        "release": "The network's assembly signs off each release; nothing is published "
                   "before it.",
        "connect": "Members present the figures to the county health committees themselves.",
        "influence": "The network uses the figures in its petition for maternity wards in "
                     "the remote wards.",
        "use": "County health departments plan outreach clinics with the network.",
        "incentivise": "Volunteers are paid a daily allowance by the network.",
        "change": "The network tracks whether new clinics open where the figures point.",
        "reuse": "Aggregates are shared with other pastoralist women's groups on request.",
    },
    "data_sharing": "Aggregates are public after community sign-off; microdata stay with the "
                    "network and are shared with the NSO partner under a written agreement.",
    "fictional": True,
}

BENCHMARK: dict[str, Any] = {
    "indicator": "SH_STA_BRTC",
    "sdg": "3.1.2",
    "ref_area": "404",
    "area": "Kenya (national)",
    "value": 89.0,
    "unit": "percent",
    "proportion": 0.89,
    "standard_error": None,
    "ci95": None,
    "year": 2022,
    "source": "Kenya Demographic and Health Survey 2022 (KNBS, Ministry of Health and ICF)",
    "note": "Rounded national figure (89%, up from 62% in the 2014 KDHS) as reported in "
            "public summaries of the 2022 KDHS. The standard error, the exact table and the "
            "reference period of births were not checked here: confirm them in the KDHS 2022 "
            "final report before using this value beyond the demo.",
    "verified_against_primary_source": False,
}

# Demo accounts for the example project only; never use these outside a local demo.
DEMO_USERS: list[dict[str, str]] = [
    {"username": "naserian", "password": "demo-owner-2026", "role": "owner"},
    {"username": "lekishon", "password": "demo-collector-2026", "role": "collector"},
    {"username": "nkoitoi", "password": "demo-validator-2026", "role": "validator"},
    {"username": "wanjiru", "password": "demo-analyst-2026", "role": "analyst"},
    # a statistician of the national statistical office (KNBS), who decides fitness
    {"username": "otieno", "password": "demo-nso-2026", "role": "nso"},
]

# Who holds the data, and the quality settings the data cannot tell
# (citizendata.projects.quality).
STEWARDSHIP: dict[str, str] = {
    "holder": "Olkeri Pastoralist Women's Network (fictional)",
    "agreement": "data-sharing agreement with the county health departments and KNBS "
                 "(illustrative)",
    "access": "aggregate tables public after community sign-off; microdata to KNBS only",
}
QUALITY: dict[str, Any] = {
    # births in the two years before the fieldwork (February–March 2026)
    "reference_period_start": "2024-02-01",
    "reference_period_end": "2026-03-13",
    "periods": ["2026"],
    "identity": {"sex": {"field": "sex"}, "ethnicity": {"field": "ethnicity"},
                 "disability": {"field": "wg_seeing"}},
    "groups": {"women with disability": {"dimension": "disability",
                                         "values": ["with_disability"]}},
}

# Server-side checks beyond the form's own rules (citizendata.projects.spec.ValidationSpec).
VALIDATION: dict[str, Any] = {
    "analytics": "approved",
    "forms": {
        "kenya_maternal_health": {
            # distances are compared within each county: Samburu's ranches are more remote
            "outliers": {"fields": ["distance_km"], "by": ["county"], "threshold": 3.5},
            "limits": [{"field": "travel_minutes", "min": 0, "max": 720}],
            # the same woman entered twice: a paper form re-entered keeps the GPS point
            "duplicates": {
                "comparisons": [
                    {"field": "gps", "method": "exact"},
                    {"field": "age", "method": "number_within", "within": 1},
                    {"field": "ethnicity", "method": "exact"},
                    {"field": "births_count", "method": "exact"},
                ],
                "blocking": [["group_ranch"]],
                # a candidate for a person to look at, not a decision: cast the net wide
                "threshold": 0.5,
            },
            # the GPS point must lie in the ward the woman names (the "wards" boundaries
            # reference table), with 1 km of slack for GPS error and homes on a ward
            # border; a warning, as the interview's answers stay usable: a reviewer
            # asks the volunteer
            "locations": [{"field": "gps", "area_field": "ward", "boundaries": "wards",
                           "tolerance_m": 1000, "severity": "warning"}],
        },
    },
}

# Indicators, derived variables and weighting (citizendata.projects.estimation.EstimationSpec).
ESTIMATION: dict[str, Any] = {
    "derived": {
        # the Washington Group's recommended cut-off; all six answers missing -> unknown
        "disability": {
            "kind": "washington_group", "identifier": "DISABILITY3", "missing": ["7", "9"],
            "fields": {"seeing": "wg_seeing", "hearing": "wg_hearing", "walking": "wg_walking",
                       "cognition": "wg_cognition", "selfcare": "wg_selfcare",
                       "communication": "wg_communication"},
        },
        "age_group": {"kind": "age_group", "field": "age", "scheme": "reproductive"},
        "county_of_ward": {"kind": "rollup", "field": "ward", "geography": "geography",
                           "level": "county"},
    },
    "design": {
        # The community sample is not a probability sample: field teams interviewed the
        # women they could reach. So there are no design weights (the raking below does
        # the weighting) and the variance is model-based: valid if, within ward and age
        # group, who was reached does not depend on where she gave birth. Interviews
        # cluster by group ranch within ward: the ranch is the PSU and the ward the
        # stratum, so women of one ranch are not counted as independent draws.
        "kenya_maternal_health": {
            "non_probability": True, "strata": "ward", "psu": "group_ranch",
            # every ward has two or three ranches, but a ward where the teams reached (or
            # consent left) a single ranch must not stop the estimates; "adjust" keeps
            # that ranch's deviation from the overall mean in the variance (conservative)
            # rather than dropping it ("remove"/"certainty" would understate it)
            "lonely_psu": "adjust",
        },
    },
    "weighting": {
        "kenya_maternal_health": {
            # census counts of women by ward and five-year age group: the variables the
            # fieldwork's reach depended on
            "reference": "census_margins", "total": "population",
            "filter": {"sex": ["female"]},
            "margins": [["ward"], ["age_group"]],
            "method": "raking",
            "population": "${consent} = 'yes'",
        },
    },
    # The NSO's DHS-like survey of the same population (a stratified two-stage probability
    # sample: wards, enumeration areas, women) measures the covariates the fieldwork's reach
    # depended on, so sba can also be estimated with the survey as the reference sample
    # (Client.estimate_combined; docs/methods/nonprobability.md, "In a project").
    "combine": {
        "sba": {
            "reference": "dhs_births", "weights": "weight", "strata": "ward", "psu": "ea_id",
            "outcome": "skilled",  # the survey's own measure: its direct estimate beside
            "covariates": ["ward", "age_group", "disability"],
            "rename": {"disability": "disability_status", "county_of_ward": "county"},
            "domains": ["ward", "county_of_ward", "age_group", "disability"],
        },
    },
    "indicators": [
        {
            "id": "sba",
            "name": "Births attended by skilled health personnel",
            "form": "kenya_maternal_health",
            "unit": "births",
            "kind": "proportion",
            "numerator": "selected(${attendants}, 'doctor') or selected(${attendants}, 'nurse_midwife')",
            "unit_of_measure": "PT",
            "scale": 100,
            "series": "SH_STA_BRTC",
            "disaggregations": [["disability", "age_group", "ward"], ["county_of_ward"]],
            "benchmark": {
                "value": 89.0, "se": None, "year": 2022, "area": "Kenya (national)",
                "source": "Kenya Demographic and Health Survey 2022 (rounded public figure; "
                          "not checked against the final report)",
            },
        },
        {
            "id": "wg_disability",
            "name": "Women with disability (WG-SS, DISABILITY3)",
            "form": "kenya_maternal_health",
            "kind": "proportion",
            "numerator": "${disability} = 'with_disability'",
            "denominator": "${consent} = 'yes' and ${disability} != ''",
            "unit_of_measure": "PT",
            "scale": 100,
            "disaggregations": [["age_group"], ["county_of_ward"]],
        },
        {
            "id": "distance",
            "name": "Mean distance to the nearest maternity ward (km), per birth",
            "form": "kenya_maternal_health",
            "unit": "births",
            "kind": "mean",
            "numerator": "${distance_km}",
            "unit_of_measure": "KM",
            "disaggregations": [["county_of_ward"], ["disability"]],
        },
    ],
}


# Releases (citizendata.projects.release.ReleaseSpec): the network's chair signs them off
# for the community; the report maps wards and counties on the scenario's synthetic
# shapes; age and disability are coded for SDMX, where SH_STA_BRTC's content constraints
# (AGE and DISABILITY_STATUS _T only) leave those breakdowns out of the SDG file, with
# the reason in the release notes, while the CSV, Parquet and report carry them.
RELEASE: dict[str, Any] = {
    "community_representatives": ["naserian"],
    "maps": [{"boundaries": "wards", "dimension": "ward"},
             {"boundaries": "counties", "dimension": "county_of_ward"}],
    "sdmx": {"age_group": {"dimension": "AGE"},
             "disability": {"dimension": "DISABILITY_STATUS"}},
}


# Small area estimates (citizendata.projects.small_areas.SmallAreaSpec): skilled birth
# attendance by ward from a Fay–Herriot model on the census covariates by ward (the
# demo's reference table "ward_covariates"), on the arcsine-square-root scale with
# sampling variances smoothed by a generalised variance function, and
# benchmarked so the wards of each county add up to the county's direct estimate.
# With three counties a county-level model would rest on three points: the county
# figures stay direct (the benchmark), and the result's notes say so.
SMALL_AREAS: list[dict[str, Any]] = [
    {
        "indicator": "sba",
        "area": "ward",
        "covariates": "ward_covariates",
        "columns": ["mean_distance_km", "share_not_indigenous"],
        "method": "reml",
        "transform": "arcsin",
        # a ward's design variance rests on two or three group ranches: smoothed
        "smooth_variances": True,
        "benchmark": "county_of_ward",
        "benchmark_method": "ratio",
        # census women 15-49 by ward: the wards' shares of their county's births
        "weights": "women",
        "purpose": "publication",
    },
]
