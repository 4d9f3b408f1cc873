"""Web forms for logged-in members: fill a project's form in the browser, online or not.

- ``GET  /projects/{slug}/forms/{form_id}/fill`` — the page (ODK Web Forms, drafts and an
  outbox on the device; server/webform_page.py);
- ``GET  …/fill/form.xml`` and ``…/fill/attachments/{name}`` — the newest XForm and its
  media files, which the service worker keeps for offline use;
- ``POST …/fill/submission`` — one finished submission (multipart, as OpenRosa's:
  ``xml_submission_file`` and media parts) through the same intake as ODK Collect's,
  channel ``webform``; 201 stored, 202 an identical resend (nothing changed), errors in
  the one JSON shape. A write carried by the session cookie, so it needs the session's
  CSRF token in ``X-CSRF-Token``.
- ``GET  /webforms-sw.js`` — the service worker (scope ``/``), and
  ``GET /webforms.webmanifest`` — what makes the site installable.

Public links (anonymous filling) are in routers/weblinks.py.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response

from citizendata.auth import Action, allowed
from citizendata.errors import BadInput, Conflict, Forbidden
from citizendata.i18n import gettext as _
from citizendata.server.deps import CSRF_HEADER, api_client, csrf_ok
from citizendata.server.pages import safe_next
from citizendata.server.routers.openrosa import SUBMISSION_BODY, multipart_submission
from citizendata.server.webform_page import ENGINE_DIR, FillConfig, fill_response
from citizendata.services.intake import IntakeResult
from citizendata.workspace import Client

__all__ = ["refuse_encrypted", "router", "submission_answer", "xform_response"]

router = APIRouter(tags=["web forms"])

_XML = "application/xml; charset=utf-8"
_BASE = "/projects/{slug}/forms/{form_id}/fill"


def _here(slug: str, form_id: str) -> str:
    return f"/projects/{quote(slug, safe='')}/forms/{quote(form_id, safe='')}/fill"


def refuse_encrypted(xml: str) -> None:
    """An encrypted form (its own key or the project's managed one) is not filled in the
    browser: ODK Web Forms 0.22 reads the key but sends the answers in the clear."""
    if "base64RsaPublicKey" in xml:
        raise Conflict("webform.encrypted",
                       "This form is encrypted, and the web form engine would send its "
                       "answers unencrypted.")


def submission_answer(result: IntakeResult, instance_id: str | None) -> JSONResponse:
    """201 for a new submission, 202 for one the server already had."""
    if result.created:
        return JSONResponse({"status": "created", "instance_id": instance_id}, status_code=201)
    return JSONResponse({"status": "duplicate", "instance_id": instance_id}, status_code=202)


async def read_submission(request: Request, form_id: str, max_depth: int) -> tuple[
        bytes, list[Any], str | None]:
    """The instance XML and media of a web-form submission, checked to be for ``form_id``."""
    from citizendata.ingest.openrosa import instance_head

    xml, media = await multipart_submission(request)
    head = instance_head(xml, max_depth=max_depth)
    if head is not None and head[0] != form_id:
        raise BadInput("intake.form_mismatch",
                       f"This page sends submissions of form {form_id!r}; the instance is of "
                       f"form {head[0]!r}.")
    return xml, media, head[1] if head else None


@router.get(_BASE, response_class=Response, include_in_schema=False)
def fill_page(slug: str, form_id: str, request: Request,
              client: Client = Depends(api_client)) -> Response:
    """The page that fills the form in the browser."""
    project = client.project(slug)
    form = client.form(slug, form_id)
    if not (client.actor.is_admin or allowed(project.role, Action.SUBMISSION_CREATE)):
        raise Forbidden("auth.forbidden", "Your role in this project cannot submit forms.",
                        fix="Ask a project manager for the collector role.")
    refuse_encrypted(client.xform(slug, form_id)[1])
    here = _here(slug, form_id)
    return fill_response(request, client, FillConfig(
        project_slug=slug, form_id=form_id, title=form.title, project_name=project.name,
        form_xml_url=f"{here}/form.xml", attachments_url=f"{here}/attachments",
        submit_url=f"{here}/submission", mode="member",
        back_url=f"/projects/{quote(slug, safe='')}/collect"))


def xform_response(request: Request, xml: str, version: str) -> Response:
    """An XForm for a web form, gzipped when the browser takes it (a form is 5 to 10 times
    smaller so; it holds no secret, so compressing it leaks nothing)."""
    from citizendata.server.static_files import accepted_encodings

    body = xml.encode("utf-8")
    headers = {"cache-control": "no-cache", "x-form-version": version,
               "vary": "Accept-Encoding"}
    if len(body) > 1400 and "gzip" in accepted_encodings(
            request.headers.get("accept-encoding", "")):
        import gzip

        body = gzip.compress(body, compresslevel=6, mtime=0)
        headers["content-encoding"] = "gzip"
    return Response(body, media_type=_XML, headers=headers)


@router.get(_BASE + "/form.xml", response_class=Response, summary="A form's newest XForm",
            responses={200: {"content": {"application/xml": {"schema": {"type": "string"}}}}})
def fill_form_xml(slug: str, form_id: str, request: Request,
                  client: Client = Depends(api_client)) -> Response:
    """The newest XForm of the form, as the web form renders it."""
    fv, xml = client.xform(slug, form_id)
    return xform_response(request, xml, fv.version)


@router.get(_BASE + "/attachments/{name}", response_class=Response,
            summary="One file of a form's newest version",
            responses={200: {"content": {"application/octet-stream": {
                "schema": {"type": "string", "format": "binary"}}}}})
def fill_attachment(slug: str, form_id: str, name: str,
                    client: Client = Depends(api_client)) -> Response:
    """A media or data file the form refers to (jr://file/NAME)."""
    info, data = client.form_attachment(slug, form_id, name)
    return Response(data, media_type=info.content_type, headers={"cache-control": "no-cache"})


@router.post(_BASE + "/submission", status_code=201, summary="Submit a filled web form",
             responses={201: {"content": {"application/json": {}}},
                        202: {"content": {"application/json": {}}}},
             openapi_extra=SUBMISSION_BODY)
async def fill_submission(slug: str, form_id: str, request: Request,
                          client: Client = Depends(api_client)) -> JSONResponse:
    """Store one finished submission; an identical resend changes nothing (202)."""
    if "authorization" not in request.headers and not csrf_ok(
            request, request.headers.get(CSRF_HEADER)):
        raise Forbidden("auth.csrf", f"A submission sent with the session cookie needs the "
                        f"session's CSRF token in the {CSRF_HEADER} header.",
                        fix="Reload the form page; it sends the token itself.")
    max_depth = client.workspace.settings.max_depth
    xml, media, instance_id = await read_submission(request, form_id, max_depth)
    from citizendata.services.encryption import encrypted_root

    if encrypted_root(xml, max_depth) is None:
        # a clear submission of an encrypted form stays out (ODK Collect encrypts its own)
        refuse_encrypted((await run_in_threadpool(client.xform, slug, form_id))[1])
    result = await run_in_threadpool(client.submit_instance, slug, xml, media,
                                     channel="webform")
    return submission_answer(result, instance_id)


@router.get("/webforms-sw.js", response_class=Response, include_in_schema=False)
def service_worker() -> Response:
    """The service worker, allowed to serve the whole site's scope (it touches only form
    pages, their files and the engine)."""
    body = (ENGINE_DIR / "sw.js").read_bytes()
    return Response(body, media_type="text/javascript; charset=utf-8", headers={
        "service-worker-allowed": "/", "cache-control": "no-cache"})


@router.get("/favicon.ico", response_class=Response, include_in_schema=False)
def favicon() -> Response:
    """The site's icon (browsers ask for it on every page)."""
    return Response((ENGINE_DIR / "icon.svg").read_bytes(), media_type="image/svg+xml",
                    headers={"cache-control": "public, max-age=86400"})


@router.get("/webforms.webmanifest", response_class=Response, include_in_schema=False)
def web_manifest(start: str | None = None) -> Response:
    """The web app manifest: installing the site opens the form it was installed from."""
    body = {"name": "citizendata", "short_name": "citizendata",
            "description": _("Fill your project's forms, with or without a connection."),
            "start_url": safe_next(start, "/projects"), "scope": "/",
            "display": "standalone", "background_color": "#ffffff", "theme_color": "#1d4f91",
            "icons": [{"src": "/static/webforms/icon.svg", "sizes": "any",
                       "type": "image/svg+xml", "purpose": "any"},
                      {"src": "/static/webforms/icon-192.png", "sizes": "192x192",
                       "type": "image/png"},
                      {"src": "/static/webforms/icon-512.png", "sizes": "512x512",
                       "type": "image/png"}]}
    return Response(json.dumps(body), media_type="application/manifest+json")
