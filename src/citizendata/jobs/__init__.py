"""Long work in the background: release builds, validation runs, imports and estimates.

A job is a row in the project's own database (``store.models.Job``, ``services.jobs``):
pages, the API and the CLI queue one with ``Client.submit_job``; a :class:`Worker` (a
thread of the web server, or ``citizendata jobs work``) claims it, runs the library call
as the user who asked for it, records its progress and outcome, and takes over a job
whose worker died.
"""

from __future__ import annotations

from typing import Any

__all__ = ["KINDS", "Worker"]


def __getattr__(name: str) -> Any:
    # imported on first use: the worker needs the workspace, which imports this package
    if name == "Worker":
        from citizendata.jobs.worker import Worker

        return Worker
    if name == "KINDS":
        from citizendata.jobs.kinds import KINDS

        return KINDS
    raise AttributeError(name)
