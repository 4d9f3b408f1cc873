"""Deviations: the tables an attacker cannot rule out, as the proof that a pattern protects.

A suppression pattern S protects sensitive cell p upwards when some *deviation* y
exists with ``A y = 0``, ``y_i = 0`` outside S, ``y_p = +U_p`` and a + y still a table
the attacker cannot rule out (Fischetti & Salazar 2001): here every hidden count stays
within what the attacker knows of it (``floor ≤ a + y ≤ ceiling``: at least 1 for a
listed cell, at least the threshold for a cell known not to be sensitive), and every
published companion table moves with it: a numerator table z (the count of units with
the attribute, derivable from a published proportion and its denominator) must stay
additive, non-negative and at most its cell's count. Deviations are whole numbers, so
they are also solutions of the attacker's integer programme. docs/methods/suppression.md.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp
from scipy.optimize import Bounds, LinearConstraint, linprog, milp

__all__ = ["CellFacts", "cheapest_deviation", "deviation_block"]

_TOL = 1e-7


@dataclass(frozen=True)
class CellFacts:
    """Per cell: the count, what an attacker knows of it when hidden, and its numerators."""

    a: np.ndarray
    floor: np.ndarray  # a hidden count is at least this (1: a listed cell is not empty)
    ceiling: np.ndarray  # … and at most this (inf unless a flag tells it is under a threshold)
    numerators: tuple[np.ndarray, ...] = field(default_factory=tuple)

    @classmethod
    def plain(cls, a: np.ndarray) -> CellFacts:
        """Counts with nothing known beyond x ≥ 0."""
        a = np.asarray(a, dtype=float)
        return cls(a, np.zeros_like(a), np.full_like(a, np.inf))

    @property
    def measures(self) -> int:
        """How many tables move together: the count and each numerator table."""
        return 1 + len(self.numerators)


@dataclass(frozen=True)
class Block:
    """The deviation polytope over ``cells``: variables, equalities, inequalities, bounds.

    Variables are ``[y⁺, y⁻]`` for the count, then ``[z⁺, z⁻]`` per numerator table,
    each one entry per cell. ``moves`` maps each variable to its cell (index into cells).
    """

    A_eq: sp.csr_matrix
    A_ub: sp.csr_matrix
    b_ub: np.ndarray
    lb: np.ndarray
    ub: np.ndarray
    moves: np.ndarray


def deviation_block(A: sp.csr_matrix, cells: np.ndarray, facts: CellFacts,
                    cap: float = np.inf) -> Block:
    """The deviations moving only ``cells`` (every row of A touching them enforced).

    ``cap`` bounds every move (the MILP's restriction to deviations of the required size).
    """
    k = cells.size
    sub = sp.csr_matrix(A[:, cells])
    rows = np.unique(sub.tocoo().row)
    sub = sub[rows]
    pair = sp.hstack([sub, -sub], format="csr")
    J = len(facts.numerators)
    a = facts.a[cells]
    lb = np.zeros(2 * k * (1 + J))
    ub_parts = [np.minimum(facts.ceiling[cells] - a, cap), np.minimum(a - facts.floor[cells], cap)]
    ub_rows = []
    for j, num in enumerate(facts.numerators):
        kj = num[cells]
        ub_parts += [np.full(k, cap), np.minimum(kj, cap)]
        # numerator ≤ count after the move: z⁺ − z⁻ − y⁺ + y⁻ ≤ a − k
        eye = sp.identity(k, format="csr")
        row = sp.hstack([-eye, eye, *([sp.csr_matrix((k, 2 * k))] * j), eye, -eye,
                         *([sp.csr_matrix((k, 2 * k))] * (J - j - 1))], format="csr")
        ub_rows.append((row, a - kj))
    ub = np.maximum(np.concatenate(ub_parts), 0.0)
    A_eq = sp.block_diag([pair] * (1 + J), format="csr")
    if ub_rows:
        A_ub = sp.vstack([r for r, _ in ub_rows], format="csr")
        b_ub = np.concatenate([b for _, b in ub_rows])
    else:
        A_ub, b_ub = sp.csr_matrix((0, lb.size)), np.zeros(0)
    moves = np.tile(np.arange(k), 2 * (1 + J))
    return Block(A_eq, A_ub, b_ub, lb, ub, moves)


def cheapest_deviation(A: sp.csr_matrix, cells: np.ndarray, p: int, need: float, up: bool,
                       facts: CellFacts, weight: np.ndarray) -> np.ndarray | None:
    """The support of the cheapest whole deviation moving p by ``need`` inside ``cells``.

    Solved as a linear programme; when its optimum is not whole (tables beyond two
    dimensions), again as an integer programme. None if no deviation exists.
    """
    jp = int(np.searchsorted(cells, p))
    if A[:, [p]].nnz == 0:
        return np.array([p])  # no total binds p: hiding it alone hides it
    b = deviation_block(A, cells, facts)
    k = cells.size
    lb, ub = b.lb.copy(), b.ub.copy()
    plus, minus = jp, k + jp
    if up:
        if ub[plus] < need:
            return None
        lb[plus] = ub[plus] = need
        ub[minus] = 0.0
    else:
        if ub[minus] < need:
            return None
        lb[minus] = ub[minus] = need
        ub[plus] = 0.0
    c = np.tile(weight[cells] / need, 2 * facts.measures)
    rhs = np.zeros(b.A_eq.shape[0])
    res = linprog(c, A_eq=b.A_eq, b_eq=rhs, A_ub=b.A_ub if b.A_ub.shape[0] else None,
                  b_ub=b.b_ub if b.A_ub.shape[0] else None,
                  bounds=np.column_stack([lb, ub]), method="highs")
    if res.status != 0:
        return None
    y = res.x
    if np.abs(y - np.rint(y)).max(initial=0.0) > 1e-6:
        cons = [LinearConstraint(b.A_eq, rhs, rhs)]
        if b.A_ub.shape[0]:
            cons.append(LinearConstraint(b.A_ub, -np.inf, b.b_ub))
        whole = milp(c, constraints=cons, integrality=np.ones(c.size),
                     bounds=Bounds(lb, ub), options={"disp": False})
        if whole.x is None:
            return None
        y = whole.x
    moved = np.zeros(k)
    np.add.at(moved, b.moves, np.abs(y))
    return cells[moved > _TOL * max(1.0, need)]
