"""Calibration of a citizen sample's weights to official population margins and totals.

Deville & Särndal (1992) calibration to categorical margins and to population totals of
numeric variables (GREG; the ratio estimator through working variances q), with the
linear, raking and logit distance functions, optionally bounded (solver in
calibrate_solve), margins checked for consistency, optional trimming, Kish's design
effect and the R-indicator as diagnostics. Formulas and references:
docs/methods/calibration.md.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

from citizendata.errors import BadInput, Problem, Where
from citizendata.stats.calibrate_solve import Solution, solve

__all__ = [
    "Calibration",
    "CalibrationDiagnostics",
    "Margin",
    "NumericTotal",
    "calibrate",
    "margins_from_table",
    "model_matrix",
    "r_indicator",
]

Method = Literal["linear", "raking", "logit"]
_METHODS = ("linear", "raking", "logit")
# a category whose population is within this of 0 counts as absent from the population
_ZERO = 0.0


def _fmt(x: float) -> str:
    """A number for a message: thousands separators, no spurious decimals."""
    if math.isfinite(x) and float(x).is_integer():
        return f"{x:,.0f}"
    return f"{x:,.6g}"


def _invalid(message: str, field_name: str | None = None) -> BadInput:
    """A calibration.invalid error."""
    return BadInput("calibration.invalid", message,
                    where=Where(field=field_name) if field_name else None)


def _as_str(col: pd.Series) -> np.ndarray:
    """Values as str for matching categories; whole floats print without '.0'."""
    # an integer column with a null becomes float in pandas; 3.0 must still match "3"
    if pd.api.types.is_float_dtype(col.dtype):
        x = col.to_numpy(dtype=float, na_value=np.nan)
        whole = np.isfinite(x) & (np.mod(x, 1.0) == 0)
        ints = np.where(whole, x, 0).astype(np.int64).astype(str)
        return np.where(whole, ints, x.astype(str)).astype(object)
    return col.astype(str).to_numpy(dtype=object)


@dataclass(frozen=True)
class Margin:
    """Population totals of one variable, or of a cross of variables."""

    variables: tuple[str, ...]
    totals: Mapping[tuple[str, ...], float]
    name: str = ""

    def __post_init__(self) -> None:
        # normalise: variables a tuple of str, categories tuples of str, totals floats
        variables = (self.variables,) if isinstance(self.variables, str) else tuple(self.variables)
        variables = tuple(str(v) for v in variables)
        if not variables:
            raise _invalid("a margin needs at least one variable")
        if len(set(variables)) != len(variables):
            raise _invalid(f"margin {variables!r} names a variable twice")
        name = self.name or " x ".join(variables)
        totals: dict[tuple[str, ...], float] = {}
        for key, value in self.totals.items():
            cat = tuple(str(k) for k in key) if isinstance(key, tuple) else (str(key),)
            if len(cat) != len(variables):
                raise _invalid(f"margin {name!r}: category {cat!r} has {len(cat)} values "
                               f"for {len(variables)} variables", variables[0])
            if cat in totals:
                raise _invalid(f"margin {name!r}: category {'|'.join(cat)!r} appears twice",
                               variables[0])
            total = float(value)
            if not math.isfinite(total) or total < 0:
                raise _invalid(f"margin {name!r}: category {'|'.join(cat)!r} has population "
                               f"{value!r}; populations must be finite and not negative",
                               variables[0])
            totals[cat] = total
        if not totals:
            raise _invalid(f"margin {name!r} has no categories", variables[0])
        object.__setattr__(self, "variables", variables)
        object.__setattr__(self, "totals", totals)
        object.__setattr__(self, "name", name)

    @property
    def grand_total(self) -> float:
        """The population size this margin implies."""
        return float(sum(self.totals.values()))

    @property
    def field(self) -> str:
        """The variable a problem with this margin points at."""
        return self.variables[0] if len(self.variables) == 1 else self.name


@dataclass(frozen=True)
class NumericTotal:
    """The population total of a numeric variable (enrolment, household size, ...)."""

    variable: str
    total: float
    name: str = ""

    def __post_init__(self) -> None:
        variable = str(self.variable)
        if not variable:
            raise _invalid("a numeric total needs a variable")
        try:
            total = float(self.total)
        except (TypeError, ValueError):
            raise _invalid(f"numeric total of {variable!r}: {self.total!r} is not a number",
                           variable) from None
        if not math.isfinite(total):
            raise _invalid(f"numeric total of {variable!r} is {self.total!r}; it must be finite",
                           variable)
        object.__setattr__(self, "variable", variable)
        object.__setattr__(self, "total", total)
        object.__setattr__(self, "name", str(self.name) or variable)

    @property
    def variables(self) -> tuple[str, ...]:
        """The one variable, as for a Margin."""
        return (self.variable,)

    @property
    def field(self) -> str:
        """The variable a problem with this total points at."""
        return self.variable


Auxiliary = Margin | NumericTotal
INTERCEPT = "(Intercept)"


def margins_from_table(table: pd.DataFrame, groups: Sequence[str | Sequence[str]], *,
                       total: str = "population", source: str | None = None) -> list[Margin]:
    """Margins summed from a census-style table with one row per cell and a count column."""
    where = f" of {source}" if source else ""
    if total not in table.columns:
        raise _invalid(f"the reference table{where} has no count column {total!r}", total)
    counts = pd.to_numeric(table[total], errors="coerce").to_numpy(dtype=float)
    bad = ~np.isfinite(counts) | (counts < 0)
    if bad.any():
        raise _invalid(f"column {total!r} of the reference table{where} has {int(bad.sum())} "
                       "empty, non-numeric or negative counts", total)
    out: list[Margin] = []
    for group in groups:
        variables = (group,) if isinstance(group, str) else tuple(group)
        for v in variables:
            if v not in table.columns:
                raise _invalid(f"the reference table{where} has no column {v!r}", v)
            if table[v].isna().any():
                raise _invalid(f"column {v!r} of the reference table{where} has "
                               f"{int(table[v].isna().sum())} empty cells", v)
        keys = pd.DataFrame({v: _as_str(table[v]) for v in variables})
        keys["__count"] = counts
        summed = keys.groupby(list(variables), sort=True)["__count"].sum()
        totals = {(tuple(k) if isinstance(k, tuple) else (k,)): float(c)
                  for k, c in summed.items()}
        out.append(Margin(variables, totals))
    return out


@dataclass
class _Design:
    """The model matrix with the bookkeeping needed for diagnostics and messages."""

    X: np.ndarray
    columns: list[str]
    totals: np.ndarray
    margin_of: list[str]
    category_of: list[str]
    # True for a numeric column (a NumericTotal or the intercept): raw values, any sign
    numeric: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))


def _rows(sample: pd.DataFrame, mask: np.ndarray) -> str:
    """The first few data rows (1-based) where mask is true, for a message.

    An integer index is taken as 0-based data rows (a read file, or a subset of one, as a
    replicate's re-calibration passes) and shown 1-based as every other message; any
    other index (submission ids) is shown as it is.
    """
    labels = sample.index[mask][:5]
    rows = (labels + 1).tolist() if pd.api.types.is_integer_dtype(labels.dtype) else labels.tolist()
    return ", ".join(map(str, rows)) + (" …" if int(mask.sum()) > 5 else "")


def _check_columns(sample: pd.DataFrame, margins: Sequence[Auxiliary],
                   problems: list[Problem]) -> dict[str, np.ndarray]:
    """Every variable present (else raised); the null mask of each (nulls added to problems)."""
    names = [m.name for m in margins]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise _invalid(f"two margins have the same name {dup[0]!r}; give them distinct names")
    missing_reported: set[str] = set()
    for m in margins:
        for v in m.variables:
            if v not in sample.columns and v not in missing_reported:
                missing_reported.add(v)
                problems.append(Problem("calibration.invalid",
                                        f"margin {m.name!r}: the sample has no column {v!r}",
                                        Where(field=v)))
    if problems:
        raise _collect(problems)
    # nulls: one problem per variable, however many margins use it
    null_rows: dict[str, np.ndarray] = {}
    for m in margins:
        for v in m.variables:
            if v not in null_rows:
                null_rows[v] = sample[v].isna().to_numpy()
    for v, isnull in null_rows.items():
        if isnull.any():
            problems.append(Problem(
                "calibration.missing_value",
                f"{int(isnull.sum())} unit(s) have no value for calibration variable {v!r} "
                f"(rows {_rows(sample, isnull)})", Where(field=v)))
    return null_rows


def _numeric_column(sample: pd.DataFrame, m: NumericTotal, isnull: np.ndarray,
                    problems: list[Problem]) -> np.ndarray:
    """The raw values of a numeric auxiliary; non-numeric or infinite values are problems."""
    raw = sample[m.variable]
    if pd.api.types.is_bool_dtype(raw.dtype):
        return raw.to_numpy(dtype=float)
    x = pd.to_numeric(raw, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    # an empty value is reported once as calibration.missing_value; here only the rest
    bad = ~np.isfinite(x) & ~isnull
    if bad.any():
        problems.append(Problem(
            "calibration.invalid",
            f"numeric total {m.name!r}: {int(bad.sum())} unit(s) have a value of "
            f"{m.variable!r} that is not a finite number (rows {_rows(sample, bad)})",
            Where(field=m.variable)))
    return x


def _categorical_block(sample: pd.DataFrame, m: Margin, isnull: np.ndarray,
                       problems: list[Problem]) -> tuple[np.ndarray, list[tuple[str, ...]],
                                                         np.ndarray]:
    """The 0/1 block of one margin, its kept categories and their totals."""
    n = len(sample)
    cats = list(m.totals)
    values = [_as_str(sample[v]) for v in m.variables]
    if len(m.variables) == 1:
        codes = pd.Index([c[0] for c in cats], dtype=object).get_indexer(values[0])
    else:
        codes = pd.MultiIndex.from_tuples(cats).get_indexer(pd.MultiIndex.from_arrays(values))
    codes = np.where(isnull, -2, codes)
    pops = np.array([m.totals[c] for c in cats])
    # a category the population does not have (total 0) is as unknown as an absent one
    zero_pop = pops <= _ZERO
    counts = np.bincount(codes[codes >= 0], minlength=len(cats))
    unknown = codes == -1
    unknown |= (codes >= 0) & zero_pop[np.maximum(codes, 0)]
    if unknown.any():
        keys = pd.Series(["|".join(t) for t in zip(*(v[unknown] for v in values), strict=True)])
        for value, k in keys.value_counts(sort=False).sort_index().items():
            problems.append(Problem(
                "calibration.unknown_category",
                f"margin {m.name!r}: value {value!r} of {' x '.join(m.variables)} is not a "
                f"category of the margin (or has population 0) but {k} unit(s) in the "
                "sample have it", Where(field=m.field)))
    for j, c in enumerate(cats):
        if counts[j] == 0 and not zero_pop[j]:
            problems.append(Problem(
                "calibration.missing_category",
                f"margin {m.name!r}: category {'|'.join(c)!r} has population "
                f"{_fmt(pops[j])} but no unit in the sample", Where(field=m.field)))
    # categories with population 0 and no units carry no information: left out, as R does
    keep = ~(zero_pop & (counts == 0))
    index = np.cumsum(keep) - 1
    block = np.zeros((n, int(keep.sum())))
    ok = codes >= 0
    ok[ok] = keep[codes[ok]]
    block[np.flatnonzero(ok), index[codes[ok]]] = 1.0
    return block, [c for c, k in zip(cats, keep, strict=True) if k], pops[keep]


def _build(sample: pd.DataFrame, margins: Sequence[Auxiliary],
           population_size: float | None = None) -> _Design:
    """The model matrix; every problem with the sample's values raised together."""
    if not margins and population_size is None:
        raise _invalid("give at least one margin")
    problems: list[Problem] = []
    null_rows = _check_columns(sample, margins, problems)
    n = len(sample)
    blocks: list[np.ndarray] = []
    columns: list[str] = []
    totals: list[float] = []
    margin_of: list[str] = []
    category_of: list[str] = []
    numeric: list[bool] = []
    if population_size is not None:
        blocks.append(np.ones((n, 1)))
        columns.append(INTERCEPT)
        totals.append(float(population_size))
        margin_of.append(INTERCEPT)
        category_of.append("")
        numeric.append(True)
    for m in margins:
        if isinstance(m, NumericTotal):
            blocks.append(_numeric_column(sample, m, null_rows[m.variable], problems)[:, None])
            columns.append(m.name)
            totals.append(m.total)
            margin_of.append(m.name)
            category_of.append("")
            numeric.append(True)
            continue
        isnull = np.zeros(n, dtype=bool)
        for v in m.variables:
            isnull |= null_rows[v]
        block, cats, pops = _categorical_block(sample, m, isnull, problems)
        blocks.append(block)
        for c, pop in zip(cats, pops, strict=True):
            columns.append(f"{m.name}={'|'.join(c)}")
            totals.append(float(pop))
            margin_of.append(m.name)
            category_of.append("|".join(c))
            numeric.append(False)
    if problems:
        raise _collect(problems)
    return _Design(np.hstack(blocks), columns, np.array(totals), margin_of, category_of,
                   np.array(numeric, dtype=bool))


def _collect(problems: list[Problem]) -> BadInput:
    """One error carrying every problem; its code and place are the first problem's."""
    first = problems[0]
    k = len(problems)
    head = f"{k} problem{'s' if k != 1 else ''} with the sample and the margins: " if k > 1 else ""
    message = head + "; ".join(p.message for p in problems[:5]) + (" …" if k > 5 else "")
    return BadInput(first.code, message, where=first.where, fix=first.fix, problems=problems)


def model_matrix(sample: pd.DataFrame, margins: Sequence[Auxiliary], *,
                 population_size: float | None = None
                 ) -> tuple[np.ndarray, list[str], np.ndarray]:
    """The n x p model matrix (0/1 per margin category, raw numeric values), labels, totals."""
    design = _build(sample, margins, population_size)
    return design.X, design.columns, design.totals


# ---------------------------------------------------------------------------
# diagnostics


def r_indicator(weights: np.ndarray, population_size: float | None = None) -> dict[str, float]:
    """Schouten et al. (2009) R-indicator with propensities 1/w: R = 1 - 2 S(rho)."""
    w = np.asarray(weights, dtype=float)
    if w.ndim != 1 or w.size == 0:
        raise _invalid("r_indicator needs a non-empty one-dimensional array of weights")
    if not np.all(np.isfinite(w)) or np.any(w <= 0):
        raise _invalid(f"r_indicator needs positive weights; {int(np.sum(~(w > 0)))} are not "
                       "(a propensity is 1 / weight)")
    if population_size is not None:
        if not (math.isfinite(population_size) and population_size > 0):
            raise _invalid(f"population_size must be positive, not {population_size!r}")
        # weights known only up to scale (e.g. mean 1): scale them to sum to N
        w = w * (population_size / w.sum())
    total = float(w.sum())
    if total <= 1:
        raise _invalid("the weights sum to 1 or less; they do not describe a population")
    rho = 1.0 / w
    rho_bar = float(w @ rho / total)  # = n / N
    s2 = float(w @ (rho - rho_bar) ** 2 / (total - 1))
    s = math.sqrt(max(s2, 0.0))
    return {"R": 1.0 - 2.0 * s, "S": s, "mean_propensity": rho_bar}


def _jsonable(x: Any) -> Any:
    """Floats that JSON can carry: NaN and infinities become None."""
    if isinstance(x, float | np.floating):
        return float(x) if math.isfinite(float(x)) else None
    if isinstance(x, np.integer):
        return int(x)
    if isinstance(x, dict):
        return {k: _jsonable(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_jsonable(v) for v in x]
    return x


@dataclass
class CalibrationDiagnostics:
    """How far the weights moved, how variable they are and how well margins are met."""

    n: int
    kish_deff: float
    effective_n: float
    weights: dict[str, float]
    g_range: tuple[float, float]
    trimmed: int
    margins: pd.DataFrame
    max_abs_rel_diff_after: float
    r_indicator: dict[str, float]
    negative: int = 0  # units with a negative weight (linear calibration can give them)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready summary."""
        return {
            "n": self.n,
            "kish_deff": _jsonable(self.kish_deff),
            "effective_n": _jsonable(self.effective_n),
            "weights": _jsonable(self.weights),
            "g_range": _jsonable(list(self.g_range)),
            "trimmed": self.trimmed,
            "negative": self.negative,
            "margins": _jsonable(self.margins.to_dict(orient="records")),
            "max_abs_rel_diff_after": _jsonable(self.max_abs_rel_diff_after),
            "r_indicator": _jsonable(self.r_indicator),
        }


def _scale(design: _Design) -> np.ndarray:
    """What a margin error is relative to: the total, or max(|total|, 1) for a numeric one."""
    T = design.totals
    return np.where(design.numeric, np.maximum(np.abs(T), 1.0), T)


def _diagnostics(design: _Design, d: np.ndarray, w: np.ndarray, trimmed: int) -> CalibrationDiagnostics:
    """Kish deff, the weight distribution, margin discrepancies and the R-indicator."""
    n = len(w)
    total = float(w.sum())
    deff = n * float(w @ w) / total**2
    mean = total / n
    q = np.quantile(w, [0.0, 0.01, 0.05, 0.5, 0.95, 0.99, 1.0])
    wmin, wmax = float(q[0]), float(q[-1])
    summary = {
        "min": wmin, "p01": float(q[1]), "p05": float(q[2]), "median": float(q[3]),
        "p95": float(q[4]), "p99": float(q[5]), "max": wmax, "mean": mean,
        # population standard deviation, so that kish_deff = 1 + cv^2 exactly
        "cv": float(np.std(w) / mean),
        "max_min_ratio": wmax / wmin if wmin > 0 else math.nan,
    }
    before = design.X.T @ d
    after = design.X.T @ w
    pop = design.totals
    # a numeric total may be 0 or negative: its relative difference is on max(|T|, 1)
    scale = _scale(design)
    table = pd.DataFrame({
        "margin": design.margin_of, "category": design.category_of, "population": pop,
        "before": before, "after": after, "diff_before": before - pop, "diff_after": after - pop,
        "rel_diff_before": (before - pop) / scale, "rel_diff_after": (after - pop) / scale,
    })
    g = w / d
    ri = (r_indicator(w) if np.all(w > 0)
          else {"R": math.nan, "S": math.nan, "mean_propensity": math.nan})
    return CalibrationDiagnostics(
        n=n, kish_deff=deff, effective_n=n / deff, weights=summary,
        g_range=(float(g.min()), float(g.max())), trimmed=trimmed, margins=table,
        max_abs_rel_diff_after=float(np.abs(table["rel_diff_after"]).max()),
        r_indicator=ri, negative=int(np.sum(w < 0)))


@dataclass
class Calibration:
    """Calibrated weights with the model, convergence and diagnostics."""

    weights: np.ndarray
    design_weights: np.ndarray
    g: np.ndarray
    X: np.ndarray
    columns: list[str]
    totals: np.ndarray
    method: str
    converged: bool
    iterations: int
    diagnostics: CalibrationDiagnostics
    bounds: tuple[float, float] | None = None
    trim: tuple[float | None, float | None] | None = None
    details: dict[str, Any] = field(default_factory=dict)
    # working-model variances q_k (None: all 1); the GREG residuals of the calibration are
    # those of the regression of y on X with weights d / q (variance.greg_residuals)
    q: np.ndarray | None = None
    population_size: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready summary without per-unit arrays."""
        return {
            "method": self.method,
            "bounds": _jsonable(list(self.bounds)) if self.bounds else None,
            "trim": list(self.trim) if self.trim else None,
            "converged": self.converged,
            "iterations": self.iterations,
            "columns": list(self.columns),
            "totals": _jsonable(self.totals.tolist()),
            "population_size": _jsonable(self.population_size),
            "working_variance": self.q is not None,
            "diagnostics": self.diagnostics.to_dict(),
        }


# ---------------------------------------------------------------------------
# the main entry point


def _design_weights(sample: pd.DataFrame, design_weights: np.ndarray | str | None,
                    population: float) -> np.ndarray:
    """d as a float array: given, a column, or N/n for every unit."""
    n = len(sample)
    if design_weights is None:
        return np.full(n, population / n)
    if isinstance(design_weights, str):
        if design_weights not in sample.columns:
            raise _invalid(f"the sample has no design weight column {design_weights!r}",
                           design_weights)
        d = pd.to_numeric(sample[design_weights], errors="coerce").to_numpy(dtype=float)
        label = f"design weight column {design_weights!r}"
    else:
        d = np.asarray(design_weights, dtype=float)
        label = "design weights"
        if d.shape != (n,):
            raise _invalid(f"{label} have shape {d.shape}; the sample has {n} units")
    bad = ~(np.isfinite(d) & (d > 0))
    if bad.any():
        raise _invalid(f"{label}: {int(bad.sum())} unit(s) have a weight that is empty, not "
                       "finite or not positive; design weights must be > 0",
                       design_weights if isinstance(design_weights, str) else None)
    return d


def _check_settings(method: str, bounds: tuple[float, float] | None,
                    trim: tuple[float | None, float | None] | None,
                    max_iter: int, tol: float, margin_rtol: float) -> None:
    """Raise calibration.invalid for a setting out of range."""
    if method not in _METHODS:
        raise _invalid(f"method {method!r} is not one of {', '.join(_METHODS)}")
    if bounds is not None:
        lo, hi = (float(b) for b in bounds)
        if math.isnan(lo) or math.isnan(hi) or not lo < 1 < hi:
            raise _invalid(f"bounds {bounds!r} must satisfy L < 1 < U (g = 1, the design "
                           "weight itself, must be allowed)")
    if method == "logit" and (bounds is None or not all(math.isfinite(b) for b in bounds)):
        raise _invalid("logit calibration needs finite bounds (L, U) with L < 1 < U")
    if trim is not None:
        lo_t, hi_t = trim
        if lo_t is not None and not 0 <= lo_t < 1:
            raise _invalid(f"trim lower bound {lo_t!r} must be in [0, 1) times the mean weight")
        if hi_t is not None and not hi_t > 1:
            raise _invalid(f"trim upper bound {hi_t!r} must be above 1 times the mean weight")
    if max_iter < 1 or not tol > 0 or not margin_rtol > 0:
        raise _invalid("max_iter must be at least 1, and tol and margin_rtol positive")


def _subtotals(m: Margin, shared: tuple[str, ...]) -> pd.Series:
    """A margin's totals summed over the categories of the shared variables."""
    pos = [m.variables.index(v) for v in shared]
    keys = pd.MultiIndex.from_tuples([tuple(c[i] for i in pos) for c in m.totals],
                                     names=list(shared))
    return pd.Series(list(m.totals.values()), index=keys, dtype=float).groupby(
        level=list(shared), sort=True).sum()


def _shared_problems(margins: Sequence[Margin],
                     margin_rtol: float) -> tuple[list[Problem], list[dict[str, Any]]]:
    """Cells on which two margins sharing variables disagree: Problems and their details."""
    problems: list[Problem] = []
    cells: list[dict[str, Any]] = []
    for i, first in enumerate(margins):
        for second in margins[i + 1:]:
            shared = tuple(v for v in first.variables if v in second.variables)
            if not shared:
                continue
            # name the coarser margin first: "1,200 in margin 'ward' but 1,150 summed from
            # 'ward x age_group'"
            a, b = ((first, second) if len(first.variables) <= len(second.variables)
                    else (second, first))
            sa, sb = _subtotals(a, shared), _subtotals(b, shared)
            # a cell only one margin lists has population 0 in the other
            sa, sb = sa.align(sb, fill_value=0.0)
            bad = np.abs(sa - sb) > margin_rtol * np.maximum(np.abs(sa), np.abs(sb))
            label = " x ".join(shared)
            for cell in sa.index[bad.to_numpy()]:
                key = cell if isinstance(cell, tuple) else (cell,)
                x, y = float(sa[cell]), float(sb[cell])
                verb = "in margin" if len(a.variables) == len(shared) else "summed from"
                message = (f"{label} {'|'.join(key)!r}: {_fmt(x)} {verb} {a.name!r} but "
                           f"{_fmt(y)} summed from {b.name!r}")
                problems.append(Problem("calibration.inconsistent_margins", message,
                                        Where(field=label)))
                cells.append({"variables": list(shared), "category": list(key),
                              "totals": {a.name: x, b.name: y}, "message": message})
    return problems, cells


def _check_margins(margins: Sequence[Auxiliary], population_size: float | None,
                   margin_rtol: float) -> float | None:
    """The population size the categorical margins (and population_size) agree on, or None.

    Margins sharing variables must agree on every sub-total over those variables; all must
    have the same grand total. Numeric totals are exempt.
    """
    cats = [m for m in margins if isinstance(m, Margin)]
    problems, cells = _shared_problems(cats, margin_rtol)
    if problems:
        k = len(problems)
        raise BadInput(
            "calibration.inconsistent_margins",
            f"{k} cell{'s' if k != 1 else ''} where margins sharing variables disagree: "
            + "; ".join(p.message for p in problems[:5]) + (" …" if k > 5 else ""),
            where=problems[0].where,
            fix="Take every margin from the same census table (margins_from_table), or "
                "correct the totals so that the margins add up to each other.",
            problems=problems, details={"cells": cells})
    grand = [(m.name, m.grand_total, m.field) for m in cats]
    if population_size is not None:
        grand.insert(0, ("population_size", float(population_size), "population_size"))
    if not grand:
        return None
    ref = grand[0][1]
    if any(abs(t - ref) > margin_rtol * max(abs(t), abs(ref)) for _, t, _ in grand):
        listing = "; ".join(f"{name!r} {_fmt(t)}" for name, t, _ in grand)
        raise BadInput("calibration.inconsistent_margins",
                       f"the margins do not add up to the same population: {listing}",
                       where=Where(field=grand[0][2]),
                       details={"grand_totals": {name: t for name, t, _ in grand}})
    return ref


def _working_variance(sample: pd.DataFrame, variance: np.ndarray | str | None) -> np.ndarray | None:
    """q as a float array (a column or an array), every value finite and positive."""
    if variance is None:
        return None
    n = len(sample)
    if isinstance(variance, str):
        if variance not in sample.columns:
            raise _invalid(f"the sample has no working-variance column {variance!r}", variance)
        raw = sample[variance]
        isnull = raw.isna().to_numpy()
        if isnull.any():
            raise BadInput("calibration.missing_value",
                           f"{int(isnull.sum())} unit(s) have no value for the working-variance "
                           f"column {variance!r} (rows {_rows(sample, isnull)})",
                           where=Where(field=variance))
        q = pd.to_numeric(raw, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
        label = f"working-variance column {variance!r}"
    else:
        q = np.asarray(variance, dtype=float)
        label = "working variances"
        if q.ndim == 0:
            q = np.full(n, float(q))
        if q.shape != (n,):
            raise _invalid(f"{label} have shape {q.shape}; the sample has {n} units")
    bad = ~(np.isfinite(q) & (q > 0))
    if bad.any():
        raise _invalid(f"{label}: {int(bad.sum())} unit(s) have a value that is not a finite "
                       f"positive number (rows {_rows(sample, bad)}); working variances must "
                       "be > 0", variance if isinstance(variance, str) else None)
    return q


def calibrate(sample: pd.DataFrame, margins: Sequence[Auxiliary], *,
              method: Method = "raking",
              design_weights: np.ndarray | str | None = None,
              bounds: tuple[float, float] | None = None,
              trim: tuple[float | None, float | None] | None = None,
              population_size: float | None = None,
              variance: np.ndarray | str | None = None,
              max_iter: int = 100, tol: float = 1e-10, margin_rtol: float = 1e-6) -> Calibration:
    """Weights w = g d whose totals over every margin category and numeric total are the population's.

    ``population_size`` adds an intercept (a column of ones with that total), which GREG with
    numeric totals alone needs. ``variance`` gives the working-model variances q_k (a column
    or an array), as R's ``calibrate(variance=)``: g_k = F(x_k'lambda / q_k). The ratio
    estimator is linear calibration on x alone, no intercept, with ``variance`` = x.
    """
    _check_settings(method, bounds, trim, max_iter, tol, margin_rtol)
    if len(sample) == 0:
        raise _invalid("the sample has no units")
    margins = list(margins)
    if not margins and population_size is None:
        raise _invalid("give at least one margin")
    for m in margins:
        if not isinstance(m, Margin | NumericTotal):
            raise _invalid(f"{m!r} is neither a Margin nor a NumericTotal")
    if population_size is not None and not (math.isfinite(population_size)
                                            and population_size > 0):
        raise _invalid(f"population_size must be positive, not {population_size!r}",
                       "population_size")
    ref = _check_margins(margins, population_size, margin_rtol)
    design = _build(sample, margins, population_size)
    if ref is None and design_weights is None:
        raise _invalid("with numeric totals only, give design_weights (or population_size, "
                       "for design weights N/n)")
    d = _design_weights(sample, design_weights, ref if ref is not None else 1.0)
    q = _working_variance(sample, variance)
    X, T = design.X, design.totals
    sol = solve(X, d, T, _scale(design), method, bounds, max_iter, tol, q)
    _raise_unless_close(sol, design, method, bounds, max_iter, margin_rtol, "")
    g = sol.g
    iterations = sol.iterations
    converged = sol.converged
    trimmed = 0
    if trim is not None:
        g, trimmed, extra, converged = _trim(design, d, g, trim, method, bounds,
                                             max_iter, tol, margin_rtol, q)
        iterations += extra
    w = g * d
    diag = _diagnostics(design, d, w, trimmed)
    return Calibration(weights=w, design_weights=d, g=g, X=X, columns=design.columns,
                       totals=T, method=method, converged=converged, iterations=iterations,
                       diagnostics=diag, bounds=bounds, trim=trim, q=q,
                       population_size=population_size)


def _raise_unless_close(sol: Solution, design: _Design, method: str,
                        bounds: tuple[float, float] | None, max_iter: int,
                        margin_rtol: float, context: str) -> None:
    """calibration.not_converged when the margins are missed by more than margin_rtol."""
    if sol.max_rel_error <= margin_rtol:
        return
    worst = f"margin {design.margin_of[sol.worst]!r}, category {design.category_of[sol.worst]!r}"
    advice = (f"widen the bounds (now {bounds[0]:g}, {bounds[1]:g}), " if bounds
              else "")
    raise BadInput(
        "calibration.not_converged",
        f"{method} calibration{context} did not reach the margins in {sol.iterations} "
        f"iteration(s) (limit {max_iter}): the largest relative margin error is "
        f"{sol.max_rel_error:.3g} ({worst}); {advice}collapse small categories, or use "
        "fewer margins",
        where=Where(field=design.margin_of[sol.worst]),
        details={"max_rel_error": sol.max_rel_error, "iterations": sol.iterations})


def _trim(design: _Design, d: np.ndarray, g: np.ndarray,
          trim: tuple[float | None, float | None], method: str,
          bounds: tuple[float, float] | None, max_iter: int, tol: float,
          margin_rtol: float, q: np.ndarray | None = None) -> tuple[np.ndarray, int, int, bool]:
    """Cap weights at multiples of the mean weight and re-calibrate the others, repeatedly."""
    X, T = design.X, design.totals
    n = len(d)
    mean = float((d * g).sum()) / n  # N / n: calibration fixed the total at N
    lo = -math.inf if trim[0] is None else trim[0] * mean
    hi = math.inf if trim[1] is None else trim[1] * mean
    fixed = np.zeros(n, dtype=bool)
    capped = d * g
    extra = 0
    converged = True
    # each round caps the units now outside (lo, hi) and re-calibrates the rest; a capped
    # unit stays capped, so at most n rounds; the slack avoids chasing rounding errors
    for _ in range(n + 1):
        w = capped
        out = ~fixed & ((w > hi * (1 + 1e-12)) | (w < lo * (1 - 1e-12)))
        if not out.any():
            break
        fixed |= out
        capped = np.where(fixed, np.clip(w, lo, hi), w)
        free = ~fixed
        if not free.any():
            raise _trim_error(trim, "every unit would be trimmed")
        remaining = T - X[fixed].T @ capped[fixed]
        sol = solve(X[free], d[free], remaining, _scale(design), method, bounds, max_iter, tol,
                     None if q is None else q[free])
        extra += sol.iterations
        if sol.max_rel_error > margin_rtol:
            raise _trim_error(trim, f"after trimming {int(fixed.sum())} unit(s) the margins "
                              f"cannot be met (largest relative error {sol.max_rel_error:.3g}, "
                              f"margin {design.margin_of[sol.worst]!r}, category "
                              f"{design.category_of[sol.worst]!r})")
        converged = sol.converged
        capped = capped.copy()
        capped[free] = d[free] * sol.g
    return capped / d, int(fixed.sum()), extra, converged


def _trim_error(trim: tuple[float | None, float | None], why: str) -> BadInput:
    """calibration.not_converged for a trim that cannot be met together with the margins."""
    return BadInput("calibration.not_converged",
                    f"trimming weights to {trim!r} times the mean weight failed: {why}",
                    fix="Widen the trim range, collapse small categories, or use fewer margins.")
