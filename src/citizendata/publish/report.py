"""The release report: one self-contained, offline, accessible and deterministic HTML document.

Every asset is inline (CSS, SVG charts and map); nothing is fetched, no script runs. The same
inputs give byte-identical output: no clock is read, rows are sorted, floats have fixed decimals.

Inputs are plain data. `release`: project, initiative, version, status, dates (label -> text),
sdg_series, provenance (item -> hash). Each indicator: name, unit, sdg_series, headline (value,
ci_low, ci_high, n), estimates (DataFrame: one column per dimension with string codes, value, se,
ci_low, ci_high, n, flag, conf_status), dimensions, and optionally decimals (default 1) and labels
(dimension -> code -> label).
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections.abc import Callable, Mapping, Sequence
from functools import lru_cache
from html import escape
from pathlib import Path
from typing import Any

import pandas as pd
from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup

from citizendata.i18n import current_language, ngettext
from citizendata.i18n import gettext as _
from citizendata.publish.charts import (
    _LEGEND_ROW,
    _MAP_H,
    _MAP_W,
    _PAD,
    FLAG_WORDS,
    PALETTE,
    SUPPRESSION_WORDS,
    _c,
    _polygons,
    _quantile,
    _ring_path,
    _svg_open,
    choropleth,
    fmt_number,
    interval_chart,
    is_suppressed,
    to_float,
)
from citizendata.publish.summary import N_, suppression_summary, unit_words

__all__ = ["TEMPLATES", "TOTAL", "UNKNOWN", "render_report", "small_area_section",
           "status_banner"]

TEMPLATES = Path(__file__).parent / "templates"
TOTAL = "_T"
UNKNOWN = "_U"
_DEFAULT_LABELS = {TOTAL: N_("Total"), UNKNOWN: N_("Unknown")}


# the engagement record's words (quality.engagement), translated in the report
_ENGAGEMENT_WORDS = (
    N_("design"), N_("identify"), N_("collect"), N_("process"), N_("analyse"), N_("release"),
    N_("disseminate"), N_("connect"), N_("incentivise"), N_("influence"), N_("use"),
    N_("change"), N_("reuse"), N_("collection"), N_("publication"), N_("uptake"),
    N_("impact"), N_("information"), N_("consultation"), N_("limited participation"),
    N_("shared decision-making"), N_("community-led"), N_("participation"),
    N_("engagement"), N_("empowerment"))


@lru_cache(maxsize=1)
def _env() -> Environment:
    env = Environment(loader=FileSystemLoader(str(TEMPLATES)), autoescape=True,
                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True,
                      keep_trailing_newline=True, extensions=["jinja2.ext.i18n"])
    # the words are in the language of the build (citizendata.i18n.use_locale)
    env.install_gettext_callables(_, ngettext, newstyle=True)  # type: ignore[attr-defined]
    return env


def status_banner(status: str, version: str) -> tuple[str, str]:
    """The banner words and CSS class for a release status ("Published v1", "Draft — ...")."""
    s = (status or "draft").strip().lower()
    if s == "published":
        return _("Published %(version)s") % {"version": version}, "published"
    if s == "release":
        # a bundle is built before its sign-off and never changes: the public list,
        # not the file, says whether it is published
        return (_("Release %(version)s") % {"version": version}).strip(), "published"
    word = _("Draft") if s == "draft" else s.capitalize()
    return _("%(status)s — not for publication") % {"status": word}, "unpublished"


def _code_key(code: str) -> tuple[int, str]:
    """Total first, unknown last, the other codes in text order."""
    return (0 if code == TOTAL else 2 if code == UNKNOWN else 1, code)


def _label(labels: Mapping[str, Mapping[str, str]], dim: str, code: str) -> str:
    given = labels.get(dim, {}).get(code)
    return str(given) if given else (_(_DEFAULT_LABELS[code]) if code in _DEFAULT_LABELS
                                     else code)


def _records(df: pd.DataFrame, dims: Sequence[str]) -> list[dict[str, Any]]:
    """The table as plain rows with string codes, sorted so row order in the input is irrelevant."""
    recs: list[dict[str, Any]] = []
    for rec in df.to_dict("records"):
        row = {str(k): v for k, v in rec.items()}
        for d in dims:
            row[d] = str(row.get(d))
        flag = row.get("flag")
        row["flag"] = flag if isinstance(flag, str) else ""
        status = row.get("conf_status")
        row["conf_status"] = status if isinstance(status, str) else "F"
        recs.append(row)
    recs.sort(key=lambda r: [_code_key(r[d]) for d in dims])
    return recs


def _status_words(row: Mapping[str, Any]) -> str:
    """The cell's status as words: suppression first, then the quality flag."""
    if row["conf_status"] in SUPPRESSION_WORDS:
        return _(SUPPRESSION_WORDS[row["conf_status"]])
    if to_float(row.get("value")) is None:
        return _("suppressed")
    return _(FLAG_WORDS[row["flag"]]) if row["flag"] in FLAG_WORDS else ""


def _table_row(row: Mapping[str, Any], dims: Sequence[str],
               labels: Mapping[str, Mapping[str, str]], decimals: int) -> dict[str, Any]:
    suppressed = is_suppressed(row)
    n = to_float(row.get("n"))
    # A suppressed cell shows no figure at all: its n, SE or CI would give the value away.
    return {
        "codes": [_label(labels, d, row[d]) for d in dims],
        "suppressed": suppressed,
        "value": _("suppressed") if suppressed else fmt_number(row.get("value"), decimals),
        "ci": "—" if suppressed else _ci(row.get("ci_low"), row.get("ci_high"), decimals),
        "se": "—" if suppressed else fmt_number(row.get("se"), decimals + 1),
        "n": "—" if suppressed or n is None else f"{round(n):,}",
        "status": _status_words(row),
        "status_class": ("suppressed" if suppressed else row["flag"] or "ok"),
    }


def _ci(low: Any, high: Any, decimals: int) -> str:
    if to_float(low) is None or to_float(high) is None:
        return "—"
    return _("%(low)s to %(high)s") % {"low": fmt_number(low, decimals),
                                       "high": fmt_number(high, decimals)}


def _one_way(recs: Sequence[dict[str, Any]], dims: Sequence[str], dim: str) -> list[dict[str, Any]]:
    """Rows breaking down `dim` alone: it is not total, every other dimension is."""
    return [r for r in recs if r[dim] != TOTAL and all(r[o] == TOTAL for o in dims if o != dim)]


def _indicator(ind: Mapping[str, Any], position: int,
               maps: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    name = str(ind.get("name", ""))
    dims = [str(d) for d in ind.get("dimensions") or []]
    decimals = int(ind.get("decimals", 1))
    labels: Mapping[str, Mapping[str, str]] = ind.get("labels") or {}
    df = ind.get("estimates")
    recs = _records(df, dims) if isinstance(df, pd.DataFrame) else []
    anchor = f"ind-{position}"
    charts = []
    for j, dim in enumerate(dims):
        rows = _one_way(recs, dims, dim)
        if not rows:
            continue
        for r in rows:
            r["_label"] = _label(labels, dim, r[dim])
        title = _("%(indicator)s by %(dimension)s") % {"indicator": name, "dimension": dim}
        charts.append({"title": title, "svg": Markup(interval_chart(
            rows, "_label", title, decimals=decimals, chart_id=f"{anchor}-c{j}"))})
    drawn = []
    for j, dim in enumerate(d for d in sorted(maps) if d in dims):
        values: dict[str, float | None] = {}
        for r in _one_way(recs, dims, dim):
            if r[dim] != UNKNOWN:
                values[r[dim]] = None if is_suppressed(r) else to_float(r.get("value"))
        # the first map keeps the id "-map" that links and tests rely on
        cid = f"{anchor}-map" if j == 0 else f"{anchor}-map{j + 1}"
        drawn.append({"dimension": dim, "svg": Markup(choropleth(
            maps[dim], values, _("%(indicator)s by %(dimension)s") % {
                "indicator": name, "dimension": dim}, decimals=decimals, chart_id=cid))})
    head = ind.get("headline") or {}
    hn = to_float(head.get("n"))
    return {
        "anchor": anchor,
        "name": name,
        "unit": unit_words(str(ind.get("unit") or "")),
        "suppression": suppression_summary(recs, ind.get("protection")),
        "sdg_series": str(ind.get("sdg_series") or ""),
        "headline": {
            "value": fmt_number(head.get("value"), decimals),
            "ci": _ci(head.get("ci_low"), head.get("ci_high"), decimals),
            "n": "—" if hn is None else f"{round(hn):,}",
        },
        "dimensions": dims,
        "charts": charts,
        "maps": drawn,
        "rows": [_table_row(r, dims, labels, decimals) for r in recs],
    }


def _engagement(e: Mapping[str, Any]) -> dict[str, Any]:
    stages = []
    for s in e.get("stages") or []:
        level = s.get("level")
        stages.append({
            "stage": _(str(s.get("stage", ""))),
            "group": _(str(s.get("group") or "")) if s.get("group") else "",
            "level": (_("not engaged") if level is None
                      else f"{level} — {_(s.get('level_name') or '') if s.get('level_name') else ''}"
                      .rstrip(" —")),
            "evidence": str(s.get("evidence") or ""),
        })
    meets = e.get("meets_threshold")
    return {
        "stages": stages,
        "threshold": None if meets is None else (_("yes") if meets else _("no")),
        "p4t": _(str(e.get("p4t_category"))) if e.get("p4t_category") else "",
        "p4t_reasons": [str(r) for r in e.get("p4t_reasons") or []],
    }


def _references(refs: Sequence[Any]) -> list[dict[str, str]]:
    out = []
    for r in refs:
        if isinstance(r, Mapping):
            # URLs are printed, never linked: the report must not point outside itself.
            out.append({"text": str(r.get("text") or r.get("title") or ""), "url": str(r.get("url") or "")})
        else:
            out.append({"text": str(r), "url": ""})
    return out


def render_report(release: Mapping[str, Any], indicators: Sequence[Mapping[str, Any]], *,
                  quality_html: str, engagement: Mapping[str, Any], methods: str,
                  references: Sequence[Any], boundaries: Mapping[str, Any] | None = None,
                  area_dimension: str | None = None,
                  maps: Mapping[str, Mapping[str, Any]] | None = None,
                  small_areas: Sequence[Mapping[str, Any]] = (),
                  labels: Mapping[str, Mapping[str, str]] | None = None) -> str:
    """The release report as a full, self-contained HTML document (deterministic bytes).

    ``maps`` gives boundaries (GeoJSON with a ``code`` property) per area dimension;
    ``boundaries`` with ``area_dimension`` is the one-map shorthand. ``small_areas`` are
    results of ``Client.small_area_estimates``: each gets a section with the direct and
    model-based maps side by side (``labels``: area names by dimension and code).
    """
    all_maps = dict(maps or {})
    if boundaries is not None and area_dimension:
        all_maps[area_dimension] = boundaries
    version = str(release.get("version") or "")
    banner, banner_class = status_banner(str(release.get("status") or "draft"), version)
    series = release.get("sdg_series") or []
    context = {
        "lang": current_language(),
        "project": str(release.get("project") or release.get("name") or ""),
        "initiative": str(release.get("initiative") or ""),
        "version": version,
        "banner": banner,
        "banner_class": banner_class,
        "dates": [(str(k), str(v)) for k, v in (release.get("dates") or {}).items()],
        "sdg_series": [str(s) for s in ([series] if isinstance(series, str) else series)],
        "provenance": [(str(k), str(v)) for k, v in (release.get("provenance") or {}).items()],
        "indicators": [_indicator(ind, i, all_maps)
                       for i, ind in enumerate(indicators, start=1)],
        "small_areas": [small_area_section(r, all_maps.get(str(r.get("area"))), j,
                                           labels=(labels or {}).get(str(r.get("area"))))
                        for j, r in enumerate(small_areas, start=1)],
        # The caller's quality section is already escaped HTML; everything else is escaped here.
        "quality": Markup(quality_html),
        "engagement": _engagement(engagement),
        "methods": [p.strip() for p in methods.split("\n\n") if p.strip()],
        "references": _references(references),
    }
    return _env().get_template("report.html").render(**context)


# -- small area estimates: direct and model-based maps on one colour scale -------------------


def _shared_breaks(values: Sequence[float]) -> tuple[list[float], list[float]]:
    """Quantile breaks (5 classes at most) of the pooled values of both maps, and the edges."""
    finite = sorted(values)
    if not finite:
        return [], []
    breaks = sorted({b for q in (0.2, 0.4, 0.6, 0.8)
                     if (b := _quantile(finite, q)) < finite[-1]})
    return breaks, [finite[0], *breaks, finite[-1]]


def _area_map(geojson: Mapping[str, Any], values: Mapping[str, float | None],
              notes: Mapping[str, str], title: str, breaks: Sequence[float],
              edges: Sequence[float], cid: str, decimals: int) -> str:
    """One choropleth with classes given from outside (so two maps share them)."""
    features = sorted(((str((f.get("properties") or {}).get("code", "")),
                        str((f.get("properties") or {}).get("name") or ""), polys)
                       for f in geojson.get("features") or [] if (polys := _polygons(
                           f.get("geometry")))), key=lambda t: t[0])
    pts = [p for *_, polys in features for poly in polys for ring in poly for p in ring]
    lons, lats = [p[0] for p in pts] or [0.0, 1.0], [p[1] for p in pts] or [0.0, 1.0]
    k = math.cos(math.radians((min(lats) + max(lats)) / 2))
    minx, miny = min(lons) * k, -max(lats)
    dx, dy = (max(lons) * k - minx) or 1.0, (-min(lats) - miny) or 1.0
    sc = min(_MAP_W / dx, _MAP_H / dy)
    ox, oy = _PAD + (_MAP_W - dx * sc) / 2, _PAD + (_MAP_H - dy * sc) / 2

    def proj(p: tuple[float, float]) -> tuple[float, float]:
        return ox + (p[0] * k - minx) * sc, oy + (-p[1] - miny) * sc

    num: Callable[[float], str] = lambda v: fmt_number(v, 1)  # noqa: E731
    n_classes = len(edges) - 1 if edges else 0
    hatch = f"{cid}-hatch"
    parts = [f'<defs><pattern id="{hatch}" patternUnits="userSpaceOnUse" width="6" height="6" '
             'patternTransform="rotate(45)"><rect width="6" height="6" fill="#ffffff"/><line '
             'x1="0" y1="0" x2="0" y2="6" stroke="#777777" stroke-width="2"/></pattern></defs>']
    for code, name, polys in features:
        d = "".join(_ring_path(ring, proj, num) for poly in polys for ring in poly if ring)
        v = to_float(values.get(code))
        if v is None:
            fill, tip = f"url(#{hatch})", f"{name or code}: {_('no data')}"
        else:
            cls = bisect_left(list(breaks), v)
            fill = PALETTE[cls if n_classes == 5 else round(cls * 4 / max(n_classes - 1, 1))]
            tip = f"{name or code}: {fmt_number(v, decimals)}{notes.get(code, '')}"
        parts.append(f'<path class="area" d="{d}" fill="{fill}" fill-rule="evenodd" '
                     f'stroke="#333333" stroke-width="0.5"><title>{escape(tip)}</title></path>')
    parts.append(f'<g class="legend" role="list" aria-label="{escape(_("Legend"))}" '
                 f'transform="translate({_c(_PAD)} {_c(_MAP_H + 2 * _PAD)})">')
    entries = [(PALETTE[i if n_classes == 5 else round(i * 4 / max(n_classes - 1, 1))],
                _("Class %(k)s: %(range)s") % {"k": i + 1, "range": _("%(low)s to %(high)s") % {
                    "low": fmt_number(edges[i], decimals),
                    "high": fmt_number(edges[i + 1], decimals)}}) for i in range(n_classes)]
    entries.append((f"url(#{hatch})", _("no data")))
    for i, (fill, text) in enumerate(entries):
        parts.append(f'<g role="listitem"><rect x="0" y="{i * _LEGEND_ROW}" width="18" '
                     f'height="12" fill="{fill}" stroke="#333333" stroke-width="0.5"/><text '
                     f'x="24" y="{i * _LEGEND_ROW + 10}" font-size="12">{escape(text)}</text></g>')
    parts.append("</g>")
    height = _MAP_H + 2 * _PAD + len(entries) * _LEGEND_ROW + _PAD
    desc = ngettext("Map of %(n)s area", "Map of %(n)s areas", len(features)) % {
        "n": len(features)} + "; " + _("the same colour classes as the map beside it") + "."
    return _svg_open(cid, _MAP_W + 2 * _PAD, height, title, desc) + "".join(parts) + "</svg>"


def _cv(v: Any) -> str:
    x = to_float(v)
    return "—" if x is None else f"{100 * x:.1f}%"


def small_area_section(result: Mapping[str, Any], boundaries: Mapping[str, Any] | None,
                       position: int = 1, *, labels: Mapping[str, str] | None = None,
                       decimals: int = 1) -> dict[str, Any]:
    """The template's context for one small area result (``Client.small_area_estimates``)."""
    from citizendata.integrate.sae import direct_vs_model_svg

    anchor = f"sae-{position}"
    # dimensions by their labels (a roll-up's level: county, not county_of_ward)
    name = str(result.get("name") or result.get("indicator"))
    dim = str(result.get("area_label") or result.get("area"))
    if labels is None and boundaries is not None:  # the areas' names, from their shapes
        labels = {str((f.get("properties") or {}).get("code")): str(
            (f.get("properties") or {}).get("name") or (f.get("properties") or {}).get("code"))
            for f in boundaries.get("features") or []}
    areas = list(result.get("areas") or [])
    direct = {str(a["area"]): to_float(a.get("direct")) for a in areas}
    model = {str(a["area"]): to_float(a.get("estimate")) for a in areas}
    cv_d = {str(a["area"]): " (" + _("CV %(cv)s") % {"cv": _cv(a.get("cv_direct"))} + ")"
            for a in areas}
    cv_m = {str(a["area"]): " (" + _("CV %(cv)s") % {"cv": _cv(a.get("cv"))} + ")"
            for a in areas}
    breaks, edges = _shared_breaks([v for v in [*direct.values(), *model.values()]
                                    if v is not None])
    maps = []
    if boundaries is not None:
        for key, vals, notes, title in (
                ("direct", direct, cv_d, _("Direct estimates")),
                ("model", model, cv_m, _("Model-based estimates"))):
            maps.append({"title": title, "svg": Markup(_area_map(
                boundaries, vals, notes, f"{name} — {title}", breaks, edges,
                f"{anchor}-{key}", decimals))})
    frame = pd.DataFrame({
        "area": [(labels or {}).get(str(a["area"]), str(a["area"])) for a in areas],
        "direct": [to_float(a.get("direct")) for a in areas],
        "eblup": [to_float(a.get("estimate")) for a in areas],
        "cv_direct": [to_float(a.get("cv_direct")) for a in areas],
        "in_sample": [bool(a.get("in_sample")) and to_float(a.get("direct")) is not None
                      for a in areas]}, columns=["area", "direct", "eblup", "cv_direct",
                                                 "in_sample"])
    plot = Markup(direct_vs_model_svg(frame, title=_("Model-based against direct estimates"),
                                      chart_id=f"{anchor}-plot", decimals=decimals,
                                      x_label=_("Direct estimate"),
                                      y_label=_("Model-based estimate")))
    bench = result.get("benchmark")
    return {
        "anchor": anchor, "name": name, "dimension": dim, "maps": maps, "plot": plot,
        "model": _("Fay–Herriot model (%(method)s) on the covariates %(covariates)s") % {
            "method": str(result.get("method", "")).upper(),
            "covariates": ", ".join(result.get("covariates") or []) or "—"},
        "benchmark": str(result.get("benchmark_label") or bench) if bench else "",
        "rows": [{"area": (labels or {}).get(str(a["area"]), str(a["area"])),
                  "direct": fmt_number(a.get("direct"), decimals) if a.get("direct") is not None
                  else "—", "cv_direct": _cv(a.get("cv_direct")),
                  "model": fmt_number(a.get("estimate"), decimals), "cv": _cv(a.get("cv")),
                  "ci": _ci(a.get("lower"), a.get("upper"), decimals),
                  "status": _(FLAG_WORDS[a["flag"]]) if a.get("flag") in FLAG_WORDS else "",
                  "synthetic": not a.get("in_sample")} for a in areas],
        "groups": [{"group": str(g.get("group")), "direct": fmt_number(g.get("direct"), decimals),
                    "cv": _cv(g.get("cv"))} for g in result.get("groups") or []],
        "notes": [str(n) for n in result.get("notes") or []],
    }
