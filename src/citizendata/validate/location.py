"""The location rule: a submission's GPS point must lie in the area another answer names.

Findings have kind ``location``, rule ``location:<geopoint path>``, the severity the
project gives the check, and a message saying where the point lies instead (which
area, how far outside the named one, or that latitude and longitude look swapped).
Neither the message nor the finding's value holds a coordinate: a home's GPS point is
personal data. ODK geopoints are "latitude longitude altitude accuracy" text; an
answer that is not one is left to the form's type rule.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from citizendata.integrate.places import FINDING_STATUSES, Areas, check_points

__all__ = ["location_findings", "split_geopoint"]


def split_geopoint(text: pa.Array | pa.ChunkedArray) -> tuple[np.ndarray, np.ndarray]:
    """Latitude and longitude (NaN where absent or not numbers) of ODK geopoint text."""
    parts = (pd.Series(text.to_pylist(), dtype=object).fillna("").astype(str).str.strip()
             .str.split(r"\s+", n=2, regex=True))
    lat = pd.to_numeric(parts.str[0], errors="coerce").to_numpy(float)
    lon = pd.to_numeric(parts.str[1], errors="coerce").to_numpy(float)
    return lat, lon


def location_findings(table: pa.Table, areas: Areas, *, point: str, area: str, field: str,
                      area_field: str, tolerance_m: float, severity: str) -> pa.Table:
    """Findings (validate.checks.FINDING_COLUMNS + score) for rows whose point is misplaced.

    ``table`` has ``_id``, ``_item``, the geopoint column ``point`` and the area
    column ``area``; ``field``/``area_field`` are the form paths that findings name.
    ``score`` is the distance in metres outside the named area (NaN when swapped or
    not computable).
    """
    lat, lon = split_geopoint(table.column(point))
    named = table.column(area).to_pylist()
    pts = pd.DataFrame({"lon": lon, "lat": lat, "area": named})
    res = check_points(pts, areas, lon="lon", lat="lat", area="area", tolerance_m=tolerance_m)
    hit = res["status"].isin(FINDING_STATUSES).to_numpy()
    idx = np.flatnonzero(hit)
    msgs = [f"{field}: {m} ({area_field})" for m in res["message"].to_numpy()[idx].tolist()]
    score = np.where(res["status"].to_numpy()[idx] == "outside",
                     res["distance_m"].to_numpy()[idx], np.nan)
    return pa.table({
        "_id": pc.take(table.column("_id"), pa.array(idx)).cast(pa.int64()),
        "_item": pc.take(table.column("_item"), pa.array(idx)).cast(pa.string()),
        "rule": pa.array([f"location:{field}"] * idx.size, pa.string()),
        "kind": pa.array(["location"] * idx.size, pa.string()),
        "field": pa.array([field] * idx.size, pa.string()),
        "severity": pa.array([severity] * idx.size, pa.string()),
        "message": pa.array(msgs, pa.string()),
        # the value column would show the point: left empty (personal data)
        "value": pa.nulls(idx.size, pa.string()),
        "score": pa.array(score, pa.float64()),
    })
