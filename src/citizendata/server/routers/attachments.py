"""Submission attachments under /api/v1: a thin layer over the Client."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Depends
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

import citizendata.server.instance_ids  # noqa: F401  (registers the {instance_id:iid} convertor)
from citizendata.server.deps import api_client
from citizendata.workspace import Client

__all__ = ["router"]

router = APIRouter(prefix="/api/v1/projects/{slug}/forms/{form_id}/submissions/"
                          "{instance_id:iid}", tags=["attachments"])


@router.get("/attachments", summary="A submission's attachments (sent and missing)")
def list_attachments(slug: str, form_id: str, instance_id: str,
                     client: Client = Depends(api_client)) -> dict[str, Any]:
    """Every file the submission's media fields name, present or missing, and any other
    file it was sent with; files of personal fields only for roles that may see them."""
    listing = client.attachments(slug, form_id, instance_id)
    return {"instance_id": listing.instance_id, "withheld": listing.withheld,
            "attachments": [a.to_dict() for a in listing.attachments]}


@router.get("/attachments/{name}", response_class=Response, summary="One attachment's bytes",
            responses={200: {"content": {"application/octet-stream": {}}}})
async def get_attachment(slug: str, form_id: str, instance_id: str, name: str,
                         client: Client = Depends(api_client)) -> Response:
    """The file as the phone sent it, with its content type, as a download."""
    info, data = await run_in_threadpool(client.attachment, slug, form_id, instance_id, name)
    disposition = f"attachment; filename*=UTF-8''{quote(info.name, safe='')}"
    return Response(data, media_type=info.content_type or "application/octet-stream",
                    headers={"Content-Disposition": disposition,
                             # a stored file is never run as a page in the browser
                             "X-Content-Type-Options": "nosniff",
                             "Content-Security-Policy": "sandbox",
                             "ETag": f'"{info.sha256}"'})
