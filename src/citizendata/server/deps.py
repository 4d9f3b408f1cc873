"""Who is asking: the Client for a request, from a token, a session cookie or HTTP Basic.

Routes only obtain a Client and call it; every Client call checks the actor's
role in the project, so no route repeats permission logic.
"""

from __future__ import annotations

import base64
import binascii
import secrets
from typing import Any

from fastapi import Request
from sqlalchemy import select
from sqlalchemy.orm import Session

from citizendata.auth import Actor
from citizendata.config import Settings
from citizendata.errors import Unauthenticated
from citizendata.services import accounts
from citizendata.store.models import User
from citizendata.workspace import Client, Workspace

__all__ = [
    "SESSION_USERNAME",
    "SESSION_USER_ID",
    "api_client",
    "csrf_token",
    "end_session",
    "get_settings",
    "get_workspace",
    "openrosa_client",
    "optional_client",
    "start_session",
]

SESSION_USER_ID = "uid"
SESSION_USERNAME = "username"
SESSION_CSRF = "csrf"


def get_workspace(request: Request) -> Workspace:
    """The workspace the app serves."""
    ws: Workspace = request.app.state.workspace
    return ws


def get_settings(request: Request) -> Settings:
    """The app's settings."""
    settings: Settings = request.app.state.settings
    return settings


def _bearer(request: Request) -> str | None:
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


def _basic(request: Request) -> tuple[str, str] | None:
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        username, sep, password = base64.b64decode(value.strip(), validate=True).decode(
            "utf-8").partition(":")
    except (binascii.Error, UnicodeDecodeError):
        raise Unauthenticated("auth.invalid_credentials",
                              "The Basic credentials cannot be read.") from None
    if not sep:
        raise Unauthenticated("auth.invalid_credentials", "The Basic credentials cannot be read.")
    return username, password


def _session_actor(ws: Workspace, session: dict[str, Any]) -> Actor | None:
    uid, username = session.get(SESSION_USER_ID), session.get(SESSION_USERNAME)
    if not isinstance(uid, int) or not isinstance(username, str):
        return None

    def go(db: Session) -> Actor | None:
        user = db.scalar(select(User).where(User.id == uid))
        # a deleted, renamed or deactivated user's cookie no longer works
        if user is None or user.username != username or not user.is_active:
            return None
        return accounts.actor_for(user)

    return ws.run(go)


def optional_client(request: Request) -> Client | None:
    """The Client of a Bearer token or a session cookie, or None when neither is sent."""
    ws = get_workspace(request)
    token = _bearer(request)
    if token is not None:
        return ws.with_token(token)
    if "session" in request.scope:
        actor = _session_actor(ws, request.session)
        if actor is not None:
            return Client(ws, actor)
        if request.session.get(SESSION_USER_ID) is not None:
            request.session.clear()
    return None


def api_client(request: Request) -> Client:
    """The Client for an API or HTML request; 401 without credentials."""
    client = optional_client(request)
    if client is None:
        raise Unauthenticated("auth.unauthenticated",
                              "Log in, or send an API token as 'Authorization: Bearer <token>'.")
    return client


def openrosa_client(request: Request) -> Client:
    """The Client for an OpenRosa request: Basic (as ODK Collect sends), Bearer or session."""
    basic = _basic(request)
    if basic is not None:
        return get_workspace(request).login(*basic)
    client = optional_client(request)
    if client is None:
        raise Unauthenticated("auth.unauthenticated",
                              "Send the user name and password (HTTP Basic).")
    return client


def start_session(request: Request, client: Client) -> None:
    """Remember a logged-in user in the signed session cookie (a fresh session)."""
    request.session.clear()
    request.session[SESSION_USER_ID] = client.actor.user_id
    request.session[SESSION_USERNAME] = client.actor.username
    request.session[SESSION_CSRF] = secrets.token_urlsafe(32)


def end_session(request: Request) -> None:
    """Forget the logged-in user."""
    request.session.clear()


def csrf_token(request: Request) -> str:
    """This session's CSRF token (created on first use)."""
    token = request.session.get(SESSION_CSRF)
    if not isinstance(token, str):
        token = secrets.token_urlsafe(32)
        request.session[SESSION_CSRF] = token
    return token


def csrf_ok(request: Request, sent: object) -> bool:
    """True if a posted CSRF token matches the session's."""
    token = request.session.get(SESSION_CSRF)
    return isinstance(token, str) and isinstance(sent, str) and secrets.compare_digest(token,
                                                                                         sent)
