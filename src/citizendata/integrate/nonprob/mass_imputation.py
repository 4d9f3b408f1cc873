"""Mass imputation: predict the outcome for every unit of the reference survey.

Kim, Park, Chen & Wu (2021, JRSS A 184:941-963). Fit ``m(x; beta)`` on the citizen
sample, impute ``m(x_i; beta)`` for every unit of the reference survey, and take its
design-weighted mean ``sum_B d_i m_i / sum_B d_i``. The variance adds the reference
survey's design variance of the imputed values and the model variance from estimating
``beta`` on the citizen sample (a sandwich, so it allows any error variance).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from citizendata.integrate.nonprob.outcome import Outcome

if TYPE_CHECKING:
    from citizendata.integrate.nonprob.propensity import VarB

__all__ = ["mi_mean"]


def mi_mean(model: Outcome, xa: np.ndarray, y: np.ndarray, xb: np.ndarray, d: np.ndarray,
            var_b: VarB) -> tuple[float, float]:
    """The mass-imputation mean and its standard error.

    ``V = V_B + V_A``: ``V_B`` the design variance of ``N_B^-1 sum_B d (m_i - mu)``;
    ``V_A = sum_A (g' M^-1 x_i e_i)^2`` with ``g = N_B^-1 sum_B d mdot_i x_i``,
    ``M = sum_A mdot_i x_i x_i'`` and ``e_i = y_i - m_i`` (linearisation in ``beta``).
    """
    mb = model.predict(xb)
    n_b = float(d.sum())
    mu = float(d @ mb / n_b)
    v_b = var_b(d * (mb - mu)) / n_b ** 2
    g = (d * model.slope(xb)) @ xb / n_b
    kappa = xa @ (model.bread @ g)
    e = y - model.predict(xa)
    v_a = float(np.sum((kappa * e) ** 2))
    return mu, float(np.sqrt(v_b + v_a))
