"""Instance ids in URL paths: every id intake accepts, '/' and '%' included.

An instance id is one path segment, percent-encoded by the client (``uuid:a%2Fb``).
ASGI servers decode the path before routing, so an encoded '/' would split the
segment. :class:`InstanceIdPaths` re-reads the segment after ``/submissions/`` from the
raw path and keeps '/' and '%' escaped in it; routes declare ``{instance_id:iid}``,
whose convertor turns the segment back into the id.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote, unquote

from starlette.convertors import Convertor, register_url_convertor
from starlette.types import ASGIApp, Receive, Scope, Send

__all__ = ["IID", "InstanceIdConvertor", "InstanceIdPaths"]

IID = "iid"
_SUBMISSION = re.compile(r"^(.*?/api/v1/projects/[^/]+/forms/[^/]+/submissions/)([^/]+)(/.*)?$")
_ESCAPED = re.compile("%(25|2F)")
_UNESCAPE = {"25": "%", "2F": "/"}


def _escape(instance_id: str) -> str:
    return instance_id.replace("%", "%25").replace("/", "%2F")


class InstanceIdConvertor(Convertor[str]):
    """One path segment as an instance id ('/' and '%' arrive escaped, see above)."""

    regex = "[^/]+"

    def convert(self, value: str) -> str:
        """The instance id a path segment stands for."""
        return _ESCAPED.sub(lambda m: _UNESCAPE[m.group(1)], value)

    def to_string(self, value: str) -> str:
        """The segment for an instance id, as a URL holds it."""
        return quote(value, safe="")


register_url_convertor(IID, InstanceIdConvertor())


class InstanceIdPaths:
    """Keep an encoded '/' (and '%') inside the instance id segment of a submission URL."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        raw: Any = scope.get("raw_path") if scope["type"] == "http" else None
        if raw:
            try:
                m = _SUBMISSION.match(bytes(raw).split(b"?", 1)[0].decode("ascii"))
            except UnicodeDecodeError:
                m = None  # not a percent-encoded path: left to the server's own decoding
            if m:
                path = unquote(m[1]) + _escape(unquote(m[2])) + unquote(m[3] or "")
                scope = {**scope, "path": path}
        await self.app(scope, receive, send)
