"""Small area estimates in a project (Client.small_area_estimates) on the Kenya scenario.

Skilled birth attendance by ward: the indicator's protected direct estimates by ward,
the census covariates by ward (a reference table derived from the synthetic
population), a Fay–Herriot fit on the arcsine scale, and ratio benchmarking so the
wards of each county add up to the county's direct estimate. Also: a ward hidden by
disclosure control becomes synthetic, the API's rights (default deny), the report's
side-by-side maps, and the spec's refusals.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterator
from typing import Any

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

from citizendata import demo
from citizendata.errors import BadInput, Forbidden, NotFound
from citizendata.projects.small_areas import SmallAreaSpec
from citizendata.scenarios.kenya_maternal_health import project as kp
from citizendata.scenarios.kenya_maternal_health.covariates import area_covariates, covariates_csv
from citizendata.scenarios.kenya_maternal_health.geography import WARDS, boundaries_geojson
from citizendata.workspace import Client, Workspace
from conftest import file_settings

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message="Using `httpx` with", category=UserWarning)
    from fastapi.testclient import TestClient

SLUG = kp.PROJECT["slug"]
USERS = {u["role"]: u for u in kp.DEMO_USERS}
N = 1000  # submissions: about 330 births of consenting women over nine wards


def _lean(owner: Client) -> None:
    """The Kenya spec with sba alone, by ward and by county: the disclosure control then
    protects two small tables instead of the whole declared cube (seconds, not tens)."""
    spec = owner.project(SLUG).spec
    sba = next(i for i in spec.estimation.indicators if i.id == "sba")
    sba.disaggregations = [["ward"], ["county_of_ward"]]
    spec.estimation.indicators = [sba]
    owner.update_project(spec)


@pytest.fixture(scope="module")
def kenya(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Workspace, Any]]:
    from citizendata.scenarios.kenya_maternal_health import FORM_PATH, generate

    ws = Workspace(file_settings(tmp_path_factory.mktemp("sae")))
    owner = demo._setup(ws)
    _lean(owner)
    version = owner.add_form(SLUG, FORM_PATH)
    data = generate(N)
    demo._add_references(owner, SLUG, data.margins, data.population)
    owner.submit(SLUG, version.form_id, json.dumps(data.submissions).encode())
    rows, _ = owner.review_queue(SLUG, version.form_id, statuses=("received",), limit=10**7)
    owner.decide(SLUG, version.form_id, [r["instance_id"] for r in rows], "approved")
    yield ws, data
    ws.close()


@pytest.fixture(scope="module")
def api(kenya: tuple[Workspace, Any]) -> Iterator[tuple[Any, dict[str, str]]]:
    """The app over the Kenya workspace, with tokens of an NSO officer (who may see
    estimates), a collector (who may not) and a user of no project."""
    from citizendata.server.app import create_app

    ws, _ = kenya
    admin = ws.login(demo.DEMO_ADMIN["username"], demo.DEMO_ADMIN["password"])
    admin.create_user("stranger", "stranger-pass-2026")
    tokens = {role: ws.login(USERS[role]["username"], USERS[role]["password"])
              .create_token("t") for role in ("nso", "collector")}
    tokens["outsider"] = ws.login("stranger", "stranger-pass-2026").create_token("t")
    with TestClient(create_app(ws, settings=ws.settings)) as http:
        yield http, tokens


def _get(api: tuple[Any, dict[str, str]], url: str, who: str | None) -> Any:
    http, tokens = api
    return http.get(url, headers={"Authorization": f"Bearer {tokens[who]}"} if who else {})


BASE = f"/api/v1/projects/{SLUG}/small-areas"


@pytest.fixture(scope="module")
def result(api: tuple[Any, dict[str, str]]) -> dict[str, Any]:
    """The ward estimates as the API gives them to the NSO officer."""
    r = _get(api, f"{BASE}/sba", "nso")
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def test_ward_estimates_from_the_protected_direct_ones(kenya: tuple[Workspace, Any],
                                                       result: dict[str, Any]) -> None:
    ws, _ = kenya
    areas = {a["area"]: a for a in result["areas"]}
    assert set(areas) == {w.name for w in WARDS}
    assert result["method"] == "reml" and result["transform"] == "arcsin"
    assert set(result["model"]["beta"]) == {"(Intercept)", "mean_distance_km",
                                            "share_not_indigenous"}
    assert result["model"]["beta"]["mean_distance_km"] < 0  # farther wards, fewer skilled births
    assert result["model"]["sigma2_u"] >= 0
    # the direct figures are Client.estimate's own protected ones (no new estimator)
    own = ws.as_user(USERS["analyst"]["username"]).estimate(
        SLUG, "sba", disaggregations=[["ward"]], store=False, purpose="publication").table
    own = own[own["ward"] != "_T"].set_index("ward")
    for code, a in areas.items():
        assert a["direct"] == pytest.approx(float(own.loc[code, "value"]), rel=1e-12)
        # the SE is the same up to the weighting's convergence (raking stops at a tolerance)
        assert a["direct_se"] == pytest.approx(float(own.loc[code, "se"]), rel=1e-2)
        assert 0 <= a["estimate"] <= 100 and a["lower"] <= a["estimate"] <= a["upper"]
        assert 0 <= a["gamma"] <= 1 and a["in_sample"]
        # Samburu's direct estimate (CV about 25%) fails the reliability rule: not a benchmark
        assert a["benchmarked"] == (a["group"] != "samburu")
    # the model borrows strength where the survey is thin: the thinnest ward's CV falls
    thin = max(areas.values(), key=lambda a: a["cv_direct"])
    assert thin["cv"] < thin["cv_direct"]
    assert any("ratio benchmarking" in n for n in result["notes"])
    assert any("too few for an area-level model" in n for n in result["notes"])
    assert result["provenance"]["covariates"]["ward_covariates"]
    assert any(e["action"] == "estimate.small_areas"
               for e in ws.as_user(USERS["owner"]["username"]).audit_log(SLUG))


def test_wards_add_up_to_the_county_direct_estimates(kenya: tuple[Workspace, Any],
                                                     result: dict[str, Any]) -> None:
    _, data = kenya
    women = area_covariates(data.population).set_index("ward")["women"]
    groups = {g["group"]: g for g in result["groups"]}
    assert set(groups) == {"kajiado", "narok", "samburu"}
    for county, g in groups.items():
        rows = [a for a in result["areas"] if a["group"] == county]
        w = [float(women[a["area"]]) for a in rows]
        assert [a["weight"] for a in rows] == w
        agg = sum(wi * a["estimate"] for wi, a in zip(w, rows, strict=True)) / sum(w)
        assert g["model_aggregate"] == pytest.approx(agg, rel=1e-10) and g["areas"] == 3
        if county == "samburu":  # direct CV above the caution level: not a benchmark
            assert g["cv"] > 0.15 and not g["benchmarked"]
            assert agg != pytest.approx(g["direct"], rel=1e-3)
        else:
            assert g["cv"] <= 0.15 and g["benchmarked"]
            assert agg == pytest.approx(g["direct"], rel=1e-10)
    assert any(n.startswith("not benchmarked to county samburu (direct CV")
               for n in result["notes"])


def test_a_hidden_ward_is_estimated_synthetically(kenya: tuple[Workspace, Any]) -> None:
    ws, _ = kenya
    owner = ws.as_user(USERS["owner"]["username"])
    spec = owner.project(SLUG).spec
    before = spec.model_copy(deep=True)
    spec.protection.tables.threshold = 20
    owner.update_project(spec)
    try:
        res = ws.as_user(USERS["analyst"]["username"]).small_area_estimates(SLUG, "sba")
    finally:
        owner.update_project(before)
    hidden = [a for a in res["areas"] if a["hidden_direct"]]
    assert hidden, "a ward below the threshold"
    for a in hidden:
        assert a["direct"] is None and a["direct_se"] is None and a["n"] is None
        assert not a["in_sample"] and a["gamma"] == 0 and a["estimate"] is not None
    assert res["protection"]["hidden_direct"] == len(hidden)
    assert any("synthetic" in n for n in res["notes"])


def test_the_api_and_its_rights(api: tuple[Any, dict[str, str]],
                                result: dict[str, Any]) -> None:
    r = _get(api, BASE, "nso")
    assert r.status_code == 200, r.text
    assert [e["id"] for e in r.json()["small_areas"]] == ["sba:ward"]
    assert len(result["areas"]) == 9 and result["benchmark"] == "county_of_ward"
    for url in (BASE, f"{BASE}/sba"):
        assert _get(api, url, "collector").status_code == 403
        assert _get(api, url, "outsider").status_code == 404
        assert _get(api, url, None).status_code == 401
    r = _get(api, f"{BASE}/distance", "nso")
    assert r.status_code == 404 and r.json()["error"]["code"] == "indicator.unknown"


def test_the_report_shows_both_maps_on_one_scale(result: dict[str, Any]) -> None:
    from citizendata.publish.report import render_report

    wards = json.loads(boundaries_geojson("ward"))
    html = render_report({"project": "Kenya", "version": "v1"}, [], quality_html="",
                         engagement={}, methods="", references=[], maps={"ward": wards},
                         small_areas=[result])
    assert 'id="sae-1-direct"' in html and 'id="sae-1-model"' in html
    assert 'id="sae-1-plot"' in html and "<script" not in html
    direct = html.split('id="sae-1-direct"')[1].split("</svg>")[0]
    model = html.split('id="sae-1-model"')[1].split("</svg>")[0]

    def legend(svg: str) -> str:
        return svg.split('class="legend"')[1].replace("-direct-", "-").replace("-model-", "-")

    assert legend(direct) == legend(model)  # the same classes, the same colours
    assert "CV " in direct and "CV " in model
    assert "Fay–Herriot" in html
    # the roll-up's level names the benchmark, not the dimension's code name
    assert "direct estimate of each county." in html and "county_of_ward" not in html
    assert render_report({"project": "Kenya", "version": "v1"}, [], quality_html="",
                         engagement={}, methods="", references=[], maps={"ward": wards},
                         small_areas=[result]) == html  # deterministic


def test_unknown_entries_and_bad_specs_are_refused(kenya: tuple[Workspace, Any]) -> None:
    ws, data = kenya
    with pytest.raises(NotFound) as exc:
        ws.as_user(USERS["analyst"]["username"]).small_area_estimates(SLUG, "sba", area="county")
    assert exc.value.code == "indicator.unknown"
    entry = dict(kp.SMALL_AREAS[0])
    with pytest.raises(ValidationError, match="needs weights"):
        SmallAreaSpec.model_validate({**entry, "weights": None})
    with pytest.raises(ValidationError, match="area dimension itself"):
        SmallAreaSpec.model_validate({**entry, "benchmark": "ward"})
    assert SmallAreaSpec.model_validate(entry).id == "sba:ward"
    assert covariates_csv(data.population) == covariates_csv(data.population)


def test_an_undeclared_area_or_benchmark_table_is_refused_for_every_role(
        kenya: tuple[Workspace, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    """The reviewer's setup: sba declared by county alone. A ward table would be protected
    on its own (not with the declared tables) and must never reach a result or a release."""
    from citizendata.services import small_areas as sa_svc

    ws, _ = kenya
    owner = ws.as_user(USERS["owner"]["username"])
    spec = owner.project(SLUG).spec
    before = spec.model_copy(deep=True)
    sba = spec.estimation.indicators[0]
    sba.disaggregations = [["county_of_ward"]]
    # the spec is refused as a whole: it is never stored, for any role to read
    with pytest.raises(BadInput) as exc:
        owner.update_project(spec)
    assert exc.value.code == "input.invalid"
    assert "small_areas[0] (sba:ward)" in exc.value.message
    assert owner.project(SLUG).spec == before
    for role in ("owner", "nso"):  # unchanged: the ward model still runs for both
        assert ws.as_user(USERS[role]["username"]).small_area_specs(SLUG)
    # past the spec check (an indicator read otherwise, say), the client refuses the table
    from citizendata.services import estimation as est_svc

    real = est_svc.indicator_spec

    def county_only(*args: Any, **kwargs: Any) -> Any:
        ind = real(*args, **kwargs)
        return ind.model_copy(update={"disaggregations": [["county_of_ward"]]})

    monkeypatch.setattr(sa_svc, "entry_problem", lambda *_: None)
    monkeypatch.setattr(est_svc, "indicator_spec", county_only)
    with pytest.raises(Forbidden) as forbidden:
        owner.small_area_estimates(SLUG, "sba")
    assert forbidden.value.code == "privacy.undeclared_table"
    notes: list[str] = []
    assert owner._release_small_areas(SLUG, before, ["sba"], notes) == []
    assert len(notes) == 1 and "privacy.undeclared_table" in notes[0]


def test_the_spec_check_names_the_entry() -> None:
    from pydantic import BaseModel

    from citizendata.projects.estimation import EstimationSpec
    from citizendata.projects.small_areas import SmallAreaList

    class Spec(BaseModel):  # ProjectSpec's two fields, in its order
        estimation: EstimationSpec
        small_areas: SmallAreaList

    est = dict(kp.ESTIMATION)
    est["indicators"] = [{**i, "disaggregations": [["county_of_ward"]]} if i["id"] == "sba"
                         else i for i in est["indicators"]]
    with pytest.raises(ValidationError, match=r"small_areas\[0\] \(sba:ward\): area 'ward'"):
        Spec.model_validate({"estimation": est, "small_areas": kp.SMALL_AREAS})
    est["indicators"] = [{**i, "disaggregations": [["ward"]]} if i["id"] == "sba"
                         else i for i in est["indicators"]]
    with pytest.raises(ValidationError, match="benchmark 'county_of_ward'"):
        Spec.model_validate({"estimation": est, "small_areas": kp.SMALL_AREAS})
    assert Spec.model_validate({"estimation": kp.ESTIMATION, "small_areas": kp.SMALL_AREAS})


def _thin_wards(zero: float = 0.0) -> pd.DataFrame:
    """The reviewer's wards: 30 with 10-60 births, one thin ward with no skilled birth."""
    rng = np.random.default_rng(3)
    n = rng.integers(10, 60, 30).astype(float)
    x = rng.uniform(0, 1, 30)
    p = rng.binomial(n.astype(int), 0.05 + 0.2 * x) / n
    p[0] = zero
    return pd.DataFrame({"ward": [f"w{i:02d}" for i in range(30)], "direct": p,
                         "direct_var": p * (1 - p) / n * 1.5, "n": n, "x": x})


def test_a_ward_at_zero_keeps_its_own_sample() -> None:
    from citizendata.integrate.sae import fay_herriot, smooth_variances
    from citizendata.services.small_areas import _effective_n

    wards = _thin_wards()
    entry = SmallAreaSpec.model_validate({**kp.SMALL_AREAS[0], "benchmark": None,
                                          "weights": None})
    wards["direct_var"] = smooth_variances(wards, estimate="direct", variance="direct_var",
                                           sample_size="n", area="ward", proportion=True)
    notes: list[str] = []
    _effective_n(wards, entry, notes)
    inner = wards.iloc[1:]
    deff = np.median(inner["n"] * inner["direct_var"] / (inner["direct"] * (1 - inner["direct"])))
    # n / deff, the other wards' median design effect; before: p(1-p)/v = 1e-6/v ~ 0.0003
    assert wards.loc[0, "n_eff"] == pytest.approx(wards.loc[0, "n"] / deff, rel=1e-12)
    assert np.allclose(inner["n_eff"], inner["direct"] * (1 - inner["direct"])
                       / inner["direct_var"])
    assert notes and notes[0].startswith("ward w00: a direct proportion of 0 or 1")

    def fit(n_eff: pd.Series) -> pd.DataFrame:
        return fay_herriot(wards.assign(n_eff=n_eff), area="ward", estimate="direct",
                           variance="direct_var", columns=["x"], transform="arcsin",
                           sample_size="n_eff").areas.set_index("area")

    a = fit(wards["n_eff"])
    p = wards["direct"].clip(1e-6, 1 - 1e-6)
    old = fit(p * (1 - p) / wards["direct_var"])  # the former n_eff, 0.0003 for w00
    assert old.loc["w00", "gamma"] < 1e-3  # its 50 births were ignored
    # its own sample counts as the others' do for their size, and pulls it towards 0
    assert a.loc["w00", "gamma"] > 0.5 * a["gamma"].median()
    assert a.loc["w00", "eblup"] < 0.5 * old.loc["w00", "eblup"]


def test_a_ward_at_zero_without_smoothing_is_named() -> None:
    from citizendata.services.small_areas import _positive_variances

    wards = _thin_wards()
    entry = SmallAreaSpec.model_validate({**kp.SMALL_AREAS[0], "smooth_variances": False})
    with pytest.raises(BadInput) as exc:
        _positive_variances(wards, entry)
    assert exc.value.code == "sae.invalid_direct" and "ward w00:" in exc.value.message
    assert exc.value.fix is not None and "smooth_variances: true" in exc.value.fix
