"""Cases, verification, record linkage and the uncounted, under /api/v1 (JSON only).

Every call goes through the library Client, which checks the caller's role and raises
the coded errors the app's one handler turns into answers. Names appear only where the
caller's role may see personal data (the case list, the review queue); estimates and
series carry counts that passed the project's disclosure control.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field

import citizendata.server.instance_ids  # noqa: F401  (registers the {instance_id:iid} convertor)
from citizendata.server.deps import api_client
from citizendata.server.params import DbCount
from citizendata.server.routers.api import _UPLOAD_DOC, _uploaded
from citizendata.workspace import Client

__all__ = ["router"]

router = APIRouter(prefix="/api/v1/projects/{slug}", tags=["cases"])



class VerifyRequest(BaseModel):
    """A validator's decision on a case."""

    model_config = ConfigDict(extra="forbid")
    decision: str = Field(max_length=20, description="verified or not_verified")
    criteria: list[str] = Field(default_factory=list, max_length=50,
                                description="codes of the written criteria the case meets")
    evidence: str = Field("", max_length=20_000, description="what the case was checked against")
    note: str = Field("", max_length=20_000)


class PairDecision(BaseModel):
    """A clerical decision on a pair of records."""

    model_config = ConfigDict(extra="forbid")
    left_key: str = Field(min_length=3, max_length=300, description="list:record_id")
    right_key: str = Field(min_length=3, max_length=300, description="list:record_id")
    decision: str = Field(max_length=20, description="match, non_match or unsure")
    note: str = Field("", max_length=20_000)


@router.post("/cases/lists/{list_name}/import", openapi_extra=_UPLOAD_DOC, status_code=201,
             summary="Import an organisation's list of cases (CSV/XLSX in its own layout)")
async def import_list(slug: str, list_name: str, request: Request,
                      encoding: str | None = Query(None, max_length=40,
                                                   description="the CSV's text encoding"),
                      client: Client = Depends(api_client)) -> JSONResponse:
    """Map the file by the list's columns and date format and store each record as a case,
    all or nothing; the same file again changes nothing (200), a changed record is 409."""
    data, filename = await _uploaded(request, "list's CSV or XLSX file")
    got = await run_in_threadpool(partial(client.import_case_list, encoding=encoding,
                                          filename=filename), slug, list_name, data)
    return JSONResponse(got, status_code=201 if got["imported"] else 200)


@router.get("/cases", summary="Cases with their verification status")
def list_cases(slug: str, list: str | None = Query(None, max_length=40),
               status: str | None = Query(None, max_length=20,
                                          description="reported, verified or not_verified"),
               limit: int = Query(100, ge=1, le=1000), offset: DbCount = 0,
               client: Client = Depends(api_client)) -> dict[str, Any]:
    """A page of cases, oldest first; names only for roles that may see personal data."""
    return client.cases(slug, list=list, status=status, limit=limit, offset=offset)


@router.post("/cases/{instance_id:iid}/verification", status_code=201,
             summary="Verify a case (or not) against the written criteria")
def verify_case(slug: str, instance_id: str, body: VerifyRequest,
                client: Client = Depends(api_client)) -> dict[str, Any]:
    """Record a validator's decision; answers the case's status and history."""
    return client.verify_case(slug, instance_id, body.decision, criteria=body.criteria,
                              evidence=body.evidence, note=body.note)


@router.get("/cases/{instance_id:iid}/verification", summary="A case's status and history")
def case_verification(slug: str, instance_id: str,
                      client: Client = Depends(api_client)) -> dict[str, Any]:
    """The current status (the latest decision) and every decision, oldest first."""
    return client.case_verification(slug, instance_id)


@router.post("/linkage/link", summary="Link the case records into victims")
def link(slug: str, client: Client = Depends(api_client)) -> dict[str, Any]:
    """Records, pairs, clusters at the threshold, the review queue's size, the model."""
    return client.link_cases(slug)


@router.get("/linkage/review", summary="Pairs awaiting a clerical decision")
def review_queue(slug: str, limit: int = Query(20, ge=1, le=500),
                 client: Client = Depends(api_client)) -> dict[str, Any]:
    """The most uncertain pairs first, both records side by side."""
    return client.link_review_queue(slug, limit=limit)


@router.post("/linkage/decisions", status_code=201, summary="Decide a pair of records")
def decide_pair(slug: str, body: PairDecision,
                client: Client = Depends(api_client)) -> dict[str, Any]:
    """match, non_match or unsure; the latest decision on a pair counts."""
    return client.decide_link(slug, body.left_key, body.right_key, body.decision,
                              note=body.note)


@router.get("/linkage/decisions", summary="Every clerical decision")
def decisions(slug: str, client: Client = Depends(api_client)) -> list[dict[str, Any]]:
    """Oldest first: the pair, the decision, who, when and the note."""
    return client.link_decisions(slug)


@router.post("/cases/estimates/{indicator}", summary="Estimate the uncounted")
def estimate(slug: str, indicator: str,
             client: Client = Depends(api_client)) -> dict[str, Any]:
    """The documented count and the multiple systems estimate with its interval, per
    stratum and recombined, the models, and the sensitivity to the linkage threshold."""
    return client.estimate_uncounted(slug, indicator)


@router.get("/cases/series.csv", summary="The estimated SDG series as SDMX-CSV",
            response_class=Response)
def series(slug: str, kind: str = Query("estimated", max_length=20,
                                       description="estimated (NATURE M, bounds) or "
                                                   "documented (NATURE C)"),
           client: Client = Depends(api_client)) -> Response:
    """VC_VAW_MTUHRA and VC_VOC_ENFDIS rows of one kind: an SDMX key holds one observation,
    so the documented counts and the estimates are two data sets."""
    from citizendata.publish.mse_series import series_csv

    return Response(series_csv(client.mse_series(slug), kind),
                    media_type="text/csv; charset=utf-8")
