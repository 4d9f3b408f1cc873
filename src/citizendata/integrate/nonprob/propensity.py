"""Propensity of taking part in the citizen sample, estimated with a probability survey as reference.

Chen, Li & Wu (2020, JASA 115:2011-2021). The logistic propensity
``pi(x; theta) = 1 / (1 + exp(-x'theta))`` solves the pseudo-log-likelihood score

    U(theta) = sum_{i in A} x_i - sum_{i in B} d_i pi(x_i; theta) x_i = 0

(A: the citizen sample, B: the reference survey with design weights ``d``): the
population part of the log-likelihood, which no one observes, is estimated from B.
The function is concave, so Newton's method with step halving finds its maximum
when one exists.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from citizendata.errors import BadInput, Where
from citizendata.integrate.nonprob._design import SAMPLE_A, SAMPLE_B

__all__ = ["Propensity", "fit_propensity", "ipw_mean"]

_MAX_ITER = 100
_TOL = 1e-10


@dataclass
class Propensity:
    """A fitted propensity model: coefficients and propensities in both samples."""

    theta: np.ndarray
    pi_a: np.ndarray
    pi_b: np.ndarray
    iterations: int


def _expit(eta: np.ndarray) -> np.ndarray:
    return np.exp(-np.logaddexp(0.0, -eta))


def _loglik(theta: np.ndarray, sum_xa: np.ndarray, xb: np.ndarray, d: np.ndarray) -> float:
    return float(sum_xa @ theta - d @ np.logaddexp(0.0, xb @ theta))


def fit_propensity(xa: np.ndarray, xb: np.ndarray, d: np.ndarray,
                   names: list[str] | None = None) -> Propensity:
    """Maximise the pseudo-log-likelihood by Newton's method; a coded error when it has no maximum."""
    sum_xa = xa.sum(axis=0)
    theta = np.zeros(xa.shape[1])
    # start at the overall participation rate: n_A over the reference's population estimate
    theta[0] = np.log(len(xa) / max(d.sum() - len(xa), 1e-9 * d.sum()))
    ll = _loglik(theta, sum_xa, xb, d)
    it = 0
    while it < _MAX_ITER:
        it += 1
        pb = _expit(xb @ theta)
        score = sum_xa - (d * pb) @ xb
        info = (xb * (d * pb * (1 - pb))[:, None]).T @ xb
        try:
            step = np.linalg.solve(info, score)
        except np.linalg.LinAlgError:
            _collinear(names, xb)
        t = 1.0
        while True:
            cand = theta + t * step
            new = _loglik(cand, sum_xa, xb, d)
            if new >= ll - 1e-12 * abs(ll) or t < 1e-8:
                break
            t /= 2
        theta, ll = cand, new
        if np.max(np.abs(t * step)) < _TOL * (1 + np.max(np.abs(theta))):
            break
        if np.max(np.abs(theta)) > 40:
            break
    pa, pb = _expit(xa @ theta), _expit(xb @ theta)
    if it == _MAX_ITER or np.max(np.abs(theta)) > 40 or pa.max() > 1 - 1e-8:
        _no_maximum(xa, xb, d, names)
    return Propensity(theta, pa, pb, it)


def _collinear(names: list[str] | None, xb: np.ndarray) -> None:
    rank = np.linalg.matrix_rank(xb)
    raise BadInput("nonprob.invalid", f"the covariates are collinear in the reference survey "
                   f"(rank {rank} of {xb.shape[1]} columns: {', '.join(names or [])})",
                   where=Where(file=SAMPLE_B), fix="Drop a covariate that another one determines "
                   "(e.g. county when ward is given), or merge empty categories.")


def _no_maximum(xa: np.ndarray, xb: np.ndarray, d: np.ndarray, names: list[str] | None) -> None:
    """Name the categories the pseudo-likelihood cannot fit (separation)."""
    names = names or [f"x{j}" for j in range(xa.shape[1])]
    n_a = xa.sum(axis=0)
    big = (xb * d[:, None]).sum(axis=0)
    culprits = [f"{names[j]} ({n_a[j]:.0f} citizen units, about {big[j]:.0f} in the population)"
                for j in range(1, xa.shape[1]) if np.isin(xa[:, j], (0.0, 1.0)).all()
                and n_a[j] >= 0.9 * big[j]]
    if len(xa) >= 0.9 * d.sum():
        detail = (f"; the citizen sample has {len(xa)} units but the reference survey's weights "
                  f"add up to {d.sum():.0f}: are they normalised to the sample size (as DHS "
                  "weights are)? Scale them to the population: multiply by N / n")
    elif culprits:
        detail = ("; the citizen sample covers all (or nearly all) of the population the "
                  f"reference survey estimates for: {', '.join(culprits)}")
    else:
        detail = "; some covariate pattern separates the two samples"
    raise BadInput("nonprob.invalid", "the propensity model does not converge (its estimated "
                   f"participation probabilities reach 1){detail}",
                   where=Where(file=SAMPLE_A, field="covariates"),
                   fix="Merge the sparse categories, drop the covariate, or check that the "
                       "reference survey's weights add up to the population.")


def ipw_mean(y: np.ndarray, pr: Propensity, xa: np.ndarray, xb: np.ndarray, d: np.ndarray,
             var_b: VarB, da: np.ndarray | None = None) -> tuple[float, float, np.ndarray]:
    """Hajek IPW mean, its linearised standard error (CLW 2020, section 3) and ``b``.

    ``mu = sum_A y/pi / sum_A 1/pi``; the variance is
    ``N^-2 sum_A (1-pi)((y-mu)/pi - b'x)^2`` plus the reference survey's design variance
    of ``N^-1 sum_B d pi b'x`` with ``b' = [sum_A (1/pi-1)(y-mu) x'] [sum_B d pi(1-pi) x x']^-1``.
    In a domain (``da``: 1 for the citizen units in it) ``y - mu`` becomes
    ``1_D (y - mu_D)`` and ``N`` the domain's ``N_D``.
    """
    pa, pb = pr.pi_a, pr.pi_b
    da = np.ones(y.size) if da is None else da
    n_hat = float(np.sum(da / pa))
    mu = float(np.sum(da * y / pa) / n_hat)
    r = da * (y - mu)
    b = _b_vector(r, pa, pb, xa, xb, d)
    v1 = float(np.sum((1 - pa) * (r / pa - xa @ b) ** 2)) / n_hat ** 2
    v2 = var_b(d * pb * (xb @ b)) / n_hat ** 2
    return mu, float(np.sqrt(v1 + v2)), b


def _b_vector(resid: np.ndarray, pa: np.ndarray, pb: np.ndarray, xa: np.ndarray, xb: np.ndarray,
              d: np.ndarray) -> np.ndarray:
    """``b`` of the linearisation: how the estimate moves with the propensity coefficients."""
    c = ((1.0 / pa - 1.0) * resid) @ xa
    h = (xb * (d * pb * (1 - pb))[:, None]).T @ xb
    return np.asarray(np.linalg.solve(h, c))


class VarB:
    """The reference survey's design variance of a weighted total ``sum(z)``."""

    def __init__(self, strata: np.ndarray, psu: np.ndarray) -> None:
        self.strata, self.psu = strata, psu

    def __call__(self, z: np.ndarray) -> float:
        from citizendata.integrate.nonprob._variance import psu_total_variance

        return psu_total_variance(z, self.strata, self.psu)
