"""Citizen data combined with a probability survey, under /api/v1: one indicator's estimates.

Every call goes through the library Client, which checks the caller's role; the answer
is the protected table only.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query

from citizendata.server.deps import api_client
from citizendata.workspace import Client

__all__ = ["router"]

router = APIRouter(prefix="/api/v1/projects/{slug}", tags=["estimation"])


@router.post("/indicators/{indicator}/estimate-combined",
             summary="Estimate an indicator of a non-probability form with a reference survey")
def run_estimate_combined(
        slug: str, indicator: str,
        by: str | None = Query(None, max_length=200,
                               description="a domain column the declaration lists"),
        method: str | None = Query(None, max_length=40,
                                   description="some of ipw, dr, mi, nn joined by commas, or "
                                               "all; default: the declaration's"),
        purpose: str = Query("publication", max_length=40,
                             description="the use respondents' consent must cover: analysis, "
                                         "publication or nso_sharing"),
        client: Client = Depends(api_client)) -> dict[str, Any]:
    """IPW and doubly robust (Chen, Li & Wu 2020), mass imputation and nearest neighbour.

    Each row: ``method``, ``by`` (the domain, ``_T`` the whole population), ``estimate``,
    ``se``, ``ci``, ``n_A`` (citizen units), ``n_B`` (survey units), the ``assumption``
    the method needs and ``conf_status`` (C: hidden by disclosure control). With the
    diagnostics (pseudo-weights, balance, overlap), the protection report and the
    provenance (snapshot, reference table and spec hashes, code version).
    """
    return client.estimate_combined(slug, indicator, by=by, method=method,
                                    purpose=purpose).to_dict()
