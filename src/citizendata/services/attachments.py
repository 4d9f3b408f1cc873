"""Submission attachments (photos, audio, signatures, …): listed, read and exported.

What a caller may see follows the submission's own rules: the role must be allowed to
see submissions; a file named by a field tagged personal is shown only to roles that
may see personal data, and a file no media field names (whatever a phone sent besides)
only to them too (default deny). A submission whose respondent withdrew everything, or
whose answers were erased, gives nothing. Expected files the phone has not (yet) sent
are listed as missing: their names come from the submission's media fields.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import exists, func, select
from sqlalchemy.orm import Session

from citizendata.auth import Action, Actor, allowed
from citizendata.errors import NotFound
from citizendata.forms.schema import FormSchema
from citizendata.services.access import audit, form_in, project_for
from citizendata.services.consent import consent_spec
from citizendata.services.forms import merged_schema
from citizendata.services.submissions import NOT_WITHDRAWN, current_version
from citizendata.store.models import Attachment, ConsentWithdrawal, Submission

__all__ = ["MEDIA_TYPES", "SUBMISSION_XML", "AttachmentInfo", "AttachmentList", "ExportSummary",
           "audit_export", "count_attachments", "expected_media", "export_attachments", "get_attachment", "list_attachments"]

# XLSForm types whose answer is the name of a file sent with the submission
MEDIA_TYPES = frozenset({"image", "audio", "video", "file", "background-audio", "audit"})
# the instance XML as received (kept as an attachment): the answers, not a media file
SUBMISSION_XML = "xml_submission_file"
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass(frozen=True)
class AttachmentInfo:
    """One attachment of a submission: sent (present) or only named by a field (missing)."""

    name: str
    field: str | None  # the media field naming it; None for a file no field names
    present: bool
    content_type: str | None = None
    size: int | None = None
    sha256: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """As the API shows it."""
        return asdict(self)


@dataclass(frozen=True)
class AttachmentList:
    """The attachments a caller may see, and how many were withheld as personal data."""

    instance_id: str
    attachments: tuple[AttachmentInfo, ...]
    withheld: int


@dataclass(frozen=True)
class ExportSummary:
    """What an attachment export wrote."""

    folder: Path
    submissions: int
    written: int
    bytes: int
    missing: int
    withheld: int


def _file_names(node: Any, parts: list[str]) -> Iterator[str]:
    """The answers at a path, through groups (objects) and repeats (lists)."""
    if isinstance(node, list):
        for item in node:
            yield from _file_names(item, parts)
        return
    if not isinstance(node, dict) or not parts:
        return
    value = node.get(parts[0])
    if len(parts) > 1:
        yield from _file_names(value, parts[1:])
    elif isinstance(value, str) and value.strip():
        yield value.strip()


def expected_media(payload: dict[str, Any], schema: FormSchema
                   ) -> list[tuple[str, str, bool]]:
    """(field path, file name, personal) for every file the answers name, in form order."""
    out: list[tuple[str, str, bool]] = []
    seen: set[str] = set()
    for f in schema.fields:
        if f.type not in MEDIA_TYPES:
            continue
        for name in _file_names(payload, f.path.split("/")):
            if name not in seen:
                seen.add(name)
                out.append((f.path, name, f.personal))
    return out


def _visible(db: Session, actor: Actor | None, slug: str, form_id: str, instance_id: str
             ) -> tuple[Submission, FormSchema, bool]:
    """The submission, the form's schema and whether the role sees personal data."""
    project, role = project_for(db, actor, slug, Action.SUBMISSION_VIEW)
    form = form_in(db, project, form_id)
    sub = db.scalar(select(Submission).where(Submission.form_id == form.id,
                                             Submission.instance_id == instance_id,
                                             NOT_WITHDRAWN))
    if sub is None or sub.payload.get("erased") is True:
        raise NotFound("not_found.submission",
                       f"Form {form_id!r} has no submission {instance_id!r}.")
    return sub, merged_schema(db, form), allowed(role, Action.PERSONAL_DATA_VIEW)


def _stored(db: Session, submission_ids: list[int]) -> dict[int, dict[str, Attachment]]:
    """Stored attachments by submission, without their bytes."""
    rows = db.execute(select(Attachment.submission_id, Attachment.name, Attachment.content_type,
                             Attachment.size, Attachment.sha256)
                      .where(Attachment.submission_id.in_(submission_ids),
                             Attachment.name != SUBMISSION_XML)).all()
    out: dict[int, dict[str, Attachment]] = {}
    for sid, name, ctype, size, sha in rows:
        out.setdefault(sid, {})[name] = Attachment(name=name, content_type=ctype, size=size,
                                                   sha256=sha)
    return out


def _infos(payload: dict[str, Any], schema: FormSchema, stored: dict[str, Attachment],
           personal: bool) -> tuple[list[AttachmentInfo], int]:
    """What the caller may see of one submission's attachments, and how many are withheld."""
    out: list[AttachmentInfo] = []
    withheld = 0
    named = set()
    for path, name, is_personal in expected_media(payload, schema):
        named.add(name)
        if is_personal and not personal:
            withheld += 1
            continue
        att = stored.get(name)
        out.append(AttachmentInfo(name, path, att is not None,
                                  *((att.content_type, att.size, att.sha256) if att else ())))
    for name, att in sorted(stored.items()):
        if name in named:
            continue
        if not personal:  # no field says what it is: default deny
            withheld += 1
            continue
        out.append(AttachmentInfo(name, None, True, att.content_type, att.size, att.sha256))
    return out, withheld


def _listing(db: Session, actor: Actor | None, slug: str, form_id: str, instance_id: str
             ) -> tuple[Submission, list[AttachmentInfo], int]:
    sub, schema, personal = _visible(db, actor, slug, form_id, instance_id)
    stored = _stored(db, [sub.id]).get(sub.id, {})
    infos, withheld = _infos(current_version(db, sub)[1], schema, stored, personal)
    return sub, infos, withheld


def list_attachments(db: Session, actor: Actor | None, slug: str, form_id: str,
                     instance_id: str) -> AttachmentList:
    """A submission's attachments: sent ones and missing ones the caller may see."""
    _, infos, withheld = _listing(db, actor, slug, form_id, instance_id)
    return AttachmentList(instance_id, tuple(infos), withheld)


def get_attachment(db: Session, actor: Actor | None, slug: str, form_id: str,
                   instance_id: str, name: str) -> tuple[AttachmentInfo, bytes]:
    """One attachment's description and bytes; 404 if missing or not the caller's to see."""
    sub, infos, _ = _listing(db, actor, slug, form_id, instance_id)
    info = next((a for a in infos if a.name == name), None)
    data = None
    if info is not None and info.present:
        data = db.scalar(select(Attachment.data).where(Attachment.submission_id == sub.id,
                                                       Attachment.name == name))
    if info is None or data is None:
        state = "is not one you can see" if info is None else "was not sent yet"
        raise NotFound("not_found.attachment",
                       f"Submission {instance_id!r} has no attachment {name!r} (it {state}).",
                       fix="List the submission's attachments to see what is there.")
    return info, data


def safe_name(text: str) -> str:
    """A file or folder name that is safe on every file system."""
    cleaned = _UNSAFE.sub("_", text).strip("._") or "_"
    return cleaned[:150]


def export_attachments(db: Session, actor: Actor | None, slug: str, form_id: str,
                       out_dir: Path, *, include_personal: bool = False,
                       chunk: int = 500) -> ExportSummary:
    """Write the attachments of the submissions a snapshot holds into ``out_dir``.

    One folder per submission (its instance id, made file-system safe), ``index.csv``
    listing every expected or sent file with its status, and ``missing.csv`` the
    expected files never sent. Personal media only with ``include_personal`` (and a role
    that may see personal data). Bytes are read one file at a time.
    """
    from citizendata.services.snapshots import check_export  # PyArrow: only here

    project, _ = check_export(db, actor, slug, form_id, include_personal)
    form = form_in(db, project, form_id)
    schema = merged_schema(db, form)
    scope = consent_spec(project).analysis
    out_dir.mkdir(parents=True, exist_ok=True)
    index_rows: list[list[Any]] = []
    written = size = withheld = n_subs = 0
    last = 0
    while True:
        subs = db.scalars(
            select(Submission).where(
                Submission.form_id == form.id, Submission.id > last,
                ~exists().where(ConsentWithdrawal.submission_id == Submission.id,
                                ConsentWithdrawal.scope.in_(("all", scope))))
            .order_by(Submission.id).limit(chunk)).all()
        if not subs:
            break
        last = subs[-1].id
        stored = _stored(db, [s.id for s in subs])
        for sub in subs:
            n_subs += 1
            infos, held = _infos(current_version(db, sub)[1], schema, stored.get(sub.id, {}),
                                 include_personal)
            withheld += held
            folder = out_dir / safe_name(sub.instance_id)
            for info in infos:
                target = folder / safe_name(info.name)
                if info.present:
                    data = db.scalar(select(Attachment.data).where(
                        Attachment.submission_id == sub.id, Attachment.name == info.name))
                    if data is not None:
                        folder.mkdir(exist_ok=True)
                        target.write_bytes(data)
                        written += 1
                        size += len(data)
                index_rows.append([sub.instance_id, info.field or "", info.name,
                                   "present" if info.present else "missing",
                                   info.content_type or "", info.size or "",
                                   info.sha256 or "",
                                   str(target.relative_to(out_dir)) if info.present else ""])
        db.expunge_all()  # keep memory flat over many submissions
    header = ["instance_id", "field", "name", "status", "content_type", "size", "sha256", "file"]
    _write_csv(out_dir / "index.csv", header, index_rows)
    missing = [r for r in index_rows if r[3] == "missing"]
    _write_csv(out_dir / "missing.csv", header[:4], [r[:4] for r in missing])
    return ExportSummary(out_dir, n_subs, written, size, len(missing), withheld)


def audit_export(db: Session, actor: Actor | None, slug: str, form_id: str,
                 summary: ExportSummary, include_personal: bool) -> None:
    """Record an attachment export (kept apart so the long read holds no write lock)."""
    project, _ = project_for(db, actor, slug, Action.DATA_EXPORT)
    audit(db, actor, "attachments.export", "form", form_id, project_id=project.id,
          details={"submissions": summary.submissions, "files": summary.written,
                   "bytes": summary.bytes, "missing": summary.missing,
                   "include_personal": include_personal})


def _write_csv(path: Path, header: list[str], rows: list[list[Any]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(rows)


def count_attachments(db: Session, submission_ids: list[int]) -> dict[int, int]:
    """How many media files each submission has stored (the submission XML not counted)."""
    rows = db.execute(select(Attachment.submission_id, func.count())
                      .where(Attachment.submission_id.in_(submission_ids),
                             Attachment.name != SUBMISSION_XML)
                      .group_by(Attachment.submission_id)).all()
    return {sid: n for sid, n in rows}
