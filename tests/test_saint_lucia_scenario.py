"""The saint-lucia-population scenario: deterministic, valid shapes, form and submissions,
a census that undercounts informal settlements, and the truth kept apart."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import shapely
import yaml
from pyxform.xls2xform import convert
from shapely.geometry import shape

from citizendata.errors import BadInput
from citizendata.forms.xlsform import parse_xlsform
from citizendata.projects.spec import load_spec
from citizendata.scenarios import saint_lucia_population as sl

EXAMPLES = Path(__file__).parent.parent / "examples" / "saint-lucia-population"
SCALE = 0.1


@pytest.fixture(scope="module")
def data() -> sl.SaintLuciaScenario:
    return sl.generate(scale=SCALE)


def test_same_seed_same_data(data: sl.SaintLuciaScenario) -> None:
    again = sl.generate(scale=SCALE)
    assert again.submissions == data.submissions
    assert again.truth.equals(data.truth)
    assert again.census_records.equals(data.census_records)
    other = sl.generate(seed=7, scale=SCALE)
    assert not other.truth["population"].equals(data.truth["population"])


def test_checked_in_form_is_what_the_builder_writes() -> None:
    built = sl.form_bytes()
    assert sl.FORM_PATH.read_bytes() == built
    assert (EXAMPLES / "enumeration.xlsx").read_bytes() == built


def test_form_converts_and_marks_names_and_gps_personal() -> None:
    result = convert(xlsform=str(sl.FORM_PATH))
    assert result.warnings == []
    parsed = parse_xlsform(sl.FORM_PATH.read_bytes(), "enumeration.xlsx")
    assert (parsed.form_id, parsed.version) == (sl.FORM_ID, sl.FORM_VERSION)
    personal = {f.path for f in parsed.schema.fields if f.personal}
    assert {"gps", "members/given_name", "members/surname"} <= personal
    assert {f.path for f in parsed.schema.fields if f.repeat == "members"} == {
        "members/given_name", "members/surname", "members/sex", "members/age"}


def test_example_spec_is_the_scenarios_and_valid() -> None:
    loaded = yaml.safe_load((EXAMPLES / "project.yaml").read_text(encoding="utf-8"))
    assert loaded == sl.spec_dict()
    spec = load_spec(loaded, file="project.yaml")
    assert spec.population is not None and spec.population.enumeration == sl.FORM_ID
    assert spec.country == "662"


def test_areas_are_valid_non_overlapping_and_cover_the_island(data: sl.SaintLuciaScenario
                                                             ) -> None:
    doc = json.loads(data.boundaries("area"))
    shapes = [shape(f["geometry"]) for f in doc["features"]]
    assert len(shapes) == sl.N_AREAS == len(data.census)
    assert all(s.is_valid and not s.is_empty for s in shapes)
    total = sum(s.area for s in shapes)
    union = shapely.union_all(shapes)
    assert union.area == pytest.approx(total, rel=1e-5)  # no overlaps
    from citizendata.scenarios.saint_lucia_population.geography import island

    assert union.area == pytest.approx(island().area, rel=1e-4)
    districts = json.loads(data.boundaries("district"))["features"]
    assert sorted(f["properties"]["name"] for f in districts) == sorted(
        d.name for d in sl.DISTRICTS)
    assert {d.name for d in sl.DISTRICTS} >= {"Castries", "Gros Islet", "Vieux Fort",
                                              "Soufrière", "Anse la Raye"}


def test_full_scale_island_and_census_undercount() -> None:
    full = sl.generate()  # the default: about 170,000 people, about 23% missed
    t = full.truth_summary["total"]
    assert 160_000 < t["population"] < 180_000
    assert 0.21 < t["undercount"] < 0.26
    st = full.truth_summary["settlement_type"]
    assert st["informal"]["undercount"] > 2.5 * st["formal"]["undercount"]
    assert int(full.census["population"].sum()) == t["census"]


def test_the_census_undercounts_informal_settlements(data: sl.SaintLuciaScenario) -> None:
    tr = data.truth
    assert (tr["census"] <= tr["population"]).all()
    by = tr.groupby("settlement_type")[["census", "population"]].sum()
    cov = by["census"] / by["population"]
    assert cov["informal"] < 0.6 < 0.8 < cov["formal"]
    assert tr["population"].sum() == len(data.persons)


def test_imagery_counts_miss_informal_dwellings(data: sl.SaintLuciaScenario) -> None:
    m = data.dwellings.merge(data.truth, on="area")
    ratio = m.groupby("settlement_type")["buildings"].sum() / \
        m.groupby("settlement_type")["dwellings"].sum()
    assert ratio["informal"] < 0.9 < ratio["formal"]


def test_submissions_follow_the_form(data: sl.SaintLuciaScenario) -> None:
    codes = set(data.census["area"])
    sampled = set(data.sampled)
    assert len(sampled) == sum(sl.SAMPLE.values())
    informal = set(data.census.loc[data.census["settlement_type"] == "informal", "area"])
    assert len(sampled & informal) == sl.SAMPLE["informal"]
    members = 0
    for s in data.submissions:
        d = s["data"]
        assert d["area"] in codes and d["area"] in sampled
        assert d["dwelling_status"] in ("occupied", "vacant")
        if d.get("consent") == "yes":
            assert int(d["household_size"]) == len(d["members"])
            members += len(d["members"])
        else:
            assert "members" not in d
    assert members == len(data.members)
    assert len(data.submissions) == len(data.listing)


def test_gps_points_lie_in_their_area_but_the_planted_one(data: sl.SaintLuciaScenario) -> None:
    geo = dict(zip(data.areas["area"], data.areas["geometry"], strict=True))
    lat = np.array([float(s["data"]["gps"].split()[0]) for s in data.submissions])
    lon = np.array([float(s["data"]["gps"].split()[1]) for s in data.submissions])
    inside = np.array([shapely.contains_xy(geo[s["data"]["area"]], x, y)
                       for s, x, y in zip(data.submissions, lon, lat, strict=True)])
    outside = [s["instance_id"] for s, ok in zip(data.submissions, inside, strict=True) if not ok]
    assert outside == [data.planted["gps_swapped"]]


def test_census_records_are_the_counted_persons_of_sampled_areas(
        data: sl.SaintLuciaScenario) -> None:
    rec = data.census_records
    assert set(rec["area"]) <= set(data.sampled)
    assert "_person" not in rec.columns
    counted = data.truth.set_index("area").loc[data.sampled, "census"].sum()
    assert len(rec) == counted
    assert rec["census_id"].is_unique


def test_generate_refuses_a_bad_scale() -> None:
    for bad in (0, -1, "1", True, 100):
        with pytest.raises(BadInput) as exc:
            sl.generate(scale=bad)  # type: ignore[arg-type]
        assert exc.value.code == "input.invalid"


def test_example_script_writes_every_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    import runpy
    import sys

    monkeypatch.setattr(sys, "argv", ["generate.py", str(tmp_path), "--scale", "0.05"])
    runpy.run_path(str(EXAMPLES / "generate.py"), run_name="__main__")
    names = {p.name for p in tmp_path.iterdir()}
    assert {"census_counts.csv", "imagery_buildings.csv", "census_records.csv", "areas.geojson",
            "districts.geojson", "submissions.json", "truth.csv", "truth.json",
            "project.json", "enumeration.xlsx"} <= names
    assert "undercount" in capsys.readouterr().out
