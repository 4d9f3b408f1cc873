"""Public microdata: one row per respondent, safe to hand out.

What leaves: the answers of approved submissions whose consent covers publication,
only the fields the policy names (quasi-identifiers, sensitive variables and the
``fields`` allow-list), never a field tagged personal (the snapshot never had them),
never the envelope (instance ids, submitters, exact times), with every geopoint coarsened to
the project's grid or areas, and with the declared quasi-identifiers recoded and
locally suppressed until the file reaches the project's k and l.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from citizendata.errors import BadInput, Where
from citizendata.forms.schema import FormSchema
from citizendata.privacy.location import coarsen_locations
from citizendata.privacy.microdata import anonymise, measure
from citizendata.projects.protection import ProtectionSpec
from citizendata.snapshot.layout import GEO_PARTS
from citizendata.snapshot.open import Snapshot
from citizendata.stats.frame import ConsentFilter, analysis_frame

__all__ = ["public_microdata"]

# media answers are files, not values a public table can hold
_MEDIA_TYPES = frozenset({"image", "audio", "video", "file", "background-audio"})


def _columns(schema: FormSchema, table_columns: list[str]) -> tuple[list[str], list[str], list[str]]:
    """The answer columns kept, the geopoints to coarsen, and what is dropped."""
    keep: list[str] = []
    geo: list[str] = []
    dropped: list[str] = [c for c in table_columns if c.startswith("_")]
    present = set(table_columns)
    for f in schema.fields:
        if f.name not in present or f.personal:
            continue
        # device metadata (times, device ids) identify a phone or a moment, not a person's answer
        if f.is_metadata or f.type in _MEDIA_TYPES:
            dropped.append(f.name)
        elif f.storage_type == "geopoint":
            geo.append(f.name)
        else:
            keep.append(f.name)
    return keep, geo, dropped


def public_microdata(snap: Snapshot, policy: ProtectionSpec, *, statuses: list[str],
                     consent: ConsentFilter, references: Mapping[str, pd.DataFrame],
                     boundaries: Mapping[str, Any] | None = None
                     ) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The public file and a report of what was removed, coarsened, recoded and suppressed."""
    spec = policy.microdata
    if not spec.quasi_identifiers:
        raise BadInput("input.invalid",
                       "the project declares no quasi-identifiers, so the disclosure risk of "
                       "public microdata cannot be measured", where=Where(
                           field="protection.microdata.quasi_identifiers"),
                       fix="Declare the answers an outsider could know (age, place, sex, …) "
                           "as quasi-identifiers.")
    schema = FormSchema.from_dict(snap.info.schema_dict)
    frame = analysis_frame(snap, None, statuses=statuses, consent=consent)
    keep, geo, dropped = _columns(schema, list(frame.table.columns))
    allowed = {*spec.quasi_identifiers, *spec.sensitive, *spec.fields}
    dropped += [c for c in keep if c not in allowed]
    keep = [c for c in keep if c in allowed]
    geo = [g for g in geo if g in allowed]
    parts = [f"{g}__{p}" for g in geo for p in ("lat", "lon")]
    df = frame.table.select(*keep, *parts).execute()
    location = None
    if geo:
        df, loc = coarsen_locations(df, [(g, f"{g}__lat", f"{g}__lon") for g in geo],
                                    policy.location, boundaries=boundaries)
        location = loc.__dict__
    missing = [q for q in [*spec.quasi_identifiers, *spec.sensitive] if q not in df.columns]
    if missing:
        raise BadInput("input.invalid", f"quasi-identifier or sensitive variable(s) {missing} "
                       "are not public answers of the form",
                       where=Where(field="protection.microdata"),
                       fix="Name questions of the form that are not tagged personal.")
    before = measure(df, spec.quasi_identifiers, spec.sensitive, k=spec.k, l=spec.l)
    geography = references.get("geography")
    result = anonymise(df, spec, geography=geography)
    report = {
        "records": len(result.data), "columns": list(result.data.columns),
        "dropped": sorted(set(dropped) | {f"{g}__{p}" for g in geo for p in GEO_PARTS}),
        "location": location,
        "risk_before": {"k": before.k_reached, "records_below_k": before.records_below_k,
                        "l": before.l_reached},
        "anonymisation": result.report.__dict__,
        "consent_scope": consent.scope,
    }
    return result.data, report
