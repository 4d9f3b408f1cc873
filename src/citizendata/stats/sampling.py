"""A form's declared sampling design, resolved on the submissions an estimate uses.

``estimation.design`` in the project spec says how a form's submissions were drawn
(:class:`~citizendata.projects.design.DesignSpec`). Here the declaration meets the
data: its fields are checked before any snapshot is made (:func:`check_design_fields`),
then checked against the submissions in the design (:func:`resolve_design`, through
:class:`citizendata.survey.design.SurveyDesign`), which gives the design weights, the
unit each submission's totals are summed to (the PSU, or the SSU of a two-stage
design with a first-stage fpc) and the variance of those totals
(:mod:`citizendata.survey.linear`). Every estimate says which variance assumption it
used: :data:`NONE_DECLARED` when no design is declared.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from citizendata.errors import BadInput, Where
from citizendata.projects.design import DesignSpec

if TYPE_CHECKING:
    from citizendata.survey.assumption import VarianceAssumption
    from citizendata.survey.design import SurveyDesign

__all__ = ["NONE_DECLARED", "NONE_DECLARED_ASSUMPTION", "ResolvedDesign", "check_design_fields",
           "design_columns", "resolve_design"]

NONE_DECLARED = ("none declared: each submission treated as an independent draw with equal "
                 "design weights")
NONE_DECLARED_ASSUMPTION = ("no sampling design declared: each submission is treated as an "
                            "independent draw with replacement, with equal design weights; if "
                            "the submissions cluster (villages, group ranches, schools) the "
                            "standard errors are too small")  # VarianceAssumption("none_declared")


def design_columns(spec: DesignSpec) -> list[str]:
    """The submission's columns a declaration reads (weights, strata, units, fpc, replicates)."""
    cols = [spec.weights, spec.probabilities, spec.strata, spec.psu, spec.ssu,
            spec.fpc if isinstance(spec.fpc, str) else None,
            spec.fpc2 if isinstance(spec.fpc2, str) else None]
    rw = spec.replicate_weights
    if rw is not None and isinstance(rw.columns, list):
        cols += rw.columns
    return list(dict.fromkeys(c for c in cols if c))


def replicate_columns(spec: DesignSpec, columns: Iterable[str]) -> list[str]:
    """A survey's own replicate weight columns: the list, or those named prefix + number."""
    rw = spec.replicate_weights
    if rw is None:
        return []
    if isinstance(rw.columns, list):
        return list(rw.columns)
    prefix = rw.columns
    found = [c for c in columns if c.startswith(prefix) and c[len(prefix):].isdigit()]
    return sorted(found, key=lambda c: int(c[len(prefix):]))


def check_design_fields(spec: DesignSpec, columns: Iterable[str], form: str) -> None:
    """design.invalid for a declaration naming a field the form (or a derived variable) lacks."""
    have = set(columns)
    where = f"estimation.design.{form}"
    for role in ("weights", "probabilities", "strata", "psu", "ssu", "fpc", "fpc2"):
        col = getattr(spec, role)
        if isinstance(col, str) and col not in have:
            import difflib

            near = difflib.get_close_matches(col, sorted(have), n=3)
            hint = f"; did you mean {', '.join(repr(c) for c in near)}?" if near else ""
            raise BadInput("design.invalid", f"the design's {role} {col!r} is not a field of "
                           f"form {form!r} or a derived variable{hint}",
                           where=Where(field=f"{where}.{role}"),
                           fix=f"Name a field of the submission (not of a repeat group) for {role}.")
    rw = spec.replicate_weights
    if rw is not None:
        if isinstance(rw.columns, list):
            missing = [c for c in rw.columns if c not in have]
        else:
            missing = [] if replicate_columns(spec, have) else [f"{rw.columns}1, {rw.columns}2, …"]
        if missing:
            raise BadInput("design.replicates_invalid", f"the replicate weight columns {missing} "
                           f"are not fields of form {form!r}",
                           where=Where(field=f"{where}.replicate_weights"),
                           fix="Name the columns, or their common prefix (repw for repw1, repw2, …).")


@dataclass
class ResolvedDesign:
    """The declared design on the submissions in the estimate (rows in the data's order)."""

    spec: DesignSpec
    survey: SurveyDesign
    unit: np.ndarray  # (n,) the unit whose totals the variance reads: PSU, or SSU (two-stage)
    n_units: int
    # (n_units, k) totals [, (n_units, k) presence of each cell] -> (k,) variances
    variance: Callable[..., np.ndarray]
    replicate_columns: list[str]

    @property
    def df(self) -> float:
        """Degrees of freedom: PSUs - strata."""
        return float(self.survey.df)

    @property
    def has_weights(self) -> bool:
        """Whether the declaration gives design weights (else equal weights)."""
        return bool(self.spec.weights or self.spec.probabilities)

    @property
    def weights(self) -> np.ndarray:
        """Design weights d (ones when none are declared)."""
        return np.asarray(self.survey.weights, dtype=float)

    def assumption(self, calibrated: bool) -> str:
        """The sentence every output carries about its variance (English)."""
        return self.variance_assumption(calibrated).text()

    def variance_assumption(self, calibrated: bool) -> VarianceAssumption:
        """The design's variance assumption as data, with whether the weights are calibrated."""
        return self.survey.variance_assumption().with_params(calibrated=calibrated)

    def describe(self) -> dict[str, Any]:
        """The declaration and what it gave on the data (JSON-ready)."""
        return {"declared": self.spec.model_dump(mode="json", exclude_defaults=True),
                **self.survey.describe()}


def resolve_design(data: pd.DataFrame, spec: DesignSpec, source: str) -> ResolvedDesign:
    """The design checked against the submissions in ``data`` (coded design.* errors)."""
    from citizendata.survey.design import SurveyDesign
    from citizendata.survey.linear import psu_totals_variance, svyrecvar

    survey = SurveyDesign.from_spec(data, spec, source=source)
    if survey.ssu is not None and survey.fpc1 is not None:
        # two stages with a first-stage fpc: the second stage counts, so the totals are
        # per SSU; one row per SSU carries its PSU, stratum and both fpcs
        n_ssu = int(survey.ssu.max()) + 1
        first = np.zeros(n_ssu, dtype=np.int64)
        first[survey.ssu[::-1]] = np.arange(len(survey.ssu))[::-1]
        per_ssu = survey.subset(first)

        def variance(totals: np.ndarray, present: np.ndarray | None = None) -> np.ndarray:
            return np.asarray(svyrecvar(totals, per_ssu, diag=True, present=present),
                              dtype=float)

        unit, n_units = survey.ssu, n_ssu
    else:
        strata, fpc = survey.psu_strata, survey.psu_fpc

        def variance(totals: np.ndarray, present: np.ndarray | None = None) -> np.ndarray:
            # present (units, k): which units have a row of each cell; as R's svyby on an
            # uncalibrated design, lonely_psu="average" then counts the cell's strata only
            return np.asarray(psu_totals_variance(totals, strata, fpc=fpc,
                                                  lonely_psu=survey.lonely_psu, diag=True,
                                                  stratum_labels=survey.stratum_labels,
                                                  present=present),
                              dtype=float)

        unit, n_units = survey.psu, survey.n_psu
    return ResolvedDesign(spec=spec, survey=survey, unit=np.asarray(unit, dtype=np.int64),
                          n_units=int(n_units), variance=variance,
                          replicate_columns=replicate_columns(spec, data.columns))


def replicate_weights(design: ResolvedDesign | None, sample: pd.DataFrame, method: str,
                      base: np.ndarray, replicates: int, seed: int | None) -> Any:
    """Replicate weights of the design (n x R), before any re-calibration.

    ``method`` is a replicate type (jk1, jkn, brr, fay, bootstrap) built on the declared
    strata and PSUs (each submission its own PSU when none is declared), or ``own``: the
    survey's replicate weight columns (``DesignSpec.replicate_weights``). ``base`` holds
    the full-sample weights the replicates perturb (design weights before calibration).
    """
    from citizendata.survey.replicates import from_columns, replicate_design

    if method == "own":
        assert design is not None and design.spec.replicate_weights is not None
        return from_columns(sample, design.spec.replicate_weights, design_weights=base)
    if design is None:
        return replicate_design(base, None, None, method, replicates=replicates,
                                seed=0 if seed is None else seed)
    survey, spec = design.survey, design.spec
    fpc = None
    if survey.fpc1 is not None and method in ("jk1", "jkn") and np.isfinite(survey.fpc1).all():
        fpc = survey.fpc1
    return replicate_design(base, survey.strata, survey.psu, method, replicates=replicates,
                            seed=spec.seed if seed is None else seed, fay_rho=spec.fay_rho, fpc=fpc)


def replicate_metadata(rep: Any) -> dict[str, Any]:
    """What an export of the replicate weights needs (type, scale, rscales, mse; R and Stata)."""
    meta: dict[str, Any] = rep.metadata(prefix="repw", weight="weight")
    return meta
