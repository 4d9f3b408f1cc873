"""LCMCR: Bayesian non-parametric latent-class capture–recapture (Manrique-Vallier 2016).

The population is a mixture of latent classes; within a class the J lists capture
independently, ``P(x | z = k) = prod_j lambda_jk^x_j (1 - lambda_jk)^(1 - x_j)``. Class weights
follow a Dirichlet process truncated at K classes (stick-breaking ``V_k ~ Beta(1, alpha)``),
``alpha ~ Gamma(a_alpha, b_alpha)``, ``lambda_jk ~ Beta(1, 1)`` and ``p(N) ∝ 1/N``. The Gibbs
sampler augments the data with the ``n0`` unobserved individuals; ``n0 | rest`` is negative
binomial. The steps, their order, the warm-up and the initial values follow the R package
LCMCR (Manrique-Vallier), ``NPLCM_CR_Basic_Freq``; see docs/methods/lcmcr.md.

The sampler works on the m observed capture patterns, never on individual rows: the class
counts of the individuals sharing a pattern are one multinomial draw, and all chains advance
together as one array (chains × patterns × classes).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from citizendata.errors import BadInput, Where
from citizendata.integrate.mse._mcmc import diagnose

if TYPE_CHECKING:
    import pandas as pd

    from citizendata.integrate.mse.histories import Histories

__all__ = ["LCMCRResult", "fit_lcmcr", "run_chains"]

_WARMUP = 500  # LCMCR's initial warm-up sweeps, alpha held at 0.3 / K
_N0_CAP = 20  # LCMCR redraws n0 above 20 × n (its prior on N is improper)

FloatA = NDArray[np.float64]
IntA = NDArray[np.int64]


@dataclass(frozen=True)
class LCMCRResult:
    """Posterior of the population size N under LCMCR, with convergence diagnostics."""

    lists: list[str]
    n_observed: int
    estimate: float
    ci: tuple[float, float]
    confidence: float
    draws: IntA  # chains × samples draws of N
    rhat: float
    ess: float
    converged: bool
    psrf: float
    psrf_upper: float
    K: int
    a_alpha: float
    b_alpha: float
    chains: int
    samples: int
    burnin: int
    thin: int
    seed: int
    k_star: IntA = field(repr=False)  # chains × samples: occupied latent classes
    alpha: FloatA = field(repr=False)  # chains × samples: DP concentration

    @property
    def unobserved(self) -> float:
        """Posterior median of the number never listed."""
        return float(np.median(self.draws - self.n_observed))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary: estimate, interval and diagnostics."""
        return {
            "n_observed": self.n_observed,
            "estimate": self.estimate,
            "ci": [self.ci[0], self.ci[1]],
            "confidence": self.confidence,
            "method": "lcmcr",
            "lists": list(self.lists),
            "diagnostics": {
                "rhat": _finite_or_none(self.rhat),
                "ess": self.ess,
                "chains": self.chains,
                "samples": self.samples,
                "converged": self.converged,
                "psrf": _finite_or_none(self.psrf),
                "psrf_upper": _finite_or_none(self.psrf_upper),
                "k_star_median": float(np.median(self.k_star)),
            },
            "settings": {
                "K": self.K, "a_alpha": self.a_alpha, "b_alpha": self.b_alpha,
                "burnin": self.burnin, "thin": self.thin, "seed": self.seed,
            },
        }


def _finite_or_none(x: float) -> float | None:
    return float(x) if np.isfinite(x) else None


def _bad(field_name: str, message: str, fix: str) -> BadInput:
    return BadInput("mse.invalid_model", message, where=Where(field=field_name), fix=fix)


def _check_settings(K: int, a_alpha: float, b_alpha: float, chains: int, samples: int,
                    burnin: int, thin: int, confidence: float) -> None:
    whole = {"K": (K, 1), "chains": (chains, 1), "samples": (samples, 4),
             "burnin": (burnin, 0), "thin": (thin, 1)}
    for name, (value, least) in whole.items():
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < least:
            raise _bad(name, f"LCMCR setting {name} must be a whole number ≥ {least}, "
                       f"got {value!r}", f"Give {name} as a whole number of at least {least}.")
    for name, x in {"a_alpha": a_alpha, "b_alpha": b_alpha}.items():
        if not (isinstance(x, (int, float)) and np.isfinite(x) and x > 0):
            raise _bad(name, f"LCMCR prior parameter {name} must be a positive number, got {x!r}",
                       f"Give {name} > 0 (LCMCR's default is 0.25).")
    if not (isinstance(confidence, (int, float)) and 0 < confidence < 1):
        raise _bad("confidence", f"confidence must lie strictly between 0 and 1, got {confidence!r}",
                   "Give a level such as 0.95.")


def _histories_arrays(h: Histories | pd.DataFrame) -> tuple[list[str], IntA, IntA]:
    """Lists, patterns (m × J, 0/1) and counts from a Histories or a histories DataFrame."""
    import pandas as pd

    if isinstance(h, pd.DataFrame):
        from citizendata.integrate.mse.histories import read_histories

        h = read_histories(h)
    patterns = np.asarray(h.patterns, dtype=np.int64)
    counts = np.asarray(h.counts, dtype=np.int64)
    keep = counts > 0  # patterns seen zero times carry no information
    return list(h.lists), patterns[keep], counts[keep]


# ---------------------------------------------------------------- random variates


def _log_gamma(rng: np.random.Generator, shape: FloatA) -> FloatA:
    """log of Gamma(shape, 1) draws, exact for tiny shapes (Marsaglia–Tsang boost)."""
    small = shape < 1.0
    if not small.any():
        return np.log(rng.standard_gamma(shape))
    g = np.log(rng.standard_gamma(np.where(small, shape + 1.0, shape)))
    # Gamma(a) = Gamma(a + 1) · U^(1/a): keeps log V finite when alpha is near 0
    u = 1.0 - rng.random(shape.shape)
    return np.asarray(np.where(small, g + np.log(u) / np.where(small, shape, 1.0), g))


def _log_beta_pair(rng: np.random.Generator, a: FloatA, b: FloatA) -> tuple[FloatA, FloatA]:
    """(log V, log(1 − V)) of V ~ Beta(a, b), through two log-gamma draws."""
    la, lb = _log_gamma(rng, a), _log_gamma(rng, b)
    s = np.logaddexp(la, lb)
    return la - s, lb - s


def _softmax(logp: FloatA) -> FloatA:
    p = np.exp(logp - logp.max(axis=-1, keepdims=True))
    return np.asarray(p / p.sum(axis=-1, keepdims=True))


# ---------------------------------------------------------------- the Gibbs sampler


@dataclass
class _State:
    """All chains' parameters; arrays lead with the chain axis."""

    log_lam: FloatA  # chains × 2 × J × K: log(1 − lambda), log(lambda)
    log_nu: FloatA  # chains × K
    alpha: FloatA  # chains
    n0: IntA  # chains
    count0: IntA  # chains × K: unobserved individuals per class
    nk: IntA  # chains × K: all individuals per class (last sweep)


def _init(rng: np.random.Generator, x: IntA, counts: IntA, K: int, chains: int) -> _State:
    # LCMCR starts every class at the lists' marginal capture frequencies
    p = np.clip((counts @ x) / counts.sum(axis=1, keepdims=True), 1e-6, 1 - 1e-6)  # chains × J
    log_lam = np.empty((chains, 2, x.shape[1], K))
    log_lam[:, 0] = np.log1p(-p)[:, :, None]
    log_lam[:, 1] = np.log(p)[:, :, None]
    lv, l1v = _log_beta_pair(rng, np.ones((chains, K - 1)), np.ones((chains, K - 1)))
    log_nu = _stick(lv, l1v)
    zeros = np.zeros((chains, K), dtype=np.int64)
    return _State(log_lam, log_nu, np.full(chains, 0.3 / K), np.zeros(chains, dtype=np.int64),
                  zeros, zeros.copy())


def _stick(log_v: FloatA, log_1mv: FloatA) -> FloatA:
    """Stick-breaking weights in logs: nu_k = V_k prod_{l<k} (1 − V_l), nu_K = prod (1 − V_l)."""
    before = np.concatenate([np.zeros((log_v.shape[0], 1)), np.cumsum(log_1mv, axis=1)], axis=1)
    return np.concatenate([log_v + before[:, :-1], before[:, -1:]], axis=1)


def _sweep(s: _State, rng: np.random.Generator, x: IntA, xf: FloatA, counts: IntA,
           a_alpha: float, b_alpha: float, update_alpha: bool) -> None:
    """One Gibbs sweep of every chain, in LCMCR's order."""
    K = s.log_nu.shape[1]
    n = counts.sum(axis=1)
    # 1. classes of the observed: one multinomial per (chain, pattern)
    miss = s.log_lam[:, 0].sum(axis=1)  # chains × K: log P(no list | class)
    loglik = xf @ (s.log_lam[:, 1] - s.log_lam[:, 0]) + miss[:, None, :]  # chains × m × K
    z = rng.multinomial(counts, _softmax(loglik + s.log_nu[:, None, :]))
    # 2. capture probabilities: Beta(1 + captured, 1 + missed) per list and class
    n1 = np.einsum("mj,cmk->cjk", x, z)
    nk = z.sum(axis=1) + s.count0
    la, lb = _log_beta_pair(rng, 1.0 + n1, 1.0 + (nk[:, None, :] - n1))
    s.log_lam[:, 1], s.log_lam[:, 0] = la, lb
    # 3. stick-breaking weights: V_k ~ Beta(1 + n_k, alpha + sum_{l>k} n_l)
    tail = (n + s.n0)[:, None] - np.cumsum(nk, axis=1)
    lv, l1v = _log_beta_pair(rng, 1.0 + nk[:, :-1], s.alpha[:, None] + tail[:, :-1])
    s.log_nu = _stick(lv, l1v)
    s.nk = nk
    # 4. the unobserved: n0 ~ NegBin(n, 1 − p0), then their classes
    log_q = s.log_nu + s.log_lam[:, 0].sum(axis=1)  # log P(z = k, never listed), new lambda
    log_p0 = np.logaddexp.reduce(log_q, axis=1)
    s.n0 = _draw_n0(rng, n, log_p0)
    s.count0 = rng.multinomial(s.n0, _softmax(log_q))
    # 5. concentration: alpha ~ Gamma(a + K − 1, rate b − log nu_K)
    if update_alpha:
        rate = b_alpha - s.log_nu[:, -1]
        s.alpha = rng.gamma(a_alpha + K - 1.0, 1.0 / rate)


def _draw_n0(rng: np.random.Generator, n: IntA, log_p0: FloatA) -> IntA:
    success = np.clip(-np.expm1(log_p0), 1e-300, 1.0)
    n0 = rng.negative_binomial(n, success).astype(np.int64)
    for _ in range(1000):
        over = n0 > _N0_CAP * n
        if not over.any():
            return n0
        n0[over] = rng.negative_binomial(n[over], success[over])
    # the chain sits where nearly everyone is unseen; keep it at the cap rather than loop
    return np.minimum(n0, _N0_CAP * n)


def _permute_by_weight(s: _State) -> None:
    """Relabel classes by decreasing weight (LCMCR does this after its warm-up)."""
    order = np.argsort(-s.log_nu, axis=1, kind="stable")
    s.log_nu = np.take_along_axis(s.log_nu, order, axis=1)
    s.count0 = np.take_along_axis(s.count0, order, axis=1)
    s.nk = np.take_along_axis(s.nk, order, axis=1)
    s.log_lam = np.take_along_axis(s.log_lam, order[:, None, None, :], axis=3)


def run_chains(patterns: IntA, counts: IntA, *, K: int, a_alpha: float, b_alpha: float,
               chains: int, samples: int, burnin: int, thin: int,
               rng: np.random.Generator) -> tuple[IntA, IntA, FloatA]:
    """Run the sampler; draws of N, occupied classes and alpha, each chains × samples.

    ``counts`` is one table (m) shared by all chains, or one table per chain (chains × m): the
    latter runs independent data sets side by side (the coverage simulation does).
    """
    x = np.asarray(patterns, dtype=np.int64)
    xf = x.astype(np.float64)
    counts = np.broadcast_to(np.asarray(counts, dtype=np.int64), (chains, x.shape[0]))
    n = counts.sum(axis=1)
    s = _init(rng, x, counts, K, chains)
    for _ in range(_WARMUP):
        _sweep(s, rng, x, xf, counts, a_alpha, b_alpha, update_alpha=False)
    _permute_by_weight(s)
    for _ in range(burnin):
        _sweep(s, rng, x, xf, counts, a_alpha, b_alpha, update_alpha=True)
    n_draws = np.empty((chains, samples), dtype=np.int64)
    k_star = np.empty((chains, samples), dtype=np.int64)
    alpha = np.empty((chains, samples))
    for t in range(samples):
        for _ in range(thin):
            _sweep(s, rng, x, xf, counts, a_alpha, b_alpha, update_alpha=True)
        n_draws[:, t] = n + s.n0
        k_star[:, t] = (s.nk > 0).sum(axis=1)
        alpha[:, t] = s.alpha
    return n_draws, k_star, alpha


def fit_lcmcr(h: Histories | pd.DataFrame, *, K: int = 10, a_alpha: float = 0.25,
              b_alpha: float = 0.25, chains: int = 4, samples: int = 2000, burnin: int = 2000,
              thin: int = 10, seed: int | None = None, confidence: float = 0.95) -> LCMCRResult:
    """Posterior of N under LCMCR from capture histories (a Histories or its DataFrame).

    ``samples`` draws are kept per chain, one every ``thin`` sweeps after ``burnin`` sweeps
    (and LCMCR's 500 warm-up sweeps). The estimate is the posterior median of N, the interval
    equal-tailed; ``converged`` needs rank-normalised split R-hat < 1.01 and ESS ≥ 100 per chain.
    """
    _check_settings(K, a_alpha, b_alpha, chains, samples, burnin, thin, confidence)
    lists, patterns, counts = _histories_arrays(h)
    if patterns.ndim != 2 or patterns.shape[0] == 0 or counts.sum() == 0:
        raise BadInput("mse.invalid_histories", "The capture histories hold no observed individual.",
                       fix="Give at least one pattern with a positive count.")
    if seed is None:
        # record the entropy used so that the run can be repeated from its result
        seed = int(np.random.SeedSequence().entropy % (2**63))  # type: ignore[operator]
    rng = np.random.default_rng(seed)
    draws, k_star, alpha = run_chains(patterns, counts, K=K, a_alpha=a_alpha, b_alpha=b_alpha,
                                      chains=chains, samples=samples, burnin=burnin, thin=thin,
                                      rng=rng)
    tail = (1.0 - confidence) / 2.0
    lo, mid, hi = np.quantile(draws, [tail, 0.5, 1.0 - tail])
    d = diagnose(draws)
    return LCMCRResult(
        lists=lists, n_observed=int(counts.sum()), estimate=float(mid), ci=(float(lo), float(hi)),
        confidence=float(confidence), draws=draws, rhat=d.rhat, ess=d.ess,
        converged=d.converged, psrf=d.psrf, psrf_upper=d.psrf_upper, K=int(K),
        a_alpha=float(a_alpha), b_alpha=float(b_alpha), chains=int(chains),
        samples=int(samples), burnin=int(burnin), thin=int(thin), seed=int(seed),
        k_star=k_star, alpha=alpha)
