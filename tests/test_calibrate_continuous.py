"""Calibration with numeric auxiliaries (GREG, ratio, bounded, logit) against R survey 4.1.1.

Reference numbers: scripts/r_reference/calibrate.R, section 3 (R's own ?calibrate examples).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from citizendata.errors import BadInput
from citizendata.stats.calibrate import INTERCEPT, Margin, NumericTotal, calibrate
from citizendata.stats.variance import domain_estimate, greg_residuals

REF = Path(__file__).parent / "data" / "r_reference"
with (REF / "calibrate.json").open(encoding="utf-8") as fh:
    R: dict[str, Any] = json.load(fh)["continuous"]
CLUS = pd.read_csv(REF / "apiclus1_numeric.csv")
STRAT = pd.read_csv(REF / "apistrat_numeric.csv")
RC, RS = R["apiclus1"], R["apistrat"]
STYPE = Margin(("stype",), RC["stype"])
API99 = NumericTotal("api99", RC["api99"])
ENROLL = NumericTotal("enroll", RS["enroll"])


def se_of(ref: dict[str, Any]) -> float:
    """R prints SE() as a 1 x 1 matrix; jsonlite writes [[x]]."""
    return float(np.ravel(ref["se"])[0])


def rel(a: float, b: float) -> float:
    return abs(a / b - 1.0)


GREG_CASES = [
    ("linear", None, "linear"),
    ("linear", (0.6, 1.6), "linear_bounded_0.6_1.6"),
    ("linear", (0.7, 1.7), "linear_bounded_0.7_1.7"),
    ("raking", None, "raking"),
    ("logit", (0.5, 2.5), "logit_0.5_2.5"),
    ("raking", (0.7, 1.7), "raking_bounded_0.7_1.7"),
]


@pytest.mark.parametrize(("method", "bounds", "key"), GREG_CASES, ids=[c[2] for c in GREG_CASES])
def test_greg_with_a_continuous_auxiliary_matches_r(method: Any, bounds: Any, key: str) -> None:
    """calibrate(dclus1, ~stype+api99, c(6194, 755, 1018, 3914069)): weights, mean, SE."""
    cal = calibrate(CLUS, [STYPE, API99], method=method, bounds=bounds, design_weights="pw")
    ref = RC["no_fpc"][key]
    w_r = np.array(ref["weights"])
    assert np.max(np.abs(cal.weights / w_r - 1)) < 1e-10
    # the numeric column is kept as raw values, the categorical ones as 0/1
    j = cal.columns.index("api99")
    np.testing.assert_array_equal(cal.X[:, j], CLUS["api99"].to_numpy(dtype=float))
    assert set(np.unique(np.delete(cal.X, j, axis=1))) == {0.0, 1.0}
    api00 = CLUS["api00"].to_numpy(dtype=float)
    kw = {"weights": cal.weights, "cluster": CLUS["dnum"], "X": cal.X,
          "d": cal.design_weights, "q": cal.q}
    mean = domain_estimate("mean", api00, **kw)
    assert rel(mean.value, ref["mean_api00"]["estimate"]) < 1e-10
    assert rel(mean.se, se_of(ref["mean_api00"])) < 1e-10
    # one stage with an fpc: R's variance is (1 - n/N) times the with-replacement one
    fpc = RC["fpc"][key]
    assert rel(mean.se * math.sqrt(RC["fpc_factor"]), se_of(fpc["mean_api00"])) < 1e-10
    for var, name in (("enroll", "total_enroll"), ("api.stu", "total_api_stu")):
        y = CLUS[var].to_numpy(dtype=float)
        tot = domain_estimate("total", y, **kw)
        assert rel(tot.value, ref[name]["estimate"]) < 1e-10
        assert rel(tot.se, se_of(ref[name])) < 1e-10
    if bounds is not None:
        assert cal.g.min() >= bounds[0] - 1e-12 and cal.g.max() <= bounds[1] + 1e-12
        if "g_range" in ref:
            np.testing.assert_allclose([cal.g.min(), cal.g.max()], ref["g_range"], rtol=1e-8)


def test_unbounded_greg_g_weights_leave_the_bounds_so_the_bounds_bind() -> None:
    lo, hi = RC["linear_unbounded_g_range"]
    assert lo < 0.6 and hi > 1.7
    cal = calibrate(CLUS, [STYPE, API99], method="linear", design_weights="pw")
    np.testing.assert_allclose([cal.g.min(), cal.g.max()], [lo, hi], rtol=1e-8)


def test_an_intercept_from_population_size_gives_the_same_greg() -> None:
    """R's (Intercept) column: population_size adds it; with a full stype margin it is redundant."""
    ref = np.array(RC["no_fpc"]["linear"]["weights"])
    a = calibrate(CLUS, [STYPE, API99], method="linear", design_weights="pw",
                  population_size=RC["population"]["(Intercept)"])
    assert a.columns[0] == INTERCEPT
    assert np.max(np.abs(a.weights / ref - 1)) < 1e-10
    # intercept and api99 alone: a different model, still meeting both totals
    b = calibrate(CLUS, [API99], method="linear", design_weights="pw", population_size=6194)
    assert b.weights.sum() == pytest.approx(6194, rel=1e-10)
    assert b.weights @ CLUS["api99"] == pytest.approx(RC["api99"], rel=1e-10)


@pytest.mark.parametrize("q", ["enroll", "array", "none"])
@pytest.mark.parametrize("design", ["no_strata", "strata_fpc"])
def test_the_ratio_estimator_matches_r(q: str, design: str) -> None:
    """calibrate(dstrat, ~enroll-1, 3811472, variance=1) = svyratio prediction; svytotal SE."""
    variance: Any = {"enroll": "enroll", "array": STRAT["enroll"].to_numpy(dtype=float),
                     "none": None}[q]
    cal = calibrate(STRAT, [ENROLL], method="linear", design_weights="pw", variance=variance)
    ref = RS[design]["variance_none" if q == "none" else "variance_enroll"]
    assert np.max(np.abs(cal.weights / np.array(ref["weights"]) - 1)) < 1e-10
    if q != "none":
        # the ratio estimator: one g for every unit, T_x / hat T_x
        d = STRAT["pw"].to_numpy(dtype=float)
        np.testing.assert_allclose(cal.g, RS["enroll"] / (d @ STRAT["enroll"]), rtol=1e-12)
        pred = RS[design]["svyratio_predict"]
        assert rel(float(cal.weights @ STRAT["api.stu"]), pred["estimate"]) < 1e-10
    y = STRAT["api.stu"].to_numpy(dtype=float)
    if design == "no_strata":
        est = domain_estimate("total", y, weights=cal.weights, X=cal.X, d=cal.design_weights,
                              q=cal.q)
        se = est.se
    else:
        se = stratified_se(y, cal.weights, cal.X, cal.design_weights, cal.q)
    assert rel(se, se_of(ref["total_api_stu"])) < 1e-10
    if q != "none":
        assert rel(se, RS[design]["svyratio_predict"]["se"]) < 1e-10


def stratified_se(y: np.ndarray, w: np.ndarray, X: np.ndarray, d: np.ndarray,
                  q: np.ndarray | None) -> float:
    """SE of a total for the one-stage stratified design with fpc, from the GREG residuals."""
    e = w * greg_residuals(y, X, d, q)
    v = 0.0
    for h, rows in STRAT.groupby("stype").indices.items():
        n_h = len(rows)
        f_h = n_h / STRAT["fpc"].iloc[rows[0]]
        dev = e[rows] - e[rows].mean()
        v += (1 - f_h) * n_h / (n_h - 1) * float(dev @ dev)
        assert h in ("E", "H", "M")
    return math.sqrt(v)


def test_greg_residuals_with_q_are_those_of_the_d_over_q_regression() -> None:
    rng = np.random.default_rng(1)
    n = 50
    X = np.column_stack([np.ones(n), rng.gamma(2.0, 100.0, n)])
    d = rng.uniform(1, 5, n)
    q = rng.uniform(0.5, 3, n)
    y = rng.normal(size=(n, 2))
    e = greg_residuals(y, X, d, q)
    W = d / q
    beta = np.linalg.solve(X.T @ (X * W[:, None]), X.T @ (y * W[:, None]))
    np.testing.assert_allclose(e, y - X @ beta, atol=1e-10)
    # the normal equations: residuals orthogonal to X with weights d / q
    np.testing.assert_allclose(X.T @ (e * W[:, None]), 0, atol=1e-8)
    np.testing.assert_allclose(greg_residuals(y[:, 0], X, d, q), e[:, 0], atol=1e-12)
    with pytest.raises(ValueError, match="q must be positive"):
        greg_residuals(y, X, d, np.zeros(n))


# ---------------------------------------------------------------------------
# bad input


def test_missing_numeric_values_name_the_rows() -> None:
    sample = CLUS.copy()
    sample.loc[[3, 7], "api99"] = np.nan
    with pytest.raises(BadInput) as err:
        calibrate(sample, [STYPE, API99], design_weights="pw")
    assert err.value.code == "calibration.missing_value"
    # data rows, 1-based as every other message: the frame's 0-based labels 3 and 7
    assert "2 unit(s) have no value for calibration variable 'api99' (rows 4, 8)" in str(
        err.value)
    assert err.value.problems[0].where.field == "api99"


def test_non_numeric_values_are_refused_with_rows() -> None:
    sample = CLUS.copy()
    sample["api99"] = sample["api99"].astype(object)
    sample.loc[5, "api99"] = "n/a"
    with pytest.raises(BadInput) as err:
        calibrate(sample, [STYPE, API99], design_weights="pw")
    assert err.value.code == "calibration.invalid"
    assert "not a finite number (rows 6)" in str(err.value)


def test_numeric_totals_only_need_design_weights_or_a_population_size() -> None:
    with pytest.raises(BadInput, match="give design_weights"):
        calibrate(STRAT, [ENROLL], method="linear")


@pytest.mark.parametrize(("variance", "text"), [
    ("nope", "no working-variance column"),
    (np.ones(3), "shape"),
    (np.r_[0.0, np.ones(199)], "finite positive"),
])
def test_bad_working_variances(variance: Any, text: str) -> None:
    with pytest.raises(BadInput, match=text) as err:
        calibrate(STRAT, [ENROLL], method="linear", design_weights="pw", variance=variance)
    assert err.value.code == "calibration.invalid"


def test_a_numeric_total_must_be_finite() -> None:
    with pytest.raises(BadInput, match="finite"):
        NumericTotal("enroll", math.inf)
    assert NumericTotal("enroll", 3).name == "enroll"


def test_population_size_must_agree_with_the_margins() -> None:
    with pytest.raises(BadInput) as err:
        calibrate(CLUS, [STYPE, API99], design_weights="pw", population_size=6000)
    assert err.value.code == "calibration.inconsistent_margins"
    assert "population_size" in str(err.value)


def test_bootstrap_recalibration_with_working_variances() -> None:
    """Each replicate is the ratio estimator again: its g is T_x / hat T_x of the replicate."""
    from citizendata.stats.variance import bootstrap_weights, recalibrator

    q = STRAT["enroll"].to_numpy(dtype=float)
    cal = calibrate(STRAT, [ENROLL], method="linear", design_weights="pw", variance=q)
    recal = recalibrator(STRAT, [ENROLL], method="linear", variance=q)
    W = bootstrap_weights(cal.design_weights, replicates=20, seed=4, recalibrate=recal)
    np.testing.assert_allclose(W.T @ STRAT["enroll"], RS["enroll"], rtol=1e-10)
    d = STRAT["pw"].to_numpy(dtype=float)
    drawn = W[:, 0] > 0
    base = bootstrap_weights(d, replicates=20, seed=4)[:, 0]
    np.testing.assert_allclose(W[drawn, 0] / base[drawn],
                               RS["enroll"] / (base @ STRAT["enroll"]), rtol=1e-10)
