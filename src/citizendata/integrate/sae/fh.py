"""Area-level small area estimation: the Fay–Herriot model and its EBLUP.

Model (Fay & Herriot 1979; Rao & Molina 2015, ch. 6): direct_i = theta_i + e_i,
theta_i = x_i' beta + u_i, u_i ~ N(0, sigma2_u), e_i ~ N(0, psi_i) with psi_i known.
EBLUP: theta_i = x_i' beta + gamma_i (direct_i - x_i' beta), gamma_i = sigma2_u / (sigma2_u + psi_i).
Estimation and MSE follow R sae 1.3's `eblupFH`/`mseFH`/`pbmseFH`; see docs/methods/sae.md.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from citizendata.errors import BadInput, Where
from citizendata.integrate.sae._design import Design, build_design
from citizendata.integrate.sae._fit import METHODS, fit_batch, interval_quantiles, mse_terms
from citizendata.integrate.sae.benchmark import Benchmark, apply_benchmark
from citizendata.integrate.sae.diagnostics import diagnostics
from citizendata.integrate.sae.transform import HALF_PI, arcsin_back, arcsin_forward

__all__ = ["FHResult", "fay_herriot"]

# Areas x replicates per bootstrap block.  Measured (2 cores): blocks of ~30,000 values keep
# the working arrays in cache; 50 areas x 650 replicates is 25x faster per replicate than one
# at a time, while at 10,000 areas (3 replicates a block) the gain is small and a block of
# 16 would be 3x slower than 4.
_BLOCK = 32_768


@dataclass
class FHResult:
    """A fitted Fay–Herriot model: coefficients, variance, per-area estimates, diagnostics.

    `areas` has one row per area (in-sample first): area, direct, direct_var, eblup, mse,
    cv_direct, cv, gamma, lower, upper, in_sample, residual (standardised), plus synthetic,
    and benchmarked estimates replace eblup/mse when a benchmark was given (the
    unbenchmarked ones stay as eblup_unbenchmarked / mse_unbenchmarked).
    `covariate_only_areas` names the areas that got a synthetic estimate only because the
    covariate table lists them (they have no direct estimate).
    """

    method: str
    beta: dict[str, float]
    beta_se: dict[str, float]
    sigma2_u: float
    converged: bool
    iterations: int
    notes: list[str]
    areas: pd.DataFrame
    diagnostics: dict[str, Any] = field(default_factory=dict)
    transform: str | None = None
    mse_method: str = "prasad-rao"
    level: float = 0.95
    covariate_only_areas: list[Any] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """The issue's documented JSON shape: method, beta, sigma2_u, areas (five keys each).

        A fit with notes (no convergence, a zero variance, a transform, a benchmark) adds
        them under a last key "notes", so that the JSON says what happened too.
        """
        rows = [{"area": _plain(a), "direct": _num(d), "eblup": _num(e), "mse": _num(m),
                 "gamma": _num(g)}
                for a, d, e, m, g in zip(self.areas["area"], self.areas["direct"],
                                         self.areas["eblup"], self.areas["mse"],
                                         self.areas["gamma"], strict=True)]
        out: dict[str, Any] = {"method": self.method,
                               "beta": {k: _num(v) for k, v in self.beta.items()},
                               "sigma2_u": _num(self.sigma2_u), "areas": rows}
        if self.notes:
            out["notes"] = list(self.notes)
        return out

    def to_json(self, **kwargs: Any) -> str:
        """`to_dict` as JSON (NaN, for areas without a direct estimate, becomes null)."""
        return json.dumps(self.to_dict(), **kwargs)


def _num(x: Any) -> float | None:
    v = float(x)
    return v if math.isfinite(v) else None


def _plain(a: Any) -> Any:
    return a.item() if isinstance(a, np.generic) else a


def fay_herriot(direct: pd.DataFrame, *, area: str, estimate: str, variance: str | None = None,
                se: str | None = None, covariates: pd.DataFrame | None = None,
                columns: Sequence[str] = (), categorical: Sequence[str] = (),
                method: str = "reml", transform: str | None = None,
                sample_size: str | None = None, backtransform: str = "bc",
                benchmark: Benchmark | None = None, bootstrap: int = 0,
                seed: int | None = None, level: float = 0.95, tol: float = 1e-4,
                max_iter: int = 100) -> FHResult:
    """Fit a Fay–Herriot model and return EBLUPs with MSEs for every area.

    `columns` and `categorical` name covariates in `covariates` (an area-keyed table, which
    may hold areas without a direct estimate: they get synthetic estimates) or, without it,
    in `direct`.  `transform="arcsin"` models asin(sqrt(p)) with variance 1/(4 n) from
    `sample_size`.  `bootstrap > 0` replaces the analytic MSE by the parametric bootstrap
    MSE (González-Manteiga et al. 2008) with that many replicates.
    """
    method = method.lower()
    _check_options(method, transform, backtransform, level, bootstrap, max_iter, tol)
    work, variance, se = _prepare(direct, estimate=estimate, variance=variance, se=se,
                                  transform=transform, sample_size=sample_size, area=area)
    d = build_design(work, area=area, estimate=estimate, variance=variance, se=se,
                     covariates=covariates, columns=columns, categorical=categorical)
    fit = fit_batch(d.y, d.X, d.psi, method, tol=tol, max_iter=max_iter)
    A = float(fit.sigma2[0])
    beta = fit.beta[:, 0]
    Q = fit.Q[0]
    notes = _fit_notes(method, fit.converged[0], bool(fit.at_zero[0]), int(fit.iterations[0]),
                       max_iter)
    terms = mse_terms(d.X, d.psi, A, Q, method, d.X_oos)
    gamma = np.concatenate([A / (A + d.psi), np.zeros(len(d.oos_areas))])
    X_all = np.vstack([d.X, d.X_oos])
    synth = X_all @ beta
    y_all = np.concatenate([d.y, np.full(len(d.oos_areas), np.nan)])
    theta = np.where(gamma > 0, synth + gamma * np.nan_to_num(y_all - synth), synth)
    mse_t = np.concatenate([terms["mse"], terms["mse_oos"]])
    mse_method = "prasad-rao" if method == "reml" else (
        "datta-lahiri" if method == "ml" else "datta-rao-smith")
    g1 = np.concatenate([terms["g1"], np.full(len(d.oos_areas), A)])
    if d.oos_areas:
        notes.append(_oos_note(d.oos_areas))
    boot = None
    if bootstrap > 0:
        boot = _bootstrap(d, A, beta, method, bootstrap, seed, transform, backtransform,
                          tol=tol, max_iter=max_iter)
        notes.extend(boot[2])
        mse_method = f"parametric bootstrap ({bootstrap} replicates)"
    # out-of-sample areas: a Satterthwaite t interval (their MSE rests on sigma2_u alone)
    z = interval_quantiles(level, len(d.areas), terms["mse_oos"], float(terms["var_sigma2"]))
    model_scale = None
    if transform == "arcsin":
        # the interval's MSE on the arcsine scale: the bootstrap's when there is one
        mse_theta = boot[1] if boot is not None else mse_t
        est, mse, lower, upper, direct_out, dvar = _arcsin_outputs(
            d, work, estimate, sample_size, theta, g1, mse_t, mse_theta, boot, z, backtransform)
        model_scale = (theta, mse_theta)
        notes.append(f"arcsine square-root scale; back-transformed ({backtransform}); "
                     "intervals are back-transformed endpoints of the arcsine-scale interval")
    else:
        est = theta
        mse = boot[0] if boot is not None else mse_t
        lower, upper = est - z * np.sqrt(mse), est + z * np.sqrt(mse)
        direct_out = y_all
        dvar = np.concatenate([d.psi, np.full(len(d.oos_areas), np.nan)])
    frame = _frame(d, direct_out, dvar, est, mse, gamma, lower, upper, synth, y_all, A)
    if benchmark is not None:
        notes.extend(_benchmarked(frame, benchmark, d, X_all, A, Q, z, model_scale))
    se_beta = np.sqrt(np.diag(Q))
    diag = diagnostics(frame, d.y, d.psi, d.X @ beta, A, len(beta), method)
    return FHResult(method=method.upper(), beta=dict(zip(d.names, map(float, beta), strict=True)),
                    beta_se=dict(zip(d.names, map(float, se_beta), strict=True)), sigma2_u=A,
                    converged=bool(fit.converged[0]), iterations=int(fit.iterations[0]),
                    notes=notes, areas=frame, diagnostics=diag, transform=transform,
                    mse_method=mse_method, level=level,
                    covariate_only_areas=[_plain(a) for a in d.oos_areas])


def _check_options(method: str, transform: str | None, backtransform: str, level: float,
                   bootstrap: int, max_iter: int, tol: float) -> None:
    if method not in METHODS:
        raise BadInput("sae.invalid_model", f"method {method!r}: use reml, ml or fh",
                       where=Where(field="method"))
    if transform not in (None, "arcsin") or backtransform not in ("bc", "naive"):
        raise BadInput("sae.invalid_model", "transform must be arcsin (or none) and "
                       "backtransform bc or naive", where=Where(field="transform"))
    if not 0 < level < 1 or bootstrap < 0 or max_iter < 1 or not tol > 0:
        raise BadInput("sae.invalid_model", "level must be in (0, 1), bootstrap >= 0, "
                       "max_iter >= 1 and tol > 0")


def _oos_note(oos: list[Any]) -> str:
    shown = ", ".join(map(str, oos[:10])) + (f" and {len(oos) - 10} more" if len(oos) > 10 else "")
    return (f"{len(oos)} area(s) without a direct estimate got synthetic estimates only "
            f"because the covariate table lists them: {shown}")


def _prepare(direct: pd.DataFrame, *, estimate: str, variance: str | None, se: str | None,
             transform: str | None, sample_size: str | None, area: str
             ) -> tuple[pd.DataFrame, str | None, str | None]:
    """For the arcsine transform, the direct table on that scale with variance 1/(4n)."""
    if transform is None:
        return direct, variance, se
    code = "sae.invalid_direct"
    if sample_size is None or sample_size not in direct.columns:
        raise BadInput(code, "the arcsine transform needs the sample size column",
                       where=Where(column=sample_size))
    for col in (estimate, sample_size):
        if col not in direct.columns:
            raise BadInput(code, f"there is no column {col!r}", where=Where(column=col))
    p = pd.to_numeric(direct[estimate], errors="coerce").to_numpy(dtype=float)
    n = pd.to_numeric(direct[sample_size], errors="coerce").to_numpy(dtype=float)
    for bad, col, what in ((~((p >= 0) & (p <= 1)), estimate, "is not a proportion in [0, 1]"),
                           (~(n > 0), sample_size, "is not a positive sample size")):
        if bad.any():
            names = ", ".join(map(str, direct.loc[bad, area].tolist()[:10]))
            raise BadInput(code, f"{col} {what}: area(s) {names}", where=Where(column=col))
    theta, v = arcsin_forward(p, n)
    work = direct.copy()
    work[estimate + "__p"] = p
    work[estimate] = theta
    work["__arcsin_var"] = v
    return work, "__arcsin_var", None


def _arcsin_outputs(d: Design, work: pd.DataFrame, estimate: str, sample_size: str | None,
                    theta: np.ndarray, g1: np.ndarray, mse_t: np.ndarray, mse_theta: np.ndarray,
                    boot: tuple[np.ndarray, np.ndarray, list[str]] | None, z: np.ndarray,
                    backtransform: str) -> tuple[np.ndarray, ...]:
    """Estimates, MSEs, interval and direct figures on the proportion scale."""
    est = arcsin_back(theta, g1, how=backtransform)
    # delta method: d sin^2(t)/dt = sin(2t)
    mse = boot[0] if boot is not None else np.sin(2 * np.clip(theta, 0, HALF_PI)) ** 2 * mse_t
    half = z * np.sqrt(mse_theta)
    lower = arcsin_back(np.clip(theta - half, 0, HALF_PI), how="naive")
    upper = arcsin_back(np.clip(theta + half, 0, HALF_PI), how="naive")
    k = len(d.oos_areas)
    p = np.concatenate([pd.to_numeric(work[estimate + "__p"], errors="coerce").to_numpy(),
                        np.full(k, np.nan)])
    assert sample_size is not None
    n = np.concatenate([work[sample_size].to_numpy(dtype=float), np.full(k, np.nan)])
    return est, mse, lower, upper, p, p * (1 - p) / n


def _benchmarked(frame: pd.DataFrame, benchmark: Benchmark, d: Design, X_all: np.ndarray,
                 A: float, Q: np.ndarray, z: np.ndarray,
                 model_scale: tuple[np.ndarray, np.ndarray] | None) -> list[str]:
    """Replace the estimates in `frame` by benchmarked ones, keeping the originals.

    `model_scale`: (theta, interval MSE) on the arcsine scale when the estimates are
    back-transformed proportions; the interval is then formed on that scale.
    """
    psi_all = np.concatenate([d.psi, np.full(len(d.oos_areas), np.nan)])
    old, old_mse = frame["eblup"].to_numpy(), frame["mse"].to_numpy()
    deriv = None
    if model_scale is not None:
        deriv = np.sin(2 * np.clip(model_scale[0], 0, HALF_PI))   # d p / d theta
    new, new_mse, notes = apply_benchmark(benchmark, old, old_mse, d.extra, psi_all=psi_all,
                                          X_all=X_all, A=A, Q=Q, scale=deriv)
    if model_scale is not None:
        outside = ~((new >= 0) & (new <= 1))
        if outside.any():
            # a proportion outside [0, 1] cannot be published; the bound is closer to it
            notes.append(f"the benchmark moved {int(outside.sum())} proportion(s) outside "
                         f"[0, 1] (area(s) {', '.join(map(str, frame['area'][outside][:10]))}): "
                         "they were set to the bound, so the benchmark holds only "
                         "approximately in their group")
            new = np.clip(new, 0.0, 1.0)
    frame["eblup_unbenchmarked"] = frame["eblup"]
    frame["mse_unbenchmarked"] = frame["mse"]
    frame["eblup"], frame["mse"] = new, new_mse
    if model_scale is None:
        frame["lower"], frame["upper"] = new - z * np.sqrt(new_mse), new + z * np.sqrt(new_mse)
    else:
        lo, hi = _benchmarked_arcsin_interval(old, new, new_mse - old_mse, *model_scale, z=z)
        frame["lower"], frame["upper"] = lo, hi
    with np.errstate(divide="ignore", invalid="ignore"):
        frame["cv"] = np.sqrt(new_mse) / np.abs(new)
    return notes


def _benchmarked_arcsin_interval(old: np.ndarray, new: np.ndarray, added: np.ndarray,
                                 theta: np.ndarray, mse_theta: np.ndarray, *, z: np.ndarray
                                 ) -> tuple[np.ndarray, np.ndarray]:
    """A benchmarked proportion's interval, formed on the arcsine scale so it stays in [0, 1].

    The arcsine-scale interval is moved by the benchmark's shift on that scale,
    asin(sqrt(new)) - asin(sqrt(old)), and widened by the benchmark's added MSE carried to
    that scale by the delta method (divided by (d p / d theta)^2); its endpoints are then
    back-transformed as the unbenchmarked ones are.
    """
    shift = np.arcsin(np.sqrt(np.clip(new, 0, 1))) - np.arcsin(np.sqrt(np.clip(old, 0, 1)))
    d2 = np.sin(2 * np.clip(theta, 0, HALF_PI)) ** 2
    with np.errstate(divide="ignore", invalid="ignore"):
        extra = np.where(added > 0, added / d2, 0.0)
    half = z * np.sqrt(mse_theta + np.nan_to_num(extra, nan=0.0, posinf=np.inf))
    centre = theta + shift
    lower = arcsin_back(np.clip(centre - half, 0, HALF_PI), how="naive")
    upper = arcsin_back(np.clip(centre + half, 0, HALF_PI), how="naive")
    return lower, upper


def _fit_notes(method: str, converged: bool, at_zero: bool, iterations: int,
               max_iter: int) -> list[str]:
    notes = []
    if not converged:
        notes.append(f"{method.upper()} did not converge in {max_iter} iterations: the last "
                     "iterate of the area variance was used")
    if at_zero:
        notes.append("the area variance estimate is zero: every estimate is the synthetic "
                     "regression estimate x'beta (gamma = 0)")
    return notes


def _frame(d: Design, direct: np.ndarray, dvar: np.ndarray, est: np.ndarray, mse: np.ndarray,
           gamma: np.ndarray, lower: np.ndarray, upper: np.ndarray, synth: np.ndarray,
           y_all: np.ndarray, A: float) -> pd.DataFrame:
    m = len(d.areas)
    in_sample = np.arange(len(est)) < m
    with np.errstate(divide="ignore", invalid="ignore"):
        resid = (y_all - synth) / np.sqrt(A + np.concatenate([d.psi, np.full(len(est) - m,
                                                                             np.nan)]))
        cv_direct = np.sqrt(dvar) / np.abs(direct)
        cv = np.sqrt(mse) / np.abs(est)
    return pd.DataFrame({"area": d.areas + d.oos_areas, "direct": direct, "direct_var": dvar,
                         "eblup": est, "mse": mse, "cv_direct": cv_direct, "cv": cv,
                         "gamma": gamma, "lower": lower, "upper": upper,
                         "in_sample": in_sample, "residual": resid, "synthetic": synth})


def _bootstrap(d: Design, A: float, beta: np.ndarray, method: str, B: int, seed: int | None,
               transform: str | None, backtransform: str, *, tol: float, max_iter: int
               ) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Parametric bootstrap MSE (González-Manteiga et al. 2008; sae's pbmseFH), in blocks.

    Returns the MSE on the estimates' scale and on the model's (the same without a
    transform; on the arcsine scale with one, for the intervals).
    """
    rng = np.random.default_rng(seed)
    m, k = len(d.areas), len(d.oos_areas)
    X_all = np.vstack([d.X, d.X_oos])
    mu = X_all @ beta
    sq = np.zeros(m + k)
    sq_model = np.zeros(m + k)
    failed = 0
    step = max(1, _BLOCK // (m + k))
    for start in range(0, B, step):
        b = min(step, B - start)
        truth = mu[:, None] + math.sqrt(A) * rng.standard_normal((m + k, b))
        ystar = truth[:m] + np.sqrt(d.psi)[:, None] * rng.standard_normal((m, b))
        # replicates start at the fitted sigma2_u, their true value: fewer steps, same limit
        f = fit_batch(ystar, d.X, d.psi, method, tol=tol, max_iter=max_iter, start=A)
        failed += int((~f.converged).sum())
        syn = X_all @ f.beta                                 # (m + k, b)
        g = f.sigma2[None, :] / (f.sigma2[None, :] + d.psi[:, None])
        est = syn.copy()
        est[:m] += g * (ystar - syn[:m])
        sq_model += np.sum((est - truth) ** 2, axis=1)
        if transform == "arcsin":
            g1 = np.vstack([d.psi[:, None] * g, np.broadcast_to(f.sigma2, (k, b))])
            est = arcsin_back(est, g1, how=backtransform)
            truth = np.sin(np.clip(truth, 0, HALF_PI)) ** 2
            sq += np.sum((est - truth) ** 2, axis=1)
    notes = [f"bootstrap: {failed} of {B} refits stopped at the iteration cap"] if failed else []
    if transform is None:
        return sq_model / B, sq_model / B, notes
    return sq / B, sq_model / B, notes
