"""Small area estimates under /api/v1 (JSON only): the declared entries and their results.

Every call goes through the library Client, which checks the caller's role (the same
right as estimates: ``data.export``) and raises the coded errors the app's one handler
turns into answers. The direct figures in a result are the protected ones.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query

from citizendata.server.deps import api_client
from citizendata.workspace import Client

__all__ = ["router"]

router = APIRouter(prefix="/api/v1/projects/{slug}", tags=["small areas"])


@router.get("/small-areas", summary="The project's declared small area estimates")
def list_small_areas(slug: str, client: Client = Depends(api_client)) -> dict[str, Any]:
    """Each ``small_areas`` entry of the project spec: indicator, area dimension,
    covariate table and columns, method, transformation and benchmark."""
    return {"small_areas": client.small_area_specs(slug)}


@router.get("/small-areas/{indicator}", summary="Small area (Fay–Herriot) estimates")
def get_small_areas(slug: str, indicator: str,
                    area: str | None = Query(None, max_length=100,
                                             description="the area dimension, when the "
                                             "indicator has entries for several"),
                    purpose: str | None = Query(None, max_length=40,
                                                description="the use respondents' consent must "
                                                "cover: analysis, publication or nso_sharing "
                                                "(default: the entry's)"),
                    client: Client = Depends(api_client)) -> dict[str, Any]:
    """Direct and model-based (EBLUP) estimates by area with MSE, CV, interval and
    shrinkage; each benchmark group's direct estimate; the model's coefficients and
    variance; notes on what was done (hidden areas modelled as synthetic, convergence,
    benchmarking)."""
    return client.small_area_estimates(slug, indicator, area=area, purpose=purpose)
