"""Fay–Herriot diagnostics and the "direct vs model-based" chart (inline SVG, no script).

Shrinkage gamma_i, standardised residuals r_i = (direct_i - x_i' beta) / sqrt(sigma2_u + psi_i)
with a Shapiro–Wilk test of their normality, the log-likelihood with AIC/BIC as R sae
prints them, and direct vs model CVs.
"""

from __future__ import annotations

import hashlib
from html import escape
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

__all__ = ["diagnostics", "direct_vs_model_svg"]

_SW_MAX = 5000  # scipy's Shapiro–Wilk p-value is exact up to 5000 observations


def diagnostics(frame: pd.DataFrame, y: np.ndarray, psi: np.ndarray, fitted: np.ndarray,
                A: float, p: int, method: str) -> dict[str, Any]:
    """Summary diagnostics of a fit (in-sample areas)."""
    m = len(y)
    resid = (y - fitted) / np.sqrt(A + psi)
    sw_on = resid
    sw_note = None
    if m > _SW_MAX:
        # a fixed subsample keeps the test's p-value valid and the result reproducible
        sw_on = np.random.default_rng(0).choice(resid, _SW_MAX, replace=False)
        sw_note = f"Shapiro-Wilk on a fixed random subsample of {_SW_MAX} residuals"
    shapiro: dict[str, Any] = {"statistic": None, "p_value": None}
    if m >= 3 and np.ptp(sw_on) > 0:
        sw = stats.shapiro(sw_on)
        shapiro = {"statistic": float(sw.statistic), "p_value": float(sw.pvalue)}
    if sw_note:
        shapiro["note"] = sw_note
    loglike = -0.5 * float(np.sum(np.log(2 * np.pi * (A + psi)) + (y - fitted) ** 2 / (A + psi)))
    inside = frame[frame["in_sample"]]
    cv_d, cv_m = inside["cv_direct"].to_numpy(), inside["cv"].to_numpy()
    ok = np.isfinite(cv_d) & np.isfinite(cv_m)
    return {
        "areas": m, "coefficients": p, "method": method.upper(),
        "loglike": loglike, "aic": -2 * loglike + 2 * (p + 1),
        "bic": -2 * loglike + (p + 1) * float(np.log(m)),
        "shapiro_wilk": shapiro,
        "residual_mean": float(resid.mean()), "residual_sd": float(resid.std(ddof=1)) if m > 1 else None,
        "gamma_mean": float(inside["gamma"].mean()),
        "cv_direct_median": float(np.median(cv_d[ok])) if ok.any() else None,
        "cv_model_median": float(np.median(cv_m[ok])) if ok.any() else None,
        "cv_reduced_share": float(np.mean(cv_m[ok] <= cv_d[ok])) if ok.any() else None,
    }


def _c(x: float) -> str:
    return f"{x:.2f}"


def direct_vs_model_svg(areas: pd.DataFrame, *, title: str = "Direct and model-based estimates",
                        chart_id: str | None = None, decimals: int = 3,
                        x_label: str = "direct", y_label: str = "model-based",
                        desc: str | None = None) -> str:
    """Inline SVG scatter of model-based (y) against direct (x) estimates, with the y = x line.

    Each in-sample area is a dot, its size growing with the direct CV, so the areas the
    model moved most are the ones the survey knew least; areas with no sample are listed
    in the description only (they have no direct estimate).  Same conventions as
    publish/charts: no xmlns, title and desc for screen readers, fixed decimals.  The axis
    words and the description are English unless given (the report passes translations).
    """
    rows = areas[areas["in_sample"]]
    x = rows["direct"].to_numpy(dtype=float)
    y = rows["eblup"].to_numpy(dtype=float)
    cv = rows["cv_direct"].to_numpy(dtype=float)
    labels = rows["area"].astype(str).tolist()
    cid = chart_id or "sae-" + hashlib.sha256(("\0".join(labels) + title).encode()).hexdigest()[:10]
    W, H, L, R, T, Bm = 420.0, 420.0, 56.0, 12.0, 12.0, 44.0
    vals = np.concatenate([x, y])
    vals = vals[np.isfinite(vals)]
    lo, hi = (float(vals.min()), float(vals.max())) if vals.size else (0.0, 1.0)
    if hi <= lo:
        lo, hi = lo - 1.0, hi + 1.0
    pad = (hi - lo) * 0.05
    lo, hi = lo - pad, hi + pad

    def px(v: float) -> float:
        return L + (v - lo) / (hi - lo) * (W - L - R)

    def py(v: float) -> float:
        return H - Bm - (v - lo) / (hi - lo) * (H - T - Bm)

    n_out = int((~areas["in_sample"]).sum())
    if desc is None:
        desc = (f"{len(rows)} areas: model-based estimate against direct estimate; dots on the "
                f"diagonal were not moved by the model; larger dots have larger direct CVs."
                + (f" {n_out} areas without a sample have model-based estimates only."
                   if n_out else ""))
    parts = [f'<svg id="{escape(cid)}" viewBox="0 0 {_c(W)} {_c(H)}" class="chart" role="img" '
             f'aria-labelledby="{escape(cid)}-title {escape(cid)}-desc" '
             f'preserveAspectRatio="xMinYMin meet">'
             f'<title id="{escape(cid)}-title">{escape(title)}</title>'
             f'<desc id="{escape(cid)}-desc">{escape(desc)}</desc>',
             f'<line x1="{_c(px(lo))}" y1="{_c(py(lo))}" x2="{_c(px(hi))}" y2="{_c(py(hi))}" '
             'stroke="#888" stroke-dasharray="4 3"/>',
             f'<line x1="{_c(L)}" y1="{_c(H - Bm)}" x2="{_c(W - R)}" y2="{_c(H - Bm)}" stroke="#333"/>',
             f'<line x1="{_c(L)}" y1="{_c(T)}" x2="{_c(L)}" y2="{_c(H - Bm)}" stroke="#333"/>']
    for t in np.linspace(lo + pad, hi - pad, 5):
        parts.append(f'<text x="{_c(px(t))}" y="{_c(H - Bm + 16)}" font-size="10" '
                     f'text-anchor="middle">{t:.{decimals}f}</text>')
        parts.append(f'<text x="{_c(L - 4)}" y="{_c(py(t) + 3)}" font-size="10" '
                     f'text-anchor="end">{t:.{decimals}f}</text>')
    parts.append(f'<text x="{_c((L + W - R) / 2)}" y="{_c(H - 8)}" font-size="11" '
                 f'text-anchor="middle">{escape(x_label)}</text>')
    parts.append(f'<text x="12" y="{_c((T + H - Bm) / 2)}" font-size="11" text-anchor="middle" '
                 f'transform="rotate(-90 12 {_c((T + H - Bm) / 2)})">{escape(y_label)}</text>')
    cvs = np.where(np.isfinite(cv), cv, 0.0)
    top = float(cvs.max()) if cvs.size and cvs.max() > 0 else 1.0
    for xi, yi, ci, lab in zip(x, y, cvs, labels, strict=True):
        if not (np.isfinite(xi) and np.isfinite(yi)):
            continue
        r = 2.5 + 4.0 * ci / top
        parts.append(f'<circle cx="{_c(px(xi))}" cy="{_c(py(yi))}" r="{_c(r)}" fill="#2c7fb8" '
                     f'fill-opacity="0.6"><title>{escape(lab)}: {escape(x_label)} '
                     f'{xi:.{decimals}f}, {escape(y_label)} {yi:.{decimals}f}</title></circle>')
    parts.append("</svg>")
    return "".join(parts)
