"""OpenRosa 1.0 endpoints, one server URL per project, so ODK Collect can submit directly.

Configuring ODK Collect (v2023 or later)
----------------------------------------
1. A project owner or manager gives each enumerator an account and the ``collector``
   role in the project (``citizendata users add`` then ``citizendata projects add-member
   SLUG USERNAME collector``, or ``POST /api/v1/projects/{slug}/members``). The collector role is enough to
   download the project's forms and submit; it cannot read anyone's submissions.
2. In ODK Collect: *Add project* → *Manually enter project details* (or *Project
   settings* → *Server*), then set

   - **Server URL**: ``https://HOST[:PORT]/openrosa/{slug}`` — the project's slug, as shown
     on the project page (for example ``https://data.example.org/openrosa/kenya-maternal-health``);
   - **Username** and **Password**: the enumerator's citizendata account.
3. *Download form* lists the project's forms (newest version of each); *Send finalized
   form* posts each filled form with its photos and other media.

ODK Collect sends a password (HTTP Basic) only over HTTPS, so run the server behind a
TLS reverse proxy (Caddy, nginx) and set ``CITIZENDATA_BASE_URL`` to the public https
URL; form download links in the form list are built from it. HTTP Digest is not
offered: passwords are stored only as argon2 hashes.

What the endpoints answer
-------------------------
- ``GET  /openrosa/{slug}/formList`` — the OpenRosa xforms list (``?formID=`` filters).
- ``GET  /openrosa/{slug}/forms/{form_id}/form.xml`` — the newest XForm of a form.
- ``GET  /openrosa/{slug}/forms/{form_id}/manifest`` — the newest version's form
  attachments (the CSV of a select_one_from_file question, itemsets.csv, ...) as an
  OpenRosa manifest; the form list names it as ``manifestUrl`` when there are any.
- ``GET  /openrosa/{slug}/forms/{form_id}/attachments/{name}`` — one of those files.
- ``HEAD /openrosa/{slug}/submission`` — 204, with ``X-OpenRosa-Accept-Content-Length``.
- ``POST /openrosa/{slug}/submission`` — multipart/form-data with ``xml_submission_file``
  and optional media parts: 201 when stored, 202 for an identical resend (nothing
  changes), 409 when the instance id was already used for different content. A
  submission whose respondent withdrew all consent or had the answers erased, and any
  edit of it, is answered 202 like an identical resend, whatever it holds: nothing of
  it is stored, and ODK Collect marks it sent instead of retrying (docs/openrosa.md).

An ODK encrypted submission (the manifest ``<data encrypted="yes">`` as the XML part, its
``.enc`` files as media) is answered the same way and stored exactly as received; it is
decrypted only for an export with the project's passphrase (docs/openrosa.md section 13).

Every answer carries ``X-OpenRosa-Version: 1.0``; errors are OpenRosa response XML
whose message starts with the stable error code (``intake.invalid_xml: …``).
"""

from __future__ import annotations

import hashlib
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from starlette.datastructures import UploadFile

from citizendata.errors import BadInput, UnsupportedMediaType
from citizendata.server.deps import get_settings, openrosa_client
from citizendata.server.serialize import xform
from citizendata.services.intake import IntakeResult, StoredAttachment
from citizendata.workspace import Client

__all__ = ["SUBMISSION_BODY", "XML_PART", "multipart_submission", "router"]

router = APIRouter(prefix="/openrosa", tags=["openrosa"])

_XML = "text/xml; charset=utf-8"
XML_PART = "xml_submission_file"
# what the OpenAPI document says the success answers are
_XML_DOC: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/xml": {"schema": {"type": "string"}}}}}
_SUBMITTED_DOC: dict[int | str, dict[str, Any]] = {
    201: {"content": {"text/xml": {"schema": {"type": "string"}}}}}
# the route reads its multipart body itself; the document says what it takes
SUBMISSION_BODY: dict[str, Any] = {"requestBody": {"required": True, "content": {
    "multipart/form-data": {"schema": {
        "type": "object", "required": [XML_PART],
        "properties": {XML_PART: {"type": "string", "format": "binary",
                                  "description": "The filled form's instance XML."}},
        "additionalProperties": {"type": "string", "format": "binary",
                                 "description": "A media file the form refers to."}}}}}}


def _headers(extra: dict[str, str] | None = None) -> dict[str, str]:
    from citizendata.ingest.openrosa import OPENROSA_HEADERS

    return {**OPENROSA_HEADERS, **(extra or {})}


def base_url(request: Request) -> str:
    """The public URL of the server: CITIZENDATA_BASE_URL, else the URL the request used."""
    configured = get_settings(request).base_url
    return (configured or str(request.base_url)).rstrip("/")


@router.get("/{slug}/formList", response_class=Response, summary="OpenRosa form list",
            responses=_XML_DOC)
def form_list(slug: str, request: Request, formID: str | None = None,
              client: Client = Depends(openrosa_client)) -> Response:
    """The project's forms, newest version of each, as an OpenRosa xforms list."""
    from citizendata.ingest.openrosa import FormListEntry, formlist_xml

    base = base_url(request)
    entries = []
    for f in client.forms(slug):
        if not f.versions or (formID is not None and f.form_id != formID):
            continue
        fv, xml = xform(client, slug, f.form_id)
        # form ids may hold spaces and other characters a URL path must quote
        here = f"{base}/openrosa/{quote(slug, safe='')}/forms/{quote(f.form_id, safe='')}"
        entries.append(FormListEntry(
            form_id=f.form_id, name=f.title, version=fv.version,
            hash_md5=hashlib.md5(xml.encode("utf-8")).hexdigest(),
            download_url=f"{here}/form.xml",
            manifest_url=f"{here}/manifest" if fv.attachments else None))
    return Response(formlist_xml(entries, base), media_type=_XML, headers=_headers())


@router.get("/{slug}/forms/{form_id}/form.xml", response_class=Response,
            summary="A form's newest XForm", responses=_XML_DOC)
def form_xml(slug: str, form_id: str, client: Client = Depends(openrosa_client)) -> Response:
    """The XForm XML ODK Collect downloads."""
    _, xml = xform(client, slug, form_id)
    return Response(xml, media_type=_XML, headers=_headers())


@router.get("/{slug}/forms/{form_id}/manifest", response_class=Response,
            summary="A form's attachments (OpenRosa manifest)", responses=_XML_DOC)
def manifest(slug: str, form_id: str, request: Request,
             client: Client = Depends(openrosa_client)) -> Response:
    """The media files of the newest version, which ODK Collect downloads with the form."""
    from citizendata.ingest.openrosa import manifest_xml

    here = (f"{base_url(request)}/openrosa/{quote(slug, safe='')}/forms/"
            f"{quote(form_id, safe='')}/attachments")
    files = [(a.name, a.md5, f"{here}/{quote(a.name, safe='')}")
             for a in client.form_attachments(slug, form_id)]
    return Response(manifest_xml(files), media_type=_XML, headers=_headers())


@router.get("/{slug}/forms/{form_id}/attachments/{name}", response_class=Response,
            summary="One form attachment", responses={200: {"content": {
                "application/octet-stream": {"schema": {"type": "string",
                                                        "format": "binary"}}}}})
def attachment(slug: str, form_id: str, name: str,
               client: Client = Depends(openrosa_client)) -> Response:
    """A file named in the manifest, as uploaded with the form."""
    info, data = client.form_attachment(slug, form_id, name)
    return Response(data, media_type=info.content_type, headers=_headers(
        {"Content-Disposition": f"attachment; filename*=UTF-8''{quote(info.name, safe='')}"}))


@router.head("/{slug}/submission", status_code=204, response_class=Response,
             summary="OpenRosa submission pre-flight")
def submission_head(slug: str, request: Request,
                    client: Client = Depends(openrosa_client)) -> Response:
    """204 with the largest request the server accepts (checks the credentials too)."""
    client.project(slug)
    limit = str(get_settings(request).max_request_bytes)
    return Response(status_code=204,
                    headers=_headers({"X-OpenRosa-Accept-Content-Length": limit}))


async def multipart_submission(request: Request) -> tuple[bytes, list[StoredAttachment]]:
    """The instance XML and media of a multipart submission (OpenRosa, web forms, public
    links); 415 for any other content type."""
    ctype = request.headers.get("content-type", "")
    if not ctype.lower().startswith("multipart/form-data"):
        raise UnsupportedMediaType(
            "intake.unsupported_media_type",
            f"Send the submission as multipart/form-data with a '{XML_PART}' part "
            f"(got {ctype or 'none'!r}).")
    return await _parts(request)


async def _parts(request: Request) -> tuple[bytes, list[StoredAttachment]]:
    form = await request.form()
    try:
        xml_part = form.get(XML_PART)
        if not isinstance(xml_part, UploadFile):
            raise BadInput("intake.invalid_xml",
                           f"The request has no '{XML_PART}' file part.",
                           fix=f"Send the instance XML as the multipart file part '{XML_PART}'.")
        xml = await xml_part.read()
        media: dict[str, StoredAttachment] = {}
        for key, value in form.multi_items():
            if key == XML_PART or not isinstance(value, UploadFile):
                continue
            name = value.filename or key
            # one attachment per name (ODK sends each media file once per name)
            media.setdefault(name, StoredAttachment(
                name, value.content_type or "application/octet-stream", await value.read()))
        return xml, list(media.values())
    finally:
        await form.close()


@router.post("/{slug}/submission", response_class=Response, status_code=201,
             summary="OpenRosa submission (multipart, from ODK Collect or Enketo)",
             responses=_SUBMITTED_DOC, openapi_extra=SUBMISSION_BODY)
async def submission(slug: str, request: Request,
                     client: Client = Depends(openrosa_client)) -> Response:
    """Store one filled form and its media; identical resends are accepted without change."""
    from citizendata.ingest.openrosa import response_xml

    xml, media = await multipart_submission(request)
    result: IntakeResult = await run_in_threadpool(client.submit_instance, slug, xml, media)
    if result.created:
        return Response(response_xml("Form received: thank you.", nature="submit_success"),
                        status_code=201, media_type=_XML, headers=_headers())
    return Response(
        response_xml("Duplicate accepted: this form was already received, nothing changed.",
                     nature="submit_success"),
        status_code=202, media_type=_XML, headers=_headers())
