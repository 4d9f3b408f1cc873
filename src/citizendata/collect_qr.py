"""ODK Collect configuration as a QR code: Collect's settings format, drawn as inline SVG.

Collect (and ODK Central's "configure Collect" QR code) reads a QR code holding the
base64 text of zlib-compressed JSON::

    {"general": {"server_url": ..., "username": ...}, "admin": {}, "project": {"name": ...}}

Central's front end builds it with ``btoa(pako.deflate(JSON.stringify(settings)))`` and
Collect requires the ``admin`` key. Central puts an app-user token in the server URL;
citizendata's collectors are users with passwords, so the code carries the OpenRosa URL
and the user name only: Collect asks for the password, which is never in the code.
"""

from __future__ import annotations

import base64
import json
import zlib
from typing import Any

import segno

__all__ = ["collect_settings", "decode_settings", "encode_settings", "settings_qr_svg"]


def collect_settings(server_url: str, project_name: str, username: str | None = None
                     ) -> dict[str, Any]:
    """The settings Collect needs to add a project: server, user name (no password)."""
    general: dict[str, Any] = {"server_url": server_url}
    if username:
        general["username"] = username
    # Collect refuses settings without an "admin" object
    return {"general": general, "admin": {}, "project": {"name": project_name}}


def encode_settings(settings: dict[str, Any]) -> str:
    """Collect's QR payload: base64 of the zlib-compressed JSON."""
    raw = json.dumps(settings, ensure_ascii=False, separators=(",", ":")).encode()
    return base64.b64encode(zlib.compress(raw, 9)).decode("ascii")


def decode_settings(payload: str) -> dict[str, Any]:
    """The settings a Collect QR payload holds (the inverse of :func:`encode_settings`)."""
    out: dict[str, Any] = json.loads(zlib.decompress(base64.b64decode(payload)))
    return out


def settings_qr_svg(settings: dict[str, Any], *, scale: int = 4) -> str:
    """An inline ``<svg>`` element of the QR code (no external files, no script)."""
    code = segno.make_qr(encode_settings(settings), error="l")
    svg: str = code.svg_inline(scale=scale, title="ODK Collect settings", border=4)
    return svg
