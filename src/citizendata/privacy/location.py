"""Location coarsening: GPS points to equal-area grid cells or administrative areas.

The exact point never leaves: a grid release carries the cell id and the cell's centroid,
an area release the area code; maps show counts per area with small areas suppressed.
The projection, the cell ids and the point-in-polygon rule are in docs/methods/location.md.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from citizendata.errors import BadInput, Where
from citizendata.projects.protection import LocationSpec

__all__ = [
    "EARTH_RADIUS_M",
    "LocationReport",
    "aggregate_areas",
    "coarsen_locations",
    "parse_geopoints",
    "project",
    "to_area",
    "to_grid",
    "unproject",
]

# the authalic radius of the WGS 84 ellipsoid: the sphere with the ellipsoid's area
EARTH_RADIUS_M = 6_371_007.181
_X_MAX = np.pi * EARTH_RADIUS_M  # x runs over [−πR, πR)
_Y_MAX = EARTH_RADIUS_M  # y runs over [−R, R]
_EDGE_BLOCK = 2_000_000  # points × edges tested at once in point-in-polygon


def project(lat: Any, lon: Any) -> tuple[np.ndarray, np.ndarray]:
    """Lambert cylindrical equal-area coordinates in metres: x = R·λ, y = R·sin φ."""
    phi = np.radians(np.asarray(lat, dtype=float))
    lam = np.radians(np.asarray(lon, dtype=float))
    return EARTH_RADIUS_M * lam, EARTH_RADIUS_M * np.sin(phi)


def unproject(x: Any, y: Any) -> tuple[np.ndarray, np.ndarray]:
    """Latitude and longitude in degrees of Lambert cylindrical equal-area coordinates."""
    lat = np.degrees(np.arcsin(np.clip(np.asarray(y, dtype=float) / EARTH_RADIUS_M, -1.0, 1.0)))
    lon = np.degrees(np.asarray(x, dtype=float) / EARTH_RADIUS_M)
    return lat, lon


def _validate(lat: np.ndarray, lon: np.ndarray, where: str) -> np.ndarray:
    """The rows with a usable point; a coordinate out of range or infinite is refused with its rows."""
    if lat.shape != lon.shape:
        raise BadInput("privacy.invalid_location",
                       f"{where}: {lat.size} latitudes but {lon.size} longitudes",
                       where=Where(field=where), fix="Give one latitude and one longitude per point.")
    missing = np.isnan(lat) | np.isnan(lon)
    with np.errstate(invalid="ignore"):
        bad = ~missing & ((np.abs(lat) > 90) | (np.abs(lon) > 180) | ~np.isfinite(lat)
                          | ~np.isfinite(lon))
    if bad.any():
        rows = np.flatnonzero(bad)
        shown = ", ".join(f"row {r}: ({lat[r]:g}, {lon[r]:g})" for r in rows[:20])
        more = f" and {len(rows) - 20} more" if len(rows) > 20 else ""
        raise BadInput("privacy.invalid_location",
                       f"{where}: {len(rows)} point(s) out of range (latitude, longitude): "
                       f"{shown}{more}",
                       where=Where(field=where, row=int(rows[0])),
                       details={"rows": rows.tolist()})
    return ~missing


def _size_label(size_m: float) -> str:
    """The cell size as it appears in cell ids: '5000m', '2500.5m'."""
    return f"{int(size_m)}m" if float(size_m).is_integer() else f"{size_m:g}m"


def _grid_bounds(size_m: float) -> tuple[int, int, int, int]:
    """The first and last row and column of the grid over the whole projected world."""
    row_lo = int(np.floor(-_Y_MAX / size_m))
    row_hi = int(np.ceil(_Y_MAX / size_m)) - 1
    col_lo = int(np.floor(-_X_MAX / size_m))
    col_hi = int(np.ceil(_X_MAX / size_m)) - 1
    return row_lo, row_hi, col_lo, col_hi


def to_grid(lat: Any, lon: Any, size_m: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each point's equal-area grid cell id and the cell's centroid (None and NaN for a missing point).

    Cells are ``size_m`` × ``size_m`` in the Lambert cylindrical equal-area projection, so
    all have the same area; the cells at the poles and the antimeridian are cut by the
    edge of the map and their centroid is the middle of the part inside it.
    """
    if not (np.isfinite(size_m) and size_m > 0):
        raise BadInput("privacy.invalid_location", f"the grid cell size must be positive, not {size_m}",
                       where=Where(field="grid_m"), fix="Give a cell size in metres, e.g. 5000.")
    la = np.atleast_1d(np.asarray(lat, dtype=float))
    lo = np.atleast_1d(np.asarray(lon, dtype=float))
    ok = _validate(la, lo, "coordinates")
    # 180° and −180° are one meridian; the grid is half-open [−180°, 180°)
    lo = np.where(lo == 180.0, -180.0, lo)
    x, y = project(np.where(ok, la, 0.0), np.where(ok, lo, 0.0))
    row_lo, row_hi, col_lo, col_hi = _grid_bounds(size_m)
    row = np.clip(np.floor(y / size_m), row_lo, row_hi).astype(np.int64)
    col = np.clip(np.floor(x / size_m), col_lo, col_hi).astype(np.int64)
    # the centroid of the part of the cell inside the map (the whole cell almost always)
    cy = (np.maximum(row * size_m, -_Y_MAX) + np.minimum((row + 1) * size_m, _Y_MAX)) / 2
    cx = (np.maximum(col * size_m, -_X_MAX) + np.minimum((col + 1) * size_m, _X_MAX)) / 2
    c_lat, c_lon = unproject(cx, cy)
    c_lat = np.where(ok, c_lat, np.nan)
    c_lon = np.where(ok, c_lon, np.nan)
    label = _size_label(size_m)
    ns = np.where(row >= 0, "N", "S")
    ew = np.where(col >= 0, "E", "W")
    ids = np.char.add(np.char.add(np.char.add(np.char.add(f"{label}:", ns),
                                              np.abs(row).astype(str)), ew),
                      np.abs(col).astype(str)).astype(object)
    ids[~ok] = None
    return ids, c_lat, c_lon


# --------------------------------------------------------------------------- areas

def _rings(geometry: Mapping[str, Any], code: str) -> list[list[np.ndarray]]:
    """The polygons of a Polygon or MultiPolygon geometry, each a list of (m, 2) rings, outer first."""
    kind = geometry.get("type") if isinstance(geometry, Mapping) else None
    coords = geometry.get("coordinates") if isinstance(geometry, Mapping) else None
    if kind == "Polygon":
        polys = [coords]
    elif kind == "MultiPolygon":
        polys = list(coords or [])
    else:
        raise BadInput("privacy.invalid_location",
                       f"the boundary of area {code!r} is a {kind}, not a Polygon or MultiPolygon",
                       where=Where(field="boundaries"), fix="Give areas as Polygons or MultiPolygons.")
    out = []
    for poly in polys:
        rings = []
        for ring in poly or []:
            arr = np.asarray(ring, dtype=float)
            if arr.ndim != 2 or arr.shape[0] < 3 or arr.shape[1] < 2:
                raise BadInput("privacy.invalid_location",
                               f"a ring of area {code!r} has fewer than 3 positions",
                               where=Where(field="boundaries"),
                               fix="Give every ring as [[lon, lat], …] with at least 3 positions.")
            rings.append(arr[:, :2])
        if rings:
            out.append(rings)
    return out


def _inside_ring(px: np.ndarray, py: np.ndarray, ring: np.ndarray) -> np.ndarray:
    """Even-odd ray casting: whether each point is inside one ring (half-open edge rule)."""
    x0, y0 = ring[:, 0], ring[:, 1]
    x1, y1 = np.roll(x0, -1), np.roll(y0, -1)
    # a closed ring repeats its first position: the zero-length edge crosses nothing
    crossings = np.zeros(px.shape, dtype=bool)
    step = max(1, _EDGE_BLOCK // max(px.size, 1))
    for s in range(0, len(x0), step):
        ax, ay, bx, by = (v[s:s + step][None, :] for v in (x0, y0, x1, y1))
        straddle = (ay > py[:, None]) != (by > py[:, None])
        with np.errstate(divide="ignore", invalid="ignore"):
            xc = ax + (py[:, None] - ay) * (bx - ax) / (by - ay)
        hit = straddle & (px[:, None] < xc)
        crossings ^= (hit.sum(axis=1) % 2).astype(bool)
    return crossings


def to_area(lat: Any, lon: Any, boundaries_geojson: Mapping[str, Any],
            code_property: str = "code") -> np.ndarray:
    """The code of the area each point falls in, from a GeoJSON FeatureCollection (None outside all).

    Points inside a polygon's outer ring and outside its holes are in it; a point on an
    edge shared by two areas goes to exactly one of them (see docs/methods/location.md);
    where areas overlap, the first feature wins.
    """
    la = np.atleast_1d(np.asarray(lat, dtype=float))
    lo = np.atleast_1d(np.asarray(lon, dtype=float))
    ok = _validate(la, lo, "coordinates")
    features = boundaries_geojson.get("features") if isinstance(boundaries_geojson, Mapping) else None
    if not isinstance(features, list):
        raise BadInput("privacy.invalid_location", "the boundaries are not a GeoJSON FeatureCollection",
                       where=Where(field="boundaries"),
                       fix='Give {"type": "FeatureCollection", "features": [...]}.')
    codes = np.full(la.shape, None, dtype=object)
    todo = ok.copy()
    for i, feat in enumerate(features):
        props = (feat or {}).get("properties") or {}
        if code_property not in props:
            raise BadInput("privacy.invalid_location",
                           f"feature {i} of the boundaries has no property {code_property!r}",
                           where=Where(field="boundaries", position=i),
                           fix="Set code_property to the property holding the area code.")
        code = props[code_property]
        inside = np.zeros(la.shape, dtype=bool)
        for rings in _rings(feat.get("geometry") or {}, str(code)):
            outer = rings[0]
            (xmin, ymin), (xmax, ymax) = outer.min(axis=0), outer.max(axis=0)
            cand = np.flatnonzero(todo & ~inside & (lo >= xmin) & (lo <= xmax)
                                  & (la >= ymin) & (la <= ymax))
            if cand.size == 0:
                continue
            px, py = lo[cand], la[cand]
            hit = _inside_ring(px, py, outer)
            for hole in rings[1:]:
                hit &= ~_inside_ring(px, py, hole)
            inside[cand[hit]] = True
        codes[inside] = code
        todo &= ~inside
    return codes


# --------------------------------------------------------------------------- data frames

def parse_geopoints(values: pd.Series, column: str = "geopoint") -> tuple[np.ndarray, np.ndarray]:
    """Latitude and longitude of ODK geopoint strings 'lat lon [alt [accuracy]]' (NaN when blank)."""
    text = values.astype(object).where(values.notna(), "").astype(str).str.strip()
    parts = text.str.split(r"\s+", regex=True, n=4)
    lat_s = parts.str[0]
    lon_s = parts.str[1]
    lat = np.array(pd.to_numeric(lat_s, errors="coerce"), dtype=float)
    lon = np.array(pd.to_numeric(lon_s, errors="coerce"), dtype=float)
    blank = (text == "").to_numpy()
    bad = ~blank & (np.isnan(lat) | np.isnan(lon))
    if bad.any():
        rows = np.flatnonzero(bad)
        shown = ", ".join(f"row {r}: {values.iloc[r]!r}" for r in rows[:20])
        raise BadInput("privacy.invalid_location",
                       f"column {column!r}: {len(rows)} value(s) are not ODK geopoints: {shown}",
                       where=Where(column=column, row=int(rows[0])),
                       fix="Give 'latitude longitude altitude accuracy', separated by spaces.",
                       details={"rows": rows.tolist()})
    lat[blank] = np.nan
    lon[blank] = np.nan
    return lat, lon


@dataclass(frozen=True)
class LocationReport:
    """What coarsen_locations() did."""

    method: str
    cell_size_m: float | None
    points: int  # points coarsened (all columns)
    missing: int  # blank points
    outside: int  # points outside every area (area method)
    per_column: dict[str, dict[str, int]] = field(default_factory=dict)


def coarsen_locations(df: pd.DataFrame, geopoint_columns: Sequence[str | tuple[str, str, str]],
                      spec: LocationSpec,
                      boundaries: Mapping[str, Any] | None = None) -> tuple[pd.DataFrame, LocationReport]:
    """Replace each exact location by its grid cell and centroid, or by its area code.

    A column name is an ODK geopoint column; a tuple (name, lat_column, lon_column)
    names separate coordinate columns. Grid: ``<name>_cell``, ``<name>_lat``,
    ``<name>_lon``; area: ``<name>_area``. The exact columns are dropped.
    """
    if spec.method == "area" and boundaries is None:
        raise BadInput("privacy.invalid_location",
                       "the area method needs the boundaries (a GeoJSON FeatureCollection)",
                       where=Where(field="location.boundaries"),
                       fix="Load the project's boundaries reference table and pass it.")
    out = df.copy()
    per: dict[str, dict[str, int]] = {}
    total = missing_total = outside_total = 0
    for item in geopoint_columns:
        if isinstance(item, str):
            name, exact = item, [item]
            if item not in df.columns:
                raise BadInput("privacy.invalid_location", f"no geopoint column {item!r}",
                               where=Where(column=item), fix="Name a column of the table.")
            lat, lon = parse_geopoints(df[item], item)
        else:
            name, lat_col, lon_col = item
            exact = [lat_col, lon_col]
            absent = [c for c in exact if c not in df.columns]
            if absent:
                raise BadInput("privacy.invalid_location", f"no coordinate column {absent[0]!r}",
                               where=Where(column=absent[0]), fix="Name columns of the table.")
            lat = pd.to_numeric(df[lat_col], errors="coerce").to_numpy(dtype=float)
            lon = pd.to_numeric(df[lon_col], errors="coerce").to_numpy(dtype=float)
        try:
            ok = _validate(lat, lon, name)
        except BadInput as exc:
            raise BadInput(exc.code, exc.message, where=Where(column=name, row=exc.where.row
                                                              if exc.where else None),
                           fix=exc.fix, details=exc.details) from None
        n_ok = int(ok.sum())
        stats = {"points": n_ok, "missing": int((~ok).sum()), "outside": 0}
        out = out.drop(columns=exact)
        if spec.method == "grid":
            ids, c_lat, c_lon = to_grid(lat, lon, spec.grid_m)
            out[f"{name}_cell"] = pd.Series(ids, index=df.index, dtype=object)
            out[f"{name}_lat"] = c_lat
            out[f"{name}_lon"] = c_lon
        else:
            assert boundaries is not None
            codes = to_area(lat, lon, boundaries, spec.code_property)
            stats["outside"] = int((ok & pd.isna(codes)).sum())
            out[f"{name}_area"] = pd.Series(codes, index=df.index, dtype=object)
        per[name] = stats
        total += n_ok
        missing_total += stats["missing"]
        outside_total += stats["outside"]
    report = LocationReport(method=spec.method,
                            cell_size_m=spec.grid_m if spec.method == "grid" else None,
                            points=total, missing=missing_total, outside=outside_total,
                            per_column=per)
    return out, report


def aggregate_areas(df: pd.DataFrame, area_column: str, count_threshold: int) -> pd.DataFrame:
    """Records per area for a map; an area with fewer than the threshold is suppressed (n blank)."""
    if area_column not in df.columns:
        raise BadInput("privacy.invalid_location", f"no area column {area_column!r}",
                       where=Where(column=area_column), fix="Name a column of the table.")
    counts = (df[area_column].dropna().astype(str).value_counts(sort=False)
              .rename_axis("area").rename("n").reset_index().sort_values("area", ignore_index=True))
    suppressed = counts["n"] < count_threshold
    counts["n"] = counts["n"].astype("Int64").mask(suppressed)
    counts["suppressed"] = suppressed.to_numpy()
    return counts
