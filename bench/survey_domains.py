"""Benchmark: ``survey_estimate --by`` at 1,000,000 rows with 1, 50 and 200 domains.

A synthetic stratified cluster sample (numpy, fixed seed): 50 strata of 40 PSUs, design
weights in [1, 3], a normal outcome, a domain column with G values, and a 3-category
margin the weights are raked to (so the variance runs on the calibration's residuals).
Each case estimates the mean of y overall and in every domain with the linearised
variance, in a fresh process (peak memory from ``ru_maxrss``). With ``--compare SRC``
the same cases run on another source tree (the old dense rows x domains path: main
before the change) and the ratios old / new are recorded.

Writes bench/results/survey_domains.json.

    python bench/survey_domains.py [--rows 1000000] [--domains 1,50,200] [--compare /path/src]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
from _common import write_results

SRC = Path(__file__).resolve().parent.parent / "src"

CASE = r"""
import json, resource, sys, time
import numpy as np, pandas as pd
from citizendata.survey import survey_estimate
rows, G = int(sys.argv[1]), int(sys.argv[2])
rng = np.random.default_rng(0)
df = pd.DataFrame({"st": rng.integers(0, 50, rows)})
df["psu"] = df.st * 40 + rng.integers(0, 40, rows)
df["w"] = rng.uniform(1, 3, rows)
df["y"] = rng.normal(size=rows)
df["g"] = rng.integers(0, G, rows)
df["a"] = rng.integers(0, 3, rows)
margin = pd.DataFrame({"a": [0, 1, 2], "total": [1e6, 1e6, 1e6]})
start = time.perf_counter()
res = survey_estimate(df, weights="w", strata="st", psu="psu", means=["y"], by=["g"],
                      rake=[margin], domain_df="design")
seconds = time.perf_counter() - start
print(json.dumps({"seconds": seconds, "peak_gb": resource.getrusage(
    resource.RUSAGE_SELF).ru_maxrss / 1e6, "se": res.table["se"].tolist()}))
"""


def run(src: Path, rows: int, domains: int) -> dict[str, Any]:
    """One case in a fresh interpreter with ``src`` first on the path."""
    env = {**os.environ, "PYTHONPATH": str(src)}
    out = subprocess.run([sys.executable, "-c", CASE, str(rows), str(domains)], env=env,
                         capture_output=True, text=True, check=True)
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--domains", default="1,50,200")
    ap.add_argument("--compare", type=Path, default=None,
                    help="another source tree (the old dense path) to time the same cases on")
    args = ap.parse_args()
    results = []
    for g in (int(x) for x in args.domains.split(",")):
        new = run(SRC, args.rows, g)
        row: dict[str, Any] = {"rows": args.rows, "domains": g,
                               "seconds": round(new["seconds"], 2),
                               "peak_gb": round(new["peak_gb"], 2)}
        if args.compare is not None:
            old = run(args.compare, args.rows, g)
            diff = max(abs(a - b) / abs(b) for a, b in zip(new["se"], old["se"], strict=True))
            row.update({"old_seconds": round(old["seconds"], 2),
                        "old_peak_gb": round(old["peak_gb"], 2),
                        "speedup": round(old["seconds"] / new["seconds"], 1),
                        "memory_ratio": round(old["peak_gb"] / new["peak_gb"], 1),
                        "se_max_rel_diff": float(f"{diff:.2g}")})
        results.append(row)
        print(json.dumps(row), flush=True)
    cols = ["rows", "domains", "seconds", "peak_gb"]
    if args.compare is not None:
        cols += ["old_seconds", "old_peak_gb", "speedup", "memory_ratio", "se_max_rel_diff"]
    write_results("survey_domains", results, cols,
                  "survey_estimate --by: means in domains, raked, linearised")


if __name__ == "__main__":
    main()
