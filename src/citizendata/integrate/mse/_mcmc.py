"""Convergence diagnostics for several Markov chains of one scalar quantity.

Draws are an array ``chains × iterations``. Three diagnostics:

* :func:`rhat` — the rank-normalised split R-hat of Vehtari, Gelman, Simpson, Carpenter &
  Bürkner (2021, Bayesian Analysis 16(2)), the maximum of the bulk and the folded (tail)
  R-hat, as R's ``posterior::rhat`` computes it. This one decides :func:`converged`.
* :func:`gelman_diag` — Gelman & Rubin's potential scale reduction factor with Brooks &
  Gelman's (1998) degrees-of-freedom correction and its upper confidence limit, as R's
  ``coda::gelman.diag`` computes it (``autoburnin=FALSE``; whole chains, not split).
* :func:`effective_size` — the effective sample size as ``coda::effectiveSize``: per chain
  the variance over the spectral density at frequency zero of an autoregressive model
  (Yule–Walker, order chosen by AIC), summed over chains.

Plain NumPy/SciPy; no warnings for constant chains (they give R-hat ``nan``→ not converged,
ESS 0).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import special, stats

__all__ = [
    "ESS_PER_CHAIN",
    "RHAT_THRESHOLD",
    "Diagnostics",
    "converged",
    "diagnose",
    "effective_size",
    "gelman_diag",
    "rhat",
]

#: Vehtari et al. (2021) recommend R-hat below 1.01 ...
RHAT_THRESHOLD = 1.01
#: ... and an effective sample size of at least 100 per chain (400 for four chains).
ESS_PER_CHAIN = 100


def _as_chains(draws: ArrayLike) -> NDArray[np.float64]:
    x = np.asarray(draws, dtype=np.float64)
    if x.ndim == 1:
        x = x[None, :]
    if x.ndim != 2 or x.shape[1] < 4:
        raise ValueError("draws must be chains x iterations with at least 4 iterations")
    return x


def _basic_rhat(x: NDArray[np.float64]) -> float:
    """Gelman et al. (BDA3) R-hat without df correction on chains in rows."""
    n = x.shape[1]
    w = float(np.mean(np.var(x, axis=1, ddof=1)))
    b_over_n = float(np.var(np.mean(x, axis=1), ddof=1)) if x.shape[0] > 1 else 0.0
    if not np.isfinite(w) or w <= 0.0:
        return float("nan")
    var_plus = (n - 1) / n * w + b_over_n
    return float(np.sqrt(var_plus / w))


def _split(x: NDArray[np.float64]) -> NDArray[np.float64]:
    half = x.shape[1] // 2
    # an odd middle draw is dropped, as posterior::split_chains does
    return np.concatenate([x[:, :half], x[:, x.shape[1] - half:]], axis=0)


def _rank_normalise(x: NDArray[np.float64]) -> NDArray[np.float64]:
    # average ranks over all chains, Blom's offset (Vehtari et al. 2021, eq. 14)
    ranks = stats.rankdata(x, method="average").reshape(x.shape)
    return np.asarray(special.ndtri((ranks - 0.375) / (x.size + 0.25)), dtype=np.float64)


def rhat(draws: ArrayLike) -> float:
    """Rank-normalised split R-hat: max of bulk and folded (Vehtari et al. 2021)."""
    x = _as_chains(draws)
    if np.ptp(x) == 0.0:
        return float("nan")
    s = _split(x)
    bulk = _basic_rhat(_rank_normalise(s))
    folded = np.abs(s - np.median(s))
    tail = _basic_rhat(_rank_normalise(folded)) if np.ptp(folded) > 0 else bulk
    return max(bulk, tail)


def gelman_diag(draws: ArrayLike, confidence: float = 0.95) -> tuple[float, float]:
    """``coda::gelman.diag(x, autoburnin=FALSE)``: point estimate and upper limit of the PSRF."""
    x = _as_chains(draws)
    m, n = x.shape
    if m < 2:
        raise ValueError("gelman_diag needs at least two chains")
    s2 = np.var(x, axis=1, ddof=1)
    xbar = np.mean(x, axis=1)
    w = float(np.mean(s2))
    if w <= 0.0:
        return float("nan"), float("nan")
    b = n * float(np.var(xbar, ddof=1))
    muhat = float(np.mean(xbar))
    var_w = float(np.var(s2, ddof=1)) / m
    var_b = 2.0 * b**2 / (m - 1)

    def cov(u: NDArray[np.float64], v: NDArray[np.float64]) -> float:
        return float(np.cov(u, v, ddof=1)[0, 1])

    cov_wb = (n / m) * (cov(s2, xbar**2) - 2.0 * muhat * cov(s2, xbar))
    v_hat = (n - 1) * w / n + (1 + 1 / m) * b / n
    var_v = ((n - 1) ** 2 * var_w + (1 + 1 / m) ** 2 * var_b
             + 2 * (n - 1) * (1 + 1 / m) * cov_wb) / n**2
    df_v = 2 * v_hat**2 / var_v
    df_adj = (df_v + 3) / (df_v + 1)
    w_df = 2 * w**2 / var_w if var_w > 0 else np.inf
    r2_fixed = (n - 1) / n
    r2_random = (1 + 1 / m) * (1 / n) * (b / w)
    upper_f = float(stats.f.ppf((1 + confidence) / 2, m - 1, w_df))
    return (float(np.sqrt(df_adj * (r2_fixed + r2_random))),
            float(np.sqrt(df_adj * (r2_fixed + upper_f * r2_random))))


def _spectrum0_ar(chain: NDArray[np.float64]) -> float:
    """coda's ``spectrum0.ar``: spectral density at 0 of a Yule–Walker AR fit (AIC order)."""
    n = chain.size
    t = np.arange(n, dtype=np.float64)
    # coda skips chains that are a straight line in the iteration (lm residuals sd 0)
    resid = chain - np.polyval(np.polyfit(t, chain, 1), t)
    if np.std(resid) <= 1e-12 * max(1.0, float(np.abs(chain).max())):
        return 0.0
    order_max = int(min(n - 1, np.floor(10 * np.log10(n))))
    xc = chain - chain.mean()
    r = np.array([xc[: n - k] @ xc[k:] / n for k in range(order_max + 1)])
    var_pred = np.empty(order_max + 1)
    var_pred[0] = r[0]
    coefs = np.zeros((order_max + 1, order_max + 1))
    phi = np.zeros(0)
    v = r[0]
    for k in range(1, order_max + 1):
        # Durbin–Levinson recursion, as R's eureka
        kk = (r[k] - phi @ r[k - 1:0:-1]) / v
        phi = np.concatenate([phi - kk * phi[::-1], [kk]])
        v = v * (1 - kk * kk)
        var_pred[k] = v
        coefs[k, :k] = phi
    aic = n * np.log(var_pred) + 2 * np.arange(order_max + 1)
    order = int(np.argmin(aic))
    ar = coefs[order, :order]
    vp = var_pred[order] * n / (n - (order + 1))
    return float(vp / (1 - ar.sum()) ** 2)


def effective_size(draws: ArrayLike) -> float:
    """``coda::effectiveSize`` of an ``mcmc.list``: per-chain AR spectral ESS, summed."""
    x = _as_chains(draws)
    total = 0.0
    for chain in x:
        spec = _spectrum0_ar(chain)
        if spec > 0:
            total += chain.size * float(np.var(chain, ddof=1)) / spec
    return total


@dataclass(frozen=True)
class Diagnostics:
    """R-hat (rank-normalised split), coda's PSRF and ESS, and the verdict."""

    rhat: float
    psrf: float
    psrf_upper: float
    ess: float
    chains: int
    samples: int
    converged: bool


def converged(rhat_value: float, ess_value: float, chains: int) -> bool:
    """R-hat below 1.01 and ESS at least 100 per chain (Vehtari et al. 2021, sec. 4)."""
    return bool(np.isfinite(rhat_value) and rhat_value < RHAT_THRESHOLD
                and ess_value >= ESS_PER_CHAIN * chains)


def diagnose(draws: ArrayLike) -> Diagnostics:
    """All diagnostics of one quantity's chains."""
    x = _as_chains(draws)
    r = rhat(x)
    ess = effective_size(x)
    psrf, upper = gelman_diag(x) if x.shape[0] > 1 and np.ptp(x) > 0 else (float("nan"),) * 2
    return Diagnostics(rhat=r, psrf=psrf, psrf_upper=upper, ess=ess, chains=x.shape[0],
                       samples=x.shape[1], converged=converged(r, ess, x.shape[0]))
