"""Reference scenario ``colombia-press-freedom``: SDG 16.10.1 from six lists of cases.

FLIP documents attacks on journalists; five other organisations (the prosecutor, the
ombudsman, the unions' human-rights department, a media monitor, an HRD NGO) keep
lists of their own. ``generate`` draws a synthetic population of victim-events
2016–2024 whose true count is known (killings, kidnappings, enforced disappearances,
arbitrary detentions and torture of journalists, media workers, trade unionists and
human-rights defenders), the lists' captures under a documented capture model
(heterogeneity and referrals, so the independence model is biased), each list's
records with its own name and date noise, each organisation's file in its own
layout, and FLIP's verification backlog. Names are invented and identify nobody.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from citizendata.errors import BadInput, Where
from citizendata.scenarios.colombia_press_freedom.capture import LISTS, MODEL, REFERRAL, capture
from citizendata.scenarios.colombia_press_freedom.export import LAYOUTS, file_frame, write_files
from citizendata.scenarios.colombia_press_freedom.form import (
    FORM_ID,
    FORM_TITLE,
    FORM_VERSION,
    PERSONAL_FIELDS,
    build_form,
    form_bytes,
)
from citizendata.scenarios.colombia_press_freedom.geography import (
    DEPARTMENTS,
    MUNICIPALITIES,
    REGIONS,
    region_of,
)
from citizendata.scenarios.colombia_press_freedom.population import make_events
from citizendata.scenarios.colombia_press_freedom.project import (
    DEMO_USERS,
    ENGAGEMENT,
    PROJECT,
    project_spec,
    spec_dict,
)
from citizendata.scenarios.colombia_press_freedom.records import NOISE, NOISE_KINDS, build_records
from citizendata.scenarios.colombia_press_freedom.submissions import build_submissions
from citizendata.scenarios.colombia_press_freedom.truth import SERIES, compute_truth, period_of

__all__ = [
    "DEFAULT_SEED",
    "DEMO_USERS",
    "DEPARTMENTS",
    "ENGAGEMENT",
    "FORM_ID",
    "FORM_PATH",
    "FORM_TITLE",
    "FORM_VERSION",
    "LAYOUTS",
    "LISTS",
    "MODEL",
    "MUNICIPALITIES",
    "NAME",
    "NOISE",
    "NOISE_KINDS",
    "PERSONAL_FIELDS",
    "PROJECT",
    "REFERRAL",
    "REGIONS",
    "SERIES",
    "ColombiaScenario",
    "build_form",
    "form_bytes",
    "form_xlsx",
    "generate",
    "period_of",
    "project_spec",
    "region_of",
    "spec_dict",
    "write_files",
]

NAME = "colombia-press-freedom"
FORM_PATH: Path = Path(__file__).parent / "form.xlsx"
DEFAULT_SEED = 2016  # the year of the peace agreement


@dataclass
class ColombiaScenario:
    """Everything one run of the generator produces.

    ``events``: the true victim-events; ``capture``: 0/1 per event and list;
    ``records``: every list's records in case-form fields plus ``_event_id`` (None for
    FLIP reports that are not cases), ``_noise`` and ``_duplicate``; ``files``: each
    organisation's file in its own layout; ``backlog``: FLIP's verification status per
    report; ``submissions``: FLIP's reports as intake submissions of the case form
    (``instance_id``, ``collected_at``, ``form_version``, ``data``), in the order of
    ``backlog``; ``truth``: true and documented counts (JSON-ready).
    """

    events: pd.DataFrame
    capture: pd.DataFrame
    records: pd.DataFrame
    files: dict[str, pd.DataFrame]
    backlog: pd.DataFrame
    truth: dict[str, Any]
    submissions: list[dict[str, Any]] = field(default_factory=list)
    seed: int = DEFAULT_SEED
    scale: float = 1.0
    meta: dict[str, Any] = field(default_factory=dict)

    def write_files(self, folder: str | Path, fmt: str = "csv") -> dict[str, Path]:
        """Write the organisations' files, truth, backlog and spec into ``folder``."""
        return write_files(self, Path(folder), fmt)  # type: ignore[arg-type]


def form_xlsx() -> bytes:
    """The case form (FLIP's intake) as XLSForm bytes."""
    return form_bytes()


def generate(seed: int = DEFAULT_SEED, scale: float = 1.0) -> ColombiaScenario:
    """The events, the six lists' records and files, FLIP's backlog and the truth.

    ``scale`` multiplies the yearly means (1.0: about 2,900 victim-events); tests use
    less. The same seed and scale give the same data.
    """
    if isinstance(scale, bool) or not isinstance(scale, int | float) or not 0.01 <= scale <= 10:
        raise BadInput("input.invalid", f"scale must be a number from 0.01 to 10, got {scale!r}",
                       where=Where(field="scale"), fix="Use 1.0 for the full scenario.")
    ev_seq, cap_seq, rec_seq, sub_seq = np.random.SeedSequence(seed).spawn(4)
    events = make_events(np.random.default_rng(ev_seq), float(scale))
    on = capture(np.random.default_rng(cap_seq), events)
    records, backlog = build_records(np.random.default_rng(rec_seq), events, on)
    files = {name: file_frame(records, name) for name in LISTS}
    truth = compute_truth(events, on, records, backlog)
    flip = records[records["source"] == "flip"].reset_index(drop=True)
    submissions = build_submissions(np.random.default_rng(sub_seq), flip, backlog)
    return ColombiaScenario(events=events, capture=on, records=records, files=files,
                            backlog=backlog, truth=truth, submissions=submissions,
                            seed=seed, scale=float(scale),
                            meta={"scenario": NAME, "form_id": FORM_ID})
