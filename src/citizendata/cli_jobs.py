"""Command line for background jobs: list them, show one, cancel one, run a worker."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table

from citizendata.cli import (
    DEFAULT_WS,
    AsOpt,
    JsonOpt,
    WorkspaceOpt,
    _client,
    _guard,
    _open,
    app,
    console,
)

__all__ = ["jobs_app"]

jobs_app = typer.Typer(help="Background jobs: release builds, validation runs, imports and "
                            "estimates.", no_args_is_help=True)
app.add_typer(jobs_app, name="jobs")


def _progress(j: Any) -> str:
    if j.finished:
        return j.error_message or ""
    done = f"{j.percent}% " if j.percent is not None else ""
    return f"{done}{j.progress_message}".strip()


@jobs_app.command("list")
def jobs_list(slug: Annotated[str | None, typer.Argument(help="A project (default: all of "
                                                              "yours)")] = None,
              state: Annotated[str | None, typer.Option(
                  help="queued, running, done, failed or cancelled")] = None,
              limit: Annotated[int, typer.Option(min=1, max=500)] = 50,
              workspace: WorkspaceOpt = DEFAULT_WS, as_user: AsOpt = None,
              as_json: JsonOpt = False) -> None:
    """Jobs, newest first: yours and those your role could run."""
    def go() -> None:
        rows = _client(workspace, as_user).jobs(slug, state, limit=limit)
        if as_json:
            console.print_json(data=[j.to_dict() for j in rows])
            return
        table = Table("id", "project", "kind", "state", "progress", "asked by", "queued at")
        for j in rows:
            table.add_row(str(j.id), j.project, j.kind, j.state, _progress(j), j.requested_by,
                          j.created_at.strftime("%Y-%m-%d %H:%M"))
        console.print(table)
    _guard(go, as_json)


@jobs_app.command("show")
def jobs_show(job_id: int, workspace: WorkspaceOpt = DEFAULT_WS, as_user: AsOpt = None,
              as_json: JsonOpt = False) -> None:
    """One job: its state, progress and outcome."""
    def go() -> None:
        j = _client(workspace, as_user).job(job_id)
        if as_json:
            console.print_json(data=j.to_dict())
            return
        console.print(f"[bold]job {j.id}[/] {j.kind} in {j.project}: [bold]{j.state}[/]")
        console.print(f"  asked by {j.requested_by} at {j.created_at:%Y-%m-%d %H:%M:%S} UTC; "
                      f"attempts {j.attempts}", highlight=False)
        if j.params:
            console.print(f"  parameters: {j.params}", highlight=False)
        if not j.finished:
            total = f"/{j.progress_total}" if j.progress_total else ""
            console.print(f"  progress: {j.progress_done}{total} {j.progress_message}",
                          highlight=False)
        if j.result:
            console.print(f"  result: {j.result}", highlight=False)
        if j.error_code:
            console.print(f"  error {j.error_code}: {j.error_message}", highlight=False)
    _guard(go, as_json)


@jobs_app.command("cancel")
def jobs_cancel(job_id: int, workspace: WorkspaceOpt = DEFAULT_WS,
                as_user: AsOpt = None) -> None:
    """Cancel a queued job, or ask a running one to stop at its next step."""
    def go() -> None:
        j = _client(workspace, as_user).cancel_job(job_id)
        console.print(f"Job {j.id} cancelled." if j.state == "cancelled"
                      else f"Job {j.id} stops at its next step.")
    _guard(go)


@jobs_app.command("work")
def jobs_work(once: Annotated[bool, typer.Option(
                  "--once", help="Run the jobs waiting now, then stop.")] = False,
              workspace: WorkspaceOpt = DEFAULT_WS) -> None:
    """Run a worker: claim queued jobs and run each as the user who asked for it.

    Run as many as you like over one database; each job runs once. Set
    CITIZENDATA_JOBS_IN_SERVER=false on the web server to leave the jobs to these.
    """
    def go() -> None:
        from citizendata.jobs.worker import Worker

        worker = Worker(_open(workspace))
        if not once:
            console.print(f"Worker {worker.id} waiting for jobs (Ctrl-C to stop).")
        try:
            ran = worker.work(once=once)
        except KeyboardInterrupt:
            worker.stop(timeout=0)
            raise typer.Exit(130) from None
        console.print(f"{ran} job(s) run.")
    _guard(go)
