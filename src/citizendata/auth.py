"""Roles, permissions, password and token hashing.

Permissions are data: each role maps to the set of actions it allows. Every
library call and API route asks :func:`check` before acting; anything not
granted is denied. A user who is not a member of a project is told the project
does not exist (404), so a project's existence never leaks.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from enum import StrEnum

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from citizendata.errors import Forbidden, NotFound

__all__ = [
    "PERMISSIONS",
    "Action",
    "Actor",
    "Role",
    "allowed",
    "check",
    "hash_password",
    "hash_token",
    "new_token",
    "verify_password",
]


class Role(StrEnum):
    """A user's role in one project."""

    OWNER = "owner"
    MANAGER = "manager"
    COLLECTOR = "collector"
    VALIDATOR = "validator"
    ANALYST = "analyst"
    VIEWER = "viewer"
    # a statistician of the national statistical office partnering the project
    NSO = "nso"


class Action(StrEnum):
    """Something a user may do in a project."""

    PROJECT_VIEW = "project.view"
    PROJECT_EDIT = "project.edit"
    MEMBERS_VIEW = "members.view"
    MEMBERS_MANAGE = "members.manage"
    FORM_VIEW = "form.view"
    FORM_MANAGE = "form.manage"
    SUBMISSION_CREATE = "submission.create"
    SUBMISSION_VIEW = "submission.view"
    SUBMISSION_REVIEW = "submission.review"
    PERSONAL_DATA_VIEW = "personal_data.view"
    DATA_EXPORT = "data.export"
    AUDIT_VIEW = "audit.view"
    # record a respondent's withdrawal of consent (it removes their data from later outputs)
    CONSENT_MANAGE = "consent.manage"
    # state a quality dimension or gateway criterion the data cannot show, with a name and date
    QUALITY_ATTEST = "quality.attest"
    # confirm or override the fitness-for-integration recommendation (the NSO's call)
    QUALITY_DECIDE = "quality.decide"
    # build, publish and withdraw releases (sign-off is by named representatives)
    RELEASE_MANAGE = "release.manage"
    # create and revoke public links: anonymous submissions to a form by whoever holds the URL
    PUBLIC_LINK_MANAGE = "public_link.manage"


_A = Action
PERMISSIONS: dict[Role, frozenset[Action]] = {
    # the fitness decision is the statistical office's, not the project's own
    Role.OWNER: frozenset(Action) - {Action.QUALITY_DECIDE},
    Role.MANAGER: frozenset(Action) - {Action.QUALITY_DECIDE},
    # collectors submit (ODK Collect, Enketo, imports) but do not read others' data
    Role.COLLECTOR: frozenset({_A.PROJECT_VIEW, _A.FORM_VIEW, _A.SUBMISSION_CREATE}),
    Role.VALIDATOR: frozenset({_A.PROJECT_VIEW, _A.FORM_VIEW, _A.SUBMISSION_VIEW,
                               _A.SUBMISSION_REVIEW, _A.PERSONAL_DATA_VIEW}),
    # analysts work on snapshots; personal fields stay hidden from them
    Role.ANALYST: frozenset({_A.PROJECT_VIEW, _A.FORM_VIEW, _A.SUBMISSION_VIEW, _A.DATA_EXPORT}),
    Role.VIEWER: frozenset({_A.PROJECT_VIEW, _A.FORM_VIEW}),
    # the NSO reads protected outputs, attests what it can judge and decides fitness
    Role.NSO: frozenset({_A.PROJECT_VIEW, _A.FORM_VIEW, _A.DATA_EXPORT, _A.QUALITY_ATTEST,
                         _A.QUALITY_DECIDE}),
}

# Only an owner may hand out or take away the owner role.
OWNER_ONLY_ROLES = frozenset({Role.OWNER})


@dataclass(frozen=True)
class Actor:
    """Who is acting: a logged-in user (never an anonymous one for project data)."""

    user_id: int
    username: str
    is_admin: bool = False


def allowed(role: str | None, action: Action) -> bool:
    """True if the role grants the action; no role grants nothing."""
    if role is None:
        return False
    try:
        return action in PERMISSIONS[Role(role)]
    except ValueError:
        return False


def check(role: str | None, action: Action, *, project_slug: str) -> None:
    """Raise unless the role grants the action; non-members get 'not found'."""
    if role is None:
        raise NotFound("not_found.project", f"No project {project_slug!r}.")
    if not allowed(role, action):
        raise Forbidden(
            "auth.forbidden",
            f"Your role {role!r} in project {project_slug!r} does not allow {action.value!r}.",
        )


_hasher = PasswordHasher()


def hash_password(password: str) -> str:
    """An argon2id hash of a password."""
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    """True if the password matches the hash."""
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def new_token() -> str:
    """A fresh random API token (shown once, stored only as a hash)."""
    return "cdt_" + secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    """The SHA-256 of a token; tokens are long and random, so no slow hash is needed."""
    return hashlib.sha256(token.encode()).hexdigest()
