"""The kenya-maternal-health reference scenario: form, generator, truth, bad records and files."""

from __future__ import annotations

import json
import runpy
import sys
import time
from pathlib import Path
from typing import Any

import defusedxml.ElementTree as ET
import numpy as np
import pandas as pd
import pytest
from pyxform.xls2xform import convert

from citizendata.errors import BadInput, NotFound
from citizendata.scenarios import SCENARIOS, get_scenario
from citizendata.scenarios import kenya_maternal_health as kmh
from citizendata.scenarios.kenya_maternal_health.form import WG_QUESTIONS
from citizendata.scenarios.kenya_maternal_health.population import AGE_GROUPS

XF = "{http://www.w3.org/2002/xforms}"
WG_OFFICIAL = (
    "Do you have difficulty seeing, even if wearing glasses?",
    "Do you have difficulty hearing, even if using a hearing aid?",
    "Do you have difficulty walking or climbing steps?",
    "Do you have difficulty remembering or concentrating?",
    "Do you have difficulty (with self-care such as) washing all over or dressing?",
    "Using your usual (customary) language, do you have difficulty communicating, for example "
    "understanding or being understood?",
)


@pytest.fixture(scope="module")
def data() -> kmh.ScenarioData:
    return kmh.generate(1500, seed=7)


@pytest.fixture(scope="module")
def xform() -> str:
    return convert(xlsform=str(kmh.FORM_PATH)).xform


def _instance_paths(xform: str) -> set[str]:
    """Slash paths (without the root) of every element of the primary instance."""
    root = ET.fromstring(xform)
    inst = root.find(f".//{XF}instance")
    assert inst is not None
    data_el = next(iter(inst))
    paths: set[str] = set()

    def walk(el: Any, prefix: str) -> None:
        for child in el:
            p = f"{prefix}{child.tag.removeprefix(XF)}"
            paths.add(p)
            walk(child, p + "/")

    walk(data_el, "")
    return paths


def _payload_paths(node: dict[str, Any], prefix: str = "") -> set[str]:
    """Slash paths of a payload; every leaf must be a string, as ODK Collect sends."""
    out: set[str] = set()
    for k, v in node.items():
        p = f"{prefix}{k}"
        out.add(p)
        if isinstance(v, dict):
            out |= _payload_paths(v, p + "/")
        elif isinstance(v, list):
            for item in v:
                out |= _payload_paths(item, p + "/")
        else:
            assert isinstance(v, str), (p, v)
    return out


def _births(data: kmh.ScenarioData) -> list[dict[str, str]]:
    return [b for s in data.submissions for b in s["data"].get("births", [])]


# -- the form ---------------------------------------------------------------------
def test_checked_in_form_is_what_the_builder_writes(tmp_path: Path) -> None:
    kmh.build_form(tmp_path / "a.xlsx")
    kmh.build_form(tmp_path / "b.xlsx")
    assert (tmp_path / "a.xlsx").read_bytes() == (tmp_path / "b.xlsx").read_bytes()
    assert kmh.FORM_PATH.read_bytes() == (tmp_path / "a.xlsx").read_bytes()


def test_form_converts_cleanly_with_settings(xform: str) -> None:
    result = convert(xlsform=str(kmh.FORM_PATH))
    assert result.warnings == []
    root = ET.fromstring(xform)
    data_el = next(iter(root.find(f".//{XF}instance")))
    assert data_el.get("id") == "kenya_maternal_health"
    assert data_el.get("version") == kmh.FORM_VERSION
    assert 'lang="Swahili (sw)"' in xform and 'lang="English (en)" default="true()"' in xform


def test_washington_group_wording_and_order_are_exact(xform: str) -> None:
    assert tuple(q[1] for q in WG_QUESTIONS) == WG_OFFICIAL
    positions = [xform.index(f"<value>{q}</value>") for q in WG_OFFICIAL]
    assert positions == sorted(positions)
    for code in ("1", "2", "3", "4", "7", "9"):
        assert f"<name>{code}</name>" in xform


def test_every_payload_path_is_a_form_path(data: kmh.ScenarioData, xform: str) -> None:
    allowed = _instance_paths(xform)
    used: set[str] = set()
    for sub in data.submissions:
        used |= _payload_paths(sub["data"])
    assert used <= allowed, used - allowed
    assert {"location/ward", "births/attendants", "births/skilled", "meta/instanceID"} <= used


# -- the generator ----------------------------------------------------------------
def test_same_seed_same_data_and_other_seed_differs() -> None:
    a, b, c = kmh.generate(200, seed=11), kmh.generate(200, seed=11), kmh.generate(200, seed=12)
    assert a.submissions == b.submissions
    assert a.bad_records == b.bad_records
    pd.testing.assert_frame_equal(a.margins, b.margins)
    assert a.submissions != c.submissions


@pytest.mark.parametrize("n", [80, 333])
def test_n_is_respected(n: int) -> None:
    d = kmh.generate(n, seed=3)
    assert len(d.submissions) == n
    assert int(d.population["in_sample"].sum()) == n - 2  # plus the two planted copies
    ids = [s["instance_id"] for s in d.submissions]
    assert len(set(ids)) == n and all(i.startswith("uuid:") for i in ids)
    assert all(s["data"]["meta"]["instanceID"] == s["instance_id"] for s in d.submissions)


def test_too_small_n_is_a_coded_error() -> None:
    with pytest.raises(BadInput) as err:
        kmh.generate(5)
    assert err.value.code == "input.invalid" and err.value.where is not None


def test_truth_recomputed_from_population(data: kmh.ScenarioData) -> None:
    b = data.births_population
    assert len(b) == data.population["births_count"].sum() == data.truth["births"]
    assert data.truth["overall"] == pytest.approx(b["skilled"].mean())
    for ward, v in data.truth["by_ward"].items():
        assert v == pytest.approx(b.loc[b["ward"] == ward, "skilled"].mean())
    dis = data.population.set_index("woman_id")["disability3"]
    mother = dis.loc[b["woman_id"]].to_numpy()
    assert data.truth["by_disability"]["disability"] == pytest.approx(b["skilled"][mother].mean())
    assert data.truth["by_disability"]["no_disability"] == pytest.approx(b["skilled"][~mother].mean())
    assert set(data.truth["by_age_group"]) == set(AGE_GROUPS)
    grp = pd.Series(b["skilled"].to_numpy()).groupby(b["age_group"].to_numpy()).mean()
    for g, v in data.truth["by_age_group"].items():
        assert v == pytest.approx(grp[g])
    # The story the scenario tells: remote wards and women with disabilities fare worse.
    assert data.truth["by_ward"]["kimana"] > data.truth["by_ward"]["baragoi"] + 0.3
    assert data.truth["by_disability"]["disability"] < data.truth["by_disability"]["no_disability"]


def test_naive_sample_estimate_overstates_the_truth(data: kmh.ScenarioData) -> None:
    skilled = [int(b["skilled"]) for b in _births(data)]
    naive = float(np.mean(skilled))
    assert len(skilled) > 300
    assert naive > data.truth["overall"] + 0.04  # accessible wards are over-represented
    sampled = data.population[data.population["in_sample"]]
    remote = sampled["ward"].isin(["baragoi", "waso", "loita"]).mean()
    assert remote < data.population["ward"].isin(["baragoi", "waso", "loita"]).mean()


def test_post_stratifying_to_the_margins_removes_most_of_the_bias(data: kmh.ScenarioData) -> None:
    rows = []
    for s in data.submissions:
        d = s["data"]
        age = d.get("respondent", {}).get("age", "")
        if d["consent"] != "yes" or not age.isdigit() or not 15 <= int(age) <= 49:
            continue
        group = AGE_GROUPS[(int(age) - 15) // 5]
        rows.append((d["location"]["ward"], group, [int(b["skilled"]) for b in d.get("births", [])]))
    women = pd.DataFrame(rows, columns=["ward", "age_group", "skilled"])
    margin = data.margins[data.margins["sex"] == "female"].set_index(["ward", "age_group"])["population"]
    weight = (margin / women.groupby(["ward", "age_group"]).size()).rename("w")
    births = women.explode("skilled").dropna().join(weight, on=["ward", "age_group"])
    calibrated = float((births["skilled"] * births["w"]).sum() / births["w"].sum())
    naive = float(births["skilled"].astype(float).mean())
    truth = data.truth["overall"]
    assert abs(calibrated - truth) < 0.04 < abs(naive - truth)


def test_washington_group_answers_are_sane(data: kmh.ScenarioData) -> None:
    prevalence = data.population["disability3"].mean()
    assert 0.10 <= prevalence <= 0.15
    assert data.truth["disability3_prevalence"] == pytest.approx(prevalence)
    answers = pd.Series([v for s in data.submissions for v in s["data"].get("wg", {}).values()])
    share = answers.value_counts(normalize=True)
    # '' is the planted missing_required record
    assert set(share.index) <= {"1", "2", "3", "4", "7", "9", ""} and answers.eq("").sum() == 1
    assert share["1"] > 0.75 and share["2"] > share["3"] > share["4"] > 0
    assert 0 < share.get("7", 0) + share.get("9", 0) < 0.05


def test_item_nonresponse_and_refusals_are_present(data: kmh.ScenarioData) -> None:
    consent = pd.Series([s["data"]["consent"] for s in data.submissions]).value_counts()
    assert 0 < consent["no"] < 0.06 * len(data.submissions)
    refused = [s["data"] for s in data.submissions if s["data"]["consent"] == "no"]
    assert all(set(d) == {"start", "end", "deviceid", "consent", "meta"} for d in refused)
    assert any(s["data"].get("respondent", {}).get("age") == "" for s in data.submissions)
    assert any(b["distance_km"] == "" for b in _births(data))


def test_every_bad_record_kind_is_present_exactly_as_documented(data: kmh.ScenarioData) -> None:
    kinds = [r["kind"] for r in data.bad_records]
    assert sorted(kinds) == sorted(kmh.BAD_RECORD_KINDS)
    by_id = {s["instance_id"]: s["data"] for s in data.submissions}
    bad = {r["kind"]: by_id[r["instance_id"]] for r in data.bad_records}
    subs = [s["data"] for s in data.submissions]
    ages = [d["respondent"]["age"] for d in subs if "respondent" in d and d["respondent"]["age"]]
    assert [a for a in ages if not 15 <= int(a) <= 49] == ["9"] == [bad["age_constraint"]["respondent"]["age"]]
    eth = [d["respondent"]["ethnicity"] for d in subs if "respondent" in d]
    assert eth.count("borana") == 1 and bad["unknown_choice"]["respondent"]["ethnicity"] == "borana"
    mism = [d for d in subs if "births_count" in d and int(d["births_count"]) != len(d.get("births", []))]
    assert mism == [bad["births_count_mismatch"]]
    texts = [b["travel_minutes"] for b in _births(data) if b["travel_minutes"] and not b["travel_minutes"].isdigit()]
    assert texts == ["two hours"]
    outside = []
    for d in subs:
        gps = d.get("location", {}).get("gps", "")
        if gps:
            lat, lon = map(float, gps.split()[:2])
            if not (-4.8 <= lat <= 5.1 and 33.9 <= lon <= 42.0):
                outside.append(d)
    assert outside == [bad["gps_outside_kenya"]]
    dup = bad["duplicate_submission"]
    twins = [d for d in subs if {**d, "meta": None} == {**dup, "meta": None}]
    assert len(twins) == 2 and twins[0]["meta"]["instanceID"] != twins[1]["meta"]["instanceID"]


def test_margins_match_the_population(data: kmh.ScenarioData) -> None:
    m = data.margins
    assert list(m.columns) == ["ward", "sex", "age_group", "population"]
    assert set(m["sex"]) == {"female", "male"} and set(m["age_group"]) == set(AGE_GROUPS)
    assert len(m) == 9 * 2 * 7
    fem = m[m["sex"] == "female"].set_index(["ward", "age_group"])["population"]
    pop = data.population.groupby(["ward", "age_group"]).size()
    assert fem.sort_index().to_dict() == pop.sort_index().to_dict()


def test_generating_5000_is_fast() -> None:
    t0 = time.perf_counter()
    d = kmh.generate(5000)
    assert time.perf_counter() - t0 < 5.0
    assert len(d.submissions) == 5000


# -- files, project, registry -----------------------------------------------------
def test_files_written_and_readable(tmp_path: Path) -> None:
    d = kmh.generate(150, seed=5)
    paths = kmh.write_files(d, tmp_path)
    assert all(p.exists() for p in paths.values())
    assert json.loads(paths["submissions.json"].read_text(encoding="utf-8")) == d.submissions
    assert json.loads(paths["truth.json"].read_text(encoding="utf-8")) == d.truth
    assert json.loads(paths["benchmark.json"].read_text(encoding="utf-8"))["indicator"] == "SH_STA_BRTC"
    csv = pd.read_csv(paths["kobo_export.csv"], sep=";", dtype=str, keep_default_na=False)
    assert len(csv) == 150
    assert {"location/ward", "_uuid", "meta/instanceID", "_submission_time", "__version__"} <= set(csv.columns)
    assert (("uuid:" + csv["_uuid"]) == csv["meta/instanceID"]).all()
    sheets = pd.read_excel(paths["kobo_export.xlsx"], sheet_name=None, dtype=str)
    main, births = list(sheets.values())
    assert list(sheets)[1] == "births" and len(main) == 150
    assert len(births) == len(_births(d))
    assert set(births["_parent_table_name"]) == {next(iter(sheets))}
    assert set(births["_submission__uuid"]) <= set(main["_uuid"])
    assert {"_index", "_parent_index", "births/attendants"} <= set(births.columns)
    pop = pd.read_parquet(paths["population.parquet"])
    assert len(pop) == len(d.population)
    margins = pd.read_csv(paths["population_margins.csv"])
    assert margins["population"].sum() == d.margins["population"].sum()


def test_example_script_writes_the_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    script = Path(__file__).parents[1] / "examples" / "kenya-maternal-health" / "generate.py"
    monkeypatch.setattr(sys, "argv", [str(script), str(tmp_path), "--n", "80", "--seed", "1"])
    runpy.run_path(str(script), run_name="__main__")
    assert (tmp_path / "form.xlsx").read_bytes() == kmh.FORM_PATH.read_bytes()
    assert len(json.loads((tmp_path / "submissions.json").read_text(encoding="utf-8"))) == 80


def test_project_meets_the_citizen_data_threshold() -> None:
    p = kmh.PROJECT
    assert p["slug"] == kmh.NAME == "kenya-maternal-health"
    assert p["integration_intent"] == "publish_alongside"
    stages = [s for phase in kmh.VALUE_CHAIN.values() for s in phase]
    assert list(p["engagement"]) == stages and len(stages) == 12
    assert all(1 <= v <= 5 for v in p["engagement"].values())
    assert max(p["engagement"]["identify"], p["engagement"]["collect"]) >= 4
    assert {u["role"] for u in kmh.DEMO_USERS} == {"owner", "collector", "validator", "analyst",
                                                  "nso"}
    assert kmh.BENCHMARK["year"] == 2022 and kmh.BENCHMARK["standard_error"] is None


def test_registry_finds_the_scenario_and_refuses_unknown_names() -> None:
    assert get_scenario("kenya-maternal-health") is kmh is SCENARIOS["kenya-maternal-health"]
    with pytest.raises(NotFound) as err:
        get_scenario("kenya_maternal_health")
    assert "kenya-maternal-health" in err.value.message
