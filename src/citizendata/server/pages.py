"""What every server-rendered page shares: the render call, role capabilities, flash messages.

Routers that serve HTML call :func:`render`; templates then have ``user``, ``csrf``,
``flashes`` (one-time messages after a redirect), ``language`` and, when a ``role`` is
given, ``can`` (action → bool) so a page shows only what the role may do.
"""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import Response

from citizendata.auth import Action, allowed
from citizendata.i18n import current_language
from citizendata.server.deps import csrf_token
from citizendata.server.errors import templates
from citizendata.workspace import Client

__all__ = ["capabilities", "flash", "render", "safe_next"]

_FLASHES = "flashes"


def capabilities(role: str | None) -> dict[str, bool]:
    """Every action by its value ('release.manage' …) → whether ``role`` may do it."""
    return {a.value: allowed(role, a) for a in Action}


def flash(request: Request, text: str, kind: str = "ok") -> None:
    """A message shown once on the next page (kind: ok, error, info)."""
    queued = list(request.session.get(_FLASHES) or [])
    queued.append({"kind": kind, "text": text})
    request.session[_FLASHES] = queued[-5:]


def _pop_flashes(request: Request) -> list[dict[str, str]]:
    if "session" not in request.scope:
        return []
    return list(request.session.pop(_FLASHES, None) or [])


def render(request: Request, template: str, client: Client | None, *, status: int = 200,
           role: str | None = None, **context: Any) -> Response:
    """A template with the context every page needs."""
    context.update(user=client.actor.username if client else None,
                   csrf=csrf_token(request) if "session" in request.scope else "",
                   flashes=_pop_flashes(request), language=current_language())
    if role is not None:
        context.setdefault("role", role)
        context["can"] = capabilities(role)
    return templates.TemplateResponse(request, template, context, status_code=status)


def safe_next(target: str | None, default: str = "/projects") -> str:
    """A local path to go to after a form; never another site."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return default
    return target
