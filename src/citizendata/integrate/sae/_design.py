"""Inputs of the area-level model: checked direct estimates and the design matrix.

Every refusal names the area and the column, never a personal value (areas are places).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from citizendata.errors import BadInput, Problem, Where

__all__ = ["Design", "build_design", "check_direct", "dummies"]

_MAX_NAMED = 10  # areas named in one message; the problems list carries all of them


@dataclass(frozen=True)
class Design:
    """The model's inputs, in-sample areas first, then areas with covariates only."""

    areas: list[object]          # in-sample areas (direct order)
    y: np.ndarray                # direct estimates, in-sample
    psi: np.ndarray              # sampling variances, in-sample
    X: np.ndarray                # (m, p) in-sample design, intercept first
    oos_areas: list[object]      # out-of-sample areas (covariate-table order)
    X_oos: np.ndarray            # (k, p)
    names: list[str]             # column names of X
    extra: pd.DataFrame          # every input column by area (for weights, sample sizes)


def _names(areas: Sequence[object]) -> str:
    shown = ", ".join(str(a) for a in list(areas)[:_MAX_NAMED])
    more = len(areas) - _MAX_NAMED
    return shown + (f" and {more} more" if more > 0 else "")


def _bad(code: str, what: str, column: str | None, areas: Sequence[object]) -> BadInput:
    problems = [Problem(code, f"area {a}: {what}", Where(column=column, field=str(a)))
                for a in areas]
    return BadInput(code, f"{what}: area(s) {_names(areas)}", where=Where(column=column),
                    problems=problems)


def _numeric(frame: pd.DataFrame, col: str, area: str, code: str) -> np.ndarray:
    if col not in frame.columns:
        raise BadInput(code, f"there is no column {col!r}", where=Where(column=col))
    values = pd.to_numeric(frame[col], errors="coerce").to_numpy(dtype=float)
    bad = ~np.isfinite(values)
    if bad.any():
        raise _bad(code, f"{col} is missing or not a number", col, list(frame.loc[bad, area]))
    return values


def check_direct(direct: pd.DataFrame, *, area: str, estimate: str, variance: str | None,
                 se: str | None) -> tuple[list[object], np.ndarray, np.ndarray]:
    """Areas, direct estimates and sampling variances, or `sae.invalid_direct` naming the area."""
    code = "sae.invalid_direct"
    if area not in direct.columns:
        raise BadInput(code, f"there is no area column {area!r}", where=Where(column=area))
    if len(direct) == 0:
        raise BadInput(code, "there are no direct estimates", where=Where(column=estimate))
    if direct[area].isna().any():
        rows = [int(i) + 1 for i in np.flatnonzero(direct[area].isna().to_numpy())]
        raise BadInput(code, f"the area is missing on data row(s) {rows[:_MAX_NAMED]}",
                       where=Where(column=area, row=rows[0]))
    dup = direct[area][direct[area].duplicated()].unique().tolist()
    if dup:
        raise _bad(code, "the area appears more than once", area, dup)
    if (variance is None) == (se is None):
        raise BadInput(code, "give either the sampling variance or the standard error column",
                       where=Where(column=variance or se))
    y = _numeric(direct, estimate, area, code)
    col = variance if variance is not None else se
    assert col is not None
    v = _numeric(direct, col, area, code)
    if se is not None:
        neg = v < 0
        if neg.any():
            raise _bad(code, f"{col} is negative", col, list(direct.loc[neg, area]))
        v = v * v
    nonpos = v <= 0
    if nonpos.any():
        raise _bad(code, f"{col} is zero or negative (a sampling variance must be positive)",
                   col, list(direct.loc[nonpos, area]))
    return list(direct[area]), y, v


def dummies(values: pd.Series, name: str) -> pd.DataFrame:
    """Treatment-coded dummies `<name><level>`, the first level in sorted order left out.

    Levels sort as numbers when they all are numbers (as R's factor does on a numeric
    column), otherwise as text; R's `as.factor(MajorArea)2` is our `MajorArea2`.
    """
    levels = pd.unique(values.dropna())
    try:
        ordered = sorted(levels, key=float)
    except (TypeError, ValueError):
        ordered = sorted(levels, key=str)
    cols = {f"{name}{lvl}": (values == lvl).astype(float).to_numpy() for lvl in ordered[1:]}
    return pd.DataFrame(cols, index=values.index)


def _matrix(table: pd.DataFrame, area: str, columns: Sequence[str],
            categorical: Sequence[str]) -> tuple[np.ndarray, list[str]]:
    code = "sae.invalid_covariates"
    parts = [pd.DataFrame({"(Intercept)": np.ones(len(table))}, index=table.index)]
    for col in columns:
        if col not in table.columns:
            raise BadInput(code, f"there is no covariate column {col!r}", where=Where(column=col))
        if col in categorical:
            continue
        parts.append(pd.DataFrame({col: _numeric(table, col, area, code)}, index=table.index))
    for col in categorical:
        if col not in table.columns:
            raise BadInput(code, f"there is no covariate column {col!r}", where=Where(column=col))
        miss = table[col].isna().to_numpy()
        if miss.any():
            raise _bad(code, f"{col} is missing", col, list(table.loc[miss, area]))
        parts.append(dummies(table[col], col))
    frame = pd.concat(parts, axis=1)
    return frame.to_numpy(dtype=float), list(frame.columns)


def _codes_as_text(codes: pd.Series) -> pd.Series:
    """Area codes as text, integral floats (1.0, from a float column) as integers ("1")."""
    num = pd.to_numeric(codes, errors="coerce")
    whole = num.notna() & np.isfinite(num) & (num == np.round(num)) & ~codes.map(
        lambda v: isinstance(v, str)).astype(bool)
    text = codes.astype(str)
    text[whole] = num[whole].astype("int64").astype(str)
    return text


def build_design(direct: pd.DataFrame, *, area: str, estimate: str, variance: str | None,
                 se: str | None, covariates: pd.DataFrame | None, columns: Sequence[str],
                 categorical: Sequence[str]) -> Design:
    """Check the inputs and build X; areas with covariates only become out-of-sample areas."""
    areas, y, psi = check_direct(direct, area=area, estimate=estimate, variance=variance, se=se)
    columns = [c for c in columns if c not in categorical]
    code = "sae.invalid_covariates"
    if covariates is None:
        table = direct.reset_index(drop=True)
    else:
        if area not in covariates.columns:
            raise BadInput(code, f"the covariate table has no area column {area!r}",
                           where=Where(column=area))
        if direct[area].dtype != covariates[area].dtype:
            # codes read as numbers in one table and as text in the other (or as floats,
            # a column with a gap): match as text, 1.0 written as 1
            direct = direct.assign(**{area: _codes_as_text(direct[area])})
            covariates = covariates.assign(**{area: _codes_as_text(covariates[area])})
            areas = list(direct[area])
        dup = covariates[area][covariates[area].duplicated()].unique().tolist()
        if dup:
            raise _bad(code, "the area appears more than once in the covariate table", area, dup)
        known = set(covariates[area])
        lacking = [a for a in areas if a not in known]
        if lacking:
            raise _bad(code, "the covariate table lacks these areas of the direct estimates",
                       area, lacking)
        inside = set(areas)
        order = pd.Series(range(len(areas)), index=pd.Index(areas))
        cov_in = covariates[covariates[area].isin(inside)]
        cov_in = cov_in.iloc[np.argsort(order.loc[cov_in[area]].to_numpy())]
        cov_out = covariates[~covariates[area].isin(inside)]
        extra_direct = direct.drop(columns=[c for c in direct.columns
                                            if c in covariates.columns and c != area])
        table = pd.concat([cov_in, cov_out], ignore_index=True)
        table = table.merge(extra_direct, on=area, how="left", sort=False)
    X, names = _matrix(table, area, columns, categorical)
    m = len(areas)
    p = X.shape[1]
    if m <= p:
        raise BadInput("sae.invalid_model",
                       f"{m} areas with direct estimates for {p} regression coefficients: "
                       "the model needs more areas than coefficients")
    if np.linalg.matrix_rank(X[:m]) < p:
        raise BadInput("sae.invalid_model",
                       "the covariates are collinear on the areas with direct estimates "
                       f"({', '.join(names)})")
    return Design(areas=areas, y=y, psi=psi, X=X[:m], oos_areas=list(table[area].iloc[m:]),
                  X_oos=X[m:], names=names, extra=table)
