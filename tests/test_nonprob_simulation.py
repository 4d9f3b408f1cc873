"""Monte Carlo check of the non-probability estimators from populations with a known truth.

Where an estimator's assumption holds, its 95% interval must cover the truth in about
95% of replicates; where it does not, the estimator must be clearly biased. Bands are
set by the Monte Carlo error of the replicate count: the standard error of a coverage
near 0.95 is sqrt(.95 * .05 / R): 0.0069 at R = 1,000 (band 93-97%, +-2.9 SE), 0.0097
at R = 500 and 0.0109 at R = 400 (band 92-98%, +-3.1 and +-2.75 SE). The full table
(1,000 and 500 replicates) is scripts/nonprob_simulation.py's, in
docs/methods/nonprobability.md.
"""

from __future__ import annotations

import pandas as pd
import pytest

from citizendata.integrate.nonprob.simulation import run, summarise

SEED = 20261207


@pytest.fixture(scope="module")
def tables() -> dict[str, pd.DataFrame]:
    reps = {"a": 1000, "b": 500, "c": 500, "d": 200, "kenya": 400, "kenya_ward": 300}
    return {k: summarise(run(k, r, SEED)) for k, r in reps.items()}


def _covers(t: pd.DataFrame, method: str, lo: float, hi: float) -> None:
    cov = t.loc[method, "coverage"]
    assert lo <= cov <= hi, f"{method}: coverage {cov:.3f} outside [{lo}, {hi}]\n{t}"


def test_assumption_holds_every_adjusted_estimator_covers(tables: dict[str, pd.DataFrame]) -> None:
    t = tables["a"]
    for m in ("ipw", "dr", "mi"):
        _covers(t, m, 0.93, 0.97)
        assert 0.85 < t.loc[m, "se_ratio"] < 1.15  # the standard error tracks the true spread
    assert t.loc["naive", "coverage"] < 0.05
    # the naive bias is many standard errors; the adjusted ones a small fraction of the RMSE
    assert t.loc["naive", "bias"] > 5 * t.loc["ipw", "rmse"]
    for m in ("ipw", "dr", "mi"):
        assert abs(t.loc[m, "bias"]) < 0.2 * t.loc[m, "rmse"]
    # nearest neighbour on two continuous covariates: some matching bias, a conservative SE
    assert abs(t.loc["nn", "bias"]) < 0.5 * t.loc["nn", "rmse"]
    assert t.loc["nn", "coverage"] > 0.92


def test_wrong_outcome_model_dr_still_covers_mi_biased(tables: dict[str, pd.DataFrame]) -> None:
    t = tables["b"]
    _covers(t, "dr", 0.92, 0.98)
    _covers(t, "ipw", 0.92, 0.98)
    for m in ("mi", "nn"):  # nearest neighbour on the same too-few covariates
        assert t.loc[m, "coverage"] < 0.2
        assert abs(t.loc[m, "bias"]) > 3 * t.loc["dr", "rmse"]


def test_wrong_propensity_model_dr_still_covers_ipw_biased(tables: dict[str, pd.DataFrame]) -> None:
    t = tables["c"]
    _covers(t, "dr", 0.92, 0.98)
    _covers(t, "mi", 0.92, 0.98)
    assert t.loc["ipw", "coverage"] < 0.2
    assert abs(t.loc["ipw", "bias"]) > 3 * t.loc["dr", "rmse"]


def test_selection_on_the_outcome_defeats_every_estimator(tables: dict[str, pd.DataFrame]) -> None:
    t = tables["d"]
    for m in ("naive", "ipw", "dr", "mi", "nn"):
        assert t.loc[m, "coverage"] < 0.2, t
        assert t.loc[m, "bias"] > 0.75 * t.loc[m, "rmse"]  # the error is mostly bias


def test_kenya_citizen_sample_with_dhs_recovers_the_truth(tables: dict[str, pd.DataFrame]) -> None:
    t = tables["kenya"]
    assert t.loc["naive", "bias"] > 0.05  # accessible wards over-represented: SBA over-stated
    assert t.loc["naive", "coverage"] < 0.05
    for m in ("ipw", "dr", "mi", "nn"):  # categorical covariates: nn imputes cell means
        _covers(t, m, 0.92, 0.98)
        assert abs(t.loc[m, "bias"]) < 0.005


def test_kenya_ward_domains_cover(tables: dict[str, pd.DataFrame]) -> None:
    """Nine wards (60-480 citizen births, about 60 survey births each), pooled: 2,700 intervals
    per method, so the Monte Carlo SE of the coverage is about 0.4 points."""
    t = tables["kenya_ward"]
    for m in ("ipw", "dr", "mi", "nn"):
        _covers(t, m, 0.93, 0.97)
        assert abs(t.loc[m, "bias"]) < 0.005
        assert 0.85 < t.loc[m, "se_ratio"] < 1.15
