"""Write the chains that scripts/r_reference/lcmcr.R diagnoses with coda and posterior.

Run from the repository root: ``PYTHONPATH=src python scripts/r_reference/lcmcr_chains.py``.
Three sets of four chains, one CSV each (a column per chain):

* ``chains_kosovo.csv`` — draws of N from our LCMCR sampler on the Kosovo table (short run);
* ``chains_ar1.csv`` — four AR(1) chains, rho = 0.9, same target (converged, autocorrelated);
* ``chains_shifted.csv`` — four AR(1) chains, rho = 0.5, one shifted by 1.5 (not converged).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from citizendata.integrate.mse.lcmcr import run_chains

OUT = Path("tests/data/lcmcr")


def ar1(rng: np.random.Generator, chains: int, n: int, rho: float) -> np.ndarray:
    x = np.empty((chains, n))
    x[:, 0] = rng.normal(size=chains) / np.sqrt(1 - rho**2)
    for t in range(1, n):
        x[:, t] = rho * x[:, t - 1] + rng.normal(size=chains)
    return x


def write(name: str, draws: np.ndarray, fmt: str) -> None:
    frame = pd.DataFrame(draws.T, columns=[f"chain{i + 1}" for i in range(draws.shape[0])])
    frame.to_csv(OUT / name, index=False, float_format=fmt)


def main() -> None:
    kosovo = pd.read_csv(OUT / "kosovo.csv")
    draws, _, _ = run_chains(kosovo.iloc[:, :4].to_numpy(), kosovo["count"].to_numpy(), K=10,
                             a_alpha=0.25, b_alpha=0.25, chains=4, samples=400, burnin=500,
                             thin=5, rng=np.random.default_rng(20161))
    write("chains_kosovo.csv", draws, "%d")
    rng = np.random.default_rng(2021)
    write("chains_ar1.csv", ar1(rng, 4, 1000, 0.9), "%.10f")
    shifted = ar1(rng, 4, 600, 0.5)
    shifted[2] += 1.5
    write("chains_shifted.csv", shifted, "%.10f")


if __name__ == "__main__":
    main()
