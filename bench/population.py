"""Population by small area: the vectorised bottom-up model and DSE bootstrap vs loops.

Workload 1: ``bottom_up`` for 10,000 areas in two strata, 3,000 of them listed
(~300,000 listed dwellings), 1,000 replicates. The obvious alternative, timed in the same
run: the bootstrap one replicate at a time (refit, then draw every area: numpy within a
replicate, a Python loop over replicates), on a sample of replicates, scaled.

Workload 2: ``dual_system`` for 2,000 areas, 500 enumerated (~150,000 enumeration and
~150,000 census records), 999 Rao–Wu replicates over the sampled areas. The alternative:
each replicate recomputed with pandas (resampled areas' rows concatenated and grouped
by post-stratum), on a sample of replicates, scaled.
"""

from __future__ import annotations

import argparse
import time
from importlib import import_module

import numpy as np
import pandas as pd
from _common import write_results

from citizendata.integrate.population import bottom_up, dual_system

# the module (the package's name bottom_up is the function)
bu_mod = import_module("citizendata.integrate.population.bottom_up")


def dwellings_and_listing(n_areas: int, n_listed: int, seed: int = 1
                          ) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    kind = np.where(np.arange(n_areas) % 3 == 0, "informal", "formal")
    true_d = rng.integers(50, 150, n_areas)
    listed = np.zeros(n_areas, dtype=bool)
    listed[rng.choice(n_areas, n_listed, replace=False)] = True
    area = np.repeat(np.arange(n_areas), np.where(listed, true_d, 0))
    occ = rng.random(len(area)) < 0.88
    names = np.char.add("A", np.arange(n_areas).astype(str))
    dw = pd.DataFrame({"area": names, "kind": kind, "dwellings": rng.binomial(true_d, 0.92)})
    li = pd.DataFrame({"area": names[area], "household": np.arange(len(area)),
                       "occupied": occ, "persons": np.where(occ, 1 + rng.poisson(2.2, len(area)),
                                                            0)})
    return dw, li


def bench_bottom_up(n_areas: int, n_listed: int, draws: int, sample: int) -> dict[str, float]:
    dw, li = dwellings_and_listing(n_areas, n_listed)
    t0, c0 = time.perf_counter(), time.process_time()
    r = bottom_up(dw, li, strata="kind", draws=draws, seed=1)
    t, c = time.perf_counter() - t0, time.process_time() - c0
    # the loop: one replicate at a time (refit the stratum's hyper-parameters on a
    # resample of its listed areas, draw every area), on a sample of replicates, scaled
    notes: list[str] = []
    d, lst = bu_mod._prepare(dw, li, "area", ["kind"], "dwellings", None, "household",
                             "occupied", "persons", notes)
    st = bu_mod._area_stats(d, lst)
    st["_gcount"] = np.where(st["listed"] > 0, st["listed"], np.nan)
    rng = np.random.default_rng(2)
    groups = [g.index.to_numpy() for _, g in st.groupby("_stratum")]
    listed = st["listed"].to_numpy() > 0
    known = listed & (st["occupied"].to_numpy() == st["responding"].to_numpy())
    t1, c1 = time.perf_counter(), time.process_time()
    for _ in range(sample):
        for idx in groups:
            hp = bu_mod._fit(st, idx[listed[idx]], 1, rng, 0.2, None)
            bu_mod._draw(st, idx[~known[idx]], hp, rng, True)  # listed areas are known
    t_loop = (time.perf_counter() - t1) * draws / sample
    c_loop = (time.process_time() - c1) * draws / sample
    return {"bu_areas": n_areas, "bu_listed_areas": n_listed, "bu_listed_dwellings": len(li),
            "bu_draws": draws, "bu_seconds": round(t, 2), "bu_cpu_seconds": round(c, 2),
            "bu_loop_seconds_scaled": round(t_loop, 1), "bu_loop_sample_replicates": sample,
            "bu_speedup": round(t_loop / t, 1), "bu_speedup_cpu": round(c_loop / c, 1),
            "bu_total_estimate": round(r.total["estimate"])}


def pes(n_areas: int, n_sampled: int, seed: int = 3) -> tuple[pd.DataFrame, ...]:
    rng = np.random.default_rng(seed)
    kind = np.where(np.arange(n_areas) % 2 == 0, "informal", "formal")
    size = rng.integers(200, 400, n_areas)
    sampled = np.zeros(n_areas, dtype=bool)
    sampled[rng.choice(n_areas, n_sampled, replace=False)] = True
    area = np.repeat(np.arange(n_areas), size)
    pc = np.where(kind[area] == "informal", 0.75, 0.92)
    in_c, in_e = rng.random(len(area)) < pc, rng.random(len(area)) < 0.88
    names = np.char.add("A", np.arange(n_areas).astype(str))
    pid = np.arange(len(area)).astype(str)
    s = sampled[area]
    counts = pd.DataFrame({"area": names, "kind": kind,
                           "count": np.bincount(area, weights=in_c, minlength=n_areas)})
    census = pd.DataFrame({"area": names[area][s & in_c], "kind": kind[area][s & in_c],
                           "person_id": np.char.add("c", pid[s & in_c])})
    enum = pd.DataFrame({"area": names[area][s & in_e], "kind": kind[area][s & in_e],
                         "person_id": np.char.add("e", pid[s & in_e]),
                         "matched": in_c[s & in_e]})
    return counts, census, enum


def bench_dse(n_areas: int, n_sampled: int, reps: int, sample: int) -> dict[str, float]:
    counts, census, enum = pes(n_areas, n_sampled)
    t0, c0 = time.perf_counter(), time.process_time()
    r = dual_system(counts, enum, census, matched="matched", post_strata="kind",
                    bootstrap=reps, seed=1)
    t, c = time.perf_counter() - t0, time.process_time() - c0
    # the loop: per replicate, the resampled areas' rows concatenated and grouped
    rng = np.random.default_rng(4)
    by_area_p = dict(tuple(enum.groupby("area")))
    by_area_e = dict(tuple(census.groupby("area")))
    kinds = counts.set_index("area")["kind"]
    c_tot = counts.groupby("kind")["count"].sum()
    t1, c1 = time.perf_counter(), time.process_time()
    for _ in range(sample):
        parts_p, parts_e = [], []
        for k in ("informal", "formal"):
            pool = [a for a in by_area_p if kinds[a] == k]
            for a in rng.choice(pool, len(pool) - 1):
                parts_p.append(by_area_p[a])
                parts_e.append(by_area_e[a])
        p, e = pd.concat(parts_p), pd.concat(parts_e)
        g = p.groupby("kind")["matched"].agg(["size", "sum"])
        _ = c_tot * (g["size"] / g["sum"]) * 1.0 + 0 * e.groupby("kind").size()
    t_loop = (time.perf_counter() - t1) * reps / sample
    c_loop = (time.process_time() - c1) * reps / sample
    return {"dse_areas": n_areas, "dse_sampled_areas": n_sampled,
            "dse_enumeration_records": len(enum), "dse_census_records": len(census),
            "dse_replicates": reps, "dse_seconds": round(t, 2), "dse_cpu_seconds": round(c, 2),
            "dse_loop_seconds_scaled": round(t_loop, 1), "dse_loop_sample_replicates": sample,
            "dse_speedup": round(t_loop / t, 1), "dse_speedup_cpu": round(c_loop / c, 1),
            "dse_total_estimate": round(r.total["estimate"])}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--areas", type=int, default=10_000)
    ap.add_argument("--listed", type=int, default=3_000)
    ap.add_argument("--draws", type=int, default=1_000)
    ap.add_argument("--sample", type=int, default=50)
    args = ap.parse_args()
    result = {**bench_bottom_up(args.areas, args.listed, args.draws, args.sample),
              **bench_dse(2_000, 500, 999, 20)}
    write_results("population", result, list(result),
                  "Population: bottom-up (10,000 areas) and DSE bootstrap, vectorised vs loops")


if __name__ == "__main__":
    main()
