"""The protection part of a project spec: what every outgoing table, file and map must pass.

Safe defaults: a threshold of 5 respondents per cell, secondary suppression, no
personal field outside the roles allowed to see it, GPS coarsened to a 5 km grid,
k = 5 for public microdata, and differential privacy off (it is an option with a
budget). ``level: strict`` raises the defaults for the most exposed communities.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = [
    "ConsentSpec",
    "DPSpec",
    "DominanceSpec",
    "LocationSpec",
    "MicrodataSpec",
    "ProtectionSpec",
    "RoundingSpec",
    "TableProtectionSpec",
]

# Consent scopes a submission may carry (Copenhagen Framework: informed, voluntary
# consent to each use); a project may add its own.
SCOPES = ("analysis", "publication", "nso_sharing")


class DominanceSpec(BaseModel):
    """The p% rule (and optionally the (n, k) rule) for magnitude tables.

    A cell is sensitive under the p% rule when the second-largest contributor can
    estimate the largest contribution to within p per cent:
    ``total − x1 − x2 < p/100 · x1`` (Hundepool et al. 2012, §4.2).
    """

    model_config = ConfigDict(extra="forbid")
    p: float = Field(default=10.0, gt=0, lt=100)
    n: int | None = Field(default=None, ge=1)  # (n, k) rule: the n largest …
    k: float | None = Field(default=None, gt=0, le=100)  # … hold more than k% of the total


class RoundingSpec(BaseModel):
    """Rounding of published counts to a base (random: unbiased; controlled: additive)."""

    model_config = ConfigDict(extra="forbid")
    method: Literal["random", "controlled"] = "random"
    base: Literal[3, 5, 10] = 5
    seed: int = 0


class TableProtectionSpec(BaseModel):
    """Rules every outgoing table passes: threshold, dominance, secondary suppression."""

    model_config = ConfigDict(extra="forbid")
    threshold: int = Field(default=5, ge=1)  # minimum unweighted count of respondents per cell
    zero_unsafe: bool = False  # an empty cell says "nobody in this group": suppress it too
    dominance: DominanceSpec | None = Field(default_factory=DominanceSpec)
    # required protection interval of a sensitive cell with value a: the attacker's
    # feasible interval must reach a − L and a + U, L = U = max(ratio · a, minimum)
    # (L capped at a, since counts are non-negative)
    protection_ratio: float = Field(default=0.3, ge=0, le=10)
    protection_minimum: float = Field(default=1.0, ge=0)
    # information loss minimised by secondary suppression: the cells' values, their
    # number, or the logarithm of their values
    cost: Literal["value", "count", "log"] = "value"
    # optimal: one MILP over all sensitive cells (Fischetti & Salazar); fast: one small
    # LP per sensitive cell over its sub-table; auto: optimal for small tables
    method: Literal["auto", "optimal", "fast"] = "auto"
    rounding: RoundingSpec | None = None
    # publish secondary (D) apart from primary (C) cells and the reasons: readers then
    # know a D cell is at least the threshold, which costs protection (docs/methods)
    distinguish_secondary: bool = False


class MicrodataSpec(BaseModel):
    """Public microdata: k-anonymity and l-diversity on declared quasi-identifiers."""

    model_config = ConfigDict(extra="forbid")
    k: int = Field(default=5, ge=2)
    l: int = Field(default=2, ge=1)  # noqa: E741 (the name of the rule)
    quasi_identifiers: list[str] = Field(default_factory=list)
    sensitive: list[str] = Field(default_factory=list)
    # per quasi-identifier, the recoding ladder tried in order, e.g. for age
    # [{"width": 5}, {"width": 10}] or for a place [{"rollup": "county"}]
    recode: dict[str, list[dict[str, str | int | float | list[float] | dict[str, str]]]] = Field(
        default_factory=dict)
    max_suppressed: float = Field(default=0.05, ge=0, le=1)  # share of records locally suppressed
    # answers released besides the quasi-identifiers and sensitive variables: an
    # allow-list, so a new question never slips into a public file unchecked
    fields: list[str] = Field(default_factory=list)


class DPSpec(BaseModel):
    """Differential privacy for counts and proportions, with a per-project budget."""

    model_config = ConfigDict(extra="forbid")
    enabled: bool = False
    mechanism: Literal["discrete_laplace", "discrete_gaussian"] = "discrete_laplace"
    epsilon: float = Field(default=1.0, gt=0)  # spent by one release
    delta: float = Field(default=0.0, ge=0, lt=1)  # needed by the Gaussian mechanism
    budget_epsilon: float = Field(default=4.0, gt=0)  # the project's total
    budget_delta: float = Field(default=1e-6, ge=0, lt=1)
    # finest: noise the finest cells and add them up (sensitivity 1); consistent: noise
    # every cell and make the table additive by least squares (Hay et al. 2010)
    strategy: Literal["finest", "consistent"] = "finest"
    max_contributions: int = Field(default=1, ge=1)  # rows one person can add to a table

    @model_validator(mode="after")
    def _gaussian_needs_delta(self) -> DPSpec:
        if self.mechanism == "discrete_gaussian" and self.enabled and self.delta <= 0:
            raise ValueError("the discrete Gaussian mechanism needs delta > 0 (e.g. 1e-7)")
        if self.epsilon > self.budget_epsilon:
            raise ValueError("epsilon per release is larger than the project's budget_epsilon")
        if self.delta > self.budget_delta:
            raise ValueError("delta per release is larger than the project's budget_delta")
        return self


class LocationSpec(BaseModel):
    """How exact locations are coarsened before anything is published."""

    model_config = ConfigDict(extra="forbid")
    method: Literal["grid", "area"] = "grid"
    grid_m: float = Field(default=5000.0, gt=0)  # grid cell size in metres
    # for method "area": a reference table (GeoJSON boundaries) and its code property
    boundaries: str | None = None
    code_property: str = "code"


class ConsentSpec(BaseModel):
    """Where a submission's consent scope comes from, and what each use needs.

    ``field`` names a select_multiple (or select_one) question whose chosen values
    are scopes; ``mapping`` translates choice values to scopes (a value may grant
    several, separated by spaces). Without a field every submission carries
    ``default``. Withdrawals recorded through the API or CLI are subtracted.
    """

    model_config = ConfigDict(extra="forbid")
    field: str | None = None
    mapping: dict[str, str] = Field(default_factory=dict)
    default: list[str] = Field(default_factory=lambda: ["analysis", "publication"])
    # the scope each use needs
    analysis: str = "analysis"
    publication: str = "publication"
    nso_sharing: str = "nso_sharing"


class ProtectionSpec(BaseModel):
    """The project's protection policy; ``level: strict`` raises every default."""

    model_config = ConfigDict(extra="forbid")
    level: Literal["standard", "strict"] = "standard"
    tables: TableProtectionSpec = Field(default_factory=TableProtectionSpec)
    microdata: MicrodataSpec = Field(default_factory=MicrodataSpec)
    dp: DPSpec = Field(default_factory=DPSpec)
    location: LocationSpec = Field(default_factory=LocationSpec)
    consent: ConsentSpec = Field(default_factory=ConsentSpec)

    @model_validator(mode="before")
    @classmethod
    def _strict_defaults(cls, data: object) -> object:
        # strict: threshold 10, zeros unsafe, 50% protection intervals, k = 10, l = 3,
        # a 10 km grid; anything the spec sets itself still wins
        if not isinstance(data, dict) or data.get("level") != "strict":
            return data
        out = dict(data)
        tables = dict(out.get("tables") or {})
        for k, v in {"threshold": 10, "zero_unsafe": True, "protection_ratio": 0.5,
                     "protection_minimum": 2.0}.items():
            tables.setdefault(k, v)
        micro = dict(out.get("microdata") or {})
        micro.setdefault("k", 10)
        micro.setdefault("l", 3)
        loc = dict(out.get("location") or {})
        loc.setdefault("grid_m", 10000.0)
        out.update(tables=tables, microdata=micro, location=loc)
        return out
