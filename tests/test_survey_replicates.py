"""Replicate weights (JK1, JKn, BRR, Fay, Rao–Wu bootstrap) checked against R's survey package.

The reference numbers and weight matrices come from scripts/r_reference/replicates.R
(R 4.2.2, survey 4.1.1); R reads our exported bootstrap weights back with svrepdesign.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from scipy.stats import t as scipy_t

from citizendata.errors import BadInput
from citizendata.projects.design import ReplicateWeightsSpec
from citizendata.stats.calibrate import Margin, calibrate
from citizendata.stats.variance import linearized_variance, recalibrator
from citizendata.survey.replicates import (
    Replicates,
    bootstrap,
    brr,
    calibrate_table,
    from_columns,
    hadamard,
    jk1,
    jkn,
    recalibrate,
    recalibrate_margins,
    replicate_design,
)

DATA = Path(__file__).parent / "data" / "r_reference"
REF: dict[str, Any] = json.loads((DATA / "replicates.json").read_text())
# R's JSON carries 15 significant digits
RTOL = 1e-12


def _csv(name: str) -> pd.DataFrame:
    return pd.read_csv(DATA / name, keep_default_na=False)


def _matrix(name: str) -> np.ndarray:
    return pd.read_csv(DATA / name).to_numpy(dtype=float)


CLUS = _csv("rep_apiclus1.csv")
STRAT = _csv("rep_apistrat.csv")
SCD = _csv("rep_scd.csv")
POP = REF["population"]
MARGINS = [Margin(("stype",), {(k,): v for k, v in POP["stype"].items()}),
           Margin(("sch_wide",), {(k,): v for k, v in POP["sch_wide"].items()})]


def codes(x: pd.Series) -> np.ndarray:
    return np.asarray(pd.factorize(x)[0])


def ratio_se(rep: Replicates, w: np.ndarray, y: np.ndarray, z: np.ndarray) -> tuple[float, float]:
    """Full-sample ratio sum w y / sum w z and its replicate SE."""
    theta = float(w @ y / (w @ z))
    th_r = (rep.weights.T @ y) / (rep.weights.T @ z)
    return theta, float(np.sqrt(rep.variance(th_r, theta)))


def total_se(rep: Replicates, w: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    theta = float(w @ y)
    return theta, float(np.sqrt(rep.variance(rep.weights.T @ y, theta)))


def check_summary(rep: Replicates, w: np.ndarray, df: pd.DataFrame, ref: dict[str, Any]) -> None:
    """Every estimate R's summarise() gives: value and SE to R's printed digits."""
    y = df["api00"].to_numpy(float)
    enroll = df["enroll"].to_numpy(float)
    one = np.ones(len(df))
    yes = (df["sch_wide"] == "Yes").to_numpy(float)
    got = {"mean_api00": ratio_se(rep, w, y, one), "total_enroll": total_se(rep, w, enroll),
           "prop_sch_wide_yes": ratio_se(rep, w, yes, one)}
    for key, (value, se) in got.items():
        assert value == pytest.approx(ref[key]["value"], rel=RTOL), key
        assert se == pytest.approx(ref[key]["se"], rel=1e-10), key
    for level, r in ref["domain_mean_api00_by_stype"].items():
        dom = (df["stype"] == level).to_numpy(float)
        value, se = ratio_se(rep, w, y * dom, dom)
        assert (value, se) == pytest.approx((r["value"], r["se"]), rel=1e-10), level
    for level, r in ref["domain_total_enroll_by_sch_wide"].items():
        dom = (df["sch_wide"] == level).to_numpy(float)
        value, se = total_se(rep, w, enroll * dom)
        assert (value, se) == pytest.approx((r["value"], r["se"]), rel=1e-10), level


def check_constants(rep: Replicates, ref: dict[str, Any]) -> None:
    assert rep.n_replicates == ref["replicates"]
    assert rep.scale == pytest.approx(ref["scale"], rel=RTOL)
    np.testing.assert_allclose(rep.rscales, np.broadcast_to(ref["rscales"], rep.rscales.shape),
                               rtol=RTOL)
    assert rep.mse is ref["mse"]


# -- Hadamard matrices and the deterministic constructions ---------------------------


def test_hadamard_matrices_are_rs() -> None:
    for case in REF["hadamard"]:
        ours = ["".join(map(str, row)) for row in hadamard(case["n"]).tolist()]
        assert ours == case["rows"], case["n"]
        assert len(ours) >= case["n"] + 1


def test_jk1_weights_and_estimates_equal_rs() -> None:
    pw = CLUS["pw"].to_numpy(float)
    rep = jk1(pw, CLUS["dnum"])
    np.testing.assert_allclose(rep.weights, _matrix("rep_jk1_apiclus1.csv.gz"), rtol=1e-13)
    check_constants(rep, REF["jk1_apiclus1"]["replicates"])
    check_summary(rep, pw, CLUS, REF["jk1_apiclus1"]["results"])
    rep_fpc = jk1(pw, CLUS["dnum"], CLUS["fpc"])
    np.testing.assert_array_equal(rep_fpc.weights, rep.weights)
    check_constants(rep_fpc, REF["jk1_fpc_apiclus1"]["replicates"])
    check_summary(rep_fpc, pw, CLUS, REF["jk1_fpc_apiclus1"]["results"])
    rep_mse = jk1(pw, CLUS["dnum"], mse=True)
    check_constants(rep_mse, REF["jk1_mse_apiclus1"]["replicates"])
    check_summary(rep_mse, pw, CLUS, REF["jk1_mse_apiclus1"]["results"])


@pytest.mark.parametrize("key,fpc", [("jkn_apistrat", False), ("jkn_fpc_apistrat", True)])
def test_jkn_weights_and_estimates_equal_rs(key: str, fpc: bool) -> None:
    pw = STRAT["pw"].to_numpy(float)
    rep = jkn(pw, codes(STRAT["stype"]), STRAT["id"], STRAT["fpc"] if fpc else None)
    # the fpc changes the rscales, not the weights
    np.testing.assert_allclose(rep.weights, _matrix("rep_jkn_apistrat.csv.gz"), rtol=1e-13)
    check_constants(rep, REF[key]["replicates"])
    check_summary(rep, pw, STRAT, REF[key]["results"])
    # sampling fractions instead of population sizes give the same replicates
    if fpc:
        n_h = STRAT.groupby("stype")["id"].transform("size").to_numpy(float)
        frac = jkn(pw, codes(STRAT["stype"]), STRAT["id"], n_h / STRAT["fpc"].to_numpy(float))
        np.testing.assert_allclose(frac.rscales, rep.rscales, rtol=1e-14)


def scd_psu() -> np.ndarray:
    return (SCD["ESA"] * 10 + SCD["ambulance"]).to_numpy()


def check_scd(rep: Replicates, w: np.ndarray, ref: dict[str, Any]) -> None:
    alive = SCD["alive"].to_numpy(float)
    arrests = SCD["arrests"].to_numpy(float)
    got = {"mean_alive": ratio_se(rep, w, alive, np.ones(len(SCD))),
           "total_arrests": total_se(rep, w, arrests),
           "ratio_alive_arrests": ratio_se(rep, w, alive, arrests)}
    for key, (value, se) in got.items():
        assert (value, se) == pytest.approx((ref[key]["value"], ref[key]["se"]), rel=1e-10), key


@pytest.mark.parametrize("key,rho", [("brr_scd", 0.0), ("fay_scd", 0.3)])
def test_brr_and_fay_equal_rs(key: str, rho: float) -> None:
    w = np.ones(len(SCD))
    rep = brr(w, SCD["ESA"], scd_psu(), fay_rho=rho)
    assert rep.type == ("fay" if rho else "brr")
    name = "rep_brr_scd.csv.gz" if rho == 0 else "rep_fay_scd.csv.gz"
    np.testing.assert_allclose(rep.weights, _matrix(name), rtol=1e-13)
    check_constants(rep, REF[key]["replicates"])
    check_scd(rep, w, REF[key]["results"])


def test_a_surveys_own_brr_columns_as_rs_documented_example() -> None:
    data = _csv("rep_scd_repweights.csv")
    spec = ReplicateWeightsSpec(columns="rw", type="brr", combined_weights=False, mse=False)
    w = np.ones(len(data))  # R: "no sampling weights provided: equal probability assumed"
    rep = from_columns(data, spec, design_weights=w)
    check_constants(rep, REF["scd_repweights"]["replicates"])
    check_scd(rep, w, REF["scd_repweights"]["results"])
    listed = from_columns(data, ReplicateWeightsSpec(columns=["rw1", "rw2", "rw3", "rw4"],
                                                     type="brr", combined_weights=False,
                                                     mse=False), w)
    np.testing.assert_array_equal(listed.weights, rep.weights)


# -- re-calibration per replicate ----------------------------------------------------


def full_calibrated(df: pd.DataFrame, margins: list[Margin]) -> np.ndarray:
    return calibrate(df, margins, design_weights=df["pw"].to_numpy(float), tol=1e-13).weights


@pytest.mark.parametrize("key,margins,weights_file", [
    ("jk1_raked_apiclus1", MARGINS, "rep_jk1_raked_apiclus1.csv.gz"),
    ("jk1_poststrat_apiclus1", MARGINS[:1], "rep_jk1_poststrat_apiclus1.csv.gz"),
])
def test_raked_and_poststratified_jk1_equal_rs(key: str, margins: list[Margin],
                                               weights_file: str) -> None:
    rep = recalibrate_margins(jk1(CLUS["pw"].to_numpy(float), CLUS["dnum"]), CLUS, margins)
    np.testing.assert_allclose(rep.weights, _matrix(weights_file), rtol=1e-9)
    check_summary(rep, full_calibrated(CLUS, margins), CLUS, REF[key]["results"])


def test_raked_jkn_equals_rs() -> None:
    margins = MARGINS[1:]
    pw = STRAT["pw"].to_numpy(float)
    rep = recalibrate_margins(jkn(pw, codes(STRAT["stype"]), STRAT["id"]), STRAT, margins)
    check_summary(rep, full_calibrated(STRAT, margins), STRAT, REF["jkn_raked_apistrat"]["results"])


@pytest.mark.parametrize("method", ["raking", "linear"])
@pytest.mark.parametrize("n_margins", [1, 2])
def test_fast_recalibration_is_the_slow_one(method: str, n_margins: int) -> None:
    # a bootstrap leaves whole PSUs out (weight 0): they must stay 0 on both paths
    rep = bootstrap(CLUS["pw"], None, CLUS["dnum"], replicates=40, seed=3)
    assert (rep.weights == 0).any()
    fast = recalibrate_margins(rep, CLUS, MARGINS[:n_margins], method=method)
    slow = recalibrate(rep, recalibrator(CLUS, MARGINS[:n_margins], method=method, tol=1e-13))
    np.testing.assert_allclose(fast.weights, slow.weights, rtol=1e-9, atol=1e-9)
    assert ((fast.weights == 0) == (rep.weights == 0)).all()
    # every replicate reaches the margins
    X = (CLUS["stype"].to_numpy()[:, None] == np.array(["E", "H", "M"])).astype(float)
    np.testing.assert_allclose(fast.weights.T @ X, np.tile([POP["stype"][k] for k in "EHM"],
                                                           (40, 1)), rtol=1e-9)


def test_inplace_recalibration_reuses_the_matrix() -> None:
    rep = bootstrap(CLUS["pw"], None, CLUS["dnum"], replicates=20, seed=4)
    copy = recalibrate_margins(rep, CLUS, MARGINS)
    assert copy.weights is not rep.weights and copy.notes["recalibrated"] == "raking"
    same = recalibrate_margins(rep, CLUS, MARGINS, inplace=True)
    assert same.weights is rep.weights
    np.testing.assert_array_equal(same.weights, copy.weights)


def test_recalibration_failure_is_a_coded_error() -> None:
    # a replicate without any high school cannot be raked to the high-school total
    rep = jk1(CLUS["pw"].to_numpy(float), CLUS["dnum"])
    only_h = CLUS["dnum"][CLUS["stype"] == "H"].unique()
    assert len(only_h) > 0
    W = rep.weights.copy()
    W[(CLUS["stype"] == "H").to_numpy(), 0] = 0.0
    broken = Replicates(W, rep.type, rep.scale, rep.rscales, rep.mse)
    with pytest.raises(BadInput) as err:
        recalibrate_margins(broken, CLUS, MARGINS, max_iter=30)
    assert err.value.code == "calibration.not_converged"


# -- bootstrap: exported, read back by R, reproducible -------------------------------


def spec_of(meta: dict[str, Any]) -> ReplicateWeightsSpec:
    return ReplicateWeightsSpec(columns="repw", type=meta["type"], scale=meta["scale"],
                                rscales=meta["rscales"], mse=meta["mse"])


@pytest.mark.parametrize("i", range(len(REF["bootstrap_export"])))
def test_exported_bootstrap_se_equals_rs_reading_of_it(i: int) -> None:
    case = REF["bootstrap_export"][i]
    entry = json.loads((DATA / "rep_boot_meta.json").read_text())[i]
    assert entry["metadata"]["r"] == case["r_call"]
    data = pd.read_csv(DATA / entry["file"], keep_default_na=False).rename(
        columns={"sch.wide": "sch_wide"})
    rep = from_columns(data, spec_of(entry["metadata"]))
    check_summary(rep, data["weight"].to_numpy(float), data, case["results"])


def test_exported_bootstrap_is_what_the_library_builds() -> None:
    meta_all = {m["file"]: m for m in json.loads((DATA / "rep_boot_meta.json").read_text())}
    built = {
        "rep_boot_apistrat.csv.gz": bootstrap(STRAT["pw"], codes(STRAT["stype"]), STRAT["id"],
                                              replicates=200, seed=18),
        "rep_boot_mse_apistrat.csv.gz": bootstrap(STRAT["pw"], codes(STRAT["stype"]),
                                                  STRAT["id"], replicates=50, seed=7, mse=True),
        "rep_boot_apiclus1.csv.gz": bootstrap(CLUS["pw"], None, CLUS["dnum"], seed=18),
    }
    built["rep_boot_raked_apiclus1.csv.gz"] = recalibrate_margins(
        built["rep_boot_apiclus1.csv.gz"], CLUS, MARGINS)
    for name, rep in built.items():
        data = pd.read_csv(DATA / name)
        np.testing.assert_allclose(rep.to_frame("repw").to_numpy(),
                                   data.filter(regex=r"^repw\d+$").to_numpy(), rtol=1e-15)
        meta = rep.metadata("repw", "weight")
        assert meta["r"] == meta_all[name]["metadata"]["r"]


def test_rao_wu_draws_n_h_minus_one_psus_per_stratum() -> None:
    strata = np.repeat(np.arange(5), 40)
    psu = np.arange(200) // 4  # 50 PSUs, 10 per stratum
    rep = bootstrap(np.ones(200), strata, psu, replicates=300, seed=1)
    f = rep.weights[::4]  # one row per PSU: the factor
    k = f * 9 / 10  # times drawn
    np.testing.assert_allclose(k, np.round(k), atol=1e-12)
    sums = np.add.reduceat(np.round(k), np.arange(0, 50, 10), axis=0)
    assert (sums == 9).all()
    assert rep.scale == 1 / 299 and not rep.mse
    assert rep.notes["seed"] == 1
    again = bootstrap(np.ones(200), strata, psu, replicates=300, seed=1)
    np.testing.assert_array_equal(again.weights, rep.weights)


def test_rao_wu_variance_of_a_total_is_the_with_replacement_variance() -> None:
    # E[v_boot] = sum_h n_h/(n_h - 1) sum_i (t_hi - tbar_h)^2 exactly; with R = 4000
    # replicates the estimate is within a few per cent (relative sd about sqrt(2/R) * 1.3)
    rng = np.random.default_rng(5)
    strata = np.repeat(np.arange(4), 60)
    psu = np.arange(240) // 6
    y = rng.gamma(2.0, 3.0, 240) + strata
    w = rng.uniform(1, 4, 240)
    rep = bootstrap(w, strata, psu, replicates=4000, seed=11)
    v_boot = rep.variance(rep.weights.T @ y, w @ y)
    t = np.bincount(psu, weights=w * y)
    v_lin = sum(float(linearized_variance(t[h * 10:(h + 1) * 10] / 1.0)) for h in range(4))
    assert v_boot == pytest.approx(v_lin, rel=0.08)


def test_raked_replicate_intervals_cover_95_percent() -> None:
    # a population of 20 strata x 40 PSUs x 12 units with PSU effects; 1,000 samples of two
    # PSUs per stratum, design weights raked to the known sex totals, every replicate raked
    # again; t intervals with PSUs - strata = 20 df must cover the true mean 93-97 % of the time
    rng = np.random.default_rng(2026)
    H, M, U, S = 20, 40, 12, 1000
    psu_pop = np.repeat(np.arange(H * M), U)
    strat_pop = psu_pop // M
    sex = rng.integers(0, 2, psu_pop.size)
    y = (5 + 0.3 * (strat_pop % 5) + rng.normal(0, 1.0, H * M)[psu_pop] + 1.5 * sex
         + rng.normal(0, 2, psu_pop.size))
    truth, totals = y.mean(), np.bincount(sex, minlength=2).astype(float)
    q = scipy_t.ppf(0.975, H)
    hits = dict.fromkeys(("jkn", "brr", "fay", "bootstrap"), 0)
    for s in range(S):
        pick = (np.arange(H)[:, None] * M + np.argsort(rng.random((H, M)), axis=1)[:, :2]).ravel()
        rows = np.flatnonzero(np.isin(psu_pop, pick))
        ys, sx, ps, st = y[rows], sex[rows], psu_pop[rows], strat_pop[rows]
        d = np.full(rows.size, M / 2.0)
        onehot = np.column_stack([sx == 0, sx == 1]).astype(float)

        def raked_mean(W: np.ndarray, ys: np.ndarray = ys, sx: np.ndarray = sx,
                       onehot: np.ndarray = onehot) -> np.ndarray:
            W = W if W.ndim == 2 else W[:, None]
            Wc = W * calibrate_table(onehot.T @ W, np.eye(2), totals)[sx]
            return np.asarray((Wc.T @ ys) / Wc.sum(axis=0))

        theta = float(raked_mean(d)[0])
        for name, rep in [("jkn", jkn(d, st, ps)), ("brr", brr(d, st, ps)),
                          ("fay", brr(d, st, ps, 0.5)),
                          ("bootstrap", bootstrap(d, st, ps, replicates=100, seed=s))]:
            se = float(np.sqrt(rep.variance(raked_mean(rep.weights), theta)))
            hits[name] += abs(theta - truth) <= q * se
    coverage = {k: v / S for k, v in hits.items()}
    assert all(0.93 <= c <= 0.97 for c in coverage.values()), coverage


# -- the variance formula, export, dispatch, errors ----------------------------------


def test_variance_is_rs_svrvar_and_skips_empty_replicates() -> None:
    rep = Replicates(np.ones((3, 4)), "other", 0.5, np.array([1.0, 2.0, 0.0, 1.0]), mse=False)
    th = np.array([1.0, 2.0, 9.0, 3.0])
    centre = (1 + 2 + 3) / 3  # replicates with rscale 0 do not enter R's mean
    assert rep.variance(th, 0.0) == pytest.approx(0.5 * ((1 - centre) ** 2 + 2 * (2 - centre) ** 2
                                                         + (3 - centre) ** 2))
    mse = Replicates(np.ones((3, 4)), "other", 0.5, np.ones(4), mse=True)
    assert mse.variance(th, 2.0) == pytest.approx(0.5 * (1 + 0 + 49 + 1))
    both = mse.variance(np.array([th, [1.0, np.nan, 1.0, 1.0]]), np.array([2.0, 1.0]))
    np.testing.assert_allclose(both, [25.5, 0.0])
    assert np.isnan(mse.variance(np.full(4, np.nan), 1.0))


def test_export_metadata_reads_in_r_and_stata() -> None:
    rep = jkn(STRAT["pw"], codes(STRAT["stype"]), STRAT["id"], STRAT["fpc"])
    frame = rep.to_frame("bw")
    assert list(frame.columns[:2]) == ["bw1", "bw2"] and frame.shape == (200, 200)
    meta = rep.metadata("bw", "finalwt")
    assert meta["r_type"] == "JKn" and meta["replicates"] == 200 and meta["combined_weights"]
    assert 'repweights = "^bw[0-9]+$"' in meta["r"] and "weights = ~finalwt" in meta["r"]
    assert meta["stata"].startswith("svyset [pweight=finalwt], jkrweight(bw1, multiplier(")
    assert meta["stata"].count("jkrweight(") == 200
    fay = brr(np.ones(6), SCD["ESA"], scd_psu(), fay_rho=0.3).metadata()
    assert 'type = "Fay", rho = 0.3' in fay["r"]
    with pytest.raises(BadInput):
        rep.to_frame("1bad")


def test_a_stratum_sampled_completely_gives_no_replicates() -> None:
    # as R with survey.drop.replicates: f_h = 1 means no sampling variance from stratum 1
    rep = jkn(np.ones(5), [1, 1, 2, 2, 2], [1, 2, 3, 4, 5], [2, 2, 30, 30, 30])
    assert rep.n_replicates == 3
    np.testing.assert_allclose(rep.rscales, 2 / 3 * (1 - 3 / 30))
    np.testing.assert_allclose(rep.weights[:2], 1.0)


def test_replicate_design_dispatches_by_type() -> None:
    w, s, p = np.ones(6), SCD["ESA"], scd_psu()
    for kind, direct in [("jk1", jk1(w, p)), ("jkn", jkn(w, s, p)), ("brr", brr(w, s, p)),
                         ("fay", brr(w, s, p, 0.5)),
                         ("bootstrap", bootstrap(w, s, p, replicates=30, seed=2))]:
        got = replicate_design(w, s, p, kind, replicates=30, seed=2)
        np.testing.assert_array_equal(got.weights, direct.weights)
        assert (got.type, got.scale) == (direct.type, direct.scale)
    with pytest.raises(BadInput) as err:
        replicate_design(w, s, p, "jack")
    assert err.value.code == "design.replicates_invalid"
    fpc = np.full(6, 60.0)
    np.testing.assert_allclose(replicate_design(w, s, p, "jk1", fpc=fpc).scale, 0.9 * 5 / 6)
    np.testing.assert_allclose(replicate_design(w, s, p, "jkn", fpc=fpc).rscales, 0.5 * (1 - 2 / 60))


@pytest.mark.parametrize("call,code,words", [
    (lambda: brr(np.ones(7), [1, 1, 2, 2, 3, 3, 3], [1, 2, 3, 4, 5, 6, 7]),
     "design.replicates_invalid", "3 (3 PSUs)"),
    (lambda: jkn(np.ones(5), [1, 1, 2, 2, 3], [1, 2, 3, 4, 5]), "design.lonely_psu", "[3]"),
    (lambda: bootstrap(np.ones(5), [1, 1, 2, 2, 3], [1, 2, 3, 4, 5]), "design.lonely_psu", "[3]"),
    (lambda: jk1(np.ones(4), [1, 1, 1, 1]), "design.replicates_invalid", "two PSUs"),
    (lambda: jkn(np.ones(4), [1, 1, 2, 2], [1, 2, 2, 3]), "design.not_nested", "[2]"),
    (lambda: jkn(np.ones(4), [1, 1, 2, 2], [1, 2, 3, 4], [1.5, 1.5, 50, 50]),
     "design.fpc_invalid", "smaller than"),
    (lambda: jkn(np.ones(4), [1, 1, 2, 2], [1, 2, 3, 4], [10, 11, 50, 50]),
     "design.fpc_invalid", "varies"),
    (lambda: jk1([1.0, 0.0, 2.0], [1, 2, 3]), "design.replicates_invalid", "not positive"),
    (lambda: jk1(np.ones(3), [1.0, np.nan, 2.0]), "design.missing_value", "no psu"),
    (lambda: replicate_design(np.ones(4), None, None, "bootstrap", fpc=np.full(4, 10.0)),
     "design.fpc_invalid", "fpc"),
    (lambda: jk1(np.ones(4), [1, 2, 3, 4], np.full(4, 4.0)), "design.fpc_invalid", "every PSU"),
    (lambda: calibrate_table(np.ones((2, 3)), np.eye(2), [1.0, 1.0], method="logit"),
     "design.replicates_invalid", "raking or linear"),
    (lambda: calibrate_table(np.ones((2, 3)), np.eye(3), [1.0, 1.0]),
     "design.replicates_invalid", "do not fit"),
])
def test_bad_designs_get_coded_errors(call: Any, code: str, words: str) -> None:
    with pytest.raises(BadInput) as err:
        call()
    assert err.value.code == code
    assert words in err.value.message


def test_bad_replicate_columns_get_coded_errors() -> None:
    data = pd.DataFrame({"rw1": [1.0, 2.0], "rw2": [2.0, np.nan], "rw3": [1.0, 1.0]})
    full = data.fillna(1.0)
    for frame, spec, words in [
        (data, ReplicateWeightsSpec(columns="rw", type="bootstrap"), "empty"),
        (data, ReplicateWeightsSpec(columns="zz", type="bootstrap"), "no column"),
        (data, ReplicateWeightsSpec(columns=["rw1", "rw9"], type="bootstrap"), "rw9"),
        (full, ReplicateWeightsSpec(columns="rw", type="jkn"), "rscales"),
        (full, ReplicateWeightsSpec(columns="rw", type="other", rscales=[1, 2]), "3 replicate"),
        (full, ReplicateWeightsSpec(columns="rw", type="bootstrap", combined_weights=False),
         "no design weights"),
        (full[["rw1"]], ReplicateWeightsSpec(columns="rw", type="bootstrap"), "at least 2"),
    ]:
        with pytest.raises(BadInput) as err:
            from_columns(frame, spec)
        assert err.value.code == "design.replicates_invalid", words
        assert words in err.value.message, (words, err.value.message)


def test_a_surveys_own_jk1_and_jkn_multipliers_default_as_r() -> None:
    # multipliers (combined_weights false): R guesses JK1's scale and JKn's rscales from them
    rep = jk1(np.ones(4), [1, 2, 3, 4])
    mult = pd.DataFrame(rep.weights, columns=[f"m{i}" for i in range(1, 5)])
    d = np.array([2.0, 2.0, 3.0, 3.0])
    got = from_columns(mult, ReplicateWeightsSpec(columns="m", type="jk1",
                                                  combined_weights=False), d)
    assert got.scale == pytest.approx(3 / 4)
    np.testing.assert_allclose(got.weights, rep.weights * d[:, None])
    kn = from_columns(mult, ReplicateWeightsSpec(columns="m", type="jkn",
                                                 combined_weights=False), d)
    np.testing.assert_allclose(kn.rscales, 3 / 4)
    combined = from_columns(mult, ReplicateWeightsSpec(columns="m", type="jk1"))
    assert combined.scale == pytest.approx(3 / 4)
