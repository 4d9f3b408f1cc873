"""A declared sampling design, checked against the data it describes.

:class:`SurveyDesign` holds, per row, the design weight, the stratum, the first-stage
unit (PSU), optionally the second-stage unit (SSU) and the finite population
corrections of both stages, all as integer codes ready for vectorised variance
computation (:mod:`citizendata.survey.linear`). It is built from a data frame and a
declaration (:meth:`SurveyDesign.from_frame`, or a project's
:class:`~citizendata.projects.design.DesignSpec` with :meth:`SurveyDesign.from_spec`)
and refuses a declaration that does not fit the data with a coded error that says
where (source, column, values, rows) and how to fix it. Conventions follow R's
``survey::svydesign`` (Lumley 2010): an fpc value <= 1 is a sampling fraction, > 1 a
population size; SSU ids are read within their PSU when ``nest`` is true.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from citizendata.errors import BadInput, Where

if TYPE_CHECKING:
    from citizendata.projects.design import DesignSpec
    from citizendata.survey.assumption import VarianceAssumption

__all__ = ["LONELY_PSU", "FpcArg", "SurveyDesign"]

LONELY_PSU = ("fail", "remove", "certainty", "adjust", "average")
FpcArg = str | float | Mapping[Any, float] | None
_SHOW = 5  # offending values and rows named in a message


def _rows(mask: np.ndarray) -> str:
    """The first few 1-based data rows where ``mask`` holds, for a message."""
    idx = np.flatnonzero(mask)
    shown = ", ".join(str(i + 1) for i in idx[:_SHOW])
    more = f" and {len(idx) - _SHOW:,} more" if len(idx) > _SHOW else ""
    return f"row{'s' if len(idx) > 1 else ''} {shown}{more}"


def _first_row(mask: np.ndarray) -> int | None:
    idx = np.flatnonzero(mask)
    return int(idx[0]) + 1 if len(idx) else None


def _values(values: Any) -> str:
    vals = list(values)
    shown = ", ".join(repr(_plain(v)) for v in vals[:_SHOW])
    return shown + (f" and {len(vals) - _SHOW:,} more" if len(vals) > _SHOW else "")


def _plain(v: Any) -> Any:
    """A numpy scalar as a plain Python value (whole floats as int), for messages and JSON."""
    v = v.item() if isinstance(v, np.generic) else v
    if isinstance(v, float) and math.isfinite(v) and v.is_integer():
        return int(v)
    return v


def _bad(code: str, message: str, source: str, column: str | None = None,
         row: int | None = None, fix: str | None = None) -> BadInput:
    return BadInput(code, message, where=Where(file=source, column=column, row=row), fix=fix)


def _codes(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Integer codes 0..K-1 in sorted label order (as R's factor) and the labels."""
    # hashing (pandas) rather than sorting every row: a million string ids in a blink
    codes, labels = pd.factorize(np.asarray(values), sort=True)
    return np.asarray(codes, dtype=np.int64), np.asarray(labels)


def _pair_codes(outer: np.ndarray, inner: np.ndarray) -> np.ndarray:
    """Codes of the (outer, inner) pairs: inner ids read within each outer unit."""
    n_inner = int(inner.max()) + 1 if len(inner) else 1
    return _codes(outer.astype(np.int64) * n_inner + inner)[0]


def _key(v: Any) -> str:
    """A label as a dictionary key: whole floats without '.0', everything as str."""
    v = _plain(v)
    if isinstance(v, float) and math.isfinite(v) and v.is_integer():
        return str(int(v))
    return str(v)


@dataclass(frozen=True)
class SurveyDesign:
    """Per-row design codes and weights of a sample (see the module's docstring)."""

    weights: np.ndarray  # (n,) design weights d = 1/probability; ones for non_probability
    strata: np.ndarray  # (n,) int codes 0..H-1 (all 0 when unstratified)
    psu: np.ndarray  # (n,) int codes 0..m-1, unique across the design
    ssu: np.ndarray | None  # (n,) int codes unique across the design
    fpc1: np.ndarray | None  # (n,) population number of PSUs in the row's stratum (inf: none)
    fpc2: np.ndarray | None  # (n,) population number of SSUs in the row's PSU (inf: none)
    lonely_psu: str = "fail"
    non_probability: bool = False
    stratum_labels: np.ndarray | None = None  # original value of each stratum code
    psu_labels: np.ndarray | None = None  # original value of each PSU code
    declared_strata: bool = False
    declared_psu: bool = False
    source: str = "data"
    columns: dict[str, str] = field(default_factory=dict)  # role -> declared column

    # -- summaries ---------------------------------------------------------------------------

    @property
    def n(self) -> int:
        """Number of rows."""
        return int(self.weights.shape[0])

    @property
    def n_strata(self) -> int:
        """Number of strata (1 when unstratified)."""
        return int(self.strata.max()) + 1 if self.n else 0

    @property
    def n_psu(self) -> int:
        """Number of first-stage units."""
        return int(self.psu.max()) + 1 if self.n else 0

    @property
    def psu_strata(self) -> np.ndarray:
        """(m,) stratum code of each PSU."""
        out = np.zeros(self.n_psu, dtype=np.int64)
        out[self.psu] = self.strata
        return out

    @property
    def psu_fpc(self) -> np.ndarray | None:
        """(m,) population number of PSUs in each PSU's stratum (inf: none), or None."""
        if self.fpc1 is None:
            return None
        out = np.full(self.n_psu, np.inf)
        out[self.psu] = self.fpc1
        return out

    @property
    def n_psu_by_stratum(self) -> np.ndarray:
        """(H,) number of sampled PSUs in each stratum."""
        return np.bincount(self.psu_strata, minlength=self.n_strata)

    @property
    def df(self) -> int:
        """Design degrees of freedom: PSUs - strata (R's ``degf``).

        As R's ``degf`` of a linearised design, strata taken whole (f_h = 1) count too;
        :attr:`df_without_certainty` leaves them out, as R's degf of JKn replicates does.
        """
        return self.n_psu - self.n_strata

    @property
    def certainty_strata(self) -> np.ndarray:
        """(H,) strata whose PSUs were all taken (f_h = 1 to R's 1e-7): no sampling variance."""
        pf = self.psu_fpc
        if pf is None:
            return np.zeros(self.n_strata, dtype=bool)
        pop = np.full(self.n_strata, np.inf)
        pop[self.psu_strata] = pf
        n_h = self.n_psu_by_stratum
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.asarray(np.isfinite(pop) & ((pop - n_h) / pop < 1e-7))

    @property
    def df_without_certainty(self) -> int:
        """PSUs - strata over the strata not taken whole: R's ``degf`` of JKn replicates with
        the fpc (the rank of the replicate weights - 1; a certainty stratum's replicates are
        dropped)."""
        cert = self.certainty_strata
        return self.df - int((self.n_psu_by_stratum[cert] - 1).sum())

    @property
    def simple(self) -> bool:
        """True when nothing but weights is declared (each row its own PSU, one stratum)."""
        return not (self.declared_strata or self.declared_psu or self.fpc1 is not None)

    @property
    def assumption(self) -> str:
        """A sentence saying which variance assumption applies (English)."""
        return self.variance_assumption().text()

    def variance_assumption(self) -> VarianceAssumption:
        """Which variance assumption applies, as data (:mod:`citizendata.survey.assumption`)."""
        from citizendata.survey.assumption import VarianceAssumption

        lonely = int((self.n_psu_by_stratum == 1).sum())
        params: dict[str, Any] = {
            "n": self.n, "n_strata": self.n_strata if self.declared_strata else None,
            "n_psu": self.n_psu if self.declared_psu else None,
            "lonely_psu": self.lonely_psu if lonely else None, "n_lonely": lonely or None}
        if self.non_probability:
            if self.declared_strata or self.declared_psu:
                params["df"] = self.df
            return VarianceAssumption("non_probability", params)
        if self.simple:
            return VarianceAssumption("srs", {"n": self.n, "fpc": False})
        params.update(df=self.df, fpc=self.fpc1 is not None)
        if self.ssu is not None:
            code = "two_stage"
            params["stratified"] = self.declared_strata
            if self.fpc1 is None:
                params["second_stage"] = "in_first"
            else:
                fpc2 = self.fpc2 is not None and bool(np.isfinite(self.fpc2).any())
                params["second_stage"] = "fpc" if fpc2 else "with_replacement"
        elif self.declared_psu:
            code = "stratified_cluster" if self.declared_strata else "cluster"
        else:
            code = "stratified" if self.declared_strata else "srs"
        return VarianceAssumption(code, params)

    def describe(self) -> dict[str, Any]:
        """A JSON-ready summary of the design."""
        return {"rows": self.n, "strata": self.n_strata, "psu": self.n_psu, "df": self.df,
                "ssu": self.ssu is not None, "fpc": self.fpc1 is not None,
                "lonely_psu": self.lonely_psu, "non_probability": self.non_probability,
                "assumption": self.assumption}

    def subset(self, rows: np.ndarray) -> SurveyDesign:
        """The design restricted to some rows (codes re-numbered; population sizes kept)."""
        keep = np.asarray(rows)
        strata, s_lab = _codes(self.strata[keep])
        psu, p_lab = _codes(self.psu[keep])
        ssu = None if self.ssu is None else _codes(self.ssu[keep])[0]
        return SurveyDesign(
            weights=self.weights[keep], strata=strata, psu=psu, ssu=ssu,
            fpc1=None if self.fpc1 is None else self.fpc1[keep],
            fpc2=None if self.fpc2 is None else self.fpc2[keep],
            lonely_psu=self.lonely_psu, non_probability=self.non_probability,
            stratum_labels=None if self.stratum_labels is None else self.stratum_labels[s_lab],
            psu_labels=None if self.psu_labels is None else self.psu_labels[p_lab],
            declared_strata=self.declared_strata, declared_psu=self.declared_psu,
            source=self.source, columns=dict(self.columns))

    # -- construction --------------------------------------------------------------------------

    @classmethod
    def from_spec(cls, data: pd.DataFrame, spec: DesignSpec, source: str = "data") -> SurveyDesign:
        """The design a project spec declares, checked against ``data``."""
        return cls.from_frame(data, weights=spec.weights, probabilities=spec.probabilities,
                              strata=spec.strata, psu=spec.psu, ssu=spec.ssu, fpc=spec.fpc,
                              fpc2=spec.fpc2, nest=spec.nest, lonely_psu=spec.lonely_psu,
                              non_probability=spec.non_probability, source=source)

    @classmethod
    def from_frame(cls, data: pd.DataFrame, *, weights: str | None = None,
                   probabilities: str | None = None, strata: str | None = None,
                   psu: str | None = None, ssu: str | None = None, fpc: FpcArg = None,
                   fpc2: FpcArg = None, nest: bool = False, lonely_psu: str = "fail",
                   non_probability: bool = False, source: str = "data") -> SurveyDesign:
        """Build and check a design from columns of ``data`` (see the module's docstring)."""
        _check_settings(data, source, weights=weights, probabilities=probabilities,
                        strata=strata, psu=psu, ssu=ssu, fpc=fpc, fpc2=fpc2,
                        lonely_psu=lonely_psu, non_probability=non_probability)
        n = len(data)
        if n == 0:
            raise _bad("design.invalid", f"{source} has no rows to estimate from.", source)
        for col in (strata, psu, ssu):
            if col is not None:
                _no_missing(data[col], col, source)
        if strata is not None:
            s_codes, s_labels = _codes(_labels(data[strata]))
        else:
            s_codes, s_labels = np.zeros(n, dtype=np.int64), np.array(["all"], dtype=object)
        if psu is not None:
            psu_values = _labels(data[psu])
            raw_psu, p_labels_all = _codes(psu_values)
            if nest:
                p_codes = _pair_codes(s_codes, raw_psu)
            else:
                _check_nested(raw_psu, s_codes, p_labels_all, s_labels, psu, strata, source)
                p_codes = raw_psu
            first = np.zeros(int(p_codes.max()) + 1, dtype=np.int64)
            first[p_codes[::-1]] = np.arange(n)[::-1]  # first row of each PSU
            p_labels = np.asarray(psu_values)[first]
        else:
            p_codes, p_labels = np.arange(n, dtype=np.int64), np.arange(1, n + 1)
        ssu_codes = None
        if ssu is not None:
            raw_ssu, ssu_labels = _codes(_labels(data[ssu]))
            if nest:
                ssu_codes = _pair_codes(p_codes, raw_ssu)
            else:
                _check_nested(raw_ssu, p_codes, ssu_labels, p_labels, ssu, psu, source,
                              inner="second-stage unit", outer="first-stage unit")
                ssu_codes = raw_ssu
        n_h = np.bincount(_first_codes(p_codes, s_codes), minlength=int(s_codes.max()) + 1)
        fpc1_rows = None
        if fpc is not None:
            fpc1_rows = _population(data, fpc, s_codes, s_labels, n_h[s_codes], strata, source,
                                    stage=1)
        fpc2_rows = None
        if fpc2 is not None and ssu_codes is not None:
            m_i = np.bincount(_first_codes(ssu_codes, p_codes), minlength=len(p_labels))
            fpc2_rows = _population(data, fpc2, p_codes, p_labels, m_i[p_codes], psu, source,
                                    stage=2)
        elif ssu_codes is not None and fpc1_rows is not None:
            fpc2_rows = np.full(n, np.inf)  # second stage with replacement
        d = _design_weights(data, weights, probabilities, non_probability, fpc1_rows,
                            fpc2_rows, n_h[s_codes], ssu_codes, p_codes, source)
        return cls(weights=d, strata=s_codes, psu=p_codes, ssu=ssu_codes, fpc1=fpc1_rows,
                   fpc2=fpc2_rows, lonely_psu=lonely_psu, non_probability=non_probability,
                   stratum_labels=np.asarray(s_labels, dtype=object),
                   psu_labels=np.asarray(p_labels, dtype=object),
                   declared_strata=strata is not None, declared_psu=psu is not None,
                   source=source, columns={k: v for k, v in (
                       ("weights", weights), ("probabilities", probabilities),
                       ("strata", strata), ("psu", psu), ("ssu", ssu)) if v is not None})


# -- checks ----------------------------------------------------------------------------------


def _labels(col: pd.Series) -> np.ndarray:
    """Column values as sortable labels (numbers stay numbers, anything else str)."""
    if pd.api.types.is_numeric_dtype(col.dtype) and not pd.api.types.is_bool_dtype(col.dtype):
        return col.to_numpy(dtype=float, na_value=np.nan)
    return col.astype(str).to_numpy(dtype=object)


def _first_codes(inner: np.ndarray, outer: np.ndarray) -> np.ndarray:
    """The outer code of each distinct inner unit (inner nested in outer)."""
    out = np.zeros(int(inner.max()) + 1, dtype=np.int64)
    out[inner] = outer
    return out


def _check_settings(data: pd.DataFrame, source: str, *, weights: str | None,
                    probabilities: str | None, strata: str | None, psu: str | None,
                    ssu: str | None, fpc: FpcArg, fpc2: FpcArg, lonely_psu: str,
                    non_probability: bool) -> None:
    if lonely_psu not in LONELY_PSU:
        raise _bad("design.invalid", f"lonely_psu must be one of {', '.join(LONELY_PSU)}, "
                   f"not {lonely_psu!r}.", source)
    if weights is not None and probabilities is not None:
        raise _bad("design.invalid", "Give design weights or inclusion probabilities, not "
                   "both.", source)
    if ssu is not None and psu is None:
        raise _bad("design.invalid", "Second-stage units (ssu) need first-stage units (psu).",
                   source, ssu)
    if fpc2 is not None and (fpc is None or ssu is None):
        raise _bad("design.invalid", "A second-stage fpc (fpc2) needs the first-stage fpc and "
                   "second-stage units (ssu).", source)
    if non_probability and (weights or probabilities or fpc is not None):
        raise _bad("design.invalid", "A non-probability sample has no design weights, "
                   "inclusion probabilities or fpc.", source,
                   fix="Drop non_probability, or drop the weights and fpc and calibrate.")
    cols = [("weights", weights), ("probabilities", probabilities), ("strata", strata),
            ("psu", psu), ("ssu", ssu)]
    cols += [(k, v) for k, v in (("fpc", fpc), ("fpc2", fpc2)) if isinstance(v, str)]
    for role, col in cols:
        if col is not None and col not in data.columns:
            import difflib

            near = difflib.get_close_matches(col, [str(c) for c in data.columns], n=3)
            hint = f"; did you mean {', '.join(repr(c) for c in near)}?" if near else ""
            raise _bad("design.invalid", f"The {role} column {col!r} is not in {source}{hint} "
                       f"Its columns: {', '.join(map(str, list(data.columns)[:30]))}.",
                       source, col, fix=f"Name an existing column for {role}.")


def _no_missing(col: pd.Series, name: str, source: str) -> None:
    miss = col.isna().to_numpy()
    if not pd.api.types.is_numeric_dtype(col.dtype):
        miss = miss | (col.astype(str).str.strip() == "").to_numpy()
    if miss.any():
        raise _bad("design.missing_value", f"Column {name!r} of {source} has no value in "
                   f"{_rows(miss)} ({int(miss.sum()):,} in all).", source, name,
                   _first_row(miss), fix=f"Give every row its {name}, or leave those rows out "
                   "before estimating.")


def _check_nested(codes: np.ndarray, outer_codes: np.ndarray, inner_labels: np.ndarray,
                  outer_labels: np.ndarray, inner_col: str, outer_col: str | None, source: str,
                  *, inner: str = "first-stage unit", outer: str = "stratum") -> None:
    """Every inner unit lies in one outer unit, else design.not_nested naming them."""
    if outer_col is None:
        return
    n_outer = int(outer_codes.max()) + 1
    keys = np.unique(codes.astype(np.int64) * n_outer + outer_codes)
    pairs = np.column_stack([keys // n_outer, keys % n_outer])
    count = np.bincount(pairs[:, 0], minlength=len(inner_labels))
    bad = np.flatnonzero(count > 1)
    if not len(bad):
        return
    unit = bad[0]
    where_outer = pairs[pairs[:, 0] == unit, 1]
    rows = np.isin(codes, bad)
    raise _bad("design.not_nested",
               f"The {inner} {_plain(inner_labels[unit])!r} ({inner_col}) appears in "
               f"{len(where_outer)} {outer}s ({outer_col} {_values(outer_labels[where_outer])}); "
               f"{len(bad):,} {inner}(s) in all are in more than one {outer}: "
               f"{_values(inner_labels[bad])}, at {_rows(rows)} of {source}.",
               source, inner_col, _first_row(rows),
               fix=f"Give {inner}s ids unique within their {outer}, or declare nest: true "
                   f"(--nest) so {inner_col} is read within each {outer}.")


def _population(data: pd.DataFrame, fpc: FpcArg, groups: np.ndarray, labels: np.ndarray,
                sampled: np.ndarray, group_col: str | None, source: str, *, stage: int
                ) -> np.ndarray:
    """Per-row population size at one stage from a column, a number or a dict by group."""
    name = "fpc" if stage == 1 else "fpc2"
    unit = "stratum" if stage == 1 else "first-stage unit"
    if isinstance(fpc, str):
        col = data[fpc]
        _no_missing(col, fpc, source)
        vals = pd.to_numeric(col, errors="coerce").to_numpy(dtype=float)
        bad = ~np.isfinite(vals) & ~(vals == np.inf)
        if bad.any():
            raise _bad("design.fpc_invalid", f"Column {fpc!r} of {source} is not a number in "
                       f"{_rows(bad)}.", source, fpc, _first_row(bad))
        column: str | None = fpc
    elif isinstance(fpc, Mapping):
        given = {_key(k): float(v) for k, v in fpc.items()}
        keys = np.array([_key(v) for v in labels], dtype=object)
        absent = [k for k in keys if k not in given]
        if absent:
            raise _bad("design.fpc_invalid", f"The {name} gives no population size for "
                       f"{unit}(s) {_values(absent)}" + (f" ({group_col})" if group_col else "")
                       + ".", source, group_col,
                       fix=f"Give a size for every {unit}: " + ", ".join(keys[:_SHOW]) + " …")
        vals = np.array([given[k] for k in keys], dtype=float)[groups]
        column = group_col
    else:
        vals = np.full(len(groups), float(fpc))  # type: ignore[arg-type]
        column = None
    if (vals <= 0).any() or np.isnan(vals).any():
        bad = ~(vals > 0)
        raise _bad("design.fpc_invalid", f"The {name} must be a sampling fraction in (0, 1] or "
                   f"a population size > 1; {_values(np.unique(vals[bad]))} at {_rows(bad)}.",
                   source, column, _first_row(bad))
    # constant within the stratum (stage 1) or PSU (stage 2)
    lo = np.full(len(labels), np.inf)
    hi = np.full(len(labels), -np.inf)
    np.minimum.at(lo, groups, vals)
    np.maximum.at(hi, groups, vals)
    varying = np.flatnonzero(lo != hi)
    if len(varying):
        rows = np.isin(groups, varying)
        raise _bad("design.fpc_invalid", f"The {name} is not constant within {unit} "
                   f"{_plain(labels[varying[0]])!r}: values {_values(np.unique(vals[groups == varying[0]]))}"
                   f" ({len(varying):,} {unit}(s) vary; {_rows(rows)}).", source, column,
                   _first_row(rows), fix=f"Give one {name} per {unit}.")
    # R's convention: all <= 1 are fractions, all >= 1 population sizes, never mixed
    if (vals > 1).any() and (vals < 1).any():
        raise _bad("design.fpc_invalid", f"The {name} mixes sampling fractions (<= 1, e.g. "
                   f"{_plain(vals[vals < 1][0])}) and population sizes (> 1, e.g. "
                   f"{_plain(vals[vals > 1][0])}).", source, column,
                   fix="Give either sampling fractions or population sizes, for every unit.")
    pop = vals if (vals > 1).any() else sampled / vals
    short = pop < sampled - 1e-9
    if short.any():
        g = groups[np.flatnonzero(short)[0]]
        raise _bad("design.fpc_invalid", f"The {name} gives {unit} {_plain(labels[g])!r} a "
                   f"population of {pop[groups == g][0]:,.6g} units, fewer than the "
                   f"{int(sampled[groups == g][0]):,} sampled in it ({_rows(short)}).",
                   source, column, _first_row(short),
                   fix="A population size is at least the number of units sampled from it; "
                       "a sampling fraction is sampled / population, in (0, 1].")
    return np.asarray(pop, dtype=float)


def _design_weights(data: pd.DataFrame, weights: str | None, probabilities: str | None,
                    non_probability: bool, fpc1: np.ndarray | None, fpc2: np.ndarray | None,
                    n_h: np.ndarray, ssu: np.ndarray | None, psu: np.ndarray, source: str
                    ) -> np.ndarray:
    """Design weights from a column, from probabilities, from the fpc (as R), or ones."""
    n = len(data)
    col = weights or probabilities
    if col is not None:
        _no_missing(data[col], col, source)
        x = pd.to_numeric(data[col], errors="coerce").to_numpy(dtype=float)
        if weights is not None:
            bad = ~(np.isfinite(x) & (x > 0))
            rule = "a design weight must be a positive number"
        else:
            bad = ~(np.isfinite(x) & (x > 0) & (x <= 1))
            rule = "an inclusion probability must be in (0, 1]"
        if bad.any():
            raise _bad("design.invalid", f"Column {col!r} of {source}: {rule}; "
                       f"{_values(data[col].to_numpy()[bad][:_SHOW])} at {_rows(bad)}.",
                       source, col, _first_row(bad))
        return x if weights is not None else 1.0 / x
    if non_probability or fpc1 is None:
        return np.ones(n)
    # as R's svydesign without weights: the inverse of the sampling fractions of each stage
    w = fpc1 / n_h
    if ssu is not None:
        if fpc2 is None or not np.isfinite(fpc2).all():
            raise _bad("design.invalid", "Design weights cannot be computed from the fpc: the "
                       "second stage has no population sizes.", source,
                       fix="Give the design weights (or inclusion probabilities), or the "
                           "second-stage fpc (fpc2).")
        m_i = np.bincount(_first_codes(ssu, psu), minlength=int(psu.max()) + 1)[psu]
        w = w * fpc2 / m_i
    if not np.isfinite(w).all():
        bad = ~np.isfinite(w)
        raise _bad("design.invalid", "Design weights cannot be computed from an fpc without a "
                   f"population size (infinite) at {_rows(bad)}.", source, row=_first_row(bad),
                   fix="Give the design weights (or inclusion probabilities).")
    return np.asarray(w, dtype=float)
