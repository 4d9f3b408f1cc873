"""Area covariates "from the census": one row per ward (or county) of the synthetic population.

A census counts everyone, so its margins give each ward's population and shares that
a survey only estimates. Here they are computed from the scenario's whole synthetic
population (its truth), deterministically: the same population always gives the same
table. They are what a Fay–Herriot model of skilled birth attendance by ward can
borrow strength from (distance to a maternity ward and ethnicity drive attendance in
the scenario; county is the benchmark level).
"""

from __future__ import annotations

import pandas as pd

from citizendata.errors import BadInput, Where
from citizendata.scenarios.kenya_maternal_health.geography import WARDS

__all__ = ["COVARIATE_COLUMNS", "area_covariates", "covariates_csv"]

# what each column means (also the reference table's note)
COVARIATE_COLUMNS: dict[str, str] = {
    "women": "women aged 15-49 counted by the census",
    "mean_distance_km": "mean distance from home to the nearest maternity ward (km)",
    "share_not_indigenous": "share of women who do not identify as indigenous",
    "share_disability": "share of women with a disability (WG-SS, DISABILITY3)",
    "share_age_20_34": "share of women aged 20-34",
}


def area_covariates(women: pd.DataFrame, level: str = "ward") -> pd.DataFrame:
    """One row per ward (with its county) or per county: population and census shares."""
    if level not in ("ward", "county"):
        raise BadInput("input.invalid", f"unknown level {level!r}", where=Where(field="level"),
                       fix="Use ward or county.")
    keys = ["county", "ward"] if level == "ward" else ["county"]
    w = women.assign(
        not_indigenous=(women["ethnicity"] == "not_indigenous").astype(float),
        disability=women["disability3"].astype(float),
        age_20_34=women["age_group"].isin(["20-24", "25-29", "30-34"]).astype(float))
    g = w.groupby(keys, sort=False)
    out = pd.DataFrame({
        "women": g.size(),
        "mean_distance_km": g["distance_km"].mean().round(2),
        "share_not_indigenous": g["not_indigenous"].mean().round(4),
        "share_disability": g["disability"].mean().round(4),
        "share_age_20_34": g["age_20_34"].mean().round(4),
    }).reset_index()
    # the geography's order (wards within counties), whatever order the population has
    order = {w.name: i for i, w in enumerate(WARDS)} if level == "ward" else \
        {c: i for i, c in enumerate(dict.fromkeys(w.county for w in WARDS))}
    out = out.sort_values(level, key=lambda s: s.map(order)).reset_index(drop=True)
    return out[[level, *([] if level == "county" else ["county"]), *COVARIATE_COLUMNS]]


def covariates_csv(women: pd.DataFrame, level: str = "ward") -> bytes:
    """The table as the NSO would hand it over: UTF-8 CSV, LF line ends."""
    return area_covariates(women, level).to_csv(index=False, lineterminator="\n").encode()
