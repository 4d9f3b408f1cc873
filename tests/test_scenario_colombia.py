"""The colombia-press-freedom scenario: the case form, the spec, the files and the example."""

from __future__ import annotations

import json
import runpy
import sys
from pathlib import Path

import pandas as pd
import pytest
from pyxform.xls2xform import convert

from citizendata.errors import BadInput
from citizendata.forms.xlsform import parse_xlsform
from citizendata.projects.cases import CaseFields
from citizendata.projects.spec import load_spec
from citizendata.scenarios import colombia_press_freedom as co
from citizendata.scenarios.colombia_press_freedom.records import FIELDS

PREAMBLE_CODES = {
    "victim_sex": {"female", "male", "unknown"},
    "victim_role": {"journalist", "media_worker", "trade_unionist", "hr_defender"},
    "violation": {"killing", "kidnapping", "enforced_disappearance", "arbitrary_detention",
                  "torture"},
    "perpetrator": {"state_agent", "armed_group", "criminal_group", "private", "unknown"},
}


@pytest.fixture(scope="module")
def data() -> co.ColombiaScenario:
    return co.generate(7, scale=0.4)


@pytest.fixture(scope="module")
def form_fields() -> dict[str, object]:
    parsed = parse_xlsform(co.FORM_PATH.read_bytes(), "form.xlsx")
    return {f.path: f for f in parsed.schema.fields}


# -- the case form ------------------------------------------------------------------
def test_checked_in_form_is_what_the_builder_writes(tmp_path: Path) -> None:
    co.build_form(tmp_path / "a.xlsx")
    assert co.FORM_PATH.read_bytes() == (tmp_path / "a.xlsx").read_bytes() == co.form_xlsx()


def test_form_converts_and_is_parsed_with_names_personal(form_fields: dict[str, object]) -> None:
    result = convert(xlsform=str(co.FORM_PATH))
    assert result.warnings == []
    assert "<h:title>Registro de agresiones" in result.xform
    parsed = parse_xlsform(co.FORM_PATH.read_bytes(), "form.xlsx")
    assert (parsed.form_id, parsed.version) == ("colombia_press_freedom", co.FORM_VERSION)
    assert parsed.schema.languages == ("Español (es)", "English (en)")
    personal = {f.path for f in parsed.schema.fields if f.personal}
    assert personal == {*co.PERSONAL_FIELDS, "deviceid"}
    assert {"victim_given_names", "victim_surnames", "description"} <= personal
    # every case field of the project's CaseFields is a top-level question of the form
    assert set(CaseFields().model_dump().values()) <= set(form_fields)
    assert "record_id" not in personal  # free text, but the source's number, not a person


def test_form_choices_hold_the_case_codes(form_fields: dict[str, object]) -> None:
    def names(path: str) -> list[str]:
        return [c.name for c in form_fields[path].choices]  # type: ignore[attr-defined]

    for field, codes in PREAMBLE_CODES.items():
        assert codes <= set(names(field)), field
    # FLIP's intake takes reports that are not 16.10.1 acts; verification sorts them out
    assert set(names("violation")) - PREAMBLE_CODES["violation"] == {"threat", "other_attack"}
    assert names("source") == list(co.LISTS)
    departments = names("department")
    assert len(departments) == 33 and len(set(departments)) == 33
    assert {"05", "11", "19", "52", "76", "99"} <= set(departments)
    assert all(len(c) == 2 and c.isdigit() for c in departments)
    munis = names("municipality")
    assert {"05001", "11001", "76001", "19001", "52835", "54001", "23001", "13001", "50001",
            "81001", "86001", "18001", "27001"} <= set(munis)
    assert all(m[:2] in departments and len(m) == 5 for m in munis)
    assert all(f"{d}001" in munis for d in departments)  # every capital
    muni = form_fields["municipality"]
    assert muni.choice_filter == "department = ${department}"  # type: ignore[attr-defined]
    assert form_fields["event_date"].type == "date"  # type: ignore[attr-defined]
    assert form_fields["victim_age"].type == "integer"  # type: ignore[attr-defined]


def test_records_use_only_the_forms_choices(data: co.ColombiaScenario,
                                            form_fields: dict[str, object]) -> None:
    for field in ("source", "victim_sex", "victim_role", "violation", "department",
                  "municipality", "perpetrator"):
        allowed = {c.name for c in form_fields[field].choices}  # type: ignore[attr-defined]
        used = set(data.records[field]) - {""}
        assert used <= allowed, (field, used - allowed)


# -- the project spec ---------------------------------------------------------------
def test_project_spec_is_valid_and_maps_every_file_column() -> None:
    spec = co.project_spec()
    assert load_spec(co.spec_dict()) == spec
    assert spec.slug == co.NAME and spec.country == "170"
    assert spec.initiator.slug == "flip" and spec.meets_citizen_data_threshold
    assert spec.engagement["design"].level == spec.engagement["collect"].level == 5
    cases = spec.cases
    assert cases is not None and cases.form == "colombia_press_freedom"
    assert [x.name for x in cases.lists] == list(co.LISTS)
    case_fields = set(cases.fields.model_dump().values()) - {"source"}
    for x in cases.lists:
        assert set(x.columns.values()) == case_fields, x.name
        assert list(x.columns) == list(co.LAYOUTS[x.name][0])
    assert len({x.date_format for x in cases.lists}) >= 5  # every organisation its own way
    v = cases.verification
    assert v is not None and v.list == "flip" and v.verified_only
    # (model_dump: mypy reads VerificationSpec.criteria's ``list`` as the field ``list``)
    codes = {c["code"] for c in v.model_dump()["criteria"]}
    assert {"two_sources", "victim_work", "act_16_10_1", "date_place"} <= codes
    assert set(v.required or []) <= codes
    est = {e.series: e for e in cases.estimates.values()}
    assert est["VC_VAW_MTUHRA"].violations == ["killing"]
    assert est["VC_VOC_ENFDIS"].violations == ["enforced_disappearance"]
    assert est["VC_VAW_MTUHRA"].strata == ["period"]
    assert spec.release.sdmx["victim_sex"].dimension == "SEX"
    # imported lists arrive as `received`: with the default (approved only) linkage and
    # estimates would see no record of the five other organisations
    assert spec.validation.analytics == "all_but_rejected"


def test_spec_refuses_a_mapping_to_an_unknown_field() -> None:
    bad = co.spec_dict()
    bad["cases"]["lists"][1]["columns"]["DELITO"] = "crime"
    with pytest.raises(BadInput):
        load_spec(bad)


# -- the organisations' files -------------------------------------------------------
@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_files_parse_back_through_the_list_specs(data: co.ColombiaScenario, tmp_path: Path,
                                                 fmt: str) -> None:
    paths = data.write_files(tmp_path, fmt)
    spec = co.project_spec()
    assert spec.cases is not None
    for x in spec.cases.lists:
        path = paths[f"{x.name}.{fmt}"]
        if fmt == "csv":
            raw = pd.read_csv(path, dtype=str, keep_default_na=False)
        else:
            raw = pd.read_excel(path, dtype=str, keep_default_na=False)
        assert list(raw.columns) == list(x.columns), x.name
        mapped = raw.rename(columns=x.columns)
        mapped["event_date"] = pd.to_datetime(mapped["event_date"], format=x.date_format
                                              ).dt.strftime("%Y-%m-%d")
        want = data.records[data.records["source"] == x.name].reset_index(drop=True)
        for field in mapped.columns:
            expected = want[field].astype("string").fillna("").astype(str)
            assert mapped[field].tolist() == expected.tolist(), (x.name, field)
        assert mapped["department"].str.fullmatch(r"\d{2}").all()
        assert mapped["record_id"].is_unique
    assert json.loads(paths["truth.json"].read_text(encoding="utf-8")) == data.truth
    assert json.loads(paths["project.json"].read_text(encoding="utf-8")) == co.spec_dict()
    flip = json.loads(paths["flip_submissions.json"].read_text(encoding="utf-8"))
    assert flip == data.submissions


def test_files_are_in_each_organisations_own_layout(data: co.ColombiaScenario) -> None:
    fis, dfn, somos = data.files["fiscalia"], data.files["defensoria"], data.files["somos"]
    assert list(fis.columns[:3]) == ["NOTICIA_CRIMINAL", "NOMBRES", "APELLIDOS"]
    assert fis["FECHA_HECHOS"].str.fullmatch(r"\d{2}/\d{2}/20\d{2}").all()
    assert fis["NOTICIA_CRIMINAL"].str.fullmatch(r"\d{21}").all()
    # the prosecutor's system writes names in capitals
    assert (fis["NOMBRES"] == fis["NOMBRES"].str.upper()).all()
    assert dfn["fecha_ocurrencia"].str.fullmatch(r"20\d{6}").all()
    assert somos["Fecha"].str.fullmatch(r"\d{2}/\d{2}/20\d{2}").all()
    assert (somos["Fecha"].str[:2].astype(int) <= 12).all()  # month first
    assert (data.files["flip"]["consecutivo"].str.startswith("FLIP-")).all()


def test_generate_refuses_a_bad_scale() -> None:
    for bad in (0, -1.0, 100, "1", True):
        with pytest.raises(BadInput) as err:
            co.generate(1, scale=bad)  # type: ignore[arg-type]
        assert err.value.code == "input.invalid"


def test_example_script_writes_every_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    script = Path(__file__).parents[1] / "examples" / "colombia-press-freedom" / "generate.py"
    monkeypatch.setattr(sys, "argv", [str(script), str(tmp_path / "ex"), "--scale", "0.1",
                                      "--seed", "3"])
    runpy.run_path(str(script), run_name="__main__")
    out = tmp_path / "ex"
    assert (out / "form.xlsx").read_bytes() == co.FORM_PATH.read_bytes()
    truth = json.loads((out / "truth.json").read_text(encoding="utf-8"))
    assert truth == co.generate(3, 0.1).truth
    for name in co.LISTS:
        assert len(pd.read_csv(out / f"{name}.csv", dtype=str)) == truth["list_records"][name]
    assert f"true victim-events {truth['true_total']:,}" in capsys.readouterr().out
    records = pd.read_csv(out / "records.csv", dtype=str, keep_default_na=False)
    assert list(records.columns[:len(FIELDS)]) == list(FIELDS)


def test_readme_documents_the_true_capture_model() -> None:
    from citizendata.scenarios.colombia_press_freedom.capture import model_table

    readme = (Path(__file__).parents[1] / "examples" / "colombia-press-freedom" / "README.md"
              ).read_text(encoding="utf-8")
    assert model_table() in readme
    for name, (src, gain) in co.REFERRAL.items():
        assert f"`{name}` gains **+{gain:.2f}**" in readme and f"`{src}`" in readme
    for name, rates in co.NOISE.items():
        row = next(line for line in readme.splitlines() if line.startswith(f"| {name} | 0"))
        cells = [float(c) for c in row.strip("|").split("|")[1:]]
        assert cells == list(rates), name
    t = co.generate().truth
    assert f"true victim-events 2016–2024 | {t['true_total']:,}" in readme
    assert f"at least one list) | {t['documented']:,}" in readme


# -- FLIP's reports through the intake ---------------------------------------------------
def test_flip_submissions_are_valid_intake_submissions(data: co.ColombiaScenario,
                                                      form_fields: dict[str, object]) -> None:
    from citizendata.ingest.payload import parse_json_submission

    schema = parse_xlsform(co.FORM_PATH.read_bytes(), "form.xlsx").schema
    subs = data.submissions
    assert len(subs) == len(data.backlog) == data.truth["list_records"]["flip"]
    assert len({s["instance_id"] for s in subs}) == len(subs)
    for sub in subs:
        parsed = parse_json_submission(sub, schema)
        assert parsed.instance_id == sub["instance_id"] == sub["data"]["meta"]["instanceID"]
        d = sub["data"]
        assert set(d) - {"meta"} <= set(form_fields), set(d) - set(form_fields)
        for field in ("report_channel", "victim_sex", "victim_role", "violation", "department",
                      "municipality", "perpetrator", "linked_to_work", "media_type"):
            if field in d:
                allowed = {c.name for c in form_fields[field].choices}  # type: ignore[attr-defined]
                assert d[field] in allowed, (field, d[field])
        assert d["event_date"] <= sub["collected_at"][:10]
    flip = data.records[data.records["source"] == "flip"].reset_index(drop=True)
    assert [s["data"]["record_id"] for s in subs] == list(flip["record_id"])
    assert [s["data"]["victim_surnames"] for s in subs] == list(flip["victim_surnames"])


def test_flip_submissions_agree_with_the_backlog(data: co.ColombiaScenario) -> None:
    d = pd.DataFrame([s["data"] for s in data.submissions])
    b = data.backlog.reset_index(drop=True)
    sources = d["independent_sources"].astype(int)
    verified = b["status"] == "verified"
    assert (sources[verified] >= 2).all() and d.loc[verified, "linked_to_work"].ne("no").all()
    assert (sources[b["reason"] == "insufficient_evidence"] <= 1).all()
    assert (d.loc[b["reason"] == "not_journalism", "linked_to_work"] == "no").all()
    assert d.loc[b["reason"] == "not_16_10_1", "violation"].isin(["threat", "other_attack"]).all()
    n_evidence = d["evidence"].str.split(" ").str.len()
    assert (n_evidence == sources.clip(lower=1, upper=7)).all()
    press = d["victim_role"].isin(["journalist", "media_worker"])
    assert d.loc[press, "media_outlet"].notna().all() and d.loc[~press, "media_outlet"].isna().all()
    # the description names no one: neither given names nor surnames appear in it
    for text, given, surnames in zip(d["description"], d["victim_given_names"],
                                     d["victim_surnames"], strict=True):
        assert not any(w in text.split() for w in f"{given} {surnames}".split() if len(w) > 3)


def test_registry_finds_the_scenario() -> None:
    from citizendata.scenarios import SCENARIOS, get_scenario

    assert get_scenario("colombia-press-freedom") is co is SCENARIOS[co.NAME]
    for name in ("NAME", "FORM_PATH", "PROJECT", "DEMO_USERS", "generate", "write_files"):
        assert hasattr(co, name), name
