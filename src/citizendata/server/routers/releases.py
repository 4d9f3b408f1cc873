"""Release endpoints for members under /api/v1 (build, list, sign off, publish, withdraw)
and the members' pages, server-rendered with plain forms: the releases list and one
release's page, where a community representative reads the pending release's figures,
maps, quality statement and what was suppressed, then approves or refuses with a note.

Every call goes through the library Client, which checks the caller's role; the
public, unauthenticated surface is in routers/public.py. A pending release's files are
served here, to members only, never on a public URL before publication.
"""

from __future__ import annotations

import mimetypes
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, RedirectResponse, Response
from pydantic import BaseModel, ConfigDict
from starlette.datastructures import FormData

from citizendata.errors import BadInput, CitizenDataError, Forbidden, Where
from citizendata.i18n import gettext as _
from citizendata.projects.spec import IntegrationIntent, ProjectSpec
from citizendata.publish.views import indicator_views, read_json
from citizendata.server.deps import api_client, csrf_ok
from citizendata.server.pages import flash, render
from citizendata.server.params import DbId, IsoDate
from citizendata.server.report_csp import report_response
from citizendata.server.work import start_work
from citizendata.workspace import Client

__all__ = ["pages", "router"]

router = APIRouter(prefix="/api/v1/projects/{slug}/releases", tags=["releases"])
pages = APIRouter(include_in_schema=False)


class BuildIn(BaseModel):
    """When the release is as of (default today)."""

    model_config = ConfigDict(extra="forbid")
    as_of: IsoDate | None = None


class SignIn(BaseModel):
    """A signatory's decision."""

    model_config = ConfigDict(extra="forbid")
    decision: str = "approve"
    note: str = ""


class WithdrawIn(BaseModel):
    """Why a release is withdrawn."""

    model_config = ConfigDict(extra="forbid")
    reason: str


@router.get("", summary="The project's releases and their sign-offs")
def list_releases(slug: str, client: Client = Depends(api_client)) -> dict[str, Any]:
    """Newest first."""
    return {"releases": client.releases(slug)}


@router.post("", summary="Build the next release", status_code=201)
def build(slug: str, body: BuildIn, client: Client = Depends(api_client)) -> dict[str, Any]:
    """Owners and managers; the release then awaits sign-off."""
    return client.build_release(slug, as_of=body.as_of)


@router.post("/{version}/signoffs", summary="Approve or refuse a release", status_code=201)
def sign(slug: str, version: DbId, body: SignIn,
         client: Client = Depends(api_client)) -> dict[str, Any]:
    """Designated community representatives and the NSO."""
    return client.sign_release(slug, version, body.decision, body.note)


@router.post("/{version}/publish", summary="Publish a signed-off release")
def publish(slug: str, version: DbId, client: Client = Depends(api_client)) -> dict[str, Any]:
    """Refused without every sign-off, or after a consent withdrawal since the build."""
    return client.publish_release(slug, version)


@router.post("/{version}/withdraw", summary="Withdraw a release")
def withdraw(slug: str, version: DbId, body: WithdrawIn,
             client: Client = Depends(api_client)) -> dict[str, Any]:
    """Public access ends; the record stays."""
    return client.withdraw_release(slug, version, body.reason)


# ---- the members' pages -------------------------------------------------------------------

def _nso_signs(spec: ProjectSpec) -> bool:
    return (spec.release.nso_signoff if spec.release.nso_signoff is not None
            else spec.integration_intent == IntegrationIntent.INTEGRATE)


def _signatories(spec: ProjectSpec, release: dict[str, Any]) -> list[dict[str, Any]]:
    """Who must approve this release and where each stands (their latest decision).

    For display only: the library decides who may sign and whether a release may be
    published, from the same project spec.
    """
    latest: dict[tuple[str, str], dict[str, Any]] = {}
    for s in release["signoffs"]:
        latest[(s["capacity"], s["by"])] = s
    out = [{"who": rep, "capacity": _("community representative"),
            "signoff": latest.get(("community", rep))}
           for rep in spec.release.community_representatives]
    if _nso_signs(spec):
        nso_signoffs = [v for (cap, _who), v in latest.items() if cap == "nso"]
        approved = [v for v in nso_signoffs if v["decision"] == "approve"]
        shown = approved or nso_signoffs
        out.append({"who": _("the NSO"), "capacity": _("national statistical office"),
                    "signoff": shown[-1] if shown else None})
    return out


def _signs(client: Client, spec: ProjectSpec, role: str | None) -> bool:
    """Whether this user signs releases of the project (as the library decides)."""
    return client.actor.username in spec.release.community_representatives or role == "nso"


def _list_url(slug: str) -> str:
    return f"/projects/{quote(slug)}/releases"


def _page_url(slug: str, version: int) -> str:
    return f"/projects/{quote(slug)}/releases/{version}"


async def _posted(request: Request) -> FormData:
    """The posted form, refused unless it carries this session's CSRF token."""
    form = await request.form()
    if not csrf_ok(request, form.get("csrf")):
        raise Forbidden("auth.csrf", _("The page has expired; reload it and try again."))
    return form


@pages.get("/projects/{slug}/releases")
def releases_page(slug: str, request: Request, client: Client = Depends(api_client)) -> Response:
    """Every release, newest first: status and sign-offs, each with its own page."""
    project = client.project(slug)
    rows = client.releases(slug)
    shown = [{**r, "signatories": _signatories(project.spec, r)} for r in rows]
    return render(request, "releases.html", client, role=project.role,
                  project={"slug": slug, "name": project.name}, project_slug=slug,
                  project_name=project.name, releases=shown,
                  signs=_signs(client, project.spec, project.role))


@pages.post("/projects/{slug}/releases")
async def build_page(slug: str, request: Request,
                     client: Client = Depends(api_client)) -> Response:
    """Build the next release (a long job; the library refuses anyone but owners and
    managers)."""
    await _posted(request)
    client.project(slug)  # an outsider learns nothing: 404 before any work starts
    return await start_work(request, client, "release.build", {"slug": slug}, _list_url(slug))


@pages.get("/projects/{slug}/releases/{version}")
def release_page(slug: str, version: DbId, request: Request,
                 client: Client = Depends(api_client)) -> Response:
    """One release: its status, who must sign and who has, its figures, maps and what was
    suppressed, the report, and the forms this user may use (sign; publish, withdraw)."""
    project = client.project(slug)
    release = next((r for r in client.releases(slug) if r["version"] == version), None)
    if release is None:
        from citizendata.errors import NotFound

        raise NotFound("release.not_found", _("This project has no release v%(version)s.")
                       % {"version": version}, where=Where(field="version"))

    def read(name: str) -> bytes | None:
        try:
            return client.release_file(slug, version, name).read_bytes()
        except CitizenDataError:
            return None

    manifest = read_json(read, "manifest.json") or {}
    views = indicator_views(manifest, read)
    base = _page_url(slug, version)
    return render(request, "signoff_release.html", client, role=project.role,
                  project={"slug": slug, "name": project.name}, project_slug=slug,
                  project_name=project.name, release=release,
                  signatories=_signatories(project.spec, release),
                  signs=_signs(client, project.spec, project.role),
                  indicators=views, base=base,
                  has_report="report.html" in release["files"],
                  public=f"/public/releases/{quote(slug)}/{version}")


@pages.get("/projects/{slug}/releases/{version}/files/{name:path}")
def release_file(slug: str, version: DbId, name: str,
                 client: Client = Depends(api_client)) -> Response:
    """A release's file for the project's members, pending or not (never cached); the
    report under its own policy, so it renders exactly as the file does."""
    path = client.release_file(slug, version, name)
    if name.endswith(".html"):
        return report_response(path, private=True)
    kind = mimetypes.guess_type(name)[0] or "application/octet-stream"
    return FileResponse(path, media_type=kind, headers={"cache-control": "private, no-store"})


@pages.get("/projects/{slug}/releases/{version}/report.html")
def release_report(slug: str, version: DbId,
                   client: Client = Depends(api_client)) -> Response:
    """The release's report, for the project's members (before publication too)."""
    return release_file(slug, version, "report.html", client)


@pages.post("/projects/{slug}/releases/{version}/sign")
async def sign_page(slug: str, version: DbId, request: Request,
                    client: Client = Depends(api_client)) -> Response:
    """Approve or refuse, with a note (the library refuses anyone who does not sign)."""
    form = await _posted(request)
    decision = str(form.get("decision") or "")
    await run_in_threadpool(client.sign_release, slug, version, decision,
                            str(form.get("note") or "").strip())
    flash(request, _("You approved release v%(version)s.") % {"version": version}
          if decision == "approve" else
          _("You refused release v%(version)s.") % {"version": version}, "ok")
    return RedirectResponse(_page_url(slug, version), status_code=303)


@pages.post("/projects/{slug}/releases/{version}/publish")
async def publish_page(slug: str, version: DbId, request: Request,
                       client: Client = Depends(api_client)) -> Response:
    """Publish (refused by the library until every sign-off is in)."""
    await _posted(request)
    await run_in_threadpool(client.publish_release, slug, version)
    flash(request, _("Release v%(version)s is published.") % {"version": version}, "ok")
    return RedirectResponse(_page_url(slug, version), status_code=303)


@pages.post("/projects/{slug}/releases/{version}/withdraw")
async def withdraw_page(slug: str, version: DbId, request: Request,
                        client: Client = Depends(api_client)) -> Response:
    """Withdraw a release; a reason is required."""
    form = await _posted(request)
    reason = str(form.get("reason") or "").strip()
    if not reason:
        raise BadInput("input.invalid", _("Say why the release is withdrawn."),
                       where=Where(field="reason"))
    await run_in_threadpool(client.withdraw_release, slug, version, reason)
    flash(request, _("Release v%(version)s is withdrawn.") % {"version": version}, "ok")
    return RedirectResponse(_page_url(slug, version), status_code=303)
