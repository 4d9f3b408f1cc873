"""Convergence diagnostics (R-hat, PSRF, ESS) against R's coda and posterior on the same chains.

The chains are tests/data/lcmcr/chains_*.csv (written by scripts/r_reference/lcmcr_chains.py);
the reference numbers tests/data/lcmcr/diagnostics_reference.csv come from
scripts/r_reference/lcmcr.R (R 4.2.2, coda 0.19.4, posterior 1.4.0).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from citizendata.integrate.mse._mcmc import (
    ESS_PER_CHAIN,
    RHAT_THRESHOLD,
    converged,
    diagnose,
    effective_size,
    gelman_diag,
    rhat,
)

DATA = Path(__file__).parent / "data" / "lcmcr"
REFERENCE = pd.read_csv(DATA / "diagnostics_reference.csv").set_index("chains")


def _chains(name: str) -> np.ndarray:
    # files hold one column per chain; our functions take chains in rows
    return pd.read_csv(DATA / f"chains_{name}.csv").to_numpy(dtype=float).T


@pytest.mark.parametrize("name", ["kosovo", "ar1", "shifted"])
def test_gelman_diag_matches_coda(name: str) -> None:
    point, upper = gelman_diag(_chains(name))
    assert point == pytest.approx(REFERENCE.loc[name, "psrf"], rel=1e-9)
    assert upper == pytest.approx(REFERENCE.loc[name, "psrf_upper"], rel=1e-9)


@pytest.mark.parametrize("name", ["kosovo", "ar1", "shifted"])
def test_effective_size_matches_coda(name: str) -> None:
    assert effective_size(_chains(name)) == pytest.approx(REFERENCE.loc[name, "ess_coda"], rel=1e-9)


@pytest.mark.parametrize("name", ["kosovo", "ar1", "shifted"])
def test_rank_normalised_rhat_matches_posterior(name: str) -> None:
    assert rhat(_chains(name)) == pytest.approx(REFERENCE.loc[name, "rhat_rank"], rel=1e-9)


def test_the_verdict_needs_both_rhat_and_ess() -> None:
    ar1 = diagnose(_chains("ar1"))  # R-hat 1.027 (> 1.01), ESS 202 (< 400)
    assert not ar1.converged
    assert not diagnose(_chains("shifted")).converged  # one chain sits 1.5 higher
    rng = np.random.default_rng(7)
    iid = diagnose(rng.normal(size=(4, 1000)))
    assert iid.converged
    assert iid.rhat < RHAT_THRESHOLD
    # independent draws: ESS close to the number of draws
    assert iid.ess == pytest.approx(4000, rel=0.15)
    assert converged(1.005, ESS_PER_CHAIN * 4, 4)
    assert not converged(1.005, ESS_PER_CHAIN * 4 - 1, 4)
    assert not converged(float("nan"), 10_000, 4)


def test_constant_chains_are_not_converged_and_raise_no_warning() -> None:
    # a posterior stuck at one value (e.g. every list saw everyone) must not warn or divide by 0
    d = diagnose(np.full((4, 50), 312.0))
    assert np.isnan(d.rhat)
    assert d.ess == 0.0
    assert not d.converged


def test_one_chain_gets_split_rhat_but_no_psrf() -> None:
    d = diagnose(np.random.default_rng(3).normal(size=600))
    assert d.chains == 1
    assert np.isfinite(d.rhat)
    assert np.isnan(d.psrf)
    with pytest.raises(ValueError, match="two chains"):
        gelman_diag(np.zeros((1, 10)) + np.arange(10))


def test_too_few_iterations_are_refused() -> None:
    with pytest.raises(ValueError, match="at least 4 iterations"):
        rhat(np.zeros((4, 3)))
