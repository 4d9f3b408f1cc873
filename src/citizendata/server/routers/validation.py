"""Validation endpoints under /api/v1 (run, findings, review queue, duplicate pairs) and the
server-rendered review queue page. Every call goes through the library Client."""

from __future__ import annotations

import dataclasses
from datetime import date
from typing import Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse, Response
from pydantic import BaseModel, Field

import citizendata.server.instance_ids  # noqa: F401  (registers the {instance_id:iid} convertor)
from citizendata.auth import Action, allowed
from citizendata.errors import (
    BadInput,
    CitizenDataError,
    Conflict,
    Forbidden,
    NotFound,
    Unauthenticated,
    Where,
)
from citizendata.forms.labels import FormLabels, form_labels
from citizendata.i18n import current_language, ngettext
from citizendata.i18n import gettext as _
from citizendata.ingest.payload import get_path
from citizendata.server.deps import api_client, csrf_ok
from citizendata.server.pages import flash, render, safe_next
from citizendata.server.params import DbCount, DbId, IsoDate
from citizendata.server.review_map import parse_geopoint, point_map
from citizendata.server.work import start_work
from citizendata.services.submissions import WITHHELD
from citizendata.services.validation import COUNT_CAP, QueueFilter
from citizendata.workspace import Client

__all__ = ["pages", "router"]

router = APIRouter(prefix="/api/v1/projects/{slug}/forms/{form_id}", tags=["validation"])
pages = APIRouter(include_in_schema=False)
QUEUE_STATUSES = ("has_issues", "received", "edited")
PAGE_SIZE = 50


class PairDecision(BaseModel):
    """A reviewer's decision on a duplicate pair."""

    action: str = Field(description="confirm, dismiss or merge")
    keep: str | None = Field(default=None, description="merge: the instance id to keep")


@router.post("/validate", summary="Check every submission and store the findings")
def run_validation(slug: str, form_id: str,
                   client: Client = Depends(api_client)) -> dict[str, Any]:
    """Run the form's rules, outliers and duplicate search; returns the run's summary."""
    return dataclasses.asdict(client.validate(slug, form_id))


@router.get("/findings", summary="Findings of the latest validation run")
def list_findings(slug: str, form_id: str, instance_id: str | None = None,
                  severity: str | None = None, kind: str | None = None,
                  rule: str | None = None, limit: int = Query(500, ge=1, le=10_000),
                  offset: DbCount = 0,
                  client: Client = Depends(api_client)) -> dict[str, Any]:
    """A page of findings, filtered by submission, severity, kind or rule."""
    rows, total = client.findings(slug, form_id, instance_id=instance_id, severity=severity,
                                  kind=kind, rule=rule, limit=limit, offset=offset)
    return {"total": total, "findings": rows}


@router.get("/findings/summary", summary="Findings counted per rule")
def summary(slug: str, form_id: str, client: Client = Depends(api_client)) -> dict[str, Any]:
    """Per rule: kind, severity, number of findings and of submissions."""
    return {"rules": client.findings_summary(slug, form_id)}


@router.get("/review-queue", summary="Submissions awaiting review, errors first")
def queue(slug: str, form_id: str, status: list[str] = Query(list(QUEUE_STATUSES)),
          limit: int = Query(100, ge=1, le=10_000), offset: DbCount = 0,
          client: Client = Depends(api_client)) -> dict[str, Any]:
    """The review queue with each submission's error and warning counts."""
    rows, total = client.review_queue(slug, form_id, statuses=status, limit=limit,
                                      offset=offset)
    return {"total": total, "submissions": rows}


@router.get("/review-page", summary="A filtered page of the review queue, by keyset")
def queue_page(slug: str, form_id: str, status: list[str] = Query(list(QUEUE_STATUSES)),
               findings: str | None = None, rule: str | None = None,
               since: IsoDate | None = None, until: IsoDate | None = None,
               collector: str | None = None, after: DbCount | None = None,
               before: DbCount | None = None, limit: int = Query(50, ge=1, le=1000),
               client: Client = Depends(api_client)) -> dict[str, Any]:
    """Submissions awaiting review, oldest first, filtered (findings: errors, warnings,
    any, none); follow ``next_after`` as ``after`` for the next page. The total is
    counted up to 10,001."""
    page = client.review_page(slug, form_id, QueueFilter(
        statuses=tuple(status), findings=findings, rule=rule, since=since, until=until,
        collector=collector), after=after, before=before, limit=limit)
    return {"total": page.total, "next_after": page.next_after,
            "prev_before": page.prev_before, "submissions": page.rows}


@router.get("/duplicate-pairs", summary="Exact and probable duplicate pairs")
def pairs(slug: str, form_id: str, status: str | None = None,
          client: Client = Depends(api_client)) -> dict[str, Any]:
    """Candidate pairs with match probabilities and reviewers' decisions."""
    return {"pairs": [dataclasses.asdict(p) for p in
                      client.duplicate_pairs(slug, form_id, status=status)]}


@router.post("/duplicate-pairs/{pair_id}", summary="Confirm, dismiss or merge a pair")
def decide_pair(slug: str, form_id: str, pair_id: DbId, body: PairDecision,
                client: Client = Depends(api_client)) -> dict[str, Any]:
    """A merge keeps both submissions and rejects the one not kept."""
    return dataclasses.asdict(client.decide_pair(slug, form_id, pair_id, body.action,
                                                 keep=body.keep))


@router.get("/agreement", summary="Validator agreement (Cohen's and Fleiss' kappa)")
def agreement(slug: str, form_id: str, client: Client = Depends(api_client)) -> dict[str, Any]:
    """Kappa with standard error and 95% interval, per pair and for all validators."""
    return client.validator_agreement(slug, form_id)


# -- pages: the review overview, the queue, one submission, duplicate pairs ---------------------


def _url(slug: str, form_id: str | None = None, tail: str = "") -> str:
    base = f"/projects/{quote(slug, safe='')}"
    if form_id is None:
        return base + tail
    return f"{base}/forms/{quote(form_id, safe='')}{tail}"


def _sub_url(slug: str, form_id: str, instance_id: str) -> str:
    return _url(slug, form_id, f"/submissions/{quote(instance_id, safe='')}")


def status_names() -> dict[str, str]:
    """Review statuses in the interface language."""
    return {"received": _("received"), "has_issues": _("has issues"), "edited": _("edited"),
            "approved": _("approved"), "rejected": _("rejected")}


def kind_names() -> dict[str, str]:
    """Kinds of finding in the interface language."""
    return {"constraint": _("constraint"), "required": _("required answer"),
            "type": _("wrong type"), "choice": _("unknown choice"),
            "relevant": _("answer where none is expected"), "outlier": _("outlier"),
            "limit": _("outside limits"), "duplicate": _("possible duplicate"),
            "calculation": _("calculation"), "repeat_count": _("repeat count"),
            "location": _("GPS point outside its area")}


async def _posted(request: Request) -> Any:
    form = await request.form()
    if not csrf_ok(request, form.get("csrf")):
        raise Forbidden("auth.csrf", _("The page has expired; reload it and try again."))
    return form


async def _act(request: Request, fn: Any, *args: Any, **kwargs: Any) -> tuple[bool, Any]:
    """Run a library call; a refusal of the input is shown as a message, not an error page
    (403 and 404 stay errors: the page offers nothing the role may not do)."""
    try:
        return True, await run_in_threadpool(fn, *args, **kwargs)
    except (Forbidden, NotFound, Unauthenticated):
        raise
    except CitizenDataError as err:
        flash(request, err.message, "error")
        return False, None


def _labels(client: Client, slug: str, form_id: str, schema: Any) -> FormLabels:
    try:
        _, xml = client.xform(slug, form_id)
    except CitizenDataError:
        xml = None
    return form_labels(xml, schema, current_language())


def _finding_message(f: dict[str, Any], labels: FormLabels, schema: Any) -> str:
    """The finding's message; a form's own constraint or required message in the form
    language chosen (the run stores it in the form's default language)."""
    q = schema.find(str(f.get("field") or "")) if f.get("field") else None
    kind = str(f.get("kind"))
    own = None if q is None else (q.constraint_message if kind == "constraint"
                                  else q.required_message if kind == "required" else None)
    if q is not None and own and f.get("message") == own:
        return labels.message(q.path, kind, own)
    return str(f.get("message") or "")


def _finding_label(f: dict[str, Any], labels: FormLabels) -> str:
    if f.get("kind") == "duplicate" or not f.get("field"):
        return kind_names().get(str(f.get("kind")), str(f.get("kind")))
    label = labels.field_label(str(f["field"]))
    item = f.get("item")
    return f"{label} ({item})" if item else label


@pages.get("/projects/{slug}/review")
def overview_page(slug: str, request: Request, client: Client = Depends(api_client)) -> Response:
    """The project's forms with their submissions counted per review status."""
    project = client.project(slug)
    counts = client.review_counts(slug)
    forms = []
    for f in client.forms(slug):
        c = counts.get(f.form_id, {})
        waiting = sum(c.get(s, 0) for s in QUEUE_STATUSES)
        forms.append({"form_id": f.form_id, "title": getattr(f, "title", f.form_id),
                      "counts": c, "waiting": waiting, "total": sum(c.values()),
                      "queue": _url(slug, f.form_id, "/review"),
                      "duplicates": _url(slug, f.form_id, "/duplicates")})
    return render(request, "review_overview.html", client, role=project.role,
                  project=project, forms=forms, statuses=status_names())


def _queue_filter(request: Request) -> tuple[QueueFilter, dict[str, str]]:
    q = request.query_params
    statuses = tuple(s for s in q.getlist("status") if s) or QUEUE_STATUSES
    kept: dict[str, Any] = {}

    def text(name: str) -> str | None:
        value = (q.get(name) or "").strip()
        if value:
            kept[name] = value
        return value or None

    def day(name: str) -> date | None:
        value = text(name)
        if value is None:
            return None
        try:
            return date.fromisoformat(value)
        except ValueError:
            raise BadInput("input.invalid", f"{value!r} is not a date (YYYY-MM-DD).",
                           where=Where(field=name), fix="Pick a date.") from None

    filt = QueueFilter(statuses=statuses, findings=text("findings"), rule=text("rule"),
                       since=day("since"), until=day("until"), collector=text("collector"))
    return filt, kept


@pages.get("/projects/{slug}/forms/{form_id}/review")
def review_page(slug: str, form_id: str, request: Request, after: DbCount | None = None,
                before: DbCount | None = None,
                client: Client = Depends(api_client)) -> Response:
    """The review queue: filters, a keyset page of submissions, bulk decisions."""
    project = client.project(slug)
    filt, kept = _queue_filter(request)
    page = client.review_page(slug, form_id, filt, after=after, before=before,
                              limit=PAGE_SIZE)
    schema = client.form_schema(slug, form_id)
    labels = _labels(client, slug, form_id, schema)
    for r in page.rows:
        r["url"] = _sub_url(slug, form_id, r["instance_id"])
        for f in r["findings"]:
            f["label"] = _finding_label(f, labels)
            f["message"] = _finding_message(f, labels, schema)
    kinds = kind_names()
    rules = [{**r, "label": _finding_label({"field": r["rule"].split(":", 1)[-1],
                                            "kind": r["kind"]}, labels),
              "kind_name": kinds.get(r["kind"], r["kind"])}
             for r in client.findings_summary(slug, form_id)]
    params = [("status", s) for s in filt.statuses] + list(kept.items())
    query = urlencode(params)
    return render(request, "review.html", client, role=project.role, project=project,
                  form_id=form_id, form_title=schema.title, rows=page.rows,
                  total=min(page.total, COUNT_CAP), capped=page.total > COUNT_CAP,
                  next_url=f"?{urlencode([*params, ('after', page.next_after)])}"
                  if page.next_after else None,
                  prev_url=f"?{urlencode([*params, ('before', page.prev_before)])}"
                  if page.prev_before else None,
                  first_url=f"?{query}" if (after or before) else None,
                  filters=filt, kept=kept, rules=rules, statuses=status_names(),
                  queue_statuses=QUEUE_STATUSES,
                  pairs=client.duplicate_pair_counts(slug, form_id).get("candidate", 0),
                  back=_url(slug, form_id, "/review") + (f"?{query}" if query else ""),
                  base=_url(slug, form_id))


@pages.post("/projects/{slug}/forms/{form_id}/review")
async def review_decide(slug: str, form_id: str, request: Request,
                        client: Client = Depends(api_client)) -> Response:
    """Apply one decision to the ticked submissions, then show the queue again."""
    form = await _posted(request)
    back = safe_next(str(form.get("next") or ""), _url(slug, form_id, "/review"))
    ids = [str(v) for v in form.getlist("instance_id")]
    status = str(form.get("status") or "")
    if not ids:
        flash(request, _("Tick at least one submission first."), "error")
        return RedirectResponse(back, status_code=303)
    ok, n = await _act(request, client.decide, slug, form_id, ids, status,
                       str(form.get("comment") or "").strip() or None)
    if ok:
        flash(request, ngettext("%(n)d submission marked %(status)s.",
                                "%(n)d submissions marked %(status)s.", n)
              % {"n": n, "status": status_names().get(status, status)})
    return RedirectResponse(back, status_code=303)


@pages.post("/projects/{slug}/forms/{form_id}/review/validate")
async def validate_page(slug: str, form_id: str, request: Request,
                        client: Client = Depends(api_client)) -> Response:
    """Run the form's validation (as long work) and come back to the queue."""
    await _posted(request)
    project = await run_in_threadpool(client.project, slug)
    if not allowed(project.role, Action.SUBMISSION_REVIEW):
        raise Forbidden("auth.forbidden", _("Your role %(role)s in project %(slug)s does not "
                                            "allow running validation.")
                        % {"role": project.role, "slug": slug})
    return await start_work(request, client, "validate", {"slug": slug, "form_id": form_id},
                            _url(slug, form_id, "/review"))


@pages.get("/projects/{slug}/forms/{form_id}/review/approve-clean")
def approve_clean_confirm(slug: str, form_id: str, request: Request,
                          client: Client = Depends(api_client)) -> Response:
    """How many submissions 'approve all without errors' would approve; a button to do it."""
    project = client.project(slug)
    try:
        preview = client.approve_clean(slug, form_id, dry_run=True)
    except Conflict as err:
        flash(request, err.message, "error")
        return RedirectResponse(_url(slug, form_id, "/review"), status_code=303)
    return render(request, "review_approve.html", client, role=project.role, project=project,
                  form_id=form_id, preview=preview, queue=_url(slug, form_id, "/review"),
                  action=_url(slug, form_id, "/review/approve-clean"))


@pages.post("/projects/{slug}/forms/{form_id}/review/approve-clean")
async def approve_clean_page(slug: str, form_id: str, request: Request,
                             client: Client = Depends(api_client)) -> Response:
    """Approve every submission without errors; say how many, and what was kept back."""
    await _posted(request)
    ok, done = await _act(request, client.approve_clean, slug, form_id)
    if ok:
        flash(request, ngettext("%(n)d submission approved without errors.",
                                "%(n)d submissions approved without errors.", done.approved)
              % {"n": done.approved} + " " + _(
                  "Kept back for a person: %(errors)d with errors, %(dups)d in duplicate "
                  "pairs, %(new)d not yet validated.")
              % {"errors": done.with_errors, "dups": done.duplicates, "new": done.unchecked})
    return RedirectResponse(_url(slug, form_id, "/review"), status_code=303)


# -- one submission --------------------------------------------------------------------------


def _show(value: Any, f: Any, labels: FormLabels) -> str:
    """An answer as a person reads it: choices by label, nothing answered as a dash."""
    if value is None or value == "":
        return "—"
    if value == WITHHELD:
        return _("withheld: personal data")
    if isinstance(value, (dict, list)):
        return _("%(n)d entries") % {"n": len(value)}
    text = str(value)
    if f is not None and f.list_name and f.type.startswith("select_one"):
        return labels.choice_label(f.list_name, text)
    if f is not None and f.list_name and f.type.startswith("select_multiple"):
        return ", ".join(labels.choice_label(f.list_name, c) for c in text.split())
    return text


def _answer_rows(data: dict[str, Any], schema: Any, labels: FormLabels
                 ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Top-level answers (with group headings) and one table per repeat group."""
    groups = {g.path: g for g in schema.groups}
    rows: list[dict[str, Any]] = []
    seen_groups: set[str] = set()
    for f in schema.fields:
        if f.repeat is not None or not f.has_value or f.path.startswith("meta/"):
            continue
        parent = f.path.rpartition("/")[0]
        if parent and parent in groups and parent not in seen_groups:
            seen_groups.add(parent)
            rows.append({"heading": labels.field_label(parent, groups[parent].label)})
        value = get_path(data, f.path)
        rows.append({"path": f.path, "label": labels.field_label(f.path, f.label),
                     "value": _show(value, f, labels), "raw": value, "field": f,
                     "withheld": value == WITHHELD})
    repeats = []
    for g in schema.repeats:
        if g.parent_repeat is not None:
            continue
        fields = [f for f in schema.fields if f.repeat == g.path and f.has_value]
        items = get_path(data, g.path)
        items = items if isinstance(items, list) else []
        repeats.append({
            "label": labels.field_label(g.path, g.label),
            "columns": [labels.field_label(f.path, f.label) for f in fields],
            "items": [[_show(get_path(item, f.path[len(g.path) + 1:]) if isinstance(item, dict)
                             else None, f, labels) for f in fields] for item in items]})
    return rows, repeats


def _media(client: Client, slug: str, form_id: str, instance_id: str, labels: FormLabels
           ) -> tuple[list[dict[str, Any]], int]:
    try:
        listing = client.attachments(slug, form_id, instance_id)
    except (NotFound, Forbidden):
        return [], 0
    out = []
    for a in listing.attachments:
        kind = (a.content_type or "").split("/")[0]
        out.append({"name": a.name, "present": a.present, "kind": kind,
                    "label": labels.field_label(a.field) if a.field else a.name,
                    "url": f"/api/v1/projects/{quote(slug, safe='')}/forms/"
                           f"{quote(form_id, safe='')}/submissions/"
                           f"{quote(instance_id, safe='')}/attachments/{quote(a.name, safe='')}"})
    return out, listing.withheld


@pages.get("/projects/{slug}/forms/{form_id}/submissions/{instance_id:iid}")
def submission_page(slug: str, form_id: str, instance_id: str, request: Request,
                    client: Client = Depends(api_client)) -> Response:
    """One submission: labelled answers, repeats, media, its GPS point, findings, history,
    and the forms to decide, comment, edit and (owners, managers) withdraw consent."""
    project = client.project(slug)
    schema, (sub,) = client.submission_answers(slug, form_id, [instance_id])
    labels = _labels(client, slug, form_id, schema)
    rows, repeats = _answer_rows(sub.data, schema, labels)
    media, media_withheld = _media(client, slug, form_id, instance_id, labels)
    point_svg = area = point_label = None
    for r in rows:
        f = r.get("field")
        if f is not None and f.type == "geopoint" and (pt := parse_geopoint(r["raw"])):
            point_label = r["label"]
            point_svg, area = point_map(pt[0], pt[1], client.review_boundaries(slug),
                                        _("Where %(label)s was recorded")
                                        % {"label": r["label"]})
            break
    found = client.findings(slug, form_id, instance_id=instance_id, limit=500)[0]
    for f in found:
        f["label"] = _finding_label(f, labels)
        f["message"] = _finding_message(f, labels, schema)
    history = []
    for e in client.review_history(slug, form_id, instance_id):
        diff = [{"label": labels.field_label(d["path"]),
                 "before": _show(d["before"], schema.find(d["path"]), labels),
                 "after": _show(d["after"], schema.find(d["path"]), labels)} for d in e.diff]
        history.append({"at": e.at, "actor": e.actor, "kind": e.kind, "status": e.status,
                        "comment": e.comment, "version": e.version, "diff": diff})
    editable = [r for r in rows if "field" in r and not r["field"].is_metadata
                and not r["withheld"] and r["field"].type not in ("calculate", "geopoint")]
    for i, r in enumerate(editable):
        f = r["field"]
        r["edit_id"] = i
        r["choices"] = ([(c.name, labels.choice_label(f.list_name, c.name)) for c in f.choices]
                        if f.type.startswith("select_one") else None)
    from citizendata.services.consent import BASES
    return render(request, "review_submission.html", client, role=project.role,
                  project=project, form_id=form_id, sub=sub, rows=rows, repeats=repeats,
                  media=media, media_withheld=media_withheld, point_svg=point_svg,
                  point_area=area, point_label=point_label, findings=found, history=history,
                  editable=editable, statuses=status_names(), bases=BASES,
                  form_language=labels.language,
                  queue=_url(slug, form_id, "/review"),
                  action=_sub_url(slug, form_id, instance_id))


@pages.post("/projects/{slug}/forms/{form_id}/submissions/{instance_id:iid}/decide")
async def submission_decide(slug: str, form_id: str, instance_id: str, request: Request,
                            client: Client = Depends(api_client)) -> Response:
    """Approve, reject or mark as having issues, with a note."""
    form = await _posted(request)
    status = str(form.get("status") or "")
    ok, _n = await _act(request, client.decide, slug, form_id, [instance_id], status,
                        str(form.get("comment") or "").strip() or None)
    if ok:
        flash(request, _("Decision recorded: %(status)s.")
              % {"status": status_names().get(status, status)})
    return RedirectResponse(_sub_url(slug, form_id, instance_id), status_code=303)


@pages.post("/projects/{slug}/forms/{form_id}/submissions/{instance_id:iid}/comment")
async def submission_comment(slug: str, form_id: str, instance_id: str, request: Request,
                             client: Client = Depends(api_client)) -> Response:
    """Add a comment to the submission's history."""
    form = await _posted(request)
    ok, _n = await _act(request, client.comment, slug, form_id, instance_id,
                        str(form.get("comment") or ""))
    if ok:
        flash(request, _("Comment added."))
    return RedirectResponse(_sub_url(slug, form_id, instance_id) + "#history",
                            status_code=303)


@pages.post("/projects/{slug}/forms/{form_id}/submissions/{instance_id:iid}/edit")
async def submission_edit(slug: str, form_id: str, instance_id: str, request: Request,
                          client: Client = Depends(api_client)) -> Response:
    """Change one answer (kept as a new version); the history shows the before and after."""
    form = await _posted(request)
    path = str(form.get("path") or "")
    ok, version = await _act(request, client.edit, slug, form_id, instance_id,
                             {path: str(form.get("value") or "")},
                             str(form.get("reason") or ""))
    if ok:
        flash(request, _("Answer changed: saved as version %(v)d. The change is in the "
                         "history below.") % {"v": version})
    return RedirectResponse(_sub_url(slug, form_id, instance_id) + "#history",
                            status_code=303)


@pages.post("/projects/{slug}/forms/{form_id}/submissions/{instance_id:iid}/withdraw")
async def submission_withdraw(slug: str, form_id: str, instance_id: str, request: Request,
                              client: Client = Depends(api_client)) -> Response:
    """Record the respondent's withdrawal of consent to everything (confirmed first)."""
    form = await _posted(request)
    if form.get("confirm") != "yes":
        flash(request, _("Tick the box to confirm the respondent asked to withdraw."),
              "error")
        return RedirectResponse(_sub_url(slug, form_id, instance_id), status_code=303)
    ok, _n = await _act(request, client.withdraw_consent, slug, form_id, instance_id,
                        basis=str(form.get("basis") or "respondent_request"))
    if ok:
        flash(request, _("Consent withdrawn: this submission leaves review, snapshots, "
                         "estimates and later releases."))
    return RedirectResponse(_sub_url(slug, form_id, instance_id), status_code=303)


# -- duplicate pairs -------------------------------------------------------------------------

PAIRS_SHOWN = 20


@pages.get("/projects/{slug}/forms/{form_id}/duplicates")
def duplicates_page(slug: str, form_id: str, request: Request, status: str = "candidate",
                    client: Client = Depends(api_client)) -> Response:
    """Duplicate pairs side by side, the differing answers marked; confirm, dismiss, merge."""
    project = client.project(slug)
    if status not in ("candidate", "confirmed", "dismissed", "merged"):
        status = "candidate"
    total = client.duplicate_pair_counts(slug, form_id).get(status, 0)
    shown = client.duplicate_pairs(slug, form_id, status=status, limit=PAIRS_SHOWN)
    schema = client.form_schema(slug, form_id)
    labels = _labels(client, slug, form_id, schema)
    pairs = []
    if shown:
        ids = list(dict.fromkeys(i for p in shown for i in (p.instance_l, p.instance_r)))
        schema, subs = client.submission_answers(slug, form_id, ids)
        by_id = {s.instance_id: s for s in subs}
        for p in shown:
            left, right = by_id[p.instance_l], by_id[p.instance_r]
            lrows, _r1 = _answer_rows(left.data, schema, labels)
            rrows, _r2 = _answer_rows(right.data, schema, labels)
            rows = []
            for a, b in zip(lrows, rrows, strict=True):
                if "heading" in a:
                    rows.append(a)
                else:
                    rows.append({"label": a["label"], "left": a["value"], "right": b["value"],
                                 "differs": a["raw"] != b["raw"]})
            pairs.append({"pair": p, "left": left, "right": right, "rows": rows,
                          "differing": sum(1 for r in rows if r.get("differs")),
                          "left_url": _sub_url(slug, form_id, p.instance_l),
                          "right_url": _sub_url(slug, form_id, p.instance_r)})
    return render(request, "review_duplicates.html", client, role=project.role,
                  project=project, form_id=form_id, pairs=pairs, total=total,
                  pair_status=status, statuses=status_names(),
                  pair_statuses={"candidate": _("to decide"), "confirmed": _("confirmed"),
                                 "dismissed": _("dismissed"), "merged": _("merged")},
                  queue=_url(slug, form_id, "/review"), base=_url(slug, form_id, "/duplicates"))


@pages.post("/projects/{slug}/forms/{form_id}/duplicates/{pair_id}")
async def duplicates_decide(slug: str, form_id: str, pair_id: DbId, request: Request,
                            client: Client = Depends(api_client)) -> Response:
    """Confirm, dismiss or merge one pair (a merge keeps one and rejects the other)."""
    form = await _posted(request)
    action = str(form.get("action") or "")
    keep = str(form.get("keep") or "") or None
    ok, info = await _act(request, client.decide_pair, slug, form_id, pair_id, action,
                          keep=keep)
    if ok:
        names = {"confirmed": _("Pair confirmed as duplicates."),
                 "dismissed": _("Pair dismissed: not duplicates."),
                 "merged": _("Pair merged: %(kept)s kept, the other rejected.")
                 % {"kept": info.kept}}
        flash(request, names.get(info.status, info.status))
    return RedirectResponse(_url(slug, form_id, "/duplicates"), status_code=303)
