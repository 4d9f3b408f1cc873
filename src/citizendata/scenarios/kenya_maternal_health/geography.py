"""The scenario's places: counties, wards and group ranches, with synthetic access figures.

County and ward names are real Kenyan place names used for illustration only. The
group ranch names are invented. Every number here (distances, sizes, coordinates)
is synthetic and says nothing about the real places.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass

__all__ = ["COUNTIES", "RANCHES", "WARDS", "Ranch", "Ward", "boundaries_geojson",
           "geography_csv"]


@dataclass(frozen=True)
class Ward:
    """One ward: its county, a centre point and how far women live from a maternity ward."""

    name: str
    label: str
    county: str
    lat: float
    lon: float
    mean_distance_km: float  # synthetic mean distance from home to the nearest maternity ward
    women: int  # synthetic number of women aged 15-49 (before scaling)


@dataclass(frozen=True)
class Ranch:
    """One group ranch inside a ward."""

    name: str
    label: str
    ward: str
    share: float  # share of the ward's women living on this ranch


COUNTIES: dict[str, str] = {"kajiado": "Kajiado", "narok": "Narok", "samburu": "Samburu"}

WARDS: tuple[Ward, ...] = (
    Ward("kimana", "Kimana", "kajiado", -2.80, 37.53, 9.0, 5200),
    Ward("ildamat", "Ildamat", "kajiado", -1.95, 36.95, 12.0, 4100),
    Ward("magadi", "Magadi", "kajiado", -1.90, 36.28, 24.0, 3300),
    Ward("naroosura", "Naroosura", "narok", -1.55, 35.85, 15.0, 4200),
    Ward("siana", "Siana", "narok", -1.45, 35.10, 21.0, 3900),
    Ward("loita", "Loita", "narok", -1.75, 35.75, 34.0, 3600),
    Ward("wamba_east", "Wamba East", "samburu", 0.98, 37.35, 28.0, 3000),
    Ward("waso", "Waso", "samburu", 0.60, 37.60, 41.0, 2700),
    Ward("baragoi", "Baragoi", "samburu", 1.78, 36.79, 47.0, 3000),
)

# Invented names (illustrative); shares within a ward sum to one.
RANCHES: tuple[Ranch, ...] = (
    Ranch("ilchalai", "Ilchalai", "kimana", 0.45),
    Ranch("osupuko", "Osupuko", "kimana", 0.35),
    Ranch("enkii", "Enkii", "kimana", 0.20),
    Ranch("oloirien", "Oloirien", "ildamat", 0.60),
    Ranch("enkaji_narok", "Enkaji Narok", "ildamat", 0.40),
    Ranch("ol_donyo_keri", "Ol Donyo Keri", "magadi", 0.55),
    Ranch("enkare_pus", "Enkare Pus", "magadi", 0.45),
    Ranch("olmoti_sidai", "Olmoti Sidai", "naroosura", 0.50),
    Ranch("enkutoto_ai", "Enkutoto Ai", "naroosura", 0.50),
    Ranch("oltepesi", "Oltepesi", "siana", 0.40),
    Ranch("enkiteng", "Enkiteng", "siana", 0.35),
    Ranch("olkinyei", "Olkinyei", "siana", 0.25),
    Ranch("entim_sapuk", "Entim Sapuk", "loita", 0.60),
    Ranch("olosho_oibor", "Olosho Oibor", "loita", 0.40),
    Ranch("lkiroi", "Lkiroi", "wamba_east", 0.55),
    Ranch("ngare_nyiro", "Ngare Nyiro", "wamba_east", 0.45),
    Ranch("lorokushu", "Lorokushu", "waso", 0.50),
    Ranch("sereolipi_east", "Sereolipi East", "waso", 0.30),
    Ranch("lmarmaroi", "Lmarmaroi", "waso", 0.20),
    Ranch("lesirikan", "Lesirikan", "baragoi", 0.55),
    Ranch("nalingangor", "Nalingangor", "baragoi", 0.45),
)


def geography_csv() -> bytes:
    """The place hierarchy as a reference table: group_ranch, ward, county (one row per ranch)."""
    county = {w.name: w.county for w in WARDS}
    lines = ["group_ranch,ward,county"] + [f"{r.name},{r.ward},{county[r.ward]}" for r in RANCHES]
    return ("\n".join(lines) + "\n").encode()


_CELL_RADIUS_DEG = 0.55
_CELL_SIDES = 36

Point = tuple[float, float]


def _clip(poly: list[Point], a: Point, b: Point) -> list[Point]:
    """Sutherland-Hodgman: the part of a polygon nearer to ``a`` than to ``b``."""
    nx, ny = b[0] - a[0], b[1] - a[1]
    c = (nx * (a[0] + b[0]) + ny * (a[1] + b[1])) / 2

    def side(p: Point) -> float:
        return c - (nx * p[0] + ny * p[1])

    out: list[Point] = []
    for i, p in enumerate(poly):
        q = poly[(i + 1) % len(poly)]
        sp, sq = side(p), side(q)
        if sp >= 0:
            out.append(p)
        if (sp >= 0) != (sq >= 0):
            t = sp / (sp - sq)
            out.append((p[0] + t * (q[0] - p[0]), p[1] + t * (q[1] - p[1])))
    return out


def _cells() -> dict[str, list[Point]]:
    """Each ward's area: its Voronoi cell among the wards, within a disc around its centre."""
    centres = {w.name: (w.lon, w.lat) for w in WARDS}
    cells = {}
    for i, w in enumerate(WARDS):
        # a slightly irregular outline so the map does not look like a set of coins
        poly = []
        for k in range(_CELL_SIDES):
            ang = 2 * math.pi * k / _CELL_SIDES
            r = _CELL_RADIUS_DEG * (0.9 + 0.06 * math.sin(2 * ang + i) + 0.04 * math.sin(5 * ang + 2 * i))
            poly.append((w.lon + r * math.cos(ang), w.lat + r * math.sin(ang)))
        for other, centre in centres.items():
            if other != w.name:
                poly = _clip(poly, centres[w.name], centre)
        cells[w.name] = [(round(x, 4), round(y, 4)) for x, y in poly]
    return cells


def boundaries_geojson(level: str = "ward") -> bytes:
    """Synthetic area shapes (GeoJSON) for the report's maps: wards, or counties of wards.

    The shapes are invented around the wards' illustrative centre points (Voronoi
    cells cut to a 0.55-degree disc); they are not the real administrative boundaries,
    which the project would load from the national mapping agency.
    """
    cells = _cells()

    def ring(pts: list[Point]) -> list[list[float]]:
        return [[x, y] for x, y in [*pts, pts[0]]]

    if level == "ward":
        feats = [{"type": "Feature", "properties": {"code": w.name, "name": w.label},
                  "geometry": {"type": "Polygon", "coordinates": [ring(cells[w.name])]}}
                 for w in WARDS]
    elif level == "county":
        # a county is the union of its wards' cells: a MultiPolygon of cells that share
        # edges is not a valid geometry (OGC), and uploads refuse invalid geometries
        import shapely

        feats = []
        for c, label in COUNTIES.items():
            union = shapely.union_all([shapely.Polygon(cells[w.name]) for w in WARDS
                                       if w.county == c], grid_size=1e-4)
            geometry = json.loads(shapely.to_geojson(shapely.orient_polygons(union)))
            feats.append({"type": "Feature", "properties": {"code": c, "name": label},
                          "geometry": geometry})
    else:
        raise ValueError(f"level must be 'ward' or 'county', not {level!r}")
    return (json.dumps({"type": "FeatureCollection", "features": feats}, indent=1) + "\n").encode()
