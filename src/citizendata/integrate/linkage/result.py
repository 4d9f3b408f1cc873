"""Linking records into victim-events: scored pairs, clusters, clerical decisions.

Clusters are the connected components of the graph whose edges are the pairs at or
above the threshold, with the clerical decisions applied: a decided ``match`` is always
an edge, a decided ``non_match`` never is, ``unsure`` changes nothing (it only leaves
the review queue). A non_match pair may still be joined through other records (A–B and
B–C linked, A and C decided apart). Then the **weakest edge on the strongest path**
between the two is cut — the edge of lowest match probability on the path of the
maximum spanning tree — and that repeats until they are apart. Decided matches are never
cut; decisions that contradict each other (A=B, B=C decided matches but A≠C a decided
non_match) are refused with ``linkage.review_invalid``. The cut pairs are listed in the
clusters' ``attrs["cut"]``.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from citizendata.errors import BadInput, Where
from citizendata.integrate.linkage.model import FittedModel

__all__ = ["DECISIONS", "LinkageResult", "check_decisions"]

DECISIONS = ("match", "non_match", "unsure")


def _pair_index(left: pd.Series, right: pd.Series) -> pd.MultiIndex:
    lo = np.minimum(left.to_numpy(dtype=object), right.to_numpy(dtype=object))
    hi = np.maximum(left.to_numpy(dtype=object), right.to_numpy(dtype=object))
    return pd.MultiIndex.from_arrays([lo, hi], names=["left_key", "right_key"])


def check_decisions(decisions: pd.DataFrame | None, keys: pd.Index) -> pd.DataFrame:
    """Decisions as (left_key < right_key, decision), the latest per pair; checked."""
    empty = pd.DataFrame({"left_key": pd.Series(dtype=object),
                          "right_key": pd.Series(dtype=object),
                          "decision": pd.Series(dtype=object)})
    if decisions is None or len(decisions) == 0:
        return empty
    missing = [c for c in ("left_key", "right_key", "decision") if c not in decisions.columns]
    if missing:
        raise BadInput("linkage.review_invalid",
                       f"The decisions have no column {', '.join(map(repr, missing))}.",
                       where=Where(column=missing[0]),
                       fix="Give the decisions as columns left_key, right_key, decision.")
    d = decisions.reset_index(drop=True)
    bad = ~d["decision"].isin(DECISIONS)
    unknown = ~d["left_key"].isin(keys) | ~d["right_key"].isin(keys)
    same = d["left_key"] == d["right_key"]
    for mask, column, rule in (
            (bad, "decision", "the decision is not match, non_match or unsure"),
            (unknown, "left_key", "a key is not one of the linked records"),
            (same, "right_key", "a record is paired with itself")):
        if mask.any():
            row = int(np.flatnonzero(mask.to_numpy())[0]) + 1
            raise BadInput("linkage.review_invalid", f"Decision row {row}: {rule}.",
                           where=Where(row=row, column=column), rule=rule)
    idx = _pair_index(d["left_key"], d["right_key"])
    out = pd.DataFrame({"decision": d["decision"].to_numpy()}, index=idx)
    out = out[~out.index.duplicated(keep="last")].reset_index()  # the latest decision counts
    _no_contradiction(out, keys)
    return out


def _components(keys: pd.Index, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    n = len(keys)
    li, ri = keys.get_indexer(left), keys.get_indexer(right)
    graph = coo_matrix((np.ones(len(li)), (li, ri)), shape=(n, n))
    return connected_components(graph, directed=False)[1]


def _no_contradiction(decided: pd.DataFrame, keys: pd.Index) -> None:
    match = decided[decided["decision"] == "match"]
    apart = decided[decided["decision"] == "non_match"]
    if match.empty or apart.empty:
        return
    comp = _components(keys, match["left_key"].to_numpy(), match["right_key"].to_numpy())
    lc = comp[keys.get_indexer(apart["left_key"])]
    rc = comp[keys.get_indexer(apart["right_key"])]
    if (lc == rc).any():
        i = int(np.flatnonzero(lc == rc)[0])
        row = apart.iloc[i]
        raise BadInput("linkage.review_invalid",
                       f"The pair {row['left_key']} / {row['right_key']} is decided a non-match "
                       "but decided matches join the two records.",
                       where=Where(field="decision"),
                       rule="decisions must not contradict each other",
                       fix="Change one of the decisions joining or separating these records.")


@dataclass(frozen=True)
class LinkageResult:
    """Scored candidate pairs of records, the trained model and the clerical decisions."""

    keys: pd.Index  # every record's key, "source:record_id", in input order
    sources: pd.Series  # key -> list
    pairs: pd.DataFrame
    model: FittedModel
    decisions: pd.DataFrame = field(default_factory=lambda: check_decisions(None, pd.Index([])))

    def with_decisions(self, decisions: pd.DataFrame | None) -> LinkageResult:
        """The same result with these clerical decisions (left_key, right_key, decision)."""
        return replace(self, decisions=check_decisions(decisions, self.keys))

    def clusters(self, threshold: float = 0.9) -> pd.DataFrame:
        """DataFrame[key, cluster_id]: connected components at the threshold, decisions applied.

        ``cluster_id`` numbers clusters 0, 1, … in the order of their first record. The
        pairs cut to keep a decided non_match apart are in ``attrs["cut"]``.
        """
        _check_threshold(threshold)
        p = self.pairs
        edges = p.loc[p["match_probability"] >= threshold,
                      ["left_key", "right_key", "match_probability"]]
        d = self.decisions
        apart = d[d["decision"] == "non_match"]
        match = d[d["decision"] == "match"].assign(match_probability=np.inf)
        edges = pd.concat([edges.set_index(["left_key", "right_key"]),
                           match.set_index(["left_key", "right_key"])[["match_probability"]]])
        edges = edges[~edges.index.duplicated(keep="last")]
        edges = edges[~edges.index.isin(apart.set_index(["left_key", "right_key"]).index)]
        edges = edges.reset_index()
        edges, cut = _separate(self.keys, edges, apart)
        comp = _components(self.keys, edges["left_key"].to_numpy(),
                           edges["right_key"].to_numpy())
        # renumber in order of first appearance, so ids are stable across thresholds' order
        _, first = np.unique(comp, return_index=True)
        order = np.argsort(np.argsort(first))
        out = pd.DataFrame({"key": self.keys.to_numpy(), "cluster_id": order[comp]})
        out.attrs["cut"] = cut
        out.attrs["threshold"] = threshold
        return out

    def review_queue(self, low: float = 0.5, high: float = 0.95) -> pd.DataFrame:
        """Pairs with low <= match_probability < high and no decision, most probable first."""
        _check_threshold(low)
        _check_threshold(high)
        if low >= high:
            raise BadInput("linkage.invalid", f"The review band is empty: {low} >= {high}.",
                           where=Where(field="review_band"), fix="Give low < high.")
        p = self.pairs
        band = p[(p["match_probability"] >= low) & (p["match_probability"] < high)]
        decided = self.decisions.set_index(["left_key", "right_key"]).index
        band = band[~band.set_index(["left_key", "right_key"]).index.isin(decided)]
        return band.reset_index(drop=True)

    def model_summary(self) -> dict[str, Any]:
        """The model: λ, m, u and Bayes factors per comparison level; no value from the data."""
        m = self.model
        return {"records": m.records, "lists": int(self.sources.nunique()),
                "candidate_pairs": m.candidate_pairs,
                "probability_two_random_records_match": m.prior,
                "seed": m.seed, "date_tolerance_days": m.date_tolerance_days,
                "blocking_rules": dict(m.blocking), "comparisons": m.comparisons,
                "decisions": {k: int((self.decisions["decision"] == k).sum())
                              for k in DECISIONS}}


def _check_threshold(t: float) -> None:
    if isinstance(t, bool) or not isinstance(t, int | float) or not 0 <= t <= 1:
        raise BadInput("linkage.invalid", f"A match probability threshold is from 0 to 1, "
                       f"got {t!r}.", where=Where(field="threshold"), fix="Use e.g. 0.9.")


def _separate(keys: pd.Index, edges: pd.DataFrame,
              apart: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Cut the weakest edge on the strongest path until every non_match pair is apart."""
    cut = edges.iloc[0:0].copy()
    if apart.empty or edges.empty:
        return edges, cut
    while True:
        comp = _components(keys, edges["left_key"].to_numpy(), edges["right_key"].to_numpy())
        li, ri = keys.get_indexer(apart["left_key"]), keys.get_indexer(apart["right_key"])
        joined = np.flatnonzero(comp[li] == comp[ri])
        if joined.size == 0:
            return edges.reset_index(drop=True), cut.reset_index(drop=True)
        weakest = _weakest_on_path(keys, edges, int(li[joined[0]]), int(ri[joined[0]]))
        cut = pd.concat([cut, edges.loc[[weakest]]])
        edges = edges.drop(index=weakest)


def _weakest_on_path(keys: pd.Index, edges: pd.DataFrame, a: int, b: int) -> Any:
    """Index label of the lowest-probability edge on the maximum spanning tree's a–b path."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import breadth_first_order, minimum_spanning_tree

    n = len(keys)
    li = keys.get_indexer(edges["left_key"])
    ri = keys.get_indexer(edges["right_key"])
    prob = edges["match_probability"].to_numpy(dtype=float)
    # a maximum spanning tree is a minimum one on 3 - p (> 0; decided matches weigh 0.5)
    cost = np.where(np.isinf(prob), 0.5, 3.0 - prob)
    tree = minimum_spanning_tree(coo_matrix((cost, (li, ri)), shape=(n, n)).tocsr())
    _, pred = breadth_first_order(tree + tree.T, a, directed=False)
    lookup = pd.Series(edges.index, index=pd.MultiIndex.from_arrays([li, ri]))
    worst, worst_cost, node = None, -1.0, b
    while node != a:
        parent = int(pred[node])
        key = (min(parent, node), max(parent, node))
        label = lookup.get(key) if key in lookup.index else lookup.get((key[1], key[0]))
        c = float(cost[edges.index.get_loc(label)])
        if c > worst_cost:
            worst, worst_cost = label, c
        node = parent
    return worst
