"""Projects (citizen data initiatives), their engagement record and memberships."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from citizendata.auth import OWNER_ONLY_ROLES, Action, Actor, Role
from citizendata.errors import BadInput, Conflict, Forbidden, Where
from citizendata.projects.spec import ProjectSpec, load_spec
from citizendata.services.access import audit, project_for, require_actor
from citizendata.services.accounts import (
    initiating_organisation,
    partner_organisation,
    user_by_name,
)
from citizendata.store.models import (
    EngagementStage,
    Membership,
    Organisation,
    Project,
    ProjectPartner,
    User,
)

__all__ = ["MemberInfo", "ProjectInfo", "add_member", "create_project", "get_project",
           "list_members", "list_projects"]


# /projects/new is the new-project page: no project may take its address
RESERVED_SLUGS = frozenset({"new"})


@dataclass(frozen=True)
class ProjectInfo:
    """A project as its members see it."""

    id: int
    slug: str
    name: str
    role: str | None
    spec: ProjectSpec
    created_at: datetime

    @property
    def meets_citizen_data_threshold(self) -> bool:
        """True when design or collection is at participation level 4 or 5."""
        return self.spec.meets_citizen_data_threshold


@dataclass(frozen=True)
class MemberInfo:
    """A member of a project and their role."""

    username: str
    display_name: str | None
    role: str


def _info(project: Project, role: str | None) -> ProjectInfo:
    return ProjectInfo(project.id, project.slug, project.name, role,
                       ProjectSpec.model_validate(project.spec), project.created_at)


def create_project(db: Session, actor: Actor | None, spec: ProjectSpec) -> ProjectInfo:
    """Create a project from its spec; the creator becomes its owner.

    The initiating organisation must be one the creator belongs to (404 otherwise, as
    for one that does not exist). Project slugs are one namespace for the whole
    workspace: a taken slug is refused with 409, which tells the creator that a project
    with that slug exists, and nothing else about it (docs/guide.md).
    """
    actor = require_actor(actor)
    if spec.slug in RESERVED_SLUGS:
        raise BadInput("input.invalid", f"The slug {spec.slug!r} is reserved for a page "
                       f"(/projects/{spec.slug}).", where=Where(field="slug"),
                       fix="Choose another slug, e.g. one that names the place or topic.")
    initiator = initiating_organisation(db, actor, spec.initiator)
    if db.scalar(select(Project.id).where(Project.slug == spec.slug)) is not None:
        raise Conflict("conflict.exists", f"A project {spec.slug!r} already exists.",
                       where=Where(field="slug"))
    project = Project(
        slug=spec.slug, name=spec.name, initiator_org_id=initiator.id, purpose=spec.purpose,
        consent_basis=spec.consent_basis, integration_intent=spec.integration_intent.value,
        spec=spec.model_dump(mode="json"), created_by=actor.user_id,
    )
    db.add(project)
    db.flush()
    _write_partners_and_engagement(db, actor, project, spec)
    db.add(Membership(project_id=project.id, user_id=actor.user_id, role=Role.OWNER.value))
    audit(db, actor, "project.create", "project", project.slug, project_id=project.id,
          details={"spec": spec.model_dump(mode="json")})
    return _info(project, Role.OWNER.value)


def _write_partners_and_engagement(
    db: Session, actor: Actor, project: Project, spec: ProjectSpec
) -> None:
    db.execute(delete(ProjectPartner).where(ProjectPartner.project_id == project.id))
    db.execute(delete(EngagementStage).where(EngagementStage.project_id == project.id))
    linked: set[int] = set()
    for p in spec.partners:
        org = partner_organisation(db, actor, p)
        # a partner the creator does not belong to stays a name in the spec (no link)
        if org is not None and org.id not in linked:
            linked.add(org.id)
            db.add(ProjectPartner(project_id=project.id, organisation_id=org.id,
                                  role=p.role or p.kind))
    for stage, entry in spec.engagement.items():
        db.add(EngagementStage(project_id=project.id, stage=stage, level=entry.level,
                               evidence=entry.evidence))


def update_project(db: Session, actor: Actor | None, spec: ProjectSpec) -> ProjectInfo:
    """Replace a project's spec (slug unchanged); the old and new specs go to the audit log."""
    project, role = project_for(db, actor, spec.slug, Action.PROJECT_EDIT)
    assert actor is not None
    # a spec object changed after it was read is checked again: its cross-section rules
    # (e.g. small areas need declared tables) must hold before it is stored
    spec = load_spec(spec.model_dump(mode="json"))
    current = db.get(Organisation, project.initiator_org_id) if project.initiator_org_id \
        else None
    if current is None or current.slug != spec.initiator.slug:
        # moving the project to another organisation needs membership of that one
        project.initiator_org_id = initiating_organisation(db, actor, spec.initiator).id
    old = dict(project.spec)
    project.name = spec.name
    project.purpose = spec.purpose
    project.consent_basis = spec.consent_basis
    project.integration_intent = spec.integration_intent.value
    project.spec = spec.model_dump(mode="json")
    _write_partners_and_engagement(db, actor, project, spec)
    audit(db, actor, "project.update", "project", project.slug, project_id=project.id,
          details={"before": old, "after": project.spec})
    return _info(project, role)


def get_project(db: Session, actor: Actor | None, slug: str) -> ProjectInfo:
    """A project the actor is a member of, else 404."""
    project, role = project_for(db, actor, slug, Action.PROJECT_VIEW)
    return _info(project, role)


def list_projects(db: Session, actor: Actor | None) -> list[ProjectInfo]:
    """The projects the actor is a member of."""
    actor = require_actor(actor)
    rows = db.execute(
        select(Project, Membership.role)
        .join(Membership, Membership.project_id == Project.id)
        .where(Membership.user_id == actor.user_id)
        .order_by(Project.slug)
    ).all()
    return [_info(p, r) for p, r in rows]


def add_member(
    db: Session, actor: Actor | None, slug: str, username: str, role: str
) -> MemberInfo:
    """Give a user a role in a project (replacing any earlier role)."""
    project, my_role = project_for(db, actor, slug, Action.MEMBERS_MANAGE)
    assert actor is not None
    try:
        new_role = Role(role)
    except ValueError:
        raise BadInput("input.invalid", f"Unknown role {role!r}.", where=Where(field="role"),
                       fix=f"Use one of {[r.value for r in Role]}.") from None
    if new_role in OWNER_ONLY_ROLES and my_role != Role.OWNER:
        raise Forbidden("auth.forbidden", "Only an owner can make someone an owner.")
    user = user_by_name(db, username)
    m = db.scalar(select(Membership).where(Membership.project_id == project.id,
                                           Membership.user_id == user.id))
    before = m.role if m else None
    if m is None:
        db.add(Membership(project_id=project.id, user_id=user.id, role=new_role.value))
    else:
        if m.role == Role.OWNER and my_role != Role.OWNER:
            raise Forbidden("auth.forbidden", "Only an owner can change an owner's role.")
        if m.role == Role.OWNER and new_role != Role.OWNER and db.scalar(
                select(func.count()).select_from(Membership).where(
                    Membership.project_id == project.id,
                    Membership.role == Role.OWNER.value)) == 1:
            raise Conflict("conflict.exists", f"{user.username!r} is the project's only owner.",
                           where=Where(field="role"), fix="Make someone else an owner first.")
        m.role = new_role.value
    audit(db, actor, "member.set_role", "membership", user.username, project_id=project.id,
          details={"username": user.username, "before": before, "after": new_role.value})
    return MemberInfo(user.username, user.display_name, new_role.value)


def list_members(db: Session, actor: Actor | None, slug: str) -> list[MemberInfo]:
    """The members of a project."""
    project, _ = project_for(db, actor, slug, Action.MEMBERS_VIEW)
    rows = db.execute(
        select(User.username, User.display_name, Membership.role)
        .join(Membership, Membership.user_id == User.id)
        .where(Membership.project_id == project.id)
        .order_by(User.username)
    ).all()
    return [MemberInfo(u, d, r) for u, d, r in rows]


def engagement_record(db: Session, actor: Actor | None, slug: str) -> dict[str, Any]:
    """The engagement record: level and evidence per stage, and the threshold verdict."""
    project, _ = project_for(db, actor, slug, Action.PROJECT_VIEW)
    spec = ProjectSpec.model_validate(project.spec)
    return {
        # from the project's own spec: the shared organisation row may be someone else's
        "initiator": spec.initiator.name,
        "stages": {k: v.model_dump() for k, v in spec.engagement.items()},
        "meets_citizen_data_threshold": spec.meets_citizen_data_threshold,
        "integration_intent": spec.integration_intent.value,
    }
