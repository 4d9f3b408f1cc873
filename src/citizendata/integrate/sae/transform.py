"""Proportions on the arcsine-square-root scale, and smoothed sampling variances (GVF).

Arcsine square root: theta = asin(sqrt(p)) has sampling variance about 1/(4 n) whatever
p is (Jiang, Lahiri, Wan & Wu 2001; Casas-Cordero, Encina & Lahiri 2016), so the
Fay–Herriot model's "known" variances need only the (effective) sample size.

Back-transformation:
- ``naive``: sin^2(theta_hat) (Casas-Cordero et al. 2016);
- ``bc`` (default): the mean of sin^2(theta) when theta ~ N(theta_hat, g1) over the whole
  real line, in closed form E sin^2(T) = (1 - cos(2 mu) exp(-2 s^2)) / 2, with g1 = sigma2_u
  for areas without a sample.  This follows the bias correction of Hadam, Würz &
  Kreutzmann (2020) but is not emdi's ``backtransformation = "bc"`` exactly: emdi
  integrates sin^2(x) times the normal density numerically over [0, pi/2] only (the mass
  outside counts as 0, so near 0 or 1 its estimate is lower than ours) and back-transforms
  areas without a sample naively.  Away from the bounds (theta_hat a few sqrt(g1) inside
  (0, pi/2)) the two agree.
Interval endpoints are back-transformed with the naive map, clipped to [0, pi/2]
(Casas-Cordero et al. 2016).  MSE on the proportion scale: the parametric bootstrap on
that scale when requested, otherwise the delta method, (d p / d theta)^2 mse = sin^2(2 theta) mse.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from citizendata.errors import BadInput, Where

__all__ = ["arcsin_back", "arcsin_forward", "smooth_variances"]

HALF_PI = np.pi / 2.0


def arcsin_forward(p: np.ndarray, n: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """theta = asin(sqrt(p)) and its variance 1 / (4 n)."""
    return np.arcsin(np.sqrt(p)), 1.0 / (4.0 * n)


def arcsin_back(theta: np.ndarray, g1: np.ndarray | float = 0.0, *,
                how: str = "bc") -> np.ndarray:
    """Proportions from the arcsine scale: naive sin^2, or the bias-corrected mean."""
    t = np.clip(theta, 0.0, HALF_PI)
    if how == "naive":
        return np.sin(t) ** 2
    # E[sin^2 T], T ~ N(mu, s2): sin^2 = (1 - cos 2T)/2 and E cos 2T = cos(2 mu) exp(-2 s2).
    # The unclipped theta is used here: the normal law, not the clipped point, is the model.
    return (1.0 - np.cos(2.0 * theta) * np.exp(-2.0 * np.asarray(g1))) / 2.0


def smooth_variances(direct: pd.DataFrame, *, estimate: str, variance: str, sample_size: str,
                     area: str | None = None, columns: Sequence[str] = (),
                     proportion: bool = False) -> pd.Series:
    """Sampling variances smoothed by a generalised variance function (GVF).

    Fits log(v_i) = a + b log(n_i) [+ c log(p_i (1 - p_i)) when `proportion`] [+ other
    columns] by least squares over the areas with a positive variance, and returns
    exp(fitted) times Duan's (1983) smearing factor mean(exp(residual)), so the smoothed
    variances are unbiased on the variance scale.  This is the log-variance model used
    for Fay–Herriot inputs since Dick (1995) (see Rao & Molina 2015, sect. 6.4, and
    Wolter 2007, ch. 7, on GVFs).  Areas with a zero or missing variance (a direct
    proportion of 0 or 1, say) get a smoothed one, which is the point of smoothing; in the
    proportion form their p(1-p) is that of the n-weighted mean proportion of all areas.
    """
    code = "sae.invalid_direct"
    where_area = direct[area].astype(str).tolist() if area else [str(i) for i in direct.index]
    for col in (estimate, variance, sample_size, *columns):
        if col not in direct.columns:
            raise BadInput(code, f"there is no column {col!r}", where=Where(column=col))
    n = pd.to_numeric(direct[sample_size], errors="coerce").to_numpy(dtype=float)
    bad = ~(n > 0)
    if bad.any():
        names = [where_area[i] for i in np.flatnonzero(bad)][:10]
        raise BadInput(code, f"{sample_size} must be a positive number: area(s) {', '.join(names)}",
                       where=Where(column=sample_size))
    v = pd.to_numeric(direct[variance], errors="coerce").to_numpy(dtype=float)
    est = pd.to_numeric(direct[estimate], errors="coerce").to_numpy(dtype=float)
    cols = [np.ones(len(n)), np.log(n)]
    inner = (est > 0) & (est < 1)
    if proportion:
        # p(1-p) is 0 at a proportion of 0 or 1, where the variance is not: those areas
        # take the n-weighted mean proportion of all areas in the variance function
        ok = np.isfinite(est)
        pbar = float(np.sum(n[ok] * np.clip(est[ok], 0, 1)) / np.sum(n[ok])) if ok.any() else 0.5
        pp = np.where(inner, est, pbar if 0 < pbar < 1 else 0.5)
        cols.append(np.log(pp * (1.0 - pp)))
    cols += [pd.to_numeric(direct[c], errors="coerce").to_numpy(dtype=float) for c in columns]
    Z = np.column_stack(cols)
    use = (v > 0) & np.isfinite(v) & np.isfinite(Z).all(axis=1)
    if proportion:
        use &= inner
    if use.sum() <= Z.shape[1]:
        raise BadInput(code, f"too few areas with a positive {variance} to fit the variance "
                             "function", where=Where(column=variance))
    coef, *_ = np.linalg.lstsq(Z[use], np.log(v[use]), rcond=None)
    resid = np.log(v[use]) - Z[use] @ coef
    smear = float(np.mean(np.exp(resid)))
    fitted = np.exp(Z @ coef) * smear
    return pd.Series(fitted, index=direct.index, name=f"{variance}_smoothed")
