"""A project's members as its owners and managers handle them: invite, remove, reset a
password, revoke API tokens.

Who may do what (docs/guide/setup.md, "Members"):

* Owners and managers (``members.manage``) invite people, change roles and remove
  members. Only an owner hands out, changes or takes away the owner role, and a project
  always keeps at least one owner.
* A new person gets a one-time password, returned once by :func:`invite_member` and
  :func:`reset_member_password` and never stored in clear nor written to the audit log.
* Resetting someone's password lets the resetter log in as them, so it is allowed only
  over people who have **no access the resetter lacks**: not the resetter themselves, not
  a site administrator, and — in every project the person belongs to — the resetter
  manages members there (and owns it if the person owns it), and in every organisation
  the person belongs to the resetter holds at least the same organisation role. Site
  administrators may reset anyone but themselves. Anyone else: ask a site administrator.
* Revoking a member's API tokens only takes access away, so an owner or manager may do it
  for any member of their project except a site administrator, and an owner's only when
  they are an owner too.
"""

from __future__ import annotations

import secrets

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from citizendata.auth import OWNER_ONLY_ROLES, Action, Actor, Role, allowed, hash_password
from citizendata.errors import BadInput, Conflict, Forbidden, NotFound, Where
from citizendata.services.access import audit, project_for, role_in
from citizendata.services.accounts import create_user, user_by_name
from citizendata.services.projects import MemberInfo
from citizendata.store.models import (
    ApiToken,
    Membership,
    OrganisationMember,
    Project,
    User,
    utcnow,
)

__all__ = [
    "assignable_roles",
    "invite_member",
    "member_actions",
    "new_password",
    "remove_member",
    "reset_member_password",
    "revoke_member_tokens",
]

# no 0/O, 1/l/I: a one-time password is often read out or copied by hand
_ALPHABET = "abcdefghijkmnpqrstuvwxyz23456789"
_ORG_RANK = {"member": 1, "owner": 2}


def new_password() -> str:
    """A random one-time password: four groups of four, about 80 bits."""
    return "-".join("".join(secrets.choice(_ALPHABET) for _ in range(4)) for _ in range(4))


def _role(value: str) -> Role:
    try:
        return Role(value)
    except ValueError:
        raise BadInput("input.invalid", f"Unknown role {value!r}.", where=Where(field="role"),
                       fix=f"Use one of {[r.value for r in Role]}.") from None


def assignable_roles(db: Session, actor: Actor | None, slug: str) -> list[str]:
    """The roles the actor may hand out in a project (an owner: all seven)."""
    _, mine = project_for(db, actor, slug, Action.MEMBERS_MANAGE)
    return [r.value for r in Role if r not in OWNER_ONLY_ROLES or mine == Role.OWNER]


def _membership(db: Session, project: Project, username: str) -> tuple[User, Membership]:
    user = user_by_name(db, username)
    m = db.scalar(select(Membership).where(Membership.project_id == project.id,
                                           Membership.user_id == user.id))
    if m is None:
        raise NotFound("not_found.user", f"{username!r} is not a member of {project.slug!r}.",
                       where=Where(field="username"))
    return user, m


def _owners(db: Session, project_id: int) -> int:
    return int(db.scalar(select(func.count()).select_from(Membership).where(
        Membership.project_id == project_id, Membership.role == Role.OWNER.value)) or 0)


def invite_member(db: Session, actor: Actor | None, slug: str, username: str, role: str, *,
                  display_name: str | None = None) -> tuple[MemberInfo, str]:
    """Create a user with a one-time password and give them a role in the project.

    Returns the member and the password, which is shown once and never stored in clear.
    """
    project, mine = project_for(db, actor, slug, Action.MEMBERS_MANAGE)
    assert actor is not None
    new_role = _role(role)
    if new_role in OWNER_ONLY_ROLES and mine != Role.OWNER:
        raise Forbidden("auth.forbidden", "Only an owner can make someone an owner.",
                        where=Where(field="role"))
    if db.scalar(select(User.id).where(User.username == username)) is not None:
        raise Conflict("conflict.exists", f"A user {username!r} already exists.",
                       where=Where(field="username"),
                       fix="Add the existing user to the project instead of inviting them.")
    password = new_password()
    # a site administrator's user-creation rule does not apply: the new user has no
    # access but this one membership, which the manager could give anyway
    info = create_user(db, actor, username, password, display_name=display_name or None,
                       bootstrap=True)
    db.add(Membership(project_id=project.id, user_id=info.id, role=new_role.value))
    audit(db, actor, "member.invite", "membership", username, project_id=project.id,
          details={"username": username, "role": new_role.value})
    return MemberInfo(username, info.display_name, new_role.value), password


def remove_member(db: Session, actor: Actor | None, slug: str, username: str) -> None:
    """Take a member out of the project (an owner only by an owner; never the last owner)."""
    project, mine = project_for(db, actor, slug, Action.MEMBERS_MANAGE)
    user, m = _membership(db, project, username)
    if m.role == Role.OWNER:
        if mine != Role.OWNER:
            raise Forbidden("auth.forbidden", "Only an owner can remove an owner.")
        if _owners(db, project.id) <= 1:
            raise Conflict("conflict.exists", f"{username!r} is the project's only owner.",
                           where=Where(field="username"),
                           fix="Make someone else an owner first.")
    db.delete(m)
    audit(db, actor, "member.remove", "membership", user.username, project_id=project.id,
          details={"username": user.username, "role": m.role})


def _check_reset(db: Session, actor: Actor, user: User) -> None:
    """Refuse unless the actor already has every access the user has (see module doc)."""
    if user.id == actor.user_id:
        raise Forbidden("auth.forbidden", "You cannot reset your own password here.",
                        fix="Ask another owner or a site administrator.")
    if actor.is_admin:
        return
    if user.is_admin:
        raise Forbidden("auth.forbidden", f"{user.username!r} is a site administrator.",
                        fix="Ask a site administrator to reset it.")
    for project_id, role in db.execute(select(Membership.project_id, Membership.role)
                                       .where(Membership.user_id == user.id)).all():
        my_role = role_in(db, actor, project_id)
        if not allowed(my_role, Action.MEMBERS_MANAGE) or (
                role == Role.OWNER and my_role != Role.OWNER):
            raise Forbidden("auth.forbidden", f"{user.username!r} has access you do not "
                            "manage (another project, or an owner's role).",
                            fix="Ask a site administrator to reset the password.")
    mine_orgs = dict(db.execute(select(OrganisationMember.organisation_id,
                                       OrganisationMember.role)
                                .where(OrganisationMember.user_id == actor.user_id)).all())
    for org_id, role in db.execute(select(OrganisationMember.organisation_id,
                                          OrganisationMember.role)
                                   .where(OrganisationMember.user_id == user.id)).all():
        if _ORG_RANK.get(mine_orgs.get(org_id, ""), 0) < _ORG_RANK.get(role, 2):
            raise Forbidden("auth.forbidden", f"{user.username!r} belongs to an organisation "
                            "you do not (or owns one you do not own).",
                            fix="Ask a site administrator to reset the password.")


def reset_member_password(db: Session, actor: Actor | None, slug: str, username: str) -> str:
    """A new one-time password for a member (returned once; the old one stops working)."""
    project, _ = project_for(db, actor, slug, Action.MEMBERS_MANAGE)
    assert actor is not None
    user, _m = _membership(db, project, username)
    _check_reset(db, actor, user)
    password = new_password()
    user.password_hash = hash_password(password)
    audit(db, actor, "user.reset_password", "user", user.id, project_id=project.id,
          details={"username": user.username})
    return password


def revoke_member_tokens(db: Session, actor: Actor | None, slug: str, username: str) -> int:
    """Revoke every API token of a member; returns how many were live."""
    project, mine = project_for(db, actor, slug, Action.MEMBERS_MANAGE)
    assert actor is not None
    user, m = _membership(db, project, username)
    if user.is_admin and not actor.is_admin and user.id != actor.user_id:
        raise Forbidden("auth.forbidden", f"{user.username!r} is a site administrator.",
                        fix="Ask a site administrator.")
    if m.role == Role.OWNER and mine != Role.OWNER:
        raise Forbidden("auth.forbidden", "Only an owner can revoke an owner's tokens.")
    tokens = list(db.scalars(select(ApiToken).where(ApiToken.user_id == user.id,
                                                    ApiToken.revoked_at.is_(None))))
    for t in tokens:
        t.revoked_at = utcnow()
    audit(db, actor, "token.revoke", "user", user.id, project_id=project.id,
          details={"username": user.username, "count": len(tokens)})
    return len(tokens)


def member_actions(db: Session, actor: Actor | None, slug: str) -> dict[str, dict[str, bool]]:
    """Per member, what the actor may do to them: change (role), remove, reset, revoke —
    so a page offers only what will be accepted."""
    project, mine = project_for(db, actor, slug, Action.MEMBERS_MANAGE)
    assert actor is not None
    owners = _owners(db, project.id)
    out: dict[str, dict[str, bool]] = {}
    for user, role in db.execute(select(User, Membership.role)
                                 .join(Membership, Membership.user_id == User.id)
                                 .where(Membership.project_id == project.id)).all():
        over_owner = role != Role.OWNER or mine == Role.OWNER
        try:
            _check_reset(db, actor, user)
            reset = True
        except Forbidden:
            reset = False
        out[user.username] = {
            "change": over_owner and not (role == Role.OWNER and owners <= 1),
            "remove": over_owner and not (role == Role.OWNER and owners <= 1),
            "reset": reset,
            "revoke": over_owner and (not user.is_admin or actor.is_admin
                                      or user.id == actor.user_id),
        }
    return out
