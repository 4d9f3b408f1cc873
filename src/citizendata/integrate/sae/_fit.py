"""Fisher scoring for the Fay–Herriot variance, vectorised over many response vectors at once.

One call fits B replicates (columns of y) sharing X and the sampling variances: the
bootstrap and the simulations refit thousands of times, so nothing here loops over areas
or replicates.  The iteration is R sae's `eblupFH` (start at the median sampling variance,
stop when the relative change is below `tol`, at most `max_iter` steps), written without
its m x m projection matrix: every trace reduces to p x p products, O(m p^2) per step.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

__all__ = ["Fit", "fit_batch", "interval_quantiles", "mse_terms"]

METHODS = ("reml", "ml", "fh")


@dataclass
class Fit:
    """Estimates for B replicates: sigma2 (B,), beta (p, B), Q = (X'V^-1 X)^-1 (B, p, p)."""

    sigma2: np.ndarray
    beta: np.ndarray
    Q: np.ndarray
    iterations: np.ndarray
    converged: np.ndarray
    at_zero: np.ndarray


def _gram(XX: np.ndarray, W: np.ndarray, p: int) -> np.ndarray:
    """X' diag(w_b) X for every row w_b of W (B, m), as one matrix product: (B, p, p)."""
    return (W @ XX).reshape(W.shape[0], p, p)


# Inside, replicates are rows (B, m): sums over areas then run along contiguous memory,
# which matters when a block holds a few replicates of many areas.
def _gls(X: np.ndarray, XX: np.ndarray, y: np.ndarray, Vi: np.ndarray
         ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    p = X.shape[1]
    Q = np.linalg.inv(_gram(XX, Vi, p))
    beta = np.einsum("bpq,bq->bp", Q, (Vi * y) @ X)
    return Q, beta, y - beta @ X.T


def _step(method: str, X: np.ndarray, XX: np.ndarray, y: np.ndarray, psi: np.ndarray,
          A: np.ndarray) -> np.ndarray:
    """One Fisher-scoring step s/F for each replicate (sae's score and information)."""
    m, p = X.shape
    Vi = 1.0 / (A[:, None] + psi[None, :])
    Q, _, r = _gls(X, XX, y, Vi)
    if method == "fh":
        # moment equation sum r^2/(A+psi) = m - p, Newton-type step with E[-ds/dA] = sum Vi
        return (np.sum(r * r * Vi, axis=1) - (m - p)) / Vi.sum(axis=1)
    V2 = Vi * Vi
    Pr2 = np.sum(V2 * r * r, axis=1)               # y'P P y, since P y = V^-1 r
    if method == "ml":
        return (-0.5 * Vi.sum(axis=1) + 0.5 * Pr2) / (0.5 * V2.sum(axis=1))
    G2 = _gram(XX, V2, p)                           # X'V^-2 X
    G3 = _gram(XX, V2 * Vi, p)                      # X'V^-3 X
    QG2 = Q @ G2
    trP = Vi.sum(axis=1) - np.trace(QG2, axis1=1, axis2=2)
    trPP = (V2.sum(axis=1) - 2.0 * np.trace(Q @ G3, axis1=1, axis2=2)
            + np.einsum("bij,bji->b", QG2, QG2))
    return (-0.5 * trP + 0.5 * Pr2) / (0.5 * trPP)


def fit_batch(y: np.ndarray, X: np.ndarray, psi: np.ndarray, method: str = "reml", *,
              tol: float = 1e-4, max_iter: int = 100, start: float | None = None) -> Fit:
    """Fit the Fay–Herriot model to each column of y (m, B); returns the estimates.

    `start`: the first iterate (sae's median of the sampling variances when None).
    """
    yt = np.ascontiguousarray((y[:, None] if y.ndim == 1 else y).T)   # (B, m)
    p = X.shape[1]
    B = yt.shape[0]
    XX = (X[:, :, None] * X[:, None, :]).reshape(X.shape[0], p * p)
    A = np.full(B, float(np.median(psi)) if start is None or start <= 0 else float(start))
    iters = np.zeros(B, dtype=int)
    done = np.zeros(B, dtype=bool)
    at_zero = np.zeros(B, dtype=bool)
    for _ in range(max_iter):
        act = np.flatnonzero(~done)
        if act.size == 0:
            break
        a = A[act]
        new = a + _step(method, X, XX, yt if act.size == B else yt[act], psi, a)
        # An iterate below zero is put on the boundary (sae would carry it on and truncate
        # at the end; a negative A + psi would make the weights meaningless).
        new = np.maximum(new, 0.0)
        iters[act] += 1
        with np.errstate(divide="ignore", invalid="ignore"):
            rel = np.where(a > 0, np.abs(new - a) / a, np.where(new > 0, np.inf, 0.0))
        stuck = (a == 0) & (new == 0)
        at_zero[act] = stuck
        A[act] = new
        done[act] = (rel < tol) | stuck
    Vi = 1.0 / (A[:, None] + psi[None, :])
    Q, beta, _ = _gls(X, XX, yt, Vi)
    at_zero |= A == 0
    return Fit(sigma2=A, beta=beta.T, Q=Q, iterations=iters, converged=done, at_zero=at_zero)


def mse_terms(X: np.ndarray, psi: np.ndarray, A: float, Q: np.ndarray, method: str,
              X_oos: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Prasad–Rao g1, g2, g3 and the MSE estimate (sae's mseFH), plus out-of-sample MSEs.

    REML: g1 + g2 + 2 g3.  ML: Datta & Lahiri (2000), g1 + g2 + 2 g3 - b B^2 with b the
    bias of the ML estimator.  FH: Datta, Rao & Smith (2005), its own asymptotic variance
    and bias.  An area with no sample gets the synthetic estimator's
    sigma2 + x'Qx - b (the limit of the same formula as its sampling variance grows).
    """
    Vi = 1.0 / (A + psi)
    Bd = psi * Vi
    s1, s2 = Vi.sum(), np.sum(Vi * Vi)
    m = X.shape[0]
    if method == "fh":
        var_a = 2.0 * m / s1 ** 2
        bias = 2.0 * (m * s2 - s1 ** 2) / s1 ** 3
    else:
        var_a = 2.0 / s2
        bias = 0.0
        if method == "ml":
            bias = -np.trace(Q @ ((X * (Vi * Vi)[:, None]).T @ X)) / s2
    g1 = psi * (1.0 - Bd)
    g2 = Bd * Bd * np.einsum("ip,pq,iq->i", X, Q, X)
    g3 = Bd * Bd * var_a / (A + psi)
    out = {"g1": g1, "g2": g2, "g3": g3, "mse": g1 + g2 + 2.0 * g3 - bias * Bd * Bd,
           "var_sigma2": np.asarray(var_a), "bias_sigma2": np.asarray(bias)}
    if X_oos is not None:
        out["mse_oos"] = A + np.einsum("ip,pq,iq->i", X_oos, Q, X_oos) - bias
    return out


def interval_quantiles(level: float, m: int, mse_oos: np.ndarray,
                       var_sigma2: float | np.ndarray) -> np.ndarray:
    """Interval multipliers: the normal quantile for the m sampled areas, a t quantile for
    the areas without a sample.

    A synthetic estimate's MSE, sigma2_u + x'Qx, is dominated by sigma2_u, whose estimate
    is noisy with few areas; the normal interval then covers about 92% with 40 areas.
    Satterthwaite's approximation treats the estimated MSE as a scaled chi-square with
    nu = 2 mse^2 / Var(sigma2_u-hat) degrees of freedom (Var from the information, as in g3),
    and the interval uses t_nu (the same in the limit of many areas).
    """
    z = float(stats.norm.ppf(0.5 + level / 2))
    with np.errstate(divide="ignore", invalid="ignore"):
        nu = 2.0 * np.asarray(mse_oos) ** 2 / var_sigma2
    q = np.where(np.isfinite(nu) & (nu > 0),
                 stats.t.ppf(0.5 + level / 2, np.where(nu > 0, nu, 1.0)), z)
    return np.concatenate([np.full(m, z), q])
