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

from sqlalchemy import case, func, insert, select, update
from sqlalchemy.orm import Session

from citizendata.auth import Action, Actor, allowed
from citizendata.errors import BadInput, Conflict, NotFound, Where
from citizendata.forms.schema import FormSchema
from citizendata.ingest.payload import content_hash, get_path
from citizendata.services.access import audit, form_in, project_for
from citizendata.services.consent import ALL, withdrawn_everywhere
from citizendata.services.forms import merged_schema
from citizendata.services.submissions import WITHHELD, current_version, redact
from citizendata.store.models import (
    ConsentWithdrawal,
    DuplicatePair,
    Finding,
    FormVersion,
    ReferenceTable,
    ReviewEvent,
    Submission,
    SubmissionVersion,
    User,
    ValidationRun,
)

__all__ = ["DECISIONS", "CleanApproval", "ReviewEntry", "SubmissionAnswers", "agreement",
           "answers", "approve_clean", "boundaries", "comment", "decide", "decisions", "edit",
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


@dataclass(frozen=True)
class CleanApproval:
    """What 'approve all without errors' did (or would do, for a preview)."""

    form_id: str
    run_id: int
    approved: int  # approved now (or that would be, in a preview)
    with_errors: int  # awaiting review, kept back: an error finding, or marked has_issues
    duplicates: int  # awaiting review, kept back: in a duplicate pair nobody decided
    unchecked: int  # awaiting review, kept back: received or edited after the latest run
    dry_run: bool = False


def approve_clean(db: Session, actor: Actor | None, slug: str, form_id: str, *,
                  dry_run: bool = False, comment: str | None = None) -> CleanApproval:
    """Approve every submission awaiting review that the latest validation run found clean.

    Clean: still received or edited, no error finding, in no undecided duplicate pair, and
    checked by the latest run (not received or edited since it started). Warnings do not
    hold a submission back. Each approval is a decision of the caller's, as if ticked by
    hand; the whole step is audited with its counts. ``dry_run`` only counts.
    """
    project, _ = project_for(db, actor, slug, Action.SUBMISSION_REVIEW)
    assert actor is not None
    form = form_in(db, project, form_id)
    run = db.scalars(select(ValidationRun).where(ValidationRun.form_id == form.id)
                     .order_by(ValidationRun.id.desc()).limit(1)).first()
    if run is None or run.finished_at is None:
        raise Conflict("review.not_validated",
                       f"Form {form_id!r} has not been validated yet, so no submission is "
                       "known to be clean; nothing was approved.",
                       where=Where(field=form_id),
                       fix="Run validation first, then approve the submissions without errors.")
    waiting = (Submission.form_id == form.id,
               Submission.review_status.in_(("received", "edited", "has_issues")),
               ~withdrawn_everywhere(form.id))
    errors = select(Finding.submission_id).where(Finding.form_id == form.id,
                                                 Finding.severity == "error")
    paired = (select(DuplicatePair.submission_l).where(
        DuplicatePair.form_id == form.id, DuplicatePair.status == "candidate")
        .union(select(DuplicatePair.submission_r).where(
            DuplicatePair.form_id == form.id, DuplicatePair.status == "candidate")))
    edited_since = select(SubmissionVersion.submission_id).where(
        SubmissionVersion.at > run.started_at)
    # in this order: not yet checked, then errors, then an undecided pair, else clean
    # ids grow with arrival: the newest submission received before the run bounds what it saw
    # (found from the end of the form's id index, reading only what came after the run)
    seen_up_to = db.scalar(select(Submission.id).where(
        Submission.form_id == form.id, Submission.received_at <= run.started_at)
        .order_by(Submission.id.desc()).limit(1)) or 0
    unchecked_c = (Submission.id > seen_up_to) | Submission.id.in_(edited_since)
    error_c = Submission.id.in_(errors) | (Submission.review_status == "has_issues")
    paired_c = Submission.id.in_(paired)
    bucket = case((unchecked_c, 1), (error_c, 2), (paired_c, 3), else_=0)
    counts: dict[int, int] = dict(db.execute(select(bucket, func.count()).where(*waiting)
                             .group_by(bucket)).all())
    unchecked, with_errors, duplicates = (int(counts.get(k, 0)) for k in (1, 2, 3))
    clean = [] if dry_run else list(db.scalars(
        select(Submission.id).where(*waiting, ~unchecked_c, ~error_c, ~paired_c)
        .order_by(Submission.id)))
    n_clean = int(counts.get(0, 0)) if dry_run else len(clean)
    if not dry_run and clean:
        note = comment or f"approved without errors (validation run {run.id})"
        for i in range(0, len(clean), 5000):
            chunk = clean[i:i + 5000]
            db.execute(update(Submission).where(Submission.id.in_(chunk))
                       .values(review_status="approved"))
            db.execute(insert(ReviewEvent), [
                {"submission_id": sid, "kind": "decision", "status": "approved",
                 "comment": note, "actor_id": actor.user_id, "actor": actor.username}
                for sid in chunk])
        audit(db, actor, "review.approve_clean", "form", form_id, project_id=project.id,
              details={"run": run.id, "approved": n_clean, "with_errors": with_errors,
                       "duplicates": duplicates, "unchecked": unchecked})
    return CleanApproval(form_id, run.id, n_clean, with_errors, duplicates, unchecked,
                         dry_run)


@dataclass(frozen=True)
class SubmissionAnswers:
    """A submission's current answers as the caller's role may see them."""

    id: int
    instance_id: str
    review_status: str
    version: int  # 1: as received; more: after a reviewer's edits
    form_version: str
    submitter: str | None
    received_at: datetime
    collected_at: datetime | None
    data: dict[str, Any]  # personal fields withheld unless the role may see them
    personal: bool  # whether the role sees personal data
    withdrawn: bool  # consent to everything withdrawn (only consent managers see these)


def answers(db: Session, actor: Actor | None, slug: str, form_id: str,
            instance_ids: Sequence[str]) -> tuple[FormSchema, list[SubmissionAnswers]]:
    """The form's merged schema and the submissions' current answers (a reviewer's latest
    edit, else as received), redacted with the library's personal-data rules."""
    project, role = project_for(db, actor, slug, Action.SUBMISSION_VIEW)
    form = form_in(db, project, form_id)
    subs = {s.instance_id: s for s in _submissions(db, form.id, instance_ids, role,
                                                   reading=True)}
    schema = merged_schema(db, form)
    personal = allowed(role, Action.PERSONAL_DATA_VIEW)
    gone = set(db.scalars(select(ConsentWithdrawal.submission_id).where(
        ConsentWithdrawal.form_id == form.id, ConsentWithdrawal.scope == ALL,
        ConsentWithdrawal.submission_id.in_([s.id for s in subs.values()]))))
    versions = dict(db.execute(select(FormVersion.id, FormVersion.version).where(
        FormVersion.id.in_({s.form_version_id for s in subs.values()}))).all())
    names = dict(db.execute(select(User.id, User.username).where(
        User.id.in_({s.submitter_id for s in subs.values() if s.submitter_id}))).all())
    out = []
    for iid in instance_ids:
        sub = subs[iid]
        version, payload = current_version(db, sub)
        out.append(SubmissionAnswers(
            sub.id, sub.instance_id, sub.review_status, version,
            str(versions.get(sub.form_version_id, "")),
            names.get(sub.submitter_id) if sub.submitter_id is not None else None,
            sub.received_at, sub.collected_at,
            payload if personal else redact(payload, schema), personal, sub.id in gone))
    return schema, out


def boundaries(db: Session, actor: Actor | None, slug: str) -> dict[str, Any] | None:
    """The project's finest boundary file (most areas), to place a GPS point on a map.

    Readable by whoever may see submissions: boundaries are reference data, not answers.
    """
    project, _ = project_for(db, actor, slug, Action.SUBMISSION_VIEW)
    import json

    best: dict[str, Any] | None = None
    for content in db.scalars(select(ReferenceTable.content).where(
            ReferenceTable.project_id == project.id, ReferenceTable.kind == "boundaries")):
        doc = json.loads(content.decode("utf-8"))
        if best is None or len(doc.get("features", [])) > len(best.get("features", [])):
            best = doc
    return best
