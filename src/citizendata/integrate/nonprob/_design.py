"""Checks on the two samples and the design matrices both models use (private).

Every problem found becomes a coded error (``nonprob.invalid``) that says which
sample, which column, which rows, and how to fix it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from citizendata.errors import BadInput, Problem, Where
from citizendata.integrate.nonprob._variance import design_codes

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["SAMPLE_A", "SAMPLE_B", "Prepared", "prepare"]

SAMPLE_A = "citizen sample"
SAMPLE_B = "reference survey"
_SHOW = 5  # rows or categories named in a message


@dataclass
class Prepared:
    """The numbers the estimators need, both samples aligned on one set of columns."""

    xa_p: np.ndarray  # propensity model design, citizen sample (intercept first)
    xb_p: np.ndarray  # propensity model design, reference survey
    xa_o: np.ndarray  # outcome model design, citizen sample
    xb_o: np.ndarray  # outcome model design, reference survey
    names_p: list[str]
    names_o: list[str]
    y: np.ndarray  # outcome in the citizen sample
    d: np.ndarray  # design weights of the reference survey
    strata: np.ndarray  # integer stratum codes of the reference survey
    psu: np.ndarray  # integer PSU codes of the reference survey
    binary: bool  # the outcome is 0/1 (logistic outcome model)
    by: str | None = None  # the domain column, if any
    domains: list[str] = field(default_factory=list)  # its categories, sorted
    dom_a: np.ndarray | None = None  # domain code of each citizen unit
    dom_b: np.ndarray | None = None  # domain code of each survey unit


def _rows(mask: np.ndarray) -> str:
    """The first few 1-based data rows where ``mask`` holds."""
    pos = np.flatnonzero(mask) + 1
    shown = ", ".join(str(int(p)) for p in pos[:_SHOW])
    return shown + (f" and {pos.size - _SHOW} more" if pos.size > _SHOW else "")


def _missing_columns(citizen: pd.DataFrame, reference: pd.DataFrame, covariates: list[str],
                     y: str, design: dict[str, str | None]) -> list[Problem]:
    """Columns asked for that a sample does not have."""
    out = []
    for frame, label, cols in ((citizen, SAMPLE_A, [*covariates, y]),
                               (reference, SAMPLE_B, [*covariates, *[c for c in design.values() if c]])):
        for c in cols:
            if c not in frame.columns:
                out.append(Problem("nonprob.invalid", f"the {label} has no column {c!r}",
                                   where=Where(file=label, column=c),
                                   fix=f"Add {c!r} to the {label}, or name another column "
                                       f"(it has {', '.join(map(str, list(frame.columns)[:12]))})."))
    return out


def _missing_values(frame: pd.DataFrame, label: str, cols: list[str]) -> list[Problem]:
    """Empty cells in columns that must be complete."""
    out = []
    for c in cols:
        miss = frame[c].isna().to_numpy()
        if miss.any():
            out.append(Problem(
                "nonprob.invalid", f"{int(miss.sum())} row(s) of the {label} have no {c!r} "
                f"(rows {_rows(miss)})", where=Where(file=label, column=c,
                                                     row=int(np.flatnonzero(miss)[0]) + 1),
                fix=f"Drop those rows of the {label}, or impute {c!r} before estimating."))
    return out


def _is_numeric(s: pd.Series) -> bool:
    import pandas as pd

    return bool(pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s))


@dataclass
class _Block:
    """The design columns of one covariate in both samples."""

    names: list[str]
    xa: np.ndarray
    xb: np.ndarray
    problems: list[Problem]


def _codes(a: pd.Series, b: pd.Series) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One hash-based coding of a column in both samples (sorting a million strings is slow)."""
    import pandas as pd

    codes, uniq = pd.factorize(pd.concat([a.astype(str), b.astype(str)], ignore_index=True))
    return np.asarray(uniq, dtype=object), codes[:len(a)], codes[len(a):]


def _one_sided(c: str, levels: np.ndarray, ca: np.ndarray, cb: np.ndarray) -> list[Problem]:
    """Categories of ``c`` found in one sample only, named, with their rows."""
    in_a = np.bincount(ca, minlength=levels.size) > 0
    in_b = np.bincount(cb, minlength=levels.size) > 0
    problems = []
    for only, label, other, cc in ((in_a & ~in_b, SAMPLE_A, SAMPLE_B, ca),
                                   (in_b & ~in_a, SAMPLE_B, SAMPLE_A, cb)):
        if only.any():
            cats = sorted(levels[only].tolist())
            problems.append(Problem(
                "nonprob.invalid",
                f"{c!r} has categories in the {label} that the {other} never has: "
                f"{', '.join(map(repr, cats[:_SHOW]))}"
                f"{f' and {len(cats) - _SHOW} more' if len(cats) > _SHOW else ''} "
                f"(rows {_rows(only[cc])} of the {label})",
                where=Where(file=label, column=c),
                fix=f"Code {c!r} the same way in both samples, or merge those categories "
                    f"with a neighbouring one in both."))
    return problems


def _domains(citizen: pd.DataFrame, reference: pd.DataFrame, by: str
             ) -> tuple[list[str], np.ndarray, np.ndarray, list[Problem]]:
    """The domains of ``by`` (sorted labels) and each unit's domain in both samples."""
    levels, ca, cb = _codes(citizen[by], reference[by])
    problems = _one_sided(by, levels, ca, cb)
    order = np.argsort(levels.astype(str))
    rank = np.empty(levels.size, dtype=np.int64)
    rank[order] = np.arange(levels.size)
    dom_a, dom_b = rank[ca], rank[cb]
    small = [str(levels[order][k]) for k in np.flatnonzero(np.bincount(dom_a, minlength=levels.size) < 2)]
    if small:
        problems.append(Problem("nonprob.invalid", f"domain(s) {', '.join(map(repr, small[:_SHOW]))} of "
                                f"{by!r} have fewer than two citizen units", where=Where(
                                    file=SAMPLE_A, column=by),
                                fix="Merge small domains with a neighbouring one."))
    return [str(v) for v in levels[order].tolist()], dom_a, dom_b, problems


def _block(citizen: pd.DataFrame, reference: pd.DataFrame, c: str) -> _Block:
    """A number as it is, or a category as indicator columns (the first level left out)."""

    a, b = citizen[c], reference[c]
    if _is_numeric(a) and _is_numeric(b):
        return _Block([c], a.to_numpy(dtype=float)[:, None], b.to_numpy(dtype=float)[:, None], [])
    levels, ca, cb = _codes(a, b)
    problems = _one_sided(c, levels, ca, cb)
    order = np.argsort(levels.astype(str))  # sorted levels; the first is the reference
    rank = np.empty(levels.size, dtype=np.int64)
    rank[order] = np.arange(levels.size)
    names = [f"{c}={lev}" for lev in levels[order][1:].tolist()]

    def dummies(cc: np.ndarray) -> np.ndarray:
        x = np.zeros((cc.size, max(levels.size - 1, 0)))
        r = rank[cc]
        hit = r > 0
        x[np.flatnonzero(hit), r[hit] - 1] = 1.0
        return x

    return _Block(names, dummies(ca), dummies(cb), problems)


def _columns(blocks: dict[str, _Block], covs: list[str], n_a: int, n_b: int
             ) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Design matrices (intercept first) of the covariates ``covs``."""
    names = ["(intercept)", *[n for c in covs for n in blocks[c].names]]
    xa = np.hstack([np.ones((n_a, 1)), *[blocks[c].xa for c in covs]])
    xb = np.hstack([np.ones((n_b, 1)), *[blocks[c].xb for c in covs]])
    return names, xa, xb


def _design(reference: pd.DataFrame, weights: str | None, strata: str | None, psu: str | None
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[Problem]]:
    """Design weights and stratum/PSU codes of the reference survey."""
    n = len(reference)
    problems: list[Problem] = []
    if weights is None:
        problems.append(Problem("nonprob.invalid", "the reference survey's design weights are not "
                                "given", where=Where(file=SAMPLE_B, field="weights"),
                                fix="Name the reference survey's design-weight column (--ref-weights)."))
        d = np.ones(n)
    else:
        import pandas as pd

        d = pd.to_numeric(reference[weights], errors="coerce").to_numpy(dtype=float)
        bad = ~np.isfinite(d) | (d <= 0)
        if bad.any():
            problems.append(Problem(
                "nonprob.invalid", f"{int(bad.sum())} design weight(s) in {weights!r} are missing, "
                f"not numbers or not positive (rows {_rows(bad)})",
                where=Where(file=SAMPLE_B, column=weights, row=int(np.flatnonzero(bad)[0]) + 1),
                fix="Every unit of the reference survey needs a positive design weight "
                    "(the inverse of its inclusion probability)."))
    h_raw = None if strata is None else reference[strata].astype(str).to_numpy()
    p_raw = None if psu is None else reference[psu].astype(str).to_numpy()
    h, p = design_codes(h_raw, p_raw, n)
    if n:
        psu_h = np.zeros(int(p.max()) + 1, dtype=np.int64)
        psu_h[p] = h
        per = np.bincount(psu_h)
        lonely = np.flatnonzero(per == 1)
        if lonely.size and h_raw is not None:
            names = sorted({str(h_raw[h == k][0]) for k in lonely})
            problems.append(Problem(
                "design.lonely_psu", f"stratum/strata {', '.join(map(repr, names[:_SHOW]))} of the "
                f"reference survey have a single PSU, so their variance cannot be estimated",
                where=Where(file=SAMPLE_B, column=strata),
                fix="Collapse each such stratum with a similar one (the usual practice)."))
        elif lonely.size:
            problems.append(Problem("nonprob.invalid", "the reference survey has a single PSU",
                                    where=Where(file=SAMPLE_B, column=psu),
                                    fix="A variance needs two PSUs or more."))
    return d, h, p, problems


def prepare(citizen: pd.DataFrame, reference: pd.DataFrame, *, covariates: list[str], y: str,
            weights: str | None, strata: str | None = None, psu: str | None = None,
            propensity_covariates: list[str] | None = None,
            outcome_covariates: list[str] | None = None, outcome: str = "auto",
            by: str | None = None) -> Prepared:
    """Check both samples and build what the estimators need; raise one coded error listing every problem."""
    import pandas as pd

    prop = list(propensity_covariates) if propensity_covariates is not None else list(covariates)
    outc = list(outcome_covariates) if outcome_covariates is not None else list(covariates)
    allc = list(dict.fromkeys([*covariates, *prop, *outc]))
    if not allc:
        raise BadInput("nonprob.invalid", "no covariates are given", where=Where(field="covariates"),
                       fix="Name the covariates both samples measure (e.g. ward, age_group).")
    design = {"weights": weights, "strata": strata, "psu": psu}
    extra = [by] if by is not None else []
    problems = _missing_columns(citizen, reference, [*allc, *extra], y, design)
    if problems:
        _fail(problems)
    problems += _missing_values(citizen, SAMPLE_A, list(dict.fromkeys([*allc, *extra, y])))
    problems += _missing_values(reference, SAMPLE_B, list(dict.fromkeys(
        [*allc, *extra, *[c for c in (strata, psu) if c]])))
    yv = pd.to_numeric(citizen[y], errors="coerce") if not pd.api.types.is_bool_dtype(citizen[y]) \
        else citizen[y].astype(float)
    bad_y = yv.isna().to_numpy() & citizen[y].notna().to_numpy()
    if bad_y.any():
        problems.append(Problem("nonprob.invalid", f"{y!r} is not a number in {int(bad_y.sum())} "
                                f"row(s) of the citizen sample (rows {_rows(bad_y)})",
                                where=Where(file=SAMPLE_A, column=y), fix="Code the outcome as "
                                "numbers (0/1 for a yes/no indicator)."))
    if problems:
        _fail(problems)
    blocks = {c: _block(citizen, reference, c) for c in allc}
    problems += [p for c in allc for p in blocks[c].problems]
    names_p, xa_p, xb_p = _columns(blocks, prop, len(citizen), len(reference))
    names_o, xa_o, xb_o = _columns(blocks, outc, len(citizen), len(reference))
    d, h, p, pr3 = _design(reference, weights, strata, psu)
    problems += pr3
    domains: tuple[list[str], np.ndarray | None, np.ndarray | None] = ([], None, None)
    if by is not None and not problems:
        labels, dom_a, dom_b, pr4 = _domains(citizen, reference, by)
        problems += pr4
        domains = (labels, dom_a, dom_b)
    k = max(len(names_p), len(names_o))
    for n, label in ((len(citizen), SAMPLE_A), (len(reference), SAMPLE_B)):
        if n < k + 2:
            problems.append(Problem("nonprob.invalid", f"the {label} has {n} row(s), too few for "
                                    f"models with {k} parameters", where=Where(file=label),
                                    fix="Use fewer covariates or categories, or more units."))
    if problems:
        _fail(problems)
    yarr = yv.to_numpy(dtype=float)
    binary = bool(np.isin(yarr, (0.0, 1.0)).all()) if outcome == "auto" else outcome == "logistic"
    if outcome not in ("auto", "linear", "logistic"):
        raise BadInput("nonprob.invalid", f"outcome must be auto, linear or logistic, not {outcome!r}",
                       where=Where(field="outcome"), fix="Use auto, linear or logistic.")
    if binary and not np.isin(yarr, (0.0, 1.0)).all():
        raise BadInput("nonprob.invalid", f"a logistic outcome model needs {y!r} coded 0/1",
                       where=Where(file=SAMPLE_A, column=y), fix="Code the outcome 0/1, or use a "
                       "linear outcome model.")
    return Prepared(xa_p, xb_p, xa_o, xb_o, names_p, names_o, yarr, d, h, p, binary, by, *domains)


def _fail(problems: list[Problem]) -> None:
    """Raise one error carrying every problem; the first one gives the headline."""
    first = problems[0]
    code = "design.lonely_psu" if all(p.code == "design.lonely_psu" for p in problems) \
        else "nonprob.invalid"
    more = f" (and {len(problems) - 1} more problem(s))" if len(problems) > 1 else ""
    raise BadInput(code, first.message + more, where=first.where, fix=first.fix, problems=problems)
