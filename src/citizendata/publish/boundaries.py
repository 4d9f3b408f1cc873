"""Area boundaries (GeoJSON) kept as a project reference table, for maps and area coarsening.

A boundary file is checked once, on upload, and stored in a canonical form: a
FeatureCollection of Polygon and MultiPolygon features, each with a unique text
``code`` property (the area code used in the project's dimensions) and an optional
``name``; positions rounded to 6 decimals (about 0.1 m); keys sorted; features in code
order. The same areas therefore give the same bytes and hash, whatever tool wrote them.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

from citizendata.errors import BadInput, Problem, Where

__all__ = ["canonical_boundaries", "dump_boundaries", "parse_boundaries"]

COORD_DECIMALS = 6
_MAX_PROBLEMS = 50


def _position(p: Any) -> list[float] | None:
    """A [lon, lat] position in range, rounded; None when it is not one."""
    if not isinstance(p, (list, tuple)) or len(p) < 2:
        return None
    try:
        lon, lat = float(p[0]), float(p[1])
    except (TypeError, ValueError):
        return None
    if not (math.isfinite(lon) and math.isfinite(lat) and -180 <= lon <= 180 and -90 <= lat <= 90):
        return None
    return [round(lon, COORD_DECIMALS), round(lat, COORD_DECIMALS)]


def _polygon(rings: Any, where: str, problems: list[Problem], i: int) -> list[list[list[float]]]:
    out = []
    if not isinstance(rings, list) or not rings:
        problems.append(Problem("import.invalid_geojson", f"{where} has no rings",
                                Where(field="geometry.coordinates", position=i)))
        return []
    for ring in rings:
        pts = [_position(p) for p in ring] if isinstance(ring, list) else [None]
        if any(p is None for p in pts) or len(pts) < 4:
            problems.append(Problem(
                "import.invalid_geojson",
                f"{where} has a ring that is not at least 4 [longitude, latitude] positions "
                "within [-180, 180] × [-90, 90]", Where(field="geometry.coordinates", position=i)))
            return []
        clean = [p for p in pts if p is not None]
        if clean[0] != clean[-1]:
            clean.append(clean[0])  # RFC 7946 rings are closed; close an open one
        out.append(clean)
    return out


def parse_boundaries(data: bytes | str | Mapping[str, Any], name: str = "boundaries"
                     ) -> dict[str, Any]:
    """Check a GeoJSON FeatureCollection of areas and return it in canonical form."""
    where_file = Where(file=name)
    if isinstance(data, Mapping):
        doc: Any = data
    else:
        try:
            doc = json.loads(data.decode("utf-8-sig") if isinstance(data, bytes) else data)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise BadInput("import.invalid_geojson", f"{name!r} is not UTF-8 JSON: {exc}",
                           where=where_file) from exc
    if not isinstance(doc, Mapping) or doc.get("type") != "FeatureCollection" \
            or not isinstance(doc.get("features"), list) or not doc["features"]:
        raise BadInput("import.invalid_geojson",
                       f"{name!r} is not a GeoJSON FeatureCollection with features",
                       where=where_file)
    problems: list[Problem] = []
    features: dict[str, dict[str, Any]] = {}
    for i, feat in enumerate(doc["features"]):
        props = feat.get("properties") if isinstance(feat, Mapping) else None
        code = props.get("code") if isinstance(props, Mapping) else None
        if not isinstance(code, (str, int)) or isinstance(code, bool) or str(code) == "":
            problems.append(Problem("import.invalid_geojson",
                                    f"feature {i} has no 'code' property (the area code)",
                                    Where(field="properties.code", position=i)))
            continue
        code = str(code)
        if code in features:
            problems.append(Problem("import.invalid_geojson", f"area code {code!r} appears twice",
                                    Where(field="properties.code", position=i)))
            continue
        geom = feat.get("geometry") if isinstance(feat, Mapping) else None
        kind = geom.get("type") if isinstance(geom, Mapping) else None
        coords = geom.get("coordinates") if isinstance(geom, Mapping) else None
        label = f"area {code!r}"
        if kind == "Polygon":
            polys = [_polygon(coords, label, problems, i)]
        elif kind == "MultiPolygon" and isinstance(coords, list) and coords:
            polys = [_polygon(p, label, problems, i) for p in coords]
        else:
            problems.append(Problem("import.invalid_geojson",
                                    f"{label} is a {kind or 'missing geometry'}, not a Polygon "
                                    "or MultiPolygon", Where(field="geometry.type", position=i)))
            continue
        if not all(polys):
            continue
        feature_props = {"code": code}
        if isinstance(props, Mapping) and props.get("name") not in (None, ""):
            feature_props["name"] = str(props["name"])
        geometry = ({"type": "Polygon", "coordinates": polys[0]} if kind == "Polygon"
                    else {"type": "MultiPolygon", "coordinates": polys})
        features[code] = {"type": "Feature", "properties": feature_props, "geometry": geometry}
        if len(problems) >= _MAX_PROBLEMS:
            break
    if problems:
        raise BadInput("import.invalid_geojson",
                       f"{name!r} has {len(problems)} problem(s); nothing was stored: "
                       + "; ".join(p.message for p in problems[:5]),
                       where=where_file, problems=problems)
    return {"type": "FeatureCollection", "features": [features[c] for c in sorted(features)]}


def dump_boundaries(doc: Mapping[str, Any]) -> bytes:
    """Canonical bytes of a parsed collection (stable: a stored file dumps to itself)."""
    text = json.dumps(doc, sort_keys=True, ensure_ascii=False, separators=(",", ":")) + "\n"
    return text.encode("utf-8")


def canonical_boundaries(data: bytes, name: str = "boundaries") -> tuple[bytes, dict[str, Any]]:
    """The canonical bytes of a boundary file and the parsed collection."""
    doc = parse_boundaries(data, name)
    return dump_boundaries(doc), doc
