"""Set-up pages for the project's files: upload an XLSForm (with its attachments), import a
CSV/XLSX/export with every problem listed, and add reference tables and boundaries.

The project, settings and members pages are in ``setup``; these share its helpers.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse, Response
from starlette.datastructures import FormData, UploadFile

from citizendata.auth import Action
from citizendata.errors import CitizenDataError
from citizendata.i18n import gettext as _
from citizendata.server.deps import get_workspace
from citizendata.server.pages import flash
from citizendata.server.routers.setup import (
    _errors_by_field,
    _page,
    _posted,
    _project_for,
    _required,
    _text,
    _upload,
    _url,
    api_client,
    problem_rows,
    slugify,
)
from citizendata.server.serialize import form_dict
from citizendata.server.work import start_work
from citizendata.services.estimation import KINDS as REFERENCE_KINDS
from citizendata.workspace import Client

__all__ = ["router"]

router = APIRouter(include_in_schema=False)


# ---- forms ------------------------------------------------------------------------------

def _form_page(request: Request, client: Client, slug: str, *, status: int = 200,
               problems: Sequence[Mapping[str, Any]] = (), more: int = 0,
               added: Mapping[str, Any] | None = None) -> Response:
    project, role = _project_for(client, slug, Action.FORM_MANAGE)
    forms = [form_dict(f) for f in client.forms(slug)]
    return _page(request, "setup_form_new.html", client, project, role, status=status,
                 forms=forms, problems=list(problems), more=more, added=added)


@router.get("/projects/{slug}/forms/new")
def new_form_page(slug: str, request: Request, client: Client = Depends(api_client)) -> Response:
    """Upload an XLSForm (a new form or a new version), with the files it serves."""
    return _form_page(request, client, slug)


@router.post("/projects/{slug}/forms/new")
async def upload_form(slug: str, request: Request,
                      client: Client = Depends(api_client)) -> Response:
    """Add the form; on refusal, every problem with its sheet, row and column."""
    form = await _posted(request)
    try:
        return await _upload_form(slug, request, client, form)
    finally:
        await form.close()


async def _upload_form(slug: str, request: Request, client: Client, form: FormData) -> Response:
    await run_in_threadpool(_project_for, client, slug, Action.FORM_MANAGE)
    upload = _upload(form, "xlsform")
    if upload is None:
        problems = [{"field": "xlsform", "message": _("Choose an XLSForm file (.xlsx or .xls)."),
                     "fix": ""}]
        return await run_in_threadpool(lambda: _form_page(request, client, slug, status=422,
                                                          problems=problems))
    data = await upload.read()
    attachments: dict[str, bytes] = {}
    for item in form.getlist("attachments"):
        if isinstance(item, UploadFile) and item.filename:
            attachments[Path(item.filename).name] = await item.read()
    try:
        added = await run_in_threadpool(lambda: client.add_form(
            slug, data, Path(upload.filename or "form.xlsx").name,
            attachments=attachments or None))
    except CitizenDataError as err:
        if err.http_status >= 500:
            raise
        rows, more = problem_rows(err)
        status = err.http_status
        return await run_in_threadpool(lambda: _form_page(request, client, slug, status=status,
                                                          problems=rows, more=more))
    info = {"form_id": added.form_id, "version": added.version, "filename": added.filename,
            "warnings": list(added.warnings), "attachments": list(added.attachments)}
    return await run_in_threadpool(lambda: _form_page(request, client, slug, added=info))


# ---- imports ----------------------------------------------------------------------------

IMPORT_SUFFIXES = (".csv", ".xlsx", ".xls", ".zip", ".tsv", ".txt")


def _import_page(request: Request, client: Client, slug: str, form_id: str, *,
                 status: int = 200, problems: Sequence[Mapping[str, Any]] = (), more: int = 0,
                 values: Mapping[str, str] | None = None) -> Response:
    project, role = _project_for(client, slug, Action.FORM_MANAGE)
    form = form_dict(client.form(slug, form_id))
    return _page(request, "setup_import.html", client, project, role, status=status,
                 form=form, problems=list(problems), more=more, values=values or {})


@router.get("/projects/{slug}/forms/{form_id}/import")
def import_page(slug: str, form_id: str, request: Request,
                client: Client = Depends(api_client)) -> Response:
    """Upload a CSV, XLSX or a KoboToolbox / ODK Central export of the form."""
    return _import_page(request, client, slug, form_id)


def _save_upload(request: Request, slug: str, name: str, data: bytes) -> Path:
    """The upload saved in the workspace's private uploads folder (never served)."""
    root = Path(get_workspace(request).settings.workspace) / "uploads" / slugify(slug)
    root.mkdir(parents=True, exist_ok=True, mode=0o700)
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", Path(name).name)[-100:] or "upload"
    path = root / f"{secrets.token_hex(8)}-{safe}"
    path.write_bytes(data)
    path.chmod(0o600)
    return path


@router.post("/projects/{slug}/forms/{form_id}/import")
async def import_upload(slug: str, form_id: str, request: Request,
                        client: Client = Depends(api_client)) -> Response:
    """Check the file at once (every problem listed here), then import it as work."""
    form = await _posted(request)
    try:
        return await _import_upload(slug, form_id, request, client, form)
    finally:
        await form.close()


async def _import_upload(slug: str, form_id: str, request: Request, client: Client, form: FormData) -> Response:
    await run_in_threadpool(_project_for, client, slug, Action.FORM_MANAGE)
    encoding = _text(form, "encoding") or None
    values = {"encoding": encoding or ""}
    upload = _upload(form, "file")
    if upload is None or not (upload.filename or "").lower().endswith(IMPORT_SUFFIXES):
        problems = [{"field": "file", "message": _("Choose a CSV, XLSX or zip export file."),
                     "fix": ""}]
        return await run_in_threadpool(lambda: _import_page(
            request, client, slug, form_id, status=422, problems=problems, values=values))
    name = Path(upload.filename or "upload.csv").name
    data = await upload.read()
    try:
        rows = await run_in_threadpool(lambda: client.check_import(slug, form_id, data, name,
                                                                   encoding=encoding))
    except CitizenDataError as err:
        if err.http_status >= 500 or err.code == "auth.csrf":
            raise
        shown, more = problem_rows(err)
        status = err.http_status
        return await run_in_threadpool(lambda: _import_page(
            request, client, slug, form_id, status=status, problems=shown, more=more,
            values=values))
    if encoding and name.lower().endswith((".csv", ".tsv", ".txt")):
        # the import reads UTF-8: the checked text is saved as UTF-8, nothing guessed
        data = data.decode(encoding).encode("utf-8")
    path = await run_in_threadpool(_save_upload, request, slug, name, data)
    # the rows were checked above; the import itself may still find resends and conflicts
    params: dict[str, Any] = {"slug": slug, "form_id": form_id, "path": str(path)}
    del rows
    return await start_work(request, client, "import", params,
                            _url(slug, f"/forms/{quote(form_id)}/import"))


# ---- reference tables -------------------------------------------------------------------

def _reference_page(request: Request, client: Client, slug: str, *, status: int = 200,
                    errors: Mapping[str, list[str]] | None = None,
                    problems: Sequence[Mapping[str, Any]] = (), more: int = 0,
                    values: Mapping[str, str] | None = None) -> Response:
    project, role = _project_for(client, slug, Action.PROJECT_EDIT)
    return _page(request, "setup_reference.html", client, project, role, status=status,
                 tables=client.reference_tables(slug), kinds=list(REFERENCE_KINDS),
                 kind_names=reference_kind_names(), errors=errors or {},
                 problems=list(problems), more=more, values=values or {})


def reference_kind_names() -> dict[str, str]:
    """Reference table kinds in the page's language."""
    return {"margins": _("population margins (for weighting)"),
            "geography": _("geography (area codes and roll-ups)"),
            "boundaries": _("area boundaries (GeoJSON, for maps)"), "other": _("other")}


@router.get("/projects/{slug}/reference")
def reference_page(slug: str, request: Request,
                   client: Client = Depends(api_client)) -> Response:
    """The project's reference tables and the form to add one."""
    return _reference_page(request, client, slug)


@router.post("/projects/{slug}/reference")
async def add_reference(slug: str, request: Request,
                        client: Client = Depends(api_client)) -> Response:
    """Store a reference table (CSV) or boundaries (GeoJSON)."""
    form = await _posted(request)
    try:
        return await _add_reference(slug, request, client, form)
    finally:
        await form.close()


async def _add_reference(slug: str, request: Request, client: Client, form: FormData) -> Response:
    await run_in_threadpool(_project_for, client, slug, Action.PROJECT_EDIT)
    upload = _upload(form, "file")
    values = {"name": _text(form, "name"), "kind": _text(form, "kind") or "other",
              "note": _text(form, "note"), "encoding": _text(form, "encoding"),
              "replace": "1" if form.get("replace") else ""}
    if not values["name"] and upload is not None:
        values["name"] = re.sub(r"[^A-Za-z0-9_-]+", "_", Path(upload.filename or "").stem)
    try:
        if upload is None:
            raise _required("file")
        data = await upload.read()
        info = await run_in_threadpool(lambda: client.add_reference_table(
            slug, values["name"], data, kind=values["kind"], note=values["note"],
            replace=bool(values["replace"]), encoding=values["encoding"] or None))
    except CitizenDataError as err:
        if err.http_status >= 500 or err.code == "auth.csrf":
            raise
        errors = _errors_by_field(err, ("name", "kind", "file", "encoding"), default="file")
        shown, more = problem_rows(err)
        status = err.http_status
        return await run_in_threadpool(lambda: _reference_page(
            request, client, slug, status=status, errors=errors, problems=shown,
            more=more, values=values))
    flash(request, _("Reference table “%(name)s” stored: %(rows)s rows.")
          % {"name": info["name"], "rows": f"{info['rows']:,}"})
    return RedirectResponse(_url(slug, "/reference"), status_code=303)
