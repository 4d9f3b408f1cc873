"""Exact duplicates: the same answers stored under different instance ids.

A resend with the same instance id never creates a second row (see intake); what is
left are copies that a phone or an import gave a new instance id, for example a form
filled in twice from the same paper record. They are found set-based, by grouping on
the content hash, and left for a reviewer to decide (probable duplicates, compared
fuzzily, come with the review workflow).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from citizendata.auth import Action, Actor
from citizendata.services.access import form_in, project_for
from citizendata.store.models import Submission

__all__ = ["ExactDuplicate", "exact_duplicates"]


@dataclass(frozen=True)
class ExactDuplicate:
    """Submissions of one form whose answers are identical."""

    content_hash: str
    submission_ids: tuple[int, ...]
    instance_ids: tuple[str, ...]


def exact_duplicates(db: Session, actor: Actor | None, slug: str, form_id: str
                     ) -> list[ExactDuplicate]:
    """Every group of two or more submissions of a form with identical answers, oldest first."""
    project, _ = project_for(db, actor, slug, Action.SUBMISSION_VIEW)
    form = form_in(db, project, form_id)
    repeated = (select(Submission.content_hash)
                .where(Submission.form_id == form.id)
                .group_by(Submission.content_hash)
                .having(func.count() > 1)).subquery()
    rows = db.execute(
        select(Submission.content_hash, Submission.id, Submission.instance_id)
        .where(Submission.form_id == form.id,
               Submission.content_hash.in_(select(repeated.c.content_hash)))
        .order_by(Submission.content_hash, Submission.id)
    ).all()
    groups: dict[str, list[tuple[int, str]]] = {}
    for h, sid, iid in rows:
        groups.setdefault(h, []).append((sid, iid))
    found = [ExactDuplicate(h, tuple(s for s, _ in g), tuple(i for _, i in g))
             for h, g in groups.items()]
    return sorted(found, key=lambda d: d.submission_ids[0])
