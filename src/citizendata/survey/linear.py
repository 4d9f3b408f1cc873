"""Linearised (Taylor) variance of weighted totals under a stratified multi-stage design.

The estimator is R survey's ``svyrecvar`` (version 4.1.1): the first stage as drawn
with replacement within strata, times the finite population correction when one is
declared, plus, when the first stage has an fpc and second-stage units are declared,
the second-stage term scaled by the first-stage sampling fraction n_h / N_h
(Särndal, Swensson & Wretman 1992, result 4.3.1; Wolter 2007, ch. 1; Lumley 2010,
ch. 2 and 3). A stratum with a single PSU is handled by ``lonely_psu`` exactly as R's
``survey.lonely.psu`` option. Formulas: ``docs/methods/variance.md``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from citizendata.errors import BadInput, Where

if TYPE_CHECKING:
    from citizendata.survey.design import SurveyDesign

__all__ = ["group_sums", "psu_totals_variance", "svyrecvar", "unit_totals_variance"]

_CERTAIN = 1e-7  # R's threshold: a stratum sampled with fraction 1 - f below this adds 0


def group_sums(x: np.ndarray, codes: np.ndarray, size: int) -> np.ndarray:
    """Rows of ``x`` (n, k) summed by integer ``codes`` into (size, k), vectorised."""
    from scipy import sparse

    x = np.asarray(x, dtype=float)
    x2 = x.reshape(x.shape[0], -1)
    if x2.shape[1] == 1:
        return np.bincount(codes, weights=x2[:, 0], minlength=size)[:, None]
    # a sparse (size x n) indicator: counting sort in C, then one product for all k columns
    n = x2.shape[0]
    indicator = sparse.csr_matrix((np.ones(n), (codes, np.arange(n))), shape=(size, n))
    return np.asarray(indicator @ x2)


def _label(v: Any) -> str:
    """A value as text: whole floats without '.0' (a stratum label 3.0 reads "3", and a
    category 3.0 matches "3")."""
    v = v.item() if isinstance(v, np.generic) else v
    return str(int(v)) if isinstance(v, float) and v.is_integer() else str(v)


def _stratum_terms(totals: np.ndarray, strata: np.ndarray, fpc: np.ndarray | None,
                   lonely_psu: str, grand_mean: np.ndarray | None, labels: Any,
                   stage: int = 1) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Deviations scaled by sqrt of R's per-PSU factor, and which strata are lonely / NA."""
    m = totals.shape[0]
    H = int(strata.max()) + 1 if m else 0
    n_h = np.bincount(strata, minlength=H).astype(float)
    present = n_h > 0
    if fpc is None:
        f_h = np.ones(H)
    else:
        pop = np.full(H, np.inf)
        pop[strata] = np.asarray(fpc, dtype=float)
        with np.errstate(invalid="ignore", divide="ignore"):
            f_h = np.where(np.isinf(pop), 1.0, (pop - n_h) / pop)
    lonely = present & (n_h == 1)
    certain = present & (f_h < _CERTAIN)  # R returns 0 before looking at lonely strata
    lonely_live = lonely & ~certain
    if lonely_psu == "fail" and lonely_live.any():
        bad = np.flatnonzero(lonely_live)
        names = [_label(labels[h]) if labels is not None else str(h) for h in bad[:5]]
        where = "stratum" if stage == 1 else "first-stage unit"
        raise BadInput("design.lonely_psu",
                       f"{len(bad):,} {where}(s) have only one sampled "
                       f"{'PSU' if stage == 1 else 'second-stage unit'}, so their variance "
                       f"cannot be estimated: {where} {', '.join(names)}"
                       + (" …" if len(bad) > 5 else "") + f" (stage {stage}).",
                       details={"strata": names, "stage": stage})
    with np.errstate(invalid="ignore", divide="ignore"):
        scale_h = np.where(n_h > 1, f_h * n_h / (n_h - 1.0), f_h)
    scale_h = np.where(certain, 0.0, scale_h)
    sums = group_sums(totals, strata, H)
    means = sums / np.where(n_h > 0, n_h, 1.0)[:, None]
    dev = totals - means[strata]
    if lonely_psu == "adjust" and lonely_live.any():
        # R does not centre a lonely stratum's PSU total under "adjust": it is its deviation
        # from zero, the grand mean of influence values that sum to zero (means, proportions)
        rows = lonely_live[strata]
        centre = 0.0 if grand_mean is None else np.asarray(grand_mean, dtype=float)
        dev[rows] = totals[rows] - centre
    else:
        # remove, certainty: a lonely stratum adds nothing; average: it is left out and the
        # others are rescaled (below)
        scale_h = np.where(lonely_live, 0.0, scale_h)
    dev *= np.sqrt(scale_h)[strata][:, None]
    na = lonely_live if lonely_psu == "average" else np.zeros(H, dtype=bool)
    return dev, present, na


def psu_totals_variance(totals: np.ndarray, strata: np.ndarray, *, fpc: np.ndarray | None = None,
                        lonely_psu: str = "fail", grand_mean: np.ndarray | None = None,
                        diag: bool = False, stratum_labels: Any = None,
                        present: np.ndarray | None = None) -> np.ndarray:
    """Variance of the sum of first-stage unit totals (m, k) under stratified sampling.

    ``sum_h (1 - f_h) n_h/(n_h - 1) sum_i (t_hi - tbar_h)(t_hi - tbar_h)'`` over all m PSUs
    (zeros for PSUs with nothing in a domain), ``fpc`` the population number of PSUs in
    each PSU's stratum (inf or None: with replacement). Lonely strata as R's
    ``survey.lonely.psu``: ``fail`` raises design.lonely_psu; ``remove`` and ``certainty``
    add 0; ``adjust`` takes the PSU total's deviation from ``grand_mean`` (0 by default, as
    R); ``average`` leaves them out and multiplies by strata / strata with a variance.
    ``present`` (m, k), optional: which PSUs have a row in each column's domain; as R's
    ``svyby`` on an uncalibrated design, ``average`` then counts only the strata present
    in the domain. Returns (k, k), or the k variances when ``diag``.
    """
    t = np.asarray(totals, dtype=float)
    t = t.reshape(t.shape[0], -1)
    s = np.asarray(strata, dtype=np.int64)
    k = t.shape[1]
    if t.shape[0] == 0:
        return np.zeros(k) if diag else np.zeros((k, k))
    dev, live, na = _stratum_terms(t, s, fpc, lonely_psu, grand_mean, stratum_labels)
    v = np.einsum("ij,ij->j", dev, dev) if diag else dev.T @ dev
    if na.any():
        f = _average_factor(s, live, na, k, domain=present_psu(present, s, na))
        v = v * (np.sqrt(np.outer(f, f)) if not diag and np.ndim(f) else f)
    return np.asarray(v)


def present_psu(present: np.ndarray | None, strata: np.ndarray, na: np.ndarray
                ) -> np.ndarray | None:
    """(H, k) whether each stratum has a PSU in each column's domain, or None."""
    if present is None:
        return None
    p = np.asarray(present, dtype=float).reshape(len(strata), -1)
    return group_sums(p, strata, len(na)) > 0


def _average_factor(strata: np.ndarray, live: np.ndarray, na: np.ndarray, k: int, *,
                    domain: np.ndarray | None) -> Any:
    """R's nstrat / nokstrat for lonely_psu="average" (per column when domains are given)."""
    if domain is None:
        ok = int((live & ~na).sum())
        return int(live.sum()) / ok if ok else np.nan
    here = domain & live[:, None]
    nstrat = here.sum(axis=0)
    nok = (here & ~na[:, None]).sum(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        f = np.where(nok > 0, nstrat / np.maximum(nok, 1), np.nan)
    return f if f.shape[0] == k else f[0]


def svyrecvar(x: np.ndarray, design: SurveyDesign, *, diag: bool = False,
              present: np.ndarray | None = None) -> np.ndarray:
    """Variance of the totals of ``x`` (n, k), rows already weighted, under ``design``.

    First stage: PSU totals within strata with their fpc. Second stage (as R's
    ``multistage``), when the first stage has an fpc and SSUs are declared: within each
    PSU the SSU totals' variance with the second-stage fpc, times n_h / N_h.
    ``present`` (n, k), optional: each column's domain rows (see psu_totals_variance).
    """
    xa = np.asarray(x, dtype=float)
    X = xa.reshape(xa.shape[0], -1)
    by_ssu = design.ssu is not None and design.fpc1 is not None
    unit = design.ssu if by_ssu and design.ssu is not None else design.psu
    totals = group_sums(X, unit, int(unit.max()) + 1 if len(unit) else 0)
    pp = None if present is None else group_sums(np.asarray(present, dtype=float), design.psu,
                                                 design.n_psu) > 0
    return unit_totals_variance(totals, design, by_ssu=by_ssu, diag=diag, present=pp)


def unit_totals_variance(totals: np.ndarray, design: SurveyDesign, *, by_ssu: bool = False,
                         diag: bool = False, present: np.ndarray | None = None) -> np.ndarray:
    """svyrecvar from unit totals (m, k): per PSU, or per SSU when ``by_ssu`` (two stages
    with a first-stage fpc: the second stage counts). ``present`` (PSUs, k): which PSUs
    have a row of each column's domain (lonely_psu="average", as R's svyby)."""
    T = np.asarray(totals, dtype=float)
    T = T.reshape(T.shape[0], -1)
    if by_ssu:
        assert design.ssu is not None
        psu_of = np.zeros(T.shape[0], dtype=np.int64)
        psu_of[design.ssu] = design.psu
        pt = group_sums(T, psu_of, design.n_psu)
    else:
        pt = T
    try:
        v = psu_totals_variance(pt, design.psu_strata, fpc=design.psu_fpc,
                                lonely_psu=design.lonely_psu, diag=diag,
                                stratum_labels=design.stratum_labels, present=present)
        if by_ssu:
            v = v + _second_stage(T, design, diag)
    except BadInput as exc:
        if exc.code != "design.lonely_psu" or exc.where is not None:
            raise
        # say where: the file and the column of the strata (stage 1) or of the PSUs (stage 2)
        role = "strata" if exc.details.get("stage") == 1 else "psu"
        raise BadInput(exc.code, f"{exc.message[:-1]} in {design.source}.",
                       where=Where(file=design.source, column=design.columns.get(role)),
                       fix=exc.fix, details=exc.details) from None
    return np.asarray(v)


def _second_stage(st: np.ndarray, design: SurveyDesign, diag: bool) -> np.ndarray:
    """Sum over PSUs of the SSU-level variance within the PSU, times n_h / N_h (R);
    ``st`` the SSU totals (n_ssu, k)."""
    assert design.ssu is not None and design.fpc1 is not None
    n_ssu = st.shape[0]
    psu_of = np.zeros(n_ssu, dtype=np.int64)
    psu_of[design.ssu] = design.psu
    pop2 = None
    if design.fpc2 is not None:
        pop2 = np.full(n_ssu, np.inf)
        pop2[design.ssu] = design.fpc2
    dev, _present, na = _stratum_terms(st, psu_of, pop2, design.lonely_psu, None,
                                       design.psu_labels, stage=2)
    # R's multistage multiplies each PSU's term by n_h / N_h of the PSU's stratum
    frac = np.zeros(design.n_psu)
    n_h = design.n_psu_by_stratum[design.psu_strata]
    pf = design.psu_fpc
    assert pf is not None
    frac[:] = np.where(np.isinf(pf), 0.0, n_h / pf)
    dev = dev * np.sqrt(frac)[psu_of][:, None]
    v = np.einsum("ij,ij->j", dev, dev) if diag else dev.T @ dev
    if na.any():
        # R: a PSU with one SSU under "average" has no other stratum to average over: NaN
        v = np.full_like(v, np.nan)
    return np.asarray(v)
