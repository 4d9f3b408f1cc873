"""Reading submissions back, with personal fields withheld from roles that may not see them."""

from __future__ import annotations

from typing import Any

from sqlalchemy import exists, func, select
from sqlalchemy.orm import Session

from citizendata.auth import Action, Actor, allowed
from citizendata.errors import NotFound
from citizendata.forms.schema import Field, FormSchema, Group
from citizendata.services.access import form_in, project_for
from citizendata.services.forms import merged_schema
from citizendata.store.models import (
    ConsentWithdrawal,
    FormVersion,
    Submission,
    SubmissionVersion,
    User,
)

__all__ = ["WITHHELD", "get_submission", "list_submissions", "redact"]

WITHHELD = "[withheld: personal data]"


def redact(payload: dict[str, Any], schema: FormSchema) -> dict[str, Any]:
    """A copy of a payload showing only what a role without personal-data rights may see.

    Built from an allow-list: a value is shown only where the form has a non-personal
    field at that path; personal fields, and anything the form does not know, are
    withheld (so nothing slips through under an unexpected key or shape).
    """
    fields = {f.path: f for f in schema.fields}
    groups = {g.path: g for g in schema.groups}
    return _redact_object(payload, "", fields, groups)


def _redact_object(node: dict[str, Any], prefix: str, fields: dict[str, Field],
                   groups: dict[str, Group]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in node.items():
        path = f"{prefix}/{key}" if prefix else str(key)
        group = groups.get(path)
        if group is not None and group.repeat and isinstance(value, list):
            out[key] = [_redact_object(v, path, fields, groups) if isinstance(v, dict)
                        else _withheld(v) for v in value]
        elif (group is not None or path == "meta") and isinstance(value, dict):
            out[key] = _redact_object(value, path, fields, groups)
        elif path in fields and not fields[path].personal and not isinstance(value, dict):
            out[key] = value
        else:
            out[key] = _withheld(value)
    return out


def _withheld(value: Any) -> Any:
    return value if value in (None, "") else WITHHELD


def submission_dict(sub: Submission, version: str, submitter: str | None,
                    schema: FormSchema | None) -> dict[str, Any]:
    """A submission as the API shows it, redacted against ``schema`` when given."""
    payload = sub.payload if schema is None else redact(sub.payload, schema)
    return {
        "id": sub.id,
        "instance_id": sub.instance_id,
        "form_version": version,
        "submitter": submitter,
        "collected_at": sub.collected_at.isoformat() if sub.collected_at else None,
        "received_at": sub.received_at.isoformat(),
        "review_status": sub.review_status,
        "channel": sub.channel,
        "deprecated_id": sub.deprecated_id,
        "data": payload,
    }


# not withdrawn for everything (such a submission is in no answer and no output)
NOT_WITHDRAWN = ~exists().where(ConsentWithdrawal.submission_id == Submission.id,
                                ConsentWithdrawal.scope == "all")


def current_version(db: Session, sub: Submission) -> tuple[int, dict[str, Any]]:
    """The submission's answers as analysis sees them, with their version number: a
    reviewer's latest edit, else as received (version 1)."""
    latest = db.scalars(select(SubmissionVersion).where(SubmissionVersion.submission_id == sub.id)
                        .order_by(SubmissionVersion.version.desc()).limit(1)).first()
    return (latest.version, latest.payload) if latest else (1, sub.payload)


def _query(form_id: int) -> Any:
    return (select(Submission, FormVersion.version, User.username)
            .join(FormVersion, FormVersion.id == Submission.form_version_id)
            .outerjoin(User, User.id == Submission.submitter_id)
            .where(Submission.form_id == form_id))


def list_submissions(
    db: Session, actor: Actor | None, slug: str, form_id: str, *, limit: int = 100,
    offset: int = 0, review_status: str | None = None,
) -> tuple[int, list[dict[str, Any]]]:
    """A page of submissions (newest first) and the total count."""
    project, role = project_for(db, actor, slug, Action.SUBMISSION_VIEW)
    form = form_in(db, project, form_id)
    schema = None if allowed(role, Action.PERSONAL_DATA_VIEW) else merged_schema(db, form)
    q = _query(form.id)
    count_q = select(func.count()).select_from(Submission).where(Submission.form_id == form.id)
    if not allowed(role, Action.CONSENT_MANAGE):
        # a respondent who withdrew everything is visible only to who recorded it
        q, count_q = q.where(NOT_WITHDRAWN), count_q.where(NOT_WITHDRAWN)
    if review_status:
        q = q.where(Submission.review_status == review_status)
        count_q = count_q.where(Submission.review_status == review_status)
    total = db.scalar(count_q) or 0
    rows = db.execute(q.order_by(Submission.id.desc()).limit(limit).offset(offset)).all()
    return total, [submission_dict(s, v, u, schema) for s, v, u in rows]


def get_submission(db: Session, actor: Actor | None, slug: str, form_id: str,
                   instance_id: str) -> dict[str, Any]:
    """One submission by instance id."""
    project, role = project_for(db, actor, slug, Action.SUBMISSION_VIEW)
    form = form_in(db, project, form_id)
    q = _query(form.id).where(Submission.instance_id == instance_id)
    if not allowed(role, Action.CONSENT_MANAGE):
        q = q.where(NOT_WITHDRAWN)
    row = db.execute(q).first()
    if row is None:
        raise NotFound("not_found.submission", f"Form {form_id!r} has no submission "
                       f"{instance_id!r}.")
    schema = None if allowed(role, Action.PERSONAL_DATA_VIEW) else merged_schema(db, form)
    return submission_dict(row[0], row[1], row[2], schema)
