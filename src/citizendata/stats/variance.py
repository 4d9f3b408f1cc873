"""Variance estimation, confidence intervals and reliability flags for survey estimates.

Microdata reference engine: Taylor linearisation with the with-replacement (first-stage)
variance of a one-stage, unstratified design, the GREG residual adjustment for calibrated
weights (as R's ``survey`` package), the Rao–Wu rescaling bootstrap with re-calibration,
Wilson, Clopper–Pearson, logit and Wald intervals, and the CV-based reliability rule.
Formulas and references: ``docs/methods/variance.md``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from statistics import NormalDist
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
from scipy.stats import beta

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "Estimate",
    "ReliabilityRule",
    "bootstrap_weights",
    "clopper_pearson_interval",
    "domain_estimate",
    "linearized_variance",
    "proportion_interval",
    "recalibrator",
    "reliability_flag",
    "replicate_variance",
    "wilson_interval",
    "z_value",
]

FloatArray = npt.NDArray[np.float64]
KINDS = ("proportion", "mean", "total", "ratio", "count")
CI_METHODS = ("wilson", "clopper_pearson", "logit", "wald")


def z_value(level: float) -> float:
    """Two-sided standard normal quantile for a confidence level in (0, 1)."""
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be in (0, 1), got {level!r}")
    return NormalDist().inv_cdf(0.5 + level / 2.0)


def _counts(successes: npt.ArrayLike, n: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
    """Successes and trials as float arrays, checked 0 <= x <= n."""
    x, m = np.broadcast_arrays(np.asarray(successes, dtype=float), np.asarray(n, dtype=float))
    bad = (x < 0) | (x > m) | (m < 0)
    if np.any(bad):
        raise ValueError("need 0 <= successes <= n for every interval")
    return x.astype(float), m.astype(float)


def wilson_interval(
    successes: npt.ArrayLike, n: npt.ArrayLike, level: float = 0.95
) -> tuple[FloatArray, FloatArray]:
    """Wilson (1927) score interval, vectorised; NaN where n is 0."""
    x, m = _counts(successes, n)
    z = z_value(level)
    z2 = z * z
    with np.errstate(divide="ignore", invalid="ignore"):
        p = x / m
        denom = 1.0 + z2 / m
        centre = (p + z2 / (2.0 * m)) / denom
        half = z * np.sqrt(p * (1.0 - p) / m + z2 / (4.0 * m * m)) / denom
    # at x = 0 and x = n the bounds are exactly 0 and 1; rounding must not move them
    low = np.where(x == 0, 0.0, np.clip(centre - half, 0.0, 1.0))
    high = np.where(x == m, 1.0, np.clip(centre + half, 0.0, 1.0))
    empty = m == 0
    return np.where(empty, np.nan, low), np.where(empty, np.nan, high)


def clopper_pearson_interval(
    successes: npt.ArrayLike, n: npt.ArrayLike, level: float = 0.95
) -> tuple[FloatArray, FloatArray]:
    """Clopper–Pearson (1934) exact interval from scipy's beta quantiles, vectorised; 0 and n handled."""
    x, m = _counts(successes, n)
    z_value(level)  # validates level
    alpha = 1.0 - level
    with np.errstate(divide="ignore", invalid="ignore"):
        # beta.ppf is NaN for a zero shape parameter: those are the x = 0 and x = n edges
        low = np.where(x == 0, 0.0, beta.ppf(alpha / 2.0, x, m - x + 1.0))
        high = np.where(x == m, 1.0, beta.ppf(1.0 - alpha / 2.0, x + 1.0, m - x))
    empty = m == 0
    return np.where(empty, np.nan, low), np.where(empty, np.nan, high)


def proportion_interval(
    p: npt.ArrayLike,
    se: npt.ArrayLike,
    n: npt.ArrayLike,
    df: npt.ArrayLike | None = None,
    level: float = 0.95,
    method: str = "logit",
    se_logit: npt.ArrayLike | None = None,
) -> tuple[FloatArray, FloatArray]:
    """The interval of a proportion, the same in every engine (vectorised).

    The quantile q is t with ``df`` degrees of freedom (z when None). ``logit``:
    expit(logit p -/+ q se / (p (1 - p))), or -/+ q ``se_logit`` (a replicate variance of
    the logit); where it is undefined — p at 0 or 1, or SE 0 — Wilson's interval on the
    effective sample size. ``wilson`` and ``clopper_pearson``: on the effective sample
    size n_eff = p (1 - p) / SE^2 (Korn & Graubard 1998) capped at n, and n itself when
    the SE is 0 or p is at 0 or 1, at the normal level whose quantile is q (the t level).
    ``wald``: p -/+ q se. NaN where p or the SE is not a number, or n_eff is 0.
    """
    pa, sa, na = np.broadcast_arrays(np.asarray(p, dtype=float), np.asarray(se, dtype=float),
                                     np.asarray(n, dtype=float))
    z_value(level)  # validates level
    if df is None:
        q = np.full(pa.shape, z_value(level))
    else:
        from scipy.stats import t as t_dist

        q = np.broadcast_to(np.asarray(t_dist.ppf(0.5 + level / 2.0, df), dtype=float),
                            pa.shape)
    ok = np.isfinite(pa) & np.isfinite(sa) & np.isfinite(q)
    nan = np.full(pa.shape, np.nan)
    if method == "wald":
        return np.where(ok, pa - q * sa, nan), np.where(ok, pa + q * sa, nan)
    if method not in ("logit", "wilson", "clopper_pearson"):
        raise ValueError(f"method must be one of {CI_METHODS}, got {method!r}")
    pc = np.clip(np.where(ok, pa, 0.0), 0.0, 1.0)
    inside = ok & (pc > 0.0) & (pc < 1.0) & (sa > 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        n_eff = np.where(inside, np.minimum(pc * (1 - pc) / np.where(sa > 0, sa * sa, 1.0), na),
                         na)
    n_eff = np.where(ok & np.isfinite(n_eff), np.maximum(n_eff, 0.0), 0.0)
    from scipy.stats import norm

    alpha = 2.0 * norm.sf(q)  # the normal level with quantile q
    if method == "clopper_pearson":
        x = pc * n_eff
        with np.errstate(divide="ignore", invalid="ignore"):
            lo = np.where(x <= 0, 0.0, beta.ppf(alpha / 2.0, x, n_eff - x + 1.0))
            hi = np.where(x >= n_eff, 1.0, beta.ppf(1.0 - alpha / 2.0, x + 1.0, n_eff - x))
    else:
        with np.errstate(divide="ignore", invalid="ignore"):
            z2 = q * q
            denom = 1.0 + z2 / n_eff
            centre = (pc + z2 / (2.0 * n_eff)) / denom
            half = q * np.sqrt(pc * (1.0 - pc) / n_eff + z2 / (4.0 * n_eff * n_eff)) / denom
        lo = np.where(pc <= 0.0, 0.0, np.clip(centre - half, 0.0, 1.0))
        hi = np.where(pc >= 1.0, 1.0, np.clip(centre + half, 0.0, 1.0))
    if method == "logit":
        with np.errstate(divide="ignore", invalid="ignore"):
            eta = np.log(pc / (1.0 - pc))
            sl = (sa / (pc * (1.0 - pc)) if se_logit is None
                  else np.broadcast_to(np.asarray(se_logit, dtype=float), pa.shape))
            llo = 1.0 / (1.0 + np.exp(-(eta - q * sl)))
            lhi = 1.0 / (1.0 + np.exp(-(eta + q * sl)))
        use = inside & np.isfinite(llo) & np.isfinite(lhi)
        lo, hi = np.where(use, llo, lo), np.where(use, lhi, hi)
    empty = ~ok | (n_eff <= 0)
    return np.where(empty, nan, lo), np.where(empty, nan, hi)


# -- linearisation -------------------------------------------------------------------


def _cluster_sums(values: FloatArray, cluster: npt.ArrayLike | None) -> FloatArray:
    """Rows summed within clusters (rows unchanged when there are no clusters)."""
    if cluster is None:
        return values
    codes = np.unique(np.asarray(cluster), return_inverse=True)[1].ravel()
    order = np.argsort(codes, kind="stable")
    sorted_codes = codes[order]
    starts = np.flatnonzero(np.r_[True, sorted_codes[1:] != sorted_codes[:-1]])
    return np.add.reduceat(values[order], starts, axis=0)


def greg_residuals(
    u: FloatArray, X: npt.ArrayLike, d: npt.ArrayLike, q: npt.ArrayLike | None = None
) -> FloatArray:
    """Residuals of u regressed on X with weights d / q (least squares; X may be rank-deficient).

    q are the working-model variances of the calibration (R's ``calibrate(variance=)``);
    None means 1 for every unit.
    """
    Xa = np.asarray(X, dtype=float)
    da = np.asarray(d, dtype=float)
    if q is not None:
        qa = np.asarray(q, dtype=float)
        if qa.shape != da.shape or not np.all(np.isfinite(qa) & (qa > 0)):
            raise ValueError("q must be positive, finite and have the shape of d")
        da = da / qa
    if Xa.ndim == 1:
        Xa = Xa[:, None]
    ua = np.asarray(u, dtype=float)
    sd = np.sqrt(da)
    sdu = sd if ua.ndim == 1 else sd[:, None]
    # as R's qr.resid(qr(X*sqrt(d/q)), u*sqrt(d/q)) / sqrt(d/q): the residual is unique even
    # when X has collinear columns (full dummy coding of several margins), so min-norm lstsq
    # is exact. Numeric columns are scaled to at most 1 first so that lstsq's rank cut-off
    # does not depend on their units (the column space, hence the residual, is unchanged).
    scale = np.abs(Xa).max(axis=0, initial=0.0)
    Xa = Xa / np.where(scale > 0, scale, 1.0)
    beta = np.linalg.lstsq(Xa * sd[:, None], ua * sdu, rcond=None)[0]
    return np.asarray(ua - Xa @ beta, dtype=float)


def linearized_variance(
    z: npt.ArrayLike,
    cluster: npt.ArrayLike | None = None,
    *,
    X: npt.ArrayLike | None = None,
    d: npt.ArrayLike | None = None,
    w: npt.ArrayLike | None = None,
    q: npt.ArrayLike | None = None,
) -> float | FloatArray:
    """With-replacement variance of the weighted total of influence values z (n, or n x k).

    With X (the calibration's model matrix), d (its design weights) and optionally q (its
    working variances), z is replaced by its GREG residuals, as R's svyrecvar does.
    """
    u = np.asarray(z, dtype=float)
    single = u.ndim == 1
    U = u.reshape(u.shape[0], -1)
    n = U.shape[0]
    if w is not None:
        wa = np.asarray(w, dtype=float)
    elif d is not None:
        wa = np.asarray(d, dtype=float)
    else:
        wa = np.ones(n)
    if wa.shape != (n,):
        raise ValueError(f"weights have shape {wa.shape}, expected ({n},)")
    if X is not None:
        if d is None:
            raise ValueError("the calibration adjustment needs the pre-calibration weights d")
        U = greg_residuals(U, X, d, q)
    totals = _cluster_sums(wa[:, None] * U, cluster)
    m = totals.shape[0]
    if m < 2:
        v = np.full(U.shape[1], np.nan)
    else:
        dev = totals - totals.mean(axis=0)
        v = m / (m - 1.0) * np.einsum("ij,ij->j", dev, dev)
    return float(v[0]) if single else v


def replicate_variance(
    replicates: npt.ArrayLike, full: npt.ArrayLike | None = None, *, mse: bool = False
) -> float | FloatArray:
    """Bootstrap variance 1/(R-1) sum (theta_r - centre)^2 over the last axis (R's type='bootstrap')."""
    th = np.asarray(replicates, dtype=float)
    r = th.shape[-1]
    if r < 2:
        raise ValueError("need at least two replicates")
    if mse:
        if full is None:
            raise ValueError("mse=True needs the full-sample estimate")
        centre = np.asarray(full, dtype=float)[..., None]
    else:
        centre = th.mean(axis=-1, keepdims=True)
    v = ((th - centre) ** 2).sum(axis=-1) / (r - 1.0)
    return float(v) if np.ndim(v) == 0 else v


# -- reliability ---------------------------------------------------------------------


@dataclass(frozen=True)
class ReliabilityRule:
    """Minimum sample size and CV thresholds (Statistics Canada / NCHS practice)."""

    min_n: int = 30
    caution_cv: float = 0.15
    unreliable_cv: float = 0.30


def reliability_flag(
    n: npt.ArrayLike, cv: npt.ArrayLike, rule: ReliabilityRule | None = None
) -> npt.NDArray[np.str_]:
    """'low_n' | 'unreliable' | 'caution' | '' per estimate, vectorised; NaN cv is judged by n only."""
    rule = rule or ReliabilityRule()
    na = np.asarray(n, dtype=float)
    cva = np.asarray([np.nan if c is None else c for c in np.ravel(cv)], dtype=float).reshape(
        np.shape(cv)
    )
    na, cva = np.broadcast_arrays(na, cva)
    with np.errstate(invalid="ignore"):
        out = np.select(
            [na < rule.min_n, cva > rule.unreliable_cv, cva > rule.caution_cv],
            ["low_n", "unreliable", "caution"],
            default="",
        )
    return np.asarray(out, dtype="<U10")


# -- one estimate --------------------------------------------------------------------


@dataclass
class Estimate:
    """One estimate with its standard error, interval, CV and reliability flag."""

    kind: str
    value: float
    se: float
    ci_low: float
    ci_high: float
    cv: float | None
    n: int
    weighted_n: float | None
    ci_method: str
    variance_method: str
    flag: str

    def to_dict(self) -> dict[str, Any]:
        """Plain dictionary (for JSON and tables)."""
        return dict(self.__dict__)


def _interval(
    kind: str, value: float, se: float, n: float, ci: str, level: float, df: float | None
) -> tuple[float, float]:
    """Confidence interval of one estimate: ``proportion_interval`` for proportions (as the
    cube and survey_estimate), else Wald; t with ``df`` degrees of freedom, z when None."""
    if not (math.isfinite(value) and math.isfinite(se)):
        return math.nan, math.nan
    if kind != "proportion" and ci != "wald":
        raise ValueError(f"ci={ci!r} is for proportions only; use 'wald' for a {kind}")
    lo, hi = proportion_interval(value, se, n, df, level, ci)
    return float(lo), float(hi)


def domain_estimate(
    kind: str,
    y: npt.ArrayLike,
    z: npt.ArrayLike | None = None,
    *,
    weights: npt.ArrayLike | None = None,
    domain: npt.ArrayLike | None = None,
    cluster: npt.ArrayLike | None = None,
    X: npt.ArrayLike | None = None,
    d: npt.ArrayLike | None = None,
    q: npt.ArrayLike | None = None,
    ci: str | None = None,
    level: float = 0.95,
    variance: str = "linearization",
    replicate_weights: npt.ArrayLike | None = None,
    mse: bool = False,
    rule: ReliabilityRule | None = None,
    df: float | None = None,
) -> Estimate:
    """Proportion, mean, total, ratio or count in a domain, with SE, CI, CV and flag.

    ``df``: the interval's t degrees of freedom (the design's, or a small domain's own:
    PSUs with a unit of the domain minus their strata); None for the normal quantile.
    """
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    if ci is not None and ci not in CI_METHODS:
        raise ValueError(f"ci must be one of {CI_METHODS}, got {ci!r}")
    if variance not in ("linearization", "bootstrap"):
        raise ValueError(f"variance must be 'linearization' or 'bootstrap', got {variance!r}")
    ya = np.asarray(y, dtype=float)
    n_all = ya.shape[0]
    if kind == "ratio":
        if z is None:
            raise ValueError("a ratio needs the denominator variable z")
        za = np.asarray(z, dtype=float)
    else:
        za = np.ones(n_all)
    if kind == "count":
        ya = np.ones(n_all)
    dom = np.ones(n_all, dtype=bool) if domain is None else np.asarray(domain, dtype=bool)
    if dom.shape != (n_all,) or za.shape != (n_all,):
        raise ValueError("y, z and domain must have the same length")
    # missing values leave the domain, as R's na.rm=TRUE does for a survey.design2
    dom = dom & np.isfinite(ya) & np.isfinite(za)
    ya = np.where(dom, ya, 0.0)
    za = np.where(dom, za, 0.0)
    if kind == "proportion" and np.any((ya != 0.0) & (ya != 1.0)):
        raise ValueError("a proportion needs y coded 0/1 (or boolean)")
    simple = weights is None and cluster is None and X is None and variance == "linearization"
    wa = np.ones(n_all) if weights is None else np.asarray(weights, dtype=float)
    if wa.shape != (n_all,):
        raise ValueError("weights must have the same length as y")
    n_dom = int(np.count_nonzero(dom & (za != 0.0))) if kind == "ratio" else int(dom.sum())
    wd = np.where(dom, wa, 0.0)
    num = float(wd @ ya)
    den = 1.0 if kind in ("total", "count") else float(wd @ za)
    with np.errstate(divide="ignore", invalid="ignore"):
        value = num / den if den != 0.0 else math.nan
    weighted = weights is not None or X is not None or variance != "linearization"
    if ci is None:
        # as the cube's "auto": Wilson without weights, logit (Wilson at 0 and 1) with them
        ci = ("logit" if weighted else "wilson") if kind == "proportion" else "wald"

    if not math.isfinite(value):
        se = math.nan
        vmethod = variance
    elif simple and kind == "proportion":
        se = math.sqrt(value * (1.0 - value) / n_dom)
        vmethod = "binomial"
    elif variance == "linearization":
        u = (ya - value * za) / den if kind not in ("total", "count") else ya.copy()
        u = np.where(dom, u, 0.0)
        v = linearized_variance(u, cluster, X=X, d=d if X is not None else None, w=wa,
                                q=q if X is not None else None)
        se = math.sqrt(max(float(v), 0.0))
        vmethod = "linearization"
    else:
        if replicate_weights is None:
            raise ValueError("variance='bootstrap' needs replicate_weights (see bootstrap_weights)")
        W = np.asarray(replicate_weights, dtype=float)
        if W.ndim != 2 or W.shape[0] != n_all:
            raise ValueError("replicate_weights must be n x R")
        # replicate estimates for all replicates at once
        num_r = W.T @ ya
        den_r = np.ones(W.shape[1]) if kind in ("total", "count") else W.T @ za
        with np.errstate(divide="ignore", invalid="ignore"):
            theta = num_r / den_r
        se = math.sqrt(float(replicate_variance(theta, value, mse=mse)))
        vmethod = "bootstrap"
    lo, hi = _interval(kind, value, se, float(n_dom), ci, level, df)
    cv = se / abs(value) if math.isfinite(se) and math.isfinite(value) and value != 0 else None
    flag = str(reliability_flag(n_dom, np.nan if cv is None else cv, rule))
    return Estimate(
        kind=kind,
        value=value,
        se=se,
        ci_low=lo,
        ci_high=hi,
        cv=cv,
        n=n_dom,
        weighted_n=None if weights is None else float(wd.sum()),
        ci_method=ci,
        variance_method=vmethod,
        flag=flag,
    )


# -- bootstrap -----------------------------------------------------------------------


def bootstrap_weights(
    weights: npt.ArrayLike,
    cluster: npt.ArrayLike | None = None,
    *,
    replicates: int = 200,
    seed: int = 0,
    recalibrate: Callable[[FloatArray], npt.ArrayLike] | None = None,
) -> FloatArray:
    """Rao–Wu rescaling bootstrap replicate weights (n x R), optionally re-calibrated."""
    wa = np.asarray(weights, dtype=float)
    n = wa.shape[0]
    if replicates < 2:
        raise ValueError("need at least two replicates")
    if cluster is None:
        codes = np.arange(n)
    else:
        codes = np.unique(np.asarray(cluster), return_inverse=True)[1].ravel()
    nc = int(codes.max()) + 1 if n else 0
    if nc < 2:
        raise ValueError("the bootstrap needs at least two clusters (units)")
    rng = np.random.default_rng(seed)
    # n_c - 1 clusters drawn with replacement; multiplicity x n_c/(n_c - 1) makes the
    # bootstrap variance of a total equal the with-replacement estimator exactly
    counts = rng.multinomial(nc - 1, np.full(nc, 1.0 / nc), size=replicates)
    factors = counts.T * (nc / (nc - 1.0))
    W = wa[:, None] * factors[codes]
    if recalibrate is not None:
        # one call per replicate (not per unit): each replicate is calibrated afresh
        W = np.column_stack([np.asarray(recalibrate(W[:, r]), dtype=float) for r in range(replicates)])
    return np.asarray(W, dtype=float)


def recalibrator(
    sample: pd.DataFrame, margins: Any, **calibrate_kwargs: Any
) -> Callable[[FloatArray], FloatArray]:
    """A ``recalibrate`` closure for bootstrap_weights: calibrate() with design weights w_r."""
    # imported here so that the variance core does not depend on the calibration module
    from citizendata.stats.calibrate import calibrate

    def run(wr: FloatArray) -> FloatArray:
        # units whose cluster was not drawn have weight 0 and stay 0 under every distance
        # function (w = g d); calibrate() wants positive design weights, so leave them out
        keep = np.flatnonzero(wr > 0)
        out = np.zeros_like(wr, dtype=float)
        kwargs = dict(calibrate_kwargs)
        q = kwargs.get("variance")
        if q is not None and not isinstance(q, str) and np.ndim(q) == 1:
            kwargs["variance"] = np.asarray(q, dtype=float)[keep]  # per unit, like the sample
        cal = calibrate(sample.iloc[keep], margins, design_weights=wr[keep], **kwargs)
        out[keep] = cal.weights
        return out

    return run
