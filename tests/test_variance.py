"""Variance estimation, intervals and reliability flags, checked against R's survey 4.1.1.

The reference numbers come from scripts/r_reference/variance.R (tests/data/r_reference/
variance.json and the var_*.csv microdata it exported); R is not needed to run these tests.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from citizendata.stats.variance import (
    Estimate,
    ReliabilityRule,
    bootstrap_weights,
    clopper_pearson_interval,
    domain_estimate,
    linearized_variance,
    reliability_flag,
    replicate_variance,
    wilson_interval,
    z_value,
)

REF_DIR = Path(__file__).parent / "data" / "r_reference"
REF = json.loads((REF_DIR / "variance.json").read_text())
# R printed 15 significant digits; everything below agrees to ~1e-13, the brief asks 1e-6
RTOL = 1e-9


def _data(name: str) -> pd.DataFrame:
    return pd.read_csv(REF_DIR / f"var_{name}.csv")


CLUS = _data("apiclus1")
STRAT = _data("apistrat")

# (reference key, data, weight column, calibration variables or None, clustered?)
DESIGNS = {
    "apiclus1": (CLUS, "pw", None, True),
    "apiclus1_cal_linear": (CLUS, "w_linear", ["stype"], True),
    "apiclus1_cal_raking": (CLUS, "w_raking", ["stype"], True),
    "apistrat_srs": (STRAT, "pw", None, False),
    "apistrat_cal_raking": (STRAT, "w_raking", ["stype", "sch_wide"], False),
    "apistrat_cal_linear": (STRAT, "w_linear", ["stype", "sch_wide"], False),
}


def _full_dummies(df: pd.DataFrame, cols: list[str]) -> np.ndarray:
    """Full 0/1 coding of every category of every margin (rank-deficient for 2+ margins)."""
    return pd.get_dummies(df[cols].astype(str), prefix_sep="=").to_numpy(dtype=float)


def _design_kwargs(key: str) -> dict:
    df, wcol, cal, clustered = DESIGNS[key]
    kw: dict = {"weights": df[wcol].to_numpy(), "cluster": df["cluster"].to_numpy() if clustered else None}
    if cal is not None:
        kw["X"] = _full_dummies(df, cal)
        kw["d"] = df["pw"].to_numpy()
    return kw


def _close(got: float, want: float, *, abs_tol: float = 0.0) -> None:
    assert got == pytest.approx(want, rel=RTOL, abs=abs_tol)


# -- normal quantile -----------------------------------------------------------------


def test_z_value() -> None:
    assert z_value(0.95) == pytest.approx(1.959963984540054, rel=1e-14)
    assert z_value(0.90) == pytest.approx(1.6448536269514722, rel=1e-14)
    for bad in (0.0, 1.0, 1.5, -0.1):
        with pytest.raises(ValueError):
            z_value(bad)


# -- binomial intervals ----------------------------------------------------------------


def test_binomial_intervals_match_r() -> None:
    """Vectorised over all cases at once: binom.test (Clopper–Pearson), prop.test (Wilson)."""
    for level in {b["level"] for b in REF["binomial"]}:
        cases = [b for b in REF["binomial"] if b["level"] == level]
        x = np.array([b["x"] for b in cases])
        n = np.array([b["n"] for b in cases])
        lo, hi = clopper_pearson_interval(x, n, level)
        np.testing.assert_allclose(lo, [b["clopper_pearson"][0] for b in cases], rtol=1e-10, atol=1e-14)
        np.testing.assert_allclose(hi, [b["clopper_pearson"][1] for b in cases], rtol=1e-10, atol=1e-14)
        lo, hi = wilson_interval(x, n, level)
        np.testing.assert_allclose(lo, [b["wilson"][0] for b in cases], rtol=1e-10, atol=1e-14)
        np.testing.assert_allclose(hi, [b["wilson"][1] for b in cases], rtol=1e-10, atol=1e-14)


def test_binomial_interval_edges() -> None:
    lo, hi = clopper_pearson_interval([0, 10, 0], [10, 10, 0])
    assert lo[0] == 0.0 and hi[1] == 1.0
    # closed forms at the edges: upper (x=0) = 1 - (a/2)^(1/n), lower (x=n) = (a/2)^(1/n)
    assert hi[0] == pytest.approx(1 - 0.025 ** (1 / 10), rel=1e-12)
    assert lo[1] == pytest.approx(0.025 ** (1 / 10), rel=1e-12)
    assert np.isnan(lo[2]) and np.isnan(hi[2])
    lo, hi = wilson_interval([0, 5], [5, 5])
    assert lo[0] == 0.0 and hi[1] == 1.0
    # Wilson by hand: x=0, n=5: upper = z^2 / (n + z^2)
    z2 = z_value(0.95) ** 2
    assert hi[0] == pytest.approx(z2 / (5 + z2), rel=1e-12)
    for fn in (wilson_interval, clopper_pearson_interval):
        with pytest.raises(ValueError):
            fn(6, 5)
        with pytest.raises(ValueError):
            fn(-1, 5)


def _binom_sf(x: int, n: int, p: float) -> float:
    """P(X >= x) for X ~ Bin(n, p), by direct summation."""
    return sum(math.comb(n, k) * p**k * (1 - p) ** (n - k) for k in range(x, n + 1))


@settings(max_examples=60, deadline=None)
@given(n=st.integers(1, 60), data=st.data(), level=st.sampled_from([0.8, 0.9, 0.95, 0.99]))
def test_clopper_pearson_solves_the_binomial_tail_equations(n: int, data: st.DataObject, level: float) -> None:
    x = data.draw(st.integers(0, n))
    lo, hi = clopper_pearson_interval(x, n, level)
    a2 = (1 - level) / 2
    if x > 0:
        assert _binom_sf(x, n, float(lo)) == pytest.approx(a2, rel=1e-8)
    if x < n:
        assert 1 - _binom_sf(x + 1, n, float(hi)) == pytest.approx(a2, rel=1e-8)
    wlo, whi = wilson_interval(x, n, level)
    assert 0 <= wlo <= x / n <= whi <= 1


# -- linearised variance against R -----------------------------------------------------


@pytest.mark.parametrize("key", list(DESIGNS))
def test_mean_total_ratio_proportion_match_r(key: str) -> None:
    df = DESIGNS[key][0]
    ref = REF[key]["results"]
    kw = _design_kwargs(key)
    cases = [
        ("mean_api00", domain_estimate("mean", df["api00"], **kw)),
        ("total_enroll", domain_estimate("total", df["enroll"], **kw)),
        ("prop_sch_wide_yes", domain_estimate("proportion", df["sch_wide"] == "Yes", **kw)),
        ("ratio_api00_enroll", domain_estimate("ratio", df["api00"], df["enroll"], **kw)),
    ]
    for name, est in cases:
        _close(est.value, ref[name]["value"])
        # calibrated to sch_wide, its proportion is known exactly: SEs ~1e-16 on both sides
        _close(est.se, ref[name]["se"], abs_tol=1e-9)
        assert est.variance_method == "linearization"
        # weighted proportions default to the logit interval, as the cube's "auto"
        assert est.ci_method == ("logit" if name.startswith("prop") else "wald")
        assert est.n == len(df)
    count = domain_estimate("count", np.ones(len(df)), domain=df["stype"] == "E", **kw)
    _close(count.value, ref["count_stype_E"]["value"])
    # calibrated to stype, the count of E schools is known exactly: R gives SE ~1e-12
    _close(count.se, ref["count_stype_E"]["se"], abs_tol=1e-6)


@pytest.mark.parametrize("key", list(DESIGNS))
def test_domain_means_and_proportions_match_r(key: str) -> None:
    df = DESIGNS[key][0]
    ref = REF[key]["results"]
    kw = _design_kwargs(key)
    for stype in ("E", "H", "M"):
        dom = (df["stype"] == stype).to_numpy()
        m = domain_estimate("mean", df["api00"], domain=dom, **kw)
        _close(m.value, ref["domain_mean_api00_by_stype"][stype]["value"])
        _close(m.se, ref["domain_mean_api00_by_stype"][stype]["se"])
        assert m.n == int(dom.sum())
        assert m.weighted_n == pytest.approx(float(kw["weights"][dom].sum()))
        p = domain_estimate("proportion", df["sch_wide"] == "Yes", domain=dom, **kw)
        _close(p.value, ref["domain_prop_sch_wide_yes_by_stype"][stype]["value"])
        _close(p.se, ref["domain_prop_sch_wide_yes_by_stype"][stype]["se"])


@pytest.mark.parametrize("key", list(DESIGNS))
def test_logit_interval_matches_svyciprop(key: str) -> None:
    df = DESIGNS[key][0]
    ref = REF[key]["results"]["ciprop_logit_sch_wide_yes"]
    est = domain_estimate("proportion", df["sch_wide"] == "Yes", ci="logit", **_design_kwargs(key))
    assert est.ci_method == "logit"
    _close(est.ci_low, ref["ci_low"])
    _close(est.ci_high, ref["ci_high"])


@pytest.mark.parametrize("key", ["apiclus1_cal_linear", "apistrat_cal_raking"])
def test_intercept_coding_gives_the_same_residuals(key: str) -> None:
    """R's model.matrix (intercept + treatment contrasts) spans the same space as full dummies."""
    df, wcol, cal, clustered = DESIGNS[key]
    assert cal is not None
    full = _full_dummies(df, cal)
    r_style = pd.get_dummies(df[cal].astype(str), drop_first=True).to_numpy(dtype=float)
    r_style = np.column_stack([np.ones(len(df)), r_style])
    assert np.linalg.matrix_rank(full) == r_style.shape[1] < full.shape[1] + (len(cal) == 1)
    u = (df["api00"] - 600).to_numpy() / 1e4
    cl = df["cluster"].to_numpy() if clustered else None
    common = {"d": df["pw"].to_numpy(), "w": df[wcol].to_numpy()}
    a = linearized_variance(u, cl, X=full, **common)
    b = linearized_variance(u, cl, X=r_style, **common)
    assert a == pytest.approx(b, rel=1e-10)


def test_linearized_variance_vectorises_over_columns() -> None:
    rng = np.random.default_rng(1)
    U = rng.normal(size=(len(CLUS), 4))
    kw = {"X": _full_dummies(CLUS, ["stype"]), "d": CLUS["pw"].to_numpy(), "w": CLUS["w_raking"].to_numpy()}
    together = linearized_variance(U, CLUS["cluster"], **kw)
    assert isinstance(together, np.ndarray) and together.shape == (4,)
    one_by_one = [linearized_variance(U[:, j], CLUS["cluster"], **kw) for j in range(4)]
    np.testing.assert_allclose(together, one_by_one, rtol=1e-12)


def test_cluster_variance_by_hand() -> None:
    """n/(n-1) sum (t_j - mean t)^2 over cluster totals, whatever the order and labels."""
    u = np.array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0])
    w = np.array([1.0, 1.0, 2.0, 2.0, 1.0, 3.0])
    cl = np.array(["b", "a", "b", "c", "a", "c"])
    t = np.array([2 + 5, 1 + 6, 8 + 18])  # a, b, c totals of w*u
    want = 3 / 2 * ((t - t.mean()) ** 2).sum()
    assert linearized_variance(u, cl, w=w) == pytest.approx(want, rel=1e-14)
    # one cluster per unit is the same as no clusters
    assert linearized_variance(u, np.arange(6), w=w) == pytest.approx(linearized_variance(u, w=w))
    assert math.isnan(float(linearized_variance(u, np.zeros(6), w=w)))
    with pytest.raises(ValueError):
        linearized_variance(u, X=np.ones((6, 1)), w=w)


# -- unweighted estimates, edge cases, validation ---------------------------------------


def test_unweighted_proportion_is_binomial_with_wilson() -> None:
    y = np.r_[np.ones(12), np.zeros(28)]
    est = domain_estimate("proportion", y)
    assert est.value == pytest.approx(0.3)
    assert est.se == pytest.approx(math.sqrt(0.3 * 0.7 / 40))
    assert est.ci_method == "wilson" and est.variance_method == "binomial"
    lo, hi = wilson_interval(12, 40)
    assert (est.ci_low, est.ci_high) == pytest.approx((float(lo), float(hi)))
    assert est.weighted_n is None and est.n == 40
    assert est.cv == pytest.approx(est.se / 0.3)
    assert est.flag == "caution"  # n=40 >= 30, cv = 0.242
    cp = domain_estimate("proportion", y, ci="clopper_pearson")
    lo, hi = clopper_pearson_interval(12, 40)
    assert (cp.ci_low, cp.ci_high) == pytest.approx((float(lo), float(hi)))


def test_unweighted_mean_is_the_classical_srs_variance() -> None:
    y = np.array([3.0, 5.0, 7.0, 11.0, 2.0])
    est = domain_estimate("mean", y)
    assert est.se == pytest.approx(np.std(y, ddof=1) / math.sqrt(5))
    assert est.ci_method == "wald"


def test_weighted_wilson_uses_the_effective_sample_size() -> None:
    kw = _design_kwargs("apiclus1")
    y = CLUS["sch_wide"] == "Yes"
    est = domain_estimate("proportion", y, ci="wilson", **kw)
    # Korn & Graubard's effective n, at most the number of units (as the cube)
    n_eff = min(est.value * (1 - est.value) / est.se**2, est.n)
    lo, hi = wilson_interval(est.value * n_eff, n_eff)
    assert (est.ci_low, est.ci_high) == pytest.approx((float(lo), float(hi)), rel=1e-12)
    assert est.ci_low < est.value < est.ci_high


def test_missing_values_leave_the_domain() -> None:
    y = CLUS["api00"].to_numpy(dtype=float).copy()
    y[:7] = np.nan
    kw = _design_kwargs("apiclus1")
    a = domain_estimate("mean", y, **kw)
    b = domain_estimate("mean", CLUS["api00"], domain=np.arange(len(y)) >= 7, **kw)
    assert a.n == len(y) - 7
    assert (a.value, a.se) == pytest.approx((b.value, b.se), rel=1e-14)


def test_empty_domain_gives_nan_and_low_n() -> None:
    est = domain_estimate("mean", CLUS["api00"], domain=np.zeros(len(CLUS), bool), **_design_kwargs("apiclus1"))
    assert est.n == 0 and math.isnan(est.value) and math.isnan(est.se)
    assert math.isnan(est.ci_low) and est.cv is None and est.flag == "low_n"
    assert isinstance(est, Estimate) and est.to_dict()["kind"] == "mean"


def test_ratio_n_counts_nonzero_denominators() -> None:
    est = domain_estimate("ratio", [1.0, 2.0, 3.0, 4.0], [1.0, 0.0, 2.0, 2.0], weights=np.ones(4))
    assert est.n == 3 and est.value == pytest.approx(2.0)


def test_bad_arguments_raise() -> None:
    with pytest.raises(ValueError):
        domain_estimate("median", [1.0, 2.0])
    with pytest.raises(ValueError):
        domain_estimate("proportion", [0.0, 2.0])
    with pytest.raises(ValueError):
        domain_estimate("ratio", [1.0, 2.0])
    with pytest.raises(ValueError):
        domain_estimate("mean", [1.0, 2.0, 4.0], ci="wilson")
    with pytest.raises(ValueError):
        domain_estimate("mean", [1.0, 2.0], ci="exact")
    with pytest.raises(ValueError):
        domain_estimate("mean", [1.0, 2.0], weights=[1.0, 1.0], variance="bootstrap")
    with pytest.raises(ValueError):
        domain_estimate("mean", [1.0, 2.0], weights=[1.0, 1.0, 1.0])


# -- reliability flags ------------------------------------------------------------------


def test_reliability_flag_vectorised() -> None:
    n = np.array([10, 100, 100, 100, 100, 29, 30])
    cv = np.array([0.01, 0.10, 0.15, 0.2, 0.31, np.nan, np.nan])
    got = reliability_flag(n, cv)
    assert got.tolist() == ["low_n", "", "", "caution", "unreliable", "low_n", ""]
    strict = ReliabilityRule(min_n=50, caution_cv=0.1, unreliable_cv=0.2)
    assert reliability_flag(n, cv, strict).tolist() == [
        "low_n", "", "caution", "caution", "unreliable", "low_n", "low_n"]
    assert reliability_flag(100, None).tolist() == ""
    assert reliability_flag([40, 40], [None, 0.5]).tolist() == ["", "unreliable"]


def test_domain_estimate_applies_the_rule() -> None:
    kw = _design_kwargs("apiclus1")
    dom = (CLUS["stype"] == "M").to_numpy()  # 25 schools
    est = domain_estimate("mean", CLUS["api00"], domain=dom, **kw)
    assert est.flag == "low_n"
    est = domain_estimate("mean", CLUS["api00"], domain=dom, rule=ReliabilityRule(min_n=20), **kw)
    assert est.flag == ""  # cv = 31.9/631 = 5%


# -- bootstrap ---------------------------------------------------------------------------


def test_bootstrap_weights_rescaling_and_reproducibility() -> None:
    w = CLUS["pw"].to_numpy()
    cl = CLUS["cluster"].to_numpy()
    W = bootstrap_weights(w, cl, replicates=50, seed=7)
    assert W.shape == (len(w), 50)
    np.testing.assert_array_equal(W, bootstrap_weights(w, cl, replicates=50, seed=7))
    assert not np.array_equal(W, bootstrap_weights(w, cl, replicates=50, seed=8))
    nc = len(np.unique(cl))
    factor = W / w[:, None]
    # one factor per cluster and replicate: multiplicity x nc/(nc-1), multiplicities add to nc-1
    per_cluster = pd.DataFrame(factor).groupby(cl).agg(["min", "max"])
    np.testing.assert_allclose(per_cluster.xs("min", axis=1, level=1), per_cluster.xs("max", axis=1, level=1))
    mult = pd.DataFrame(factor).groupby(cl).first().to_numpy() * (nc - 1) / nc
    np.testing.assert_allclose(mult, np.round(mult), atol=1e-12)
    np.testing.assert_allclose(mult.sum(axis=0), nc - 1)
    with pytest.raises(ValueError):
        bootstrap_weights(w, np.zeros(len(w)))


def test_bootstrap_se_is_close_to_linearisation() -> None:
    kw = _design_kwargs("apiclus1")
    W = bootstrap_weights(kw["weights"], kw["cluster"], replicates=500, seed=2024)
    for kind, y, z in [("mean", CLUS["api00"], None), ("ratio", CLUS["api00"], CLUS["enroll"]),
                       ("proportion", CLUS["sch_wide"] == "Yes", None), ("total", CLUS["enroll"], None)]:
        lin = domain_estimate(kind, y, z, **kw)
        boot = domain_estimate(kind, y, z, variance="bootstrap", replicate_weights=W, **kw)
        assert boot.variance_method == "bootstrap"
        assert boot.value == lin.value
        assert boot.se == pytest.approx(lin.se, rel=0.15), kind


def test_bootstrap_variance_of_a_total_is_unbiased_for_the_wr_estimator() -> None:
    """E*[(T* - T)^2] = n/(n-1) sum (t_j - mean t)^2 exactly for the Rao–Wu n-1 bootstrap."""
    w = CLUS["pw"].to_numpy()
    cl = CLUS["cluster"].to_numpy()
    y = CLUS["enroll"].to_numpy(dtype=float)
    W = bootstrap_weights(w, cl, replicates=20000, seed=3)
    v_boot = replicate_variance(W.T @ y, float(w @ y), mse=True)
    v_lin = linearized_variance(y, cl, w=w)
    assert v_boot == pytest.approx(v_lin, rel=0.04)


def test_replicate_variance_centres() -> None:
    th = np.array([1.0, 2.0, 3.0, 6.0])
    assert replicate_variance(th) == pytest.approx(np.var(th, ddof=1))
    assert replicate_variance(th, 2.0, mse=True) == pytest.approx(((th - 2.0) ** 2).sum() / 3)
    with pytest.raises(ValueError):
        replicate_variance(th, mse=True)


def test_bootstrap_with_poststratification_closure_keeps_margins() -> None:
    """A re-calibration closure is applied to each replicate (here a plain post-stratification)."""
    pop = pd.read_csv(REF_DIR / "var_apipop_margins.csv")
    totals = pop[pop["variable"] == "stype"].set_index("category")["population"]
    cell = CLUS["stype"].to_numpy()
    target = totals.reindex(cell).to_numpy(dtype=float)

    def post_stratify(wr: np.ndarray) -> np.ndarray:
        sums = pd.Series(wr).groupby(cell).transform("sum").to_numpy()
        return wr * target / sums

    W = bootstrap_weights(CLUS["pw"].to_numpy(), CLUS["cluster"], replicates=40, seed=1, recalibrate=post_stratify)
    got = pd.DataFrame(W).groupby(cell).sum()
    np.testing.assert_allclose(got.to_numpy(), np.repeat(totals.loc[got.index].to_numpy()[:, None], 40, 1), rtol=1e-12)


# -- with citizendata.stats.calibrate ----------------------------------------------------


def _margins(variables: list[str]) -> list:
    from citizendata.stats.calibrate import Margin

    pop = pd.read_csv(REF_DIR / "var_apipop_margins.csv")
    return [Margin((v,), {(r.category,): r.population for r in pop[pop["variable"] == v].itertuples()})
            for v in variables]


@pytest.mark.parametrize("key", ["apiclus1_cal_linear", "apiclus1_cal_raking", "apistrat_cal_raking",
                                 "apistrat_cal_linear"])
def test_calibrate_model_matrix_reproduces_r(key: str) -> None:
    """calibrate()'s weights and its full-dummy X give R's calibrated SEs."""
    from citizendata.stats.calibrate import calibrate

    df, wcol, cal_vars, clustered = DESIGNS[key]
    assert cal_vars is not None
    cal = calibrate(df, _margins(cal_vars), method=wcol.removeprefix("w_"), design_weights=df["pw"].to_numpy())
    np.testing.assert_allclose(cal.weights, df[wcol], rtol=1e-9)
    ref = REF[key]["results"]
    cl = df["cluster"].to_numpy() if clustered else None
    for name, kind, y in [("mean_api00", "mean", df["api00"]), ("total_enroll", "total", df["enroll"])]:
        est = domain_estimate(kind, y, weights=cal.weights, X=cal.X, d=cal.design_weights, cluster=cl)
        _close(est.se, ref[name]["se"])


@pytest.mark.parametrize("key", ["apiclus1_cal_raking", "apistrat_cal_raking"])
def test_recalibrated_bootstrap_keeps_margins_and_agrees(key: str) -> None:
    """Each re-calibrated replicate meets every margin; its SE is close to the linearised one."""
    from citizendata.stats.calibrate import calibrate
    from citizendata.stats.variance import recalibrator

    df, _, cal_vars, clustered = DESIGNS[key]
    assert cal_vars is not None
    margins = _margins(cal_vars)
    cl = df["cluster"].to_numpy() if clustered else None
    cal = calibrate(df, margins, method="raking", design_weights=df["pw"].to_numpy())
    W = bootstrap_weights(df["pw"].to_numpy(), cl, replicates=300, seed=11,
                          recalibrate=recalibrator(df, margins, method="raking"))
    assert W.shape == (len(df), 300)
    np.testing.assert_allclose(cal.X.T @ W, np.repeat(cal.totals[:, None], 300, 1), rtol=1e-8)
    # units of clusters not drawn keep weight 0 after re-calibration
    raw = bootstrap_weights(df["pw"].to_numpy(), cl, replicates=300, seed=11)
    np.testing.assert_array_equal(W == 0, raw == 0)
    lin = domain_estimate("mean", df["api00"], weights=cal.weights, X=cal.X, d=cal.design_weights, cluster=cl)
    boot = domain_estimate("mean", df["api00"], weights=cal.weights, variance="bootstrap", replicate_weights=W)
    assert boot.se == pytest.approx(lin.se, rel=0.15)
