"""Reference tables and indicator estimates of a project, with permissions and the audit log.

Reference tables (census margins, geographies) are kept as canonical CSV, and area
boundaries as canonical GeoJSON, with their hash, so an estimate records exactly which official figures it was weighted to.
Estimates are computed from the snapshot (approved submissions by default) and each
run is stored with its provenance for the quality scorecard and releases.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from typing import Any

import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from citizendata.auth import Action, Actor, allowed
from citizendata.config import DEFAULT_MAX_DEPTH
from citizendata.errors import BadInput, Conflict, NotFound, PayloadTooLarge, Where
from citizendata.ingest.depth import check_json_depth
from citizendata.ingest.encoding import decode_table_text, sniff_delimiter
from citizendata.projects.estimation import EstimationSpec, IndicatorSpec
from citizendata.projects.spec import ProjectSpec
from citizendata.publish.boundaries import canonical_boundaries, file_kind
from citizendata.services.access import audit, form_in, project_for
from citizendata.store.models import EstimateRun, ReferenceTable

__all__ = [
    "MAX_REFERENCE_BYTES",
    "add_reference_table",
    "estimate_run",
    "estimate_runs",
    "estimation_spec",
    "indicator_spec",
    "read_boundaries",
    "read_reference_tables",
    "reference_tables",
    "store_run",
]

MAX_REFERENCE_BYTES = 50 * 1024 * 1024
KINDS = ("margins", "geography", "boundaries", "other")


def _table_text(data: bytes, name: str, encoding: str | None) -> str:
    """The CSV's text, decoded without guessing (as imports are); empty files refused."""
    try:
        return decode_table_text(data, name, encoding)
    except BadInput as exc:
        if exc.code != "import.structure":
            raise
        why = exc.problems[0].message.split(": ", 1)[-1] if exc.problems else "it is empty"
        raise BadInput("import.not_a_table", f"the reference table {name!r} cannot be used: "
                       f"{why}", where=Where(file=name),
                       fix="Upload a CSV with a header row and at least one row of figures."
                       ) from None


def _canonical(data: bytes, name: str, encoding: str | None = None) -> pd.DataFrame:
    """Read a CSV (comma, semicolon, tab or |) of a reference table; every column as text."""
    text = _table_text(data, name, encoding)
    try:
        df = pd.read_csv(io.StringIO(text), sep=sniff_delimiter(text[: 1 << 16]), dtype=str,
                         keep_default_na=False, skip_blank_lines=True)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError, csv.Error) as exc:
        raise BadInput("import.not_a_table", f"the reference table {name!r} cannot be read: "
                       f"{str(exc).strip() or type(exc).__name__}", where=Where(file=name),
                       fix="Upload a CSV with a header row and at least one row of figures."
                       ) from None
    if df.empty or len(df.columns) < 1:
        raise BadInput("import.not_a_table", f"the reference table {name!r} has no rows "
                       "(only a header)", where=Where(file=name),
                       fix="Upload a CSV with a header row and at least one row of figures.")
    dup = sorted({c for c in df.columns if list(df.columns).count(c) > 1})
    if dup:
        raise BadInput("import.duplicate_column", f"the reference table {name!r} repeats columns {dup}",
                       where=Where(file=name, column=dup[0]))
    return df


def _to_csv(df: pd.DataFrame) -> bytes:
    """Canonical bytes: UTF-8, comma separated, LF line ends, no index."""
    return df.to_csv(index=False, lineterminator="\n").encode("utf-8")


def _typed(df: pd.DataFrame) -> pd.DataFrame:
    """Columns that are all numbers become numbers (counts); the rest stay text.

    A column with a leading zero anywhere ("08017") holds codes, not numbers, and
    stays text.
    """
    out = df.copy()
    for c in out.columns:
        num = pd.to_numeric(out[c], errors="coerce")
        coded = out[c].str.match(r"^0\d").any()
        if num.notna().all() and (out[c] != "").all() and not coded:
            out[c] = num
    return out


def add_reference_table(db: Session, actor: Actor | None, slug: str, name: str, data: bytes, *,
                        kind: str = "other", source: str = "", replace: bool = False,
                        encoding: str | None = None, max_depth: int = DEFAULT_MAX_DEPTH
                        ) -> dict[str, Any]:
    """Store (or replace) a reference table of the project; its hash goes to the audit log.

    A CSV is read as imports are (UTF-8, or the ``encoding`` named; nothing guessed); an
    empty one is refused. Boundaries come as GeoJSON (nesting at most ``max_depth`` deep),
    a zipped Shapefile or a GeoPackage, and are stored as canonical GeoJSON in WGS 84.
    """
    project, _ = project_for(db, actor, slug, Action.PROJECT_EDIT)
    if kind not in KINDS:
        raise BadInput("input.invalid", f"unknown reference table kind {kind!r}",
                       where=Where(field="kind"), fix=f"Use one of {list(KINDS)}.")
    if not name or len(name) > 100 or not name.replace("_", "").replace("-", "").isalnum():
        raise BadInput("input.invalid", f"reference table name {name!r} is not valid",
                       where=Where(field="name"), fix="Use letters, digits, '-' and '_'.")
    if len(data) > MAX_REFERENCE_BYTES:
        raise PayloadTooLarge("intake.payload_too_large",
                              f"the reference table {name!r} is larger than 50 MB",
                              where=Where(file=name), details={"limit_bytes": MAX_REFERENCE_BYTES})
    if kind == "boundaries":
        # areas, not a table: "columns" are the properties, "rows" the areas; a zipped
        # Shapefile or a GeoPackage is read by GDAL and stored as canonical GeoJSON too
        if file_kind(data) == "geojson":
            check_json_depth(data, max_depth, file=name)
        content, doc = canonical_boundaries(data, name)
        columns, n_rows = ["code", "name"], len(doc["features"])
    else:
        df = _canonical(data, name, encoding)
        content = _to_csv(df)
        columns, n_rows = [str(c) for c in df.columns], len(df)
    sha = hashlib.sha256(content).hexdigest()
    row = db.scalar(select(ReferenceTable).where(ReferenceTable.project_id == project.id,
                                                 ReferenceTable.name == name))
    assert actor is not None
    if row is not None and not replace:
        if row.sha256 == sha:
            return _info(row)
        raise Conflict("conflict.exists", f"the project already has a reference table {name!r} "
                       "with other content", where=Where(field="name"),
                       fix="Pass replace=True (CLI --replace) to replace it.")
    if row is None:
        row = ReferenceTable(project_id=project.id, name=name)
        db.add(row)
    row.kind, row.source, row.sha256 = kind, source, sha
    row.columns, row.rows, row.content = columns, n_rows, content
    row.added_by = actor.username
    db.flush()
    audit(db, actor, "reference.add", "reference_table", name, project_id=project.id,
          details={"sha256": sha, "rows": n_rows, "columns": row.columns, "kind": kind,
                   "replaced": replace})
    return _info(row)


def _info(row: ReferenceTable) -> dict[str, Any]:
    return {"name": row.name, "kind": row.kind, "source": row.source, "sha256": row.sha256,
            "columns": list(row.columns), "rows": row.rows, "added_by": row.added_by,
            "added_at": row.added_at.isoformat() if row.added_at else None}


def reference_tables(db: Session, actor: Actor | None, slug: str) -> list[dict[str, Any]]:
    """The project's reference tables (without their content)."""
    project, _ = project_for(db, actor, slug, Action.PROJECT_VIEW)
    rows = db.scalars(select(ReferenceTable).where(ReferenceTable.project_id == project.id)
                      .order_by(ReferenceTable.name))
    return [_info(r) for r in rows]


def read_reference_tables(db: Session, actor: Actor | None, slug: str
                          ) -> tuple[dict[str, pd.DataFrame], dict[str, str]]:
    """Every reference table of the project as a data frame, and their hashes."""
    project, _ = project_for(db, actor, slug, Action.DATA_EXPORT)
    tables: dict[str, pd.DataFrame] = {}
    hashes: dict[str, str] = {}
    for r in db.scalars(select(ReferenceTable).where(ReferenceTable.project_id == project.id,
                                                     ReferenceTable.kind != "boundaries")):
        df = pd.read_csv(io.BytesIO(r.content), dtype=str, keep_default_na=False)
        tables[r.name] = _typed(df)
        hashes[r.name] = r.sha256
    return tables, hashes


def read_boundaries(db: Session, actor: Actor | None, slug: str
                    ) -> tuple[dict[str, dict[str, Any]], dict[str, str]]:
    """Every boundary file (GeoJSON) of the project, parsed, and their hashes."""
    project, _ = project_for(db, actor, slug, Action.DATA_EXPORT)
    out: dict[str, dict[str, Any]] = {}
    hashes: dict[str, str] = {}
    for r in db.scalars(select(ReferenceTable).where(ReferenceTable.project_id == project.id,
                                                     ReferenceTable.kind == "boundaries")):
        out[r.name] = json.loads(r.content.decode("utf-8"))
        hashes[r.name] = r.sha256
    return out, hashes


def estimation_spec(db: Session, actor: Actor | None, slug: str) -> EstimationSpec:
    """The project's estimation settings, for someone allowed to analyse its data."""
    project, _ = project_for(db, actor, slug, Action.DATA_EXPORT)
    return ProjectSpec.model_validate(project.spec).estimation if project.spec else EstimationSpec()


def indicator_spec(db: Session, actor: Actor | None, slug: str, indicator_id: str) -> IndicatorSpec:
    """One declared indicator, or a 404 naming the declared ones."""
    spec = estimation_spec(db, actor, slug)
    ind = spec.indicator(indicator_id)
    if ind is None:
        known = [i.id for i in spec.indicators]
        raise NotFound("indicator.unknown", f"project {slug!r} declares no indicator "
                       f"{indicator_id!r}; it has {known}", where=Where(field="indicator"))
    return ind


def store_run(db: Session, actor: Actor | None, slug: str, form_id: str,
              result: dict[str, Any]) -> int:
    """Keep one estimate run (for the quality scorecard and releases) and log it."""
    project, _ = project_for(db, actor, slug, Action.DATA_EXPORT)
    form = form_in(db, project, form_id)
    assert actor is not None
    run = EstimateRun(project_id=project.id, form_id=form.id,
                      indicator=result["indicator"]["id"], actor=actor.username,
                      seconds=float(result.get("seconds", 0.0)), result=result)
    db.add(run)
    db.flush()
    total = result.get("total") or {}
    audit(db, actor, "estimate.run", "indicator", result["indicator"]["id"], project_id=project.id,
          details={"run": run.id, "cells": len(result.get("estimates", [])),
                   "value": total.get("value"), "provenance": result.get("provenance", {})})
    return run.id


def estimate_runs(db: Session, actor: Actor | None, slug: str, *, indicator: str | None = None,
                  limit: int = 20) -> list[dict[str, Any]]:
    """The latest estimate runs of the project, newest first.

    A run kept before disclosure control existed (no ``protection`` report) is shown
    only to roles that may see unprotected tables.
    """
    project, role = project_for(db, actor, slug, Action.DATA_EXPORT)
    q = select(EstimateRun).where(EstimateRun.project_id == project.id)
    if indicator:
        q = q.where(EstimateRun.indicator == indicator)
    rows = db.scalars(q.order_by(EstimateRun.id.desc()).limit(limit))
    raw_ok = allowed(role, Action.PERSONAL_DATA_VIEW)
    return [{"id": r.id, "indicator": r.indicator, "actor": r.actor, "at": r.at.isoformat(),
             "seconds": r.seconds, "result": r.result} for r in rows
            if raw_ok or r.result.get("protection")]


def estimate_run(db: Session, actor: Actor | None, slug: str, run_id: int) -> dict[str, Any]:
    """One kept estimate run of the project, as ``estimate_runs`` lists it.

    Runs are kept protected; one kept before disclosure control existed is found only by
    roles that may see unprotected tables, as in the list.
    """
    project, role = project_for(db, actor, slug, Action.DATA_EXPORT)
    r = db.get(EstimateRun, run_id)
    if r is None or r.project_id != project.id or not (
            allowed(role, Action.PERSONAL_DATA_VIEW) or r.result.get("protection")):
        raise NotFound("not_found.estimate_run", f"project {slug!r} has no estimate run "
                       f"{run_id}", where=Where(field="run"),
                       fix="List the indicator's runs and use a run's id.")
    return {"id": r.id, "indicator": r.indicator, "actor": r.actor, "at": r.at.isoformat(),
            "seconds": r.seconds, "result": r.result}
