"""Print the Monte Carlo table of the non-probability estimators (docs/methods/nonprobability.md).

    PYTHONPATH=src python scripts/nonprob_simulation.py [--reps 1000] [--kenya-reps 500] [--seed 20261207]

Bias, RMSE, coverage of the nominal 95% interval and the mean standard error over the
empirical standard deviation, for the naive, IPW, doubly robust and mass-imputation
estimators in each scenario of :mod:`citizendata.integrate.nonprob.simulation`.
"""

from __future__ import annotations

import argparse
import time

from citizendata.integrate.nonprob.simulation import SCENARIOS, run, summarise


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=1000, help="replicates per synthetic scenario")
    ap.add_argument("--kenya-reps", type=int, default=500, help="replicates of the Kenya scenario")
    ap.add_argument("--seed", type=int, default=20261207)
    args = ap.parse_args()
    print("| scenario | method | bias | RMSE | coverage | SE / SD |")
    print("|---|---|---:|---:|---:|---:|")
    for key, label in SCENARIOS.items():
        reps = args.kenya_reps if key.startswith("kenya") else args.reps
        t0 = time.perf_counter()
        table = summarise(run(key, reps, args.seed))
        took = time.perf_counter() - t0
        for method, r in table.iterrows():
            print(f"| {key}: {label} | {method} | {r['bias']:+.4f} | {r['rmse']:.4f} | "
                  f"{r['coverage']:.3f} | {r['se_ratio']:.2f} |")
        print(f"<!-- {key}: {reps} replicates, seed {args.seed}, {took:.1f} s -->")


if __name__ == "__main__":
    main()
