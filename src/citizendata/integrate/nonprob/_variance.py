"""The reference survey's design-based variance of a weighted total (private).

With-replacement approximation at the first stage: PSU totals within strata,
``sum_h n_h/(n_h-1) sum_i (t_hi - mean_h t)^2``. It ignores finite population
corrections, so it is slightly conservative when many PSUs of a stratum are drawn.
The sum itself is :mod:`citizendata.survey.linear`'s.
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

    The PSU totals go to :func:`citizendata.survey.linear.psu_totals_variance`, the engine's
    stratified with-replacement variance (R's survey). Every stratum must have two PSUs or
    more (checked when the design is read).
    """
    from citizendata.survey.linear import psu_totals_variance

    t = np.bincount(psu, weights=z)
    psu_h = np.zeros(t.size, dtype=np.int64)
    psu_h[psu] = h  # the stratum of each PSU (every unit of a PSU shares it)
    return float(psu_totals_variance(t[:, None], psu_h, diag=True)[0])
