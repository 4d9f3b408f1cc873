"""Places: boundary files of every format, point-in-polygon, distances, GPS checks, interpolation."""

from __future__ import annotations

import io
import json
import sqlite3
import struct
import tempfile
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st
from pyogrio import raw
from pyproj import Geod
from typer.testing import CliRunner

from citizendata.cli import app
from citizendata.errors import BadInput
from citizendata.integrate.places import (
    Areas,
    areal_interpolate,
    assign_areas,
    check_points,
    equal_area_m2,
    haversine_m,
    population_weighted_mean,
)
from citizendata.integrate.places.grid import BOUNDARY, GridIndex
from citizendata.publish.boundaries import dump_boundaries, read_boundaries_file

DATA = Path(__file__).parent / "data" / "places"
runner = CliRunner()


@pytest.fixture(scope="module")
def wards() -> Areas:
    return Areas.read(DATA / "wards.geojson")


# -- boundary files --------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["wards_shp.zip", "wards_utm37s.gpkg", "shp/wards.shp"])
def test_shapefile_and_geopackage_give_the_geojson_bytes(name: str) -> None:
    # GDAL wrote these (make_fixtures.py); the GeoPackage is in UTM 37S and is reprojected
    expected = dump_boundaries(read_boundaries_file(DATA / "wards.geojson"))
    source = DATA / name
    got = read_boundaries_file(source if name.endswith(".shp") else source.read_bytes(), name)
    assert dump_boundaries(got) == expected


def test_an_invalid_geometry_is_named_with_shapelys_reason() -> None:
    with pytest.raises(BadInput) as e:
        read_boundaries_file((DATA / "wards_invalid.gpkg").read_bytes(), "wards_invalid.gpkg")
    assert e.value.code == "geo.invalid_boundaries"
    (problem,) = e.value.problems
    assert "feature 1 (area 'w2')" in problem.message and "Self-intersection" in problem.message
    assert problem.where is not None and problem.where.position == 1


def test_an_unclosed_ring_written_by_gdal_is_named(tmp_path: Path) -> None:
    # GDAL writes the ring as given (4 points, first != last); GEOS cannot read it
    ring = struct.pack("<BII", 1, 3, 1) + struct.pack("<I", 4) + struct.pack(
        "<8d", 36.0, -1.0, 36.1, -1.0, 36.1, -0.9, 36.0, -0.9)
    path = tmp_path / "open.gpkg"
    raw.write(str(path), np.array([shapely.to_wkb(shapely.box(37, -1, 37.1, -0.9)), ring],
                                  dtype=object),
              [np.array(["a", "b"], dtype=object)], ["code"], driver="GPKG",
              geometry_type="Polygon", crs="EPSG:4326")
    with pytest.raises(BadInput) as e:
        read_boundaries_file(path.read_bytes(), "open.gpkg")
    assert e.value.code == "geo.invalid_boundaries" and "1 (area 'b')" in str(e.value)


def _fc(*features: dict) -> bytes:
    return json.dumps({"type": "FeatureCollection", "features": list(features)}).encode()


def _sq(code: object, x: float, y: float, s: float = 1.0) -> dict:
    ring = [[x, y], [x + s, y], [x + s, y + s], [x, y + s], [x, y]]
    return {"type": "Feature", "properties": {"code": code},
            "geometry": {"type": "Polygon", "coordinates": [ring]}}


def test_geojson_problems_named_duplicate_missing_and_empty() -> None:
    with pytest.raises(BadInput) as e:
        read_boundaries_file(_fc(_sq("a", 0, 0), _sq("a", 2, 0),
                                 {"type": "Feature", "properties": {}, "geometry": None}))
    msgs = [p.message for p in e.value.problems]
    assert any("'a' appears twice (features 0 and 1)" in m for m in msgs)
    assert any("feature 2 has no 'code'" in m for m in msgs)
    overlap = {"type": "Feature", "properties": {"code": "m"}, "geometry": {
        "type": "MultiPolygon", "coordinates": [_sq("x", 0, 0)["geometry"]["coordinates"],
                                                _sq("x", 0.5, 0)["geometry"]["coordinates"]]}}
    with pytest.raises(BadInput) as e:
        read_boundaries_file(_fc(_sq("a", 5, 5), overlap))
    assert e.value.code == "geo.invalid_boundaries" and "area 'm'" in str(e.value)


def test_a_zip_without_its_dbf_or_with_two_shapefiles_is_refused() -> None:
    src = zipfile.ZipFile(DATA / "wards_shp.zip")
    for drop, twice, expect in ((".dbf", False, "without its .dbf"), (None, True, "holds 2")):
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as z:
            for m in src.namelist():
                if drop and m.endswith(drop):
                    continue
                z.writestr(m, src.read(m))
                if twice:
                    z.writestr(m.replace("wards/", "copy/"), src.read(m))
        with pytest.raises(BadInput) as e:
            read_boundaries_file(buf.getvalue(), "w.zip")
        assert e.value.code == "geo.invalid_boundaries" and expect in str(e.value)


# -- uploads GDAL must not be handed (review of issue 20) ---------------------------------------

_SECRET = "SECRET-ROW-7f3a"


def _vrts(tmp: Path) -> dict[str, bytes]:
    """OGR VRT files that would read a server file, and the workspace SQLite via SQL."""
    (tmp / "secret.csv").write_text(f'code,name,WKT\n{_SECRET},private,'
                                    '"POLYGON((0 0,1 0,1 1,0 1,0 0))"\n')
    db = tmp / "ws.db"
    con = sqlite3.connect(db)
    con.execute("create table users(username text, password_hash text)")
    con.execute("insert into users values ('admin', ?)", (f"pbkdf2${_SECRET}",))
    con.commit()
    con.close()
    layer = ("<GeometryType>wkbPolygon</GeometryType><LayerSRS>EPSG:4326</LayerSRS>"
             '<GeometryField encoding="WKT" field="WKT"/></OGRVRTLayer></OGRVRTDataSource>')
    csv = (f'<OGRVRTDataSource><OGRVRTLayer name="areas"><SrcDataSource>{tmp / "secret.csv"}'
           f"</SrcDataSource><SrcLayer>secret</SrcLayer>{layer}")
    sql = (f'<OGRVRTDataSource><OGRVRTLayer name="areas"><SrcDataSource>{db}</SrcDataSource>'
           '<SrcSQL dialect="SQLITE">SELECT username AS code, password_hash AS name, '
           "'POLYGON((0 0,1 0,1 1,0 1,0 0))' AS WKT FROM users</SrcSQL>" + layer)
    return {"csv": csv.encode(), "sqlite": sql.encode()}


def _zip(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for n, b in files.items():
            z.writestr(n, b)
    return buf.getvalue()


def _refused(source: bytes | Path, name: str, code: str = "geo.invalid_boundaries"
             ) -> BadInput:
    with pytest.raises(BadInput) as e:
        read_boundaries_file(source, name)
    text = str(e.value) + " ".join(p.message for p in e.value.problems)
    assert e.value.code == code
    assert _SECRET not in text and "pbkdf2" not in text and "citizendata-boundaries-" not in text
    return e.value


@pytest.mark.parametrize("vrt", ["csv", "sqlite"])
@pytest.mark.parametrize("member", ["areas.json", "areas.geojson", "areas.shp", "areas.gpkg",
                                    None, "direct.shp"])
def test_an_ogr_vrt_is_never_opened(tmp_path: Path, vrt: str, member: str | None) -> None:
    xml = _vrts(tmp_path)[vrt]
    if member is None:  # the VRT uploaded as it is: not JSON, as before
        assert "not UTF-8 JSON" in str(_refused(xml, "areas.json", "import.invalid_geojson"))
    elif member == "direct.shp":  # a path, as the library and CLI take a .shp
        (tmp_path / member).write_bytes(xml)
        _refused(tmp_path / member, member)
    else:
        sidecars = {"areas.shx": b"\0" * 100, "areas.dbf": b"\0" * 100}
        err = _refused(_zip({member: xml, **(sidecars if member.endswith(".shp") else {})}),
                       "up.zip")
        assert member in str(err)


def test_a_sqlite_database_that_is_not_a_geopackage_is_refused(tmp_path: Path) -> None:
    _vrts(tmp_path)
    _refused((tmp_path / "ws.db").read_bytes(), "ws.gpkg")
    _refused(_zip({"a.gpkg": (tmp_path / "ws.db").read_bytes()}), "up.zip")


def test_a_geopackage_view_cannot_read_server_files(tmp_path: Path) -> None:
    # a view may call GDAL's gdal_get_pixel_value() on any raster; we read with
    # OGR_SQLITE_ALLOW_EXTERNAL_ACCESS=NO even when the process has it on
    import pyogrio

    grid = tmp_path / "secret.asc"
    grid.write_text("ncols 1\nnrows 1\nxllcorner 0\nyllcorner 0\ncellsize 1\n12345\n")
    gpkg = tmp_path / "v.gpkg"
    gpkg.write_bytes((DATA / "wards_utm37s.gpkg").read_bytes())
    con = sqlite3.connect(gpkg)
    con.execute("create view v as select fid, geom, code, CAST(gdal_get_pixel_value("
                f"'{grid}', 1, 'pixel', 0, 0) AS TEXT) AS name from wards_utm37s")
    con.execute("insert into gpkg_contents (table_name, data_type, identifier, srs_id) "
                "select 'v', data_type, 'v', srs_id from gpkg_contents")
    con.execute("insert into gpkg_geometry_columns select 'v', column_name, "
                "geometry_type_name, srs_id, z, m from gpkg_geometry_columns")
    con.commit()
    con.close()
    pyogrio.set_gdal_config_options({"OGR_SQLITE_ALLOW_EXTERNAL_ACCESS": "YES"})
    try:
        assert raw.read(str(gpkg), layer="v")[3][1][0] == "12345.0"  # the attack works...
        doc = read_boundaries_file(gpkg.read_bytes(), "v.gpkg", layer="v")
        assert all("name" not in f["properties"] for f in doc["features"])  # ...not on us
        assert pyogrio.get_gdal_config_option("OGR_SQLITE_ALLOW_EXTERNAL_ACCESS") == "YES"
    finally:
        pyogrio.set_gdal_config_options({"OGR_SQLITE_ALLOW_EXTERNAL_ACCESS": None})


def test_gdal_errors_name_the_member_not_the_servers_temp_path() -> None:
    head = bytearray(b"SQLite format 3\0" + bytes(84))
    head[68:72] = b"GPKG"
    err = _refused(bytes(head) + b"junk" * 100, "areas.gpkg")
    assert "areas.gpkg" in str(err) and tempfile.gettempdir() not in str(err)
    shp = b"\x00\x00\x27\x0a" + bytes(96)
    err = _refused(_zip({"d/a.shp": shp, "d/a.shx": shp, "d/a.dbf": b"x"}), "up.zip")
    assert "up.zip/a.shp" in str(err) and tempfile.gettempdir() not in str(err)


def _patch_sizes(data: bytes, size: int) -> bytes:
    """A zip whose first member declares ``size`` uncompressed bytes (local and central)."""
    out = bytearray(data)
    struct.pack_into("<I", out, 22, size)
    cd = out.rindex(b"PK\x01\x02")
    struct.pack_into("<I", out, cd + 24, size)
    return bytes(out)


def test_a_zip_bomb_is_refused_quickly_in_bounded_memory() -> None:
    import time
    import tracemalloc

    zeros = bytes(2**20)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z, \
            z.open("a.shp", "w", force_zip64=True) as f:
        for _ in range(64):
            f.write(zeros)  # 64 MiB inflated, ~64 KB in the zip
    honest = buf.getvalue()
    with zipfile.ZipFile(io.BytesIO(honest), "a") as z:
        z.writestr("a.shx", b"x")
        z.writestr("a.dbf", b"x")
    tracemalloc.start()
    t0 = time.perf_counter()
    try:
        # declared small: inflation stops at the declared size, the CRC then fails
        err = _refused(_patch_sizes(honest, 1000), "bomb.zip")
        assert "not a readable zip" in str(err)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert time.perf_counter() - t0 < 5 and peak < 16 * 2**20
    # declared as it is, beyond the limit: refused before anything is inflated
    assert "unzips to more than" in str(_refused(_patch_sizes(honest, 300 * 2**20), "b.zip"))


def test_unzipping_counts_real_bytes_and_stops_at_the_limit(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from citizendata.publish import boundaries

    monkeypatch.setattr(boundaries, "_MAX_UNZIPPED", 3 * 2**20)
    data = _zip({"a.shp": bytes(2 * 2**20), "b.shp": bytes(2 * 2**20)})
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        used = boundaries._extract(z, z.getinfo("a.shp"), tmp_path / "a", 0, "up.zip")
        assert used == 2 * 2**20
        with pytest.raises(BadInput) as e:
            boundaries._extract(z, z.getinfo("b.shp"), tmp_path / "b", used, "up.zip")
    assert e.value.code == "geo.invalid_boundaries" and "more than 3 MB" in str(e.value)
    assert (tmp_path / "b").stat().st_size <= 2 * 2**20


def test_deeply_nested_json_in_a_zip_is_a_coded_refusal() -> None:
    # the service checks the depth of a GeoJSON upload, not of a zip's member
    err = _refused(_zip({"a.json": b'{"a":' + b"[" * 200_000}), "d.zip")
    assert "d.zip/a.json" in str(err)


def test_geojson_with_other_field_names_is_read_without_gdal(
        monkeypatch: pytest.MonkeyPatch) -> None:
    import pyogrio

    def no_gdal(*a: object, **k: object) -> None:
        raise AssertionError("GDAL opened a GeoJSON")

    monkeypatch.setattr(pyogrio, "list_layers", no_gdal)
    doc = json.loads((DATA / "wards.geojson").read_bytes())
    for f in doc["features"]:
        f["properties"] = {"WARD_ID": f["properties"]["code"], "Label": "x"}
    data = json.dumps(doc).encode()
    got = read_boundaries_file(data, code_field="ward_id", name_field="label")
    zipped = read_boundaries_file(_zip({"w/wards.geojson": data}), "w.zip",
                                  code_field="ward_id", name_field="label")
    assert got == zipped and [f["properties"]["code"] for f in got["features"]] == [
        "w1", "w2", "w3", "w4"]


def test_a_missing_code_attribute_lists_the_attributes() -> None:
    with pytest.raises(BadInput) as e:
        read_boundaries_file(DATA / "shp" / "wards.shp", code_field="ward_id")
    assert "no 'ward_id' attribute" in str(e.value) and "['code', 'name']" in str(e.value)
    assert len(Areas.read(DATA / "shp" / "wards.shp", code_field="CODE")) == 4


coord = st.floats(-179, 174, allow_nan=False)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(coord, st.floats(-80, 80, allow_nan=False),
                          st.floats(0.001, 5, allow_nan=False)), min_size=1, max_size=5),
       st.sampled_from(["Polygon", "MultiPolygon"]))
def test_canonical_form_is_a_fixed_point(boxes: list, kind: str) -> None:
    feats = []
    for i, (x, y, s) in enumerate(boxes):
        f = _sq(i, x, y, s)
        if kind == "MultiPolygon":
            f["geometry"] = {"type": kind, "coordinates": [f["geometry"]["coordinates"]]}
        feats.append(f)
    doc = read_boundaries_file(_fc(*feats))
    again = read_boundaries_file(dump_boundaries(doc))
    assert dump_boundaries(again) == dump_boundaries(doc)
    assert [f["properties"]["code"] for f in doc["features"]] == sorted(str(i) for i in
                                                                        range(len(boxes)))


# -- point in polygon ---------------------------------------------------------------------------

def test_locate_agrees_with_a_brute_force_contains_loop(wards: Areas) -> None:
    rng = np.random.default_rng(20)
    lon = rng.uniform(36.55, 37.15, 3000)
    lat = rng.uniform(-1.55, -0.95, 3000)
    got = wards.locate(lon, lat)
    brute = []
    for x, y in zip(lon, lat, strict=True):
        p = shapely.Point(x, y)
        hit = [c for c, g in zip(wards.codes, wards.geometries, strict=True) if g.covers(p)]
        brute.append(hit[0] if hit else None)
    assert got.tolist() == brute
    assert {None, "w1", "w2", "w3", "w4"} == set(brute)  # the lake and outside are None


def test_the_grid_index_gives_the_strtree_answers() -> None:
    # many points take the grid path: it must agree with the exact STRtree test everywhere,
    # borders and vertices included
    rng = np.random.default_rng(7)
    seeds = shapely.multipoints(rng.uniform(0, 1, (300, 2)))
    cells = shapely.get_parts(shapely.voronoi_polygons(seeds, extend_to=shapely.box(0, 0, 1, 1)))
    areas = Areas([f"c{i}" for i in range(len(cells))],
                  shapely.intersection(cells, shapely.box(0, 0, 1, 1)))
    xy = np.vstack([rng.uniform(-0.05, 1.05, (60_000, 2)),
                    shapely.get_coordinates(areas.geometries)])  # every vertex too
    grid = GridIndex(areas.geometries, areas._exact)
    got = grid.lookup(xy[:, 0], xy[:, 1]).astype(np.int64)
    exact = areas._exact(xy[:, 0], xy[:, 1])
    assert 0 < grid.boundary_share < 0.5 and (got >= 0).mean() > 0.5
    fine = got != BOUNDARY
    np.testing.assert_array_equal(got[fine], exact[fine])
    # and through locate_index, which takes the grid path from 200,000 points on
    many = np.tile(xy[:20_000], (11, 1))
    np.testing.assert_array_equal(areas.locate_index(many[:, 0], many[:, 1]),
                                  np.tile(exact[:20_000], 11))


def test_border_points_go_to_the_first_code_and_holes_to_none(wards: Areas) -> None:
    # shared edge w1|w2 at lon 36.8; the corner of all four at (36.8, -1.3)
    assert wards.locate([36.8, 36.8, 36.7, 36.9], [-1.4, -1.3, -1.4, -1.4]).tolist() == [
        "w1", "w1", None, "w2"]
    assert wards.locate([np.nan], [1.0]).tolist() == [None]


def test_distance_matches_the_ellipsoidal_geodesic_to_the_boundary(wards: Areas) -> None:
    geod = Geod(ellps="WGS84")
    rng = np.random.default_rng(3)
    lon, lat = rng.uniform(35.5, 38.5, 40), rng.uniform(-3, 0.5, 40)
    code = rng.choice(wards.codes, 40)
    got = wards.distance_m(lon, lat, code)
    for x, y, c, d in zip(lon, lat, code, got, strict=True):
        g = wards.geometries[wards.index_of([c])[0]]
        if g.covers(shapely.Point(x, y)):
            assert d == 0
            continue
        # the true distance: the minimum geodesic over the boundary densified to ~10 m
        pts = shapely.get_coordinates(shapely.segmentize(g.boundary, 0.0001))
        _, _, dist = geod.inv(np.full(len(pts), x), np.full(len(pts), y), pts[:, 0], pts[:, 1])
        assert d == pytest.approx(dist.min(), rel=2e-4)


def test_haversine_of_a_known_distance() -> None:
    # one degree of a great circle on the mean sphere: 2πR/360 = 111,195.08 m
    assert haversine_m(0, 0, 1, 0) == pytest.approx(111_195.08, abs=0.01)
    assert haversine_m(36.8, -1.3, 36.8, -1.3) == 0


# -- GPS checks ------------------------------------------------------------------------------

def test_check_points_statuses_and_messages(wards: Areas) -> None:
    pts = pd.DataFrame({
        "lon": [36.65, 36.9, -1.45, 37.004, 37.02, "", 36.65, -1.45, 36.75, 36.65],
        "lat": [-1.45, -1.4, 36.65, -1.4, -1.4, "", -1.45, 36.9, 100, -1.45],
        "ward": ["w1", "w1", "w1", "w2", "w2", "w1", "zz", "w1", "w1", ""]})
    res = check_points(pts, wards, lon="lon", lat="lat", area="ward", tolerance_m=500)
    assert res["status"].tolist() == ["inside", "outside", "swapped", "near", "outside",
                                      "missing", "unknown_area", "swapped", "invalid", "no_area"]
    assert res["located"].tolist()[:2] == ["w1", "w2"]
    assert res["distance_m"][3] == pytest.approx(445, abs=2)  # 0.004° of longitude at 1.4°S
    msg = res["message"][1]
    assert "lies in area 'w2'" in msg and "outside area 'w1'" in msg and "36." not in msg
    assert "exchanged, the point lies in area 'w1'" in res["message"][2]
    assert "'w2', not in 'w1'" in res["message"][7]
    assert res["message"][0] == "" and res["message"][3] == ""


def test_null_island_is_invalid_not_thousands_of_km_outside(wards: Areas) -> None:
    # 0 0 is what many devices send without a fix; a missing point is "missing", no finding
    pts = pd.DataFrame({"lon": [0, 0.0, None, 0, 36.65], "lat": [0, 0.0, None, 0.5, -1.45],
                        "ward": ["w1", "w2", "w1", "w1", "w1"]})
    res = check_points(pts, wards, lon="lon", lat="lat", area="ward")
    assert res["status"].tolist() == ["invalid", "invalid", "missing", "outside", "inside"]
    assert res["distance_m"][:2].isna().all() and res["distance_m"][3] > 100_000
    assert "null island" in res["message"][0] and "km" not in res["message"][0]
    assert res["message"][2] == ""


def test_only_unusable_columns_raise(wards: Areas) -> None:
    pts = pd.DataFrame({"lon": ["x", "y"], "lat": ["1", "2"], "ward": ["w1", "w2"]})
    with pytest.raises(BadInput) as e:
        check_points(pts, wards, lon="lon", lat="lat", area="ward")
    assert e.value.code == "geo.invalid_points" and e.value.where.column == "lon"
    with pytest.raises(BadInput):
        check_points(pts, wards, lon="longitude", lat="lat", area="ward")


# -- interpolation and weighting ------------------------------------------------------------------

def test_equal_area_matches_the_ellipsoidal_area(wards: Areas) -> None:
    geod = Geod(ellps="WGS84")
    exact = [abs(geod.geometry_area_perimeter(g)[0]) for g in wards.geometries]
    # the sphere with the mean radius against the ellipsoid, near the equator: < 0.7 %
    np.testing.assert_allclose(equal_area_m2(wards), exact, rtol=7e-3)


def test_areal_interpolation_of_counts_and_rates() -> None:
    # sources: two 1x1 squares; target: a 1x1 square straddling them, and one elsewhere
    src = Areas.from_geojson(json.loads(_fc(_sq("a", 0, 0), _sq("b", 1, 0))))
    tgt = Areas.from_geojson(json.loads(_fc(_sq("t", 0.5, 0), _sq("u", 5, 5))))
    vals = pd.DataFrame({"area": ["a", "b"], "people": [100.0, 300.0], "rate": [0.2, 0.6]})
    ext = areal_interpolate(vals, src, tgt, columns=["people"])
    assert ext.table["people"].tolist() == pytest.approx([200.0, 0.0], rel=1e-6)
    assert ext.table["covered"].tolist() == pytest.approx([1.0, 0.0])
    assert any("overlap no source" in n for n in ext.notes)
    inten = areal_interpolate(vals, src, tgt, columns=["rate"], extensive=False)
    assert inten.table["rate"][0] == pytest.approx(0.4, rel=1e-6) and np.isnan(inten.table["rate"][1])
    # dwellings say where people live: all of a's in its right half, b's evenly
    pts = pd.DataFrame({"lon": [0.75, 0.8, 1.25, 1.75], "lat": [0.5] * 4,
                        "weight": [1.0, 1.0, 1.0, 1.0]})
    dasy = areal_interpolate(vals, src, tgt, columns=["people"], weights=pts)
    assert dasy.table["people"][0] == pytest.approx(100 + 150)
    # the total is kept when the targets cover the sources
    whole = Areas.from_geojson(json.loads(_fc(_sq("all", 0, 0, 2))))
    assert areal_interpolate(vals, src, whole, columns=["people"]).table["people"][0] == \
        pytest.approx(400)


def test_population_weighted_mean_and_assign_areas(wards: Areas) -> None:
    values = pd.DataFrame({"area": ["w1", "w2", "w3", "w1", "w2"], "pm25": [10, 20, 40, 12, None],
                           "year": [2024, 2024, 2024, 2025, 2025]})
    pop = pd.DataFrame({"area": ["w1", "w2", "w3"], "people": [1000, 3000, 0]})
    res = population_weighted_mean(values, pop, value="pm25", weight="people", by="year")
    assert res["mean"].tolist() == pytest.approx([(10 * 1000 + 20 * 3000) / 4000, 12.0])
    assert res["areas_missing"].tolist() == [0, 1] and res["population"].tolist() == [4000, 1000]
    sensors = assign_areas(pd.DataFrame({"lon": [36.65, 36.9], "lat": [-1.45, -1.45]}), wards)
    assert sensors["area"].tolist() == ["w1", "w2"]


# -- CLI ---------------------------------------------------------------------------------------

def test_cli_locate_and_check(tmp_path: Path) -> None:
    csv = tmp_path / "points.csv"
    csv.write_text("id,lat,lon,ward\n1,-1.45,36.65,w1\n2,-1.4,36.9,w1\n3,36.65,-1.45,w1\n")
    res = runner.invoke(app, ["places", "locate", str(csv), str(DATA / "wards_shp.zip"),
                              "--lat", "lat", "--lon", "lon", "--area", "ward",
                              "--tolerance", "100", "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    assert out["statuses"] == {"inside": 1, "outside": 1, "swapped": 1}
    assert [f["row"] for f in out["findings"]] == [2, 3]
    plain = runner.invoke(app, ["places", "locate", str(csv), str(DATA / "wards.geojson"),
                                "--lat", "lat", "--lon", "lon", "--out", str(tmp_path / "o.csv")])
    assert plain.exit_code == 0 and "w1" in plain.output
    assert pd.read_csv(tmp_path / "o.csv")["_located"].tolist()[:2] == ["w1", "w2"]
    bad = runner.invoke(app, ["places", "locate", str(csv), str(DATA / "wards_invalid.gpkg"),
                              "--lat", "lat", "--lon", "lon", "--json"])
    assert bad.exit_code == 2 and "geo.invalid_boundaries" in bad.output


def test_cli_interpolate(tmp_path: Path) -> None:
    (tmp_path / "v.csv").write_text("area,people\nw1,100\nw2,200\nw3,300\nw4,400\n")
    res = runner.invoke(app, ["places", "interpolate", str(tmp_path / "v.csv"),
                              str(DATA / "wards.geojson"), str(DATA / "wards_utm37s.gpkg"),
                              "--json"])
    assert res.exit_code == 0, res.output
    got = {a["area"]: a["people"] for a in json.loads(res.output)["areas"]}
    assert got == pytest.approx({"w1": 100, "w2": 200, "w3": 300, "w4": 400}, rel=1e-6)


def test_location_findings_from_geopoint_text(wards: Areas) -> None:
    import pyarrow as pa

    from citizendata.validate.location import location_findings

    rows = pa.table({"_id": pa.array([1, 2, 3, 4, 5], pa.int64()),
                     "_item": pa.nulls(5, pa.string()),
                     "p": ["-1.45 36.65 1500 5", "-1.4 36.9 0 0", "36.65 -1.45 0 0", "", "x y"],
                     "a": ["w1", "w1", "w1", "w1", "w1"]})
    got = location_findings(rows, wards, point="p", area="a", field="location/gps",
                            area_field="location/ward", tolerance_m=100, severity="error")
    assert got.column("_id").to_pylist() == [2, 3]
    assert set(got.column("kind").to_pylist()) == {"location"}
    assert got.column("value").null_count == 2 and got.column("score").to_pylist()[0] > 10_000
    assert got.column("message").to_pylist()[0].startswith("location/gps: the point lies in")
