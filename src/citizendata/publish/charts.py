"""Inline SVG charts for the offline release report: interval charts and choropleth maps.

Pure string building: no plotting library, no external assets, every text escaped, every
coordinate written with a fixed number of decimals so that the same inputs give the same bytes.
"""

from __future__ import annotations

import hashlib
import math
from bisect import bisect_left
from collections.abc import Callable, Mapping, Sequence
from html import escape
from typing import Any

from citizendata.i18n import gettext as _
from citizendata.i18n import ngettext
from citizendata.publish.summary import N_

__all__ = [
    "FLAG_SHORT",
    "FLAG_WORDS",
    "PALETTE",
    "SUPPRESSION_WORDS",
    "choropleth",
    "fmt_number",
    "interval_chart",
    "is_suppressed",
    "to_float",
]

# ColorBrewer YlGnBu, 5 classes, light to dark: colour-blind safe and ordered in greyscale too.
PALETTE = ("#ffffcc", "#a1dab4", "#41b6c4", "#2c7fb8", "#253494")



# The words below are English here and translated where they are drawn, in the language
# of the current build or request (citizendata.i18n.use_locale).
# C is every hidden cell unless the policy publishes secondary (D) cells apart
SUPPRESSION_WORDS = {"C": N_("suppressed"), "D": N_("suppressed (secondary)")}
FLAG_WORDS = {"low_n": N_("low sample size"), "caution": N_("use with caution"),
              "unreliable": N_("unreliable")}
# Charts have little room beside each row; the table carries the full words.
FLAG_SHORT = {"low_n": N_("low n"), "caution": N_("caution"), "unreliable": N_("unreliable")}

# Interval chart geometry (viewBox units).
_W = 680
_LABEL_RIGHT = 150
_X0 = 160.0
_X1 = 470.0
_TEXT_X = 480
_ROW_H = 26
_TOP = 8
_AXIS_H = 26

# Choropleth geometry (viewBox units).
_MAP_W = 600.0
_MAP_H = 400.0
_PAD = 10.0
_LEGEND_ROW = 20


def to_float(x: Any) -> float | None:
    """A finite float, or None for None, NaN, infinities, pandas NA and non-numbers."""
    if x is None or isinstance(x, bool):
        return None
    try:
        f = float(x)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def fmt_number(x: Any, decimals: int = 1) -> str:
    """A number with fixed decimals ("—" when missing); never "-0.0"."""
    f = to_float(x)
    if f is None:
        return "—"
    s = f"{f:.{decimals}f}"
    # Rounding a tiny negative gives "-0.0": same figure, different bytes across platforms' inputs.
    if s.lstrip("-").strip("0.") == "":
        s = s.lstrip("-")
    return s


def _c(x: float) -> str:
    """A coordinate with two decimals, for byte-stable SVG."""
    return fmt_number(x, 2)


def is_suppressed(row: Mapping[str, Any]) -> bool:
    """True when the cell must not show its figures: C/D status or no value."""
    # The status wins over a value: a confidential cell never shows a figure even if one leaked in.
    return row.get("conf_status") in SUPPRESSION_WORDS or to_float(row.get("value")) is None


def _suppression_word(row: Mapping[str, Any]) -> str:
    return _(SUPPRESSION_WORDS.get(str(row.get("conf_status") or ""), "suppressed"))


def _chart_id(kind: str, title: str, extra: str) -> str:
    """A deterministic element id, so two renderings of the same input are byte-identical."""
    digest = hashlib.sha1(f"{kind}\0{title}\0{extra}".encode(), usedforsecurity=False).hexdigest()
    return f"{kind}-{digest[:10]}"


def _svg_open(cid: str, width: float, height: float, title: str, desc: str) -> str:
    return (
        # No xmlns: inline SVG in HTML needs none, and the document then names no outside URL.
        f'<svg id="{cid}" viewBox="0 0 {_c(width)} {_c(height)}" '
        f'class="chart" role="img" aria-labelledby="{cid}-title {cid}-desc" '
        f'preserveAspectRatio="xMinYMin meet">'
        f'<title id="{cid}-title">{escape(title)}</title>'
        f'<desc id="{cid}-desc">{escape(desc)}</desc>'
    )


def interval_chart(rows: Sequence[Mapping[str, Any]], label_key: str, title: str, *,
                   decimals: int = 1, chart_id: str | None = None) -> str:
    """An inline SVG dot-and-whisker chart of estimates with 95% CIs, one row per category."""
    labels = [str(r.get(label_key, "")) for r in rows]
    cid = chart_id or _chart_id("ic", title, "\0".join(labels))
    shown = [r for r in rows if not is_suppressed(r)]
    extent = [v for r in shown for k in ("value", "ci_low", "ci_high")
              if (v := to_float(r.get(k))) is not None]
    lo, hi = (min(extent), max(extent)) if extent else (0.0, 1.0)
    if hi - lo <= 0:
        # One distinct figure: widen around it so the dot sits mid-plot instead of dividing by 0.
        half = abs(lo) * 0.1 or 1.0
        lo, hi = lo - half, hi + half
    pad = (hi - lo) * 0.05
    lo, hi = lo - pad, hi + pad

    def x(v: float) -> float:
        return _X0 + (v - lo) / (hi - lo) * (_X1 - _X0)

    height = _TOP + len(rows) * _ROW_H + _AXIS_H
    axis_y = _TOP + len(rows) * _ROW_H
    summary = []
    parts: list[str] = []
    # Grid and axis first so the marks are drawn on top.
    for i in range(5):
        t = lo + (hi - lo) * i / 4
        tx = _c(x(t))
        parts.append(f'<line class="grid" x1="{tx}" y1="{_TOP}" x2="{tx}" y2="{axis_y}" '
                     f'stroke="#e0e0e0" stroke-width="1"/>')
        parts.append(f'<text x="{tx}" y="{axis_y + 16}" text-anchor="middle" font-size="11" '
                     f'fill="#444">{escape(fmt_number(t, decimals))}</text>')
    parts.append(f'<line x1="{_c(_X0)}" y1="{axis_y}" x2="{_c(_X1)}" y2="{axis_y}" '
                 f'stroke="#888" stroke-width="1"/>')
    parts.append('<g role="list">')
    for i, (row, label) in enumerate(zip(rows, labels, strict=True)):
        cy = _c(_TOP + i * _ROW_H + _ROW_H / 2)
        ty = _c(_TOP + i * _ROW_H + _ROW_H / 2 + 4)
        if is_suppressed(row):
            word = _suppression_word(row)
            aria = f"{label}: {word}"
            summary.append(aria)
            parts.append(
                f'<g role="listitem" aria-label="{escape(aria)}" class="row suppressed">'
                f'<text x="{_LABEL_RIGHT}" y="{ty}" text-anchor="end" font-size="12">{escape(label)}</text>'
                f'<text class="gap" x="{_c(_X0 + 4)}" y="{ty}" font-size="12" font-style="italic" '
                f'fill="#555">{escape(word)}</text>'
                f'<text x="{_TEXT_X}" y="{ty}" font-size="12" fill="#555">'
                f'{escape(_("suppressed"))}</text></g>')
            continue
        value = to_float(row.get("value"))
        assert value is not None  # is_suppressed() is False only with a finite value
        low, high = to_float(row.get("ci_low")), to_float(row.get("ci_high"))
        flag = str(row.get("flag") or "")
        ci_text = (f" [{fmt_number(low, decimals)}–{fmt_number(high, decimals)}]"
                   if low is not None and high is not None else "")
        flag_text = f" {_(FLAG_SHORT[flag])}" if flag in FLAG_SHORT else ""
        aria = f"{label}: {fmt_number(value, decimals)}"
        if ci_text:
            aria += ", " + _("95%% CI %(low)s to %(high)s") % {
                "low": fmt_number(low, decimals), "high": fmt_number(high, decimals)}
        if flag in FLAG_WORDS:
            aria += f", {_(FLAG_WORDS[flag])}"
        summary.append(aria)
        parts.append(f'<g role="listitem" aria-label="{escape(aria)}" class="row">'
                     f'<text x="{_LABEL_RIGHT}" y="{ty}" text-anchor="end" font-size="12">'
                     f'{escape(label)}</text>')
        if low is not None and high is not None:
            x1, x2 = _c(x(low)), _c(x(high))
            y1, y2 = _c(_TOP + i * _ROW_H + _ROW_H / 2 - 5), _c(_TOP + i * _ROW_H + _ROW_H / 2 + 5)
            parts.append(f'<line class="ci" x1="{x1}" y1="{cy}" x2="{x2}" y2="{cy}" '
                         f'stroke="#333" stroke-width="1.5"/>'
                         f'<line x1="{x1}" y1="{y1}" x2="{x1}" y2="{y2}" stroke="#333" stroke-width="1.5"/>'
                         f'<line x1="{x2}" y1="{y1}" x2="{x2}" y2="{y2}" stroke="#333" stroke-width="1.5"/>')
        # Flagged estimates get an open dot: a second cue besides the words, not a colour.
        fill = "#ffffff" if flag in FLAG_WORDS else "#253494"
        parts.append(f'<circle class="est" cx="{_c(x(value))}" cy="{cy}" r="5" fill="{fill}" '
                     f'stroke="#253494" stroke-width="2"/>'
                     f'<text x="{_TEXT_X}" y="{ty}" font-size="12">'
                     f'{escape(fmt_number(value, decimals) + ci_text + flag_text)}</text></g>')
    parts.append("</g>")
    desc = _("Estimates with 95% confidence intervals.") + " " + "; ".join(summary) + "."
    return _svg_open(cid, _W, height, title, desc) + "".join(parts) + "</svg>"


Ring = list[tuple[float, float]]


def _polygons(geometry: Mapping[str, Any] | None) -> list[list[Ring]]:
    """Polygon and MultiPolygon geometries as a list of polygons, each a list of rings."""
    if not geometry:
        return []
    kind, coords = geometry.get("type"), geometry.get("coordinates") or []
    if kind == "Polygon":
        polys = [coords]
    elif kind == "MultiPolygon":
        polys = list(coords)
    else:
        return []  # points and lines have no area to fill
    return [[[(float(p[0]), float(p[1])) for p in ring] for ring in poly] for poly in polys]


def _ring_path(ring: Ring, proj: Callable[[tuple[float, float]], tuple[float, float]],
               num: Callable[[float], str]) -> str:
    """One closed subpath; GeoJSON repeats the first point at the end, "Z" already closes it."""
    pts = ring[:-1] if len(ring) > 1 and ring[0] == ring[-1] else ring
    return "M" + "L".join(f"{num(x)},{num(y)}" for x, y in map(proj, pts)) + "Z"


def _quantile(sorted_vals: Sequence[float], q: float) -> float:
    """Linear-interpolation quantile (numpy's default), without numpy."""
    pos = q * (len(sorted_vals) - 1)
    i, j = math.floor(pos), math.ceil(pos)
    return sorted_vals[i] + (sorted_vals[j] - sorted_vals[i]) * (pos - i)


def choropleth(geojson: Mapping[str, Any], values: Mapping[str, float | None], title: str, *,
               decimals: int = 1, chart_id: str | None = None, coord_decimals: int = 1) -> str:
    """An inline SVG choropleth in 5 quantile classes; suppressed or missing areas are hatched."""
    features = []
    names: dict[str, str] = {}
    for f in geojson.get("features") or []:
        props = f.get("properties") or {}
        code = str(props.get("code", ""))
        polys = _polygons(f.get("geometry"))
        if polys:
            features.append((code, polys))
            names[code] = str(props.get("name") or code)
    # Sorted by code so the map does not depend on the order of the boundary file.
    features.sort(key=lambda cf: cf[0])
    cid = chart_id or _chart_id("map", title, "\0".join(c for c, _ in features))

    points = [p for _, polys in features for poly in polys for ring in poly for p in ring]
    if points:
        lons, lats = [p[0] for p in points], [p[1] for p in points]
        # Equirectangular with the scale of the map's middle latitude: shapes are right there.
        k = math.cos(math.radians((min(lats) + max(lats)) / 2))
        minx, maxx = min(lons) * k, max(lons) * k
        miny, maxy = -max(lats), -min(lats)
    else:
        k, minx, maxx, miny, maxy = 1.0, 0.0, 1.0, 0.0, 1.0
    dx, dy = (maxx - minx) or 1.0, (maxy - miny) or 1.0
    scale = min(_MAP_W / dx, _MAP_H / dy)
    ox = _PAD + (_MAP_W - dx * scale) / 2
    oy = _PAD + (_MAP_H - dy * scale) / 2

    def proj(p: tuple[float, float]) -> tuple[float, float]:
        return ox + (p[0] * k - minx) * scale, oy + (-p[1] - miny) * scale

    def num(v: float) -> str:
        return fmt_number(v, coord_decimals)

    drawn = {code for code, _ in features}
    finite = sorted(v for c, raw in values.items() if c in drawn and (v := to_float(raw)) is not None)
    # Equal breaks collapse into one, and a break at the maximum would leave an empty top class:
    # with few distinct values there are fewer than 5 classes.
    breaks = sorted({b for q in (0.2, 0.4, 0.6, 0.8)
                     if (b := _quantile(finite, q)) < finite[-1]}) if finite else []
    edges = [finite[0], *breaks, finite[-1]] if finite else []
    n_classes = len(breaks) + 1 if finite else 0

    def colour(k_: int) -> str:
        idx = k_ if n_classes == 5 else round(k_ * (len(PALETTE) - 1) / max(n_classes - 1, 1))
        return PALETTE[idx]

    def range_text(k_: int) -> str:
        return _("%(low)s to %(high)s") % {"low": fmt_number(edges[k_], decimals),
                                           "high": fmt_number(edges[k_ + 1], decimals)}

    status_words = {"suppressed": _("suppressed"), "no data": _("no data")}

    hatch = f"{cid}-hatch"
    parts = [f'<defs><pattern id="{hatch}" patternUnits="userSpaceOnUse" width="6" height="6" '
             f'patternTransform="rotate(45)"><rect width="6" height="6" fill="#ffffff"/>'
             f'<line x1="0" y1="0" x2="0" y2="6" stroke="#777777" stroke-width="2"/></pattern></defs>']
    labels: list[str] = []
    used: set[int] = set()
    status_used: set[str] = set()
    summary: list[str] = []
    for code, polys in features:
        d = "".join(_ring_path(ring, proj, num) for poly in polys for ring in poly if ring)
        value = to_float(values.get(code))
        if value is None:
            status = "suppressed" if code in values else "no data"
            status_used.add(status)
            fill, tip = f"url(#{hatch})", f"{names[code]}: {status_words[status]}"
            summary.append(tip)
            xs = [proj(p) for poly in polys for p in poly[0]]
            lx = (min(p[0] for p in xs) + max(p[0] for p in xs)) / 2
            ly = (min(p[1] for p in xs) + max(p[1] for p in xs)) / 2
            labels.append(f'<text class="maplabel" x="{_c(lx)}" y="{_c(ly)}" text-anchor="middle" '
                          f'font-size="11" paint-order="stroke" stroke="#ffffff" stroke-width="3">'
                          f'{escape(status_words[status])}</text>')
        else:
            cls = bisect_left(breaks, value)
            used.add(cls)
            fill = colour(cls)
            tip = (f"{names[code]}: {fmt_number(value, decimals)} ("
                   + _("class %(k)s of %(n)s") % {"k": cls + 1, "n": n_classes}
                   + f", {range_text(cls)})")
        parts.append(f'<path class="area" d="{d}" fill="{fill}" fill-rule="evenodd" '
                     f'stroke="#333333" stroke-width="0.5"><title>{escape(tip)}</title></path>')
    parts.extend(labels)

    legend_y = _MAP_H + 2 * _PAD
    entries = [(colour(k_), _("Class %(k)s: %(range)s") % {"k": k_ + 1, "range": range_text(k_)})
               for k_ in range(n_classes) if k_ in used]
    entries += [(f"url(#{hatch})", status_words[s]) for s in ("suppressed", "no data")
                if s in status_used]
    parts.append(f'<g class="legend" role="list" aria-label="{escape(_("Legend"))}" '
                 f'transform="translate({_c(_PAD)} {_c(legend_y)})">')
    for i, (fill, text) in enumerate(entries):
        y = i * _LEGEND_ROW
        parts.append(f'<g role="listitem"><rect x="0" y="{y}" width="18" height="12" fill="{fill}" '
                     f'stroke="#333333" stroke-width="0.5"/><text x="24" y="{y + 10}" font-size="12">'
                     f'{escape(text)}</text></g>')
    parts.append("</g>")
    height = legend_y + len(entries) * _LEGEND_ROW + _PAD
    # the classes a reader can see in the legend, not the ones the breaks allow
    shown = len(used)
    areas = ngettext("Map of %(n)s area", "Map of %(n)s areas", len(features)) % {
        "n": len(features)}
    classes = (ngettext(" in %(n)s quantile class", " in %(n)s quantile classes", shown)
               % {"n": shown} if shown else _(", none with a published value"))
    desc = areas + classes + (f"; {'; '.join(summary)}" if summary else "") + "."
    return _svg_open(cid, _MAP_W + 2 * _PAD, height, title, desc) + "".join(parts) + "</svg>"
