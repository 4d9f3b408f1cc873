"""The project's protection policy and its differential-privacy budget ledger.

Every differentially private output spends part of the project's budget (ε, δ); the
ledger is append-only, a spend that would exceed the budget is refused before any
noise is drawn, and both are in the audit log.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from citizendata.auth import Action, Actor
from citizendata.errors import BadInput, Where
from citizendata.privacy.budget import Spend, check_budget, compose
from citizendata.projects.protection import ProtectionSpec
from citizendata.services.access import audit, project_for
from citizendata.services.consent import protection_spec
from citizendata.store.models import PrivacySpend

__all__ = ["budget", "policy", "spend"]


def policy(db: Session, actor: Actor | None, slug: str) -> ProtectionSpec:
    """The project's protection policy, for anyone who may see the project."""
    project, _ = project_for(db, actor, slug, Action.PROJECT_VIEW)
    return protection_spec(project)


def _ledger(db: Session, project_id: int) -> list[PrivacySpend]:
    return list(db.scalars(select(PrivacySpend).where(PrivacySpend.project_id == project_id)
                           .order_by(PrivacySpend.id)))


def budget(db: Session, actor: Actor | None, slug: str) -> dict[str, Any]:
    """The budget, what has been spent (by basic composition) and the ledger."""
    project, _ = project_for(db, actor, slug, Action.PROJECT_VIEW)
    dp = protection_spec(project).dp
    rows = _ledger(db, project.id)
    eps, delta = compose([Spend(r.epsilon, r.delta, r.label) for r in rows])
    return {
        "enabled": dp.enabled, "mechanism": dp.mechanism,
        "budget": {"epsilon": dp.budget_epsilon, "delta": dp.budget_delta},
        "spent": {"epsilon": eps, "delta": delta},
        "remaining": {"epsilon": max(dp.budget_epsilon - eps, 0.0),
                      "delta": max(dp.budget_delta - delta, 0.0)},
        "ledger": [{"label": r.label, "epsilon": r.epsilon, "delta": r.delta,
                    "mechanism": r.mechanism, "actor": r.actor, "at": r.at.isoformat(),
                    "details": r.details} for r in rows],
    }


def spend(db: Session, actor: Actor | None, slug: str, label: str, epsilon: float,
          delta: float, mechanism: str, details: dict[str, Any] | None = None) -> dict[str, Any]:
    """Record a spend of the budget, or refuse it (privacy.budget_exceeded) if too large."""
    project, _ = project_for(db, actor, slug, Action.DATA_EXPORT)
    assert actor is not None
    dp = protection_spec(project).dp
    if not dp.enabled:
        raise BadInput("input.invalid", f"project {slug!r} does not use differential privacy",
                       where=Where(field="protection.dp.enabled"),
                       fix="Set protection.dp.enabled: true in the project spec first.")
    if not label or len(label) > 200:
        raise BadInput("input.invalid", "a budget spend needs a label of 1–200 characters "
                       "(e.g. the release it is for)", where=Where(field="label"))
    rows = _ledger(db, project.id)
    request = Spend(epsilon, delta, label)
    remaining = check_budget([Spend(r.epsilon, r.delta, r.label) for r in rows], request,
                             dp.budget_epsilon, dp.budget_delta)
    db.add(PrivacySpend(project_id=project.id, label=label, epsilon=epsilon, delta=delta,
                        mechanism=mechanism, actor=actor.username, details=details or {}))
    db.flush()
    audit(db, actor, "privacy.spend", "project", slug, project_id=project.id,
          details={"label": label, "epsilon": epsilon, "delta": delta, "mechanism": mechanism})
    return {"label": label, "epsilon": epsilon, "delta": delta, "remaining": remaining}
