"""The doubly robust estimator of Chen, Li & Wu (2020, section 4) and its variance (section 5).

``mu_DR = N_A^-1 sum_A (y_i - m_i)/pi_i + N_B^-1 sum_B d_i m_i`` with ``N_A = sum_A 1/pi_i``
and ``N_B = sum_B d_i``: the model's prediction over the reference survey, corrected by
the propensity-weighted residuals of the citizen sample. It is consistent when either
the propensity model or the outcome model is right.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from citizendata.integrate.nonprob.propensity import _b_vector

if TYPE_CHECKING:
    from citizendata.integrate.nonprob.outcome import Outcome
    from citizendata.integrate.nonprob.propensity import Propensity, VarB

__all__ = ["dr_mean"]


def dr_mean(y: np.ndarray, pr: Propensity, model: Outcome, xa_p: np.ndarray, xb_p: np.ndarray,
            xa_o: np.ndarray, xb_o: np.ndarray, d: np.ndarray, var_b: VarB,
            da: np.ndarray | None = None, db: np.ndarray | None = None) -> tuple[float, float]:
    """The doubly robust mean and the plug-in standard error of CLW (2020, section 5).

    With ``e = y - m`` and ``h = N_A^-1 sum_A e/pi``:
    ``V1 = N_A^-2 sum_A (1 - pi)((e - h)/pi - b'x)^2`` and ``V2`` the design variance of
    ``sum_B d (pi b'x / N_A + (m - mean_B m) / N_B)``, ``b`` as for IPW with ``e - h`` in
    place of ``y - mu``. The estimation of ``beta`` adds nothing to first order when
    the propensity model is right, which is when this variance is valid. In a domain
    (``da``, ``db``: 1 for the units in it) every sum and ``N`` is the domain's.
    """
    pa, pb = pr.pi_a, pr.pi_b
    da = np.ones(y.size) if da is None else da
    db = np.ones(d.size) if db is None else db
    e = y - model.predict(xa_o)
    mb = model.predict(xb_o)
    n_a, n_b = float(np.sum(da / pa)), float(d @ db)
    h = float(np.sum(da * e / pa) / n_a)
    mb_mean = float((d * db) @ mb / n_b)
    mu = h + mb_mean
    r = da * (e - h)
    b = _b_vector(r, pa, pb, xa_p, xb_p, d)
    v1 = float(np.sum((1 - pa) * (r / pa - xa_p @ b) ** 2)) / n_a ** 2
    v2 = var_b(d * (pb * (xb_p @ b) / n_a + db * (mb - mb_mean) / n_b))
    return mu, float(np.sqrt(v1 + v2))
