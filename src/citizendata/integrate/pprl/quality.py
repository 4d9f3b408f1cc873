"""Pairwise linkage quality of a clustering against the true entities."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

__all__ = ["pairwise_quality"]


def _pairs(counts: pd.Series) -> int:
    n = counts.to_numpy(dtype=np.int64)
    return int((n * (n - 1) // 2).sum())


def pairwise_quality(clusters: pd.DataFrame, truth: pd.Series) -> dict[str, Any]:
    """Precision, recall and F1 over record pairs put together, and cluster counts.

    ``clusters``: key, cluster_id; ``truth``: key -> true entity id (records missing
    from it are left out).
    """
    frame = clusters.assign(true_id=clusters["key"].map(truth)).dropna(subset=["true_id"])
    predicted = _pairs(frame.groupby("cluster_id").size())
    true = _pairs(frame.groupby("true_id").size())
    hit = _pairs(frame.groupby(["cluster_id", "true_id"]).size())
    precision = hit / predicted if predicted else 1.0
    recall = hit / true if true else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1, "true_pairs": true,
            "predicted_pairs": predicted, "correct_pairs": hit,
            "clusters": int(frame["cluster_id"].nunique()),
            "true_clusters": int(frame["true_id"].nunique()), "records": len(frame)}
