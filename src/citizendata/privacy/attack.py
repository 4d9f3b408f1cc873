"""The attacker of a suppressed table: the feasible interval of every suppressed cell.

The attacker knows every published value, that totals are sums of their parts
(``A x = 0``) and that counts are non-negative (optionally an upper bound per cell).
The interval of suppressed cell p is [min x_p, max x_p] over that polyhedron
(Hundepool et al. 2012, §4.3.2; Fischetti & Salazar 2001). Published values are
substituted, so each linear programme has only the suppressed cells of one connected
group (cells linked through totals) as variables.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import scipy.sparse as sp

from citizendata.errors import BadInput, Where
from citizendata.privacy.knowledge import Infeasible, Knowledge
from citizendata.privacy.structure import TableStructure

__all__ = ["attack", "check_protection", "protected_ok", "structural_bounds"]

TOL = 1e-6


def attack(structure: TableStructure, values: np.ndarray, suppressed: np.ndarray, *,
           bounds: np.ndarray | None = None, cells: np.ndarray | None = None,
           lower: np.ndarray | None = None, integer: bool = False,
           numerators: Sequence[np.ndarray] = ()) -> pd.DataFrame:
    """Each suppressed cell's feasible interval: position, value, lo, hi (hi may be inf).

    ``lower`` and ``bounds`` give per cell what the attacker knows of a suppressed count
    beyond x ≥ 0 (e.g. 1 for a cell that is listed, so not empty); ``integer`` uses that
    counts are whole (an integer programme). Each array of ``numerators`` is a companion
    table the attacker reads where the count is published (a proportion times its
    denominator): additive too, and at most the count in every cell. ``cells``
    (positions or a mask) limits the answer to those suppressed cells.
    """
    a = np.asarray(values, dtype=float)
    mask = np.asarray(suppressed, dtype=bool)
    if a.shape != (structure.n_cells,) or mask.shape != a.shape:
        raise BadInput("privacy.invalid_table", "give one value and one flag per cell",
                       fix="Pass arrays aligned with structure.cells.")
    sup = np.flatnonzero(mask)
    want = np.ones(sup.size, dtype=bool)
    if cells is not None:
        cells = np.asarray(cells)
        want = np.isin(sup, np.flatnonzero(cells) if cells.dtype == bool else cells)
    lo_known = np.zeros(sup.size) if lower is None else np.asarray(lower, float)[sup]
    hi_known = np.full(sup.size, np.inf) if bounds is None else np.asarray(bounds, float)[sup]
    know = Knowledge()
    x = know.unknowns(lo_known, hi_known)
    A = structure.A
    if sup.size and A.shape[0]:
        # published values move to the right-hand side: A_S x_S = −A_P a_P
        As = sp.csr_matrix(A[:, sup])
        rows = np.unique(As.tocoo().row)
        know.equal(As[rows], x, -(A @ np.where(mask, 0.0, a))[rows])
        for num in numerators:
            k = np.asarray(num, dtype=float)
            z = know.unknowns(0.0, count=sup.size)
            know.equal(As[rows], z, -(A @ np.where(mask, 0.0, k))[rows])
            eye = sp.identity(sup.size, format="csr")
            know.at_most(sp.hstack([eye, -eye]), np.concatenate([z, x]), 0.0)
    try:
        found = know.intervals(x[want], integer=integer)
    except Infeasible as exc:
        p = int(sup[want][np.searchsorted(x[want], exc.unknown)])
        raise BadInput("privacy.invalid_table", "the published values admit no non-negative "
                       "table: " + structure.cell_label(p), where=Where(position=p),
                       fix="Check that the table is additive and non-negative.") from None
    return pd.DataFrame({"position": sup[want], "value": a[sup[want]],
                         "lo": found["lo"].to_numpy(), "hi": found["hi"].to_numpy()})


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


def structural_bounds(structure: TableStructure, floor: np.ndarray, ceiling: np.ndarray,
                      passes: int = 50) -> tuple[np.ndarray, np.ndarray]:
    """What the table's cells tell of each count before any value is read.

    A total is at least the sum of its parts' floors (two listed, so non-empty, parts
    make a total of at least 2) and at most the sum of their ceilings; a part is at
    most its total's ceiling less its siblings' floors. Propagated to a fixed point:
    the attacker's interval with every cell hidden, for nested (hierarchical, cube)
    tables; a valid outer bound for any other.
    """
    lo = np.asarray(floor, dtype=float).copy()
    hi = np.asarray(ceiling, dtype=float).copy()
    A = sp.csr_matrix(structure.A)
    if A.shape[0] == 0:
        return lo, hi
    total = structure.constraint_total
    parts = sp.csr_matrix(-A.multiply(A < 0))  # each row: +1 on the total's parts
    children = parts.tocoo()
    for _ in range(passes):
        before = (lo.copy(), hi.copy())
        np.maximum.at(lo, total, parts @ lo)
        with np.errstate(invalid="ignore"):
            np.minimum.at(hi, total, parts @ hi)
            # a part is at most its total less what its siblings must hold
            room = hi[total][children.row] - ((parts @ lo)[children.row] - lo[children.col])
        np.minimum.at(hi, children.col, np.where(np.isnan(room), np.inf, room))
        if np.array_equal(before[0], lo) and np.array_equal(before[1], hi):
            break
    return lo, hi
