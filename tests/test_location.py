"""Location coarsening: equal-area grid cells, areas from boundaries, map counts."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from citizendata.errors import BadInput
from citizendata.privacy.location import (
    EARTH_RADIUS_M,
    aggregate_areas,
    coarsen_locations,
    parse_geopoints,
    project,
    to_area,
    to_grid,
    unproject,
)
from citizendata.projects.protection import LocationSpec

R = EARTH_RADIUS_M


def square(x0: float, y0: float, x1: float, y1: float) -> list[list[float]]:
    """A closed ring [lon, lat] going round a box."""
    return [[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]


# area A: a 4° square with a 2° hole; area B: two separate squares east of it
BOUNDARIES = {
    "type": "FeatureCollection",
    "features": [
        {"type": "Feature", "properties": {"code": "A", "name": "Alpha"},
         "geometry": {"type": "Polygon",
                      "coordinates": [square(0, 0, 4, 4), square(1, 1, 3, 3)]}},
        {"type": "Feature", "properties": {"code": "B", "name": "Beta"},
         "geometry": {"type": "MultiPolygon",
                      "coordinates": [[square(4, 0, 6, 2)], [square(10, 10, 11, 11)]]}},
    ],
}


# --------------------------------------------------------------------------- grid

def test_known_points_fall_in_hand_computed_cells() -> None:
    # y = R sin φ, x = R λ: (10°, 20°) → y = 1,106,313.8 m, x = 2,223,901.0 m → row 110, col 222
    ids, lat, lon = to_grid([10, -10, 51.5, 0.0], [20, -20, -0.12, 0.0], 10_000)
    assert ids.tolist() == ["10000m:N110E222", "10000m:S111W223", "10000m:N498W2", "10000m:N0E0"]
    # the centroid of cell N0E0 is at x = y = 5 km
    assert lat[3] == pytest.approx(math.degrees(math.asin(5000 / R)))
    assert lon[3] == pytest.approx(math.degrees(5000 / R))
    ids5, _, _ = to_grid([51.5], [-0.12], 5000)
    assert ids5.tolist() == ["5000m:N997W3"]
    assert to_grid([1.0], [1.0], 2500.5)[0].tolist()[0].startswith("2500.5m:")


def test_centroid_is_inside_the_cell_and_never_the_point() -> None:
    lat = np.array([-1.2921, 0.5143, 35.0, -33.9])
    lon = np.array([36.8219, 35.2698, 139.0, 18.4])
    ids, c_lat, c_lon = to_grid(lat, lon, 5000)
    again, _, _ = to_grid(c_lat, c_lon, 5000)
    assert again.tolist() == ids.tolist()
    assert not np.any((c_lat == lat) & (c_lon == lon))
    # the same centroid for every point of a cell
    _, lat2, lon2 = to_grid(lat + 1e-5, lon + 1e-5, 5000)
    assert np.allclose(lat2, c_lat) and np.allclose(lon2, c_lon)


def test_cells_have_the_same_area_at_every_latitude() -> None:
    size = 10_000.0
    areas = []
    for lat in (0.0, 30.0, 60.0, 75.0):
        _, c_lat, c_lon = to_grid([lat], [10.0], size)
        x, y = project(c_lat, c_lon)
        s_lat, w_lon = unproject(x - size / 2, y - size / 2)
        n_lat, e_lon = unproject(x + size / 2, y + size / 2)
        # area on the sphere between two parallels and two meridians: R² Δλ (sin φ₂ − sin φ₁)
        area = R**2 * math.radians(e_lon[0] - w_lon[0]) * (
            math.sin(math.radians(n_lat[0])) - math.sin(math.radians(s_lat[0])))
        areas.append(area)
    assert areas == pytest.approx([size**2] * 4, rel=1e-9)


def test_missing_points_stay_missing() -> None:
    ids, lat, lon = to_grid([np.nan, 1.0, 2.0], [1.0, np.nan, 2.0], 5000)
    assert ids[0] is None and ids[1] is None and ids[2] is not None
    assert np.isnan(lat[:2]).all() and np.isnan(lon[:2]).all()


def test_invalid_coordinates_name_their_rows() -> None:
    with pytest.raises(BadInput) as err:
        to_grid([0.0, 91.0, 10.0, 5.0, np.inf], [0.0, 0.0, 10.0, -181.0, 0.0], 5000)
    assert err.value.code == "privacy.invalid_location"
    assert "row 1" in err.value.message and "row 3" in err.value.message
    assert err.value.details["rows"] == [1, 3, 4]
    with pytest.raises(BadInput):
        to_grid([0.0], [0.0], 0)


def test_poles_and_antimeridian() -> None:
    ids, lat, lon = to_grid([90.0, -90.0, 0.0, 0.0], [0.0, 0.0, 180.0, -180.0], 5000)
    # 180° and −180° are the same meridian, and the pole cells are cut at the pole
    assert ids[2] == ids[3]
    assert ids[0].startswith("5000m:N") and ids[1].startswith("5000m:S")
    assert lat[0] < 90 and lat[1] > -90
    again, _, _ = to_grid(lat, lon, 5000)
    assert again.tolist() == ids.tolist()


@settings(max_examples=200, deadline=None)
@given(lat=st.floats(-90, 90), lon=st.floats(-180, 180),
       size=st.one_of(st.integers(10, 500_000).map(float), st.sampled_from([2500.5, 333.3])))
def test_grid_is_idempotent_on_centroids_and_close(lat: float, lon: float, size: float) -> None:
    ids, c_lat, c_lon = to_grid([lat], [lon], size)
    again, a_lat, _ = to_grid(c_lat, c_lon, size)
    assert again[0] == ids[0]
    assert a_lat[0] == pytest.approx(c_lat[0], abs=1e-9)
    # in the projection the published point is within half a cell diagonal of the true one
    x, y = project(lat, -180.0 if lon == 180.0 else lon)
    cx, cy = project(c_lat[0], c_lon[0])
    assert math.hypot(float(x - cx), float(y - cy)) <= size * math.sqrt(2) / 2 * (1 + 1e-9)


# --------------------------------------------------------------------------- areas

def test_point_in_polygon_with_a_hole_and_a_multipolygon() -> None:
    lat = [0.5, 2.0, 3.5, 1.0, 10.5, 20.0, np.nan]
    lon = [0.5, 2.0, 2.0, 5.0, 10.5, 20.0, 1.0]
    codes = to_area(lat, lon, BOUNDARIES)
    # in A; in A's hole; in A north of the hole; in B's first part; in B's second part; nowhere
    assert codes.tolist() == ["A", None, "A", "B", "B", None, None]
    assert to_area([0.5], [0.5], BOUNDARIES, code_property="name").tolist() == ["Alpha"]


def test_points_on_edges_go_to_exactly_one_area() -> None:
    # half-open rule: a box holds its west and south edges, not its east and north ones;
    # A's east edge x = 4 is B's west edge, so a point on it is in B
    codes = to_area([1.0, 0.0, 4.0, 1.0, 2.0], [4.0, 2.0, 2.0, 0.0, 1.0], BOUNDARIES)
    assert codes.tolist() == ["B", "A", None, "A", None]
    # the last point lies on the hole's west edge: the hole holds it, so A does not


def test_boundaries_must_be_polygons_with_the_code() -> None:
    with pytest.raises(BadInput, match="no property 'district'"):
        to_area([0.5], [0.5], BOUNDARIES, code_property="district")
    line = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"code": "L"},
         "geometry": {"type": "LineString", "coordinates": [[0, 0], [1, 1]]}}]}
    with pytest.raises(BadInput, match="not a Polygon"):
        to_area([0.5], [0.5], line)
    with pytest.raises(BadInput, match="FeatureCollection"):
        to_area([0.5], [0.5], {"type": "Feature"})


# --------------------------------------------------------------------------- data frames

def test_odk_geopoints_are_parsed() -> None:
    values = pd.Series(["-1.2921 36.8219 1700 5", "0.5 35.27", "", None, "  2 3 0 0 "])
    lat, lon = parse_geopoints(values)
    assert lat.tolist()[:2] == [-1.2921, 0.5] and lon.tolist()[:2] == [36.8219, 35.27]
    assert np.isnan(lat[2]) and np.isnan(lat[3]) and (lat[4], lon[4]) == (2.0, 3.0)
    with pytest.raises(BadInput) as err:
        parse_geopoints(pd.Series(["1 2", "north", "3"]), "home")
    assert "row 1" in err.value.message and "row 2" in err.value.message
    assert err.value.where is not None and err.value.where.column == "home"


def test_coarsen_to_grid_drops_the_exact_location() -> None:
    df = pd.DataFrame({"id": [1, 2, 3],
                       "home": ["-1.2921 36.8219 1700 5", "", "-1.2922 36.8220 1690 4"],
                       "work_lat": [0.5, 0.6, None], "work_lon": [35.2, 35.3, None]})
    out, rep = coarsen_locations(df, ["home", ("work", "work_lat", "work_lon")],
                                 LocationSpec(method="grid", grid_m=5000))
    assert list(out.columns) == ["id", "home_cell", "home_lat", "home_lon",
                                 "work_cell", "work_lat", "work_lon"]
    assert out["home_cell"][0] == out["home_cell"][2] and out["home_cell"][1] is None
    assert out["home_lat"][0] == out["home_lat"][2] != -1.2921
    assert out["work_lat"][0] != 0.5
    assert (rep.points, rep.missing, rep.outside, rep.cell_size_m) == (4, 2, 0, 5000)
    assert rep.per_column["home"] == {"points": 2, "missing": 1, "outside": 0}


def test_coarsen_to_areas_counts_points_outside() -> None:
    df = pd.DataFrame({"gps": ["0.5 0.5 0 5", "2 2 0 5", "1 5 0 5", None]})
    spec = LocationSpec(method="area", boundaries="wards", code_property="code")
    out, rep = coarsen_locations(df, ["gps"], spec, boundaries=BOUNDARIES)
    assert out["gps_area"].tolist() == ["A", None, "B", None]
    assert "gps" not in out.columns
    assert (rep.points, rep.missing, rep.outside, rep.cell_size_m) == (3, 1, 1, None)
    with pytest.raises(BadInput, match="needs the boundaries"):
        coarsen_locations(df, ["gps"], spec)


def test_coarsen_refuses_points_out_of_range_with_the_column() -> None:
    df = pd.DataFrame({"gps": ["0 0", "95 10"]})
    with pytest.raises(BadInput) as err:
        coarsen_locations(df, ["gps"], LocationSpec())
    assert err.value.code == "privacy.invalid_location"
    assert err.value.where is not None and err.value.where.column == "gps"
    assert err.value.where.row == 1


def test_aggregate_areas_suppresses_small_areas() -> None:
    df = pd.DataFrame({"area": ["A"] * 7 + ["B"] * 2 + ["C"] * 5 + [None]})
    agg = aggregate_areas(df, "area", count_threshold=5)
    assert agg["area"].tolist() == ["A", "B", "C"]
    assert agg["n"].tolist() == [7, pd.NA, 5]
    assert agg["suppressed"].tolist() == [False, True, False]
