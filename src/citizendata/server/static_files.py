"""The site's static files, sent compressed when a compressed copy was built beside them.

The web-form engine is about 2.8 MB of JavaScript; its build writes ``NAME.br`` and
``NAME.gz`` next to each file (web/vite.config.js). A browser that accepts Brotli or gzip
gets those bytes as they are, with ``Content-Encoding`` (nothing is compressed per
request). Files named by their content hash (``name-HASH.js`` under ``webforms/``) never
change, so browsers may keep them for a year.
"""

from __future__ import annotations

import os
import re
import stat
from mimetypes import guess_type

import anyio
from starlette.datastructures import Headers
from starlette.responses import FileResponse, Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

__all__ = ["PrecompressedStaticFiles", "accepted_encodings"]

# (content coding, file suffix), best first
_ENCODINGS = (("br", ".br"), ("gzip", ".gz"))
_HASHED = re.compile(r"^webforms/[\w.-]+-[\w-]{8}\.js$")
_YEAR = "public, max-age=31536000, immutable"


def accepted_encodings(header: str) -> set[str]:
    """The content codings an Accept-Encoding header accepts (q=0 refuses one)."""
    out: set[str] = set()
    for item in header.split(","):
        name, _, params = item.strip().partition(";")
        q = params.strip()
        if q.startswith("q="):
            try:
                if float(q[2:]) <= 0:
                    continue
            except ValueError:
                continue
        if name.strip():
            out.add(name.strip().lower())
    return out


class PrecompressedStaticFiles(StaticFiles):
    """StaticFiles that prefers a prebuilt ``.br`` or ``.gz`` copy of the file asked for."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        """The compressed copy when there is one and the browser takes it, else the file."""
        accept = accepted_encodings(Headers(scope=scope).get("accept-encoding", ""))
        for coding, suffix in _ENCODINGS:
            if coding not in accept or path.endswith((".br", ".gz")):
                continue
            full, found = await anyio.to_thread.run_sync(self.lookup_path, path + suffix)
            if found is None or not stat.S_ISREG(found.st_mode):
                continue
            media_type = guess_type(path)[0] or "application/octet-stream"
            if media_type == "application/javascript":
                media_type = "text/javascript"
            response = FileResponse(full, stat_result=found, media_type=media_type)
            response.headers["content-encoding"] = coding
            response.headers["vary"] = "Accept-Encoding"
            self._cache(path, response)
            if self.is_not_modified(response.headers, Headers(scope=scope)):
                return _not_modified(response)
            return response
        plain = await super().get_response(path, scope)
        if plain.status_code == 200 and os.path.exists(
                os.path.join(str(self.directory), path + ".gz")):
            plain.headers["vary"] = "Accept-Encoding"
        self._cache(path, plain)
        return plain

    @staticmethod
    def _cache(path: str, response: Response) -> None:
        if response.status_code in (200, 304) and _HASHED.match(path.replace(os.sep, "/")):
            response.headers["cache-control"] = _YEAR


def _not_modified(response: Response) -> Response:
    from starlette.staticfiles import NotModifiedResponse

    return NotModifiedResponse(response.headers)
