"""Many models at once: vectorised fits, the existence check over a model space, selection.

Model space: main effects plus any set of two-list interactions (2^(k(k-1)/2) models: 1,024
for five lists, 32,768 for six), or a given list.  Fits run in chunks through one batched
IRLS on the shared design.  A model whose MLE does not exist or is not identifiable is
skipped and reported; the check is exact (Fienberg & Rinaldo's linear program) but the
program is only solved when a quick sufficient condition fails (the model's columns have
full rank on the cells with positive counts: then no direction of the parameters can
send a fitted value to zero).  Stepwise selection is SparseMSE's ``stepwisefit``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from citizendata.integrate.mse._design import Design, full_rank, irls_batch, mle_exists
from citizendata.integrate.mse.loglinear import ModelStats, summarise

__all__ = ["ModelSpace", "admissibility", "fit_models", "stepwise", "weights"]

CHUNK = 4096


@dataclass
class ModelSpace:
    """Fits of many models on one table: stats per model and the inadmissible ones."""

    design: Design
    masks: np.ndarray
    stats: list[ModelStats | None]  # None: no finite estimate
    reasons: dict[int, str]
    coef: dict[int, np.ndarray]


def admissibility(design: Design, y: np.ndarray, masks: np.ndarray,
                  overlap: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(exists, identifiable) per model, exactly, solving the LP only where needed."""
    masks = np.asarray(masks, dtype=np.int64)
    exists = np.ones(len(masks), dtype=bool)
    ident = np.ones(len(masks), dtype=bool)
    positive = y > 0
    for start in range(0, len(masks), CHUNK):
        part = masks[start:start + CHUNK]
        cols, cells, n_empty = design.masks(part, overlap)
        cellf = cells.astype(np.float64)
        sl = slice(start, start + len(part))
        # with every cell in, main effects and pairs are always of full rank (k >= 2)
        some = np.flatnonzero((n_empty > 0) | (design.k < 3))
        ident[start + some] = full_rank(design.matrix, cellf[some], cols[some])
        if not positive.all():
            exists[sl] = full_rank(design.matrix, cellf * positive, cols)
    unsure = np.flatnonzero(~exists & ident)
    if len(unsure):
        exists[unsure] = _lp_monotone(design, y, masks[unsure], overlap)
    return exists, ident


def _lp_monotone(design: Design, y: np.ndarray, masks: np.ndarray,
                 overlap: np.ndarray) -> np.ndarray:
    """The LP on as few models as the lattice allows, both ways.

    On the same cells (same empty-overlap terms), a sub-model's columns are a subset of
    the larger model's, so a direction that sends fitted values to zero in the sub-model
    is one in the larger model too (Fienberg & Rinaldo 2012): non-existence goes up the
    lattice (SparseMSE's ``subsetsearch`` uses this) and existence goes down.  The LP is
    solved alternately on the smallest and the largest model still undecided, and each
    answer settles every super-model (fails) or sub-model (exists) at once.
    """
    npairs = len(design.pairs)
    empty_bits = sum(1 << b for b in range(npairs) if overlap[b] == 0)
    masks = np.asarray(masks, dtype=np.int64)
    key = masks & empty_bits
    rest = masks & ~empty_bits
    size = np.array([bin(int(m)).count("1") for m in masks])
    out = np.ones(len(masks), dtype=bool)
    open_ = np.ones(len(masks), dtype=bool)
    small_first = True
    while open_.any():
        cand = np.flatnonzero(open_)
        i = int(cand[np.argmin(size[cand]) if small_first else np.argmax(size[cand])])
        small_first = not small_first
        cols, cells, _ = design.masks(masks[i:i + 1], overlap)
        ok, _ = mle_exists(design.matrix[cells[0]][:, cols[0]], y[cells[0]])
        same = open_ & (key == key[i])
        if ok:  # every sub-model on the same cells exists
            settled = same & ((rest & ~rest[i]) == 0)
        else:  # every super-model on the same cells fails
            settled = same & ((rest & rest[i]) == rest[i])
            out[settled] = False
        open_ &= ~settled
    return out


def fit_models(design: Design, y: np.ndarray, masks: Sequence[int] | np.ndarray,
               overlap: np.ndarray) -> ModelSpace:
    """Fit every admissible model of the list; the others are reported with a reason."""
    masks = np.asarray(masks, dtype=np.int64)
    exists, ident = admissibility(design, y, masks, overlap)
    stats: list[ModelStats | None] = [None] * len(masks)
    reasons: dict[int, str] = {}
    coef_out: dict[int, np.ndarray] = {}
    for i in np.flatnonzero(~(exists & ident)):
        reasons[int(masks[i])] = "not identifiable" if not ident[i] else "MLE does not exist"
    ok = np.flatnonzero(exists & ident)
    start_beta = _main_effects_start(design, y, overlap)
    for start in range(0, len(ok), CHUNK):
        idx = ok[start:start + CHUNK]
        part = masks[idx]
        cols, cells, n_empty = design.masks(part, overlap)
        yy = np.broadcast_to(y, (len(part), len(y)))
        coef, mu, conv = irls_batch(design.matrix, yy, cols, cells,
                                    beta=np.broadcast_to(start_beta, cols.shape))
        for j, s in zip(idx, summarise(design, y[None, :], part, coef, mu, cols, cells, n_empty, conv),
                        strict=True):
            stats[j] = s
        for j, c in zip(part, coef, strict=True):
            coef_out[int(j)] = c
    return ModelSpace(design, masks, stats, reasons, coef_out)


def _main_effects_start(design: Design, y: np.ndarray, overlap: np.ndarray) -> np.ndarray:
    """The main-effects fit: every model starts from it (interactions at 0), which saves
    about half the IRLS iterations of starting from the data."""
    cols, cells, _ = design.masks(np.array([0]), overlap)
    coef, _, _ = irls_batch(design.matrix, y[None, :], cols, cells)
    return np.asarray(coef[0])


def weights(values: np.ndarray) -> np.ndarray:
    """Akaike-type weights exp(-IC/2), normalised (Buckland, Burnham & Augustin 1997)."""
    v = np.asarray(values, dtype=np.float64)
    w = np.exp(-(v - v.min()) / 2)
    return w / w.sum()


def stepwise(design: Design, y: np.ndarray, overlap: np.ndarray, *,
             pthresh: float = 0.02) -> int:
    """SparseMSE's stepwise fit: add the two-list term with the smallest Poisson p-value.

    From main effects, each step computes, for every term not yet in, the one-sided
    Poisson p-value of the observed overlap of its two lists given the current fit
    (min of P(X <= n*) and P(X >= n*) with X ~ Poisson(fitted overlap)); a term whose
    model would fail the existence or identifiability check gets p = 1.  The term with
    the smallest p is added while p < pthresh (ties: the first in pair order).
    """
    from scipy.stats import poisson

    npairs = len(design.pairs)
    mask = 0
    if pthresh <= 0:
        return 0
    for _ in range(npairs):
        cols, cells, _ = design.masks(np.array([mask]), overlap)
        _, mu, _ = irls_batch(design.matrix, y[None, :], cols, cells)
        pstar = design.pair_cells.astype(np.float64) @ mu[0]
        pval = np.minimum(poisson.cdf(overlap, pstar), poisson.sf(overlap - 1, pstar))
        pval = np.where([mask >> b & 1 for b in range(npairs)], 1.0, pval)
        for b in np.flatnonzero(pval < pthresh):
            cand = mask | (1 << int(b))
            ok, ident = admissibility(design, y, np.array([cand]), overlap)
            if not (ok[0] and ident[0]):
                pval[b] = 1.0
        best = int(np.argmin(pval))
        if pval[best] >= pthresh:
            break
        mask |= 1 << best
    return mask
