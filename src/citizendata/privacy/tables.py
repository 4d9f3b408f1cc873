"""Apply a project's table rules to an outgoing tidy table: primary rules, suppression, rounding.

Protection is decided on the unweighted count, which adds up over the cube (estimates
such as proportions and means do not); every value column of a suppressed cell is then
blanked. Rows are never dropped: a suppressed cell keeps its row with the SDMX
confidentiality status (CL_CONF_STATUS) ``C`` and ``F`` (free) elsewhere. Only a policy
that says so (``distinguish_secondary``) publishes ``D`` for secondary cells and the
reasons: a reader learns from it that a D cell is at least the threshold.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from citizendata.errors import BadInput, Where
from citizendata.privacy.structure import TableStructure, check_additive
from citizendata.privacy.suppress import (
    SuppressionResult,
    dominance_rule,
    nk_rule,
    p_percent_protection,
    protection_levels,
    secondary_suppression,
    threshold_rule,
)
from citizendata.projects.protection import TableProtectionSpec

__all__ = ["CONF_FREE", "CONF_PRIMARY", "CONF_SECONDARY", "ProtectedTable", "protect_table"]

CONF_FREE, CONF_PRIMARY, CONF_SECONDARY = "F", "C", "D"  # SDMX CL_CONF_STATUS
_ADDED = ("conf_status", "suppression")


@dataclass
class ProtectedTable:
    """A protected table, the suppression that made it, and what was done."""

    table: pd.DataFrame
    result: SuppressionResult
    spec: TableProtectionSpec
    dims: tuple[str, ...]
    count: str
    rounding: dict[str, Any] | None = None
    notes: list[str] = field(default_factory=list)

    def report(self) -> dict[str, Any]:
        """What may be published of the protection: rules, method and how many cells are hidden.

        Nothing here tells primary from secondary cells (unless the policy publishes the
        distinction) or sums any hidden count: see ``detail`` for that.
        """
        r = self.result
        s = self.spec
        out: dict[str, Any] = {
            "cells": int(r.suppressed.size),
            "suppressed": int(r.suppressed.sum()),
            "method": r.method,
            "seconds": round(float(r.seconds), 4),
            "count": self.count,
            "rules": {"threshold": s.threshold, "zero_unsafe": s.zero_unsafe,
                      "dominance": s.dominance.model_dump() if s.dominance else None,
                      "protection_ratio": s.protection_ratio,
                      "protection_minimum": s.protection_minimum, "cost": s.cost,
                      "method": s.method, "distinguish_secondary": s.distinguish_secondary},
            "rounding": self.rounding,
            "notes": list(self.notes) + list(r.notes),
        }
        if s.distinguish_secondary:
            out["primary"], out["secondary"] = int(r.primary.sum()), int(r.secondary.sum())
        return out

    def detail(self) -> dict[str, Any]:
        """For those who may see unprotected figures: primary and secondary cells, the loss."""
        r = self.result
        return {"primary": int(r.primary.sum()), "secondary": int(r.secondary.sum()),
                "info_loss": dict(r.info_loss), "solves": int(r.solves)}


def _counts(table: pd.DataFrame, count: str, structure: TableStructure,
            pos: np.ndarray) -> np.ndarray:
    """One non-negative count per cell; a cell repeated in linked tables must agree."""
    if count not in table.columns:
        raise BadInput("privacy.invalid_table", f"the table has no count column {count!r}",
                       where=Where(column=count), fix="Name the unweighted count column.")
    v = pd.to_numeric(table[count], errors="coerce").to_numpy(dtype=float)
    bad = ~np.isfinite(v) | (v < 0)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise BadInput("privacy.invalid_table", f"row {row} has count {table[count].iloc[row]!r}; "
                       "counts must be non-negative numbers", where=Where(row=row, column=count),
                       fix="Give every cell its unweighted count.")
    a = np.zeros(structure.n_cells)
    a[pos] = v
    differ = a[pos] != v
    if differ.any():
        row = int(np.flatnonzero(differ)[0])
        raise BadInput("privacy.invalid_table", "a cell appears twice with different counts: "
                       + structure.cell_label(int(pos[row])), where=Where(row=row, column=count),
                       fix="Give each shared cell of linked tables the same count.")
    return a


def _dominance(structure: TableStructure, contributions: pd.DataFrame | None,
               spec: TableProtectionSpec) -> tuple[np.ndarray, np.ndarray]:
    """Cells sensitive under the p% (and (n, k)) rule, and the p% upper protection in value units.

    ``contributions`` has the dimensions plus ``total``, ``top1``, ``top2`` (and ``top_n``
    for the (n, k) rule): per cell, the magnitude total and its largest contributions.
    """
    n = structure.n_cells
    if contributions is None or spec.dominance is None:
        return np.zeros(n, dtype=bool), np.zeros(n)
    need = ["total", "top1", "top2"] + (["top_n"] if spec.dominance.n else [])
    missing = [c for c in need if c not in contributions.columns]
    if missing:
        raise BadInput("privacy.invalid_table", f"contributions have no column {missing[0]!r}",
                       where=Where(column=missing[0]),
                       fix="Give per cell: total, top1, top2 (and top_n for the (n, k) rule).")
    pos = structure.positions(contributions)
    vals = {c: np.zeros(n) for c in need}
    for c in need:
        vals[c][pos] = pd.to_numeric(contributions[c], errors="coerce").fillna(0).to_numpy(float)
    d = spec.dominance
    sens = dominance_rule(vals["total"], vals["top1"], vals["top2"], d.p)
    if d.n and d.k:
        sens |= nk_rule(vals["total"], vals["top_n"], d.k)
    return sens, p_percent_protection(vals["total"], vals["top1"], vals["top2"], d.p)


def _blank(out: pd.DataFrame, columns: Sequence[str], hide: np.ndarray) -> None:
    """Set the given columns of hidden rows to missing, keeping integer columns integer."""
    for c in columns:
        col = out[c]
        if pd.api.types.is_integer_dtype(col.dtype) or pd.api.types.is_bool_dtype(col.dtype):
            out[c] = col.astype("Int64" if pd.api.types.is_integer_dtype(col.dtype)
                                else "boolean").mask(hide)
        elif pd.api.types.is_float_dtype(col.dtype):
            out[c] = col.mask(hide)
        else:
            out[c] = col.astype(object).mask(hide, None)


def _known(a: np.ndarray, spec: TableProtectionSpec, by_threshold: np.ndarray,
           primary: np.ndarray, exact_threshold: bool) -> tuple[np.ndarray, np.ndarray]:
    """What a reader of the published table knows of each hidden count: floor and ceiling.

    A listed cell is not empty (the cube lists only groups with someone in them). Where
    the flags tell secondary cells apart, a secondary cell is not sensitive, so its count
    is at least the threshold; and a cell hidden by the threshold rule on this very count
    is below it.
    """
    floor = np.minimum(1.0, a)
    ceiling = np.full(a.size, np.inf)
    if spec.distinguish_secondary:
        floor = np.where(~primary & (a >= spec.threshold), float(spec.threshold), floor)
        if exact_threshold:
            ceiling = np.where(by_threshold & (a > 0), float(spec.threshold - 1), ceiling)
    return floor, ceiling


def protect_table(table: pd.DataFrame, dims: Sequence[str], spec: TableProtectionSpec, *,
                  count: str = "n", value_columns: Sequence[str] | None = None,
                  hierarchies: Mapping[str, Mapping[str, str]] | None = None,
                  contributions: pd.DataFrame | Sequence[pd.DataFrame] | None = None,
                  sensitive: np.ndarray | None = None,
                  numerators: Sequence[str] = ()) -> ProtectedTable:
    """The table with sensitive cells and their secondary cover blanked, every row kept.

    ``sensitive`` marks more rows as below the threshold (e.g. too few respondents in a
    table whose count is of births); they are protected like the threshold's own.
    ``contributions`` (one frame, or one per magnitude indicator of linked tables) give
    the dominance rules their cells' largest contributions. ``numerators`` name columns of counts published beside ``count`` in effect (a
    proportion times its denominator): the pattern keeps hidden counts safe from them
    too, and they are blanked like the values.
    """
    dims = tuple(dims)
    structure = TableStructure.from_table(table, dims, hierarchies)
    pos = structure.positions(table)
    a = _counts(table, count, structure, pos)
    check_additive(structure, a)
    nums = [_counts(table, c, structure, pos) for c in numerators]
    by_threshold = threshold_rule(a, spec.threshold, spec.zero_unsafe)
    exact_threshold = sensitive is None
    if sensitive is not None:
        by_threshold[pos[np.asarray(sensitive, dtype=bool)]] = True
    frames = [contributions] if isinstance(contributions, pd.DataFrame) else \
        list(contributions or [])
    by_dominance = np.zeros(structure.n_cells, dtype=bool)
    for frame in frames:
        by_dominance |= _dominance(structure, frame, spec)[0]
    primary = by_threshold | by_dominance
    # the pattern protects counts: p% levels are in value units, so dominance cells get the
    # frequency levels on their counts too (documented in docs/methods/suppression.md)
    lower, upper = protection_levels(a, spec.protection_ratio, spec.protection_minimum)
    floor, ceiling = _known(a, spec, by_threshold & ~by_dominance, primary, exact_threshold)
    result = secondary_suppression(structure, a, primary, lower=lower, upper=upper,
                                   cost=spec.cost, method=spec.method, floor=floor,
                                   ceiling=ceiling, numerators=nums)
    out = table.copy()
    if value_columns is None:
        value_columns = [c for c in table.columns if c not in dims and c != count
                         and c not in _ADDED]
    missing = [c for c in value_columns if c not in table.columns]
    if missing:
        raise BadInput("privacy.invalid_table", f"the table has no column {missing[0]!r}",
                       where=Where(column=missing[0]), fix="Name existing value columns.")
    notes: list[str] = []
    rounding_report = _round(out, dims, count, spec, hierarchies, notes)
    hide = result.suppressed[pos]
    _blank(out, list(dict.fromkeys([count, *numerators, *value_columns])), hide)
    _flag(out, pos, result, by_threshold, by_dominance, spec.distinguish_secondary)
    return ProtectedTable(out, result, spec, dims, count, rounding_report, notes)


def _flag(out: pd.DataFrame, pos: np.ndarray, result: SuppressionResult,
          by_threshold: np.ndarray, by_dominance: np.ndarray, distinguish: bool) -> None:
    """``conf_status`` and ``suppression`` per row: one flag, or the reasons if published."""
    status = np.full(len(out), CONF_FREE, dtype=object)
    why = np.full(len(out), None, dtype=object)
    if distinguish:
        status[result.secondary[pos]] = CONF_SECONDARY
        status[result.primary[pos]] = CONF_PRIMARY
        why[result.secondary[pos]] = "secondary"
        why[by_dominance[pos]] = "dominance"
        why[by_threshold[pos]] = "threshold"
    else:
        # one flag: a reader cannot tell which hidden cells are small (docs/methods)
        status[result.suppressed[pos]] = CONF_PRIMARY
        why[result.suppressed[pos]] = "confidential"
    out["conf_status"] = status
    out["suppression"] = pd.Series(why, index=out.index, dtype=object)  # None, not NaN


def _round(out: pd.DataFrame, dims: tuple[str, ...], count: str, spec: TableProtectionSpec,
           hierarchies: Mapping[str, Mapping[str, str]] | None,
           notes: list[str]) -> dict[str, Any] | None:
    """Round the published counts in place when the spec asks for it (before blanking)."""
    if spec.rounding is None:
        return None
    try:
        from citizendata.privacy.rounding import round_table
    except ImportError:  # the rounding module is optional in a partial install
        notes.append("rounding was asked for but citizendata.privacy.rounding is missing")
        return None
    rounded, report = round_table(out, list(dims), count, spec.rounding,
                                  hierarchies=hierarchies)
    out[count] = rounded[count].to_numpy()
    return report
