"""A project's non-probability indicator combined with a probability survey (Client.estimate_combined).

The Kenya scenario's citizen sample over-represents accessible wards and older women;
its DHS-like survey of the same synthetic population is a reference table of the
project. Through the project (approved, consenting submissions, the indicator's own
definition) the IPW, doubly robust and mass-imputation intervals cover the
population's true share of skilled births while the naive one does not. Also: the
declaration is refused for a probability design, a small domain is hidden by the
project's disclosure control, the API route and the CLI.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError
from typer.testing import CliRunner

from citizendata.cli import app
from citizendata.errors import BadInput, Forbidden
from citizendata.projects.estimation import EstimationSpec
from citizendata.scenarios.kenya_maternal_health import project as kp
from citizendata.scenarios.kenya_maternal_health.dhs import truth
from citizendata.workspace import Client, Workspace
from conftest import file_settings

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message="Using `httpx` with", category=UserWarning)
    from fastapi.testclient import TestClient

SLUG = kp.PROJECT["slug"]
USERS = {u["role"]: u for u in kp.DEMO_USERS}
N = 2000  # submissions: ~660 births approved with consent; the survey has 570 births


def _kenya(ws: Workspace, n: int) -> Client:
    """The Kenya project with ``n`` scenario submissions, every one approved (no validation run)."""
    from citizendata import demo
    from citizendata.scenarios.kenya_maternal_health import FORM_PATH, generate

    owner = demo._setup(ws)
    version = owner.add_form(SLUG, FORM_PATH)
    data = generate(n)
    demo._add_references(owner, SLUG, data.margins)
    owner.submit(SLUG, version.form_id, json.dumps(data.submissions).encode())
    rows, _ = owner.review_queue(SLUG, version.form_id, statuses=("received",), limit=10**7)
    owner.decide(SLUG, version.form_id, [r["instance_id"] for r in rows], "approved")
    return owner


@pytest.fixture(scope="module")
def kenya(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workspace]:
    root = tmp_path_factory.mktemp("combined")
    ws = Workspace(file_settings(root))
    _kenya(ws, N)
    yield ws
    ws.close()


def _owner(ws: Workspace) -> Client:
    return ws.as_user(USERS["owner"]["username"])


def _rows(result: Any, by: str | None = None) -> dict[Any, dict[str, Any]]:
    t = result.table
    return {(r["method"], r[by]) if by else r["method"]: r for r in t.to_dict("records")}


def test_the_combined_estimators_cover_the_truth_and_the_naive_one_does_not(
        kenya: Workspace) -> None:
    result = _owner(kenya).estimate_combined(SLUG, "sba")
    rows = _rows(result)
    true = 100 * truth()  # the population's share of births with a skilled attendant, in %
    assert set(rows) == {"naive", "ipw", "dr", "mi", "nn", "survey"}
    # the survey's own estimate: R's svymean(~skilled, svydesign(ids = ~ea_id, strata =
    # ~ward, weights = ~weight, nest = TRUE)) on the same 570 births, to every printed digit
    r_ref = json.loads((Path(__file__).parent / "data" / "r_reference" / "nonprob.json")
                       .read_text())["survey_alone"]
    assert rows["survey"]["estimate"] == pytest.approx(100 * r_ref["value"], rel=1e-9)
    assert rows["survey"]["se"] == pytest.approx(100 * r_ref["se"], rel=1e-8)
    for m in ("ipw", "dr", "mi"):
        r = rows[m]
        assert r["ci_low"] < true < r["ci_high"], (m, r)
        assert r["n_B"] == 570 and r["n_A"] > 500
        assert "ignorable" in r["assumption"] or "outcome model" in r["assumption"]
    naive = rows["naive"]
    assert not naive["ci_low"] < true < naive["ci_high"], naive
    assert naive["estimate"] > rows["dr"]["estimate"] + 3  # the accessible wards did better
    assert (result.table["conf_status"] == "F").all()
    prov = result.provenance
    assert set(prov["reference"]) == {"dhs_births"} and len(prov["reference"]["dhs_births"]) == 64
    assert prov["snapshot"] and prov["combine_sha256"] and prov["citizendata_version"]
    assert result.diagnostics["kish_effective_n"] > 0
    assert any(e["action"] == "estimate.combined" for e in _owner(kenya).audit_log(SLUG))


def test_a_small_domain_is_hidden_with_its_cover(kenya: Workspace) -> None:
    owner = _owner(kenya)
    spec = owner.project(SLUG).spec
    before = spec.model_copy(deep=True)
    spec.protection.tables.threshold = 20
    owner.update_project(spec)
    try:
        result = owner.estimate_combined(SLUG, "sba", by="ward", method="dr,mi")
        own = owner.estimate(SLUG, "sba", disaggregations=[["ward"]], store=False,
                             purpose="publication").table
    finally:
        owner.update_project(before)
    t = result.table
    assert set(t["method"]) == {"naive", "dr", "mi", "survey"}
    hidden = t[t["conf_status"] != "F"]
    # baragoi and waso have fewer than 20 births of consenting women: hidden, and at
    # least one more ward too, so the total cannot give them away
    assert {"baragoi", "waso"} <= set(hidden["ward"])
    assert hidden["estimate"].isna().all() and hidden["n_A"].isna().all()
    shown = t[t["conf_status"] == "F"]
    assert (shown["n_A"] >= 20).all() and shown["estimate"].notna().all()
    assert result.protection is not None and result.protection["suppressed"] >= 2
    # whatever the indicator's own table hides stays hidden here (no differencing the two)
    assert (own["conf_status"] != "F").any()
    assert set(own.loc[own["conf_status"] != "F", "ward"]) <= set(hidden["ward"])
    # every method hides the same wards
    assert hidden.groupby("ward")["method"].nunique().eq(4).all()


def test_a_probability_design_needs_no_survey() -> None:
    est = {**kp.ESTIMATION, "design": {"kenya_maternal_health": {"strata": "ward",
                                                                 "psu": "group_ranch"}}}
    with pytest.raises(ValidationError, match="a probability sample does not need"):
        EstimationSpec.model_validate(est)
    from citizendata.demo import kenya_spec
    from citizendata.projects.spec import load_spec

    whole = kenya_spec().model_dump(mode="json")
    whole["estimation"]["design"] = est["design"]
    with pytest.raises(BadInput) as err:  # a project spec with it is refused, coded
        load_spec(whole)
    assert err.value.code == "input.invalid"
    assert "estimation.combine" in err.value.problems[0].where.field
    assert "probability sample does not need" in str(err.value)
    bad_kind = {**kp.ESTIMATION, "combine": {"distance": {**kp.ESTIMATION["combine"]["sba"]}}}
    EstimationSpec.model_validate(bad_kind)  # a mean is fine
    total = {"id": "births", "form": "kenya_maternal_health", "kind": "total",
             "numerator": "${births_count}"}
    with pytest.raises(ValidationError, match="only proportion and mean"):
        EstimationSpec.model_validate({**kp.ESTIMATION,
                                       "indicators": [*kp.ESTIMATION["indicators"], total],
                                       "combine": {"births": kp.ESTIMATION["combine"]["sba"]}})
    wrong = {**kp.ESTIMATION, "combine": {"nope": kp.ESTIMATION["combine"]["sba"]}}
    with pytest.raises(ValidationError, match="not a declared indicator"):
        EstimationSpec.model_validate(wrong)


def test_refusals_are_coded(kenya: Workspace) -> None:
    owner = _owner(kenya)
    with pytest.raises(BadInput) as err:
        owner.estimate_combined(SLUG, "wg_disability")  # declares no survey
    assert err.value.code == "nonprob.invalid"
    with pytest.raises(BadInput) as err:
        owner.estimate_combined(SLUG, "sba", by="ethnicity")
    assert err.value.code == "nonprob.invalid"
    with pytest.raises(BadInput) as err:
        owner.estimate_combined(SLUG, "sba", method="magic")
    assert err.value.code == "nonprob.invalid"
    collector = kenya.as_user(USERS["collector"]["username"])
    with pytest.raises(Forbidden):
        collector.estimate_combined(SLUG, "sba")


def test_both_storage_backends(ws: Workspace) -> None:
    owner = _kenya(ws, 1000)
    result = owner.estimate_combined(SLUG, "sba", method=["dr"])
    assert list(result.table["method"]) == ["naive", "dr", "survey"]
    assert result.table["estimate"].between(0, 100).all()
    assert any(e["action"] == "estimate.combined" for e in owner.audit_log(SLUG))


def test_the_api_route(kenya: Workspace, tmp_path: Path) -> None:
    from citizendata.server.app import create_app

    tokens = {role: kenya.login(USERS[role]["username"], USERS[role]["password"])
              .create_token("t") for role in ("analyst", "collector")}
    url = f"/api/v1/projects/{SLUG}/indicators/sba/estimate-combined"
    with TestClient(create_app(kenya, settings=kenya.settings)) as http:
        r = http.post(url, params={"by": "county_of_ward", "method": "ipw,mi"},
                      headers={"Authorization": f"Bearer {tokens['analyst']}"})
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["by"] == "county_of_ward" and body["methods"] == ["ipw", "mi"]
        first = body["estimates"][0]
        assert set(first) >= {"method", "by", "estimate", "se", "ci", "n_A", "n_B",
                              "assumption", "conf_status"}
        assert isinstance(first["n_A"], int) and isinstance(first["n_B"], int)
        assert {e["by"]["county_of_ward"] for e in body["estimates"]} == {
            "_T", "kajiado", "narok", "samburu"}
        # an analyst sees no unweighted citizen shares per covariate category
        assert all("citizen_unweighted" not in b for b in body["diagnostics"]["balance"])
        assert body["provenance"]["reference"]["dhs_births"]
        assert http.post(url, headers={"Authorization": f"Bearer {tokens['collector']}"}
                         ).status_code == 403
        assert http.post(url).status_code == 401
        assert http.post(url, params={"by": "ethnicity"}, headers={
            "Authorization": f"Bearer {tokens['analyst']}"}).status_code == 422
        assert http.post(url.replace("sba", "nope"), headers={
            "Authorization": f"Bearer {tokens['analyst']}"}).status_code == 404


def test_the_cli_json(kenya: Workspace) -> None:
    folder = kenya.settings.workspace
    res = CliRunner().invoke(app, ["estimate-combined", SLUG, "sba", "--method", "mi",
                                   "--json", "--workspace", str(folder),
                                   "--as", USERS["owner"]["username"]])
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    assert [e["method"] for e in out["estimates"]] == ["naive", "mi", "survey"]
    assert 0 < out["estimates"][1]["estimate"] < 100
    assert out["estimates"][1]["ci"][0] < out["estimates"][1]["estimate"]
    assert "outcome model" in out["estimates"][1]["assumption"]
    res = CliRunner().invoke(app, ["estimate-combined", SLUG, "sba", "--by", "ethnicity",
                                   "--json", "--workspace", str(folder),
                                   "--as", USERS["owner"]["username"]])
    assert res.exit_code != 0 and "nonprob.invalid" in res.output
