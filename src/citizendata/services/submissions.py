"""Reading submissions back, with personal fields withheld from roles that may not see them."""

from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from citizendata.auth import Action, Actor, allowed
from citizendata.errors import NotFound
from citizendata.forms.schema import FormSchema
from citizendata.services.access import form_in, project_for
from citizendata.services.forms import merged_schema
from citizendata.store.models import FormVersion, Submission, User

__all__ = ["WITHHELD", "get_submission", "list_submissions", "redact"]

WITHHELD = "[withheld: personal data]"


def personal_paths(schema: FormSchema) -> list[tuple[str, ...]]:
    """Paths (as tuples) of the fields tagged personal."""
    return [tuple(f.path.split("/")) for f in schema.fields if f.personal]


def redact(payload: dict[str, Any], paths: Iterable[tuple[str, ...]]) -> dict[str, Any]:
    """A copy of a payload with the values at the given paths withheld (through repeats too)."""
    out = copy.deepcopy(payload)
    for path in paths:
        _withhold(out, path)
    return out


def _withhold(node: Any, path: tuple[str, ...]) -> None:
    if isinstance(node, list):
        for item in node:
            _withhold(item, path)
        return
    if not isinstance(node, dict) or path[0] not in node:
        return
    if len(path) == 1:
        if node[path[0]] not in (None, ""):
            node[path[0]] = WITHHELD
        return
    _withhold(node[path[0]], path[1:])


def submission_dict(sub: Submission, version: str, submitter: str | None,
                    paths: list[tuple[str, ...]] | None) -> dict[str, Any]:
    """A submission as the API shows it; ``paths`` are withheld when given."""
    payload = sub.payload if paths is None else redact(sub.payload, paths)
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
    paths = None if allowed(role, Action.PERSONAL_DATA_VIEW) else personal_paths(
        merged_schema(db, form))
    q = _query(form.id)
    count_q = select(func.count()).select_from(Submission).where(Submission.form_id == form.id)
    if review_status:
        q = q.where(Submission.review_status == review_status)
        count_q = count_q.where(Submission.review_status == review_status)
    total = db.scalar(count_q) or 0
    rows = db.execute(q.order_by(Submission.id.desc()).limit(limit).offset(offset)).all()
    return total, [submission_dict(s, v, u, paths) for s, v, u in rows]


def get_submission(db: Session, actor: Actor | None, slug: str, form_id: str,
                   instance_id: str) -> dict[str, Any]:
    """One submission by instance id."""
    project, role = project_for(db, actor, slug, Action.SUBMISSION_VIEW)
    form = form_in(db, project, form_id)
    row = db.execute(_query(form.id).where(Submission.instance_id == instance_id)).first()
    if row is None:
        raise NotFound("not_found.submission", f"Form {form_id!r} has no submission "
                       f"{instance_id!r}.")
    paths = None if allowed(role, Action.PERSONAL_DATA_VIEW) else personal_paths(
        merged_schema(db, form))
    return submission_dict(row[0], row[1], row[2], paths)
