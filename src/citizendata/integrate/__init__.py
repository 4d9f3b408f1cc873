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
* :mod:`~citizendata.integrate.sae` gives small area estimates: the Fay–Herriot area-level
  EBLUP (REML, ML, FH; Prasad–Rao and Datta–Lahiri MSE, bootstrap; arcsine transform,
  variance smoothing, benchmarking) and the Battese–Harter–Fuller unit-level model.
* :mod:`~citizendata.integrate.population` estimates population by small area: census
  coverage by dual-system estimation, bottom-up counts from dwellings and occupancy, and
  their combination with the census (undercount by area).
* :mod:`~citizendata.integrate.places` places points in areas (boundary files, vectorised
  point-in-polygon, GPS-in-area checks) and moves counts between boundary sets
  (areal interpolation, population-weighted means).
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
    from citizendata.integrate.places import (
        Areas,
        areal_interpolate,
        assign_areas,
        check_points,
        population_weighted_mean,
    )
    from citizendata.integrate.population import (
        BottomUpResult,
        CombinedResult,
        DSEResult,
        bottom_up,
        combine_population,
        dual_system,
        match_records,
    )
    from citizendata.integrate.pprl import ClkSchema, PPRLResult, encode_clks, link_encodings
    from citizendata.integrate.sae import (
        Benchmark,
        BHFResult,
        FHResult,
        battese_harter_fuller,
        fay_herriot,
        smooth_variances,
    )

__all__ = [
    "Areas",
    "BHFResult",
    "Benchmark",
    "BottomUpResult",
    "ClkSchema",
    "CombinedResult",
    "DSEResult",
    "FHResult",
    "Histories",
    "LCMCRResult",
    "LinkageResult",
    "MSEResult",
    "NonprobResult",
    "PPRLResult",
    "areal_interpolate",
    "assign_areas",
    "battese_harter_fuller",
    "blocking_recall",
    "bottom_up",
    "check_points",
    "combine_population",
    "dual_system",
    "encode_clks",
    "estimate_mse",
    "estimate_nonprob",
    "estimate_stratified",
    "fay_herriot",
    "fit_lcmcr",
    "fit_loglinear",
    "histories_from_records",
    "link_encodings",
    "link_records",
    "linkage_quality",
    "match_records",
    "population_weighted_mean",
    "read_histories",
    "smooth_variances",
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
    "fay_herriot": "sae", "FHResult": "sae", "Benchmark": "sae", "smooth_variances": "sae",
    "battese_harter_fuller": "sae", "BHFResult": "sae",
    "Areas": "places", "check_points": "places", "areal_interpolate": "places",
    "population_weighted_mean": "places", "assign_areas": "places",
    "dual_system": "population", "match_records": "population", "bottom_up": "population",
    "combine_population": "population", "DSEResult": "population",
    "BottomUpResult": "population", "CombinedResult": "population",
}


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(import_module(f"{__name__}.{_WHERE[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
