"""Integration methods: citizen data combined with official sources, one sub-package each.

Tables in, tables out. :mod:`citizendata.integrate.nonprob` combines a non-probability
citizen sample with a probability survey that measures the same covariates
(propensity pseudo-weights, doubly robust estimation, mass imputation).
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from citizendata.integrate.nonprob import NonprobResult, estimate_nonprob

__all__ = ["NonprobResult", "estimate_nonprob"]

# pandas and NumPy load when a name is first asked for, not with the package
_WHERE = {"NonprobResult": "nonprob", "estimate_nonprob": "nonprob"}


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(import_module(f"{__name__}.{_WHERE[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
