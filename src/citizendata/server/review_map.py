"""A submission's GPS point as a small inline SVG: within the project's boundaries when it
has a boundary file, else on a plain coordinate plot. Nothing is fetched from anywhere:
no tiles, no scripts; the SVG is made of paths and text the page carries itself.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from markupsafe import Markup, escape

from citizendata.i18n import gettext as _

__all__ = ["parse_geopoint", "point_map"]

_W, _H, _PAD = 320.0, 240.0, 12.0


def parse_geopoint(value: Any) -> tuple[float, float] | None:
    """(latitude, longitude) of an ODK geopoint answer ("lat lon alt acc"), else None."""
    if not isinstance(value, str):
        return None
    parts = value.split()
    if len(parts) < 2:
        return None
    try:
        lat, lon = float(parts[0]), float(parts[1])
    except ValueError:
        return None
    if not (math.isfinite(lat) and math.isfinite(lon) and -90 <= lat <= 90
            and -180 <= lon <= 180):
        return None
    return lat, lon


def _rings(geometry: Mapping[str, Any] | None) -> list[list[tuple[float, float]]]:
    if not geometry:
        return []
    kind, coords = geometry.get("type"), geometry.get("coordinates") or []
    polys = [coords] if kind == "Polygon" else list(coords) if kind == "MultiPolygon" else []
    return [[(float(p[0]), float(p[1])) for p in ring] for poly in polys for ring in poly]


def _inside(pt: tuple[float, float], ring: list[tuple[float, float]]) -> bool:
    x, y = pt
    inside = False
    for (x1, y1), (x2, y2) in zip(ring, ring[1:] + ring[:1], strict=True):
        if (y1 > y) != (y2 > y) and x < (x2 - x1) * (y - y1) / ((y2 - y1) or 1e-12) + x1:
            inside = not inside
    return inside


def point_map(lat: float, lon: float, boundaries: Mapping[str, Any] | None,
              title: str) -> tuple[Markup, str | None]:
    """The SVG and the name of the area holding the point (None when outside or no file)."""
    areas = []
    for f in (boundaries or {}).get("features") or []:
        props = f.get("properties") or {}
        rings = _rings(f.get("geometry"))
        if rings:
            areas.append((str(props.get("name") or props.get("code") or ""), rings))
    pts = [p for _, rings in areas for ring in rings for p in ring] + [(lon, lat)]
    lons, lats = [p[0] for p in pts], [p[1] for p in pts]
    if not areas:  # a plain plot: a window of ±0.05° around the point
        lons += [lon - 0.05, lon + 0.05]
        lats += [lat - 0.05, lat + 0.05]
    k = math.cos(math.radians((min(lats) + max(lats)) / 2)) or 1.0
    minx, maxx, miny, maxy = min(lons) * k, max(lons) * k, -max(lats), -min(lats)
    dx, dy = (maxx - minx) or 1.0, (maxy - miny) or 1.0
    scale = min((_W - 2 * _PAD) / dx, (_H - 2 * _PAD) / dy)
    ox = _PAD + (_W - 2 * _PAD - dx * scale) / 2
    oy = _PAD + (_H - 2 * _PAD - dy * scale) / 2

    def proj(p: tuple[float, float]) -> tuple[float, float]:
        return ox + (p[0] * k - minx) * scale, oy + (-p[1] - miny) * scale

    holder = next((name for name, rings in areas
                   if any(_inside((lon, lat), r) for r in rings)), None)
    parts = []
    for name, rings in areas:
        d = "".join("M" + "L".join(f"{x:.1f},{y:.1f}" for x, y in map(proj, r)) + "Z"
                    for r in rings)
        cls = "area here" if name == holder else "area"
        parts.append(f'<path class="{cls}" d="{d}" fill-rule="evenodd">'
                     f"<title>{escape(name)}</title></path>")
    if not areas:
        for i in range(1, 4):  # a light grid, so the plot reads as one
            gx, gy = _PAD + i * (_W - 2 * _PAD) / 4, _PAD + i * (_H - 2 * _PAD) / 4
            parts.append(f'<path class="grid" d="M{gx:.1f},{_PAD}V{_H - _PAD}'
                         f'M{_PAD},{gy:.1f}H{_W - _PAD}"/>')
    x, y = proj((lon, lat))
    parts.append(f'<circle class="point" cx="{x:.1f}" cy="{y:.1f}" r="6"/>'
                 f'<circle class="point-ring" cx="{x:.1f}" cy="{y:.1f}" r="11"/>')
    if holder:
        desc = _("The point %(lat)s, %(lon)s lies in %(area)s.") % {
            "lat": f"{lat:.5f}", "lon": f"{lon:.5f}", "area": holder}
    elif areas:
        desc = _("The point %(lat)s, %(lon)s lies outside the project's areas.") % {
            "lat": f"{lat:.5f}", "lon": f"{lon:.5f}"}
    else:
        desc = _("The point %(lat)s, %(lon)s on a plain coordinate plot (about 11 km "
                 "across).") % {"lat": f"{lat:.5f}", "lon": f"{lon:.5f}"}
    svg = (f'<svg class="pointmap" viewBox="0 0 {_W:.0f} {_H:.0f}" role="img" '
           f'aria-labelledby="map-title map-desc" xmlns="http://www.w3.org/2000/svg">'
           f'<title id="map-title">{escape(title)}</title><desc id="map-desc">{escape(desc)}'
           f'</desc>{"".join(parts)}</svg>')
    return Markup(svg), holder
