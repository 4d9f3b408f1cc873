"""Linking encodings: Dice coefficients over blocked candidate pairs, 1:1, clusters.

Dice(a, b) = 2|a ∧ b| / (|a| + |b|), computed with numpy's popcount on uint64 words
for all candidate pairs of a block at once. Candidates come from the hashed blocking
keys the holders added (``keys``), from locality-sensitive hashing of the filters
(``lsh``: bands of sampled bit positions, Hamming LSH) or from every pair (``all``);
several methods are united.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import combinations
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from citizendata.errors import BadInput, Where
from citizendata.integrate.pprl.encode import decode_clks

if TYPE_CHECKING:
    from numpy.typing import NDArray

__all__ = [
    "PPRLResult", "candidate_pairs", "dice", "greedy_one_to_one", "link_encodings", "lsh_keys",
]

_PAIR_CHUNK = 1 << 16  # candidate pairs scored at a time (bounds the gathered rows)


_LO = np.uint64(0x00FF00FF00FF00FF)
_ONES16 = np.uint64(0x0001000100010001)


def _row_popcount(words: NDArray[np.uint64]) -> NDArray[np.int64]:
    """Set bits per row of an n x w (x segments) uint64 array, summed over the last axis.

    numpy's reduction over a short last axis is slow; the byte counts are summed with
    SWAR arithmetic instead (16-bit lanes, then one multiply), when w is a multiple of 8.
    """
    counts = np.bitwise_count(words)  # uint8, at most 64 each
    if counts.shape[-1] % 8:
        return counts.sum(axis=-1, dtype=np.int64)
    v = counts.view(np.uint64)  # eight byte counts per word
    lanes = (v & _LO) + ((v >> np.uint64(8)) & _LO)  # four 16-bit lanes, at most 128
    total = lanes.sum(axis=-1, dtype=np.uint64) if lanes.shape[-1] > 2 else (
        lanes[..., 0] + lanes[..., -1] if lanes.shape[-1] == 2 else lanes[..., 0])
    return ((total * _ONES16) >> np.uint64(48)).astype(np.int64)


def dice(a: NDArray[np.uint64], b: NDArray[np.uint64], ia: NDArray[np.int64],
         ib: NDArray[np.int64], *, segments: int = 1,
         weights: NDArray[np.float64] | None = None) -> NDArray[np.float64]:
    """Dice coefficient of rows a[ia[i]] and b[ib[i]]; per segment, weighted, if several."""
    out = np.empty(len(ia), dtype=np.float64)
    words = a.shape[1] // segments
    wts = np.ones(segments) if weights is None else np.asarray(weights, dtype=np.float64)
    pa = _row_popcount(a.reshape(len(a), segments, words))
    pb = _row_popcount(b.reshape(len(b), segments, words))
    for lo in range(0, len(ia), _PAIR_CHUNK):
        x, y = ia[lo:lo + _PAIR_CHUNK], ib[lo:lo + _PAIR_CHUNK]
        n = len(x)
        both = a[x]  # fancy indexing: much faster than np.take(..., out=)
        np.bitwise_and(both, b[y], out=both)
        inter = _row_popcount(both.reshape(n, segments, words))
        denom = pa[x] + pb[y]
        with np.errstate(invalid="ignore", divide="ignore"):
            seg = np.where(denom > 0, 2.0 * inter / denom, 0.0)
        out[lo:lo + n] = seg @ wts / wts.sum() if segments > 1 else seg[:, 0]
    return out


def _key_pairs(ka: pd.Series | NDArray[np.uint64], kb: pd.Series | NDArray[np.uint64],
               ) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Row pairs that share a (non-empty) blocking key: a hash join."""
    left = pd.DataFrame({"k": np.asarray(ka), "i": np.arange(len(ka))})
    right = pd.DataFrame({"k": np.asarray(kb), "j": np.arange(len(kb))})
    if left["k"].dtype == object:
        left, right = left[left.k != ""], right[right.k != ""]
    m = left.merge(right, on="k", how="inner")
    return m["i"].to_numpy(np.int64), m["j"].to_numpy(np.int64)


def lsh_keys(m: NDArray[np.uint64], *, bands: int = 24, rows: int = 16, seed: int = 2009,
             ) -> NDArray[np.uint64]:
    """n x bands keys: each band packs `rows` sampled bits of the filter (Hamming LSH).

    The same seed samples the same bits for every list, so equal bits give equal keys.
    """
    rng = np.random.default_rng(seed)
    bits = np.unpackbits(m.view(np.uint8), axis=1)
    cols = np.stack([rng.choice(bits.shape[1], size=rows, replace=False)
                     for _ in range(bands)])  # bands x rows
    weights = np.uint64(1) << np.arange(rows, dtype=np.uint64)
    return (bits[:, cols].astype(np.uint64) * weights).sum(axis=2, dtype=np.uint64)


def candidate_pairs(a: pd.DataFrame, b: pd.DataFrame, methods: Sequence[str], *,
                    lsh_a: NDArray[np.uint64] | None = None,
                    lsh_b: NDArray[np.uint64] | None = None,
                    ) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Distinct candidate row pairs of two lists, united over the blocking methods."""
    parts: list[tuple[NDArray[np.int64], NDArray[np.int64]]] = []
    for method in methods:
        if method == "all":
            parts.append((np.repeat(np.arange(len(a)), len(b)),
                          np.tile(np.arange(len(b)), len(a))))
        elif method == "keys":
            for col in sorted(c for c in a.columns if c.startswith("block_")):
                parts.append(_key_pairs(a[col], b[col]))
        elif lsh_a is not None and lsh_b is not None:
            # one join over every band: the band number rides in the key's high bits
            nb = lsh_a.shape[1]
            off = np.arange(nb, dtype=np.uint64) << np.uint64(40)
            i, j = _key_pairs((lsh_a + off).ravel(), (lsh_b + off).ravel())
            parts.append((i // nb, j // nb))
    if not parts:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    i = np.concatenate([p[0] for p in parts]).astype(np.int64)
    j = np.concatenate([p[1] for p in parts]).astype(np.int64)
    code = np.sort(i * max(len(b), 1) + j)  # sorting beats np.unique's hash table here
    code = code[np.concatenate([[True], code[1:] != code[:-1]])] if len(code) else code
    return code // max(len(b), 1), code % max(len(b), 1)


def greedy_one_to_one(pairs: pd.DataFrame) -> pd.DataFrame:
    """Each record in at most one pair per list pair, best scores first (greedy).

    Vectorised as rounds of mutual best pairs: a pair that is the best of both its
    records among the pairs left is the one greedy would take (ties to the first).
    """
    left = pairs.sort_values(["score", "left_key", "right_key"],
                             ascending=[False, True, True]).reset_index(drop=True)
    kept = []
    while len(left):
        best_l = ~left.duplicated(["left_list", "right_list", "left_key"])
        best_r = ~left.duplicated(["left_list", "right_list", "right_key"])
        take = left[best_l & best_r]
        kept.append(take)
        # a record taken in one list pair stays free for the other list pairs
        used_l = (left.left_key + "|" + left.right_list).isin(
            take.left_key + "|" + take.right_list)
        used_r = (left.right_key + "|" + left.left_list).isin(
            take.right_key + "|" + take.left_list)
        left = left[~(used_l | used_r)]
    return pd.concat(kept, ignore_index=True) if kept else pairs.iloc[:0]


@dataclass
class PPRLResult:
    """Scored candidate pairs across lists; clusters at a threshold (as LinkageResult)."""

    pairs: pd.DataFrame  # left_key, right_key, left_list, right_list, score (Dice)
    keys: pd.Series  # every record's key "list:record_id"
    threshold: float
    one_to_one: bool = True
    summary: dict[str, Any] = field(default_factory=dict)

    def links(self, threshold: float | None = None) -> pd.DataFrame:
        """The pairs accepted at the threshold (after the 1:1 step when asked)."""
        t = self.threshold if threshold is None else threshold
        accepted = self.pairs[self.pairs.score >= t]
        return greedy_one_to_one(accepted) if self.one_to_one else accepted.reset_index(drop=True)

    def clusters(self, threshold: float | None = None) -> pd.DataFrame:
        """key, cluster_id: connected components of the accepted pairs (all records)."""
        from scipy.sparse import coo_matrix
        from scipy.sparse.csgraph import connected_components

        links = self.links(threshold)
        index = pd.Index(self.keys)
        n = len(index)
        i, j = index.get_indexer(links.left_key), index.get_indexer(links.right_key)
        graph = coo_matrix((np.ones(len(i)), (i, j)), shape=(n, n))
        _, labels = connected_components(graph, directed=False)
        return pd.DataFrame({"key": index.to_numpy(), "cluster_id": labels.astype(np.int64)})


def _check(encoded: dict[str, pd.DataFrame]) -> None:
    if len(encoded) < 2:
        raise BadInput("pprl.invalid", "Linking needs the encodings of at least two lists.",
                       fix="Pass one encoding file per list, e.g. A=enc_a.csv B=enc_b.csv.")
    prints, blocks = {}, {}
    for name, frame in encoded.items():
        where = Where(file=name)
        for col in ("record_id", "clk", "schema"):
            if col not in frame.columns:
                raise BadInput("pprl.invalid", f"List {name!r} has no column {col!r}.",
                               where=Where(file=name, column=col),
                               fix="Link the files exactly as 'pprl encode' wrote them.")
        ids = frame["record_id"].astype(str)
        if ids.duplicated().any():
            row = int(np.flatnonzero(ids.duplicated().to_numpy())[0]) + 2
            raise BadInput("pprl.invalid", f"List {name!r} repeats a record id.",
                           where=Where(file=name, column="record_id", row=row))
        prints[name] = set(frame["schema"].astype(str))
        blocks[name] = sorted(c for c in frame.columns if c.startswith("block_"))
        if len(prints[name]) > 1:
            raise BadInput("pprl.invalid", f"List {name!r} mixes encodings of several "
                           "schemas.", where=where)
    if len({frozenset(p) for p in prints.values() if p}) > 1:
        raise BadInput("pprl.invalid", "The lists were encoded with different schemas: "
                       + ", ".join(f"{n}={next(iter(p), '')}" for n, p in prints.items()) + ".",
                       where=Where(field="schema"))
    if len({tuple(b) for b in blocks.values()}) > 1:
        raise BadInput("pprl.invalid", "The lists carry different blocking keys.",
                       where=Where(field="block"))


def link_encodings(encoded: dict[str, pd.DataFrame], *, threshold: float = 0.8,
                   blocking: str | Sequence[str] = "keys", one_to_one: bool = True,
                   keep_above: float | None = None, segments: int = 1,
                   weights: Sequence[float] | None = None, within: bool = True,
                   seed: int = 2009) -> PPRLResult:
    """Link the lists' encodings; no name is seen, only Dice coefficients of filters.

    ``keep_above`` (default threshold − 0.1) keeps lower-scoring pairs too, so the
    result can be clustered at other thresholds. ``segments``/``weights``: field-level
    encodings (one filter per field) are compared per field and averaged. ``within``:
    records of the same list are compared too (a list may hold a victim twice).
    """
    methods = [blocking] if isinstance(blocking, str) else list(blocking)
    bad = [m for m in methods if m not in ("keys", "lsh", "all")]
    if bad or not methods:
        raise BadInput("pprl.invalid", f"Unknown blocking {bad}: use keys, lsh or all.",
                       where=Where(field="blocking"))
    if not 0 < threshold <= 1:
        raise BadInput("pprl.invalid", f"The threshold {threshold} is not in (0, 1].",
                       where=Where(field="threshold"))
    _check(encoded)
    mats = {n: decode_clks(f["clk"], where=Where(file=n)) for n, f in encoded.items()}
    if len({m.shape[1] for m in mats.values()}) > 1:
        raise BadInput("pprl.invalid", "The lists' filters have different lengths: "
                       + ", ".join(f"{n}={m.shape[1] * 64} bits" for n, m in mats.items())
                       + ".", where=Where(field="clk"),
                       fix="Encode every list with the same schema (filter length).")
    floor = threshold - 0.1 if keep_above is None else keep_above
    frames, n_cand = [], 0
    names = sorted(encoded)
    bands = {n: lsh_keys(m, seed=seed) for n, m in mats.items()} if "lsh" in methods else {}
    couples = [*combinations(names, 2), *((n, n) for n in names if within)]
    for la, lb in couples:
        a, b = encoded[la].reset_index(drop=True), encoded[lb].reset_index(drop=True)
        i, j = candidate_pairs(a, b, methods, lsh_a=bands.get(la), lsh_b=bands.get(lb))
        if la == lb:
            i, j = i[i < j], j[i < j]
        n_cand += len(i)
        s = dice(mats[la], mats[lb], i, j, segments=segments,
                 weights=None if weights is None else np.asarray(weights))
        keep = s >= floor
        ra, rb = a["record_id"].astype(str).to_numpy(), b["record_id"].astype(str).to_numpy()
        frames.append(pd.DataFrame({
            "left_key": la + ":" + ra[i[keep]], "right_key": lb + ":" + rb[j[keep]],
            "left_list": la, "right_list": lb, "score": s[keep]}))
    pairs = pd.concat(frames, ignore_index=True).sort_values(
        "score", ascending=False, kind="stable").reset_index(drop=True)
    keys = pd.Series([f"{n}:{r}" for n, f in encoded.items() for r in f["record_id"].astype(str)])
    total = sum(len(encoded[x]) * len(encoded[y]) if x != y else
                len(encoded[x]) * (len(encoded[x]) - 1) // 2 for x, y in couples)
    summary = {"lists": {n: len(f) for n, f in encoded.items()}, "candidate_pairs": n_cand,
               "all_pairs": total, "reduction_ratio": 1 - n_cand / total if total else 0.0,
               "blocking": methods, "kept_pairs": len(pairs), "kept_above": floor,
               "within_lists": within}
    return PPRLResult(pairs=pairs, keys=keys, threshold=threshold, one_to_one=one_to_one,
                      summary=summary)
