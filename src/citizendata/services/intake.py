"""Storing submissions, idempotently (ODK Central semantics), whatever channel they came by.

A resend with the same instance id and the same content is accepted once and
answered with the existing id; the same instance id with other content is a
conflict and nothing is written. A request or a file is all or nothing.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from citizendata.auth import Action, Actor
from citizendata.errors import BadInput, Conflict, Problem, Where
from citizendata.ingest.payload import IncomingSubmission, content_hash
from citizendata.services.access import audit, project_for
from citizendata.services.forms import version_row
from citizendata.store.models import Attachment, Form, FormVersion, IntakeBatch, Submission, utcnow

__all__ = ["IntakeResult", "StoredAttachment", "store_submissions"]


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


def same_content(stored: Any, incoming: dict[str, Any]) -> bool:
    """True if a stored payload equals an incoming one (JSON text or object)."""
    if isinstance(stored, str):
        stored = json.loads(stored)
    return bool(stored == incoming)


def resolve_versions(
    db: Session, form: Form, items: Sequence[IncomingSubmission]
) -> dict[str | None, int]:
    """Map each stated form version (None = newest) to its id; unknown versions are problems."""
    rows = db.execute(select(FormVersion.version, FormVersion.id)
                      .where(FormVersion.form_id == form.id).order_by(FormVersion.id)).all()
    known: dict[str | None, int] = {v: i for v, i in rows}
    known[None] = rows[-1][1]
    problems = [
        Problem("not_found.form_version",
                f"Form {form.xml_form_id!r} has no version {it.form_version!r}.",
                where=Where(instance_id=it.instance_id),
                fix=f"Known versions: {[v for v, _ in rows]}.")
        for it in items if it.form_version not in known
    ]
    if problems:
        raise BadInput("intake.invalid_submission",
                       f"{len(problems)} submission(s) name an unknown form version; "
                       "nothing was stored.", problems=problems)
    return known


def _existing(db: Session, form_id: int, instance_ids: list[str]) -> dict[str, tuple[int, str, Any]]:
    out: dict[str, tuple[int, str, Any]] = {}
    for start in range(0, len(instance_ids), 5000):
        chunk = instance_ids[start:start + 5000]
        for iid, sid, h, payload in db.execute(
            select(Submission.instance_id, Submission.id, Submission.content_hash,
                   Submission.payload)
            .where(Submission.form_id == form_id, Submission.instance_id.in_(chunk))
        ):
            out[iid] = (sid, h, payload)
    return out


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
) -> IntakeResult:
    """Store submissions of one form; duplicates are answered with the existing ids."""
    project, _ = project_for(db, actor, slug, Action.SUBMISSION_CREATE)
    form, _latest = version_row(db, project, form_id, None)
    versions = resolve_versions(db, form, items)
    hashes = [content_hash(it.payload) for it in items]
    existing = _existing(db, form.id, [it.instance_id for it in items])
    conflicts = [
        it.instance_id for it, h in zip(items, hashes, strict=True)
        if it.instance_id in existing and existing[it.instance_id][1] != h
        and not same_content(existing[it.instance_id][2], it.payload)
    ]
    if conflicts:
        raise Conflict(
            "conflict.submission",
            f"{len(conflicts)} submission(s) reuse an instance id with different content: "
            f"{', '.join(conflicts[:5])}{' …' if len(conflicts) > 5 else ''}. Nothing was stored.",
            where=Where(instance_id=conflicts[0]),
            details={"instance_ids": conflicts},
        )
    new = [(i, it) for i, it in enumerate(items) if it.instance_id not in existing]
    batch_id = None
    if len(items) > 1 or filename is not None:
        batch = IntakeBatch(project_id=project.id, form_id=form.id, channel=channel,
                            filename=filename, sha256=sha256, n_received=len(items),
                            n_created=len(new), n_duplicates=len(items) - len(new),
                            actor_id=actor.user_id if actor else None)
        db.add(batch)
        db.flush()
        batch_id = batch.id
    now = utcnow()
    rows = [
        {"project_id": project.id, "form_id": form.id,
         "form_version_id": versions[it.form_version], "instance_id": it.instance_id,
         "payload": it.payload, "content_hash": hashes[i],
         "submitter_id": actor.user_id if actor else None, "collected_at": it.collected_at,
         "received_at": now, "review_status": "received", "channel": channel,
         "batch_id": batch_id, "deprecated_id": it.deprecated_id,
         "source_meta": it.source_meta or None}
        for i, it in new
    ]
    new_ids: dict[str, int] = {}
    if rows:
        result = db.execute(insert(Submission).returning(Submission.id, Submission.instance_id,
                                                         sort_by_parameter_order=True), rows)
        new_ids = {iid: sid for sid, iid in result}
    for i, it in enumerate(items):
        sid = new_ids.get(it.instance_id) or existing[it.instance_id][0]
        # ODK Collect splits big submissions over several identical posts, each with more
        # media: keep every attachment name once
        for att in _unseen(db, sid, attachments[i] if i < len(attachments) else ()):
            _add_attachment(db, sid, att)
    ids = tuple(new_ids.get(it.instance_id) or existing[it.instance_id][0] for it in items)
    dup_ids = tuple(it.instance_id for it in items if it.instance_id in existing)
    if len(items) == 1 and new:
        audit(db, actor, "submission.create", "submission", ids[0], project_id=project.id,
              details={"form_id": form_id, "channel": channel,
                       "instance_id": items[0].instance_id})
    elif batch_id is not None:
        audit(db, actor, "intake.batch", "intake_batch", batch_id, project_id=project.id,
              details={"form_id": form_id, "channel": channel, "received": len(items),
                       "created": len(new), "duplicates": len(dup_ids), "filename": filename,
                       "sha256": sha256})
    return IntakeResult(form_id, batch_id, len(new), len(dup_ids), ids,
                        tuple(it.instance_id for it in items), dup_ids)


def _unseen(db: Session, submission_id: int, atts: Sequence[StoredAttachment]
            ) -> list[StoredAttachment]:
    if not atts:
        return []
    have = set(db.scalars(select(Attachment.name).where(Attachment.submission_id == submission_id)))
    return [a for a in atts if a.name not in have]


def _add_attachment(db: Session, submission_id: int, att: StoredAttachment) -> None:
    db.add(Attachment(submission_id=submission_id, name=att.name,
                      content_type=att.content_type, size=len(att.data),
                      sha256=hashlib.sha256(att.data).hexdigest(), data=att.data))

