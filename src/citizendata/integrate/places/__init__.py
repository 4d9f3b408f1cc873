"""Places: areas from boundary files, point-in-polygon, GPS checks, areal interpolation.

Library first: tables in, tables out. ``Areas`` holds codes, shapely 2 geometries and an
STRtree; ``check_points`` tells whether GPS points lie in the areas they name;
``areal_interpolate`` moves counts and rates between boundary sets;
``population_weighted_mean`` is Σ C·P / Σ P by area (reused by the sensors work).
"""

from citizendata.integrate.places.areas import EARTH_RADIUS_M, Areas, haversine_m
from citizendata.integrate.places.check import FINDING_STATUSES, check_points
from citizendata.integrate.places.interpolate import (
    Interpolated,
    areal_interpolate,
    assign_areas,
    equal_area_m2,
    population_weighted_mean,
)

__all__ = ["EARTH_RADIUS_M", "FINDING_STATUSES", "Areas", "Interpolated", "areal_interpolate",
           "assign_areas", "check_points", "equal_area_m2", "haversine_m",
           "population_weighted_mean"]
