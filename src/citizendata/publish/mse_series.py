"""SDG rows of the uncounted: documented and estimated counts of SDG 16.10.1's series.

Each protected estimate of ``cases.estimates`` (services/linkage.py) becomes SDG DSD
rows through :func:`citizendata.publish.sdmx.to_sdg_rows`, so the same unit, content
constraint and free-text checks apply:

* one observation per time stratum (``year``, or ``period``: TIME_PERIOD the last year,
  TIME_DETAIL the range) when the estimate is stratified by time alone, else one for
  the whole span of the records (TIME_DETAIL the span). Other strata (region, role)
  have no SDG dimension for this series, so only their recombined total is published.
* two kinds of observation for each, marked in ``OBS_KIND`` (not a DSD column: an SDMX
  key holds one observation, so each kind is written as a data set of its own):
  ``documented``, the distinct victims the linked lists record (NATURE ``C`` country
  data, OBS_STATUS ``A``), and ``estimated``, the multiple systems estimate of all
  victims (NATURE ``M`` modelled, OBS_STATUS ``E``, LOWER_BOUND/UPPER_BOUND the
  interval, COMMENT_OBS the method and model).
* a cell the disclosure control hid is published as hidden (OBS_STATUS ``O``, no
  value), as every citizendata SDG row is.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import pandas as pd

from citizendata.errors import BadInput, Where

__all__ = ["KINDS", "OBS_KIND", "series_csv", "series_rows"]

OBS_KIND = "OBS_KIND"
KINDS = ("documented", "estimated")
_TIME_STRATA = frozenset({"year", "period"})
_RANGE = re.compile(r"^(\d{4})-(\d{4})$")
_UNIT_MULT = {"VC_VOC_ENFDIS": 0}  # the constraints fix it for this series


def _time(label: str) -> tuple[str, str]:
    """TIME_PERIOD and TIME_DETAIL of a stratum label (a year or a range of years)."""
    m = _RANGE.match(label)
    if m:
        return m.group(2), label
    return label, ""


def _observations(est: Mapping[str, Any]) -> list[tuple[dict[str, Any], str, str]]:
    """(table row, TIME_PERIOD, TIME_DETAIL) of each observation published."""
    table = est["table"]
    strata = list(est.get("strata", []))
    if strata and len(strata) == 1 and strata[0] in _TIME_STRATA:
        return [(r, *_time(str(r["stratum"]))) for r in table if r["stratum"] != "_T"]
    total = next(r for r in table if r["stratum"] == "_T")
    first, last = est.get("years") or (None, None)
    if first is None:
        raise BadInput("cases.invalid", f"estimate {est['indicator']!r} has no event dates to "
                       "place it in time", where=Where(field="event_date"))
    return [(total, str(last), f"{first}-{last}" if first != last else "")]


def _comment(est: Mapping[str, Any], row: Mapping[str, Any]) -> str:
    method = "log-linear" if est["method"] == "loglinear" else est["method"]
    sel = est.get("selected") or {}
    terms = sel.get("terms") if isinstance(sel, dict) else None
    model = f", model {' '.join(terms) if terms else 'independence'}" if terms is not None \
        else ""
    doc = row.get("documented")
    return (f"multiple systems estimate ({method}, {est['selection']}{model}); "
            f"{int(est['confidence'] * 100)}% interval"
            + (f"; documented {int(doc)}" if doc is not None else ""))


def series_rows(estimates: Mapping[str, Mapping[str, Any]], ref_area: str | None
                ) -> pd.DataFrame:
    """The SDG rows of every estimate (``estimate_uncounted``'s answers), both kinds."""
    from citizendata.publish.sdmx import SeriesMapping, to_sdg_rows

    if not ref_area:
        raise BadInput("cases.invalid", "The project names no country (M49 code) to publish "
                       "the series for.", where=Where(field="country"),
                       fix="Set country: in the project spec, e.g. \"170\" for Colombia.")
    out = []
    for est in estimates.values():
        lists = ", ".join(est["lists"])
        for row, period, detail in _observations(est):
            for kind in KINDS:
                estimated = kind == "estimated"
                mapping = SeriesMapping(
                    series=est["series"], ref_area=ref_area, time_period=period,
                    time_detail=detail, unit_measure="NUMBER",
                    unit_mult=_UNIT_MULT.get(est["series"], 0),
                    nature="M" if estimated else "C",
                    source_detail=f"{len(est['lists'])} lists linked ({lists})")
                value = row["estimate"] if estimated else row["documented"]
                cell = pd.DataFrame([{
                    "value": value, "conf_status": row["conf_status"],
                    "ci_low": row["ci_low"] if estimated else None,
                    "ci_high": row["ci_high"] if estimated else None}])
                rows, _ = to_sdg_rows(cell, mapping, dimensions=[])
                shown = rows["OBS_VALUE"] != ""
                if estimated:
                    rows.loc[shown, "COMMENT_OBS"] = _comment(est, row)
                else:
                    rows.loc[shown, "OBS_STATUS"] = "A"
                    rows.loc[shown, "COMMENT_OBS"] = "distinct victims on the linked lists"
                rows[OBS_KIND] = kind
                out.append(rows)
    return pd.concat(out, ignore_index=True)


def series_csv(rows: pd.DataFrame, kind: str = "estimated") -> str:
    """SDMX-CSV of one kind of observation (an SDMX key holds one observation)."""
    from citizendata.publish.sdmx import COLUMNS, write_sdmx_csv

    if kind not in KINDS:
        raise BadInput("input.invalid", f"Unknown kind {kind!r}.", where=Where(field="kind"),
                       fix="Use documented or estimated.")
    import io

    buf = io.StringIO()
    return write_sdmx_csv(rows.loc[rows[OBS_KIND] == kind, list(COLUMNS)], buf)
