"""``link_records``: the case records of several lists linked into victim-events."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import pandas as pd

from citizendata.errors import BadInput, Where
from citizendata.integrate.linkage.model import fit_and_predict
from citizendata.integrate.linkage.prepare import prepare
from citizendata.integrate.linkage.result import (
    COMPATIBLE_VIOLATIONS,
    LinkageResult,
    check_decisions,
)
from citizendata.projects.cases import CaseFields

__all__ = ["link_records"]


def link_records(records: pd.DataFrame, *, fields: CaseFields | None = None,
                 date_tolerance_days: int = 30, seed: int = 2016,
                 decisions: pd.DataFrame | None = None,
                 compatible: Mapping[str, Iterable[str]] | None = COMPATIBLE_VIOLATIONS
                 ) -> LinkageResult:
    """Score every candidate pair of records with the Fellegi–Sunter model (splink).

    ``records`` carry the case form's fields (names as ``fields`` says; defaults are
    the case form's); a record's key is ``"{source}:{record_id}"``. Records of the same
    list are compared too (a list may hold a victim-event twice). The same records,
    tolerance and seed always give the same pairs and probabilities. ``decisions``
    (left_key, right_key, decision: match | non_match | unsure) are the clerical review's,
    oldest first (one contradicting earlier ones is skipped, see ``LinkageResult``).
    ``compatible``: the violation types that may be one act besides the same type
    (default: kidnapping and enforced disappearance); records of other different types
    are never linked. ``None`` compares no violation types.
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
    if compatible is not None and (not isinstance(compatible, Mapping) or any(
            isinstance(v, str) for v in compatible.values())):
        raise BadInput("linkage.invalid", "compatible maps a violation type to the types "
                       "that may be the same act, e.g. {'kidnapping': "
                       "['enforced_disappearance']}.", where=Where(field="compatible"),
                       fix="Give a mapping of type to a list of types, or None.")
    clean = prepare(records, fields)
    keys = pd.Index(clean["unique_id"], name="key")
    sources = pd.Series(clean["source"].to_numpy(), index=keys, name="source")
    if len(clean) < 2:
        raise BadInput("linkage.invalid",
                       f"Linkage needs at least two records; there are {len(clean)}.",
                       where=Where(field="records"), fix="Give the records of the lists.")
    pairs, model = fit_and_predict(clean, tolerance=tol, seed=seed)
    violations = pd.Series(clean["violation"].to_numpy(dtype=object), index=keys)
    return LinkageResult(keys=keys, sources=sources, pairs=pairs, model=model,
                         decisions=check_decisions(decisions, keys, strict=False),
                         violations=violations.where(violations.notna(), None),
                         compatible=compatible)
