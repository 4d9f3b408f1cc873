"""Means, totals and proportions from a survey file under its declared design.

:func:`survey_estimate` is the engine behind ``citizendata survey estimate``: it checks
the design against the data (:class:`~citizendata.survey.design.SurveyDesign`), weights
the sample (post-stratification, raking, calibration to numeric totals, bounded
g-weights: :func:`citizendata.stats.calibrate.calibrate`), and estimates every statistic
overall and in the domains of ``by`` (all PSUs kept, as R's ``svyby``), with the
linearised variance of R survey's ``svyrecvar`` on the calibration's residuals, or a
replicate variance (:mod:`citizendata.survey.replicates`). Intervals use the t
quantile with the design's degrees of freedom; proportions the logit interval
(R's ``svyciprop(method="logit")``). Formulas: ``docs/methods/variance.md``.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

from citizendata.errors import BadInput, Where
from citizendata.survey.design import FpcArg, SurveyDesign
from citizendata.survey.linear import _label as _as_key

if TYPE_CHECKING:
    from citizendata.stats.calibrate import Calibration
    from citizendata.survey.assumption import VarianceAssumption
    from citizendata.survey.domains import Block

__all__ = ["DOMAIN_DF", "VARIANCE_METHODS", "SurveyResult", "survey_estimate"]

VARIANCE_METHODS = ("linearisation", "jk1", "jkn", "brr", "fay", "bootstrap")
DOMAIN_DF = ("auto", "design", "domain")
TotalsTable = tuple[str | Sequence[str], pd.DataFrame]


@dataclass
class SurveyResult:
    """Estimates with SEs, t intervals and degrees of freedom, and how they were made."""

    table: pd.DataFrame  # variable, statistic, by (dict), estimate, se, ci_low, ci_high, df, n
    variance_method: str
    assumption: str
    level: float
    design: dict[str, Any]
    weighting: dict[str, Any] | None = None
    notes: list[str] = field(default_factory=list)
    variance_assumption: VarianceAssumption | None = None  # the assumption as data

    def to_dict(self) -> dict[str, Any]:
        """``{"estimates": [{variable, statistic, by, estimate, se, ci, df, n}, …], …}``."""
        rows = []
        for r in self.table.itertuples(index=False):
            rows.append({"variable": r.variable, "statistic": r.statistic, "by": dict(r.by),
                         "estimate": _num(r.estimate), "se": _num(r.se),
                         "ci": [_num(r.ci_low), _num(r.ci_high)], "df": int(r.df),
                         "n": int(r.n)})
        out: dict[str, Any] = {"estimates": rows, "variance_method": self.variance_method,
                               "assumption": self.assumption, "level": self.level,
                               "design": self.design}
        if self.variance_assumption is not None:
            out["assumption_code"] = self.variance_assumption.code
            out["assumption_params"] = dict(self.variance_assumption.params)
        if self.weighting is not None:
            out["weighting"] = self.weighting
        if self.notes:
            out["notes"] = list(self.notes)
        return out


def _num(x: Any) -> float | None:
    """A float for JSON; None for NaN."""
    v = float(x)
    return v if math.isfinite(v) else None


# -- checks -----------------------------------------------------------------------------------


def _bad(message: str, source: str, column: str | None = None, *, code: str = "input.invalid",
         fix: str | None = None) -> BadInput:
    return BadInput(code, message, where=Where(file=source, column=column), fix=fix)


def _need_column(data: pd.DataFrame, col: str, role: str, source: str) -> None:
    if col in data.columns:
        return
    near = difflib.get_close_matches(col, [str(c) for c in data.columns], n=3)
    hint = f"; did you mean {', '.join(repr(c) for c in near)}?" if near else "."
    raise _bad(f"The {role} column {col!r} is not in {source}{hint} Its columns: "
               f"{', '.join(map(str, list(data.columns)[:30]))}.", source, col,
               fix=f"Name an existing column for {role}.")


def _numeric(data: pd.DataFrame, col: str, source: str) -> np.ndarray:
    """A column as floats (NaN for empty); text that is not a number is refused."""
    raw = data[col]
    x = pd.to_numeric(raw, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    bad = np.isnan(x) & raw.notna().to_numpy()
    if not pd.api.types.is_numeric_dtype(raw.dtype):
        bad &= (raw.astype(str).str.strip() != "").to_numpy()
    if bad.any():
        idx = np.flatnonzero(bad)
        shown = ", ".join(f"row {i + 1} {raw.iloc[i]!r}" for i in idx[:5])
        raise BadInput("input.invalid", f"Column {col!r} of {source} must be numeric for a mean "
                       f"or total; {len(idx):,} value(s) are not numbers: {shown}.",
                       where=Where(file=source, column=col, row=int(idx[0]) + 1),
                       fix="Clean the column, or estimate a proportion of one of its values "
                           "(--proportion COL=VALUE).")
    return x


def _value_key(col: pd.Series, value: Any) -> str:
    """The key of a proportion's value; "1.0" or 1 match 1 in a numeric column."""
    if pd.api.types.is_numeric_dtype(col.dtype) and not pd.api.types.is_bool_dtype(col.dtype):
        try:
            return _as_key(float(value))
        except (TypeError, ValueError):
            pass
    return _as_key(value)


def _category(col: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Values as str keys (object array, vectorised) and which rows have a value."""
    ok = col.notna().to_numpy()
    if pd.api.types.is_float_dtype(col.dtype):
        # an integer column with a gap is float in pandas: 3.0 must still match "3"
        x = col.to_numpy(dtype=float, na_value=np.nan)
        whole = np.isfinite(x) & (np.mod(np.where(np.isfinite(x), x, 0.0), 1.0) == 0)
        ints = np.where(whole, x, 0).astype(np.int64).astype(str)
        keys = np.where(whole, ints, x.astype(str)).astype(object)
    else:
        keys = col.astype(str).to_numpy(dtype=object)
    return np.where(ok, keys, ""), ok


# -- weighting ------------------------------------------------------------------------------


def _margin(variables: str | Sequence[str], table: pd.DataFrame, source: str) -> Any:
    """A stats.calibrate Margin from a totals table with the category columns and `total`."""
    from citizendata.stats.calibrate import Margin

    cols = [variables] if isinstance(variables, str) else list(variables)
    source = str(table.attrs.get("source", source))  # the totals file, when read from one
    if "total" not in table.columns:
        raise BadInput("calibration.invalid", f"The totals table for {' x '.join(cols)} has no "
                       f"'total' column (its columns: {', '.join(map(str, table.columns))}).",
                       where=Where(file=source), fix="Give the category column(s) and a "
                       "column named total.")
    for c in cols:
        if c not in table.columns:
            raise BadInput("calibration.invalid", f"The totals table has no column {c!r} "
                           f"(its columns: {', '.join(map(str, table.columns))}).",
                           where=Where(file=source, column=c))
    totals = pd.to_numeric(table["total"], errors="coerce")
    if totals.isna().any() or (totals < 0).any():
        rows = np.flatnonzero(totals.isna().to_numpy() | (totals < 0).to_numpy())
        raise BadInput("calibration.invalid", f"Column 'total' of the totals table for "
                       f"{' x '.join(cols)} is empty, not a number or negative in row(s) "
                       f"{', '.join(str(i + 1) for i in rows[:5])}.",
                       where=Where(file=source, column="total", row=int(rows[0]) + 1))
    keys = [tuple(_as_key(v) for v in row) for row in table[cols].itertuples(index=False)]
    out: dict[tuple[str, ...], float] = {}
    for k, t in zip(keys, totals.tolist(), strict=True):
        out[k] = out.get(k, 0.0) + float(t)
    return Margin(tuple(cols), out)


@dataclass
class _Weighting:
    """Final weights and the calibration (None: the design weights as they are)."""

    weights: np.ndarray
    calibration: Calibration | None
    summary: dict[str, Any] | None
    redo: Callable[[np.ndarray], np.ndarray] | None  # the same calibration from other weights
    frame: pd.DataFrame | None = None
    margins: list[Any] = field(default_factory=list)
    margins_only: bool = False  # categorical margins, no numeric totals: the fast path


def _weighting(data: pd.DataFrame, d: np.ndarray, *, poststratify: TotalsTable | None,
               rake: Sequence[pd.DataFrame | TotalsTable], calibrate_totals: Mapping[str, float] | None,
               population_size: float | None, bounds: tuple[float, float] | None,
               source: str) -> _Weighting:
    """Post-stratify, rake or calibrate the design weights (one calibration of all of them)."""
    from citizendata.stats.calibrate import NumericTotal, calibrate

    margins: list[Any] = []
    if poststratify is not None:
        margins.append(_margin(poststratify[0], poststratify[1], source))
    for table in rake:
        if isinstance(table, tuple):
            margins.append(_margin(table[0], table[1], source))
        else:
            cols = [c for c in table.columns if c != "total"]
            margins.append(_margin(cols, table, source))
    numeric = [NumericTotal(k, float(v)) for k, v in (calibrate_totals or {}).items()]
    for nt in numeric:
        _need_column(data, nt.variable, "calibration total", source)
    if not margins and not numeric and population_size is None:
        if bounds is not None:
            raise _bad("Bounds belong to a calibration: give categorical totals (poststratify, "
                       "rake), numeric totals (calibrate_totals) or population_size.",
                       source, code="calibration.invalid")
        return _Weighting(d, None, None, None)
    # R: calibrate() is linear unless told otherwise; rake() and postStratify() give the
    # raking (multiplicative) weights, identical to linear for a single margin
    method: Literal["linear", "raking"] = (
        "raking" if rake and not numeric else "linear")
    q: np.ndarray | None = None
    if numeric and not margins and population_size is None:
        # numeric totals alone, no intercept: the ratio estimator, q = the auxiliary (R's
        # calibrate(variance=1) on ~x-1: sigma2 = x)
        aux = np.column_stack([_numeric(data, nt.variable, source) for nt in numeric])
        q = aux.sum(axis=1)
        bad_q = ~(np.isfinite(q) & (q > 0))
        if bad_q.any():
            from citizendata.survey.design import _rows

            first = int(np.flatnonzero(bad_q)[0])
            col = next((nt.variable for nt, a in zip(numeric, aux[first], strict=True)
                        if not (np.isfinite(a) and a > 0)), numeric[0].variable)
            raise BadInput("calibration.invalid", "The ratio estimator (numeric totals without "
                           "population_size or categorical totals) needs a positive auxiliary "
                           f"in every row; {int(bad_q.sum()):,} row(s) have a missing, zero or "
                           f"negative {' + '.join(nt.variable for nt in numeric)}: "
                           f"{_rows(bad_q)}.", where=Where(file=source, column=col,
                                                           row=first + 1),
                           fix="Fill or drop those rows, or give --population-size for GREG, "
                               "or categorical totals.")
    aux_list = [*margins, *numeric]
    frame = data.reset_index(drop=True)

    def run(dw: np.ndarray) -> Calibration:
        return calibrate(frame, aux_list, method=method, design_weights=dw, bounds=bounds,
                         population_size=population_size, variance=q, tol=1e-12,
                         max_iter=500)

    try:
        cal = run(d)
    except BadInput as exc:
        given = [poststratify, *rake] if poststratify is not None else list(rake)
        raise _in_totals_file(exc, given) from None

    def redo(dw: np.ndarray) -> np.ndarray:
        # a replicate: units with weight 0 stay 0; calibrate the others afresh
        keep = np.flatnonzero(dw > 0)
        out = np.zeros_like(dw, dtype=float)
        sub = calibrate(frame.iloc[keep], aux_list, method=method, design_weights=dw[keep],
                        bounds=bounds, population_size=population_size,
                        variance=None if q is None else q[keep], tol=1e-12, max_iter=500)
        out[keep] = sub.weights
        return out

    summary = cal.to_dict()
    summary["kind"] = ("ratio" if q is not None else "poststratify" if
                       (poststratify is not None and not rake and not numeric) else
                       "rake" if margins and not numeric else "calibrate")
    return _Weighting(cal.weights, cal, summary, redo, frame, margins,
                      margins_only=not numeric and population_size is None)


def _in_totals_file(exc: BadInput, tables: Sequence[pd.DataFrame | TotalsTable]) -> BadInput:
    """A calibration error about a margin's variable, naming the totals file it came from."""
    files: dict[str, str] = {}
    for t in tables:
        frame = t[1] if isinstance(t, tuple) else t
        cols = ([t[0]] if isinstance(t[0], str) else list(t[0])) if isinstance(t, tuple) \
            else [c for c in frame.columns if c != "total"]
        if "source" in frame.attrs:
            files.update({str(c): str(frame.attrs["source"]) for c in cols})
    fields = [p.where.field for p in exc.problems if p.where is not None and p.where.field]
    file = next((files[f] for f in fields if f in files), None)
    if file is None:
        return exc
    from citizendata.errors import Problem

    problems = [Problem(p.code, f"{p.message} (totals file {file})",
                        Where(file=file, column=p.where.field if p.where else None), fix=p.fix)
                for p in exc.problems]
    return BadInput(exc.code, f"{exc.message.rstrip('.')} (totals file {file}).",
                    where=Where(file=file, column=fields[0]), fix=exc.fix, problems=problems,
                    details=exc.details)


# -- the estimates ------------------------------------------------------------------------------


def _check_request(data: pd.DataFrame, means: Sequence[str], totals: Sequence[str],
                   proportions: Sequence[tuple[str, Any]], by: Sequence[str], source: str,
                   variance: str, level: float, domain_df: str, replicate_weights: Any) -> None:
    if not (means or totals or proportions):
        raise _bad("Nothing to estimate: give means, totals or proportions.", source)
    for c in means:
        _need_column(data, c, "mean", source)
    for c in totals:
        _need_column(data, c, "total", source)
    for pair in proportions:
        if not (isinstance(pair, tuple | list) and len(pair) == 2):
            raise _bad(f"A proportion is a (column, value) pair, not {pair!r}.", source)
        _need_column(data, str(pair[0]), "proportion", source)
    for c in by:
        _need_column(data, c, "by", source)
    if variance not in VARIANCE_METHODS:
        raise _bad(f"variance must be one of {', '.join(VARIANCE_METHODS)}, not {variance!r}.",
                   source, code="design.invalid")
    if not 0.0 < level < 1.0:
        raise _bad(f"The confidence level must be between 0 and 1, not {level!r}.", source)
    if replicate_weights is not None and variance != "linearisation":
        raise _bad(f"Give replicate_weights (the survey's own) or variance={variance!r} (made "
                   "from the design), not both.", source, code="design.replicates_invalid")
    if domain_df not in DOMAIN_DF:
        raise _bad(f"domain_df must be {', '.join(DOMAIN_DF)}, not {domain_df!r}.", source)


def survey_estimate(data: pd.DataFrame, *, weights: str | None = None,
                    probabilities: str | None = None, strata: str | None = None,
                    psu: str | None = None, ssu: str | None = None, fpc: FpcArg = None,
                    fpc2: FpcArg = None, nest: bool = False, lonely_psu: str = "fail",
                    non_probability: bool = False,
                    means: Sequence[str] = (), totals: Sequence[str] = (),
                    proportions: Sequence[tuple[str, Any]] = (), by: Sequence[str] = (),
                    poststratify: TotalsTable | None = None,
                    rake: Sequence[pd.DataFrame | TotalsTable] = (),
                    calibrate_totals: Mapping[str, float] | None = None,
                    population_size: float | None = None,
                    bounds: tuple[float, float] | None = None,
                    variance: str = "linearisation", replicates: int = 200, seed: int = 0,
                    fay_rho: float = 0.5, replicate_weights: Any = None,
                    level: float = 0.95, domain_df: str = "auto", source: str = "data",
                    design: SurveyDesign | None = None) -> SurveyResult:
    """Means, totals and proportions, overall and by domain, under a declared design.

    ``proportions`` are (column, value) pairs; ``poststratify`` is (column(s), totals
    table); ``rake`` a list of totals tables (category columns and ``total``) or such
    pairs; ``calibrate_totals`` maps numeric columns to population totals (alone: the
    ratio estimator; with ``population_size`` or categorical totals: GREG); ``bounds``
    limit the g-weights. ``variance`` is ``linearisation`` or a replicate method;
    ``replicate_weights`` (a ``ReplicateWeightsSpec`` or its dict) uses the survey's own
    replicate weight columns instead, re-calibrated when the weights are.
    ``domain_df`` is ``auto`` (the default: a domain's own degrees of freedom for means
    and totals in domains, the design's for proportions and overall estimates; the
    choice that covers at 93-97% in docs/methods/variance.md), ``design`` (PSUs - strata
    for every estimate, as R's ``confint(svyby(...), df=degf(design))``) or ``domain`` (a
    domain's own for every domain estimate: the PSUs with a unit of the domain minus the
    strata with one, at least 1; Korn & Graubard 1999).
    """
    means, totals, by = list(means), list(totals), list(by)
    proportions = [(p[0], p[1]) for p in proportions]
    _check_request(data, means, totals, proportions, by, source, variance, level, domain_df,
                   replicate_weights)
    if design is None:
        design = SurveyDesign.from_frame(data, weights=weights, probabilities=probabilities,
                                         strata=strata, psu=psu, ssu=ssu, fpc=fpc, fpc2=fpc2,
                                         nest=nest, lonely_psu=lonely_psu,
                                         non_probability=non_probability, source=source)
    frame = data.reset_index(drop=True)
    wt = _weighting(frame, design.weights, poststratify=poststratify, rake=rake,
                    calibrate_totals=calibrate_totals, population_size=population_size,
                    bounds=bounds, source=source)
    blocks = _blocks(frame, means, totals, proportions, by, wt.weights, source)
    notes: list[str] = []
    v_logit: np.ndarray | None = None
    rep_w: Any = None
    dfs = _degrees_of_freedom(blocks, design, domain_df)
    if variance == "linearisation" and replicate_weights is None:
        var = _linearised(blocks, design, wt)
        method = "linearisation"
    else:
        rep_w = _replicates(frame, design, variance, replicates, seed, fay_rho,
                            replicate_weights, notes, source)
        var, v_logit, rank_df = _replicate_variance(blocks, design, wt, rep_w,
                                                    own=replicate_weights is not None)
        if replicate_weights is not None:
            # R's svrepdesign: the degrees of freedom come from the replicate weights
            method = f"{rep_w.type} replicate weights (the survey's own)"
            dfs = np.minimum(dfs, rank_df) if design.declared_psu else np.full_like(dfs, rank_df)
            notes.append(f"{rep_w.n_replicates} replicate weight columns of type {rep_w.type}, "
                         f"scale {rep_w.scale:.6g}"
                         + ("; each re-calibrated" if wt.redo is not None else ""))
        else:
            method = variance
            notes.append(_replicate_note(variance, replicates, seed, wt.redo is not None))
            if variance == "jkn" and design.fpc1 is not None and design.certainty_strata.any():
                # R: a stratum taken whole has no replicates, so the rank of the replicate
                # weights (R's degf) leaves its PSUs out; linearised, R counts them
                dfs = np.maximum(np.minimum(dfs, design.df_without_certainty), 1)
    table = _table(blocks, var, v_logit, dfs, level)
    if design.df < 1:
        notes.append("the design has no degrees of freedom (one PSU per stratum): the "
                     "interval uses 1")
    said = _assumption(design, wt, method, rep_w)
    return SurveyResult(table=table, variance_method=method, assumption=said.text(),
                        level=level, design=design.describe(), weighting=wt.summary,
                        notes=notes, variance_assumption=said)


def _blocks(frame: pd.DataFrame, means: list[str], totals: list[str],
            proportions: list[tuple[str, Any]], by: list[str], w: np.ndarray, source: str
            ) -> list[Block]:
    """Every requested statistic, overall and in every domain."""
    from citizendata.survey.domains import block, domain_codes

    code, dom = domain_codes(frame, by)
    blocks = [block(c, "mean", _numeric(frame, c, source), code, dom, w) for c in means]
    blocks += [block(c, "total", _numeric(frame, c, source), code, dom, w) for c in totals]
    for col, value in proportions:
        keys, ok = _category(frame[col])
        key = _value_key(frame[col], value)
        if not (_binary(frame[col]) and key in ("0", "1")):
            # a 0/1 column may lack one of its codes (a rare outcome): that 0 is an answer
            _need_value(keys[ok], key, str(col), value, source)
        y = np.where(ok, (keys == key).astype(float), np.nan)
        blocks.append(block(str(col), "proportion", y, code, dom, w))
    return blocks


def _binary(col: pd.Series) -> bool:
    """A numeric or boolean column coded 0/1 (empty cells aside)."""
    if not (pd.api.types.is_numeric_dtype(col.dtype) or pd.api.types.is_bool_dtype(col.dtype)):
        return False
    x = col.dropna().astype(float)
    return bool(x.isin([0.0, 1.0]).all())


def _need_value(keys: np.ndarray, key: str, col: str, value: Any, source: str) -> None:
    """input.invalid when a proportion's value never occurs in its column (a typo, a case)."""
    values = pd.unique(keys)
    if (values == key).any():
        return
    names = sorted(str(v) for v in values)
    near = difflib.get_close_matches(key, names, n=3) or [
        v for v in names if v.casefold() == key.casefold()]
    hint = f" Did you mean {', '.join(repr(v) for v in near)}?" if near else ""
    shown = ", ".join(repr(v) for v in names[:30]) + (" …" if len(names) > 30 else "")
    raise _bad(f"The value {value!r} never occurs in column {col!r} of {source}, so its "
               f"proportion would be 0 with no variance.{hint} The column's values: "
               f"{shown or 'none (every row is empty)'}.", source, col,
               fix=f"Give one of the values of {col!r} (values are case-sensitive).")


def _linearised(blocks: list[Block], design: SurveyDesign, wt: _Weighting) -> np.ndarray:
    """svyrecvar of the (calibration residuals of the) influence values of every estimate.

    R's stage-0 g-calibration: residuals of the regression on the calibration's model
    matrix with weights d / q, times the final weights; summed by unit and domain
    (:func:`citizendata.survey.domains.linearised`, no rows x domains array).
    """
    from citizendata.survey.domains import linearised

    return linearised(blocks, design, wt.weights, wt.calibration)


def _table(blocks: list[Block], var: np.ndarray, v_logit: np.ndarray | None,
           dfs: np.ndarray, level: float) -> pd.DataFrame:
    """Estimates, SEs, t intervals (logit for proportions), df and n, one row each."""
    from scipy.stats import t as t_dist

    est = np.concatenate([b.estimate for b in blocks])
    se = np.sqrt(np.maximum(var, 0.0))
    tq = np.asarray(t_dist.ppf(0.5 + level / 2.0, np.maximum(dfs, 1)), dtype=float)
    lo, hi = est - tq * se, est + tq * se
    nn = np.concatenate([b.n for b in blocks])
    is_prop = np.concatenate([np.full(len(b.estimate), b.statistic == "proportion")
                              for b in blocks])
    if is_prop.any():
        from citizendata.stats.variance import proportion_interval

        # R's svyciprop(method="logit"); linearised: the logit's SE by the delta method;
        # replicates: the replicates' own logits. At 0 or 1, or with SE 0: Wilson on the
        # effective sample size at the t level (the cube's and domain_estimate's too)
        plo, phi = proportion_interval(
            est[is_prop], se[is_prop], nn[is_prop], np.maximum(dfs[is_prop], 1), level, "logit",
            se_logit=None if v_logit is None else np.sqrt(np.maximum(v_logit[is_prop], 0.0)))
        lo[is_prop], hi[is_prop] = plo, phi
    return pd.DataFrame({
        "variable": [b.variable for b in blocks for _ in b.estimate],
        "statistic": [b.statistic for b in blocks for _ in b.estimate],
        "by": [d for b in blocks for d in b.by],
        "estimate": est, "se": se, "ci_low": lo, "ci_high": hi, "df": dfs, "n": nn})


def _degrees_of_freedom(blocks: list[Block], design: SurveyDesign, domain_df: str
                        ) -> np.ndarray:
    """Each estimate's degrees of freedom: the design's, or (domains) the domain's own.

    ``auto``: the domain's own for means and totals in domains, else the design's.
    """
    k = sum(len(b.estimate) for b in blocks)
    dfs = np.full(k, design.df, dtype=np.int64)
    if domain_df == "design":
        return dfs
    from citizendata.survey.domains import own_degrees_of_freedom

    own = np.concatenate([own_degrees_of_freedom(b, design) for b in blocks])
    is_domain = np.concatenate([[bool(d) for d in b.by] for b in blocks])
    if domain_df == "auto":
        # proportions keep the design's: their logit intervals with a small domain's own df
        # are too long (docs/methods/variance.md, the coverage table)
        is_domain &= np.concatenate([np.full(len(b.estimate), b.statistic != "proportion")
                                     for b in blocks])
    return np.where(is_domain, np.minimum(own, design.df), dfs)


def _assumption(design: SurveyDesign, wt: _Weighting, method: str, rep: Any = None
                ) -> VarianceAssumption:
    """The design's variance assumption, with the weighting and the replicates."""
    a = design.variance_assumption().with_params(
        calibrated=wt.summary is not None,
        weighting=wt.summary["kind"] if wt.summary is not None else None)
    if method != "linearisation" and rep is not None:
        own = method.endswith("(the survey's own)")
        a = a.with_params(replicates=rep.type if own else method,
                          n_replicates=int(rep.n_replicates))
        if own:
            # the survey's own replicate weights carry the design (R's svrepdesign)
            a = a.with_code("replicates").with_params(own_replicates=True)
    return a


def _replicate_note(variance: str, replicates: int, seed: int, recal: bool) -> str:
    extra = f"{replicates} replicates, seed {seed}" if variance == "bootstrap" else "replicates"
    return f"{variance} {extra}" + ("; each re-calibrated" if recal else "")


def _replicates(frame: pd.DataFrame, design: SurveyDesign, variance: str, replicates: int,
                seed: int, fay_rho: float, own: Any, notes: list[str], source: str) -> Any:
    """The survey's own replicate weights, or replicates of the given type for the design."""
    from citizendata.survey import replicates as rep_mod

    if own is not None:
        from citizendata.projects.design import ReplicateWeightsSpec

        spec = own if isinstance(own, ReplicateWeightsSpec) else ReplicateWeightsSpec(**own)
        return rep_mod.from_columns(frame, spec, design_weights=design.weights)
    fpc = None
    if design.fpc1 is not None:
        # R's as.svrepdesign passes the fpc to JKn and JK1 (one value for JK1's single stratum)
        if variance in ("jk1", "jkn") and np.isfinite(design.fpc1).all():
            fpc = design.fpc1
        else:
            notes.append(f"{variance} replicates ignore the finite population correction "
                         "(conservative); jkn or linearisation use it")
    try:
        return rep_mod.replicate_design(design.weights, design.strata, design.psu, variance,
                                        replicates=replicates, seed=seed, fay_rho=fay_rho,
                                        fpc=fpc)
    except BadInput as exc:
        if exc.where is not None:
            raise
        # say where: the data file and the column of the strata (else of the PSUs)
        col = design.columns.get("strata") or design.columns.get("psu")
        msg = exc.message
        if not design.declared_strata and variance in ("brr", "fay"):
            msg += " (no strata are declared: give --strata, the pairs)"
        raise BadInput(exc.code, f"{msg.rstrip('.')} in {source}.",
                       where=Where(file=source, column=col), fix=exc.fix,
                       details=exc.details) from None


def _replicate_variance(blocks: list[Block], design: SurveyDesign, wt: _Weighting,
                        rep: Any, *, own: bool = False) -> tuple[np.ndarray, np.ndarray, int]:
    """Replicate variances of every estimate and of its logit, and the replicates' df.

    The replicates are re-calibrated when the weights are. The logit's own replicate
    variance gives proportions' logit intervals, as R's ``svyciprop(method="logit")``
    refits its logistic model in every replicate. The degrees of freedom are R's
    ``degf`` of a replicate design: the rank of the replicate weights minus 1, computed
    only for a survey's own replicate weights (``own``; else 0, unused).
    """
    from citizendata.survey import replicates as rep_mod

    if wt.redo is not None:
        cal = wt.calibration
        if wt.margins_only and cal is not None and cal.bounds is None:
            rep = rep_mod.recalibrate_margins(rep, wt.frame, wt.margins, method=cal.method)
        else:
            rep = rep_mod.recalibrate(rep, wt.redo)
    from citizendata.survey.domains import replicate_estimates

    W = np.asarray(rep.weights, dtype=float)  # (n, R)
    theta_r = np.vstack([replicate_estimates(b, W) for b in blocks])  # (K, R)
    theta = np.concatenate([b.estimate for b in blocks])
    with np.errstate(invalid="ignore", divide="ignore"):
        logit_r = np.log(theta_r / (1.0 - theta_r))
        logit = np.log(theta / (1.0 - theta))
    v = np.asarray(rep.variance(theta_r, theta), dtype=float)
    v_logit = np.asarray(rep.variance(logit_r, logit), dtype=float)
    return v, v_logit, (replicate_rank(W) - 1 if own else 0)


def replicate_rank(W: np.ndarray, tol: float = 1e-5) -> int:
    """The rank of the (n, R) replicate weights as R's ``qr(W, tol=1e-5)$rank``.

    From the eigenvalues of the R x R cross-product W'W (O(n R^2), not an SVD of W): a
    direction counts when its singular value exceeds ``tol`` times the largest.
    """
    W = np.asarray(W, dtype=float)
    if W.size == 0:
        return 0
    ev = np.linalg.eigvalsh(W.T @ W)
    top = float(ev.max())
    if top <= 0.0:
        return 0
    return int((ev > (tol * tol) * top).sum())
