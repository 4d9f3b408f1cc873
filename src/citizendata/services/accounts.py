"""Users, organisations and API tokens."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from functools import cache

from sqlalchemy import select
from sqlalchemy.orm import Session

from citizendata.auth import Actor, hash_password, hash_token, new_token, verify_password
from citizendata.errors import BadInput, Conflict, Forbidden, NotFound, Unauthenticated, Where
from citizendata.projects.spec import OrganisationRef
from citizendata.services.access import audit, require_actor, require_admin
from citizendata.store.models import ApiToken, Organisation, OrganisationMember, User, utcnow

__all__ = [
    "ORG_ROLES",
    "OrganisationInfo",
    "UserInfo",
    "actor_for",
    "add_organisation_member",
    "authenticate",
    "create_organisation",
    "create_token",
    "create_user",
    "initiating_organisation",
    "list_organisations",
    "partner_organisation",
    "resolve_token",
    "set_language",
    "user_language",
]

_USERNAME = re.compile(r"^[A-Za-z0-9_.@-]{2,150}$")
MIN_PASSWORD = 8
ORG_ROLES = ("owner", "member")
_ORG_SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{1,98}[a-z0-9]$")


@dataclass(frozen=True)
class UserInfo:
    """A user, without the password hash."""

    id: int
    username: str
    display_name: str | None
    is_admin: bool
    created_at: datetime


@dataclass(frozen=True)
class OrganisationInfo:
    """An organisation."""

    id: int
    slug: str
    name: str
    kind: str
    country: str | None


def _user_info(u: User) -> UserInfo:
    return UserInfo(u.id, u.username, u.display_name, u.is_admin, u.created_at)


def actor_for(user: User) -> Actor:
    """The actor a user acts as."""
    return Actor(user_id=user.id, username=user.username, is_admin=user.is_admin)


def create_user(
    db: Session,
    actor: Actor | None,
    username: str,
    password: str,
    *,
    display_name: str | None = None,
    is_admin: bool = False,
    bootstrap: bool = False,
) -> UserInfo:
    """Create a user; only an administrator may, except the very first (bootstrap) admin."""
    if not bootstrap:
        require_admin(actor)
    if not _USERNAME.match(username):
        raise BadInput("input.invalid", f"User name {username!r} is not allowed.",
                       where=Where(field="username"),
                       fix="Use 2–150 letters, digits and . _ @ -")
    if len(password) < MIN_PASSWORD:
        raise BadInput("input.invalid", f"The password must have at least {MIN_PASSWORD} characters.",
                       where=Where(field="password"))
    if db.scalar(select(User.id).where(User.username == username)) is not None:
        raise Conflict("conflict.exists", f"A user {username!r} already exists.")
    user = User(username=username, display_name=display_name, is_admin=is_admin,
                password_hash=hash_password(password))
    db.add(user)
    db.flush()
    audit(db, actor, "user.create", "user", user.id,
          details={"username": username, "is_admin": is_admin})
    return _user_info(user)


def user_by_name(db: Session, username: str) -> User:
    """A user by name, else 404."""
    user = db.scalar(select(User).where(User.username == username))
    if user is None:
        raise NotFound("not_found.user", f"No user {username!r}.")
    return user


def authenticate(db: Session, username: str, password: str) -> Actor:
    """The actor for a correct user name and password, else 401."""
    user = db.scalar(select(User).where(User.username == username))
    # verify against a dummy hash for unknown users so timing does not reveal who exists
    ok = verify_password(user.password_hash if user else _dummy_hash(), password)
    if user is None or not ok or not user.is_active:
        raise Unauthenticated("auth.invalid_credentials", "Wrong user name or password.")
    return actor_for(user)


@cache
def _dummy_hash() -> str:
    """A hash to verify against when the user does not exist (same time as a wrong password);
    made on first use, not on import: an argon2 hash costs a third of a second."""
    return hash_password("not-a-real-password-0000")


def create_token(db: Session, actor: Actor, name: str) -> str:
    """A new API token for the actor; the plain token is returned once and never stored."""
    token = new_token()
    db.add(ApiToken(user_id=actor.user_id, name=name, token_hash=hash_token(token),
                    prefix=token[:10]))
    audit(db, actor, "token.create", "user", actor.user_id, details={"name": name})
    return token


def resolve_token(db: Session, token: str) -> Actor:
    """The actor owning a valid token, else 401."""
    row = db.execute(
        select(ApiToken, User)
        .join(User, User.id == ApiToken.user_id)
        .where(ApiToken.token_hash == hash_token(token))
    ).first()
    if row is None or row[0].revoked_at is not None or not row[1].is_active:
        raise Unauthenticated("auth.invalid_token", "The API token is unknown or revoked.")
    return actor_for(row[1])


def revoke_tokens(db: Session, actor: Actor, name: str | None = None) -> int:
    """Revoke the actor's tokens (all, or those with a name); returns how many."""
    q = select(ApiToken).where(ApiToken.user_id == actor.user_id, ApiToken.revoked_at.is_(None))
    if name is not None:
        q = q.where(ApiToken.name == name)
    tokens = list(db.scalars(q))
    for t in tokens:
        t.revoked_at = utcnow()
    audit(db, actor, "token.revoke", "user", actor.user_id, details={"count": len(tokens)})
    return len(tokens)


def user_language(db: Session, actor: Actor | None) -> str | None:
    """The interface language the actor chose, or None (the browser decides)."""
    actor = require_actor(actor)
    return db.scalar(select(User.language).where(User.id == actor.user_id))


def set_language(db: Session, actor: Actor | None, language: str | None) -> str | None:
    """Keep the actor's interface language (a code of ``LANGUAGES``; None forgets it)."""
    from citizendata.i18n import LANGUAGES

    actor = require_actor(actor)
    if language is not None and language not in LANGUAGES:
        raise BadInput("input.invalid", f"There is no interface language {language!r}.",
                       where=Where(field="language"),
                       fix=f"Use one of {', '.join(LANGUAGES)}, or add its catalogue.")
    user = db.get(User, actor.user_id)
    if user is None:
        raise NotFound("not_found.user", f"No user {actor.username!r}.")
    if user.language != language:
        user.language = language
        # the code only: which language someone reads says nothing else about them
        audit(db, actor, "user.set_language", "user", actor.user_id,
              details={"language": language})
    return language


def _org_info(org: Organisation) -> OrganisationInfo:
    return OrganisationInfo(org.id, org.slug, org.name, org.kind, org.country)


def _org_role(db: Session, actor: Actor, org: Organisation) -> str | None:
    return db.scalar(select(OrganisationMember.role).where(
        OrganisationMember.organisation_id == org.id,
        OrganisationMember.user_id == actor.user_id))


def _not_a_member(slug: str, field: str | None = None) -> NotFound:
    # the same answer whether the organisation exists or not: its existence never leaks
    return NotFound("not_found.organisation", f"You are not a member of an organisation "
                    f"{slug!r}.", where=Where(field=field) if field else None,
                    fix="Ask a site administrator to create the organisation or to add you "
                        "to it (citizendata orgs add-member).")


def _new_organisation(db: Session, actor: Actor, ref: OrganisationRef) -> Organisation:
    org = Organisation(slug=ref.slug, name=ref.name, kind=ref.kind, country=ref.country)
    db.add(org)
    db.flush()
    audit(db, actor, "organisation.create", "organisation", org.id,
          details={"slug": ref.slug, "name": ref.name, "kind": ref.kind})
    return org


def initiating_organisation(db: Session, actor: Actor, ref: OrganisationRef, *,
                            field: str = "initiator.slug") -> Organisation:
    """The organisation a project is started for: one the actor belongs to.

    An administrator may name any organisation, and one that does not exist yet is then
    created with the administrator as its owner. Anyone else gets the same 404 for an
    organisation they do not belong to as for one that does not exist.
    """
    org = db.scalar(select(Organisation).where(Organisation.slug == ref.slug))
    if actor.is_admin:
        if org is None:
            org = _new_organisation(db, actor, ref)
            db.add(OrganisationMember(organisation_id=org.id, user_id=actor.user_id,
                                      role="owner"))
        return org
    if org is None or _org_role(db, actor, org) is None:
        raise _not_a_member(ref.slug, field)
    return org


def partner_organisation(db: Session, actor: Actor, ref: OrganisationRef
                         ) -> Organisation | None:
    """The organisation a partner entry links to, or None when it stays a name in the spec.

    Only members of an organisation (and administrators, who may create it) link it to
    a project; for anyone else the partner is recorded in the spec alone, the same way
    whether the organisation exists or not.
    """
    org = db.scalar(select(Organisation).where(Organisation.slug == ref.slug))
    if actor.is_admin:
        return org if org is not None else _new_organisation(db, actor, ref)
    return org if org is not None and _org_role(db, actor, org) is not None else None


def create_organisation(db: Session, actor: Actor | None, ref: OrganisationRef
                        ) -> OrganisationInfo:
    """Create an organisation (administrators only)."""
    actor = require_admin(actor)
    if not _ORG_SLUG.match(ref.slug):
        raise BadInput("input.invalid", f"Organisation slug {ref.slug!r} is not allowed.",
                       where=Where(field="slug"),
                       fix="Use 3–100 lower-case letters, digits and hyphens.")
    if db.scalar(select(Organisation.id).where(Organisation.slug == ref.slug)) is not None:
        raise Conflict("conflict.exists", f"An organisation {ref.slug!r} already exists.",
                       where=Where(field="slug"))
    return _org_info(_new_organisation(db, actor, ref))


def add_organisation_member(db: Session, actor: Actor | None, slug: str, username: str,
                            role: str = "member") -> dict[str, str]:
    """Make a user a member (or owner) of an organisation: administrators and its owners."""
    actor = require_actor(actor)
    if role not in ORG_ROLES:
        raise BadInput("input.invalid", f"Unknown organisation role {role!r}.",
                       where=Where(field="role"), fix=f"Use one of {list(ORG_ROLES)}.")
    org = db.scalar(select(Organisation).where(Organisation.slug == slug))
    mine = _org_role(db, actor, org) if org is not None else None
    if org is None or not (actor.is_admin or mine == "owner"):
        if org is not None and mine is not None:
            raise Forbidden("auth.forbidden", f"Only an owner of {slug!r} adds its members.")
        raise _not_a_member(slug)
    user = user_by_name(db, username)
    row = db.get(OrganisationMember, (org.id, user.id))
    if row is None:
        db.add(OrganisationMember(organisation_id=org.id, user_id=user.id, role=role))
    else:
        row.role = role
    audit(db, actor, "organisation.set_member", "organisation", org.id,
          details={"username": user.username, "role": role})
    return {"organisation": org.slug, "username": user.username, "role": role}


def list_organisations(db: Session, actor: Actor | None) -> list[OrganisationInfo]:
    """The organisations the actor belongs to (an administrator: all of them)."""
    actor = require_actor(actor)
    q = select(Organisation).order_by(Organisation.slug)
    if not actor.is_admin:
        q = q.join(OrganisationMember, OrganisationMember.organisation_id == Organisation.id
                   ).where(OrganisationMember.user_id == actor.user_id)
    return [_org_info(o) for o in db.scalars(q)]


def list_users(db: Session, actor: Actor | None) -> list[UserInfo]:
    """All users (administrators only)."""
    require_admin(actor)
    return [_user_info(u) for u in db.scalars(select(User).order_by(User.username))]
