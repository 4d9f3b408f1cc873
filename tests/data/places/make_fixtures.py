"""Write the boundary fixtures of tests/test_places*.py with GDAL itself (pyogrio), once.

Run from the repository root: ``python tests/data/places/make_fixtures.py``. The files
are committed; the tests never regenerate them. Every shape is invented.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np
import shapely
from pyogrio import raw
from pyproj import Transformer

HERE = Path(__file__).parent


def _areas() -> tuple[list[str], list[str], list[shapely.Geometry]]:
    # four wards on a 0.2-degree grid south of the equator, one with a hole (a lake)
    # and one made of two parts (an island)
    x0, y0, s = 36.6, -1.5, 0.2
    sq = [shapely.box(x0 + i * s, y0 + j * s, x0 + (i + 1) * s, y0 + (j + 1) * s)
          for j in range(2) for i in range(2)]
    lake = shapely.Point(x0 + 0.1, y0 + 0.1).buffer(0.03, quad_segs=4)
    sq[0] = shapely.Polygon(sq[0].exterior, [lake.exterior])
    island = shapely.box(x0 + 0.45, y0 + 0.45, x0 + 0.5, y0 + 0.5)
    sq[3] = shapely.MultiPolygon([sq[3], island])
    return ["w1", "w2", "w3", "w4"], ["Ward One", "Ward Two", "Ward Three", "Ward Four"], sq


def _write(path: Path, geoms: list[shapely.Geometry], codes: list[str], names: list[str],
           crs: str, driver: str) -> None:
    raw.write(str(path), np.array(shapely.to_wkb(geoms), dtype=object),
              [np.array(codes, dtype=object), np.array(names, dtype=object)], ["code", "name"],
              driver=driver, geometry_type="MultiPolygon", crs=crs, promote_to_multi=True)


def main() -> None:
    codes, names, geoms = _areas()
    feats = [{"type": "Feature", "properties": {"code": c, "name": n},
              "geometry": json.loads(shapely.to_geojson(g))}
             for c, n, g in zip(codes, names, geoms, strict=True)]
    (HERE / "wards.geojson").write_text(json.dumps({"type": "FeatureCollection",
                                                     "features": feats}) + "\n")
    shp = HERE / "shp"
    shp.mkdir(exist_ok=True)
    _write(shp / "wards.shp", geoms, codes, names, "EPSG:4326", "ESRI Shapefile")
    with zipfile.ZipFile(HERE / "wards_shp.zip", "w", zipfile.ZIP_DEFLATED) as z:
        for f in sorted(shp.iterdir()):
            z.write(f, f"wards/{f.name}")
    # projected: UTM zone 37 south on WGS 84, as national mapping agencies often send
    to_utm = Transformer.from_crs("EPSG:4326", "EPSG:32737", always_xy=True)
    utm = [shapely.transform(g, lambda xy: np.column_stack(to_utm.transform(xy[:, 0], xy[:, 1])))
           for g in geoms]
    _write(HERE / "wards_utm37s.gpkg", utm, codes, names, "EPSG:32737", "GPKG")
    # invalid: ward w2 is a bow tie (its ring crosses itself)
    bad = list(geoms)
    bad[1] = shapely.Polygon([(36.8, -1.5), (37.0, -1.3), (37.0, -1.5), (36.8, -1.3)])
    _write(HERE / "wards_invalid.gpkg", bad, codes, names, "EPSG:4326", "GPKG")


if __name__ == "__main__":
    main()
