"""The location check through the validation service: the Kenya scenario's planted GPS record."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from citizendata.demo import _setup
from citizendata.errors import BadInput
from citizendata.integrate.places import Areas, check_points
from citizendata.projects.spec import LocationCheckSpec
from citizendata.scenarios.kenya_maternal_health import FORM_PATH, generate
from citizendata.scenarios.kenya_maternal_health import project as kp
from citizendata.scenarios.kenya_maternal_health.dhs import population
from citizendata.scenarios.kenya_maternal_health.geography import boundaries_geojson
from citizendata.workspace import Workspace

SLUG, FORM = "kenya-maternal-health", "kenya_maternal_health"
DATA = Path(__file__).parent / "data" / "places"


def _user(ws: Workspace, role: str) -> object:
    return ws.as_user(next(u["username"] for u in kp.DEMO_USERS if u["role"] == role))


def test_exactly_the_planted_swapped_gps_record_is_flagged(ws: Workspace) -> None:
    n = 120
    data = generate(n)
    owner = _setup(ws)
    owner.add_form(SLUG, FORM_PATH)
    # only the location check: probable duplicates (splink) would triple the run time
    spec = owner.project(SLUG).spec
    spec.validation.forms[FORM].duplicates = None
    owner.update_project(spec)
    owner.add_reference_table(SLUG, "wards", boundaries_geojson("ward"), kind="boundaries")
    collector = _user(ws, "collector")
    collector.submit(SLUG, FORM, json.dumps(data.submissions).encode())  # type: ignore[attr-defined]
    validator = _user(ws, "validator")
    report = validator.validate(SLUG, FORM)  # type: ignore[attr-defined]
    rows, _ = validator.findings(SLUG, FORM, limit=100_000)  # type: ignore[attr-defined]
    found = [f for f in rows if f["kind"] == "location"]
    (planted,) = [b["instance_id"] for b in data.bad_records if b["kind"] == "gps_outside_kenya"]
    assert [f["instance_id"] for f in found] == [planted]
    (f,) = found
    assert f["rule"] == "location:location/gps" and f["severity"] == "warning"
    assert "latitude and longitude look swapped" in f["message"] and f["value"] is None
    # no coordinate of the point appears in the message
    gps = next(s["data"]["location"]["gps"] for s in data.submissions
               if s["instance_id"] == planted)
    assert all(part not in f["message"] for part in gps.split()[:2])
    assert report.by_kind.get("location") == 1
    # a check naming boundaries the project does not have is skipped, naming them; the
    # rest of the validation goes on (boundaries may be uploaded after collection starts)
    spec = owner.project(SLUG).spec
    spec.validation.forms[FORM].locations = [LocationCheckSpec(
        field="gps", area_field="ward", boundaries="wards_2019")]
    owner.update_project(spec)
    again = validator.validate(SLUG, FORM)  # type: ignore[attr-defined]
    (why,) = [s for s in again.skipped if s.startswith("location:")]
    assert "wards_2019" in why and "['wards']" in why
    assert not again.by_kind.get("location") and again.by_kind.get("constraint")


@pytest.mark.parametrize("backend", ["sqlite"])
def test_boundary_uploads_take_shapefiles_and_geopackages(ws: Workspace) -> None:
    owner = _setup(ws)
    a = owner.add_reference_table(SLUG, "w_geojson", (DATA / "wards.geojson").read_bytes(),
                                  kind="boundaries")
    b = owner.add_reference_table(SLUG, "w_shp", (DATA / "wards_shp.zip").read_bytes(),
                                  kind="boundaries")
    c = owner.add_reference_table(SLUG, "w_gpkg", (DATA / "wards_utm37s.gpkg").read_bytes(),
                                  kind="boundaries")
    assert a["sha256"] == b["sha256"] == c["sha256"] and a["rows"] == 4
    with pytest.raises(BadInput) as e:
        owner.add_reference_table(SLUG, "w_bad", (DATA / "wards_invalid.gpkg").read_bytes(),
                                  kind="boundaries")
    assert e.value.code == "geo.invalid_boundaries" and "'w2'" in str(e.value)


def test_no_genuine_home_lies_outside_its_ward() -> None:
    # every woman of the scenario's population (40,000), not only a sample
    women, _ = population()
    wards = Areas.from_geojson(json.loads(boundaries_geojson("ward")))
    pts = pd.DataFrame({"lon": np.round(women["lon"], 6), "lat": np.round(women["lat"], 6),
                        "ward": women["ward"]})
    res = check_points(pts, wards, lon="lon", lat="lat", area="ward", tolerance_m=0)
    assert res["status"].eq("inside").all()
