"""The public surface: published releases, readable by anyone, and nothing else.

No credentials are asked or used. Only a release whose status is published is
listed or served, and only the files its manifest names; a release withdrawn after
publication shows a notice saying when and why. The landing page (``/``) lists the
published releases and the initiatives behind them. A report is served under its own
Content-Security-Policy (the hashes of its inline blocks, see server/report_csp.py), so
it renders exactly as the file does.
"""

from __future__ import annotations

import json
import mimetypes
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import FileResponse, HTMLResponse, Response

from citizendata.errors import NotFound
from citizendata.i18n import gettext as _
from citizendata.publish.charts import FLAG_WORDS
from citizendata.publish.summary import unit_words
from citizendata.publish.views import indicator_view, indicator_views
from citizendata.server.deps import get_workspace, optional_client
from citizendata.server.pages import render
from citizendata.server.params import DbId
from citizendata.server.report_csp import report_response
from citizendata.services import releases as releases_svc
from citizendata.workspace import Workspace

__all__ = ["router"]

router = APIRouter(tags=["public"])

# an estimates table's statistics; every other column is a dimension ("_T" is its total)
_STATS = frozenset({"value", "se", "ci_low", "ci_high", "cv", "n", "flag", "conf_status",
                    "suppression"})
_HEADLINE_MAX_BYTES = 1_000_000  # read an indicator's estimates.json for its total only if small
_FORMATS = {".csv": "CSV", ".parquet": "Parquet", ".json": "JSON", ".xml": "SDMX-ML",
            ".html": "HTML", ".geojson": "GeoJSON"}


@router.get("/api/v1/public/releases", summary="Published releases (no login)")
def list_published(ws: Workspace = Depends(get_workspace)) -> dict[str, Any]:
    """Every published release of every project, with its files."""
    return {"releases": ws.run(releases_svc.published, write=False)}


def _initiatives(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Published releases by project: each initiative with its releases, newest first."""
    out: dict[str, dict[str, Any]] = {}
    for r in rows:
        entry = out.setdefault(r["project"], {"project": r["project"], "name": r["name"],
                                              "initiative": r.get("initiative") or "",
                                              "releases": []})
        entry["releases"].append(r)
    return sorted(out.values(), key=lambda e: str(e["name"]).lower())


@router.get("/", include_in_schema=False)
def home(request: Request, ws: Workspace = Depends(get_workspace)) -> Response:
    """The public landing page: published releases and the initiatives behind them; a
    logged-in visitor also gets a link to their projects."""
    client = optional_client(request)
    rows = ws.run(releases_svc.published, write=False)
    return render(request, "public_home.html", client, initiatives=_initiatives(rows),
                  count=len(rows))


@router.get("/public/releases", response_class=HTMLResponse, summary="Published releases page")
def published_page(request: Request, ws: Workspace = Depends(get_workspace)) -> Response:
    """A plain page listing published releases, each with its page and report."""
    rows = ws.run(releases_svc.published, write=False)
    return render(request, "public_releases.html", None, releases=rows)


def _not_found() -> NotFound:
    return NotFound("release.not_found", _("No such published release."))


def _withdrawn_notice(request: Request, ws: Workspace, slug: str, version: int) -> Response | None:
    """The notice page of a release withdrawn after publication (410 Gone), else None."""
    known = ws.run(releases_svc.public_release, slug, version, write=False)
    if known is None or known["status"] != "withdrawn":
        return None
    return render(request, "public_withdrawn.html", None, status=410, release=known)


def _public_path(ws: Workspace, slug: str, version: int, name: str) -> Path | None:
    stored = ws.run(releases_svc.public_file, slug, version, name, write=False)
    if stored is None:
        return None
    path = releases_svc.locate(ws.settings.workspace, stored, name)
    return path if path is not None and path.is_file() else None


def _size(n: int | None) -> str:
    if n is None:
        return "—"
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n} B"


def _headlines(ws: Workspace, slug: str, version: int,
               manifest: dict[str, Any]) -> list[dict[str, Any]]:
    """Each indicator's name, unit and year, and its overall estimate when cheaply at hand."""
    files = manifest.get("files", {})
    out = []
    for ind_id, ind in (manifest.get("release", {}).get("indicators") or {}).items():
        row: dict[str, Any] = {"id": ind_id, "name": ind.get("name") or ind_id,
                               "unit": unit_words(ind.get("unit") or ""),
                               "unit_code": ind.get("unit") or "", "year": ind.get("year"),
                               "series": ind.get("series") or "", "total": None,
                               "flag_words": ""}
        name = f"{ind_id}/estimates.json"
        entry = files.get(name) or {}
        path = _public_path(ws, slug, version, name) if entry else None
        if path is not None and int(entry.get("bytes") or 0) <= _HEADLINE_MAX_BYTES:
            try:
                cells = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                cells = []
            for cell in cells if isinstance(cells, list) else []:
                if isinstance(cell, dict) and all(v == "_T" for k, v in cell.items()
                                                  if k not in _STATS):
                    row["total"] = cell
                    flag = str(cell.get("flag") or "")
                    row["flag_words"] = _(FLAG_WORDS[flag]) if flag in FLAG_WORDS else ""
                    break
        out.append(row)
    return out


def _groups(manifest: dict[str, Any], size_of_manifest: int) -> list[dict[str, Any]]:
    """The release's files by kind: report, SDMX, each indicator, boundaries, metadata."""
    files: dict[str, dict[str, Any]] = manifest.get("files", {})
    indicators: dict[str, Any] = manifest.get("release", {}).get("indicators") or {}
    groups: dict[str, dict[str, Any]] = {"report": {"title": _("Report"), "files": []},
                                         "sdmx": {"title": _("SDMX (SDG data exchange)"),
                                                  "files": []}}
    for ind_id, ind in indicators.items():
        groups[f"ind:{ind_id}"] = {"title": f"{ind.get('name') or ind_id} — CSV, Parquet, JSON",
                                   "files": []}
    groups.update({"boundaries": {"title": _("Boundaries"), "files": []},
                   "metadata": {"title": _("Metadata"), "files": []},
                   "other": {"title": _("Other files"), "files": []}})
    for name in sorted(files):
        head = name.split("/", 1)[0] if "/" in name else ""
        if name == "report.html":
            key = "report"
        elif head in ("sdmx", "boundaries"):
            key = head
        elif head and f"ind:{head}" in groups:
            key = f"ind:{head}"
        elif not head and name.endswith(".json"):
            key = "metadata"
        else:
            key = "other"
        groups[key]["files"].append({
            "name": name, "format": _FORMATS.get(Path(name).suffix, Path(name).suffix[1:]),
            "size": _size(files[name].get("bytes")), "sha256": files[name].get("sha256")})
    groups["metadata"]["files"].append({"name": "manifest.json", "format": "JSON",
                                        "size": _size(size_of_manifest), "sha256": None})
    return [g for g in groups.values() if g["files"]]


def _signoff_summary(row: dict[str, Any]) -> dict[str, Any] | None:
    """Counts and dates of the approvals, never who gave them (None when not listed)."""
    signoffs = row.get("signoffs")
    if not isinstance(signoffs, list):
        return None
    approved = [s for s in signoffs if s.get("decision") == "approve"]
    community = [s for s in approved if s.get("capacity") == "community"]
    nso = [s for s in approved if s.get("capacity") == "nso"]
    return {"community": len(community),
            "community_dates": sorted({str(s.get("at") or "")[:10] for s in community}),
            "nso": bool(nso), "nso_dates": sorted({str(s.get("at") or "")[:10] for s in nso})}


@router.get("/public/releases/{slug}/{version}", response_class=HTMLResponse,
            summary="A published release's page")
def published_release_page(slug: str, version: DbId, request: Request,
                           ws: Workspace = Depends(get_workspace)) -> Response:
    """A published release: what it is, its headline figures, its sign-off and its files;
    a notice (when, why) once it is withdrawn."""
    number = version
    row = next((r for r in ws.run(releases_svc.published, write=False)
                if r["project"] == slug and r["version"] == number), None)
    manifest_path = _public_path(ws, slug, number, "manifest.json") if row else None
    if row is None or manifest_path is None:
        notice = _withdrawn_notice(request, ws, slug, number)
        if notice is not None:
            return notice
        raise _not_found()
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    release = manifest.get("release", {})
    licences = [lic.get("title") or lic.get("name") for lic in release.get("licenses") or []
                if isinstance(lic, dict)]
    views = indicator_views(manifest, _reader(ws, slug, number), charts=False)
    return render(request, "public_release.html", None, release=row,
                  as_of=release.get("as_of"), licences=[lic for lic in licences if lic],
                  headlines=_headlines(ws, slug, number, manifest),
                  suppression={v["id"]: v["suppression"] for v in views},
                  signoff=_signoff_summary(row),
                  groups=_groups(manifest, manifest_path.stat().st_size),
                  notes=release.get("notes") or [],
                  base=f"/public/releases/{slug}/{number}/")


def _reader(ws: Workspace, slug: str, version: int) -> Any:
    """Reads a published release's files by name (None for anything else)."""
    def read(name: str) -> bytes | None:
        path = _public_path(ws, slug, version, name)
        return path.read_bytes() if path is not None else None
    return read


@router.get("/public/releases/{slug}/{version}/indicators/{indicator}",
            response_class=HTMLResponse, summary="An indicator of a published release")
def published_indicator_page(slug: str, version: DbId, indicator: str, request: Request,
                             ws: Workspace = Depends(get_workspace)) -> Response:
    """One indicator: its figures with their intervals, the chart and map, what was
    suppressed and why."""
    manifest_path = _public_path(ws, slug, version, "manifest.json")
    if manifest_path is None:
        notice = _withdrawn_notice(request, ws, slug, version)
        if notice is not None:
            return notice
        raise _not_found()
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    view = indicator_view(manifest, indicator, _reader(ws, slug, version))
    if view is None:
        raise NotFound("release.not_found", _("This release has no indicator %(id)s.")
                       % {"id": indicator})
    row = next((r for r in ws.run(releases_svc.published, write=False)
                if r["project"] == slug and r["version"] == version), None)
    return render(request, "public_indicator.html", None, release=row, ind=view,
                  base=f"/public/releases/{slug}/{version}/",
                  has_report="report.html" in manifest.get("files", {}))


@router.get("/public/releases/{slug}/{version}/{name:path}", summary="A published file",
            response_class=Response,
            responses={200: {"description": "The file, with the media type its name implies",
                             "content": {"*/*": {"schema": {"type": "string",
                                                            "format": "binary"}}}}})
def published_file(slug: str, version: DbId, name: str, request: Request,
                   ws: Workspace = Depends(get_workspace)) -> Response:
    """One file of a published release; 404 for anything unpublished or unknown, the
    notice for a withdrawn release's report. The report keeps its own styles."""
    path = _public_path(ws, slug, version, name)
    if path is None:
        notice = _withdrawn_notice(request, ws, slug, version) if name.endswith(".html") \
            else None
        if notice is not None:
            return notice
        raise NotFound("release.not_found", _("No such published file."))
    if name.endswith(".html"):
        return report_response(path)
    kind = mimetypes.guess_type(name)[0] or "application/octet-stream"
    return FileResponse(path, media_type=kind)
