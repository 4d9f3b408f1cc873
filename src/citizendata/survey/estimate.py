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
from citizendata.survey.linear import svyrecvar

if TYPE_CHECKING:
    from citizendata.stats.calibrate import Calibration
    from citizendata.survey.assumption import VarianceAssumption

__all__ = ["VARIANCE_METHODS", "SurveyResult", "survey_estimate"]

VARIANCE_METHODS = ("linearisation", "jk1", "jkn", "brr", "fay", "bootstrap")
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


def _as_key(v: Any) -> str:
    """A category value as str: whole floats without '.0' (3.0 matches '3')."""
    if isinstance(v, float | np.floating) and math.isfinite(v) and float(v).is_integer():
        return str(int(v))
    return str(v.item() if isinstance(v, np.generic) else v)


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
        if not (np.isfinite(q).all() and (q > 0).all()):
            raise _bad("The ratio estimator (numeric totals without population_size or "
                       "categorical totals) needs a positive auxiliary in every row.", source,
                       numeric[0].variable, code="calibration.invalid",
                       fix="Give --population-size for GREG, or categorical totals.")
    aux_list = [*margins, *numeric]
    frame = data.reset_index(drop=True)

    def run(dw: np.ndarray) -> Calibration:
        return calibrate(frame, aux_list, method=method, design_weights=dw, bounds=bounds,
                         population_size=population_size, variance=q, tol=1e-12,
                         max_iter=500)

    cal = run(d)

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


# -- the estimates ------------------------------------------------------------------------------


@dataclass
class _Block:
    """Influence values (n, K) of K estimates with their values and labels."""

    variable: str
    statistic: str
    by: list[dict[str, str]]
    estimate: np.ndarray
    U: np.ndarray
    n: np.ndarray
    num: np.ndarray  # indicator rows (n, K) of each estimate's domain, non-missing y
    y: np.ndarray


def _domains(data: pd.DataFrame, by: Sequence[str], source: str
             ) -> tuple[np.ndarray, list[dict[str, str]]]:
    """(n, G+1) membership: the whole sample, then each observed cross of ``by``."""
    n = len(data)
    if not by:
        return np.ones((n, 1), dtype=bool), [{}]
    keys = []
    ok = np.ones(n, dtype=bool)
    for c in by:
        k, o = _category(data[c])
        keys.append(k)
        ok &= o
    frame = pd.DataFrame({c: k for c, k in zip(by, keys, strict=True)})
    codes = frame.groupby(list(by), sort=True).ngroup().to_numpy()
    codes = np.where(ok, codes, -1)
    # ngroup numbers groups in sorted order of all rows; keep only groups with a full key
    present = np.unique(codes[codes >= 0])
    member = np.zeros((n, len(present) + 1), dtype=bool)
    member[:, 0] = True
    pos = np.searchsorted(present, codes)
    rows = np.flatnonzero(codes >= 0)
    member[rows, 1 + pos[rows]] = True
    first = [int(np.flatnonzero(codes == g)[0]) for g in present]
    dom: list[dict[str, str]] = [{}]
    dom += [{c: str(frame.iloc[i][c]) for c in by} for i in first]
    return member, dom


def _block(variable: str, statistic: str, y: np.ndarray, member: np.ndarray,
           dom: list[dict[str, str]], w: np.ndarray) -> _Block:
    """Estimates and influence values of one variable in every domain (vectorised)."""
    ok = np.isfinite(y)
    inn = member & ok[:, None]  # missing answers leave every domain (R's na.rm=TRUE)
    y0 = np.where(ok, y, 0.0)
    wy = (w * y0) @ inn
    den = w @ inn
    n = inn.sum(axis=0)
    if statistic == "total":
        est = wy
        U = inn * y0[:, None]
    else:
        with np.errstate(invalid="ignore", divide="ignore"):
            est = wy / den
            U = inn * (y0[:, None] - est[None, :]) / den[None, :]
        U = np.where(inn, U, 0.0)
    return _Block(variable, statistic, dom, est, U, n, inn, y0)


def _logit_ci(p: np.ndarray, se_logit: np.ndarray, se: np.ndarray, t: np.ndarray, n: np.ndarray,
              level: float) -> tuple[np.ndarray, np.ndarray]:
    """svyciprop(method="logit"): expit(logit p -/+ t se_logit); 0 and 1 by Clopper–Pearson."""
    from citizendata.stats.variance import clopper_pearson_interval

    with np.errstate(divide="ignore", invalid="ignore"):
        eta = np.log(p / (1.0 - p))
        half = t * se_logit
        lo = 1.0 / (1.0 + np.exp(-(eta - half)))
        hi = 1.0 / (1.0 + np.exp(-(eta + half)))
    edge = (p <= 0.0) | (p >= 1.0) | (se == 0.0)
    if edge.any():
        # the logit interval is degenerate at 0 and 1: Clopper–Pearson on the domain's n
        cl, ch = clopper_pearson_interval(np.where(edge, np.clip(p, 0, 1) * n, 0.0),
                                          np.where(edge, n, 1.0), level)
        lo = np.where(edge, cl, lo)
        hi = np.where(edge, ch, hi)
    return lo, hi


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
    if domain_df not in ("design", "domain"):
        raise _bad(f"domain_df must be design or domain, not {domain_df!r}.", source)


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
                    level: float = 0.95, domain_df: str = "design", source: str = "data",
                    design: SurveyDesign | None = None) -> SurveyResult:
    """Means, totals and proportions, overall and by domain, under a declared design.

    ``proportions`` are (column, value) pairs; ``poststratify`` is (column(s), totals
    table); ``rake`` a list of totals tables (category columns and ``total``) or such
    pairs; ``calibrate_totals`` maps numeric columns to population totals (alone: the
    ratio estimator; with ``population_size`` or categorical totals: GREG); ``bounds``
    limit the g-weights. ``variance`` is ``linearisation`` or a replicate method;
    ``replicate_weights`` (a ``ReplicateWeightsSpec`` or its dict) uses the survey's own
    replicate weight columns instead, re-calibrated when the weights are.
    ``domain_df`` is ``design`` (PSUs - strata for every estimate, as R's
    ``confint(svyby(...), df=degf(design))``) or ``domain`` (a domain's own: the PSUs with a
    unit of the domain minus the strata with one, at least 1; wider, better-covering
    intervals for small domains, Korn & Graubard 1999).
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
                            replicate_weights, notes)
        var, v_logit, rank_df = _replicate_variance(blocks, design, wt, rep_w)
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
            ) -> list[_Block]:
    """Every requested statistic, overall and in every domain."""
    member, dom = _domains(frame, by, source)
    blocks = [_block(c, "mean", _numeric(frame, c, source), member, dom, w) for c in means]
    blocks += [_block(c, "total", _numeric(frame, c, source), member, dom, w) for c in totals]
    for col, value in proportions:
        keys, ok = _category(frame[col])
        y = np.where(ok, (keys == _value_key(frame[col], value)).astype(float), np.nan)
        blocks.append(_block(str(col), "proportion", y, member, dom, w))
    return blocks


def _linearised(blocks: list[_Block], design: SurveyDesign, wt: _Weighting) -> np.ndarray:
    """svyrecvar of the (calibration residuals of the) influence values of every estimate."""
    E = np.hstack([b.U for b in blocks])
    cal = wt.calibration
    if cal is not None:
        from citizendata.stats.variance import greg_residuals

        # R's stage-0 g-calibration: residuals of the regression on the calibration's
        # model matrix with weights d / q, times the final weights
        E = greg_residuals(E, cal.X, cal.design_weights, cal.q)
    # an uncalibrated design's domains are R's subsets: under lonely_psu="average" only the
    # strata present in the domain are counted (a calibrated design keeps every row)
    present = np.hstack([b.num for b in blocks]) if cal is None else None
    return svyrecvar(wt.weights[:, None] * E, design, diag=True, present=present)


def _table(blocks: list[_Block], var: np.ndarray, v_logit: np.ndarray | None,
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
        p = est[is_prop]
        # linearised: the logit's SE by the delta method, se / (p (1 - p)); replicates: its own
        with np.errstate(invalid="ignore", divide="ignore"):
            se_logit = (se[is_prop] / (p * (1.0 - p)) if v_logit is None
                        else np.sqrt(np.maximum(v_logit[is_prop], 0.0)))
        plo, phi = _logit_ci(p, se_logit, se[is_prop], tq[is_prop], nn[is_prop], level)
        lo[is_prop], hi[is_prop] = plo, phi
    return pd.DataFrame({
        "variable": [b.variable for b in blocks for _ in b.estimate],
        "statistic": [b.statistic for b in blocks for _ in b.estimate],
        "by": [d for b in blocks for d in b.by],
        "estimate": est, "se": se, "ci_low": lo, "ci_high": hi, "df": dfs, "n": nn})


def _degrees_of_freedom(blocks: list[_Block], design: SurveyDesign, domain_df: str
                        ) -> np.ndarray:
    """Each estimate's degrees of freedom: the design's, or (domains) the domain's own."""
    k = sum(len(b.estimate) for b in blocks)
    dfs = np.full(k, design.df, dtype=np.int64)
    if domain_df == "design":
        return dfs
    from citizendata.survey.linear import group_sums

    num = np.hstack([b.num for b in blocks]).astype(float)
    psu_in = group_sums(num, design.psu, design.n_psu) > 0  # (m, K)
    strata_in = group_sums(psu_in.astype(float), design.psu_strata, design.n_strata) > 0
    own = np.maximum(psu_in.sum(axis=0) - strata_in.sum(axis=0), 1)
    is_domain = np.concatenate([[bool(d) for d in b.by] for b in blocks])
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
                seed: int, fay_rho: float, own: Any, notes: list[str]) -> Any:
    """The survey's own replicate weights, or replicates of the given type for the design."""
    from citizendata.survey import replicates as rep_mod

    if own is not None:
        from citizendata.projects.design import ReplicateWeightsSpec

        spec = own if isinstance(own, ReplicateWeightsSpec) else ReplicateWeightsSpec(**own)
        return rep_mod.from_columns(frame, spec, design_weights=design.weights)
    fpc = None
    if design.fpc1 is not None:
        if variance == "jkn" and np.isfinite(design.fpc1).all():
            fpc = design.fpc1
        else:
            notes.append(f"{variance} replicates ignore the finite population correction "
                         "(conservative); jkn or linearisation use it")
    return rep_mod.replicate_design(design.weights, design.strata, design.psu, variance,
                                    replicates=replicates, seed=seed, fay_rho=fay_rho, fpc=fpc)


def _replicate_variance(blocks: list[_Block], design: SurveyDesign, wt: _Weighting,
                        rep: Any) -> tuple[np.ndarray, np.ndarray, int]:
    """Replicate variances of every estimate and of its logit, and the replicates' df.

    The replicates are re-calibrated when the weights are. The logit's own replicate
    variance gives proportions' logit intervals, as R's ``svyciprop(method="logit")``
    refits its logistic model in every replicate. The degrees of freedom are R's
    ``degf`` of a replicate design: the rank of the replicate weights minus 1.
    """
    from citizendata.survey import replicates as rep_mod

    if wt.redo is not None:
        cal = wt.calibration
        if wt.margins_only and cal is not None and cal.bounds is None:
            rep = rep_mod.recalibrate_margins(rep, wt.frame, wt.margins, method=cal.method)
        else:
            rep = rep_mod.recalibrate(rep, wt.redo)
    W = np.asarray(rep.weights, dtype=float)  # (n, R)
    thetas = []
    for b in blocks:
        num = W.T @ (b.num * b.y[:, None])  # (R, K)
        if b.statistic == "total":
            th = num
        else:
            den = W.T @ b.num
            with np.errstate(invalid="ignore", divide="ignore"):
                th = num / den
        thetas.append(th)
    theta_r = np.hstack(thetas).T  # (K, R)
    theta = np.concatenate([b.estimate for b in blocks])
    with np.errstate(invalid="ignore", divide="ignore"):
        logit_r = np.log(theta_r / (1.0 - theta_r))
        logit = np.log(theta / (1.0 - theta))
    v = np.asarray(rep.variance(theta_r, theta), dtype=float)
    v_logit = np.asarray(rep.variance(logit_r, logit), dtype=float)
    return v, v_logit, int(np.linalg.matrix_rank(W)) - 1
