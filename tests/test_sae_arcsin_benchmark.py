"""Benchmarked proportions on the arcsine scale, the bootstrap's arcsine-scale intervals and
the out-of-sample bookkeeping (covariate-only areas, area codes read as floats)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from citizendata.integrate.sae import Benchmark, fay_herriot
from citizendata.integrate.sae.fh import _bootstrap
from citizendata.integrate.sae.transform import HALF_PI

DATA = Path(__file__).parent / "data" / "sae"
M = 30


def _high_proportions(rng: np.random.Generator, x: np.ndarray, n: np.ndarray
                      ) -> tuple[np.ndarray, np.ndarray]:
    """True p between about 0.8 and 0.97 (theta = 1.1 + 0.3 x + u) and binomial directs."""
    p = np.sin(1.1 + 0.3 * x + 0.1 * rng.standard_normal(M)) ** 2
    return p, rng.binomial(n, p) / n


@pytest.mark.parametrize("how", ["ratio", "difference"])
def test_benchmarked_proportions_keep_their_intervals_in_0_1(how: str) -> None:
    """The reviewer's case: 30 areas, p 0.85-0.95, a national benchmark at the true mean.
    Before, est +- z sqrt(mse) on the proportion scale put 18 upper ends above 1."""
    rng = np.random.default_rng(1)
    n = np.repeat([8, 15, 30], 10)
    x = rng.uniform(0, 1, M)
    p = np.sin(1.1 + 0.3 * x + 0.1 * rng.standard_normal(M)) ** 2
    d = pd.DataFrame({"a": np.arange(M), "p": rng.binomial(n, p) / n, "n": n, "x": x,
                      "w": np.ones(M)})
    kw = {"area": "a", "estimate": "p", "transform": "arcsin", "sample_size": "n",
          "columns": ["x"]}
    r = fay_herriot(d, **kw, benchmark=Benchmark(float(p.mean()), "w", method=how))
    a = r.areas
    # the benchmark pushes area 23 (and 25, ratio) above 1: set to 1, with a note
    assert a["eblup"].max() == 1.0 and a["eblup"].mean() == pytest.approx(p.mean(), abs=2e-4)
    assert any("outside [0, 1] (area(s) 23" in t for t in r.notes)
    assert ((a["lower"] >= 0) & (a["upper"] <= 1)).all()
    assert ((a["lower"] <= a["eblup"]) & (a["eblup"] <= a["upper"])).all()
    assert (a["upper"] - a["lower"] > 0).all()
    assert any("arcsine-scale interval" in t for t in r.notes)
    plain = fay_herriot(d, **kw).areas
    added = (a["mse"] - a["mse_unbenchmarked"]).to_numpy()
    if how == "difference":
        # g4 of the proportions, sum_j w_j sin(2 theta_j) B_j (...), one value for all areas:
        # 3.17e-5 here; the old arcsine-scale g4 (no factor sin^2(2 theta) = 4 p (1 - p))
        # was 7.31e-5
        assert np.ptp(added) < 1e-15
        assert added[0] == pytest.approx(3.1688e-5, rel=1e-3)
    else:
        kept = (a["eblup"] < 1).to_numpy()   # the MSE keeps the unclipped adjustment
        np.testing.assert_allclose(added[kept], ((a["eblup"] - plain["eblup"]) ** 2)[kept],
                                   rtol=1e-12)


@pytest.mark.parametrize("how", ["difference", "ratio"])
def test_benchmarked_proportion_mse_tracks_truth(how: str) -> None:
    """R = 200 fits of 30 areas, internal benchmark T = sum w p-hat with the weight on the
    smallest samples.  The ratio of summed estimated to empirical MSEs has a Monte Carlo SE
    of about 3% (per area sqrt(2/R) = 10%, 30 areas, correlated).  Measured: difference
    1.045 (0.972 without g4; with the old arcsine-scale g4 1.22), ratio 1.112 (the squared
    adjustment overstates here: an approximation, docs/methods/sae.md); coverage of the
    benchmarked intervals 96.7% for both."""
    rng = np.random.default_rng(1)
    n = np.repeat([8, 15, 30], 10)
    x = rng.uniform(0, 1, M)
    w = (30.0 / n) ** 2
    rng = np.random.default_rng(5)
    sq, est, cover = np.zeros(M), np.zeros(M), []
    for _ in range(200):
        p, ph = _high_proportions(rng, x, n)
        d = pd.DataFrame({"a": np.arange(M), "p": ph, "n": n, "x": x, "w": w})
        r = fay_herriot(d, area="a", estimate="p", transform="arcsin", sample_size="n",
                        columns=["x"],
                        benchmark=Benchmark(float(np.sum(w * ph) / w.sum()), "w", method=how))
        a = r.areas
        assert ((a["lower"] >= 0) & (a["upper"] <= 1)).all()
        assert ((a["lower"] <= a["eblup"]) & (a["eblup"] <= a["upper"])).all()
        sq += (a["eblup"].to_numpy() - p) ** 2
        est += a["mse"].to_numpy()
        cover.append(((a["lower"] <= p) & (p <= a["upper"])).to_numpy())
    ratio = est.sum() / sq.sum()
    assert (0.9 < ratio < 1.1) if how == "difference" else (0.95 < ratio < 1.2), ratio
    assert np.mean(cover) >= 0.93


def test_bootstrap_interval_uses_the_bootstrap_arcsine_mse() -> None:
    rng = np.random.default_rng(3)
    n = np.repeat([20, 40, 80], 10)
    x = rng.uniform(0, 1, M)
    p = np.sin(0.6 + 0.5 * x + 0.12 * rng.standard_normal(M)) ** 2
    d = pd.DataFrame({"a": np.arange(M), "p": rng.binomial(n, p) / n, "n": n, "x": x})
    kw = {"area": "a", "estimate": "p", "transform": "arcsin", "sample_size": "n",
          "columns": ["x"]}
    r = fay_herriot(d, **kw, bootstrap=200, seed=7)
    # the same replicates, as fay_herriot draws them
    from citizendata.integrate.sae._design import build_design
    from citizendata.integrate.sae.fh import _prepare

    work, var, _ = _prepare(d, estimate="p", variance=None, se=None, transform="arcsin",
                            sample_size="n", area="a")
    des = build_design(work, area="a", estimate="p", variance=var, se=None, covariates=None,
                       columns=["x"], categorical=())
    beta = np.array([r.beta["(Intercept)"], r.beta["x"]])
    mse_p, mse_theta, _ = _bootstrap(des, r.sigma2_u, beta, "reml", 200, 7, "arcsin", "bc",
                                     tol=1e-4, max_iter=100)
    np.testing.assert_allclose(r.areas["mse"], mse_p)
    lo, hi = np.arcsin(np.sqrt(r.areas["lower"])), np.arcsin(np.sqrt(r.areas["upper"]))
    inner = (lo > 0) & (hi < HALF_PI)
    np.testing.assert_allclose((hi - lo)[inner], 2 * 1.959964 * np.sqrt(mse_theta[inner]),
                               rtol=1e-6)
    analytic = fay_herriot(d, **kw).areas
    assert not np.allclose(r.areas["upper"], analytic["upper"])


def test_covariate_only_areas_are_named() -> None:
    milk = pd.read_csv(DATA / "milk.csv")
    kw = {"area": "SmallArea", "estimate": "yi", "se": "SD", "columns": ["MajorArea"],
          "categorical": ["MajorArea"]}
    cov = pd.concat([milk[["SmallArea", "MajorArea"]],
                     pd.DataFrame({"SmallArea": [44, 45], "MajorArea": [1, 4]})],
                    ignore_index=True)
    r = fay_herriot(milk, covariates=cov, **kw)
    assert r.covariate_only_areas == [44, 45]
    assert any(t.startswith("2 area(s) without a direct estimate") and "44, 45" in t
               for t in r.notes)
    assert fay_herriot(milk, **kw).covariate_only_areas == []
    # their intervals are Satterthwaite t intervals, wider than the normal ones
    out = r.areas[~r.areas["in_sample"]]
    assert ((out["upper"] - out["eblup"]) > 1.96 * np.sqrt(out["mse"])).all()
    inside = r.areas[r.areas["in_sample"]]
    np.testing.assert_allclose(inside["upper"] - inside["eblup"],
                               1.959964 * np.sqrt(inside["mse"]), rtol=1e-6)
    # a float area column (a gap read as NaN elsewhere in the file) against integers
    as_float = cov.assign(SmallArea=cov["SmallArea"].astype(float))
    f = fay_herriot(milk, covariates=as_float, **kw)
    assert f.covariate_only_areas == ["44", "45"] and f.areas["area"].tolist()[:2] == ["1", "2"]
    np.testing.assert_allclose(f.areas["eblup"], r.areas["eblup"])
