"""The release part of a project spec: who signs off, and what a release contains."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from citizendata.i18n import LANGUAGES

__all__ = ["ReleaseMap", "ReleaseSpec", "SdmxBreakdown"]

# The SDG data structure's breakdown dimensions (the others are fixed per series).
SdgBreakdown = Literal["SEX", "AGE", "URBANISATION", "INCOME_WEALTH_QUANTILE", "EDUCATION_LEV",
                       "OCCUPATION", "CUST_BREAKDOWN", "COMPOSITE_BREAKDOWN",
                       "DISABILITY_STATUS", "ACTIVITY", "PRODUCT"]


class ReleaseMap(BaseModel):
    """A choropleth in the report: which boundaries, for which area dimension."""

    model_config = ConfigDict(extra="forbid")
    boundaries: str  # a reference table of kind "boundaries" (GeoJSON)
    dimension: str  # the project dimension holding the areas' codes (e.g. ward)


class SdmxBreakdown(BaseModel):
    """How one project dimension is coded in the SDG data structure."""

    model_config = ConfigDict(extra="forbid")
    dimension: SdgBreakdown
    # project code -> SDMX code; age bands ("15-19", "65+") and Washington Group
    # disability codes get standard codes when left out (see publish.sdmx.default_codes)
    codes: dict[str, str] = Field(default_factory=dict)


class ReleaseSpec(BaseModel):
    """Who must approve a release before it is public, and what goes in it."""

    model_config = ConfigDict(extra="forbid")
    # user names of the community's designated representatives: each must approve
    community_representatives: list[str] = Field(default_factory=list)
    # the NSO's approval; by default required when the project intends to integrate
    nso_signoff: bool | None = None
    indicators: list[str] = Field(default_factory=list)  # default: every indicator
    licence: str = "CC-BY-4.0"
    maps: list[ReleaseMap] = Field(default_factory=list)
    # project dimension -> SDG breakdown; dimensions not named here reach SDMX only as _T
    sdmx: dict[str, SdmxBreakdown] = Field(default_factory=dict)
    # CL_NATURE; empty until the NSO adopts the figures as country data ("C")
    sdmx_nature: Literal["", "C", "CA", "E", "G", "M", "N"] = ""
    # the version of the global SDG DSD (IAEG-SDGs:SDG) the SDMX files cite and follow
    sdmx_dsd_version: str = Field(default="1.8", pattern=r"^\d+\.\d+(\.\d+)?$")
    # the language the release report is written in (one of citizendata.i18n.LANGUAGES)
    language: str = "en"

    @field_validator("language")
    @classmethod
    def _known_language(cls, v: str) -> str:
        if v not in LANGUAGES:
            raise ValueError(f"unknown report language {v!r}; use one of {sorted(LANGUAGES)}")
        return v
