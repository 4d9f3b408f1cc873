"""Server-rendered pages: log in, list projects, a project, a form's submissions. No JavaScript."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse, Response
from starlette.routing import NoMatchFound

from citizendata.collect_qr import collect_settings, settings_qr_svg
from citizendata.errors import CitizenDataError, Forbidden
from citizendata.i18n import gettext as _
from citizendata.i18n import ngettext
from citizendata.server.deps import (
    api_client,
    client_address,
    csrf_ok,
    end_session,
    get_workspace,
    start_session,
)
from citizendata.server.pages import render, safe_next
from citizendata.server.params import Page
from citizendata.server.routers.openrosa import base_url
from citizendata.server.serialize import form_dict, project_dict
from citizendata.workspace import Client

__all__ = ["odk_collect_setup", "router"]

router = APIRouter(include_in_schema=False)

PAGE_SIZE = 50
LEVEL_NAMES = {1: "information", 2: "consultation", 3: "limited participation",
               4: "shared decision-making", 5: "community-led"}


def role_names() -> dict[str, str]:
    """Each project role's name in the current language."""
    return {"owner": _("owner"), "manager": _("manager"), "collector": _("collector"),
            "validator": _("validator"), "analyst": _("analyst"), "viewer": _("viewer"),
            "nso": _("national statistical office")}


def status_names() -> dict[str, str]:
    """Each submission review status's name in the current language."""
    return {"received": _("received"), "has_issues": _("has issues"),
            "approved": _("approved"), "rejected": _("rejected"), "edited": _("edited")}


def _page(request: Request, template: str, client: Client | None, status: int = 200,
          **context: Any) -> Response:
    return render(request, template, client, status=status, **context)


_safe_next = safe_next


@router.get("/login")
def login_form(request: Request, next: str | None = None) -> Response:
    """The login form."""
    return _page(request, "login.html", None, next=_safe_next(next), message=None)


@router.post("/login")
async def login(request: Request) -> Response:
    """Check the password, start a session and go where the user was going."""
    form = await request.form()
    target = _safe_next(str(form.get("next") or ""))
    if not csrf_ok(request, form.get("csrf")):
        raise Forbidden("auth.csrf", "The login form has expired; reload it and try again.")
    username, password = str(form.get("username") or ""), str(form.get("password") or "")
    try:
        client = await run_in_threadpool(get_workspace(request).login, username, password,
                                         address=client_address(request))
    except CitizenDataError as err:
        if err.http_status not in (401, 429):
            raise
        message = _(err.title) + "."
        if "retry_after_s" in err.details:
            message += " " + _("Try again in %(seconds)s seconds.") % {
                "seconds": err.details["retry_after_s"]}
        page = _page(request, "login.html", None, status=err.http_status, next=target,
                     message=message, username=username)
        if "retry_after_s" in err.details:
            page.headers["Retry-After"] = str(err.details["retry_after_s"])
        return page
    start_session(request, client)
    return RedirectResponse(target, status_code=303)


@router.api_route("/logout", methods=["GET", "POST"])
def logout(request: Request) -> RedirectResponse:
    """End the session."""
    end_session(request)
    return RedirectResponse("/login", status_code=303)


@router.get("/projects")
def projects(request: Request, client: Client = Depends(api_client)) -> Response:
    """The user's projects, with their role and the citizen-data threshold badge."""
    return _page(request, "projects.html", client, role_names=role_names(),
                 projects=[project_dict(p) for p in client.projects()])


def _has_fill_page(request: Request) -> bool:
    """Whether this app serves the browser form (``/projects/{slug}/forms/{form}/fill``)."""
    # by the route's name: FastAPI keeps included routers as one entry of app.routes each
    try:
        request.app.url_path_for("fill_page", slug="s", form_id="f")
    except NoMatchFound:
        return False
    return True


@router.get("/projects/{slug}")
def project(slug: str, request: Request, client: Client = Depends(api_client)) -> Response:
    """A project, what the viewer's role does first: collectors their forms and how to
    collect, validators review, analysts estimates, the NSO quality, owners set-up; then
    the forms, the ODK Collect set-up and, below, the project and its engagement record."""
    info = project_dict(client.project(slug))
    engagement = client.engagement(slug)
    stages = [{"stage": stage, "level": entry.get("level"),
               "level_name": LEVEL_NAMES.get(entry.get("level") or 0, ""),
               "evidence": entry.get("evidence", "")}
              for stage, entry in engagement["stages"].items()]
    return _page(request, "project.html", client, role=info["role"], project=info,
                 engagement=engagement,
                 stages=stages, forms=[form_dict(f) for f in client.forms(slug)],
                 **odk_collect_setup(request, client, slug, info["name"]),
                 base_url=base_url(request), fill_page=_has_fill_page(request))


def odk_collect_setup(request: Request, client: Client, slug: str, name: str
                      ) -> dict[str, Any]:
    """What a member needs to set up ODK Collect for a project (the template macro
    ``_collect_setup.html``): the server URL and the settings QR code as SVG."""
    openrosa_url = f"{base_url(request)}/openrosa/{quote(slug)}"
    # the member's own user name, never a password: Collect asks for it
    qr = settings_qr_svg(collect_settings(openrosa_url, name, client.actor.username))
    return {"openrosa_url": openrosa_url, "collect_qr": qr}


def _flatten(data: Any, prefix: str = "") -> dict[str, str]:
    """Leaf values by path; a repeat shows how many entries it has."""
    out: dict[str, str] = {}
    if isinstance(data, dict):
        for key, value in data.items():
            path = f"{prefix}/{key}" if prefix else str(key)
            if isinstance(value, dict):
                out.update(_flatten(value, path))
            elif isinstance(value, list):
                out[path] = ngettext("%(num)d entry", "%(num)d entries",
                                     len(value)) % {"num": len(value)}
            else:
                out[path] = "" if value is None else str(value)
    return out


@router.get("/projects/{slug}/forms/{form_id}")
def form_page(slug: str, form_id: str, request: Request, page: Page = 1,
              client: Client = Depends(api_client)) -> Response:
    """A form's submissions, newest first, a page at a time."""
    form = form_dict(client.form(slug, form_id))
    total, rows = client.submissions(slug, form_id, limit=PAGE_SIZE,
                                     offset=(page - 1) * PAGE_SIZE)
    flat = [_flatten(r["data"]) for r in rows]
    columns: list[str] = []
    for f in flat:
        columns.extend(c for c in f if c not in columns)
    pages = max(1, -(-total // PAGE_SIZE))
    return _page(request, "form.html", client, project_slug=slug, form=form, rows=rows,
                 flat=flat, columns=columns, total=total, page=page, pages=pages,
                 status_names=status_names())
