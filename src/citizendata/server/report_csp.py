"""Serving a release's report as the file is: its own Content-Security-Policy.

The report is one offline document with its CSS in inline ``<style>`` blocks (and no
script). The site's policy (``style-src 'self'``) would block those, so a report is
served with a policy of its own, computed when it is served: the SHA-256 hash of each
inline block, nothing else — no 'unsafe-inline', no outside source, no script.
"""

from __future__ import annotations

import base64
import hashlib
import re
from pathlib import Path

from fastapi.responses import Response

__all__ = ["inline_hashes", "report_policy", "report_response"]

_BLOCK = re.compile(rb"<(style|script)\b[^>]*>(.*?)</\1\s*>", re.IGNORECASE | re.DOTALL)


def inline_hashes(html: bytes) -> dict[str, list[str]]:
    """The CSP source of each inline <style> and <script> block: ``'sha256-…'``."""
    found: dict[str, list[str]] = {"style": [], "script": []}
    for match in _BLOCK.finditer(html):
        digest = base64.b64encode(hashlib.sha256(match.group(2)).digest()).decode("ascii")
        source = f"'sha256-{digest}'"
        kind = match.group(1).decode("ascii").lower()
        if source not in found[kind]:
            found[kind].append(source)
    return found


def report_policy(html: bytes) -> str:
    """A policy allowing exactly the document's own inline blocks and data: images."""
    hashes = inline_hashes(html)
    styles = " ".join(hashes["style"]) or "'none'"
    scripts = " ".join(hashes["script"]) or "'none'"
    return (f"default-src 'none'; style-src {styles}; script-src {scripts}; "
            "img-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'none'; "
            "frame-ancestors 'none'")


def report_response(path: Path, *, private: bool = False) -> Response:
    """An HTML file of a release with its own policy (``private``: not kept in caches)."""
    body = path.read_bytes()
    headers = {"content-security-policy": report_policy(body)}
    if private:
        headers["cache-control"] = "private, no-store"
    return Response(body, media_type="text/html; charset=utf-8", headers=headers)
