"""The spec of population estimates by small area: census coverage and bottom-up counts.

A project that corrects a census declares (``population:``) where its inputs are:
the census counts by area and the dwellings counted on imagery (or by community
mapping) are reference tables; the community enumeration is a form of the project,
one submission per dwelling, with the household's members in a repeat; the census's
person records of the enumerated areas (for matching) are an optional reference
table. Areas are named by the same code everywhere (``area_field``); the census table
also carries the post-strata (e.g. settlement type) and the larger areas the
estimates are added up to (``levels``, e.g. district).
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

__all__ = ["MemberFields", "PopulationSpec"]

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")


def _names(values: list[str]) -> list[str]:
    for v in values:
        if not _NAME.match(v):
            raise ValueError(f"{v!r} is not a column or field name (letters, digits, _)")
    return values


class MemberFields(BaseModel):
    """The enumeration form's repeat of household members and its fields."""

    model_config = ConfigDict(extra="forbid")
    repeat: str = "members"
    given_name: str = "given_name"
    surname: str = "surname"
    sex: str = "sex"
    age: str = "age"


class PopulationSpec(BaseModel):
    """Where the census counts, dwelling counts and community enumeration come from."""

    model_config = ConfigDict(extra="forbid")
    census: str  # reference table: census counts by area
    dwellings: str  # reference table: dwelling counts by area (imagery, community mapping)
    enumeration: str  # the community enumeration form id
    # reference table: the census's person records of the enumerated areas (personal);
    # without it, coverage cannot be estimated and only the bottom-up estimate is made
    census_records: str | None = None
    boundaries: str | None = None  # reference table (kind boundaries) of the areas, for maps
    area_field: str = "area"  # the form's question and every table's column naming the area
    levels: list[str] = Field(default_factory=list)  # census columns of larger areas
    post_strata: list[str] = Field(default_factory=list)  # census columns (area properties)
    census_count: str = "population"  # the census table's count of persons
    census_id: str = "census_id"  # the census records' person id
    dwellings_count: str = "buildings"  # the dwellings table's count
    status_field: str = "dwelling_status"  # the form's question: what the structure is
    occupied: str = "occupied"  # its answer for an occupied dwelling
    vacant: list[str] = Field(default_factory=lambda: ["vacant"])  # dwellings not occupied
    consent_field: str | None = "consent"  # members are listed where it is "yes"
    size_field: str = "household_size"  # the form's count of the household's members
    members: MemberFields = Field(default_factory=MemberFields)
    # how enumerated persons are matched to the census records (which carry the columns
    # given_name, surname, sex, age, and the area): Fellegi–Sunter scores with fixed
    # weights and Jaro–Winkler names within areas (similarity: fast, recall 0.998 on the
    # Saint Lucia scenario), splink's linkage (recall 0.97, 25× slower), or equality of
    # ``match_keys`` columns present in both
    match: Literal["similarity", "linkage", "key"] = "similarity"
    match_keys: list[str] = Field(default_factory=list)
    match_threshold: float = Field(default=0.9, gt=0, le=1)
    # how the dual-system and bottom-up estimates are combined by area (combine_population)
    method: Literal["precision", "dse", "bottom_up"] = "precision"
    confidence: float = Field(default=0.95, gt=0.5, lt=1)
    bootstrap: int = Field(default=999, ge=99, le=9999)  # replicates (DSE) and draws
    seed: int = 2022
    publish: bool = True  # releases carry the estimates by area and level

    @field_validator("levels", "post_strata", "match_keys")
    @classmethod
    def _columns(cls, v: list[str]) -> list[str]:
        return _names(v)

    @field_validator("area_field", "census_count", "census_id", "dwellings_count",
                     "status_field", "size_field")
    @classmethod
    def _column(cls, v: str) -> str:
        return _names([v])[0]
