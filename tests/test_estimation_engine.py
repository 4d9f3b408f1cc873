"""The estimation engine: the SQL cube against the microdata reference, the Kenya demo end to end,
errors and the estimation spec."""

from __future__ import annotations

import io
import shutil
from collections.abc import Iterator, Sequence
from typing import Any

import ibis
import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

from citizendata.errors import BadInput, Conflict, Forbidden, NotFound
from citizendata.projects.estimation import EstimationSpec, WeightingSpec
from citizendata.projects.spec import load_spec
from citizendata.stats.calibrate import Margin, calibrate
from citizendata.stats.cube import (
    TOTAL,
    UNKNOWN,
    CalibrationMoments,
    CubeRequest,
    EstimateOptions,
    cube_estimates,
    cube_sums,
)
from citizendata.stats.indicators import _recalibrator, estimate_indicator, grouping_sets, weigh
from citizendata.stats.variance import domain_estimate
from conftest import demo_copy

# -- a small synthetic survey: women (the sampled units) and their births --------------------

N_WOMEN = 360
WARDS = ["iloodokilani", "magadi", "mosiro", "wamba"]
AGES = ["15-24", "25-34", "35-49"]


def _survey() -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(20260521)
    women = pd.DataFrame({
        "woman": np.arange(1, N_WOMEN + 1),
        "ward": rng.choice(WARDS, N_WOMEN, p=[0.2, 0.3, 0.3, 0.2]),
        "age_group": rng.choice(AGES, N_WOMEN, p=[0.35, 0.4, 0.25]),
        "disability": rng.choice(np.array(["with_disability", "without_disability", None],
                                          dtype=object), N_WOMEN, p=[0.2, 0.72, 0.08]),
        "d": rng.uniform(20, 80, N_WOMEN),  # design weights: women per interviewed woman
        "age": rng.integers(15, 50, N_WOMEN).astype(float),
        "visited": (rng.random(N_WOMEN) < 0.55).astype(float),
    })
    n_births = rng.integers(0, 4, N_WOMEN)  # 0–3 births each; about a quarter have none
    births = pd.DataFrame({"woman": np.repeat(women["woman"].to_numpy(), n_births)})
    nb = len(births)
    births["child_sex"] = rng.choice(["female", "male"], nb)
    births["skilled"] = (rng.random(nb) < 0.6).astype(float)
    births["distance_km"] = rng.gamma(2.0, 8.0, nb).round(1)
    return women, births


WOMEN, BIRTHS = _survey()
CAL_MARGINS = [
    Margin(("ward",), {"iloodokilani": 4100.0, "magadi": 5600.0, "mosiro": 5900.0, "wamba": 4400.0}),
    Margin(("age_group",), {"15-24": 7600.0, "25-34": 7200.0, "35-49": 5200.0}),
]


@pytest.fixture(scope="module")
def con() -> ibis.BaseBackend:
    return ibis.duckdb.connect()


@pytest.fixture(scope="module")
def calibrated() -> tuple[np.ndarray, np.ndarray, list[tuple[str, str]]]:
    """Calibrated weights of the women, the model matrix and its (frame column, category)s."""
    cal = calibrate(WOMEN[["ward", "age_group"]], CAL_MARGINS, design_weights=WOMEN["d"].to_numpy())
    # as weigh() builds them: one frame column _cal_i per margin holding the unit's category
    columns = [(f"_cal_{i}", "|".join(c)) for i, m in enumerate(CAL_MARGINS) for c in m.totals]
    X = np.column_stack([(WOMEN[m.variables[0]].to_numpy() == cat).astype(float)
                         for m in CAL_MARGINS for (cat,) in m.totals])
    np.testing.assert_array_equal(X, cal.X)
    return np.asarray(cal.weights, float), X, columns


def _frame(con: ibis.BaseBackend, rows: pd.DataFrame, dims: Sequence[str], y: np.ndarray,
           z: np.ndarray, w: np.ndarray, d: np.ndarray) -> Any:
    """The engine's input: _psu, the dimensions as text, _y, _z, _w, _d and _cal_i columns."""
    df = pd.DataFrame({"_psu": rows["woman"].to_numpy()})
    for c in dims:
        df[c] = rows[c].astype(object).where(rows[c].notna(), None).to_numpy()
    df["_cal_0"], df["_cal_1"] = rows["ward"].to_numpy(), rows["age_group"].to_numpy()
    df["_y"], df["_z"], df["_w"], df["_d"] = y, z, w, d
    name = f"f{abs(hash((tuple(dims), len(df), float(np.sum(y)), float(np.sum(w))))) % 10**9}"
    return con.create_table(name, df, overwrite=True)


def _mask(rows: pd.DataFrame, cell: pd.Series, dims: Sequence[str]) -> np.ndarray:
    """The rows in a cell of the cube (TOTAL: any value; UNKNOWN: a missing value)."""
    m = np.ones(len(rows), dtype=bool)
    for c in dims:
        v = cell[c]
        if v == TOTAL:
            continue
        m &= rows[c].isna().to_numpy() if v == UNKNOWN else (rows[c] == v).to_numpy()
    return m


def _births_with_mothers() -> pd.DataFrame:
    return BIRTHS.merge(WOMEN, on="woman", how="left", validate="many_to_one")


def _per_woman(values: np.ndarray, in_cell: np.ndarray) -> np.ndarray:
    """Each woman's total over her births in the cell (0 for a woman without any there)."""
    s = pd.Series(np.where(in_cell, values, 0.0)).groupby(BIRTHS["woman"].to_numpy()).sum()
    return s.reindex(WOMEN["woman"].to_numpy(), fill_value=0.0).to_numpy(float)


def _close(got: np.ndarray, want: np.ndarray, scale: float) -> None:
    np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-12 * scale)


def _close_se(got: np.ndarray, want: np.ndarray, scale: float) -> None:
    """SEs to 1e-9 relative, compared as variances: where the true variance is 0 (a calibrated
    count of a calibration category) the sums-of-squares formula leaves rounding noise of
    about 1e-16 of the squared scale, which the square root inflates to ~1e-9 of the scale."""
    np.testing.assert_allclose(np.square(got), np.square(want), rtol=2e-9,
                               atol=1e-13 * scale**2)


def test_women_weighted_cube_matches_microdata(con: ibis.BaseBackend) -> None:
    """(i) unit = woman (the PSU), design weights, no calibration, the full cube."""
    dims = ["ward", "age_group", "disability"]
    w = WOMEN["d"].to_numpy()
    y = WOMEN["visited"].to_numpy()
    t = _frame(con, WOMEN, dims, y, np.ones(N_WOMEN), w, w)
    sums = cube_sums(t, CubeRequest(dims=dims))
    est = cube_estimates(sums, dims, EstimateOptions(kind="proportion", n_design=N_WOMEN))
    # the full cube: every combination of present values and totals, and nothing else
    levels = [set(WOMEN[c].fillna(UNKNOWN)) | {TOTAL} for c in dims]
    assert all(set(est[c]) == lv for c, lv in zip(dims, levels, strict=True))
    assert len(est) == len(est.drop_duplicates(dims))
    assert (est["ci_method"] == "logit").all() and (est["variance_method"] == "linearisation").all()
    assert UNKNOWN in set(est["disability"])
    ref_v, ref_se, ref_n = [], [], []
    for _, cell in est.iterrows():
        r = domain_estimate("proportion", y, weights=w, domain=_mask(WOMEN, cell, dims),
                            cluster=WOMEN["woman"].to_numpy())
        ref_v.append(r.value)
        ref_se.append(r.se)
        ref_n.append(r.n)
    _close(est["value"].to_numpy(), np.array(ref_v), 1)
    _close_se(est["se"].to_numpy(), np.array(ref_se), 1)
    np.testing.assert_array_equal(est["n"].to_numpy(), ref_n)
    np.testing.assert_array_equal(est["n"], est["n_psu"])
    grand = est[(est[dims] == TOTAL).all(axis=1)].iloc[0]
    assert grand["n"] == N_WOMEN and grand["weighted_n"] == pytest.approx(w.sum(), rel=1e-12)


def _births_check(con: ibis.BaseBackend, dims: list[str], sets: list[tuple[str, ...]] | None,
                  kind: str, values: np.ndarray, w_women: np.ndarray, d_women: np.ndarray,
                  cal: tuple[np.ndarray, list[tuple[str, str]]] | None = None) -> pd.DataFrame:
    """Cube estimates over births against domain_estimate on the women's cluster totals.

    The births are units within the women (the PSUs). The reference is the ratio of each
    woman's totals over her births in the cell (y: the variable, z: the number of births)
    with one row per woman of the design, so women without births (or none in the cell)
    are there with y = z = 0 and the n/(n-1) factor uses every PSU, as n_design does.
    """
    b = _births_with_mothers()
    wb = pd.Series(w_women, index=WOMEN["woman"]).loc[b["woman"]].to_numpy()
    db = pd.Series(d_women, index=WOMEN["woman"]).loc[b["woman"]].to_numpy()
    z = np.ones(len(b))
    y = values if kind != "count" else z
    t = _frame(con, b, dims, y, z, wb, db)
    psu_level = {"ward", "age_group", "disability"}
    req = CubeRequest(dims=dims, sets=sets, unit_is_psu=False, psu_level=psu_level)
    moments = None
    if cal is not None:
        X, columns = cal
        moments = CalibrationMoments.from_arrays(X, d_women, w_women, columns)
    sums = cube_sums(t, req, moments)
    est = cube_estimates(sums, dims, EstimateOptions(kind=kind, n_design=N_WOMEN,
                                                     unit_is_psu=False), moments)
    extra: dict[str, Any] = {}
    if cal is not None:
        extra = {"X": cal[0], "d": d_women}
    ref_v, ref_se = [], []
    for _, cell in est.iterrows():
        in_cell = _mask(b, cell, dims)
        yi, zi = _per_woman(y, in_cell), _per_woman(z, in_cell)
        ref_kind = {"proportion": "ratio", "mean": "ratio", "total": "total", "count": "total"}[kind]
        r = domain_estimate(ref_kind, zi if kind == "count" else yi,
                            zi if ref_kind == "ratio" else None, weights=w_women,
                            cluster=WOMEN["woman"].to_numpy(), **extra)
        ref_v.append(r.value)
        ref_se.append(r.se)
        assert cell["n"] == in_cell.sum()
        assert cell["n_psu"] == np.count_nonzero(zi)
    scale = float(np.nanmax(np.abs(ref_v)))
    _close(est["value"].to_numpy(), np.array(ref_v), scale)
    _close_se(est["se"].to_numpy(), np.array(ref_se), scale)
    expected_method = "linearisation+calibration" if cal is not None else "linearisation"
    assert (est["variance_method"] == expected_method).all()
    return est


def test_births_within_women_with_woman_level_dims(con: ibis.BaseBackend) -> None:
    """(ii) units = births, dimensions of the mother: one pass of GROUPING SETS."""
    dims, sets = grouping_sets([["ward", "disability"], ["age_group"]])
    w = WOMEN["d"].to_numpy()
    est = _births_check(con, dims, sets, "proportion", _births_with_mothers()["skilled"].to_numpy(),
                        w, w)
    assert {tuple(c for c in dims if r[c] != TOTAL) for _, r in est.iterrows()} == set(sets)


def test_births_reference_with_birth_rows_agrees(con: ibis.BaseBackend) -> None:
    """(ii) again, with the reference on birth rows clustered by mother (R's svyciprop way).

    Women without births must be in the reference as clusters (a row with y = 0 outside
    every domain): leaving them out changes the with-replacement factor n/(n-1) from the
    design's 360 PSUs to the women with a birth.
    """
    dims = ["ward"]
    b = _births_with_mothers()
    y = b["skilled"].to_numpy()
    t = _frame(con, b, dims, y, np.ones(len(b)), b["d"].to_numpy(), b["d"].to_numpy())
    est = cube_estimates(
        cube_sums(t, CubeRequest(dims=dims, unit_is_psu=False, psu_level={"ward"})), dims,
        EstimateOptions(kind="proportion", n_design=N_WOMEN, unit_is_psu=False))
    childless = WOMEN[~WOMEN["woman"].isin(BIRTHS["woman"])]
    assert len(childless) > 20
    ref_y = np.r_[y, np.zeros(len(childless))]
    ref_w = np.r_[b["d"].to_numpy(), childless["d"].to_numpy()]
    ref_cluster = np.r_[b["woman"].to_numpy(), childless["woman"].to_numpy()]
    ref_ward = np.r_[b["ward"].to_numpy(), childless["ward"].to_numpy()]
    in_births = np.r_[np.ones(len(b), bool), np.zeros(len(childless), bool)]
    m_with = BIRTHS["woman"].nunique()
    for _, cell in est.iterrows():
        dom = in_births & ((ref_ward == cell["ward"]) | (cell["ward"] == TOTAL))
        r = domain_estimate("proportion", ref_y, weights=ref_w, domain=dom, cluster=ref_cluster)
        _close(np.array([cell["value"], cell["se"]]), np.array([r.value, r.se]), 1)
        assert cell["n"] == r.n
        # without the childless women the SE is off by exactly the with-replacement factor
        short = domain_estimate("proportion", y, weights=b["d"].to_numpy(),
                                domain=dom[: len(b)], cluster=b["woman"].to_numpy())
        factor = (N_WOMEN / (N_WOMEN - 1)) / (m_with / (m_with - 1))
        assert r.se**2 == pytest.approx(short.se**2 * factor, rel=1e-9)


def test_births_with_a_birth_level_dimension(con: ibis.BaseBackend) -> None:
    """(iii) child sex splits a woman's births between cells: the per-grouping-set path."""
    w = WOMEN["d"].to_numpy()
    y = _births_with_mothers()["skilled"].to_numpy()
    dims, sets = grouping_sets([["ward", "child_sex"], ["disability"]])
    est = _births_check(con, dims, sets, "proportion", y, w, w)
    assert {tuple(c for c in dims if r[c] != TOTAL) for _, r in est.iterrows()} == set(sets)
    # the full cube too (sets=None)
    est = _births_check(con, ["age_group", "child_sex"], None, "proportion", y, w, w)
    assert len(est) == (len(AGES) + 1) * 3


def test_calibrated_women_match_microdata(con: ibis.BaseBackend, calibrated: Any) -> None:
    """(iv) women calibrated to ward and age margins: the GREG residual variance."""
    w, X, columns = calibrated
    d = WOMEN["d"].to_numpy()
    dims = ["ward", "age_group", "disability"]
    y = WOMEN["visited"].to_numpy()
    t = _frame(con, WOMEN, dims, y, np.ones(N_WOMEN), w, d)
    moments = CalibrationMoments.from_arrays(X, d, w, columns)
    est = cube_estimates(cube_sums(t, CubeRequest(dims=dims), moments), dims,
                         EstimateOptions(kind="proportion", n_design=N_WOMEN), moments)
    assert (est["variance_method"] == "linearisation+calibration").all()
    ref_v, ref_se = [], []
    for _, cell in est.iterrows():
        r = domain_estimate("proportion", y, weights=w, domain=_mask(WOMEN, cell, dims),
                            cluster=WOMEN["woman"].to_numpy(), X=X, d=d)
        ref_v.append(r.value)
        ref_se.append(r.se)
    _close(est["value"].to_numpy(), np.array(ref_v), 1)
    _close_se(est["se"].to_numpy(), np.array(ref_se), 1)
    # the same weights without the moments: same values, but the SEs lose the GREG adjustment
    plain = cube_estimates(cube_sums(t, CubeRequest(dims=dims)), dims,
                           EstimateOptions(kind="proportion", n_design=N_WOMEN))
    both = est.merge(plain, on=dims, suffixes=("", "_plain"), validate="one_to_one")
    assert len(both) == len(est)
    _close(both["value_plain"].to_numpy(), both["value"].to_numpy(), 1)
    assert not np.allclose(both["se_plain"], both["se"], rtol=1e-3)
    grand = (est[dims] == TOTAL).all(axis=1)
    assert est.loc[grand, "weighted_n"].iloc[0] == pytest.approx(20000.0, rel=1e-9)


def test_calibrated_births_match_microdata(con: ibis.BaseBackend, calibrated: Any) -> None:
    """(iv) births of calibrated women, with woman- and birth-level dimensions.

    The GREG regression is over the calibrated units (women, each once, on her totals),
    so the reference is the women's cluster totals with the women's X and d.
    """
    w, X, columns = calibrated
    d = WOMEN["d"].to_numpy()
    y = _births_with_mothers()["skilled"].to_numpy()
    dims, sets = grouping_sets([["ward", "disability"], ["age_group"]])
    _births_check(con, dims, sets, "proportion", y, w, d, (X, columns))
    dims, sets = grouping_sets([["ward", "child_sex"]])
    _births_check(con, dims, sets, "proportion", y, w, d, (X, columns))


@pytest.mark.parametrize("kind", ["mean", "total", "count"])
def test_other_kinds_over_births(con: ibis.BaseBackend, calibrated: Any, kind: str) -> None:
    """(v) mean distance, total distance and the number of births, calibrated and not."""
    w, X, columns = calibrated
    d = WOMEN["d"].to_numpy()
    km = _births_with_mothers()["distance_km"].to_numpy()
    dims, sets = grouping_sets([["ward", "child_sex"], ["disability"]])
    est = _births_check(con, dims, sets, kind, km, d, d)
    if kind == "mean":
        assert (est["ci_method"] == "wald").all()
        z = 1.959963984540054
        _close(est["ci_low"].to_numpy(), (est["value"] - z * est["se"]).to_numpy(), 100)
    _births_check(con, dims, sets, kind, km, w, d, (X, columns))


@pytest.mark.parametrize("kind", ["mean", "total", "count"])
def test_other_kinds_over_women(con: ibis.BaseBackend, calibrated: Any, kind: str) -> None:
    """(v) the women's mean age, total age and weighted number of women, calibrated."""
    w, X, columns = calibrated
    d = WOMEN["d"].to_numpy()
    dims = ["ward", "disability"]
    age = WOMEN["age"].to_numpy()
    t = _frame(con, WOMEN, dims, age, np.ones(N_WOMEN), w, d)
    moments = CalibrationMoments.from_arrays(X, d, w, columns)
    est = cube_estimates(cube_sums(t, CubeRequest(dims=dims), moments), dims,
                         EstimateOptions(kind=kind, n_design=N_WOMEN), moments)
    ref_v, ref_se = [], []
    for _, cell in est.iterrows():
        r = domain_estimate(kind, age, weights=w, domain=_mask(WOMEN, cell, dims),
                            cluster=WOMEN["woman"].to_numpy(), X=X, d=d)
        ref_v.append(r.value)
        ref_se.append(r.se)
    scale = float(np.max(np.abs(ref_v)))
    _close(est["value"].to_numpy(), np.array(ref_v), scale)
    _close_se(est["se"].to_numpy(), np.array(ref_se), scale)
    if kind == "count":
        # a calibrated count of a calibration category is the census figure, with no error
        ward_cells = est[(est["ward"] != TOTAL) & (est["disability"] == TOTAL)]
        for _, cell in ward_cells.iterrows():
            assert cell["value"] == pytest.approx(CAL_MARGINS[0].totals[(cell["ward"],)], rel=1e-8)
            assert cell["se"] < 1e-6 * cell["value"]


def test_inconsistent_margins_are_refused() -> None:
    # one reference table gives margins with the same grand total; margins from two
    # sources need not, and calibration names both totals
    margins = [CAL_MARGINS[0], Margin(("age_group",), {"15-24": 7600.0, "25-34": 7200.0,
                                                       "35-49": 5300.0})]
    with pytest.raises(BadInput) as err:
        calibrate(WOMEN[["ward", "age_group"]], margins, design_weights=WOMEN["d"].to_numpy())
    assert err.value.code == "calibration.inconsistent_margins"
    assert "20,000" in err.value.message and "20,100" in err.value.message


def test_bootstrap_recalibration_reads_the_reference_as_weigh_does() -> None:
    spec = WeightingSpec(reference="census", margins=[["ward"], ["age"]],
                         rename={"age": "age_band"}, filter={"age_band": AGES})
    rows = [(w, a, pop / 3) for (w,), pop in CAL_MARGINS[0].totals.items() for a in AGES]
    ref = pd.DataFrame([*rows, ("wamba", "50-64", 900.0)],
                       columns=["ward", "age_band", "population"])
    units = pd.DataFrame({"_psu": WOMEN["woman"], "ward": WOMEN["ward"],
                          "age": WOMEN["age_group"]})
    weights, _, _ = weigh(units, spec, ref)
    again = _recalibrator(units, spec, ref)(weights["_d"].to_numpy(float))
    np.testing.assert_allclose(again, weights["_w"].to_numpy(float), rtol=1e-8)


# -- grouping sets ---------------------------------------------------------------------------


def test_grouping_sets_of_two_disaggregations() -> None:
    dims, sets = grouping_sets([["a", "b"], ["c"]])
    assert dims == ["a", "b", "c"]
    assert sorted(sets) == sorted([("a", "b"), ("a",), ("b",), ("c",), ()])
    assert len(sets) == 5


def test_grouping_sets_shared_dimension_and_order() -> None:
    dims, sets = grouping_sets([["sex", "disability"], ["disability", "ward"]])
    assert dims == ["sex", "disability", "ward"]
    assert set(sets) == {("sex", "disability"), ("disability", "ward"), ("sex",), ("disability",),
                         ("ward",), ()}
    assert len(sets) == 6
    assert grouping_sets([]) == ([], [()])


# -- Kenya maternal health, end to end -------------------------------------------------------

SLUG, FORM = "kenya-maternal-health", "kenya_maternal_health"
SBA_DIMS = ["disability", "age_group", "ward", "county_of_ward"]


@pytest.fixture(scope="module")
def kenya(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """The demo workspace with 1,500 submissions, its references and a first estimate
    (a copy of the run's one build: test_validation_kenya uses the same)."""
    ws = demo_copy(tmp_path_factory, 1500)
    yield ws
    ws.close()
    shutil.rmtree(ws.settings.workspace, ignore_errors=True)


@pytest.fixture(scope="module")
def analyst(kenya: Any) -> Any:
    return kenya.as_user("wanjiru")


@pytest.fixture(scope="module")
def owner(kenya: Any) -> Any:
    return kenya.as_user("naserian")


@pytest.fixture(scope="module")
def sba(owner: Any) -> Any:
    # the numbers themselves: the owner's unprotected table (protection is tested below)
    return owner.estimate(SLUG, "sba", protect=False)


def _geography() -> pd.DataFrame:
    from citizendata.scenarios.kenya_maternal_health.geography import geography_csv

    return pd.read_csv(io.BytesIO(geography_csv()), dtype=str)


def _only(table: pd.DataFrame, dims: Sequence[str], *broken_down: str) -> pd.DataFrame:
    """Cells broken down by exactly the given dimensions (every other one at its total)."""
    m = np.ones(len(table), dtype=bool)
    for d in dims:
        m &= ((table[d] != TOTAL) if d in broken_down else (table[d] == TOTAL)).to_numpy()
    return table[m]


def test_sba_table_shape(sba: Any) -> None:
    t = sba.table
    for col in ["indicator", "series", *SBA_DIMS, "value", "se", "ci_low", "ci_high", "cv", "n",
                "flag"]:
        assert col in t.columns, col
    assert sba.dims == SBA_DIMS
    assert (t["indicator"] == "sba").all() and (t["series"] == "SH_STA_BRTC").all()
    grand = _only(t, SBA_DIMS)
    assert len(grand) == 1
    assert sba.total()["value"] == grand["value"].iloc[0]
    # totals are _T and the county roll-up only appears with every other dimension at _T
    counties = t[t["county_of_ward"] != TOTAL]
    assert (counties[["disability", "age_group", "ward"]] == TOTAL).all().all()
    assert set(counties["county_of_ward"]) <= set(_geography()["county"]) | {UNKNOWN}


def test_sba_values_intervals_and_flags(sba: Any) -> None:
    t = sba.table
    assert t["value"].between(0, 100).all()
    assert (t["ci_low"] <= t["value"] + 1e-9).all() and (t["value"] <= t["ci_high"] + 1e-9).all()
    assert t["ci_low"].ge(0).all() and t["ci_high"].le(100).all()
    np.testing.assert_array_equal(t["flag"] == "low_n", t["n"] < 30)
    assert set(t["flag"]) <= {"", "low_n", "caution", "unreliable"}
    big = t[t["n"] >= 30]
    np.testing.assert_array_equal(big["flag"] == "unreliable", big["cv"] > 0.30)
    assert (t["variance_method"] == "linearisation+calibration").all()


def test_sba_county_cells_are_a_rollup_of_the_wards(sba: Any) -> None:
    t = sba.table
    county_of = dict(zip(_geography()["ward"], _geography()["county"], strict=False))
    wards = _only(t, SBA_DIMS, "ward")
    assert len(wards) >= 5 and UNKNOWN not in set(wards["ward"])
    rolled = wards.assign(county=wards["ward"].map(county_of)).groupby("county")[
        ["weighted_n", "n"]].sum()
    counties = t[t["county_of_ward"] != TOTAL].set_index("county_of_ward")
    assert set(rolled.index) == set(counties.index)
    for c, row in rolled.iterrows():
        assert counties.loc[c, "weighted_n"] == pytest.approx(row["weighted_n"], rel=1e-9)
        assert counties.loc[c, "n"] == row["n"]


def test_sba_total_against_the_population_truth(kenya: Any, analyst: Any, sba: Any) -> None:
    from citizendata.scenarios.kenya_maternal_health import generate

    truth = generate(1500).truth["overall"] * 100
    total = sba.total()
    assert total["ci_low"] <= truth <= total["ci_high"]
    # the unweighted estimate of the same births: the same indicator, weighted=False
    spec = analyst.estimation_spec(SLUG)
    ind = spec.indicator("sba").model_copy(update={"weighted": False})
    snap = analyst.open_snapshot(SLUG, FORM)
    plain = estimate_indicator(snap, spec, ind, statuses=("approved",),
                               references={"geography": _geography()}, disaggregations=[])
    unweighted = plain.total()
    assert unweighted["variance_method"] == "linearisation" and unweighted["ci_method"] == "wilson"
    # One fixed draw (the scenario's default seed), so this is deterministic: the sample
    # over-represents wards near facilities and calibration to the census margins moves the
    # estimate towards the truth (here ~58.3 weighted and ~66.4 unweighted against ~60.1).
    # A different seed could in principle reverse it; the robust part is the CI coverage above.
    assert abs(total["value"] - truth) < abs(unweighted["value"] - truth)


def test_sba_coherence_and_provenance(sba: Any) -> None:
    coh = sba.coherence
    assert coh is not None
    assert coh["benchmark"] == 89.0
    assert coh["difference"] == pytest.approx(sba.total()["value"] - 89.0, rel=1e-12)
    assert coh["estimate_se"] == pytest.approx(sba.total()["se"], rel=1e-12)
    assert coh["ci_low"] <= coh["difference"] <= coh["ci_high"]
    assert set(sba.provenance["references"]) == {"census_margins", "geography", "dhs_births",
                                               "ward_covariates"}
    assert sba.weighting is not None and sba.weighting["reference"] == "census_margins"


def test_sba_run_is_stored_and_audited(analyst: Any, owner: Any, sba: Any) -> None:
    # the owner's unprotected run is never stored; the analyst's protected one is
    assert "run" not in sba.provenance
    kept = analyst.estimate(SLUG, "sba", disaggregations=[["ward"]])
    runs = analyst.estimate_runs(SLUG, indicator="sba")
    assert kept.provenance["run"] in {r["id"] for r in runs}
    mine = next(r for r in runs if r["id"] == kept.provenance["run"])
    assert mine["actor"] == "wanjiru"
    assert mine["result"]["total"]["value"] == pytest.approx(sba.total()["value"])
    assert mine["result"]["protection"]["cells"] == len(kept.table)
    events = [e for e in owner.audit_log(SLUG, limit=1000) if e["action"] == "estimate.run"]
    assert any(e["details"]["run"] == kept.provenance["run"] for e in events)
    assert all(e["object_id"] in {"sba", "wg_disability", "distance"} for e in events)


def test_sba_by_ward_only(owner: Any, sba: Any) -> None:
    r = owner.estimate(SLUG, "sba", disaggregations=[["ward"]], store=False, protect=False)
    assert r.dims == ["ward"]
    assert not set(SBA_DIMS[:2] + SBA_DIMS[3:]) & set(r.table.columns)
    full_wards = pd.concat([_only(sba.table, SBA_DIMS, "ward"), _only(sba.table, SBA_DIMS)])
    assert set(r.table["ward"]) == set(full_wards["ward"])
    assert len(r.table) == len(full_wards) == r.table["ward"].nunique()
    assert r.table["ward"].iloc[0] == TOTAL  # totals first
    # the same cells as in the full cube
    merged = r.table.merge(full_wards, on="ward", suffixes=("", "_full"))
    np.testing.assert_allclose(merged["value"], merged["value_full"], rtol=1e-10)
    np.testing.assert_allclose(merged["se"], merged["se_full"], rtol=1e-10)


def test_other_kenya_indicators(owner: Any) -> None:
    wg = owner.estimate(SLUG, "wg_disability", store=False, protect=False)
    assert wg.dims == ["age_group", "county_of_ward"]
    assert wg.table["value"].between(0, 100).all()
    assert wg.total()["n"] == wg.total()["n_psu"]  # one unit per woman
    dist = owner.estimate(SLUG, "distance", store=False, protect=False)
    assert dist.dims == ["county_of_ward", "disability"]
    assert (dist.table["ci_method"] == "wald").all()
    t = dist.table
    np.testing.assert_allclose(t["ci_high"] - t["value"], t["value"] - t["ci_low"], rtol=1e-9)
    assert (t["value"] > 0).all() and dist.coherence is None


def test_bootstrap_se_close_to_linearised(analyst: Any, sba: Any) -> None:
    boot = analyst.estimate(SLUG, "sba", disaggregations=[], variance="bootstrap",
                            replicates=50, store=False)
    total = boot.total()
    assert total["variance_method"] == "bootstrap(50)"
    assert total["value"] == pytest.approx(sba.total()["value"], rel=1e-10)
    ratio = total["se"] / sba.total()["se"]
    assert 1 / 1.5 < ratio < 1.5
    assert boot.provenance["replicates"] == 50


# -- errors ----------------------------------------------------------------------------------


def test_unknown_indicator(analyst: Any) -> None:
    with pytest.raises(NotFound) as err:
        analyst.estimate(SLUG, "mmr")
    assert err.value.code == "indicator.unknown"
    assert "sba" in err.value.message  # names the declared ones


def test_unknown_dimension(owner: Any) -> None:
    with pytest.raises(BadInput) as err:
        owner.estimate(SLUG, "sba", disaggregations=[["ward", "religion"]], store=False)
    assert err.value.code == "indicator.unknown_dimension"
    assert "religion" in err.value.message
    assert err.value.where is not None and err.value.where.field == "religion"


def test_an_analyst_gets_only_tables_the_project_declares(analyst: Any) -> None:
    # tables protected one by one could be differenced against the declared ones
    with pytest.raises(Forbidden) as err:
        analyst.estimate(SLUG, "sba", disaggregations=[["ward", "age_group"], ["county_of_ward",
                                                                             "disability"]],
                         store=False)
    assert err.value.code == "privacy.undeclared_table"
    # a part of the declared cube is cut from the same pattern as the whole
    whole = analyst.estimate(SLUG, "sba", store=False).table
    part = analyst.estimate(SLUG, "sba", disaggregations=[["age_group", "ward"]],
                            store=False).table
    whole = whole[(whole["disability"] == "_T") & (whole["county_of_ward"] == "_T")]
    both = part.merge(whole, on=["age_group", "ward"], suffixes=("", "_whole"))
    assert len(both) == len(part) > 20
    assert (both["conf_status"] == both["conf_status_whole"]).all()


def test_collector_cannot_estimate(kenya: Any) -> None:
    with pytest.raises(Forbidden):
        kenya.as_user("lekishon").estimate(SLUG, "sba", store=False)


def test_reference_table_conflict_and_idempotence(owner: Any) -> None:
    table = b"ward,population\nkimana,10\nmagadi,20\n"
    first = owner.add_reference_table(SLUG, "extra_counts", table, kind="margins")
    again = owner.add_reference_table(SLUG, "extra_counts", table, kind="margins")
    assert again["sha256"] == first["sha256"]
    with pytest.raises(Conflict) as err:
        owner.add_reference_table(SLUG, "extra_counts", b"ward,population\nkimana,11\n",
                                  kind="margins")
    assert err.value.code == "conflict.exists"
    replaced = owner.add_reference_table(SLUG, "extra_counts", b"ward,population\nkimana,11\n",
                                         kind="margins", replace=True)
    assert replaced["sha256"] != first["sha256"] and replaced["rows"] == 1


@pytest.fixture
def respec(owner: Any) -> Iterator[Any]:
    """Change the project's estimation spec for one test, then put the demo's back."""
    from citizendata.demo import kenya_spec

    original = kenya_spec()

    def change(**estimation: Any) -> None:
        est = original.estimation.model_dump(mode="json")
        est.update(estimation)
        owner.update_project(original.model_copy(
            update={"estimation": EstimationSpec.model_validate(est)}))

    yield change
    owner.update_project(original)


def test_numerator_reading_an_unknown_field(analyst: Any, respec: Any) -> None:
    from citizendata.scenarios.kenya_maternal_health import project as kp

    broken = {"id": "broken", "form": FORM, "unit": "births", "kind": "proportion",
              "numerator": "${nope} = 'yes'"}
    respec(indicators=[*kp.ESTIMATION["indicators"], broken])
    with pytest.raises(BadInput) as err:
        analyst.estimate(SLUG, "broken", store=False)
    assert err.value.code == "expr.unknown_field"
    assert "nope" in err.value.message


def _margins_with(extra: pd.DataFrame) -> bytes:
    from citizendata.scenarios.kenya_maternal_health import generate

    m = pd.concat([generate(1500).margins, extra], ignore_index=True)
    return m.to_csv(index=False, lineterminator="\n").encode()


def _weighting(reference: str) -> dict[str, Any]:
    from citizendata.scenarios.kenya_maternal_health import project as kp

    w = dict(kp.ESTIMATION["weighting"][FORM])
    return {FORM: {**w, "reference": reference}}


def test_ward_of_the_census_missing_from_the_sample(analyst: Any, owner: Any,
                                                    respec: Any) -> None:
    extra = pd.DataFrame({"ward": ["nowhere"], "sex": ["female"], "age_group": ["20-24"],
                          "population": [500]})
    owner.add_reference_table(SLUG, "census_extra_ward", _margins_with(extra), kind="margins",
                              replace=True)
    respec(weighting=_weighting("census_extra_ward"))
    with pytest.raises(BadInput) as err:
        analyst.estimate(SLUG, "sba", disaggregations=[], store=False)
    assert err.value.code == "calibration.missing_category"
    assert "nowhere" in err.value.message


def test_ward_of_the_sample_missing_from_the_census(analyst: Any, owner: Any,
                                                    respec: Any) -> None:
    from citizendata.scenarios.kenya_maternal_health import generate

    m = generate(1500).margins
    dropped = sorted(m["ward"].unique())[0]
    table = m[m["ward"] != dropped].to_csv(index=False, lineterminator="\n").encode()
    owner.add_reference_table(SLUG, "census_no_ward", table, kind="margins", replace=True)
    respec(weighting=_weighting("census_no_ward"))
    with pytest.raises(BadInput) as err:
        analyst.estimate(SLUG, "sba", disaggregations=[], store=False)
    assert err.value.code == "calibration.unknown_category"
    assert dropped in err.value.message


def test_spec_restored_after_changes(analyst: Any, sba: Any) -> None:
    again = analyst.estimate(SLUG, "sba", disaggregations=[], store=False)
    assert again.total()["value"] == pytest.approx(sba.total()["value"], rel=1e-12)


# -- the estimation spec ---------------------------------------------------------------------

WG_FIELDS = {"seeing": "s", "hearing": "h", "walking": "w", "cognition": "c", "selfcare": "sc",
             "communication": "cm"}
SBA = {"id": "sba", "form": FORM, "unit": "births", "kind": "proportion",
       "numerator": "${skilled} = 'yes'"}


@pytest.mark.parametrize("estimation, words", [
    ({"indicators": [SBA, {**SBA, "name": "again"}]}, "unique"),
    ({"indicators": [{**SBA, "kind": "ratio"}]}, "denominator"),
    ({"derived": {"dis": {"kind": "washington_group",
                          "fields": {k: v for k, v in WG_FIELDS.items() if k != "walking"}}}},
     "walking"),
    ({"derived": {"ages": {"kind": "age_group", "field": "age", "scheme": "decades"}}},
     "decades"),
    ({"derived": {"county": {"kind": "rollup", "field": "ward", "level": "county"}}},
     "geography"),
    ({"derived": {"ages": {"kind": "age_group", "field": "age", "scheme": "custom",
                           "breaks": [18, 0, 60]}}}, "breaks"),
    ({"indicators": [{**SBA, "id": "3.1.2"}]}, "letters"),
    ({"weighting": {FORM: {"reference": "census", "margins": []}}}, "margin"),
])
def test_estimation_spec_refuses(estimation: dict[str, Any], words: str) -> None:
    with pytest.raises(ValidationError) as err:
        EstimationSpec.model_validate(estimation)
    assert words in str(err.value)
    project = {"slug": "p", "name": "P", "initiator": {"slug": "cso", "name": "CSO"},
               "purpose": "Testing", "consent_basis": "verbal",
               "integration_intent": "publish_alongside", "estimation": estimation}
    with pytest.raises(BadInput) as bad:
        load_spec(project)
    assert bad.value.code == "input.invalid"


def test_estimation_spec_accepts_the_kenya_one() -> None:
    from citizendata.scenarios.kenya_maternal_health import project as kp

    spec = EstimationSpec.model_validate(kp.ESTIMATION)
    assert [i.id for i in spec.indicators] == ["sba", "wg_disability", "distance"]
    assert spec.derived["age_group"].age_breaks() == ((15, 20, 25, 30, 35, 40, 45), 50)
    assert spec.derived["disability"].identifier == "DISABILITY3"


def test_the_analyst_gets_the_protected_sba_table(analyst: Any, sba: Any) -> None:
    r = analyst.estimate(SLUG, "sba", store=False)
    t = r.table
    assert len(t) == len(sba.table) and list(t["ward"]) == list(sba.table["ward"])
    shown = t["conf_status"] == "F"
    # births are the unit: the threshold counts births, and no published cell is below it
    assert (t.loc[shown, "n"] >= 5).all()
    assert t.loc[~shown, ["value", "se", "n"]].isna().all().all()
    # one flag: the analyst cannot tell the small cells from those that hide them
    assert set(t["conf_status"]) == {"F", "C"} and r.protection_detail is None
    assert r.total()["value"] == pytest.approx(sba.total()["value"])
    assert r.protection is not None and r.protection["hierarchies"] == ["ward"]
