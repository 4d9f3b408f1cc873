"""Benchmark: linking the Colombia scenario's six lists with splink vs plain Python.

The workload is ``generate(seed=2016).records`` (4,968 records of 2,350 victim-events).

* **splink** (the target): ``link_records`` end to end — normalising names, blocking,
  u by sampling, m by two EM passes, λ, scoring every candidate pair — then
  ``clusters(0.9)``.
* **python loop over candidate pairs**: the same eight comparisons (the same levels,
  with a Jaro–Winkler written in Python) and the same weights (the fitted m and u) for
  the same candidate pairs, one pair at a time. The script checks that it gives
  splink's comparison levels (the share of pairs that agree on every level is reported).
* **python loop over all pairs** (no blocking): the same loop timed on a random sample
  of all n(n−1)/2 pairs and extrapolated to all of them.

Writes bench/results/linkage.json.

    python bench/linkage.py [--sample 100000]
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).parent))
from _common import RESULTS, machine

from citizendata.integrate.linkage import link_records, linkage_quality
from citizendata.integrate.linkage.prepare import prepare
from citizendata.scenarios.colombia_press_freedom import generate


def jaro_winkler(a: str, b: str) -> float:
    """Jaro–Winkler similarity (prefix scale 0.1, up to 4 characters)."""
    if a == b:
        return 1.0
    la, lb = len(a), len(b)
    if not la or not lb:
        return 0.0
    window = max(max(la, lb) // 2 - 1, 0)
    ma, mb = [False] * la, [False] * lb
    matches = 0
    for i, ch in enumerate(a):
        for j in range(max(0, i - window), min(lb, i + window + 1)):
            if not mb[j] and b[j] == ch:
                ma[i] = mb[j] = True
                matches += 1
                break
    if not matches:
        return 0.0
    sa = [ch for ch, m in zip(a, ma, strict=True) if m]
    sb = [ch for ch, m in zip(b, mb, strict=True) if m]
    half = sum(x != y for x, y in zip(sa, sb, strict=True)) / 2
    jaro = (matches / la + matches / lb + (matches - half) / matches) / 3
    prefix = 0
    for x, y in zip(a[:4], b[:4], strict=False):
        if x != y:
            break
        prefix += 1
    return jaro + prefix * 0.1 * (1 - jaro)


def _jw(a: Any, b: Any) -> float:
    return jaro_winkler(a, b) if isinstance(a, str) and isinstance(b, str) else 0.0


def _eq(a: Any, b: Any) -> bool:
    return a is not None and b is not None and a == b


def levels(x: dict[str, Any], y: dict[str, Any], tol: int) -> tuple[int, ...]:
    """The eight comparison levels of one pair, as the SQL in model.py defines them."""
    swapped = ((_eq(x["g1"], y["s1_key"]) and _eq(x["s1_key"], y["g1"]))
               or (_jw(x["given"], y["surn"]) >= 0.92 and _jw(x["surn"], y["given"]) >= 0.92))
    if x["given"] is None or y["given"] is None:
        g = -1
    elif x["given"] == y["given"]:
        g = 6
    elif set(x["g1_canon"]) & set(y["g1_canon"]):
        g = 5
    elif swapped:
        g = 4
    elif _jw(x["given"], y["given"]) >= 0.92:
        g = 3
    elif set(x["canon"]) & set(y["canon"]):
        g = 2
    else:
        g = 1 if _jw(x["given"], y["given"]) >= 0.80 else 0
    if x["surn"] is None or y["surn"] is None:
        s = -1
    elif _eq(x["s1_key"], y["s1_key"]) and _eq(x["s2_key"], y["s2_key"]):
        s = 6
    elif _eq(x["s1_key"], y["s1_key"]) and (x["s2_key"] is None or y["s2_key"] is None
                                            or _jw(x["s2_key"], y["s2_key"]) >= 0.88):
        s = 5
    elif _eq(x["s1_key"], y["s2_key"]) or _eq(x["s2_key"], y["s1_key"]):
        s = 4
    elif swapped:
        s = 3
    elif _jw(x["surn"], y["surn"]) >= 0.92:
        s = 2
    else:
        s = 1 if _jw(x["s1_key"], y["s1_key"]) >= 0.88 else 0

    def exact(k: str) -> int:
        return -1 if x[k] is None or y[k] is None else int(x[k] == y[k])

    if x["age"] is None or y["age"] is None:
        a = -1
    else:
        d = abs(x["age"] - y["age"])
        a = 3 if d == 0 else 2 if d <= 1 else 1 if d <= 3 else 0
    if x["event_date"] is None or y["event_date"] is None:
        e = -1
    else:
        d = abs((x["event_date"] - y["event_date"]).days)
        e = 3 if d == 0 else 2 if d <= tol / 4 else 1 if d <= tol else 0
    if x["department"] is None or y["department"] is None:
        p = -1
    elif _eq(x["municipality"], y["municipality"]):
        p = 3
    elif x["department"] == y["department"]:
        p = 2 if x["municipality"] is None or y["municipality"] is None else 1
    else:
        p = 0
    return (g, s, exact("sex"), a, exact("role"), exact("violation"), e, p)


def _rows(clean: pd.DataFrame) -> list[dict[str, Any]]:
    frame = clean.astype(object).where(clean.notna(), None)
    frame["age"] = [None if v is None else int(v) for v in frame["age"]]
    return frame.to_dict("records")


def score_loop(rows: list[dict[str, Any]], index: dict[str, int], pairs: list[tuple[str, str]],
               log2_bf: list[dict[int, float]], tol: int, log2_prior: float
               ) -> tuple[list[tuple[int, ...]], list[float]]:
    """Levels and match weight of each pair, one pair at a time."""
    out_levels, weights = [], []
    for left, right in pairs:
        lv = levels(rows[index[left]], rows[index[right]], tol)
        out_levels.append(lv)
        weights.append(log2_prior + sum(log2_bf[k].get(g, 0.0) for k, g in enumerate(lv)))
    return out_levels, weights


def _mse(result: Any, records: pd.DataFrame, keys: pd.Series) -> list[dict[str, Any]]:
    """The killings' MSE estimate (log-linear, BIC) at each linkage threshold."""
    from citizendata.integrate.linkage import threshold_sensitivity
    from citizendata.integrate.mse import estimate_mse, histories_from_records

    killing = set(keys[records["violation"] == "killing"])

    def estimate(clusters: pd.DataFrame) -> dict[str, Any]:
        # a victim-event is a killing when one of its records says so
        ids = set(clusters.loc[clusters["key"].isin(killing), "cluster_id"])
        h = histories_from_records(clusters[clusters["cluster_id"].isin(ids)],
                                   list_col="source", cluster_col="cluster_id")
        d = estimate_mse(h, selection="bic").to_dict()
        sel = d["selected"]
        return {"n_observed": d["n_observed"], "estimate": round(sel["estimate"], 1),
                "ci": [round(float(x), 1) for x in sel["ci"]], "terms": sel["terms"]}

    table = threshold_sensitivity(result, [0.5, 0.7, 0.9, 0.95, 0.99], estimate)
    truth = generate(seed=2016).truth["series"]["VC_VAW_MTUHRA"]
    rows = table.to_dict("records")
    for row in rows:
        row["true_total"] = truth["total"]
        row["true_documented"] = truth["documented"]
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--mse", action="store_true",
                    help="Also estimate the killings (VC_VAW_MTUHRA) by MSE at several "
                         "linkage thresholds (about 25 s per threshold).")
    ap.add_argument("--sample", type=int, default=100_000,
                    help="Pairs of the all-pairs loop actually timed (then extrapolated).")
    args = ap.parse_args()
    records = generate(seed=2016).records
    keys = records["source"] + ":" + records["record_id"]
    truth = pd.Series(records["_event_id"].fillna("none:" + keys).to_numpy(),
                      index=keys.to_numpy())
    cols = [c for c in records.columns if not c.startswith("_")]
    link_records(records[cols].head(50))  # imports and first-call set-up, not timed

    # CPU seconds of this process: every part runs on one thread (DuckDB is set to one),
    # and the machine is shared, so wall time would measure the neighbours too
    t0, w0 = time.process_time(), time.perf_counter()
    result = link_records(records[cols])
    clusters = result.clusters(0.9)
    splink_s, splink_wall = time.process_time() - t0, time.perf_counter() - w0
    quality = linkage_quality(clusters, truth)

    tol = result.model.date_tolerance_days
    clean = prepare(records[cols])
    rows = _rows(clean)
    index = {k: i for i, k in enumerate(clean["unique_id"])}
    log2_bf = [{lv["gamma"]: math.log2(lv["bayes_factor"]) for lv in c["levels"]}
               for c in result.model.comparisons]
    prior = result.model.prior
    log2_prior = math.log2(prior / (1 - prior))
    cand = list(zip(result.pairs["left_key"], result.pairs["right_key"], strict=True))
    t0 = time.process_time()
    loop_levels, loop_w = score_loop(rows, index, cand, log2_bf, tol, log2_prior)
    loop_s = time.process_time() - t0
    gamma_cols = [c for c in result.pairs.columns if c.startswith("gamma_")]
    splink_levels = result.pairs[gamma_cols].to_numpy()
    agree = (np.array(loop_levels) == splink_levels)
    same_w = np.isclose(np.array(loop_w), result.pairs["match_weight"].to_numpy(), atol=1e-6)

    n = len(rows)
    all_pairs = n * (n - 1) // 2
    rng = np.random.default_rng(2016)
    i = rng.integers(0, n, args.sample)
    j = rng.integers(0, n, args.sample)
    keep = i != j
    ids = clean["unique_id"].to_numpy()
    sample = list(zip(ids[i[keep]], ids[j[keep]], strict=True))
    t0 = time.process_time()
    score_loop(rows, index, sample, log2_bf, tol, log2_prior)
    sample_s = time.process_time() - t0
    all_s = sample_s * all_pairs / len(sample)

    out = {
        "records": n, "lists": int(records["source"].nunique()),
        "true_entities": quality["true_entities"], "clusters": quality["clusters"],
        "precision": round(quality["precision"], 4), "recall": round(quality["recall"], 4),
        "f1": round(quality["f1"], 4), "threshold": 0.9,
        "candidate_pairs": len(cand), "all_pairs": all_pairs,
        "seconds_are": "CPU seconds of the process (one thread)",
        "splink_seconds": round(splink_s, 2), "splink_wall_seconds": round(splink_wall, 2),
        "python_candidate_loop_seconds": round(loop_s, 2),
        "python_candidate_loop_levels_agree_share": round(float(agree.all(axis=1).mean()), 5),
        "python_candidate_loop_levels_agree_by_comparison": {
            c.removeprefix("gamma_"): round(float(agree[:, k].mean()), 5)
            for k, c in enumerate(gamma_cols)},
        "python_candidate_loop_weight_agree_share": round(float(same_w.mean()), 5),
        "python_all_pairs_sample": len(sample),
        "python_all_pairs_sample_seconds": round(sample_s, 2),
        "python_all_pairs_seconds_extrapolated": round(all_s, 1),
        "ratio_all_pairs_loop_to_splink": round(all_s / splink_s, 1),
        "ratio_candidate_loop_to_splink": round(loop_s / splink_s, 2),
        "machine": machine(),
    }
    if args.mse:
        out["mse_killings_by_threshold"] = _mse(result, records, keys)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "linkage.json").write_text(json.dumps(out, indent=2) + "\n")
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
