"""How good a clustering is against the truth, and how an estimate moves with the threshold."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from citizendata.errors import BadInput, Where
from citizendata.integrate.linkage.model import blocking_rules, private_duckdb
from citizendata.integrate.linkage.prepare import prepare
from citizendata.integrate.linkage.result import LinkageResult
from citizendata.projects.cases import CaseFields

__all__ = ["blocking_recall", "linkage_quality", "threshold_sensitivity"]


def _pairs_within(groups: pd.Series) -> int:
    sizes = groups.value_counts().to_numpy(dtype=np.int64)
    return int((sizes * (sizes - 1) // 2).sum())


def linkage_quality(result_or_clusters: LinkageResult | pd.DataFrame, truth: pd.Series, *,
                    threshold: float = 0.9) -> dict[str, Any]:
    """Pairwise precision, recall and F1 of a clustering, and its cluster count vs the truth.

    A pair of records is predicted linked when both are in one cluster, truly linked
    when ``truth`` (key -> true entity id) gives both the same id. ``threshold`` is used
    when a ``LinkageResult`` is given (its ``clusters(threshold)``).
    """
    if isinstance(result_or_clusters, LinkageResult):
        clusters = result_or_clusters.clusters(threshold)
    else:
        clusters = result_or_clusters
    if not {"key", "cluster_id"} <= set(clusters.columns):
        raise BadInput("linkage.invalid", "The clusters need columns key and cluster_id.",
                       where=Where(column="cluster_id"), fix="Pass LinkageResult.clusters().")
    true_id = clusters["key"].map(truth)
    if true_id.isna().any():
        row = int(np.flatnonzero(true_id.isna().to_numpy())[0]) + 1
        raise BadInput("linkage.invalid",
                       f"The truth has no entity for {int(true_id.isna().sum())} record(s), "
                       f"the first at clusters row {row}.", where=Where(row=row, column="key"),
                       fix="Give the true entity of every linked record.")
    both = pd.Series(list(zip(clusters["cluster_id"], true_id, strict=True)))
    tp = _pairs_within(both)
    predicted = _pairs_within(clusters["cluster_id"])
    actual = _pairs_within(true_id)
    precision = tp / predicted if predicted else 1.0
    recall = tp / actual if actual else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1,
            "true_positive_pairs": tp, "predicted_pairs": predicted, "true_pairs": actual,
            "records": len(clusters), "clusters": int(clusters["cluster_id"].nunique()),
            "true_entities": int(true_id.nunique()),
            "threshold": clusters.attrs.get("threshold", threshold)}


def threshold_sensitivity(result: LinkageResult, thresholds: Iterable[float],
                          estimate: Callable[[pd.DataFrame], float | Mapping[str, Any]]
                          ) -> pd.DataFrame:
    """One row per threshold: the number of clusters and what ``estimate(clusters)`` gives.

    ``estimate`` receives the clusters (key, cluster_id, source) and returns a number
    (column ``estimate``) or a mapping (one column per key).
    """
    rows = []
    for t in thresholds:
        clusters = result.clusters(float(t))
        clusters["source"] = clusters["key"].map(result.sources)
        value = estimate(clusters)
        row: dict[str, Any] = {"threshold": float(t),
                               "clusters": int(clusters["cluster_id"].nunique())}
        if isinstance(value, Mapping):
            row.update(value)
        else:
            row["estimate"] = value
        rows.append(row)
    return pd.DataFrame(rows)


def blocking_recall(records: pd.DataFrame, truth: pd.Series, *,
                    fields: CaseFields | None = None,
                    date_tolerance_days: int = 30) -> pd.DataFrame:
    """Per blocking rule and for their union: candidate pairs and the share of true pairs kept.

    ``truth`` maps key -> true entity id. A true pair lost by every rule can never be
    linked, so the union's recall bounds the linkage's.
    """
    clean = prepare(records, fields)
    clean["_true"] = clean["unique_id"].map(truth)
    rules = blocking_rules(date_tolerance_days)
    with private_duckdb() as con:
        con.register("t", clean)
        true_pairs = con.sql("SELECT count(*) FROM t l JOIN t r ON l._true = r._true "
                             "AND l.unique_id < r.unique_id").fetchall()[0][0]
        rows = []
        for i, (name, sql) in enumerate(rules.items()):
            con.execute(f"CREATE TABLE p{i} AS SELECT l.unique_id AS a, r.unique_id AS b, "
                        f"coalesce(l._true = r._true, false) AS same FROM t l JOIN t r "
                        f"ON l.unique_id < r.unique_id AND ({sql})")
            rows.append((name, f"p{i}"))
        union = " UNION ".join(f"SELECT * FROM {table}" for _, table in rows)
        counts = []
        for name, source in [*rows, ("union", f"({union})")]:
            n, found = con.sql(f"SELECT count(*), count(*) FILTER (WHERE same) "
                               f"FROM {source}").fetchall()[0]
            counts.append({"rule": name, "candidate_pairs": int(n),
                           "true_pairs_kept": int(found),
                           "recall": found / true_pairs if true_pairs else 1.0})
    out = pd.DataFrame(counts)
    out.attrs["true_pairs"] = int(true_pairs)
    return out
