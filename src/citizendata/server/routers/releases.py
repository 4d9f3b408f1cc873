"""Release endpoints for members under /api/v1: build, list, sign off, publish, withdraw.

Every call goes through the library Client, which checks the caller's role; the
public, unauthenticated surface is in routers/public.py.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict

from citizendata.server.deps import api_client
from citizendata.workspace import Client

__all__ = ["router"]

router = APIRouter(prefix="/api/v1/projects/{slug}/releases", tags=["releases"])


class BuildIn(BaseModel):
    """When the release is as of (default today)."""

    model_config = ConfigDict(extra="forbid")
    as_of: date | None = None


class SignIn(BaseModel):
    """A signatory's decision."""

    model_config = ConfigDict(extra="forbid")
    decision: str = "approve"
    note: str = ""


class WithdrawIn(BaseModel):
    """Why a release is withdrawn."""

    model_config = ConfigDict(extra="forbid")
    reason: str


@router.get("", summary="The project's releases and their sign-offs")
def list_releases(slug: str, client: Client = Depends(api_client)) -> dict[str, Any]:
    """Newest first."""
    return {"releases": client.releases(slug)}


@router.post("", summary="Build the next release", status_code=201)
def build(slug: str, body: BuildIn, client: Client = Depends(api_client)) -> dict[str, Any]:
    """Owners and managers; the release then awaits sign-off."""
    return client.build_release(slug, as_of=body.as_of)


@router.post("/{version}/signoffs", summary="Approve or refuse a release", status_code=201)
def sign(slug: str, version: int, body: SignIn,
         client: Client = Depends(api_client)) -> dict[str, Any]:
    """Designated community representatives and the NSO."""
    return client.sign_release(slug, version, body.decision, body.note)


@router.post("/{version}/publish", summary="Publish a signed-off release")
def publish(slug: str, version: int, client: Client = Depends(api_client)) -> dict[str, Any]:
    """Refused without every sign-off, or after a consent withdrawal since the build."""
    return client.publish_release(slug, version)


@router.post("/{version}/withdraw", summary="Withdraw a release")
def withdraw(slug: str, version: int, body: WithdrawIn,
             client: Client = Depends(api_client)) -> dict[str, Any]:
    """Public access ends; the record stays."""
    return client.withdraw_release(slug, version, body.reason)
