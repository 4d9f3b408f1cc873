"""Is each point in the area it names? Findings per row, for GPS answers in submissions.

Each row has a point (longitude, latitude, WGS 84) and the code of the area the
respondent chose. A row is ``inside``; ``near`` (outside, but within the tolerance
in metres, e.g. GPS error along a border); ``outside`` (with the area it actually lies
in, if any, and how far it is from the one it names); ``swapped`` (latitude and
longitude were exchanged: the swapped point lies in the named area, or the point is
outside every area's extent, or out of range, and its swap lies in some area);
``invalid`` (a coordinate out of range, no swap explains it, or exactly 0, 0: "null
island", what many devices send without a GPS fix); ``missing`` (no point: not a finding,
a required GPS answer is the form's own rule);
``no_area``; ``unknown_area`` (a code the boundaries do not have). Messages never hold
coordinates: a home's GPS point is personal data.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from citizendata.errors import BadInput, Where
from citizendata.integrate.places.areas import Areas

__all__ = ["FINDING_STATUSES", "check_points"]

# statuses that are findings (the others are fine, or left to other rules: "missing")
FINDING_STATUSES = ("outside", "swapped", "invalid", "unknown_area")


def _numeric(points: pd.DataFrame, col: str) -> np.ndarray:
    if col not in points.columns:
        raise BadInput("geo.invalid_points", f"the points have no column {col!r}; their "
                       f"columns are {list(map(str, points.columns))[:20]}",
                       where=Where(column=col))
    raw = points[col]
    num = pd.to_numeric(raw, errors="coerce").to_numpy(dtype=float)
    given = raw.notna().to_numpy() & (raw.astype(str).str.strip() != "").to_numpy()
    if given.any() and not np.isfinite(num[given]).any():
        raise BadInput("geo.invalid_points", f"column {col!r} holds no numbers (decimal "
                       "degrees expected)", where=Where(column=col))
    return num


def check_points(points: pd.DataFrame, areas: Areas, *, lon: str, lat: str, area: str,
                 tolerance_m: float = 0.0) -> pd.DataFrame:
    """One row per point: status, the area it lies in, metres outside its named area, message.

    Columns: ``row`` (position in ``points``), ``area`` (named), ``located`` (the area
    the point lies in, or None), ``distance_m`` (from the point to the named area; 0
    inside, NaN when not computable), ``status`` and ``message`` (empty unless a finding).
    Raises ``geo.invalid_points`` only when a column is absent or holds no numbers.
    """
    if tolerance_m < 0 or not np.isfinite(tolerance_m):
        raise BadInput("geo.invalid_points", "the tolerance must be a number of metres >= 0",
                       where=Where(field="tolerance_m"))
    x, y = _numeric(points, lon), _numeric(points, lat)
    if area not in points.columns:
        raise BadInput("geo.invalid_points", f"the points have no column {area!r} (the area "
                       "each point should lie in)", where=Where(column=area))
    text = points[area].astype("string").str.strip()
    no_area = (text.isna() | (text == "")).to_numpy(bool)
    named = text.astype(object).to_numpy(copy=True)
    named[no_area] = None
    n = len(points)
    pos = areas.index_of(named)
    have = np.isfinite(x) & np.isfinite(y)
    in_range = have & (np.abs(x) <= 180) & (np.abs(y) <= 90)
    loc = np.full(n, -1, np.int64)
    loc[in_range] = areas.locate_index(x[in_range], y[in_range])
    # the swap: latitude read as longitude and the reverse
    sw = have & (np.abs(y) <= 180) & (np.abs(x) <= 90)
    sloc = np.full(n, -1, np.int64)
    sloc[sw] = areas.locate_index(y[sw], x[sw])
    dist = np.full(n, np.nan)
    inside = in_range & (loc >= 0) & (loc == pos)
    dist[inside] = 0.0
    todo = in_range & (pos >= 0) & ~inside
    dist[todo] = areas.distance_m(x[todo], y[todo], pos[todo])
    x0, y0, x1, y1 = areas.bounds
    beyond = ~in_range | (x < x0) | (x > x1) | (y < y0) | (y > y1)
    status = np.full(n, "inside", dtype=object)
    status[(pos >= 0) & in_range & ~inside & (dist <= tolerance_m)] = "near"
    outside = (pos >= 0) & in_range & ~inside & ~(dist <= tolerance_m)
    status[outside] = "outside"
    swapped = (pos >= 0) & have & ~inside & ~(dist <= tolerance_m) & (
        (sloc == pos) | (beyond & (sloc >= 0)))
    status[swapped] = "swapped"
    status[(pos >= 0) & have & ~in_range & ~swapped] = "invalid"
    # 0, 0 is no place anyone is surveyed (Gulf of Guinea) but what a device reports with
    # no fix: a "4,000 km outside" finding would mislead; an area there may claim it
    null_island = (pos >= 0) & (x == 0) & (y == 0) & ~inside
    status[null_island] = "invalid"
    dist[null_island] = np.nan
    status[have & (pos < 0)] = "unknown_area"
    status[have & no_area] = "no_area"
    status[~have] = "missing"
    located = areas.code_at(loc)
    out = pd.DataFrame({"row": np.arange(n), "area": named, "located": located,
                        "distance_m": np.round(dist, 1), "status": status})
    # messages only for findings (a few rows): the loop is not on the hot path
    msgs = np.full(n, "", dtype=object)
    swap_in = areas.code_at(sloc)
    for i in np.flatnonzero(np.isin(status, FINDING_STATUSES)).tolist():
        msgs[i] = _message(status[i], named[i], located[i], float(dist[i]), swap_in[i],
                           tolerance_m, bool(null_island[i]))
    out["message"] = msgs
    return out


def _message(status: str, named: Any, located: Any, d: float, swap_in: Any,
             tolerance_m: float, null_island: bool = False) -> str:
    if status == "outside":
        where = f"lies in area {located!r}" if located is not None else "lies in no area"
        return (f"the point {where}, {_km(d)} outside area {named!r} that the answer "
                f"names (tolerance {_km(tolerance_m)})")
    if status == "swapped":
        return (f"latitude and longitude look swapped: exchanged, the point lies in area "
                f"{swap_in!r}" + ("" if swap_in == named else f", not in {named!r}")
                + "; as given it lies " + (f"in area {located!r}" if located is not None
                                           else "outside every area"))
    if status == "invalid" and null_island:
        return ("the point is latitude 0, longitude 0 (\"null island\"), what devices "
                "send without a GPS fix: no location was recorded")
    if status == "invalid":
        return "the point is not a valid latitude/longitude (out of range)"
    if status == "unknown_area":
        return f"area {named!r} is not one of the boundaries' areas"
    return ""


def _km(m: float) -> str:
    if m != m:  # NaN
        return "an unknown distance"
    return f"{m:,.0f} m" if m < 10_000 else f"{m / 1000:,.1f} km"
