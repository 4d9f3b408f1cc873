"""Rounding of published counts to a base: unbiased random rounding, or additive controlled rounding.

Random rounding rounds each cell on its own, up or down to an adjacent multiple of the
base with probabilities that keep it unbiased; totals then no longer add up exactly.
Controlled rounding (Cox 1987) chooses, for every cell, the multiple below or above so
that every rounded total is still the sum of its rounded parts, as a small integer
programme solved by HiGHS. Formulas: docs/methods/rounding.md.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.optimize import Bounds, LinearConstraint, milp

from citizendata.errors import BadInput, Where
from citizendata.privacy.structure import TableStructure, check_additive
from citizendata.projects.protection import RoundingSpec

__all__ = ["controlled_rounding", "random_rounding", "round_table"]

_EPS = 1e-9  # values this close to a multiple of the base are that multiple (float sums)


def _floor_and_remainder(values: np.ndarray, base: int) -> tuple[np.ndarray, np.ndarray]:
    """The multiple of the base at or below each value, and the remainder (0 for multiples)."""
    q = values / base
    near = np.abs(q - np.rint(q)) < _EPS
    fl = np.where(near, np.rint(q), np.floor(q)) * base
    return fl, np.where(near, 0.0, values - fl)


def _check_base(base: int) -> None:
    if int(base) != base or base < 2:
        raise BadInput("privacy.invalid_table", f"the rounding base must be a whole number ≥ 2, "
                       f"not {base!r}", fix="Use a base of 3, 5 or 10.")


def random_rounding(values: np.ndarray | Sequence[float], base: int,
                    rng: np.random.Generator) -> np.ndarray:
    """Each value rounded up to the next multiple with probability remainder/base, else down.

    Unbiased (E[rounded] = value); multiples of the base stay; NaN stays NaN. Whole
    numbers come back as int64 when there is no NaN.
    """
    _check_base(base)
    v = np.asarray(values, dtype=float)
    fl, r = _floor_and_remainder(v, base)
    up = rng.random(v.shape) * base < r
    out = fl + base * up
    if np.isnan(v).any():
        return np.where(np.isnan(v), np.nan, out)
    return np.rint(out).astype(np.int64)


def controlled_rounding(structure: TableStructure, values: np.ndarray | Sequence[float],
                        base: int, *, time_limit: float | None = None) -> np.ndarray:
    """Every cell rounded to an adjacent multiple of the base, all totals still additive.

    Minimises Σ|rounded − value| over binary choices z (0: the multiple below, 1: the one
    above; multiples stay) subject to A·rounded = 0, as a MILP with HiGHS. A 2-D table
    always has such a rounding (Cox 1987); a 3-D one may not (Causey, Cox & Ernst 1985),
    and then ``privacy.rounding_infeasible`` is raised.
    """
    _check_base(base)
    v = np.asarray(values, dtype=float)
    check_additive(structure, v)
    fl, r = _floor_and_remainder(v, base)
    free = np.flatnonzero(r > 0)
    if free.size == 0:
        return np.rint(fl).astype(np.int64)
    A = sp.csr_matrix(structure.A)
    # A(fl + base·z) = 0  ⇔  A_free z = −A fl / base, a whole number per constraint
    rhs = np.rint(-(A @ fl) / base) if A.shape[0] else np.zeros(0)
    A_free = A[:, free]
    # rounding up costs base − r, down costs r: the objective is Σ z(base − 2r) + const
    cost = base - 2.0 * r[free]
    constraints = [LinearConstraint(A_free, rhs, rhs)] if A.shape[0] else []
    options: dict[str, Any] = {"disp": False}
    if time_limit is not None:
        options["time_limit"] = float(time_limit)
    res = milp(cost, constraints=constraints, integrality=np.ones(free.size),
               bounds=Bounds(0, 1), options=options)
    if res.x is None:
        reason = ("no choice of the multiples below and above every cell keeps all totals "
                  "additive" if res.status == 2 else f"the solver stopped: {res.message}")
        raise BadInput("privacy.rounding_infeasible",
                       f"no controlled rounding to base {base} found for this "
                       f"{len(structure.dims)}-dimensional table: {reason}",
                       details={"base": int(base), "cells": int(structure.n_cells),
                                "dimensions": list(structure.dims), "status": int(res.status)})
    out = fl.copy()
    out[free] += base * np.rint(res.x)
    return np.rint(out).astype(np.int64)


def _cell_values(table: pd.DataFrame, count: str, structure: TableStructure,
                 pos: np.ndarray) -> np.ndarray:
    """One value per cell; a cell repeated (linked tables) must carry the same value."""
    if count not in table.columns:
        raise BadInput("privacy.invalid_table", f"the table has no column {count!r}",
                       where=Where(column=count), fix="Name the column holding the counts.")
    v = pd.to_numeric(table[count], errors="coerce").to_numpy(dtype=float)
    out = np.full(structure.n_cells, np.nan)
    out[pos] = v
    same = (out[pos] == v) | (np.isnan(out[pos]) & np.isnan(v))
    if not same.all():
        row = int(np.flatnonzero(~same)[0])
        raise BadInput("privacy.invalid_table", "a cell appears twice with different values",
                       where=Where(row=row, column=count),
                       fix="Give each cell of linked tables the same value.")
    return out


def round_table(table: pd.DataFrame, dims: Sequence[str], count: str, spec: RoundingSpec, *,
                hierarchies: Mapping[str, Mapping[str, str]] | None = None
                ) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The table with ``count`` rounded to the spec's base, and a report of what changed.

    ``random``: each cell independently, seeded by ``spec.seed`` so that the same table
    rounds the same way every time (re-releasing it does not let anyone average the
    rounding away); totals are rounded on their own and may not add up. ``controlled``:
    additive (see ``controlled_rounding``).
    """
    structure = TableStructure.from_table(table, list(dims), hierarchies)
    pos = structure.positions(table)
    v = _cell_values(table, count, structure, pos)
    base = int(spec.base)
    if spec.method == "random":
        rounded = random_rounding(v, base, np.random.default_rng(spec.seed)).astype(float)
    else:
        rounded = controlled_rounding(structure, v, base).astype(float)
    out = table.copy()
    col = rounded[pos]
    out[count] = col.astype(np.int64) if not np.isnan(col).any() else col
    change = np.abs(rounded - v)
    known = ~np.isnan(change)
    additive = True
    if structure.A.shape[0] and known.all():
        additive = bool(np.all(np.abs(structure.A @ rounded) < 1e-6))
    elif structure.A.shape[0]:
        additive = False
    report: dict[str, Any] = {
        "method": spec.method,
        "base": base,
        "cells": int(structure.n_cells),
        "changed": int((change[known] > 0).sum()),
        "max_abs_change": float(change[known].max()) if known.any() else 0.0,
        "mean_abs_change": float(change[known].mean()) if known.any() else 0.0,
        "additive": additive,
    }
    if spec.method == "random":
        report["seed"] = int(spec.seed)
    return out, report
