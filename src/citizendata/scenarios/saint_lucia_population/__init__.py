"""Reference scenario ``saint-lucia-population``: census undercount and population by area.

A synthetic island of about 170,000 people in 300 small areas (enumeration districts)
of ten districts that carry Saint Lucia's district names (M49 662). About a fifth of
the areas are informal settlements, which the census undercounts heavily: overall the
census misses about 23% of the people, in the spirit of the 23.3% estimated for Saint
Lucia's 2022 census; every number here is synthetic. ``generate`` draws the true
dwellings and persons, the census's count of them (by area; and its person records
in the enumerated areas, for matching), the buildings detected on imagery, and a
community enumeration of 40 settlements (20 informal, 20 formal) delivered as
submissions of the enumeration form, with the GPS of each dwelling and the members
of each household. The truth (population, dwellings and undercount by area) is kept
apart. Names are invented and identify nobody.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from citizendata.errors import BadInput, Where
from citizendata.scenarios.saint_lucia_population.enumeration import (
    CAPTURE,
    PLANTED,
    SAMPLE,
    build_submissions,
    census_records,
    draw_sample,
    enumerate_areas,
)
from citizendata.scenarios.saint_lucia_population.form import (
    FORM_ID,
    FORM_TITLE,
    FORM_VERSION,
    PERSONAL_FIELDS,
    build_form,
    form_bytes,
)
from citizendata.scenarios.saint_lucia_population.geography import (
    DISTRICTS,
    N_AREAS,
    boundaries_geojson,
    fixed_areas,
)
from citizendata.scenarios.saint_lucia_population.population import (
    MODEL,
    area_truth,
    census_counts,
    dwellings_table,
    make_households,
    make_persons,
    summary,
)
from citizendata.scenarios.saint_lucia_population.project import (
    DEMO_USERS,
    ENGAGEMENT,
    POPULATION,
    PROJECT,
    RELEASE,
    project_spec,
    spec_dict,
)

__all__ = [
    "CAPTURE", "DEFAULT_SEED", "DEMO_USERS", "DISTRICTS", "ENGAGEMENT", "FORM_ID", "FORM_PATH",
    "FORM_TITLE", "FORM_VERSION", "MODEL", "NAME", "N_AREAS", "PERSONAL_FIELDS", "PLANTED",
    "POPULATION", "PROJECT", "RELEASE", "SAMPLE", "SaintLuciaScenario", "boundaries_geojson",
    "build_form", "form_bytes", "form_xlsx", "generate", "project_spec", "spec_dict",
    "write_files",
]

NAME = "saint-lucia-population"
FORM_PATH: Path = Path(__file__).parent / "form.xlsx"
DEFAULT_SEED = 2022  # the census year


@dataclass
class SaintLuciaScenario:
    """Everything one run of the generator produces.

    What the tools would give (no truth columns): ``census`` (counts by area, with
    district and settlement type), ``dwellings`` (buildings detected on imagery by
    area), ``census_records`` (the census's person records of the enumerated areas:
    personal), ``submissions`` (the enumeration, one per listed dwelling), ``areas``
    (codes, districts, informal flag, polygons; ``boundaries`` gives GeoJSON).
    The truth: ``truth`` (by area), ``truth_summary`` (JSON-ready totals overall, by
    district and by settlement type), ``households`` and ``persons`` (every true
    dwelling and person), ``listing`` and ``members`` (what the enumeration found,
    with the true ids), ``census_truth`` (``census_id`` -> true person), ``sampled``
    (enumerated area codes) and ``planted`` (instance ids of planted errors).
    """

    areas: pd.DataFrame
    census: pd.DataFrame
    dwellings: pd.DataFrame
    census_records: pd.DataFrame
    submissions: list[dict[str, Any]]
    truth: pd.DataFrame
    truth_summary: dict[str, Any]
    households: pd.DataFrame
    persons: pd.DataFrame
    listing: pd.DataFrame
    members: pd.DataFrame
    census_truth: pd.DataFrame
    sampled: list[str]
    planted: dict[str, str] = field(default_factory=dict)
    seed: int = DEFAULT_SEED
    scale: float = 1.0

    def boundaries(self, level: str = "area") -> bytes:
        """The areas' (or districts') polygons as GeoJSON."""
        return boundaries_geojson(self.areas, level)

    def write_files(self, folder: str | Path) -> dict[str, Path]:
        """Write the tables, submissions, boundaries, truth and spec into ``folder``."""
        return write_files(self, Path(folder))


def form_xlsx() -> bytes:
    """The enumeration form as XLSForm bytes."""
    return form_bytes()


def _check_scale(scale: object) -> float:
    if isinstance(scale, bool) or not isinstance(scale, int | float) or not 0.02 <= scale <= 5:
        raise BadInput("input.invalid", f"scale must be a number from 0.02 to 5, got {scale!r}",
                       where=Where(field="scale"), fix="Use 1.0 for the full scenario.")
    return float(scale)


def generate(seed: int = DEFAULT_SEED, scale: float = 1.0) -> SaintLuciaScenario:
    """The island's people, the census, the imagery, the enumeration and the truth.

    ``scale`` multiplies the dwellings of every area (1.0: about 170,000 people); the
    300 areas, their shapes and the enumerated sample's size stay the same, so tests
    and the demo use less. The same seed and scale give the same data.
    """
    scale = _check_scale(scale)
    pop_seq, img_seq, smp_seq, rec_seq, enu_seq, sub_seq = np.random.SeedSequence(seed).spawn(6)
    areas = fixed_areas()
    area_hh, hh = make_households(np.random.default_rng(pop_seq), areas, scale)
    persons = make_persons(np.random.default_rng(pop_seq.spawn(1)[0]), hh)
    census = census_counts(areas, persons, hh)
    dwellings = dwellings_table(np.random.default_rng(img_seq), areas, hh)
    picked = draw_sample(np.random.default_rng(smp_seq), areas)
    sampled = areas["area"].to_numpy()[picked].tolist()
    records = census_records(np.random.default_rng(rec_seq), persons, sampled)
    listing, members = enumerate_areas(np.random.default_rng(enu_seq), areas, hh, persons,
                                       sampled)
    subs, planted = build_submissions(np.random.default_rng(sub_seq), listing, members, areas)
    truth = area_truth(areas, area_hh, hh, persons, census)
    truth["sampled"] = truth["area"].isin(sampled)
    return SaintLuciaScenario(
        areas=areas, census=census, dwellings=dwellings,
        census_records=records.drop(columns="_person"), submissions=subs, truth=truth,
        truth_summary={"total": summary(truth, None), "district": summary(truth, "district"),
                       "settlement_type": summary(truth, "settlement_type"),
                       "sampled_areas": len(sampled), "enumerated_dwellings": len(listing),
                       "enumerated_persons": len(members), "seed": seed, "scale": scale},
        households=hh, persons=persons, listing=listing, members=members,
        census_truth=records[["census_id", "_person"]].rename(columns={"_person": "person"}),
        sampled=sampled, planted=planted, seed=seed, scale=scale)


def write_files(data: SaintLuciaScenario, folder: Path) -> dict[str, Path]:
    """The files the partners would hand over, the truth and the project spec."""
    folder.mkdir(parents=True, exist_ok=True)
    out: dict[str, Path] = {}

    def put(name: str, payload: bytes) -> None:
        (folder / name).write_bytes(payload)
        out[name] = folder / name

    def csv(df: pd.DataFrame) -> bytes:
        return df.to_csv(index=False, lineterminator="\n").encode()

    put("census_counts.csv", csv(data.census))
    put("imagery_buildings.csv", csv(data.dwellings))
    put("census_records.csv", csv(data.census_records))
    put("areas.geojson", data.boundaries("area"))
    put("districts.geojson", data.boundaries("district"))
    put("submissions.json", json.dumps(data.submissions, ensure_ascii=False).encode())
    put("truth.csv", csv(data.truth))
    put("truth.json", json.dumps(data.truth_summary, indent=1).encode())
    put("project.json", json.dumps(spec_dict(), indent=1, ensure_ascii=False).encode())
    return out
