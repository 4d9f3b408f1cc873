"""Citizen data (a non-probability sample) combined with a probability survey of the same covariates.

Propensity pseudo-weights with the survey as reference sample and the doubly robust
estimator (Chen, Li & Wu 2020), mass imputation (Kim, Park, Chen & Wu 2021) and the
naive mean for comparison; each estimate says which assumption it needs.
"""

from __future__ import annotations

from citizendata.integrate.nonprob.estimate import (
    ASSUMPTIONS,
    METHODS,
    TOTAL,
    NonprobResult,
    estimate_domains,
    estimate_nonprob,
    estimate_prepared,
)
from citizendata.integrate.nonprob.propensity import fit_propensity

__all__ = ["ASSUMPTIONS", "METHODS", "TOTAL", "NonprobResult", "estimate_domains",
           "estimate_nonprob", "estimate_prepared", "fit_propensity"]
