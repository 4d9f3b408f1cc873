"""Population by small area and census undercount.

* :func:`dual_system`: census coverage from a community enumeration of sampled areas
  (dual-system / PES estimation by post-stratum, with a bootstrap over areas).
* :func:`match_records`: the census and enumeration persons matched, by a key or by
  the Fellegi–Sunter record linkage of :mod:`citizendata.integrate.linkage`.
* :func:`bottom_up`: dwellings × occupancy × persons per dwelling, shrunk across areas
  within strata (bootstrap empirical Bayes), for every area.
* :func:`combine_population`: the two combined with the census into an estimate and
  the implied undercount by area.
"""

from __future__ import annotations

from citizendata.integrate.population.bottom_up import BottomUpResult, bottom_up
from citizendata.integrate.population.combine import CombinedResult, combine_population
from citizendata.integrate.population.dse import (
    ASSUMPTIONS,
    CORRELATION_BIAS,
    DSEResult,
    chapman,
    dual_system,
    lincoln_petersen,
)
from citizendata.integrate.population.match import match_records

__all__ = ["ASSUMPTIONS", "CORRELATION_BIAS", "BottomUpResult", "CombinedResult",
           "DSEResult", "bottom_up", "chapman", "combine_population", "dual_system",
           "lincoln_petersen", "match_records"]
