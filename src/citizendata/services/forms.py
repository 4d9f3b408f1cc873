"""Forms and their versions; every version is kept and submissions stay tied to theirs."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from citizendata.auth import Action, Actor
from citizendata.config import DEFAULT_MAX_DEPTH
from citizendata.errors import Conflict, NotFound
from citizendata.forms.schema import FormSchema
from citizendata.forms.xlsform import merge_schemas, parse_xlsform
from citizendata.ingest.archive import ArchiveLimits
from citizendata.services.access import audit, form_in, project_for
from citizendata.store.models import Form, FormVersion, Project, Submission

__all__ = ["FormInfo", "FormVersionInfo", "add_form", "form_versions", "get_form", "list_forms"]


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


def _version_info(form: Form, fv: FormVersion, warnings: tuple[str, ...] = ()) -> FormVersionInfo:
    return FormVersionInfo(fv.id, form.xml_form_id, fv.version, fv.sha256, fv.filename,
                           fv.created_at, FormSchema.from_dict(fv.schema), warnings)


def add_form(
    db: Session, actor: Actor | None, slug: str, data: bytes, filename: str, *,
    limits: ArchiveLimits | None = None, max_depth: int = DEFAULT_MAX_DEPTH
) -> FormVersionInfo:
    """Upload an XLSForm as a new form, or as a new version of the form with the same id."""
    project, _ = project_for(db, actor, slug, Action.FORM_MANAGE)
    parsed = parse_xlsform(data, filename, limits=limits, max_depth=max_depth)
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
            return _version_info(form, same, tuple(parsed.warnings))
        raise Conflict(
            "conflict.form_version",
            f"Form {parsed.form_id!r} already has a version {parsed.version!r} with different "
            "content; every version is kept, so a changed form needs a new version string.",
        )
    fv = FormVersion(
        form_id=form.id, version=parsed.version, sha256=parsed.sha256, filename=filename,
        xlsform=data, xform_xml=parsed.xform_xml, schema=parsed.schema.to_dict(),
        created_by=actor.user_id if actor else None,
    )
    form.title = parsed.title
    db.add(fv)
    db.flush()
    audit(db, actor, "form.version_add", "form", parsed.form_id, project_id=project.id,
          details={"version": parsed.version, "sha256": parsed.sha256, "filename": filename,
                   "warnings": list(parsed.warnings)})
    return _version_info(form, fv, tuple(parsed.warnings))


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
    return [_version_info(form, v) for v in _versions(db, form)]


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
    return _version_info(form, fv), served_xform(db, project.id, fv.xform_xml)
