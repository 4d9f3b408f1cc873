"""Declared sampling designs through Client.estimate, on SQLite and PostgreSQL.

The declaration is checked (a field the form lacks before any snapshot is made; missing
PSUs, lonely PSUs, an fpc below the sample against the data); an undeclared design and
a declared "each submission its own PSU" design give the same numbers; replicate
variances (BRR, JKn) of a total equal the linearised one, as they must for a linear
statistic; a non-probability sample says its variance rests on a model.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from citizendata.errors import BadInput
from citizendata.projects.spec import ProjectSpec
from citizendata.workspace import Client, Workspace
from conftest import SPEC, household_form
from design_projects import R_DIR

SLUG = "test-project"
EXTRA = [{"type": "integer", "name": "village", "label": "Village"},  # 2 per ward
         {"type": "integer", "name": "cluster", "label": "Cluster"},  # 3 in magadi, 1 in ewuaso
         {"type": "decimal", "name": "dw", "label": "Design weight"},
         {"type": "integer", "name": "villages", "label": "Villages in the ward"}]
INDICATORS = [
    {"id": "skilled", "form": "household", "unit": "births", "kind": "proportion",
     "numerator": "selected(${attendants}, 'doctor') or selected(${attendants}, 'nurse')",
     "disaggregations": [["ward"], ["place"]]},
    {"id": "age", "form": "household", "kind": "mean", "numerator": "${age}",
     "disaggregations": [["ward"]]},
    {"id": "births", "form": "household", "kind": "total", "numerator": "${n_births}",
     "disaggregations": [["ward"]]},
]
REPW = [{"type": "decimal", "name": f"repw{r}", "label": f"Replicate {r}"} for r in range(1, 5)]
RAKE = {"household": {"reference": "census", "margins": [["ward"]]}}
N_WOMEN = 48


def _women() -> list[dict[str, Any]]:
    """Women in 4 villages (2 per ward), each with 1-3 births; fixed seed."""
    rng = np.random.default_rng(18)
    out = []
    for i in range(N_WOMEN):
        village = i % 4 + 1
        ward = "magadi" if village <= 2 else "ewuaso"
        cluster = {1: 1, 2: 2 + (i % 8 == 1)}.get(village, 4)
        k = int(rng.integers(1, 4))
        births = [{"place": str(rng.choice(["home", "facility"])),
                   "attendants": str(rng.choice(["doctor", "nurse", "tba", "doctor tba"]))}
                  for _ in range(k)]
        out.append({"meta": {"instanceID": f"uuid:w{i}"}, "consent": "yes",
                    "age": int(rng.integers(16, 45)), "location": {"ward": ward},
                    "n_births": k, "births": births, "village": village, "cluster": cluster,
                    "dw": 20.0 if ward == "magadi" else 60.0, "villages": 10})
    return out


@pytest.fixture
def me(ws: Workspace) -> Client:
    owner = ws.create_admin("owner", "owner-password")
    owner.create_project(SPEC)
    owner.add_form(SLUG, household_form(extra=EXTRA), "household.xlsx")
    subs = _women()
    owner.submit(SLUG, "household", json.dumps(subs).encode())
    owner.decide(SLUG, "household", [s["meta"]["instanceID"] for s in subs], "approved")
    owner.add_reference_table(SLUG, "census", b"ward,population\nmagadi,500\newuaso,1500\n",
                              kind="margins")
    return owner


def _set(me: Client, design: dict[str, Any] | None, weighting: dict[str, Any] | None = None,
         submissions: list[dict[str, Any]] | None = None) -> None:
    est: dict[str, Any] = {"indicators": INDICATORS}
    if design is not None:
        est["design"] = {"household": design}
    if weighting is not None:
        est["weighting"] = weighting
    me.update_project(ProjectSpec.model_validate(
        {**SPEC, "estimation": est, "protection": {"tables": {"threshold": 1}}}))


def _table(me: Client, indicator: str, **kw: Any) -> pd.DataFrame:
    return me.estimate(SLUG, indicator, store=False, protect=False, **kw).table


def _code(me: Client, indicator: str = "age", **kw: Any) -> str:
    with pytest.raises(BadInput) as err:
        me.estimate(SLUG, indicator, store=False, protect=False, **kw)
    return err.value.code


def test_a_design_field_the_form_lacks_is_refused_before_a_snapshot(me: Client,
                                                                     ws: Workspace) -> None:
    _set(me, {"psu": "vilage"})
    assert _code(me) == "design.invalid"
    assert ws.snapshot_store(SLUG, "household").latest() is None
    _set(me, {"psu": "place"})  # a field of the births, not of the sampled woman
    assert _code(me) == "design.invalid"


def test_psu_with_missing_values(me: Client) -> None:
    subs = _women()[:2]
    for s in subs:
        s["meta"]["instanceID"] += "-b"
        del s["village"]
    me.submit(SLUG, "household", json.dumps(subs).encode())
    me.decide(SLUG, "household", [s["meta"]["instanceID"] for s in subs], "approved")
    _set(me, {"psu": "village"})
    assert _code(me) == "design.missing_value"


def test_lonely_psu_under_each_option(me: Client) -> None:
    """ewuaso has one cluster: fail refuses; the others give an SE, certainty = remove."""
    _set(me, {"strata": "ward", "psu": "cluster"})
    assert _code(me) == "design.lonely_psu"
    se = {}
    for option in ("remove", "certainty", "adjust", "average"):
        _set(me, {"strata": "ward", "psu": "cluster", "lonely_psu": option})
        t = _table(me, "age")
        assert (t["df"] == 4 - 2).all()
        se[option] = float(t.loc[t["ward"] == "_T", "se"].iloc[0])
        assert np.isfinite(se[option]) and se[option] > 0
    assert se["certainty"] == pytest.approx(se["remove"], rel=1e-12)
    assert se["adjust"] > se["remove"] and se["average"] > se["remove"]


def test_fpc_smaller_than_the_sample(me: Client) -> None:
    _set(me, {"strata": "ward", "psu": "village", "fpc": {"magadi": 1.5, "ewuaso": 10}})
    assert _code(me) == "design.fpc_invalid"
    _set(me, {"strata": "ward", "psu": "village", "fpc": "villages"})
    assert _table(me, "age")["se"].notna().all()


@pytest.mark.parametrize("weighting", [None, RAKE])
def test_undeclared_equals_each_submission_its_own_psu(me: Client,
                                                       weighting: dict[str, Any] | None) -> None:
    """The fast path and the design path agree to rounding, over women and over births."""
    for indicator in ("skilled", "age", "births"):
        _set(me, None, weighting)
        fast = me.estimate(SLUG, indicator, store=False, protect=False)
        _set(me, {"lonely_psu": "fail"}, weighting)
        declared = me.estimate(SLUG, indicator, store=False, protect=False)
        assert fast.provenance["design"].startswith("none declared")
        assert isinstance(declared.provenance["design"], dict)
        a, b = fast.table, declared.table
        assert list(a.columns) == list(b.columns)
        same = ["value", "se", "cv"]
        pd.testing.assert_frame_equal(a.drop(columns=[*same, "ci_low", "ci_high", "df"]),
                                      b.drop(columns=[*same, "ci_low", "ci_high", "df"]))
        for c in same:
            np.testing.assert_allclose(a[c].to_numpy(float), b[c].to_numpy(float),
                                       rtol=1e-9, atol=1e-12)
        # the intervals differ only by their quantile: normal when nothing is declared (as
        # before designs could be), t with n - 1 df for the declared one
        assert np.isinf(a["df"]).all() and (b["df"] == N_WOMEN - 1).all()
        assert (b["ci_low"] <= a["ci_low"] + 1e-12).all()
        assert (b["ci_high"] >= a["ci_high"] - 1e-12).all()
        if indicator != "skilled":  # Wald: value -/+ quantile x SE
            t = float(sps.t.ppf(0.975, N_WOMEN - 1))
            np.testing.assert_allclose(b["ci_high"] - b["value"], t * b["se"], rtol=1e-9)


def test_design_weights_and_clusters_change_the_se(me: Client) -> None:
    _set(me, {"weights": "dw", "strata": "ward", "psu": "village"})
    r = me.estimate(SLUG, "births", store=False, protect=False)
    total = r.total()
    # the design weights carry the totals: 20 per woman in magadi, 60 in ewuaso
    subs = pd.DataFrame(_women())
    want = float((subs["dw"] * subs["n_births"]).sum())
    assert total["value"] == pytest.approx(want)
    assert total["df"] == 4 - 2
    assert "2 strata" in r.provenance["variance_assumption"]


@pytest.mark.parametrize("method", ["brr", "jkn"])
def test_replicate_variance_of_a_total_equals_the_linearised(me: Client, method: str) -> None:
    """BRR and JKn on two PSUs per stratum are exact for a linear statistic."""
    _set(me, {"weights": "dw", "strata": "ward", "psu": "village"})
    lin = _table(me, "births")
    rep = _table(me, "births", variance=method)
    np.testing.assert_allclose(rep["value"], lin["value"], rtol=1e-12)
    # the whole-sample cell; a ward's cell is a domain (not linear in the replicates' sense)
    np.testing.assert_allclose(rep["se"].iloc[0], lin["se"].iloc[0], rtol=1e-9)
    assert rep["variance_method"].iloc[0].startswith(method)


def test_recalibrated_bootstrap_is_reproducible(me: Client) -> None:
    _set(me, {"strata": "ward", "psu": "village"}, RAKE)
    one = me.estimate(SLUG, "skilled", variance="bootstrap", replicates=50, seed=3,
                      store=False, protect=False)
    two = _table(me, "skilled", variance="bootstrap", replicates=50, seed=3)
    pd.testing.assert_frame_equal(one.table, two)
    assert one.table["variance_method"].iloc[0] == "bootstrap(50)"
    assert one.provenance["replicate_weights"]["recalibrated"]
    assert "re-calibrated" in one.provenance["variance_assumption"]


def test_non_probability_says_its_variance_rests_on_a_model(me: Client) -> None:
    _set(me, {"psu": "village"}, RAKE)
    design = me.estimate(SLUG, "skilled", store=False, protect=False)
    _set(me, {"psu": "village", "non_probability": True}, RAKE)
    model = me.estimate(SLUG, "skilled", store=False, protect=False)
    np.testing.assert_allclose(model.table["se"], design.table["se"], rtol=1e-12)
    assert "non-probability" in model.provenance["variance_assumption"]
    assert "ignorable given the calibration variables" in model.provenance["variance_assumption"]
    assert "non-probability" not in design.provenance["variance_assumption"]


def test_unknown_variance_method(me: Client) -> None:
    _set(me, None)
    assert _code(me, variance="taylor") == "input.invalid"


def test_exported_replicate_weights_read_back_as_the_survey_own(me: Client, tmp_path: Any) -> None:
    """JK1 replicates exported with the weights, declared back in another project as the
    survey's own columns, give the same SEs (what R's svrepdesign would read)."""
    _set(me, {"weights": "dw", "strata": "ward", "psu": "village"})
    data, meta = me.survey_weights(SLUG, "household", tmp_path, variance="jk1")
    rep = meta["replicate_weights"]
    assert rep["type"] == "jk1" and rep["replicates"] == 4 and not rep["mse"]
    assert list(data.columns[:5]) == ["_id", "dw", "ward", "village", "design_weight"]
    assert "svrepdesign" in rep["r"] and "svydesign" in meta["r_linearised"]
    assert (tmp_path / "replicates.csv").exists() and (tmp_path / "design.json").exists()
    assert any(e["action"] == "weights.export" for e in me.audit_log(SLUG))
    jk = _table(me, "age", variance="jk1")
    assert jk["variance_method"].iloc[0] == "jk1(4)"
    # the submissions again, now carrying the exported replicate weights as answers
    snap = me.open_snapshot(SLUG, "household").con.table("household").to_pandas()
    ids = dict(zip(snap["_id"], snap["_instance_id"], strict=True))
    by_id = {ids[i]: row for i, row in zip(data["_id"], data.to_dict("records"), strict=True)}
    subs = _women()
    for sub in subs:
        sub.update({f"repw{r}": by_id[sub["meta"]["instanceID"]][f"repw{r}"] for r in range(1, 5)})
    me.create_project({**SPEC, "slug": "own"})
    me.add_form("own", household_form(extra=EXTRA + REPW), "household.xlsx")
    me.submit("own", "household", json.dumps(subs).encode())
    me.decide("own", "household", [s["meta"]["instanceID"] for s in subs], "approved")
    own = {"weights": "dw", "strata": "ward", "psu": "village",
           "replicate_weights": {"columns": "repw", "type": "jk1", "scale": rep["scale"],
                                 "rscales": rep["rscales"], "mse": False}}
    me.update_project(ProjectSpec.model_validate(
        {**SPEC, "slug": "own", "estimation": {"indicators": INDICATORS,
                                               "design": {"household": own}},
         "protection": {"tables": {"threshold": 1}}}))
    back = me.estimate("own", "age", store=False, protect=False).table
    np.testing.assert_allclose(back["se"], jk["se"], rtol=1e-9)
    assert back["variance_method"].iloc[0] == "jk1(4)"


def test_api_and_cli_offer_the_design_variances(me: Client) -> None:
    """`citizendata estimate --variance` offers the new methods; Fay's BRR through the library."""
    from citizendata.cli.estimate import Variance

    assert [v.value for v in Variance] == ["linearisation", "jk1", "jkn", "brr", "fay",
                                           "bootstrap"]
    _set(me, {"weights": "dw", "strata": "ward", "psu": "village"})
    out = me.estimate(SLUG, "age", variance="fay", store=False, protect=False).to_dict()
    assert out["provenance"]["variance"] == "fay"
    assert out["provenance"]["replicate_weights"]["fay_rho"] == 0.5
    assert out["estimates"][0]["df"] == 2


def test_blocks_of_cells_give_the_same_variance(me: Client, monkeypatch: Any) -> None:
    """A design with many units x cells is done in blocks of cells: the same numbers."""
    import citizendata.stats.cube as cube

    _set(me, {"strata": "ward", "psu": "village"}, RAKE)
    whole = _table(me, "skilled")
    monkeypatch.setattr(cube, "_DENSE_LIMIT", 4)  # one cell per block
    pd.testing.assert_frame_equal(_table(me, "skilled"), whole)


def test_design_intervals_cover_the_truth() -> None:
    """A stratified cluster sample with fpc, 1000 times from one population with known truth:
    the cube's 95% t intervals cover the mean overall and in a small domain 93-97% of the
    time; ignoring the clusters (each unit its own PSU) covers far less. The 1000 samples are
    stacked in one cube (a dimension ``rep``, strata and PSUs numbered apart per sample), so
    each sample's estimate is a domain of the stack with exactly its own variance."""
    import ibis

    from citizendata.stats.cube import (
        DESIGN_UNIT,
        CubeRequest,
        DesignVariance,
        EstimateOptions,
        cube_design_sums,
        cube_estimates,
    )
    from citizendata.survey.linear import psu_totals_variance

    rng = np.random.default_rng(2026)
    H, N_h, n_h, M, reps = 8, 40, 6, 8, 1000  # strata, PSUs per stratum, drawn, units per PSU
    psu_effect = rng.normal(0, 1.0, (H, N_h)) + np.arange(H)[:, None] * 0.5
    y = psu_effect[:, :, None] + rng.normal(0, 1.5, (H, N_h, M))
    group = rng.random((H, N_h, M)) < 0.15  # a small domain (about 58 units per sample)
    truth = {"_T": y.mean(), "yes": y[group].mean()}
    picks = np.argsort(rng.random((reps, H, N_h)), axis=2)[:, :, :n_h]  # (reps, H, n_h)
    r_i, h_i, j_i, k_i = np.meshgrid(np.arange(reps), np.arange(H), np.arange(n_h),
                                     np.arange(M), indexing="ij")
    p_i = picks[r_i, h_i, j_i]
    frame = pd.DataFrame({
        "_psu": np.arange(r_i.size), "rep": r_i.ravel().astype(str),
        "grp": np.where(group[h_i, p_i, k_i], "yes", "no").ravel(),
        DESIGN_UNIT: ((r_i * H + h_i) * n_h + j_i).ravel(),
        "_y": y[h_i, p_i, k_i].ravel(), "_z": 1.0, "_w": float(N_h / n_h), "_d": float(N_h / n_h)})
    con = ibis.duckdb.connect()
    table = con.create_table("stack", frame)
    req = CubeRequest(dims=["rep", "grp"], sets=[("rep",), ("rep", "grp")])
    m = reps * H * n_h
    strata = np.repeat(np.arange(reps * H), n_h)
    df = H * n_h - H  # one sample's degrees of freedom

    def variance(U: np.ndarray) -> np.ndarray:
        return psu_totals_variance(U, strata, fpc=np.full(m, float(N_h)), diag=True)

    covered = {}
    for name, var_fn in (("design", variance), ("naive", None)):
        if var_fn is None:  # each unit its own PSU, no strata, no fpc: the undeclared variance
            frame = frame[r_i.ravel() < 300]  # 300 samples show it well enough
            units_n = len(frame)
            naive = frame.assign(**{DESIGN_UNIT: np.arange(units_n)})
            table = con.create_table("naive", naive)
            ns = np.repeat(np.arange(300), units_n // 300)

            def var_fn(U: np.ndarray, ns: np.ndarray = ns) -> np.ndarray:
                return psu_totals_variance(U, ns, diag=True)

        design = DesignVariance(n_units=int(frame[DESIGN_UNIT].max()) + 1 if name == "design"
                                else len(frame), variance=var_fn, df=float(df))
        cells, units = cube_design_sums(table, req)
        est = cube_estimates(cells, ["rep", "grp"], EstimateOptions(
            kind="mean", n_design=len(frame), df=float(df), design=design), None, units)
        for g in ("_T", "yes"):
            e = est[est["grp"] == g]
            hit = (e["ci_low"] <= truth[g]) & (truth[g] <= e["ci_high"])
            covered[(name, g)] = float(hit.mean())
    assert 0.93 <= covered[("design", "_T")] <= 0.97, covered
    assert 0.93 <= covered[("design", "yes")] <= 0.97, covered
    assert covered[("naive", "_T")] < 0.9, covered


def test_jkn_degrees_of_freedom_leave_out_a_stratum_taken_whole_as_r() -> None:
    """R's apiclus1_certainty_jkn: districts below 400 all sampled (f = 1); linearised the
    df counts that stratum (13), JKn's replicate rank does not (9)."""
    from citizendata.projects.design import DesignSpec
    from citizendata.stats.indicators import _design_df
    from citizendata.stats.sampling import ResolvedDesign
    from citizendata.survey.design import SurveyDesign

    data = pd.read_csv(R_DIR / "apiclus1.csv")
    data["str"] = np.where(data["dnum"] < 400, "a", "b")
    data["N"] = np.where(data["str"] == "a", data.loc[data["str"] == "a", "dnum"].nunique(), 757)
    spec = DesignSpec(psu="dnum", strata="str", weights="pw", fpc="N")
    survey = SurveyDesign.from_spec(data, spec)
    design = ResolvedDesign(spec, survey, survey.psu, int(survey.psu.max()) + 1,
                            lambda t, present=None: t, [])
    want = json.loads((R_DIR / "design.json").read_text())["cases"]
    assert _design_df(design, "linearisation") == want["apiclus1_certainty"]["df"] == 13
    assert _design_df(design, "jkn") == want["apiclus1_certainty_jkn"]["df"] == 9
    assert _design_df(None, "jkn") is None
