"""Users, organisations and API tokens."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from citizendata.auth import Actor, hash_password, hash_token, new_token, verify_password
from citizendata.errors import BadInput, Conflict, NotFound, Unauthenticated, Where
from citizendata.services.access import audit, require_admin
from citizendata.store.models import ApiToken, Organisation, User, utcnow

__all__ = [
    "OrganisationInfo",
    "UserInfo",
    "actor_for",
    "authenticate",
    "create_token",
    "create_user",
    "ensure_organisation",
    "resolve_token",
]

_USERNAME = re.compile(r"^[A-Za-z0-9_.@-]{2,150}$")
MIN_PASSWORD = 8


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
    ok = verify_password(user.password_hash if user else _DUMMY_HASH, password)
    if user is None or not ok or not user.is_active:
        raise Unauthenticated("auth.invalid_credentials", "Wrong user name or password.")
    return actor_for(user)


_DUMMY_HASH = hash_password("not-a-real-password-0000")


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


def ensure_organisation(
    db: Session, actor: Actor | None, slug: str, name: str, kind: str = "cso",
    country: str | None = None,
) -> OrganisationInfo:
    """The organisation with this slug, created if absent."""
    org = db.scalar(select(Organisation).where(Organisation.slug == slug))
    if org is None:
        org = Organisation(slug=slug, name=name, kind=kind, country=country)
        db.add(org)
        db.flush()
        audit(db, actor, "organisation.create", "organisation", org.id,
              details={"slug": slug, "name": name, "kind": kind})
    return OrganisationInfo(org.id, org.slug, org.name, org.kind, org.country)


def list_users(db: Session, actor: Actor | None) -> list[UserInfo]:
    """All users (administrators only)."""
    require_admin(actor)
    return [_user_info(u) for u in db.scalars(select(User).order_by(User.username))]
