"""LCMCR sampler: the pattern-vectorised Gibbs sampler against a per-individual loop sampler.

Run from the repository root: ``PYTHONPATH=src python bench/lcmcr.py``. Writes
bench/results/lcmcr.json.

* Kosovo (4 lists, 4,400 victims, 15 patterns), 4 chains: ours (one multinomial draw per
  pattern and chain, all chains one array) against the straightforward translation of the
  model (a loop over individuals drawing each one's latent class, a loop over chains), the
  same sweeps for both; the ratio of their times.
* Sweeps per second on Kosovo with 4 chains (each sweep updates every chain).
* The issue's target: 10,000 iterations on the UK table (6 lists, 2,744 victims) in < 60 s.
"""

from __future__ import annotations

import json
import platform
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from citizendata.integrate.mse import read_histories
from citizendata.integrate.mse.lcmcr import run_chains

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data" / "lcmcr"
OUT = ROOT / "bench" / "results" / "lcmcr.json"
K, A, B = 10, 0.25, 0.25


def loop_sampler(patterns: np.ndarray, counts: np.ndarray, *, chains: int, sweeps: int,
                 seed: int) -> np.ndarray:
    """LCMCR's Gibbs sweeps written plainly: every individual's class drawn in a loop."""
    rng = np.random.default_rng(seed)
    x = np.repeat(patterns, counts, axis=0)  # one row per individual
    n, j = x.shape
    out = np.empty((chains, sweeps), dtype=np.int64)
    for c in range(chains):
        lam = np.tile(x.mean(axis=0)[:, None], (1, K))
        v = rng.beta(1.0, 1.0, size=K - 1)
        nu = np.append(v, 1.0) * np.concatenate([[1.0], np.cumprod(1 - v)])
        alpha, n0, count0 = 0.3 / K, 0, np.zeros(K, dtype=np.int64)
        for t in range(sweeps):
            z = np.empty(n, dtype=np.int64)
            u = np.asarray(rng.random(n))
            for i in range(n):  # the per-individual loop a direct translation has
                p = nu * np.prod(np.where(x[i][:, None] == 1, lam, 1 - lam), axis=0)
                # inverse-CDF draw (cheaper than rng.choice, so the ratio is not inflated)
                z[i] = min(int(np.searchsorted(np.cumsum(p), u[i] * p.sum())), K - 1)
            nk = np.bincount(z, minlength=K) + count0
            n1 = np.array([[np.sum(x[z == k, jj]) for k in range(K)] for jj in range(j)])
            lam = rng.beta(1 + n1, 1 + nk[None, :] - n1)
            tail = n + n0 - np.cumsum(nk)
            v = np.clip(rng.beta(1 + nk[:-1], alpha + tail[:-1]), 1e-300, 1 - 1e-16)
            nu = np.append(v, 1.0) * np.concatenate([[1.0], np.cumprod(1 - v)])
            q = nu * np.prod(1 - lam, axis=0)
            n0 = int(rng.negative_binomial(n, 1 - q.sum()))
            count0 = rng.multinomial(n0, q / q.sum())
            alpha = rng.gamma(A + K - 1, 1 / (B - np.log(nu[-1])))
            out[c, t] = n + n0
    return out


def timed(fn: Callable[[], object]) -> tuple[float, object]:
    t0 = time.perf_counter()
    value = fn()
    return time.perf_counter() - t0, value


def main() -> None:
    kosovo = read_histories(DATA / "kosovo.csv")
    uk = read_histories(DATA / "uk.csv")
    chains, sweeps = 4, 40
    # same sweeps for both; ours has no warm-up or burn-in here (samples=sweeps, thin=1)
    t_loop, _ = timed(lambda: loop_sampler(kosovo.patterns, kosovo.counts, chains=chains,
                                           sweeps=sweeps, seed=1))
    t_vec, _ = timed(lambda: run_chains(kosovo.patterns, kosovo.counts, K=K, a_alpha=A,
                                        b_alpha=B, chains=chains, samples=sweeps, burnin=0,
                                        thin=1, rng=np.random.default_rng(1)))
    long_sweeps = 20_000
    t_long, _ = timed(lambda: run_chains(kosovo.patterns, kosovo.counts, K=K, a_alpha=A,
                                         b_alpha=B, chains=chains, samples=long_sweeps // 10,
                                         burnin=0, thin=10, rng=np.random.default_rng(2)))
    t_uk, _ = timed(lambda: run_chains(uk.patterns, uk.counts, K=K, a_alpha=A, b_alpha=B,
                                       chains=chains, samples=1_000, burnin=0, thin=10,
                                       rng=np.random.default_rng(3)))
    warm = 500  # run_chains adds LCMCR's 500 warm-up sweeps to every run
    result = {
        "workload": {"data": "Kosovo (LCMCR kosovo_aggregate): 4 lists, 15 patterns, n = 4400",
                     "K": K, "chains": chains},
        "loop_vs_vectorised": {
            "sweeps": sweeps,
            "loop_seconds": round(t_loop, 3),
            "vectorised_seconds_incl_500_warmup": round(t_vec, 3),
            "loop_seconds_per_sweep": round(t_loop / sweeps, 5),
            "vectorised_seconds_per_sweep": round(t_vec / (sweeps + warm), 6),
            "ratio_per_sweep": round((t_loop / sweeps) / (t_vec / (sweeps + warm)), 1),
        },
        "kosovo_sweeps_per_second": round((long_sweeps + warm) / t_long, 1),
        "uk_10000_iterations": {"data": "UK 2013 (SparseMSE UKdat): 6 lists, 25 patterns, "
                                        "n = 2744", "chains": chains,
                                "seconds": round(t_uk, 2), "target_seconds": 60},
        "machine": {"python": platform.python_version(), "numpy": np.__version__,
                    "processor": platform.machine()},
    }
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
