"""Battese–Harter–Fuller on R sae's `cornsoybean` data against recorded reference results."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from citizendata.errors import BadInput
from citizendata.integrate.sae import battese_harter_fuller

DATA = Path(__file__).parent / "data" / "sae"
COLS = ["CornPix", "SoyBeansPix"]


@pytest.fixture(scope="module")
def corn() -> tuple[pd.DataFrame, pd.DataFrame]:
    units = pd.read_csv(DATA / "cornsoybean.csv")
    means = pd.read_csv(DATA / "cornsoybeanmeans.csv").rename(columns={
        "CountyIndex": "County", "MeanCornPixPerSeg": "CornPix",
        "MeanSoyBeansPixPerSeg": "SoyBeansPix"})
    return units, means


def _fit(corn: tuple[pd.DataFrame, pd.DataFrame], **kw: object):
    units, means = corn
    return battese_harter_fuller(units, area="County", response="CornHec", columns=COLS,
                                 area_means=means, **kw)


@pytest.mark.parametrize(("method", "tol_var"), [("reml", 5e-5), ("ml", 2e-4)])
def test_parameters(corn, method: str, tol_var: float) -> None:
    ref = pd.read_csv(DATA / "cornsoybean_parameters.csv").query("method == @method.upper()")
    want = dict(zip(ref["parameter"], ref["value"], strict=True))
    r = _fit(corn, method=method)
    for k in ("(Intercept)", "CornPix", "SoyBeansPix"):
        # printed to 7 (REML) or 5-6 (ML) significant digits
        assert r.beta[k] == pytest.approx(want[k], rel=5e-6 if method == "reml" else 2e-4)
    assert r.sigma2_u == pytest.approx(want["sigma2_u"], rel=tol_var)
    assert r.sigma2_e == pytest.approx(want["sigma2_e"], rel=tol_var)
    assert r.loglike == pytest.approx(want["loglike"], abs=5e-5)


@pytest.mark.parametrize("method", ["reml", "ml"])
def test_eblups_and_mse(corn, method: str) -> None:
    ref = pd.read_csv(DATA / "cornsoybean_reference.csv")
    r = _fit(corn, method=method)
    atol = 5e-6 if method == "reml" else 5e-4   # ML reference stopped at ~1e-4 in sigma2
    got, want = r.areas["eblup"].to_numpy(), ref[f"eblup_{method}"].to_numpy()
    if method == "reml":
        # County 9's recorded 111.53048000 disagrees with the same record's own random
        # effect (5.026852) and coefficients, which give 111.530350; ours agree with those.
        assert got[8] == pytest.approx(want[8], abs=2e-4)
        got, want = np.delete(got, 8), np.delete(want, 8)
    np.testing.assert_allclose(got, want, rtol=0, atol=atol)
    np.testing.assert_allclose(r.areas["mse"], ref[f"mse_{method}"], rtol=2e-6 if
                               method == "reml" else 5e-6)
    fpc = _fit(corn, method=method, population="PopnSegments")
    np.testing.assert_allclose(fpc.areas["eblup"], ref[f"eblup_{method}_fpc"], rtol=0,
                               atol=5e-6 if method == "reml" else 1e-4)
    if method == "reml":
        np.testing.assert_allclose(r.areas["gamma"], ref["gamma_reml"], atol=5e-7)
        np.testing.assert_allclose(r.areas["random_effect"], ref["u_reml"], atol=5e-6)


def test_area_without_sample_and_bad_input(corn) -> None:
    units, means = corn
    extra = pd.concat([means, means.iloc[[0]].assign(County=99)], ignore_index=True)
    r = battese_harter_fuller(units, area="County", response="CornHec", columns=COLS,
                              area_means=extra, population="PopnSegments")
    last = r.areas.iloc[-1]
    assert not last["in_sample"] and last["n"] == 0
    assert last["eblup"] == pytest.approx(last["synthetic"])
    assert last["mse"] > r.sigma2_u
    assert r.to_dict()["areas"][-1]["area"] == 99
    with pytest.raises(BadInput) as e:
        battese_harter_fuller(units, area="County", response="CornHec", columns=COLS,
                              area_means=means[means["County"] != 5])
    assert e.value.code == "sae.invalid_covariates" and "area(s) 5" in e.value.message
    with pytest.raises(BadInput) as e:
        battese_harter_fuller(units, area="County", response="CornHec", columns=COLS,
                              area_means=means, method="henderson")
    assert e.value.code == "sae.invalid_model"


def test_mse_tracks_truth_in_simulation() -> None:
    """Known truth: 30 areas, 2-10 units each; R = 300 samples (MSE ratio SE ~ 2-3%)."""
    rng = np.random.default_rng(7)
    D, R = 30, 300
    n = rng.integers(2, 11, D)
    area = np.repeat(np.arange(D), n)
    x = rng.normal(5, 2, len(area))
    xbar = rng.normal(5, 0.5, D)
    errs, mses, cover = [], [], []
    for _ in range(R):
        u = rng.normal(0, 1.0, D)
        yv = 2 + 0.5 * x + u[area] + rng.normal(0, 2.0, len(area))
        truth = 2 + 0.5 * xbar + u
        r = battese_harter_fuller(pd.DataFrame({"a": area, "y": yv, "x": x}), area="a",
                                  response="y", columns=["x"],
                                  area_means=pd.DataFrame({"a": np.arange(D), "x": xbar}))
        errs.append((r.areas["eblup"].to_numpy() - truth) ** 2)
        mses.append(r.areas["mse"].to_numpy())
        cover.append(np.abs(r.areas["eblup"].to_numpy() - truth) <= 1.96 * np.sqrt(mses[-1]))
    ratio = np.mean(mses) / np.mean(errs)
    assert 0.9 < ratio < 1.1, ratio
    assert 0.93 <= np.mean(cover) <= 0.97


def test_bootstrap_mse_close_to_analytic() -> None:
    """sae's pbmseBHF scheme, 400 replicates, on 30 simulated areas (the design of the
    simulation above): the mean bootstrap MSE within 15% of the analytic one (its Monte
    Carlo SE is about 2%; the rest is the analytic g3's second-order error).  With only
    the 12 counties of `cornsoybean` the two differ by 25-35% (docs/methods/sae.md)."""
    rng = np.random.default_rng(7)
    D = 30
    n = rng.integers(2, 11, D)
    area = np.repeat(np.arange(D), n)
    x = rng.normal(5, 2, len(area))
    xbar = rng.normal(5, 0.5, D)
    yv = 2 + 0.5 * x + rng.normal(0, 1.0, D)[area] + rng.normal(0, 2.0, len(area))
    kw = {"area": "a", "response": "y", "columns": ["x"],
          "area_means": pd.DataFrame({"a": np.arange(D), "x": xbar, "N": 200})}
    d = pd.DataFrame({"a": area, "y": yv, "x": x})
    r = battese_harter_fuller(d, population="N", **kw)
    b = battese_harter_fuller(d, population="N", bootstrap=400, seed=4, **kw)
    ratio = b.areas["mse"].mean() / r.areas["mse"].mean()
    assert 0.85 < ratio < 1.15, ratio
    assert any("bootstrap" in note for note in b.notes)
    np.testing.assert_array_equal(b.areas["eblup"], r.areas["eblup"])


def test_area_codes_as_text_in_one_table(corn) -> None:
    units, means = corn
    r = battese_harter_fuller(units, area="County", response="CornHec", columns=COLS,
                              area_means=means.assign(County=means["County"].astype(str)))
    assert r.areas["area"].tolist()[:3] == ["1", "2", "3"] and r.areas["in_sample"].all()
