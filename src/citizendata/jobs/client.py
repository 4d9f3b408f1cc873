"""Jobs as Client calls: queue one, list them, read one, cancel one, stage an import file."""

from __future__ import annotations

import re
import secrets
from pathlib import Path
from typing import Any

from citizendata.auth import Action
from citizendata.jobs.kinds import clean_params, uploads_dir
from citizendata.services import jobs as jobs_svc
from citizendata.services.access import project_for

__all__ = ["JobsMethods"]


class JobsMethods:
    """Client methods for background jobs (a mixin: ``self`` is a Client)."""

    def submit_job(self, slug: str, kind: str, params: dict[str, Any] | None = None, *,
                   done_url: str | None = None) -> jobs_svc.JobInfo:
        """Queue a job of ``kind`` ("release.build", "validate", "import", "estimate") in a
        project; a worker runs it as you. Your role must allow what the job does."""
        me: Any = self
        clean = clean_params(kind, params, me.workspace.settings.workspace)
        info: jobs_svc.JobInfo = me._run(jobs_svc.submit, slug, kind, clean, done_url)
        return info

    def jobs(self, slug: str | None = None, state: str | None = None, *, limit: int = 100
             ) -> list[jobs_svc.JobInfo]:
        """Newest first, the jobs you may see: yours, and those your role could run."""
        me: Any = self
        out: list[jobs_svc.JobInfo] = me._read(jobs_svc.list_jobs, slug, state, limit)
        return out

    def job(self, job_id: int) -> jobs_svc.JobInfo:
        """One job: its state, progress and outcome."""
        me: Any = self
        info: jobs_svc.JobInfo = me._read(jobs_svc.get_job, job_id)
        return info

    def cancel_job(self, job_id: int) -> jobs_svc.JobInfo:
        """Cancel a queued job, or ask a running one to stop at its next step."""
        me: Any = self
        info: jobs_svc.JobInfo = me._run(jobs_svc.cancel, job_id)
        return info

    def stage_import(self, slug: str, data: bytes, filename: str) -> str:
        """Keep an uploaded file for an import job; returns the path to pass as ``path``.

        The job deletes it once it has finished.
        """
        me: Any = self
        me._read(lambda db, actor: project_for(db, actor, slug, Action.SUBMISSION_CREATE))
        folder = uploads_dir(me.workspace.settings.workspace)
        folder.mkdir(parents=True, exist_ok=True)
        safe = re.sub(r"[^A-Za-z0-9._-]+", "_", Path(filename).name)[-100:] or "upload"
        path = folder / f"{secrets.token_hex(8)}-{safe}"
        path.write_bytes(data)
        return str(path)
