"""Linking records into victim-events: scored pairs, clusters, clerical decisions.

Clusters are the connected components of the graph whose edges are the pairs at or
above the threshold, with the clerical decisions applied: a decided ``match`` is always
an edge, a decided ``non_match`` never is, ``unsure`` changes nothing (it only leaves
the review queue). A non_match pair may still be joined through other records (A–B and
B–C linked, A and C decided apart). Then the **weakest edge on the strongest path**
between the two is cut — the edge of lowest match probability on the path of the
maximum spanning tree — and that repeats until they are apart. Decided matches are never
cut. A new decision that contradicts the others (A=B, B=C decided matches but A≠C a
decided non_match) is refused with ``linkage.review_invalid`` (``strict=True``); stored
decisions are applied in the order given (the caller passes them oldest first) and one
that contradicts those before it is skipped and listed in ``attrs["skipped_decisions"]``
(of the decisions and of the clusters), so one bad row never blocks the linkage.

In 16.10.1 a victim-event is one act: two records whose violation types are incompatible
(torture and killing of one person are two events) are never linked, like a decided
non_match, and a cluster joining them through others is cut the same way. ``compatible``
says which different types may be one act (by default kidnapping and enforced
disappearance, which lists reclassify); a decided match still links anything. The cut
pairs are listed in the clusters' ``attrs["cut"]``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from citizendata.errors import BadInput, Where
from citizendata.integrate.linkage.model import FittedModel

__all__ = ["COMPATIBLE_VIOLATIONS", "DECISIONS", "LinkageResult", "check_decisions"]

DECISIONS = ("match", "non_match", "unsure")
# violation types that may be one act written differently by two lists (besides the same
# type): lists reclassify a kidnapping as an enforced disappearance and back
COMPATIBLE_VIOLATIONS: Mapping[str, tuple[str, ...]] = {
    "kidnapping": ("enforced_disappearance",)}


def _pair_index(left: pd.Series, right: pd.Series) -> pd.MultiIndex:
    lo = np.minimum(left.to_numpy(dtype=object), right.to_numpy(dtype=object))
    hi = np.maximum(left.to_numpy(dtype=object), right.to_numpy(dtype=object))
    return pd.MultiIndex.from_arrays([lo, hi], names=["left_key", "right_key"])


def check_decisions(decisions: pd.DataFrame | None, keys: pd.Index, *,
                    strict: bool = True) -> pd.DataFrame:
    """Decisions as (left_key < right_key, decision), the latest per pair; checked.

    ``strict``: contradictory decisions raise ``linkage.review_invalid`` (to validate a
    new decision against the stored ones). Otherwise the decisions, given oldest first,
    are applied in order and one contradicting those before it is skipped, listed in
    ``attrs["skipped_decisions"]`` (stored decisions: a race between two validators
    must not block every linkage).
    """
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
    if strict:
        _no_contradiction(out, keys)
        out.attrs["skipped_decisions"] = out.iloc[0:0].copy()
        return out
    keep = _consistent_in_order(out, keys)
    kept = out[keep].reset_index(drop=True)
    kept.attrs["skipped_decisions"] = out[~keep].reset_index(drop=True)
    return kept


def _consistent_in_order(decided: pd.DataFrame, keys: pd.Index) -> np.ndarray:
    """Which decisions stand when applied in order, skipping those contradicting earlier ones.

    A union-find over the decided matches with the non_match pairs between groups; a loop
    over the clerical decisions (a few thousand at most), not over records.
    """
    parent = np.arange(len(keys))
    li = keys.get_indexer(decided["left_key"])
    ri = keys.get_indexer(decided["right_key"])

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = int(parent[x])
        return x

    apart: list[tuple[int, int]] = []
    keep = np.ones(len(decided), dtype=bool)
    for i, kind in enumerate(decided["decision"].to_numpy()):
        a, b = find(int(li[i])), find(int(ri[i]))
        if kind == "non_match":
            if a == b:
                keep[i] = False
            else:
                apart.append((int(li[i]), int(ri[i])))
        elif kind == "match" and a != b:
            if any({find(x), find(y)} == {a, b} for x, y in apart):
                keep[i] = False
            else:
                parent[b] = a
    return keep


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
    violations: pd.Series | None = None  # key -> violation type; None: not compared
    compatible: Mapping[str, Iterable[str]] | None = None  # see COMPATIBLE_VIOLATIONS

    def with_decisions(self, decisions: pd.DataFrame | None) -> LinkageResult:
        """The same result with these stored clerical decisions (left_key, right_key, decision).

        Give them oldest first: one contradicting earlier ones is skipped and listed in
        ``decisions.attrs["skipped_decisions"]`` (and the clusters'), not raised.
        """
        return replace(self, decisions=check_decisions(decisions, self.keys, strict=False))

    def incompatible(self, left: pd.Series, right: pd.Series) -> np.ndarray:
        """Whether each pair's violation types can never be one act (False when unknown)."""
        if self.violations is None or self.compatible is None:
            return np.zeros(len(left), dtype=bool)
        return _incompatible(self.violations.reindex(left.to_numpy()).to_numpy(dtype=object),
                             self.violations.reindex(right.to_numpy()).to_numpy(dtype=object),
                             self.compatible)

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
        # incompatible violation types: a hard non-link unless a decided match (p = inf)
        clash = self.incompatible(edges["left_key"], edges["right_key"])
        edges = edges[~clash | np.isinf(edges["match_probability"].to_numpy(dtype=float))]
        edges, cut = _separate(self.keys, edges.reset_index(drop=True), apart,
                               self._conflicts)
        comp = _components(self.keys, edges["left_key"].to_numpy(),
                           edges["right_key"].to_numpy())
        # renumber in order of first appearance, so ids are stable across thresholds' order
        _, first = np.unique(comp, return_index=True)
        order = np.argsort(np.argsort(first))
        out = pd.DataFrame({"key": self.keys.to_numpy(), "cluster_id": order[comp]})
        out.attrs["cut"] = cut
        out.attrs["threshold"] = threshold
        out.attrs["skipped_decisions"] = d.attrs.get("skipped_decisions", d.iloc[0:0])
        return out

    def _conflicts(self, comp: np.ndarray, accepted: set[tuple[int, int]]
                   ) -> tuple[int, int] | None:
        """Two records of incompatible violation types in one component, or None."""
        if self.violations is None or self.compatible is None:
            return None
        v = self.violations.reindex(self.keys).to_numpy(dtype=object)
        sizes = np.bincount(comp)
        idx = np.flatnonzero((sizes[comp] > 1) & pd.notna(v))
        if idx.size == 0:
            return None
        # only components holding two or more violation types can clash
        frame = pd.DataFrame({"i": idx, "c": comp[idx], "v": v[idx]})
        mixed = frame.groupby("c")["v"].transform("nunique") > 1
        frame = frame[mixed]
        if frame.empty:
            return None
        both = frame.merge(frame, on="c", suffixes=("_l", "_r"))
        both = both[both["i_l"] < both["i_r"]]
        bad = _incompatible(both["v_l"].to_numpy(dtype=object),
                            both["v_r"].to_numpy(dtype=object), self.compatible)
        for a, b in zip(both["i_l"].to_numpy()[bad], both["i_r"].to_numpy()[bad], strict=True):
            if (int(a), int(b)) not in accepted:
                return int(a), int(b)
        return None

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
        # incompatible violation types are never linked: nothing to review
        band = band[~self.incompatible(band["left_key"], band["right_key"])]
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


def _incompatible(left: np.ndarray, right: np.ndarray,
                  compatible: Mapping[str, Iterable[str]]) -> np.ndarray:
    """Both types known, different, and not declared compatible (in either direction)."""
    allowed = {(a, b) for a, bs in compatible.items() for b in bs}
    allowed |= {(b, a) for a, b in allowed}
    known = pd.notna(left) & pd.notna(right)
    pairs = pd.MultiIndex.from_arrays([pd.Index(left, dtype=object),
                                       pd.Index(right, dtype=object)])
    ok = pairs.isin(list(allowed)) if allowed else np.zeros(len(left), dtype=bool)
    return np.asarray(known & (left != right) & ~ok, dtype=bool)


def _separate(keys: pd.Index, edges: pd.DataFrame, apart: pd.DataFrame,
              conflicts: Any) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Cut the weakest edge on the strongest path until every non_match pair, and every
    pair of incompatible violation types, is apart (unless decided matches join them)."""
    cut = edges.iloc[0:0].copy()
    if edges.empty:
        return edges, cut
    li, ri = keys.get_indexer(apart["left_key"]), keys.get_indexer(apart["right_key"])
    accepted: set[tuple[int, int]] = set()
    while True:
        comp = _components(keys, edges["left_key"].to_numpy(), edges["right_key"].to_numpy())
        joined = [(int(a), int(b)) for a, b in zip(li[comp[li] == comp[ri]],
                                                  ri[comp[li] == comp[ri]], strict=True)
                  if (int(a), int(b)) not in accepted]
        pair = joined[0] if joined else conflicts(comp, accepted)
        if pair is None:
            return edges.reset_index(drop=True), cut.reset_index(drop=True)
        weakest = _weakest_on_path(keys, edges, *pair)
        if np.isinf(edges.at[weakest, "match_probability"]):
            accepted.add(pair)  # only decided matches join them: the clerks have spoken
            continue
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
