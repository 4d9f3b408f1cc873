"""Exact duplicates: the same answers stored under different instance ids.

A resend with the same instance id never creates a second row (see intake); what is
left are copies that a phone or an import gave a new instance id, for example a form
filled in twice from the same paper record. They are found set-based, by grouping on
the content hash, and left for a reviewer to decide (probable duplicates, compared
fuzzily, are found by validation runs: citizendata.services.validation). Reviewers
confirm, dismiss or merge pairs; a merge keeps both submissions and rejects one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from citizendata.auth import Action, Actor
from citizendata.errors import BadInput, NotFound, Where
from citizendata.services.access import audit, form_in, project_for
from citizendata.store.models import ConsentWithdrawal, DuplicatePair, ReviewEvent, Submission

__all__ = ["PAIR_ACTIONS", "ExactDuplicate", "PairInfo", "count_pairs", "decide_pair",
           "duplicate_pairs",
           "exact_duplicates", "exact_groups", "instance_ids"]


@dataclass(frozen=True)
class ExactDuplicate:
    """Submissions of one form whose answers are identical."""

    content_hash: str
    submission_ids: tuple[int, ...]
    instance_ids: tuple[str, ...]


def _gone(form_pk: int) -> Any:
    """Ids of the form's submissions whose consent to everything is withdrawn."""
    return select(ConsentWithdrawal.submission_id).where(
        ConsentWithdrawal.form_id == form_pk, ConsentWithdrawal.scope == "all")


def exact_groups(db: Session, form_pk: int) -> dict[str, list[tuple[int, str]]]:
    """Submissions of a form sharing a content hash: hash -> [(id, instance id)], oldest first.

    A submission withdrawn for everything is nobody's duplicate: it is no longer reviewed.
    """
    live = Submission.id.notin_(_gone(form_pk))
    repeated = (select(Submission.content_hash)
                .where(Submission.form_id == form_pk, live)
                .group_by(Submission.content_hash)
                .having(func.count() > 1)).subquery()
    rows = db.execute(
        select(Submission.content_hash, Submission.id, Submission.instance_id)
        .where(Submission.form_id == form_pk, live,
               Submission.content_hash.in_(select(repeated.c.content_hash)))
        .order_by(Submission.content_hash, Submission.id)
    ).all()
    groups: dict[str, list[tuple[int, str]]] = {}
    for h, sid, iid in rows:
        groups.setdefault(h, []).append((sid, iid))
    return groups


def instance_ids(db: Session, ids: set[int]) -> dict[int, str]:
    """The instance id of each submission id."""
    if not ids:
        return {}
    rows = db.execute(select(Submission.id, Submission.instance_id)
                      .where(Submission.id.in_(ids))).all()
    return {sid: iid for sid, iid in rows}


def exact_duplicates(db: Session, actor: Actor | None, slug: str, form_id: str
                     ) -> list[ExactDuplicate]:
    """Every group of two or more submissions of a form with identical answers, oldest first."""
    project, _ = project_for(db, actor, slug, Action.SUBMISSION_VIEW)
    form = form_in(db, project, form_id)
    found = [ExactDuplicate(h, tuple(s for s, _ in g), tuple(i for _, i in g))
             for h, g in exact_groups(db, form.id).items()]
    return sorted(found, key=lambda d: d.submission_ids[0])


PAIR_ACTIONS = {"confirm": "confirmed", "dismiss": "dismissed", "merge": "merged"}


@dataclass(frozen=True)
class PairInfo:
    """A candidate duplicate pair as a reviewer sees it."""

    id: int
    instance_l: str
    instance_r: str
    method: str
    probability: float
    status: str
    kept: str | None = None


def _withdrawn_pairs(form_pk: int) -> Any:
    """Pairs with a submission whose consent to everything is withdrawn: not reviewed."""
    gone = _gone(form_pk)
    return select(DuplicatePair.id).where(
        DuplicatePair.form_id == form_pk,
        DuplicatePair.submission_l.in_(gone) | DuplicatePair.submission_r.in_(gone))


def count_pairs(db: Session, actor: Actor | None, slug: str, form_id: str
                ) -> dict[str, int]:
    """How many of the form's duplicate pairs are in each status (candidate, confirmed …)."""
    project, _ = project_for(db, actor, slug, Action.SUBMISSION_VIEW)
    form = form_in(db, project, form_id)
    rows = db.execute(select(DuplicatePair.status, func.count()).where(
        DuplicatePair.form_id == form.id, DuplicatePair.id.notin_(_withdrawn_pairs(form.id)))
        .group_by(DuplicatePair.status)).all()
    return {str(st): int(n) for st, n in rows}


def duplicate_pairs(db: Session, actor: Actor | None, slug: str, form_id: str, *,
                    status: str | None = None, limit: int | None = None) -> list[PairInfo]:
    """The form's exact and probable duplicate pairs, most likely first (``limit``: the
    first so many)."""
    project, _ = project_for(db, actor, slug, Action.SUBMISSION_VIEW)
    form = form_in(db, project, form_id)
    q = select(DuplicatePair).where(DuplicatePair.form_id == form.id,
                                    DuplicatePair.id.notin_(_withdrawn_pairs(form.id)))
    if status is not None:
        q = q.where(DuplicatePair.status == status)
    q = q.order_by(DuplicatePair.probability.desc(), DuplicatePair.id)
    pairs = list(db.scalars(q if limit is None else q.limit(limit)))
    iids = instance_ids(db, {i for p in pairs for i in (p.submission_l, p.submission_r)})
    return [PairInfo(p.id, iids.get(p.submission_l, "?"), iids.get(p.submission_r, "?"),
                     p.method, p.probability, p.status,
                     iids.get(p.kept) if p.kept is not None else None) for p in pairs]


def decide_pair(db: Session, actor: Actor | None, slug: str, form_id: str, pair_id: int,
                action: str, *, keep: str | None = None) -> PairInfo:
    """Confirm, dismiss or merge a pair; a merge keeps both originals and rejects the other."""
    project, _ = project_for(db, actor, slug, Action.SUBMISSION_REVIEW)
    assert actor is not None
    form = form_in(db, project, form_id)
    if action not in PAIR_ACTIONS:
        raise BadInput("input.invalid", f"Unknown action {action!r}.", where=Where(
            field="action"), fix=f"Use one of {sorted(PAIR_ACTIONS)}.")
    pair = db.get(DuplicatePair, pair_id)
    if pair is None or pair.form_id != form.id or pair.id in set(
            db.scalars(_withdrawn_pairs(form.id))):
        raise NotFound("not_found.duplicate_pair", f"Form {form_id!r} has no duplicate pair "
                       f"{pair_id}.")
    subs = {s.id: s for s in db.scalars(select(Submission).where(
        Submission.id.in_([pair.submission_l, pair.submission_r])))}
    left, right = subs[pair.submission_l], subs[pair.submission_r]
    if action == "merge":
        kept = left if keep in (None, left.instance_id) else right
        if keep not in (None, left.instance_id, right.instance_id):
            raise BadInput("input.invalid", f"{keep!r} is not in this pair.",
                           where=Where(field="keep"),
                           fix=f"Keep {left.instance_id!r} or {right.instance_id!r}.")
        other = right if kept is left else left
        other.review_status = "rejected"
        db.add(ReviewEvent(submission_id=other.id, kind="decision", status="rejected",
                           comment=f"duplicate of {kept.instance_id} (merged)",
                           actor_id=actor.user_id, actor=actor.username))
        pair.kept = kept.id
    pair.status = PAIR_ACTIONS[action]
    pair.decided_by = actor.username
    pair.decided_at = datetime.now(UTC)
    audit(db, actor, f"duplicates.{action}", "form", form_id, project_id=project.id,
          details={"pair": pair.id, "instance_ids": [left.instance_id, right.instance_id]})
    return PairInfo(pair.id, left.instance_id, right.instance_id, pair.method,
                    pair.probability, pair.status,
                    None if pair.kept is None else subs[pair.kept].instance_id)
