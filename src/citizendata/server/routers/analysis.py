"""The analyst's and the NSO's pages: estimates, their downloads, and the quality record.

Thin over the library: every figure comes from a kept estimate run, which the library
keeps only after disclosure control, so a page and its downloads show the same protected
table; the charts and maps are the release report's own (publish/charts.py). The quality
page renders the library's quality section (quality/templates/quality.html) without its
inline styles, which the server's Content-Security-Policy would block.
"""

from __future__ import annotations

from datetime import date
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse, Response
from markupsafe import Markup
from starlette.datastructures import FormData

from citizendata.auth import Action, allowed
from citizendata.errors import BadInput, CitizenDataError, Forbidden, NotFound, Where
from citizendata.i18n import gettext as _
from citizendata.publish.charts import choropleth, fmt_number, interval_chart, to_float
from citizendata.quality.model import DIMENSIONS
from citizendata.quality.report import STYLESHEET, quality_html_from_json
from citizendata.server.deps import api_client, csrf_ok
from citizendata.server.pages import flash, render
from citizendata.server.params import DbId
from citizendata.server.serialize import project_dict
from citizendata.server.work import follow, queued_once, start_work
from citizendata.services.quality import GATEWAY_SUBJECTS
from citizendata.stats.runs import FORMATS
from citizendata.workspace import Client

__all__ = ["router"]

router = APIRouter(include_in_schema=False)

TOTAL, UNKNOWN = "_T", "_U"
RUNS_SHOWN = 10


def _project(client: Client, slug: str) -> dict[str, Any]:
    """The project with the caller's role (a 404 for non-members)."""
    return project_dict(client.project(slug))


async def _posted(request: Request) -> FormData:
    """The posted form, refused unless it carries this session's CSRF token."""
    form = await request.form()
    if not csrf_ok(request, form.get("csrf")):
        raise Forbidden("auth.csrf", "The page has expired; reload it and try again.")
    return form


# ---- words ----------------------------------------------------------------------------------

def _flag_words(flag: str | None) -> str:
    return {"low_n": _("low sample size"), "caution": _("use with caution"),
            "unreliable": _("unreliable")}.get(flag or "", "")


def suppressed_words(reason: str | None, threshold: int) -> str:
    """Why a cell is hidden, in words; only as precise as the policy lets the table say."""
    if reason == "threshold":
        return _("suppressed: fewer than %(n)s respondents") % {"n": threshold}
    if reason == "dominance":
        return _("suppressed: one or two respondents make up most of the figure")
    if reason == "secondary":
        return _("suppressed to protect another cell")
    # one flag for every hidden cell: a reader must not learn which ones are small
    return _("suppressed: fewer than %(n)s respondents here or in a cell it would give away") % {
        "n": threshold}


def _code_key(code: str) -> tuple[int, str]:
    return (0 if code == TOTAL else 2 if code == UNKNOWN else 1, code)


def unit_words(code: str) -> str:
    """An SDMX unit of measure as words ("per cent", not "PT"); unknown codes as they are."""
    return {"PT": _("per cent"), "PH": _("per hundred"), "PTH": _("per thousand"),
            "PER_100000_POP": _("per 100,000 people"), "KM": _("km"),
            "NUMBER": "", "": ""}.get(code, code)


def _labeller(client: Client, slug: str, form_id: str,
              areas: dict[str, dict[str, str]]) -> tuple[Any, Any]:
    """(dimension → its question's label, (dimension, code) → label): area names, the
    form's labels, Total, Unknown."""
    try:
        schema = client.form_schema(slug, form_id)
    except CitizenDataError:
        schema = None

    def heading(dim: str) -> str:
        field = schema.find(dim) if schema is not None else None
        if field is not None and field.label:
            return str(field.label)
        return dim.replace("_", " ").capitalize()  # a derived variable: its name, readable

    def label(dim: str, code: str) -> str:
        if code == TOTAL:
            return _("Total")
        if code == UNKNOWN:
            return _("Unknown")
        if code in areas.get(dim, {}):
            return str(areas[dim][code])
        field = schema.find(dim) if schema is not None else None
        for choice in field.choices if field is not None else ():
            if choice.name == code and choice.label:
                return str(choice.label)
        return code
    return heading, label


def _ci(row: dict[str, Any], decimals: int) -> str:
    low, high = to_float(row.get("ci_low")), to_float(row.get("ci_high"))
    if low is None or high is None:
        return "—"
    return _("%(low)s to %(high)s") % {"low": fmt_number(low, decimals),
                                       "high": fmt_number(high, decimals)}


def _row(row: dict[str, Any], dims: list[str], label: Any, threshold: int,
         decimals: int) -> dict[str, Any]:
    """One cell of the table as the page shows it: a hidden cell shows no figure at all."""
    hidden = row.get("conf_status") in ("C", "D") or to_float(row.get("value")) is None
    n, cv = to_float(row.get("n")), to_float(row.get("cv"))
    return {
        "codes": [label(d, str(row.get(d))) for d in dims],
        "suppressed": hidden,
        "value": suppressed_words(row.get("suppression"), threshold) if hidden
        else fmt_number(row.get("value"), decimals),
        "ci": "—" if hidden else _ci(row, decimals),
        "cv": "—" if hidden or cv is None else f"{fmt_number(cv * 100, 1)} %",
        "n": "—" if hidden or n is None else f"{round(n):,}",
        "flag": "" if hidden else _flag_words(row.get("flag")),
    }


def _one_way(rows: list[dict[str, Any]], dims: list[str], dim: str) -> list[dict[str, Any]]:
    return [r for r in rows if str(r.get(dim)) != TOTAL
            and all(str(r.get(o)) == TOTAL for o in dims if o != dim)]


def _coherence(c: dict[str, Any] | None, decimals: int) -> dict[str, Any] | None:
    if not c or to_float(c.get("benchmark")) is None:
        return None
    source = " ".join(str(x) for x in (c.get("benchmark_source"), c.get("benchmark_year"),
                                       c.get("benchmark_area")) if x)
    diff = to_float(c.get("difference"))
    return {
        "benchmark": fmt_number(c.get("benchmark"), decimals),
        "source": source,
        "estimate": fmt_number(c.get("estimate"), decimals),
        "difference": "—" if diff is None else fmt_number(diff, decimals),
        "ci": _ci(c, decimals),
        "p_value": fmt_number(c.get("p_value"), 3),
        "significant": bool(c.get("significant")),
        "hidden": to_float(c.get("estimate")) is None,
    }


def _run_view(client: Client, slug: str, run: dict[str, Any]) -> dict[str, Any]:
    """What the estimate page shows of one kept run: headline, table, charts, maps, coherence."""
    result = run["result"]
    ind = result["indicator"]
    name = ind.get("name") or ind["id"]
    dims = [str(d) for d in result.get("dims") or []]
    decimals = 1
    protection = result.get("protection") or {}
    threshold = int((protection.get("rules") or {}).get("threshold") or 5)
    try:
        maps, areas = client.area_maps(slug)
    except CitizenDataError:
        # a map the spec names without its boundaries: the release refuses it, the page
        # shows the table and charts without it
        maps, areas = {}, {}
    heading, label = _labeller(client, slug, ind["form"], areas)
    rows = sorted(result.get("estimates") or [],
                  key=lambda r: [_code_key(str(r.get(d))) for d in dims])
    charts, drawn = [], []
    for j, dim in enumerate(dims):
        one = _one_way(rows, dims, dim)
        if not one:
            continue
        shown = [{**r, "_label": label(dim, str(r.get(dim)))} for r in one]
        title = _("%(name)s by %(dimension)s") % {"name": name, "dimension": heading(dim)}
        charts.append({"title": title, "svg": Markup(interval_chart(
            shown, "_label", title, decimals=decimals, chart_id=f"est-c{j}"))})
        if dim in maps:
            values = {str(r.get(dim)): (None if r.get("conf_status") in ("C", "D")
                                        else to_float(r.get("value")))
                      for r in one if str(r.get(dim)) != UNKNOWN}
            drawn.append({"title": title, "svg": Markup(choropleth(
                maps[dim], values, title, decimals=decimals, chart_id=f"est-map{j}"))})
    total = result.get("total") or {}
    head = _row(total, [], label, threshold, decimals) if total else None
    said, df = _variance_assumption(result.get("provenance") or {})
    return {
        "name": name, "dims": dims, "dim_labels": [heading(d) for d in dims],
        "headline": head,
        "rows": [_row(r, dims, label, threshold, decimals) for r in rows],
        "charts": charts, "maps": drawn,
        "coherence": _coherence(result.get("coherence"), decimals),
        "suppressed": int(protection.get("suppressed") or 0),
        "cells": int(protection.get("cells") or len(rows)),
        "threshold": threshold,
        "unit": unit_words(str(ind.get("unit_of_measure") or "")),
        "scale": ind.get("scale"),
        "assumption": said, "df": df,
    }


def _variance_assumption(provenance: dict[str, Any]) -> tuple[str, int | None]:
    """How the run's margin of error was computed, in the page's language, and the design's
    degrees of freedom (None where the run used normal quantiles)."""
    from citizendata.survey.assumption import said_in_provenance

    text = said_in_provenance(provenance, None)
    df = provenance.get("df")
    # a sentence of its own on the page: it starts with a capital
    return text[:1].upper() + text[1:], (int(df) if isinstance(df, int | float) else None)


def _runs(client: Client, slug: str, indicator: str) -> list[dict[str, Any]]:
    out = []
    for r in client.estimate_runs(slug, indicator=indicator, limit=RUNS_SHOWN):
        total = r["result"].get("total") or {}
        hidden = total.get("conf_status") in ("C", "D")
        out.append({"id": r["id"], "at": r["at"][:16].replace("T", " "), "actor": r["actor"],
                    "value": "—" if hidden else fmt_number(total.get("value"), 1)})
    return out


# ---- estimates ------------------------------------------------------------------------------

@router.get("/projects/{slug}/estimates")
def estimates_page(slug: str, request: Request, client: Client = Depends(api_client)) -> Response:
    """The project's indicators, each with its latest kept run."""
    project = _project(client, slug)
    spec = client.estimation_spec(slug)
    rows = []
    for ind in spec.indicators:
        latest = client.estimate_runs(slug, indicator=ind.id, limit=1)
        entry: dict[str, Any] = {"id": ind.id, "name": ind.name or ind.id, "kind": ind.kind,
                                 "run": None}
        if latest:
            total = latest[0]["result"].get("total") or {}
            hidden = total.get("conf_status") in ("C", "D") or to_float(total.get("value")) is None
            entry["run"] = {"id": latest[0]["id"],
                            "at": latest[0]["at"][:16].replace("T", " "),
                            "value": _("suppressed") if hidden
                            else fmt_number(total.get("value"), 1),
                            "ci": "—" if hidden else _ci(total, 1)}
        rows.append(entry)
    # public microdata only where the policy names the quasi-identifiers k-anonymity needs
    microdata = bool(client.protection_policy(slug).microdata.quasi_identifiers)
    return render(request, "analysis_estimates.html", client, role=project["role"],
                  project=project, indicators=rows, forms=client.forms(slug) if microdata else [])


@router.post("/projects/{slug}/estimates/{indicator}")
async def compute(slug: str, indicator: str, request: Request,
                  client: Client = Depends(api_client)) -> Response:
    """Compute the indicator's estimates (kept as a new run), then show them."""
    await _posted(request)
    done = f"/projects/{quote(slug)}/estimates/{quote(indicator)}"
    return await start_work(request, client, "estimate",
                            {"slug": slug, "indicator": indicator}, done)


def _chosen_run(client: Client, slug: str, indicator: str, run: int | None
                ) -> dict[str, Any] | None:
    """The run asked for (it must be the indicator's), else the latest, else None."""
    if run is not None:
        found = client.estimate_run(slug, run)
        if found["indicator"] != indicator:
            raise NotFound("not_found.estimate_run", f"run {run} is not a run of indicator "
                           f"{indicator!r}", where=Where(field="run"),
                           fix="Open the run from the indicator's list of earlier runs.")
        return found
    latest = client.estimate_runs(slug, indicator=indicator, limit=1)
    return latest[0] if latest else None


@router.get("/projects/{slug}/estimates/microdata/{form_id}.csv")
def microdata(slug: str, form_id: str, client: Client = Depends(api_client)) -> Response:
    """Public microdata of a form: k-anonymous, no personal field, places coarsened."""
    data, _report = client.public_microdata(slug, form_id)
    body = data.to_csv(index=False, lineterminator="\n").encode("utf-8")
    return Response(body, media_type="text/csv; charset=utf-8", headers={
        "Content-Disposition": f'attachment; filename="{slug}-{form_id}-public.csv"'})


@router.get("/projects/{slug}/estimates/{indicator}")
def estimate_page(slug: str, indicator: str, request: Request, run: DbId | None = None,
                  client: Client = Depends(api_client)) -> Response:
    """One indicator's latest run (or ``?run=ID``): table, charts, map, coherence, runs."""
    project = _project(client, slug)
    spec = client.estimation_spec(slug)
    ind = spec.indicator(indicator)
    if ind is None:
        raise NotFound("indicator.unknown", f"project {slug!r} declares no indicator "
                       f"{indicator!r}; it has {[i.id for i in spec.indicators]}",
                       where=Where(field="indicator"))
    chosen = _chosen_run(client, slug, indicator, run)
    view = _run_view(client, slug, chosen) if chosen else None
    return render(request, "analysis_estimate.html", client, role=project["role"],
                  project=project, indicator={"id": ind.id, "name": ind.name or ind.id},
                  run=chosen and {"id": chosen["id"], "actor": chosen["actor"],
                                  "at": chosen["at"][:16].replace("T", " ")},
                  view=view, runs=_runs(client, slug, indicator),
                  forms=client.forms(slug), form_id=ind.form)


def _download(slug: str, indicator: str, fmt: str, run: int | None, client: Client) -> Response:
    chosen = _chosen_run(client, slug, indicator, run)
    if chosen is None:
        raise NotFound("not_found.estimate_run", f"indicator {indicator!r} has no kept run yet",
                       where=Where(field="run"), fix="Compute its estimates first.")
    body = client.estimate_run_file(slug, chosen["id"], fmt)
    name = f"{slug}-{indicator}-run{chosen['id']}.{fmt}"
    return Response(body, media_type=FORMATS[fmt],
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


@router.get("/projects/{slug}/estimates/{indicator}/download.csv")
def download_csv(slug: str, indicator: str, run: DbId | None = None,
                 client: Client = Depends(api_client)) -> Response:
    """The run's protected table as CSV (the page's figures, unrounded)."""
    return _download(slug, indicator, "csv", run, client)


@router.get("/projects/{slug}/estimates/{indicator}/download.parquet")
def download_parquet(slug: str, indicator: str, run: DbId | None = None,
                     client: Client = Depends(api_client)) -> Response:
    """The run's protected table as Parquet."""
    return _download(slug, indicator, "parquet", run, client)


# ---- quality --------------------------------------------------------------------------------

@router.get("/assets/quality.css")
def quality_css() -> Response:
    """The quality section's styles, from the one file the offline report inlines."""
    return Response(STYLESHEET.read_text(encoding="utf-8"), media_type="text/css",
                    headers={"Cache-Control": "public, max-age=3600"})


def _quality_indicator(project: dict[str, Any], asked: str | None) -> tuple[str | None, list[Any]]:
    """The indicator the record is about: the one asked for, else the release's first."""
    est = project["spec"].get("estimation") or {}
    indicators = [{"id": i["id"], "name": i.get("name") or i["id"]}
                  for i in est.get("indicators") or []]
    ids = [i["id"] for i in indicators]
    if asked is not None:
        if asked not in ids:
            raise NotFound("indicator.unknown", f"project {project['slug']!r} declares no "
                           f"indicator {asked!r}; it has {ids}", where=Where(field="indicator"))
        return asked, indicators
    release = (project["spec"].get("release") or {}).get("indicators") or []
    first = next((i for i in release if i in ids), ids[0] if ids else None)
    return first, indicators


def _attest_subjects() -> list[tuple[str, list[tuple[str, str]]]]:
    from citizendata.quality.gateway import CRITERIA

    gateway = [(s, _(CRITERIA.get(s.split(":", 1)[1], s))) for s in GATEWAY_SUBJECTS]
    dims = [(k, _(v)) for k, v in DIMENSIONS.items()]
    return [(_("Gateway criteria (pass or fail)"), gateway),
            (_("Quality dimensions (high, medium or low)"), dims)]


@router.get("/projects/{slug}/quality")
def quality_page(slug: str, request: Request, indicator: str | None = None,
                 client: Client = Depends(api_client)) -> Response:
    """The quality record, the forms to attest and to decide, and the decisions taken."""
    project = _project(client, slug)
    chosen, indicators = _quality_indicator(project, indicator)
    # the record is made from the data: roles that may not read them see the decisions
    can_read = allowed(project["role"], Action.DATA_EXPORT)
    record, section, computing = None, None, None
    if can_read:
        record, key = client.quality_kept(slug, None, chosen)
        if record is None:
            # a new record takes seconds to minutes: a job computes it, the page waits a
            # little (jobs_wait_s) and otherwise says so and links to the job's progress
            job = queued_once(client, slug, "quality", {"indicator": chosen, "key": key})
            if not job.finished:
                job = follow(request, client, job.id)
            record = client.quality_kept(slug, None, chosen)[0] if job.state == "done" \
                else None
            computing = None if record is not None else job
    if record is not None:
        section = Markup(quality_html_from_json(record, inline_css=False))
        history = record["decisions"]
    else:
        history = client.quality_decisions(slug, indicator=chosen)["decisions"]
    rec = (record or {}).get("recommendation") or {}
    outcomes = [("integrate", _("Integrate into official statistics")),
                ("publish_alongside", _("Publish alongside official statistics")),
                ("stand_alone", _("Stand alone"))]
    return render(request, "analysis_quality.html", client, role=project["role"],
                  project=project, indicator=chosen, indicators=indicators, section=section,
                  decisions=history, recommendation=rec, outcomes=dict(outcomes),
                  computing=computing,
                  outcome_list=outcomes, subjects=_attest_subjects(),
                  today=date.today().isoformat(),
                  engagement=None if can_read else client.engagement(slug))


def _quality_url(slug: str, indicator: str | None) -> str:
    url = f"/projects/{quote(slug)}/quality"
    return f"{url}?indicator={quote(indicator)}" if indicator else url


@router.post("/projects/{slug}/quality/attestations")
async def attest(slug: str, request: Request, client: Client = Depends(api_client)) -> Response:
    """Record the signed-in person's attestation on a dimension or gateway criterion."""
    form = await _posted(request)
    indicator = str(form.get("indicator") or "") or None
    subject, rating = str(form.get("subject") or ""), str(form.get("rating") or "")
    statement = str(form.get("statement") or "")
    try:
        on = date.fromisoformat(str(form.get("on"))) if form.get("on") else None
    except ValueError:
        flash(request, _("The date must be a day of the calendar, such as 2026-03-02."),
              "error")
        return RedirectResponse(_quality_url(slug, indicator), status_code=303)
    try:
        await run_in_threadpool(client.attest, slug, subject, rating, statement,
                                indicator=indicator, on=on)
    except BadInput as err:
        flash(request, err.message, "error")
    else:
        flash(request, _("Your attestation is recorded."), "ok")
    return RedirectResponse(_quality_url(slug, indicator), status_code=303)


@router.post("/projects/{slug}/quality/decision")
async def decide(slug: str, request: Request, client: Client = Depends(api_client)) -> Response:
    """The NSO confirms or overrides the fitness recommendation, with its reasons."""
    form = await _posted(request)
    indicator = str(form.get("indicator") or "") or None
    try:
        await run_in_threadpool(client.decide_fitness, slug, str(form.get("decision") or ""),
                                reason=str(form.get("reason") or ""), indicator=indicator)
    except BadInput as err:
        flash(request, err.message, "error")
    else:
        flash(request, _("The fitness decision is recorded."), "ok")
    return RedirectResponse(_quality_url(slug, indicator), status_code=303)
