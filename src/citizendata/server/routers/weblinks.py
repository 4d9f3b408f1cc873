"""Public links: a form filled anonymously by whoever holds a revocable URL.

For owners and managers (the library checks ``public_link.manage``):

- ``GET  /api/v1/projects/{slug}/forms/{form_id}/public-links`` — the form's links;
- ``POST /api/v1/projects/{slug}/forms/{form_id}/public-links`` — a new link
  (``name``, optional ``expires_at`` and ``max_submissions``): 201 with its ``token`` and
  ``url`` (``BASE/f/{token}``), in this answer only;
- ``POST /api/v1/projects/{slug}/public-links/{link_id}/revoke`` — switch one off;
- the page ``/projects/{slug}/forms/{form_id}/links`` does the same in a browser (the new
  URL shown once, with its QR code).

For anyone with the URL, nothing else (no log-in, no cookie needed):

- ``GET  /f/{token}`` — the web form page;
- ``GET  /f/{token}/form.xml`` — the form's newest XForm (``?version=`` for another);
- ``GET  /f/{token}/attachments/{name}`` — a file the form refers to;
- ``POST /f/{token}/submission`` — multipart/form-data as OpenRosa's
  (``xml_submission_file`` and media parts): 201 ``{"status": "created"}``, 202
  ``{"status": "duplicate"}`` for an identical resend (nothing changed, not counted).

Refusals, in the one JSON error shape: 404 ``weblink.unknown`` (no such link), 410
``weblink.revoked`` and ``weblink.expired``, 409 ``weblink.full`` (the cap is reached),
422 ``weblink.wrong_form``, 429 ``weblink.rate_limited`` with ``Retry-After``.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, RedirectResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from citizendata.auth import Action
from citizendata.errors import BadInput, CitizenDataError, Where
from citizendata.i18n import gettext as _
from citizendata.server.deps import api_client, client_address, get_workspace
from citizendata.server.pages import flash
from citizendata.server.params import DB_INT_MAX, DbId
from citizendata.server.routers.openrosa import SUBMISSION_BODY, base_url, multipart_submission
from citizendata.server.routers.setup import _NO_STORE, _page, _posted, _project_for, _text
from citizendata.workspace import Client

__all__ = ["router"]

# one router for the API, the anonymous side and the page (the page is not in the API
# document), so the app registers it in one line, before the HTML pages' catch-alls
router = APIRouter(tags=["public links"])
_API = "/api/v1"

_ANSWER = {"content": {"application/json": {"schema": {
    "type": "object", "required": ["status"],
    "properties": {"status": {"type": "string", "enum": ["created", "duplicate"]},
                   "instance_id": {"anyOf": [{"type": "string"}, {"type": "null"}]}}}}}}


class LinkIn(BaseModel):
    """A public link to create."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=200,
                      description="Where the link is shared, e.g. 'Radio Magadi, March'.")
    expires_at: datetime | None = Field(
        default=None, description="When the link stops taking submissions (with a time "
                                  "zone, e.g. 2027-03-31T23:59:00Z); none: never.")
    max_submissions: int | None = Field(default=None, ge=1, le=DB_INT_MAX,
                                        description="Most submissions it stores; none: no cap.")


def link_url(request: Request, token: str) -> str:
    """The public address of a link (CITIZENDATA_BASE_URL, else the request's)."""
    return f"{base_url(request)}/f/{token}"


# -- the JSON API for managers ---------------------------------------------------------------

@router.get(_API + "/projects/{slug}/forms/{form_id}/public-links",
            summary="A form's public links")
def list_links(slug: str, form_id: str, client: Client = Depends(api_client)
               ) -> dict[str, Any]:
    """Newest first, with each link's state and count; never a token."""
    return {"links": [link.to_dict() for link in client.public_links(slug, form_id)]}


@router.post(_API + "/projects/{slug}/forms/{form_id}/public-links", status_code=201,
             summary="Create a public link")
def create_link(slug: str, form_id: str, body: LinkIn, request: Request,
                client: Client = Depends(api_client)) -> dict[str, Any]:
    """A new link; its ``token`` and ``url`` are in this answer only (only a hash is kept)."""
    if body.expires_at is not None and body.expires_at.tzinfo is None:
        raise BadInput("input.invalid", "The expiry needs a time zone.",
                       where=Where(field="expires_at"),
                       fix="Give it in UTC, e.g. 2027-03-31T23:59:00Z.")
    info, token = client.create_public_link(slug, form_id, body.name,
                                            expires_at=body.expires_at,
                                            max_submissions=body.max_submissions)
    return {**info.to_dict(), "token": token, "url": link_url(request, token)}


@router.post(_API + "/projects/{slug}/public-links/{link_id}/revoke",
             summary="Revoke a public link")
def revoke_link(slug: str, link_id: DbId, client: Client = Depends(api_client)
                ) -> dict[str, Any]:
    """Switch the link off for good; what it stored stays."""
    return client.revoke_public_link(slug, link_id).to_dict()


# -- the anonymous side ------------------------------------------------------------------------

@router.get("/f/{token}", response_class=Response, include_in_schema=False)
def fill_page(token: str, request: Request) -> Response:
    """The web form of the link (ODK Web Forms; drafts and an outbox on the device)."""
    from citizendata.server.routers.webforms import refuse_encrypted
    from citizendata.server.webform_page import FillConfig, fill_response

    ws = get_workspace(request)
    target = ws.resolve_public_link(token)
    refuse_encrypted(ws.public_form_xml(token)[2])

    here = f"/f/{quote(token, safe='')}"
    return fill_response(request, None, FillConfig(
        project_slug=target.slug, form_id=target.form_id, title=target.title,
        form_xml_url=f"{here}/form.xml", attachments_url=f"{here}/attachments",
        submit_url=f"{here}/submission", mode="public", back_url=None,
        link_name=target.name, project_name=target.project_name))


@router.get("/f/{token}/form.xml", response_class=Response,
            summary="A public link's form (XForm)",
            responses={200: {"content": {"application/xml": {"schema": {"type": "string"}}}}})
def form_xml(token: str, request: Request, version: str | None = None) -> Response:
    """The newest XForm of the link's form (or ``version``), as ODK Collect gets it."""
    from citizendata.server.routers.webforms import xform_response

    _target, fv_version, xml = get_workspace(request).public_form_xml(token, version)
    return xform_response(request, xml, fv_version)


@router.get("/f/{token}/attachments/{name}", response_class=Response,
            summary="A file of a public link's form",
            responses={200: {"content": {"application/octet-stream": {
                "schema": {"type": "string", "format": "binary"}}}}})
def attachment(token: str, name: str, request: Request, version: str | None = None
               ) -> Response:
    """A media or data file the form refers to (jr://file/NAME)."""
    found, ctype, data = get_workspace(request).public_form_attachment(token, name, version)
    return Response(data, media_type=ctype, headers={
        "cache-control": "no-cache",
        "content-disposition": f"attachment; filename*=UTF-8''{quote(found, safe='')}"})


@router.post("/f/{token}/submission", status_code=201,
             summary="Submit through a public link", responses={201: _ANSWER, 202: _ANSWER},
             openapi_extra=SUBMISSION_BODY)
async def submission(token: str, request: Request) -> JSONResponse:
    """Store one filled form anonymously; an identical resend changes nothing (202)."""
    from citizendata.ingest.openrosa import instance_head
    from citizendata.server.routers.webforms import refuse_encrypted, submission_answer

    ws = get_workspace(request)
    xml, media = await multipart_submission(request)
    # a clear submission of an encrypted form stays out; a link that takes nothing more
    # (full, revoked …) is answered by submit_public, which knows a resend from a new one
    try:
        form_xml = (await run_in_threadpool(ws.public_form_xml, token))[2]
    except CitizenDataError:
        form_xml = ""
    refuse_encrypted(form_xml)
    result = await run_in_threadpool(ws.submit_public, token, xml, media,
                                     address=client_address(request))
    head = instance_head(xml, max_depth=ws.settings.max_depth)
    instance_id = head[1] if head else (result.instance_ids[0] if result.instance_ids
                                        else None)
    return submission_answer(result, instance_id)


# -- the manager's page ------------------------------------------------------------------------

def _links_url(slug: str, form_id: str) -> str:
    return f"/projects/{quote(slug, safe='')}/forms/{quote(form_id, safe='')}/links"


def _qr_svg(url: str) -> str:
    import segno

    svg: str = segno.make_qr(url, error="m").svg_inline(scale=4, border=4,
                                                         title=_("QR code of the link"))
    return svg


def _state_names() -> dict[str, str]:
    return {"active": _("open"), "revoked": _("revoked"), "expired": _("expired"),
            "full": _("full")}


def _links_page(request: Request, client: Client, slug: str, form_id: str, *,
                status: int = 200, errors: dict[str, list[str]] | None = None,
                values: dict[str, str] | None = None,
                secret: dict[str, str] | None = None) -> Response:
    project, role = _project_for(client, slug, Action.PUBLIC_LINK_MANAGE)
    form = client.form(slug, form_id)
    links = client.public_links(slug, form_id)
    rows = [{"info": link, "state": link.state()} for link in links]
    return _page(request, "webforms_links.html", client, project, role, status=status,
                 headers=_NO_STORE if secret else None,
                 form={"form_id": form.form_id, "title": form.title,
                       "url": _links_url(slug, form_id)},
                 links=rows, state_names=_state_names(), errors=errors or {},
                 values=values or {}, secret=secret,
                 rate=client.workspace.settings.weblink_rate_per_minute)


@router.get("/projects/{slug}/forms/{form_id}/links", include_in_schema=False)
def links_page(slug: str, form_id: str, request: Request,
               client: Client = Depends(api_client)) -> Response:
    """The form's public links: create one (its URL shown once), see counts, revoke."""
    return _links_page(request, client, slug, form_id)


def _expiry(text: str) -> datetime | None:
    """A date (YYYY-MM-DD): the link works to the end of that day, UTC."""
    if not text:
        return None
    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise BadInput("input.invalid", _("Write the date as YYYY-MM-DD."),
                       where=Where(field="expires_at")) from None
    return datetime.combine(day + timedelta(days=1), time(0, 0), tzinfo=UTC)


def _cap(text: str) -> int | None:
    if not text:
        return None
    if not text.isdigit() or not 1 <= int(text) <= DB_INT_MAX:
        raise BadInput("input.invalid", _("Give a whole number of 1 or more, or leave it "
                                          "empty."), where=Where(field="max_submissions"))
    return int(text)


@router.post("/projects/{slug}/forms/{form_id}/links", include_in_schema=False)
async def create_link_page(slug: str, form_id: str, request: Request,
                           client: Client = Depends(api_client)) -> Response:
    """Create a link and show its URL and QR code, this once."""
    form = await _posted(request)
    values = {k: _text(form, k) for k in ("name", "expires_at", "max_submissions")}
    try:
        expires_at = _expiry(values["expires_at"])
        cap = _cap(values["max_submissions"])
        info, token = await run_in_threadpool(
            lambda: client.create_public_link(slug, form_id, values["name"],
                                              expires_at=expires_at, max_submissions=cap))
    except CitizenDataError as err:
        if err.http_status >= 500 or err.code == "auth.csrf" or err.http_status in (403, 404):
            raise
        field = err.where.field if err.where and err.where.field in values else "name"
        status, errors = err.http_status, {str(field): [err.message]}
        return await run_in_threadpool(lambda: _links_page(
            request, client, slug, form_id, status=status, errors=errors, values=values))
    url = link_url(request, token)
    # shown in this answer only: never in the session, a redirect or a log
    return await run_in_threadpool(lambda: _links_page(
        request, client, slug, form_id,
        secret={"name": info.name, "url": url, "qr": _qr_svg(url)}))


@router.post("/projects/{slug}/forms/{form_id}/links/{link_id}/revoke",
             include_in_schema=False)
async def revoke_link_page(slug: str, form_id: str, link_id: DbId, request: Request,
                           client: Client = Depends(api_client)) -> Response:
    """Switch a link off."""
    await _posted(request)
    try:
        info = await run_in_threadpool(client.revoke_public_link, slug, link_id)
    except CitizenDataError as err:
        if err.http_status >= 500:
            raise
        flash(request, err.message, "error")
    else:
        flash(request, _("The link %(name)s is switched off.") % {"name": info.name})
    return RedirectResponse(_links_url(slug, form_id), status_code=303)
