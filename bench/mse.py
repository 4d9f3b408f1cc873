"""MSE model search: every hierarchical two-way model of a 6-list table, vectorised vs one by one.

Workload (issue 19): 6 lists, all 2^15 = 32,768 models (main effects plus any set of the
15 two-list interactions) checked for existence, fitted and ranked by BIC, then 1,000
parametric bootstrap replicates of the selected model, refitted.  Target < 60 s on 2 cores.
The obvious alternative, timed in the same run: the same IRLS written for one model at a
time (numpy, a Python loop over models), on a random sample of models and scaled to the
full space (fitting all 32,768 that way would take the better part of an hour).

Second workload: the existence check on sparse tables (the Colombia scenario's enforced
disappearances, seed 2016, by period: three six-list tables of ~30 victims, where most
models need Fienberg & Rinaldo's linear program), the lattice used both ways, against one
program per model that the rank condition leaves undecided (on a sample, scaled).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from _common import write_results

from citizendata.integrate.mse import Histories
from citizendata.integrate.mse._design import Design, mle_exists
from citizendata.integrate.mse.bootstrap import draw_tables, irls_ok, refit_tables
from citizendata.integrate.mse.loglinear import pair_overlaps
from citizendata.integrate.mse.select import admissibility, fit_models


def table(seed: int = 2016, n: int = 6000) -> Histories:
    """Six lists with heterogeneous capture (two latent classes) and a referral link."""
    rng = np.random.default_rng(seed)
    cls = rng.random(n) < 0.3
    p = np.where(cls[:, None], [0.35, 0.3, 0.25, 0.4, 0.2, 0.3], [0.08, 0.1, 0.06, 0.12, 0.05, 0.09])
    seen = rng.random((n, 6)) < p
    seen[:, 1] |= seen[:, 0] & (rng.random(n) < 0.3)  # referrals from list 0 to list 1
    seen = seen[seen.any(axis=1)]
    idx, counts = np.unique((seen.astype(np.int64) << np.arange(6)).sum(axis=1), return_counts=True)
    return Histories([f"L{j}" for j in range(6)], (idx[:, None] >> np.arange(6)) & 1, counts)


def one_model_irls(x: np.ndarray, y: np.ndarray, tol: float = 1e-10) -> float:
    """The plain way: one model, numpy IRLS, same start and stopping rule; returns N-hat."""
    eta = np.log(y + 0.5)
    mu = np.exp(eta)
    dev_old = np.inf
    beta = np.zeros(x.shape[1])
    for _ in range(100):
        z = eta + (y - mu) / mu
        xw = x * mu[:, None]
        beta = np.linalg.solve(xw.T @ x, xw.T @ z)
        eta = x @ beta
        mu = np.exp(eta)
        with np.errstate(divide="ignore", invalid="ignore"):
            dev = 2 * float(np.sum(np.where(y > 0, y * np.log(y / mu), 0.0) - (y - mu)))
        if abs(dev - dev_old) <= tol * (abs(dev) + 0.1):
            break
        dev_old = dev
    return float(y.sum() + np.exp(beta[0]))


def sparse_tables() -> list[Histories]:
    """The scenario's enforced disappearances by period, as capture histories."""
    from citizendata.integrate.mse import histories_from_records, read_histories
    from citizendata.scenarios.colombia_press_freedom import generate, period_of

    sc = generate(seed=2016)
    ev = sc.events.set_index("event_id")
    r = sc.records.dropna(subset=["_event_id"])
    r = r.assign(vt=r["_event_id"].map(ev["violation"]),
                 period=period_of(r["_event_id"].map(ev["year"])))
    lists = ["flip", "fiscalia", "defensoria", "sindical", "medios", "somos"]
    hs = histories_from_records(r[r["vt"] == "enforced_disappearance"], list_col="source",
                                cluster_col="_event_id", lists=lists, strata=["period"])
    return [read_histories(part[[*lists, "count"]].reset_index(drop=True))
            for _, part in hs.groupby("period")]


def existence_bench(sample: int = 256) -> dict[str, float]:
    """Lattice both ways vs one LP per undecided model (sampled, scaled)."""
    import citizendata.integrate.mse.select as sel

    calls = [0]

    def counted(x: np.ndarray, y: np.ndarray) -> tuple[bool, bool]:
        calls[0] += 1
        return mle_exists(x, y)

    t_ours = t_plain = 0.0
    undecided = 0
    for h in sparse_tables():
        design, y, overlap = Design(h.k), h.full_counts(), pair_overlaps(h)
        masks = np.arange(2 ** len(design.pairs), dtype=np.int64)
        sel.mle_exists = counted
        t0 = time.perf_counter()
        admissibility(design, y, masks, overlap)
        t_ours += time.perf_counter() - t0
        sel.mle_exists = mle_exists
        cols, cells, _ = design.masks(masks, overlap)
        quick = np.array([np.linalg.matrix_rank(design.matrix[c & (y > 0)][:, k]) == k.sum()
                          for k, c in zip(cols, cells, strict=True)])
        left = np.flatnonzero(~quick)
        undecided += len(left)
        pick = np.random.default_rng(5).choice(left, size=min(sample, len(left)), replace=False)
        t0 = time.perf_counter()
        for i in pick:
            mle_exists(design.matrix[cells[i]][:, cols[i]], y[cells[i]])
        t_plain += (time.perf_counter() - t0) * len(left) / max(len(pick), 1)
    return {"sparse_tables": 3, "sparse_undecided_models": undecided,
            "sparse_lp_calls": calls[0], "sparse_check_seconds": round(t_ours, 2),
            "sparse_one_lp_per_model_seconds_scaled": round(t_plain, 1),
            "speedup_existence": round(t_plain / t_ours, 1)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bootstrap", type=int, default=1000)
    ap.add_argument("--sample", type=int, default=1024, help="models fitted one by one")
    args = ap.parse_args()
    h = table()
    design = Design(h.k)
    y = h.full_counts()
    overlap = pair_overlaps(h)
    masks = np.arange(2 ** len(design.pairs))
    t0, c0 = time.perf_counter(), time.process_time()
    space = fit_models(design, y, masks, overlap)
    fitted = [(int(m), s) for m, s in zip(space.masks, space.stats, strict=True) if s is not None]
    best, stats = min(fitted, key=lambda ms: ms[1].bic)
    t_search, c_search = time.perf_counter() - t0, time.process_time() - c0
    t0 = time.perf_counter()
    rng = np.random.default_rng(1)
    mu = irls_ok(design, y, best, overlap)
    tables = draw_tables(y, mu, stats.estimate, "parametric", args.bootstrap, rng)
    reps = refit_tables(design, tables, np.array([best]), "bic")
    t_boot = time.perf_counter() - t0
    # the alternative: one model at a time on a random sample, scaled to the whole space
    sample = np.random.default_rng(3).choice(masks, size=args.sample, replace=False)
    t0, c0 = time.perf_counter(), time.process_time()
    plain = []
    for m in sample:
        cols, cells, _ = design.masks(np.array([m]), overlap)
        plain.append(one_model_irls(design.matrix[cells[0]][:, cols[0]], y[cells[0]]))
    t_plain = (time.perf_counter() - t0) * len(masks) / len(sample)
    c_plain = (time.process_time() - c0) * len(masks) / len(sample)
    ours = {int(m): s.estimate for m, s in fitted}
    diff = max(abs(ours[int(m)] - p) / p for m, p in zip(sample, plain, strict=True))
    result = {
        "lists": h.k, "n_observed": h.n_observed, "models": len(masks),
        "models_with_estimate": len(fitted), "search_seconds": round(t_search, 2),
        "bootstrap_replicates": int(np.isfinite(reps).sum()),
        "bootstrap_seconds": round(t_boot, 2), "total_seconds": round(t_search + t_boot, 2),
        "one_by_one_seconds_scaled": round(t_plain, 1), "one_by_one_sample": len(sample),
        "speedup_search": round(t_plain / t_search, 1),
        # CPU seconds too: the machine these ran on is shared, wall times are noisy
        "search_cpu_seconds": round(c_search, 2),
        "one_by_one_cpu_seconds_scaled": round(c_plain, 1),
        "speedup_search_cpu": round(c_plain / c_search, 1),
        "max_rel_diff_estimate": float(f"{diff:.2g}"),
        "selected_bic_estimate": round(stats.estimate, 1),
        **existence_bench(),
    }
    write_results("mse", result, list(result), "MSE: 6 lists, all 32,768 two-way models + bootstrap")


if __name__ == "__main__":
    main()
