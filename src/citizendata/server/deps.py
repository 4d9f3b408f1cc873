"""Who is asking: the Client for a request, from a token, a session cookie or HTTP Basic.

Routes only obtain a Client and call it; every Client call checks the actor's
role in the project, so no route repeats permission logic.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import secrets
import threading
import time
from typing import Any

from fastapi import Request
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from citizendata.auth import Actor
from citizendata.config import Settings
from citizendata.errors import Forbidden, Unauthenticated
from citizendata.services import accounts
from citizendata.store.models import User
from citizendata.workspace import Client, Workspace

__all__ = [
    "CSRF_HEADER",
    "SESSION_USERNAME",
    "SESSION_USER_ID",
    "api_client",
    "client_address",
    "csrf_token",
    "end_session",
    "get_settings",
    "get_workspace",
    "odata_client",
    "openrosa_client",
    "optional_client",
    "start_session",
]

SESSION_USER_ID = "uid"
SESSION_USERNAME = "username"
SESSION_CSRF = "csrf"
CSRF_HEADER = "X-CSRF-Token"
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


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


def client_address(request: Request) -> str | None:
    """The client's address (behind a proxy, as uvicorn's --proxy-headers sets it)."""
    return request.client.host if request.client else None


def _check_api_csrf(request: Request) -> None:
    """A JSON API write carried by the session cookie must also carry the session's token.

    The HTML pages check the token posted with their forms; tokens and HTTP Basic are
    not sent by a browser on its own, so they need none.
    """
    if request.method in _SAFE_METHODS or not request.url.path.startswith("/api/"):
        return
    if not csrf_ok(request, request.headers.get(CSRF_HEADER)):
        raise Forbidden("auth.csrf", f"A write authenticated by the session cookie needs the "
                        f"session's CSRF token in the {CSRF_HEADER} header.",
                        fix="Read 'csrf_token' from the log-in answer or GET /api/v1/me and "
                            f"send it as {CSRF_HEADER}; or use an API token instead.")


async def api_client(request: Request) -> Client:
    """The Client for an API or HTML request; 401 without credentials."""
    token = _bearer(request)
    if token is not None:
        # a token is checked lazily inside the call's own transaction: no thread hop here
        return get_workspace(request).with_token(token)
    client = await run_in_threadpool(optional_client, request)
    if client is None:
        raise Unauthenticated("auth.unauthenticated",
                              "Log in, or send an API token as 'Authorization: Bearer <token>'.")
    _check_api_csrf(request)
    return client


class BasicCache:
    """Recently verified Basic credentials, so each ODK Collect request does not pay for argon2.

    Keyed by a salted SHA-256 of user name and password (the password is never kept);
    entries live ``ttl`` seconds, so a changed password or a deactivated user takes
    effect within that time.
    """

    def __init__(self, ttl: float = 300.0, size: int = 1024) -> None:
        self.ttl, self.size = ttl, size
        self._salt = secrets.token_bytes(16)
        self._lock = threading.Lock()
        self._entries: dict[str, tuple[float, Actor]] = {}

    def _key(self, username: str, password: str) -> str:
        return hashlib.sha256(self._salt + f"{username}\0{password}".encode()).hexdigest()

    def get(self, username: str, password: str) -> Actor | None:
        """The cached actor, if these credentials were verified recently."""
        key = self._key(username, password)
        with self._lock:
            hit = self._entries.get(key)
            if hit is None or hit[0] < time.monotonic():
                self._entries.pop(key, None)
                return None
            return hit[1]

    def put(self, username: str, password: str, actor: Actor) -> None:
        """Remember verified credentials."""
        with self._lock:
            if len(self._entries) >= self.size:
                self._entries.clear()
            self._entries[self._key(username, password)] = (time.monotonic() + self.ttl, actor)


def _basic_client(request: Request, username: str, password: str) -> Client:
    ws = get_workspace(request)
    cache: BasicCache | None = getattr(request.app.state, "basic_cache", None)
    if cache is None:
        cache = request.app.state.basic_cache = BasicCache()
    actor = cache.get(username, password)
    if actor is None:
        actor = ws.login(username, password, address=client_address(request)).actor
        cache.put(username, password, actor)
    return Client(ws, actor)


def openrosa_client(request: Request) -> Client:
    """The Client for an OpenRosa request: Basic (as ODK Collect sends), Bearer or session."""
    basic = _basic(request)
    if basic is not None:
        return _basic_client(request, *basic)
    client = optional_client(request)
    if client is None:
        raise Unauthenticated("auth.unauthenticated",
                              "Send the user name and password (HTTP Basic).")
    return client


async def odata_client(request: Request) -> Client:
    """The Client for an OData request: HTTP Basic (as Excel and Power BI send a user name
    and password; failed ones are throttled like any log-in), Bearer or session."""
    basic = _basic(request)
    if basic is not None:
        return await run_in_threadpool(_basic_client, request, *basic)
    return await api_client(request)


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
