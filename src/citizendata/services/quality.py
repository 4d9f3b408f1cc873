"""The quality record's stored parts: evidence read from the database, attestations, decisions.

Evidence that needs the data themselves (item non-response, coverage, the
indicator's precision and coherence) is measured by ``Client.quality`` on the
snapshot; what the database already knows is read here.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import func, select, union
from sqlalchemy.orm import Session

from citizendata.auth import Action, Actor
from citizendata.errors import BadInput, NotFound, Where
from citizendata.projects.spec import ProjectSpec
from citizendata.quality.model import DIMENSIONS, Attestation
from citizendata.services.access import audit, form_in, project_for
from citizendata.services.review import agreement_of, decision_rows
from citizendata.store.models import (
    ConsentWithdrawal,
    DuplicatePair,
    Finding,
    QualityAttestation,
    QualityDecision,
    Submission,
    ValidationRun,
)

__all__ = ["GATEWAY_SUBJECTS", "add_attestation", "attestations", "database_evidence",
           "decisions", "record_decision"]

GATEWAY_SUBJECTS = ("gateway:ethics_privacy", "gateway:transparency_accountability",
                    "gateway:need")
_RATINGS = {"dimension": ("high", "medium", "low"), "gateway": ("pass", "fail")}


def database_evidence(db: Session, actor: Actor | None, slug: str, form_id: str
                      ) -> dict[str, Any]:
    """Submissions, validation pass rate, duplicate rate, validators' kappa, years with data."""
    project, _ = project_for(db, actor, slug, Action.DATA_EXPORT)
    form = form_in(db, project, form_id)
    withdrawn = select(ConsentWithdrawal.submission_id).where(
        ConsentWithdrawal.form_id == form.id, ConsentWithdrawal.scope == "all")
    live = (select(Submission.id).where(Submission.form_id == form.id,
                                        Submission.id.notin_(withdrawn)))
    n = db.scalar(select(func.count()).select_from(live.subquery())) or 0
    out: dict[str, Any] = {"submissions": n}
    run = db.scalar(select(ValidationRun).where(ValidationRun.form_id == form.id)
                    .order_by(ValidationRun.id.desc()).limit(1))
    if run is not None and n:
        failed = db.scalar(select(func.count(func.distinct(Finding.submission_id))).where(
            Finding.run_id == run.id, Finding.severity == "error",
            Finding.submission_id.in_(live))) or 0
        out["validation_pass_rate"] = 1.0 - failed / n
    pairs = union(
        select(DuplicatePair.submission_l.label("s")).where(
            DuplicatePair.form_id == form.id, DuplicatePair.status != "dismissed"),
        select(DuplicatePair.submission_r.label("s")).where(
            DuplicatePair.form_id == form.id, DuplicatePair.status != "dismissed"))
    in_pairs = db.scalar(select(func.count()).select_from(pairs.subquery())) or 0
    if run is not None and n:
        out["duplicate_rate"] = in_pairs / n
    # an aggregate of reviewers' decisions: shown to whoever may see the quality record
    kappa = agreement_of(decision_rows(db, form.id))
    fleiss = (kappa.get("fleiss") or {}).get("kappa")
    cohen = [c for c in (p.get("kappa") for p in kappa.get("cohen") or []) if c is not None]
    out["kappa"] = fleiss if fleiss is not None else (sum(cohen) / len(cohen) if cohen else None)
    years = sorted({int(y) for y in db.scalars(
        select(func.extract("year", Submission.collected_at)).where(
            Submission.id.in_(live), Submission.collected_at.is_not(None)).distinct())
        if y is not None})
    out["years"] = years
    return out


def add_attestation(db: Session, actor: Actor | None, slug: str, *, dataset: str,
                    subject: str, rating: str, statement: str, on: date | None = None,
                    indicator: str | None = None) -> dict[str, Any]:
    """Record a named person's attestation (owners, managers and the NSO)."""
    project, role = project_for(db, actor, slug, Action.QUALITY_ATTEST)
    form_in(db, project, dataset)
    if indicator is not None:
        _declared(project.spec or {}, slug, indicator)
    assert actor is not None
    kind = "gateway" if subject.startswith("gateway:") else "dimension"
    if kind == "gateway" and subject not in GATEWAY_SUBJECTS:
        raise BadInput("input.invalid", f"unknown gateway criterion {subject!r}",
                       where=Where(field="subject"), fix=f"Use one of {list(GATEWAY_SUBJECTS)}.")
    if kind == "dimension" and subject not in DIMENSIONS:
        raise BadInput("input.invalid", f"unknown quality dimension {subject!r}",
                       where=Where(field="subject"), fix=f"Use one of {list(DIMENSIONS)}.")
    if rating not in _RATINGS[kind]:
        raise BadInput("input.invalid", f"rating {rating!r} is not one of {_RATINGS[kind]}",
                       where=Where(field="rating"))
    if not statement.strip():
        raise BadInput("input.invalid", "an attestation needs a statement of what was checked",
                       where=Where(field="statement"))
    row = QualityAttestation(project_id=project.id, dataset=dataset, indicator=indicator,
                             subject=subject, rating=rating, statement=statement.strip(),
                             by=actor.username, role=role, on=on or date.today())
    db.add(row)
    db.flush()
    audit(db, actor, "quality.attest", "dataset", dataset, project_id=project.id,
          details={"subject": subject, "rating": rating, "indicator": indicator})
    return _attestation(row).__dict__ | {"on": row.on.isoformat()}


def _declared(spec: dict[str, Any], slug: str, indicator: str) -> None:
    """NotFound indicator.unknown unless the project's spec declares the indicator."""
    known = [i.id for i in ProjectSpec.model_validate(spec).estimation.indicators] if spec else []
    if indicator not in known:
        raise NotFound("indicator.unknown", f"project {slug!r} declares no indicator "
                       f"{indicator!r}; it has {known}", where=Where(field="indicator"))


def _attestation(r: QualityAttestation) -> Attestation:
    return Attestation(subject=r.subject, rating=r.rating, statement=r.statement, by=r.by,
                       role=r.role, on=r.on)


def attestations(db: Session, actor: Actor | None, slug: str, dataset: str,
                 indicator: str | None = None) -> list[Attestation]:
    """The attestations of a dataset (and of its indicator, if given), oldest first."""
    project, _ = project_for(db, actor, slug, Action.PROJECT_VIEW)
    q = select(QualityAttestation).where(QualityAttestation.project_id == project.id,
                                         QualityAttestation.dataset == dataset)
    rows = db.scalars(q.order_by(QualityAttestation.on, QualityAttestation.id))
    return [_attestation(r) for r in rows if r.indicator in (None, indicator)]


def record_decision(db: Session, actor: Actor | None, slug: str, *, dataset: str,
                    indicator: str | None, recommendation: str, rule: str, decision: str,
                    reason: str, record: dict[str, Any]) -> dict[str, Any]:
    """Keep the NSO's confirmation or override of a recommendation (logged)."""
    project, _ = project_for(db, actor, slug, Action.QUALITY_DECIDE)
    assert actor is not None
    row = QualityDecision(project_id=project.id, dataset=dataset, indicator=indicator,
                          recommendation=recommendation, rule=rule, decision=decision,
                          reason=reason, by=actor.username, record=record)
    db.add(row)
    db.flush()
    audit(db, actor, "quality.decide", "dataset", dataset, project_id=project.id,
          details={"indicator": indicator, "recommendation": recommendation, "rule": rule,
                   "decision": decision, "override": decision != recommendation})
    return _decision(row)


def _decision(r: QualityDecision) -> dict[str, Any]:
    return {"recommendation": r.recommendation, "rule": r.rule, "decision": r.decision,
            "reason": r.reason, "by": r.by, "at": r.at.isoformat(), "indicator": r.indicator}


def decisions(db: Session, actor: Actor | None, slug: str, dataset: str,
              indicator: str | None = None) -> list[dict[str, Any]]:
    """The decisions on a dataset (and indicator), newest first."""
    project, _ = project_for(db, actor, slug, Action.PROJECT_VIEW)
    rows = db.scalars(select(QualityDecision).where(
        QualityDecision.project_id == project.id, QualityDecision.dataset == dataset,
        QualityDecision.indicator.is_(None) if indicator is None
        else QualityDecision.indicator == indicator).order_by(QualityDecision.id.desc()))
    return [_decision(r) for r in rows]
