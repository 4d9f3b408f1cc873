"""The worker: claims jobs, runs them as the user who asked, heartbeats, records the outcome.

Run one in a thread of the web server (``jobs_in_server``) or as a process of its own
(``citizendata jobs work``). Several workers may share one database: a job is claimed by
one of them only. While a job runs, a heartbeat thread renews the job's lease and
writes its progress; a job whose worker stops (killed, crashed, a server restart) is
taken over once its lease runs out, or at once by a worker on the same machine that
sees the old worker's process has ended.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from citizendata.errors import CitizenDataError
from citizendata.jobs.kinds import KINDS, JobContext, uploads_dir
from citizendata.services import jobs as jobs_svc

if TYPE_CHECKING:
    from citizendata.workspace import Workspace

__all__ = ["JobStopped", "Worker"]

log = logging.getLogger("citizendata.jobs")
_HOST = socket.gethostname()
_LIVE: set[str] = set()  # the ids of this process's running workers
_LIVE_LOCK = threading.Lock()


class JobStopped(Exception):
    """Raised inside a job's code at a progress step: cancelled, or taken over."""

    def __init__(self, why: str) -> None:
        super().__init__(why)
        self.why = why  # "cancelled" or "lost"


def worker_is_dead(worker: str) -> bool:
    """True when ``worker`` ran on this machine in a process that has ended (or in this
    process, which has no such worker now); False when it cannot be told from here."""
    host, _, rest = worker.rpartition("@")
    pid_text = rest.split(":", 1)[0]
    if host != _HOST or not pid_text.isdigit():
        return False
    pid = int(pid_text)
    if pid == os.getpid():
        with _LIVE_LOCK:
            return worker not in _LIVE
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


class _Beat:
    """A running job's progress, shared by its thread and the heartbeat thread."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.progress: tuple[int, int | None, str] = (0, None, "")
        self.stop_reason: str | None = None


class Worker:
    """Claims and runs jobs of one workspace."""

    def __init__(self, ws: Workspace, *, worker_id: str | None = None,
                 lease_s: float | None = None, poll_s: float | None = None,
                 max_attempts: int | None = None, beat: bool = True) -> None:
        s = ws.settings
        self.ws = ws
        self.id = worker_id or f"{_HOST}@{os.getpid()}:{os.urandom(4).hex()}"
        self.lease_s = float(lease_s if lease_s is not None else s.jobs_lease_s)
        self.poll_s = float(poll_s if poll_s is not None else s.jobs_poll_s)
        self.max_attempts = int(max_attempts if max_attempts is not None
                                else s.jobs_max_attempts)
        # a heartbeat thread needs a workspace of its own connections (not a test's one)
        self.beat = beat
        self.beat_s = max(0.2, min(1.0, self.lease_s / 4))
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        with _LIVE_LOCK:
            _LIVE.add(self.id)

    # -- one job ----------------------------------------------------------------------------
    def run_once(self) -> int | None:
        """Claim one job and run it to its end; its id, or None when there was none."""
        ws = self.ws
        if not ws.run(jobs_svc.has_work, lease_s=self.lease_s, dead=worker_is_dead,
                      write=False):
            return None
        job_id = ws.run(jobs_svc.claim, self.id, lease_s=self.lease_s,
                        max_attempts=self.max_attempts, dead=worker_is_dead)
        if job_id is None:
            return None
        self._run(job_id)
        return job_id

    def _run(self, job_id: int) -> None:
        from citizendata.workspace import Client

        ws = self.ws
        spec = ws.run(jobs_svc.run_spec, job_id, write=False)
        state = _Beat()
        beats = threading.Event()
        beater = threading.Thread(target=self._heartbeat, args=(job_id, state, beats),
                                  name=f"job-{job_id}-heartbeat", daemon=True) \
            if self.beat else None

        def report(done: int, total: int | None, message: str) -> None:
            with state.lock:
                state.progress = (done, total, message)
                why = state.stop_reason
            if why is not None:
                raise JobStopped(why)

        def save(data: dict[str, Any]) -> None:
            if not ws.run(jobs_svc.save_checkpoint, job_id, self.id, data):
                raise JobStopped("lost")

        outcome: tuple[str, dict[str, Any] | None, tuple[str, str] | None]
        if beater is not None:
            beater.start()
        try:
            if spec.actor is None:
                raise CitizenDataError("internal", "The user who asked for this job can no "
                                       "longer log in.")
            client = Client(ws, spec.actor)
            result = KINDS[spec.kind].run(client, spec.slug, spec.params,
                                          JobContext(spec.checkpoint, save, report))
            outcome = ("done", result, None)
        except JobStopped as stop:
            if stop.why == "lost":
                log.warning("job %s was taken over by another worker", job_id)
                return
            outcome = ("cancelled", None, None)
        except CitizenDataError as exc:
            outcome = ("failed", None, (exc.code, exc.message))
        except Exception:
            log.exception("job %s (%s) failed", job_id, spec.kind)
            outcome = ("failed", None, ("internal", "The job stopped on an unexpected "
                                        "error; the server's log has the details."))
        finally:
            beats.set()
            if beater is not None:
                beater.join()
        with state.lock:
            progress = state.progress
        if outcome[0] == "done" and progress[1]:
            progress = (progress[1], progress[1], progress[2])
        ws.run(jobs_svc.finish, job_id, self.id, outcome[0], result=outcome[1],
               error=outcome[2], progress=progress)
        path = spec.params.get("path")
        if path and Path(path).resolve().is_relative_to(uploads_dir(ws.settings.workspace)):
            Path(path).unlink(missing_ok=True)  # a staged import file is not kept

    def _heartbeat(self, job_id: int, state: _Beat, stop: threading.Event) -> None:
        last: tuple[int, int | None, str] | None = None
        next_beat = 0.0
        while not stop.wait(self.beat_s if last is not None else 0):
            with state.lock:
                progress = state.progress
            now = time.monotonic()
            if progress == last and now < next_beat:
                continue
            try:
                asked = self.ws.run(jobs_svc.heartbeat, job_id, self.id, *progress)
            except Exception:  # the database is away for a moment: try again next beat
                log.warning("job %s: heartbeat failed", job_id, exc_info=True)
                continue
            last, next_beat = progress, now + self.lease_s / 4
            if asked is None or asked:
                with state.lock:
                    state.stop_reason = "lost" if asked is None else "cancelled"

    # -- the loop ---------------------------------------------------------------------------
    def work(self, *, once: bool = False) -> int:
        """Run jobs until stopped (or, with ``once``, until none is left); how many ran."""
        ran = 0
        while not self._stop.is_set():
            try:
                got = self.run_once()
            except Exception:
                log.exception("jobs worker %s: claiming failed", self.id)
                got = None
            if got is not None:
                ran += 1
                continue
            if once:
                break
            self._stop.wait(self.poll_s)
        return ran

    def start(self) -> threading.Thread:
        """Run :meth:`work` in a daemon thread."""
        self._thread = threading.Thread(target=self.work, name=f"jobs-worker-{self.id}",
                                        daemon=True)
        self._thread.start()
        return self._thread

    def stop(self, timeout: float | None = 5.0) -> None:
        """Stop taking jobs; wait up to ``timeout`` for the one running to end (a job still
        running then is taken over by the next worker once its lease runs out)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                return  # still running a job: not dead to the other workers of this process
        with _LIVE_LOCK:
            _LIVE.discard(self.id)
