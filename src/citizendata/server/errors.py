"""One error shape for every response: library errors, bad requests, unknown routes, crashes.

The library raises :class:`~citizendata.errors.CitizenDataError` subclasses; the
single handler here turns each into ``err.to_dict()`` with ``err.http_status``,
written as JSON (``/api``), OpenRosa XML (``/openrosa``) or an HTML page (browsers
elsewhere). Request bodies never reach the logs: they may hold personal data.
"""

from __future__ import annotations

import logging
import re
import traceback
import uuid
from collections.abc import MutableMapping
from pathlib import Path
from typing import Any, Literal

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from citizendata import i18n
from citizendata.errors import (
    CATALOGUE,
    BadInput,
    CitizenDataError,
    NotFound,
    Problem,
    Unauthenticated,
    Where,
)

__all__ = [
    "RequestContextMiddleware",
    "error_response",
    "install_error_handlers",
    "internal_error",
    "response_kind",
    "templates",
]

log = logging.getLogger("citizendata.server")

_TEMPLATES_DIR = Path(__file__).parent / "templates"
templates = Jinja2Templates(directory=str(_TEMPLATES_DIR))
# every template can call _("…") and ngettext(…); the language is the request's (see i18n)
templates.env.add_extension("jinja2.ext.i18n")
templates.env.install_gettext_callables(  # type: ignore[attr-defined]
    i18n.gettext, i18n.ngettext, newstyle=True)
templates.env.globals.update(LANGUAGES=i18n.LANGUAGES, current_language=i18n.current_language)


def _language_href(request: Request | None, code: str) -> str:
    from citizendata.server.middleware import language_href

    return language_href(request, code)


templates.env.globals["language_href"] = _language_href

ResponseKind = Literal["json", "openrosa", "html"]
BASIC_CHALLENGE = 'Basic realm="citizendata"'


def response_kind(request: Request) -> ResponseKind:
    """How errors are written for this request: OpenRosa XML, JSON or an HTML page."""
    path = request.url.path
    if path == "/openrosa" or path.startswith("/openrosa/"):
        return "openrosa"
    if path.startswith("/api") or path == "/openapi.json":
        return "json"
    return "html" if "text/html" in request.headers.get("accept", "") else "json"


def request_id(request: Request) -> str:
    """The id given to this request by :class:`RequestContextMiddleware`."""
    return str(request.scope.get("state", {}).get("request_id") or "-")


def _openrosa_error(err: CitizenDataError, status: int) -> Response:
    from citizendata.ingest.openrosa import OPENROSA_HEADERS, response_xml

    headers = dict(OPENROSA_HEADERS)
    if status == 401:
        headers["WWW-Authenticate"] = BASIC_CHALLENGE
    return Response(response_xml(f"{err.code}: {err.message}", nature="error"),
                    status_code=status, media_type="text/xml; charset=utf-8", headers=headers)


def localised_body(err: CitizenDataError, status: int) -> dict[str, Any]:
    """``err.to_dict()["error"]`` with its ``title`` in the request's language.

    ``code`` and ``message`` stay as raised (the message's details are English); a
    translated title comes with ``language``, the language it is in (absent: English).
    """
    body = err.to_dict()["error"]
    body["status"] = status
    title = i18n.gettext(err.title)
    if title != err.title:
        body["title"] = title
        body["language"] = i18n.current_language()
    return body


def _html_error(request: Request, err: CitizenDataError, status: int) -> Response:
    if isinstance(err, Unauthenticated) and err.code == "auth.unauthenticated":
        # browsers are sent to the login page and come back afterwards
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        from urllib.parse import quote

        return RedirectResponse(f"/login?next={quote(target, safe='/')}", status_code=303)
    body = localised_body(err, status)
    # the catalogue's own advice is translated too; a fix written for this case is not
    default_fix = CATALOGUE[err.code].fix
    body["fix_translated"] = bool(err.fix) and err.fix == default_fix and (
        i18n.gettext(default_fix) != default_fix)
    if body["fix_translated"]:
        body["fix"] = i18n.gettext(default_fix)
    return templates.TemplateResponse(
        request, "error.html", {"error": body, "request_id": request_id(request),
                                "user": request.scope.get("session", {}).get("username")},
        status_code=status)


def error_response(request: Request, err: CitizenDataError, *, status: int | None = None,
                   headers: dict[str, str] | None = None) -> Response:
    """The response for a library error, in the format the request expects."""
    status = status or err.http_status
    extra = dict(headers or {})
    if "retry_after_s" in err.details:
        extra["Retry-After"] = str(err.details["retry_after_s"])
    kind = response_kind(request)
    if kind == "openrosa":
        response = _openrosa_error(err, status)
    elif kind == "html":
        response = _html_error(request, err, status)
    else:
        body = {"error": localised_body(err, status)}
        if status == 401:
            # an OData client (Excel, Power BI) asks for a user name and password on Basic
            extra["WWW-Authenticate"] = (f'{BASIC_CHALLENGE}, Bearer realm="citizendata"'
                                         if ".svc" in request.url.path
                                         else 'Bearer realm="citizendata"')
        response = JSONResponse(body, status_code=status)
    response.headers.update(extra)
    return response


_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


def allowed_methods(request: Request) -> list[str]:
    """The methods some route answers at this request's path (for a 405's Allow header)."""
    allowed = []
    for method in _METHODS:
        # a fresh scope per method: matching writes routing state into the scope
        probe = {"type": "http", "method": method, "path": request.scope["path"],
                 "root_path": request.scope.get("root_path", ""), "headers": []}
        if any(route.matches(dict(probe))[0] == Match.FULL
               for route in request.app.router.routes):
            allowed.append(method)
    return allowed


def internal_error(request: Request) -> CitizenDataError:
    """The error shown for an unexpected exception: only a request id, no details."""
    rid = request_id(request)
    return CitizenDataError("internal", f"Something went wrong on the server (request id {rid}).",
                            details={"request_id": rid})


def _validation_error(exc: RequestValidationError) -> BadInput:
    problems = []
    for e in exc.errors():
        loc = [str(p) for p in e.get("loc", ())]
        # "body"/"query"/"path" is where, the rest is the field; the input value is not echoed
        field = ".".join(loc[1:]) if len(loc) > 1 else ".".join(loc)
        problems.append(Problem("input.invalid", f"{field or 'body'}: {e.get('msg', 'invalid')}",
                                where=Where(field=field or None)))
    return BadInput("input.invalid",
                    f"{len(problems)} invalid value(s): " + "; ".join(p.message for p in problems),
                    problems=problems)


def _unreadable_body(exc: StarletteHTTPException) -> BadInput:
    """A body FastAPI or Starlette could not parse, which they answer with a bare 400.

    It is invalid input like any other (422, in the catalogue): JSON text that is not
    UTF-8 (FastAPI re-raises the UnicodeDecodeError as "There was an error parsing the
    body"), or a multipart body that does not follow its boundary.
    """
    cause = exc.__cause__
    if isinstance(cause, UnicodeDecodeError):
        return BadInput("intake.invalid_json",
                        f"The JSON body is not UTF-8 text (byte {cause.start} cannot be read).",
                        where=Where(position=cause.start), fix="Send the JSON as UTF-8 text.")
    return BadInput("input.invalid", f"The request body cannot be read: {exc.detail}",
                    fix="Send a well-formed body of the type named in Content-Type (JSON, or "
                        "multipart/form-data whose parts follow its boundary).")


def install_error_handlers(app: FastAPI) -> None:
    """Register the one handler per exception family."""

    async def on_library_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, CitizenDataError)
        return error_response(request, exc)

    async def on_validation_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        return error_response(request, _validation_error(exc))

    async def on_http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        if exc.status_code == 404:
            return error_response(request, NotFound(
                "not_found.route", f"No page or endpoint at {request.url.path!r}."))
        if exc.status_code == 405:
            allow = allowed_methods(request)
            return error_response(request, NotFound(
                "not_found.route",
                f"{request.method} is not allowed on {request.url.path!r}; use "
                f"{', '.join(allow)}."), status=405, headers={"Allow": ", ".join(allow)})
        if exc.status_code == 401:
            return error_response(request, Unauthenticated(
                "auth.unauthenticated", "Log in or send an API token."))
        if exc.status_code == 400:
            return error_response(request, _unreadable_body(exc))
        # anything else starlette raises on its own
        return error_response(request, BadInput("input.invalid", str(exc.detail)),
                              status=exc.status_code if exc.status_code > 400 else 422)

    app.add_exception_handler(CitizenDataError, on_library_error)
    app.add_exception_handler(RequestValidationError, on_validation_error)
    app.add_exception_handler(StarletteHTTPException, on_http_error)


SECURITY_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"x-content-type-options", b"nosniff"),
    (b"content-security-policy",
     b"default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
     b"object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
    (b"cross-origin-opener-policy", b"same-origin"),
)


_CSP = b"content-security-policy"
# a public link's token is its only key: never written to a log
_SECRET_PATH = re.compile(r"^/f/[^/]+")


def logged_path(path: str) -> str:
    """A request path as logs may keep it (a public link's token replaced)."""
    return _SECRET_PATH.sub("/f/…", path)


class RequestContextMiddleware:
    """Gives each request an id, adds security headers, and turns crashes into 'internal'."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rid = uuid.uuid4().hex[:16]
        state: MutableMapping[str, Any] = scope.setdefault("state", {})
        state["request_id"] = rid
        started = False

        async def send_with_headers(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                given = message.get("headers", [])
                # a route may serve a document under its own, stricter-fitted policy
                # (a release report: the hashes of its inline blocks, server/report_csp.py)
                own = [(k, v) for k, v in given if k.lower() == _CSP]
                headers = [(k, v) for k, v in given
                           if k.lower() not in {h for h, _ in SECURITY_HEADERS}]
                headers.extend(h for h in SECURITY_HEADERS if not (own and h[0] == _CSP))
                headers.extend(own[-1:])
                headers.append((b"x-request-id", rid.encode()))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        except Exception as exc:
            # the route, the exception's type and where it was raised; never the body nor the
            # message, which can quote values (e.g. a database's "Key (x)=(...)" detail)
            log.error("request %s %s %s failed: %s\n%s", rid, scope.get("method"),
                      logged_path(str(scope.get("path") or "")), type(exc).__name__,
                      "".join(traceback.format_tb(exc.__traceback__)))
            if started:
                raise
            request = Request(scope)
            await error_response(request, internal_error(request))(scope, receive,
                                                                   send_with_headers)

