"""The browser side of cases: the case list, one case and its verification, the clerical
review of uncertain record pairs, and the linkage and estimate summary.

Every page calls the library Client (``cases``, ``case_verification``, ``verify_case``,
``review_queue``, ``decide_pair``, ``link_cases``, ``estimate_uncounted``), which checks
the role; names reach the page only for roles with personal_data.view. Works without
JavaScript: every action is a form posted with the session's CSRF token.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse, Response

import citizendata.server.instance_ids  # noqa: F401  (registers the {instance_id:iid} convertor)
from citizendata.auth import Action, allowed
from citizendata.errors import CitizenDataError, Forbidden, NotFound, Unauthenticated
from citizendata.i18n import gettext as _
from citizendata.projects.cases import CasesSpec
from citizendata.server.deps import api_client, csrf_ok
from citizendata.server.pages import flash, render
from citizendata.server.params import Page
from citizendata.workspace import Client

__all__ = ["PAGE_SIZE", "field_labels", "router", "value_labels"]

router = APIRouter(include_in_schema=False)
PAGE_SIZE = 50
STATUSES = ("reported", "verified", "not_verified")
DECISIONS = ("match", "non_match", "unsure")
# the fields compared side by side in clerical review, in the order a person reads them
PAIR_FIELDS = ("given_names", "surnames", "sex", "age", "role", "violation", "event_date",
               "department", "municipality", "perpetrator")
PERSONAL = frozenset({"given_names", "surnames"})
CODED_PLACES = frozenset({"department", "municipality"})


def status_names() -> dict[str, str]:
    """A case's verification status in the interface language."""
    return {"reported": _("reported"), "verified": _("verified"),
            "not_verified": _("not verified")}


def decision_names() -> dict[str, str]:
    """Clerical review decisions in the interface language."""
    return {"match": _("same person and event"), "non_match": _("not the same"),
            "unsure": _("unsure")}


def field_labels() -> dict[str, str]:
    """The case form's parts (CaseFields' attribute names) in the interface language."""
    return {"source": _("List"), "record_id": _("Record id"),
            "given_names": _("Given names"), "surnames": _("Surnames"), "sex": _("Sex"),
            "age": _("Age"), "role": _("Role"), "violation": _("Violation"),
            "event_date": _("Date of the event"), "department": _("Department"),
            "municipality": _("Municipality"), "perpetrator": _("Alleged perpetrator")}


def value_labels() -> dict[str, dict[str, str]]:
    """Coded answers of the case form (by CaseFields attribute) in the interface language."""
    return {
        "sex": {"female": _("female"), "male": _("male"), "unknown": _("unknown")},
        "role": {"journalist": _("journalist"), "media_worker": _("media worker"),
                 "trade_unionist": _("trade unionist"),
                 "hr_defender": _("human rights defender")},
        "violation": {"killing": _("killing"), "kidnapping": _("kidnapping"),
                      "enforced_disappearance": _("enforced disappearance"),
                      "arbitrary_detention": _("arbitrary detention"),
                      "torture": _("torture")},
        "perpetrator": {"state_agent": _("state agent"), "armed_group": _("armed group"),
                        "criminal_group": _("criminal group"), "private": _("private person"),
                        "unknown": _("unknown")},
    }


def _url(slug: str, tail: str = "") -> str:
    return f"/projects/{quote(slug, safe='')}{tail}"


def _case_url(slug: str, instance_id: str) -> str:
    return _url(slug, f"/cases/{quote(instance_id, safe='')}")


def _spec(client: Client, slug: str) -> tuple[Any, CasesSpec]:
    """The project and its cases section; 404 for a project without one."""
    project = client.project(slug)
    spec = project.spec.cases
    if spec is None:
        raise NotFound("not_found.route", _("Project %(slug)s declares no cases.")
                       % {"slug": slug}, fix="Add a 'cases:' section to the project's spec.")
    return project, spec


def _require(role: str | None, action: Action, slug: str) -> None:
    """Refuse a page the role has no use for (the Client refuses the data anyway)."""
    if not allowed(role, action):
        raise Forbidden("auth.forbidden", _("Your role %(role)s in project %(slug)s does not "
                                            "allow this page.") % {"role": role, "slug": slug})


class Shower:
    """Case-form answers as a person reads them: this page's own words for the coded
    answers it knows (sex, role, violation, perpetrator), the form's choice labels for
    the others (places, lists), in the page's language where the form has it."""

    def __init__(self, client: Client, slug: str, spec: CasesSpec, schema: Any = None) -> None:
        from citizendata.server.routers.validation import _labels

        schema = schema if schema is not None else client.form_schema(slug, spec.form)
        self.labels = _labels(client, slug, spec.form, schema)
        by_name = {f.path.rpartition("/")[2]: f for f in schema.fields if f.repeat is None}
        self.lists = {attr: by_name[name].list_name
                      for attr, name in spec.fields.model_dump().items()
                      if name in by_name and by_name[name].list_name}
        self.own = value_labels()

    def __call__(self, attr: str, value: Any) -> str:
        if value is None or value == "" or (isinstance(value, float) and value != value):
            return "—"
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        text = str(value)
        if text in self.own.get(attr, {}):
            return self.own[attr][text]
        if attr in self.lists:
            label = self.labels.choice_label(self.lists[attr], text)
            # a place keeps its DIVIPOLA code: validators search other lists by it
            return f"{label} ({text})" if label != text and attr in CODED_PLACES else label
        return text


def _error_text(err: CitizenDataError) -> str:
    """The coded error as a page shows it: the translated title, then the message."""
    return f"{_(err.title)}: {err.message}"


async def _posted(request: Request) -> Any:
    form = await request.form()
    if not csrf_ok(request, form.get("csrf")):
        raise Forbidden("auth.csrf", _("The page has expired; reload it and try again."))
    return form


@router.get("/projects/{slug}/cases")
def cases_page(slug: str, request: Request, status: str = "",
               list_name: str = Query("", alias="list"), page: Page = 1,
               client: Client = Depends(api_client)) -> Response:
    """Every case record of every list, filtered by list and verification status, paged."""
    project, spec = _spec(client, slug)
    _require(project.role, Action.SUBMISSION_VIEW, slug)
    status = status if status in STATUSES else ""
    lists = [x.name for x in spec.lists]
    chosen = list_name if list_name in lists else ""
    result = client.cases(slug, list=chosen or None, status=status or None,
                          limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE)
    rows = result.get("rows", [])
    total = int(result.get("total", len(rows)))
    names, show = spec.fields.model_dump(), Shower(client, slug, spec)
    for r in rows:
        r["url"] = _case_url(slug, str(r["instance_id"]))
        # the Client names a row's parts by the form's fields; the page by CaseFields' parts
        r["part"] = {attr: r.get(name) for attr, name in names.items()}
        r["shown"] = {k: show(k, r["part"].get(k))
                      for k in ("violation", "event_date", "department")}
    kept = [(k, v) for k, v in (("list", chosen), ("status", status)) if v]
    pages = max(1, -(-total // PAGE_SIZE))
    return render(request, "cases/list.html", client, role=project.role, project=project,
                  rows=rows, total=total, page=page, pages=pages, lists=lists,
                  list_names={x.name: x.organisation for x in spec.lists},
                  chosen=chosen, chosen_status=status, statuses=status_names(),
                  names=bool(result.get("personal",
                                        allowed(project.role, Action.PERSONAL_DATA_VIEW))),
                  next_url=f"?{urlencode([*kept, ('page', page + 1)])}" if page < pages
                  else None,
                  prev_url=f"?{urlencode([*kept, ('page', page - 1)])}" if page > 1 else None,
                  verification_list=spec.verification.list if spec.verification else None)


def _record(client: Client, slug: str, spec: CasesSpec, instance_id: str
            ) -> tuple[list[dict[str, str]], str, str]:
    """The case's source record, field by field (personal fields withheld by the Client),
    the list it comes from and its key (list:record id)."""
    from citizendata.services.submissions import WITHHELD

    schema, (sub,) = client.submission_answers(slug, spec.form, [instance_id])
    data, show = sub.data or {}, Shower(client, slug, spec, schema)
    labels = field_labels()
    rows = []
    for attr, name in spec.fields.model_dump().items():
        value = _find(data, name)
        shown = _("withheld: personal data") if value == WITHHELD else show(attr, value)
        rows.append({"label": labels.get(attr, attr), "value": shown})
    source = str(_find(data, spec.fields.source) or "")
    return rows, source, f"{source}:{_find(data, spec.fields.record_id) or ''}"


def _find(data: dict[str, Any], name: str) -> Any:
    """A field's answer wherever its group put it (a case form may group its questions)."""
    if name in data:
        return data[name]
    for value in data.values():
        if isinstance(value, dict):
            found = _find(value, name)
            if found is not None:
                return found
    return None


def _case_context(client: Client, slug: str, instance_id: str) -> dict[str, Any]:
    project, spec = _spec(client, slug)
    _require(project.role, Action.SUBMISSION_VIEW, slug)
    state = client.case_verification(slug, instance_id)
    history = state.get("history", [])
    criteria = spec.verification.criteria if spec.verification else []
    texts = {c.code: c.text for c in criteria}
    for h in history:
        h["criteria_text"] = [texts.get(c, c) for c in h.get("criteria") or []]
    required = set(spec.verification.required or texts) if spec.verification else set()
    record, source, key = _record(client, slug, spec, instance_id)
    verifiable = spec.verification is not None and source == spec.verification.list
    return {"project": project, "role": project.role, "instance_id": instance_id,
            "state": state, "history": history, "criteria": criteria, "required": required,
            "record": record, "source": source, "key": key,
            "verifiable": verifiable, "statuses": status_names(),
            "back": _url(slug, "/cases"), "action": _case_url(slug, instance_id) + "/verify"}


@router.get("/projects/{slug}/cases/{instance_id:iid}")
def case_page(slug: str, instance_id: str, request: Request,
              client: Client = Depends(api_client)) -> Response:
    """One case: its source record, verification history and the verification form."""
    ctx = _case_context(client, slug, instance_id)
    return render(request, "cases/case.html", client, form={}, error=None, **ctx)


@router.post("/projects/{slug}/cases/{instance_id:iid}/verify")
async def case_verify(slug: str, instance_id: str, request: Request,
                      client: Client = Depends(api_client)) -> Response:
    """Record a verification decision; a refusal is shown in the page with what was typed."""
    form = await _posted(request)
    decision = str(form.get("decision") or "")
    criteria = [str(c) for c in form.getlist("criteria")]
    evidence = str(form.get("evidence") or "").strip()
    note = str(form.get("note") or "").strip()
    try:
        await run_in_threadpool(client.verify_case, slug, instance_id, decision,
                                criteria=criteria, evidence=evidence, note=note)
    except (Forbidden, NotFound, Unauthenticated):
        raise
    except CitizenDataError as err:
        ctx = await run_in_threadpool(_case_context, client, slug, instance_id)
        return render(request, "cases/case.html", client, status=422, error=_error_text(err),
                      form={"decision": decision, "criteria": set(criteria),
                            "evidence": evidence, "note": note}, **ctx)
    flash(request, _("Verification recorded: %(status)s.")
          % {"status": status_names().get(decision, decision)})
    return RedirectResponse(_case_url(slug, instance_id) + "#history", status_code=303)


def _pair_view(pair: dict[str, Any], names: bool, spec: CasesSpec, show: Shower
               ) -> dict[str, Any]:
    """Two records aligned field by field, with which fields differ."""
    left, right = pair.get("left") or {}, pair.get("right") or {}
    labels, fields = field_labels(), spec.fields.model_dump()

    def side(record: dict[str, Any], attr: str) -> str:
        # a record may name its parts by the form's fields or by CaseFields' parts
        return show(attr, record.get(fields[attr], record.get(attr)))

    rows = []
    for attr in PAIR_FIELDS:
        if attr in PERSONAL and not names:
            continue
        a, b = side(left, attr), side(right, attr)
        rows.append({"label": labels[attr], "left": a, "right": b,
                     "differs": a.casefold() != b.casefold()})
    prob = pair.get("match_probability")
    return {"left_key": str(pair.get("left_key") or left.get("key") or ""),
            "right_key": str(pair.get("right_key") or right.get("key") or ""),
            "left_source": side(left, "source"), "right_source": side(right, "source"),
            "probability": None if prob is None else float(prob), "rows": rows,
            "differing": sum(r["differs"] for r in rows)}


@router.get("/projects/{slug}/linkage/review")
def review_page(slug: str, request: Request,
                client: Client = Depends(api_client)) -> Response:
    """Clerical review: the next uncertain pair, side by side, and the three decisions."""
    project, spec = _spec(client, slug)
    _require(project.role, Action.SUBMISSION_REVIEW, slug)
    queue = client.link_review_queue(slug, limit=1)
    pairs = queue.get("pairs", [])
    left = int(queue.get("total", len(pairs)))
    names = allowed(project.role, Action.PERSONAL_DATA_VIEW)
    return render(request, "cases/review.html", client, role=project.role, project=project,
                  pair=_pair_view(pairs[0], names, spec, Shower(client, slug, spec))
                  if pairs else None, left=left,
                  decisions=decision_names(), band=spec.linkage.review_band,
                  action=_url(slug, "/linkage/review"))


@router.post("/projects/{slug}/linkage/review")
async def review_decide(slug: str, request: Request,
                        client: Client = Depends(api_client)) -> Response:
    """Record one decision on one pair, then show the next."""
    form = await _posted(request)
    decision = str(form.get("decision") or "")
    try:
        await run_in_threadpool(client.decide_link, slug, str(form.get("left_key") or ""),
                                str(form.get("right_key") or ""), decision,
                                note=str(form.get("note") or "").strip())
    except (Forbidden, Unauthenticated):
        raise
    except CitizenDataError as err:
        # a pair another validator has just decided, or no longer proposed, is said here:
        # the next pair is shown either way
        flash(request, _error_text(err), "error")
    else:
        flash(request, _("Decision recorded: %(decision)s.")
              % {"decision": decision_names().get(decision, decision)})
    return RedirectResponse(_url(slug, "/linkage/review"), status_code=303)


def _sensitivity_chart(points: list[dict[str, Any]]) -> dict[str, Any] | None:
    """Estimate (with interval) against the linkage threshold, as SVG coordinates."""
    pts = [p for p in points if p.get("estimate") is not None]
    if len(pts) < 2:
        return None
    w, h, pad = 320, 160, 36
    xs = [float(p["threshold"]) for p in pts]
    ys = [float(v) for p in pts for v in (p["estimate"], *(p.get("ci") or []))
          if v is not None]
    x0, x1 = min(xs), max(xs)
    y0, y1 = min(ys + [float(p.get("documented") or ys[0]) for p in pts]), max(ys)
    y0, y1 = (y0 * 0.95, y1 * 1.05) if y1 > y0 else (y0 - 1, y1 + 1)

    def sx(x: float) -> float:
        return round(pad + (x - x0) / (x1 - x0 or 1) * (w - 2 * pad), 1)

    def sy(y: float) -> float:
        return round(h - pad + (y0 - y) / (y1 - y0) * (h - 2 * pad), 1)

    out = []
    for p in pts:
        ci = p.get("ci") or [None, None]
        out.append({"x": sx(float(p["threshold"])), "y": sy(float(p["estimate"])),
                    "lo": sy(float(ci[0])) if ci[0] is not None else None,
                    "hi": sy(float(ci[1])) if ci[1] is not None else None,
                    "threshold": p["threshold"], "estimate": p["estimate"]})
    return {"w": w, "h": h, "pad": pad, "points": out,
            "line": " ".join(f"{p['x']},{p['y']}" for p in out),
            "ymin": round(y0), "ymax": round(y1), "x0": x0, "x1": x1}


TOTAL = "_T"  # the table's row of the whole population


def _table_row(r: dict[str, Any]) -> dict[str, Any]:
    hidden = r.get("conf_status", "F") != "F"
    ci = [r.get("ci_low"), r.get("ci_high")] if "ci_low" in r else list(r.get("ci") or [])
    return {"stratum": str(r.get("stratum", "")).replace("|", " · "), "hidden": hidden,
            "documented": r.get("documented"), "estimate": r.get("estimate"),
            "ci": ci if len(ci) == 2 and ci[0] is not None else None}


def _estimate_view(key: str, est: dict[str, Any], title: str) -> dict[str, Any]:
    """One series as the page shows it: the protected table's total and strata, the
    selected model, the models compared and the sensitivity to the threshold."""
    table = [_table_row(r) for r in est.get("table") or []]
    total = next((r for r in table if r["stratum"] == TOTAL),
                 _table_row({"documented": est.get("documented"),
                             "estimate": est.get("estimate"), "ci": est.get("ci")}))
    selected = est.get("selected") or {}
    terms = selected.get("terms") if isinstance(selected, dict) else None
    sens = [{**p, "ci": p.get("ci") if p.get("ci") and p["ci"][0] is not None else None}
            for p in est.get("sensitivity") or []]
    return {"key": key, "title": title or est.get("title") or key,
            "series": est.get("series", key), "total": total,
            "level": f"{float(est.get('confidence', 0.95)) * 100:g}%",
            "method": est.get("method"), "terms": terms, "note": est.get("note"),
            "strata": [r for r in table if r["stratum"] != TOTAL],
            "models": est.get("models") or [], "sensitivity": sens,
            "chart": _sensitivity_chart(sens)}


@router.get("/projects/{slug}/linkage")
def summary_page(slug: str, request: Request,
                 client: Client = Depends(api_client)) -> Response:
    """Lists and their sizes, pairs and clusters, the review queue (roles that review), and
    each series' estimate of the uncounted with its interval, model and sensitivity to the
    threshold (roles that read estimates)."""
    project, spec = _spec(client, slug)
    reviews = allowed(project.role, Action.SUBMISSION_REVIEW)
    reads = allowed(project.role, Action.DATA_EXPORT)
    if not (reviews or reads):
        _require(project.role, Action.DATA_EXPORT, slug)
    linked: dict[str, Any] = client.link_cases(slug) if reviews else {}
    # a list's size is read from the case list (submission.view): the NSO, which reads the
    # protected estimates but not the records (data.export alone), sees the lists without
    # their sizes rather than no page
    sizes = linked.get("by_list") or (
        {x.name: client.cases(slug, list=x.name, limit=1)["total"] for x in spec.lists}
        if allowed(project.role, Action.SUBMISSION_VIEW) else {})
    estimates, failed = [], []
    for key, ind in spec.estimates.items() if reads else ():
        try:
            estimates.append(_estimate_view(key, client.estimate_uncounted(slug, key),
                                            ind.title or ind.series))
        except (Forbidden, NotFound, Unauthenticated):
            raise
        except CitizenDataError as err:
            failed.append({"title": ind.title or ind.series, "error": _error_text(err)})
    return render(request, "cases/linkage.html", client, role=project.role, project=project,
                  linked=linked, lists=[(x.name, x.organisation, sizes.get(x.name))
                                        for x in spec.lists],
                  settings=spec.linkage, estimates=estimates, failed=failed,
                  can_review=reviews)
