"""The public surface: published releases, readable by anyone, and nothing else.

No credentials are asked or used. Only a release whose status is published is
listed or served, and only the files its manifest names.
"""

from __future__ import annotations

import mimetypes
from html import escape
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends
from fastapi.responses import FileResponse, HTMLResponse

from citizendata.errors import NotFound
from citizendata.server.deps import get_workspace
from citizendata.services import releases as releases_svc
from citizendata.workspace import Workspace

__all__ = ["router"]

router = APIRouter(tags=["public"])


@router.get("/api/v1/public/releases", summary="Published releases (no login)")
def list_published(ws: Workspace = Depends(get_workspace)) -> dict[str, Any]:
    """Every published release of every project, with its files."""
    return {"releases": ws.run(releases_svc.published, write=False)}


@router.get("/public/releases", response_class=HTMLResponse, summary="Published releases page")
def published_page(ws: Workspace = Depends(get_workspace)) -> HTMLResponse:
    """A plain page listing published releases and their files (no external assets)."""
    rows = ws.run(releases_svc.published, write=False)
    items = "".join(
        f"<li><strong>{escape(r['name'])}</strong> v{r['version']} — "
        f"<a href=\"/public/releases/{escape(r['project'])}/{r['version']}/report.html\">"
        "report</a> · " + " · ".join(
            f"<a href=\"/public/releases/{escape(r['project'])}/{r['version']}/{escape(f)}\">"
            f"{escape(f)}</a>" for f in r["files"] if f != "report.html") + "</li>"
        for r in rows)
    body = (f"<ul>{items}</ul>" if rows else "<p>No release has been published yet.</p>")
    return HTMLResponse(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
        "<title>Published releases</title><style>body{font-family:system-ui,sans-serif;"
        "max-width:60rem;margin:1rem auto;padding:0 1rem;line-height:1.5}</style></head>"
        f"<body><h1>Published releases</h1>{body}</body></html>")


@router.get("/public/releases/{slug}/{version}/{name:path}", summary="A published file")
def published_file(slug: str, version: int, name: str,
                   ws: Workspace = Depends(get_workspace)) -> FileResponse:
    """One file of a published release; 404 for anything unpublished or unknown."""
    path = ws.run(releases_svc.public_file, slug, version, name, write=False)
    if path is None or not Path(path).is_file():
        raise NotFound("release.not_found", "no such published file")
    kind = mimetypes.guess_type(name)[0] or "application/octet-stream"
    return FileResponse(path, media_type=kind)
