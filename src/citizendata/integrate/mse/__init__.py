"""Multiple systems estimation: the uncounted estimated from linked lists' capture histories.

Log-linear Poisson models over the 2^k - 1 observable patterns (Fienberg 1972), with
model selection, the existence check of Chan, Silverman & Vincent (2021), profile
likelihood and bootstrap intervals, stratification, and Chapman's two-list estimator.
The Bayesian latent-class model LCMCR is in :mod:`citizendata.integrate.mse.lcmcr`.
"""

from __future__ import annotations

from citizendata.integrate.mse.estimate import (
    MSEResult,
    StratifiedResult,
    chapman,
    estimate_mse,
    estimate_stratified,
)
from citizendata.integrate.mse.histories import (
    MAX_LISTS,
    Histories,
    histories_from_records,
    read_histories,
)
from citizendata.integrate.mse.loglinear import LoglinearFit, fit_loglinear

__all__ = ["MAX_LISTS", "Histories", "LoglinearFit", "MSEResult", "StratifiedResult", "chapman",
           "estimate_mse", "estimate_stratified", "fit_loglinear", "histories_from_records",
           "read_histories"]
