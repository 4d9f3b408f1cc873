"""The true population, the census's count of it and the dwellings seen from the air.

Every area has true dwellings (more per area in the towns and in informal settlements),
each occupied or vacant; an occupied dwelling holds one household of 1 + Poisson
persons (larger in informal settlements). The census misses whole households, at a
rate that varies by area around a much lower coverage in informal settlements, and,
within the households it finds, a few persons. Imagery detects most dwellings, fewer
in informal settlements (small roofs close together, under trees), and counts some
buildings that are not dwellings. All rates are the scenario's (``MODEL``), chosen to
give an overall census undercount near the 23.3% estimated for Saint Lucia's 2022
census; no figure is Saint Lucia's.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from citizendata.scenarios.saint_lucia_population.geography import DISTRICTS

__all__ = [
    "GIVEN_FEMALE",
    "GIVEN_MALE",
    "MODEL",
    "SURNAMES",
    "area_truth",
    "census_counts",
    "dwellings_table",
    "make_households",
    "make_persons",
    "summary",
]

# by settlement type: formal, informal
MODEL: dict[str, dict[str, float]] = {
    "dwellings_per_area": {"formal": 226.0, "informal": 265.0},  # times the district density
    "dwellings_sd_log": {"formal": 0.30, "informal": 0.30},
    "occupied": {"formal": 0.88, "informal": 0.94},  # share of dwellings occupied
    "extra_persons": {"formal": 1.75, "informal": 2.35},  # household size = 1 + Poisson(this)
    "census_household_coverage": {"formal": 0.885, "informal": 0.50},  # mean over areas
    "census_coverage_sd_logit": {"formal": 0.20, "informal": 0.25},  # between areas
    "census_person_coverage": {"formal": 0.98, "informal": 0.95},  # within found households
    "imagery_detect": {"formal": 0.95, "informal": 0.83},  # share of dwellings detected
    "imagery_false": {"formal": 0.05, "informal": 0.03},  # other buildings, per dwelling
}

SURNAMES = np.array([
    "Joseph", "Charles", "St. Rose", "Alexander", "Edward", "Emmanuel", "Auguste",
    "Jn Baptiste", "Francis", "Louis", "Felix", "Henry", "Augustin", "Polius", "Gustave",
    "Mathurin", "Jules", "Prospere", "Lubin", "Descartes", "Fontenelle", "Lafeuille", "Pierre",
    "Monrose", "Francois", "Alcide", "Toussaint", "Regis", "Gaspard", "Remy", "Theophilus",
    "Alphonse", "Lewis", "Daniel", "Noel", "Florent", "Hippolyte", "Isidore", "Lamontagne",
    "Nelson", "Cadet", "Octave", "Paul", "Simeon", "Etienne", "Philogene", "Leon", "Jn Pierre",
    "St. Hill", "Fevrier", "Modeste", "Serieux", "Clovis", "Elibox", "Mondesir", "Cyril",
    "Herman", "Baptiste", "Valcin", "Ferdinand"], dtype=object)
GIVEN_FEMALE = np.array([
    "Marie", "Anne", "Josephine", "Theresa", "Cynthia", "Agnes", "Monica", "Bernadette",
    "Veronica", "Kimberly", "Shanice", "Kezia", "Tiffany", "Natasha", "Keisha", "Gemma",
    "Shania", "Alicia", "Mary", "Elizabeth", "Claudia", "Jacinta", "Lydia", "Rosemond",
    "Felicia", "Tricia", "Germaine", "Priscilla", "Celestine", "Aaliyah"], dtype=object)
GIVEN_MALE = np.array([
    "John", "Joseph", "Peter", "Kervin", "Kenson", "Jason", "Marcus", "Shervon", "Kurt",
    "Dwayne", "Andre", "Ignatius", "Vincent", "Cuthbert", "Bernard", "Augustin", "Michael",
    "Daniel", "Kendall", "Darren", "Akeem", "Jamal", "Tevin", "Randy", "Nigel", "Allan",
    "Gregory", "Lyndon", "Terrence", "Jeremiah"], dtype=object)


def _by_type(informal: np.ndarray, key: str) -> np.ndarray:
    m = MODEL[key]
    return np.where(informal, m["informal"], m["formal"])


def make_households(rng: np.random.Generator, areas: pd.DataFrame, scale: float = 1.0
                    ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """True dwellings per area (``scale`` times the model's) (with the census's household coverage of the area) and one
    row per dwelling: ``dwelling``, ``area``, ``occupied``, ``size`` (0 when vacant),
    ``census`` (the census found the household)."""
    informal = areas["informal"].to_numpy(bool)
    density = areas["district"].map({d.code: d.density for d in DISTRICTS}).to_numpy(float)
    mean = _by_type(informal, "dwellings_per_area") * density * scale
    n_dw = np.maximum(max(3, round(20 * scale)), np.round(mean * np.exp(rng.normal(0, 1, len(areas))
                                                 * _by_type(informal, "dwellings_sd_log")
                                                 - 0.5 * _by_type(informal, "dwellings_sd_log") ** 2)))
    n_dw = n_dw.astype(int)
    cov = _by_type(informal, "census_household_coverage")
    logit = np.log(cov / (1 - cov)) + rng.normal(0, 1, len(areas)) * _by_type(
        informal, "census_coverage_sd_logit")
    area_cov = 1 / (1 + np.exp(-logit))
    a = areas[["area", "district", "informal"]].assign(dwellings=n_dw, census_coverage=area_cov)
    idx = np.repeat(np.arange(len(areas)), n_dw)
    inf = informal[idx]
    occupied = rng.random(len(idx)) < _by_type(inf, "occupied")
    size = np.where(occupied, 1 + rng.poisson(_by_type(inf, "extra_persons")), 0)
    census = occupied & (rng.random(len(idx)) < area_cov[idx])
    hh = pd.DataFrame({"dwelling": np.arange(len(idx)), "area": areas["area"].to_numpy()[idx],
                       "informal": inf, "occupied": occupied, "size": size, "census": census})
    return a, hh


def make_persons(rng: np.random.Generator, hh: pd.DataFrame) -> pd.DataFrame:
    """One row per true person: ``person``, ``dwelling``, ``area``, ``sex``, ``age``,
    ``given_name``, ``surname``, ``census`` (counted by the census)."""
    size = hh["size"].to_numpy()
    idx = np.repeat(np.arange(len(hh)), size)
    n = len(idx)
    sex = np.where(rng.random(n) < 0.51, "female", "male").astype(object)
    age = np.minimum(98, np.floor(rng.gamma(2.0, 18.0, n))).astype(int)
    family = SURNAMES[rng.integers(0, len(SURNAMES), len(hh))][idx]
    own = SURNAMES[rng.integers(0, len(SURNAMES), n)]
    surname = np.where(rng.random(n) < 0.8, family, own)  # most members share a surname
    given = np.where(sex == "female", GIVEN_FEMALE[rng.integers(0, len(GIVEN_FEMALE), n)],
                     GIVEN_MALE[rng.integers(0, len(GIVEN_MALE), n)])
    inf = hh["informal"].to_numpy(bool)[idx]
    census = hh["census"].to_numpy(bool)[idx] & (
        rng.random(n) < _by_type(inf, "census_person_coverage"))
    return pd.DataFrame({"person": np.arange(n), "dwelling": hh["dwelling"].to_numpy()[idx],
                         "area": hh["area"].to_numpy()[idx], "informal": inf, "sex": sex,
                         "age": age, "given_name": given, "surname": surname, "census": census})


def census_counts(areas: pd.DataFrame, persons: pd.DataFrame, hh: pd.DataFrame) -> pd.DataFrame:
    """The census table by area, as the statistics office publishes it: ``area``,
    ``district``, ``settlement_type``, ``population`` and ``households`` counted."""
    pop = persons[persons["census"]].groupby("area").size()
    # a household is counted when any of its members was
    found = persons[persons["census"]].groupby("area")["dwelling"].nunique()
    return pd.DataFrame({
        "area": areas["area"], "district": areas["district"],
        "settlement_type": np.where(areas["informal"], "informal", "formal"),
        "population": areas["area"].map(pop).fillna(0).astype(int).to_numpy(),
        "households": areas["area"].map(found).fillna(0).astype(int).to_numpy()})


def dwellings_table(rng: np.random.Generator, areas: pd.DataFrame, hh: pd.DataFrame
                    ) -> pd.DataFrame:
    """Buildings detected on imagery by area: ``area`` and ``buildings`` (detected
    dwellings plus buildings that are not dwellings)."""
    true = hh.groupby("area").size().reindex(areas["area"]).to_numpy()
    informal = areas["informal"].to_numpy(bool)
    seen = rng.binomial(true, _by_type(informal, "imagery_detect"))
    other = rng.poisson(true * _by_type(informal, "imagery_false"))
    return pd.DataFrame({"area": areas["area"], "buildings": seen + other,
                         "source": "building footprints from drone and satellite imagery "
                                   "(synthetic)"})


def area_truth(areas: pd.DataFrame, area_hh: pd.DataFrame, hh: pd.DataFrame,
               persons: pd.DataFrame, census: pd.DataFrame) -> pd.DataFrame:
    """True population, dwellings, households and census undercount by area."""
    g = hh.groupby("area")
    out = pd.DataFrame({
        "area": areas["area"], "district": areas["district"],
        "settlement_type": np.where(areas["informal"], "informal", "formal"),
        "dwellings": area_hh["dwellings"].to_numpy(),
        "occupied": g["occupied"].sum().reindex(areas["area"]).to_numpy().astype(int),
        "population": g["size"].sum().reindex(areas["area"]).to_numpy().astype(int),
        "census": census["population"].to_numpy(),
        "census_household_coverage": area_hh["census_coverage"].round(4).to_numpy(),
    })
    out["undercount"] = (1 - out["census"] / out["population"]).round(4)
    return out


def summary(truth: pd.DataFrame, by: str | None) -> Any:
    """Totals of the truth (population, census, undercount), overall or by a column."""
    def row(f: pd.DataFrame) -> dict[str, Any]:
        pop, cen = int(f["population"].sum()), int(f["census"].sum())
        return {"population": pop, "census": cen, "undercount": round(1 - cen / pop, 4),
                "dwellings": int(f["dwellings"].sum()), "areas": len(f)}
    if by is None:
        return row(truth)
    return {str(k): row(f) for k, f in truth.groupby(by, sort=True)}
