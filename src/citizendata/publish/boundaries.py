"""Area boundaries kept as a project reference table, for maps, area coarsening and GPS checks.

A boundary file (GeoJSON, a zipped Shapefile, the ``.shp`` with its sidecars, or a
GeoPackage) is checked once, on upload, and stored in a canonical form: a GeoJSON
FeatureCollection of Polygon and MultiPolygon features in WGS 84 longitude/latitude,
each with a unique text ``code`` property (the area code used in the project's
dimensions) and an optional ``name``; positions rounded to 6 decimals (about 0.1 m);
keys sorted; features in code order. The same areas therefore give the same bytes and
hash, whatever tool wrote them. Shapefiles and GeoPackages are read by GDAL (pyogrio)
and reprojected to WGS 84 with PROJ (pyproj) when they carry another CRS. Geometries
that are not valid (self-intersections, empty) are refused, naming the feature and
shapely's reason: point-in-polygon answers on them would be arbitrary.
"""

from __future__ import annotations

import contextlib
import json
import math
import re
import tempfile
import threading
import warnings
import zipfile
from collections.abc import Iterator, Mapping
from pathlib import Path, PurePosixPath
from typing import Any

from citizendata.errors import BadInput, Problem, Where

__all__ = ["canonical_boundaries", "dump_boundaries", "file_kind", "parse_boundaries",
           "read_boundaries_file"]

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


def _polygon(rings: Any, where: str, problems: list[Problem], i: int,
             code: str = "import.invalid_geojson") -> list[list[list[float]]]:
    out = []
    if not isinstance(rings, list) or not rings:
        problems.append(Problem(code, f"{where} has no rings",
                                Where(field="geometry.coordinates", position=i)))
        return []
    for ring in rings:
        pts = [_position(p) for p in ring] if isinstance(ring, list) else [None]
        if any(p is None for p in pts) or len(pts) < 4:
            problems.append(Problem(
                code,
                f"{where} has a ring that is not at least 4 [longitude, latitude] positions "
                "within [-180, 180] × [-90, 90]", Where(field="geometry.coordinates", position=i)))
            return []
        clean = [p for p in pts if p is not None]
        if clean[0] != clean[-1]:
            clean.append(clean[0])  # RFC 7946 rings are closed; close an open one
        out.append(clean)
    return out


def parse_boundaries(data: bytes | str | Mapping[str, Any], name: str = "boundaries", *,
                     error: str = "import.invalid_geojson", validate: bool = False
                     ) -> dict[str, Any]:
    """Check a GeoJSON FeatureCollection of areas and return it in canonical form.

    Structural problems carry the code ``error``. With ``validate`` (as on upload),
    geometries GEOS finds invalid (self-intersecting, overlapping parts, empty) are
    ``geo.invalid_boundaries``, naming the feature and the reason.
    """
    where_file = Where(file=name)
    if isinstance(data, Mapping):
        doc: Any = data
    else:
        try:
            doc = json.loads(data.decode("utf-8-sig") if isinstance(data, bytes) else data)
        except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
            raise BadInput(error, f"{name!r} is not UTF-8 JSON: {exc}",
                           where=where_file) from exc
    if not isinstance(doc, Mapping) or doc.get("type") != "FeatureCollection" \
            or not isinstance(doc.get("features"), list) or not doc["features"]:
        raise BadInput(error, f"{name!r} is not a GeoJSON FeatureCollection with features",
                       where=where_file)
    problems: list[Problem] = []
    features: dict[str, tuple[int, dict[str, Any]]] = {}
    for i, feat in enumerate(doc["features"]):
        got = _feature(feat, i, features, problems, error)
        if got is not None:
            features[got["properties"]["code"]] = (i, got)
        if len(problems) >= _MAX_PROBLEMS:
            break
    if problems:
        raise BadInput(error, f"{name!r} has {len(problems)} problem(s); nothing was stored: "
                       + "; ".join(p.message for p in problems[:5]),
                       where=where_file, problems=problems)
    if validate:
        _check_geometries(list(features.values()), name)
    return {"type": "FeatureCollection",
            "features": [features[c][1] for c in sorted(features)]}


def _feature(feat: Any, i: int, seen: Mapping[str, Any], problems: list[Problem],
             error: str) -> dict[str, Any] | None:
    """One feature in canonical form, or None with its problems recorded."""
    props = feat.get("properties") if isinstance(feat, Mapping) else None
    code = props.get("code") if isinstance(props, Mapping) else None
    if not isinstance(code, (str, int)) or isinstance(code, bool) or str(code) == "":
        problems.append(Problem(error, f"feature {i} has no 'code' property (the area code)",
                                Where(field="properties.code", position=i)))
        return None
    code = str(code)
    if code in seen:
        problems.append(Problem(error, f"area code {code!r} appears twice (features "
                                f"{seen[code][0]} and {i})",
                                Where(field="properties.code", position=i)))
        return None
    geom = feat.get("geometry") if isinstance(feat, Mapping) else None
    kind = geom.get("type") if isinstance(geom, Mapping) else None
    coords = geom.get("coordinates") if isinstance(geom, Mapping) else None
    label = f"feature {i} (area {code!r})"
    if kind == "Polygon":
        polys = [_polygon(coords, label, problems, i, error)]
    elif kind == "MultiPolygon" and isinstance(coords, list) and coords:
        polys = [_polygon(p, label, problems, i, error) for p in coords]
    else:
        problems.append(Problem(error, f"{label} is a {kind or 'missing geometry'}, not a "
                                "Polygon or MultiPolygon", Where(field="geometry.type", position=i)))
        return None
    if not all(polys):
        return None
    feature_props = {"code": code}
    if isinstance(props, Mapping) and props.get("name") not in (None, ""):
        feature_props["name"] = str(props["name"])
    geometry = ({"type": "Polygon", "coordinates": polys[0]} if kind == "Polygon"
                else {"type": "MultiPolygon", "coordinates": polys})
    return {"type": "Feature", "properties": feature_props, "geometry": geometry}


def _check_geometries(features: list[tuple[int, dict[str, Any]]], name: str) -> None:
    """Refuse geometries GEOS finds invalid, naming each feature and shapely's reason."""
    import shapely

    geoms = shapely.from_geojson([json.dumps(f["geometry"]) for _, f in features])
    reasons = shapely.is_valid_reason(geoms)
    empty = shapely.is_empty(geoms)
    problems = []
    for (i, f), reason, is_empty in zip(features, reasons, empty, strict=True):
        if is_empty or reason != "Valid Geometry":
            why = "it is empty" if is_empty else reason
            problems.append(Problem("geo.invalid_boundaries",
                                    f"feature {i} (area {f['properties']['code']!r}) is not a "
                                    f"valid polygon: {why}", Where(field="geometry", position=i)))
    if problems:
        raise BadInput("geo.invalid_boundaries",
                       f"{name!r} has {len(problems)} invalid geometr"
                       f"{'y' if len(problems) == 1 else 'ies'}; nothing was stored: "
                       + "; ".join(p.message for p in problems[:5]),
                       where=Where(file=name), problems=problems[:_MAX_PROBLEMS],
                       fix="Repair them in a GIS (QGIS: Fix geometries; GDAL: "
                           "ogr2ogr -makevalid) and upload the file again.")


def dump_boundaries(doc: Mapping[str, Any]) -> bytes:
    """Canonical bytes of a parsed collection (stable: a stored file dumps to itself)."""
    text = json.dumps(doc, sort_keys=True, ensure_ascii=False, separators=(",", ":")) + "\n"
    return text.encode("utf-8")


def canonical_boundaries(data: bytes, name: str = "boundaries") -> tuple[bytes, dict[str, Any]]:
    """The canonical bytes of a boundary file (GeoJSON, zipped Shapefile, GeoPackage) and the
    parsed collection."""
    doc = read_boundaries_file(data, name)
    return dump_boundaries(doc), doc


_ZIP, _SQLITE = b"PK\x03\x04", b"SQLite format 3\x00"
_SHP = b"\x00\x00\x27\x0a"  # a Shapefile's file code, big-endian 9994
# a GeoPackage's SQLite application_id (header offset 68): "GPKG", or "GP10"/"GP11" of 1.0/1.1
_GPKG_IDS = (b"GPKG", b"GP10", b"GP11")
_MAX_UNZIPPED = 200 * 2**20  # a zip that inflates beyond this is refused (zip bombs)
_CHUNK = 2**20
_SIDECARS = (".shp", ".shx", ".dbf", ".prj", ".cpg")
_WGS84 = ("EPSG:4326", "OGC:CRS84")
# the only GDAL drivers we let read an upload; GDAL picks its driver from the content, and
# some (OGR VRT, CSV, SQLite SQL) read other files of the server or URLs
_DRIVERS = {".shp": "ESRI Shapefile", ".gpkg": "GPKG"}
# set around every GDAL read: no SQL function reaching outside the file (GeoPackage views),
# no /vsicurl/ or other network access. (GDAL_SKIP cannot help: it is read only when the
# drivers are registered, i.e. when pyogrio is imported.)
_GDAL_SAFE = {"OGR_SQLITE_ALLOW_EXTERNAL_ACCESS": "NO",
              "CPL_VSIL_CURL_ALLOWED_EXTENSIONS": ".citizendata-no-network",
              "GDAL_HTTP_MAX_RETRY": "0", "GDAL_HTTP_TIMEOUT": "1",
              "GDAL_DISABLE_READDIR_ON_OPEN": "EMPTY_DIR"}
_GDAL_LOCK = threading.Lock()


def file_kind(data: bytes) -> str:
    """'zip', 'gpkg' or 'geojson', from the first bytes (names and extensions lie)."""
    if data.startswith(_ZIP):
        return "zip"
    if data.startswith(_SQLITE):
        return "gpkg"
    return "geojson"


def read_boundaries_file(source: bytes | str | Path, name: str | None = None, *,
                         code_field: str = "code", name_field: str = "name",
                         layer: str | None = None) -> dict[str, Any]:
    """Areas from a GeoJSON, zipped Shapefile, ``.shp`` (sidecars beside it) or GeoPackage.

    ``source`` is the file's bytes or its path. The area code is the ``code_field``
    attribute (matched without regard to case: DBF field names are often upper case).
    Returns the canonical GeoJSON collection in WGS 84; refuses with
    ``geo.invalid_boundaries`` (or ``import.invalid_geojson`` for a malformed GeoJSON).
    GeoJSON is read by our own parser; GDAL only ever opens a file whose first bytes are
    a Shapefile's or a GeoPackage's, and only with those two drivers.
    """
    if isinstance(source, (str, Path)):
        path = Path(source)
        name = name or path.name
        if path.suffix.lower() == ".shp":
            with path.open("rb") as f:
                _check_magic(f.read(100), ".shp", name)
            return _read_ogr(path, name, code_field, name_field, layer)
        source = path.read_bytes()
    name = name or "boundaries"
    kind = file_kind(source)
    if kind == "geojson":
        return _read_json(source, name, code_field, name_field, "import.invalid_geojson")
    if kind == "gpkg":
        _check_magic(source[:100], ".gpkg", name)
        return _read_via_tempfile(source, ".gpkg", name, code_field, name_field, layer)
    return _read_zip(source, name, code_field, name_field, layer)


def _check_magic(head: bytes, suffix: str, name: str) -> None:
    """Refuse a .shp / .gpkg whose first bytes are not a Shapefile's / a GeoPackage's."""
    if suffix == ".shp":
        ok = head.startswith(_SHP)
        what = "a Shapefile (its .shp does not begin with the Shapefile file code)"
    else:
        ok = head.startswith(_SQLITE) and head[68:72] in _GPKG_IDS
        what = "a GeoPackage (an SQLite file without the GeoPackage application id)"
    if not ok:
        raise BadInput("geo.invalid_boundaries", f"{name!r} is not {what}",
                       where=Where(file=name),
                       fix="Send GeoJSON, a zipped Shapefile or a GeoPackage.")


def _read_json(data: bytes, name: str, code_field: str, name_field: str, error: str
               ) -> dict[str, Any]:
    """GeoJSON with our own parser (never GDAL): code and name taken from the named fields."""
    if code_field == "code" and name_field == "name":
        return parse_boundaries(data, name, error=error, validate=True)
    try:
        doc = json.loads(data.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise BadInput(error, f"{name!r} is not UTF-8 JSON: {exc}",
                       where=Where(file=name)) from exc
    feats = doc.get("features") if isinstance(doc, dict) else None
    if isinstance(feats, list):
        for feat in feats:
            props = feat.get("properties") if isinstance(feat, dict) else None
            if isinstance(props, dict):
                lower = {str(k).lower(): v for k, v in props.items()}
                feat["properties"] = {"code": lower.get(code_field.lower()),
                                      "name": lower.get(name_field.lower())}
    return parse_boundaries(doc, name, error=error, validate=True)


def _read_via_tempfile(data: bytes, suffix: str, name: str, code_field: str, name_field: str,
                       layer: str | None) -> dict[str, Any]:
    # GDAL picks its driver by extension and warns on a GeoPackage in /vsimem/ without one
    with tempfile.TemporaryDirectory(prefix="citizendata-boundaries-") as tmp:
        path = Path(tmp) / f"boundaries{suffix}"
        path.write_bytes(data)
        return _read_ogr(path, name, code_field, name_field, layer)


def _extract(z: zipfile.ZipFile, m: zipfile.ZipInfo, dest: Path, used: int, name: str) -> int:
    """Stream one member to ``dest`` in 1 MiB chunks, counting the bytes really inflated
    (a member's declared size may lie); refuse past the limit. Returns the new total."""
    with z.open(m) as src, dest.open("wb") as out:
        while chunk := src.read(_CHUNK):
            used += len(chunk)
            if used > _MAX_UNZIPPED:
                raise BadInput("geo.invalid_boundaries", f"{name!r} unzips to more than "
                               f"{_MAX_UNZIPPED // 2**20} MB", where=Where(file=name))
            out.write(chunk)
    return used


def _read_zip(data: bytes, name: str, code_field: str, name_field: str, layer: str | None
              ) -> dict[str, Any]:
    """A zipped Shapefile (or GeoPackage / GeoJSON) as people send them, folders and all."""
    where = Where(file=name)
    try:
        with zipfile.ZipFile(_bytes_io(data)) as z:
            members = [m for m in z.infolist() if not m.is_dir()
                       and not PurePosixPath(m.filename).name.startswith(".")
                       and "__MACOSX" not in m.filename]
            if sum(m.file_size for m in members) > _MAX_UNZIPPED:
                raise BadInput("geo.invalid_boundaries", f"{name!r} unzips to more than "
                               f"{_MAX_UNZIPPED // 2**20} MB", where=where)
            data_files = [m for m in members if PurePosixPath(m.filename).suffix.lower()
                          in (".shp", ".gpkg", ".geojson", ".json")]
            if len(data_files) != 1:
                found = sorted(m.filename for m in data_files)
                raise BadInput("geo.invalid_boundaries",
                               f"{name!r} holds {len(data_files)} boundary files {found}; "
                               "give a zip with exactly one (.shp with its .shx, .dbf and "
                               ".prj, or a .gpkg)", where=where)
            main = PurePosixPath(data_files[0].filename)
            suffix = main.suffix.lower()
            label = f"{name}/{main.name}"
            with tempfile.TemporaryDirectory(prefix="citizendata-boundaries-") as tmp:
                used = 0
                for m in members:
                    p = PurePosixPath(m.filename)
                    # only the main file and its sidecars, flattened: no path from the zip
                    # is ever used as a path here
                    if p.parent == main.parent and p.stem.lower() == main.stem.lower() \
                            and p.suffix.lower() in (*_SIDECARS, suffix):
                        used = _extract(z, m, Path(tmp) / f"boundaries{p.suffix.lower()}",
                                        used, name)
                path = Path(tmp) / f"boundaries{suffix}"
                if suffix in (".json", ".geojson"):
                    return _read_json(path.read_bytes(), label, code_field, name_field,
                                      "geo.invalid_boundaries")
                with path.open("rb") as f:
                    _check_magic(f.read(100), suffix, label)
                if suffix == ".shp":
                    missing = [s for s in (".shx", ".dbf")
                               if not (Path(tmp) / f"boundaries{s}").exists()]
                    if missing:
                        raise BadInput("geo.invalid_boundaries",
                                       f"{name!r}: the Shapefile {main.name!r} comes without "
                                       f"its {' and '.join(missing)} file(s)", where=where)
                return _read_ogr(path, label, code_field, name_field, layer)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, EOFError) as exc:
        raise BadInput("geo.invalid_boundaries", f"{name!r} is not a readable zip: {exc}",
                       where=where) from exc


def _bytes_io(data: bytes) -> Any:
    import io

    return io.BytesIO(data)


@contextlib.contextmanager
def _gdal_locked_down() -> Iterator[None]:
    """GDAL config options that keep a read inside the file, restored afterwards."""
    import pyogrio

    # the options are process-wide (pyogrio has no thread-local setter): one read at a
    # time, so a concurrent upload cannot restore the old values in the middle of ours
    with _GDAL_LOCK:
        before = {k: pyogrio.get_gdal_config_option(k) for k in _GDAL_SAFE}
        pyogrio.set_gdal_config_options(_GDAL_SAFE)
        try:
            yield
        finally:
            pyogrio.set_gdal_config_options(before)


def _gdal_message(exc: Exception, path: Path, name: str) -> str:
    """GDAL's message with the server's temporary path replaced by the uploaded file's name."""
    text = str(exc).replace(str(path), name).replace(str(path.parent), "")
    return re.sub(r"\S*citizendata-boundaries-\S*", name, text)


def _read_layer(path: Path, name: str, layer: str | None) -> tuple[Any, Any, Any]:
    """The layer's metadata, WKB and attribute arrays, read by the Shapefile or GPKG driver
    only (the caller checked the first bytes; the driver GDAL chose is checked again)."""
    import pyogrio
    from pyogrio import raw

    where = Where(file=name)
    expected = _DRIVERS[path.suffix.lower()]
    # GDAL's warnings name the server's temporary path: not for the log, nor an error in tests
    with _gdal_locked_down(), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        try:
            layers = pyogrio.list_layers(str(path))
            polygonal = [str(n) for n, t in layers if t is None
                         or "polygon" in str(t).lower() or str(t) == "Unknown"]
            if layer is None:
                if len(polygonal) != 1:
                    raise BadInput("geo.invalid_boundaries",
                                   f"{name!r} has {len(polygonal)} polygon layers "
                                   f"{polygonal}; name the layer to use", where=where)
                layer = polygonal[0]
            driver = pyogrio.read_info(str(path), layer=layer)["driver"]
            if driver != expected:
                raise BadInput("geo.invalid_boundaries", f"{name!r} is not a "
                               f"{'Shapefile' if expected != 'GPKG' else 'GeoPackage'}",
                               where=where)
            meta, _, wkb, values = raw.read(str(path), layer=layer, force_2d=True)
        except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError,
                pyogrio.errors.FieldError, pyogrio.errors.GeometryError,
                pyogrio.errors.FeatureError, pyogrio.errors.CRSError) as exc:
            raise BadInput("geo.invalid_boundaries", f"GDAL cannot read {name!r} as a "
                           f"{expected} file: {_gdal_message(exc, path, name)}",
                           where=where) from exc
    return meta, wkb, values


def _read_ogr(path: Path, name: str, code_field: str, name_field: str, layer: str | None
              ) -> dict[str, Any]:
    """Read one polygon layer with GDAL, reproject to WGS 84 and parse it canonically."""
    import numpy as np
    import shapely

    meta, wkb, values = _read_layer(path, name, layer)
    fields = [str(f) for f in meta["fields"]]
    lower = {f.lower(): k for k, f in enumerate(fields)}
    if code_field.lower() not in lower:
        raise BadInput("geo.invalid_boundaries", f"{name!r} has no {code_field!r} attribute "
                       f"(the area code); its attributes are {fields}",
                       where=Where(file=name, field=code_field))
    codes = values[lower[code_field.lower()]]
    names = values[lower[name_field.lower()]] if name_field.lower() in lower else None
    raw_wkb = np.asarray(wkb, dtype=object)
    geoms = shapely.from_wkb(raw_wkb, on_invalid="ignore")
    unreadable = [i for i in np.flatnonzero(shapely.is_missing(geoms)).tolist()
                  if raw_wkb[i] is not None]
    if unreadable:
        raise BadInput("geo.invalid_boundaries",
                       f"{name!r}: GEOS cannot read the geometry of feature(s) "
                       f"{[f'{i} (area {codes[i]!r})' for i in unreadable[:10]]} (an unclosed "
                       "ring, or a ring of fewer than 4 points)", where=Where(file=name),
                       problems=[Problem("geo.invalid_boundaries", f"feature {i}: unreadable "
                                         "geometry", Where(field="geometry", position=i))
                                 for i in unreadable[:_MAX_PROBLEMS]])
    geoms = _to_wgs84(geoms, meta.get("crs"), name)
    # RFC 7946 rings (exterior counter-clockwise; Shapefiles store it clockwise), and one
    # part as a Polygon (Shapefiles cannot tell them apart, GDAL promotes to multi)
    geoms = shapely.orient_polygons(geoms, exterior_cw=False)
    single = (shapely.get_type_id(geoms) == 6) & (shapely.get_num_geometries(geoms) == 1)
    geoms[single] = shapely.get_geometry(geoms[single], 0)
    feats = []
    for i, g in enumerate(geoms):
        code = codes[i]
        code = None if code is None or (isinstance(code, float) and math.isnan(code)) else (
            str(int(code)) if isinstance(code, (float, np.floating)) and float(code).is_integer()
            else str(code))
        props: dict[str, Any] = {"code": code}
        if names is not None and names[i] not in (None, ""):
            props["name"] = str(names[i])
        geometry = None if g is None else json.loads(shapely.to_geojson(g))
        feats.append({"type": "Feature", "properties": props, "geometry": geometry})
    return parse_boundaries({"type": "FeatureCollection", "features": feats}, name,
                            error="geo.invalid_boundaries", validate=True)


def _to_wgs84(geoms: Any, crs: str | None, name: str) -> Any:
    """Longitude/latitude on WGS 84, whatever the file's CRS (PROJ via pyproj)."""
    import numpy as np
    import shapely

    where = Where(file=name)
    if crs is None:
        # no .prj: only plain longitude/latitude can be taken at its word
        xmin, ymin, xmax, ymax = shapely.total_bounds(geoms)
        if -180 <= xmin <= xmax <= 180 and -90 <= ymin <= ymax <= 90:
            return geoms
        raise BadInput("geo.invalid_boundaries", f"{name!r} has no coordinate reference "
                       "system (a Shapefile without its .prj) and its coordinates are not "
                       "longitude/latitude", where=where,
                       fix="Include the .prj file, or reproject to WGS 84 (EPSG:4326).")
    if crs.upper() in _WGS84:
        return geoms
    try:
        from pyproj import CRS, Transformer
        from pyproj.exceptions import CRSError
    except ImportError as exc:  # pragma: no cover - pyproj is a dependency
        raise BadInput("geo.invalid_boundaries", f"{name!r} is in {crs}; without pyproj "
                       "only WGS 84 (EPSG:4326) can be read", where=where) from exc
    try:
        source = CRS.from_user_input(crs)
        if source.equals(CRS.from_epsg(4326), ignore_axis_order=True):
            return geoms
        tr = Transformer.from_crs(source, "EPSG:4326", always_xy=True)
    except CRSError as exc:
        raise BadInput("geo.invalid_boundaries", f"{name!r} has a coordinate reference system "
                       f"PROJ does not know ({crs}): {exc}", where=where) from exc

    def project(xy: Any) -> Any:
        x, y = tr.transform(xy[:, 0], xy[:, 1])
        return np.column_stack([x, y])

    out = shapely.transform(geoms, project)
    bad = ~np.isfinite(shapely.get_coordinates(out)).all()
    if bad:
        raise BadInput("geo.invalid_boundaries", f"{name!r}: some coordinates cannot be "
                       f"projected from {crs} to WGS 84", where=where)
    return out
