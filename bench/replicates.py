"""Benchmark: re-calibrated replicate SEs for a six-dimension cube over 1,000,000 rows.

A synthetic stratified cluster sample (numpy, fixed seed): 1,000,000 rows in 2,000 PSUs
(sizes vary) in 50 strata of 40 PSUs, design weights varying by stratum, six categorical
dimensions — sex (2), age group (5), region (8, a function of the stratum), disability (2),
urban (2, a property of the PSU), education (4) — a 0/1 outcome and a skewed continuous
one, both clustered within PSUs. The weights are raked to three margins (sex, age group,
region). For every cell of the full cube (all 64 grouping sets of the six dimensions) the
script estimates a proportion and a mean with their standard errors, three ways:

* **bootstrap** (the target): 200 Rao–Wu bootstrap replicates, each re-calibrated to the
  three margins, through the library exactly as the product calls it —
  ``replicates.bootstrap`` (n x 200 weights), ``replicates.recalibrate_margins`` (the
  combination fast path), replicate cell sums by sparse products, ``Replicates.variance``;
* **linearised**: the calibration-aware stratified with-replacement variance
  ``sum_h n_h/(n_h-1) sum_i (t_hi - tbar_h)^2`` of the GREG residual totals, from
  per-(cell, PSU) sums;
* **JK1**: the delete-one-PSU jackknife implies one replicate per PSU, 2,000 of them; as
  n x R weights that is 16 GB, so it runs factored (per-(fine cell, PSU) sums times PSU x
  replicate factors, g from ``replicates.calibrate_table``), which the script first checks
  gives the bootstrap's SEs from the same factors to 1e-8.

Writes bench/results/replicates.json. Target: the bootstrap run under 60 s on 2 cores.

    python bench/replicates.py [--rows 1000000] [--replicates 200] [--no-jk1]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from rich.console import Console
from rich.table import Table
from scipy import sparse

sys.path.insert(0, str(Path(__file__).parent))
from _common import RESULTS, machine

from citizendata.stats.calibrate import Margin, calibrate
from citizendata.survey.replicates import (
    Replicates,
    bootstrap,
    calibrate_table,
    recalibrate_margins,
)

DIMS = {"sex": 2, "age": 5, "region": 8, "disability": 2, "urban": 2, "education": 4}
MARGINS = ("sex", "age", "region")
STRATA, PSUS = 50, 2000
TARGET_SECONDS = 60.0


def generate(rows: int, seed: int = 18) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """The sample (dimension codes as strings, psu, stratum, d, y, x) and its codes (n x 6)."""
    rng = np.random.default_rng(seed)
    psu_size = rng.multinomial(rows, rng.dirichlet(np.full(PSUS, 20.0)))
    psu = np.repeat(np.arange(PSUS), psu_size)
    stratum_of_psu = np.arange(PSUS) % STRATA
    stratum = stratum_of_psu[psu]
    effect = rng.normal(0.0, 0.4, PSUS)[psu]  # clustering
    codes = np.column_stack([
        rng.integers(0, 2, rows),
        rng.integers(0, 5, rows),
        stratum % 8,
        (rng.random(rows) < 0.12).astype(np.int64),
        (rng.random(PSUS) < 0.4).astype(np.int64)[psu],
        rng.integers(0, 4, rows),
    ])
    eta = -1.2 + 0.3 * codes[:, 0] + 0.15 * codes[:, 1] + 0.8 * codes[:, 3] + effect
    y = (rng.random(rows) < 1 / (1 + np.exp(-eta))).astype(float)
    x = np.exp(3.0 + 0.2 * codes[:, 5] + 0.5 * effect + rng.normal(0, 0.6, rows))
    d = (20.0 + 10.0 * (np.arange(STRATA) % 7))[stratum] * rng.uniform(0.9, 1.1, rows)
    frame = pd.DataFrame({name: pd.Categorical.from_codes(codes[:, j], [f"{name}{k}" for k in
                                                                          range(DIMS[name])])
                          for j, name in enumerate(DIMS)})
    frame = frame.assign(psu=psu, stratum=stratum, d=d, y=y, x=x)
    return frame, codes, stratum_of_psu


def margins_for(frame: pd.DataFrame, codes: np.ndarray, seed: int = 5) -> list[Margin]:
    """Population margins: the design-weighted sample totals, perturbed, on one grand total."""
    rng = np.random.default_rng(seed)
    N = float(frame["d"].sum())
    out = []
    for name in MARGINS:
        j = list(DIMS).index(name)
        t = np.bincount(codes[:, j], weights=frame["d"].to_numpy(), minlength=DIMS[name])
        t = t * rng.uniform(0.9, 1.1, t.size)
        t *= N / t.sum()
        out.append(Margin((name,), {(f"{name}{k}",): float(v) for k, v in enumerate(t)}))
    return out


class Cube:
    """All 64 grouping sets of the six dimensions as sparse sums over the fine cells."""

    def __init__(self, codes: np.ndarray, y: np.ndarray, x: np.ndarray) -> None:
        self.y, self.x = y, x
        sizes = np.array(list(DIMS.values()))
        self.fine = np.ravel_multi_index(codes.T, sizes)
        self.n_fine = int(np.prod(sizes))
        digits = np.column_stack(np.unravel_index(np.arange(self.n_fine), sizes))
        masks = ((np.arange(64)[:, None] >> np.arange(6)[None, :]) & 1).astype(bool)
        # in grouping set s a dimension outside s takes the extra code "total" (= its size)
        ext = np.where(masks[:, None, :], digits[None, :, :], sizes[None, None, :])
        cell = np.ravel_multi_index(ext.reshape(-1, 6).T, sizes + 1)
        self.n_cells = int(np.prod(sizes + 1))
        self.G = sparse.csr_matrix((np.ones(cell.size), (cell, np.tile(np.arange(self.n_fine), 64))),
                                   shape=(self.n_cells, self.n_fine))
        self.digits = digits
        n = codes.shape[0]
        self.A = sparse.csr_matrix((np.ones(n), (self.fine, np.arange(n))),
                                   shape=(self.n_fine, n))

    def sums(self, values: np.ndarray | None, W: np.ndarray) -> np.ndarray:
        """Cube cell totals (cells x R) of values * W (W is n x R, or n)."""
        A = self.A if values is None else sparse.csr_matrix(
            (values[self.A.indices], self.A.indices, self.A.indptr), shape=self.A.shape)
        return np.asarray(self.G @ (A @ W))


def replicate_run(frame: pd.DataFrame, cube: Cube, margins: list[Margin], w_full: np.ndarray,
                  replicates: int) -> tuple[dict[str, float], dict[str, np.ndarray], Replicates]:
    """Bootstrap, re-calibrate every replicate, cube estimates with replicate SEs."""
    t: dict[str, float] = {}
    t0 = time.perf_counter()
    rep = bootstrap(frame["d"].to_numpy(), frame["stratum"].to_numpy(), frame["psu"].to_numpy(),
                    replicates=replicates, seed=1)
    t["bootstrap_weights_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    rep = recalibrate_margins(rep, frame, margins, inplace=True)  # one n x R matrix, not two
    t["recalibrate_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    out = estimates(cube, rep, lambda v: cube.sums(v, rep.weights), lambda v: cube.sums(v, w_full))
    t["cube_s"] = time.perf_counter() - t0
    return t, out, rep


def estimates(cube: Cube, rep: Replicates, rep_sums: Any, full_sums: Any) -> dict[str, np.ndarray]:
    """Proportion of y and mean of x per cell, with replicate SEs."""
    N_r, N = rep_sums(None), full_sums(None).ravel()
    out: dict[str, np.ndarray] = {"N": N}
    with np.errstate(invalid="ignore", divide="ignore"):
        for name, v in (("proportion", cube.y), ("mean", cube.x)):
            value = full_sums(v).ravel() / N
            theta_r = rep_sums(v) / N_r
            out[name] = value
            out[f"{name}_se"] = np.sqrt(np.asarray(rep.variance(theta_r, value)))
    return out


def linearised_run(frame: pd.DataFrame, cube: Cube, w_full: np.ndarray,
                   stratum_of_psu: np.ndarray) -> tuple[float, dict[str, np.ndarray]]:
    """Calibration-aware linearised SEs from per-(cell, PSU) sums (GREG residual totals)."""
    t0 = time.perf_counter()
    psu = frame["psu"].to_numpy()
    d = frame["d"].to_numpy()
    F, m = cube.n_fine, PSUS
    key = cube.fine * m + psu

    def fine_psu(v: np.ndarray) -> np.ndarray:
        return np.bincount(key, weights=v, minlength=F * m).reshape(F, m)

    Pw, Pwy, Pwx = fine_psu(w_full), fine_psu(w_full * cube.y), fine_psu(w_full * cube.x)
    Dd = np.bincount(cube.fine, weights=d, minlength=F)
    Ddy = np.bincount(cube.fine, weights=d * cube.y, minlength=F)
    Ddx = np.bincount(cube.fine, weights=d * cube.x, minlength=F)
    # the margin indicators of each fine cell (the margins are cube dimensions)
    cols = [list(DIMS).index(name) for name in MARGINS]
    Xf = np.hstack([(cube.digits[:, j][:, None] == np.arange(DIMS[name])[None, :]).astype(float)
                    for j, name in zip(cols, MARGINS, strict=True)])
    Minv = np.linalg.pinv((Xf * Dd[:, None]).T @ Xf, hermitian=True)
    WX = Pw.T @ Xf  # m x p: each PSU's calibrated weight in each margin category
    H = sparse.csr_matrix((np.ones(m), (np.arange(m), stratum_of_psu)), shape=(m, STRATA))
    n_h = np.asarray(H.sum(axis=0)).ravel()
    Nc_psu = np.asarray(cube.G @ Pw)
    N = Nc_psu.sum(axis=1)
    out: dict[str, np.ndarray] = {"N": N}
    with np.errstate(invalid="ignore", divide="ignore"):
        for name, P, Dv in (("proportion", Pwy, Ddy), ("mean", Pwx, Ddx)):
            Yc_psu = np.asarray(cube.G @ P)
            theta = Yc_psu.sum(axis=1) / N
            t = (Yc_psu - theta[:, None] * Nc_psu) / N[:, None]  # influence totals per PSU
            XDu = (np.asarray(cube.G @ (Xf * Dv[:, None]))
                   - theta[:, None] * np.asarray(cube.G @ (Xf * Dd[:, None]))) / N[:, None]
            t = t - (XDu @ Minv) @ WX.T  # GREG residual totals
            s1 = np.asarray((H.T @ t.T).T)
            s2 = np.asarray((H.T @ (t * t).T).T)
            v = (s2 - s1 * s1 / n_h) @ (n_h / (n_h - 1.0))
            out[name] = theta
            out[f"{name}_se"] = np.sqrt(np.maximum(v, 0.0))
    return time.perf_counter() - t0, out


def factored_run(frame: pd.DataFrame, cube: Cube, margins: list[Margin], w_full: np.ndarray,
                 factors: np.ndarray, rep: Replicates) -> dict[str, np.ndarray]:
    """Replicate SEs from PSU x R factors without n x R weights (exact; g per combination)."""
    psu, d = frame["psu"].to_numpy(), frame["d"].to_numpy()
    F, m = cube.n_fine, PSUS
    key = cube.fine * m + psu

    def fine_psu(v: np.ndarray) -> np.ndarray:
        return np.bincount(key, weights=v, minlength=F * m).reshape(F, m)

    cols = [list(DIMS).index(name) for name in MARGINS]
    sizes = [DIMS[name] for name in MARGINS]
    comb = np.ravel_multi_index(cube.digits[:, cols].T, sizes)  # fine cell -> combination
    K = int(np.prod(sizes))
    Xk = np.hstack([(np.column_stack(np.unravel_index(np.arange(K), sizes))[:, i][:, None]
                     == np.arange(s)[None, :]).astype(float) for i, s in enumerate(sizes)])
    totals = np.concatenate([list(mg.totals.values()) for mg in margins])
    Pd = fine_psu(d) @ factors  # F x R: each replicate's design weight per fine cell
    C = sparse.csr_matrix((np.ones(F), (comb, np.arange(F))), shape=(K, F))
    g = calibrate_table(np.asarray(C @ Pd), Xk, totals)  # K x R
    sums: dict[str, np.ndarray] = {}
    for name, v in (("N", d), ("y", d * cube.y), ("x", d * cube.x)):
        sums[name] = np.asarray(cube.G @ ((fine_psu(v) @ factors) * g[comb]))

    def rep_sums(v: np.ndarray | None) -> np.ndarray:
        return sums["N"] if v is None else sums["y" if v is cube.y else "x"]

    return estimates(cube, rep, rep_sums, lambda v: cube.sums(v, w_full))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--replicates", type=int, default=200)
    parser.add_argument("--no-jk1", action="store_true", help="skip the factored JK1 run")
    args = parser.parse_args()
    load_start = os.getloadavg()

    t0 = time.perf_counter()
    frame, codes, stratum_of_psu = generate(args.rows)
    margins = margins_for(frame, codes)
    generate_s = time.perf_counter() - t0
    print(f"generated {args.rows:,} rows, {PSUS} PSUs in {STRATA} strata in {generate_s:.1f} s")

    t0 = time.perf_counter()
    cube = Cube(codes, frame["y"].to_numpy(), frame["x"].to_numpy())
    cube_setup_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    w_full = calibrate(frame, margins, design_weights=frame["d"].to_numpy()).weights
    calibrate_s = time.perf_counter() - t0

    t0 = time.perf_counter()
    steps, boot, rep = replicate_run(frame, cube, margins, w_full, args.replicates)
    boot_s = time.perf_counter() - t0 + calibrate_s + cube_setup_s
    print(f"bootstrap: {boot_s:.1f} s " + ", ".join(f"{k[:-2]} {v:.1f} s" for k, v in steps.items()))

    lin_s, lin = linearised_run(frame, cube, w_full, stratum_of_psu)
    lin_total_s = lin_s + calibrate_s + cube_setup_s
    print(f"linearised: {lin_total_s:.1f} s")

    # the factored path, checked on the bootstrap's own factors, then JK1 with 2,000 replicates
    # the re-calibrated weights no longer show the PSU factors: draw them again (same seed)
    boot_factors = (bootstrap(np.ones(PSUS), stratum_of_psu, np.arange(PSUS),
                              replicates=args.replicates, seed=1).weights)
    t0 = time.perf_counter()
    fact = factored_run(frame, cube, margins, w_full, boot_factors, rep)
    factored_boot_s = time.perf_counter() - t0
    ok = np.isfinite(boot["mean_se"]) & (boot["mean_se"] > 0)
    agree = float(np.max(np.abs(fact["mean_se"][ok] / boot["mean_se"][ok] - 1.0)))
    okp = np.isfinite(boot["proportion_se"]) & (boot["proportion_se"] > 0)
    agree = max(agree, float(np.max(np.abs(fact["proportion_se"][okp]
                                           / boot["proportion_se"][okp] - 1.0))))
    print(f"factored bootstrap: {factored_boot_s:.1f} s, SEs agree with the n x R run to {agree:.1e}")
    if agree > 1e-8:
        raise SystemExit("the factored replicate path disagrees with the library's")
    del rep

    jk1_s = None
    jk1_out = None
    if not args.no_jk1:
        t0 = time.perf_counter()
        jk_factors = np.full((PSUS, PSUS), PSUS / (PSUS - 1.0))
        np.fill_diagonal(jk_factors, 0.0)
        jk_rep = Replicates(np.empty((0, PSUS)), "jk1", (PSUS - 1.0) / PSUS, np.ones(PSUS), False)
        jk1_out = factored_run(frame, cube, margins, w_full, jk_factors, jk_rep)
        jk1_s = time.perf_counter() - t0 + calibrate_s + cube_setup_s
        print(f"JK1 ({PSUS} replicates, factored): {jk1_s:.1f} s")

    # SE ratios across cells with enough units (n >= 100 in the cell)
    n_cell = cube.sums(None, np.ones(args.rows)).ravel()
    big = n_cell >= 100

    def ratio_summary(a: np.ndarray, b: np.ndarray) -> dict[str, float]:
        r = a[big] / b[big]
        r = r[np.isfinite(r)]
        return {"median": round(float(np.median(r)), 4), "p05": round(float(np.quantile(r, 0.05)), 4),
                "p95": round(float(np.quantile(r, 0.95)), 4)}

    grand = int(np.argmax(n_cell))
    result: dict[str, Any] = {
        "rows": args.rows, "psus": PSUS, "strata": STRATA, "dims": len(DIMS),
        "grouping_sets": 64, "cells": cube.n_cells, "fine_cells": cube.n_fine,
        "margins": list(MARGINS), "replicates": args.replicates,
        "seconds": round(boot_s, 2),
        "seconds_parts": {k[:-2]: round(v, 2) for k, v in steps.items()}
        | {"calibrate_full_sample": round(calibrate_s, 2), "cube_setup": round(cube_setup_s, 2)},
        "linearised_seconds": round(lin_total_s, 2),
        "ratio_bootstrap_to_linearised": round(boot_s / lin_total_s, 2),
        "factored_bootstrap_seconds": round(factored_boot_s, 2),
        "factored_agreement_max_rel": agree,
        "jk1_replicates": PSUS,
        "jk1_seconds_factored": None if jk1_s is None else round(jk1_s, 2),
        "jk1_dense_weights_gb": round(args.rows * PSUS * 8 / 1e9, 1),
        "se_ratio_bootstrap_to_linearised": {
            "proportion": ratio_summary(boot["proportion_se"], lin["proportion_se"]),
            "mean": ratio_summary(boot["mean_se"], lin["mean_se"])},
        "se_ratio_jk1_to_linearised": None if jk1_out is None else {
            "proportion": ratio_summary(jk1_out["proportion_se"], lin["proportion_se"]),
            "mean": ratio_summary(jk1_out["mean_se"], lin["mean_se"])},
        "grand_total": {"proportion": float(boot["proportion"][grand]),
                        "se_bootstrap": float(boot["proportion_se"][grand]),
                        "se_linearised": float(lin["proportion_se"][grand]),
                        "se_jk1": None if jk1_out is None else float(jk1_out["proportion_se"][grand])},
        "generate_seconds": round(generate_s, 2),
        "target_seconds": TARGET_SECONDS,
        "target_met": bool(boot_s < TARGET_SECONDS),
        "load_average_start": [round(x, 2) for x in load_start],
        "load_average_end": [round(x, 2) for x in os.getloadavg()],
        "note": ("one run on a 2-core machine shared with other agents (see the load averages); "
                 "times include the full-sample raking and the cube set-up"),
    }
    table = Table("run", "seconds", title=f"Replicate SEs: {args.rows:,} rows, {cube.n_cells:,} cells")
    table.add_row(f"bootstrap, {args.replicates} re-calibrated replicates", f"{boot_s:.1f}")
    table.add_row("linearised (GREG residuals, stratified PSU totals)", f"{lin_total_s:.1f}")
    table.add_row(f"bootstrap factored ({factored_boot_s:.1f} s of its own)", "")
    if jk1_s is not None:
        table.add_row(f"JK1, {PSUS} replicates (factored)", f"{jk1_s:.1f}")
    Console().print(table)
    print(f"target < {TARGET_SECONDS:.0f} s: {'met' if result['target_met'] else 'NOT met'}")
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / "replicates.json"
    import json

    out.write_text(json.dumps({**result, "machine": machine()}, indent=2) + "\n")
    print(f"written {out}")


if __name__ == "__main__":
    main()
