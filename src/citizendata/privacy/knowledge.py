"""An attacker's knowledge as linear constraints, and the intervals it leaves each unknown.

Everything a reader can derive from published files about hidden figures is linear:
totals are sums of their parts, counts are whole and non-negative, a listed cell is not
empty, a numerator is at most its denominator, a rounded count is within its base of
the truth. ``Knowledge`` collects unknowns (with bounds and integrality) and linear
equalities and inequalities between them; ``Knowledge.intervals`` gives each asked
unknown's feasible interval [min, max] by linear programming, or by integer programming
when the attacker also uses that counts are whole (HiGHS through ``scipy.optimize``).
Unknowns split into connected groups (linked through some constraint) and each group's
programmes are solved alone.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.optimize import Bounds, LinearConstraint, linprog, milp
from scipy.sparse.csgraph import connected_components

from citizendata.errors import BadInput

__all__ = ["Infeasible", "Knowledge"]


class Infeasible(Exception):
    """The constraints admit no solution (the reader's assumptions are wrong)."""

    def __init__(self, unknown: int) -> None:
        super().__init__(f"no solution (found while bounding unknown {unknown})")
        self.unknown = unknown


@dataclass
class Knowledge:
    """Unknowns with bounds, and linear equalities (``== rhs``) and inequalities (``<= rhs``)."""

    lb: list[np.ndarray] = field(default_factory=list)
    ub: list[np.ndarray] = field(default_factory=list)
    integer: list[np.ndarray] = field(default_factory=list)
    _eq: list[tuple[sp.coo_matrix, np.ndarray]] = field(default_factory=list)
    _le: list[tuple[sp.coo_matrix, np.ndarray]] = field(default_factory=list)
    size: int = 0

    def unknowns(self, lower: np.ndarray | float, upper: np.ndarray | float = np.inf, *,
                 count: int | None = None, integer: bool = True) -> np.ndarray:
        """Add unknowns with bounds; returns their indices."""
        lo = np.asarray(lower, dtype=float)
        k = int(count if count is not None else lo.size)
        lo = np.broadcast_to(lo, (k,)).astype(float)
        hi = np.broadcast_to(np.asarray(upper, dtype=float), (k,)).astype(float)
        self.lb.append(lo)
        self.ub.append(hi)
        self.integer.append(np.full(k, integer, dtype=bool))
        idx = np.arange(self.size, self.size + k)
        self.size += k
        return idx

    def _rows(self, matrix: sp.spmatrix | np.ndarray, columns: np.ndarray,
              rhs: np.ndarray | float) -> tuple[sp.coo_matrix, np.ndarray]:
        m = sp.coo_matrix(matrix)
        cols = np.asarray(columns, dtype=np.int64)
        if m.shape[1] != cols.size:
            raise ValueError("one column per unknown named")
        glob = sp.coo_matrix((m.data, (m.row, cols[m.col])), shape=(m.shape[0], self.size))
        return glob, np.broadcast_to(np.asarray(rhs, dtype=float), (m.shape[0],)).astype(float)

    def equal(self, matrix: sp.spmatrix | np.ndarray, columns: np.ndarray,
              rhs: np.ndarray | float) -> None:
        """Add ``matrix @ x[columns] == rhs``."""
        self._eq.append(self._rows(matrix, columns, rhs))

    def at_most(self, matrix: sp.spmatrix | np.ndarray, columns: np.ndarray,
                rhs: np.ndarray | float) -> None:
        """Add ``matrix @ x[columns] <= rhs``."""
        self._le.append(self._rows(matrix, columns, rhs))

    def _stack(self, parts: list[tuple[sp.coo_matrix, np.ndarray]]
               ) -> tuple[sp.csr_matrix, np.ndarray]:
        if not parts:
            return sp.csr_matrix((0, self.size)), np.zeros(0)
        mats = [sp.coo_matrix((p.data, (p.row, p.col)), shape=(p.shape[0], self.size))
                for p, _ in parts]
        return sp.csr_matrix(sp.vstack(mats)), np.concatenate([r for _, r in parts])

    def _groups(self, A: sp.csr_matrix) -> np.ndarray:
        """Each unknown's connected group (unknowns linked through some row)."""
        n = self.size
        if A.shape[0] == 0:
            return np.arange(n)
        graph = sp.bmat([[None, A.T], [A, None]], format="csr")
        _, labels = connected_components(abs(graph), directed=False)
        return labels[:n]

    def intervals(self, targets: np.ndarray, *, integer: bool = False) -> pd.DataFrame:
        """Each target's feasible interval: columns ``unknown``, ``lo``, ``hi`` (hi may be inf).

        Raises ``Infeasible`` when the constraints admit no solution.
        """
        targets = np.asarray(targets, dtype=np.int64)
        lb, ub = np.concatenate(self.lb or [np.zeros(0)]), np.concatenate(self.ub or [np.zeros(0)])
        whole = np.concatenate(self.integer or [np.zeros(0, dtype=bool)]) & integer
        A_eq, b_eq = self._stack(self._eq)
        A_le, b_le = self._stack(self._le)
        labels = self._groups(sp.csr_matrix(sp.vstack([A_eq, A_le])))
        lo, hi = lb[targets].copy(), ub[targets].copy()
        for members, t_pos in _by_group(labels, targets):
            eq_rows = np.unique(A_eq[:, members].tocoo().row)
            le_rows = np.unique(A_le[:, members].tocoo().row)
            sub = _Program(A_eq[eq_rows][:, members], b_eq[eq_rows], A_le[le_rows][:, members],
                           b_le[le_rows], lb[members], ub[members], whole[members])
            local = np.searchsorted(members, targets[t_pos])
            for i, j in zip(t_pos, local, strict=True):
                lo[i] = sub.extreme(int(j), minimise=True, unknown=int(targets[i]))
                hi[i] = sub.extreme(int(j), minimise=False, unknown=int(targets[i]))
        return pd.DataFrame({"unknown": targets, "lo": lo, "hi": hi})


def _by_group(labels: np.ndarray, targets: np.ndarray) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Per group holding targets: its unknowns (sorted) and the targets' positions."""
    t_lab = labels[targets]
    for g in np.unique(t_lab):
        yield np.flatnonzero(labels == g), np.flatnonzero(t_lab == g)


@dataclass
class _Program:
    """One connected group's constraints, solved for one unknown's minimum or maximum."""

    A_eq: sp.csr_matrix
    b_eq: np.ndarray
    A_le: sp.csr_matrix
    b_le: np.ndarray
    lb: np.ndarray
    ub: np.ndarray
    whole: np.ndarray

    def extreme(self, j: int, *, minimise: bool, unknown: int) -> float:
        n = self.lb.size
        if self.A_eq.shape[0] == 0 and self.A_le.shape[0] == 0:
            return float(self.lb[j] if minimise else self.ub[j])
        c = np.zeros(n)
        c[j] = 1.0 if minimise else -1.0
        status, fun = self._linear(c)
        if status == 0 and self.whole.any():
            # the relaxation is bounded and feasible: now with whole numbers
            status, fun = self._whole(c)
        if status == 2:
            raise Infeasible(unknown)
        if status == 3:  # unbounded
            return -np.inf if minimise else np.inf
        if status != 0:
            raise BadInput("privacy.invalid_table", "the attacker's programme could not be "
                           f"solved (status {status})", fix="Report this as a bug.")
        return float(fun) if minimise else -float(fun)

    def _linear(self, c: np.ndarray) -> tuple[int, float]:
        has_eq, has_le = self.A_eq.shape[0] > 0, self.A_le.shape[0] > 0
        res = linprog(c, A_eq=self.A_eq if has_eq else None, b_eq=self.b_eq if has_eq else None,
                      A_ub=self.A_le if has_le else None, b_ub=self.b_le if has_le else None,
                      bounds=np.column_stack([self.lb, self.ub]), method="highs")
        return res.status, float(res.fun) if res.status == 0 else np.nan

    def _whole(self, c: np.ndarray) -> tuple[int, float]:
        cons = []
        if self.A_eq.shape[0]:
            cons.append(LinearConstraint(self.A_eq, self.b_eq, self.b_eq))
        if self.A_le.shape[0]:
            cons.append(LinearConstraint(self.A_le, -np.inf, self.b_le))
        res = milp(c, constraints=cons, integrality=self.whole.astype(int),
                   bounds=Bounds(self.lb, self.ub), options={"disp": False})
        # a feasible, bounded relaxation whose integer programme has no solution: the
        # whole numbers are what rule the published values out
        return (res.status, float(res.fun) if res.status == 0 else np.nan)
