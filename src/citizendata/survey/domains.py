"""Estimates in domains without dense (rows x domains) arrays: the sums behind ``survey_estimate``.

Every row is in the whole sample and in at most one domain (a cross of the ``by``
columns), so each statistic needs two influence values per row: the overall one and its
domain's. Their sums by design unit (PSU, or SSU of a two-stage design with a
first-stage fpc) and domain code are one ``bincount`` into a (units x domains) matrix;
the calibration's regression coefficients come per domain from group sums, and the
fitted part is subtracted at unit level as (unit totals of w x) @ B. Memory is
O(units x domains + rows), as the cube's (``stats/cube.py``). Formulas:
``docs/methods/variance.md``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from citizendata.stats.calibrate import Calibration
    from citizendata.survey.design import SurveyDesign

__all__: list[str] = []


@dataclass
class Block:
    """One variable's statistic in the whole sample (column 0) and in every domain (1..G)."""

    variable: str
    statistic: str
    by: list[dict[str, str]]
    estimate: np.ndarray  # (K,) K = G + 1
    n: np.ndarray  # (K,)
    den: np.ndarray  # (K,) weighted count (means, proportions)
    y: np.ndarray  # (n,) the value, 0 where missing
    ok: np.ndarray  # (n,) the row has a value (R's na.rm=TRUE)
    code: np.ndarray  # (n,) the row's domain 0..G-1, -1 for none
    G: int

    @property
    def inn(self) -> np.ndarray:
        """Rows with a value and a domain."""
        return self.ok & (self.code >= 0)

    def influence(self) -> tuple[np.ndarray, np.ndarray]:
        """Per row: the influence value for the whole sample and for the row's own domain."""
        ok, inn = self.ok, self.inn
        if self.statistic == "total":
            return np.where(ok, self.y, 0.0), np.where(inn, self.y, 0.0)
        est, den = self.estimate, self.den
        with np.errstate(invalid="ignore", divide="ignore"):
            u0 = np.where(ok, (self.y - est[0]) / den[0], 0.0)
            k = np.where(inn, self.code + 1, 0)
            ud = np.where(inn, (self.y - est[k]) / den[k], 0.0)
        return u0, ud

    def unit_sums(self, v0: np.ndarray, vd: np.ndarray, unit: np.ndarray, m: int) -> np.ndarray:
        """(m, K): ``v0`` summed by unit, then ``vd`` by unit and domain (one bincount)."""
        out = np.empty((m, self.G + 1))
        out[:, 0] = np.bincount(unit, weights=v0, minlength=m)
        inn = self.inn
        if self.G:
            idx = unit[inn] * self.G + self.code[inn]
            out[:, 1:] = np.bincount(idx, weights=vd[inn], minlength=m * self.G
                                     ).reshape(m, self.G)
        return out

    def domain_sums(self, v: np.ndarray) -> np.ndarray:
        """(G, p): rows of ``v`` (n, p) in each domain summed (the whole sample not included)."""
        from citizendata.survey.linear import group_sums

        inn = self.inn
        return group_sums(v[inn], self.code[inn], self.G) if self.G else np.zeros(
            (0, v.shape[1]))

    def psu_present(self, psu: np.ndarray, m: int) -> np.ndarray:
        """(m, K) whether each PSU has a row with a value in each column's domain."""
        ones = self.ok.astype(float)
        return self.unit_sums(ones, ones, psu, m) > 0


def domain_codes(data: pd.DataFrame, by: list[str]) -> tuple[np.ndarray, list[dict[str, str]]]:
    """Each row's domain 0..G-1 (-1 without a full key) and the labels, whole sample first."""
    from citizendata.survey.estimate import _category

    n = len(data)
    if not by:
        return np.full(n, -1, dtype=np.int64), [{}]
    keys, ok = [], np.ones(n, dtype=bool)
    for c in by:
        k, o = _category(data[c])
        keys.append(k)
        ok &= o
    frame = pd.DataFrame({c: k for c, k in zip(by, keys, strict=True)})
    codes = frame.groupby(list(by), sort=True).ngroup().to_numpy()
    codes = np.where(ok, codes, -1)
    # ngroup numbers groups in sorted order of all rows; keep only groups with a full key
    present, first = np.unique(codes, return_index=True)
    keep = present >= 0
    present, first = present[keep], first[keep]
    pos = np.searchsorted(present, codes)
    out = np.where(codes >= 0, pos, -1).astype(np.int64)
    dom: list[dict[str, str]] = [{}]
    dom += [{c: str(frame[c].iat[i]) for c in by} for i in first]
    return out, dom


def block(variable: str, statistic: str, y: np.ndarray, code: np.ndarray,
          dom: list[dict[str, str]], w: np.ndarray) -> Block:
    """Estimates of one variable in the whole sample and every domain (group sums)."""
    G = len(dom) - 1
    ok = np.isfinite(y)
    y0 = np.where(ok, y, 0.0)
    inn = ok & (code >= 0)
    c = code[inn]
    wy = np.r_[(w * y0)[ok].sum(), np.bincount(c, weights=(w * y0)[inn], minlength=G)]
    den = np.r_[w[ok].sum(), np.bincount(c, weights=w[inn], minlength=G)]
    n = np.r_[int(ok.sum()), np.bincount(c, minlength=G)].astype(np.int64)
    if statistic == "total":
        est = wy
    else:
        with np.errstate(invalid="ignore", divide="ignore"):
            est = wy / den
    return Block(variable, statistic, dom, est, n, den, y0, ok, code, G)


class _Greg:
    """The calibration's regression with weights d / q, solved once for every right side.

    As ``stats.variance.greg_residuals`` (R's ``qr.resid``): columns scaled to at most 1,
    the min-norm solution with lstsq's rank cut-off, here from the SVD of sqrt(d/q) X so
    that each domain's coefficients are V S^-2 V' (X' (d/q) u) from its group sums.
    """

    def __init__(self, cal: Calibration, w: np.ndarray, unit: np.ndarray, m: int) -> None:
        from citizendata.survey.linear import group_sums

        X = np.asarray(cal.X, dtype=float)
        X = X[:, None] if X.ndim == 1 else X
        scale = np.abs(X).max(axis=0, initial=0.0)
        self.X = X / np.where(scale > 0, scale, 1.0)
        dq = np.asarray(cal.design_weights, dtype=float)
        if cal.q is not None:
            dq = dq / np.asarray(cal.q, dtype=float)
        self.dq = dq
        _, s, vt = np.linalg.svd(self.X * np.sqrt(dq)[:, None], full_matrices=False)
        keep = s > np.finfo(float).eps * max(self.X.shape) * (s.max() if s.size else 0.0)
        self.P = (vt[keep].T / s[keep] ** 2) @ vt[keep]  # (p, p) pseudo-inverse of X'DX
        self.WX = group_sums(w[:, None] * self.X, unit, m)  # (m, p)

    def fitted_unit_totals(self, b: Block, u0: np.ndarray, ud: np.ndarray) -> np.ndarray:
        """(m, K): the unit totals of w x'B, B each column's regression coefficients."""
        c0 = self.X.T @ (self.dq * u0)
        cd = b.domain_sums(self.X * (self.dq * ud)[:, None])
        B = np.vstack([c0[None, :], cd]) @ self.P  # (K, p)
        return np.asarray(self.WX @ B.T)


def linearised(blocks: list[Block], design: SurveyDesign, w: np.ndarray,
               cal: Calibration | None) -> np.ndarray:
    """svyrecvar of every estimate: unit totals of w times the (calibration residuals of the)
    influence values, by one bincount per statistic."""
    from citizendata.survey.linear import unit_totals_variance

    by_ssu = design.ssu is not None and design.fpc1 is not None
    unit = design.ssu if by_ssu and design.ssu is not None else design.psu
    m = int(unit.max()) + 1 if len(unit) else 0
    greg = _Greg(cal, w, unit, m) if cal is not None else None
    totals, present = [], []
    for b in blocks:
        u0, ud = b.influence()
        T = b.unit_sums(w * u0, w * ud, unit, m)
        if greg is not None:
            T -= greg.fitted_unit_totals(b, u0, ud)
        else:
            # an uncalibrated design's domains are R's subsets: under lonely_psu="average"
            # only the strata present in the domain are counted (a calibrated one keeps all)
            present.append(b.psu_present(design.psu, design.n_psu))
        totals.append(T)
    return unit_totals_variance(np.hstack(totals), design, by_ssu=by_ssu, diag=True,
                                present=np.hstack(present) if present else None)


def replicate_estimates(b: Block, W: np.ndarray) -> np.ndarray:
    """(K, R) the estimates in every replicate of the (n, R) weights, by sparse products."""
    from scipy import sparse

    inn = b.inn
    rows = np.flatnonzero(inn)
    num = [(np.where(b.ok, b.y, 0.0) @ W)[None, :]]
    den = [(b.ok.astype(float) @ W)[None, :]]
    if b.G:
        Sy = sparse.csr_matrix((b.y[rows], (b.code[rows], rows)), shape=(b.G, len(b.y)))
        S1 = sparse.csr_matrix((np.ones(rows.size), (b.code[rows], rows)),
                               shape=(b.G, len(b.y)))
        num.append(np.asarray(Sy @ W))
        den.append(np.asarray(S1 @ W))
    th = np.vstack(num)
    if b.statistic == "total":
        return th
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.asarray(th / np.vstack(den))


def own_degrees_of_freedom(b: Block, design: SurveyDesign) -> np.ndarray:
    """(K,) each column's own df: PSUs with a row of the domain minus strata with one, >= 1."""
    from citizendata.survey.linear import group_sums

    psu_in = b.psu_present(design.psu, design.n_psu)  # (m, K)
    strata_in = group_sums(psu_in.astype(float), design.psu_strata, design.n_strata) > 0
    return np.asarray(np.maximum(psu_in.sum(axis=0) - strata_in.sum(axis=0), 1))
