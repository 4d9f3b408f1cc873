"""Mass imputation: predict the outcome for every unit of the reference survey.

Kim, Park, Chen & Wu (2021, JRSS A 184:941-963). Fit ``m(x; beta)`` on the citizen
sample, impute ``m(x_i; beta)`` for every unit of the reference survey, and take its
design-weighted mean ``sum_B d_i m_i / sum_B d_i``. The variance adds the reference
survey's design variance of the imputed values and the model variance from estimating
``beta`` on the citizen sample (a sandwich, so it allows any error variance).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from citizendata.integrate.nonprob.outcome import Outcome

if TYPE_CHECKING:
    from citizendata.integrate.nonprob.propensity import VarB

__all__ = ["Match", "mi_mean", "nn_match", "nn_mean"]


def mi_mean(model: Outcome, xa: np.ndarray, y: np.ndarray, xb: np.ndarray, d: np.ndarray,
            var_b: VarB, db: np.ndarray | None = None) -> tuple[float, float]:
    """The mass-imputation mean and its standard error.

    ``V = V_B + V_A``: ``V_B`` the design variance of ``N_B^-1 sum_B d (m_i - mu)``;
    ``V_A = sum_A (g' M^-1 x_i e_i)^2`` with ``g = N_B^-1 sum_B d mdot_i x_i``,
    ``M = sum_A mdot_i x_i x_i'`` and ``e_i = y_i - m_i`` (linearisation in ``beta``).
    In a domain (``db``: 1 for the survey units in it) the sums over B are the domain's.
    """
    db = np.ones(d.size) if db is None else db
    w = d * db
    mb = model.predict(xb)
    n_b = float(w.sum())
    mu = float(w @ mb / n_b)
    v_b = var_b(w * (mb - mu)) / n_b ** 2
    g = (w * model.slope(xb)) @ xb / n_b
    kappa = xa @ (model.bread @ g)
    e = y - model.predict(xa)
    v_a = float(np.sum((kappa * e) ** 2))
    return mu, float(np.sqrt(v_b + v_a))


@dataclass
class Match:
    """Nearest-neighbour donors: for each survey unit its imputed value, and the citizen side."""

    yhat: np.ndarray  # imputed value of each survey unit
    unit: np.ndarray  # (survey unit, donor pattern) pairs: the unit ...
    idx: np.ndarray  # ... and the pattern
    n_i: np.ndarray  # number of donors of each survey unit
    pat_of: np.ndarray  # pattern of each citizen unit
    sigma2: np.ndarray  # noise variance of each citizen unit (nearest-other difference)


def nn_match(xa: np.ndarray, y: np.ndarray, xb: np.ndarray, d: np.ndarray) -> Match:
    """Each survey unit's nearest citizen units in the covariates (standardised by the survey's
    weighted SDs, intercept left out); every unit at the nearest distance counts."""
    from scipy.spatial import cKDTree

    n_all = float(d.sum())
    centre = d @ xb[:, 1:] / n_all
    sd = np.sqrt(d @ (xb[:, 1:] - centre) ** 2 / n_all)
    sd[sd == 0] = 1.0
    za, zb = xa[:, 1:] / sd, xb[:, 1:] / sd
    # match on the distinct covariate patterns of the citizen sample (few when categorical)
    pats, pat_of = _patterns(za)
    n_p = np.bincount(pat_of, minlength=len(pats)).astype(float)
    y_p = np.bincount(pat_of, weights=y, minlength=len(pats))
    tree = cKDTree(pats)
    unit, idx = _nearest_patterns(tree, len(pats), zb)
    n_i = np.bincount(unit, weights=n_p[idx], minlength=len(zb))
    yhat = np.bincount(unit, weights=y_p[idx], minlength=len(zb)) / n_i
    sigma2 = (y - y[_nearest_other(pats, pat_of, tree)]) ** 2 / 2
    return Match(yhat, unit, idx, n_i, pat_of, sigma2)


def nn_mean(match: Match, d: np.ndarray, var_b: VarB,
            db: np.ndarray | None = None) -> tuple[float, float]:
    """Nearest-neighbour mass imputation: each survey unit takes the mean ``y`` of its nearest
    citizen units (:func:`nn_match`), so categorical covariates give cell means.

    No outcome model, but the covariates must be few (matching bias grows with the number
    of continuous ones). Writing the estimate as ``sum_A c_j y_j``, the variance is
    ``V_B(sum_B d yhat / N_B) + sum_A c_j^2 sigma_j^2``: the survey's design variance of
    the imputed values given the citizen sample, plus the citizen sample's own noise, with
    ``sigma_j^2 = (y_j - y_j')^2 / 2`` from the nearest other citizen unit ``j'``
    (Abadie & Imbens 2006; Yang, Kim & Hwang 2021). In a domain (``db``: 1 for the
    survey units in it) the sums over B are the domain's; matching stays over all units.
    """
    w = d if db is None else d * db
    n_b = float(w.sum())
    mu = float(w @ match.yhat / n_b)
    n_pats = int(match.pat_of.max()) + 1
    c = (np.bincount(match.idx, weights=(w / match.n_i)[match.unit], minlength=n_pats)
         / n_b)[match.pat_of]
    v = var_b(w * (match.yhat - mu)) / n_b ** 2 + float(np.sum(c ** 2 * match.sigma2))
    return mu, float(np.sqrt(v))


def _nearest_patterns(tree: Any, n_pats: int, zb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pairs (survey unit, pattern) of every pattern at the nearest distance from each unit."""
    if n_pats == 1:
        return np.arange(len(zb)), np.zeros(len(zb), dtype=np.int64)
    dist, near = tree.query(zb, k=2)
    reach = dist[:, 0] * (1 + 1e-9) + 1e-12
    tied = np.flatnonzero(dist[:, 1] <= reach)
    single = np.flatnonzero(dist[:, 1] > reach)
    # the few units with several patterns at the same distance: all of them
    found = tree.query_ball_point(zb[tied], r=reach[tied]) if tied.size else []
    sizes = np.fromiter((len(x) for x in found), dtype=np.int64, count=len(found))
    extra = (np.concatenate([np.asarray(x, dtype=np.int64) for x in found]) if tied.size
             else np.zeros(0, dtype=np.int64))
    unit = np.concatenate([single, np.repeat(tied, sizes)])
    idx = np.concatenate([near[single, 0], extra])
    return unit, idx


def _nearest_other(pats: np.ndarray, pat_of: np.ndarray, tree: Any) -> np.ndarray:
    """For each citizen unit, another citizen unit nearest to it in the covariates.

    A twin (same pattern) when there is one: the next unit of its pattern (the last one
    takes the previous); otherwise a unit of the nearest other pattern. Working on
    patterns keeps this fast when a million units share a few dozen of them.
    """
    order = np.argsort(pat_of, kind="stable")
    ps = pat_of[order]
    first = np.searchsorted(ps, np.arange(len(pats)))
    count = np.bincount(pat_of, minlength=len(pats))
    rank = np.arange(ps.size) - first[ps]
    pos_in_order = np.where(rank + 1 < count[ps], np.arange(ps.size) + 1, np.arange(ps.size) - 1)
    other = np.empty(ps.size, dtype=np.int64)
    other[order] = order[np.clip(pos_in_order, 0, ps.size - 1)]
    alone = count[pat_of] == 1
    if alone.any() and len(pats) > 1:
        _, near = tree.query(pats, k=2)
        other[alone] = order[first[near[pat_of[alone], 1]]]
    return other


def _patterns(z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct rows of ``z`` and the pattern of each row.

    Rows are hashed through a fixed random projection (hash-based, so a million rows take
    a fraction of a second) and the result checked exactly; a collision, which a random
    projection practically never gives, falls back to sorting the rows.
    """
    import pandas as pd

    key = z @ np.random.default_rng(0).uniform(1.0, 2.0, size=z.shape[1])
    codes, _ = pd.factorize(key)
    first = np.zeros(int(codes.max()) + 1, dtype=np.int64)
    first[codes[::-1]] = np.arange(codes.size)[::-1]  # the first row of each pattern
    pats = z[first]
    if np.array_equal(pats[codes], z):
        return pats, np.asarray(codes, dtype=np.int64)
    pats, inv = np.unique(z, axis=0, return_inverse=True)
    return pats, inv.ravel().astype(np.int64)
