"""Quality endpoints under /api/v1: the record, its HTML section, attestations, the decision.

Every call goes through the library Client, which checks the caller's role.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, ConfigDict

from citizendata.server.deps import api_client
from citizendata.server.params import IsoDate
from citizendata.workspace import Client

__all__ = ["router"]

router = APIRouter(prefix="/api/v1/projects/{slug}/quality", tags=["quality"])


class AttestationIn(BaseModel):
    """A named statement on a dimension or gateway criterion."""

    model_config = ConfigDict(extra="forbid")
    subject: str
    rating: str
    statement: str
    form: str | None = None
    indicator: str | None = None
    on: IsoDate | None = None


class DecisionIn(BaseModel):
    """The NSO's confirmation or override of the recommendation."""

    model_config = ConfigDict(extra="forbid")
    decision: str
    reason: str = ""
    form: str | None = None
    indicator: str | None = None


@router.get("", summary="The quality record")
def get_quality(slug: str, form: str | None = None, indicator: str | None = None,
                client: Client = Depends(api_client)) -> dict[str, Any]:
    """Engagement record, gateway, scorecard, recommendation and decisions."""
    return client.quality(slug, form, indicator)


@router.get("/statement.html", summary="The quality statement as an HTML section",
            response_class=HTMLResponse)
def get_statement(slug: str, form: str | None = None, indicator: str | None = None,
                  client: Client = Depends(api_client)) -> HTMLResponse:
    """Self-contained: no external assets."""
    return HTMLResponse(client.quality_html(slug, form, indicator))


@router.post("/attestations", summary="Attest a dimension or gateway criterion",
             status_code=201)
def post_attestation(slug: str, body: AttestationIn,
                     client: Client = Depends(api_client)) -> dict[str, Any]:
    """Owners, managers and the NSO; dated and in the audit log."""
    return client.attest(slug, body.subject, body.rating, body.statement, form_id=body.form,
                         indicator=body.indicator, on=body.on)


@router.post("/decision", summary="Confirm or override the fitness recommendation",
             status_code=201)
def post_decision(slug: str, body: DecisionIn,
                  client: Client = Depends(api_client)) -> dict[str, Any]:
    """The NSO role only; an override needs a reason."""
    return client.decide_fitness(slug, body.decision, reason=body.reason, form_id=body.form,
                                 indicator=body.indicator)
