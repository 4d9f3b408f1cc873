"""Reference scenario ``kenya-maternal-health``: skilled birth attendance in pastoralist group ranches.

An indigenous women's organisation (fictional) surveys women in Maasai and Samburu
group ranches about their births in the last two years: place of delivery, who
attended, distance to the nearest maternity ward, with the Washington Group Short
Set for disability. ``generate`` draws a synthetic population whose true values
are known, a biased sample of it as ODK submissions (with documented bad records),
census-style margins and the national benchmark (SDG 3.1.2, SH_STA_BRTC).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from citizendata.errors import BadInput, Where
from citizendata.scenarios.kenya_maternal_health.export import kobo_tables, write_files
from citizendata.scenarios.kenya_maternal_health.form import (
    FORM_ID,
    FORM_TITLE,
    FORM_VERSION,
    build_form,
    form_bytes,
)
from citizendata.scenarios.kenya_maternal_health.population import (
    compute_truth,
    make_margins,
    make_population,
)
from citizendata.scenarios.kenya_maternal_health.project import (
    BENCHMARK,
    DEMO_USERS,
    ENGAGEMENT,
    PROJECT,
    VALUE_CHAIN,
)
from citizendata.scenarios.kenya_maternal_health.submissions import (
    BAD_RECORD_KINDS,
    build_submissions,
    draw_sample,
)

__all__ = [
    "BAD_RECORD_KINDS",
    "BENCHMARK",
    "DEFAULT_SEED",
    "DEMO_USERS",
    "ENGAGEMENT",
    "FORM_ID",
    "FORM_PATH",
    "FORM_TITLE",
    "FORM_VERSION",
    "INDICATOR",
    "NAME",
    "PROJECT",
    "VALUE_CHAIN",
    "ScenarioData",
    "build_form",
    "form_bytes",
    "generate",
    "kobo_tables",
    "write_files",
]

NAME = "kenya-maternal-health"
INDICATOR = "SH_STA_BRTC"
FORM_PATH: Path = Path(__file__).parent / "form.xlsx"
DEFAULT_SEED = 20260301
MIN_N = 80  # enough consenting women with births to plant every kind of bad record


@dataclass
class ScenarioData:
    """Everything one run of the generator produces."""

    submissions: list[dict[str, Any]]
    population: pd.DataFrame
    births_population: pd.DataFrame
    truth: dict[str, Any]
    margins: pd.DataFrame
    benchmark: dict[str, Any]
    bad_records: list[dict[str, Any]]
    form_version: str = FORM_VERSION
    seed: int = DEFAULT_SEED
    meta: dict[str, Any] = field(default_factory=dict)


def generate(n: int = 5000, *, seed: int = DEFAULT_SEED,
             population_size: int | None = None) -> ScenarioData:
    """A synthetic population, its truth and margins, and ``n`` submissions drawn from it.

    ``n`` counts every submission, the planted duplicate included. The population has
    ``max(40_000, 4 * n)`` women unless ``population_size`` says otherwise; it and the
    margins come from their own random streams, so they do not change with ``n``
    while the population size stays the same.
    """
    if not isinstance(n, int) or n < MIN_N:
        raise BadInput("input.invalid", f"n must be an integer of at least {MIN_N}, got {n!r}",
                       where=Where(field="n"), fix=f"Ask for {MIN_N} or more submissions.")
    size = population_size if population_size is not None else max(40_000, 4 * n)
    if size < 2 * n:
        raise BadInput("input.invalid", f"population_size {size} is too small for {n} submissions",
                       where=Where(field="population_size"),
                       fix="Use a population at least twice the sample size.")
    pop_seq, margin_seq, sample_seq = np.random.SeedSequence(seed).spawn(3)
    women, births = make_population(np.random.default_rng(pop_seq), size)
    truth = compute_truth(women, births, seed=seed)
    margins = make_margins(np.random.default_rng(margin_seq), women)
    sample_rng = np.random.default_rng(sample_seq)
    rows = draw_sample(sample_rng, women, n - 2)  # plus two planted copies
    submissions, bad, iids = build_submissions(sample_rng, women, births, rows)
    instance = np.full(len(women), None, dtype=object)
    instance[rows] = iids
    women["in_sample"] = pd.notna(instance)
    women["instance_id"] = instance
    return ScenarioData(
        submissions=submissions, population=women, births_population=births, truth=truth,
        margins=margins, benchmark=dict(BENCHMARK), bad_records=bad, seed=seed,
        meta={"scenario": NAME, "n": n, "population_size": size, "form_id": FORM_ID},
    )
