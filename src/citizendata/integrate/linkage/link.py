"""``link_records``: the case records of several lists linked into victim-events."""

from __future__ import annotations

import pandas as pd

from citizendata.errors import BadInput, Where
from citizendata.integrate.linkage.model import fit_and_predict
from citizendata.integrate.linkage.prepare import prepare
from citizendata.integrate.linkage.result import LinkageResult, check_decisions
from citizendata.projects.cases import CaseFields

__all__ = ["link_records"]


def link_records(records: pd.DataFrame, *, fields: CaseFields | None = None,
                 date_tolerance_days: int = 30, seed: int = 2016,
                 decisions: pd.DataFrame | None = None) -> LinkageResult:
    """Score every candidate pair of records with the Fellegi–Sunter model (splink).

    ``records`` carry the case form's fields (names as ``fields`` says; defaults are
    the case form's); a record's key is ``"{source}:{record_id}"``. Records of the same
    list are compared too (a list may hold a victim-event twice). The same records,
    tolerance and seed always give the same pairs and probabilities. ``decisions``
    (left_key, right_key, decision: match | non_match | unsure) are the clerical review's.
    """
    tol = date_tolerance_days
    if isinstance(tol, bool) or not isinstance(tol, int) or not 0 <= tol <= 3650:
        raise BadInput("linkage.invalid",
                       f"date_tolerance_days is a whole number of days from 0 to 3650, "
                       f"got {tol!r}.", where=Where(field="date_tolerance_days"),
                       fix="Use e.g. 30.")
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**31:
        raise BadInput("linkage.invalid", f"The seed is a whole number from 0 to 2^31 - 1, "
                       f"got {seed!r}.", where=Where(field="seed"), fix="Use e.g. 2016.")
    clean = prepare(records, fields)
    keys = pd.Index(clean["unique_id"], name="key")
    sources = pd.Series(clean["source"].to_numpy(), index=keys, name="source")
    if len(clean) < 2:
        raise BadInput("linkage.invalid",
                       f"Linkage needs at least two records; there are {len(clean)}.",
                       where=Where(field="records"), fix="Give the records of the lists.")
    pairs, model = fit_and_predict(clean, tolerance=tol, seed=seed)
    return LinkageResult(keys=keys, sources=sources, pairs=pairs, model=model,
                         decisions=check_decisions(decisions, keys))
