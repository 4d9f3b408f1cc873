"""Benchmarking small area estimates to a reliable total or mean (national or per group).

The benchmark condition is sum_i w_i theta~_i = T within each group, with w_i the areas'
population shares in the group (normalised to sum to one, so T is a mean; ``target="total"``
takes population counts and a total instead).

- ``ratio``: theta~_i = theta_i T / sum_j w_j theta_j (Rao & Molina 2015, sect. 6.2.4, eq. for
  the ratio benchmarked EBLUP).  No second-order MSE is known in closed form; we report
  mse_i + (theta~_i - theta_i)^2, an approximation (not a bound: the cross term between the
  EBLUP's error and the adjustment, left out, can take either sign); a note says so.  With
  a bootstrap the squared adjustment is added to the bootstrap MSE of the unbenchmarked
  estimator (replicates are not re-benchmarked).
- ``difference``: theta~_i = theta_i + (T - sum_j w_j theta_j) (Rao & Molina 2015, sect. 6.2.4;
  Wang, Fuller & Qu 2008).  MSE: Steorts & Ghosh (2013, Statistica Sinica 23, Theorem 1)
  add to the Prasad–Rao estimate the variance of the adjustment,
  g4 = sum_j w_j^2 B_j^2 (A + psi_j) - (sum_j w_j B_j x_j)' Q (sum_j w_j B_j x_j),
  B_j = psi_j / (A + psi_j).  Their theorem takes T = sum_j w_j (direct)_j over areas with a
  sample; for an external reliable T (treated as fixed), or with areas that have no sample
  (they enter g4 with B_j = 0, their shares still in w), the same term is an approximation.
  When the estimates were back-transformed from a model scale (the arcsine), `scale` holds
  d p_j / d theta_j and g4 is that of sum_j w_j d_j B_j (direct_j - x_j' beta) (delta method).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from citizendata.errors import BadInput, Where

__all__ = ["Benchmark", "apply_benchmark"]


@dataclass(frozen=True)
class Benchmark:
    """A benchmark: the reliable value (one number, or one per group) and the weights column.

    `weights` names a column of the direct or covariate table (population or population
    share of each area); `by` names the grouping column (None: one national benchmark).
    """

    value: float | Mapping[Any, float]
    weights: str
    by: str | None = None
    method: str = "ratio"
    target: str = "mean"


def _groups(bench: Benchmark, extra: pd.DataFrame) -> np.ndarray:
    if bench.by is None:
        return np.zeros(len(extra), dtype=int)
    if bench.by not in extra.columns:
        raise BadInput("sae.invalid_model", f"there is no benchmark group column {bench.by!r}",
                       where=Where(column=bench.by))
    return pd.factorize(extra[bench.by])[0]


def _values(bench: Benchmark, extra: pd.DataFrame, codes: np.ndarray) -> np.ndarray:
    if isinstance(bench.value, Mapping):
        assert bench.by is not None
        keys = pd.factorize(extra[bench.by])[1]
        missing = [k for k in keys if k not in bench.value]
        if missing:
            raise BadInput("sae.invalid_model",
                           f"no benchmark value for group(s) {', '.join(map(str, missing[:10]))}",
                           where=Where(column=bench.by))
        return np.array([float(bench.value[k]) for k in keys])
    return np.full(int(codes.max()) + 1, float(bench.value))


def apply_benchmark(bench: Benchmark, est: np.ndarray, mse: np.ndarray, extra: pd.DataFrame, *,
                    psi_all: np.ndarray, X_all: np.ndarray, A: float, Q: np.ndarray,
                    scale: np.ndarray | None = None
                    ) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Benchmarked estimates and their MSEs for all areas (in-sample first), with notes.

    `scale`: per-area derivative of the estimate's scale with respect to the model's
    (None: the model's own scale), used for the difference method's g4.
    """
    if bench.method not in ("ratio", "difference"):
        raise BadInput("sae.invalid_model", "benchmark method must be ratio or difference")
    if bench.target not in ("mean", "total"):
        raise BadInput("sae.invalid_model", "benchmark target must be mean or total")
    if bench.weights not in extra.columns:
        raise BadInput("sae.invalid_model", f"there is no weights column {bench.weights!r}",
                       where=Where(column=bench.weights))
    w = pd.to_numeric(extra[bench.weights], errors="coerce").to_numpy(dtype=float)
    if not (np.isfinite(w) & (w >= 0)).all():
        raise BadInput("sae.invalid_model", f"{bench.weights} must be a number >= 0 for every "
                       "area", where=Where(column=bench.weights))
    codes = _groups(bench, extra)
    k = int(codes.max()) + 1
    T = _values(bench, extra, codes)
    totw = np.bincount(codes, weights=w, minlength=k)
    if (totw <= 0).any():
        raise BadInput("sae.invalid_model", "a benchmark group has no weight",
                       where=Where(column=bench.weights))
    if bench.target == "total":
        T = T / totw  # the total's condition is the mean's with shares N_i / N
    wn = w / totw[codes]
    agg = np.bincount(codes, weights=wn * est, minlength=k)
    notes: list[str] = []
    if bench.method == "ratio":
        new = est * (T / agg)[codes]
        new_mse = mse + (new - est) ** 2
        notes.append("ratio benchmarking: the MSE adds the squared adjustment, an "
                     "approximation (no second-order formula exists; the cross term it "
                     "leaves out can take either sign)")
        return new, new_mse, notes
    new = est + (T - agg)[codes]
    # areas without a sample have no direct part: they enter g4 with B_j = 0
    inside = np.isfinite(psi_all)
    psi0 = np.where(inside, psi_all, 1.0)
    Bj = np.where(inside, psi0 / (A + psi0), 0.0)
    if scale is not None:
        wn = wn * scale   # delta method: the adjustment on the estimate's scale
    direct_part = wn * wn * Bj * Bj * (A + psi0)
    s1 = np.bincount(codes, weights=direct_part, minlength=k)
    wx = np.zeros((k, X_all.shape[1]))
    np.add.at(wx, codes, (wn * Bj)[:, None] * X_all)
    g4 = s1 - np.einsum("kp,pq,kq->k", wx, Q, wx)
    notes.append("difference benchmarking: MSE = Prasad-Rao + g4 of Steorts & Ghosh (2013)"
                 + (", carried to the proportion scale by the delta method"
                    if scale is not None else ""))
    return new, mse + np.maximum(g4, 0.0)[codes], notes
