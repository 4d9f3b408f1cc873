"""LCMCR (Manrique-Vallier 2016): the posterior of N checked three ways.

1. Exactly: with one latent class LCMCR is the independence model M_t with Beta(1, 1) capture
   probabilities and p(N) ∝ 1/N, whose posterior of N has a closed form; our draws must
   reproduce it within Monte-Carlo error.
2. Against R's LCMCR 0.4.14 on the Kosovo table the package ships (tests/data/lcmcr/kosovo.csv,
   from LCMCR's ``kosovo_aggregate``; draws from scripts/r_reference/lcmcr_kosovo.R).
3. By simulation from known populations: 95% intervals cover N about 95% of the time when the
   lists capture independently; on two-class populations our posteriors equal R LCMCR's table
   by table (both cover N less often there: 15 of 20).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import special, stats

from citizendata.errors import BadInput
from citizendata.integrate.mse import Histories, read_histories
from citizendata.integrate.mse.lcmcr import LCMCRResult, fit_lcmcr, run_chains

DATA = Path(__file__).parent / "data" / "lcmcr"
KOSOVO_CSV = DATA / "kosovo.csv"


@pytest.fixture(scope="module")
def kosovo() -> Histories:
    return read_histories(KOSOVO_CSV)


def _small() -> pd.DataFrame:
    return pd.DataFrame({
        "fiscalia": [1, 0, 0, 1, 1, 0, 1],
        "defensoria": [0, 1, 0, 1, 0, 1, 1],
        "flip": [0, 0, 1, 0, 1, 1, 1],
        "count": [40, 35, 52, 11, 9, 8, 4],
    })


# ------------------------------------------------------------------ exact check (K = 1)


def _mt_posterior(h: Histories) -> tuple[np.ndarray, np.ndarray]:
    """p(N | data) ∝ (1/N) · N!/(N − n)! · prod_j B(n_j + 1, N − n_j + 1), N = n … 21 n."""
    n = h.n_observed
    n_j = np.array(list(h.list_totals().values()), dtype=float)
    big_n = np.arange(n, 21 * n + 1, dtype=float)
    logp = (-np.log(big_n) + special.gammaln(big_n + 1) - special.gammaln(big_n - n + 1)
            + special.betaln(n_j[None, :] + 1, big_n[:, None] - n_j[None, :] + 1).sum(axis=1))
    p = np.exp(logp - logp.max())
    return big_n, p / p.sum()


def test_one_class_reproduces_the_exact_posterior_of_the_independence_model(
        kosovo: Histories) -> None:
    grid, p = _mt_posterior(kosovo)
    mean = float(grid @ p)
    sd = float(np.sqrt(((grid - mean) ** 2) @ p))
    cdf = np.cumsum(p)
    exact_q = [grid[np.searchsorted(cdf, q)] for q in (0.025, 0.5, 0.975)]

    fit = fit_lcmcr(kosovo, K=1, chains=4, samples=1000, burnin=100, thin=2, seed=11)
    draws = fit.draws.ravel().astype(float)
    mcse = sd / np.sqrt(fit.ess)
    # the Monte-Carlo error of a mean is sd/sqrt(ESS); 4 of them is a 1-in-15,000 miss
    assert abs(draws.mean() - mean) < 4 * mcse
    assert draws.std() == pytest.approx(sd, rel=0.1)
    # quantiles: within 4 MC standard errors of a quantile (≈ 1.3–2.5 sd/sqrt(ESS) here)
    for got, want in zip(np.quantile(draws, [0.025, 0.5, 0.975]), exact_q, strict=True):
        assert abs(got - want) < 10 * mcse
    assert fit.estimate == pytest.approx(exact_q[1], abs=10 * mcse)
    assert fit.converged


# ------------------------------------------------------------------ R's LCMCR on Kosovo


def test_kosovo_matches_r_lcmcr(kosovo: Histories) -> None:
    r_draws = pd.read_csv(DATA / "kosovo_lcmcr_r.csv")
    r_lo, r_mid, r_hi = np.quantile(r_draws["N"], [0.025, 0.5, 0.975])
    # R LCMCR 0.4.14, 8 seeds x 1,000 draws (thinning 100 after 10,000 burn-in), pooled
    assert (round(r_lo), round(r_mid), round(r_hi)) == (9129, 10474, 14145)
    # LCMCR's burn-in (10,000 sweeps): shorter ones leave chains near the independence
    # solution (N about 7,400) now and then, which R-hat flags
    fit = fit_lcmcr(kosovo, K=10, chains=4, samples=250, burnin=10_000, thin=20, seed=2016)
    assert fit.n_observed == 4400
    # Tolerances from R's own seed-to-seed spread (per-seed medians 10,406-10,600, lower
    # limits 9,049-9,245, upper 13,369-15,041): 3% for the median and the lower limit,
    # 12% for the upper limit of this long right tail.
    assert fit.estimate == pytest.approx(r_mid, rel=0.03)
    assert fit.ci[0] == pytest.approx(r_lo, rel=0.03)
    assert fit.ci[1] == pytest.approx(r_hi, rel=0.12)
    # no chain left behind near the independence solution
    assert np.median(fit.draws, axis=1).min() > 9500


# ------------------------------------------------------------------ simulation from a truth


def _tables(rng: np.random.Generator, reps: int, n_true: int, lam: np.ndarray,
            weight_2: float) -> np.ndarray:
    """Capture-history tables (reps x 15) of a 4-list, two-class population of n_true."""
    out = np.zeros((reps, 15), dtype=np.int64)
    for r in range(reps):
        z = (rng.random(n_true) < weight_2).astype(int)
        seen = rng.random((n_true, 4)) < lam[z]
        out[r] = np.bincount((seen * (1 << np.arange(4))).sum(axis=1), minlength=16)[1:]
    return out


PATTERNS = np.array([[(i >> j) & 1 for j in range(4)] for i in range(1, 16)])


def test_intervals_cover_a_homogeneous_population_95_percent_of_the_time() -> None:
    # 40 populations of N = 400 whose lists capture independently (one latent class):
    # LCMCR must find the single class. All 40 fits run as one vectorised sampler.
    rng = np.random.default_rng(1998)
    reps, n_true = 40, 400
    lam = np.array([[0.3, 0.35, 0.25, 0.3]] * 2)
    draws, _, _ = run_chains(PATTERNS, _tables(rng, reps, n_true, lam, 0.0), K=10,
                             a_alpha=0.25, b_alpha=0.25, chains=reps, samples=300,
                             burnin=1000, thin=2, rng=rng)
    lo, hi = np.quantile(draws, [0.025, 0.975], axis=1)
    covered = int(((lo <= n_true) & (n_true <= hi)).sum())
    # Binomial(40, 0.95): 33 or fewer has probability < 0.005 (seen: 39 of 40)
    assert covered >= stats.binom.ppf(0.005, reps, 0.95)
    assert np.median(hi - lo) < n_true / 2


def test_two_class_populations_match_r_lcmcr_table_by_table() -> None:
    # 10 of the 20 tables of scripts/r_reference/lcmcr_chains.py (N = 400, two classes with
    # capture probabilities near 0.4 and 0.2). R's LCMCR covers N in 15 of the 20 (both
    # implementations pull N down here: the data barely separate the rarely listed class and
    # the Dirichlet process favours fewer classes); we must give the same posteriors.
    tables = pd.read_csv(DATA / "sim_tables.csv")
    r = pd.read_csv(DATA / "sim_lcmcr_r.csv").set_index("rep")
    assert int(((r["lo"] <= 400) & (r["hi"] >= 400)).sum()) == 15
    reps = list(range(10))
    counts = np.stack([tables.loc[tables["rep"] == k, "count"].to_numpy() for k in reps])
    patterns = tables.loc[tables["rep"] == 0, ["A", "B", "C", "D"]].to_numpy()
    draws, _, _ = run_chains(patterns, np.repeat(counts, 2, axis=0), K=10, a_alpha=0.25,
                             b_alpha=0.25, chains=2 * len(reps), samples=300, burnin=3000,
                             thin=5, rng=np.random.default_rng(77))
    lo, mid, hi = np.quantile(draws.reshape(len(reps), -1), [0.025, 0.5, 0.975], axis=1)
    # per table: medians within 4% (a few draws' Monte-Carlo error at N = 400);
    # across tables the mean difference within 1%, and the interval limits within 8%
    assert np.allclose(mid, r.loc[reps, "mid"], rtol=0.04)
    assert abs(np.mean(mid / r.loc[reps, "mid"].to_numpy()) - 1) < 0.01
    assert np.allclose(lo, r.loc[reps, "lo"], rtol=0.08)
    assert np.allclose(hi, r.loc[reps, "hi"], rtol=0.08)


# ------------------------------------------------------------------ the API


def test_same_seed_same_draws_and_a_dataframe_is_read_as_histories() -> None:
    frame = _small()
    a = fit_lcmcr(frame, chains=2, samples=50, burnin=20, thin=1, seed=5)
    b = fit_lcmcr(read_histories(frame), chains=2, samples=50, burnin=20, thin=1, seed=5)
    c = fit_lcmcr(frame, chains=2, samples=50, burnin=20, thin=1, seed=6)
    assert np.array_equal(a.draws, b.draws)
    assert not np.array_equal(a.draws, c.draws)
    assert a.draws.shape == (2, 50)
    assert a.lists == ["fiscalia", "defensoria", "flip"]
    assert (a.draws >= 159).all()


def test_result_summary_and_dict(kosovo: Histories) -> None:
    fit = fit_lcmcr(kosovo, chains=2, samples=40, burnin=10, thin=1, seed=3, confidence=0.9)
    assert isinstance(fit, LCMCRResult)
    lo, mid, hi = np.quantile(fit.draws, [0.05, 0.5, 0.95])
    assert (fit.ci, fit.estimate) == ((lo, hi), mid)
    assert fit.unobserved == pytest.approx(np.median(fit.draws) - 4400)
    d = fit.to_dict()
    assert d["method"] == "lcmcr"
    assert d["n_observed"] == 4400
    assert d["estimate"] == mid
    assert d["ci"] == [lo, hi]
    assert set(d["diagnostics"]) >= {"rhat", "ess", "chains", "samples", "converged"}
    assert d["diagnostics"]["chains"] == 2
    assert d["diagnostics"]["samples"] == 40
    assert d["settings"]["seed"] == 3
    assert json.loads(json.dumps(d)) == d  # plain JSON types, no NumPy scalars
    assert fit.k_star.shape == fit.alpha.shape == (2, 40)
    assert (fit.k_star >= 1).all() and (fit.k_star <= 10).all()


def test_no_seed_records_the_one_used() -> None:
    fit = fit_lcmcr(_small(), chains=2, samples=20, burnin=0, thin=1)
    again = fit_lcmcr(_small(), chains=2, samples=20, burnin=0, thin=1, seed=fit.seed)
    assert np.array_equal(fit.draws, again.draws)


@pytest.mark.parametrize(("setting", "value"), [
    ("K", 0), ("K", 2.5), ("chains", 0), ("samples", 3), ("burnin", -1), ("thin", 0),
    ("a_alpha", 0.0), ("b_alpha", -1.0), ("confidence", 1.0), ("chains", True), ("seed", -1),
    ("seed", "2016"),
])
def test_bad_settings_are_refused_with_the_setting_named(setting: str, value: object) -> None:
    with pytest.raises(BadInput) as info:
        fit_lcmcr(_small(), **{setting: value})  # type: ignore[arg-type]
    assert info.value.code == "mse.invalid_model"
    assert info.value.where is not None and info.value.where.field == setting


def test_bad_histories_are_refused_by_the_reader() -> None:
    frame = _small()
    frame.loc[2, "flip"] = 2
    with pytest.raises(BadInput) as info:
        fit_lcmcr(frame, samples=10)
    assert info.value.code == "mse.invalid_histories"


def test_everyone_on_every_list_gives_n_observed_and_no_warning() -> None:
    # nobody can be missing when each list saw all 30: the chains (almost) never move, which the
    # diagnostics report as not converged (R-hat undefined) rather than with a warning
    frame = pd.DataFrame({"a": [1, 1], "b": [1, 1], "c": [1, 0], "count": [30, 0]})
    fit = fit_lcmcr(frame, chains=2, samples=30, burnin=10, thin=1, seed=1)
    assert fit.estimate == 30
    assert fit.ci == (30.0, 30.0)
    assert not fit.converged
    assert fit.to_dict()["diagnostics"]["rhat"] is None
