"""Areas as shapely 2 geometries in an STRtree: vectorised point-in-polygon and distances.

Coordinates are WGS 84 longitude/latitude (the canonical boundaries). ``locate`` takes
arrays and returns an array of area positions; a point on the border between two areas
(or on a shared vertex) is given, deterministically, to the area whose code sorts first,
since ``intersects`` counts the boundary as part of an area. Distances are in metres on
the WGS 84 ellipsoid: the nearest point of the area is found in a local equirectangular
plane scaled at the area's latitude, and the distance to it is the ellipsoidal geodesic
(Karney, via pyproj). docs/methods/places.md gives the error bounds.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import shapely
from numpy.typing import ArrayLike, NDArray

from citizendata.integrate.places.grid import BOUNDARY, GridIndex

__all__ = ["EARTH_RADIUS_M", "Areas", "geodesic_m", "haversine_m"]

EARTH_RADIUS_M = 6_371_008.8  # IUGG mean Earth radius
_CHUNK = 1_000_000  # points per STRtree query: a GEOS point costs ~100 bytes
_GRID_FROM = 200_000  # from this many points, building the grid index pays for itself


def haversine_m(lon1: ArrayLike, lat1: ArrayLike, lon2: ArrayLike, lat2: ArrayLike
                ) -> NDArray[np.float64]:
    """Great-circle distance in metres between points given in degrees (vectorised)."""
    p1, p2 = np.radians(np.asarray(lat1, float)), np.radians(np.asarray(lat2, float))
    dlat = p2 - p1
    dlon = np.radians(np.asarray(lon2, float) - np.asarray(lon1, float))
    h = np.sin(dlat / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dlon / 2) ** 2
    return np.asarray(2 * EARTH_RADIUS_M * np.arcsin(np.sqrt(np.clip(h, 0.0, 1.0))))


class Areas:
    """A set of named areas: codes, shapely geometries (lon/lat) and an STRtree over them."""

    def __init__(self, codes: Sequence[str], geometries: Sequence[Any] | NDArray[Any],
                 names: Sequence[str | None] | None = None) -> None:
        codes = [str(c) for c in codes]
        if len(set(codes)) != len(codes):
            dup = sorted({c for c in codes if codes.count(c) > 1})
            raise ValueError(f"area codes appear more than once: {dup[:10]}")
        geoms = np.asarray(geometries, dtype=object)
        if len(codes) != len(geoms):
            raise ValueError("one geometry per code is needed")
        # sorted by code, so ties on borders go to the first code and results are stable
        order = np.argsort(np.asarray(codes, dtype=object), kind="stable")
        self.codes: NDArray[np.object_] = np.asarray(codes, dtype=object)[order]
        self.geometries: NDArray[np.object_] = geoms[order]
        self.names = (None if names is None
                      else np.asarray(list(names), dtype=object)[order])
        self._index = {c: i for i, c in enumerate(self.codes.tolist())}
        self._lookup = pd.Index(self.codes)  # vectorised code -> position
        shapely.prepare(self.geometries)
        self.tree = shapely.STRtree(self.geometries)
        self._scaled: NDArray[np.object_] | None = None
        self._grid: GridIndex | None = None

    # -- construction -------------------------------------------------------------
    @classmethod
    def from_geojson(cls, doc: Mapping[str, Any] | bytes | str) -> Areas:
        """From a canonical boundaries collection (or any GeoJSON with ``code`` properties)."""
        if not isinstance(doc, Mapping):
            from citizendata.publish.boundaries import read_boundaries_file

            doc = read_boundaries_file(doc.encode() if isinstance(doc, str) else doc)
        feats = doc["features"]
        geoms = shapely.from_geojson([json.dumps(f["geometry"]) for f in feats])
        return cls([f["properties"]["code"] for f in feats], geoms,
                   [f["properties"].get("name") for f in feats])

    @classmethod
    def read(cls, source: bytes | str | Path, *, code_field: str = "code",
             name_field: str = "name", layer: str | None = None) -> Areas:
        """From a GeoJSON, zipped Shapefile, ``.shp`` or GeoPackage (checked, in WGS 84)."""
        from citizendata.publish.boundaries import read_boundaries_file

        return cls.from_geojson(read_boundaries_file(source, code_field=code_field,
                                                     name_field=name_field, layer=layer))

    def __len__(self) -> int:
        return len(self.codes)

    def __contains__(self, code: object) -> bool:
        return code in self._index

    def index_of(self, codes: ArrayLike) -> NDArray[np.int64]:
        """Positions of area codes (-1 where a code is not one of the areas)."""
        return np.asarray(self._lookup.get_indexer(pd.Index(np.asarray(codes, dtype=object)
                                                            .ravel())), np.int64)

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """(min lon, min lat, max lon, max lat) of all the areas."""
        b = shapely.total_bounds(self.geometries)
        return float(b[0]), float(b[1]), float(b[2]), float(b[3])

    # -- point in polygon -----------------------------------------------------------
    def locate_index(self, lon: ArrayLike, lat: ArrayLike) -> NDArray[np.int64]:
        """The position of the area each point lies in, -1 for none (or a missing point).

        Many points: a grid answers those in cells no boundary crosses by lookup
        (integrate.places.grid); the rest, and small batches, go to the STRtree.
        """
        x, y = np.asarray(lon, float).ravel(), np.asarray(lat, float).ravel()
        if x.shape != y.shape:
            raise ValueError("lon and lat must have the same length")
        if x.size < _GRID_FROM:
            return self._exact(x, y)
        if self._grid is None:
            self._grid = GridIndex(self.geometries, self._exact)
        out = self._grid.lookup(x, y).astype(np.int64)
        todo = np.flatnonzero(out == BOUNDARY)
        out[todo] = self._exact(x[todo], y[todo])
        return out

    def _exact(self, x: NDArray[np.float64], y: NDArray[np.float64]) -> NDArray[np.int64]:
        out = np.full(x.size, -1, np.int64)
        for lo in range(0, x.size, _CHUNK):
            hi = min(lo + _CHUNK, x.size)
            xs, ys = x[lo:hi], y[lo:hi]
            ok = np.isfinite(xs) & np.isfinite(ys)
            pts = np.full(hi - lo, None, dtype=object)
            pts[ok] = shapely.points(xs[ok], ys[ok])
            ipt, iarea = self.tree.query(pts, predicate="intersects")
            if ipt.size:
                # several hits only on shared borders: keep the smallest area position
                # (first code); reversed assignment makes the smallest write last
                order = np.lexsort((-iarea, ipt))
                out[lo + ipt[order]] = iarea[order]
        return out

    def locate(self, lon: ArrayLike, lat: ArrayLike) -> NDArray[np.object_]:
        """The code of the area each point lies in (None where it lies in none)."""
        return self.code_at(self.locate_index(lon, lat))

    def code_at(self, index: ArrayLike) -> NDArray[np.object_]:
        """Codes at area positions; None at -1 (no area)."""
        codes = np.concatenate([self.codes, np.array([None], dtype=object)])
        return np.asarray(codes[np.asarray(index, np.int64)], dtype=object)

    # -- distances --------------------------------------------------------------------
    def _scaled_geoms(self) -> NDArray[np.object_]:
        """Each area in its own equirectangular plane: x = lon·cos φ₀, y = lat (φ₀: its centre)."""
        if self._scaled is None:
            lat0 = shapely.get_y(shapely.centroid(self.geometries))
            scale = np.cos(np.radians(lat0))
            self._scaled = np.array([shapely.transform(g, lambda xy, s=s: xy * [s, 1.0])
                                     for g, s in zip(self.geometries, scale, strict=True)],
                                    dtype=object)
            self._lat0 = lat0
        return self._scaled

    def nearest_points(self, lon: ArrayLike, lat: ArrayLike, area: ArrayLike
                       ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """For each point, the nearest point (lon, lat) of the area at position ``area``."""
        x, y = np.asarray(lon, float), np.asarray(lat, float)
        pos = np.asarray(area, np.int64)
        scaled = self._scaled_geoms()
        s = np.cos(np.radians(self._lat0))[pos]
        pts = shapely.points(x * s, y)
        line = shapely.shortest_line(scaled[pos], pts)
        near = shapely.get_point(line, 0)
        return shapely.get_x(near) / s, shapely.get_y(near)

    def distance_m(self, lon: ArrayLike, lat: ArrayLike, area: ArrayLike
                   ) -> NDArray[np.float64]:
        """Metres from each point to the area named (0 inside; NaN for an unknown code).

        ``area`` holds codes, or positions when it is an integer array.
        """
        a = np.asarray(area)
        pos = a.astype(np.int64) if a.dtype.kind in "iu" else self.index_of(a)
        x, y = np.asarray(lon, float).ravel(), np.asarray(lat, float).ravel()
        out = np.full(x.size, np.nan)
        ok = (pos >= 0) & np.isfinite(x) & np.isfinite(y)
        if ok.any():
            nx, ny = self.nearest_points(x[ok], y[ok], pos[ok])
            out[ok] = geodesic_m(x[ok], y[ok], nx, ny)
        return out


def geodesic_m(lon1: ArrayLike, lat1: ArrayLike, lon2: ArrayLike, lat2: ArrayLike
               ) -> NDArray[np.float64]:
    """Metres on the WGS 84 ellipsoid (Karney's geodesics, via pyproj); vectorised."""
    arrays = np.broadcast_arrays(*(np.asarray(a, float) for a in (lon1, lat1, lon2, lat2)))
    _, _, d = _geod().inv(*(a.ravel() for a in arrays))
    return np.asarray(d, float).reshape(arrays[0].shape)


@lru_cache(maxsize=1)
def _geod() -> Any:
    from pyproj import Geod

    return Geod(ellps="WGS84")
