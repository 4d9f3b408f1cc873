"""Estimation: indicators, disaggregation, weighting to official margins and variance.

Everything works on Ibis tables (DuckDB here, Spark at scale) and gives tidy
tables: one row per estimate, one column per dimension, ``_T`` for totals.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from citizendata.stats.cube import TOTAL, UNKNOWN
    from citizendata.stats.indicators import IndicatorResult, coherence, estimate_indicator

__all__ = ["TOTAL", "UNKNOWN", "IndicatorResult", "coherence", "estimate_indicator"]

# pandas, NumPy, SciPy and Ibis load when a name is first asked for, not with the package
_WHERE = {"TOTAL": "cube", "UNKNOWN": "cube", "IndicatorResult": "indicators",
          "coherence": "indicators", "estimate_indicator": "indicators"}


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(import_module(f"{__name__}.{_WHERE[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
