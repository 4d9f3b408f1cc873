"""The JSON API under /api/v1: a thin layer over :class:`citizendata.workspace.Client`."""

from __future__ import annotations

from functools import partial
from typing import Any

from fastapi import APIRouter, Body, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field
from starlette.datastructures import UploadFile

import citizendata.server.instance_ids  # noqa: F401  (registers the {instance_id:iid} convertor)
from citizendata.errors import BadInput, UnsupportedMediaType, Where
from citizendata.server.deps import (
    api_client,
    client_address,
    csrf_token,
    end_session,
    get_workspace,
    start_session,
)
from citizendata.server.params import DbCount
from citizendata.server.serialize import (
    form_dict,
    member_dict,
    project_dict,
    user_dict,
    version_dict,
    xform,
)
from citizendata.services.intake import IntakeResult
from citizendata.workspace import Client

__all__ = ["router"]

# submissions up to this size are written on the event loop where writes are serial
INLINE_BYTES = 64 * 1024

router = APIRouter(prefix="/api/v1", tags=["api"])

_FORM_UPLOAD_DOC: dict[str, Any] = {
    "requestBody": {
        "content": {
            "multipart/form-data": {"schema": {"type": "object", "properties": {
                "file": {"type": "string", "format": "binary"},
                "attachment": {"type": "array",
                               "items": {"type": "string", "format": "binary"}}},
                "required": ["file"]}},
            "application/octet-stream": {"schema": {"type": "string", "format": "binary"}},
        },
        "required": True,
    }
}
_UPLOAD_DOC: dict[str, Any] = {
    "requestBody": {
        "content": {
            "multipart/form-data": {"schema": {"type": "object", "properties": {
                "file": {"type": "string", "format": "binary"}}, "required": ["file"]}},
            "application/octet-stream": {"schema": {"type": "string", "format": "binary"}},
        },
        "required": True,
    }
}
_SUBMIT_DOC: dict[str, Any] = {
    "requestBody": {
        "content": {"application/json": {"schema": {
            "description": "One submission object, an array of them, or "
                           "{\"submissions\": [...]} (at most 10,000)."}}},
        "required": True,
    }
}


class Credentials(BaseModel):
    """A user name and password."""

    username: str = Field(min_length=1, max_length=150)
    password: str = Field(min_length=1, max_length=1000)


class TokenRequest(BaseModel):
    """A name for a new API token."""

    name: str = Field(min_length=1, max_length=200)


class OrganisationRequest(BaseModel):
    """A new organisation."""

    slug: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{1,98}[a-z0-9]$")
    name: str = Field(min_length=1, max_length=300)
    kind: str = Field(default="cso", max_length=40)
    country: str | None = Field(default=None, max_length=3)


class OrgMemberRequest(BaseModel):
    """A user and their role in an organisation."""

    username: str = Field(min_length=1, max_length=150)
    role: str = Field(default="member", description="owner or member")


class MemberRequest(BaseModel):
    """A user and the role to give them."""

    username: str = Field(min_length=1, max_length=150)
    role: str = Field(min_length=1, max_length=40)


def _intake_response(result: IntakeResult) -> JSONResponse:
    # 201 when anything was stored; 200 for an all-duplicate (idempotent) resend
    return JSONResponse(result.to_dict(), status_code=201 if result.created else 200)


async def _uploaded(request: Request, what: str) -> tuple[bytes, str]:
    """The bytes and file name of an upload: a multipart 'file' part or a raw body."""
    data, filename, _ = await _uploaded_with(request, what)
    return data, filename


async def _uploaded_with(request: Request, what: str
                         ) -> tuple[bytes, str, dict[str, bytes]]:
    """Like _uploaded, with the multipart 'attachment' parts by file name."""
    ctype = request.headers.get("content-type", "").lower()
    if ctype.startswith("multipart/form-data"):
        form = await request.form()
        try:
            part = form.get("file")
            if not isinstance(part, UploadFile):
                raise BadInput("input.invalid", f"Send the {what} as the multipart part 'file'.",
                               where=Where(field="file"))
            extra: dict[str, bytes] = {}
            for key, value in form.multi_items():
                if key == "attachment" and isinstance(value, UploadFile):
                    extra[value.filename or "attachment"] = await value.read()
            return await part.read(), part.filename or "upload", extra
        finally:
            await form.close()
    filename = request.query_params.get("filename")
    if not filename:
        raise BadInput("input.invalid",
                       f"Send the {what} as multipart/form-data (part 'file'), or as the raw "
                       "body with '?filename=NAME.xlsx'.", where=Where(field="filename"))
    return await request.body(), filename, {}


# -- session and tokens --------------------------------------------------------------
@router.post("/login", summary="Log in (sets the session cookie)")
def login(creds: Credentials, request: Request) -> dict[str, Any]:
    """Check a user name and password and start a session.

    Writes carried by the session cookie must send ``csrf_token`` back in the
    X-CSRF-Token header. Failed log-ins are limited per user name and per address (429).
    """
    client = get_workspace(request).login(creds.username, creds.password,
                                          address=client_address(request))
    start_session(request, client)
    return {"user": user_dict(client.actor), "csrf_token": csrf_token(request)}


@router.post("/logout", summary="Log out (ends the session)")
def logout(request: Request) -> dict[str, Any]:
    """End the session."""
    end_session(request)
    return {"ok": True}


@router.get("/me", summary="The user making the request")
def me(request: Request, client: Client = Depends(api_client)) -> dict[str, Any]:
    """Who the credentials belong to; with a session cookie, also its CSRF token."""
    out: dict[str, Any] = {"user": user_dict(client.actor)}
    if "authorization" not in request.headers:
        out["csrf_token"] = csrf_token(request)
    return out


@router.post("/tokens", status_code=201, summary="Create an API token (shown once)")
def create_token(body: TokenRequest, client: Client = Depends(api_client)) -> dict[str, Any]:
    """A new API token for the caller; it is never shown again."""
    return {"name": body.name, "token": client.create_token(body.name)}


# -- organisations -------------------------------------------------------------------
def _org(o: Any) -> dict[str, Any]:
    return {"slug": o.slug, "name": o.name, "kind": o.kind, "country": o.country}


@router.get("/organisations", summary="Your organisations")
def list_organisations(client: Client = Depends(api_client)) -> dict[str, Any]:
    """The organisations the caller belongs to (an administrator: all)."""
    return {"organisations": [_org(o) for o in client.organisations()]}


@router.post("/organisations", status_code=201, summary="Create an organisation (admins)")
def create_organisation(body: OrganisationRequest,
                        client: Client = Depends(api_client)) -> dict[str, Any]:
    """Site administrators only."""
    return _org(client.create_organisation(body.slug, body.name, kind=body.kind,
                                           country=body.country))


@router.post("/organisations/{slug}/members", summary="Add a member to an organisation")
def add_organisation_member(slug: str, body: OrgMemberRequest,
                            client: Client = Depends(api_client)) -> dict[str, Any]:
    """Site administrators and the organisation's owners; anyone else gets 404."""
    return client.add_organisation_member(slug, body.username, body.role)


# -- projects ------------------------------------------------------------------------
@router.get("/projects", summary="Your projects")
def list_projects(client: Client = Depends(api_client)) -> dict[str, Any]:
    """The projects the caller is a member of, with their role."""
    return {"projects": [project_dict(p) for p in client.projects()]}


@router.post("/projects", status_code=201, summary="Create a project from its spec")
def create_project(spec: dict[str, Any] = Body(..., description="The project spec as JSON."),
                   client: Client = Depends(api_client)) -> dict[str, Any]:
    """Create a project; the caller becomes its owner."""
    return project_dict(client.create_project(spec))


@router.get("/projects/{slug}", summary="One project and its engagement record")
def get_project(slug: str, client: Client = Depends(api_client)) -> dict[str, Any]:
    """A project the caller is a member of."""
    out = project_dict(client.project(slug))
    out["engagement"] = client.engagement(slug)
    return out


@router.get("/projects/{slug}/members", summary="The project's members")
def list_members(slug: str, client: Client = Depends(api_client)) -> dict[str, Any]:
    """The members and their roles."""
    return {"members": [member_dict(m) for m in client.members(slug)]}


@router.post("/projects/{slug}/members", summary="Give a user a role in the project")
def add_member(slug: str, body: MemberRequest,
               client: Client = Depends(api_client)) -> dict[str, Any]:
    """Add a member or change their role."""
    return member_dict(client.add_member(slug, body.username, body.role))


@router.get("/projects/{slug}/audit", summary="The project's audit log")
def audit_log(slug: str, limit: int = Query(200, ge=1, le=10_000),
              client: Client = Depends(api_client)) -> dict[str, Any]:
    """Audit events, newest first (owners and managers)."""
    return {"events": client.audit_log(slug, limit=limit)}


# -- forms ---------------------------------------------------------------------------
@router.get("/projects/{slug}/forms", summary="The project's forms")
def list_forms(slug: str, client: Client = Depends(api_client)) -> dict[str, Any]:
    """Forms with their versions and submission counts."""
    return {"forms": [form_dict(f) for f in client.forms(slug)]}


@router.post("/projects/{slug}/forms", status_code=201, openapi_extra=_FORM_UPLOAD_DOC,
             summary="Upload an XLSForm (a new form or a new version)")
async def add_form(slug: str, request: Request,
                   client: Client = Depends(api_client)) -> dict[str, Any]:
    """Upload an XLSForm as multipart part 'file' (with its form attachments, e.g. the CSV
    of a select_one_from_file question, as parts 'attachment'), or as the raw body with
    ?filename=."""
    data, filename, attachments = await _uploaded_with(request, "XLSForm")
    fv = await run_in_threadpool(lambda: client.add_form(slug, data, filename,
                                                         attachments=attachments))
    return version_dict(fv)


@router.get("/projects/{slug}/forms/{form_id}", summary="One form and its versions")
def get_form(slug: str, form_id: str, client: Client = Depends(api_client)) -> dict[str, Any]:
    """A form with every version, oldest first."""
    out = form_dict(client.form(slug, form_id))
    out["version_details"] = [version_dict(v) for v in client.form_versions(slug, form_id)]
    return out


@router.get("/projects/{slug}/forms/{form_id}/versions/{version}/xform",
            response_class=Response, summary="A form version's XForm XML",
            responses={200: {"content": {"text/xml": {}}}})
def get_xform(slug: str, form_id: str, version: str,
              client: Client = Depends(api_client)) -> Response:
    """The XForm XML of one version, as ODK Collect and Enketo read it."""
    _, xml = xform(client, slug, form_id, version)
    return Response(xml, media_type="text/xml; charset=utf-8")


# -- submissions ---------------------------------------------------------------------
def _is_json(content_type: str) -> bool:
    mime = content_type.split(";", 1)[0].strip().lower()
    return mime == "application/json" or (mime.startswith("application/") and
                                          mime.endswith("+json"))


@router.post("/projects/{slug}/forms/{form_id}/submissions", status_code=201,
             openapi_extra=_SUBMIT_DOC,
             summary="Submit one submission or a batch (JSON)")
async def submit(slug: str, form_id: str, request: Request,
                 client: Client = Depends(api_client)) -> JSONResponse:
    """Store submissions; a resend of the same content is answered 200 with the same ids."""
    ctype = request.headers.get("content-type", "")
    if not _is_json(ctype):
        raise UnsupportedMediaType(
            "intake.unsupported_media_type",
            f"Send submissions as 'Content-Type: application/json' (got {ctype or 'none'!r}).")
    body = await request.body()
    # raw bytes: the library reports invalid JSON with its line and column
    result = None
    if client.workspace.single_writer and len(body) <= INLINE_BYTES:
        # SQLite runs one write at a time anyway: a small one is cheaper here on the event
        # loop than through a worker thread; if a writer is busy, it waits in the pool
        result = client.try_submit(slug, form_id, body)
    if result is None:
        result = await run_in_threadpool(client.submit, slug, form_id, body)
    return _intake_response(result)


@router.get("/projects/{slug}/forms/{form_id}/submissions", summary="A page of submissions")
def list_submissions(slug: str, form_id: str, limit: int = Query(100, ge=1, le=1000),
                     offset: DbCount = 0, review_status: str | None = None,
                     client: Client = Depends(api_client)) -> dict[str, Any]:
    """Submissions newest first; personal fields withheld for roles without the right."""
    total, rows = client.submissions(slug, form_id, limit=limit, offset=offset,
                                     review_status=review_status)
    return {"total": total, "limit": limit, "offset": offset, "submissions": rows}


@router.get("/projects/{slug}/forms/{form_id}/submissions/{instance_id:iid}",
            summary="One submission")
def get_submission(slug: str, form_id: str, instance_id: str,
                   client: Client = Depends(api_client)) -> dict[str, Any]:
    """One submission by its instance id."""
    return client.submission(slug, form_id, instance_id)


@router.post("/projects/{slug}/forms/{form_id}/import", openapi_extra=_UPLOAD_DOC,
             status_code=201, summary="Import a CSV or XLSX export (all or nothing)")
async def import_file(slug: str, form_id: str, request: Request,
                      encoding: str | None = Query(
                          None, max_length=40,
                          description="The CSV's text encoding (e.g. cp1252, utf-16-le); "
                                      "without it, only UTF-8 and UTF-16 with a byte order "
                                      "mark are read"),
                      version_map: list[str] = Query(
                          [], max_length=100,
                          description="KOBO_VERSION_ID=FORM_VERSION, repeatable: the form "
                                      "version of rows with that KoboToolbox __version__; "
                                      "without it, versions are matched by content"),
                      client: Client = Depends(api_client)) -> JSONResponse:
    """Import a KoboToolbox, ODK Central or plain CSV/XLSX file, or ODK Central's zip."""
    from citizendata.ingest.exports import parse_version_map

    mapping = parse_version_map(version_map)
    data, filename = await _uploaded(request, "CSV, XLSX or zip file")
    result = await run_in_threadpool(partial(client.import_file, encoding=encoding,
                                             version_map=mapping), slug, form_id, data, filename)
    return _intake_response(result)
