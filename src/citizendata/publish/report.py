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

from collections.abc import Mapping, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

import pandas as pd
from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup

from citizendata.i18n import current_language, ngettext
from citizendata.i18n import gettext as _
from citizendata.publish.charts import (
    FLAG_WORDS,
    SUPPRESSION_WORDS,
    choropleth,
    fmt_number,
    interval_chart,
    is_suppressed,
    to_float,
)
from citizendata.publish.summary import N_, suppression_summary, unit_words

__all__ = ["TEMPLATES", "TOTAL", "UNKNOWN", "render_report", "status_banner"]

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
                  maps: Mapping[str, Mapping[str, Any]] | None = None) -> str:
    """The release report as a full, self-contained HTML document (deterministic bytes).

    ``maps`` gives boundaries (GeoJSON with a ``code`` property) per area dimension;
    ``boundaries`` with ``area_dimension`` is the one-map shorthand.
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
        # The caller's quality section is already escaped HTML; everything else is escaped here.
        "quality": Markup(quality_html),
        "engagement": _engagement(engagement),
        "methods": [p.strip() for p in methods.split("\n\n") if p.strip()],
        "references": _references(references),
    }
    return _env().get_template("report.html").render(**context)
