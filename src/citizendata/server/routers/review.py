"""Review endpoints under /api/v1: decisions, comments, edits, history, exact duplicates."""

from __future__ import annotations

import dataclasses
from typing import Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

import citizendata.server.instance_ids  # noqa: F401  (registers the {instance_id:iid} convertor)
from citizendata.server.deps import api_client
from citizendata.workspace import Client

__all__ = ["router"]

router = APIRouter(prefix="/api/v1/projects/{slug}/forms/{form_id}", tags=["review"])


class Decision(BaseModel):
    """One validator's decision on one or many submissions."""

    instance_ids: list[str] = Field(min_length=1, max_length=10_000)
    status: str = Field(description="has_issues, approved or rejected")
    comment: str | None = None


class CommentIn(BaseModel):
    """A reviewer's comment."""

    comment: str


class EditIn(BaseModel):
    """Changed answers by field path, and why."""

    changes: dict[str, Any]
    reason: str


@router.post("/review", summary="Decide on submissions (bulk)")
def decide(slug: str, form_id: str, body: Decision,
           client: Client = Depends(api_client)) -> dict[str, Any]:
    """Record your decision; every validator's decision is kept."""
    n = client.decide(slug, form_id, body.instance_ids, body.status, body.comment)
    return {"decided": n, "status": body.status}


@router.post("/submissions/{instance_id:iid}/comments", status_code=201, summary="Comment")
def add_comment(slug: str, form_id: str, instance_id: str, body: CommentIn,
                client: Client = Depends(api_client)) -> dict[str, Any]:
    """Add a comment to a submission."""
    client.comment(slug, form_id, instance_id, body.comment)
    return {"instance_id": instance_id}


@router.post("/submissions/{instance_id:iid}/edits", status_code=201,
             summary="Edit answers (kept as a new version)")
def add_edit(slug: str, form_id: str, instance_id: str, body: EditIn,
             client: Client = Depends(api_client)) -> dict[str, Any]:
    """Change answers; the submission as received is never changed."""
    version = client.edit(slug, form_id, instance_id, body.changes, body.reason)
    return {"instance_id": instance_id, "version": version}


@router.get("/submissions/{instance_id:iid}/history", summary="Review history")
def history(slug: str, form_id: str, instance_id: str,
            client: Client = Depends(api_client)) -> dict[str, Any]:
    """Decisions, comments and edits, oldest first."""
    entries = client.review_history(slug, form_id, instance_id)
    return {"instance_id": instance_id, "history": [
        {"at": e.at.isoformat(), "actor": e.actor, "kind": e.kind, "status": e.status,
         "comment": e.comment, "version": e.version, "diff": list(e.diff)} for e in entries]}


@router.get("/duplicates", summary="Exact duplicates (same answers, new instance ids)")
def duplicates(slug: str, form_id: str,
               client: Client = Depends(api_client)) -> dict[str, Any]:
    """Groups of submissions with identical answers."""
    return {"groups": [{"content_hash": d.content_hash, "instance_ids": list(d.instance_ids)}
                       for d in client.exact_duplicates(slug, form_id)]}


@router.post("/approve-clean", summary="Approve every submission without errors")
def approve_clean(slug: str, form_id: str, dry_run: bool = False,
                  client: Client = Depends(api_client)) -> dict[str, Any]:
    """Approve the submissions awaiting review that the latest validation run found without
    errors and in no undecided duplicate pair; ``dry_run`` only counts. 409
    (``review.not_validated``) before the form's first validation run."""
    return dataclasses.asdict(client.approve_clean(slug, form_id, dry_run=dry_run))
