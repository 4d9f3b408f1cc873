"""Bulk import of a whole table of submissions, set-based and all or nothing.

The table comes from :func:`citizendata.ingest.tabular.read_tabular`. Only the
keys (row, instance id, content hash, stated version) go to a temporary staging
table; resends and conflicts are found there with joins against what is stored;
the new rows are then loaded straight into ``submissions`` (PostgreSQL ``COPY``,
SQLite ``executemany``), in the same transaction. No Python loop touches the
rows on the hot path.

Rows of a buried instance id (consent withdrawn for everything, or erased) and
edits of one (meta/deprecatedID) are left out before anything else is looked at,
and counted as duplicates, as every intake channel does (services.intake).
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
from sqlalchemy import insert, select, text
from sqlalchemy.orm import Session

from citizendata.auth import Action, Actor
from citizendata.errors import BadInput, Conflict, Problem, Where
from citizendata.forms.schema import FormSchema
from citizendata.ingest.exports import ExportContext, FormLabels, labels_from_xform, shape_of
from citizendata.services.access import audit, project_for
from citizendata.services.forms import version_row
from citizendata.services.intake import (
    MAX_INSTANCE_ID,
    IntakeResult,
    check_instance_ids,
    same_content,
)
from citizendata.store.engine import traits
from citizendata.store.models import FormVersion, IntakeBatch, Tombstone, utcnow

__all__ = ["STAGE_COLUMNS", "check_table", "export_context", "import_table"]

STAGE_COLUMNS = ("row", "instance_id", "payload", "content_hash", "collected_at",
                 "form_version", "source_meta")
_KEY_COLUMNS = ("row", "instance_id", "content_hash", "form_version")
_INSERT_COLUMNS = ("project_id", "form_id", "form_version_id", "instance_id", "payload",
                   "content_hash", "submitter_id", "collected_at", "received_at",
                   "review_status", "channel", "batch_id", "source_meta")

# Dialect differences as data.
_STAGE_DDL = {
    "postgresql": "CREATE TEMP TABLE _stage (row bigint, instance_id text, content_hash text, "
                  "form_version text)",
    "sqlite": "CREATE TEMP TABLE _stage (row INTEGER, instance_id TEXT, content_hash TEXT, "
              "form_version TEXT)",
}
_DROP_STAGE = {"postgresql": "DROP TABLE IF EXISTS pg_temp._stage",
               "sqlite": "DROP TABLE IF EXISTS temp._stage"}
# how a UTC timestamp column is written for the loader: ISO text for COPY, SQLAlchemy's
# naive-UTC text for SQLite
_TS_FORMAT = {"postgresql": "%Y-%m-%dT%H:%M:%SZ", "sqlite": "%Y-%m-%d %H:%M:%S"}


def export_context(db: Session, version_ids: list[int],
                   version_map: dict[str, str] | None = None) -> ExportContext:
    """The form's versions (oldest first) and labels in every language, for reading exports."""
    rows = db.execute(select(FormVersion.id, FormVersion.schema, FormVersion.xform_xml)
                      .where(FormVersion.id.in_(version_ids)).order_by(FormVersion.id)).all()
    labels = FormLabels()
    for _, _, xml in rows:
        labels.merge(labels_from_xform(xml))
    return ExportContext(versions=tuple(shape_of(FormSchema.from_dict(s)) for _, s, _ in rows),
                         labels=labels, version_map=dict(version_map or {}))


def _raw(db: Session) -> Any:
    return db.connection().connection.driver_connection


def _copy(db: Session, table: str, data: pa.Table) -> None:
    cols = ", ".join(data.column_names)
    options = pacsv.WriteOptions(include_header=False)
    with _raw(db).cursor() as cur, cur.copy(
            f"COPY {table} ({cols}) FROM STDIN WITH (FORMAT csv)") as cp:
        # CSV is written a slice at a time, so the server parses one while we write the next
        for batch in data.to_batches(max_chunksize=50_000):
            buf = io.BytesIO()
            pacsv.write_csv(batch, buf, options)
            cp.write(buf.getbuffer())


def _executemany(db: Session, table: str, data: pa.Table) -> None:
    cols = [data.column(c).to_pylist() for c in data.column_names]
    marks = ", ".join("?" * len(cols))
    _raw(db).executemany(f"INSERT INTO {table} ({', '.join(data.column_names)}) "
                         f"VALUES ({marks})", zip(*cols, strict=True))


_LOADERS: dict[str, Callable[[Session, str, pa.Table], None]] = {
    "copy": _copy,
    "executemany": _executemany,
}


def _load(db: Session, table: str, data: pa.Table) -> None:
    _LOADERS[traits(db.get_bind()).bulk_loader](db, table, data)  # type: ignore[arg-type]


def _ts_text(col: pa.ChunkedArray, dialect: str) -> pa.ChunkedArray:
    utc = pc.cast(col, pa.timestamp("us", tz="UTC"))
    fmt = _TS_FORMAT[dialect]
    # keep microseconds: strftime's %S already prints fractional seconds for timestamp[us]
    return pc.strftime(utc, format=fmt)


def _check_versions(db: Session, form_id: int, table: pa.Table,
                    filename: str | None) -> dict[str, int]:
    known = {v: i for v, i in db.execute(text(
        "SELECT version, id FROM form_versions WHERE form_id = :f"), {"f": form_id})}
    stated = table.select(["form_version", "row"]).filter(
        pc.is_valid(table.column("form_version")))
    unknown = pc.invert(pc.is_in(stated.column("form_version"),
                                 value_set=pa.array(list(known), pa.string())))
    first = stated.filter(unknown).group_by("form_version").aggregate([("row", "min")])
    problems = [Problem("not_found.form_version", f"The form has no version {v!r}.",
                        where=Where(file=filename, row=r, column="form version"),
                        fix=f"Known versions: {sorted(known)}.")
                for v, r in zip(first.column("form_version").to_pylist(),
                                first.column("row_min").to_pylist(), strict=True)]
    if problems:
        raise BadInput("import.structure", f"{len(problems)} unknown form version(s); nothing "
                       "was imported.", where=Where(file=filename), problems=problems)
    return known


def _stored_rows(db: Session, form_id: int, table: pa.Table, payload_sql: str,
                 filename: str | None) -> pa.Array:
    """Rows of the file already stored (identical resends); conflicts raise."""
    dialect = traits(db.get_bind())  # type: ignore[arg-type]
    if db.execute(text("SELECT 1 FROM submissions WHERE form_id = :f LIMIT 1"),
                  {"f": form_id}).first() is None:
        # nothing stored for this form yet: no resend or conflict is possible, skip staging
        # (a concurrent first import of the same ids fails on the unique index instead)
        return pa.array([], pa.int64())
    db.execute(text(_DROP_STAGE[dialect.name]))
    db.execute(text(_STAGE_DDL[dialect.name]))
    _load(db, "_stage", table.select(list(_KEY_COLUMNS)))
    try:
        return _already_stored(db, form_id, table, payload_sql, filename)
    finally:
        db.execute(text(_DROP_STAGE[dialect.name]))


def _already_stored(db: Session, form_id: int, table: pa.Table, payload_sql: str,
                    filename: str | None) -> pa.Array:
    """Rows already stored with the same content; raise on a conflicting resend."""
    join = ("FROM _stage st JOIN submissions ON submissions.form_id = :f "
            "AND submissions.instance_id = st.instance_id")
    rows = db.execute(text(f"SELECT st.row, submissions.content_hash = st.content_hash {join}"),
                      {"f": form_id}).all()
    if not rows:
        return pa.array([], pa.int64())
    differing = [r for r, same in rows if not same]
    conflicts: list[tuple[int, str]] = []
    if differing:
        stored: dict[int, Any] = dict(db.execute(text(f"SELECT st.row, {payload_sql} {join} "
                                      "WHERE submissions.content_hash <> st.content_hash"),
                                 {"f": form_id}).all())
        at = pc.index_in(pa.array(differing, pa.int64()), table.column("row"))
        incoming = table.take(at).select(["row", "instance_id", "payload"]).to_pylist()
        conflicts = [(r["row"], r["instance_id"]) for r in incoming
                     if not same_content(stored[r["row"]], json.loads(r["payload"]))]
    if conflicts:
        conflicts.sort()
        raise Conflict(
            "conflict.submission",
            f"{len(conflicts)} row(s) reuse an instance id already stored with different content; "
            "nothing was imported.",
            where=Where(file=filename, row=conflicts[0][0], instance_id=conflicts[0][1]),
            details={"rows": [r for r, _ in conflicts[:1000]],
                     "instance_ids": [i for _, i in conflicts[:1000]]},
        )
    return pa.array([r for r, _ in rows], pa.int64())


def _new_rows(table: pa.Table, stored_rows: pa.Array, versions: dict[str, int], latest: int,
              constants: dict[str, Any], dialect: str) -> pa.Table:
    keep = pc.invert(pc.is_in(table.column("row"), value_set=stored_rows))
    new = table.filter(keep)
    n = new.num_rows
    names = list(versions)
    idx = pc.index_in(new.column("form_version"), value_set=pa.array(names, pa.string()))
    version_ids = pc.fill_null(pc.take(pa.array([versions[v] for v in names], pa.int64()), idx),
                               latest)
    cols: dict[str, Any] = {
        "project_id": pa.repeat(pa.scalar(constants["project_id"], pa.int64()), n),
        "form_id": pa.repeat(pa.scalar(constants["form_id"], pa.int64()), n),
        "form_version_id": version_ids,
        "instance_id": new.column("instance_id"),
        "payload": new.column("payload"),
        "content_hash": new.column("content_hash"),
        "submitter_id": pa.repeat(pa.scalar(constants["submitter_id"], pa.int64()), n),
        "collected_at": _ts_text(new.column("collected_at"), dialect),
        "received_at": pa.repeat(pa.scalar(constants["received_at"]), n),
        "review_status": pa.repeat(pa.scalar("received"), n),
        "channel": pa.repeat(pa.scalar(constants["channel"]), n),
        "batch_id": pa.repeat(pa.scalar(constants["batch_id"], pa.int64()), n),
        "source_meta": new.column("source_meta"),
    }
    return pa.table({c: cols[c] for c in _INSERT_COLUMNS})


_DEPRECATED = "meta/deprecatedID"


def _refused_rows(db: Session, project_pk: int, form_pk: int, table: pa.Table) -> pa.Array:
    """Rows of buried instance ids or edits of them; refused edits get their tombstone."""
    stones = {iid: (sid, reason) for iid, sid, reason in db.execute(
        select(Tombstone.instance_id, Tombstone.submission_id, Tombstone.reason)
        .where(Tombstone.form_id == form_pk))}
    if not stones:
        return pa.array([], pa.int64())
    hit = pc.is_in(table.column("instance_id"), value_set=pa.array(list(stones), pa.string()))
    refused = table.filter(hit).column("row").to_pylist()
    # edits: only the few rows that name a deprecatedID are read one by one
    named = pc.fill_null(pc.match_substring(table.column("source_meta"), _DEPRECATED), False)
    edits = table.filter(pc.and_(named, pc.invert(hit))).select(
        ["row", "instance_id", "content_hash", "source_meta"]).to_pylist()
    buried: list[dict[str, Any]] = []
    grew = True
    while grew:  # an edit of an edit in the same file is refused too
        grew = False
        for e in edits:
            parent = json.loads(e["source_meta"]).get(_DEPRECATED)
            if e["instance_id"] not in stones and parent in stones:
                stones[e["instance_id"]] = stones[parent]
                refused.append(e["row"])
                buried.append({"project_id": project_pk, "form_id": form_pk,
                               "instance_id": e["instance_id"],
                               "content_hash": e["content_hash"],
                               "submission_id": stones[parent][0],
                               "reason": stones[parent][1], "at": utcnow()})
                grew = True
    if buried:
        db.execute(insert(Tombstone), buried)
    return pa.array(sorted(refused), pa.int64())


def _check_ids(table: pa.Table) -> None:
    """Instance ids that could not be stored or addressed refuse the file."""
    iids = table.column("instance_id")
    bad = pc.or_(pc.greater(pc.utf8_length(iids), MAX_INSTANCE_ID),
                 pc.is_in(iids, value_set=pa.array([".", ".."], pa.string())))
    if pc.any(bad).as_py():
        check_instance_ids([(i, None) for i in table.filter(bad).column("instance_id")
                            .to_pylist()[:1000]])


def check_table(db: Session, form_pk: int, table: pa.Table, filename: str | None) -> None:
    """The checks :func:`import_table` makes before storing anything (instance ids, form
    versions), without storing; a dry run for pages that list problems at once."""
    _check_ids(table)
    _check_versions(db, form_pk, table, filename)


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
    """Store a table of submissions (columns STAGE_COLUMNS), all or nothing."""
    project, _ = project_for(db, actor, slug, Action.SUBMISSION_CREATE)
    form, latest = version_row(db, project, form_id, None)
    say = progress or (lambda _m: None)
    dialect = traits(db.get_bind())  # type: ignore[arg-type]
    _check_ids(table)
    received = table.num_rows
    refused = _refused_rows(db, project.id, form.id, table)
    if len(refused):
        table = table.filter(pc.invert(pc.is_in(table.column("row"), value_set=refused)))
    versions = _check_versions(db, form.id, table, filename)
    say("checking for resends and conflicts")
    stored_rows = _stored_rows(db, form.id, table, dialect.payload_as_text, filename)
    n_dupes = len(stored_rows) + len(refused)
    batch = IntakeBatch(project_id=project.id, form_id=form.id, channel=channel, filename=filename,
                        sha256=sha256, n_received=received,
                        n_created=received - n_dupes, n_duplicates=n_dupes,
                        actor_id=actor.user_id if actor else None)
    db.add(batch)
    db.flush()
    now = utcnow().strftime(_TS_FORMAT[dialect.name].replace("%S", "%S.%f"))
    constants = {"project_id": project.id, "form_id": form.id,
                 "submitter_id": actor.user_id if actor else None, "received_at": now,
                 "channel": channel, "batch_id": batch.id}
    new = _new_rows(table, stored_rows, versions, latest.id, constants, dialect.name)
    say(f"inserting {new.num_rows:,} rows")
    if new.num_rows:
        integrity = db.get_bind().dialect.dbapi.IntegrityError  # type: ignore[union-attr]
        try:
            _load(db, "submissions", new)
        except integrity:
            # another import stored some of these instance ids meanwhile
            raise Conflict("conflict.submission", "Another import stored some of these "
                           "submissions at the same time; nothing from this file was imported.",
                           where=Where(file=filename),
                           fix="Import the file again: stored rows will count as resends."
                           ) from None
    audit(db, actor, "intake.batch", "intake_batch", batch.id, project_id=project.id,
          details={"form_id": form_id, "channel": channel, "received": received,
                   "created": new.num_rows, "duplicates": n_dupes, "filename": filename,
                   "sha256": sha256, **({"refused": len(refused)} if len(refused) else {})})
    return IntakeResult(form_id, batch.id, new.num_rows, n_dupes)
