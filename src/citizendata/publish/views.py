"""A built release's indicators as pages show them: figures, intervals, charts, maps and
what was suppressed, read from the release's own files (the bundle), never recomputed.

The sign-off page (members, before publication) and the public pages (after it) call
:func:`indicator_views` with a reader of the release's files, so both show exactly what
the release holds. Words are in the current language.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from markupsafe import Markup

from citizendata.i18n import gettext as _
from citizendata.publish.charts import choropleth, fmt_number, interval_chart, is_suppressed
from citizendata.publish.report import TOTAL, UNKNOWN, _code_key, _label, _one_way, _table_row
from citizendata.publish.summary import suppression_summary, unit_words

__all__ = ["STATS", "indicator_view", "indicator_views", "read_json"]

# an estimates table's statistics; every other column is a dimension
STATS = frozenset({"value", "se", "ci_low", "ci_high", "cv", "n", "flag", "conf_status",
                   "suppression"})

Reader = Callable[[str], bytes | None]


def read_json(read: Reader, name: str) -> Any:
    """A JSON file of the release, or None when it is absent or unreadable."""
    data = read(name)
    if data is None:
        return None
    try:
        return json.loads(data)
    except ValueError:
        return None


def _cells(read: Reader, iid: str) -> list[dict[str, Any]]:
    found = read_json(read, f"{iid}/estimates.json")
    return [c for c in found if isinstance(c, dict)] if isinstance(found, list) else []


def _boundaries(manifest: Mapping[str, Any], read: Reader) -> list[dict[str, Any]]:
    return [geo for name in sorted(manifest.get("files") or {})
            if name.startswith("boundaries/") and name.endswith(".geojson")
            and isinstance(geo := read_json(read, name), dict)]


def indicator_view(manifest: Mapping[str, Any], iid: str, read: Reader, *,
                   decimals: int = 1, charts: bool = True) -> dict[str, Any] | None:
    """One indicator of a release: its name, unit in words, overall figure, every cell,
    the suppression summary, and (with ``charts``) its interval charts and maps."""
    ind = ((manifest.get("release") or {}).get("indicators") or {}).get(iid)
    if not isinstance(ind, dict):
        return None
    cells = _cells(read, iid)
    dims = sorted({k for c in cells for k in c if k not in STATS})
    recs = []
    for c in cells:
        row = {**c, **{d: str(c.get(d)) for d in dims}}
        row["flag"] = row.get("flag") if isinstance(row.get("flag"), str) else ""
        row["conf_status"] = (row.get("conf_status") if isinstance(row.get("conf_status"), str)
                              else "F")
        recs.append(row)
    recs.sort(key=lambda r: [_code_key(r[d]) for d in dims])
    # an area dimension gets its names and a map from the release's boundaries
    labels: dict[str, dict[str, str]] = {}
    maps: dict[str, dict[str, Any]] = {}
    for geo in _boundaries(manifest, read) if dims else []:
        names = {str((f.get("properties") or {}).get("code")):
                 str((f.get("properties") or {}).get("name")
                     or (f.get("properties") or {}).get("code"))
                 for f in geo.get("features") or [] if isinstance(f, dict)}
        for d in dims:
            codes = {r[d] for r in recs} - {TOTAL, UNKNOWN}
            if d not in maps and codes and codes <= set(names):
                maps[d], labels[d] = geo, names
    total = next((r for r in recs if all(r[d] == TOTAL for d in dims)), None)
    name = str(ind.get("name") or iid)
    drawn_charts, drawn_maps = [], []
    for j, dim in enumerate(dims if charts else []):
        rows = _one_way(recs, dims, dim)
        if not rows:
            continue
        for r in rows:
            r["_label"] = _label(labels, dim, r[dim])
        title = _("%(indicator)s by %(dimension)s") % {"indicator": name, "dimension": dim}
        drawn_charts.append({"title": title, "svg": Markup(interval_chart(
            rows, "_label", title, decimals=decimals, chart_id=f"{iid}-c{j}"))})
        if dim in maps:
            values = {r[dim]: (None if is_suppressed(r) else r.get("value"))
                      for r in rows if r[dim] != UNKNOWN}
            drawn_maps.append({"title": title, "svg": Markup(choropleth(
                maps[dim], values, title, decimals=decimals, chart_id=f"{iid}-map{j}"))})
    headline = None
    if total is not None:
        headline = {"suppressed": is_suppressed(total),
                    "value": fmt_number(total.get("value"), decimals),
                    "ci_low": fmt_number(total.get("ci_low"), decimals),
                    "ci_high": fmt_number(total.get("ci_high"), decimals),
                    "n": total.get("n")}
    return {"id": iid, "name": name, "unit": unit_words(str(ind.get("unit") or "")),
            "unit_code": str(ind.get("unit") or ""), "year": ind.get("year"),
            "series": str(ind.get("series") or ""), "dimensions": dims,
            "headline": headline,
            "rows": [_table_row(r, dims, labels, decimals) for r in recs],
            "suppression": suppression_summary(recs, ind.get("protection")),
            "charts": drawn_charts, "maps": drawn_maps}


def indicator_views(manifest: Mapping[str, Any], read: Reader, *,
                    charts: bool = True) -> list[dict[str, Any]]:
    """Every indicator of the release, in the manifest's order."""
    ids = list((manifest.get("release") or {}).get("indicators") or {})
    return [v for iid in ids if (v := indicator_view(manifest, iid, read, charts=charts))]
