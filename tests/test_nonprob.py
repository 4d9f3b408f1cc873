"""The non-probability estimators: exact identities, variances in closed form, diagnostics, errors."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from citizendata.errors import BadInput
from citizendata.integrate.nonprob import ASSUMPTIONS, estimate_nonprob, fit_propensity
from citizendata.integrate.nonprob._variance import design_codes, psu_total_variance

Z = 1.959963984540054


def _population(seed: int = 3, n: int = 20_000) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x1 = rng.standard_normal(n)
    g = rng.choice(np.array(["a", "b", "c"], dtype=object), size=n, p=[0.5, 0.3, 0.2])
    y = 2 + x1 + (g == "b") - 0.5 * (g == "c") + rng.standard_normal(n)
    return pd.DataFrame({"x1": x1, "g": g, "y": y})


def _samples(seed: int = 3) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A citizen sample selected on x1 and g, and a stratified cluster survey (strata s, PSUs c)."""
    pop = _population(seed)
    rng = np.random.default_rng(seed + 1)
    lin = -2.2 + 0.6 * pop["x1"] + 0.5 * (pop["g"] == "b")
    a = pop[rng.random(len(pop)) < 1 / (1 + np.exp(-lin))].reset_index(drop=True)
    pop["s"] = np.where(np.arange(len(pop)) < 10_000, "north", "south")
    pop["c"] = np.arange(len(pop)) // 50  # PSUs of 50 units, nested in strata
    picked = np.concatenate([rng.choice(np.arange(lo, lo + 10_000) // 50, 15, replace=False)
                             for lo in (0, 10_000)])
    b = pop[pop["c"].isin(picked)].copy()
    b = b.groupby("c", group_keys=False).sample(10, random_state=1)
    b["w"] = (200 / 15) * (50 / 10)  # 15 of 200 PSUs per stratum, 10 of 50 units per PSU
    return a, b.reset_index(drop=True)


def test_saturated_model_is_post_stratification_with_closed_form_variances() -> None:
    """One categorical covariate: IPW, DR and MI all equal the post-stratified mean."""
    a, b = _samples()
    r = estimate_nonprob(a, b, covariates=["g"], y="y", weights="w", strata="s", psu="c")
    t = r.table.set_index("method")
    n_c = b.groupby("g")["w"].sum()
    share = n_c / n_c.sum()
    ybar = a.groupby("g")["y"].mean()
    post = float((share * ybar).sum())
    for m in ("ipw", "dr", "mi", "nn"):  # nearest neighbours on a category: the cell means
        assert t.loc[m, "estimate"] == pytest.approx(post, rel=1e-10)
    assert t.loc["naive", "estimate"] == pytest.approx(a["y"].mean())
    # variances written out for this case (see docs/methods/nonprobability.md)
    n_a = a.groupby("g").size()
    ss = a.groupby("g")["y"].apply(lambda s: float(((s - s.mean()) ** 2).sum()))
    pi_c = n_a / n_c
    v_a_ipw = float((share ** 2 * (1 - pi_c) * ss / n_a ** 2).sum())
    v_a_mi = float((share ** 2 * ss / n_a ** 2).sum())
    z = b["w"].to_numpy() * (b["g"].map(ybar).to_numpy() - post) / n_c.sum()
    h, p = design_codes(b["s"].to_numpy(), b["c"].to_numpy(), len(b))
    v_b = psu_total_variance(z, h, p)
    assert t.loc["ipw", "se"] == pytest.approx(np.sqrt(v_a_ipw + v_b), rel=1e-9)
    assert t.loc["mi", "se"] == pytest.approx(np.sqrt(v_a_mi + v_b), rel=1e-9)
    assert t.loc["dr", "se"] == pytest.approx(np.sqrt(v_a_ipw + v_b), rel=1e-9)
    # balance is exact for a saturated propensity model
    for row in r.diagnostics["balance"]:
        assert row["citizen_weighted"] == pytest.approx(row["reference"], abs=1e-10)


def test_psu_total_variance_by_hand() -> None:
    z = np.array([1.0, 2.0, 3.0, 4.0, 10.0, 20.0, 0.5])
    strata = np.array(["h1", "h1", "h1", "h1", "h2", "h2", "h2"])
    psu = np.array(["p1", "p1", "p2", "p3", "p1", "p2", "p2"])  # p1 repeats across strata
    h, p = design_codes(strata, psu, z.size)
    t1 = np.array([3.0, 3.0, 4.0])
    t2 = np.array([10.0, 20.5])
    want = 3 / 2 * ((t1 - t1.mean()) ** 2).sum() + 2 / 1 * ((t2 - t2.mean()) ** 2).sum()
    assert psu_total_variance(z, h, p) == pytest.approx(want)
    h0, p0 = design_codes(None, None, z.size)
    assert psu_total_variance(z, h0, p0) == pytest.approx(7 / 6 * ((z - z.mean()) ** 2).sum())


def test_domains_of_a_saturated_model_are_the_cell_means() -> None:
    a, b = _samples()
    r = estimate_nonprob(a, b, covariates=["g"], y="y", weights="w", strata="s", psu="c", by="g")
    t = r.table
    assert list(t.columns[:2]) == ["method", "g"]
    assert list(t["g"].unique()) == ["_T", "a", "b", "c"]
    ybar = a.groupby("g")["y"].mean()
    for lev in ("a", "b", "c"):
        cell = t[t["g"] == lev].set_index("method")
        for m in ("naive", "ipw", "dr", "mi", "nn"):
            assert cell.loc[m, "estimate"] == pytest.approx(ybar[lev], rel=1e-10)
        assert (cell["n_A"] == (a["g"] == lev).sum()).all()
        assert (cell["n_B"] == (b["g"] == lev).sum()).all()
        # IPW in a cell: (1 - pi_c) SS_c / n_c^2; the survey part vanishes (b'x = ybar_c - mu_c = 0)
        n_c, pi_c = (a["g"] == lev).sum(), (a["g"] == lev).sum() / b.loc[b["g"] == lev, "w"].sum()
        ss = float(((a.loc[a["g"] == lev, "y"] - ybar[lev]) ** 2).sum())
        assert cell.loc["ipw", "se"] == pytest.approx(np.sqrt((1 - pi_c) * ss / n_c ** 2), rel=1e-9)
    assert r.to_dict()["estimates"][5]["by"] == {"g": "a"}
    other = estimate_nonprob(a, b, covariates=["x1", "g"], y="y", weights="w", by="g")
    overall = other.table[other.table["g"] == "_T"].set_index("method")
    plain = estimate_nonprob(a, b, covariates=["x1", "g"], y="y", weights="w").table
    np.testing.assert_allclose(overall["estimate"], plain["estimate"])
    e = _error(a, b.assign(g=b["g"].replace("c", "a")), by="g", covariates=["x1"])
    assert "'c'" in e.message and e.where is not None and e.where.column == "g"


def test_propensity_solves_the_pseudo_score() -> None:
    a, b = _samples()
    xa = np.column_stack([np.ones(len(a)), a["x1"], a["g"] == "b", a["g"] == "c"]).astype(float)
    xb = np.column_stack([np.ones(len(b)), b["x1"], b["g"] == "b", b["g"] == "c"]).astype(float)
    d = b["w"].to_numpy()
    pr = fit_propensity(xa, xb, d)
    np.testing.assert_allclose(xa.sum(axis=0), (d * pr.pi_b) @ xb, rtol=1e-9)
    assert pr.iterations < 20


def test_table_intervals_assumptions_and_json() -> None:
    a, b = _samples()
    r = estimate_nonprob(a, b, covariates=["x1", "g"], y="y", weights="w", strata="s", psu="c")
    t = r.table
    assert list(t["method"]) == ["naive", "ipw", "dr", "mi", "nn"]
    np.testing.assert_allclose(t["ci_low"], t["estimate"] - Z * t["se"])
    np.testing.assert_allclose(t["ci_high"], t["estimate"] + Z * t["se"])
    assert (t["n_A"] == len(a)).all() and (t["n_B"] == len(b)).all()
    assert list(t["assumption"]) == [ASSUMPTIONS[m] for m in t["method"]]
    assert "ignorable" in ASSUMPTIONS["ipw"] and "either" in ASSUMPTIONS["dr"]
    assert r.outcome_model == "linear"
    d = r.diagnostics
    assert 0 < d["kish_effective_n"] < len(a)
    assert d["pseudo_weights"]["min"] >= 1.0
    assert d["pseudo_weights"]["sum"] == pytest.approx(d["pseudo_weights"]["reference_population"],
                                                       rel=0.1)
    x1 = next(row for row in d["balance"] if row["covariate"] == "x1")
    assert abs(x1["std_difference_after"]) < 0.1 < abs(x1["std_difference_before"])
    assert 0 <= d["overlap"]["share_citizen_extreme"] <= 1
    json.dumps(r.to_dict())  # JSON-ready
    only = estimate_nonprob(a, b, covariates=["x1", "g"], y="y", weights="w", method="mi")
    assert list(only.table["method"]) == ["naive", "mi"] and only.pseudo_weights is None


def test_binary_outcome_uses_a_logistic_model() -> None:
    a, b = _samples()
    a = a.assign(high=(a["y"] > 2.5))  # bool
    r = estimate_nonprob(a, b, covariates=["x1", "g"], y="high", weights="w")
    assert r.outcome_model == "logistic"
    est = r.table.set_index("method")["estimate"]
    assert ((est > 0) & (est < 1)).all()


def _error(a: pd.DataFrame, b: pd.DataFrame, **kw: object) -> BadInput:
    args: dict[str, object] = {"covariates": ["x1", "g"], "y": "y", "weights": "w"}
    args.update(kw)
    with pytest.raises(BadInput) as e:
        estimate_nonprob(a, b, **args)  # type: ignore[arg-type]
    return e.value


def test_errors_name_the_sample_the_column_and_the_rows() -> None:
    a, b = _samples()
    e = _error(a, b.drop(columns="x1"))
    assert e.code == "nonprob.invalid" and e.where is not None
    assert e.where.file == "reference survey" and e.where.column == "x1"
    a2 = a.copy()
    a2.loc[[2, 7], "g"] = None
    e = _error(a2, b)
    assert e.where is not None and e.where.column == "g" and e.where.file == "citizen sample"
    assert "rows 3, 8" in e.message
    a3 = a.copy()
    a3.loc[4, "g"] = "zz"
    e = _error(a3, b)
    assert "'zz'" in e.message and "citizen sample" in e.message and "rows 5" in e.message
    b2 = b.copy()
    b2.loc[0, "g"] = "yy"
    e = _error(a, b2)
    assert "'yy'" in e.message and e.where is not None and e.where.file == "reference survey"
    e = _error(a, b, weights=None)
    assert "weights" in e.message and e.fix and "--ref-weights" in e.fix
    b3 = b.copy()
    b3.loc[5, "w"] = -1.0
    e = _error(a, b3)
    assert e.where is not None and e.where.row == 6 and e.where.column == "w"
    e = _error(a.head(3), b, covariates=["x1"])
    assert "too few" in e.message and e.where is not None and e.where.file == "citizen sample"
    e = _error(a, b, method="magic")
    assert "magic" in e.message
    a4 = a.assign(y=a["y"].astype(str))
    a4.loc[1, "y"] = "n/a"
    e = _error(a4, b)
    assert "not a number" in e.message and "rows 2" in e.message


def test_separation_is_a_coded_error_naming_the_category() -> None:
    a, b = _samples()
    # the citizen sample holds more 'c' units than the survey says the population has
    b2 = b.copy()
    b2.loc[b2["g"] == "c", "w"] = 0.01
    e = _error(a, b2)
    assert e.code == "nonprob.invalid" and "does not converge" in e.message
    assert "g=c" in e.message


def test_normalised_survey_weights_are_named() -> None:
    a, b = _samples()
    e = _error(a, b.assign(w=1.0))  # weights summing to the sample size, as DHS ships them
    assert "normalised" in e.message and "N / n" in e.message


def test_lonely_psu_in_the_reference_survey() -> None:
    a, b = _samples()
    b2 = b.copy()
    first = b2.loc[b2["s"] == "north", "c"].iloc[0]
    b2.loc[b2["s"] == "north", "c"] = first
    e = _error(a, b2, strata="s", psu="c")
    assert e.code == "design.lonely_psu" and "'north'" in e.message


def test_agrees_with_r() -> None:
    """The Kenya example against scripts/r_reference/nonprob.R (glm, svydesign, the papers' formulas)."""
    from pathlib import Path

    ref_dir = Path(__file__).parent / "data" / "r_reference"
    want = json.loads((ref_dir / "nonprob.json").read_text())
    a = pd.read_csv(ref_dir / "nonprob_citizen.csv")
    b = pd.read_csv(ref_dir / "nonprob_dhs.csv")
    r = estimate_nonprob(a, b, covariates=["ward", "age_group", "disability_status"], y="skilled",
                         weights="weight", strata="ward", psu="ea_id")
    t = r.table.set_index("method")
    for m in ("naive", "ipw", "dr", "mi"):
        assert t.loc[m, "estimate"] == pytest.approx(want[m]["value"], rel=1e-9), m
        assert t.loc[m, "se"] == pytest.approx(want[m]["se"], rel=1e-8), m
    # the survey's own design-based mean: R's svymean with strata and PSUs
    w, y = b["weight"].to_numpy(), b["skilled"].to_numpy(dtype=float)
    mean = w @ y / w.sum()
    h, p = design_codes(b["ward"].to_numpy(), b["ea_id"].to_numpy(), len(b))
    se = np.sqrt(psu_total_variance(w * (y - mean) / w.sum(), h, p))
    assert mean == pytest.approx(want["survey_alone"]["value"], rel=1e-12)
    assert se == pytest.approx(want["survey_alone"]["se"], rel=1e-9)


def test_outcome_separation_in_the_citizen_sample_is_a_coded_error() -> None:
    """A category whose citizens all have the same binary outcome: refused with its name,
    not a numpy LinAlgError from the logistic fit."""
    a, b = _samples()
    a = a.assign(high=(a["y"] > 2.5))
    a.loc[a["g"] == "c", "high"] = True
    e = _error(a, b, y="high", method="mi")
    assert e.code == "nonprob.invalid" and "separation" in e.message and "g=c" in e.message
