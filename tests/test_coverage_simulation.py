"""Monte Carlo check that raking + linearised SE gives unbiased estimates and honest 95% CIs.

A fixed population of N = 20,000 with a ward (5) and an age group (4) and a binary outcome
whose probability depends on both. Each repetition draws a Poisson sample (expected n = 800)
whose inclusion probability is a main-effects log-linear function of ward and age group
(1:4 between the extremes), so raking to the two margins is the right correction. The
sample has no design weights (d = N/n). Fixed seeds make the tests deterministic.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pytest

from citizendata.stats.calibrate import Margin, calibrate
from citizendata.stats.variance import domain_estimate

N = 20_000
N_SAMPLE = 800
WARDS = np.array(["w1", "w2", "w3", "w4", "w5"])
AGES = np.array(["18-29", "30-44", "45-64", "65+"])


@dataclass
class Population:
    ward: np.ndarray
    age: np.ndarray
    y: np.ndarray
    pi: np.ndarray
    margins: list[Margin]

    @property
    def truth(self) -> float:
        return float(self.y.mean())


def _population(seed: int = 20_240) -> Population:
    rng = np.random.default_rng(seed)
    w = rng.integers(0, 5, N)
    a = rng.choice(4, N, p=[0.3, 0.3, 0.25, 0.15])
    # outcome: main effects of ward and age on the logit scale
    eta = -0.6 + np.array([-0.8, -0.3, 0.0, 0.4, 0.9])[w] + np.array([-0.6, -0.1, 0.3, 0.8])[a]
    y = (rng.random(N) < 1 / (1 + np.exp(-eta))).astype(float)
    # inclusion: multiplicative in ward and age (log-linear main effects), extremes 1:4,
    # and in the same direction as the outcome, so the unweighted mean is biased upwards
    rel = np.exp(np.linspace(0, math.log(2), 5)[w] + np.linspace(0, math.log(2), 4)[a])
    pi = N_SAMPLE * rel / rel.sum()
    ward, age = WARDS[w], AGES[a]
    margins = [
        Margin(("ward",), {(k,): float(v) for k, v in pd.Series(ward).value_counts().items()}),
        Margin(("age",), {(k,): float(v) for k, v in pd.Series(age).value_counts().items()}),
    ]
    return Population(ward, age, y, pi, margins)


POP = _population()


def _simulate(reps: int, seed: int) -> dict[str, np.ndarray]:
    """Per repetition: unweighted proportion, raked estimate, its SE and CI."""
    rng = np.random.default_rng(seed)
    # all Poisson sample draws at once (reps x N); the loop below is over repetitions only
    drawn = rng.random((reps, N)) < POP.pi
    out = {k: np.empty(reps) for k in ("naive", "est", "se", "low", "high")}
    for r in range(reps):
        idx = np.flatnonzero(drawn[r])
        sample = pd.DataFrame({"ward": POP.ward[idx], "age": POP.age[idx]})
        y = POP.y[idx]
        cal = calibrate(sample, POP.margins, method="raking")
        est = domain_estimate("proportion", y, weights=cal.weights, X=cal.X, d=cal.design_weights)
        out["naive"][r] = y.mean()
        out["est"][r], out["se"][r] = est.value, est.se
        out["low"][r], out["high"][r] = est.ci_low, est.ci_high
    return out


def _check(sim: dict[str, np.ndarray], coverage_range: tuple[float, float]) -> None:
    truth = POP.truth
    reps = len(sim["est"])
    naive_mcse = sim["naive"].std(ddof=1) / math.sqrt(reps)
    est_mcse = sim["est"].std(ddof=1) / math.sqrt(reps)
    # (a) the citizen sample's own proportion is biased
    assert abs(sim["naive"].mean() - truth) > 3 * naive_mcse
    # (b) raking to the two margins removes the bias
    assert abs(sim["est"].mean() - truth) < 3 * est_mcse
    # the linearised SE tracks the Monte Carlo spread of the estimates
    assert np.sqrt(np.mean(sim["se"] ** 2)) == pytest.approx(sim["est"].std(ddof=1), rel=0.15)
    # (c) the Wald 95% interval covers the truth at about the nominal rate
    coverage = np.mean((sim["low"] <= truth) & (truth <= sim["high"]))
    assert coverage_range[0] <= coverage <= coverage_range[1], coverage


def test_population_is_as_designed() -> None:
    assert POP.pi.max() / POP.pi.min() == pytest.approx(4.0)
    assert POP.pi.sum() == pytest.approx(N_SAMPLE)
    assert 0.2 < POP.truth < 0.6


def test_coverage_loose() -> None:
    """Always-on version: 120 repetitions, so the coverage band is loose (88%–99.5%)."""
    _check(_simulate(120, seed=1), (0.88, 0.995))


@pytest.mark.slow
def test_coverage_500_repetitions() -> None:
    """500 repetitions: coverage of the nominal 95% interval between 93% and 97%."""
    _check(_simulate(500, seed=2), (0.93, 0.97))
