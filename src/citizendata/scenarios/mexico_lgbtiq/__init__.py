"""Reference scenario ``mexico-lgbtiq``: discrimination experienced by LGBTIQ+ people.

A community network of LGBTIQ+ people in Mexico (fictional) surveys its community
about discrimination and harassment in the last 12 months: on which grounds, where,
and whether it was reported, with self-identified sex at birth, gender identity and
sexual orientation, indigenous self-identification and the Washington Group Short
Set. It feeds SDG 10.3.1 / 16.b.1 (series VC_VOV_GDSD) under the strictest
protection policy. ``generate`` draws a synthetic population whose true rates are
known (invented, not estimates of Mexico) and a convenience sample of it as ODK
submissions, with refusals, partial consent and "prefer not to say" answers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from citizendata.errors import BadInput, Where
from citizendata.scenarios.mexico_lgbtiq.export import flat_table, write_files
from citizendata.scenarios.mexico_lgbtiq.form import (
    FORM_ID,
    FORM_TITLE,
    FORM_VERSION,
    PERSONAL_FIELDS,
    build_form,
    form_bytes,
)
from citizendata.scenarios.mexico_lgbtiq.population import compute_truth, make_population
from citizendata.scenarios.mexico_lgbtiq.project import (
    DEMO_USERS,
    ENGAGEMENT,
    ESTIMATION,
    PROJECT,
    PROTECTION,
    VALIDATION,
    VALUE_CHAIN,
    project_spec,
    spec_dict,
)
from citizendata.scenarios.mexico_lgbtiq.references import REFERENCE_TABLES, reference_bytes
from citizendata.scenarios.mexico_lgbtiq.submissions import build_submissions, draw_sample, reach

__all__ = [
    "DEFAULT_SEED",
    "DEMO_USERS",
    "ENGAGEMENT",
    "ESTIMATION",
    "FORM_ID",
    "FORM_PATH",
    "FORM_TITLE",
    "FORM_VERSION",
    "INDICATOR",
    "MIN_N",
    "NAME",
    "PERSONAL_FIELDS",
    "PROJECT",
    "PROTECTION",
    "REFERENCE_TABLES",
    "VALIDATION",
    "VALUE_CHAIN",
    "ScenarioData",
    "build_form",
    "flat_table",
    "form_bytes",
    "generate",
    "project_spec",
    "reference_bytes",
    "spec_dict",
    "write_files",
]

NAME = "mexico-lgbtiq"
INDICATOR = "VC_VOV_GDSD"
FORM_PATH: Path = Path(__file__).parent / "form.xlsx"
DEFAULT_SEED = 20260628  # 28 June: Pride day
MIN_N = 50


@dataclass
class ScenarioData:
    """Everything one run of the generator produces."""

    submissions: list[dict[str, Any]]
    population: pd.DataFrame
    truth: dict[str, Any]
    form_version: str = FORM_VERSION
    seed: int = DEFAULT_SEED
    meta: dict[str, Any] = field(default_factory=dict)


def generate(n: int = 2000, *, seed: int = DEFAULT_SEED,
             population_size: int | None = None) -> ScenarioData:
    """A synthetic population, its truth, and ``n`` submissions recruited from it.

    The population has ``max(30_000, 5 * n)`` people unless ``population_size`` says
    otherwise; it comes from its own random stream, so it does not change with ``n``
    while the population size stays the same.
    """
    if not isinstance(n, int) or isinstance(n, bool) or n < MIN_N:
        raise BadInput("input.invalid", f"n must be an integer of at least {MIN_N}, got {n!r}",
                       where=Where(field="n"), fix=f"Ask for {MIN_N} or more submissions.")
    size = population_size if population_size is not None else max(30_000, 5 * n)
    if size < 2 * n:
        raise BadInput("input.invalid", f"population_size {size} is too small for {n} submissions",
                       where=Where(field="population_size"),
                       fix="Use a population at least twice the sample size.")
    pop_seq, sample_seq = np.random.SeedSequence(seed).spawn(2)
    pop = make_population(np.random.default_rng(pop_seq), size)
    truth = compute_truth(pop, seed=seed, selection=reach(pop))
    sample_rng = np.random.default_rng(sample_seq)
    rows = draw_sample(sample_rng, pop, n)
    submissions, iids = build_submissions(sample_rng, pop, rows)
    instance = np.full(len(pop), None, dtype=object)
    instance[rows] = iids
    pop["in_sample"] = pd.notna(instance)
    pop["instance_id"] = instance
    return ScenarioData(
        submissions=submissions, population=pop, truth=truth, seed=seed,
        meta={"scenario": NAME, "n": n, "population_size": size, "form_id": FORM_ID},
    )
