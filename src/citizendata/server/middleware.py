"""Refuse request bodies over the size limit, whether announced or streamed."""

from __future__ import annotations

import re

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from citizendata.config import Settings
from citizendata.errors import PayloadTooLarge
from citizendata.server.errors import error_response

__all__ = ["BodySizeLimitMiddleware", "limit_for"]

# Bulk imports may be large; everything else is held to the request limit.
_UPLOAD_PATH = re.compile(r"^/api/v1/.+/import/?$")


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
