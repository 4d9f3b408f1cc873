"""Calibration: weights against R survey 4.1.1, margins, errors, trimming, R-indicator."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from citizendata.errors import BadInput
from citizendata.stats.calibrate import (
    Margin,
    calibrate,
    margins_from_table,
    model_matrix,
    r_indicator,
)

REF = Path(__file__).parent / "data" / "r_reference"
with (REF / "calibrate.json").open(encoding="utf-8") as fh:
    R: dict[str, Any] = json.load(fh)
APISTRAT = pd.read_csv(REF / "apistrat.csv")
APICLUS1 = pd.read_csv(REF / "apiclus1.csv")


def r_margins(case: str) -> list[Margin]:
    """The margins recorded with an R case, 'a|b' category labels split back into tuples."""
    return [Margin(tuple(name.split(" x ")), {tuple(k.split("|")): v for k, v in totals.items()})
            for name, totals in R[case]["margins"].items()]


def max_rel(a: np.ndarray, b: np.ndarray) -> float:
    """Largest relative difference."""
    return float(np.max(np.abs(np.asarray(a) / np.asarray(b) - 1)))


# ---------------------------------------------------------------------------
# against R survey 4.1.1 (scripts/r_reference/calibrate.R)

R_CASES = [
    ("apistrat", APISTRAT, "pw", "raking", None, "raking"),
    ("apistrat", APISTRAT, "pw", "linear", None, "linear"),
    ("apistrat", APISTRAT, "pw", "logit", (0.5, 2.0), "logit_0.5_2"),
    ("apistrat", APISTRAT, "pw", "linear", (0.7, 1.3), "linear_bounded_0.7_1.3"),
    ("apistrat_equal", APISTRAT, None, "raking", None, "raking"),
    ("apistrat_equal", APISTRAT, None, "linear", None, "linear"),
    ("apistrat_equal", APISTRAT, None, "logit", (0.45, 1.5), "logit_0.45_1.5"),
    ("apistrat_equal", APISTRAT, None, "linear", (0.45, 1.5), "linear_bounded_0.45_1.5"),
    ("apiclus1", APICLUS1, "pw", "raking", None, "raking"),
    ("apiclus1", APICLUS1, "pw", "linear", None, "linear"),
    ("apiclus1_joint_schwide", APICLUS1, "pw", "raking", None, "raking"),
    ("apiclus1_joint_schwide", APICLUS1, "pw", "linear", None, "linear"),
]


@pytest.mark.parametrize(("case", "data", "dw", "method", "bounds", "key"), R_CASES,
                         ids=[f"{c[0]}-{c[5]}" for c in R_CASES])
def test_weights_match_r_survey(case: str, data: pd.DataFrame, dw: str | None, method: Any,
                                bounds: tuple[float, float] | None, key: str) -> None:
    ref = R[case][key]
    cal = calibrate(data, r_margins(case), method=method, design_weights=dw, bounds=bounds)
    assert cal.converged
    assert len(cal.weights) == len(ref["weights"]) == R[case]["n"]
    assert max_rel(cal.weights, np.array(ref["weights"])) < 1e-6
    diag = cal.diagnostics
    assert cal.weights.sum() == pytest.approx(ref["sum"], rel=1e-9)
    assert diag.weights["min"] == pytest.approx(ref["min"], rel=1e-6)
    assert diag.weights["max"] == pytest.approx(ref["max"], rel=1e-6)
    assert diag.weights["median"] == pytest.approx(ref["median"], rel=1e-6)
    assert diag.weights["mean"] == pytest.approx(ref["mean"], rel=1e-9)
    assert diag.kish_deff == pytest.approx(ref["kish_deff"], rel=1e-8)
    # a weighted estimate with the weights, as svymean / svytotal give it
    api00 = data["api00"].to_numpy(dtype=float)
    assert cal.weights @ api00 == pytest.approx(ref["total_api00"], rel=1e-8)
    assert cal.weights @ api00 / cal.weights.sum() == pytest.approx(ref["mean_api00"], rel=1e-8)
    if bounds is not None:
        lo, hi = bounds
        assert cal.g.min() >= lo - 1e-12 and cal.g.max() <= hi + 1e-12


def test_r_cases_differ_so_the_comparison_can_tell_methods_apart() -> None:
    eq = R["apistrat_equal"]
    lin, rake = np.array(eq["linear"]["weights"]), np.array(eq["raking"]["weights"])
    assert max_rel(lin, rake) > 0.01
    # the truncated linear bound binds: some g is exactly at L = 0.45
    g = np.array(eq["linear_bounded_0.45_1.5"]["weights"]) / eq["design_weight"]
    assert g.min() == pytest.approx(0.45, abs=1e-12)
    assert lin.min() / eq["design_weight"] < 0.45


def test_design_weights_default_to_n_over_n_and_match_a_column_or_array() -> None:
    margins = r_margins("apistrat_equal")
    by_default = calibrate(APISTRAT, margins)
    np.testing.assert_allclose(by_default.design_weights, 6194 / 200)
    by_array = calibrate(APISTRAT, margins, design_weights=APISTRAT["pw"].to_numpy())
    by_column = calibrate(APISTRAT, margins, design_weights="pw")
    np.testing.assert_allclose(by_array.weights, by_column.weights, rtol=1e-12)
    np.testing.assert_allclose(by_array.design_weights, APISTRAT["pw"])
    np.testing.assert_allclose(by_array.g, by_array.weights / by_array.design_weights)


@pytest.mark.parametrize("bounds", [(0.4, 1.48), (0.48, 1.49)])
def test_truncated_raking_keeps_g_within_bounds_and_meets_margins(
        bounds: tuple[float, float]) -> None:
    # R's grake stops without converging on these (its undamped Newton cycles once a whole
    # cell sits at a bound); the damped step on the dual converges
    cal = calibrate(APISTRAT, r_margins("apistrat_equal"), method="raking", bounds=bounds)
    assert cal.converged and cal.diagnostics.max_abs_rel_diff_after < 1e-10
    lo, hi = bounds
    assert cal.g.min() == pytest.approx(lo) and cal.g.max() == pytest.approx(hi)
    free = (cal.g > lo + 1e-9) & (cal.g < hi - 1e-9)
    assert free.any()


def test_infeasible_logit_bounds_fail_as_in_r() -> None:
    # R: "Calibration failed" (recorded); here a coded error with the reached error and advice
    assert "Failed to converge" in R["apistrat_equal"]["logit_0.6_1.5_infeasible"]
    with pytest.raises(BadInput) as err:
        calibrate(APISTRAT, r_margins("apistrat_equal"), method="logit", bounds=(0.6, 1.5))
    assert err.value.code == "calibration.not_converged"
    assert "largest relative margin error" in err.value.message
    assert "widen the bounds (now 0.6, 1.5)" in err.value.message
    assert err.value.details["max_rel_error"] > 0.01


def test_margins_from_a_census_table_equal_the_recorded_r_margins() -> None:
    cells = pd.read_csv(REF / "apipop_cells.csv")
    margins = margins_from_table(cells, ["stype", ("stype", "awards"), "sch.wide"],
                                 source="apipop")
    assert [m.name for m in margins] == ["stype", "stype x awards", "sch.wide"]
    assert margins[0].totals == {("E",): 4421.0, ("H",): 755.0, ("M",): 1018.0}
    by_name = {m.name: m for m in margins}
    for case in ("apiclus1", "apiclus1_joint_schwide"):
        for m in r_margins(case):
            assert dict(by_name[m.name].totals) == dict(m.totals)
    cal = calibrate(APICLUS1, [by_name["stype x awards"], by_name["sch.wide"]],
                    design_weights="pw")
    assert max_rel(cal.weights, np.array(R["apiclus1_joint_schwide"]["raking"]["weights"])) < 1e-6


def test_margins_from_table_rejects_bad_counts() -> None:
    table = pd.DataFrame({"ward": ["a", "b"], "population": [10, -1]})
    with pytest.raises(BadInput) as err:
        margins_from_table(table, ["ward"], source="census 2019")
    assert err.value.code == "calibration.invalid"
    assert "census 2019" in err.value.message and "negative" in err.value.message


# ---------------------------------------------------------------------------
# model matrix


def test_model_matrix_full_dummy_coding_labels_and_totals() -> None:
    sample = pd.DataFrame({"sex": ["female", "male", "female"], "age": [15, 20, 20]})
    margins = [Margin(("sex",), {("female",): 60, ("male",): 40}),
               Margin(("sex", "age"), {("female", "15"): 30, ("female", "20"): 30,
                                       ("male", "15"): 0, ("male", "20"): 40})]
    X, cols, totals = model_matrix(sample, margins)
    # ("male", "15") has population 0 and no unit: left out, as R's calibrate does
    assert cols == ["sex=female", "sex=male", "sex x age=female|15", "sex x age=female|20",
                    "sex x age=male|20"]
    np.testing.assert_array_equal(totals, [60, 40, 30, 30, 40])
    np.testing.assert_array_equal(X, [[1, 0, 1, 0, 0], [0, 1, 0, 0, 1], [1, 0, 0, 1, 0]])


def test_model_matrix_compares_whole_floats_as_integers() -> None:
    # an integer column with a null turns float in pandas; 15.0 must still match "15"
    sample = pd.DataFrame({"age": [15.0, 20.0]})
    X, _, _ = model_matrix(sample, [Margin(("age",), {("15",): 5, ("20",): 5})])
    np.testing.assert_array_equal(X, [[1, 0], [0, 1]])


# ---------------------------------------------------------------------------
# a Kenya-like synthetic sample, biased on two variables


def kenya_sample() -> tuple[pd.DataFrame, list[Margin]]:
    """Women aged 15-49 in three group ranches; the sample over-represents one ward and the young."""
    rng = np.random.default_rng(2026)
    wards = np.array(["kimana", "loita", "olkiramatian"])
    ages = np.array(["15-24", "25-34", "35-49"])
    n = 600
    ward = rng.choice(wards, size=n, p=[0.6, 0.25, 0.15])
    age = rng.choice(ages, size=n, p=[0.55, 0.3, 0.15])
    sample = pd.DataFrame({"ward": ward, "age_group": age})
    margins = [
        Margin(("ward",), {("kimana",): 4200, ("loita",): 3600, ("olkiramatian",): 2200}),
        Margin(("age_group",), {("15-24",): 3900, ("25-34",): 3300, ("35-49",): 2800}),
    ]
    return sample, margins


def test_raking_hits_every_margin_of_a_biased_sample() -> None:
    sample, margins = kenya_sample()
    cal = calibrate(sample, margins, method="raking")
    table = cal.diagnostics.margins
    assert list(table.columns) == ["margin", "category", "population", "before", "after",
                                   "diff_before", "diff_after", "rel_diff_before",
                                   "rel_diff_after"]
    assert len(table) == 6
    assert np.abs(table["rel_diff_after"]).max() < 1e-8
    assert cal.diagnostics.max_abs_rel_diff_after < 1e-8
    # the sample was biased: design weights (N/n each) miss ward and age totals by a lot
    assert np.abs(table["rel_diff_before"]).max() > 0.3
    loita = table[(table["margin"] == "ward") & (table["category"] == "loita")].iloc[0]
    assert loita["population"] == 3600 and loita["diff_before"] < -1000
    # raking is multiplicative: g is constant within each ward x age cell
    cells = sample.assign(g=cal.g).groupby(["ward", "age_group"])["g"]
    assert (cells.max() - cells.min()).max() < 1e-12
    assert (cal.weights > 0).all()
    diag = cal.diagnostics
    w = cal.weights
    assert diag.kish_deff == pytest.approx(len(w) * (w @ w) / w.sum() ** 2)
    assert diag.kish_deff == pytest.approx(1 + diag.weights["cv"] ** 2)
    assert diag.effective_n == pytest.approx(len(w) / diag.kish_deff)
    assert diag.kish_deff > 1.1
    assert diag.g_range == (pytest.approx(cal.g.min()), pytest.approx(cal.g.max()))
    assert 0 < diag.r_indicator["R"] < 1
    assert diag.r_indicator["mean_propensity"] == pytest.approx(600 / 10000)


def test_raking_equals_iterative_proportional_fitting() -> None:
    sample, margins = kenya_sample()
    cal = calibrate(sample, margins, method="raking")
    # classic IPF on the 3 x 3 table of sample counts
    counts = pd.crosstab(sample["ward"], sample["age_group"]).to_numpy(dtype=float)
    row = np.array([4200, 3600, 2200.0])
    col = np.array([3900, 3300, 2800.0])
    fit = counts.copy()
    for _ in range(500):
        fit *= (row / fit.sum(axis=1))[:, None]
        fit *= col / fit.sum(axis=0)
    cell_w = fit / counts
    wards = {"kimana": 0, "loita": 1, "olkiramatian": 2}
    ages = {"15-24": 0, "25-34": 1, "35-49": 2}
    expected = cell_w[sample["ward"].map(wards), sample["age_group"].map(ages)]
    np.testing.assert_allclose(cal.weights, expected, rtol=1e-9)


def test_linear_calibration_can_give_negative_weights_and_reports_them() -> None:
    sample = pd.DataFrame({"a": ["x", "x", "y", "y", "x"], "b": ["p", "q", "p", "q", "p"]})
    margins = [Margin(("a",), {("x",): 90, ("y",): 10}), Margin(("b",), {("p",): 10, ("q",): 90})]
    lin = calibrate(sample, margins, method="linear")
    assert lin.diagnostics.negative > 0 and lin.diagnostics.weights["min"] < 0
    assert lin.diagnostics.max_abs_rel_diff_after < 1e-8
    assert math.isnan(lin.diagnostics.r_indicator["R"])
    summary = lin.to_dict()
    json.dumps(summary)  # JSON-able: NaN became None
    assert summary["diagnostics"]["r_indicator"]["R"] is None
    rake = calibrate(sample, margins, method="raking", max_iter=500)
    assert (rake.weights > 0).all()


def test_to_dict_is_json_without_unit_arrays() -> None:
    sample, margins = kenya_sample()
    out = calibrate(sample, margins, method="logit", bounds=(0.3, 3.0)).to_dict()
    text = json.dumps(out)
    assert out["method"] == "logit" and out["bounds"] == [0.3, 3.0]
    assert out["converged"] is True
    assert len(out["diagnostics"]["margins"]) == 6
    assert "weights" not in out and len(text) < 5000


# ---------------------------------------------------------------------------
# errors


def test_inconsistent_grand_totals_name_each_margin_and_total() -> None:
    sample, _ = kenya_sample()
    margins = [Margin(("ward",), {("kimana",): 4200, ("loita",): 3600, ("olkiramatian",): 2200}),
               Margin(("age_group",), {("15-24",): 3900, ("25-34",): 3300, ("35-49",): 2900})]
    with pytest.raises(BadInput) as err:
        calibrate(sample, margins)
    assert err.value.code == "calibration.inconsistent_margins"
    assert "'ward' 10,000" in err.value.message
    assert "'age_group' 10,100" in err.value.message


def test_grand_totals_within_margin_rtol_are_accepted() -> None:
    sample, _ = kenya_sample()
    margins = [Margin(("ward",), {("kimana",): 4200, ("loita",): 3600, ("olkiramatian",): 2200}),
               Margin(("age_group",), {("15-24",): 3900, ("25-34",): 3300,
                                       ("35-49",): 2800.001})]
    cal = calibrate(sample, margins, margin_rtol=1e-6)
    assert cal.diagnostics.max_abs_rel_diff_after < 1e-6


def test_every_category_problem_is_reported_together() -> None:
    sample = pd.DataFrame({
        "ward": ["kimana", "kimana", "loitta", "loitta", "loitta", None],
        "sex": ["female", "male", "female", "male", "femal", "male"],
    })
    margins = [Margin(("ward",), {("kimana",): 6400, ("loita",): 3600}),
               Margin(("sex",), {("female",): 5000, ("male",): 5000})]
    with pytest.raises(BadInput) as err:
        calibrate(sample, margins)
    problems = err.value.problems
    by_code: dict[str, list[str]] = {}
    for p in problems:
        by_code.setdefault(p.code, []).append(p.message)
    assert set(by_code) == {"calibration.missing_value", "calibration.unknown_category",
                            "calibration.missing_category"}
    assert err.value.code == "calibration.missing_value"
    assert "1 unit(s) have no value for calibration variable 'ward'" in by_code[
        "calibration.missing_value"][0]
    unknown = " ".join(by_code["calibration.unknown_category"])
    assert "value 'loitta'" in unknown and "3 unit(s)" in unknown
    assert "value 'femal'" in unknown and "1 unit(s)" in unknown
    assert by_code["calibration.missing_category"] == [
        "margin 'ward': category 'loita' has population 3,600 but no unit in the sample"]
    fields = {p.where.field for p in problems if p.where is not None}
    assert fields == {"ward", "sex"}
    assert err.value.to_dict()["error"]["problems"]


def test_missing_category_alone_has_its_own_code() -> None:
    sample = pd.DataFrame({"ward": ["kimana", "kimana"]})
    with pytest.raises(BadInput) as err:
        calibrate(sample, [Margin(("ward",), {("kimana",): 6400, ("loita",): 3600})])
    assert err.value.code == "calibration.missing_category"
    assert err.value.where is not None and err.value.where.field == "ward"
    assert "'loita' has population 3,600" in err.value.message


def test_units_in_a_category_with_population_zero_are_unknown() -> None:
    sample = pd.DataFrame({"ward": ["kimana", "loita"]})
    with pytest.raises(BadInput) as err:
        calibrate(sample, [Margin(("ward",), {("kimana",): 6400, ("loita",): 0})])
    assert err.value.code == "calibration.unknown_category"


@pytest.mark.parametrize(("kwargs", "text"), [
    ({"method": "poststratify"}, "method 'poststratify'"),
    ({"method": "logit"}, "logit calibration needs finite bounds"),
    ({"method": "logit", "bounds": (1.0, 2.0)}, "L < 1 < U"),
    ({"method": "linear", "bounds": (0.5, 1.0)}, "L < 1 < U"),
    ({"trim": (1.2, None)}, "trim lower bound"),
    ({"trim": (None, 0.9)}, "trim upper bound"),
    ({"design_weights": np.array([1.0, -2.0, 3.0, 1.0])}, "not positive"),
    ({"design_weights": np.array([1.0, 2.0])}, "shape"),
    ({"design_weights": "w"}, "no design weight column 'w'"),
])
def test_invalid_settings(kwargs: dict[str, Any], text: str) -> None:
    sample = pd.DataFrame({"ward": ["a", "a", "b", "b"]})
    with pytest.raises(BadInput) as err:
        calibrate(sample, [Margin(("ward",), {("a",): 5, ("b",): 5})], **kwargs)
    assert err.value.code == "calibration.invalid"
    assert text in err.value.message


def test_a_margin_variable_absent_from_the_sample_is_named() -> None:
    with pytest.raises(BadInput) as err:
        calibrate(pd.DataFrame({"ward": ["a"]}), [Margin(("sex",), {("f",): 5})])
    assert err.value.code == "calibration.invalid"
    assert "no column 'sex'" in err.value.message


# ---------------------------------------------------------------------------
# trimming


def test_trimming_caps_weights_and_keeps_margins() -> None:
    margins = r_margins("apistrat_equal")
    plain = calibrate(APISTRAT, margins)
    mean = plain.weights.mean()
    assert plain.weights.max() > 1.47 * mean
    cal = calibrate(APISTRAT, margins, trim=(None, 1.45))
    assert cal.weights.max() <= 1.45 * mean * (1 + 1e-9)
    assert cal.weights.mean() == pytest.approx(mean)
    assert cal.diagnostics.trimmed == int(np.sum(np.isclose(cal.weights, 1.45 * mean)))
    assert cal.diagnostics.trimmed > 0
    assert cal.diagnostics.max_abs_rel_diff_after < 1e-8
    # (capping the top does not by itself lower Kish's deff: holding the margins pushes
    # other weights down, here from a minimum of 12.6 to 8.9)
    low = calibrate(APISTRAT, margins, trim=(0.45, None))
    assert low.weights.min() >= 0.45 * mean * (1 - 1e-12)
    assert low.diagnostics.trimmed > 0
    assert low.diagnostics.max_abs_rel_diff_after < 1e-8


def test_trimming_that_cannot_keep_the_margins_says_so() -> None:
    with pytest.raises(BadInput) as err:
        calibrate(APISTRAT, r_margins("apistrat_equal"), trim=(0.3, 1.3))
    assert err.value.code == "calibration.not_converged"
    assert "trimming weights to (0.3, 1.3)" in err.value.message
    assert "margins cannot be met" in err.value.message


# ---------------------------------------------------------------------------
# property: random consistent margins with every category present


@st.composite
def problems(draw: st.DrawFn) -> tuple[pd.DataFrame, list[Margin], np.ndarray]:
    """A random sample on two or three variables, with margins some positive weights meet."""
    n_vars = draw(st.integers(2, 3))
    levels = [draw(st.integers(2, 4)) for _ in range(n_vars)]
    n = draw(st.integers(max(levels) + 2, 40))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    cols = {}
    for v, k in enumerate(levels):
        # every category present: each level once, the rest at random
        codes = np.concatenate([np.arange(k), rng.integers(0, k, n - k)])
        cols[f"v{v}"] = np.array([f"c{c}" for c in rng.permutation(codes)])
    sample = pd.DataFrame(cols)
    # margins are the totals of some positive weights, so a positive solution exists
    # (consistent positive margins alone do not guarantee one: raking can be infeasible)
    scale = draw(st.sampled_from([1.0, 100.0, 1e5]))
    true_w = rng.uniform(0.2, 5.0, n) * scale
    margins = []
    for v, k in enumerate(levels):
        col = cols[f"v{v}"]
        margins.append(Margin((f"v{v}",), {(f"c{c}",): float(true_w[col == f"c{c}"].sum())
                                           for c in range(k)}))
    d = rng.uniform(0.5, 3.0, n) * scale
    return sample, margins, d


@settings(max_examples=60, deadline=None)
@given(problems())
def test_raking_and_linear_hit_random_margins(case: tuple[pd.DataFrame, list[Margin],
                                                          np.ndarray]) -> None:
    sample, margins, d = case
    for method in ("raking", "linear"):
        cal = calibrate(sample, margins, method=method, design_weights=d, max_iter=200)
        X, _, totals = model_matrix(sample, margins)
        assert np.max(np.abs(X.T @ cal.weights / totals - 1)) < 1e-8
        if method == "raking":
            assert (cal.weights > 0).all()
            assert cal.converged


# ---------------------------------------------------------------------------
# R-indicator


def test_r_indicator_of_equal_weights_is_one() -> None:
    out = r_indicator(np.full(50, 20.0))
    assert out["R"] == 1.0 and out["S"] == 0.0
    assert out["mean_propensity"] == pytest.approx(0.05)


def test_r_indicator_two_groups_by_hand() -> None:
    # 60 people, 30 in the sample (w = 2, rho = 1/2); 40 people, 10 in the sample (w = 4,
    # rho = 1/4). rho_bar = 40/100 = 0.4; S^2 = (30*2*0.1^2 + 10*4*0.15^2) / 99 = 1.5/99
    w = np.array([2.0] * 30 + [4.0] * 10)
    out = r_indicator(w)
    assert out["mean_propensity"] == pytest.approx(0.4)
    assert out["S"] == pytest.approx(math.sqrt(1.5 / 99))
    assert out["R"] == pytest.approx(1 - 2 * math.sqrt(1.5 / 99))
    # weights known only up to scale give the same R once N is supplied
    scaled = r_indicator(w / w.mean(), population_size=100)
    assert scaled["R"] == pytest.approx(out["R"])


def test_r_indicator_rejects_non_positive_weights() -> None:
    with pytest.raises(BadInput) as err:
        r_indicator(np.array([1.0, 0.0, 2.0]))
    assert err.value.code == "calibration.invalid"
