"""Benchmark: the full disaggregation cube of a weighted proportion over 10,000,000 rows.

Generates 10,000,000 synthetic microdata rows inside DuckDB (deterministic: every
column is a hash of the row number with its own salt) with six string dimensions —
sex (2), age group (7), disability (2, about 5 % unknown/NULL), ward (20), indigenous
group (3) and county (4, the ward's county) — a 0/1 outcome whose probability varies
by cell, design weights varying by ward (0.5 to 4) and calibrated weights that adjust
them by ward x age group. It then times the engine exactly as the library calls it
(``cube_sums`` then ``cube_estimates``: weighted proportions, linearised SEs, CIs,
CVs and reliability flags for every cell of the full cube) against the floor: a bare
DuckDB ``GROUP BY CUBE`` of the same counts (COUNT(*), SUM(_y)) on the same connection
and data, fetched to pandas. As extra figures it times the calibration-aware variant
(margins ward and age group) and a bare ``GROUP BY CUBE`` of the engine's seven sums.
Each figure is the median of ``--repeat`` rounds (every variant once per round, in turn)
after one warm-up round.
Writes bench/results/disaggregate.json. Target: < 60 s on 2 cores, <= 3x the floor.

    python bench/disaggregate.py [--rows 10000000] [--repeat 5] [--no-calibrated]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb
import ibis
import numpy as np
import pandas as pd
from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).parent))
from _common import RESULTS, machine

from citizendata.stats.cube import (
    TOTAL,
    CalibrationMoments,
    CubeRequest,
    EstimateOptions,
    cube_estimates,
    cube_sums,
)

DIMS = ["sex", "age_group", "disability", "ward", "indigenous", "county"]
CAL_DIMS = ["ward", "age_group"]  # the calibration margins of the calibrated variant
TARGET_SECONDS = 60.0
TARGET_RATIO = 3.0

# Every column is a function of the row number i: hash(i * 8 + salt) is DuckDB's 64-bit hash,
# so the data are the same on every run and every machine running the same DuckDB.
MICRO_SQL = """
CREATE OR REPLACE TABLE micro AS
WITH codes AS (
    SELECT i,
           CAST(hash(i * 8 + 1) % 2 AS INTEGER) AS sex_k,
           CAST(hash(i * 8 + 2) % 7 AS INTEGER) AS age_k,
           CAST(hash(i * 8 + 3) % 100 AS INTEGER) AS dis_u,
           CAST(hash(i * 8 + 4) % 20 AS INTEGER) AS ward_k,
           CAST(hash(i * 8 + 5) % 10 AS INTEGER) AS ind_u,
           (hash(i * 8 + 6) % 1000000) / 1000000.0 AS u_y,
           (hash(i * 8 + 7) % 1000000) / 1000000.0 AS u_w
    FROM range({rows}) t(i)
), coded AS (
    SELECT *,
           CASE WHEN dis_u < 5 THEN NULL WHEN dis_u < 20 THEN 1 ELSE 0 END AS dis_k,
           CASE WHEN ind_u < 6 THEN 0 WHEN ind_u < 9 THEN 1 ELSE 2 END AS ind_k
    FROM codes
)
SELECT CAST(i AS BIGINT) AS _psu,
       CASE sex_k WHEN 0 THEN 'female' ELSE 'male' END AS sex,
       ['0-4', '5-14', '15-24', '25-34', '35-49', '50-64', '65+'][age_k + 1] AS age_group,
       CASE dis_k WHEN 1 THEN 'yes' WHEN 0 THEN 'no' END AS disability,
       'ward' || lpad(CAST(ward_k + 1 AS VARCHAR), 2, '0') AS ward,
       ['none', 'maasai', 'other'][ind_k + 1] AS indigenous,
       'county' || CAST(ward_k // 5 + 1 AS VARCHAR) AS county,
       CASE WHEN u_y < 0.10 + 0.05 * sex_k + 0.04 * age_k + 0.15 * coalesce(dis_k, 0.5)
                      + 0.01 * ward_k + 0.08 * ind_k
            THEN 1.0 ELSE 0.0 END AS _y,
       1.0 AS _z,
       (0.5 + 3.5 * ((ward_k * 7 + 3) % 20) / 19.0) * (0.9 + 0.2 * ((age_k * 3 + ward_k) % 7) / 6.0)
           * (0.95 + 0.1 * u_w) AS _w,
       (0.5 + 3.5 * ((ward_k * 7 + 3) % 20) / 19.0) * (0.95 + 0.1 * u_w) AS _d
FROM coded
"""


def _floor_sql(aggs: list[str]) -> str:
    dims = ", ".join(DIMS)
    return f"SELECT {dims}, {', '.join(aggs)} FROM micro GROUP BY CUBE ({dims})"


FLOOR_SQL = _floor_sql(["COUNT(*) AS n", "SUM(_y) AS y"])
# the engine's seven sums, bare: separates the cost of the sums from the engine's own work
SEVEN_SQL = _floor_sql(["COUNT(*) AS n", "COUNT(*) AS n_psu", "SUM(_w * _z) AS wz",
                        "SUM(_w * _y) AS wy", "SUM(_w * _w * _y * _y) AS wwyy",
                        "SUM(_w * _w * _y * _z) AS wwyz", "SUM(_w * _w * _z * _z) AS wwzz"])


def moments(raw: duckdb.DuckDBPyConnection) -> CalibrationMoments:
    """The calibration moments over ward and age-group margins, from one GROUP BY in DuckDB.

    With two one-hot margins, A = sum d x x' has per-category totals on the diagonal
    blocks and the ward x age-group cross totals off them; M and wx likewise. Built from
    the cross table (one row per ward x age group, weighted by the cell's sums), which
    gives the matrices ``CalibrationMoments.from_arrays`` would from the 10M-row X.
    """
    cross = raw.sql("SELECT ward, age_group, SUM(_d) AS d, SUM(_w * _w) AS ww, SUM(_w) AS w "
                    "FROM micro GROUP BY ward, age_group ORDER BY ward, age_group").df()
    columns: list[tuple[str, str]] = []
    blocks = []
    for col in CAL_DIMS:
        cats = sorted(cross[col].unique())
        columns += [(col, c) for c in cats]
        blocks.append((cross[col].to_numpy()[:, None] == np.array(cats, dtype=object)[None, :])
                      .astype(float))
    X = np.hstack(blocks)
    d, ww, w = (cross[c].to_numpy(float) for c in ("d", "ww", "w"))
    # each cross-table row stands for all its units: sum_i d_i x_i x_i' = sum_cells D_c x_c x_c'
    return CalibrationMoments(columns, (X * d[:, None]).T @ X, (X * ww[:, None]).T @ X, X.T @ w)


def interleaved(tasks: dict[str, Callable[[], dict[str, Any]]], repeat: int
                ) -> tuple[dict[str, list[float]], dict[str, dict[str, Any]]]:
    """One warm-up round, then ``repeat`` rounds running every task once, in turn.

    Interleaving puts the floor and the engine under the same conditions (this machine's
    speed drifts by tens of per cent between minutes). Each task returns its own parts'
    seconds (keys ending in ``_s``); returns every figure's runs and each task's last result.
    """
    last = {name: fn() for name, fn in tasks.items()}
    steps: dict[str, list[float]] = {}
    for _ in range(repeat):
        for name, fn in tasks.items():
            t0 = time.perf_counter()
            last[name] = fn()
            steps.setdefault(name, []).append(time.perf_counter() - t0)
            for part, sec in last[name].items():
                if part.endswith("_s"):
                    steps.setdefault(f"{name}_{part[:-2]}", []).append(sec)
    return steps, last


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--repeat", type=int, default=5, help="timed rounds after one warm-up")
    parser.add_argument("--no-calibrated", action="store_true",
                        help="skip the calibration-aware variant")
    args = parser.parse_args()
    rows, repeat = args.rows, max(1, args.repeat)

    con = ibis.duckdb.connect()
    raw: duckdb.DuckDBPyConnection = con.con
    t0 = time.perf_counter()
    raw.execute(MICRO_SQL.format(rows=rows))
    generate_s = time.perf_counter() - t0
    threads = raw.execute("SELECT current_setting('threads')").fetchall()[0][0]
    print(f"generated {rows:,} rows in DuckDB in {generate_s:.1f} s ({threads} threads)")
    table = con.table("micro")

    req = CubeRequest(dims=DIMS, sets=None, unit_is_psu=True, psu_level=set(DIMS), weighted=True)
    opt = EstimateOptions(kind="proportion", n_design=rows, weighted=True)
    cal = None if args.no_calibrated else moments(raw)

    def engine(c: CalibrationMoments | None = None) -> dict[str, Any]:
        t0 = time.perf_counter()
        sums = cube_sums(table, req, c)
        t1 = time.perf_counter()
        est = cube_estimates(sums, DIMS, opt, c)
        return {"sums_s": t1 - t0, "estimates_s": time.perf_counter() - t1, "est": est}

    tasks: dict[str, Callable[[], dict[str, Any]]] = {
        "floor": lambda: {"df": raw.sql(FLOOR_SQL).df()},
        "floor_seven_sums": lambda: {"df": raw.sql(SEVEN_SQL).df()},
        "engine": engine,
    }
    if cal is not None:
        tasks["engine_calibrated"] = lambda: engine(cal)
    steps, last = interleaved(tasks, repeat)
    est: pd.DataFrame = last["engine"]["est"]
    seven: pd.DataFrame = last["floor_seven_sums"]["df"]
    med = {k: statistics.median(v) for k, v in steps.items()}

    # sanity: every cell is there, the grand total is the whole sample, the values are proportions
    cells = len(est)
    if cells != len(seven):
        raise SystemExit(f"the engine gave {cells:,} cells, the bare cube {len(seven):,}")
    grand = est[(est[DIMS] == TOTAL).all(axis=1)]
    if len(grand) != 1 or int(grand["n"].iloc[0]) != rows:
        raise SystemExit("the grand total is not the whole sample")
    if not ((est["value"] >= 0) & (est["value"] <= 1)).all():
        raise SystemExit("an estimate is outside [0, 1]")
    flags = est["flag"].replace("", "ok").value_counts().to_dict()

    seconds, floor = med["engine"], med["floor"]
    ratio = seconds / floor
    result: dict[str, Any] = {
        "rows": rows,
        "dims": len(DIMS),
        "cells": cells,
        "seconds": round(seconds, 3),
        "floor_seconds": round(floor, 3),
        "ratio_to_floor": round(ratio, 2),
        "seconds_sums": round(med["engine_sums"], 3),
        "seconds_estimates": round(med["engine_estimates"], 3),
        "floor_seven_sums_seconds": round(med["floor_seven_sums"], 3),
        "seconds_calibrated": round(med["engine_calibrated"], 3) if cal is not None else None,
        "calibration_columns": len(cal.columns) if cal is not None else 0,
        "ratio_calibrated_to_floor": round(med["engine_calibrated"] / floor, 2)
        if cal is not None else None,
        # the machine's speed drifts between rounds; the ratio within a round holds steadier
        "ratio_per_round": [round(e / f, 2) for e, f in zip(steps["engine"], steps["floor"],
                                                             strict=True)],
        "timing": f"median of {repeat} interleaved rounds after one warm-up round",
        "runs": {k: [round(x, 3) for x in v] for k, v in steps.items()},
        "generate_seconds": round(generate_s, 3),
        "dimensions": {d: int(est.loc[est[d] != TOTAL, d].nunique()) for d in DIMS},
        "flags": {str(k): int(v) for k, v in flags.items()},
        "grand_total": {"value": round(float(grand["value"].iloc[0]), 6),
                        "se": float(grand["se"].iloc[0])},
        "target_seconds": TARGET_SECONDS,
        "target_ratio": TARGET_RATIO,
        "target_met": bool(seconds < TARGET_SECONDS and ratio <= TARGET_RATIO),
        "duckdb": duckdb.__version__,
        "ibis": ibis.__version__,
        "duckdb_threads": int(threads),
    }
    if cal is not None:
        cest = last["engine_calibrated"]["est"]
        g = cest[(cest[DIMS] == TOTAL).all(axis=1)]
        result["grand_total_calibrated_se"] = float(g["se"].iloc[0])

    table_out = Table("figure", "seconds", "ratio to floor", title=(
        f"Disaggregation: {rows:,} rows, {len(DIMS)} dims, {cells:,} cells "
        f"(median of {repeat} interleaved rounds after a warm-up)"))
    table_out.add_row("engine: cube_sums", f"{med['engine_sums']:.2f}", "")
    table_out.add_row("engine: cube_estimates", f"{med['engine_estimates']:.2f}", "")
    table_out.add_row("[bold]engine total[/bold]", f"[bold]{seconds:.2f}[/bold]", f"[bold]{ratio:.2f}[/bold]")
    table_out.add_row("floor: bare GROUP BY CUBE, COUNT + SUM", f"{floor:.2f}", "1.00")
    table_out.add_row("bare GROUP BY CUBE, the engine's 7 sums", f"{med['floor_seven_sums']:.2f}",
                      f"{med['floor_seven_sums'] / floor:.2f}")
    if cal is not None:
        table_out.add_row(f"engine calibrated ({len(cal.columns)} cal. columns; extra)",
                          f"{med['engine_calibrated']:.2f}", f"{med['engine_calibrated'] / floor:.2f}")
    Console().print(table_out)
    verdict_s = "met" if seconds < TARGET_SECONDS else "NOT met"
    verdict_r = "met" if ratio <= TARGET_RATIO else "NOT met"
    print(f"target < {TARGET_SECONDS:.0f} s: {verdict_s} ({seconds:.2f} s); "
          f"<= {TARGET_RATIO:.0f}x floor: {verdict_r} ({ratio:.2f}x)")

    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / "disaggregate.json"
    out.write_text(json.dumps({**result, "machine": machine()}, indent=2) + "\n")
    print(f"written {out}")


if __name__ == "__main__":
    main()
