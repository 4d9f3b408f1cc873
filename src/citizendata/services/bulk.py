"""Bulk import of a whole table of submissions, set-based: stage, check, insert in one transaction.

The table comes from :func:`citizendata.ingest.tabular.read_tabular`. Rows are
loaded into a temporary staging table (PostgreSQL ``COPY``, SQLite
``executemany``), checked against what is stored with joins, and inserted with
one ``INSERT … SELECT``; no Python loop touches the rows on the hot path.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
from sqlalchemy import bindparam, text
from sqlalchemy.orm import Session

from citizendata.auth import Action, Actor
from citizendata.errors import BadInput, Conflict, Problem, Where
from citizendata.services.access import audit, project_for
from citizendata.services.forms import version_row
from citizendata.services.intake import IntakeResult, same_content
from citizendata.store.engine import traits
from citizendata.store.models import IntakeBatch, UTCDateTime, utcnow

__all__ = ["STAGE_COLUMNS", "import_table"]

STAGE_COLUMNS = ("row", "instance_id", "payload", "content_hash", "collected_at",
                 "form_version", "source_meta")

# Dialect differences as data: staging DDL, how JSON text becomes the JSON column.
_STAGE_DDL = {
    "postgresql": "CREATE TEMP TABLE _stage (row bigint, instance_id text, payload text, "
                  "content_hash text, collected_at timestamptz, form_version text, "
                  "source_meta text) ON COMMIT DROP",
    "sqlite": "CREATE TEMP TABLE _stage (row INTEGER, instance_id TEXT, payload TEXT, "
              "content_hash TEXT, collected_at TEXT, form_version TEXT, source_meta TEXT)",
}
_DROP_STAGE = {"postgresql": "DROP TABLE IF EXISTS pg_temp._stage",
               "sqlite": "DROP TABLE IF EXISTS temp._stage"}
_AS_JSON = {"postgresql": "CAST({} AS JSONB)", "sqlite": "{}"}


def _load_copy(db: Session, table: pa.Table) -> None:
    buf = io.BytesIO()
    pacsv.write_csv(table, buf, pacsv.WriteOptions(include_header=False))
    raw = db.connection().connection.driver_connection
    cols = ", ".join(STAGE_COLUMNS)
    with raw.cursor() as cur, cur.copy(f"COPY _stage ({cols}) FROM STDIN WITH (FORMAT csv)") as cp:
        view = buf.getbuffer()
        for start in range(0, len(view), 1 << 20):
            cp.write(view[start:start + (1 << 20)])


def _load_executemany(db: Session, table: pa.Table) -> None:
    # SQLite keeps timestamps as text in SQLAlchemy's format; convert the column in Arrow
    ts = table.column("collected_at")
    text_ts = pc.strftime(pc.cast(ts, pa.timestamp("us", tz="UTC")), format="%Y-%m-%d %H:%M:%S")
    table = table.set_column(table.schema.get_field_index("collected_at"), "collected_at", text_ts)
    cols = [table.column(c).to_pylist() for c in STAGE_COLUMNS]
    raw = db.connection().connection.driver_connection
    raw.executemany("INSERT INTO _stage VALUES (?, ?, ?, ?, ?, ?, ?)", zip(*cols, strict=True))


_LOADERS: dict[str, Callable[[Session, pa.Table], None]] = {
    "copy": _load_copy,
    "executemany": _load_executemany,
}


def _stage(db: Session, table: pa.Table) -> None:
    dialect = traits(db.get_bind())  # type: ignore[arg-type]
    drop = _DROP_STAGE[dialect.name]
    if drop:
        db.execute(text(drop))
    db.execute(text(_STAGE_DDL[dialect.name]))
    table = table.select(list(STAGE_COLUMNS))
    table = table.set_column(
        table.schema.get_field_index("collected_at"), "collected_at",
        pc.cast(table.column("collected_at"), pa.timestamp("us", tz="UTC")))
    _LOADERS[dialect.bulk_loader](db, table)


def _check_versions(db: Session, form_id: int, filename: str | None) -> None:
    known = {v for (v,) in db.execute(text("SELECT version FROM form_versions WHERE form_id = :f"),
                                      {"f": form_id})}
    stated = db.execute(text(
        "SELECT form_version, MIN(row) FROM _stage WHERE form_version IS NOT NULL "
        "GROUP BY form_version")).all()
    problems = [Problem("not_found.form_version", f"The form has no version {v!r}.",
                        where=Where(file=filename, row=r, column="form version"),
                        fix=f"Known versions: {sorted(known)}.")
                for v, r in stated if v not in known]
    if problems:
        raise BadInput("import.structure", f"{len(problems)} unknown form version(s); nothing "
                       "was imported.", where=Where(file=filename), problems=problems)


def _check_conflicts(db: Session, form_id: int, payload_sql: str, filename: str | None) -> int:
    """Raise on conflicting resends; return how many rows are already stored."""
    dupes = db.execute(text(
        "SELECT COUNT(*) FROM _stage st JOIN submissions ON submissions.form_id = :f "
        "AND submissions.instance_id = st.instance_id"), {"f": form_id}).scalar_one()
    if not dupes:
        return 0
    differing = db.execute(text(
        f"SELECT st.row, st.instance_id, st.payload, {payload_sql} FROM _stage st "
        "JOIN submissions ON submissions.form_id = :f AND submissions.instance_id = st.instance_id "
        "WHERE submissions.content_hash <> st.content_hash ORDER BY st.row"), {"f": form_id}).all()
    conflicts = [(r, iid) for r, iid, new, old in differing
                 if not same_content(old, json.loads(new))]
    if conflicts:
        raise Conflict(
            "conflict.submission",
            f"{len(conflicts)} row(s) reuse an instance id already stored with different content; "
            "nothing was imported.",
            where=Where(file=filename, row=conflicts[0][0], instance_id=conflicts[0][1]),
            details={"rows": [r for r, _ in conflicts[:1000]],
                     "instance_ids": [i for _, i in conflicts[:1000]]},
        )
    return int(dupes)


def import_table(
    db: Session,
    actor: Actor | None,
    slug: str,
    form_id: str,
    table: pa.Table,
    *,
    channel: str,
    filename: str | None = None,
    sha256: str | None = None,
    progress: Callable[[str], None] | None = None,
) -> IntakeResult:
    """Store a staged table of submissions (columns STAGE_COLUMNS) all or nothing."""
    project, _ = project_for(db, actor, slug, Action.SUBMISSION_CREATE)
    form, latest = version_row(db, project, form_id, None)
    say = progress or (lambda _m: None)
    dialect = traits(db.get_bind())  # type: ignore[arg-type]
    say("staging rows")
    _stage(db, table)
    _check_versions(db, form.id, filename)
    say("checking for resends and conflicts")
    n_dupes = _check_conflicts(db, form.id, dialect.payload_as_text, filename)
    batch = IntakeBatch(project_id=project.id, form_id=form.id, channel=channel, filename=filename,
                        sha256=sha256, n_received=table.num_rows,
                        n_created=table.num_rows - n_dupes, n_duplicates=n_dupes,
                        actor_id=actor.user_id if actor else None)
    db.add(batch)
    db.flush()
    as_json = _AS_JSON[dialect.name]
    say("inserting")
    params: dict[str, Any] = {"p": project.id, "f": form.id, "latest": latest.id,
                              "u": actor.user_id if actor else None, "now": utcnow(),
                              "channel": channel, "batch": batch.id}
    stmt = text(
        "INSERT INTO submissions (project_id, form_id, form_version_id, instance_id, payload, "
        "content_hash, submitter_id, collected_at, received_at, review_status, channel, "
        "batch_id, source_meta) "
        f"SELECT :p, :f, COALESCE(fv.id, :latest), st.instance_id, {as_json.format('st.payload')}, "
        "st.content_hash, :u, st.collected_at, :now, 'received', :channel, :batch, "
        f"{as_json.format('st.source_meta')} FROM _stage st "
        "LEFT JOIN form_versions fv ON fv.form_id = :f AND fv.version = st.form_version "
        "WHERE NOT EXISTS (SELECT 1 FROM submissions s WHERE s.form_id = :f "
        "AND s.instance_id = st.instance_id) ORDER BY st.row"
    ).bindparams(bindparam("now", type_=UTCDateTime()))
    created = db.execute(stmt, params).rowcount
    drop = _DROP_STAGE[dialect.name]
    if drop:
        db.execute(text(drop))
    audit(db, actor, "intake.batch", "intake_batch", batch.id, project_id=project.id,
          details={"form_id": form_id, "channel": channel, "received": table.num_rows,
                   "created": created, "duplicates": n_dupes, "filename": filename,
                   "sha256": sha256})
    return IntakeResult(form_id, batch.id, created, n_dupes)
