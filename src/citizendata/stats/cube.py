"""Disaggregated estimates for every cell of a cube, with linearised standard errors, in one query.

The database does the heavy part: one ``GROUP BY CUBE`` (or ``GROUPING SETS``) of a
few weighted sums per cell, written in SQL that DuckDB, Spark and PostgreSQL all
run. numpy then turns the sums into estimates, standard errors (Taylor
linearisation with clusters and, after calibration, the GREG residual adjustment),
confidence intervals, CVs and reliability flags, vectorised over cells. The
formulas are in docs/methods/disaggregation.md.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import ibis.expr.types as ir
import numpy as np
import pandas as pd

from citizendata.errors import BadInput, Where
from citizendata.stats.frame import PSU
from citizendata.stats.variance import (
    ReliabilityRule,
    proportion_interval,
    reliability_flag,
    z_value,
)

__all__ = ["DESIGN_UNIT", "TOTAL", "UNKNOWN", "CalibrationMoments", "CubeRequest", "DesignVariance",
           "cube_design_sums", "cube_estimates", "cube_sums"]

DESIGN_UNIT = "_dpsu"  # the design's sampling unit of a submission, an integer code 0..m-1
TOTAL = "_T"  # SDMX code for a total over a dimension
UNKNOWN = "_U"  # SDMX code for an unknown value (e.g. disability status when all WG answers are missing)
_QUOTE = {"pyspark": "`", "mysql": "`"}  # dialect differences as data; others quote with "
_STRING = {"pyspark": "STRING", "mysql": "CHAR"}  # the text type in CAST; others VARCHAR
_DENSE_LIMIT = 4_000_000  # entries of one (design units x cells) block of the variance


@dataclass
class CalibrationMoments:
    """What the variance needs from a calibration: the model's categories and moments over all units.

    ``A`` is sum(d x x'), ``M`` sum(w^2 x x'), ``wx`` sum(w x), over every calibrated unit;
    ``columns`` gives, per model-matrix column, the margin's column in the frame and the category.
    """

    columns: list[tuple[str, str | None]]  # (frame column, category); None: a numeric column
    A: np.ndarray
    M: np.ndarray
    wx: np.ndarray
    X: np.ndarray | None = field(default=None, repr=False)  # the model matrix, per unit

    @classmethod
    def from_arrays(cls, X: np.ndarray, d: np.ndarray, w: np.ndarray,
                    columns: list[tuple[str, str | None]]) -> CalibrationMoments:
        """Moments from the model matrix and the design and calibrated weights."""
        return cls(columns, (X * d[:, None]).T @ X, (X * (w ** 2)[:, None]).T @ X, X.T @ w)


@dataclass
class CubeRequest:
    """What to aggregate: the frame's columns and the cells wanted."""

    dims: list[str]
    sets: list[tuple[str, ...]] | None = None  # None: the full cube
    unit_is_psu: bool = True
    psu_level: set[str] = field(default_factory=set)
    weighted: bool = True
    replicates: int = 0  # replicate weight columns _r0, _r1, … in the frame
    design: bool = False  # also sum every cell per design unit (column DESIGN_UNIT)
    # the GREG regression's weights: d, or d/q under a working-model variance q (weigh's _dq)
    d_column: str = "_d"


@dataclass
class DesignVariance:
    """A declared design's variance, for totals of the linearised variable per design unit.

    ``variance`` maps an (m, k) matrix of totals over all m units of the design (the
    PSUs, or the SSUs of a two-stage design) to the k variances; ``df`` is the design's
    degrees of freedom (PSUs - strata); ``wx`` holds, per unit, the sums of w x over
    its calibrated submissions (the GREG residual adjustment), when calibrated.
    """

    n_units: int
    variance: Callable[..., np.ndarray]  # (m, k) totals [, present=(m, k)] -> (k,)
    df: float
    wx: np.ndarray | None = None
    # variance takes present= (which units have a row of each cell): lonely_psu="average"
    # then counts a cell's own strata, as R's svyby
    takes_present: bool = False


def _q(name: str, backend: str) -> str:
    mark = _QUOTE.get(backend, '"')
    return f"{mark}{name.replace(mark, mark * 2)}{mark}"


def _lit(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


# the sums every cell needs, over one row per submission (see docs/methods/disaggregation.md)
_BASE_SUMS = ("SUM(n) AS n", "COUNT(*) AS n_psu", "SUM(w * z) AS wz", "SUM(w * y) AS wy",
              "SUM(w * w * y * y) AS wwyy", "SUM(w * w * y * z) AS wwyz",
              "SUM(w * w * z * z) AS wwzz")


def _as_double(exprs: Sequence[str]) -> list[str]:
    """Each ``expr AS name`` cast to DOUBLE (DuckDB sums integers to HUGEINT, Spark to BIGINT)."""
    return [f"CAST({e.rsplit(' AS ', 1)[0]} AS DOUBLE) AS {e.rsplit(' AS ', 1)[1]}" for e in exprs]


def _times_x(col: str, cat: str | None, value: str, q: Any) -> str:
    """``value`` times the calibration model's column: a category's indicator, or a number."""
    if cat is None:
        return f"{value} * CAST({q(col)} AS DOUBLE)"
    return f"CASE WHEN {q(col)} = {_lit(cat)} THEN {value} END"


def _aggregates(req: CubeRequest, cal: CalibrationMoments | None, q: Any) -> list[str]:
    """The sums every cell needs, straight from the per-submission rows."""
    out = list(_BASE_SUMS)
    if cal is not None:
        for j, (col, cat) in enumerate(cal.columns):
            out += [f"SUM({_times_x(col, cat, 'd * y', q)}) AS dy_{j}",
                    f"SUM({_times_x(col, cat, 'd * z', q)}) AS dz_{j}",
                    f"SUM({_times_x(col, cat, 'w * w * y', q)}) AS wwy_{j}",
                    f"SUM({_times_x(col, cat, 'w * w * z', q)}) AS wwz_{j}"]
    for r in range(req.replicates):
        out += [f"SUM(_r{r} * y) AS ry_{r}", f"SUM(_r{r} * z) AS rz_{r}"]
    return _as_double(out)


def _fine_rows(inner: str, dims: Sequence[str], req: CubeRequest, cal: CalibrationMoments | None,
               q: Any) -> tuple[str, list[str]]:
    """Sums per finest cell (dimensions x calibration categories) and the cube's sums over them.

    The calibration and replicate sums add up across cells, so the cube's many
    per-category sums run over a few thousand rows instead of every submission.
    """
    cal_cols = sorted({c for c, _ in cal.columns}) if cal else []
    keys = [q(c) for c in dict.fromkeys([*dims, *cal_cols, *_unit(req)])]
    sums = [*_BASE_SUMS, "SUM(d * y) AS dy", "SUM(d * z) AS dz", "SUM(w * w * y) AS wwy",
            "SUM(w * w * z) AS wwz"]
    sums += [f"SUM(_r{r} * {v}) AS r{v}_{r}" for r in range(req.replicates) for v in ("y", "z")]
    group = f" GROUP BY {', '.join(keys)}" if keys else ""  # no dimension: one row
    fine = f"SELECT {', '.join([*keys, *sums])} FROM ({inner}) AS p0{group}"
    outer = [f"SUM({c}) AS {c}" for c in (e.rsplit(" AS ", 1)[1] for e in _BASE_SUMS)]
    if cal is not None:
        for j, (col, cat) in enumerate(cal.columns):
            outer += [f"SUM({_times_x(col, cat, v, q)}) AS {v}_{j}"
                      for v in ("dy", "dz", "wwy", "wwz")]
    outer += [f"SUM(r{v}_{r}) AS r{v}_{r}" for r in range(req.replicates) for v in ("y", "z")]
    return fine, _as_double(outer)


def _unit(req: CubeRequest) -> list[str]:
    return [DESIGN_UNIT] if req.design else []


def _psu_rows(src: str, by: Sequence[str], req: CubeRequest, cal: CalibrationMoments | None,
              q: Any, aggregate: bool) -> str:
    """One row per submission (and cell): its weight, numerator and denominator totals."""
    cal_cols = sorted({c for c, _ in cal.columns}) if cal else []
    reps = [f"_r{r}" for r in range(req.replicates)]
    # a design unit holds whole submissions: constant within one, so a key like the cell's
    keys = [q(c) for c in dict.fromkeys([PSU, *by, *cal_cols, *_unit(req)])]
    dcol = req.d_column
    if not aggregate:
        cols = [*keys, "_w AS w", f"{dcol} AS d", "_y AS y", "_z AS z", "1 AS n", *reps]
        return f"SELECT {', '.join(cols)} FROM {src}"
    cols = [*keys, "MAX(_w) AS w", f"MAX({dcol}) AS d", "SUM(_y) AS y", "SUM(_z) AS z", "COUNT(*) AS n",
            *[f"MAX({r}) AS {r}" for r in reps]]
    return f"SELECT {', '.join(cols)} FROM {src} GROUP BY {', '.join(keys)}"


def _cube_query(table: ir.Table, req: CubeRequest, cal: CalibrationMoments | None
                ) -> tuple[str, dict[str, str], Any]:
    """The cube's SQL, its schema and the backend (one query, whatever the request)."""
    backend = table._find_backend()
    name = getattr(backend, "name", "duckdb")

    def q(c: str) -> str:
        return _q(c, name)

    missing = [d for d in req.dims if d not in table.columns]
    if missing:
        raise BadInput("indicator.unknown_dimension", f"no dimension(s) {missing} in the unit's table",
                       where=Where(field=", ".join(missing)),
                       fix="Use fields of the unit of analysis, an enclosing level or a derived variable.")
    src = f"({backend.compile(table)}) AS f"
    aggs = ", ".join(_aggregates(req, cal, q))
    dims = req.dims
    unit = _unit(req)
    unit_dims = [d for d in dims if d not in req.psu_level]
    if req.unit_is_psu or not unit_dims:
        inner = _psu_rows(src, dims, req, cal, q, aggregate=not req.unit_is_psu)
        if cal is not None or req.replicates:
            inner, fine_aggs = _fine_rows(inner, dims, req, cal, q)
            aggs = ", ".join(fine_aggs)
        keys = [*dims, *unit]
        flags = ", ".join(f"CAST(GROUPING({q(d)}) AS BIGINT) AS {q('_g_' + d)}" for d in keys)
        if not keys:
            sql = f"SELECT {aggs} FROM ({inner}) AS p"
        else:
            if req.sets is None and not unit:
                group = f"CUBE ({', '.join(q(d) for d in dims)})"
            else:
                sets = req.sets if req.sets is not None else _all_sets(dims)
                # with a design, every cell also per design unit: the units' totals of the
                # linearised variable come from the same scan
                sets = [*sets, *[(*st, *unit) for st in sets]] if unit else sets
                group = "GROUPING SETS (" + ", ".join(
                    "(" + ", ".join(q(d) for d in st) + ")" for st in sets) + ")"
            sql = (f"SELECT {', '.join(q(d) for d in keys)}, {flags}, {aggs} FROM ({inner}) AS p "
                   f"GROUP BY {group}")
    else:
        # a dimension of the unit (a birth's sex) splits a submission's units between cells:
        # each set of cells needs its own per-submission totals before the squares are summed
        parts = []
        sets = req.sets if req.sets is not None else _all_sets(dims)
        text = _STRING.get(name, "VARCHAR")
        for s in sets:
            inner = _psu_rows(src, s, req, cal, q, aggregate=True)
            for per_unit in ([False, True] if unit else [False]):
                cols = [f"CAST({q(d)} AS {text}) AS {q(d)}" if d in s
                        else f"CAST(NULL AS {text}) AS {q(d)}" for d in dims]
                if unit:
                    cols.append(f"CAST({q(DESIGN_UNIT)} AS BIGINT) AS {q(DESIGN_UNIT)}" if per_unit
                                else f"CAST(NULL AS BIGINT) AS {q(DESIGN_UNIT)}")
                cols += [f"CAST({0 if d in s else 1} AS BIGINT) AS {q('_g_' + d)}" for d in dims]
                if unit:
                    cols.append(f"CAST({0 if per_unit else 1} AS BIGINT) AS {q('_g_' + DESIGN_UNIT)}")
                by = [*s, *(unit if per_unit else [])]
                group = f" GROUP BY {', '.join(q(d) for d in by)}" if by else ""
                parts.append(f"SELECT {', '.join(cols)}, {aggs} FROM ({inner}) AS p{group}")
        sql = " UNION ALL ".join(parts)
    # the schema is known, so the backend need not run the query twice to learn it
    schema = {**{d: "string" for d in dims}, **{u: "int64" for u in unit},
              **{f"_g_{d}": "int64" for d in [*dims, *unit]},
              **{e.rsplit(" AS ", 1)[1]: "float64" for e in _aggregates(req, cal, q)}}
    return sql, schema, backend


def _label_cells(out: pd.DataFrame, dims: Sequence[str]) -> pd.DataFrame:
    """Rolled-up dimensions as TOTAL, NULL values as UNKNOWN; the GROUPING flags dropped."""
    for d in dims:
        clash = (out["_g_" + d].astype(int) == 0) & out[d].isin([TOTAL, UNKNOWN])
        if clash.any():
            raise BadInput("indicator.invalid", f"dimension {d!r} has the value "
                           f"{out.loc[clash, d].iloc[0]!r}, which tables use for a total or an "
                           "unknown value", where=Where(field=d),
                           fix="Recode that value before disaggregating by it.")
        vals = out[d].astype(object)
        vals = vals.where(vals.notna(), UNKNOWN).astype(str)
        out[d] = np.where(out["_g_" + d].astype(int) == 1, TOTAL, vals)
    return out.drop(columns=[f"_g_{d}" for d in dims])


def cube_sums(table: ir.Table, req: CubeRequest, cal: CalibrationMoments | None = None
              ) -> pd.DataFrame:
    """The per-cell sums, one row per cell; rolled-up dimensions hold TOTAL, NULL values UNKNOWN.

    ``table`` has columns ``_psu``, the dimensions, ``_y``, ``_z`` (rows outside the
    indicator's base already removed), ``_w``, ``_d`` and any replicate weights.
    """
    if req.design:
        return cube_design_sums(table, req, cal)[0]
    sql, schema, backend = _cube_query(table, req, cal)
    return _label_cells(backend.sql(sql, schema=schema).to_pandas(), req.dims)


def cube_design_sums(table: ir.Table, req: CubeRequest, cal: CalibrationMoments | None = None
                     ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The per-cell sums and, from the same query, each cell's sums per design unit.

    ``table`` also has the column DESIGN_UNIT (the submission's PSU, or SSU, as an
    integer code). The second table has ``_cell`` (the row of the first), DESIGN_UNIT,
    ``wy`` and ``wz``: one row per cell and unit that has units of the cell. It can
    be long (cells x units), so it stays in Arrow until its cells are integer codes.
    """
    import pyarrow.compute as pc

    req = CubeRequest(**{**req.__dict__, "design": True})
    sql, schema, backend = _cube_query(table, req, cal)
    out = backend.sql(sql, schema=schema).to_pyarrow()
    per_unit = pc.equal(out.column("_g_" + DESIGN_UNIT), 0)
    cells = _label_cells(out.filter(pc.invert(per_unit)).drop_columns(
        [DESIGN_UNIT, "_g_" + DESIGN_UNIT]).to_pandas(), req.dims).reset_index(drop=True)
    # only what the units' totals need, before the long filter
    rows = out.select([*req.dims, *[f"_g_{d}" for d in req.dims], DESIGN_UNIT, "wy", "wz"]
                      ).filter(per_unit)
    cell_key = np.zeros(len(cells), dtype=np.int64)
    unit_key = np.zeros(rows.num_rows, dtype=np.int64)
    for d in req.dims:
        # the dimension's labels as small integer codes, the same for cells and unit rows
        labels = pd.Index(pd.unique(cells[d].to_numpy()))
        size = len(labels) + 1  # +1: a label the cells lack (cannot happen; kept apart)
        enc = pc.dictionary_encode(rows.column(d)).combine_chunks()
        values = enc.dictionary.to_pylist()
        lookup = np.asarray(labels.get_indexer(pd.Index([str(v) for v in values])), np.int64)
        idx = enc.indices.to_numpy(zero_copy_only=False)
        missing = np.asarray(pc.is_null(enc.indices)).astype(bool)
        code = np.where(missing, 0, lookup[np.where(missing, 0, idx).astype(np.int64)]
                        if len(lookup) else 0)
        code = np.where(missing, labels.get_indexer([UNKNOWN])[0], code)
        rolled = rows.column("_g_" + d).to_numpy() == 1
        code = np.where(rolled, labels.get_indexer([TOTAL])[0], code)
        code = np.where(code < 0, size - 1, code)
        cell_key = cell_key * size + labels.get_indexer(cells[d].to_numpy())
        unit_key = unit_key * size + code
    units = pd.DataFrame({
        "_cell": pd.Index(cell_key).get_indexer(unit_key),
        DESIGN_UNIT: rows.column(DESIGN_UNIT).to_numpy().astype(np.int64),
        "wy": rows.column("wy").to_numpy(), "wz": rows.column("wz").to_numpy()})
    return cells, units


def _all_sets(dims: Sequence[str]) -> list[tuple[str, ...]]:
    """Every subset of the dimensions, from the full cross down to the grand total."""
    k = len(dims)
    return [tuple(d for i, d in enumerate(dims) if mask >> i & 1) for mask in range(2 ** k - 1, -1, -1)]


@dataclass(frozen=True)
class EstimateOptions:
    """How to turn sums into estimates."""

    kind: str
    n_design: int  # submissions in the design (the variance's n/(n-1))
    level: float = 0.95
    ci: str = "auto"
    weighted: bool = True
    unit_is_psu: bool = True
    min_n: int = 30
    caution_cv: float = 0.15
    unreliable_cv: float = 0.30
    replicates: int = 0
    # the degrees of freedom of a declared design (PSUs - strata): t quantiles; None: normal
    df: float | None = None
    # a replicate design's variance of the replicate estimates (k, R) about the full ones (k,);
    # None: the bootstrap's, about the replicates' mean with 1/(R-1)
    replicate_variance: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None
    design: DesignVariance | None = None  # a declared design's linearised variance


def _influence(kind: str, s: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Value and the coefficients (a, b) of the linearised variable u = a y + b z per cell."""
    wy, wz = s["wy"].to_numpy(float), s["wz"].to_numpy(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        if kind in ("proportion", "mean", "ratio"):
            value = wy / wz
            return value, 1.0 / wz, -value / wz
    if kind == "total":
        return wy, np.ones_like(wy), np.zeros_like(wy)
    return wz, np.zeros_like(wz), np.ones_like(wz)  # count


def _greg_coefficients(s: pd.DataFrame, a: np.ndarray, b: np.ndarray, cal: CalibrationMoments
                       ) -> tuple[np.ndarray, np.ndarray]:
    """Per cell, the GREG coefficients B of u on the calibration model, and sum(w^2 u x)."""
    p = len(cal.columns)
    dy = np.nan_to_num(s[[f"dy_{j}" for j in range(p)]].to_numpy(float))
    dz = np.nan_to_num(s[[f"dz_{j}" for j in range(p)]].to_numpy(float))
    wwy = np.nan_to_num(s[[f"wwy_{j}" for j in range(p)]].to_numpy(float))
    wwz = np.nan_to_num(s[[f"wwz_{j}" for j in range(p)]].to_numpy(float))
    t = a[:, None] * dy + b[:, None] * dz
    sw = a[:, None] * wwy + b[:, None] * wwz
    # the calibration model is rank-deficient (each margin sums to the grand total);
    # the fitted values x'B, and so the residuals, do not depend on the generalised inverse
    return t @ np.linalg.pinv(cal.A, hermitian=True), sw


def _linearised_variance(s: pd.DataFrame, kind: str, n: int,
                         cal: CalibrationMoments | None) -> tuple[np.ndarray, np.ndarray]:
    """Estimates and their with-replacement linearised variances, cell by cell."""
    value, a, b = _influence(kind, s)
    col = {c: s[c].to_numpy(float) for c in ("wwyy", "wwyz", "wwzz", "wy", "wz")}
    sum_u2 = a * a * col["wwyy"] + 2 * a * b * col["wwyz"] + b * b * col["wwzz"]
    sum_z = a * col["wy"] + b * col["wz"]
    sum_z2 = sum_u2
    if cal is not None:
        B, sw = _greg_coefficients(s, a, b, cal)
        sum_z2 = sum_u2 - 2 * np.einsum("ij,ij->i", B, sw) + np.einsum("ij,ij->i", B @ cal.M, B)
        sum_z = sum_z - B @ cal.wx
    with np.errstate(divide="ignore", invalid="ignore"):
        var = n / (n - 1) * (sum_z2 - sum_z ** 2 / n) if n > 1 else np.full_like(value, np.nan)
    return value, np.maximum(var, 0.0)


def _design_linearised_variance(s: pd.DataFrame, units: pd.DataFrame, dims: Sequence[str],
                                kind: str, cal: CalibrationMoments | None,
                                design: DesignVariance) -> tuple[np.ndarray, np.ndarray]:
    """Estimates and their design-based variances: per design unit and cell, the total of the
    linearised variable (less the unit's calibration fit), through the design's variance."""
    value, a, b = _influence(kind, s)
    k = len(s)
    if "_cell" in units.columns:
        cell = units["_cell"].to_numpy(np.int64)
    elif dims:
        index = s[list(dims)].assign(_cell=np.arange(k))
        cell = units[list(dims)].merge(index, on=list(dims), how="left")["_cell"].to_numpy()
    else:
        cell = np.zeros(len(units), dtype=np.int64)
    unit = units[DESIGN_UNIT].to_numpy(np.int64)
    with np.errstate(invalid="ignore", over="ignore"):
        contrib = np.nan_to_num(a[cell] * units["wy"].to_numpy(float)
                                + b[cell] * units["wz"].to_numpy(float))
    B = None
    if cal is not None and design.wx is not None:
        B, _ = _greg_coefficients(s, np.nan_to_num(a), np.nan_to_num(b), cal)
    var = np.empty(k)
    # every unit of the design is a row, with zeros where it has none of the cell (domains);
    # cells are independent columns, so blocks of them keep the dense matrix small
    block = max(1, _DENSE_LIMIT // max(design.n_units, 1))
    order = np.argsort(cell, kind="stable")
    bounds = np.searchsorted(cell[order], np.arange(0, k + block, block))
    for i, start in enumerate(range(0, k, block)):
        stop = min(start + block, k)
        rows = order[bounds[i]:bounds[i + 1]]
        U = np.zeros((design.n_units, stop - start))
        U[unit[rows], cell[rows] - start] = contrib[rows]
        if B is not None and design.wx is not None:
            U -= design.wx @ B[start:stop].T
            var[start:stop] = np.asarray(design.variance(U), dtype=float)
        elif not design.takes_present:
            var[start:stop] = np.asarray(design.variance(U), dtype=float)
        else:
            # uncalibrated cells are R's svyby subsets: lonely_psu="average" counts only the
            # strata with a unit in the cell
            here = np.zeros(U.shape, dtype=bool)
            here[unit[rows], cell[rows] - start] = True
            var[start:stop] = np.asarray(design.variance(U, present=here), dtype=float)
    bad = ~np.isfinite(a) | ~np.isfinite(b)
    return value, np.where(bad, np.nan, np.maximum(var, 0.0))


def _replicate_variance(s: pd.DataFrame, kind: str, reps: int, value: np.ndarray,
                        rule: Callable[[np.ndarray, np.ndarray], np.ndarray] | None
                        ) -> np.ndarray:
    """Variance from the replicate estimates: the design's rule, or the bootstrap's (about
    the replicates' mean, 1/(R-1), R survey's default)."""
    ry = s[[f"ry_{r}" for r in range(reps)]].to_numpy(float)
    rz = s[[f"rz_{r}" for r in range(reps)]].to_numpy(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        est = ry / rz if kind in ("proportion", "mean", "ratio") else (ry if kind == "total" else rz)
    if rule is None:
        return np.nanvar(est, axis=1, ddof=1)
    return np.asarray(rule(est, value), dtype=float)


def _quantile(opt: EstimateOptions) -> tuple[float, float]:
    """The interval's two-sided quantile (t with the design's df, else normal) and the
    normal level with that quantile (Wilson and Clopper-Pearson then use the t scale)."""
    if opt.df is None or not np.isfinite(opt.df):
        return z_value(opt.level), opt.level
    if opt.df < 1:
        return float("nan"), float("nan")
    from scipy.stats import norm, t

    q = float(t.ppf(0.5 + opt.level / 2, opt.df))
    return q, float(2 * norm.cdf(q) - 1)


def _intervals(kind: str, value: np.ndarray, se: np.ndarray, n: np.ndarray, opt: EstimateOptions
               ) -> tuple[np.ndarray, np.ndarray, str]:
    """Confidence limits and the method's name (proportions: ``proportion_interval``, as
    survey_estimate and domain_estimate, on the cells' n)."""
    z, _level = _quantile(opt)
    method = opt.ci
    if method == "auto":
        method = ("wilson" if not opt.weighted else "logit") if kind == "proportion" else "wald"
    if kind != "proportion" and method != "wald":
        raise BadInput("indicator.invalid", f"the {method!r} interval is for proportions only",
                       where=Where(field="ci"), fix="Use ci: wald (or auto) for this indicator.")
    if not np.isfinite(z):  # a design without degrees of freedom gives no interval
        nan = np.full_like(value, np.nan)
        return nan, nan, method
    if kind == "proportion":
        df = opt.df if opt.df is not None and np.isfinite(opt.df) else None
        lo, hi = proportion_interval(value, se, n, df, opt.level, method)
    else:
        lo, hi = value - z * se, value + z * se
    return lo, hi, method


def cube_estimates(sums: pd.DataFrame, dims: Sequence[str], opt: EstimateOptions,
                   cal: CalibrationMoments | None = None, units: pd.DataFrame | None = None
                   ) -> pd.DataFrame:
    """Estimates, SEs, CIs, CVs and flags for every cell of ``cube_sums``' output.

    With a declared design (``opt.design``), ``units`` is the second table of
    ``cube_design_sums``: the variance is the design's, over its units' totals.
    """
    s = sums.reset_index(drop=True)
    n_units = s["n"].to_numpy(float)
    if opt.design is not None and opt.replicates:
        # replicate weights of a declared design: no sums per design unit are needed
        value = _influence(opt.kind, s)[0]
        var = _replicate_variance(s, opt.kind, opt.replicates, value, opt.replicate_variance)
        variance = f"replicates({opt.replicates})"
    elif opt.design is not None:
        if units is None:
            raise ValueError("a declared design's variance needs the sums per design unit")
        value, var = _design_linearised_variance(s, units, dims, opt.kind,
                                                 cal if opt.weighted else None, opt.design)
        variance = "linearisation" + ("+calibration" if cal is not None and opt.weighted else "")
    elif opt.weighted or not opt.unit_is_psu or opt.kind != "proportion":
        value, var = _linearised_variance(s, opt.kind, opt.n_design, cal if opt.weighted else None)
        variance = "linearisation" + ("+calibration" if cal is not None and opt.weighted else "")
        if opt.replicates:
            var = _replicate_variance(s, opt.kind, opt.replicates, value, opt.replicate_variance)
            variance = f"bootstrap({opt.replicates})"
    else:
        # one unit per submission, no weights: the textbook binomial variance
        value = s["wy"].to_numpy(float) / s["wz"].to_numpy(float)
        var = value * (1 - value) / n_units
        variance = "binomial"
    se = np.sqrt(var)
    # proportions: Wilson and Clopper-Pearson on the effective sample size (Korn & Graubard
    # 1998) capped at n, which is n for the textbook binomial variance
    lo, hi, ci_method = _intervals(opt.kind, value, se, n_units, opt)
    with np.errstate(divide="ignore", invalid="ignore"):
        cv = np.where(value != 0, se / np.abs(value), np.nan)
    flag = reliability_flag(n_units, cv, ReliabilityRule(opt.min_n, opt.caution_cv,
                                                         opt.unreliable_cv))
    out = s[list(dims)].copy()
    out["value"], out["se"], out["ci_low"], out["ci_high"] = value, se, lo, hi
    out["cv"] = cv
    out["n"] = n_units.astype(int)
    out["n_psu"] = s["n_psu"].astype(int)
    out["weighted_n"] = s["wz"].to_numpy(float) if opt.kind in ("proportion", "mean", "count") \
        else np.nan
    out["flag"] = flag
    out["ci_method"], out["variance_method"] = ci_method, variance
    # the interval's degrees of freedom: inf (null in JSON) for the normal quantile
    out["df"] = float(opt.df) if opt.df is not None else np.inf
    return out
