"""Integration methods: citizen data combined with official sources, one sub-package each.

Tables in, tables out.

* :mod:`~citizendata.integrate.nonprob` combines a non-probability citizen sample with a
  probability survey that measures the same covariates (propensity pseudo-weights, doubly
  robust estimation, mass imputation).
* :mod:`~citizendata.integrate.linkage` links records of several organisations' lists into
  unique victims (Fellegi–Sunter with splink; Spanish names), with clerical review and
  linkage quality.
* :mod:`~citizendata.integrate.pprl` links lists whose holders share Bloom-filter encodings
  (cryptographic long-term keys) instead of names; ``link_encodings`` returns a
  ``PPRLResult`` (pairs, clusters, summary).
* :mod:`~citizendata.integrate.mse` estimates the uncounted from the linked lists' capture
  histories: log-linear models (selection, admissibility, profile and bootstrap intervals,
  stratification) and the Bayesian latent-class model LCMCR.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from citizendata.integrate.linkage import (
        LinkageResult,
        blocking_recall,
        link_records,
        linkage_quality,
        threshold_sensitivity,
    )
    from citizendata.integrate.mse import (
        Histories,
        MSEResult,
        estimate_mse,
        estimate_stratified,
        fit_loglinear,
        histories_from_records,
        read_histories,
    )
    from citizendata.integrate.mse.lcmcr import LCMCRResult, fit_lcmcr
    from citizendata.integrate.nonprob import NonprobResult, estimate_nonprob
    from citizendata.integrate.pprl import ClkSchema, PPRLResult, encode_clks, link_encodings

__all__ = [
    "ClkSchema",
    "Histories",
    "LCMCRResult",
    "LinkageResult",
    "MSEResult",
    "NonprobResult",
    "PPRLResult",
    "blocking_recall",
    "encode_clks",
    "estimate_mse",
    "estimate_nonprob",
    "estimate_stratified",
    "fit_lcmcr",
    "fit_loglinear",
    "histories_from_records",
    "link_encodings",
    "link_records",
    "linkage_quality",
    "read_histories",
    "threshold_sensitivity",
]

# pandas and NumPy load when a name is first asked for, not with the package
_WHERE = {
    "NonprobResult": "nonprob", "estimate_nonprob": "nonprob",
    "Histories": "mse", "MSEResult": "mse", "estimate_mse": "mse",
    "estimate_stratified": "mse", "fit_loglinear": "mse", "histories_from_records": "mse",
    "read_histories": "mse",
    "LCMCRResult": "mse.lcmcr", "fit_lcmcr": "mse.lcmcr",
    "LinkageResult": "linkage", "link_records": "linkage", "linkage_quality": "linkage",
    "threshold_sensitivity": "linkage", "blocking_recall": "linkage",
    "ClkSchema": "pprl", "PPRLResult": "pprl", "encode_clks": "pprl", "link_encodings": "pprl",
}


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(import_module(f"{__name__}.{_WHERE[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
