"""Unit-level small area estimation: the Battese–Harter–Fuller nested error model.

y_ij = x_ij' beta + u_i + e_ij, u_i ~ N(0, sigma2_u), e_ij ~ N(0, sigma2_e) (Battese, Harter &
Fuller 1988; Rao & Molina 2015, ch. 7).  Variances by REML (default) or ML, profiled over
lambda = sigma2_u / sigma2_e as lme4 does, using per-area sums only (no n x n matrix).
EBLUP of the area mean as R sae's `eblupBHF`:
  f_i ybar_i + (Xbar_i - f_i xbar_i)' beta + (1 - f_i) u_i,  f_i = n_i / N_i
(f_i = 0 when no population size is given).  MSE: analytic, Prasad–Rao type
(g1 + g2 + 2 g3, Prasad & Rao 1990; Datta & Lahiri 2000; Rao & Molina 2015, sect. 7.2.4) on the
non-sampled part, with the finite population term, or R sae's parametric bootstrap
(pbmseBHF; González-Manteiga et al. 2008).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import optimize, stats

from citizendata.errors import BadInput, Where
from citizendata.integrate.sae._design import _bad, _numeric

__all__ = ["BHFResult", "battese_harter_fuller"]


@dataclass
class BHFResult:
    """A fitted nested error model and the EBLUPs of the area means with their MSEs."""

    method: str
    beta: dict[str, float]
    beta_se: dict[str, float]
    sigma2_u: float
    sigma2_e: float
    loglike: float
    areas: pd.DataFrame
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: method, beta, the two variances and one row per area."""
        rows = [{k: (None if isinstance(v, float) and not math.isfinite(v) else
                     v.item() if isinstance(v, np.generic) else v) for k, v in r.items()}
                for r in self.areas[["area", "n", "eblup", "mse", "gamma"]].to_dict("records")]
        return {"method": self.method, "beta": self.beta, "sigma2_u": self.sigma2_u,
                "sigma2_e": self.sigma2_e, "areas": rows}


@dataclass(frozen=True)
class _Stats:
    n: np.ndarray       # (D,) units per sampled area
    Sx: np.ndarray      # (D, p) sums of x
    Sy: np.ndarray      # (D,) sums of y
    XX: np.ndarray      # (p, p)
    Xy: np.ndarray      # (p,)
    yy: float
    N: int
    p: int


def _profile(lam: float, s: _Stats, reml: bool) -> tuple[float, np.ndarray, np.ndarray, float]:
    """-2 log-likelihood profiled over sigma2_e, with beta, (X'H^-1X)^-1 and sigma2_e."""
    c = lam / (1.0 + s.n * lam)
    A = s.XX - (s.Sx * c[:, None]).T @ s.Sx
    b = s.Xy - s.Sx.T @ (c * s.Sy)
    Ainv = np.linalg.inv(A)
    beta = Ainv @ b
    rss = s.yy - float(np.sum(c * s.Sy ** 2)) - float(beta @ b)
    dof = s.N - s.p if reml else s.N
    s2e = rss / dof
    obj = dof * math.log(s2e) + float(np.sum(np.log1p(s.n * lam)))
    if reml:
        obj += float(np.linalg.slogdet(A)[1])
    return obj, beta, Ainv, s2e


def _units(units: pd.DataFrame, area: str, response: str, columns: Sequence[str]
           ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    code = "sae.invalid_direct"
    for col in (area, response):
        if col not in units.columns:
            raise BadInput(code, f"there is no column {col!r}", where=Where(column=col))
    if units[area].isna().any():
        raise BadInput(code, "the area is missing on some units", where=Where(column=area))
    y = _numeric(units, response, area, code)
    X = np.column_stack([np.ones(len(units))] + [
        _numeric(units, c, area, "sae.invalid_covariates") for c in columns])
    return units[area].to_numpy(), y, X


def battese_harter_fuller(units: pd.DataFrame, *, area: str, response: str,
                          columns: Sequence[str], area_means: pd.DataFrame,
                          population: str | None = None, method: str = "reml",
                          level: float = 0.95, bootstrap: int = 0,
                          seed: int | None = None) -> BHFResult:
    """EBLUPs of area means under the nested error model, with analytic MSEs.

    `units`: one row per sampled unit (area, response, covariates).  `area_means`: one row
    per area to estimate, with the population means of the same covariate columns and,
    in `population`, the number of population units (for the finite-population terms).
    Areas of `area_means` without sampled units get synthetic estimates.  `bootstrap > 0`
    replaces the analytic MSE by sae's parametric bootstrap (pbmseBHF) with that many
    replicates.
    """
    method = method.lower()
    if method not in ("reml", "ml"):
        raise BadInput("sae.invalid_model", f"method {method!r}: use reml or ml")
    if bootstrap < 0 or not 0 < level < 1:
        raise BadInput("sae.invalid_model", "level must be in (0, 1) and bootstrap >= 0")
    if area in units.columns and area in area_means.columns and \
            units[area].dtype != area_means[area].dtype:
        # codes read as numbers in one table and as text in the other: match as text
        units = units.assign(**{area: units[area].astype(str)})
        area_means = area_means.assign(**{area: area_means[area].astype(str)})
    codes, y, X = _units(units, area, response, columns)
    keys, inv = np.unique(codes.astype(str) if codes.dtype == object else codes,
                          return_inverse=True)
    D, p = len(keys), X.shape[1]
    if D <= 1 or len(y) <= p + 1:
        raise BadInput("sae.invalid_model", "too few areas or units for the nested error model")
    if np.linalg.matrix_rank(X) < p:
        raise BadInput("sae.invalid_model", "the unit covariates are collinear")
    n = np.bincount(inv, minlength=D).astype(float)
    Sx = np.zeros((D, p))
    np.add.at(Sx, inv, X)
    s = _Stats(n=n, Sx=Sx, Sy=np.bincount(inv, weights=y, minlength=D), XX=X.T @ X,
               Xy=X.T @ y, yy=float(y @ y), N=len(y), p=p)
    reml = method == "reml"
    obj, beta, Ainv, s2e, lam = _fit(s, reml)
    notes = []
    if lam == 0:
        notes.append("the area variance estimate is zero: the estimates are synthetic "
                     "regression estimates")
    s2u = lam * s2e
    Q = s2e * Ainv                        # Var(beta-hat) = (X'V^-1 X)^-1
    t = _targets(area_means, area, columns, population, keys, s)
    eblup, gamma, u = _eblup(t, s.Sy, beta, s2u, s2e)
    mse = _mse(t, s, Q, s2u, s2e, gamma)
    if bootstrap > 0:
        mse = _bootstrap(inv, X, s, t, beta, s2u, s2e, reml, bootstrap, seed)
        notes.append(f"MSE by parametric bootstrap ({bootstrap} replicates, as sae's pbmseBHF)")
    z = float(stats.norm.ppf(0.5 + level / 2))
    frame = pd.DataFrame({"area": t.codes, "n": t.n.astype(int), "eblup": eblup, "mse": mse,
                          "gamma": gamma, "lower": eblup - z * np.sqrt(mse),
                          "upper": eblup + z * np.sqrt(mse), "in_sample": t.inside,
                          "direct_mean": np.where(t.inside, s.Sy[t.j] / t.nn, np.nan),
                          "synthetic": t.Xbar @ beta, "random_effect": u})
    names = ["(Intercept)", *columns]
    const = (s.N - p if reml else s.N) * (1 + math.log(2 * math.pi))
    return BHFResult(method=method.upper(), beta=dict(zip(names, map(float, beta), strict=True)),
                     beta_se=dict(zip(names, map(float, np.sqrt(np.diag(Q))), strict=True)),
                     sigma2_u=float(s2u), sigma2_e=float(s2e), loglike=-0.5 * (obj + const),
                     areas=frame, notes=notes)


def _fit(s: _Stats, reml: bool) -> tuple[float, np.ndarray, np.ndarray, float, float]:
    """Maximise the profiled (restricted) likelihood over log lambda; lambda = 0 if better."""
    res = optimize.minimize_scalar(lambda t: _profile(math.exp(t), s, reml)[0],
                                   bounds=(-25.0, 12.0), method="bounded",
                                   options={"xatol": 1e-10})
    lam = math.exp(res.x)
    if _profile(0.0, s, reml)[0] <= res.fun:
        lam = 0.0
    obj, beta, Ainv, s2e = _profile(lam, s, reml)
    return obj, beta, Ainv, s2e, lam


@dataclass(frozen=True)
class _Targets:
    """The areas to estimate (rows of `area_means`) and their sample's place."""

    codes: pd.Series
    Xbar: np.ndarray     # (K, p) population means
    inside: np.ndarray   # has units in the sample
    j: np.ndarray        # index into the sampled areas (0 where not inside)
    n: np.ndarray        # sample size (0 where not inside)
    nn: np.ndarray       # n, or 1 where not inside (a safe divisor)
    Npop: np.ndarray     # population size (inf without one)
    f: np.ndarray        # sampling fraction n / N
    xbar_s: np.ndarray   # (K, p) sample means


def _targets(area_means: pd.DataFrame, area: str, columns: Sequence[str],
             population: str | None, keys: np.ndarray, s: _Stats) -> _Targets:
    code = "sae.invalid_covariates"
    if area not in area_means.columns:
        raise BadInput(code, f"the area means have no area column {area!r}",
                       where=Where(column=area))
    am = area_means.reset_index(drop=True)
    am_keys = am[area].astype(str).to_numpy() if keys.dtype.kind in "OUS" else am[area].to_numpy()
    lacking = sorted(set(keys.tolist()) - set(am_keys.tolist()), key=str)
    if lacking:
        raise _bad(code, "the area means lack these sampled areas", area, lacking)
    Xbar = np.column_stack([np.ones(len(am))] + [_numeric(am, c, area, code) for c in columns])
    idx = pd.Series(np.arange(len(keys)), index=pd.Index(keys)).reindex(am_keys).to_numpy()
    inside = ~np.isnan(idx)
    j = np.where(inside, np.nan_to_num(idx), 0).astype(int)
    n = np.where(inside, s.n[j], 0.0)
    if population is not None:
        Npop = _numeric(am, population, area, "population.invalid")
        short = Npop < n
        if short.any():
            raise _bad("population.invalid", f"{population} is smaller than the sample",
                       population, list(am.loc[short, area]))
        f = np.where(Npop > 0, n / Npop, 0.0)
    else:
        Npop, f = np.full(len(am), np.inf), np.zeros(len(am))
    nn = np.where(inside, n, 1.0)
    xbar_s = np.where(inside[:, None], s.Sx[j] / nn[:, None], 0.0)
    return _Targets(codes=am[area], Xbar=Xbar, inside=inside, j=j, n=n, nn=nn, Npop=Npop, f=f,
                    xbar_s=xbar_s)


def _eblup(t: _Targets, Sy: np.ndarray, beta: np.ndarray, s2u: np.ndarray | float,
           s2e: np.ndarray | float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """sae's EBLUP f ybar + (Xbar - f xbar)'beta + (1 - f) u; Sy, beta, s2 may carry a
    trailing replicate axis (Sy (D, B), beta (p, B), s2 (B,))."""
    ins = t.inside if np.ndim(Sy) == 1 else t.inside[:, None]
    nn = t.nn if np.ndim(Sy) == 1 else t.nn[:, None]
    f = t.f if np.ndim(Sy) == 1 else t.f[:, None]
    ybar = np.where(ins, Sy[t.j] / nn, 0.0)
    gamma = np.where(ins, s2u / (s2u + s2e / nn), 0.0)
    u = np.where(ins, gamma * (ybar - t.xbar_s @ beta), 0.0)
    eblup = f * ybar + (t.Xbar - (t.f[:, None] * t.xbar_s)) @ beta + (1 - f) * u
    return eblup, gamma, u


def _mse(t: _Targets, s: _Stats, Q: np.ndarray, s2u: float, s2e: float,
         gamma: np.ndarray) -> np.ndarray:
    """Analytic MSE of the non-sampled part's mean X_r'beta + u + ebar_r, times (1 - f)^2."""
    one_f = 1.0 - t.f
    Xr = (t.Xbar - t.f[:, None] * t.xbar_s) / np.where(one_f > 0, one_f, 1.0)[:, None]
    a = Xr - gamma[:, None] * t.xbar_s
    g1 = (1 - gamma) * s2u
    g2 = np.einsum("ip,pq,iq->i", a, Q, a)
    g3 = _g3(s.n, s2u, s2e, t.nn) * t.inside
    with np.errstate(divide="ignore"):
        e_r = np.where(np.isfinite(t.Npop) & (t.Npop > t.n), s2e / (t.Npop - t.n), 0.0)
    return one_f ** 2 * (g1 + g2 + 2 * g3 + e_r)


def _bootstrap(inv: np.ndarray, X: np.ndarray, s: _Stats, t: _Targets, beta: np.ndarray,
               s2u: float, s2e: float, reml: bool, B: int, seed: int | None) -> np.ndarray:
    """Parametric bootstrap MSE (González-Manteiga et al. 2008), as sae's pbmseBHF.

    Samples and population means are drawn from the fitted model for all replicates at
    once and reduced to per-area sums; only the one-dimensional likelihood search runs per
    replicate.
    """
    rng = np.random.default_rng(seed)
    D, K = len(s.n), len(t.codes)
    u = math.sqrt(s2u) * rng.standard_normal((K, B))          # one effect per target area
    e = math.sqrt(s2e) * rng.standard_normal((s.N, B))
    u_s = np.zeros((D, B))
    u_s[t.j[t.inside]] = u[t.inside]
    ystar = (X @ beta)[:, None] + u_s[inv] + e
    Sy = np.zeros((D, B))
    np.add.at(Sy, inv, ystar)
    Se = np.zeros((D, B))
    np.add.at(Se, inv, e)
    Xy, yy = X.T @ ystar, np.einsum("nb,nb->b", ystar, ystar)
    # the area's true mean: X_bar'beta + u + (sampled and non-sampled units' mean error)
    # (without population sizes the population is infinite and that mean error is 0)
    finite = np.isfinite(t.Npop)
    r = np.where(finite, t.Npop - t.n, 0.0)                  # non-sampled units
    sum_r = rng.standard_normal((K, B)) * np.sqrt(s2e * r)[:, None]   # their error sum
    Nf = np.where(finite & (t.Npop > 0), t.Npop, 1.0)[:, None]
    ebar = np.where(finite[:, None],
                    (np.where(t.inside[:, None], Se[t.j], 0.0) + sum_r) / Nf, 0.0)
    truth = (t.Xbar @ beta)[:, None] + u + ebar
    betas, s2us, s2es = np.empty((len(beta), B)), np.empty(B), np.empty(B)
    for b in range(B):  # a scalar search each; everything else above is vectorised
        sb = _Stats(n=s.n, Sx=s.Sx, Sy=Sy[:, b], XX=s.XX, Xy=Xy[:, b], yy=float(yy[b]),
                    N=s.N, p=s.p)
        _, betas[:, b], _, s2es[b], lam = _fit(sb, reml)
        s2us[b] = lam * s2es[b]
    est, _, _ = _eblup(t, Sy, betas, s2us, s2es)
    return np.mean((est - truth) ** 2, axis=1)


def _g3(n_all: np.ndarray, s2u: float, s2e: float, n: np.ndarray) -> np.ndarray:
    """g3 from the asymptotic covariance of (sigma2_u, sigma2_e) (Rao & Molina 2015, 7.2.4)."""
    alpha = s2e + n_all * s2u
    info = 0.5 * np.array([
        [np.sum(n_all ** 2 / alpha ** 2), np.sum(n_all / alpha ** 2)],
        [np.sum(n_all / alpha ** 2), np.sum((n_all - 1) / s2e ** 2 + 1 / alpha ** 2)]])
    V = np.linalg.inv(info)
    h = s2e ** 2 * V[0, 0] - 2 * s2e * s2u * V[0, 1] + s2u ** 2 * V[1, 1]
    return h / (n ** 2 * (s2u + s2e / n) ** 3)
