"""Long work started from a page: release builds, validation runs, imports, estimates.

Pages call :func:`start_work` with a kind and JSON-able parameters instead of calling
the library inline. This version runs the work at once, in the request's worker thread,
then shows a message and goes to ``done_url``; the durable job queue replaces the body
of :func:`start_work` without changing its callers.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse, Response

from citizendata.errors import CitizenDataError
from citizendata.server.pages import flash
from citizendata.workspace import Client

__all__ = ["KINDS", "start_work"]


def _build(client: Client, slug: str, **_: Any) -> str:
    built = client.build_release(slug)
    return f"Release v{built['version']} built."


def _validate(client: Client, slug: str, form_id: str, **_: Any) -> str:
    client.validate(slug, form_id)
    return "Validation finished."


def _import(client: Client, slug: str, form_id: str, path: str, **_: Any) -> str:
    result = client.import_file(slug, form_id, path)
    return f"Imported: {result}"


def _estimate(client: Client, slug: str, indicator: str, **_: Any) -> str:
    client.estimate(slug, indicator)
    return "Estimates computed."


# kind → the library call (parameters are JSON-able, so a queue can store them)
KINDS: dict[str, Callable[..., str]] = {
    "release.build": _build,
    "validate": _validate,
    "import": _import,
    "estimate": _estimate,
}


async def start_work(request: Request, client: Client, kind: str, params: dict[str, Any],
                     done_url: str) -> Response:
    """Run ``kind`` with ``params`` for ``client``; flash its outcome; go to ``done_url``.

    Library errors are shown as an error message on ``done_url``, not as an error page.
    """
    try:
        message = await run_in_threadpool(KINDS[kind], client, **params)
    except CitizenDataError as err:
        flash(request, err.message, "error")
    else:
        flash(request, message, "ok")
    return RedirectResponse(done_url, status_code=303)
