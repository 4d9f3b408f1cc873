"""Benchmark: secondary cell suppression of a three-dimensional hierarchical count table.

Builds a synthetic table with every sub-total and total — place (4 regions → 6
districts each), age group (10 groups, flat) and activity (5 sectors → 6 subsectors
each): 29 × 11 × 36 = 11,484 cells. Leaf counts are negative binomial with a mean that
varies by district, age and subsector, tuned so about 5 % of all cells are sensitive
under the threshold rule (0 < n < 5). It then times secondary suppression with the
method ``auto`` picks at this size, runs the attacker on the result (every sensitive
cell's interval must reach [a − L, a + U]) and compares against two alternatives in the
same run:

* the naive heuristic "while some total has exactly one suppressed cell, suppress its
  smallest published neighbour", with its information loss and whether the attacker
  breaks it;
* the exact Fischetti–Salazar MILP on sub-tables small enough for it (one region ×
  three age groups × one sector, with their totals), against the fast method on the
  same sub-tables: the information-loss ratio fast / optimal.

Writes bench/results/suppress.json. Target: < 60 s on 2 cores.

    python bench/suppress.py [--seed 7]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from itertools import product
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).parent))
from _common import write_results

from citizendata.privacy.attack import attack, check_protection
from citizendata.privacy.structure import TOTAL, TableStructure, check_additive
from citizendata.privacy.suppress import (
    cost_vector,
    protection_levels,
    secondary_suppression,
    threshold_rule,
)

TARGET_SECONDS = 60.0
THRESHOLD = 5
REGIONS = [f"R{r}" for r in range(4)]
DISTRICTS = {f"R{r}D{d}": f"R{r}" for r in range(4) for d in range(6)}
AGES = [f"Y{a:02d}" for a in range(10)]
SECTORS = [f"S{s}" for s in range(5)]
SUBSECTORS = {f"S{s}B{b}": f"S{s}" for s in range(5) for b in range(6)}
HIER = {"place": {**DISTRICTS, **{r: TOTAL for r in REGIONS}},
        "activity": {**SUBSECTORS, **{s: TOTAL for s in SECTORS}}}
DIMS = ["place", "age", "activity"]


def synthetic_table(seed: int) -> pd.DataFrame:
    """Leaf counts (negative binomial) rolled up to every sub-total and total."""
    rng = np.random.default_rng(seed)
    leaves = pd.DataFrame(list(product(DISTRICTS, AGES, SUBSECTORS)), columns=DIMS)
    k = len(leaves)
    # multiplicative effects make small cells cluster in small districts and subsectors
    mean = (rng.lognormal(0, 0.5, len(DISTRICTS))[leaves["place"].str[3].astype(int) +
                                                   6 * leaves["place"].str[1].astype(int)]
            * np.linspace(1.6, 0.5, 10)[leaves["age"].str[1:].astype(int)]
            * rng.lognormal(0, 0.6, k) * 40.0)
    size = 2.0
    leaves["n"] = rng.negative_binomial(size, size / (size + mean))
    levels = {"place": [lambda s: s, lambda s: s.map(DISTRICTS), lambda s: TOTAL],
              "age": [lambda s: s, lambda s: TOTAL],
              "activity": [lambda s: s, lambda s: s.map(SUBSECTORS), lambda s: TOTAL]}
    parts = []
    for fp, fa, fs in product(levels["place"], levels["age"], levels["activity"]):
        g = pd.DataFrame({"place": fp(leaves["place"]), "age": fa(leaves["age"]),
                          "activity": fs(leaves["activity"]), "n": leaves["n"]})
        parts.append(g.groupby(DIMS, as_index=False, sort=False)["n"].sum())
    return pd.concat(parts, ignore_index=True)


def naive(structure: TableStructure, a: np.ndarray, prim: np.ndarray) -> np.ndarray:
    """Suppress the smallest published cell of every total with exactly one suppressed cell."""
    A = abs(structure.A).tocsr()
    sup = prim.copy()
    while True:
        hits = A @ sup.astype(float)
        lone = np.flatnonzero(hits == 1)
        if lone.size == 0:
            return sup
        for r in lone:
            cols = A.indices[A.indptr[r]:A.indptr[r + 1]]
            if sup[cols].sum() != 1:
                continue  # an earlier repair in this sweep already fixed it
            free = cols[~sup[cols]]
            sup[free[np.argmin(a[free])]] = True


def small_tables(table: pd.DataFrame) -> list[pd.DataFrame]:
    """Sub-tables one region × three ages × one sector with their totals, for the exact MILP."""
    out = []
    for r, s in [("R0", "S0"), ("R1", "S2"), ("R3", "S4")]:
        places = [p for p, q in DISTRICTS.items() if q == r] + [r]
        acts = [b for b, q in SUBSECTORS.items() if q == s] + [s]
        sub = table[table["place"].isin(places) & table["age"].isin(AGES[:3])
                    & table["activity"].isin(acts)].copy()
        # three age groups: their own total keeps the sub-table additive
        tot = sub.groupby(["place", "activity"], as_index=False)["n"].sum().assign(age=TOTAL)
        out.append(pd.concat([sub, tot], ignore_index=True))
    return out


def compare_small(table: pd.DataFrame) -> dict[str, Any]:
    """Fast versus optimal information loss on small sub-tables."""
    hier = {"place": {**DISTRICTS, **{r: TOTAL for r in REGIONS}},
            "activity": {**SUBSECTORS, **{s: TOTAL for s in SECTORS}}}
    fast_cost = opt_cost = fast_s = opt_s = 0.0
    cells = 0
    for sub in small_tables(table):
        st = TableStructure.from_table(sub, DIMS, hier)
        a = np.zeros(st.n_cells)
        a[st.positions(sub)] = sub["n"].to_numpy(float)
        prim = threshold_rule(a, THRESHOLD)
        lo, up = protection_levels(a, 0.3, 1.0)
        floor = np.minimum(a, 1.0)
        cells += st.n_cells
        for method in ("fast", "optimal"):
            r = secondary_suppression(st, a, prim, lower=lo, upper=up, method=method,
                                      time_limit=20, floor=floor)
            bad = check_protection(attack(st, a, r.suppressed, lower=floor, integer=True),
                                   r.lower, r.upper, cells=prim)
            assert bad.empty, f"{method} left cells unprotected"
            if method == "fast":
                fast_cost, fast_s = fast_cost + r.info_loss["cost"], fast_s + r.seconds
            else:
                opt_cost, opt_s = opt_cost + r.info_loss["cost"], opt_s + r.seconds
    return {"small_cells": cells, "small_fast_cost": fast_cost, "small_optimal_cost": opt_cost,
            "small_fast_over_optimal": fast_cost / opt_cost if opt_cost else 1.0,
            "small_fast_seconds": fast_s, "small_optimal_seconds": opt_s}


def main() -> None:
    """Run the benchmark and write bench/results/suppress.json."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    os.environ.setdefault("COLUMNS", "160")  # room for the result table's ten columns
    table = synthetic_table(args.seed)
    t0 = time.perf_counter()
    st = TableStructure.from_table(table, DIMS, HIER)
    build = time.perf_counter() - t0
    a = np.zeros(st.n_cells)
    a[st.positions(table)] = table["n"].to_numpy(float)
    check_additive(st, a)
    prim = threshold_rule(a, THRESHOLD)
    lo, up = protection_levels(a, 0.3, 1.0)
    # a listed cell is not empty: the reader knows every hidden count is at least 1
    floor = np.minimum(a, 1.0)
    res = secondary_suppression(st, a, prim, lower=lo, upper=up, method="auto", floor=floor)
    t1 = time.perf_counter()
    bad = check_protection(attack(st, a, res.suppressed, cells=prim, lower=floor), res.lower,
                           res.upper, cells=prim)
    attack_s = time.perf_counter() - t1
    t2 = time.perf_counter()
    nv = naive(st, a, prim)
    naive_s = time.perf_counter() - t2
    naive_bad = check_protection(attack(st, a, nv, cells=prim, lower=floor), res.lower,
                                 res.upper, cells=prim)
    c = cost_vector(a, "value")
    naive_cost = float(c[nv & ~prim].sum())
    out: dict[str, Any] = {
        "cells": st.n_cells, "constraints": int(st.A.shape[0]), "primary": int(prim.sum()),
        "primary_share": float(prim.mean()), "secondary": int(res.secondary.sum()),
        "method": res.method, "seconds": res.seconds, "structure_seconds": build,
        "lps": res.solves, "attack_seconds": attack_s, "unprotected": len(bad),
        "info_loss_value": res.info_loss["value"], "info_loss_cost": res.info_loss["cost"],
        "suppressed_share": res.info_loss["share_of_cells"],
        "naive_secondary": int((nv & ~prim).sum()), "naive_cost": naive_cost,
        "naive_seconds": naive_s, "naive_unprotected": len(naive_bad),
        "naive_cost_over_fast": naive_cost / res.info_loss["cost"] if res.info_loss["cost"]
        else float("nan"),
        **compare_small(table), "target_seconds": TARGET_SECONDS,
    }
    out["total_seconds"] = time.perf_counter() - t0
    write_results("suppress", out, ["cells", "primary", "secondary", "method", "seconds",
                                    "attack_seconds", "unprotected", "naive_secondary",
                                    "naive_unprotected", "small_fast_over_optimal"],
                  "Secondary cell suppression, 3-D hierarchical table")
    assert out["unprotected"] == 0, "the attacker broke the suppression pattern"


if __name__ == "__main__":
    main()
