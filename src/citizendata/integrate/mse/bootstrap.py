"""Bootstrap intervals for N: many resampled tables refitted at once.

Non-parametric: the observed counts resampled as a multinomial of n over the observed
cells (SparseMSE's ``estimatepopulation``), interval by BCa with the jackknife
acceleration as SparseMSE's ``bcaconfvalues``.  Parametric: N-hat victims of whom a
Binomial(N-hat, sum mu/N-hat) are observed, spread over the cells by the fitted model
(SparseMSE's ``BICandbootstrapsim``), percentile interval.  Each replicate re-selects
among the best models of the original data (Silverman, Chan & Vincent 2024), which
accounts for model choice at a fraction of the cost of a full search.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np

from citizendata.integrate.mse._design import Design, irls_batch
from citizendata.integrate.mse.loglinear import summarise
from citizendata.integrate.mse.select import admissibility

__all__ = ["BootstrapResult", "bca_interval", "draw_tables", "refit_tables"]

Kind = Literal["parametric", "nonparametric"]


@dataclass
class BootstrapResult:
    """Replicate estimates and the interval drawn from them."""

    kind: str
    replicates: np.ndarray
    ci: tuple[float | None, float | None]
    failed: int
    method: str
    note: str | None = None  # e.g. why there is no interval

    def to_dict(self) -> dict[str, object]:
        """Summary for JSON."""
        return {"kind": self.kind, "replicates": len(self.replicates), "failed": self.failed,
                "ci": list(self.ci), "interval": self.method, "note": self.note,
                "median": float(np.median(self.replicates)) if len(self.replicates) else None}


def draw_tables(y: np.ndarray, mu: np.ndarray, n_hat: float, kind: Kind, b: int,
                rng: np.random.Generator) -> np.ndarray:
    """B resampled tables of the observable cells."""
    n = int(y.sum())
    if kind == "nonparametric":
        return rng.multinomial(n, y / n, size=b).astype(np.float64)
    total = round(n_hat)
    seen = rng.binomial(total, min(float(mu.sum()) / n_hat, 1.0), size=b)
    return rng.multinomial(seen, mu / mu.sum()).astype(np.float64)


def refit_tables(design: Design, tables: np.ndarray, masks: np.ndarray,
                 criterion: Literal["aic", "bic"]) -> np.ndarray:
    """N-hat of each table under the best admissible model among ``masks`` (NaN if none)."""
    b = len(tables)
    m = len(masks)
    overlaps = tables @ design.pair_cells.T.astype(np.float64)
    ok = np.ones((b, m), dtype=bool)
    cache: dict[bytes, np.ndarray] = {}
    for i in range(b):
        key = (tables[i] > 0).tobytes() + (overlaps[i] > 0).tobytes()
        if key not in cache:
            ex, ident = admissibility(design, tables[i], masks, overlaps[i])
            cache[key] = ex & ident
        ok[i] = cache[key]
    rows = np.repeat(np.arange(b), m)
    mm = np.tile(masks, b)
    cols_l, cells_l, empty_l = [], [], []
    for i in range(b):
        c, ce, e = design.masks(masks, overlaps[i])
        cols_l.append(c)
        cells_l.append(ce)
        empty_l.append(e)
    cols = np.concatenate(cols_l)
    cells = np.concatenate(cells_l)
    n_empty = np.concatenate(empty_l)
    est = np.full(b * m, np.nan)
    ic = np.full(b * m, np.inf)
    chunk = max(1, 4096 // max(m, 1)) * m
    for s in range(0, b * m, chunk):
        sl = slice(s, s + chunk)
        y = tables[rows[sl]]
        coef, mu, conv = irls_batch(design.matrix, y, cols[sl], cells[sl])
        stats = _stats_rows(design, y, mm[sl], coef, mu, cols[sl], cells[sl], n_empty[sl], conv)
        est[sl] = stats[0]
        ic[sl] = stats[1] if criterion == "bic" else stats[2]
    ic2 = np.where(ok.reshape(-1), ic, np.inf).reshape(b, m)
    best = np.argmin(ic2, axis=1)
    out = est.reshape(b, m)[np.arange(b), best]
    return np.where(np.isfinite(ic2[np.arange(b), best]), out, np.nan)


def _stats_rows(design: Design, y: np.ndarray, masks: np.ndarray, coef: np.ndarray,
                mu: np.ndarray, cols: np.ndarray, cells: np.ndarray, n_empty: np.ndarray,
                conv: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    stats = summarise(design, y, masks, coef, mu, cols, cells, n_empty, conv)
    return (np.array([s.estimate for s in stats]), np.array([s.bic for s in stats]),
            np.array([s.aic for s in stats]))


def bca_interval(replicates: np.ndarray, estimate: float, jackknife: np.ndarray,
                 counts: np.ndarray, confidence: float) -> tuple[float, float]:
    """SparseMSE's BCa interval: bias from the replicates, acceleration from the jackknife.

    ``jackknife[j]`` is the estimate with one victim fewer in observed cell j, each
    weighted by its count (as SparseMSE's ``estimatepopulation``).
    """
    from scipy.stats import norm

    w = counts / counts.sum()
    jr = (w * jackknife).sum() - jackknife
    den = 6 * (counts * jr ** 2).sum() ** 1.5
    ahat = float((counts * jr ** 3).sum() / den) if den > 0 else 0.0
    # all replicates on one side would make the bias correction infinite: keep it finite
    b = len(replicates)
    below = float(np.clip(np.mean(replicates < estimate), 0.5 / b, 1 - 0.5 / b))
    z0 = float(norm.ppf(below))
    alpha = np.array([(1 - confidence) / 2, (1 + confidence) / 2])
    za = norm.ppf(alpha)
    zq = norm.cdf(z0 + (za + z0) / (1 - ahat * (za + z0)))
    lo, hi = _quantile8(replicates, zq)
    return float(lo), float(hi)


def _quantile8(x: np.ndarray, probs: np.ndarray) -> np.ndarray:
    """R's quantile type 8 (median-unbiased), as SparseMSE uses."""
    return np.quantile(np.asarray(x), np.clip(probs, 0, 1), method="median_unbiased")


def jackknife_estimates(y: np.ndarray, estimate: Callable[[np.ndarray], float]) -> np.ndarray:
    """The estimate with one victim removed from each observed cell in turn (0 for empty cells)."""
    out = np.zeros(len(y))
    for j in np.flatnonzero(y > 0):
        yy = y.copy()
        yy[j] -= 1
        out[j] = estimate(yy)
    return out


def ranked_masks(masks: np.ndarray, values: list[float], top: int) -> np.ndarray:
    """The ``top`` models with the smallest criterion."""
    order = np.argsort(values, kind="stable")[:top]
    return np.asarray(masks)[order]


def irls_ok(design: Design, y: np.ndarray, mask: int, overlap: np.ndarray) -> np.ndarray:
    """Fitted means of one model (a helper for the parametric bootstrap)."""
    cols, cells, _ = design.masks(np.array([mask]), overlap)
    _, mu, _ = irls_batch(design.matrix, y[None, :], cols, cells)
    return np.asarray(mu[0])
