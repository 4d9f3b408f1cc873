"""The reference survey's design-based variance of a weighted total (private).

With-replacement approximation at the first stage: PSU totals within strata,
``sum_h n_h/(n_h-1) sum_i (t_hi - mean_h t)^2``. It ignores finite population
corrections, so it is slightly conservative when many PSUs of a stratum are drawn.
"""

from __future__ import annotations

import numpy as np

__all__ = ["design_codes", "psu_total_variance"]


def design_codes(strata: np.ndarray | None, psu: np.ndarray | None, n: int
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Integer codes of stratum and of PSU (unique across strata) for ``n`` units.

    No strata: one stratum. No PSU: every unit is its own PSU.
    """
    h = np.zeros(n, dtype=np.int64) if strata is None else np.unique(strata, return_inverse=True)[1]
    if psu is None:
        return h, np.arange(n, dtype=np.int64)
    p = np.unique(psu, return_inverse=True)[1]
    # a PSU label may repeat in another stratum; the pair identifies the PSU
    pair = h * (int(p.max()) + 1) + p
    return h, np.unique(pair, return_inverse=True)[1]


def psu_total_variance(z: np.ndarray, h: np.ndarray, psu: np.ndarray) -> float:
    """Variance of ``sum(z)`` (``z`` already weighted) over the design of strata ``h``, PSUs ``psu``.

    Every stratum must have two PSUs or more (checked when the design is read).
    """
    t = np.bincount(psu, weights=z)
    # the stratum of each PSU (every unit of a PSU shares it)
    psu_h = np.zeros(t.size, dtype=np.int64)
    psu_h[psu] = h
    n_h = np.bincount(psu_h, minlength=int(h.max()) + 1).astype(float)
    mean_h = np.bincount(psu_h, weights=t, minlength=n_h.size) / np.maximum(n_h, 1)
    dev2 = (t - mean_h[psu_h]) ** 2
    ss_h = np.bincount(psu_h, weights=dev2, minlength=n_h.size)
    factor = np.where(n_h > 1, n_h / np.maximum(n_h - 1, 1), 0.0)
    return float(np.sum(factor * ss_h))
