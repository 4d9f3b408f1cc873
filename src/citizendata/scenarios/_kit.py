"""Pieces every scenario generator shares: XLSForm sheets, fieldwork times, seeded ids."""

from __future__ import annotations

import io
import re
import uuid
import zipfile
from collections.abc import Mapping
from datetime import datetime, timedelta

import numpy as np
from openpyxl import Workbook

__all__ = ["fieldwork_times", "fill_sheet", "seeded_uuids", "stable_xlsx_bytes", "xlsform_bytes"]

_FIXED_DT = (2026, 1, 1, 0, 0, 0)
_FIXED_ISO = "2026-01-01T00:00:00Z"
SETTINGS_HEADER = ("form_id", "version", "form_title", "default_language", "instance_name")


def fill_sheet(ws: object, header: tuple[str, ...], rows: list[dict[str, str]]) -> None:
    """Write a header and rows; unknown keys are a programming error."""
    ws.append(list(header))  # type: ignore[attr-defined]
    for r in rows:
        extra = set(r) - set(header)
        if extra:
            raise ValueError(f"columns not in header: {sorted(extra)}")
        ws.append([r.get(h) or None for h in header])  # type: ignore[attr-defined]


def fieldwork_times(rng: np.random.Generator, n: int, *, start: datetime, days: int,
                    hours: int, minutes: tuple[int, int]) -> tuple[list[str], list[str]]:
    """ODK-style start and end times: a day of fieldwork, a time within ``hours`` of its
    start, an interview of ``minutes`` (low, high)."""
    day = rng.integers(0, days, n)
    sec = rng.integers(0, hours * 3600, n)
    ms = rng.integers(0, 1000, n)
    dur = rng.integers(minutes[0] * 60, minutes[1] * 60, n)

    def fmt(t: datetime) -> str:
        return t.isoformat(timespec="milliseconds")

    starts, ends = [], []
    for d, s, m, u in zip(day.tolist(), sec.tolist(), ms.tolist(), dur.tolist(), strict=True):
        t0 = start + timedelta(days=d, seconds=s, milliseconds=m)
        starts.append(fmt(t0))
        ends.append(fmt(t0 + timedelta(seconds=u, milliseconds=(m * 7) % 1000)))
    return starts, ends


def seeded_uuids(rng: np.random.Generator, n: int) -> list[str]:
    """Version-4 UUIDs drawn from the seeded generator."""
    raw = rng.integers(0, 256, size=(n, 16), dtype=np.uint8)
    return [str(uuid.UUID(bytes=bytes(r), version=4)) for r in raw]


def stable_xlsx_bytes(wb: Workbook) -> bytes:
    """Save a workbook so the same content always gives the same bytes.

    openpyxl stamps the save time into docProps/core.xml and zipfile stamps each
    entry with the clock; both are replaced by a fixed date.
    """
    raw = io.BytesIO()
    wb.save(raw)
    out = io.BytesIO()
    with zipfile.ZipFile(raw) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            data = src.read(info.filename)
            if info.filename == "docProps/core.xml":
                data = re.sub(rb"(<dcterms:(?:created|modified)[^>]*>)[^<]*(<)",
                              rb"\g<1>" + _FIXED_ISO.encode() + rb"\g<2>", data)
            fixed = zipfile.ZipInfo(info.filename, date_time=_FIXED_DT)
            fixed.compress_type = zipfile.ZIP_DEFLATED
            fixed.external_attr = 0o600 << 16
            dst.writestr(fixed, data)
    return out.getvalue()


def xlsform_bytes(survey_header: tuple[str, ...], survey_rows: list[dict[str, str]],
                  choices_header: tuple[str, ...], choice_rows: list[dict[str, str]],
                  settings: Mapping[str, str]) -> bytes:
    """An XLSForm (survey, choices, settings sheets) with fixed document properties."""
    wb = Workbook()
    survey = wb.active
    assert survey is not None
    survey.title = "survey"
    fill_sheet(survey, survey_header, survey_rows)
    fill_sheet(wb.create_sheet("choices"), choices_header, choice_rows)
    fill_sheet(wb.create_sheet("settings"), SETTINGS_HEADER, [dict(settings)])
    props = wb.properties
    props.creator = "citizendata"
    props.lastModifiedBy = "citizendata"
    props.title = settings["form_title"]
    return stable_xlsx_bytes(wb)
