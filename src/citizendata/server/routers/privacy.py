"""Protection endpoints under /api/v1: the policy, consent withdrawals and the privacy budget.

Every call goes through the library Client, which checks the caller's role.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict, Field

import citizendata.server.instance_ids  # noqa: F401  (registers the {instance_id:iid} convertor)
from citizendata.server.deps import api_client
from citizendata.workspace import Client

__all__ = ["router"]

router = APIRouter(prefix="/api/v1/projects/{slug}", tags=["protection"])


class Withdrawal(BaseModel):
    """A respondent's request to withdraw consent."""

    model_config = ConfigDict(extra="forbid")
    scopes: list[str] = Field(default_factory=lambda: ["all"])
    basis: str = "respondent_request"
    erase: bool = False


@router.get("/protection", summary="The project's protection policy")
def get_policy(slug: str, client: Client = Depends(api_client)) -> dict[str, Any]:
    """Threshold, secondary suppression, k-anonymity, differential privacy, location, consent."""
    return client.protection_policy(slug).model_dump(mode="json")


@router.post("/forms/{form_id}/submissions/{instance_id:iid}/consent-withdrawal",
             summary="Withdraw a respondent's consent", status_code=201)
def withdraw(slug: str, form_id: str, instance_id: str, body: Withdrawal,
             client: Client = Depends(api_client)) -> dict[str, Any]:
    """Later snapshots, estimates and releases leave the submission out; logged."""
    return client.withdraw_consent(slug, form_id, instance_id, scopes=body.scopes,
                                   basis=body.basis, erase=body.erase)


@router.get("/consent-withdrawals", summary="Recorded consent withdrawals")
def list_withdrawals(slug: str, form: str | None = None,
                     client: Client = Depends(api_client)) -> dict[str, Any]:
    """Newest first (owners and managers)."""
    return {"withdrawals": client.consent_withdrawals(slug, form)}


@router.get("/privacy-budget", summary="The differential-privacy budget and its ledger")
def get_budget(slug: str, client: Client = Depends(api_client)) -> dict[str, Any]:
    """ε and δ: the budget, what each release spent, what is left."""
    return client.privacy_budget(slug)


@router.get("/forms/{form_id}/microdata", summary="Public microdata of a form")
def get_microdata(slug: str, form_id: str, client: Client = Depends(api_client)
                  ) -> dict[str, Any]:
    """k-anonymous records without personal fields, places coarsened, and the report."""
    data, report = client.public_microdata(slug, form_id)
    rows = data.astype(object).where(data.notna(), None).to_dict(orient="records")
    return {"records": rows, "report": report}


@router.post("/indicators/{indicator}/dp-estimate", summary="A differentially private table",
             status_code=201)
def dp_estimate(slug: str, indicator: str,
                label: str = Query(..., min_length=1, max_length=200,
                                   description="what the spend is for, e.g. 'release v2'"),
                by: str | None = Query(None, description="dimensions joined by commas"),
                epsilon: float | None = Query(None, gt=0),
                client: Client = Depends(api_client)) -> dict[str, Any]:
    """Spends ε from the project's budget (refused beyond it) and returns noisy cells."""
    dims = [d.strip() for d in by.split(",") if d.strip()] if by else None
    return client.dp_estimate(slug, indicator, label=label, by=dims, epsilon=epsilon).to_dict()
