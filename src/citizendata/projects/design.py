"""The sampling design of a form's submissions, as a project spec declares it.

A design says how the units came to be in the sample, because the variance of every
estimate depends on it: design weights (a column, or inclusion probabilities),
strata, first-stage units (PSU: villages, group ranches, schools) and optionally
second-stage units, finite population corrections per stage, and how a stratum
with a single PSU is treated (R survey's ``lonely.psu`` options). A convenience or
crowd sample declares ``non_probability: true``: it has no design weights, and its
estimates say that their variance rests on a model, not on the design.

Column names are fields of the submission (the main table) or derived variables.
The declaration is checked against the data by :mod:`citizendata.survey.design`.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = ["LONELY_PSU", "VARIANCE_METHODS", "DesignSpec", "ReplicateWeightsSpec"]

LONELY_PSU = ("fail", "remove", "certainty", "adjust", "average")
VARIANCE_METHODS = ("linearisation", "jk1", "jkn", "brr", "fay", "bootstrap")


class ReplicateWeightsSpec(BaseModel):
    """Replicate weights a survey ships with (R's ``svrepdesign``): the columns and their type.

    The variance is ``scale * sum_r rscales[r] * (theta_r - centre)**2`` with the centre
    the full-sample estimate when ``mse`` is true, else the replicates' mean.
    """

    model_config = ConfigDict(extra="forbid")
    columns: list[str] | str  # a list of columns, or a prefix such as "repw" (repw1, repw2, …)
    type: Literal["jk1", "jkn", "brr", "fay", "bootstrap", "other"]
    scale: float | None = Field(default=None, gt=0)  # default from the type, as R's
    rscales: list[float] | None = None
    fay_rho: float = Field(default=0.0, ge=0, lt=1)
    mse: bool = False  # as R's svrepdesign (survey.replicates.mse)
    # True: the columns are full weights; False: multipliers of the design weights
    combined_weights: bool = True


class DesignSpec(BaseModel):
    """How one form's submissions were sampled (see the module's docstring)."""

    model_config = ConfigDict(extra="forbid")
    weights: str | None = None  # a column of design weights
    probabilities: str | None = None  # or a column of inclusion probabilities (weight = 1/p)
    strata: str | None = None
    psu: str | None = None  # first-stage sampling units; none: every submission is its own
    ssu: str | None = None  # second-stage units within each PSU
    # finite population corrections per stage: a column, or population sizes by stratum
    # (stage 1) or by PSU (stage 2); a value <= 1 is a sampling fraction, > 1 a size
    fpc: str | dict[str, float] | None = None
    fpc2: str | dict[str, float] | None = None
    nest: bool = False  # PSU ids repeat across strata: read them within each stratum
    lonely_psu: Literal["fail", "remove", "certainty", "adjust", "average"] = "fail"
    non_probability: bool = False
    variance: Literal["linearisation", "jk1", "jkn", "brr", "fay", "bootstrap"] = "linearisation"
    replicates: int = Field(default=200, ge=2)  # bootstrap replicates
    fay_rho: float = Field(default=0.5, gt=0, lt=1)  # Fay's BRR: half-samples get 2 - rho and rho
    seed: int = 0
    replicate_weights: ReplicateWeightsSpec | None = None  # a survey's own replicate weights

    @model_validator(mode="after")
    def _consistent(self) -> DesignSpec:
        if self.weights and self.probabilities:
            raise ValueError("give design weights or inclusion probabilities, not both")
        if self.ssu and not self.psu:
            raise ValueError("second-stage units (ssu) need first-stage units (psu)")
        if self.fpc2 is not None and self.fpc is None:
            raise ValueError("a second-stage fpc (fpc2) needs the first-stage fpc")
        if self.fpc2 is not None and not self.ssu:
            raise ValueError("a second-stage fpc (fpc2) needs second-stage units (ssu)")
        if self.non_probability and (self.weights or self.probabilities or self.fpc is not None):
            raise ValueError("a non-probability sample has no design weights, inclusion "
                             "probabilities or fpc; calibrate it, or combine it with a "
                             "probability survey")
        if self.variance in ("brr", "fay") and not self.strata:
            raise ValueError(f"{self.variance} replicates need strata with two PSUs each")
        return self

    @property
    def declared(self) -> bool:
        """Whether anything beyond the default (equal weights, each submission a PSU) is said."""
        return self != DesignSpec()
