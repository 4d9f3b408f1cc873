"""Decrypting a form's encrypted submissions for a snapshot, with the project's passphrase.

The passphrase opens the project's sealed private keys in memory for one call; it is
never stored or logged, and neither is anything decrypted: the answers go straight
into the snapshot (like any submission's), the media into the snapshot folder, and a
``decryption.json`` beside them names each submission that could not be decrypted
(instance id and coded problem, never content). A submission with a bad signature or a
damaged file is left out and named; the rest still decrypt.

Decrypted rows carry ``_id`` = minus the encrypted submission's number, so they never
collide with the ids of submissions stored in the clear.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from citizendata.auth import Actor
from citizendata.config import DEFAULT_MAX_DEPTH
from citizendata.errors import BadInput, Problem, Where
from citizendata.forms.schema import FormSchema
from citizendata.ingest import encrypted as enc
from citizendata.ingest.openrosa import _parse_xml, parse_instance_xml
from citizendata.ingest.payload import IncomingSubmission
from citizendata.services.access import audit, form_in
from citizendata.services.consent import consent_spec
from citizendata.services.encryption import unlock_keys
from citizendata.services.forms import merged_schema
from citizendata.services.intake import tombstones
from citizendata.services.snapshots import analysis_schema, check_export, export_batches
from citizendata.snapshot import SnapshotInfo, build_snapshot
from citizendata.snapshot.synthetic import BATCH_SCHEMA
from citizendata.store.models import (
    ConsentWithdrawal,
    EncryptedFile,
    EncryptedSubmission,
    Form,
    FormVersion,
    Submission,
    User,
)

__all__ = ["DecryptedSnapshot", "audit_decrypted", "decrypt_form", "make_decrypted_snapshot"]


@dataclass
class DecryptedForm:
    """What decrypting a form's encrypted submissions gave."""

    rows: list[tuple[EncryptedSubmission, IncomingSubmission, dict[str, bytes]]] = field(
        default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    left_out: int = 0  # withdrawn, erased, or edits of a buried submission


@dataclass(frozen=True)
class DecryptedSnapshot:
    """A snapshot made with the passphrase: how many decrypted, and what could not be."""

    info: SnapshotInfo
    decrypted: int
    problems: tuple[Problem, ...]
    left_out: int
    media: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready summary (instance ids and codes only)."""
        return {"path": str(self.info.path), "rows": self.info.tables[self.info.main].rows,
                "decrypted": self.decrypted, "left_out": self.left_out,
                "problems": [p.to_dict() for p in self.problems], "media": list(self.media)}


def _decrypt_one(row: EncryptedSubmission, files: dict[str, bytes],
                 keys: list[rsa.RSAPrivateKey], form: Form, schema: FormSchema
                 ) -> tuple[IncomingSubmission, dict[str, bytes]]:
    env = enc.parse_envelope(_parse_xml(row.envelope, DEFAULT_MAX_DEPTH))
    plain = enc.decrypt_submission(env, files, keys)
    form_id, item = parse_instance_xml(plain.xml, lambda _f, _v: schema)
    if form_id != form.xml_form_id or item.instance_id != env.instance_id:
        raise enc.DecryptionFailed(Problem(
            "encryption.instance_mismatch",
            f"The manifest names {env.instance_id!r} of form {env.form_id!r}, the decrypted "
            f"instance {item.instance_id!r} of form {form_id!r}",
            where=Where(instance_id=row.instance_id)))
    return item, plain.media


def decrypt_form(db: Session, form: Form, schema: FormSchema, passphrase: str,
                 withdrawn_scope: str | None) -> DecryptedForm:
    """Decrypt every encrypted submission of the form that the passphrase's keys open."""
    out = DecryptedForm()
    rows = list(db.scalars(select(EncryptedSubmission).where(
        EncryptedSubmission.form_id == form.id).order_by(EncryptedSubmission.id)))
    if not rows:
        return out
    keys = unlock_keys(db, form.project_id, passphrase)
    files: dict[int, dict[str, bytes]] = {}
    for sid, name, data in db.execute(
            select(EncryptedFile.encrypted_submission_id, EncryptedFile.name, EncryptedFile.data)
            .join(EncryptedSubmission)
            .where(EncryptedSubmission.form_id == form.id)):
        files.setdefault(sid, {})[name] = data
    # one RSA unwrap, AES pass and XML parse per submission: there is no vector form of
    # this, and encrypted submissions are few beside the ones stored in the clear
    for row in rows:
        if not row.envelope:  # erased: nothing is left to decrypt
            out.left_out += 1
            continue
        try:
            item, media = _decrypt_one(row, files.get(row.id, {}), keys, form, schema)
        except enc.DecryptionFailed as exc:
            out.problems.append(exc.problem)
            continue
        except BadInput as exc:  # the decrypted instance does not fit the form
            out.problems.append(Problem(exc.code, exc.message, where=Where(
                instance_id=row.instance_id), fix=exc.fix))
            continue
        out.rows.append((row, item, media))
    _leave_out_buried(db, form, out, withdrawn_scope)
    return out


def _leave_out_buried(db: Session, form: Form, out: DecryptedForm,
                      scope: str | None) -> None:
    """Rules that need the answers: edits of buried submissions, consent withdrawals."""
    named = sorted({r[1].deprecated_id for r in out.rows if r[1].deprecated_id}
                   | {r[1].instance_id for r in out.rows})
    buried = set(tombstones(db, form.id, named)) if named else set()
    withdrawn: set[str] = set()
    if scope is not None and named:
        withdrawn = set(db.scalars(select(ConsentWithdrawal.instance_id).where(
            ConsentWithdrawal.form_id == form.id, ConsentWithdrawal.instance_id.in_(named),
            ConsentWithdrawal.scope.in_(["all", scope]))))
    gone = buried | withdrawn
    kept = [r for r in out.rows if r[1].instance_id not in gone
            and (r[1].deprecated_id or "") not in buried]
    out.left_out += len(out.rows) - len(kept)
    out.rows = kept


def _batch(db: Session, decrypted: DecryptedForm) -> pa.RecordBatch:
    """The decrypted submissions as one batch shaped like the store's export batches."""
    versions = dict(db.execute(select(FormVersion.id, FormVersion.version).where(
        FormVersion.id.in_({r[0].form_version_id for r in decrypted.rows}))).all())
    users = dict(db.execute(select(User.id, User.username).where(
        User.id.in_({r[0].submitter_id for r in decrypted.rows if r[0].submitter_id}))).all())
    cols: dict[str, list[Any]] = {
        "_id": [-r.id for r, _, _ in decrypted.rows],
        "_instance_id": [it.instance_id for _, it, _ in decrypted.rows],
        "_form_version": [it.form_version or versions[r.form_version_id]
                          for r, it, _ in decrypted.rows],
        "_submitter": [users.get(r.submitter_id) if r.submitter_id else None
                       for r, _, _ in decrypted.rows],
        "_collected_at": [it.collected_at for _, it, _ in decrypted.rows],
        "_received_at": [r.received_at for r, _, _ in decrypted.rows],
        "_review_status": ["received"] * len(decrypted.rows),
        "payload": [json.dumps(it.payload, ensure_ascii=False) for _, it, _ in decrypted.rows],
    }
    return pa.RecordBatch.from_pydict(cols, schema=BATCH_SCHEMA)


_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def _write_media(out_dir: Path, decrypted: DecryptedForm) -> list[str]:
    written = []
    for _, item, media in decrypted.rows:
        folder = out_dir / "media" / _UNSAFE.sub("_", item.instance_id)
        for name, data in media.items():
            folder.mkdir(parents=True, exist_ok=True)
            path = folder / _UNSAFE.sub("_", name)
            path.write_bytes(data)
            written.append(str(path.relative_to(out_dir)))
    return written


def make_decrypted_snapshot(
    db: Session, actor: Actor | None, slug: str, form_id: str, out_dir: Path, passphrase: str,
    *, include_personal: bool = False, created_at: datetime | None = None,
    progress: Callable[[int], None] | None = None,
) -> DecryptedSnapshot:
    """A snapshot of every submission, the encrypted ones decrypted with the passphrase.

    Decrypted media are written under ``media/`` only with ``include_personal`` (a photo
    or a recording may show who answered).
    """
    project, _ = check_export(db, actor, slug, form_id, include_personal)
    form = form_in(db, project, form_id)
    merged = merged_schema(db, form)
    scope = consent_spec(project).analysis
    decrypted = decrypt_form(db, form, merged, passphrase, scope)
    plain = db.scalar(select(func.count()).select_from(Submission)
                      .where(Submission.form_id == form.id)) or 0
    if not plain and not decrypted.rows:
        raise BadInput("snapshot.empty", f"Form {form_id!r} has no submissions that could be "
                       "decrypted or read.", problems=decrypted.problems)
    out_dir = Path(out_dir)

    def batches() -> Iterator[pa.RecordBatch]:
        for b in (export_batches(db, form.id, withdrawn_scope=scope) if plain else ()):
            if progress:
                progress(b.num_rows)
            yield b
        if decrypted.rows:
            yield _batch(db, decrypted)

    info = build_snapshot(batches(), analysis_schema(merged, include_personal), out_dir,
                          created_at=created_at)
    media = _write_media(out_dir, decrypted) if include_personal else []
    report = DecryptedSnapshot(info, len(decrypted.rows), tuple(decrypted.problems),
                               decrypted.left_out, tuple(media))
    summary = {k: v for k, v in report.to_dict().items() if k != "path"}
    (out_dir / "decryption.json").write_text(json.dumps(summary, indent=2), encoding="utf-8")
    return report


def audit_decrypted(db: Session, actor: Actor | None, slug: str, form_id: str,
                    report: DecryptedSnapshot, include_personal: bool) -> None:
    """Record a decrypting snapshot (kept apart so the long read holds no write lock)."""
    project, _ = check_export(db, actor, slug, form_id, include_personal)
    info = report.info
    audit(db, actor, "snapshot.create", "form", form_id, project_id=project.id,
          details={"path": str(info.path), "rows": info.tables[info.main].rows,
                   "include_personal": include_personal, "built": True,
                   "decrypted": report.decrypted,
                   "undecryptable": [p.where.instance_id for p in report.problems
                                     if p.where is not None]})
