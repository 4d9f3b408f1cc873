"""The review workflow (ODK Central semantics): decisions, comments and edits kept as versions.

Statuses: received → has_issues / approved / rejected, and edited after a reviewer's
edit. Every decision of every validator is kept (for validator agreement); the
submission's status is the latest one. An edit stores the whole new payload as a new
version with its diff; the payload as received is never changed.
"""

from __future__ import annotations

import copy
import dataclasses
import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from citizendata.auth import Action, Actor, allowed
from citizendata.errors import BadInput, Conflict, NotFound, Where
from citizendata.ingest.payload import content_hash, get_path
from citizendata.services.access import audit, form_in, project_for
from citizendata.services.consent import ALL
from citizendata.services.forms import merged_schema
from citizendata.services.submissions import WITHHELD, current_version
from citizendata.store.models import (
    ConsentWithdrawal,
    ReviewEvent,
    Submission,
    SubmissionVersion,
)

__all__ = ["DECISIONS", "ReviewEntry", "agreement", "comment", "decide", "decisions", "edit",
           "history"]

DECISIONS = ("has_issues", "approved", "rejected")


@dataclass(frozen=True)
class ReviewEntry:
    """One line of a submission's review history."""

    at: datetime
    actor: str
    kind: str  # decision | comment | edit | withdrawal
    status: str | None = None
    comment: str | None = None
    version: int | None = None
    diff: tuple[dict[str, Any], ...] = ()


def _submissions(db: Session, form_pk: int, instance_ids: Sequence[str], role: str | None,
                 *, reading: bool = False) -> list[Submission]:
    """The submissions named, as the caller's role may reach them.

    One withdrawn for everything is not found for roles that may not manage consent,
    and is refused for review (but readable) for those that may.
    """
    found = list(db.scalars(select(Submission).where(Submission.form_id == form_pk,
                                                     Submission.instance_id.in_(instance_ids))))
    withdrawn = set(db.scalars(select(ConsentWithdrawal.instance_id).where(
        ConsentWithdrawal.form_id == form_pk, ConsentWithdrawal.scope == ALL,
        ConsentWithdrawal.submission_id.in_([s.id for s in found]))))
    if withdrawn and not allowed(role, Action.CONSENT_MANAGE):
        found = [s for s in found if s.instance_id not in withdrawn]
    missing = sorted(set(instance_ids) - {s.instance_id for s in found})
    if missing:
        raise NotFound("not_found.submission", f"No submission(s) {', '.join(missing[:5])}.",
                       where=Where(instance_id=missing[0]))
    if withdrawn and not reading:
        first = sorted(withdrawn)[0]
        raise Conflict("consent.withdrawn",
                       f"Consent to everything was withdrawn for {len(withdrawn)} submission(s) "
                       f"({first}{', …' if len(withdrawn) > 1 else ''}): they are no longer "
                       "reviewed; nothing was recorded.", where=Where(instance_id=first))
    return found


def decide(db: Session, actor: Actor | None, slug: str, form_id: str,
           instance_ids: Sequence[str], status: str, comment: str | None = None) -> int:
    """Record one validator's decision on one or many submissions; returns how many."""
    project, role = project_for(db, actor, slug, Action.SUBMISSION_REVIEW)
    assert actor is not None
    if status not in DECISIONS:
        raise BadInput("input.invalid", f"Unknown decision {status!r}.", where=Where(
            field="status"), fix=f"Use one of {list(DECISIONS)}.")
    subs = _submissions(db, form_in(db, project, form_id).id, instance_ids, role)
    for sub in subs:
        sub.review_status = status
        db.add(ReviewEvent(submission_id=sub.id, kind="decision", status=status,
                           comment=comment, actor_id=actor.user_id, actor=actor.username))
    # instance ids and statuses only: comments may quote answers
    audit(db, actor, "review.decide", "form", form_id, project_id=project.id,
          details={"status": status, "count": len(subs),
                   "instance_ids": [s.instance_id for s in subs][:1000]})
    return len(subs)


def comment(db: Session, actor: Actor | None, slug: str, form_id: str, instance_id: str,
            text: str) -> None:
    """Add a reviewer's comment to a submission."""
    project, role = project_for(db, actor, slug, Action.SUBMISSION_REVIEW)
    assert actor is not None
    if not text.strip():
        raise BadInput("input.invalid", "The comment is empty.", where=Where(field="comment"))
    (sub,) = _submissions(db, form_in(db, project, form_id).id, [instance_id], role)
    db.add(ReviewEvent(submission_id=sub.id, kind="comment", comment=text,
                       actor_id=actor.user_id, actor=actor.username))
    audit(db, actor, "review.comment", "submission", sub.id, project_id=project.id,
          details={"instance_id": instance_id})


def _set_path(payload: dict[str, Any], path: str, value: Any) -> None:
    node = payload
    parts = path.split("/")
    for part in parts[:-1]:
        nxt = node.get(part)
        if not isinstance(nxt, dict):
            nxt = node[part] = {}
        node = nxt
    node[parts[-1]] = value


def edit(db: Session, actor: Actor | None, slug: str, form_id: str, instance_id: str,
         changes: dict[str, Any], reason: str) -> int:
    """Change answers (top-level or group fields, by path) as a new version; returns it."""
    project, role = project_for(db, actor, slug, Action.SUBMISSION_REVIEW)
    assert actor is not None
    form = form_in(db, project, form_id)
    if not reason.strip():
        raise BadInput("input.invalid", "Say why the answers are changed.",
                       where=Where(field="reason"))
    fields = {f.path: f for f in merged_schema(db, form).fields if f.repeat is None}
    unknown = sorted(set(changes) - set(fields))
    if unknown:
        raise BadInput("input.invalid", f"Not fields outside repeats of form {form_id!r}: "
                       f"{unknown}.", where=Where(field=unknown[0]),
                       fix="Give field paths such as 'location/ward'.")
    (sub,) = _submissions(db, form.id, [instance_id], role)
    version, before = current_version(db, sub)
    after = copy.deepcopy(before)
    diff = []
    for path, value in sorted(changes.items()):
        old = get_path(before, path)
        if old != value:
            _set_path(after, path, value)
            diff.append({"path": path, "before": old, "after": value})
    if not diff:
        return version
    db.add(SubmissionVersion(submission_id=sub.id, version=version + 1, payload=after,
                             content_hash=content_hash(after), diff={"changes": diff},
                             reason=reason, actor_id=actor.user_id, actor=actor.username))
    sub.review_status = "edited"
    audit(db, actor, "review.edit", "submission", sub.id, project_id=project.id,
          details={"instance_id": instance_id, "version": version + 1,
                   "paths": [d["path"] for d in diff]})
    return version + 1


def history(db: Session, actor: Actor | None, slug: str, form_id: str, instance_id: str
            ) -> list[ReviewEntry]:
    """A submission's decisions, comments and edits, oldest first."""
    project, role = project_for(db, actor, slug, Action.SUBMISSION_VIEW)
    form = form_in(db, project, form_id)
    (sub,) = _submissions(db, form.id, [instance_id], role, reading=True)
    personal = set() if allowed(role, Action.PERSONAL_DATA_VIEW) else {
        f.path for f in merged_schema(db, form).fields if f.personal}
    entries = [ReviewEntry(e.at, e.actor, e.kind, e.status, e.comment) for e in db.scalars(
        select(ReviewEvent).where(ReviewEvent.submission_id == sub.id).order_by(ReviewEvent.id))]
    for v in db.scalars(select(SubmissionVersion).where(SubmissionVersion.submission_id == sub.id)
                        .order_by(SubmissionVersion.version)):
        changes = tuple(
            {**d, "before": WITHHELD, "after": WITHHELD} if d["path"] in personal else d
            for d in v.diff.get("changes", []))
        entries.append(ReviewEntry(v.at, v.actor, "edit", comment=v.reason, version=v.version,
                                   diff=changes))
    if allowed(role, Action.CONSENT_MANAGE):
        # withdrawals are theirs to see (as in the list of withdrawals), not the reviewers'
        entries += [ReviewEntry(w.at, w.recorded_by, "withdrawal",
                                status="erased" if w.erased else "withdrawn",
                                comment=f"consent withdrawn: {w.scope} ({w.basis})")
                    for w in db.scalars(select(ConsentWithdrawal).where(
                        ConsentWithdrawal.submission_id == sub.id)
                        .order_by(ConsentWithdrawal.id))]
    return sorted(entries, key=lambda e: e.at)


def decisions(db: Session, actor: Actor | None, slug: str, form_id: str
              ) -> list[tuple[str, str, str]]:
    """Every validator's latest decision per submission: (instance id, validator, status)."""
    project, _ = project_for(db, actor, slug, Action.SUBMISSION_VIEW)
    return decision_rows(db, form_in(db, project, form_id).id)


def decision_rows(db: Session, form_pk: int) -> list[tuple[str, str, str]]:
    """The latest decision of each validator on each submission of a form (no access check)."""
    latest = (select(func.max(ReviewEvent.id))
              .join(Submission, Submission.id == ReviewEvent.submission_id)
              .where(Submission.form_id == form_pk, ReviewEvent.kind == "decision")
              .group_by(ReviewEvent.submission_id, ReviewEvent.actor_id))
    rows = db.execute(select(Submission.instance_id, ReviewEvent.actor, ReviewEvent.status)
                      .join(Submission, Submission.id == ReviewEvent.submission_id)
                      .where(ReviewEvent.id.in_(latest))
                      .order_by(Submission.instance_id, ReviewEvent.actor)).all()
    return [(i, a, str(s)) for i, a, s in rows]


def agreement(db: Session, actor: Actor | None, slug: str, form_id: str
              ) -> dict[str, Any]:
    """Validator agreement on a form: Cohen's kappa per pair, Fleiss' kappa for three or more.

    Cohen's kappa uses the submissions both validators decided on (at least two);
    Fleiss' kappa uses the submissions decided by the most common number of validators
    (three or more), since it needs the same number of ratings per submission.
    """
    return agreement_of(decisions(db, actor, slug, form_id))


def agreement_of(rows: list[tuple[str, str, str]]) -> dict[str, Any]:
    """Cohen's and Fleiss' kappa from (instance id, validator, status) rows."""
    by_sub: dict[str, dict[str, str]] = {}
    for iid, who, status in rows:
        by_sub.setdefault(iid, {})[who] = status
    validators = sorted({w for _, w, _ in rows})
    pairs = []
    for i, a in enumerate(validators):
        for b in validators[i + 1:]:
            common = [s for s in by_sub.values() if a in s and b in s]
            if len(common) >= 2:
                try:
                    from citizendata.validate.agreement import cohen_kappa

                    k = cohen_kappa([s[a] for s in common], [s[b] for s in common])
                except BadInput as exc:
                    # one decision throughout: kappa is undefined, not an error of the data
                    pairs.append({"validators": [a, b], "kappa": None, "n": len(common),
                                  "note": exc.message})
                    continue
                pairs.append({"validators": [a, b], **_finite(dataclasses.asdict(k))})
    out: dict[str, Any] = {"validators": validators, "submissions": len(by_sub),
                           "cohen": pairs, "fleiss": None}
    sizes = Counter(len(s) for s in by_sub.values() if len(s) >= 3)
    if sizes:
        m = sizes.most_common(1)[0][0]
        chosen = [(iid, st) for iid, s in by_sub.items() if len(s) == m for st in s.values()]
        if len({iid for iid, _ in chosen}) >= 2:
            try:
                from citizendata.validate.agreement import fleiss_counts, fleiss_kappa

                out["fleiss"] = _finite(dataclasses.asdict(fleiss_kappa(fleiss_counts(chosen))))
            except BadInput as exc:
                out["fleiss"] = {"kappa": None, "note": exc.message}
    return out


def _finite(d: dict[str, Any]) -> dict[str, Any]:
    # kappa is undefined (NaN) when every decision falls in one category: say None, as JSON can
    return {k: None if isinstance(v, float) and math.isnan(v) else v for k, v in d.items()}
