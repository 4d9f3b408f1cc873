"""Release endpoints for members under /api/v1 (build, list, sign off, publish, withdraw)
and the members' releases page, server-rendered with plain forms.

Every call goes through the library Client, which checks the caller's role; the
public, unauthenticated surface is in routers/public.py.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse, Response
from pydantic import BaseModel, ConfigDict
from starlette.datastructures import FormData

from citizendata.errors import BadInput, Forbidden, Where
from citizendata.projects.spec import IntegrationIntent
from citizendata.server.deps import api_client, csrf_ok, csrf_token
from citizendata.server.errors import templates
from citizendata.server.params import DbId, IsoDate
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


# ---- the members' page -------------------------------------------------------------------

def _signatories(client: Client, slug: str, release: dict[str, Any]) -> list[dict[str, Any]]:
    """Who must approve this release and where each stands (their latest decision).

    For display only: the library decides who may sign and whether a release may be
    published, from the same project spec.
    """
    spec = client.project(slug).spec
    latest: dict[tuple[str, str], dict[str, Any]] = {}
    for s in release["signoffs"]:
        latest[(s["capacity"], s["by"])] = s
    out = [{"who": rep, "capacity": "community representative",
            "signoff": latest.get(("community", rep))}
           for rep in spec.release.community_representatives]
    nso = (spec.release.nso_signoff if spec.release.nso_signoff is not None
           else spec.integration_intent == IntegrationIntent.INTEGRATE)
    if nso:
        nso_signoffs = [v for (cap, _), v in latest.items() if cap == "nso"]
        approved = [v for v in nso_signoffs if v["decision"] == "approve"]
        shown = approved or nso_signoffs
        out.append({"who": "the NSO", "capacity": "national statistical office",
                    "signoff": shown[-1] if shown else None})
    return out


def _files(slug: str, release: dict[str, Any]) -> list[dict[str, str | None]]:
    """The release's files; only a published release's files have a (public) link."""
    base = f"/public/releases/{quote(slug)}/{release['version']}/"
    public = release["status"] == "published"
    return [{"name": name, "href": base + quote(name) if public else None}
            for name in release["files"]]


def _pages_url(slug: str, version: int | None = None) -> str:
    return f"/projects/{quote(slug)}/releases" + (f"#v{version}" if version else "")


async def _posted(request: Request) -> FormData:
    """The posted form, refused unless it carries this session's CSRF token."""
    form = await request.form()
    if not csrf_ok(request, form.get("csrf")):
        raise Forbidden("auth.csrf", "The page has expired; reload it and try again.")
    return form


@pages.get("/projects/{slug}/releases")
def releases_page(slug: str, request: Request, client: Client = Depends(api_client)) -> Response:
    """Every release, newest first: status, sign-offs, files, and the forms to act on them."""
    rows = client.releases(slug)
    project = client.project(slug)
    shown = [{**r, "signatories": _signatories(client, slug, r), "links": _files(slug, r)}
             for r in rows]
    context = {"user": client.actor.username, "csrf": csrf_token(request),
               "project_slug": slug, "project_name": project.name, "role": project.role,
               "releases": shown}
    return templates.TemplateResponse(request, "releases.html", context)


@pages.post("/projects/{slug}/releases")
async def build_page(slug: str, request: Request,
                     client: Client = Depends(api_client)) -> Response:
    """Build the next release as a background job (the library refuses anyone but owners
    and managers)."""
    await _posted(request)
    return await start_work(request, client, "release.build", {"slug": slug}, _pages_url(slug))


@pages.post("/projects/{slug}/releases/{version}/sign")
async def sign_page(slug: str, version: DbId, request: Request,
                    client: Client = Depends(api_client)) -> Response:
    """Approve or refuse, with a note (the library refuses anyone who does not sign)."""
    form = await _posted(request)
    decision = str(form.get("decision") or "")
    await run_in_threadpool(client.sign_release, slug, version, decision,
                            str(form.get("note") or "").strip())
    return RedirectResponse(_pages_url(slug, version), status_code=303)


@pages.post("/projects/{slug}/releases/{version}/publish")
async def publish_page(slug: str, version: DbId, request: Request,
                       client: Client = Depends(api_client)) -> Response:
    """Publish (refused by the library until every sign-off is in)."""
    await _posted(request)
    await run_in_threadpool(client.publish_release, slug, version)
    return RedirectResponse(_pages_url(slug, version), status_code=303)


@pages.post("/projects/{slug}/releases/{version}/withdraw")
async def withdraw_page(slug: str, version: DbId, request: Request,
                        client: Client = Depends(api_client)) -> Response:
    """Withdraw a release; a reason is required."""
    form = await _posted(request)
    reason = str(form.get("reason") or "").strip()
    if not reason:
        raise BadInput("input.invalid", "Say why the release is withdrawn.",
                       where=Where(field="reason"))
    await run_in_threadpool(client.withdraw_release, slug, version, reason)
    return RedirectResponse(_pages_url(slug, version), status_code=303)
