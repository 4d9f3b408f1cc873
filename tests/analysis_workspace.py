"""A small workspace for the analysis pages: water points in three wards, one too small.

Kibera has 12 water points, Mathare 12 and Kware 3: Kware's cell has fewer than 5
respondents and is suppressed, and one more cell is suppressed to protect it (the total
minus the two others would give it away). The policy publishes which is which
(``distinguish_secondary``), so both kinds of suppressed cell show their own words. The
indicator has a benchmark (the coherence check) and the wards have boundaries (the map).
Every role has a member: amina (owner), wanjiku (analyst), njeri (nso), baraka (viewer),
otieno (collector), akinyi (validator); zawadi is no member.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from citizendata.workspace import Workspace
from conftest import file_settings
from xlsform_builders import make_xlsform

SLUG = "nairobi-water"
FORM_ID = "water_point"
INDICATOR = "working"
PASSWORD = "{}-password"
ROLES = {"wanjiku": "analyst", "njeri": "nso", "baraka": "viewer", "otieno": "collector",
         "akinyi": "validator"}

FORM = make_xlsform(
    [{"type": "select_one ward", "name": "ward", "label": "Ward"},
     {"type": "select_one yn", "name": "working", "label": "Working?"},
     {"type": "integer", "name": "households", "label": "Households served"}],
    [{"list_name": "ward", "name": "kibera", "label": "Kibera"},
     {"list_name": "ward", "name": "mathare", "label": "Mathare"},
     {"list_name": "ward", "name": "kware", "label": "Kware"},
     {"list_name": "yn", "name": "yes", "label": "Yes"},
     {"list_name": "yn", "name": "no", "label": "No"}],
    {"form_id": FORM_ID, "version": "1", "form_title": "Water point"},
)


def _square(code: str, x: float, name: str) -> dict[str, Any]:
    ring = [[x, -1.0], [x + 1, -1.0], [x + 1, 0.0], [x, 0.0], [x, -1.0]]
    return {"type": "Feature", "properties": {"code": code, "name": name},
            "geometry": {"type": "Polygon", "coordinates": [ring]}}


WARDS = json.dumps({"type": "FeatureCollection", "features": [
    _square("kibera", 36.0, "Kibera"), _square("mathare", 37.0, "Mathare"),
    _square("kware", 38.0, "Kware")]}).encode()

SPEC: dict[str, Any] = {
    "slug": SLUG,
    "name": "Nairobi water points",
    "initiator": {"slug": "water-youth", "name": "Water Youth Group"},
    "purpose": "Know which water points work.",
    "integration_intent": "integrate",
    "engagement": {"design": {"level": 4}, "collect": {"level": 5}},
    "validation": {"analytics": "all_but_rejected"},
    "protection": {"tables": {"threshold": 5, "distinguish_secondary": True},
                   "microdata": {"k": 3, "quasi_identifiers": ["ward"]}},
    "estimation": {
        "indicators": [
            {"id": INDICATOR, "name": "Water points working", "form": FORM_ID,
             "kind": "proportion", "numerator": "${working} = 'yes'", "scale": 100,
             "unit_of_measure": "PT", "disaggregations": [["ward"]],
             "benchmark": {"value": 55.0, "se": 2.0, "source": "county survey", "year": 2025}},
            {"id": "households", "name": "Households served", "form": FORM_ID, "kind": "mean",
             "numerator": "${households}", "disaggregations": [["ward"]]},
        ],
    },
    "release": {"community_representatives": ["baraka"],
                "maps": [{"boundaries": "wards", "dimension": "ward"}]},
}
# (ward, working?, households): Kibera 9 of 12 working, Mathare 4 of 12, Kware 2 of 3
ROWS = ([("kibera", "yes" if i < 9 else "no", 10 + i) for i in range(12)]
        + [("mathare", "yes" if i < 4 else "no", 20 + i) for i in range(12)]
        + [("kware", "yes" if i < 2 else "no", 30 + i) for i in range(3)])


def build(root: Path, *, estimate: bool = True) -> Workspace:
    """The workspace in ``root``, with one kept run of each indicator when ``estimate``."""
    ws = Workspace(file_settings(root))
    owner = ws.create_admin("amina", PASSWORD.format("amina"))
    owner.create_project(SPEC)
    owner.add_form(SLUG, FORM, "water.xlsx")
    owner.add_reference_table(SLUG, "wards", WARDS, kind="boundaries", note="test squares")
    for name, role in ROLES.items():
        owner.create_user(name, PASSWORD.format(name))
        owner.add_member(SLUG, name, role)
    owner.create_user("zawadi", PASSWORD.format("zawadi"))
    subs = [{"meta": {"instanceID": f"uuid:w{i:02d}"}, "ward": w, "working": k, "households": h}
            for i, (w, k, h) in enumerate(ROWS)]
    owner.submit(SLUG, FORM_ID, json.dumps(subs).encode())
    if estimate:
        for iid in (INDICATOR, "households"):
            owner.estimate(SLUG, iid)
    return ws
