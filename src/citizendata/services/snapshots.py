"""Reading stored submissions out as Arrow batches and freezing them into a typed snapshot."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import threading
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from citizendata.auth import Action, Actor, allowed
from citizendata.errors import BadInput, Forbidden
from citizendata.forms.schema import FormSchema
from citizendata.services.access import audit, form_in, project_for
from citizendata.services.consent import consent_spec
from citizendata.services.forms import merged_schema
from citizendata.snapshot import SnapshotInfo, build_snapshot
from citizendata.snapshot.build import FORMAT_VERSION, code_version
from citizendata.snapshot.synthetic import BATCH_SCHEMA
from citizendata.store.engine import traits
from citizendata.store.models import Project, Submission

__all__ = ["audit_snapshot", "check_export", "content_key", "export_batches", "make_snapshot",
           "snapshot_schema"]

_SELECT = (
    "SELECT s.id, s.instance_id, fv.version, u.username, {collected}, {received}, "
    "s.review_status, {payload} FROM submissions s "
    "JOIN form_versions fv ON fv.id = s.form_version_id "
    "LEFT JOIN users u ON u.id = s.submitter_id "
    # a reviewer's latest edit, if any, is what analysis sees; the original stays stored
    "LEFT JOIN (SELECT x.submission_id, x.payload FROM submission_versions x JOIN "
    "(SELECT submission_id, MAX(version) AS v FROM submission_versions GROUP BY submission_id) m "
    "ON m.submission_id = x.submission_id AND m.v = x.version) sv ON sv.submission_id = s.id "
    "WHERE s.form_id = {form_id}{withdrawn} ORDER BY s.id"
)
# a respondent who withdrew consent to analysis (or to everything) is in no later snapshot
_WITHDRAWN = (" AND NOT EXISTS (SELECT 1 FROM consent_withdrawals w WHERE w.submission_id = s.id"
              " AND w.scope IN ('all', {scope}))")


def _withdrawn(scope: str | None) -> str:
    return "" if scope is None else _WITHDRAWN.format(scope="'" + scope.replace("'", "''") + "'")
_PG_TS = "to_char({} AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"


def _batches_copy(db: Session, form_id: int, _batch_rows: int, scope: str | None
                  ) -> Iterator[pa.RecordBatch]:
    # COPY streams into a pipe from a thread while Arrow parses the other end, so the
    # database's JSON-to-text work and the typing of earlier batches overlap
    sql = _SELECT.format(collected=_PG_TS.format("s.collected_at"),
                         received=_PG_TS.format("s.received_at"),
                         payload="COALESCE(sv.payload, s.payload)::text", form_id=int(form_id),
                         withdrawn=_withdrawn(scope))
    raw: Any = db.connection().connection.driver_connection
    read_fd, write_fd = os.pipe()
    failure: list[BaseException] = []

    def produce() -> None:
        try:
            with os.fdopen(write_fd, "wb") as sink, raw.cursor() as cur, \
                    cur.copy(f"COPY ({sql}) TO STDOUT WITH (FORMAT csv)") as cp:
                for chunk in cp:
                    sink.write(chunk)
        except BaseException as exc:  # handed to the reading side
            failure.append(exc)

    producer = threading.Thread(target=produce, name="snapshot-copy", daemon=True)
    producer.start()
    try:
        with os.fdopen(read_fd, "rb") as source:
            reader = pacsv.open_csv(
                source,
                read_options=pacsv.ReadOptions(column_names=BATCH_SCHEMA.names,
                                               block_size=16 << 20),
                convert_options=pacsv.ConvertOptions(
                    column_types=BATCH_SCHEMA, strings_can_be_null=True,
                    quoted_strings_can_be_null=False),
            )
            yield from reader
    finally:
        producer.join()
    if failure:
        raise failure[0]


def _batches_fetch(db: Session, form_id: int, batch_rows: int, scope: str | None
                   ) -> Iterator[pa.RecordBatch]:
    sql = _SELECT.format(collected="s.collected_at", received="s.received_at",
                         payload="COALESCE(sv.payload, s.payload)", form_id=int(form_id),
                         withdrawn=_withdrawn(scope))
    raw: Any = db.connection().connection.driver_connection
    cur = raw.execute(sql)
    while rows := cur.fetchmany(batch_rows):
        cols = list(zip(*rows, strict=True))
        arrays: list[Any] = []
        for i, field in enumerate(BATCH_SCHEMA):
            if pa.types.is_timestamp(field.type):
                # SQLite holds naive UTC text; parse it in Arrow, then mark it UTC
                naive = pc.cast(pa.array(cols[i], pa.string()), pa.timestamp("us"))
                arrays.append(pc.cast(naive, field.type))
            else:
                arrays.append(pa.array(cols[i], field.type))
        yield pa.RecordBatch.from_arrays(arrays, schema=BATCH_SCHEMA)
    cur.close()


_READERS: dict[str, Callable[[Session, int, int, str | None], Iterator[pa.RecordBatch]]] = {
    "copy": _batches_copy,
    "executemany": _batches_fetch,
}


def export_batches(db: Session, form_id: int, *, batch_rows: int = 50_000,
                   withdrawn_scope: str | None = "analysis") -> Iterator[pa.RecordBatch]:
    """Every stored submission of a form (all versions) as Arrow batches in id order.

    Submissions whose consent to ``withdrawn_scope`` (or to everything) was withdrawn
    are left out; None keeps every stored submission.
    """
    reader = _READERS[traits(db.get_bind()).bulk_loader]  # type: ignore[arg-type]
    return reader(db, form_id, batch_rows, withdrawn_scope)


# carried by the _instance_id metadata column (and source metadata), not by the payload
_ENVELOPE_PATHS = frozenset({"meta/instanceID", "meta/deprecatedID", "meta/rootUuid"})


def analysis_schema(schema: FormSchema, personal: bool) -> FormSchema:
    """The schema as a snapshot sees it: no envelope fields, personal fields only if asked."""
    return dataclasses.replace(schema, fields=tuple(
        f for f in schema.fields
        if f.path not in _ENVELOPE_PATHS and (personal or not f.personal)))


def check_export(db: Session, actor: Actor | None, slug: str, form_id: str,
                 include_personal: bool) -> tuple[Project, str]:
    """The project and role, if the caller may export this form (with personal data if asked)."""
    project, role = project_for(db, actor, slug, Action.DATA_EXPORT)
    form_in(db, project, form_id)
    if include_personal and not allowed(role, Action.PERSONAL_DATA_VIEW):
        raise Forbidden("auth.forbidden", f"Your role {role!r} may not see personal data; "
                        "the snapshot can be made without it.",
                        fix="Leave out include_personal (--include-personal).")
    return project, role


# What a snapshot holds besides the form schema, row by row: which submissions (consent
# withdrawals leave some out), their review status and their latest edit. Everything
# else in a row is fixed once stored (an erased payload is withdrawn, hence left out).
_KEY_ROWS = (
    "SELECT s.id AS id, CAST(s.id AS TEXT) || ',' || s.review_status || ',' || "
    "COALESCE(CAST(e.v AS TEXT), '') AS r FROM submissions s LEFT JOIN "
    "(SELECT submission_id, MAX(id) AS v FROM submission_versions GROUP BY submission_id) e "
    "ON e.submission_id = s.id WHERE s.form_id = {form_id}{withdrawn}"
)
# the rows folded into one value by the database, per dialect. SQLite (3.40) has no
# ORDER BY inside an aggregate: it concatenates in the subquery's order, and were that
# order ever to differ, the key would only miss a reuse, never match other content
_KEY_FOLD = {
    "postgresql": "SELECT COUNT(*), md5(string_agg(r, ';' ORDER BY id)) FROM ({rows}) k",
    "sqlite": "SELECT COUNT(*), group_concat(r, ';') FROM ({rows} ORDER BY s.id) k",
}


def snapshot_schema(db: Session, actor: Actor | None, slug: str, form_id: str,
                    include_personal: bool = False) -> FormSchema:
    """The schema a snapshot of the form would have, for a caller who may export it."""
    project, _ = check_export(db, actor, slug, form_id, include_personal)
    return analysis_schema(merged_schema(db, form_in(db, project, form_id)), include_personal)


def content_key(db: Session, actor: Actor | None, slug: str, form_id: str,
                include_personal: bool = False) -> str:
    """A digest of everything a snapshot of the form would hold now: equal keys, equal files.

    Refused (``snapshot.empty``) when no submission would be in it.
    """
    project, _ = check_export(db, actor, slug, form_id, include_personal)
    form = form_in(db, project, form_id)
    scope = consent_spec(project).analysis
    rows = _KEY_ROWS.format(form_id=int(form.id), withdrawn=_withdrawn(scope))
    fold = _KEY_FOLD[traits(db.get_bind()).name]  # type: ignore[arg-type]
    count, digest = db.execute(text(fold.format(rows=rows))).one()
    if not count:
        raise BadInput("snapshot.empty", f"Form {form_id!r} has no submissions to snapshot "
                       "(none stored, or every respondent withdrew consent to analysis).")
    schema = analysis_schema(merged_schema(db, form), include_personal)
    what = {"format": FORMAT_VERSION, "code": code_version(), "schema": schema.to_dict(),
            "personal": include_personal, "scope": scope, "rows": int(count),
            "digest": hashlib.sha256(str(digest).encode()).hexdigest()}
    return hashlib.sha256(json.dumps(what, sort_keys=True, default=str).encode()).hexdigest()[:32]


def make_snapshot(
    db: Session, actor: Actor | None, slug: str, form_id: str, out_dir: Path, *,
    created_at: datetime | None = None, include_personal: bool = False,
    progress: Callable[[int], None] | None = None,
) -> SnapshotInfo:
    """Freeze a form's submissions into typed Parquet tables, ready for DuckDB through Ibis.

    Personal fields are left out unless ``include_personal`` is asked for by a role
    that may see personal data.
    """
    project, _ = check_export(db, actor, slug, form_id, include_personal)
    form = form_in(db, project, form_id)
    n = db.scalar(select(func.count()).select_from(Submission)
                  .where(Submission.form_id == form.id)) or 0
    if n == 0:
        from citizendata.store.models import EncryptedSubmission

        encrypted = db.scalar(select(func.count()).select_from(EncryptedSubmission)
                              .where(EncryptedSubmission.form_id == form.id)) or 0
        raise BadInput("snapshot.empty", f"Form {form_id!r} has no submissions yet"
                       + (f" but {encrypted} encrypted one(s)." if encrypted else "."),
                       fix=("Decrypt them with the project's passphrase: citizendata export "
                            "--decrypt --out FOLDER (docs/openrosa.md section 13)."
                            if encrypted else None))
    schema = analysis_schema(merged_schema(db, form), include_personal)

    def counted() -> Iterator[pa.RecordBatch]:
        for b in export_batches(db, form.id, withdrawn_scope=consent_spec(project).analysis):
            if progress:
                progress(b.num_rows)
            yield b

    return build_snapshot(counted(), schema, out_dir, created_at=created_at)


def audit_snapshot(db: Session, actor: Actor | None, slug: str, form_id: str,
                   info: SnapshotInfo, include_personal: bool, built: bool = True) -> None:
    """Record a snapshot in the audit log (kept apart so the long read holds no write lock);
    ``built`` False: an export handed out the workspace's snapshot of the same content."""
    project, _ = project_for(db, actor, slug, Action.DATA_EXPORT)
    audit(db, actor, "snapshot.create", "form", form_id, project_id=project.id,
          details={"path": str(info.path), "rows": info.tables[info.main].rows,
                   "include_personal": include_personal, "built": built,
                   "tables": {k: v.sha256 for k, v in info.tables.items()}})
