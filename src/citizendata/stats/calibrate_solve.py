"""The calibration solver: distance functions and a damped Newton iteration on the dual.

Deville & Särndal (1992) calibration with the linear, raking and logit distances, each
optionally bounded (truncated), and working variances q (g = F(x'lambda / q)). Used by
citizendata.stats.calibrate; the formulas are in docs/methods/calibration.md.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

__all__ = ["Solution", "distance", "solve"]


# ---------------------------------------------------------------------------
# distance functions: g = F(u), F'(u), and Phi with Phi' = F (the dual objective)

_Funcs = tuple[Callable[[np.ndarray], np.ndarray], Callable[[np.ndarray], np.ndarray],
               Callable[[np.ndarray], np.ndarray]]


def _sigmoid(z: np.ndarray) -> np.ndarray:
    """1 / (1 + exp(-z)) without overflow."""
    return np.asarray(0.5 * (1.0 + np.tanh(0.5 * z)))


def distance(method: str, bounds: tuple[float, float] | None) -> _Funcs:
    """F, F' and the antiderivative Phi of F for a method and optional bounds (L, U)."""
    lo, hi = bounds if bounds is not None else (-math.inf, math.inf)
    if method == "logit":
        a = (hi - lo) / ((1 - lo) * (hi - 1))
        c = math.log((1 - lo) / (hi - 1))
        # F(u) = L + (U - L) * sigmoid(A u + c) is R survey's cal.logit rewritten
        # so that it neither overflows nor loses digits for large |u|
        def f_logit(u: np.ndarray) -> np.ndarray:
            return np.asarray(lo + (hi - lo) * _sigmoid(a * u + c))

        def df_logit(u: np.ndarray) -> np.ndarray:
            s = _sigmoid(a * u + c)
            return np.asarray((hi - lo) * a * s * (1 - s))

        def phi_logit(u: np.ndarray) -> np.ndarray:
            return np.asarray(lo * u + (hi - lo) / a * (np.logaddexp(0.0, a * u + c)
                                                        - np.logaddexp(0.0, c)))
        return f_logit, df_logit, phi_logit
    if method == "raking":
        # truncated raking as in R: g = min(max(exp(u), L), U)
        ulo = math.log(lo) if lo > 0 else -math.inf
        uhi = math.log(hi) if math.isfinite(hi) else math.inf
        glo = max(lo, 0.0)

        def f_rake(u: np.ndarray) -> np.ndarray:
            return np.clip(np.exp(u), glo, hi)

        def df_rake(u: np.ndarray) -> np.ndarray:
            return np.where((u > ulo) & (u < uhi), np.exp(np.clip(u, ulo, uhi)), 0.0)

        def phi_rake(u: np.ndarray) -> np.ndarray:
            inner = np.exp(np.clip(u, ulo, uhi)) - 1.0
            above = np.where(u > uhi, hi * (u - uhi), 0.0) if math.isfinite(uhi) else 0.0
            below = np.where(u < ulo, lo * (u - ulo), 0.0) if math.isfinite(ulo) else 0.0
            return np.asarray(inner + above + below)
        return f_rake, df_rake, phi_rake
    # linear, truncated at (L, U) when bounds are given (R's calfun="linear", bounds=...)
    ulo, uhi = lo - 1.0, hi - 1.0

    def f(u: np.ndarray) -> np.ndarray:
        return np.clip(1.0 + u, lo, hi)

    def df(u: np.ndarray) -> np.ndarray:
        return np.where((u > ulo) & (u < uhi), 1.0, 0.0)

    def phi(u: np.ndarray) -> np.ndarray:
        v = np.clip(u, ulo, uhi)
        inner = v + 0.5 * v * v
        above = np.where(u > uhi, hi * (u - uhi), 0.0) if math.isfinite(uhi) else 0.0
        below = np.where(u < ulo, lo * (u - ulo), 0.0) if math.isfinite(ulo) else 0.0
        return np.asarray(inner + above + below)
    return f, df, phi


@dataclass
class Solution:
    g: np.ndarray
    converged: bool
    iterations: int
    max_rel_error: float
    worst: int


def solve(X: np.ndarray, d: np.ndarray, T: np.ndarray, scale: np.ndarray, method: str,
           bounds: tuple[float, float] | None, max_iter: int, tol: float,
           q: np.ndarray | None = None) -> Solution:
    """Newton's method on the convex dual  min_lambda sum d q Phi(x'lambda / q) - lambda'T."""
    f, df, phi = distance(method, bounds)
    qa = np.ones(len(d)) if q is None else q
    # Full dummy coding is rank-deficient (each margin sums to the grand total). Work in
    # an orthonormal basis of X's column space: the same g, and a well-posed Newton system.
    # Numeric columns are scaled to at most 1 first, so that the rank does not depend on
    # their units (0/1 indicator columns are unchanged).
    colscale = np.abs(X).max(axis=0, initial=0.0)
    colscale = np.where(colscale > 0, colscale, 1.0)
    Xs = X / colscale
    _, s, vt = np.linalg.svd(Xs, full_matrices=False)
    rank = int(np.sum(s > s[0] * max(X.shape) * np.finfo(float).eps)) if s.size and s[0] > 0 else 0
    basis = vt[:rank].T
    Z = Xs @ basis
    Tz = basis.T @ (T / colscale)
    lam = np.zeros(rank)

    def error(g: np.ndarray) -> np.ndarray:
        return np.asarray(np.abs(T - X.T @ (d * g)) / scale)

    def dual(lam_: np.ndarray) -> float:
        return float((d * qa) @ phi(Z @ lam_ / qa) - lam_ @ Tz)

    g = f(np.zeros(len(d)))
    err = error(g)
    iterations = 0
    with np.errstate(all="ignore"):
        while err.max(initial=0.0) > tol and iterations < max_iter:
            iterations += 1
            u = Z @ lam / qa
            misfit = Tz - Z.T @ (d * g)
            hess = (Z * (d * df(u) / qa)[:, None]).T @ Z
            step = np.linalg.lstsq(hess, misfit, rcond=None)[0]
            base, slope = dual(lam), -float(misfit @ step)
            t = 1.0
            # damped step: halve until the dual objective decreases enough (Armijo), or at
            # least the margin error does; a non-finite trial (exp overflow) is halved too
            for _ in range(60):
                trial = lam + t * step
                g_trial = f(Z @ trial / qa)
                d_trial = dual(trial)
                if np.all(np.isfinite(g_trial)) and math.isfinite(d_trial) and (
                        d_trial <= base + 1e-4 * t * slope
                        or error(g_trial).max() < err.max()):
                    break
                t *= 0.5
            else:
                break  # no step improves anything: stalled (infeasible or at rounding level)
            lam, g = trial, g_trial
            err = error(g)
    worst = int(np.argmax(err)) if err.size else 0
    max_err = float(err.max(initial=0.0))
    return Solution(g, max_err <= tol, iterations, max_err, worst)
