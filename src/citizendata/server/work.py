"""Long work started from a page: release builds, validation runs, imports, estimates.

Pages call :func:`start_work` with a kind and JSON-able parameters instead of calling
the library inline. It queues a durable job (citizendata.jobs) that a worker runs as the
same user; when the job ends within ``jobs_wait_s`` its outcome is shown on
``done_url`` as before, otherwise the page goes to ``/jobs/{id}``, which shows the
progress and, at the end, the outcome with a link to ``done_url``.

The web server runs a worker in a background thread (:func:`lifespan`) unless
``jobs_in_server`` is off; ``citizendata jobs work`` runs one on its own.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse, Response

from citizendata.errors import CitizenDataError
from citizendata.i18n import gettext as _
from citizendata.jobs.kinds import KINDS, uploads_dir
from citizendata.services.jobs import JobInfo
from citizendata.workspace import Client, Workspace

__all__ = ["KINDS", "follow", "lifespan", "outcome", "queued_once", "start_work", "step_text"]


def outcome(job: JobInfo) -> str:
    """What a finished job did, in the reader's language."""
    r = job.result or {}
    if job.state == "failed":
        return _("The job failed: %(message)s") % {"message": job.error_message or ""}
    if job.state == "cancelled":
        return _("The job was cancelled.")
    if job.state != "done":
        return _("The job has not finished yet.")
    texts: dict[str, Callable[[], str]] = {
        "release.build": lambda: _("Release v%(version)s built; it awaits sign-off.")
        % {"version": r.get("version")},
        "validate": lambda: _("Validation finished: %(n)s submissions checked, %(errors)s "
                              "errors and %(warnings)s warnings.")
        % {"n": r.get("submissions"), "errors": r.get("errors"),
           "warnings": r.get("warnings")},
        "import": lambda: _("Import finished: %(created)s submissions stored, %(duplicates)s "
                            "already there.")
        % {"created": r.get("created"), "duplicates": r.get("duplicates")},
        "estimate": lambda: _("Estimates computed for %(indicator)s.")
        % {"indicator": r.get("indicator")},
        "quality": lambda: _("The quality record is ready."),
    }
    return texts.get(job.kind, lambda: _("The job is done."))()


def step_text(message: str) -> str:
    """A progress message ("step" or "step: detail") with its step translated."""
    step, sep, detail = message.partition(": ")
    steps = {
        "queued": _("waiting for a worker"),
        "reading and checking the file": _("reading and checking the file"),
        "checking for resends and conflicts": _("checking for resends and conflicts"),
        "inserting rows": _("storing the rows"),
        "checking submissions": _("checking submissions"),
        "findings stored": _("findings stored"),
        "estimating": _("estimating"),
        "quality statement": _("quality statement"),
        "report and files": _("report and files"),
    }
    return steps.get(step, step) + (sep + detail if sep else "")


def _page_params(client: Client, slug: str, kind: str, params: dict[str, Any]
                 ) -> dict[str, Any]:
    """A page's parameters as the job takes them: what the kind does not take is left out
    (pages may pass more, as the inline calls took ``**_``), and a file to import that a
    page saved elsewhere is staged for the job (it must outlive the request)."""
    spec = KINDS.get(kind)
    if spec is None:
        return params
    out = {k: v for k, v in params.items() if k in spec.params.model_fields}
    path = out.get("path")
    if isinstance(path, str) and path:
        source = Path(path)
        staged = uploads_dir(client.workspace.settings.workspace)
        if not source.resolve().is_relative_to(staged) and source.is_file():
            out.setdefault("filename", source.name)
            out["path"] = client.stage_import(slug, source.read_bytes(), source.name)
    return out


async def start_work(request: Request, client: Client, kind: str, params: dict[str, Any],
                     done_url: str) -> Response:
    """Queue ``kind`` with ``params`` (which name the project as ``slug``) for ``client``.

    Work that ends within ``jobs_wait_s`` shows its outcome as a message on ``done_url``;
    longer work goes to its job page. (A test's workspace on a single connection has no
    worker thread: there the job runs at once, in the request.) Library errors (a bad parameter, a conflict) are
    shown as an error message on ``done_url``; a role that may not, or a project the
    caller may not know of, gets the error page (403, 404).
    """
    from citizendata.server.pages import flash

    rest = dict(params)
    slug = str(rest.pop("slug"))
    try:
        rest = await run_in_threadpool(_page_params, client, slug, kind, rest)
        job = await run_in_threadpool(client.submit_job, slug, kind, rest, done_url=done_url)
    except CitizenDataError as err:
        if err.http_status in (401, 403, 404):
            raise  # who may not, or may not know of the project: the error page says so
        flash(request, err.message, "error")
        return RedirectResponse(done_url, status_code=303)
    job = await run_in_threadpool(follow, request, client, job.id)
    if not job.finished:
        return RedirectResponse(f"/jobs/{job.id}", status_code=303)
    flash(request, outcome(job), "ok" if job.state == "done" else "error")
    return RedirectResponse(done_url, status_code=303)


def follow(request: Request, client: Client, job_id: int) -> JobInfo:
    """Wait up to ``jobs_wait_s`` for a job (in a worker thread); its state then.

    A test's workspace on one connection, or an app served without its lifespan (no
    worker thread was started), runs the job here, in the request.
    """
    settings = client.workspace.settings
    no_worker = settings.jobs_in_server and getattr(request.app.state, "jobs_worker",
                                                    None) is None
    if client.workspace.shared_connection or no_worker:
        from citizendata.jobs.worker import Worker

        Worker(client.workspace, beat=False).run_once()
    deadline = time.monotonic() + settings.jobs_wait
    job = client.job(job_id)
    while not job.finished and time.monotonic() < deadline:
        time.sleep(0.1)
        job = client.job(job_id)
    return job


def queued_once(client: Client, slug: str, kind: str, params: dict[str, Any]) -> JobInfo:
    """The newest job of ``kind`` with these parameters that is waiting, running or has
    failed, or a new one: pages that ask for the same work while it runs do not queue it
    twice, and work that failed on the same inputs (its parameters carry their key) is
    not retried on every view."""
    for job in client.jobs(slug, limit=50):
        if job.kind == kind and job.state in ("queued", "running", "failed") and all(
                job.params.get(k) == v for k, v in params.items()):
            return job
    return client.submit_job(slug, kind, params)


def lifespan(workspace: Workspace) -> Callable[[FastAPI], Any]:
    """The app's lifespan: a jobs worker in a background thread while the app serves,
    unless ``jobs_in_server`` is off (or the workspace is a test's single connection)."""
    @asynccontextmanager
    async def run(_app: FastAPI) -> AsyncIterator[None]:
        from citizendata.jobs.worker import Worker

        worker = None
        if workspace.settings.jobs_in_server and not workspace.shared_connection:
            worker = Worker(workspace)
            worker.start()
        _app.state.jobs_worker = worker
        try:
            yield
        finally:
            if worker is not None:
                await run_in_threadpool(worker.stop, 5.0)
    return run
