"""Estimation endpoints under /api/v1: reference tables, declared indicators, estimates and runs.

Every call goes through the library Client, which checks the caller's role.
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Depends, Query, Request, Response

from citizendata.server.deps import api_client
from citizendata.workspace import Client

__all__ = ["router"]

router = APIRouter(prefix="/api/v1/projects/{slug}", tags=["estimation"])
VarianceQuery = Literal["linearisation", "jk1", "jkn", "brr", "fay", "bootstrap"]


@router.get("/reference-tables", summary="The project's reference tables")
def list_reference_tables(slug: str, client: Client = Depends(api_client)) -> dict[str, Any]:
    """Name, kind, source, hash, columns and row count of each table."""
    return {"reference_tables": client.reference_tables(slug)}


@router.put("/reference-tables/{name}", summary="Store a reference table (CSV body)")
async def put_reference_table(slug: str, name: str, request: Request,
                              kind: str = Query("other", description="margins, geography or other"),
                              note: str = Query("", description="where the table comes from"),
                              replace: bool = Query(False),
                              encoding: str | None = Query(
                                  None, max_length=40,
                                  description="The CSV's text encoding (e.g. cp1252); without "
                                              "it, only UTF-8 is read"),
                              client: Client = Depends(api_client)) -> dict[str, Any]:
    """Census margins or a geography as CSV; the same content again is accepted unchanged."""
    body = await request.body()
    return client.add_reference_table(slug, name, body, kind=kind, note=note, replace=replace,
                                      encoding=encoding)


@router.get("/indicators", summary="The indicators the project declares")
def list_indicators(slug: str, client: Client = Depends(api_client)) -> dict[str, Any]:
    """Each indicator's definition, from the project spec."""
    spec = client.estimation_spec(slug)
    return {"indicators": [i.model_dump(mode="json") for i in spec.indicators],
            "derived": {k: v.model_dump(mode="json") for k, v in spec.derived.items()}}


@router.post("/indicators/{indicator}/estimate", summary="Estimate an indicator")
def run_estimate(slug: str, indicator: str,
                 by: list[str] | None = Query(None, description="a disaggregation, dimensions "
                                              "joined by commas; repeatable"),
                 variance: VarianceQuery | None = Query(None, description="linearisation, or replicate weights re-calibrated "
                         "per replicate (jk1, jkn, brr, fay, bootstrap); default: the form's "
                         "declared design's (linearisation when none is declared)"),
                 replicates: int = Query(200, ge=10, le=2000),
                 seed: int | None = Query(None, ge=0, le=2**31 - 1,
                                         description="seed of the replicates (default: the design's, else 0)"),
                 purpose: str = Query("analysis", description="the use respondents' consent "
                                      "must cover: analysis, publication or nso_sharing"),
                 client: Client = Depends(api_client)) -> dict[str, Any]:
    """Every cell's estimate, SE, CI, CV, n and flag, with weighting diagnostics and coherence.

    The API only ever answers with the protected table: suppressed cells keep their
    row, with their values blanked and ``conf_status`` C (D for secondary cells only
    where the policy publishes them apart). Roles that may see unprotected figures also
    get ``protection_detail`` (primary and secondary cells, information lost).
    ``provenance`` says which design and variance assumption the figures rest on, and
    every row carries the design's degrees of freedom (``df``).
    """
    dis = [[d.strip() for d in b.split(",") if d.strip()] for b in by] if by else None
    result = client.estimate(slug, indicator, disaggregations=dis, variance=variance,
                             replicates=replicates, seed=seed, purpose=purpose)
    out = result.to_dict()
    if result.protection_detail is not None:
        out["protection_detail"] = result.protection_detail
    return out


@router.get("/forms/{form_id}/survey-weights",
            summary="Design, calibrated and replicate weights of a form's submissions")
def get_survey_weights(slug: str, form_id: str,
                       variance: VarianceQuery | None = Query(
                           None, description="replicate weights to add (jk1, jkn, brr, fay, "
                           "bootstrap); default: the declared design's"),
                       replicates: int = Query(200, ge=2, le=2000),
                       seed: int | None = Query(None, ge=0, le=2**31 - 1),
                       format: Literal["json", "csv"] = Query("json"),
                       client: Client = Depends(api_client)) -> Any:
    """One row per submission in the design: ``_id`` (the snapshot's row id), the design's
    columns, ``design_weight``, ``weight`` and ``repw1`` … ``repwR``; the metadata say what
    R's svrepdesign and Stata's svyset need (type, scale, rscales, mse). Needs the right
    to export data, as a snapshot does; CSV gives the table alone."""
    data, meta = client.survey_weights(slug, form_id, variance=variance,
                                       replicates=replicates, seed=seed)
    if format == "csv":
        body = data.to_csv(index=False, lineterminator="\n").encode("utf-8")
        return Response(body, media_type="text/csv; charset=utf-8", headers={
            "Content-Disposition": f'attachment; filename="{slug}-{form_id}-weights.csv"'})
    rows = data.astype(object).where(data.notna(), None).to_dict(orient="records")
    return {"records": rows, "metadata": meta}


@router.get("/estimates", summary="Stored estimate runs, newest first")
def list_estimates(slug: str, indicator: str | None = None,
                   limit: int = Query(20, ge=1, le=200),
                   client: Client = Depends(api_client)) -> dict[str, Any]:
    """The kept runs with their results."""
    return {"runs": client.estimate_runs(slug, indicator=indicator, limit=limit)}
