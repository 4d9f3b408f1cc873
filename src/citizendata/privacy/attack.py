"""The attacker of a suppressed table: the feasible interval of every suppressed cell.

The attacker knows every published value, that totals are sums of their parts
(``A x = 0``) and that counts are non-negative (optionally an upper bound per cell).
The interval of suppressed cell p is [min x_p, max x_p] over that polyhedron
(Hundepool et al. 2012, §4.3.2; Fischetti & Salazar 2001). Published values are
substituted, so each linear programme has only the suppressed cells of one connected
group (cells linked through totals) as variables.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.optimize import linprog
from scipy.sparse.csgraph import connected_components

from citizendata.errors import BadInput, Where
from citizendata.privacy.structure import TableStructure

__all__ = ["attack", "check_protection", "protected_ok"]

TOL = 1e-6


def _components(A: sp.csr_matrix, sup: np.ndarray) -> tuple[sp.csr_matrix, np.ndarray, int]:
    """The constraints restricted to suppressed cells, and the cells' connected groups."""
    As = sp.csr_matrix(A[:, sup])
    k = sup.size
    # cells are linked when a total binds them; the bipartite graph cells + rows finds groups
    m = As.shape[0]
    graph = sp.bmat([[None, As.T], [As, None]], format="csr") if m else sp.csr_matrix((k, k))
    _, labels = connected_components(abs(graph), directed=False)
    return As, labels[:k], m


def _groups(As: sp.csr_matrix, labels: np.ndarray) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Each group's cells (indices into the suppressed set) and the rows that touch them."""
    csc = As.tocsc()
    order = np.argsort(labels, kind="stable")
    bounds = np.flatnonzero(np.diff(labels[order])) + 1
    for cells in np.split(order, bounds):
        rows = np.unique(csc[:, cells].indices)
        yield cells, rows


def _solve(c: np.ndarray, A_eq: sp.csr_matrix, b: np.ndarray,
           bounds: list[tuple[float, float | None]]) -> tuple[int, float]:
    """One HiGHS LP; returns status and objective (status 3 = unbounded)."""
    res = linprog(c, A_eq=A_eq, b_eq=b, bounds=bounds, method="highs")
    return res.status, float(res.fun) if res.status == 0 else np.nan


def attack(structure: TableStructure, values: np.ndarray, suppressed: np.ndarray, *,
           bounds: np.ndarray | None = None, cells: np.ndarray | None = None) -> pd.DataFrame:
    """Each suppressed cell's feasible interval: position, value, lo, hi (hi may be inf).

    ``cells`` (positions or a mask) limits the answer to those suppressed cells.
    """
    a = np.asarray(values, dtype=float)
    mask = np.asarray(suppressed, dtype=bool)
    if a.shape != (structure.n_cells,) or mask.shape != a.shape:
        raise BadInput("privacy.invalid_table", "give one value and one flag per cell",
                       fix="Pass arrays aligned with structure.cells.")
    ub = None if bounds is None else np.asarray(bounds, dtype=float)
    sup = np.flatnonzero(mask)
    want = np.ones(sup.size, dtype=bool)
    if cells is not None:
        cells = np.asarray(cells)
        want = np.isin(sup, np.flatnonzero(cells) if cells.dtype == bool else cells)
    lo = np.zeros(sup.size)
    hi = np.full(sup.size, np.inf) if ub is None else ub[sup].copy()
    if sup.size:
        A = structure.A
        # published values move to the right-hand side: A_S x_S = −A_P a_P = A_S a_S
        rhs = A @ np.where(mask, a, 0.0)
        As, labels, m = _components(A, sup)
        if m:
            for group, rows in _groups(As, labels):
                if rows.size == 0 or not want[group].any():
                    continue
                sub = As[rows][:, group]
                b = rhs[rows]
                bnd: list[tuple[float, float | None]] = [
                    (0.0, None if ub is None or not np.isfinite(ub[sup[j]]) else float(ub[sup[j]]))
                    for j in group]
                for t, j in enumerate(group):
                    if not want[j]:
                        continue
                    c = np.zeros(group.size)
                    c[t] = 1.0
                    st, f = _solve(c, sub, b, bnd)
                    if st == 2:
                        raise BadInput("privacy.invalid_table", "the published values admit no "
                                       "non-negative table: "
                                       + structure.cell_label(int(sup[j])),
                                       where=Where(position=int(sup[j])),
                                       fix="Check that the table is additive and non-negative.")
                    lo[j] = max(f, 0.0) if st == 0 else 0.0
                    st, f = _solve(-c, sub, b, bnd)
                    hi[j] = -f if st == 0 else np.inf
    return pd.DataFrame({"position": sup, "value": a[sup], "lo": lo, "hi": hi}).loc[
        want].reset_index(drop=True)


def check_protection(result: pd.DataFrame, lower: np.ndarray, upper: np.ndarray,
                     tol: float = TOL, *, cells: np.ndarray | None = None) -> pd.DataFrame:
    """The attacked cells whose interval does not reach [a − L, a + U] (only ``cells`` if given)."""
    if cells is not None:
        cells = np.asarray(cells)
        if cells.dtype == bool:
            cells = np.flatnonzero(cells)
        # a sensitive cell left published is pinned to its value: interval [a, a]
        shown = np.setdiff1d(cells, result["position"].to_numpy())
        if shown.size:
            raise BadInput("privacy.invalid_table", f"{shown.size} sensitive cell(s) are not "
                           f"suppressed, e.g. position {int(shown[0])}",
                           where=Where(position=int(shown[0])),
                           fix="Suppress every primary cell before checking.")
    pos = result["position"].to_numpy()
    a = result["value"].to_numpy(float)
    L = np.asarray(lower, dtype=float)[pos]
    U = np.asarray(upper, dtype=float)[pos]
    need = (L > 0) | (U > 0)
    if cells is not None:
        need &= np.isin(pos, cells)
    lo, hi = result["lo"].to_numpy(float), result["hi"].to_numpy(float)
    scale = tol * np.maximum(1.0, np.abs(a))
    bad = need & ((lo > a - L + scale) | (hi < a + U - scale))
    out = result.loc[bad].copy()
    out["need_lo"], out["need_hi"] = (a - L)[bad], (a + U)[bad]
    return out.reset_index(drop=True)


def protected_ok(result: pd.DataFrame, lower: np.ndarray, upper: np.ndarray,
                 tol: float = TOL) -> bool:
    """True when every attacked cell's interval reaches its required protection."""
    return check_protection(result, lower, upper, tol).empty
