"""Differentially private counts and proportions of a cube, noised with OpenDP.

Noise comes from OpenDP's discrete Laplace or discrete Gaussian mechanism, one
vectorised call per release. The noisy counts are then post-processed (which costs
no privacy) into whole, non-negative numbers whose every published total is the sum of
its published parts. Two ways to noise a cube:

- ``"finest"`` (default): noise only the finest cells (one person changes one of them by
  one: sensitivity 1) and add them up to every total;
- ``"consistent"``: noise every cell of every grouping set (one person changes one cell per
  grouping set: L1 sensitivity g, L2 √g) and make the table consistent by ordinary least
  squares (Hay, Rastogi, Miklau & Suciu 2010).

Production noise is OpenDP's own cryptographically secure sampler, which cannot be
seeded. Passing ``rng`` switches to a numpy sampler of the same distributions; that is
for tests only and is not a secure release. Formulas: docs/methods/differential-privacy.md.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.linalg import cho_factor, cho_solve
from scipy.sparse.linalg import lsqr

from citizendata.errors import BadInput, Where
from citizendata.privacy.structure import TOTAL, TableStructure

__all__ = [
    "MECHANISMS",
    "STRATEGIES",
    "DPResult",
    "add_noise",
    "calibrate_scale",
    "cube_sensitivity",
    "make_measurement",
    "noise_variance",
    "noisy_counts",
    "noisy_proportions",
    "privacy_loss",
]

Mechanism = Literal["discrete_laplace", "discrete_gaussian"]
Strategy = Literal["finest", "consistent"]
MECHANISMS: tuple[str, ...] = ("discrete_laplace", "discrete_gaussian")
STRATEGIES: tuple[str, ...] = ("finest", "consistent")
_OUTCOME = "_outcome"  # the pseudo-dimension splitting a proportion's denominator
# above this many finest cells the exact post-projection variance (a dense solve) is
# replaced by its upper bound, the noise variance itself
_EXACT_VARIANCE_MAX_LEAVES = 3000


@dataclass(frozen=True)
class DPResult:
    """A differentially private table and what it cost: noise scale, sensitivity, (ε, δ)."""

    table: pd.DataFrame  # the dimensions and the noisy columns only, same rows, same order
    epsilon: float
    delta: float
    mechanism: str
    strategy: str
    scale: float  # of the noise added to each noised cell
    sensitivity: float  # L1 (discrete Laplace) or L2 (discrete Gaussian) of the noised vector
    noise_sd: np.ndarray  # per row, after post-processing (before clamping and rounding)
    grouping_sets: int  # cells one person counts in (the cube's grouping sets)
    noised_cells: int


# --- OpenDP ---------------------------------------------------------------------------

def _opendp() -> Any:
    import opendp.prelude as dp

    # the noise measurements are in OpenDP's "contrib" set (vetted, not yet formally reviewed)
    dp.enable_features("contrib")
    return dp


def _check_mechanism(mechanism: str) -> None:
    if mechanism not in MECHANISMS:
        raise BadInput("privacy.invalid_table", f"unknown mechanism {mechanism!r}",
                       fix=f"Use one of {list(MECHANISMS)}.")


def make_measurement(mechanism: str, scale: float, delta: float = 0.0) -> Any:
    """The OpenDP measurement on a vector of integer counts; its ``map(d_in)`` gives the privacy loss.

    discrete Laplace: an ε-DP measurement over the L1 distance (``map(Δ₁) = ε``);
    discrete Gaussian: zCDP turned into (ε, δ) at the given δ over the L2 distance
    (``map(Δ₂) = (ε, δ)``).
    """
    _check_mechanism(mechanism)
    dp = _opendp()
    domain = dp.vector_domain(dp.atom_domain(T=int))
    if mechanism == "discrete_laplace":
        return dp.m.make_laplace(domain, dp.l1_distance(T=int), scale=float(scale))
    if delta <= 0:
        raise BadInput("privacy.invalid_table", "the discrete Gaussian mechanism needs delta > 0",
                       fix="Give a delta such as 1e-7.")
    gauss = dp.m.make_gaussian(domain, dp.l2_distance(T=float), scale=float(scale))
    return dp.c.make_fix_delta(dp.c.make_zCDP_to_approxDP(gauss), float(delta))


def _sensitivity_arg(mechanism: str, sensitivity: float) -> float | int:
    # OpenDP's integer L1 metric takes an integer distance; the L2 metric a float
    return math.ceil(sensitivity - 1e-12) if mechanism == "discrete_laplace" else float(sensitivity)


def privacy_loss(mechanism: str, scale: float, sensitivity: float,
                 delta: float = 0.0) -> tuple[float, float]:
    """The (ε, δ) OpenDP certifies for noise of this scale on a vector of this sensitivity."""
    out = make_measurement(mechanism, scale, delta).map(_sensitivity_arg(mechanism, sensitivity))
    if mechanism == "discrete_laplace":
        return float(out), 0.0
    return float(out[0]), float(out[1])


def calibrate_scale(mechanism: str, sensitivity: float, epsilon: float,
                    delta: float = 0.0) -> float:
    """The smallest noise scale OpenDP certifies as (ε, δ)-DP for this sensitivity (binary search)."""
    return _calibrate(str(mechanism), float(sensitivity), float(epsilon), float(delta))


@functools.lru_cache(maxsize=256)
def _calibrate(mechanism: str, sensitivity: float, epsilon: float, delta: float) -> float:
    # a pure function of its arguments, and OpenDP's search makes ~60 measurements
    _check_mechanism(mechanism)
    if not (epsilon > 0 and math.isfinite(epsilon)):
        raise BadInput("privacy.invalid_table", f"epsilon must be positive, not {epsilon!r}",
                       fix="Give an epsilon such as 1.0.")
    dp = _opendp()
    d_in = _sensitivity_arg(mechanism, sensitivity)
    if mechanism == "discrete_laplace":
        return float(dp.binary_search_param(lambda s: make_measurement(mechanism, s),
                                            d_in=d_in, d_out=float(epsilon)))
    if not 0 < delta < 1:
        raise BadInput("privacy.invalid_table", "the discrete Gaussian mechanism needs 0 < delta < 1",
                       fix="Give a delta such as 1e-7.")
    return float(dp.binary_search_param(lambda s: make_measurement(mechanism, s, delta),
                                        d_in=d_in, d_out=(float(epsilon), float(delta))))


# --- noise -----------------------------------------------------------------------------

def noise_variance(mechanism: str, scale: float) -> float:
    """The variance of the noise: exact for both the discrete Laplace and the discrete Gaussian.

    discrete Laplace with P(k) ∝ exp(−|k|/b): 2e^{−1/b}/(1 − e^{−1/b})²; discrete Gaussian
    with P(k) ∝ exp(−k²/2σ²): Σ k²P(k), summed over ±(12σ + 12), slightly below σ².
    """
    _check_mechanism(mechanism)
    if scale <= 0:
        return 0.0
    if mechanism == "discrete_laplace":
        q = math.exp(-1.0 / scale)
        return 2.0 * q / math.expm1(-1.0 / scale) ** 2
    K = math.ceil(12 * scale) + 12
    k = np.arange(-K, K + 1, dtype=float)
    w = np.exp(-(k * k) / (2.0 * scale * scale))
    return float((k * k * w).sum() / w.sum())


def _discrete_laplace(scale: float, size: int, rng: np.random.Generator) -> np.ndarray:
    # the difference of two geometric counts of failures is discrete Laplace
    p = -math.expm1(-1.0 / scale)
    return (rng.geometric(p, size) - rng.geometric(p, size)).astype(np.int64)


def _sample(mechanism: str, scale: float, size: int, rng: np.random.Generator) -> np.ndarray:
    """Noise from numpy, for reproducible tests only: not a secure sampler."""
    if mechanism == "discrete_laplace":
        return _discrete_laplace(scale, size, rng)
    # Canonne, Kamath & Steinke (2020), Algorithm 3: discrete Laplace proposals with
    # t = ⌊σ⌋ + 1, accepted with probability exp(−(|y| − σ²/t)² / 2σ²)
    t = math.floor(scale) + 1
    out = np.empty(0, dtype=np.int64)
    while out.size < size:
        y = _discrete_laplace(t, 2 * (size - out.size) + 16, rng)
        keep = rng.random(y.size) < np.exp(-((np.abs(y) - scale * scale / t) ** 2)
                                           / (2 * scale * scale))
        out = np.concatenate([out, y[keep]])
    return out[:size]


def add_noise(values: np.ndarray, mechanism: str, scale: float,
              rng: np.random.Generator | None = None, delta: float = 0.0) -> np.ndarray:
    """Integer counts plus independent noise, in one OpenDP call (numpy only when ``rng`` is given)."""
    x = np.asarray(values, dtype=np.int64)
    if scale <= 0:
        return x.copy()
    if rng is not None:
        return x + _sample(mechanism, scale, x.size, rng)
    _check_mechanism(mechanism)
    dp = _opendp()
    domain = dp.vector_domain(dp.atom_domain(T=int))
    if mechanism == "discrete_laplace":
        meas = dp.m.make_laplace(domain, dp.l1_distance(T=int), scale=float(scale))
    else:
        meas = dp.m.make_gaussian(domain, dp.l2_distance(T=float), scale=float(scale))
    return np.asarray(meas(x.tolist()), dtype=np.int64)


# --- the cube's structure ----------------------------------------------------------------

@dataclass(frozen=True)
class _Plan:
    """What noising and post-processing need: finest cells, who sums what, the top-down order."""

    structure: TableStructure
    leaves: np.ndarray  # cell indices of the finest cells
    M: sp.csr_matrix  # cells x leaves: 1 where a finest cell counts in a cell
    grouping_sets: int
    stages: list[tuple[np.ndarray, np.ndarray]]  # (cells, their parent cell or -1), top down
    root: int  # the grand total's cell, or -1


def _chains(parent: Mapping[str, str], codes: Sequence[str]) -> dict[str, list[str]]:
    """Each code's ancestors from itself up to the total."""
    out: dict[str, list[str]] = {}
    for c in codes:
        chain = [c]
        while chain[-1] != TOTAL:
            chain.append(parent.get(chain[-1], TOTAL))
        out[c] = chain
    return out


def _plan(structure: TableStructure, order: Sequence[str] | None = None) -> _Plan:
    """The finest cells, the aggregation matrix and the top-down order of a complete cube."""
    dims = list(order or structure.dims)
    cells = structure.cells[dims].reset_index(drop=True)
    n = len(cells)
    depth = np.zeros((n, len(dims)), dtype=np.int64)
    finest = np.zeros((n, len(dims)), dtype=bool)
    is_total = np.zeros((n, len(dims)), dtype=bool)
    pairs: dict[str, pd.DataFrame] = {}
    parents: dict[str, dict[str, str]] = {}
    for j, d in enumerate(dims):
        present = [str(c) for c in pd.unique(cells[d])]
        chains = _chains(structure.hierarchies.get(d, {}), present)
        # a code is finest when no code in the table lies below it
        above = {a for c in present for a in chains[c][1:]}
        fin = [c for c in present if c not in above]
        col = cells[d]
        depth[:, j] = col.map({c: len(chains[c]) - 1 for c in present}).to_numpy()
        finest[:, j] = col.isin(fin).to_numpy()
        is_total[:, j] = (col == TOTAL).to_numpy()
        pairs[d] = pd.DataFrame([(c, a) for c in fin for a in chains[c]], columns=[d, "_anc"])
        parents[d] = {c: chains[c][1] for c in present if c != TOTAL}
    leaves = np.flatnonzero(finest.all(axis=1))
    if leaves.size == 0:
        raise BadInput("privacy.invalid_table", "the table has no finest cells (no cell is "
                       "broken down by every dimension)",
                       fix=f"Include the full cross-classification by {dims}, with zeros.")
    # every (finest cell, cell it counts in) pair: ancestors per dimension, joined to the cells
    walk = cells.iloc[leaves].assign(_leaf=np.arange(leaves.size))
    for d in dims:
        walk = walk.merge(pairs[d], on=d).drop(columns=d).rename(columns={"_anc": d})
    index = pd.MultiIndex.from_frame(cells)
    hit = index.get_indexer(pd.MultiIndex.from_frame(walk[dims]))
    ok = hit >= 0
    M = sp.csr_matrix((np.ones(int(ok.sum())), (hit[ok], walk["_leaf"].to_numpy()[ok])),
                      shape=(n, leaves.size))
    empty = np.flatnonzero(np.diff(M.indptr) == 0)
    if empty.size:
        raise BadInput("privacy.invalid_table", f"cell {structure.cell_label(int(empty[0]))} has "
                       "no finest cell under it", where=Where(position=int(empty[0])),
                       fix=f"Include the full cross-classification by {dims}, with zeros.")
    if structure.A.shape[0] and abs(structure.A @ M).max() > 0:
        raise BadInput("privacy.invalid_table", "some totals are not the sums of the finest "
                       "cells under them: the table misses cells between them",
                       fix="Give every cell of every grouping set, with zeros.")
    # the top-down order: dimension by dimension, level by level, under finer and finer parents
    stages: list[tuple[np.ndarray, np.ndarray]] = []
    for j, d in enumerate(dims):
        for k in range(1, int(depth[:, j].max()) + 1):
            mask = finest[:, :j].all(axis=1) & (depth[:, j] == k) & is_total[:, j + 1:].all(axis=1)
            kids = np.flatnonzero(mask)
            if kids.size == 0:
                continue
            up = cells.iloc[kids].copy()
            up[d] = up[d].map(parents[d])
            stages.append((kids, index.get_indexer(pd.MultiIndex.from_frame(up[dims]))))
    root = np.flatnonzero(is_total.all(axis=1))
    return _Plan(structure, leaves, M, len(np.unique(depth, axis=0)), stages,
                 int(root[0]) if root.size else -1)


def cube_sensitivity(structure: TableStructure) -> int:
    """How many cells one person counts in: the number of grouping sets (levels) of the cube.

    A person counts once in each grouping set (each combination of hierarchy levels
    across the dimensions), so the distinct level patterns bound the cells one person
    changes; for a cube with all margins by k flat dimensions it is 2^k.
    """
    depth = np.zeros((structure.n_cells, len(structure.dims)), dtype=np.int64)
    for j, d in enumerate(structure.dims):
        present = [str(c) for c in pd.unique(structure.cells[d])]
        chains = _chains(structure.hierarchies.get(d, {}), present)
        depth[:, j] = structure.cells[d].map({c: len(chains[c]) - 1 for c in present}).to_numpy()
    return len(np.unique(depth, axis=0))


# --- post-processing ----------------------------------------------------------------------

def _group_starts(group: np.ndarray) -> np.ndarray:
    """For sorted group labels, the position where each element's group begins."""
    new = np.r_[True, group[1:] != group[:-1]]
    return np.maximum.accumulate(np.where(new, np.arange(group.size), 0))


def _simplex_projection(v: np.ndarray, group: np.ndarray, total: np.ndarray) -> np.ndarray:
    """Each group of v projected onto {x ≥ 0, Σx = total[group]} (Duchi et al. 2008), vectorised."""
    order = np.lexsort((-v, group))
    g, u = group[order], v[order]
    start = _group_starts(g)
    csum = np.cumsum(u)
    csum = csum - np.where(start > 0, csum[start - 1], 0.0)
    j = np.arange(u.size) - start + 1
    s = total[g]
    ok = u - (csum - s) / j > 0
    # θ from the last position of each group where the condition holds
    rho = np.zeros(total.size, dtype=np.int64)
    np.maximum.at(rho, g, np.where(ok, j, 0))
    cs_at = np.zeros(total.size)
    np.add.at(cs_at, g[ok & (j == rho[g])], csum[ok & (j == rho[g])])
    theta = np.where(rho > 0, (cs_at - total) / np.maximum(rho, 1), np.inf)
    out = np.empty_like(v)
    out[order] = np.maximum(u - theta[g], 0.0)
    return out


def _largest_remainder(w: np.ndarray, group: np.ndarray, total: np.ndarray) -> np.ndarray:
    """Whole numbers within one of w whose group sums are the (whole) totals."""
    fl = np.floor(w + 1e-9)
    short = total - np.bincount(group, weights=fl, minlength=total.size)
    short = np.clip(np.rint(short), 0, None).astype(np.int64)
    order = np.lexsort((-(w - fl), group))
    g = group[order]
    rank = np.arange(g.size) - _group_starts(g)
    out = fl.copy()
    out[order] += rank < short[g]
    return out.astype(np.int64)


def _top_down(plan: _Plan, x: np.ndarray) -> np.ndarray:
    """Whole, non-negative, additive counts close to the consistent estimates x.

    The grand total is kept (clamped at 0 and rounded); then, stage by stage, the
    children of each published parent are projected onto the counts ≥ 0 that sum to it
    and rounded by largest remainder. Every cell outside the top-down path is the sum
    of the finest cells under it, so all totals add up.
    """
    out = np.full(x.size, np.nan)
    if plan.root >= 0:
        out[plan.root] = max(float(np.rint(x[plan.root])), 0.0)
    for kids, par in plan.stages:
        # a parent missing from the table (or off the path) leaves its children unconstrained
        alone = (par < 0) | np.isnan(out[np.maximum(par, 0)])
        out[kids[alone]] = np.maximum(np.rint(x[kids[alone]]), 0.0)
        kids, par = kids[~alone], par[~alone]
        if kids.size == 0:
            continue
        parents, group = np.unique(par, return_inverse=True)
        total = out[parents]
        w = _simplex_projection(x[kids], group, total)
        out[kids] = _largest_remainder(w, group, total)
    leaf = out[plan.leaves]
    gap = np.isnan(leaf)
    leaf[gap] = np.maximum(np.rint(x[plan.leaves][gap]), 0.0)
    return np.asarray(plan.M @ leaf.astype(np.int64), dtype=np.int64)


def _projection_diagonal(M: sp.csr_matrix) -> np.ndarray:
    """diag(M (MᵀM)⁻¹ Mᵀ): the variance factor of each cell after least squares."""
    if M.shape[1] > _EXACT_VARIANCE_MAX_LEAVES:
        return np.ones(M.shape[0])  # a projection's diagonal is at most 1
    factor = cho_factor((M.T @ M).toarray())
    Mt = M.T.tocsc()
    out = np.empty(M.shape[0])
    for lo in range(0, M.shape[0], 1024):
        block = Mt[:, lo:lo + 1024].toarray()
        out[lo:lo + 1024] = (block * cho_solve(factor, block)).sum(axis=0)
    return out


# --- releases ---------------------------------------------------------------------------

def _cell_counts(table: pd.DataFrame, structure: TableStructure, count: str,
                 pos: np.ndarray) -> np.ndarray:
    """One whole, non-negative count per cell; a cell repeated in linked tables must agree."""
    if count not in table.columns:
        raise BadInput("privacy.invalid_table", f"the table has no column {count!r}",
                       where=Where(column=count), fix="Name the column holding the counts.")
    v = pd.to_numeric(table[count], errors="coerce").to_numpy(dtype=float)
    bad = ~np.isfinite(v) | (v < 0) | (np.abs(v - np.rint(v)) > 1e-9)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise BadInput("privacy.invalid_table", f"{count!r} is {v[row]!r} in row {row}; "
                       "differential privacy here is for whole, non-negative counts",
                       where=Where(row=row, column=count),
                       fix="Give unweighted counts of submissions (0 for empty cells).")
    out = np.full(structure.n_cells, -1.0)
    out[pos] = v
    clash = np.flatnonzero(np.rint(out[pos]) != np.rint(v))
    if clash.size:
        row = int(clash[0])
        raise BadInput("privacy.invalid_table", "a cell appears twice with different counts",
                       where=Where(row=row, column=count),
                       fix="Give each cell of linked tables the same count.")
    return np.rint(out).astype(np.int64)


def _release(structure: TableStructure, truth: np.ndarray, *, epsilon: float, delta: float,
             mechanism: str, strategy: str, max_contributions: int,
             rng: np.random.Generator | None, order: Sequence[str] | None = None
             ) -> tuple[np.ndarray, np.ndarray, float, float, int, int, float]:
    """Noisy, post-processed counts per cell and their noise SDs, with the mechanism's figures."""
    _check_mechanism(mechanism)
    if strategy not in STRATEGIES:
        raise BadInput("privacy.invalid_table", f"unknown strategy {strategy!r}",
                       fix=f"Use one of {list(STRATEGIES)}.")
    if max_contributions < 1:
        raise BadInput("privacy.invalid_table", "max_contributions must be at least 1",
                       fix="Give how many units one submission can add to a cell.")
    plan = _plan(structure, order)
    g = plan.grouping_sets
    laplace = mechanism == "discrete_laplace"
    if strategy == "finest":
        sens = float(max_contributions)
    else:
        sens = float(max_contributions * (g if laplace else math.sqrt(g)))
    used_delta = 0.0 if laplace else float(delta)
    scale = calibrate_scale(mechanism, sens, epsilon, used_delta)
    var = noise_variance(mechanism, scale)
    if strategy == "finest":
        noisy_leaves = add_noise(truth[plan.leaves], mechanism, scale, rng)
        x = np.asarray(plan.M @ noisy_leaves, dtype=float)
        factor = np.diff(plan.M.indptr).astype(float)  # finest cells summed per cell
        noised = plan.leaves.size
    else:
        y = add_noise(truth, mechanism, scale, rng).astype(float)
        # ordinary least squares over the finest cells = the projection onto A x = 0
        # (all cells carry noise of one variance, so weighted and ordinary coincide)
        z = lsqr(plan.M, y, atol=1e-12, btol=1e-12, iter_lim=10 * plan.M.shape[1] + 100)[0]
        x = np.asarray(plan.M @ z, dtype=float)
        factor = _projection_diagonal(plan.M)
        noised = structure.n_cells
    published = _top_down(plan, x)
    # OpenDP's own accounting of what was spent, as a guard on the calibration
    eps_used, delta_used = privacy_loss(mechanism, scale, sens, used_delta)
    if eps_used > epsilon * (1 + 1e-9) or delta_used > used_delta * (1 + 1e-9):
        raise RuntimeError(f"OpenDP certifies ({eps_used}, {delta_used}), more than asked")
    return published, np.sqrt(var * factor), scale, sens, g, noised, used_delta


def noisy_counts(table: pd.DataFrame, dims: Sequence[str], count: str = "n", *,
                 epsilon: float, delta: float = 0.0, mechanism: str = "discrete_laplace",
                 strategy: str = "finest",
                 hierarchies: Mapping[str, Mapping[str, str]] | None = None,
                 max_contributions: int = 1, rng: np.random.Generator | None = None
                 ) -> DPResult:
    """Differentially private counts of a tidy cube: whole, non-negative and additive.

    ``table`` holds every cell of the cube (zeros included: which cells appear must not
    depend on the data) with its dimension codes and the unweighted count ``count``;
    one submission adds at most ``max_contributions`` to one cell of each grouping set.
    The result keeps only the dimensions, the noisy count and its ``dp_noise_sd``:
    any other column was computed from the raw data and is not protected.
    """
    dims = list(dims)
    structure = TableStructure.from_table(table, dims, hierarchies)
    pos = structure.positions(table)
    truth = _cell_counts(table, structure, count, pos)
    published, sd, scale, sens, g, noised, used_delta = _release(
        structure, truth, epsilon=epsilon, delta=delta, mechanism=mechanism, strategy=strategy,
        max_contributions=max_contributions, rng=rng)
    out = table[dims].reset_index(drop=True).copy()
    out[count] = published[pos]
    out["dp_noise_sd"] = sd[pos]
    return DPResult(out, float(epsilon), used_delta, mechanism, strategy, scale, sens,
                    sd[pos], g, noised)


def noisy_proportions(table: pd.DataFrame, dims: Sequence[str], numerator: str,
                      denominator: str, *, epsilon: float, delta: float = 0.0,
                      mechanism: str = "discrete_laplace", strategy: str = "finest",
                      hierarchies: Mapping[str, Mapping[str, str]] | None = None,
                      max_contributions: int = 1, rng: np.random.Generator | None = None
                      ) -> DPResult:
    """Differentially private proportions: noisy numerators and denominators, and the noise's SD.

    The numerator's people are among the denominator's, so the denominator splits into
    two disjoint counts, "yes" (the numerator) and "no" (the rest). One person is in only
    one of them, so both are noised at the full ε with the sensitivity of a single count
    (no splitting of ε); the published denominator is their sum, so 0 ≤ p ≤ 1. The
    added-noise SD of p (delta method, with the noisy counts as plug-ins) is
    √((1 − p)²σ²_yes + p²σ²_no) / den, in ``dp_noise_sd``; p is NaN when den is 0.
    """
    dims = list(dims)
    if _OUTCOME in dims:
        raise BadInput("privacy.invalid_table", f"{_OUTCOME!r} is reserved",
                       where=Where(column=_OUTCOME), fix="Rename that dimension.")
    structure = TableStructure.from_table(table, dims, hierarchies)
    pos = structure.positions(table)
    num = _cell_counts(table, structure, numerator, pos)
    den = _cell_counts(table, structure, denominator, pos)
    over = np.flatnonzero(num > den)
    if over.size:
        cell = structure.cell_label(int(over[0]))
        raise BadInput("privacy.invalid_table", f"the numerator is larger than the denominator "
                       f"in cell {cell}", where=Where(column=numerator),
                       fix="Give a numerator that counts a subset of the denominator's people.")
    cells = structure.cells
    stacked = pd.concat([cells.assign(**{_OUTCOME: "yes"}), cells.assign(**{_OUTCOME: "no"})],
                        ignore_index=True)
    split = TableStructure.from_table(stacked, [*dims, _OUTCOME], hierarchies)
    at = split.positions(stacked)
    truth = np.zeros(split.n_cells, dtype=np.int64)
    truth[at] = np.r_[num, den - num]
    # the outcome first: each of "yes" and "no" then goes top-down under its own total
    published, sd, scale, sens, g, noised, used_delta = _release(
        split, truth, epsilon=epsilon, delta=delta, mechanism=mechanism, strategy=strategy,
        max_contributions=max_contributions, rng=rng, order=[_OUTCOME, *dims])
    k = structure.n_cells
    yes, no = published[at[:k]][pos], published[at[k:]][pos]
    sd_yes, sd_no = sd[at[:k]][pos], sd[at[k:]][pos]
    d = (yes + no).astype(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = np.where(d > 0, yes / d, np.nan)
        noise_sd = np.where(d > 0, np.sqrt((1 - p) ** 2 * sd_yes ** 2 + p ** 2 * sd_no ** 2) / d,
                            np.nan)
    out = table[dims].reset_index(drop=True).copy()
    out[numerator] = yes
    out[denominator] = yes + no
    out["proportion"] = p
    out["dp_noise_sd"] = noise_sd
    return DPResult(out, float(epsilon), used_delta, mechanism, strategy, scale, sens,
                    noise_sd, g, noised)
