"""Forms and their versions; every version is kept and submissions stay tied to theirs."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from citizendata.auth import Action, Actor
from citizendata.config import DEFAULT_MAX_DEPTH
from citizendata.errors import BadInput, Conflict, NotFound, PayloadTooLarge, Where
from citizendata.forms.media import (
    MAX_ATTACHMENT_BYTES,
    MAX_ATTACHMENTS,
    check_attachments,
    check_name,
    content_type,
    label_media,
)
from citizendata.forms.schema import FormSchema
from citizendata.ingest.archive import ArchiveLimits
from citizendata.services.access import audit, form_in, project_for
from citizendata.store.models import Form, FormAttachment, FormVersion, Project, Submission

if TYPE_CHECKING:
    from citizendata.forms.xlsform import ParsedForm

__all__ = ["AttachmentInfo", "FormInfo", "FormVersionInfo", "add_form", "form_attachment",
           "form_attachments", "form_versions", "get_form", "list_forms"]


@dataclass(frozen=True)
class AttachmentInfo:
    """A file served with a form version (OpenRosa manifest)."""

    name: str
    content_type: str
    size: int
    md5: str
    sha256: str


@dataclass(frozen=True)
class FormVersionInfo:
    """One version of a form."""

    id: int
    form_id: str
    version: str
    sha256: str
    filename: str
    created_at: datetime
    schema: FormSchema
    warnings: tuple[str, ...] = ()
    attachments: tuple[str, ...] = ()


@dataclass(frozen=True)
class FormInfo:
    """A form with its versions (oldest first) and submission count."""

    id: int
    form_id: str
    title: str
    versions: tuple[str, ...]
    submissions: int

    @property
    def latest_version(self) -> str:
        """The newest version."""
        return self.versions[-1]


def _version_info(form: Form, fv: FormVersion, warnings: tuple[str, ...] = (),
                  db: Session | None = None) -> FormVersionInfo:
    names = tuple(db.scalars(select(FormAttachment.name).where(
        FormAttachment.form_version_id == fv.id).order_by(FormAttachment.name))) if db else ()
    return FormVersionInfo(fv.id, form.xml_form_id, fv.version, fv.sha256, fv.filename,
                           fv.created_at, FormSchema.from_dict(fv.schema), warnings, names)


def _given(attachments: Mapping[str, bytes] | None, filename: str) -> dict[str, bytes]:
    """Uploaded attachments by checked file name, within the count and size limits."""
    given = {check_name(name, filename): bytes(data) for name, data in (attachments or {}).items()}
    if len(given) > MAX_ATTACHMENTS:
        raise BadInput("form.attachment_invalid",
                       f"{len(given)} attachments were uploaded; at most {MAX_ATTACHMENTS} "
                       "are accepted with one form.", where=Where(file=filename))
    for name, data in given.items():
        if len(data) > MAX_ATTACHMENT_BYTES:
            raise PayloadTooLarge("intake.payload_too_large",
                                  f"The attachment {name!r} has {len(data):,} bytes; at most "
                                  f"{MAX_ATTACHMENT_BYTES:,} are accepted.",
                                  where=Where(file=name))
    return given


def _available(db: Session, form: Form, parsed: ParsedForm, given: dict[str, bytes]
               ) -> dict[str, bytes]:
    """Every file the new version will serve: those uploaded, those made from the workbook
    (itemsets.csv), and needed files the previous version had and this upload lacks."""
    files = {**dict(parsed.generated), **given}
    previous = _versions(db, form)
    missing = [n.name for n in parsed.needs if n.name not in files]
    if previous and missing:
        rows = db.execute(select(FormAttachment.name, FormAttachment.data).where(
            FormAttachment.form_version_id == previous[-1].id,
            FormAttachment.name.in_(missing))).all()
        files.update({name: data for name, data in rows})
    return files


def add_form(
    db: Session, actor: Actor | None, slug: str, data: bytes, filename: str, *,
    limits: ArchiveLimits | None = None, max_depth: int = DEFAULT_MAX_DEPTH,
    attachments: Mapping[str, bytes] | None = None,
) -> FormVersionInfo:
    """Upload an XLSForm as a new form, or as a new version of the form with the same id.

    ``attachments`` (file name → bytes) are served with the version in the OpenRosa
    manifest. Files the form cannot work without (forms.media) must be among them, or
    have been served with the previous version under the same name: otherwise BadInput
    ``form.attachment_missing`` names each, and nothing is stored.
    """
    project, _ = project_for(db, actor, slug, Action.FORM_MANAGE)
    from citizendata.forms.xlsform import parse_xlsform  # pyxform: only here

    parsed = parse_xlsform(data, filename, limits=limits, max_depth=max_depth)
    given = _given(attachments, filename)
    form = db.scalar(select(Form).where(Form.project_id == project.id,
                                        Form.xml_form_id == parsed.form_id))
    if form is None:
        form = Form(project_id=project.id, xml_form_id=parsed.form_id, title=parsed.title)
        db.add(form)
        db.flush()
    same = db.scalar(select(FormVersion).where(FormVersion.form_id == form.id,
                                               FormVersion.version == parsed.version))
    if same is not None:
        # a re-saved workbook differs in its bytes (timestamps) but not in its XForm
        if same.sha256 == parsed.sha256 or same.xform_xml == parsed.xform_xml:
            return _version_info(form, same, tuple(parsed.warnings), db)
        raise Conflict(
            "conflict.form_version",
            f"Form {parsed.form_id!r} already has a version {parsed.version!r} with different "
            "content; every version is kept, so a changed form needs a new version string.",
        )
    files = _available(db, form, parsed, given)
    check_attachments(list(parsed.needs), files, filename)
    warnings = [*parsed.warnings, *(
        f"The form shows the media file '{name}' but it was not uploaded with the form; "
        "phones show the label without it." for name in label_media(parsed.xform_xml)
        if name not in files)]
    fv = FormVersion(
        form_id=form.id, version=parsed.version, sha256=parsed.sha256, filename=filename,
        xlsform=data, xform_xml=parsed.xform_xml, schema=parsed.schema.to_dict(),
        created_by=actor.user_id if actor else None,
    )
    form.title = parsed.title
    db.add(fv)
    db.flush()
    db.add_all(FormAttachment(
        form_version_id=fv.id, name=name, content_type=content_type(name),
        sha256=hashlib.sha256(blob).hexdigest(), md5=hashlib.md5(blob).hexdigest(),
        size=len(blob), data=blob) for name, blob in sorted(files.items()))
    db.flush()
    audit(db, actor, "form.version_add", "form", parsed.form_id, project_id=project.id,
          details={"version": parsed.version, "sha256": parsed.sha256, "filename": filename,
                   "warnings": warnings, "attachments": sorted(files)})
    return _version_info(form, fv, tuple(warnings), db)


def _versions(db: Session, form: Form) -> list[FormVersion]:
    return list(db.scalars(select(FormVersion).where(FormVersion.form_id == form.id)
                           .order_by(FormVersion.id)))


def list_forms(db: Session, actor: Actor | None, slug: str) -> list[FormInfo]:
    """The forms of a project."""
    project, _ = project_for(db, actor, slug, Action.FORM_VIEW)
    return [_form_info(db, f) for f in db.scalars(
        select(Form).where(Form.project_id == project.id).order_by(Form.xml_form_id))]


def _form_info(db: Session, form: Form) -> FormInfo:
    versions = tuple(v.version for v in _versions(db, form))
    n = db.scalar(select(func.count()).select_from(Submission)
                  .where(Submission.form_id == form.id)) or 0
    return FormInfo(form.id, form.xml_form_id, form.title, versions, n)


def get_form(db: Session, actor: Actor | None, slug: str, form_id: str) -> FormInfo:
    """One form of a project."""
    project, _ = project_for(db, actor, slug, Action.FORM_VIEW)
    return _form_info(db, form_in(db, project, form_id))


def form_versions(db: Session, actor: Actor | None, slug: str, form_id: str
                  ) -> list[FormVersionInfo]:
    """Every version of a form, oldest first."""
    project, _ = project_for(db, actor, slug, Action.FORM_VIEW)
    form = form_in(db, project, form_id)
    return [_version_info(form, v, db=db) for v in _versions(db, form)]


def version_row(db: Session, project: Project, form_id: str, version: str | None
                ) -> tuple[Form, FormVersion]:
    """A form and one of its versions (the newest when version is None)."""
    form = form_in(db, project, form_id)
    versions = _versions(db, form)
    if not versions:
        raise NotFound("not_found.form_version", f"Form {form_id!r} has no version.")
    if version is None:
        return form, versions[-1]
    for v in versions:
        if v.version == version:
            return form, v
    raise NotFound("not_found.form_version", f"Form {form_id!r} has no version {version!r}.",
                   fix=f"Known versions: {[v.version for v in versions]}.")


# Parsed, merged schemas keyed by the XLSForms' SHA-256s: the same files give the same
# schema, so the cache can never be stale.
_SCHEMAS: dict[tuple[str, ...], FormSchema] = {}
_SCHEMAS_LOCK = threading.Lock()


def merged_from(db: Session, version_ids: list[int], hashes: tuple[str, ...]) -> FormSchema:
    """The merged schema of the given versions (oldest first), from the cache when possible."""
    with _SCHEMAS_LOCK:
        hit = _SCHEMAS.get(hashes)
    if hit is not None:
        return hit
    rows: dict[int, Any] = dict(db.execute(select(FormVersion.id, FormVersion.schema)
                                           .where(FormVersion.id.in_(version_ids))).all())
    from citizendata.forms.xlsform import merge_schemas

    merged = merge_schemas([FormSchema.from_dict(rows[i]) for i in version_ids])
    with _SCHEMAS_LOCK:
        if len(_SCHEMAS) > 256:
            _SCHEMAS.clear()
        _SCHEMAS[hashes] = merged
    return merged


def merged_schema(db: Session, form: Form) -> FormSchema:
    """The union of fields over every version of a form, newest definitions first."""
    rows = db.execute(select(FormVersion.id, FormVersion.sha256)
                      .where(FormVersion.form_id == form.id).order_by(FormVersion.id)).all()
    return merged_from(db, [i for i, _ in rows], tuple(h for _, h in rows))


def xform_for(db: Session, actor: Actor | None, slug: str, form_id: str,
              version: str | None = None) -> tuple[FormVersionInfo, str]:
    """The XForm XML of a version (newest by default), for ODK Collect and Enketo.

    With managed encryption on, the XForm carries the project's public key (a form with
    its own public_key keeps that one).
    """
    from citizendata.services.encryption import served_xform

    project, _ = project_for(db, actor, slug, Action.FORM_VIEW)
    form, fv = version_row(db, project, form_id, version)
    return _version_info(form, fv, db=db), served_xform(db, project.id, fv.xform_xml)


def _attachment_info(a: FormAttachment) -> AttachmentInfo:
    return AttachmentInfo(a.name, a.content_type, a.size, a.md5, a.sha256)


def form_attachments(db: Session, actor: Actor | None, slug: str, form_id: str,
                     version: str | None = None) -> list[AttachmentInfo]:
    """The files served with a version (the newest when version is None), by name."""
    project, _ = project_for(db, actor, slug, Action.FORM_VIEW)
    _, fv = version_row(db, project, form_id, version)
    return [_attachment_info(a) for a in db.scalars(
        select(FormAttachment).where(FormAttachment.form_version_id == fv.id)
        .order_by(FormAttachment.name))]


def form_attachment(db: Session, actor: Actor | None, slug: str, form_id: str, name: str,
                    version: str | None = None) -> tuple[AttachmentInfo, bytes]:
    """One file served with a version (the newest when version is None) and its bytes."""
    project, _ = project_for(db, actor, slug, Action.FORM_VIEW)
    _, fv = version_row(db, project, form_id, version)
    row = db.scalar(select(FormAttachment).where(FormAttachment.form_version_id == fv.id,
                                                 FormAttachment.name == name))
    if row is None:
        raise NotFound("not_found.form_attachment",
                       f"Version {fv.version!r} of form {form_id!r} has no attachment {name!r}.")
    return _attachment_info(row), row.data
