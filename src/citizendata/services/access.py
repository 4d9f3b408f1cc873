"""Default-deny access to projects, and the append-only audit log."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from citizendata.auth import Action, Actor, check
from citizendata.errors import Forbidden, NotFound, Unauthenticated
from citizendata.projects.spec import ProjectSpec
from citizendata.store.models import AuditEvent, Form, Membership, Project

__all__ = ["audit", "project_for", "project_spec", "require_actor", "require_admin", "role_in"]


def require_actor(actor: Actor | None) -> Actor:
    """The actor, or 401 when nobody is logged in."""
    if actor is None:
        raise Unauthenticated("auth.unauthenticated", "Log in or send an API token.")
    return actor


def require_admin(actor: Actor | None) -> Actor:
    """The actor if a site administrator, else 403."""
    actor = require_actor(actor)
    if not actor.is_admin:
        raise Forbidden("auth.not_admin", "Only a site administrator can do this.")
    return actor


def role_in(db: Session, actor: Actor, project_id: int) -> str | None:
    """The actor's role in a project, None if not a member."""
    return db.scalar(
        select(Membership.role).where(
            Membership.project_id == project_id, Membership.user_id == actor.user_id
        )
    )


def project_for(db: Session, actor: Actor | None, slug: str, action: Action) -> tuple[Project, str]:
    """The project and the actor's role, if the role allows ``action``; 404 for non-members."""
    actor = require_actor(actor)
    project = db.scalar(select(Project).where(Project.slug == slug))
    role = role_in(db, actor, project.id) if project is not None else None
    check(role, action, project_slug=slug)
    assert project is not None and role is not None
    return project, role


def project_spec(project: Project) -> ProjectSpec:
    """The project's spec as stored."""
    return ProjectSpec.model_validate(project.spec)


def form_in(db: Session, project: Project, form_id: str) -> Form:
    """A form of the project by its form id, else 404."""
    form = db.scalar(
        select(Form).where(Form.project_id == project.id, Form.xml_form_id == form_id)
    )
    if form is None:
        raise NotFound("not_found.form", f"Project {project.slug!r} has no form {form_id!r}.")
    return form


def audit(
    db: Session,
    actor: Actor | None,
    action: str,
    object_type: str,
    object_id: str | int | None = None,
    *,
    project_id: int | None = None,
    details: dict[str, Any] | None = None,
) -> None:
    """Append one event to the audit log (never personal data in details)."""
    db.add(
        AuditEvent(
            actor_id=actor.user_id if actor else None,
            actor=actor.username if actor else "system",
            action=action,
            project_id=project_id,
            object_type=object_type,
            object_id=None if object_id is None else str(object_id),
            details=details or {},
        )
    )
