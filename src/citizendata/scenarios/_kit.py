"""Pieces every scenario generator shares: XLSForm sheets, fieldwork times, seeded ids."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

import numpy as np

__all__ = ["fieldwork_times", "fill_sheet", "seeded_uuids"]


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
