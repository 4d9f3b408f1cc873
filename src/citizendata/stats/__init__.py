"""Estimation: indicators, disaggregation, weighting to official margins and variance.

Everything works on Ibis tables (DuckDB here, Spark at scale) and gives tidy
tables: one row per estimate, one column per dimension, ``_T`` for totals.
"""

from citizendata.stats.cube import TOTAL, UNKNOWN
from citizendata.stats.indicators import IndicatorResult, coherence, estimate_indicator

__all__ = ["TOTAL", "UNKNOWN", "IndicatorResult", "coherence", "estimate_indicator"]
