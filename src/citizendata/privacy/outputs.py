"""Differentially private releases of an indicator's table (and, re-exported, the table
protection of ``citizendata.privacy.estimates``)."""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from citizendata.errors import BadInput, Where
from citizendata.privacy.dp import noisy_counts, noisy_proportions
from citizendata.privacy.estimates import (
    ESTIMATE_VALUES,
    protect_estimates,
    protect_linked,
    rollup_hierarchies,
)
from citizendata.projects.estimation import EstimationSpec
from citizendata.projects.protection import DPSpec
from citizendata.stats.cube import TOTAL, UNKNOWN
from citizendata.stats.derive import WITH_DISABILITY, WITHOUT_DISABILITY, age_labels
from citizendata.stats.indicators import IndicatorResult

__all__ = ["ESTIMATE_VALUES", "DPRelease", "check_dp_input", "dimension_codes", "dp_release",
           "protect_estimates", "protect_linked", "rollup_hierarchies"]


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
