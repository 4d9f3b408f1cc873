"""Boundary files, maps in the release report, and SDG breakdowns declared in the spec."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from citizendata.errors import BadInput
from citizendata.projects.spec import ProjectSpec
from citizendata.publish.boundaries import canonical_boundaries, dump_boundaries, parse_boundaries
from citizendata.publish.sdmx import (
    SeriesMapping,
    breakdowns,
    check_constraints,
    default_codes,
    read_back,
    to_sdg_rows,
    write_sdmx_csv,
)
from citizendata.scenarios.kenya_maternal_health.geography import WARDS, boundaries_geojson
from citizendata.workspace import Client
from conftest import CHOICES, SURVEY
from xlsform_builders import make_xlsform

AS_OF = date(2026, 6, 30)


def square(code: str, x: float, y: float, name: str | None = None) -> dict[str, Any]:
    """A one-degree square area with its lower-left corner at (x, y)."""
    props: dict[str, Any] = {"code": code}
    if name:
        props["name"] = name
    ring = [[x, y], [x + 1, y], [x + 1, y + 1], [x, y + 1], [x, y]]
    return {"type": "Feature", "properties": props,
            "geometry": {"type": "Polygon", "coordinates": [ring]}}


def collection(*features: dict[str, Any]) -> bytes:
    """A FeatureCollection as a user would upload it."""
    return json.dumps({"type": "FeatureCollection", "features": list(features)}).encode()


# -- boundary files ------------------------------------------------------------------------------

def test_boundaries_are_stored_in_canonical_form() -> None:
    messy = collection(square("ewuaso", 36.0, -2.0), square("magadi", 36.123456789, -1.0, "Magadi"))
    tidy, doc = canonical_boundaries(messy, "wards.geojson")
    assert [f["properties"]["code"] for f in doc["features"]] == ["ewuaso", "magadi"]
    assert doc["features"][1]["geometry"]["coordinates"][0][0] == [36.123457, -1.0]
    reordered = collection(square("magadi", 36.1234571, -1.0, "Magadi"), square("ewuaso", 36.0, -2.0))
    assert canonical_boundaries(reordered, "x")[0] == tidy  # same areas, same bytes


def test_an_open_ring_is_closed_and_a_multipolygon_kept() -> None:
    open_ring = [[0, 0], [1, 0], [1, 1], [0, 1]]
    doc = parse_boundaries(collection(
        {"type": "Feature", "properties": {"code": 7},
         "geometry": {"type": "Polygon", "coordinates": [open_ring]}},
        {"type": "Feature", "properties": {"code": "b"},
         "geometry": {"type": "MultiPolygon", "coordinates": [[open_ring], [open_ring]]}}))
    first = doc["features"][0]
    assert first["properties"]["code"] == "7"
    assert first["geometry"]["coordinates"][0][-1] == [0, 0]
    assert len(doc["features"][1]["geometry"]["coordinates"]) == 2


def test_every_problem_of_a_boundary_file_is_reported_together() -> None:
    bad = collection(
        square("a", 0, 0),
        square("a", 2, 0),  # code twice
        {"type": "Feature", "properties": {"name": "no code"}, "geometry": None},
        {"type": "Feature", "properties": {"code": "p"},
         "geometry": {"type": "Point", "coordinates": [0, 0]}},
        {"type": "Feature", "properties": {"code": "far"},
         "geometry": {"type": "Polygon", "coordinates": [[[0, 0], [200, 0], [0, 1], [0, 0]]]}})
    with pytest.raises(BadInput) as e:
        parse_boundaries(bad, "wards.geojson")
    assert e.value.code == "import.invalid_geojson"
    assert e.value.where is not None and e.value.where.file == "wards.geojson"
    messages = [p.message for p in e.value.problems]
    assert len(messages) == 4
    assert any("appears twice" in m for m in messages)
    assert any("no 'code'" in m for m in messages)
    assert any("Point" in m for m in messages)
    assert any("-180, 180" in m for m in messages)
    assert [p.where.position for p in e.value.problems if p.where] == [1, 2, 3, 4]


@pytest.mark.parametrize("data", [b"not json", b"{\"type\": \"Feature\"}", b"\xff\xfe",
                                  b'{"type": "FeatureCollection", "features": []}'])
def test_what_is_not_a_feature_collection_is_refused(data: bytes) -> None:
    with pytest.raises(BadInput) as e:
        parse_boundaries(data, "f.geojson")
    assert e.value.code == "import.invalid_geojson"


coords = st.floats(min_value=-179, max_value=179, allow_nan=False)
lats = st.floats(min_value=-89, max_value=89, allow_nan=False)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.text("abcxyz_0123456789", min_size=1, max_size=6), coords, lats),
                min_size=1, max_size=8, unique_by=lambda t: t[0]))
def test_boundaries_round_trip(areas: list[tuple[str, float, float]]) -> None:
    """Parsing the canonical bytes gives the same collection and the same bytes again."""
    raw = collection(*[square(c, min(x, 178.0), min(y, 88.0), name=c.upper()) for c, x, y in areas])
    data, doc = canonical_boundaries(raw)
    again = parse_boundaries(data)
    assert again == doc and dump_boundaries(again) == data
    assert {f["properties"]["code"] for f in doc["features"]} == {c for c, _, _ in areas}


def test_the_kenya_scenario_boundaries_are_valid_and_disjoint() -> None:
    wards = parse_boundaries(boundaries_geojson("ward"))
    counties = parse_boundaries(boundaries_geojson("county"))
    assert {f["properties"]["code"] for f in wards["features"]} == {w.name for w in WARDS}
    assert len(counties["features"]) == 3
    # each ward's centre lies in its own shape and in no other
    from citizendata.privacy.location import to_area

    codes = to_area([w.lat for w in WARDS], [w.lon for w in WARDS], wards)
    assert list(codes) == [w.name for w in WARDS]
    county_codes = to_area([w.lat for w in WARDS], [w.lon for w in WARDS], counties)
    assert list(county_codes) == [w.county for w in WARDS]


# -- SDG breakdowns ------------------------------------------------------------------------------

def test_standard_codes_for_age_bands_disability_and_sex() -> None:
    assert default_codes("AGE", ["15-19", "60+", "18 - 29", "old"]) == {
        "15-19": "Y15T19", "60+": "Y_GE60", "18 - 29": "Y18T29"}
    assert default_codes("DISABILITY_STATUS", ["with_disability", "without_disability"]) == {
        "with_disability": "PD", "without_disability": "PWD"}
    assert default_codes("SEX", ["female", "Male", "other"]) == {"female": "F", "Male": "M"}
    assert default_codes("URBANISATION", ["urban"]) == {}


def discrimination_table() -> pd.DataFrame:
    """A protected table by age group and disability, as citizendata's estimates give it."""
    rows = [("_T", "_T", 40.0, "F"), ("18-29", "_T", 45.0, "F"), ("60+", "_T", None, "C"),
            ("_T", "with_disability", 52.5, "F"), ("_T", "without_disability", 38.0, "F"),
            ("_T", "_U", 30.0, "F"), ("18-29", "with_disability", None, "D")]
    df = pd.DataFrame(rows, columns=["age_group", "disability", "value", "conf_status"])
    df.insert(0, "indicator", "discrimination")
    df["se"], df["n"], df["flag"], df["cv"] = 2.0, 120, "", 0.05
    return df


def test_declared_breakdowns_reach_sdmx_with_standard_codes(tmp_path: Path) -> None:
    table = discrimination_table()
    dims = breakdowns(table, {"age_group": ("AGE", {}),
                              "disability": ("DISABILITY_STATUS", {"with_disability": "PD"})})
    assert dims["age_group"] == ("AGE", {"18-29": "Y18T29", "60+": "Y_GE60"})
    rows, report = to_sdg_rows(table, SeriesMapping(
        series="VC_VOV_GDSD", ref_area="484", time_period="2026", source_detail="Citizen data",
        dims=dims), dimensions=["age_group", "disability"])
    assert check_constraints(rows, "VC_VOV_GDSD") == []
    keys = set(zip(rows["AGE"], rows["DISABILITY_STATUS"], rows["OBS_STATUS"], strict=True))
    assert keys == {("_T", "_T", "E"), ("Y18T29", "_T", "E"), ("Y_GE60", "_T", "O"),
                    ("_T", "PD", "E"), ("_T", "PWD", "E"), ("Y18T29", "PD", "O")}
    assert report.excluded == {"unknown code _U in 'disability'": 1}
    path = tmp_path / "gdsd.csv"
    write_sdmx_csv(rows, path)
    assert read_back(path).equals(rows)


def test_descriptive_columns_are_not_taken_for_dimensions() -> None:
    """An estimate table's indicator and cv columns must not hide every cell from SDMX."""
    rows, report = to_sdg_rows(discrimination_table(), SeriesMapping(
        series="VC_VOV_GDSD", ref_area="484", time_period="2026", source_detail="Citizen data"))
    assert len(rows) == 1 and rows.loc[0, "OBS_VALUE"] == "40"
    assert set(report.excluded) == {"project dimension 'age_group' has no SDG dimension",
                                    "project dimension 'disability' has no SDG dimension",
                                    "unknown code _U in 'disability'"}


# -- the release: maps and breakdowns from the spec ----------------------------------------------

ESTIMATION: dict[str, Any] = {
    "derived": {"age_group": {"kind": "age_group", "field": "age", "scheme": "custom",
                              "breaks": [18, 30, 45, 60]}},
    "indicators": [
        {"id": "consented", "name": "Consent given", "form": "household", "kind": "proportion",
         "numerator": "${consent} = 'yes'", "scale": 100, "unit_of_measure": "PT",
         "series": "VC_VOV_GDSD", "disaggregations": [["ward"], ["age_group"]]}]}


def setup(owner: Client, release: dict[str, Any]) -> None:
    """Forty approved respondents in two wards and two age groups; a representative 'rep'."""
    owner.update_project(ProjectSpec.model_validate(
        {**owner.project("test-project").spec.model_dump(mode="json"), "country": "404",
         "estimation": ESTIMATION, "release": release,
         "protection": {"tables": {"threshold": 3}}}))
    owner.create_user("rep", "rep-password-1")
    owner.add_member("test-project", "rep", "viewer")
    subs = [{"meta": {"instanceID": f"uuid:m{i}"}, "consent": "yes" if i % 3 else "no",
             "age": 25 if i % 2 else 50, "location": {"ward": "magadi" if i < 20 else "ewuaso"},
             "n_births": 0} for i in range(40)]
    owner.submit("test-project", "household", json.dumps(subs).encode())
    owner.decide("test-project", "household", [s["meta"]["instanceID"] for s in subs],
                 "approved")


WARD_SHAPES = collection(square("magadi", 36.0, -2.0, "Magadi"), square("ewuaso", 37.0, -2.0, "Ewuaso"))


def test_a_release_draws_the_declared_map_and_codes_the_breakdowns(owner: Client) -> None:
    owner.add_reference_table("test-project", "wards", WARD_SHAPES, kind="boundaries",
                              note="test squares")
    listed = {r["name"]: r for r in owner.reference_tables("test-project")}
    assert listed["wards"]["kind"] == "boundaries" and listed["wards"]["rows"] == 2
    setup(owner, {"community_representatives": ["rep"],
                  "maps": [{"boundaries": "wards", "dimension": "ward"}],
                  "sdmx": {"age_group": {"dimension": "AGE"}}})
    built = owner.build_release("test-project", as_of=AS_OF)
    out = owner.release_dir("test-project", built["version"])
    report = (out / "report.html").read_text(encoding="utf-8")
    assert 'id="ind-1-map"' in report and report.count('class="area"') == 2
    assert "Magadi" in report  # area names from the boundaries label the table and map
    shapes = json.loads((out / "boundaries/wards.geojson").read_text(encoding="utf-8"))
    assert [f["properties"]["code"] for f in shapes["features"]] == ["ewuaso", "magadi"]
    sdmx = read_back(out / "sdmx/VC_VOV_GDSD.csv")
    assert set(sdmx["AGE"]) == {"_T", "Y18T29", "Y45T59"}
    assert check_constraints(sdmx, "VC_VOV_GDSD") == []
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["release"]["provenance"]["consented"]["boundaries"] == {
        "wards": listed["wards"]["sha256"]}
    assert owner.verify_release("test-project", 1)["identical"]


def test_a_map_of_missing_boundaries_is_refused_before_anything_is_kept(owner: Client) -> None:
    setup(owner, {"community_representatives": ["rep"],
                  "maps": [{"boundaries": "wards", "dimension": "ward"}]})
    with pytest.raises(BadInput) as e:
        owner.build_release("test-project", as_of=AS_OF)
    assert e.value.where is not None and e.value.where.field == "release.maps[0].boundaries"
    assert owner.releases("test-project") == []


def test_boundaries_are_not_read_as_a_table(owner: Client) -> None:
    owner.add_reference_table("test-project", "wards", WARD_SHAPES, kind="boundaries")
    with pytest.raises(BadInput) as e:
        owner.add_reference_table("test-project", "bad", b"code,name\na,b\n", kind="boundaries")
    assert e.value.code == "import.invalid_geojson"
    # estimates read CSV reference tables only; the boundary file must not break them
    setup(owner, {"community_representatives": ["rep"]})
    assert owner.estimate("test-project", "consented").total()["n"] == 40


def test_public_microdata_coarsens_locations_to_the_boundaries(owner: Client) -> None:
    """The location policy's "area" method reads the project's boundary file."""
    owner.add_reference_table("test-project", "wards", WARD_SHAPES, kind="boundaries")
    # the point where a water sample was taken is not personal, unlike a home's GPS
    survey = [{**row, "personal": "no"} if row.get("name") == "gps" else row for row in SURVEY]
    owner.add_form("test-project", make_xlsform(survey, CHOICES, {
        "form_id": "household", "version": "2", "form_title": "Household"}), "household.xlsx")
    owner.update_project(ProjectSpec.model_validate(
        {**owner.project("test-project").spec.model_dump(mode="json"),
         "protection": {"location": {"method": "area", "boundaries": "wards"},
                        "microdata": {"k": 2, "l": 1, "quasi_identifiers": ["ward"],
                                      "fields": ["gps"]}}}))
    subs = [{"meta": {"instanceID": f"uuid:g{i}"}, "consent": "yes", "age": 30,
             "location": {"ward": "magadi" if i < 6 else "ewuaso",
                          "gps": f"{-1.5 - i / 100} {36.5 + (i >= 6)} 1500 5"},
             "n_births": 0} for i in range(12)]
    owner.submit("test-project", "household", json.dumps(subs).encode())
    owner.decide("test-project", "household", [s["meta"]["instanceID"] for s in subs],
                 "approved")
    data, report = owner.public_microdata("test-project", "household")
    gps = [c for c in data.columns if c.startswith("gps")]
    assert gps, data.columns
    assert sorted(data[gps[0]].unique()) == ["ewuaso", "magadi"]
    assert report["location"]["method"] == "area"


def test_an_unknown_signoff_decision_is_bad_input(owner: Client) -> None:
    setup(owner, {"community_representatives": ["rep"]})
    owner.build_release("test-project", as_of=AS_OF)
    with pytest.raises(BadInput) as e:
        owner.workspace.as_user("rep").sign_release("test-project", 1, "maybe")
    assert e.value.code == "input.invalid" and e.value.where is not None
    assert e.value.where.field == "decision"
    assert owner.releases("test-project")[0]["signoffs"] == []
