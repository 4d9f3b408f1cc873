"""The mexico-lgbtiq reference scenario: form, generator, truth, import, estimate and spec."""

from __future__ import annotations

import io
import json
import runpy
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import defusedxml.ElementTree as ET
import pandas as pd
import pytest
from pyxform.xls2xform import convert

from citizendata.errors import BadInput
from citizendata.forms.xlsform import parse_xlsform
from citizendata.projects.spec import load_spec
from citizendata.scenarios import mexico_lgbtiq as mx
from citizendata.scenarios.mexico_lgbtiq.form import WG_QUESTIONS

XF = "{http://www.w3.org/2002/xforms}"
SLUG, FORM = "mexico-lgbtiq", "mexico_lgbtiq"
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
def data() -> mx.ScenarioData:
    return mx.generate(1500, seed=7)


@pytest.fixture(scope="module")
def xform() -> str:
    return convert(xlsform=str(mx.FORM_PATH)).xform


def _answers(data: mx.ScenarioData, group: str, field: str) -> list[str]:
    return [s["data"][group][field] for s in data.submissions if group in s["data"]]


def _instance_paths(xform: str) -> set[str]:
    """Slash paths (without the root) of every element of the primary instance."""
    data_el = next(iter(ET.fromstring(xform).find(f".//{XF}instance")))
    paths: set[str] = set()

    def walk(el: Any, prefix: str) -> None:
        for child in el:
            p = f"{prefix}{child.tag.removeprefix(XF)}"
            paths.add(p)
            walk(child, p + "/")

    walk(data_el, "")
    return paths


def _payload_paths(node: dict[str, Any], prefix: str = "") -> set[str]:
    out: set[str] = set()
    for k, v in node.items():
        out.add(f"{prefix}{k}")
        if isinstance(v, dict):
            out |= _payload_paths(v, f"{prefix}{k}/")
        else:
            assert isinstance(v, str), (k, v)
    return out


# -- the form ---------------------------------------------------------------------
def test_checked_in_form_is_what_the_builder_writes(tmp_path: Path) -> None:
    mx.build_form(tmp_path / "a.xlsx")
    assert mx.FORM_PATH.read_bytes() == (tmp_path / "a.xlsx").read_bytes() == mx.form_bytes()


def test_form_compiles_and_personal_fields_are_tagged(xform: str) -> None:
    assert convert(xlsform=str(mx.FORM_PATH)).warnings == []
    parsed = parse_xlsform(mx.FORM_PATH.read_bytes(), "form.xlsx")
    assert (parsed.form_id, parsed.version) == (FORM, mx.FORM_VERSION)
    assert parsed.schema.languages == ("Español (es)", "English (en)")
    personal = {f.path for f in parsed.schema.fields if f.personal}
    assert personal == {*mx.PERSONAL_FIELDS, "deviceid"}
    assert {"place/gps", "experience/narrative", "contact/contact_name",
            "contact/contact_phone"} <= personal
    fields = {f.path: f for f in parsed.schema.fields}
    scope = fields["consent_scope"]
    assert scope.type == "select_multiple" and scope.relevant == "${consent} = 'yes'"
    assert [c.name for c in scope.choices] == ["analysis", "publication", "nso_sharing"]
    assert fields["experience/grounds"].relevant == "${discriminated} = 'yes'"
    assert fields["place/municipality"].choice_filter == "state = ${state}"
    # WG-SS: the Group's English wording, order and answer codes
    assert tuple(q[1] for q in WG_QUESTIONS) == WG_OFFICIAL
    positions = [xform.index(f"<value>{q}</value>") for q in WG_OFFICIAL]
    assert positions == sorted(positions)
    assert [c.name for c in fields["wg/wg_seeing"].choices] == ["1", "2", "3", "4", "7", "9"]


def test_every_payload_path_is_a_form_path(data: mx.ScenarioData, xform: str) -> None:
    used: set[str] = set()
    for sub in data.submissions:
        used |= _payload_paths(sub["data"])
    assert used <= _instance_paths(xform), used - _instance_paths(xform)
    assert {"consent_scope", "experience/grounds", "contact/contact_phone", "place/gps"} <= used


# -- the generator ----------------------------------------------------------------
def test_same_seed_same_data_and_other_seed_differs() -> None:
    a, b, c = mx.generate(200, seed=11), mx.generate(200, seed=11), mx.generate(200, seed=12)
    assert a.submissions == b.submissions and a.truth == b.truth
    assert a.submissions != c.submissions
    assert len(a.submissions) == 200
    assert len({s["instance_id"] for s in a.submissions}) == 200


def test_too_small_n_is_a_coded_error() -> None:
    with pytest.raises(BadInput) as err:
        mx.generate(5)
    assert err.value.code == "input.invalid"


def test_truth_and_small_groups(data: mx.ScenarioData) -> None:
    pop, truth = data.population, data.truth
    assert truth["overall"] == pytest.approx(pop["discriminated"].mean())
    for g, v in truth["by_gender_identity"].items():
        assert v == pytest.approx(pop.loc[pop["gender_identity"] == g, "discriminated"].mean())
    by = truth["by_gender_identity"]
    assert min(by["trans_woman"], by["trans_man"], by["non_binary"]) > max(by["woman"], by["man"]) + 0.1
    assert truth["by_indigenous"]["yes"] > truth["by_indigenous"]["no"]
    shares = truth["shares"]
    for share in (shares["gender_identity"]["trans_man"], shares["sex_at_birth"]["intersex"],
                  shares["sexual_orientation"]["asexual"]):
        assert 0.005 < share < 0.06
    # realistically small intersectional groups in the sample
    s = pop[pop["in_sample"]]
    assert int(s["in_sample"].sum()) == 1500
    cells = s.groupby(["gender_identity", "sexual_orientation"]).size()
    assert (cells < 10).sum() >= 5
    indigenous = s[s["indigenous"] == "yes"].groupby("state").size()
    assert indigenous.get("20", 0) < 40 and indigenous.get("31", 0) < 40


def test_consent_scopes_refusals_and_prefer_not_to_say(data: mx.ScenarioData) -> None:
    subs = [s["data"] for s in data.submissions]
    refused = [d for d in subs if d["consent"] == "no"]
    assert 0 < len(refused) < 0.08 * len(subs)
    assert all(set(d) == {"start", "end", "deviceid", "consent", "meta"} for d in refused)
    scopes = Counter(d["consent_scope"] for d in subs if d["consent"] == "yes")
    assert scopes["analysis"] > 0  # analysis only: nothing may be published
    assert scopes["analysis publication nso_sharing"] > scopes["analysis"]
    assert all("analysis" in k.split() for k in scopes)
    for group, field in (("respondent", "gender_identity"), ("respondent", "sexual_orientation"),
                         ("respondent", "sex_at_birth"), ("experience", "discriminated")):
        assert "prefer_not_to_say" in _answers(data, group, field)
    exp = [d["experience"] for d in subs if "experience" in d]
    assert all(("grounds" in e) == (e["discriminated"] == "yes") for e in exp)
    assert all(e["grounds"] for e in exp if "grounds" in e)


def test_files_and_example_script(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    d = mx.generate(60, seed=5)
    paths = mx.write_files(d, tmp_path / "files")
    assert json.loads(paths["submissions.json"].read_text(encoding="utf-8")) == d.submissions
    assert json.loads(paths["truth.json"].read_text(encoding="utf-8")) == d.truth
    geo = pd.read_csv(paths["geography.csv"], dtype=str)
    assert list(geo.columns) == ["municipality", "state"]
    assert (geo["municipality"].str[:2] == geo["state"]).all()
    script = Path(__file__).parents[1] / "examples" / "mexico-lgbtiq" / "generate.py"
    monkeypatch.setattr(sys, "argv", [str(script), str(tmp_path / "ex"), "--n", "60", "--seed", "1"])
    runpy.run_path(str(script), run_name="__main__")
    assert (tmp_path / "ex" / "form.xlsx").read_bytes() == mx.FORM_PATH.read_bytes()
    assert len(json.loads((tmp_path / "ex" / "submissions.json").read_text(encoding="utf-8"))) == 60


# -- the project spec ---------------------------------------------------------------
def test_project_spec_is_strict() -> None:
    spec = load_spec(mx.spec_dict())
    assert spec.slug == mx.NAME and spec.country == "484"
    assert spec.integration_intent == "publish_alongside" and spec.meets_citizen_data_threshold
    assert spec.engagement["design"].level == spec.engagement["collect"].level == 5
    p = spec.protection
    assert p.level == "strict" and p.tables.threshold == 10 and p.tables.zero_unsafe
    assert p.microdata.k == 10 and p.microdata.l == 2  # yes or no in every class
    assert p.consent.field == "consent_scope" and p.consent.default == []
    assert set(p.consent.mapping) == {"analysis", "publication", "nso_sharing"}
    assert {"age", "state", "municipality", "gender_identity", "sexual_orientation",
            "indigenous"} == set(p.microdata.quasi_identifiers)
    assert p.microdata.recode["municipality"] == [{"rollup": "state"}]
    ind = spec.estimation.indicator("discrimination")
    assert ind is not None and ind.series == "VC_VOV_GDSD" and not ind.weighted
    assert ind.unit_of_measure == "PT" and ind.scale == 100
    assert not spec.estimation.weighting
    assert ["indigenous", "state"] in ind.disaggregations
    assert mx.project_spec() == spec


# -- end to end: import and an unprotected estimate ---------------------------------
@pytest.fixture(scope="module")
def workspace(data: mx.ScenarioData, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from citizendata.scenarios.mexico_lgbtiq.workspace import setup_workspace

    ws = setup_workspace(tmp_path_factory.mktemp("mexico") / "ws")
    yield ws
    ws.close()


def test_import_and_unprotected_estimate_recovers_the_truth(data: mx.ScenarioData,
                                                            workspace: Any) -> None:
    from citizendata.stats.indicators import estimate_indicator

    collector = workspace.as_user(next(u["username"] for u in mx.DEMO_USERS
                                       if u["role"] == "collector"))
    result = collector.submit(SLUG, FORM, json.dumps(data.submissions).encode())
    assert result.created == len(data.submissions) and result.duplicates == 0
    analyst = workspace.as_user(next(u["username"] for u in mx.DEMO_USERS if u["role"] == "analyst"))
    spec = analyst.estimation_spec(SLUG)
    snap = analyst.open_snapshot(SLUG, FORM)
    refs = {k: pd.read_csv(io.BytesIO(v), dtype=str) for k, v in mx.reference_bytes().items()}
    est = estimate_indicator(snap, spec, spec.indicator("discrimination"), statuses=("received",),
                             references=refs)
    total = est.total()
    answered = [s["data"]["experience"]["discriminated"] for s in data.submissions
                if "experience" in s["data"]]
    assert total["n"] == sum(a in ("yes", "no") for a in answered)
    assert total["value"] == pytest.approx(100 * answered.count("yes") / total["n"])
    truth = 100 * data.truth["overall"]
    assert abs(total["value"] - truth) < 4 * total["se"]
    assert abs(data.truth["expected_sample"] - data.truth["overall"]) < 0.02
    # intersectional cells below the strict threshold of 10: what protection must handle
    t = est.table
    assert ((t["n"] > 0) & (t["n"] < 10)).sum() >= 5
    sogi = estimate_indicator(snap, spec, spec.indicator("discrimination_sogi"),
                              statuses=("received",), references=refs, disaggregations=[])
    assert sogi.total()["n"] == total["n"]
    assert abs(sogi.total()["value"] - 100 * data.truth["sogi_overall"]) < 4 * sogi.total()["se"]
