"""Background jobs: the JSON API under /api/v1 and the pages /jobs/{id} and
/projects/{slug}/jobs (a small script follows a running job's progress on its page; without
it, the page has a Refresh link).

Every call goes through the library Client, which checks the caller's role; the work is
done by a worker (server/work.py, citizendata.jobs).
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from citizendata.errors import Forbidden
from citizendata.i18n import gettext as _
from citizendata.server.deps import api_client, csrf_ok
from citizendata.server.pages import flash, render
from citizendata.server.params import DbId
from citizendata.server.work import outcome, step_text
from citizendata.services.jobs import JobInfo
from citizendata.workspace import Client

__all__ = ["pages", "router"]

router = APIRouter(prefix="/api/v1", tags=["jobs"])
pages = APIRouter(include_in_schema=False)

State = Literal["queued", "running", "done", "failed", "cancelled"]


class JobIn(BaseModel):
    """A job to queue: its kind and the parameters the kind takes."""

    model_config = ConfigDict(extra="forbid")
    kind: Literal["release.build", "validate", "import", "estimate"]
    params: dict[str, Any] = Field(default_factory=dict)
    done_url: str | None = Field(default=None, max_length=500)


@router.get("/projects/{slug}/jobs", summary="The project's jobs")
def list_jobs(slug: str, state: State | None = None,
              limit: int = Query(default=100, ge=1, le=500),
              client: Client = Depends(api_client)) -> dict[str, Any]:
    """Newest first: your jobs and those your role could run."""
    return {"jobs": [j.to_dict() for j in client.jobs(slug, state, limit=limit)]}


@router.post("/projects/{slug}/jobs", summary="Queue a job", status_code=202)
def submit_job(slug: str, body: JobIn, client: Client = Depends(api_client)) -> dict[str, Any]:
    """A release build (release.manage), validation run (submission.review), estimate
    (data.export) or import of a staged file (submission.create); runs as you."""
    return client.submit_job(slug, body.kind, body.params, done_url=body.done_url).to_dict()


@router.get("/jobs/{job_id}", summary="A job: state, progress and outcome")
def get_job(job_id: DbId, client: Client = Depends(api_client)) -> dict[str, Any]:
    """Yours, or one your role could run."""
    return client.job(job_id).to_dict()


@router.post("/jobs/{job_id}/cancel", summary="Cancel a job")
def cancel_job(job_id: DbId, client: Client = Depends(api_client)) -> dict[str, Any]:
    """A queued job is cancelled at once, a running one at its next step."""
    return client.cancel_job(job_id).to_dict()


# ---- pages ----------------------------------------------------------------------------------

def kind_label(kind: str) -> str:
    """A kind of job in the reader's language."""
    return {"release.build": _("Release build"), "validate": _("Validation run"),
            "import": _("Import"), "estimate": _("Estimates")}.get(kind, kind)


def state_label(state: str) -> str:
    """A job's state in the reader's language."""
    return {"queued": _("Queued"), "running": _("Running"), "done": _("Done"),
            "failed": _("Failed"), "cancelled": _("Cancelled")}.get(state, state)


def _view(job: JobInfo) -> dict[str, Any]:
    message = job.progress_message or ("queued" if job.state == "queued" else "")
    return {"job": job, "kind": kind_label(job.kind), "state": state_label(job.state),
            "step": step_text(message) if message else "",
            "outcome": outcome(job) if job.finished else ""}


@pages.get("/jobs/{job_id}")
def job_page(job_id: DbId, request: Request, client: Client = Depends(api_client)) -> Response:
    """One job: progress while it runs (the page reloads itself), then its outcome."""
    job = client.job(job_id)
    project = client.project(job.project)
    return render(request, "jobs_job.html", client, role=project.role or "", project=project,
                  **_view(job))


@pages.post("/jobs/{job_id}/cancel")
async def cancel_page(job_id: DbId, request: Request,
                      client: Client = Depends(api_client)) -> Response:
    """Cancel from the job's page."""
    form = await request.form()
    if not csrf_ok(request, form.get("csrf")):
        raise Forbidden("auth.csrf", "The page has expired; reload it and try again.")
    job = await run_in_threadpool(client.cancel_job, job_id)
    flash(request, _("Cancelled.") if job.state == "cancelled"
          else _("The job stops at its next step."), "info")
    return RedirectResponse(f"/jobs/{job_id}", status_code=303)


@pages.get("/projects/{slug}/jobs")
def project_jobs_page(slug: str, request: Request,
                      client: Client = Depends(api_client)) -> Response:
    """The project's jobs, newest first (yours, and those your role could run)."""
    project = client.project(slug)
    jobs = [_view(j) for j in client.jobs(slug, limit=100)]
    return render(request, "jobs_list.html", client, role=project.role or "", project=project,
                  jobs=jobs)
