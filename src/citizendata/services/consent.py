"""Consent scopes and their withdrawal, at a respondent's request.

A withdrawal is recorded against one submission (found by the instance id on the
respondent's receipt) for one scope or for all. Snapshots leave out a submission
whose consent to analysis (or to everything) is withdrawn; estimates and releases
also check the scope they need at the time they run. Nothing already published is
changed: a release records what it was built from. ``erase`` also wipes the stored
answers, for a respondent who asks to be forgotten; the envelope (instance id, hash)
stays so the audit log still makes sense.

A withdrawal covers the whole ODK edit chain (deprecatedID, in both directions).
Withdrawing everything, or erasing, leaves a tombstone per instance id of the chain
(instance id and content hash, no content): intake then stores nothing for those ids,
nor for a later edit of them, whatever channel a resend comes by (services.intake).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from citizendata.auth import Action, Actor
from citizendata.errors import BadInput, Conflict, NotFound, Where
from citizendata.projects.protection import ConsentSpec, ProtectionSpec
from citizendata.services.access import audit, form_in, project_for, project_spec
from citizendata.store.models import (
    Attachment,
    CaseVerification,
    ConsentWithdrawal,
    Finding,
    Form,
    LinkDecision,
    Project,
    ReviewEvent,
    Submission,
    SubmissionVersion,
    Tombstone,
)

if TYPE_CHECKING:
    from citizendata.stats.frame import ConsentFilter

__all__ = [
    "ALL",
    "BASES",
    "consent_filter",
    "consent_spec",
    "excluded_instance_ids",
    "protection_spec",
    "withdraw",
    "withdrawals",
    "withdrawn_everywhere",
]

ALL = "all"
BASES = ("respondent_request", "guardian_request", "community_decision", "other")
ERASED_NOTE = "[erased at the respondent's request]"


def protection_spec(project: Project) -> ProtectionSpec:
    """The project's protection policy (the safe defaults when its spec has none)."""
    return project_spec(project).protection


def consent_spec(project: Project) -> ConsentSpec:
    """The project's consent policy."""
    return protection_spec(project).consent


def _scopes(spec: ConsentSpec) -> set[str]:
    """Every scope the project's policy knows."""
    named = {spec.analysis, spec.publication, spec.nso_sharing, *spec.default}
    for granted in spec.mapping.values():
        named.update(granted.split())
    return named


def withdraw(db: Session, actor: Actor | None, slug: str, form_id: str, instance_id: str, *,
             scopes: Sequence[str] = (ALL,), basis: str = "respondent_request",
             erase: bool = False) -> dict[str, Any]:
    """Record a withdrawal of consent for one submission; logged, never silent."""
    project, _ = project_for(db, actor, slug, Action.CONSENT_MANAGE)
    form = form_in(db, project, form_id)
    assert actor is not None
    spec = consent_spec(project)
    scopes = list(dict.fromkeys(scopes)) or [ALL]
    unknown = sorted(set(scopes) - _scopes(spec) - {ALL})
    if unknown:
        raise BadInput("consent.invalid_scope", f"unknown consent scope(s) {unknown}",
                       where=Where(field="scope"),
                       fix=f"Use {ALL!r} or one of {sorted(_scopes(spec))}.")
    if basis not in BASES:
        raise BadInput("input.invalid", f"unknown basis {basis!r}", where=Where(field="basis"),
                       fix=f"Use one of {list(BASES)}.")
    if erase and scopes != [ALL]:
        raise BadInput("input.invalid", "erasing the answers withdraws every scope",
                       where=Where(field="erase"), fix="Withdraw scope 'all' to erase.")
    chain = _edit_chain(db, form.id, instance_id)
    if not chain:  # perhaps an encrypted submission, known only by its instance id
        from citizendata.services.encryption import withdraw_encrypted

        done_encrypted = withdraw_encrypted(db, actor, project.id, form.id, instance_id,
                                            scopes, basis, erase)
        if done_encrypted is not None:
            audit(db, actor, "consent.withdraw", "submission", instance_id,
                  project_id=project.id, details={"form": form_id, "scopes": done_encrypted,
                                                  "basis": basis, "erased": erase,
                                                  "encrypted": True})
            return {"instance_id": instance_id, "form": form_id, "scopes": done_encrypted,
                    "basis": basis, "erased": erase}
    if not chain:
        raise NotFound("consent.unknown_submission",
                       f"form {form_id!r} has no submission {instance_id!r}",
                       where=Where(instance_id=instance_id))
    have: dict[int, set[str]] = {sub.id: set() for sub in chain}
    for sid, scope in db.execute(select(ConsentWithdrawal.submission_id, ConsentWithdrawal.scope)
                                 .where(ConsentWithdrawal.submission_id.in_(list(have)))):
        have[sid].add(scope)
    # withdrawn already only where every version of the submission says so
    done = set.intersection(*(have[sub.id] for sub in chain))
    new = [s for s in scopes if s not in done and ALL not in done]
    if not new and not erase:
        raise Conflict("consent.already_withdrawn",
                       f"consent of submission {instance_id!r} is already withdrawn for "
                       f"{sorted(done)}", where=Where(instance_id=instance_id))
    # the person's answers may live on in other versions of the submission (ODK's
    # deprecatedID chain): the withdrawal covers each of them
    for sub in chain:
        for s in (scopes if erase else new):
            if s not in have[sub.id] and ALL not in have[sub.id]:
                db.add(ConsentWithdrawal(project_id=project.id, form_id=form.id,
                                         submission_id=sub.id, instance_id=sub.instance_id,
                                         scope=s, basis=basis, erased=erase,
                                         recorded_by=actor.username))
        if erase:
            _erase(db, sub, project.id, _case_keys(db, project, form, sub))
            db.execute(update(ConsentWithdrawal).where(ConsentWithdrawal.submission_id == sub.id)
                       .values(erased=True))
    if erase or ALL in new or ALL in done:
        _bury(db, project.id, form.id, chain, "erased" if erase else "withdrawn")
    db.flush()
    audit(db, actor, "consent.withdraw", "submission", instance_id, project_id=project.id,
          details={"form": form_id, "scopes": new or sorted(done), "basis": basis,
                   "erased": erase})
    return {"instance_id": instance_id, "form": form_id, "scopes": new or sorted(done),
            "basis": basis, "erased": erase}


def _edit_chain(db: Session, form_pk: int, instance_id: str) -> list[Submission]:
    """The submission, the versions it replaced and every later edit of it.

    ODK edits name the instance id they replace (meta/deprecatedID); a respondent's
    receipt may carry any id of the chain, and each version holds their answers.
    """
    first = db.scalar(select(Submission).where(Submission.form_id == form_pk,
                                               Submission.instance_id == instance_id))
    if first is None:
        return []
    chain = [first]
    while chain[0].deprecated_id is not None:
        earlier = db.scalar(select(Submission).where(
            Submission.form_id == form_pk, Submission.instance_id == chain[0].deprecated_id))
        if earlier is None or earlier in chain:
            break
        chain.insert(0, earlier)
    ids = {s.instance_id for s in chain}
    while True:
        later = list(db.scalars(select(Submission).where(
            Submission.form_id == form_pk, Submission.deprecated_id.in_(ids),
            Submission.id.notin_([c.id for c in chain]))))
        if not later:
            return chain
        chain += later
        ids = {s.instance_id for s in later}


def _bury(db: Session, project_pk: int, form_pk: int, chain: Sequence[Submission],
          reason: str) -> None:
    """Tombstones for every instance id of the chain (and for edits refused earlier)."""
    have = {t.instance_id: t for t in db.scalars(select(Tombstone).where(
        Tombstone.form_id == form_pk,
        Tombstone.instance_id.in_([s.instance_id for s in chain])))}
    for sub in chain:
        if sub.instance_id not in have:
            db.add(Tombstone(project_id=project_pk, form_id=form_pk,
                             instance_id=sub.instance_id, content_hash=sub.content_hash,
                             submission_id=sub.id, reason=reason))
    if reason == "erased":
        db.execute(update(Tombstone).where(
            Tombstone.form_id == form_pk,
            Tombstone.submission_id.in_([s.id for s in chain])).values(reason=reason))


def _case_keys(db: Session, project: Project, form: Form, sub: Submission) -> set[str]:
    """The ``list:record_id`` keys a submission of the project's case form is known by in
    clerical link decisions (services/cases.py), read from every version of its answers;
    none for another form. Read before the answers are wiped."""
    from citizendata.ingest.payload import get_path
    from citizendata.services.forms import merged_schema

    cspec = project_spec(project).cases
    if cspec is None or cspec.form != form.xml_form_id:
        return set()
    paths = {x.name: x.path for x in merged_schema(db, form).fields if x.repeat is None}
    payloads = [sub.payload, *db.scalars(select(SubmissionVersion.payload).where(
        SubmissionVersion.submission_id == sub.id))]
    keys = set()
    for payload in payloads:
        source = get_path(payload, paths.get(cspec.fields.source, cspec.fields.source))
        record = get_path(payload, paths.get(cspec.fields.record_id, cspec.fields.record_id))
        if source is not None and record is not None:
            keys.add(f"{source}:{record}")
    return keys


def _erase(db: Session, sub: Submission, project_pk: int | None = None,
           case_keys: Collection[str] = ()) -> None:
    """Wipe a submission's answers everywhere they are kept; the envelope stays."""
    sub.payload = {"meta": {"instanceID": sub.instance_id}, "erased": True}
    sub.source_meta = None
    # the interview's time comes from the answers (start, end, a date question)
    sub.collected_at = None
    # reviewers' comments and edit reasons may quote the answers
    db.execute(update(ReviewEvent).where(ReviewEvent.submission_id == sub.id,
                                         ReviewEvent.comment.is_not(None))
               .values(comment=ERASED_NOTE))
    db.execute(update(SubmissionVersion).where(SubmissionVersion.submission_id == sub.id)
               .values(reason=""))
    db.execute(update(SubmissionVersion).where(SubmissionVersion.submission_id == sub.id)
               .values(payload={"meta": {"instanceID": sub.instance_id}, "erased": True},
                       diff={}))
    db.execute(delete(Attachment).where(Attachment.submission_id == sub.id))
    # which rule an answer broke says something about the answer
    db.execute(delete(Finding).where(Finding.submission_id == sub.id))
    # a case's verification evidence and notes, and notes on its record's link decisions,
    # may quote the case (its victim's name, a witness): wiped too; decisions stay
    db.execute(update(CaseVerification).where(CaseVerification.submission_id == sub.id)
               .values(evidence=ERASED_NOTE, note=ERASED_NOTE))
    if case_keys and project_pk is not None:
        keys = sorted(case_keys)
        db.execute(update(LinkDecision).where(
            LinkDecision.project_id == project_pk,
            LinkDecision.left_key.in_(keys) | LinkDecision.right_key.in_(keys))
            .values(note=ERASED_NOTE))


def withdrawn_everywhere(form_pk: int) -> Any:
    """SQL condition: the submission's consent to everything is withdrawn."""
    return select(ConsentWithdrawal.id).where(
        ConsentWithdrawal.form_id == form_pk, ConsentWithdrawal.submission_id == Submission.id,
        ConsentWithdrawal.scope == ALL).exists()


def withdrawals(db: Session, actor: Actor | None, slug: str, form_id: str | None = None
                ) -> list[dict[str, Any]]:
    """The project's recorded withdrawals, newest first."""
    project, _ = project_for(db, actor, slug, Action.CONSENT_MANAGE)
    q = select(ConsentWithdrawal).where(ConsentWithdrawal.project_id == project.id)
    if form_id is not None:
        q = q.where(ConsentWithdrawal.form_id == form_in(db, project, form_id).id)
    rows = db.scalars(q.order_by(ConsentWithdrawal.id.desc()))
    return [{"instance_id": r.instance_id, "scope": r.scope, "basis": r.basis,
             "erased": r.erased, "recorded_by": r.recorded_by, "at": r.at.isoformat()}
            for r in rows]


PURPOSES = ("analysis", "publication", "nso_sharing")


def consent_filter(db: Session, actor: Actor | None, slug: str, form_id: str,
                   purpose: str = "analysis") -> ConsentFilter:
    """What a use of the form's data may read under the project's consent policy."""
    from citizendata.stats.frame import ConsentFilter  # Ibis and pandas: only here

    if purpose not in PURPOSES:
        raise BadInput("consent.invalid_scope", f"unknown purpose {purpose!r}",
                       where=Where(field="purpose"), fix=f"Use one of {list(PURPOSES)}.")
    project, _ = project_for(db, actor, slug, Action.DATA_EXPORT)
    form = form_in(db, project, form_id)
    spec = consent_spec(project)
    scope: str = getattr(spec, purpose)
    values = tuple(v for v, granted in spec.mapping.items() if scope in granted.split())
    return ConsentFilter(scope=scope, field=spec.field,
                         values=values if spec.mapping else (scope,),
                         default=scope in spec.default,
                         excluded=tuple(excluded_instance_ids(db, form.id, scope)))


def excluded_instance_ids(db: Session, form_pk: int, scope: str) -> list[str]:
    """Instance ids of the form whose consent to ``scope`` (or to everything) is withdrawn."""
    return sorted(set(db.scalars(
        select(ConsentWithdrawal.instance_id).where(
            ConsentWithdrawal.form_id == form_pk,
            ConsentWithdrawal.scope.in_([ALL, scope])))))
