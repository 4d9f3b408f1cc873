"""Refuse request bodies over the size limit, whether announced or streamed, and JSON bodies
nested deeper than the depth limit before any route parses them."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from citizendata.config import Settings
from citizendata.errors import BadInput, PayloadTooLarge
from citizendata.ingest.depth import check_json_depth
from citizendata.server.errors import error_response

if TYPE_CHECKING:
    from citizendata.workspace import Client, Workspace

__all__ = [
    "LANGUAGE_COOKIE",
    "SESSION_LANGUAGE",
    "BodySizeLimitMiddleware",
    "JsonDepthMiddleware",
    "LocaleMiddleware",
    "UserLocaleMiddleware",
    "language_href",
    "limit_for",
]

# Bulk imports may be large; everything else is held to the request limit.
# the API's import and the import page (docs/guide/setup.md) take large files
_UPLOAD_PATH = re.compile(r"^(/api/v1/.+|/projects/[^/]+/forms/[^/]+)/import/?$")


def limit_for(path: str, settings: Settings) -> int:
    """The body size limit in bytes for a request path."""
    return settings.max_upload_bytes if _UPLOAD_PATH.match(path) else settings.max_request_bytes


def _too_large(limit: int) -> PayloadTooLarge:
    return PayloadTooLarge(
        "intake.payload_too_large",
        f"The request body is larger than the limit of {limit:,} bytes.",
        details={"limit_bytes": limit},
    )


class BodySizeLimitMiddleware:
    """Checks Content-Length first, then counts the bytes of chunked or lying bodies."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.settings = settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = limit_for(scope["path"], self.settings)
        declared = dict(scope.get("headers", [])).get(b"content-length")
        if declared is not None and declared.strip().isdigit() and int(declared) > limit:
            await error_response(Request(scope), _too_large(limit))(scope, receive, send)
            return
        received = 0
        over = False
        started = False

        async def counting_receive() -> Message:
            nonlocal received, over
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    over = True
                    raise _too_large(limit)
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            # once over the limit, whatever the app answers (e.g. a parse error) is replaced
            if over:
                return
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, guarded_send)
        except Exception:
            if not over:
                raise
        if over and not started:
            await error_response(Request(scope), _too_large(limit))(scope, receive, send)


# JSON submissions are measured by the library itself (ingest.payload), with the same limit
_LIBRARY_MEASURED = re.compile(r"^/api/v1/projects/[^/]+/forms/[^/]+/submissions/?$")
_NO_BODY = frozenset({"GET", "HEAD", "OPTIONS"})


def _json_or_unlabelled(content_type: bytes | None) -> bool:
    """True for a JSON media type (or none: FastAPI then parses the body as JSON too)."""
    if content_type is None:
        return True
    mime = content_type.split(b";", 1)[0].strip().lower()
    return mime == b"application/json" or (mime.startswith(b"application/")
                                           and mime.endswith(b"+json"))


class JsonDepthMiddleware:
    """Measures the nesting of JSON request bodies before FastAPI or a route parses them.

    Python's json module raises RecursionError near a thousand levels, which FastAPI
    reports as a bare 400; anything shallower but still deep reaches pydantic and the
    database. A body deeper than ``max_depth`` gets 422 input.too_deep instead.
    """

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.settings = settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = dict(scope.get("headers", [])) if scope["type"] == "http" else {}
        if (scope["type"] != "http" or scope.get("method") in _NO_BODY
                or _LIBRARY_MEASURED.match(scope["path"])
                or not _json_or_unlabelled(headers.get(b"content-type"))):
            await self.app(scope, receive, send)
            return
        messages: list[Message] = []
        while True:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request" or not message.get("more_body", False):
                break
        body = b"".join(m.get("body", b"") for m in messages if m["type"] == "http.request")
        if b"content-type" in headers or body.lstrip()[:1] in (b"{", b"["):
            try:
                check_json_depth(body, self.settings.max_depth)
            except BadInput as err:
                await error_response(Request(scope), err)(scope, receive, send)
                return
        pending = [{"type": "http.request", "body": body, "more_body": False},
                   *(m for m in messages if m["type"] != "http.request")]

        async def replay() -> Message:
            return pending.pop(0) if pending else await receive()

        await self.app(scope, replay, send)


LANGUAGE_COOKIE = "citizendata_lang"


def language_href(request: Request | None, code: str) -> str:
    """This page's address with ``?lang=code`` (other query parameters kept), site-local."""
    if request is None:
        return f"?lang={code}"
    url = request.url.include_query_params(lang=code)
    # '//host/…' would be read as another site: the switch never leaves this one
    path = "/" + url.path.lstrip("/")
    return f"{path}?{url.query}"


class LocaleMiddleware:
    """Chooses the interface language of each request and sets it for the request's work.

    Order: ``?lang=xx`` (remembered in a cookie), the cookie, then ``Accept-Language``;
    inside the session, :class:`UserLocaleMiddleware` puts a logged-in user's saved
    language before the cookie. It wraps everything, so even errors raised before a route
    (a body too large, too deep) are written in the request's language.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        from http.cookies import SimpleCookie
        from urllib.parse import parse_qs

        from citizendata.i18n import LANGUAGES, negotiate, use_locale

        headers = {k.decode("latin-1").lower(): v.decode("latin-1")
                   for k, v in scope.get("headers", [])}
        asked = parse_qs(scope.get("query_string", b"").decode("latin-1")).get("lang", [""])[0]
        cookie = SimpleCookie()
        try:
            cookie.load(headers.get("cookie", ""))
        except Exception:  # a malformed cookie header chooses nothing
            cookie = SimpleCookie()
        remembered = cookie[LANGUAGE_COOKIE].value if LANGUAGE_COOKIE in cookie else ""
        if asked in LANGUAGES:
            language = asked
        elif remembered in LANGUAGES:
            language = remembered
        else:
            language = negotiate(headers.get("accept-language"))
        state = scope.setdefault("state", {})
        state["language"] = language
        state["language_asked"] = asked if asked in LANGUAGES else None

        async def send_with_cookie(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = message.setdefault("headers", [])
                if asked in LANGUAGES:
                    value = f"{LANGUAGE_COOKIE}={asked}; Path=/; Max-Age=31536000; SameSite=Lax"
                    headers.append((b"set-cookie", value.encode()))
                # the language actually used (a logged-in user's saved one may replace it)
                headers.append((b"content-language",
                                str(state.get("language", language)).encode()))
                vary = [v.decode("latin-1") for k, v in headers if k.lower() == b"vary"]
                have = {part.strip().lower() for v in vary for part in v.split(",")}
                extra = [h for h in ("Accept-Language", "Cookie") if h.lower() not in have]
                if extra:
                    headers[:] = [(k, v) for k, v in headers if k.lower() != b"vary"]
                    headers.append((b"vary", ", ".join([*vary, *extra]).encode("latin-1")))
            await send(message)

        with use_locale(language):
            await self.app(scope, receive, send_with_cookie)


SESSION_LANGUAGE = "lang"


class UserLocaleMiddleware:
    """A logged-in user's language: the one they saved, and the switch saves a new one.

    Runs inside the session middleware. The saved language is read once per session
    (kept in the signed session cookie); choosing a language with ``?lang=`` while logged
    in stores it for the user (audited, the code only), so it follows them to any browser.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        session = scope.get("session") if scope["type"] == "http" else None
        uid = session.get("uid") if session is not None else None
        if session is None or not isinstance(uid, int):
            await self.app(scope, receive, send)
            return
        from starlette.concurrency import run_in_threadpool

        from citizendata.i18n import LANGUAGES, use_locale

        state = scope.setdefault("state", {})
        asked = state.get("language_asked")
        workspace = scope["app"].state.workspace
        if asked:
            if session.get(SESSION_LANGUAGE) != asked:
                await run_in_threadpool(_save_language, workspace, session, asked)
                session[SESSION_LANGUAGE] = asked
            await self.app(scope, receive, send)
            return
        saved = session.get(SESSION_LANGUAGE)
        if not isinstance(saved, str):
            saved = await run_in_threadpool(_saved_language, workspace, session) or ""
            session[SESSION_LANGUAGE] = saved
        if saved in LANGUAGES and saved != state.get("language"):
            state["language"] = saved
            with use_locale(saved):
                await self.app(scope, receive, send)
            return
        await self.app(scope, receive, send)


def _session_client(workspace: Workspace, session: dict[str, Any]) -> Client | None:
    from citizendata.server.deps import _session_actor
    from citizendata.workspace import Client

    actor = _session_actor(workspace, session)
    return Client(workspace, actor) if actor is not None else None


def _saved_language(workspace: Workspace, session: dict[str, Any]) -> str | None:
    client = _session_client(workspace, session)
    return client.language() if client is not None else None


def _save_language(workspace: Workspace, session: dict[str, Any], language: str) -> None:
    client = _session_client(workspace, session)
    if client is not None:
        client.set_language(language)
