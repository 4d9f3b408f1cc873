"""FLIP's own reports as submissions of the case form (its intake), consistent with the backlog.

FLIP's list arrives through the intake, not as a file: each FLIP record becomes one
submission with the case fields plus the intake's own questions (how the report
arrived, the outlet, whether the act is tied to the victim's work, the evidence, the
number of independent sources, a description). The answers agree with the record's
verification status: verified reports have two or more independent sources and a
link to the victim's work; reports not verified for lack of evidence have at most
one source; those about a victim whose work is not journalism say so; pending ones
are still short of sources. Descriptions name no one (they are personal all the same).
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import numpy as np
import pandas as pd

from citizendata.scenarios._kit import seeded_uuids
from citizendata.scenarios.colombia_press_freedom.form import (
    CHANNELS,
    EVIDENCE,
    FORM_VERSION,
    ROLE_LABELS,
    VIOLATION_LABELS,
)
from citizendata.scenarios.colombia_press_freedom.geography import DEPARTMENTS, MUNICIPALITIES

__all__ = ["BOGOTA_TIME", "build_submissions"]

BOGOTA_TIME = timezone(timedelta(hours=-5))  # Colombia keeps UTC-5 all year
_MUNI = {m.code: m.name for m in MUNICIPALITIES}
_DEPT = {d.code: d.name for d in DEPARTMENTS}
_OUTLETS = {"radio": "Radio {m} Estéreo", "tv": "{m} TV", "print": "El Diario de {m}",
            "digital": "{m} al Día", "community": "Emisora Comunitaria de {m}"}
_MEDIA_TYPES = np.array(list(_OUTLETS), dtype=object)
_EVIDENCE = np.array(list(EVIDENCE), dtype=object)
_CHANNELS = np.array(list(CHANNELS), dtype=object)


def _sources(rng: np.random.Generator, status: np.ndarray, reason: np.ndarray) -> np.ndarray:
    """Independent sources consulted, by verification status and reason."""
    n = len(status)
    out = rng.integers(2, 6, n)
    out = np.where(status == "pending", rng.integers(1, 3, n), out)
    return np.where(reason == "insufficient_evidence", rng.integers(0, 2, n), out)


def _linked(rng: np.random.Generator, status: np.ndarray, reason: np.ndarray) -> np.ndarray:
    """Whether the act is tied to the victim's work, as the intake records it."""
    n = len(status)
    out = np.where(rng.random(n) < 0.9, "yes", "unknown").astype(object)
    out[status == "pending"] = np.where(rng.random(int((status == "pending").sum())) < 0.5,
                                        "unknown", "yes")
    out[reason == "not_journalism"] = "no"
    return out


def _description(rec: dict[str, Any], n_sources: int) -> str:
    """A short account with no names: the act, the role, the place, the sources."""
    act = VIOLATION_LABELS[rec["violation"]][0]
    role = ROLE_LABELS[rec["victim_role"]][0].split(" (")[0].lower()
    place = _MUNI.get(rec["municipality"], "") or "un municipio sin precisar"
    return (f"{act} de {role} en {place} ({_DEPT[rec['department']]}). "
            f"Fuentes independientes consultadas: {n_sources}.")


def build_submissions(rng: np.random.Generator, flip: pd.DataFrame, backlog: pd.DataFrame
                      ) -> list[dict[str, Any]]:
    """One intake submission per FLIP record, in the order of ``flip``."""
    n = len(flip)
    status = backlog["status"].to_numpy()
    reason = backlog["reason"].to_numpy()
    sources = _sources(rng, status, reason)
    linked = _linked(rng, status, reason)
    channel = _CHANNELS[rng.integers(0, len(_CHANNELS), n)]
    media = _MEDIA_TYPES[rng.integers(0, len(_MEDIA_TYPES), n)]
    delay = rng.integers(0, 20 * 24 * 3600, n).tolist()
    iids = ["uuid:" + u for u in seeded_uuids(rng, n)]
    # evidence: as many kinds as sources (at least one), drawn without replacement
    order = np.argsort(rng.random((n, len(_EVIDENCE))), axis=1)
    subs = []
    for i, rec in enumerate(flip.to_dict("records")):  # a few hundred reports
        day = datetime.fromisoformat(rec["event_date"]).replace(hour=8, tzinfo=BOGOTA_TIME)
        start = day + timedelta(seconds=delay[i])
        end = start + timedelta(minutes=12 + i % 20)
        k = int(max(1, min(sources[i], len(_EVIDENCE))))
        data: dict[str, Any] = {
            "start": start.isoformat(timespec="milliseconds"),
            "end": end.isoformat(timespec="milliseconds"), "deviceid": "flip-intake-web",
            "source": "flip", "record_id": rec["record_id"], "report_channel": channel[i],
            "victim_given_names": rec["victim_given_names"],
            "victim_surnames": rec["victim_surnames"],
            "victim_sex": rec["victim_sex"] or "unknown", "victim_role": rec["victim_role"],
            "violation": rec["violation"], "event_date": rec["event_date"],
            "department": rec["department"], "perpetrator": rec["perpetrator"],
            "linked_to_work": linked[i], "evidence": " ".join(sorted(_EVIDENCE[order[i, :k]])),
            "independent_sources": str(int(sources[i])), "description": _description(rec, int(sources[i])),
        }
        if pd.notna(rec["victim_age"]):
            data["victim_age"] = str(int(rec["victim_age"]))
        if rec["municipality"]:
            data["municipality"] = rec["municipality"]
        if rec["victim_role"] in ("journalist", "media_worker"):
            data["media_type"] = media[i]
            place = _MUNI.get(rec["municipality"]) or _DEPT[rec["department"]]
            data["media_outlet"] = _OUTLETS[media[i]].format(m=place)
        data["meta"] = {"instanceID": iids[i], "instanceName": f"flip-{rec['record_id']}"}
        subs.append({"instance_id": iids[i], "collected_at": data["end"],
                     "form_version": FORM_VERSION, "data": data})
    return subs
