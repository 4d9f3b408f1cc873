"""The protection step every outgoing estimate table passes.

An indicator's table is a set of linked tables (one per disaggregation, sharing
their margins). Disclosure control is decided on the unweighted counts, which add
up over the cube; the estimates of a suppressed cell (value, SE, interval, counts)
are blanked and the cell keeps its row with its confidentiality status. A place
and its roll-up (ward and county) published in separate tables are one hierarchy
here, so a county total cannot be used to recover a suppressed ward.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from citizendata.errors import BadInput, Where
from citizendata.privacy.contributions import MAX_N
from citizendata.privacy.dp import noisy_counts, noisy_proportions
from citizendata.privacy.rounding import random_rounding
from citizendata.privacy.suppress import threshold_rule
from citizendata.privacy.tables import protect_table
from citizendata.projects.estimation import EstimationSpec
from citizendata.projects.protection import DPSpec, ProtectionSpec
from citizendata.stats.cube import TOTAL, UNKNOWN
from citizendata.stats.derive import WITH_DISABILITY, WITHOUT_DISABILITY, age_labels
from citizendata.stats.indicators import IndicatorResult

__all__ = ["ESTIMATE_VALUES", "DPRelease", "check_dp_input", "dimension_codes", "dp_release",
           "protect_estimates", "rollup_hierarchies"]

# what a suppressed cell must not show
ESTIMATE_VALUES = ("value", "se", "ci_low", "ci_high", "cv", "n", "n_psu", "weighted_n",
                   "flag")  # a flag tells n < 30 or the CV band: hidden too
_LEVEL = "{}:{}"  # a roll-up code inside the merged dimension (distinct from the lowest codes)


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
        low, up = work[str(d.field)].astype(str), work[name].astype(str)
        # a row at a roll-up level moves into the lowest dimension as "county:<code>"
        at_level = (low == TOTAL) & (up != TOTAL)
        work[str(d.field)] = np.where(at_level, name + ":" + up, low)
        pairs = geo[[str(d.field), str(d.level)]].drop_duplicates().astype(str)
        h = {c: _LEVEL.format(name, p) for c, p in zip(pairs.iloc[:, 0], pairs.iloc[:, 1],
                                                        strict=True)}
        h.update({_LEVEL.format(name, p): TOTAL for p in pairs.iloc[:, 1].unique()})
        # an unknown place (or one the geography lacks) rolls up to the unknown county
        unknown = _LEVEL.format(name, UNKNOWN)
        for code in set(work[str(d.field)].astype(str)) - set(h) - {TOTAL}:
            if not code.startswith(f"{name}:"):
                h[code] = unknown
        if unknown in set(work[str(d.field)]) or unknown in h.values():
            h[unknown] = TOTAL
        hierarchies[str(d.field)] = h
        out_dims.remove(name)
        work = work.drop(columns=[name])
    return work, out_dims, hierarchies


def protect_estimates(result: IndicatorResult, policy: ProtectionSpec, spec: EstimationSpec,
                      references: Mapping[str, pd.DataFrame]) -> IndicatorResult:
    """Apply the project's table rules to an indicator's estimates (in place, and returned)."""
    table = result.table
    work, dims, hierarchies = rollup_hierarchies(table, result.dims, spec, references)
    # suppression needs counts that add up: respondents when the unit is the respondent,
    # units (births) otherwise; but a cell is sensitive when either is under the threshold,
    # so five births of one woman are still one woman
    count = "n_psu" if result.indicator.unit is None else "n"
    values = [c for c in ESTIMATE_VALUES if c in work.columns and c != count]
    people = pd.to_numeric(work["n_psu"]).to_numpy(float) if "n_psu" in work.columns else None
    few = None if people is None else threshold_rule(people, policy.tables.threshold,
                                                     policy.tables.zero_unsafe)
    if not dims:  # the headline alone: one cell, no totals to protect it with
        work = work.assign(_all=TOTAL)
        dims = ["_all"]
    contributions = _contributions(result, policy, spec, references, dims)
    try:
        protected = protect_table(work, dims, policy.tables, count=count, value_columns=values,
                                  hierarchies=hierarchies or None, sensitive=few,
                                  contributions=contributions)
    except BadInput:
        # the detailed message quotes counts of cells that may be suppressed
        raise BadInput("privacy.invalid_table", "the estimate table could not be protected: "
                       "its counts do not form additive tables",
                       fix="Report this to the project's owner; they can see the details "
                           "with protect=False.") from None
    out = table.copy()
    for c in protected.table.columns:
        if (c not in dims or c not in out.columns) and c != "_all":
            out[c] = protected.table[c].to_numpy()
    for c in ("n", "n_psu"):  # counts stay whole numbers, blank where suppressed
        if c in out.columns:
            out[c] = pd.array(pd.to_numeric(out[c]), dtype="Int64")
    _round_other_counts(out, count, policy)
    result.table = out
    report: dict[str, Any] = protected.report()
    report["count"] = count
    report["hierarchies"] = sorted(hierarchies)
    result.protection = report
    _hide_derived_figures(result)
    return result


def _contributions(result: IndicatorResult, policy: ProtectionSpec, spec: EstimationSpec,
                   references: Mapping[str, pd.DataFrame], dims: list[str]
                   ) -> pd.DataFrame | None:
    """The cells' largest contributions on the protected table's dimensions, if any."""
    c = result.contributions
    result.contributions = None  # respondent-level: it goes no further
    d = policy.tables.dominance
    if c is None or d is None:
        return None
    work, _, _ = rollup_hierarchies(c, result.dims, spec, references)
    if dims == ["_all"]:
        work = work.assign(_all=TOTAL)
    if d.n:
        n = min(d.n, MAX_N)
        work["top_n"] = work[[f"top{k + 1}" for k in range(n)]].sum(axis=1)
    return work


def _round_other_counts(out: pd.DataFrame, count: str, policy: ProtectionSpec) -> None:
    """With rounding on, the other counts beside the rounded one are rounded too."""
    r = policy.tables.rounding
    if r is None:
        return
    rng = np.random.default_rng(r.seed)
    for c in ("n", "n_psu", "weighted_n"):
        if c != count and c in out.columns:
            v = pd.to_numeric(out[c]).to_numpy(float)
            out[c] = random_rounding(v, r.base, rng)


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


@dataclass
class DPRelease:
    """A differentially private table with what a user needs to widen their intervals."""

    label: str
    table: pd.DataFrame
    dims: list[str]
    epsilon: float
    delta: float
    mechanism: str
    strategy: str
    scale: float
    sensitivity: int
    codes_from_data: list[str]  # dimensions whose cells came from the data, not the design

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form."""
        rows = self.table.astype(object).where(self.table.notna(), None)
        return {"label": self.label, "dims": self.dims, "epsilon": self.epsilon,
                "delta": self.delta, "mechanism": self.mechanism, "strategy": self.strategy,
                "noise_scale": self.scale, "sensitivity": self.sensitivity,
                "codes_from_data": self.codes_from_data,
                "estimates": rows.to_dict(orient="records")}


def check_dp_input(result: IndicatorResult) -> None:
    """Refuse, before any budget is spent, what the DP release cannot handle."""
    ind = result.indicator
    problems = []
    if ind.kind not in ("proportion", "count"):
        problems.append(f"its kind is {ind.kind!r} (only proportions and counts)")
    if result.weighting is not None:
        problems.append("it is weighted (weights let one person move a cell by more than one)")
    if ind.unit is not None:
        problems.append(f"its unit is {ind.unit!r} (one person must be one row)")
    if problems:
        raise BadInput("input.invalid", f"indicator {ind.id!r} cannot be released with "
                       f"differential privacy: {'; '.join(problems)}",
                       where=Where(field="indicator"),
                       fix="Use an unweighted proportion or count over submissions.")


def dimension_codes(spec: EstimationSpec, categories: Mapping[str, list[str]],
                    references: Mapping[str, pd.DataFrame], dims: list[str]
                    ) -> dict[str, list[str]]:
    """Each dimension's possible codes from the design (choices, derivations, geography).

    Under differential privacy the cells published must not depend on the data: a code
    that appears only because one person has it would give that person away.
    """
    out: dict[str, list[str]] = {}
    for d in dims:
        ds = spec.derived.get(d)
        if ds is None:
            if d in categories:
                out[d] = list(categories[d])
        elif ds.kind == "washington_group":
            out[d] = [WITH_DISABILITY, WITHOUT_DISABILITY]
        elif ds.kind == "age_group":
            out[d] = age_labels(*ds.age_breaks())
        else:
            geo = references.get(str(ds.geography))
            if geo is not None and str(ds.level) in geo.columns:
                out[d] = sorted(geo[str(ds.level)].astype(str).unique())
        if d in out:
            out[d] = [*out[d], UNKNOWN]
    return out


def _finest(result: IndicatorResult, codes: Mapping[str, list[str]]) -> pd.DataFrame:
    """Every combination of the dimensions' codes, with numerator and denominator counts."""
    t, dims, ind = result.table, result.dims, result.indicator
    fine = t[np.logical_and.reduce([t[d] != TOTAL for d in dims])] if dims else t
    den = fine["n"].to_numpy(float)
    if ind.kind == "proportion":
        num = np.rint(fine["value"].to_numpy(float) / ind.scale * den)
    else:
        num = np.rint(fine["value"].to_numpy(float) / ind.scale)
    counts = fine[dims].assign(_num=num.astype(np.int64), _den=den.astype(np.int64))
    if not dims:
        return counts
    # the cells published must not depend on the data: empty combinations are zeros
    lists = [codes.get(d) or sorted(fine[d].astype(str).unique()) for d in dims]
    outside = [d for d, lst in zip(dims, lists, strict=True)
               if not set(fine[d].astype(str)) <= set(lst)]
    if outside:
        raise BadInput("input.invalid", f"dimension(s) {outside} have values outside their "
                       "declared codes", where=Where(field=", ".join(outside)),
                       fix="Publish differentially private tables by form choices or derived "
                           "variables only.")
    grid = pd.MultiIndex.from_product(lists, names=dims).to_frame(index=False)
    cells = grid.merge(counts, on=dims, how="left").fillna({"_num": 0, "_den": 0})
    # every margin, summed from the finest cells
    parts = []
    for keep in itertools.product((True, False), repeat=len(dims)):
        by = [d for d, k in zip(dims, keep, strict=True) if k]
        part = (cells.groupby(by, as_index=False)[["_num", "_den"]].sum() if by
                else cells[["_num", "_den"]].sum().to_frame().T)
        parts.append(part.assign(**{d: TOTAL for d in dims if d not in by}))
    return pd.concat(parts, ignore_index=True)[[*dims, "_num", "_den"]]


def dp_release(result: IndicatorResult, dp_spec: DPSpec, *, epsilon: float, label: str,
               codes: Mapping[str, list[str]] | None = None) -> DPRelease:
    """Noisy numerators and denominators by OpenDP, post-processed, with the noise's SD.

    ``codes`` gives each dimension's possible codes (dimension_codes); a dimension
    without them uses the codes observed, which the release records.
    """
    ind, dims = result.indicator, list(result.dims)
    codes = codes or {}
    table = _finest(result, codes)
    if not dims:
        table = table.assign(_all=TOTAL)
        dims = ["_all"]
    kw: dict[str, Any] = {"epsilon": epsilon, "delta": dp_spec.delta,
                          "mechanism": dp_spec.mechanism, "strategy": dp_spec.strategy,
                          "max_contributions": dp_spec.max_contributions}
    if ind.kind == "proportion":
        r = noisy_proportions(table, dims, "_num", "_den", **kw)
    else:
        r = noisy_counts(table, dims, "_num", **kw)
    out = r.table.rename(columns={"_num": "numerator", "_den": "n", "proportion": "value"})
    if ind.kind == "proportion":
        out["value"] = out["value"] * ind.scale
        out["dp_noise_sd"] = out["dp_noise_sd"] * ind.scale
    else:
        out["value"] = out["numerator"] * ind.scale
        out["dp_noise_sd"] = r.noise_sd * ind.scale
    out = out.drop(columns=["_all"], errors="ignore")
    return DPRelease(label=label, table=out, dims=[d for d in dims if d != "_all"],
                     codes_from_data=[d for d in result.dims if d not in codes],
                     epsilon=r.epsilon, delta=r.delta, mechanism=r.mechanism,
                     strategy=r.strategy, scale=float(r.scale), sensitivity=int(r.sensitivity))
