"""The protection step every outgoing estimate table passes.

An indicator's table is a set of linked tables (one per disaggregation, sharing
their margins). Disclosure control is decided on the unweighted counts, which add
up over the cube; the estimates of a suppressed cell (value, SE, interval, counts)
are blanked and the cell keeps its row with its confidentiality status. A place
and its roll-up (ward and county) published in separate tables are one hierarchy
here, so a county total cannot be used to recover a suppressed ward.

Indicators that count the same units (two proportions over the same respondents) are
protected together (``protect_linked``): their counts are one table, each one's
numerators another, and one pattern hides the same cells in all of them, so no
indicator's published cells open another's hidden ones.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from citizendata.errors import BadInput
from citizendata.privacy.contributions import MAX_N
from citizendata.privacy.structure import merge_rollup
from citizendata.privacy.suppress import threshold_rule
from citizendata.privacy.tables import ProtectedTable, protect_table
from citizendata.projects.estimation import EstimationSpec
from citizendata.projects.protection import ProtectionSpec
from citizendata.stats.cube import TOTAL
from citizendata.stats.indicators import IndicatorResult

__all__ = ["ESTIMATE_VALUES", "UNMODELLED", "protect_estimates", "protect_linked",
           "rollup_hierarchies", "within_sets"]

# published in no protected table: counts and totals the attacker model does not cover
UNMODELLED = ("n_psu", "weighted_n")
# what a suppressed cell must not show
ESTIMATE_VALUES = ("value", "se", "ci_low", "ci_high", "cv", "n", "n_psu", "weighted_n",
                   "flag")  # a flag tells n < 30 or the CV band: hidden too


def rollup_hierarchies(table: pd.DataFrame, dims: list[str], spec: EstimationSpec,
                       references: Mapping[str, pd.DataFrame]
                       ) -> tuple[pd.DataFrame, list[str], dict[str, dict[str, str]]]:
    """Merge each roll-up dimension into the dimension it rolls up, as one hierarchy."""
    work = table.copy()
    out_dims = list(dims)
    hierarchies: dict[str, dict[str, str]] = {}
    for name, d in spec.derived.items():
        if d.kind != "rollup" or name not in dims or d.field not in dims:
            continue
        geo = references.get(str(d.geography))
        if geo is None or d.field not in geo.columns or str(d.level) not in geo.columns:
            continue
        pairs = geo[[str(d.field), str(d.level)]].drop_duplicates().astype(str)
        work, hierarchies[str(d.field)] = merge_rollup(
            work, str(d.field), name, dict(zip(pairs.iloc[:, 0], pairs.iloc[:, 1], strict=True)))
        out_dims.remove(name)
    return work, out_dims, hierarchies


def within_sets(table: pd.DataFrame, dims: Sequence[str],
                sets: Sequence[Sequence[str]]) -> np.ndarray:
    """Rows whose non-total dimensions all lie in one of ``sets`` (a cube's cells)."""
    if not dims:
        return np.ones(len(table), dtype=bool)
    shown = np.column_stack([(table[d].astype(str) != TOTAL).to_numpy() for d in dims])
    ok = np.zeros(len(table), dtype=bool)
    for s in sets:
        outside = [i for i, d in enumerate(dims) if d not in s]
        ok |= ~shown[:, outside].any(axis=1) if outside else True
    return ok


@dataclass
class _Prepared:
    """One member's table on the protected dimensions, with its numerators."""

    result: IndicatorResult
    work: pd.DataFrame
    dims: list[str]
    hierarchies: dict[str, dict[str, str]]
    numerator: str | None
    contributions: pd.DataFrame | None


def _prepare(result: IndicatorResult, i: int, policy: ProtectionSpec, spec: EstimationSpec,
             references: Mapping[str, pd.DataFrame]) -> _Prepared:
    work, dims, hier = rollup_hierarchies(result.table, result.dims, spec, references)
    num = _numerators(work, result, f"_numerator_{i}")
    return _Prepared(result, work, dims, hier, num,
                     _contributions(result, policy, spec, references))


def protect_estimates(result: IndicatorResult, policy: ProtectionSpec, spec: EstimationSpec,
                      references: Mapping[str, pd.DataFrame]) -> IndicatorResult:
    """Apply the project's table rules to an indicator's estimates (in place, and returned)."""
    return protect_linked([result], policy, spec, references)[0]


def protect_linked(results: Sequence[IndicatorResult], policy: ProtectionSpec,
                   spec: EstimationSpec, references: Mapping[str, pd.DataFrame]
                   ) -> list[IndicatorResult]:
    """Protect indicators over the same units as one set of linked tables (in place).

    Every member must have the same cells (estimate them over the same
    disaggregations) and the same counts in them; each keeps its own values.
    """
    preps = [_prepare(r, i, policy, spec, references) for i, r in enumerate(results)]
    # suppression needs counts that add up: respondents when the unit is the respondent,
    # units (births) otherwise; but a cell is sensitive when either is under the threshold,
    # so five births of one woman are still one woman
    count = "n_psu" if results[0].indicator.unit is None else "n"
    dims = preps[0].dims or ["_all"]
    cells = _cell_table(preps, dims, count)
    few = None
    if count != "n_psu" and "n_psu" in cells.columns:
        few = threshold_rule(cells["n_psu"].to_numpy(float), policy.tables.threshold,
                             policy.tables.zero_unsafe)
    numerators = [p.numerator for p in preps if p.numerator]
    contributions = [c if preps[0].dims else c.assign(_all=TOTAL)
                     for c in (p.contributions for p in preps) if c is not None]
    try:
        protected = protect_table(cells, dims, policy.tables, count=count, value_columns=[],
                                  hierarchies=preps[0].hierarchies or None, sensitive=few,
                                  contributions=contributions or None, numerators=numerators)
    except BadInput:
        # the detailed message quotes counts of cells that may be suppressed
        raise BadInput("privacy.invalid_table", "the estimate table could not be protected: "
                       "its counts do not form additive tables",
                       fix="Report this to the project's owner; they can see the details "
                           "with protect=False.") from None
    for p in preps:
        _apply(p, protected, dims, count)
    return list(results)


def _cell_table(preps: Sequence[_Prepared], dims: list[str], count: str) -> pd.DataFrame:
    """One row per cell: its codes, the count, respondents and each member's numerators."""
    keep = [count, *(["n_psu"] if count != "n_psu" else [])]
    frames = []
    for p in preps:
        if p.dims != preps[0].dims:
            raise ValueError("linked indicators must be estimated over the same cells")
        w = p.work.assign(_all=TOTAL) if not p.dims else p.work
        frames.append(w[[*dims, *keep, *([p.numerator] if p.numerator else [])]])
    merged = frames[0]
    for f in frames[1:]:
        merged = merged.merge(f, on=dims, how="outer", suffixes=("", "_other"))
        for c in keep:
            other = merged.pop(f"{c}_other")
            if (merged[c].isna() | other.isna()).any() or \
                    (pd.to_numeric(merged[c]) != pd.to_numeric(other)).any():
                raise BadInput("privacy.invalid_table", "linked indicators do not count the "
                               "same units", fix="Report this as a bug.")
    return merged.reset_index(drop=True)


def _apply(p: _Prepared, protected: ProtectedTable, dims: list[str], count: str) -> None:
    """The member's own table blanked and flagged like the pattern's cells."""
    r = p.result
    work = p.work.assign(_all=TOTAL) if not p.dims else p.work
    look = protected.table[[*dims, count, "conf_status", "suppression"]].rename(
        columns={count: "_published"})
    flags = work[dims].merge(look, on=dims, how="left")
    hidden = (flags["conf_status"] != "F").to_numpy()
    out = r.table.copy()
    for c in ESTIMATE_VALUES:
        if c in out.columns:
            col = pd.to_numeric(out[c]) if c != "flag" else out[c]
            out[c] = col.astype(object).mask(hidden, None) if c == "flag" else col.mask(hidden)
    # the published count is the pattern's (rounded if the policy rounds)
    out["n"] = pd.array(pd.to_numeric(flags["_published"]).to_numpy(), dtype="Int64")
    out["conf_status"] = flags["conf_status"].to_numpy()
    out["suppression"] = pd.Series(flags["suppression"].to_numpy(), dtype=object)
    # figures the attacker model does not cover are not published: a second count
    # (respondents beside births) and weighted totals, which with known weights give
    # hidden counts away (docs/methods/suppression.md)
    r.table = out.drop(columns=[c for c in UNMODELLED if c in out.columns])
    report: dict[str, Any] = protected.report()
    report["count"] = count
    report["hierarchies"] = sorted(p.hierarchies)
    report["numerators"] = p.numerator is not None
    r.protection = report
    r.protection_detail = protected.detail()
    _hide_derived_figures(r)


def _numerators(work: pd.DataFrame, result: IndicatorResult, name: str) -> str | None:
    """A proportion's numerator counts, when a reader can derive them from value and n.

    value / scale × n is the count of units with the attribute whenever every unit
    weighs the same (unweighted, or design weights alone): then the numerators are one
    more additive table published in effect, and the pattern must hold against it.
    """
    ind = result.indicator
    if ind.kind != "proportion" or "value" not in work.columns:
        return None
    k = pd.to_numeric(work["value"]).to_numpy(float) / ind.scale \
        * pd.to_numeric(work["n"]).to_numpy(float)
    if not np.isfinite(k).all() or np.abs(k - np.rint(k)).max(initial=0.0) > 1e-6:
        return None
    work[name] = np.rint(k)
    return name


def _contributions(result: IndicatorResult, policy: ProtectionSpec, spec: EstimationSpec,
                   references: Mapping[str, pd.DataFrame]) -> pd.DataFrame | None:
    """The cells' largest contributions on the protected table's dimensions, if any."""
    c = result.contributions
    result.contributions = None  # respondent-level: it goes no further
    d = policy.tables.dominance
    if c is None or d is None:
        return None
    work, _, _ = rollup_hierarchies(c, result.dims, spec, references)
    if d.n:
        n = min(d.n, MAX_N)
        work["top_n"] = work[[f"top{k + 1}" for k in range(n)]].sum(axis=1)
    return work


def _hide_derived_figures(result: IndicatorResult) -> None:
    """Figures computed before protection must not re-open what it closed."""
    t = result.table
    head = np.logical_and.reduce([t[d] == TOTAL for d in result.dims]) if result.dims \
        else np.ones(len(t), dtype=bool)
    if not (t.loc[head, "conf_status"] == "F").all():
        result.coherence = None
        result.counts = {k: v for k, v in result.counts.items() if k != "base"}
    w = result.weighting
    if w:
        # the sample's weighted totals per calibration category are cell counts
        diag = w.get("diagnostics", {})
        for m in diag.get("margins", []) or []:
            if isinstance(m, dict):
                for k in ("before", "diff_before", "rel_diff_before"):
                    m.pop(k, None)
