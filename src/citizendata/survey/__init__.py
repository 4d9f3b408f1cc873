"""Declared sampling designs and the variance they imply.

A :class:`SurveyDesign` (weights, strata, first- and second-stage units, finite
population corrections, the lonely-PSU rule) is checked against the data; the
linearised variance of any weighted total follows R survey's ``svyrecvar``
(:func:`svyrecvar`, :func:`psu_totals_variance`); :func:`survey_estimate` gives means,
totals and proportions, in domains, post-stratified, raked or calibrated, with
design-based standard errors and t intervals. Formulas: ``docs/methods/variance.md``.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from citizendata.survey.design import SurveyDesign
    from citizendata.survey.estimate import SurveyResult, survey_estimate
    from citizendata.survey.linear import psu_totals_variance, svyrecvar

__all__ = ["SurveyDesign", "SurveyResult", "psu_totals_variance", "survey_estimate",
           "svyrecvar"]

# NumPy and pandas load when a name is first asked for, not with the package
_WHERE = {"SurveyDesign": "design", "SurveyResult": "estimate", "survey_estimate": "estimate",
          "psu_totals_variance": "linear", "svyrecvar": "linear"}


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(import_module(f"{__name__}.{_WHERE[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
