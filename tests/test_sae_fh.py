"""Fay–Herriot features: out-of-sample areas, bad input, transform, GVF, benchmarking, SVG."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from citizendata.errors import BadInput
from citizendata.integrate.sae import Benchmark, direct_vs_model_svg, fay_herriot, smooth_variances

DATA = Path(__file__).parent / "data" / "sae"
KW = {"area": "SmallArea", "estimate": "yi", "se": "SD", "columns": ["MajorArea"],
      "categorical": ["MajorArea"]}


@pytest.fixture(scope="module")
def milk() -> pd.DataFrame:
    return pd.read_csv(DATA / "milk.csv")


def _cov(milk: pd.DataFrame) -> pd.DataFrame:
    extra = pd.DataFrame({"SmallArea": [44, 45], "MajorArea": [1, 4]})
    cov = pd.concat([milk[["SmallArea", "MajorArea"]], extra], ignore_index=True)
    return cov.assign(pop=np.arange(1.0, 46.0), region=np.where(cov["MajorArea"] <= 2, "a", "b"))


def test_out_of_sample_areas_get_synthetic_estimates(milk: pd.DataFrame) -> None:
    r = fay_herriot(milk, covariates=_cov(milk), **KW)
    base = fay_herriot(milk, **KW)
    out = r.areas[~r.areas["in_sample"]]
    assert out["area"].tolist() == [44, 45]
    assert out["eblup"].tolist() == pytest.approx([r.beta["(Intercept)"],
                                                   r.beta["(Intercept)"] + r.beta["MajorArea4"]])
    # REML: sigma2_u + x'Qx, larger than any in-sample MSE of the same major area
    assert out["mse"].iloc[0] > r.sigma2_u
    assert (out["gamma"] == 0).all() and out["direct"].isna().all()
    np.testing.assert_allclose(r.areas["eblup"][:43], base.areas["eblup"])
    js = r.to_dict()["areas"][-1]
    assert js["direct"] is None and js["area"] == 45


@pytest.mark.parametrize(("change", "code", "named"), [
    (lambda d: d.assign(SD=d["SD"].where(d["SmallArea"] != 7, 0.0)), "sae.invalid_direct", "7"),
    (lambda d: d.assign(SD=d["SD"].where(d["SmallArea"] != 8, -0.1)), "sae.invalid_direct", "8"),
    (lambda d: d.assign(yi=d["yi"].where(d["SmallArea"] != 9)), "sae.invalid_direct", "9"),
    (lambda d: d.assign(MajorArea=d["MajorArea"].where(d["SmallArea"] != 3)),
     "sae.invalid_covariates", "3"),
])
def test_bad_direct_or_covariates_name_the_area(milk: pd.DataFrame, change, code: str,
                                                named: str) -> None:
    with pytest.raises(BadInput) as e:
        fay_herriot(change(milk), **KW)
    assert e.value.code == code
    assert f"area(s) {named}" in e.value.message


def test_covariate_table_lacking_areas(milk: pd.DataFrame) -> None:
    cov = _cov(milk)
    with pytest.raises(BadInput) as e:
        fay_herriot(milk, covariates=cov[~cov["SmallArea"].isin([5, 6])], **KW)
    assert e.value.code == "sae.invalid_covariates" and "5, 6" in e.value.message
    assert len(e.value.problems) == 2


def test_bad_model(milk: pd.DataFrame) -> None:
    with pytest.raises(BadInput) as e:
        fay_herriot(milk, **{**KW, "method": "bayes"})
    assert e.value.code == "sae.invalid_model"
    with pytest.raises(BadInput) as e:
        fay_herriot(milk.assign(x2=milk["SD"] * 2, x1=milk["SD"]), area="SmallArea",
                    estimate="yi", se="SD", columns=["x1", "x2"])
    assert e.value.code == "sae.invalid_model"


def test_zero_variance_and_cap_are_notes(milk: pd.DataFrame) -> None:
    # direct estimates exactly on a line in x: no area effect left, sigma2_u goes to 0
    flat = milk.assign(yi=1.0 + 0.1 * milk["MajorArea"])
    r = fay_herriot(flat, area="SmallArea", estimate="yi", se="SD", columns=["MajorArea"])
    assert r.sigma2_u == 0 and (r.areas["gamma"] == 0).all()
    assert any("zero" in n for n in r.notes)
    np.testing.assert_allclose(r.areas["eblup"], r.areas["synthetic"])
    capped = fay_herriot(milk, max_iter=1, tol=1e-12, **KW)
    assert not capped.converged and any("did not converge" in n for n in capped.notes)
    # the JSON says so too, under a key after the documented ones
    assert list(capped.to_dict()) == ["method", "beta", "sigma2_u", "areas", "notes"]


def test_bootstrap_close_to_prasad_rao(milk: pd.DataFrame) -> None:
    pr = fay_herriot(milk, **KW)
    bt = fay_herriot(milk, bootstrap=400, seed=3, **KW)
    assert bt.mse_method.startswith("parametric bootstrap")
    # each bootstrap MSE has relative SE about sqrt(2/400) = 7%; the mean over 43 areas less
    ratio = bt.areas["mse"].mean() / pr.areas["mse"].mean()
    assert 0.9 < ratio < 1.1
    again = fay_herriot(milk, bootstrap=400, seed=3, **KW)
    np.testing.assert_array_equal(bt.areas["mse"], again.areas["mse"])


def test_arcsin_transform(milk: pd.DataFrame) -> None:
    d = milk.assign(p=np.clip(milk["yi"] / 2, 0, 1))
    d.loc[0, "p"] = 0.0   # a proportion of 0 is fine on the arcsine scale
    kw = {"area": "SmallArea", "estimate": "p", "transform": "arcsin", "sample_size": "ni",
          "columns": ["MajorArea"], "categorical": ["MajorArea"]}
    bc = fay_herriot(d, **kw)
    naive = fay_herriot(d, backtransform="naive", **kw)
    a = bc.areas
    assert ((a["eblup"] > 0) & (a["eblup"] < 1)).all()
    assert ((a["lower"] <= naive.areas["eblup"]) & (naive.areas["eblup"] <= a["upper"])).all()
    assert not np.allclose(a["eblup"], naive.areas["eblup"])
    boot = fay_herriot(d, bootstrap=100, seed=1, **kw)
    assert np.isfinite(boot.areas["mse"]).all()
    with pytest.raises(BadInput) as e:
        fay_herriot(d.assign(p=d["p"] + 1), **kw)
    assert e.value.code == "sae.invalid_direct"


def test_smooth_variances(milk: pd.DataFrame) -> None:
    d = milk.assign(v=milk["SD"] ** 2)
    s = smooth_variances(d, estimate="yi", variance="v", sample_size="ni")
    assert (s > 0).all() and len(s) == 43
    # log v on log n: larger samples, smaller smoothed variances
    order = np.argsort(d["ni"].to_numpy())
    assert np.all(np.diff(s.to_numpy()[order]) <= 1e-15)
    r = fay_herriot(d.assign(v_s=s), area="SmallArea", estimate="yi", variance="v_s",
                    columns=["MajorArea"], categorical=["MajorArea"])
    assert r.converged


@pytest.mark.parametrize("how", ["ratio", "difference"])
def test_benchmark_adds_up(milk: pd.DataFrame, how: str) -> None:
    cov = _cov(milk)
    r = fay_herriot(milk, covariates=cov, benchmark=Benchmark(0.95, "pop", method=how), **KW)
    w = cov["pop"].to_numpy() / cov["pop"].sum()
    assert float(np.sum(w * r.areas["eblup"])) == pytest.approx(0.95)
    assert (r.areas["mse"] >= r.areas["mse_unbenchmarked"]).all()
    by = fay_herriot(milk, covariates=cov, **KW,
                     benchmark=Benchmark({"a": 1.1, "b": 0.8}, "pop", by="region", method=how))
    for g, t in (("a", 1.1), ("b", 0.8)):
        sel = (cov["region"] == g).to_numpy()
        ws = cov["pop"].to_numpy()[sel]
        assert float(np.sum(ws * by.areas["eblup"].to_numpy()[sel]) / ws.sum()) == pytest.approx(t)
    total = fay_herriot(milk, covariates=cov, **KW,
                        benchmark=Benchmark(0.95 * cov["pop"].sum(), "pop", target="total"))
    np.testing.assert_allclose(total.areas["eblup"], fay_herriot(
        milk, covariates=cov, benchmark=Benchmark(0.95, "pop"), **KW).areas["eblup"])


def test_diagnostics_and_svg(milk: pd.DataFrame) -> None:
    r = fay_herriot(milk, covariates=_cov(milk), **KW)
    d = r.diagnostics
    assert 0 < d["shapiro_wilk"]["p_value"] < 1
    assert d["cv_model_median"] < d["cv_direct_median"]
    svg = direct_vs_model_svg(r.areas, title="Milk <expenditure>")
    assert svg.startswith("<svg ") and svg.endswith("</svg>") and "xmlns" not in svg
    assert svg.count("<circle") == 43 and "&lt;expenditure&gt;" in svg
    assert "2 areas without a sample" in svg
    assert svg == direct_vs_model_svg(r.areas, title="Milk <expenditure>")


def test_smooth_variances_of_proportions_at_zero_or_one() -> None:
    rng = np.random.default_rng(5)
    n = rng.integers(5, 200, 60).astype(float)
    p = np.clip(rng.binomial(n.astype(int), 0.8) / n, 0, 1)
    p[:3] = [1.0, 0.0, 1.0]
    v = p * (1 - p) / n * 1.5          # design effect 1.5; zero where p is 0 or 1
    d = pd.DataFrame({"p": p, "v": v, "n": n})
    s = smooth_variances(d, estimate="p", variance="v", sample_size="n", proportion=True)
    pbar = np.sum(n * p) / n.sum()
    # the areas at 0 or 1 get the mean proportion's variance at their own sample size
    edge = (p == 0) | (p == 1)
    np.testing.assert_allclose(s[edge], pbar * (1 - pbar) / n[edge] * 1.5, rtol=1e-6)
    np.testing.assert_allclose(s[~edge], v[~edge], rtol=1e-6)


def test_area_codes_as_text_in_one_table_and_numbers_in_the_other(milk: pd.DataFrame) -> None:
    cov = _cov(milk).assign(SmallArea=lambda c: c["SmallArea"].astype(str))
    r = fay_herriot(milk, covariates=cov, **KW)
    assert r.areas["area"].tolist()[:2] == ["1", "2"] and len(r.areas) == 45


def test_svg_words_can_be_translated(milk: pd.DataFrame) -> None:
    r = fay_herriot(milk, **KW)
    svg = direct_vs_model_svg(r.areas, title="Makadirio", x_label="moja kwa moja",
                              y_label="kwa modeli", desc="Maelezo")
    assert "moja kwa moja" in svg and "kwa modeli" in svg and "Maelezo" in svg
    assert ">direct<" not in svg and "model-based" not in svg
