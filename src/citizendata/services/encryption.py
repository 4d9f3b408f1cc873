"""Encrypted forms: the project's keys, and storing encrypted submissions as received.

Keys as ODK Central's managed encryption has them: a project owner or manager enables
encryption with a passphrase; the server generates an RSA-2048 key pair, keeps the
private key sealed under the passphrase (ingest/encrypted.py) and puts the public key
into every form the project serves. A form uploaded with its own ``public_key`` keeps
it; its owner registers the matching private key under a passphrase, and until then
its submissions are stored encrypted and wait.

An encrypted submission is stored exactly as received (the manifest and its ``.enc``
files) and is never decrypted at rest: services/decryption.py decrypts it in memory
when an authorised user supplies the passphrase for a snapshot. Intake rules that
need only the instance id apply on arrival (idempotent resends, conflicts, tombstones
of withdrawn or erased respondents); those that need the answers (the form's fields,
deprecatedID edits of a buried submission) apply when it is decrypted.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast
from xml.etree.ElementTree import Element

from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy import Table, delete, func, insert, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from citizendata.auth import Action, Actor
from citizendata.config import DEFAULT_MAX_DEPTH
from citizendata.errors import BadInput, Conflict, Where
from citizendata.ingest import encrypted as enc
from citizendata.ingest.payload import IncomingSubmission
from citizendata.services.access import audit, project_for
from citizendata.services.intake import (
    IntakeResult,
    StoredAttachment,
    check_versions,
    form_context,
    refuse_buried,
)
from citizendata.store.models import (
    AuditEvent,
    EncryptedFile,
    EncryptedSubmission,
    EncryptionKey,
    Form,
    FormVersion,
    Submission,
    utcnow,
)

__all__ = [
    "KeyInfo",
    "enable_managed",
    "encrypted_root",
    "encryption_status",
    "register_private_key",
    "served_xform",
    "store_encrypted",
    "unlock_keys",
]


@dataclass(frozen=True)
class KeyInfo:
    """One key of a project: which forms' submissions it opens, never the key itself."""

    id: int
    managed: bool
    fingerprint: str
    public_key: str
    has_private_key: bool
    hint: str | None
    created_at: datetime
    forms: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready summary."""
        return {"id": self.id, "managed": self.managed, "fingerprint": self.fingerprint,
                "public_key": self.public_key, "has_private_key": self.has_private_key,
                "hint": self.hint, "created_at": self.created_at.isoformat(),
                "forms": list(self.forms)}


_KEY_ATTR = re.compile(r'base64RsaPublicKey\s*=\s*"([^"]*)"')


def form_public_keys(db: Session, project_id: int) -> dict[str, str]:
    """Form id → the public key its newest version carries itself (pyxform ``public_key``)."""
    rows = db.execute(
        select(Form.xml_form_id, FormVersion.xform_xml).join(FormVersion,
                                                             FormVersion.form_id == Form.id)
        .where(Form.project_id == project_id).order_by(FormVersion.id)).all()
    out: dict[str, str] = {}
    for form_id, xml in rows:
        m = _KEY_ATTR.search(xml)
        if m and m.group(1).strip():
            out[form_id] = "".join(m.group(1).split())
        else:
            out.pop(form_id, None)
    return out


def _info(key: EncryptionKey, forms: dict[str, str]) -> KeyInfo:
    return KeyInfo(key.id, key.managed, key.fingerprint, key.public_key, key.sealed is not None,
                   key.hint, key.created_at,
                   tuple(sorted(f for f, pub in forms.items()
                                if enc.fingerprint(pub) == key.fingerprint)))


def _managed(db: Session, project_id: int) -> EncryptionKey | None:
    return db.scalar(select(EncryptionKey).where(EncryptionKey.project_id == project_id,
                                                 EncryptionKey.managed)
                     .order_by(EncryptionKey.id.desc()).limit(1))


def enable_managed(db: Session, actor: Actor | None, slug: str, passphrase: str,
                   hint: str | None = None, *, iterations: int = enc.KDF_ITERATIONS) -> KeyInfo:
    """Generate the project's key pair; its forms are served with the public key from now."""
    project, _ = project_for(db, actor, slug, Action.PROJECT_EDIT)
    if _managed(db, project.id) is not None:
        raise Conflict("conflict.exists", f"Project {slug!r} already has managed encryption.",
                       fix="Use the passphrase set then; encryption cannot be turned off, "
                           "so that no phone sends answers in the clear by mistake.")
    private = enc.generate_key_pair()
    sealed = enc.seal_private_key(private, passphrase, iterations=iterations)
    public = enc.public_key_b64(private)
    key = EncryptionKey(project_id=project.id, managed=True, public_key=public,
                        fingerprint=enc.fingerprint(public), sealed=sealed, hint=hint,
                        created_by=actor.user_id if actor else None)
    db.add(key)
    db.flush()
    audit(db, actor, "encryption.enable", "project", slug, project_id=project.id,
          details={"key_id": key.id, "fingerprint": key.fingerprint})
    return _info(key, form_public_keys(db, project.id))


def register_private_key(db: Session, actor: Actor | None, slug: str, private_pem: bytes,
                         passphrase: str, hint: str | None = None, *,
                         iterations: int = enc.KDF_ITERATIONS) -> KeyInfo:
    """Keep the private key of a form's own public key, sealed under the passphrase."""
    project, _ = project_for(db, actor, slug, Action.PROJECT_EDIT)
    private = enc.load_private_key(private_pem)
    public = enc.public_key_b64(private)
    fp = enc.fingerprint(public)
    forms = form_public_keys(db, project.id)
    if not any(enc.fingerprint(p) == fp for p in forms.values()):
        raise BadInput("encryption.unknown_key",
                       f"No form of project {slug!r} carries the public key of this private "
                       f"key (fingerprint {fp[:16]}…).",
                       fix="Register the private key that belongs to the public_key in the "
                           "form's settings sheet.")
    existing = db.scalar(select(EncryptionKey).where(EncryptionKey.project_id == project.id,
                                                     EncryptionKey.fingerprint == fp))
    if existing is not None and existing.sealed is not None:
        raise Conflict("conflict.exists", "This private key is registered already.")
    sealed = enc.seal_private_key(private, passphrase, iterations=iterations)
    key = existing or EncryptionKey(project_id=project.id, managed=False, public_key=public,
                                    fingerprint=fp, created_by=actor.user_id if actor else None)
    key.sealed, key.hint = sealed, hint
    db.add(key)
    db.flush()
    audit(db, actor, "encryption.register_key", "project", slug, project_id=project.id,
          details={"key_id": key.id, "fingerprint": fp})
    return _info(key, forms)


def encryption_status(db: Session, actor: Actor | None, slug: str) -> dict[str, Any]:
    """The project's keys, the forms carrying their own key, and what waits encrypted."""
    project, _ = project_for(db, actor, slug, Action.FORM_VIEW)
    forms = form_public_keys(db, project.id)
    keys = [_info(k, forms) for k in db.scalars(
        select(EncryptionKey).where(EncryptionKey.project_id == project.id)
        .order_by(EncryptionKey.id))]
    known = {k.fingerprint for k in keys if k.has_private_key}
    waiting = dict(db.execute(
        select(Form.xml_form_id, func.count()).join(EncryptedSubmission,
                                                    EncryptedSubmission.form_id == Form.id)
        .where(Form.project_id == project.id).group_by(Form.xml_form_id)).all())
    managed = next((k for k in keys if k.managed), None)
    return {"managed": managed.to_dict() if managed else None,
            "keys": [k.to_dict() for k in keys],
            "forms_with_own_key": {f: {"fingerprint": enc.fingerprint(p),
                                       "private_key_registered": enc.fingerprint(p) in known}
                                   for f, p in sorted(forms.items())},
            "encrypted_submissions": {f: int(n) for f, n in sorted(waiting.items())}}


def served_xform(db: Session, project_id: int, xml: str) -> str:
    """The XForm as served: with the managed public key, unless it carries its own key."""
    if _KEY_ATTR.search(xml):
        return xml
    key = _managed(db, project_id)
    if key is None:
        return xml
    attr = f'base64RsaPublicKey="{key.public_key}"'
    # pyxform writes <submission …/> in the model only for submission_url/public_key
    if re.search(r"<submission\b", xml):
        return re.sub(r"<submission\b", f"<submission {attr}", xml, count=1)
    return re.sub(r"</model>", f'<submission method="post" {attr}/></model>', xml, count=1)


def unlock_keys(db: Session, project_id: int, passphrase: str) -> list[rsa.RSAPrivateKey]:
    """The project's private keys this passphrase opens (coded errors when none)."""
    sealed = list(db.scalars(select(EncryptionKey.sealed).where(
        EncryptionKey.project_id == project_id, EncryptionKey.sealed.is_not(None))))
    if not sealed:
        raise BadInput("encryption.no_private_key",
                       "The project holds no private key to decrypt with.",
                       fix="Enable managed encryption, or register the private key of the "
                           "form's public_key (citizendata encryption register-key).")
    keys = [k for k in (enc.unseal_private_key(s, passphrase) for s in sealed) if k is not None]
    if not keys:
        raise BadInput("encryption.wrong_passphrase",
                       "The passphrase opens none of the project's keys; nothing was decrypted.")
    return keys


# -- intake ---------------------------------------------------------------------------

def encrypted_root(xml: bytes, max_depth: int = DEFAULT_MAX_DEPTH) -> Element | None:
    """The parsed manifest when the OpenRosa XML part is an encrypted submission, else None."""
    from citizendata.ingest.openrosa import _parse_xml

    # the hot path (plain instances) pays one substring search, not a second parse
    if b"encrypted" not in xml[:4096]:
        return None
    try:
        root = _parse_xml(xml, max_depth)
    except BadInput:
        return None  # parsing the instance itself says what is wrong
    return root if enc.is_envelope(root) else None


_INSERT_IGNORING: dict[str, Any] = {
    "postgresql": lambda t: pg_insert(t).on_conflict_do_nothing(
        index_elements=["form_id", "instance_id"]),
    "sqlite": lambda t: sqlite_insert(t).on_conflict_do_nothing(
        index_elements=["form_id", "instance_id"]),
}


def _check_parts(env: enc.Envelope, media: Sequence[StoredAttachment]) -> None:
    listed = set(env.files)
    unexpected = sorted({m.name for m in media} - listed)
    if unexpected:
        raise BadInput("encryption.unexpected_file",
                       f"The encrypted submission {env.instance_id!r} came with file(s) its "
                       f"manifest does not list: {', '.join(map(repr, unexpected[:5]))}; "
                       "nothing was stored (a file in the clear would defeat the encryption).",
                       where=Where(instance_id=env.instance_id, file=unexpected[0]))


def store_encrypted(db: Session, actor: Actor | None, slug: str, root: Element, xml: bytes,
                    media: Sequence[StoredAttachment], *, channel: str) -> IntakeResult:
    """Store an encrypted submission as received; resends are idempotent by instance id."""
    env = enc.parse_envelope(root)
    ctx = form_context(db, actor, slug, env.form_id)
    digest = hashlib.sha256(xml).hexdigest()
    refused = refuse_buried(db, actor, slug, env.form_id, env.instance_id, None, channel=channel,
                            context=ctx, received_hash=digest)
    if refused is not None:
        return refused  # the respondent withdrew or was erased: nothing is stored
    check_versions(ctx, [IncomingSubmission(env.instance_id, {}, None, env.version)])
    _check_parts(env, media)
    if db.scalar(select(Submission.id).where(Submission.form_id == ctx.form_pk,
                                             Submission.instance_id == env.instance_id)):
        raise Conflict("conflict.submission",
                       f"Instance id {env.instance_id!r} is already used by a submission sent "
                       "unencrypted; nothing was stored.", where=Where(instance_id=env.instance_id))
    table = cast(Table, EncryptedSubmission.__table__)
    row = {"project_id": ctx.project_id, "form_id": ctx.form_pk,
           "form_version_id": ctx.versions[env.version], "instance_id": env.instance_id,
           "envelope": xml, "content_hash": digest, "received_at": utcnow(),
           "submitter_id": actor.user_id if actor else None, "channel": channel}
    stmt = _INSERT_IGNORING[db.get_bind().dialect.name](table)
    new = db.execute(stmt.returning(table.c.id), [row]).scalar()
    if new is None:
        sid, stored_hash = db.execute(select(EncryptedSubmission.id,
                                             EncryptedSubmission.content_hash).where(
            EncryptedSubmission.form_id == ctx.form_pk,
            EncryptedSubmission.instance_id == env.instance_id)).one()
        if stored_hash != digest:
            raise Conflict("conflict.submission",
                           f"Instance id {env.instance_id!r} was already received with another "
                           "encrypted manifest; nothing was stored.",
                           where=Where(instance_id=env.instance_id))
    _store_files(db, new or sid, media)
    created = new is not None
    if created:
        db.execute(insert(cast(Table, AuditEvent.__table__)), [{
            "at": utcnow(), "actor_id": actor.user_id if actor else None,
            "actor": actor.username if actor else "system", "action": "submission.create",
            "project_id": ctx.project_id, "object_type": "encrypted_submission",
            "object_id": str(new), "details": {"form_id": ctx.form_id, "channel": channel,
                                               "instance_id": env.instance_id,
                                               "encrypted": True}}])
    ids, iids = (int(new or sid),), (env.instance_id,)
    return IntakeResult(ctx.form_id, None, int(created), int(not created), ids, iids,
                        () if created else iids)


def _store_files(db: Session, sid: int, media: Sequence[StoredAttachment]) -> None:
    # ODK Collect splits a big submission over several posts with the same manifest and
    # more files: keep each file name once
    have = set(db.scalars(select(EncryptedFile.name)
                          .where(EncryptedFile.encrypted_submission_id == sid)))
    for m in media:
        if m.name not in have:
            have.add(m.name)
            db.add(EncryptedFile(encrypted_submission_id=sid, name=m.name, size=len(m.data),
                                 sha256=hashlib.sha256(m.data).hexdigest(), data=m.data))


def withdraw_encrypted(db: Session, actor: Actor, project_pk: int, form_pk: int,
                       instance_id: str, scopes: Sequence[str], basis: str, erase: bool
                       ) -> list[str] | None:
    """Consent withdrawn for an encrypted submission, by its instance id; None if none.

    Recorded against ``-id`` (as decrypted rows are numbered). Withdrawing everything or
    erasing buries the instance id; erasing also deletes the encrypted files and the
    wrapped key, so nobody can ever decrypt the answers. Edits of it (deprecatedID) are
    only known once decrypted, and are left out then.
    """
    from citizendata.store.models import ConsentWithdrawal, Tombstone

    row = db.scalar(select(EncryptedSubmission).where(
        EncryptedSubmission.form_id == form_pk, EncryptedSubmission.instance_id == instance_id))
    if row is None:
        return None
    have = set(db.scalars(select(ConsentWithdrawal.scope).where(
        ConsentWithdrawal.form_id == form_pk, ConsentWithdrawal.submission_id == -row.id)))
    new = [s for s in scopes if s not in have and "all" not in have]
    if not new and not erase:
        raise Conflict("consent.already_withdrawn",
                       f"consent of submission {instance_id!r} is already withdrawn for "
                       f"{sorted(have)}", where=Where(instance_id=instance_id))
    for scope in new:
        db.add(ConsentWithdrawal(project_id=project_pk, form_id=form_pk, submission_id=-row.id,
                                 instance_id=instance_id, scope=scope, basis=basis,
                                 erased=erase, recorded_by=actor.username))
    if erase or "all" in new or "all" in have:
        reason = "erased" if erase else "withdrawn"
        tomb = db.scalar(select(Tombstone).where(Tombstone.form_id == form_pk,
                                                 Tombstone.instance_id == instance_id))
        if tomb is None:
            db.add(Tombstone(project_id=project_pk, form_id=form_pk, instance_id=instance_id,
                             content_hash=row.content_hash, submission_id=-row.id,
                             reason=reason))
        else:
            tomb.reason = "erased" if erase else tomb.reason
    if erase:
        db.execute(delete(EncryptedFile).where(EncryptedFile.encrypted_submission_id == row.id))
        row.envelope = b""
    db.flush()
    return new or sorted(have)
