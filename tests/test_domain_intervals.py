"""domain_estimate and the cube give the same interval for the same data, also at p = 0 and 1."""

from __future__ import annotations

from typing import Any

import ibis
import numpy as np
import pandas as pd
import pytest

from citizendata.stats.calibrate import Margin, calibrate
from citizendata.stats.cube import (
    TOTAL,
    CalibrationMoments,
    CubeRequest,
    EstimateOptions,
    cube_estimates,
    cube_sums,
)
from citizendata.stats.variance import domain_estimate, wilson_interval

N = 240
rng = np.random.default_rng(18)
UNITS = pd.DataFrame({
    "psu": np.arange(N),
    "village": np.repeat([f"v{i:02d}" for i in range(24)], 10),
    "ward": rng.choice(["a", "b", "c"], N),
    "sex": rng.choice(["f", "m"], N),
    "d": rng.uniform(10, 40, N),
})
# ward 'a': nobody has the outcome; ward 'c': everybody; ward 'b': a mix
P = {"a": 0.0, "b": 0.4, "c": 1.0}
UNITS["y"] = (rng.random(N) < UNITS["ward"].map(P)).astype(float)
# for the clustered design: a ward per village, and an outcome by that ward
UNITS["vward"] = UNITS.groupby("village")["ward"].transform("first")
UNITS["vy"] = (rng.random(N) < UNITS["vward"].map(P)).astype(float)
MARGINS = [Margin(("sex",), {"f": 2900.0, "m": 3100.0})]
CAL = calibrate(UNITS, MARGINS, design_weights="d")


@pytest.fixture(scope="module")
def con() -> Any:
    return ibis.duckdb.connect()


def _cube(con: Any, weighted: bool, calibrated: bool, ci: str, clustered: bool = False
          ) -> pd.DataFrame:
    w = CAL.weights if calibrated else (UNITS["d"].to_numpy() if weighted else np.ones(N))
    ward, y = ("vward", "vy") if clustered else ("ward", "y")
    df = pd.DataFrame({"_psu": UNITS["village" if clustered else "psu"].to_numpy(),
                       "ward": UNITS[ward].to_numpy(), "_y": UNITS[y].to_numpy(),
                       "_z": np.ones(N), "_w": w, "_d": UNITS["d"].to_numpy(),
                       "_cal_0": UNITS["sex"].to_numpy()})
    t = con.create_table(f"t{int(weighted)}{int(calibrated)}{int(clustered)}", df,
                         overwrite=True)
    moments = (CalibrationMoments.from_arrays(CAL.X, CAL.design_weights, CAL.weights,
                                              [("_cal_0", "f"), ("_cal_0", "m")])
               if calibrated else None)
    req = CubeRequest(dims=["ward"], unit_is_psu=not clustered,
                      psu_level={"ward"} if clustered else set(), weighted=weighted)
    sums = cube_sums(t, req, moments)
    # n_design: the PSUs, for the variance's m/(m-1)
    opt = EstimateOptions(kind="proportion", n_design=24 if clustered else N, ci=ci,
                          weighted=weighted,
                          unit_is_psu=not clustered)
    return cube_estimates(sums, ["ward"], opt, moments).set_index("ward")


CASES = [(w, c, ci) for w, c in [(True, False), (True, True), (False, False)]
         for ci in ("auto", "wilson", "clopper_pearson", "logit")]


@pytest.mark.parametrize(("weighted", "calibrated", "ci"), CASES,
                         ids=[f"{'w' if w else 'u'}{'c' if c else ''}-{ci}" for w, c, ci in CASES])
def test_domain_estimate_and_the_cube_agree(con: Any, weighted: bool, calibrated: bool,
                                            ci: str) -> None:
    cube = _cube(con, weighted, calibrated, ci)
    kw: dict[str, Any] = {}
    if weighted:
        kw = {"weights": CAL.weights if calibrated else UNITS["d"].to_numpy(),
              "cluster": UNITS["psu"].to_numpy()}
    if calibrated:
        kw |= {"X": CAL.X, "d": CAL.design_weights, "q": CAL.q}
    for ward in ("a", "b", "c", TOTAL):
        dom = np.ones(N, bool) if ward == TOTAL else (UNITS["ward"] == ward).to_numpy()
        est = domain_estimate("proportion", UNITS["y"], domain=dom, **kw,
                              ci=None if ci == "auto" else ci)
        row = cube.loc[ward]
        assert est.ci_method == row["ci_method"]
        np.testing.assert_allclose([est.value, est.se], [row["value"], row["se"]],
                                   rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose([est.ci_low, est.ci_high], [row["ci_low"], row["ci_high"]],
                                   rtol=1e-9, atol=1e-12)
        if ward in ("a", "c"):
            # p = 0 or 1: never the zero-width interval [p, p]
            assert est.ci_high - est.ci_low > 0.005
            assert est.ci_low <= est.value <= est.ci_high


def test_at_zero_the_default_is_wilson_on_n(con: Any) -> None:
    dom = (UNITS["ward"] == "a").to_numpy()
    n = int(dom.sum())
    est = domain_estimate("proportion", UNITS["y"], domain=dom, weights=UNITS["d"],
                          cluster=UNITS["psu"])
    assert est.value == 0.0 and est.se == 0.0 and est.ci_method == "logit"
    lo, hi = wilson_interval(0, n)
    assert float(lo) == 0.0
    assert (est.ci_low, est.ci_high) == (0.0, pytest.approx(float(hi), rel=1e-12))
    one = domain_estimate("proportion", UNITS["y"], domain=(UNITS["ward"] == "c").to_numpy(),
                          weights=UNITS["d"], cluster=UNITS["psu"], ci="clopper_pearson")
    assert one.ci_high == 1.0 and 0.9 < one.ci_low < 1.0


def test_clustered_unweighted_domains_agree_with_the_cube(con: Any) -> None:
    cube = _cube(con, weighted=False, calibrated=False, ci="auto", clustered=True)
    assert set(UNITS["vward"]) == {"a", "b", "c"}
    for ward in ("a", "b", "c", TOTAL):
        dom = np.ones(N, bool) if ward == TOTAL else (UNITS["vward"] == ward).to_numpy()
        est = domain_estimate("proportion", UNITS["vy"], domain=dom,
                              cluster=UNITS["village"].to_numpy())
        row = cube.loc[ward]
        assert est.ci_method == row["ci_method"] == "wilson"
        np.testing.assert_allclose([est.value, est.se, est.ci_low, est.ci_high],
                                   [row["value"], row["se"], row["ci_low"], row["ci_high"]],
                                   rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("ward", ["a", "b", "c"])
def test_the_three_engines_give_one_interval(con: Any, ward: str) -> None:
    """survey_estimate, the cube and domain_estimate: the same logit / Wilson interval at the
    same t level, also at p = 0 and 1 (proportion_interval)."""
    from citizendata.survey import survey_estimate

    df = N - 1  # each unit its own PSU, one stratum
    _cube(con, weighted=True, calibrated=False, ci="logit")  # makes the table t100
    sums = cube_sums(con.table("t100"), CubeRequest(dims=["ward"], unit_is_psu=True,
                                                    psu_level=set(), weighted=True))
    opt = EstimateOptions(kind="proportion", n_design=N, ci="logit", weighted=True,
                          unit_is_psu=True, df=df)
    cube = cube_estimates(sums, ["ward"], opt).set_index("ward")
    dom = (UNITS["ward"] == ward).to_numpy()
    est = domain_estimate("proportion", UNITS["y"], domain=dom, weights=UNITS["d"],
                          cluster=UNITS["psu"], ci="logit", df=df)
    frame = UNITS.assign(yes=UNITS["y"].map({0.0: "no", 1.0: "yes"}))
    res = survey_estimate(frame, weights="d", proportions=[("yes", "yes")], by=["ward"],
                          domain_df="design").table
    row = res[res["by"].map(lambda b: b.get("ward") == ward)].iloc[0]
    lo, hi = row["ci_low"], row["ci_high"]
    want = [cube.loc[ward, "ci_low"], cube.loc[ward, "ci_high"]]
    np.testing.assert_allclose([est.ci_low, est.ci_high], want, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose([lo, hi], want, rtol=1e-9, atol=1e-12)
    assert int(row["df"]) == df
    if ward != "b":
        assert want[1] - want[0] > 0.005  # never the point [p, p]
