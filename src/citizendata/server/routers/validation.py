"""Validation endpoints under /api/v1 (run, findings, review queue, duplicate pairs) and the
server-rendered review queue page. Every call goes through the library Client."""

from __future__ import annotations

import dataclasses
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse, Response
from pydantic import BaseModel, Field

from citizendata.errors import Forbidden
from citizendata.server.deps import api_client, csrf_ok, csrf_token
from citizendata.server.errors import templates
from citizendata.server.params import DbCount, DbId, Page
from citizendata.workspace import Client

__all__ = ["pages", "router"]

router = APIRouter(prefix="/api/v1/projects/{slug}/forms/{form_id}", tags=["validation"])
pages = APIRouter(include_in_schema=False)
QUEUE_STATUSES = ("has_issues", "received", "edited")
PAGE_SIZE = 50


class PairDecision(BaseModel):
    """A reviewer's decision on a duplicate pair."""

    action: str = Field(description="confirm, dismiss or merge")
    keep: str | None = Field(default=None, description="merge: the instance id to keep")


@router.post("/validate", summary="Check every submission and store the findings")
def run_validation(slug: str, form_id: str,
                   client: Client = Depends(api_client)) -> dict[str, Any]:
    """Run the form's rules, outliers and duplicate search; returns the run's summary."""
    return dataclasses.asdict(client.validate(slug, form_id))


@router.get("/findings", summary="Findings of the latest validation run")
def list_findings(slug: str, form_id: str, instance_id: str | None = None,
                  severity: str | None = None, kind: str | None = None,
                  rule: str | None = None, limit: int = Query(500, ge=1, le=10_000),
                  offset: DbCount = 0,
                  client: Client = Depends(api_client)) -> dict[str, Any]:
    """A page of findings, filtered by submission, severity, kind or rule."""
    rows, total = client.findings(slug, form_id, instance_id=instance_id, severity=severity,
                                  kind=kind, rule=rule, limit=limit, offset=offset)
    return {"total": total, "findings": rows}


@router.get("/findings/summary", summary="Findings counted per rule")
def summary(slug: str, form_id: str, client: Client = Depends(api_client)) -> dict[str, Any]:
    """Per rule: kind, severity, number of findings and of submissions."""
    return {"rules": client.findings_summary(slug, form_id)}


@router.get("/review-queue", summary="Submissions awaiting review, errors first")
def queue(slug: str, form_id: str, status: list[str] = Query(list(QUEUE_STATUSES)),
          limit: int = Query(100, ge=1, le=10_000), offset: DbCount = 0,
          client: Client = Depends(api_client)) -> dict[str, Any]:
    """The review queue with each submission's error and warning counts."""
    rows, total = client.review_queue(slug, form_id, statuses=status, limit=limit,
                                      offset=offset)
    return {"total": total, "submissions": rows}


@router.get("/duplicate-pairs", summary="Exact and probable duplicate pairs")
def pairs(slug: str, form_id: str, status: str | None = None,
          client: Client = Depends(api_client)) -> dict[str, Any]:
    """Candidate pairs with match probabilities and reviewers' decisions."""
    return {"pairs": [dataclasses.asdict(p) for p in
                      client.duplicate_pairs(slug, form_id, status=status)]}


@router.post("/duplicate-pairs/{pair_id}", summary="Confirm, dismiss or merge a pair")
def decide_pair(slug: str, form_id: str, pair_id: DbId, body: PairDecision,
                client: Client = Depends(api_client)) -> dict[str, Any]:
    """A merge keeps both submissions and rejects the one not kept."""
    return dataclasses.asdict(client.decide_pair(slug, form_id, pair_id, body.action,
                                                 keep=body.keep))


@router.get("/agreement", summary="Validator agreement (Cohen's and Fleiss' kappa)")
def agreement(slug: str, form_id: str, client: Client = Depends(api_client)) -> dict[str, Any]:
    """Kappa with standard error and 95% interval, per pair and for all validators."""
    return client.validator_agreement(slug, form_id)


@pages.get("/projects/{slug}/forms/{form_id}/review")
def review_page(slug: str, form_id: str, request: Request, page: Page = 1,
                client: Client = Depends(api_client)) -> Response:
    """The review queue: submissions awaiting review, their findings, bulk decisions."""
    rows, total = client.review_queue(slug, form_id, limit=PAGE_SIZE,
                                      offset=(page - 1) * PAGE_SIZE)
    found: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        if r["errors"] or r["warnings"]:
            found[r["instance_id"]] = client.findings(slug, form_id,
                                                      instance_id=r["instance_id"],
                                                      limit=20)[0]
    context = {"user": client.actor.username, "csrf": csrf_token(request),
               "project_slug": slug, "form_id": form_id, "rows": rows, "found": found,
               "total": total, "page": page, "pages": max(1, -(-total // PAGE_SIZE)),
               "rules": client.findings_summary(slug, form_id),
               "pairs": client.duplicate_pairs(slug, form_id, status="candidate")}
    return templates.TemplateResponse(request, "review.html", context)


@pages.post("/projects/{slug}/forms/{form_id}/review")
async def review_decide(slug: str, form_id: str, request: Request,
                        client: Client = Depends(api_client)) -> Response:
    """Apply one decision to the ticked submissions, then show the queue again."""
    form = await request.form()
    if not csrf_ok(request, form.get("csrf")):
        raise Forbidden("auth.csrf", "The page has expired; reload it and try again.")
    ids = [str(v) for v in form.getlist("instance_id")]
    if ids:
        await run_in_threadpool(client.decide, slug, form_id, ids,
                                str(form.get("status") or ""),
                                str(form.get("comment") or "") or None)
    return RedirectResponse(f"/projects/{quote(slug, safe='')}/forms/{quote(form_id, safe='')}/review",
                            status_code=303)
