"""Storing submissions, idempotently (ODK Central semantics), whatever channel they came by.

A resend with the same instance id and the same content is accepted once and
answered with the existing id; the same instance id with other content is a
conflict and nothing is written. A request or a file is all or nothing.

An instance id with a tombstone (its respondent withdrew all consent, or had the
answers erased: services.consent) is never stored again, and neither is an edit of
it (meta/deprecatedID): such a submission is answered like a duplicate, so ODK
Collect stops resending it, and nothing of it is written but the instance id and
content hash of a refused edit (a new tombstone, so the edit's own edits are refused
too) and an audit line naming the instance id.

Single submissions are the hot path of ODK Collect and JSON clients: the project,
the caller's role, the form and its versions come from one query, and parsed form
schemas are cached by the content hash of their XLSForms.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

from sqlalchemy import Table, insert, select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from citizendata.auth import Action, Actor, check
from citizendata.config import DEFAULT_MAX_DEPTH
from citizendata.errors import BadInput, Conflict, NotFound, Problem, Where
from citizendata.forms.schema import FormSchema
from citizendata.ingest.payload import IncomingSubmission, content_hash
from citizendata.services.access import require_actor
from citizendata.services.forms import merged_from
from citizendata.store.models import (
    Attachment,
    AuditEvent,
    ConsentWithdrawal,
    FormVersion,
    IntakeBatch,
    Submission,
    Tombstone,
    utcnow,
)

__all__ = ["FormContext", "IntakeResult", "StoredAttachment", "form_context",
           "refuse_buried", "store_instance_xml", "store_submissions", "tombstones"]


@dataclass(frozen=True)
class StoredAttachment:
    """A file that came with a submission (OpenRosa media, the original XML)."""

    name: str
    content_type: str
    data: bytes


@dataclass(frozen=True)
class IntakeResult:
    """What happened to a request or file: ids in input order, created and duplicate counts."""

    form_id: str
    batch_id: int | None
    created: int
    duplicates: int
    ids: tuple[int, ...] = ()
    instance_ids: tuple[str, ...] = ()
    duplicate_instance_ids: tuple[str, ...] = field(default=(), repr=False)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready summary."""
        return {"form_id": self.form_id, "batch_id": self.batch_id, "created": self.created,
                "duplicates": self.duplicates, "ids": list(self.ids)}


@dataclass(frozen=True)
class FormContext:
    """A form as one caller may use it: project, role, versions and the merged schema."""

    project_id: int
    slug: str
    role: str
    form_pk: int
    form_id: str
    versions: dict[str | None, int]  # version string → id; None → the newest
    schema: FormSchema
    has_tombstones: bool = True  # False only when known to have none
    has_encrypted: bool = True  # likewise for encrypted submissions


_CONTEXT_SQL = text(
    "SELECT p.id, m.role, f.id, fv.id, fv.version, fv.sha256, "
    # whether the form has buried instance ids at all: most never do, and then the hot
    # path needs no query of its own for them
    "(SELECT 1 FROM submission_tombstones t WHERE t.form_id = f.id LIMIT 1), "
    # likewise whether it holds encrypted submissions, whose instance ids are taken too
    "(SELECT 1 FROM encrypted_submissions e WHERE e.form_id = f.id LIMIT 1) "
    "FROM projects p "
    "LEFT JOIN memberships m ON m.project_id = p.id AND m.user_id = :uid "
    "LEFT JOIN forms f ON f.project_id = p.id AND f.xml_form_id = :form "
    "LEFT JOIN form_versions fv ON fv.form_id = f.id "
    "WHERE p.slug = :slug ORDER BY fv.id"
)

_AUDIT = cast(Table, AuditEvent.__table__)

def form_context(db: Session, actor: Actor | None, slug: str, form_id: str,
                 action: Action = Action.SUBMISSION_CREATE) -> FormContext:
    """The form for a caller allowed ``action`` (404 for non-members, as everywhere)."""
    actor = require_actor(actor)
    rows = db.execute(_CONTEXT_SQL, {"uid": actor.user_id, "form": form_id, "slug": slug}).all()
    role = rows[0][1] if rows else None
    check(role, action, project_slug=slug)
    if rows[0][2] is None:
        raise NotFound("not_found.form", f"Project {slug!r} has no form {form_id!r}.")
    if rows[0][3] is None:
        raise NotFound("not_found.form_version", f"Form {form_id!r} has no version.")
    versions: dict[str | None, int] = {r[4]: r[3] for r in rows}
    versions[None] = rows[-1][3]
    schema = merged_from(db, [r[3] for r in rows], tuple(r[5] for r in rows))
    return FormContext(rows[0][0], slug, str(role), rows[0][2], form_id, versions, schema,
                       rows[0][6] is not None, rows[0][7] is not None)


def same_content(stored: Any, incoming: dict[str, Any]) -> bool:
    """True if a stored payload holds the same answers as an incoming one.

    Channels write the same answer differently: JSON may send the number 80 where CSV and
    XML send the text "80", CSV leaves an empty cell where XML sends an empty element.
    Both sides are compared in the XForm's text form, so a resend by another channel is
    recognised; what is stored is never changed.
    """
    if isinstance(stored, str):
        stored = json.loads(stored)
    return bool(stored == incoming) or _lexical(stored) == _lexical(incoming)


def _lexical(value: Any) -> Any:
    """A payload in XForm text form: numbers and booleans as text, empty as None."""
    if isinstance(value, dict):
        return {k: v for k, v in ((k, _lexical(v)) for k, v in value.items()) if v is not None}
    if isinstance(value, list):
        if all(not isinstance(v, (dict, list)) for v in value):
            return " ".join(str(_lexical(v)) for v in value) or None  # select_multiple
        return [_lexical(v) for v in value]
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (int, float)):
        return str(value)
    return None if value == "" else value


_KOBO_VERSION_KEYS = ("__version__", "_version_")


def _answered(payload: Any, prefix: str = "") -> tuple[set[str], dict[str, set[str]]]:
    """The field paths a payload answers, and every answer's words (for choice values)."""
    paths: set[str] = set()
    words: dict[str, set[str]] = {}
    items = payload if isinstance(payload, list) else [payload]
    for item in items:
        if not isinstance(item, dict):
            continue
        for key, value in item.items():
            path = f"{prefix}/{key}" if prefix else str(key)
            if isinstance(value, (dict, list)) and not (
                    isinstance(value, list) and all(isinstance(v, str) for v in value)):
                more, more_words = _answered(value, path)
                paths |= more
                for p, w in more_words.items():
                    words.setdefault(p, set()).update(w)
            elif value not in (None, "", []):
                paths.add(path)
                text = " ".join(value) if isinstance(value, list) else str(value)
                words.setdefault(path, set()).update(text.split())
    return paths, words


def _kobo_versions(db: Session, ctx: FormContext,
                   items: list[IncomingSubmission]) -> list[IncomingSubmission]:
    """Items whose version is KoboToolbox's own id (``__version__``), matched to a form
    version by what they answer, as the tabular import does; never refused for it."""
    from dataclasses import replace

    from citizendata.ingest.exports import choose_version, shape_of

    odd = [it for it in items if it.form_version not in ctx.versions and any(
        it.source_meta.get(k) == it.form_version for k in _KOBO_VERSION_KEYS)]
    if not odd:
        return items
    ids = sorted({i for v, i in ctx.versions.items() if v is not None})
    rows = db.execute(select(FormVersion.schema).where(FormVersion.id.in_(ids))
                      .order_by(FormVersion.id)).scalars().all()
    shapes = tuple(shape_of(FormSchema.from_dict(r)) for r in rows)
    by_id: dict[str | None, tuple[set[str], dict[str, set[str]]]] = {}
    for it in odd:
        used, words = by_id.setdefault(it.form_version, (set(), {}))
        paths, more = _answered(it.payload)
        used |= paths
        for p, w in more.items():
            words.setdefault(p, set()).update(w)
    chosen = {vid: choose_version(used, {p: w for p, w in words.items()
                                         if any(p in s.choices for s in shapes)}, shapes)
              for vid, (used, words) in by_id.items()}
    odd_ids = {id(it) for it in odd}
    return [replace(it, form_version=chosen[it.form_version]) if id(it) in odd_ids else it
            for it in items]


def check_versions(ctx: FormContext, items: Sequence[IncomingSubmission]) -> None:
    known = [v for v in ctx.versions if v is not None]
    problems = [
        Problem("not_found.form_version",
                f"Form {ctx.form_id!r} has no version {it.form_version!r}.",
                where=Where(instance_id=it.instance_id), fix=f"Known versions: {known}.")
        for it in items if it.form_version not in ctx.versions
    ]
    if problems:
        raise BadInput("intake.invalid_submission",
                       f"{len(problems)} submission(s) name an unknown form version; "
                       "nothing was stored.", problems=problems)


def _existing(db: Session, form_pk: int, instance_ids: list[str]) -> dict[str, tuple[int, str]]:
    out: dict[str, tuple[int, str]] = {}
    for start in range(0, len(instance_ids), 5000):
        chunk = instance_ids[start:start + 5000]
        for iid, sid, h in db.execute(
            select(Submission.instance_id, Submission.id, Submission.content_hash)
            .where(Submission.form_id == form_pk, Submission.instance_id.in_(chunk))
        ):
            out[iid] = (sid, h)
    return out


def _conflicts(db: Session, items: Sequence[IncomingSubmission], hashes: list[str],
               existing: dict[str, tuple[int, str]]) -> list[str]:
    differing = {it.instance_id: it for it, h in zip(items, hashes, strict=True)
                 if it.instance_id in existing and existing[it.instance_id][1] != h}
    if not differing:
        return []
    stored: dict[int, Any] = dict(db.execute(select(Submission.id, Submission.payload).where(
        Submission.id.in_([existing[i][0] for i in differing]))).all())
    return [iid for iid, it in differing.items()
            if not same_content(stored[existing[iid][0]], it.payload)]


# the longest instance id a column holds; "." and ".." cannot be a path segment of a URL
MAX_INSTANCE_ID = 255
_UNADDRESSABLE = frozenset({".", ".."})


def check_instance_ids(ids: Sequence[tuple[str, str | None]]) -> None:
    """Refuse instance ids (and deprecatedIDs) that could not be stored or addressed."""
    problems = [
        Problem("intake.invalid_instance_id",
                f"The {what} {value[:40]!r}{'…' if len(value) > 40 else ''} is "
                + (f"longer than {MAX_INSTANCE_ID} characters" if len(value) > MAX_INSTANCE_ID
                   else "not usable as an id (it is a URL path step)"),
                where=Where(instance_id=iid[:MAX_INSTANCE_ID]),
                fix="Give each submission a unique id such as uuid:<a random UUID>.")
        for iid, dep in ids
        for what, value in (("instance id", iid), ("deprecatedID", dep or ""))
        if len(value) > MAX_INSTANCE_ID or value in _UNADDRESSABLE
    ]
    if problems:
        raise BadInput("intake.invalid_instance_id" if len(problems) == 1
                       else "intake.invalid_submission",
                       f"{len(problems)} instance id(s) cannot be stored; nothing was stored. "
                       + "; ".join(p.message for p in problems[:5]), problems=problems,
                       where=problems[0].where, fix=problems[0].fix)


@dataclass(frozen=True)
class Buried:
    """Why an incoming instance id is refused: the envelope it belongs to, and whether its
    tombstone exists already or is written now (an edit of a buried submission)."""

    submission_id: int
    reason: str
    new: bool = False


def tombstones(db: Session, form_pk: int, instance_ids: Sequence[str]) -> dict[str, Buried]:
    """The tombstones among these instance ids of the form."""
    out: dict[str, Buried] = {}
    for start in range(0, len(instance_ids), 5000):
        for iid, sid, reason in db.execute(
                select(Tombstone.instance_id, Tombstone.submission_id, Tombstone.reason)
                .where(Tombstone.form_id == form_pk,
                       Tombstone.instance_id.in_(instance_ids[start:start + 5000]))):
            out[iid] = Buried(sid, reason)
    return out


def _buried_items(db: Session, form_pk: int, items: Sequence[IncomingSubmission]
                  ) -> dict[str, Buried]:
    """Incoming instance ids that are buried, or edits of one (also within this batch)."""
    named = {it.instance_id for it in items} | {it.deprecated_id for it in items
                                                if it.deprecated_id}
    refs = tombstones(db, form_pk, sorted(named))
    if not refs:
        return {}
    out: dict[str, Buried] = {}
    grew = True
    while grew:  # an edit of an edit in the same batch is refused too
        grew = False
        for it in items:
            if it.instance_id in out:
                continue
            if it.instance_id in refs:
                out[it.instance_id] = refs[it.instance_id]
            elif it.deprecated_id in refs:
                parent = refs[it.deprecated_id]
                out[it.instance_id] = refs[it.instance_id] = Buried(
                    parent.submission_id, parent.reason, new=True)
            else:
                continue
            grew = True
    return out


def _bury_edits(db: Session, ctx: FormContext, buried: dict[str, Buried],
                hashes: dict[str, str]) -> None:
    """Tombstones for refused edits, so that their own later edits are refused too."""
    rows = [{"project_id": ctx.project_id, "form_id": ctx.form_pk, "instance_id": iid,
             "content_hash": hashes[iid], "submission_id": b.submission_id,
             "reason": b.reason, "at": utcnow()} for iid, b in buried.items() if b.new]
    if rows:
        table = cast(Table, Tombstone.__table__)
        db.execute(_INSERT_IGNORING[db.get_bind().dialect.name](table), rows)


def _inherit_withdrawals(db: Session, ctx: FormContext, created: Sequence[IncomingSubmission],
                         new_ids: dict[str, int]) -> None:
    """An edit of a submission whose consent is partly withdrawn stays withdrawn alike."""
    parents = {it.deprecated_id: it for it in created if it.deprecated_id}
    for w in db.scalars(select(ConsentWithdrawal).where(
            ConsentWithdrawal.form_id == ctx.form_pk,
            ConsentWithdrawal.instance_id.in_(list(parents)))):
        child = parents[w.instance_id]
        db.add(ConsentWithdrawal(project_id=w.project_id, form_id=w.form_id,
                                 submission_id=new_ids[child.instance_id],
                                 instance_id=child.instance_id, scope=w.scope, basis=w.basis,
                                 erased=False, recorded_by=w.recorded_by))


def refuse_buried(db: Session, actor: Actor | None, slug: str, form_id: str,
                  instance_id: str, deprecated_id: str | None, *, channel: str,
                  received_hash: str, context: FormContext | None = None
                  ) -> IntakeResult | None:
    """Answer a buried submission before its content is read, else None.

    ODK Collect resends what it holds; the answer must not depend on whether the
    content still parses against the form (it may have changed since).
    """
    ctx = context or form_context(db, actor, slug, form_id)
    check_instance_ids([(instance_id, deprecated_id)])
    item = IncomingSubmission(instance_id, {}, None, None, deprecated_id)
    buried = _buried_items(db, ctx.form_pk, [item]) if ctx.has_tombstones else {}
    if not buried:
        return None
    _bury_edits(db, ctx, buried, {instance_id: received_hash})
    ids = (buried[instance_id].submission_id,)
    _audit_intake(db, actor, ctx, None, channel, [item], ids, 0, (instance_id,), 1, None, None)
    return IntakeResult(form_id, None, 0, 1, ids, (instance_id,), (instance_id,))


def store_instance_xml(db: Session, actor: Actor | None, slug: str, xml: bytes,
                       media: Sequence[StoredAttachment], *, channel: str = "openrosa",
                       xml_part: str = "xml_submission_file",
                       max_depth: int = DEFAULT_MAX_DEPTH) -> IntakeResult:
    """Store one XForm instance (OpenRosa) with its media, the XML kept as an attachment."""
    from citizendata.ingest.openrosa import instance_head, parse_instance_xml
    from citizendata.services.encryption import encrypted_root, store_encrypted

    manifest = encrypted_root(xml, max_depth)
    if manifest is not None:  # ODK encryption: stored as received, decrypted on export
        return store_encrypted(db, actor, slug, manifest, xml, media, channel=channel)
    head = instance_head(xml, max_depth=max_depth)
    ctx: FormContext | None = None
    if head is not None:
        ctx = form_context(db, actor, slug, head[0])
        refused = refuse_buried(db, actor, slug, *head, channel=channel, context=ctx,
                                received_hash=hashlib.sha256(xml).hexdigest())
        if refused is not None:
            return refused

    def schema_for(form_id: str, _version: str | None) -> FormSchema:
        # the union over all versions parses any version's instance; the stated version
        # is checked when storing
        nonlocal ctx
        if ctx is None or ctx.form_id != form_id:
            ctx = form_context(db, actor, slug, form_id)
        return ctx.schema

    form_id, item = parse_instance_xml(xml, schema_for, max_depth=max_depth)
    attachments = [StoredAttachment(xml_part, "text/xml", xml), *media]
    return store_submissions(db, actor, slug, form_id, [item], channel=channel,
                             attachments=[attachments], context=ctx)


def _refuse_encrypted_ids(db: Session, ctx: FormContext,
                          items: Sequence[IncomingSubmission]) -> None:
    """An instance id already received encrypted cannot come again in the clear."""
    from citizendata.store.models import EncryptedSubmission

    ids = [it.instance_id for it in items]
    taken = sorted({iid for start in range(0, len(ids), 5000) for iid in db.scalars(
        select(EncryptedSubmission.instance_id).where(
            EncryptedSubmission.form_id == ctx.form_pk,
            EncryptedSubmission.instance_id.in_(ids[start:start + 5000])))})
    if taken:
        raise Conflict(
            "conflict.submission",
            f"{len(taken)} submission(s) reuse an instance id already received encrypted: "
            f"{', '.join(taken[:5])}{' …' if len(taken) > 5 else ''}. Nothing was stored.",
            where=Where(instance_id=taken[0]), details={"instance_ids": taken})


def _audit_row(actor: Actor | None, action: str, object_type: str, object_id: Any,
               project_id: int, details: dict[str, Any]) -> dict[str, Any]:
    return {"at": utcnow(), "actor_id": actor.user_id if actor else None,
            "actor": actor.username if actor else "system", "action": action,
            "project_id": project_id, "object_type": object_type, "object_id": str(object_id),
            "details": details}


def store_submissions(
    db: Session,
    actor: Actor | None,
    slug: str,
    form_id: str,
    items: Sequence[IncomingSubmission],
    *,
    channel: str,
    attachments: Sequence[Sequence[StoredAttachment]] = (),
    filename: str | None = None,
    sha256: str | None = None,
    context: FormContext | None = None,
) -> IntakeResult:
    """Store submissions of one form; duplicates are answered with the existing ids."""
    ctx = context or form_context(db, actor, slug, form_id)
    check_instance_ids([(it.instance_id, it.deprecated_id) for it in items])
    hashes = {it.instance_id: content_hash(it.payload) for it in items}
    buried = _buried_items(db, ctx.form_pk, items) if ctx.has_tombstones else {}
    live = [it for it in items if it.instance_id not in buried]
    live = _kobo_versions(db, ctx, live)
    check_versions(ctx, live)
    if ctx.has_encrypted:
        _refuse_encrypted_ids(db, ctx, live)
    batch = None
    if len(items) > 1 or filename is not None:
        batch = IntakeBatch(project_id=ctx.project_id, form_id=ctx.form_pk, channel=channel,
                            filename=filename, sha256=sha256, n_received=len(items),
                            actor_id=actor.user_id if actor else None)
        db.add(batch)
        db.flush()
    if buried:
        _bury_edits(db, ctx, buried, hashes)
    new_ids = _insert_new(db, ctx, actor, live, hashes, channel, batch.id if batch else None)
    # resends: what the insert skipped is either identical (answered with its id) or a
    # conflict (raised, and the transaction's rollback undoes the rows inserted above)
    resent = [it for it in live if it.instance_id not in new_ids]
    existing = _existing(db, ctx.form_pk, [it.instance_id for it in resent]) if resent else {}
    conflicts = _conflicts(db, resent, [hashes[it.instance_id] for it in resent], existing)
    if conflicts:
        raise Conflict(
            "conflict.submission",
            f"{len(conflicts)} submission(s) reuse an instance id with different content: "
            f"{', '.join(conflicts[:5])}{' …' if len(conflicts) > 5 else ''}. Nothing was stored.",
            where=Where(instance_id=conflicts[0]),
            details={"instance_ids": conflicts},
        )
    known = {**{i: sid for i, (sid, _) in existing.items()},
             **{i: b.submission_id for i, b in buried.items()}, **new_ids}
    ids = tuple(known[it.instance_id] for it in items)
    if attachments:
        # nothing comes with a buried submission, not even its media
        _store_attachments(db, ids, [() if it.instance_id in buried else a
                                     for it, a in zip(items, attachments, strict=False)])
    if any(it.deprecated_id for it in live if it.instance_id in new_ids):
        _inherit_withdrawals(db, ctx, [it for it in live if it.instance_id in new_ids], new_ids)
    dup_ids = tuple(it.instance_id for it in items if it.instance_id not in new_ids)
    _audit_intake(db, actor, ctx, batch, channel, items, ids, len(new_ids), dup_ids,
                  len(buried), filename, sha256)
    return IntakeResult(form_id, batch.id if batch else None, len(new_ids), len(dup_ids), ids,
                        tuple(it.instance_id for it in items), dup_ids)


def _audit_intake(db: Session, actor: Actor | None, ctx: FormContext, batch: IntakeBatch | None,
                  channel: str, items: Sequence[IncomingSubmission], ids: tuple[int, ...],
                  created: int, dup_ids: tuple[str, ...], refused: int,
                  filename: str | None, sha256: str | None) -> None:
    """One audit line per request: the batch, a new submission or a refused resend."""
    if batch is not None:
        batch.n_created, batch.n_duplicates = created, len(dup_ids)
        details: dict[str, Any] = {
            "form_id": ctx.form_id, "channel": channel, "received": len(items),
            "created": created, "duplicates": len(dup_ids), "filename": filename,
            "sha256": sha256}
        if refused:
            details["refused"] = refused
        row = _audit_row(actor, "intake.batch", "intake_batch", batch.id, ctx.project_id, details)
    elif created:
        row = _audit_row(actor, "submission.create", "submission", ids[0], ctx.project_id,
                         {"form_id": ctx.form_id, "channel": channel,
                          "instance_id": items[0].instance_id})
    elif refused:
        row = _audit_row(actor, "submission.refused", "submission", ids[0], ctx.project_id,
                         {"form_id": ctx.form_id, "channel": channel,
                          "instance_id": items[0].instance_id})
    else:
        return
    db.execute(insert(_AUDIT), [row])


# INSERT … ON CONFLICT DO NOTHING, spelled by each dialect's own construct
_INSERT_IGNORING: dict[str, Callable[[Table], Any]] = {
    "postgresql": lambda t: pg_insert(t).on_conflict_do_nothing(
        index_elements=["form_id", "instance_id"]),
    "sqlite": lambda t: sqlite_insert(t).on_conflict_do_nothing(
        index_elements=["form_id", "instance_id"]),
}


def _insert_new(db: Session, ctx: FormContext, actor: Actor | None,
                items: Sequence[IncomingSubmission], hashes: dict[str, str], channel: str,
                batch_id: int | None) -> dict[str, int]:
    """Insert every submission whose instance id is new; returns instance id → new id."""
    now = utcnow()
    rows = [
        {"project_id": ctx.project_id, "form_id": ctx.form_pk,
         "form_version_id": ctx.versions[it.form_version], "instance_id": it.instance_id,
         "payload": it.payload, "content_hash": hashes[it.instance_id],
         "submitter_id": actor.user_id if actor else None, "collected_at": it.collected_at,
         "received_at": now, "review_status": "received", "channel": channel,
         "batch_id": batch_id, "deprecated_id": it.deprecated_id,
         "source_meta": it.source_meta or None}
        for it in items
    ]
    if not rows:
        return {}
    # Core insert on the table, not the ORM class: the hot path needs no unit of work
    table = cast(Table, Submission.__table__)
    stmt = _INSERT_IGNORING[db.get_bind().dialect.name](table)
    result = db.execute(stmt.returning(table.c.id, table.c.instance_id), rows)
    return {iid: sid for sid, iid in result}


def _store_attachments(db: Session, ids: tuple[int, ...],
                       attachments: Sequence[Sequence[StoredAttachment]]) -> None:
    # ODK Collect splits big submissions over several identical posts, each with more
    # media: keep every attachment name once
    for sid, atts in zip(ids, attachments, strict=False):
        if not atts:
            continue
        have = set(db.scalars(select(Attachment.name).where(Attachment.submission_id == sid)))
        for att in atts:
            if att.name in have:
                continue
            db.add(Attachment(submission_id=sid, name=att.name, content_type=att.content_type,
                              size=len(att.data), sha256=hashlib.sha256(att.data).hexdigest(),
                              data=att.data))
