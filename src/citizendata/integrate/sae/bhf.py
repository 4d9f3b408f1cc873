"""Unit-level small area estimation: the Battese–Harter–Fuller nested error model.

y_ij = x_ij' beta + u_i + e_ij, u_i ~ N(0, sigma2_u), e_ij ~ N(0, sigma2_e) (Battese, Harter &
Fuller 1988; Rao & Molina 2015, ch. 7).  Variances by REML (default) or ML, profiled over
lambda = sigma2_u / sigma2_e as lme4 does, using per-area sums only (no n x n matrix).
EBLUP of the area mean as R sae's `eblupBHF`:
  f_i ybar_i + (Xbar_i - f_i xbar_i)' beta + (1 - f_i) u_i,  f_i = n_i / N_i
(f_i = 0 when no population size is given).  MSE: analytic, Prasad–Rao type
(g1 + g2 + 2 g3, Prasad & Rao 1990; Datta & Lahiri 2000; Rao & Molina 2015, sect. 7.2.4) on the
non-sampled part, with the finite population term; R sae offers a bootstrap (pbmseBHF)
instead, which is not implemented here.
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
                          level: float = 0.95) -> BHFResult:
    """EBLUPs of area means under the nested error model, with analytic MSEs.

    `units`: one row per sampled unit (area, response, covariates).  `area_means`: one row
    per area to estimate, with the population means of the same covariate columns and,
    in `population`, the number of population units (for the finite-population terms).
    Areas of `area_means` without sampled units get synthetic estimates.
    """
    method = method.lower()
    if method not in ("reml", "ml"):
        raise BadInput("sae.invalid_model", f"method {method!r}: use reml or ml")
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
    res = optimize.minimize_scalar(lambda t: _profile(math.exp(t), s, reml)[0],
                                   bounds=(-25.0, 12.0), method="bounded",
                                   options={"xatol": 1e-10})
    lam = math.exp(res.x)
    notes = []
    if _profile(0.0, s, reml)[0] <= res.fun:
        lam = 0.0
        notes.append("the area variance estimate is zero: the estimates are synthetic "
                     "regression estimates")
    obj, beta, Ainv, s2e = _profile(lam, s, reml)
    s2u = lam * s2e
    Q = s2e * Ainv                        # Var(beta-hat) = (X'V^-1 X)^-1
    names = ["(Intercept)", *columns]
    frame = _predict(area_means, area, columns, population, keys, s, beta, Q, s2u, s2e, level)
    const = (s.N - p if reml else s.N) * (1 + math.log(2 * math.pi))
    return BHFResult(method=method.upper(), beta=dict(zip(names, map(float, beta), strict=True)),
                     beta_se=dict(zip(names, map(float, np.sqrt(np.diag(Q))), strict=True)),
                     sigma2_u=float(s2u), sigma2_e=float(s2e), loglike=-0.5 * (obj + const),
                     areas=frame, notes=notes)


def _predict(area_means: pd.DataFrame, area: str, columns: Sequence[str],
             population: str | None, keys: np.ndarray, s: _Stats, beta: np.ndarray,
             Q: np.ndarray, s2u: float, s2e: float, level: float) -> pd.DataFrame:
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
    pos = pd.Series(np.arange(len(keys)), index=pd.Index(keys))
    idx = pos.reindex(am_keys).to_numpy()
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
    ybar = np.where(inside, s.Sy[j] / nn, np.nan)
    gamma = np.where(inside, s2u / (s2u + s2e / nn), 0.0)
    u = np.where(inside, gamma * (np.nan_to_num(ybar) - xbar_s @ beta), 0.0)
    eblup = np.where(inside, f * np.nan_to_num(ybar), 0.0) + (Xbar - f[:, None] * xbar_s) @ beta \
        + (1 - f) * u
    # MSE of the non-sampled part's mean X_r'beta + u + ebar_r, scaled by (1 - f)^2
    one_f = 1.0 - f
    Xr = (Xbar - f[:, None] * xbar_s) / np.where(one_f > 0, one_f, 1.0)[:, None]
    a = Xr - gamma[:, None] * xbar_s
    g1 = (1 - gamma) * s2u
    g2 = np.einsum("ip,pq,iq->i", a, Q, a)
    g3 = _g3(s.n, s2u, s2e, nn) * inside
    with np.errstate(divide="ignore"):
        e_r = np.where(np.isfinite(Npop) & (Npop > n), s2e / (Npop - n), 0.0)
    mse = one_f ** 2 * (g1 + g2 + 2 * g3 + e_r)
    z = float(stats.norm.ppf(0.5 + level / 2))
    return pd.DataFrame({"area": am[area], "n": n.astype(int), "eblup": eblup, "mse": mse,
                         "gamma": gamma, "lower": eblup - z * np.sqrt(mse),
                         "upper": eblup + z * np.sqrt(mse), "in_sample": inside,
                         "direct_mean": ybar, "synthetic": Xbar @ beta, "random_effect": u})


def _g3(n_all: np.ndarray, s2u: float, s2e: float, n: np.ndarray) -> np.ndarray:
    """g3 from the asymptotic covariance of (sigma2_u, sigma2_e) (Rao & Molina 2015, 7.2.4)."""
    alpha = s2e + n_all * s2u
    info = 0.5 * np.array([
        [np.sum(n_all ** 2 / alpha ** 2), np.sum(n_all / alpha ** 2)],
        [np.sum(n_all / alpha ** 2), np.sum((n_all - 1) / s2e ** 2 + 1 / alpha ** 2)]])
    V = np.linalg.inv(info)
    h = s2e ** 2 * V[0, 0] - 2 * s2e * s2u * V[0, 1] + s2u ** 2 * V[1, 1]
    return h / (n ** 2 * (s2u + s2e / n) ** 3)
