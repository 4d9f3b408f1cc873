"""The OData v4 feed of each form, in ODK Central's URL layout, for Excel, Power BI and
R's ruODK: ``…/forms/{form}.svc`` (service document), ``….svc/$metadata`` (EDMX) and
``….svc/Submissions`` or ``….svc/Submissions.<repeat>`` (rows, streamed).

Authenticates with an API token (Bearer), HTTP Basic (a user name and password, counted
by the log-in throttle) or the session cookie. A thin layer over the Client."""

from __future__ import annotations

import re
from functools import partial
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response, StreamingResponse

from citizendata.server.deps import odata_client
from citizendata.server.routers.openrosa import base_url
from citizendata.workspace import Client

__all__ = ["router"]

router = APIRouter(prefix="/api/v1/projects/{slug}/forms", tags=["odata"])
_JSON = "application/json; odata.metadata=minimal; charset=utf-8"
_HEADERS = {"OData-Version": "4.0"}
_MAXPAGE = re.compile(r"odata\.maxpagesize\s*=\s*(\d{1,9})", re.IGNORECASE)


def _root(request: Request, slug: str, form_id: str) -> str:
    return f"{base_url(request)}{request.scope.get('root_path', '')}" \
           f"/api/v1/projects/{slug}/forms/{form_id}.svc"


@router.get("/{form_id}.svc", summary="OData service document of a form")
def service_document(slug: str, form_id: str, request: Request,
                     client: Client = Depends(odata_client)) -> Response:
    """The entity sets: Submissions and one per repeat group."""
    doc = client.odata_model(slug, form_id).service_document(_root(request, slug, form_id))
    return JSONResponse(doc, media_type=_JSON, headers=_HEADERS)


@router.get("/{form_id}.svc/$metadata", response_class=Response,
            summary="OData metadata document (EDMX) of a form",
            responses={200: {"content": {"application/xml": {}}}})
def metadata(slug: str, form_id: str, client: Client = Depends(odata_client)) -> Response:
    """Entity types per table, groups as complex types; personal fields only for roles
    that may see them."""
    xml = client.odata_model(slug, form_id).metadata_xml()
    return Response(xml, media_type="application/xml; charset=utf-8", headers=_HEADERS)


@router.get("/{form_id}.svc/{table}", summary="OData rows: Submissions or a repeat's table",
            responses={200: {"content": {"application/json": {}}}})
async def entity_set(slug: str, form_id: str, table: str, request: Request,
                     client: Client = Depends(odata_client)) -> Response:
    """Rows streamed as they are read; $top, $skip, $count, $select, $skiptoken and a
    $filter on __system/submissionDate or __system/reviewState."""
    params: dict[str, Any] = dict(request.query_params)
    page = _max_page_size(request.headers.get("prefer", ""))
    pieces = await run_in_threadpool(partial(client.odata_stream, service_root=_root(
        request, slug, form_id), page_size=page), slug, form_id, table, params)
    headers = dict(_HEADERS)
    if page:
        headers["Preference-Applied"] = f"odata.maxpagesize={page}"
    return StreamingResponse((p.encode() for p in pieces), media_type=_JSON, headers=headers)


def _max_page_size(prefer: str) -> int | None:
    """The client's ``Prefer: odata.maxpagesize=N`` (OData 4.0 §8.2.8.3), if any."""
    m = _MAXPAGE.search(prefer)
    return max(1, min(int(m.group(1)), 1_000_000)) if m else None
