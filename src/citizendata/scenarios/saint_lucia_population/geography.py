"""A synthetic island cut into small areas: the ten districts' names are Saint Lucia's,
every shape and figure is invented.

The outline is a smooth, star-shaped closed curve about 43 km north–south and 23 km
east–west around 13.9° N, 60.97° W (Saint Lucia's size and place, not its coast).
Small areas (enumeration districts) are Voronoi cells of seeded points inside the
outline, cut to it: valid, non-overlapping polygons that cover the island. Each area
belongs to the district whose (illustrative) centre is nearest its centroid; a
district's shape is the union of its areas. Informal settlements are areas flagged
by a draw whose probability is higher near the three towns (Castries, Gros Islet,
Vieux Fort).
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass

import numpy as np
import pandas as pd
import shapely
from shapely.geometry import MultiPolygon, Polygon, mapping

__all__ = ["CENTRE", "DISTRICTS", "GEO_SEED", "N_AREAS", "District", "boundaries_geojson",
           "fixed_areas", "island", "make_areas"]

CENTRE = (-60.97, 13.90)  # lon, lat
GEO_SEED = 662  # UN M49 code of Saint Lucia: the areas are the same for every scenario seed
N_AREAS = 300
_RX, _RY = 0.105, 0.195  # half-widths in degrees (~11 km, ~21 km)


@dataclass(frozen=True)
class District:
    """A district: code, name, illustrative centre (lon, lat), chance an area is informal,
    and a relative density (persons per dwelling are drawn elsewhere; this shifts the
    dwellings per area)."""

    code: str
    name: str
    lon: float
    lat: float
    informal: float
    density: float


# centres placed around the synthetic outline in Saint Lucia's order of districts
DISTRICTS: tuple[District, ...] = (
    District("GI", "Gros Islet", -60.945, 14.055, 0.36, 1.15),
    District("CA", "Castries", -60.985, 13.990, 0.45, 1.35),
    District("AR", "Anse la Raye", -61.035, 13.930, 0.10, 0.80),
    District("CN", "Canaries", -61.055, 13.895, 0.08, 0.70),
    District("SO", "Soufrière", -61.045, 13.850, 0.12, 0.85),
    District("CH", "Choiseul", -61.030, 13.785, 0.08, 0.80),
    District("LA", "Laborie", -60.995, 13.755, 0.10, 0.85),
    District("VF", "Vieux Fort", -60.955, 13.730, 0.40, 1.15),
    District("MI", "Micoud", -60.905, 13.820, 0.12, 0.90),
    District("DE", "Dennery", -60.905, 13.915, 0.12, 0.90),
)


def island() -> Polygon:
    """The island outline: a smoothly wobbling ellipse (fixed, not seeded)."""
    t = np.linspace(0.0, 2 * np.pi, 180, endpoint=False)
    r = 1.0 + 0.06 * np.sin(3 * t + 0.4) + 0.04 * np.cos(5 * t + 1.1) + 0.02 * np.sin(9 * t)
    x = CENTRE[0] + _RX * r * np.cos(t)
    y = CENTRE[1] + _RY * r * np.sin(t)
    return Polygon(np.column_stack([x, y]))


def _points_inside(rng: np.random.Generator, shape: Polygon, n: int) -> np.ndarray:
    """``n`` uniform points inside ``shape`` (rejection from its bounding box)."""
    x0, y0, x1, y1 = shape.bounds
    out = np.empty((0, 2))
    while len(out) < n:
        cand = rng.uniform((x0, y0), (x1, y1), size=(2 * n, 2))
        inside = shapely.contains_xy(shape, cand[:, 0], cand[:, 1])
        out = np.vstack([out, cand[inside]])
    return out[:n]


def make_areas(rng: np.random.Generator, n_areas: int) -> pd.DataFrame:
    """The small areas: ``area`` code, ``district`` code and name, ``informal`` flag,
    centroid ``lon``/``lat``, ``geometry`` (shapely) and ``km2``."""
    outline = island()
    # well-spread seeds: a few Lloyd steps from uniform points keep cells of similar size
    pts = _points_inside(rng, outline, n_areas)
    for _ in range(3):
        cells = _cells(pts, outline)
        pts = np.array([[c.centroid.x, c.centroid.y] for c in cells])
    cells = _cells(pts, outline)
    cx = np.array([c.centroid.x for c in cells])
    cy = np.array([c.centroid.y for c in cells])
    dlon = np.array([d.lon for d in DISTRICTS])
    dlat = np.array([d.lat for d in DISTRICTS])
    dist = np.argmin((cx[:, None] - dlon) ** 2 + (cy[:, None] - dlat) ** 2, axis=1)
    # every district keeps at least one area: the nearest area to an empty district's centre
    for k in range(len(DISTRICTS)):
        if not (dist == k).any():
            dist[np.argmin((cx - dlon[k]) ** 2 + (cy - dlat[k]) ** 2)] = k
    order = np.lexsort((-cy, dist))  # district by district, north to south
    informal = rng.random(n_areas) < np.array([DISTRICTS[k].informal for k in dist])
    codes = [DISTRICTS[k].code for k in dist[order]]
    seq = pd.Series(codes).groupby(codes).cumcount() + 1
    km_per_deg2 = 111.32 ** 2 * np.cos(np.radians(CENTRE[1]))
    return pd.DataFrame({
        "area": [f"{c}-{i:03d}" for c, i in zip(codes, seq, strict=True)],
        "district": codes,
        "district_name": [DISTRICTS[k].name for k in dist[order]],
        "informal": informal[order],
        "lon": cx[order].round(6), "lat": cy[order].round(6),
        "geometry": [cells[i] for i in order],
        "km2": np.array([cells[i].area for i in order]) * km_per_deg2,
    })


@functools.cache
def _fixed() -> pd.DataFrame:
    return make_areas(np.random.default_rng(GEO_SEED), N_AREAS)


def fixed_areas() -> pd.DataFrame:
    """The scenario's 300 areas (a copy): the same for every seed and scale, so that one
    form, one census table layout and one set of boundaries serve them all."""
    return _fixed().copy()


def _cells(pts: np.ndarray, outline: Polygon) -> list[Polygon | MultiPolygon]:
    """Voronoi cells of ``pts`` cut to ``outline``, in the order of ``pts``."""
    multi = shapely.multipoints(pts)
    vor = shapely.voronoi_polygons(multi, extend_to=outline.buffer(0.05))
    polys = list(shapely.get_parts(vor))
    # voronoi_polygons does not keep the input order: match each cell to its point
    tree = shapely.STRtree(polys)
    idx = tree.query(shapely.points(pts), predicate="intersects")
    owner = np.full(len(pts), -1)
    owner[idx[0]] = idx[1]
    cut = shapely.intersection(np.array(polys, dtype=object)[owner], outline)
    return [shapely.make_valid(c) if not c.is_valid else c for c in cut]


def boundaries_geojson(areas: pd.DataFrame, level: str = "area") -> bytes:
    """Boundaries as GeoJSON (properties ``code``, ``name``, and ``district``/``informal``
    for areas): the small areas, or the districts as unions of their areas."""
    if level == "area":
        feats = [{"type": "Feature",
                  "properties": {"code": r.area, "name": r.area, "district": r.district,
                                 "informal": bool(r.informal)},
                  "geometry": _rounded(r.geometry)} for r in areas.itertuples()]
    elif level == "district":
        feats = []
        for d in DISTRICTS:
            shape = shapely.union_all(areas.loc[areas["district"] == d.code, "geometry"].tolist())
            feats.append({"type": "Feature", "properties": {"code": d.code, "name": d.name},
                          "geometry": _rounded(shape)})
    else:
        raise ValueError(f"level must be 'area' or 'district', not {level!r}")
    return (json.dumps({"type": "FeatureCollection", "features": feats}) + "\n").encode()


def _rounded(shape: Polygon | MultiPolygon) -> dict[str, object]:
    """GeoJSON geometry with coordinates to 6 decimals (about 0.1 m)."""
    return dict(mapping(shapely.set_precision(shape, 1e-6)))
