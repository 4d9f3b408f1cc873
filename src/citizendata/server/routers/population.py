"""Population by small area and census undercount, under /api/v1 (JSON and CSV).

Every call goes through the library Client, which checks the caller's role (reading
estimates needs ``data.export``: analysts, owners; everyone else is refused) and raises
the coded errors the app's one handler turns into answers. Names never appear: the
answer carries counts and estimates that passed the project's disclosure control.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends
from fastapi.responses import Response

from citizendata.server.deps import api_client
from citizendata.workspace import Client

__all__ = ["router"]

router = APIRouter(prefix="/api/v1/projects/{slug}", tags=["population"])


@router.get("/population", summary="Population and census undercount by area")
def population(slug: str, client: Client = Depends(api_client)) -> dict[str, Any]:
    """Estimates with intervals and the implied census undercount by area, by each larger
    area of the project's ``population.levels`` and in total, the census coverage by
    post-stratum, the model's notes and assumptions, and what disclosure control hid."""
    return client.population_estimates(slug)


@router.get("/population.csv", summary="Population estimates as one CSV table",
            response_class=Response,
            responses={200: {"content": {"text/csv": {}}, "description": "the table"}})
def population_csv(slug: str, client: Client = Depends(api_client)) -> Response:
    """The same estimates as one flat table: level, code, census, estimate, lower, upper,
    undercount with its bounds, conf_status."""
    return Response(client.population_table(slug).to_csv(index=False, lineterminator="\n"),
                    media_type="text/csv; charset=utf-8")
