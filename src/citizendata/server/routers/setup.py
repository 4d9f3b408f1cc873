"""Set-up pages for owners and managers: create a project, its settings, members, forms,
imports and reference tables — everything the CLI's set-up commands do, with each
problem shown where it is (the field, or the sheet, row and column of a file).

The pages are thin over the library Client, which checks every call's role again; a
page is shown only to roles it is for (others get the library's 403/404). The pages for
files (forms, imports, reference tables) are in ``setup_files``, over the helpers here.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any
from urllib.parse import quote

import yaml
from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError
from starlette.datastructures import FormData, UploadFile

from citizendata.auth import Action, allowed
from citizendata.errors import CitizenDataError, Forbidden, Problem, Where
from citizendata.i18n import gettext as _
from citizendata.ingest.depth import check_object_depth
from citizendata.projects.spec import LEVEL_NAMES, STAGES, IntegrationIntent, ProjectSpec
from citizendata.server.deps import api_client as _api_client
from citizendata.server.deps import csrf_ok, get_workspace
from citizendata.server.pages import flash, render
from citizendata.workspace import Client

__all__ = ["router"]

router = APIRouter(include_in_schema=False)
api_client = _api_client

# how many problems of one upload a page lists (the rest are counted)
MAX_SHOWN = 200
BLANK_PARTNER_ROWS = 2
PARTNER_ROLES = ("cso", "nso", "government", "academic", "funder", "other")
# the spec's sections edited as YAML on the settings page, in the page's order
YAML_SECTIONS = ("estimation", "release", "protection", "validation", "quality", "stewardship")
THRESHOLD = ("design", "collect")
_SLUGGY = re.compile(r"[^a-z0-9]+")
_NO_STORE = {"Cache-Control": "no-store"}


# ---- shared helpers ---------------------------------------------------------------------

def stage_names() -> dict[str, str]:
    """Each value-chain stage's name in the page's language."""
    return {"design": _("Design"), "identify": _("Identify"), "collect": _("Collect"),
            "process": _("Process"), "analyse": _("Analyse"), "release": _("Release"),
            "disseminate": _("Disseminate"), "connect": _("Connect"),
            "incentivise": _("Incentivise"), "influence": _("Influence"), "use": _("Use"),
            "change": _("Change"), "reuse": _("Reuse")}


def level_names() -> dict[int, str]:
    """The five participation levels in the page's language."""
    names = {1: _("information"), 2: _("consultation"), 3: _("limited participation"),
             4: _("shared decision-making"), 5: _("community-led")}
    assert names.keys() == LEVEL_NAMES.keys()
    return names


def role_names() -> dict[str, str]:
    """Project roles in the page's language."""
    return {"owner": _("owner"), "manager": _("manager"), "collector": _("collector"),
            "validator": _("validator"), "analyst": _("analyst"), "viewer": _("viewer"),
            "nso": _("national statistical office (nso)")}


def section_names() -> dict[str, str]:
    """The YAML sections of the settings page in the page's language."""
    return {"estimation": _("Estimation: indicators, disaggregations, weighting"),
            "release": _("Release: community representatives, maps, SDMX"),
            "protection": _("Protection policy"), "validation": _("Validation"),
            "quality": _("Quality"), "stewardship": _("Stewardship")}


def slugify(text: str) -> str:
    """A slug made from a name ('Nakuru Mothers' Network' → 'nakuru-mothers-network')."""
    return _SLUGGY.sub("-", text.lower()).strip("-")[:100].strip("-")


async def _posted(request: Request) -> FormData:
    """The posted form, refused unless it carries this session's CSRF token."""
    form = await request.form()
    if not csrf_ok(request, form.get("csrf")):
        await form.close()
        raise Forbidden("auth.csrf", _("The page has expired; reload it and try again."))
    return form


def _text(form: FormData, name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


def _upload(form: FormData, name: str) -> UploadFile | None:
    value = form.get(name)
    return value if isinstance(value, UploadFile) and value.filename else None


def problem_rows(err: CitizenDataError, limit: int = MAX_SHOWN) -> tuple[list[dict[str, Any]],
                                                                       int]:
    """An error's problems as rows (where, message, fix), at most ``limit``, and how many
    more there are; an error without a list is its own one problem."""
    problems: Sequence[Problem] = err.problems or [
        Problem(err.code, err.message, where=err.where, fix=err.fix)]
    rows = []
    for p in problems[:limit]:
        where = p.where.to_dict() if p.where else {}
        rows.append({"code": p.code, "message": p.message, "fix": p.fix or "",
                     "file": where.get("file"), "sheet": where.get("sheet"),
                     "row": where.get("row"), "column": where.get("column"),
                     "field": where.get("field"), "position": where.get("position")})
    return rows, max(0, len(problems) - limit)


def _field_of(field: str | None, fields: Iterable[str], default: str | None) -> str | None:
    """The form field a library error's ``where.field`` belongs to."""
    if field:
        for name in (field, field.split(".")[0]):
            if name in fields:
                return name
    return default


def _errors_by_field(err: CitizenDataError, fields: Iterable[str],
                     default: str | None = None) -> dict[str, list[str]]:
    names = set(fields)
    out: dict[str, list[str]] = {}
    rows, _more = problem_rows(err)
    for r in rows:
        key = _field_of(r["field"], names, default)
        if key:
            out.setdefault(key, []).append(r["message"])
    return out


def _project_for(client: Client, slug: str, action: Action) -> tuple[Any, str]:
    """The project and the viewer's role, if it allows ``action`` (else the library's
    404 for non-members, 403 for the rest)."""
    project = client.project(slug)
    role = project.role or ""
    if not allowed(role, action):
        raise Forbidden("auth.forbidden", _("Your role %(role)s in this project does not "
                                             "allow this page.") % {"role": role})
    return project, role


def _page(request: Request, template: str, client: Client, project: Any, role: str, *,
          status: int = 200, headers: Mapping[str, str] | None = None,
          **context: Any) -> Response:
    response = render(request, template, client, status=status, role=role,
                      project={"slug": project.slug, "name": project.name}, **context)
    for k, v in (headers or {}).items():
        response.headers[k] = v
    return response


def _url(slug: str, tail: str = "") -> str:
    return f"/projects/{quote(slug)}{tail}"


# ---- the spec form: /projects/new and the settings page's first section -------------------

def _values_from_spec(spec: ProjectSpec) -> dict[str, Any]:
    """What the spec form shows for a stored spec."""
    return {
        "slug": spec.slug, "name": spec.name, "initiator": spec.initiator.slug,
        "initiator_name": spec.initiator.name, "purpose": spec.purpose,
        "consent_basis": spec.consent_basis, "data_sharing": spec.data_sharing,
        "integration_intent": spec.integration_intent.value, "country": spec.country or "",
        "protection_level": spec.protection.level,
        "partners": [{"name": p.name, "slug": p.slug, "role": p.role or p.kind, "kind": p.kind}
                     for p in spec.partners],
        "engagement": {s: {"level": str(e.level), "evidence": e.evidence}
                       for s, e in spec.engagement.items()},
    }


def _values_from_form(form: FormData) -> dict[str, Any]:
    """What was posted, as the spec form shows it again (nothing lost on an error)."""
    rows = int(_text(form, "partner_rows") or 0) if _text(form, "partner_rows").isdigit() else 0
    partners = [{"name": _text(form, f"partner-{i}-name"), "slug": _text(form, f"partner-{i}-slug"),
                 "role": _text(form, f"partner-{i}-role"), "kind": _text(form, f"partner-{i}-kind")}
                for i in range(min(rows, 50))]
    return {
        "slug": _text(form, "slug"), "name": _text(form, "name"),
        "initiator": _text(form, "initiator"),
        "initiator_name": _text(form, "initiator_name"),
        "new_initiator_slug": _text(form, "new_initiator_slug"),
        "new_initiator_name": _text(form, "new_initiator_name"),
        "purpose": _text(form, "purpose"), "consent_basis": _text(form, "consent_basis"),
        "data_sharing": _text(form, "data_sharing"),
        "integration_intent": _text(form, "integration_intent"),
        "country": _text(form, "country"), "protection_level": _text(form, "protection_level"),
        "partners": partners,
        "engagement": {s: {"level": _text(form, f"eng-{s}-level"),
                           "evidence": _text(form, f"eng-{s}-evidence")} for s in STAGES},
    }


def _spec_data(values: dict[str, Any], base: dict[str, Any],
               organisations: Mapping[str, str]) -> tuple[dict[str, Any], dict[int, int]]:
    """The spec dict the form's values make over ``base`` (the stored spec or {}), and
    which posted partner row each kept partner came from."""
    data = dict(base)
    data.update(slug=values["slug"] or data.get("slug", ""), name=values["name"],
                purpose=values["purpose"], consent_basis=values["consent_basis"],
                data_sharing=values["data_sharing"],
                integration_intent=values["integration_intent"] or "stand_alone",
                country=values["country"] or None)
    if values.get("new_initiator_name") or values.get("new_initiator_slug"):
        data["initiator"] = {"slug": values["new_initiator_slug"]
                             or slugify(values["new_initiator_name"]),
                             "name": values["new_initiator_name"]}
    elif values["initiator"]:
        stored = base.get("initiator") or {}
        name = organisations.get(values["initiator"]) or (
            stored.get("name") if stored.get("slug") == values["initiator"] else None)
        data["initiator"] = {**(stored if stored.get("slug") == values["initiator"] else {}),
                             "slug": values["initiator"],
                             "name": name or values.get("initiator_name") or values["initiator"]}
    else:
        data.pop("initiator", None)
    partners: list[dict[str, Any]] = []
    rows: dict[int, int] = {}
    # what the form does not show of a stored partner (its country) is kept
    stored_partners = {p.get("slug"): p for p in base.get("partners") or []}
    for i, p in enumerate(values["partners"]):
        if not (p["name"] or p["slug"]):
            continue
        rows[len(partners)] = i
        role = p["role"] or None
        slug = p["slug"] or slugify(p["name"])
        partners.append({**stored_partners.get(slug, {}), "slug": slug, "name": p["name"],
                         "kind": p["kind"] or role or "cso", "role": role})
    data["partners"] = partners
    engagement: dict[str, Any] = {}
    for stage, e in values["engagement"].items():
        if e["level"] or e["evidence"]:
            engagement[stage] = {"evidence": e["evidence"]}
            if e["level"]:
                engagement[stage]["level"] = int(e["level"]) if e["level"].isdigit() \
                    else e["level"]
    data["engagement"] = engagement
    protection = dict(data.get("protection") or {})
    if values["protection_level"]:
        protection["level"] = values["protection_level"]
    data["protection"] = protection
    return data, rows


def _form_key(loc: Sequence[Any], partner_rows: Mapping[int, int]) -> str | None:
    """The form field a pydantic error location belongs to."""
    head = str(loc[0]) if loc else ""
    if head == "partners" and len(loc) > 1 and isinstance(loc[1], int):
        field = str(loc[2]) if len(loc) > 2 else "name"
        field = field if field in ("name", "slug", "role") else "name"
        return f"partner-{partner_rows.get(loc[1], loc[1])}-{field}"
    if head == "engagement" and len(loc) > 1:
        return f"eng-{loc[1]}-{'evidence' if len(loc) > 2 and loc[2] == 'evidence' else 'level'}"
    if head == "protection":
        return "protection_level"
    if head in ("slug", "name", "initiator", "purpose", "consent_basis", "data_sharing",
                "integration_intent", "country"):
        return head
    return None


def _message(error: Mapping[str, Any]) -> str:
    msg = str(error.get("msg", ""))
    return msg.removeprefix("Value error, ")


def _validation_errors(exc: ValidationError, partner_rows: Mapping[int, int]
                       ) -> tuple[dict[str, list[str]], list[dict[str, Any]]]:
    fields: dict[str, list[str]] = {}
    summary = []
    for e in exc.errors():
        key = _form_key(e["loc"], partner_rows)
        message = _message(e)
        if key:
            fields.setdefault(key, []).append(message)
        summary.append({"field": key, "path": ".".join(str(p) for p in e["loc"]),
                        "message": message})
    return fields, summary


def _spec_context(values: dict[str, Any], organisations: Mapping[str, str], *,
                  is_admin: bool, extra_rows: int = BLANK_PARTNER_ROWS) -> dict[str, Any]:
    # rows stay where they were posted, so an error keeps its row
    partners = list(values["partners"]) + [{"name": "", "slug": "", "role": "", "kind": ""}
                                           for _i in range(extra_rows)]
    engagement = values["engagement"]
    others_open = any((engagement.get(s) or {}).get("level") or
                      (engagement.get(s) or {}).get("evidence")
                      for s in STAGES if s not in THRESHOLD)
    return {"values": {**values, "partners": partners}, "organisations": organisations,
            "is_admin": is_admin, "stages": list(STAGES), "threshold_stages": THRESHOLD,
            "stage_names": stage_names(), "level_names": level_names(),
            "partner_roles": PARTNER_ROLES, "intents": [i.value for i in IntegrationIntent],
            "others_open": others_open}


def _organisations(client: Client) -> dict[str, str]:
    return {o.slug: o.name for o in client.organisations()}


def _may_create(client: Client, organisations: Mapping[str, str]) -> None:
    if not (client.actor.is_admin or organisations):
        raise Forbidden("auth.forbidden", _("Only site administrators and members of an "
                                            "organisation create projects."),
                        fix=_("Ask a site administrator to add you to your organisation."))


def _blank_values() -> dict[str, Any]:
    return {"slug": "", "name": "", "initiator": "", "initiator_name": "",
            "new_initiator_slug": "", "new_initiator_name": "", "purpose": "",
            "consent_basis": "", "data_sharing": "", "integration_intent": "stand_alone",
            "country": "", "protection_level": "standard", "partners": [],
            "engagement": {s: {"level": "", "evidence": ""} for s in STAGES}}


def _new_page(request: Request, client: Client, values: dict[str, Any],
              organisations: Mapping[str, str], *, status: int = 200,
              errors: Mapping[str, list[str]] | None = None,
              summary: Sequence[Mapping[str, Any]] = (), extra_rows: int = BLANK_PARTNER_ROWS,
              file_problems: Sequence[Mapping[str, Any]] = ()) -> Response:
    return render(request, "setup_new.html", client, status=status,
                  errors=errors or {}, summary=list(summary), file_problems=list(file_problems),
                  **_spec_context(values, organisations, is_admin=client.actor.is_admin,
                                  extra_rows=extra_rows))


@router.get("/projects/new")
def new_project_form(request: Request, client: Client = Depends(api_client)) -> Response:
    """The new-project form (site administrators and members of an organisation)."""
    organisations = _organisations(client)
    _may_create(client, organisations)
    values = _blank_values()
    if len(organisations) == 1 and not client.actor.is_admin:
        values["initiator"] = next(iter(organisations))
    return _new_page(request, client, values, organisations)


@router.post("/projects/new")
async def new_project(request: Request, client: Client = Depends(api_client)) -> Response:
    """Create the project from the form (or an uploaded spec file); on success go to it."""
    form = await _posted(request)
    try:
        return await _new_project(request, client, form)
    finally:
        await form.close()


async def _new_project(request: Request, client: Client, form: FormData) -> Response:
    organisations = await run_in_threadpool(_organisations, client)
    _may_create(client, organisations)
    upload = _upload(form, "spec_file")
    if upload is not None:
        return await _create_from_file(request, client, upload, organisations)
    values = _values_from_form(form)
    if _text(form, "action") == "add_partner":
        return _new_page(request, client, values, organisations, extra_rows=1)
    data, partner_rows = _spec_data(values, {}, organisations)
    try:
        spec = ProjectSpec.model_validate(data)
    except ValidationError as exc:
        errors, summary = _validation_errors(exc, partner_rows)
        return _new_page(request, client, values, organisations, status=422, errors=errors,
                         summary=summary, extra_rows=0)
    try:
        created = await run_in_threadpool(client.create_project, spec)
    except CitizenDataError as err:
        if err.http_status >= 500:
            raise
        errors = _errors_by_field(err, ("slug", "initiator", "name"), default="slug")
        summary = [{"field": k, "path": k, "message": m} for k, ms in errors.items() for m in ms]
        return _new_page(request, client, values, organisations, status=err.http_status,
                         errors=errors, summary=summary, extra_rows=0)
    flash(request, _("Project “%(name)s” created. You are its owner.") % {"name": created.name})
    return RedirectResponse(_url(created.slug), status_code=303)


async def _create_from_file(request: Request, client: Client, upload: UploadFile,
                            organisations: Mapping[str, str]) -> Response:
    data = await upload.read()
    try:
        text = data.decode("utf-8")
        created = await run_in_threadpool(client.create_project, text)
    except UnicodeDecodeError:
        problems = [{"message": _("The file is not UTF-8 text."), "file": upload.filename}]
        return _new_page(request, client, _blank_values(), organisations, status=422,
                         file_problems=problems)
    except CitizenDataError as err:
        if err.http_status >= 500:
            raise
        rows, _more = problem_rows(err)
        for r in rows:
            r["file"] = r["file"] or upload.filename
        return _new_page(request, client, _blank_values(), organisations,
                         status=err.http_status, file_problems=rows)
    flash(request, _("Project “%(name)s” created. You are its owner.") % {"name": created.name})
    return RedirectResponse(_url(created.slug), status_code=303)


# ---- settings ---------------------------------------------------------------------------

def yaml_line(text: str, path: Sequence[Any]) -> int | None:
    """The line (1-based) of the deepest node of ``path`` found in YAML ``text``."""
    try:
        node = yaml.compose(text)
    except yaml.YAMLError:
        return None
    line = node.start_mark.line + 1 if node is not None else None
    for step in path:
        if isinstance(node, yaml.MappingNode):
            found = next((v for k, v in node.value if getattr(k, "value", None) == str(step)),
                         None)
        elif isinstance(node, yaml.SequenceNode) and isinstance(step, int) \
                and step < len(node.value):
            found = node.value[step]
        else:
            found = None
        if found is None:
            break
        node = found
        line = node.start_mark.line + 1
    return line


class _PlainLoader(yaml.SafeLoader):
    """YAML without aliases: a few lines of '*name' can expand to billions of values."""

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise yaml.MarkedYAMLError(problem=_("aliases (*name) are not allowed here; "
                                                 "write the values out"),
                                       problem_mark=event.start_mark)
        return super().compose_node(parent, index)


def _section_yaml(spec: ProjectSpec, section: str) -> str:
    value = spec.model_dump(mode="json")[section]
    return yaml.safe_dump(value, sort_keys=False, allow_unicode=True)


def _diff(before: str, after: str, section: str) -> list[dict[str, str]]:
    lines = difflib.unified_diff(before.splitlines(), after.splitlines(),
                                 f"{section} (saved)", f"{section} (new)", lineterm="", n=2)
    out = []
    for line in lines:
        kind = ("add" if line.startswith("+") and not line.startswith("+++") else
                "del" if line.startswith("-") and not line.startswith("---") else
                "hunk" if line.startswith("@@") else "same")
        out.append({"kind": kind, "text": line})
    return out


def _settings_page(request: Request, client: Client, project: Any, role: str, *,
                   status: int = 200, values: dict[str, Any] | None = None,
                   errors: Mapping[str, list[str]] | None = None,
                   summary: Sequence[Mapping[str, Any]] = (),
                   texts: Mapping[str, str] | None = None, section: str | None = None,
                   section_errors: Sequence[Mapping[str, Any]] = (),
                   diff: Sequence[Mapping[str, str]] | None = None,
                   extra_rows: int = BLANK_PARTNER_ROWS) -> Response:
    spec: ProjectSpec = project.spec
    organisations = _organisations(client)
    if spec.initiator.slug not in organisations:
        organisations = {spec.initiator.slug: spec.initiator.name, **organisations}
    shown = {s: _section_yaml(spec, s) for s in YAML_SECTIONS}
    shown.update(texts or {})
    return _page(request, "setup_settings.html", client, project, role, status=status,
                 errors=errors or {}, summary=list(summary), sections=list(YAML_SECTIONS),
                 section_names=section_names(), texts=shown, section=section,
                 section_errors=list(section_errors), diff=diff,
                 **_spec_context(values or _values_from_spec(spec), organisations,
                                 is_admin=client.actor.is_admin, extra_rows=extra_rows))


@router.get("/projects/{slug}/settings")
def settings_page(slug: str, request: Request, client: Client = Depends(api_client)) -> Response:
    """The project's spec: its description as a form, the other sections as YAML."""
    project, role = _project_for(client, slug, Action.PROJECT_EDIT)
    return _settings_page(request, client, project, role)


async def _save(request: Request, client: Client, slug: str, spec: ProjectSpec,
                anchor: str) -> Response:
    await run_in_threadpool(client.update_project, spec)
    flash(request, _("Settings saved."))
    return RedirectResponse(_url(slug, f"/settings#{anchor}"), status_code=303)


@router.post("/projects/{slug}/settings")
async def save_settings(slug: str, request: Request,
                        client: Client = Depends(api_client)) -> Response:
    """Save the description form, or preview or save one YAML section."""
    form = await _posted(request)
    project, role = await run_in_threadpool(_project_for, client, slug, Action.PROJECT_EDIT)
    section = _text(form, "section")
    base = project.spec.model_dump(mode="json")
    if section in YAML_SECTIONS:
        return await _save_section(request, client, project, role, form, section, base)
    values = {**_values_from_form(form), "slug": slug}
    if _text(form, "action") == "add_partner":
        return _settings_page(request, client, project, role, values=values,
                              extra_rows=1)
    organisations = await run_in_threadpool(_organisations, client)
    data, partner_rows = _spec_data(values, base, organisations)
    try:
        spec = ProjectSpec.model_validate(data)
    except ValidationError as exc:
        errors, summary = _validation_errors(exc, partner_rows)
        return _settings_page(request, client, project, role, status=422, values=values,
                              errors=errors, summary=summary, extra_rows=0)
    try:
        return await _save(request, client, slug, spec, "about")
    except CitizenDataError as err:
        if err.http_status >= 500:
            raise
        errors = _errors_by_field(err, ("initiator", "name"), default="initiator")
        summary = [{"field": k, "path": k, "message": m} for k, ms in errors.items() for m in ms]
        return _settings_page(request, client, project, role, status=err.http_status,
                              values=values, errors=errors, summary=summary, extra_rows=0)


async def _save_section(request: Request, client: Client, project: Any, role: str,
                        form: FormData, section: str, base: dict[str, Any]) -> Response:
    text = str(form.get("yaml") or "")
    problems: list[dict[str, Any]] = []
    spec: ProjectSpec | None = None
    try:
        value = yaml.load(text, Loader=_PlainLoader) if text.strip() else {}
        check_object_depth(value, get_workspace(request).settings.max_depth,
                           what=section)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problems.append({"path": section, "line": mark.line + 1 if mark else None,
                         "message": str(getattr(exc, "problem", None) or exc)})
    except CitizenDataError as err:
        problems.append({"path": section, "line": None, "message": err.message})
    except RecursionError:
        problems.append({"path": section, "line": None,
                         "message": _("The text nests too deeply.")})
    else:
        try:
            spec = ProjectSpec.model_validate({**base, section: value})
        except ValidationError as exc:
            for e in exc.errors():
                loc = list(e["loc"])
                inner = loc[1:] if loc and loc[0] == section else loc
                problems.append({"path": ".".join(str(p) for p in loc),
                                 "line": yaml_line(text, inner), "message": _message(e)})
    if spec is None:
        return _settings_page(request, client, project, role, status=422, texts={section: text},
                              section=section, section_errors=problems)
    if _text(form, "action") == "preview":
        diff = _diff(_section_yaml(project.spec, section), _section_yaml(spec, section), section)
        return _settings_page(request, client, project, role, texts={section: text},
                              section=section, diff=diff)
    try:
        return await _save(request, client, project.slug, spec, f"section-{section}")
    except CitizenDataError as err:
        if err.http_status >= 500:
            raise
        rows, _more = problem_rows(err)
        return _settings_page(request, client, project, role, status=err.http_status,
                              texts={section: text}, section=section,
                              section_errors=[{"path": r["field"] or section, "line": None,
                                               "message": r["message"]} for r in rows])


# ---- members ----------------------------------------------------------------------------

def _members_page(request: Request, client: Client, slug: str, *, status: int = 200,
                  errors: Mapping[str, list[str]] | None = None,
                  values: Mapping[str, str] | None = None,
                  secret: Mapping[str, str] | None = None) -> Response:
    project, role = _project_for(client, slug, Action.MEMBERS_MANAGE)
    members = client.members(slug)
    powers = client.member_actions(slug)
    rows = [{"username": m.username, "display_name": m.display_name or "", "role": m.role,
             **powers.get(m.username, {})} for m in members]
    return _page(request, "setup_members.html", client, project, role, status=status,
                 headers=_NO_STORE if secret else None, members=rows,
                 roles=client.assignable_roles(slug), role_names=role_names(),
                 errors=errors or {}, values=values or {}, secret=secret)


@router.get("/projects/{slug}/members")
def members_page(slug: str, request: Request, client: Client = Depends(api_client)) -> Response:
    """The members, their roles, and the forms to add, invite, change and remove them."""
    return _members_page(request, client, slug)


def _member_error(request: Request, client: Client, slug: str, err: CitizenDataError,
                  form: str, values: Mapping[str, str]) -> Response:
    if err.http_status >= 500 or err.code == "auth.csrf":
        raise err
    errors = {f"{form}-{k}": v for k, v in
              _errors_by_field(err, ("username", "role", "display_name"),
                               default="username").items()}
    return _members_page(request, client, slug, status=err.http_status, errors=errors,
                         values={f"{form}-{k}": v for k, v in values.items()})


@router.post("/projects/{slug}/members/add")
async def add_member(slug: str, request: Request,
                     client: Client = Depends(api_client)) -> Response:
    """Give an existing user a role in the project."""
    form = await _posted(request)
    username, role = _text(form, "username"), _text(form, "role")
    try:
        if not username:
            raise _required("username")
        await run_in_threadpool(client.add_member, slug, username, role)
    except CitizenDataError as err:
        return await run_in_threadpool(_member_error, request, client, slug, err, "add",
                                       {"username": username, "role": role})
    flash(request, _("%(user)s is now %(role)s.") % {"user": username,
                                                     "role": role_names().get(role, role)})
    return RedirectResponse(_url(slug, "/members"), status_code=303)


def _required(field: str) -> CitizenDataError:
    from citizendata.errors import BadInput

    return BadInput("input.invalid", _("This field is required."), where=Where(field=field))


@router.post("/projects/{slug}/members/invite")
async def invite_member(slug: str, request: Request,
                        client: Client = Depends(api_client)) -> Response:
    """Create a user with a one-time password, shown on this page only."""
    form = await _posted(request)
    username, role = _text(form, "username"), _text(form, "role")
    display_name = _text(form, "display_name")
    try:
        if not username:
            raise _required("username")
        member, password = await run_in_threadpool(
            lambda: client.invite_member(slug, username, role, display_name=display_name))
    except CitizenDataError as err:
        return await run_in_threadpool(_member_error, request, client, slug, err, "invite",
                                       {"username": username, "role": role,
                                        "display_name": display_name})
    # shown in this answer only: never in the session, a redirect or a log
    return await run_in_threadpool(lambda: _members_page(
        request, client, slug, secret={"username": member.username, "password": password,
                                       "kind": "invite"}))


@router.post("/projects/{slug}/members/{username}/role")
async def change_role(slug: str, username: str, request: Request,
                      client: Client = Depends(api_client)) -> Response:
    """Change a member's role (the library refuses what the viewer may not do)."""
    form = await _posted(request)
    role = _text(form, "role")
    try:
        await run_in_threadpool(client.add_member, slug, username, role)
    except CitizenDataError as err:
        if err.http_status >= 500:
            raise
        flash(request, err.message, "error")
    else:
        flash(request, _("%(user)s is now %(role)s.") % {"user": username,
                                                         "role": role_names().get(role, role)})
    return RedirectResponse(_url(slug, "/members"), status_code=303)


@router.post("/projects/{slug}/members/{username}/remove")
async def remove_member(slug: str, username: str, request: Request,
                        client: Client = Depends(api_client)) -> Response:
    """Take a member out of the project."""
    await _posted(request)
    try:
        await run_in_threadpool(client.remove_member, slug, username)
    except CitizenDataError as err:
        if err.http_status >= 500:
            raise
        flash(request, err.message, "error")
    else:
        flash(request, _("%(user)s is no longer a member.") % {"user": username})
    return RedirectResponse(_url(slug, "/members"), status_code=303)


@router.post("/projects/{slug}/members/{username}/reset")
async def reset_password(slug: str, username: str, request: Request,
                         client: Client = Depends(api_client)) -> Response:
    """A new one-time password for a member, shown on this page only."""
    await _posted(request)
    try:
        password = await run_in_threadpool(client.reset_member_password, slug, username)
    except CitizenDataError as err:
        if err.http_status >= 500:
            raise
        flash(request, err.message, "error")
        return RedirectResponse(_url(slug, "/members"), status_code=303)
    return await run_in_threadpool(lambda: _members_page(
        request, client, slug, secret={"username": username, "password": password,
                                       "kind": "reset"}))


@router.post("/projects/{slug}/members/{username}/revoke")
async def revoke_tokens(slug: str, username: str, request: Request,
                        client: Client = Depends(api_client)) -> Response:
    """Revoke every API token of a member."""
    await _posted(request)
    try:
        n = await run_in_threadpool(client.revoke_member_tokens, slug, username)
    except CitizenDataError as err:
        if err.http_status >= 500:
            raise
        flash(request, err.message, "error")
    else:
        from citizendata.i18n import ngettext

        flash(request, ngettext("%(num)d API token of %(user)s revoked.",
                                "%(num)d API tokens of %(user)s revoked.", n)
              % {"num": n, "user": username})
    return RedirectResponse(_url(slug, "/members"), status_code=303)
