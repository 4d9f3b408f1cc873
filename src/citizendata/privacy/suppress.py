"""Primary disclosure rules and secondary cell suppression for additive tables.

Primary rules (Hundepool et al. 2012, *Statistical Disclosure Control*, Wiley, §4.2)
mark sensitive cells; secondary suppression then hides enough other cells that an
attacker who knows every published value, the additivity ``A x = 0`` and ``x ≥ 0``
cannot narrow a sensitive cell's value to less than [a − L, a + U]. Two methods:
``optimal``, the Fischetti & Salazar (2001) mixed-integer programme with its deviation
blocks added lazily, and ``fast``, one small linear programme per sensitive cell and
direction over a local sub-table, widened up the hierarchies when needed (after the
network-flow heuristics of Kelly, Golden & Assad 1992 and τ-ARGUS's HiTaS, de Wolf
2002), then pruned of cells its proofs can route around. Both are safe: every pattern
returned comes with deviations that prove it. Formulas: docs/methods/suppression.md.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal, NoReturn

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.optimize import Bounds, LinearConstraint, milp

from citizendata.errors import BadInput, Where
from citizendata.privacy.attack import attack, structural_bounds
from citizendata.privacy.deviation import CellFacts, cheapest_deviation, deviation_block
from citizendata.privacy.structure import TOTAL, TableStructure

__all__ = [
    "AUTO_MAX_CELLS",
    "AUTO_MAX_PRIMARY",
    "AUTO_TIME_LIMIT",
    "FAST_PRUNE",
    "FAST_PRUNE_BUDGET",
    "SuppressionResult",
    "cost_vector",
    "dominance_rule",
    "nk_rule",
    "p_percent_protection",
    "protection_levels",
    "secondary_suppression",
    "threshold_rule",
]

Cost = Literal["value", "count", "log"]
Method = Literal["auto", "optimal", "fast"]

# auto picks the exact MILP up to this size: measured at 0.1–0.3 s for 2-D tables of
# 100 cells and 0.5–1.5 s for 3-D ones; a 3-D table of 125 cells already took 8 s
AUTO_MAX_CELLS = 120
AUTO_MAX_PRIMARY = 20
AUTO_TIME_LIMIT = 5.0  # seconds the exact MILP may take when auto chose it
# relative weight of moving an already suppressed cell in the fast method's LPs
_FREE = 1e-4
FAST_PRUNE = True  # after the fast pass, release secondary cells whose proofs re-route
# LPs the pruning may spend, as a multiple of the fast pass's: on the benchmark 2x kept
# about 70 % of the full pruning's gain for half its time; small tables (under 1,000
# LPs) are pruned in full
FAST_PRUNE_BUDGET = 2.0
_ATTACK_TOL = 1e-6


def threshold_rule(n: np.ndarray, threshold: int, zero_unsafe: bool = False) -> np.ndarray:
    """Sensitive cells under the threshold rule: 0 < n < threshold (and n == 0 if zeros are unsafe)."""
    n = np.asarray(n, dtype=float)
    return ((n > 0) & (n < threshold)) | ((n == 0) & zero_unsafe)


def dominance_rule(total: np.ndarray, top1: np.ndarray, top2: np.ndarray, p: float) -> np.ndarray:
    """Sensitive cells under the p% rule: T − x1 − x2 < p/100 · x1 (Hundepool et al. 2012, §4.2.2)."""
    t, x1, x2 = (np.asarray(v, dtype=float) for v in (total, top1, top2))
    return (t > 0) & (t - x1 - x2 < p / 100.0 * x1)


def nk_rule(total: np.ndarray, top_n_sum: np.ndarray, k: float) -> np.ndarray:
    """Sensitive cells under the (n, k) rule: the n largest hold more than k% of T (ibid. §4.2)."""
    t, s = np.asarray(total, dtype=float), np.asarray(top_n_sum, dtype=float)
    return (t > 0) & (s > k / 100.0 * t)


def p_percent_protection(total: np.ndarray, top1: np.ndarray, top2: np.ndarray,
                         p: float) -> np.ndarray:
    """The upper protection a p%-sensitive cell needs: p/100 · x1 − (T − x1 − x2), at least 0 (Cox 1981)."""
    t, x1, x2 = (np.asarray(v, dtype=float) for v in (total, top1, top2))
    return np.maximum(p / 100.0 * x1 - (t - x1 - x2), 0.0)


def protection_levels(values: np.ndarray, ratio: float,
                      minimum: float) -> tuple[np.ndarray, np.ndarray]:
    """Lower and upper protection of frequency cells: ⌈max(ratio · a, minimum)⌉, the lower capped at a.

    Counts are whole, so an interval of counts reaches a + U only if it reaches
    a + ⌈U⌉: the levels are rounded up to whole units.
    """
    a = np.asarray(values, dtype=float)
    upper = np.ceil(np.maximum(ratio * a, minimum) - 1e-9)
    return np.minimum(upper, a), upper


def cost_vector(values: np.ndarray, cost: Cost) -> np.ndarray:
    """The information lost by suppressing each cell: its value + 1, 1, or log(1 + value) + 1."""
    a = np.asarray(values, dtype=float)
    if cost == "value":
        return a + 1.0
    if cost == "count":
        return np.ones_like(a)
    if cost == "log":
        return np.log1p(a) + 1.0
    raise BadInput("privacy.invalid_table", f"unknown suppression cost {cost!r}",
                   fix="Use 'value', 'count' or 'log'.")


@dataclass
class SuppressionResult:
    """A suppression pattern and how it was found."""

    suppressed: np.ndarray  # primary | secondary
    primary: np.ndarray
    secondary: np.ndarray
    method: str
    seconds: float
    info_loss: dict[str, float]
    lower: np.ndarray  # the protection each cell needed (0 for cells that are not sensitive)
    upper: np.ndarray
    solves: int = 0  # linear or mixed-integer programmes solved
    notes: list[str] = field(default_factory=list)


def _validate(structure: TableStructure, values: np.ndarray, primary: np.ndarray,
              lower: np.ndarray, upper: np.ndarray, floor: np.ndarray | None,
              ceiling: np.ndarray | None, numerators: Sequence[np.ndarray]
              ) -> tuple[CellFacts, np.ndarray, np.ndarray, np.ndarray]:
    """The cells' facts and protection levels; negative or missing values are refused."""
    n = structure.n_cells
    a = np.asarray(values, dtype=float)
    arrays = [a, np.asarray(primary, dtype=bool), np.asarray(lower, dtype=float),
              np.asarray(upper, dtype=float)]
    known = [np.zeros(n) if floor is None else np.asarray(floor, dtype=float),
             np.full(n, np.inf) if ceiling is None else np.asarray(ceiling, dtype=float)]
    nums = [np.asarray(k, dtype=float) for k in numerators]
    if any(x.shape != (n,) for x in [*arrays, *known, *nums]):
        raise BadInput("privacy.invalid_table", f"give one value, flag and protection level per "
                       f"cell ({n} cells)", fix="Align the arrays with structure.cells.")
    bad = ~np.isfinite(a) | (a < 0)
    for k in nums:
        bad |= ~np.isfinite(k) | (k < 0) | (k > a)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise BadInput("privacy.invalid_table", f"cell {structure.cell_label(i)} has value "
                       f"{a[i]!r}; counts must be finite and non-negative (numerators at most "
                       "their count)", where=Where(position=i), fix="Give non-negative counts.")
    prim = arrays[1]
    # what the attacker knows never contradicts the truth
    lo, hi = np.minimum(np.maximum(known[0], 0.0), a), np.maximum(known[1], a)
    facts = CellFacts(a, lo, hi, tuple(nums))
    # only sensitive cells need protection, and no deviation leaves what the cells alone
    # tell (a total of two listed groups is at least 2 whatever is hidden)
    least, most = structural_bounds(structure, lo, hi)
    L = np.where(prim, np.minimum(np.maximum(arrays[2], 0.0), a - np.minimum(least, a)), 0.0)
    U = np.where(prim, np.minimum(np.maximum(arrays[3], 0.0), np.maximum(most, a) - a), 0.0)
    return facts, prim, L, U


def secondary_suppression(structure: TableStructure, values: np.ndarray, primary: np.ndarray,
                          *, lower: np.ndarray, upper: np.ndarray, cost: Cost = "value",
                          method: Method = "auto", time_limit: float | None = None,
                          floor: np.ndarray | None = None, ceiling: np.ndarray | None = None,
                          numerators: Sequence[np.ndarray] = ()) -> SuppressionResult:
    """Suppress further cells so no sensitive cell's attacker interval is narrower than required.

    ``floor`` and ``ceiling`` are what a reader knows of any hidden count (1 for a
    listed cell; the threshold for a cell the flags tell is not sensitive);
    ``numerators`` are companion tables published beside the counts (see
    ``citizendata.privacy.deviation``). A protection level a reader's knowledge already
    rules out is capped at what is possible, and said in the notes.
    """
    t0 = time.perf_counter()
    facts, prim, L, U = _validate(structure, values, primary, lower, upper, floor, ceiling,
                                  numerators)
    a = facts.a
    c = cost_vector(a, cost)
    chosen: str = method
    if method == "auto":
        small = structure.n_cells <= AUTO_MAX_CELLS and int(prim.sum()) <= AUTO_MAX_PRIMARY
        chosen = "optimal" if small else "fast"
        if small and time_limit is None:
            time_limit = AUTO_TIME_LIMIT
    notes: list[str] = []
    # a listed cell's own floor of 1 is expected; more than that is worth a note
    usual = np.minimum(np.maximum(np.asarray(lower, float), 0), a - np.minimum(facts.floor, 1))
    short = (usual - L > 1e-9) | (np.maximum(np.asarray(upper, float), 0) - U > 1e-9)
    capped = int((prim & short).sum())
    if capped:
        notes.append(f"{capped} sensitive cell(s) are given less protection than the policy "
                     "asks: the cells listed (and any flags published) already bound them")
    if chosen == "optimal":
        sup, solves, chosen = _optimal_or_fast(structure, facts, prim, L, U, c, time_limit, notes)
    elif chosen == "fast":
        sup, solves = _fast(structure, facts, prim, L, U, c)
    else:
        raise BadInput("privacy.invalid_table", f"unknown suppression method {method!r}",
                       fix="Use 'auto', 'optimal' or 'fast'.")
    secondary = sup & ~prim
    loss = {"cells": float(secondary.sum()), "value": float(a[secondary].sum()),
            "cost": float(c[secondary].sum()),
            "share_of_cells": float(sup.sum() / max(structure.n_cells, 1))}
    return SuppressionResult(sup, prim, secondary, chosen, time.perf_counter() - t0, loss, L, U,
                             solves, notes)


def _optimal_or_fast(structure: TableStructure, facts: CellFacts, prim: np.ndarray,
                     L: np.ndarray, U: np.ndarray, c: np.ndarray, time_limit: float | None,
                     notes: list[str]) -> tuple[np.ndarray, int, str]:
    """The exact pattern; if the time limit stops the MILP, the cheaper of it and fast's."""
    found = _optimal(structure, facts, prim, L, U, c, time_limit)
    if found is None:
        notes.append("the MILP found no pattern in its time limit; used the fast method")
        sup, solves = _fast(structure, facts, prim, L, U, c)
        return sup, solves, "fast"
    sup, solves, proven = found
    if proven:
        return sup, solves, "optimal"
    quick, more = _fast(structure, facts, prim, L, U, c)
    notes.append("the MILP hit its time limit; kept the cheaper of its best pattern and the "
                 "fast method's")
    if c[quick].sum() < c[sup].sum():
        return quick, solves + more, "fast"
    return sup, solves + more, "optimal"


# ----------------------------------------------------------------------------- fast


@dataclass(frozen=True)
class _Ancestry:
    """Per dimension: each cell's integer code, each code's parent and its descendant test."""

    codes: list[np.ndarray]  # cell -> code index
    parent: list[np.ndarray]  # code -> parent code (the root maps to itself)
    within: list[np.ndarray]  # within[x, g]: g is x or an ancestor of x
    depth: list[np.ndarray]


def _ancestry(structure: TableStructure) -> _Ancestry:
    """The hierarchies as integer arrays, so a local sub-table is a gather and an AND."""
    codes, parents, within, depth = [], [], [], []
    for d in structure.dims:
        h = structure.hierarchies[d]
        vocab = sorted(set(h) | set(h.values()) | {TOTAL})
        ix = {v: i for i, v in enumerate(vocab)}
        par = np.array([ix[h.get(v, TOTAL)] if v != TOTAL else ix[TOTAL] for v in vocab])
        w = np.eye(len(vocab), dtype=bool)
        dep = np.zeros(len(vocab), dtype=np.int64)
        cur = np.arange(len(vocab))
        for _ in range(len(vocab)):
            nxt = par[cur]
            moved = nxt != cur
            if not moved.any():
                break
            dep += moved
            w[np.arange(len(vocab)), nxt] = True
            cur = nxt
        codes.append(pd.Index(vocab).get_indexer(structure.cells[d].to_numpy()))
        parents.append(par)
        within.append(w)
        depth.append(dep)
    return _Ancestry(codes, parents, within, depth)


def _local(anc: _Ancestry, p: int, level: int) -> np.ndarray:
    """Cells whose code in every dimension lies under p's ancestor ``level`` steps up."""
    mask = np.ones(anc.codes[0].size, dtype=bool)
    for codes, par, within in zip(anc.codes, anc.parent, anc.within, strict=True):
        g = codes[p]
        for _ in range(level):
            g = par[g]
        mask &= within[codes, g]
    return np.flatnonzero(mask)


def _fast(structure: TableStructure, facts: CellFacts, prim: np.ndarray, L: np.ndarray,
          U: np.ndarray, c: np.ndarray, prune: bool = FAST_PRUNE) -> tuple[np.ndarray, int]:
    """One LP per sensitive cell and direction over a local sub-table, widened when infeasible."""
    anc = _ancestry(structure)
    A_csc = sp.csc_matrix(structure.A)
    free = _FREE * float(c.min()) if c.size else 0.0
    # largest first: big protections open paths that small cells then reuse at no cost
    order = np.flatnonzero(prim)
    order = order[np.argsort(-np.maximum(L, U)[order], kind="stable")]
    sup, solves = prim.copy(), 0
    proofs: dict[tuple[int, bool], set[int]] = {}
    for p in order:
        for up, need in ((True, U[p]), (False, L[p])):
            if need <= 0:
                continue
            support, tried = _route(anc, A_csc, int(p), float(need), up, facts,
                                    np.where(sup, free, c))
            solves += tried
            if support is None:
                _unprotectable(structure, int(p), up)
            sup[support] = True
            proofs[(int(p), up)] = set(support.tolist())
    if prune:
        solves += _prune(anc, A_csc, facts, prim, L, U, c, sup, proofs,
                         budget=max(int(FAST_PRUNE_BUDGET * solves), 1000))
    return sup, solves


def _prune(anc: _Ancestry, A_csc: sp.csc_matrix, facts: CellFacts, prim: np.ndarray,
           L: np.ndarray, U: np.ndarray, c: np.ndarray, sup: np.ndarray,
           proofs: dict[tuple[int, bool], set[int]], budget: int) -> int:
    """Publish again, dearest first, each secondary cell whose proofs re-route through the rest.

    A cell is released only when every deviation that used it is replaced by one inside
    the remaining pattern, so each sensitive cell keeps a proof: still safe (fact 2).
    After ``budget`` LPs only cells no proof uses any more are released. ``sup`` and
    ``proofs`` are updated in place; returns the number of LPs solved.
    """
    solves = 0
    second = np.flatnonzero(sup & ~prim)
    for i in second[np.argsort(-c[second], kind="stable")]:
        users = [k for k, used in proofs.items() if i in used]
        if users and solves >= budget:
            continue
        allowed = sup.copy()
        allowed[i] = False
        new: dict[tuple[int, bool], set[int]] = {}
        for p, up in users:
            support, tried = _route(anc, A_csc, p, float(U[p] if up else L[p]), up, facts, c,
                                    allowed)
            solves += tried
            if support is None:
                break
            new[(p, up)] = set(support.tolist())
        else:
            sup[i] = False
            proofs.update(new)
    return solves


def _route(anc: _Ancestry, A_csc: sp.csc_matrix, p: int, need: float, up: bool,
           facts: CellFacts, weight: np.ndarray,
           allowed: np.ndarray | None = None) -> tuple[np.ndarray | None, int]:
    """The cheapest deviation of p over ever wider local sub-tables (of allowed cells only)."""
    top = max(1, max(int(dep[codes[p]]) for codes, dep in zip(anc.codes, anc.depth,
                                                                 strict=True)))
    for level in range(1, top + 1):
        loc = _local(anc, p, level)
        if allowed is not None:
            loc = loc[allowed[loc]]
        support = cheapest_deviation(A_csc, loc, p, need, up, facts, weight)
        if support is not None:
            return support, level
    return None, top


def _unprotectable(structure: TableStructure, p: int, up: bool) -> NoReturn:
    """Refuse a sensitive cell no deviation of the whole table can move."""
    raise BadInput("privacy.unprotectable", f"cell {structure.cell_label(p)} cannot be hidden: "
                   f"no additive non-negative table moves it {'up' if up else 'down'} while "
                   "every published cell stays fixed", where=Where(position=p),
                   fix="Check the table is additive counts; else collapse categories.")


# -------------------------------------------------------------------------- optimal


def _violations(structure: TableStructure, facts: CellFacts, sup: np.ndarray, L: np.ndarray,
                U: np.ndarray) -> list[tuple[int, bool]]:
    """The (sensitive cell, direction) pairs the attacker still narrows under pattern ``sup``."""
    sens = np.flatnonzero((L > 0) | (U > 0))
    res = attack(structure, facts.a, sup, cells=sens, lower=facts.floor, bounds=facts.ceiling,
                 integer=True, numerators=facts.numerators)
    pos = res["position"].to_numpy()
    val = res["value"].to_numpy(float)
    tol = _ATTACK_TOL * np.maximum(1.0, val)
    out = [(int(q), True) for q in pos[res["hi"].to_numpy() < val + U[pos] - tol]]
    out += [(int(q), False) for q in pos[res["lo"].to_numpy() > val - L[pos] + tol]]
    return out


def _milp(structure: TableStructure, facts: CellFacts, prim: np.ndarray, c: np.ndarray,
          blocks: list[tuple[int, bool, float]], time_limit: float | None,
          whole: bool) -> tuple[np.ndarray, bool] | None:
    """Fischetti–Salazar: min Σ c s with one deviation block per (cell, direction)."""
    n, A = structure.n_cells, sp.csr_matrix(structure.A)
    everything = np.arange(n)
    parts = []
    for p, up, need in blocks:
        # each cell moves by at most the protection its block needs: exact for 2-D tables
        # (deviations are cycles carrying the need) and a far tighter relaxation than a big
        # M; a restriction elsewhere, so every pattern found is still proven safe
        b = deviation_block(A, everything, facts, cap=need)
        lb, ub = b.lb.copy(), b.ub.copy()
        plus, minus = p, n + p
        if up:
            lb[plus] = ub[plus] = need
            ub[minus] = 0.0
        else:
            lb[minus] = ub[minus] = need
            ub[plus] = 0.0
        parts.append((b, lb, ub))
    m = parts[0][0].lb.size
    B = len(parts)
    eq = sp.hstack([sp.csr_matrix((sum(b.A_eq.shape[0] for b, _, _ in parts), n)),
                    sp.block_diag([b.A_eq for b, _, _ in parts], format="csr")], format="csr")
    # a move of cell i needs s_i: y ≤ cap · s (cap = the move's upper bound)
    caps = np.concatenate([ub for _, _, ub in parts])
    moves = np.concatenate([b.moves for b, _, _ in parts])
    finite = np.where(np.isfinite(caps), caps, max(float(facts.a.max(initial=0.0)), 1.0)
                      * 4 + 4)
    link = sp.hstack([sp.csr_matrix((-finite, (np.arange(m * B), moves)), shape=(m * B, n)),
                      sp.identity(m * B, format="csr")], format="csr")
    cons = [LinearConstraint(eq, 0.0, 0.0), LinearConstraint(link, -np.inf, 0.0)]
    if parts[0][0].A_ub.shape[0]:
        ub_rows = sp.hstack([sp.csr_matrix((sum(b.A_ub.shape[0] for b, _, _ in parts), n)),
                             sp.block_diag([b.A_ub for b, _, _ in parts], format="csr")],
                            format="csr")
        cons.append(LinearConstraint(ub_rows, -np.inf,
                                     np.concatenate([b.b_ub for b, _, _ in parts])))
    lb = np.concatenate([prim.astype(float), *[lo for _, lo, _ in parts]])
    ub = np.concatenate([np.ones(n), *[np.where(np.isfinite(u), u, f) for (_, _, u), f in
                                       zip(parts, np.split(finite, B), strict=True)]])
    integrality = np.concatenate([np.ones(n), np.full(m * B, 1.0 if whole else 0.0)])
    options: dict[str, float | bool] = {"disp": False}
    if time_limit is not None:
        options["time_limit"] = float(time_limit)
    res = milp(np.concatenate([c, np.zeros(m * B)]), constraints=cons,
               integrality=integrality, bounds=Bounds(lb, ub), options=options)
    if res.x is None:
        return None
    return np.asarray(res.x[:n] > 0.5) | prim, res.status == 0


def _optimal(structure: TableStructure, facts: CellFacts, prim: np.ndarray, L: np.ndarray,
             U: np.ndarray, c: np.ndarray,
             time_limit: float | None) -> tuple[np.ndarray, int, bool] | None:
    """The exact pattern, adding deviation blocks only for cells the attacker still breaks.

    The attacker here uses that counts are whole; when it still breaks a cell whose block
    is already in the model (the block's deviation was fractional), the blocks are made
    whole too. Returns the pattern, the number of MILPs solved and whether every MILP was
    solved to optimality (not stopped by the time limit).
    """
    sup = prim.copy()
    proven, whole = True, False
    blocks: list[tuple[int, bool, float]] = []
    have: set[tuple[int, bool]] = set()
    deadline = None if time_limit is None else time.perf_counter() + time_limit
    for solves in range(4 * int(prim.sum()) + 4):
        broken = _violations(structure, facts, sup, L, U)
        if not broken:
            return sup, solves, proven  # solves MILPs so far
        todo = [v for v in broken if v not in have]
        if not todo:
            if whole:
                return None  # numerics: leave it to fast
            whole = True
        for p, up in todo:
            have.add((p, up))
            blocks.append((p, up, float(U[p] if up else L[p])))
        left = None if deadline is None else max(deadline - time.perf_counter(), 0.1)
        found = _milp(structure, facts, prim, c, blocks, left, whole)
        if found is None:
            return None
        sup, done = found
        proven &= done
    return None
