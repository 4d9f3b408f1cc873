"""Jobs in the project's own database: queue, list, cancel; claim, heartbeat and finish.

The first three act for a user and check their role; the others are the worker's and act
for nobody (the worker then runs the job as the user who asked for it). A worker claims
a job atomically: on PostgreSQL the candidate row is locked with ``FOR UPDATE SKIP
LOCKED`` so two workers never wait on or take the same row; on SQLite the claim runs in
a ``BEGIN IMMEDIATE`` transaction, which one writer holds at a time. On both, the claim
is a conditional ``UPDATE … WHERE state = 'queued'`` (or, for a job whose worker died,
``WHERE worker = <the dead one>``) that only one worker can win.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, select, update
from sqlalchemy.orm import Session

from citizendata.auth import Action, Actor, allowed
from citizendata.errors import BadInput, Conflict, NotFound, Where
from citizendata.jobs.kinds import KINDS, kind_of, public_params
from citizendata.services.access import audit, project_for, require_actor, role_in
from citizendata.store.models import Job, Membership, Project, User, utcnow

__all__ = ["FINISHED", "STATES", "JobInfo", "cancel", "claim", "finish", "get_job",
           "heartbeat", "list_jobs", "run_spec", "save_checkpoint", "submit"]

STATES = ("queued", "running", "done", "failed", "cancelled")
FINISHED = frozenset({"done", "failed", "cancelled"})

# How a worker picks a queued row without waiting on, or taking, another worker's pick:
# backend differences as data (SQLite's BEGIN IMMEDIATE already admits one writer).
_PICK: dict[str, Callable[[Select[Any]], Select[Any]]] = {
    "sqlite": lambda q: q,
    "postgresql": lambda q: q.with_for_update(skip_locked=True),
}


@dataclass(frozen=True)
class JobInfo:
    """A job as shown to people (never the server's folders, never personal data)."""

    id: int
    project: str
    kind: str
    params: dict[str, Any]
    requested_by: str
    state: str
    progress_done: int
    progress_total: int | None
    progress_message: str
    result: dict[str, Any] | None
    error_code: str | None
    error_message: str | None
    done_url: str | None
    attempts: int
    cancel_requested: bool
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None

    @property
    def finished(self) -> bool:
        """True once done, failed or cancelled."""
        return self.state in FINISHED

    @property
    def percent(self) -> int | None:
        """How far, in per cent, when the total is known."""
        if not self.progress_total:
            return None
        return max(0, min(100, round(100 * self.progress_done / self.progress_total)))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        out = asdict(self)
        for k in ("created_at", "started_at", "finished_at"):
            out[k] = out[k].isoformat() if out[k] else None
        out["percent"] = self.percent
        return out


def _info(job: Job, slug: str, username: str) -> JobInfo:
    return JobInfo(job.id, slug, job.kind, public_params(job.params), username, job.state,
                   job.progress_done, job.progress_total, job.progress_message, job.result,
                   job.error_code, job.error_message, job.done_url, job.attempts,
                   job.cancel_requested, job.created_at, job.started_at, job.finished_at)


def _may_see(actor: Actor, role: str | None, job: Job) -> bool:
    """The one who asked, and members whose role could run a job of this kind."""
    spec = KINDS.get(job.kind)
    return job.requested_by == actor.user_id or (
        spec is not None and allowed(role, spec.action))


def _safe_url(url: str | None) -> str | None:
    if url is None:
        return None
    if not url.startswith("/") or url.startswith("//") or "\\" in url or len(url) > 500:
        raise BadInput("input.invalid", "done_url must be a path on this site.",
                       where=Where(field="done_url"))
    return url


def submit(db: Session, actor: Actor | None, slug: str, kind: str, params: dict[str, Any],
           done_url: str | None = None) -> JobInfo:
    """Queue a job (params already checked by ``kinds.clean_params``); the role must allow
    what the job does."""
    spec = kind_of(kind)
    project, _ = project_for(db, actor, slug, spec.action)
    assert actor is not None
    job = Job(project_id=project.id, kind=kind, params=params, requested_by=actor.user_id,
              state="queued", progress_done=0, progress_message="", checkpoint={},
              done_url=_safe_url(done_url), attempts=0, cancel_requested=False,
              created_at=utcnow())
    db.add(job)
    db.flush()
    audit(db, actor, "job.submit", "job", job.id, project_id=project.id,
          details={"kind": kind, "params": public_params(params)})
    return _info(job, slug, actor.username)


def _visible(db: Session, actor: Actor | None, job_id: int) -> tuple[Job, str, str]:
    actor = require_actor(actor)
    row = db.execute(select(Job, Project.slug, User.username)
                     .join(Project, Project.id == Job.project_id)
                     .join(User, User.id == Job.requested_by)
                     .where(Job.id == job_id)).first()
    if row is None or not _may_see(actor, role_in(db, actor, row[0].project_id), row[0]):
        raise NotFound("not_found.job", f"There is no job {job_id} that you may see.")
    return row[0], row[1], row[2]


def get_job(db: Session, actor: Actor | None, job_id: int) -> JobInfo:
    """One job, if the caller asked for it or their role could run it."""
    job, slug, username = _visible(db, actor, job_id)
    return _info(job, slug, username)


def list_jobs(db: Session, actor: Actor | None, slug: str | None = None,
              state: str | None = None, limit: int = 100) -> list[JobInfo]:
    """Newest first: a project's jobs (or those of every project one is a member of) that
    the caller may see."""
    actor = require_actor(actor)
    if state is not None and state not in STATES:
        raise BadInput("input.invalid", f"There is no job state {state!r}.",
                       where=Where(field="state"), fix="Use one of: " + ", ".join(STATES))
    q = (select(Job, Project.slug, User.username, Membership.role)
         .join(Project, Project.id == Job.project_id)
         .join(User, User.id == Job.requested_by)
         .join(Membership, (Membership.project_id == Job.project_id)
               & (Membership.user_id == actor.user_id))
         .order_by(Job.id.desc()))
    if slug is not None:
        project, _ = project_for(db, actor, slug, Action.PROJECT_VIEW)
        q = q.where(Job.project_id == project.id)
    if state is not None:
        q = q.where(Job.state == state)
    out: list[JobInfo] = []
    for job, pslug, username, role in db.execute(q.limit(max(1, limit) * 5)):
        if _may_see(actor, role, job):
            out.append(_info(job, pslug, username))
            if len(out) >= limit:
                break
    return out


def cancel(db: Session, actor: Actor | None, job_id: int) -> JobInfo:
    """Cancel a queued job at once; ask a running one to stop at its next progress step."""
    job, slug, username = _visible(db, actor, job_id)
    assert actor is not None
    if job.state in FINISHED:
        raise Conflict("job.not_cancellable", f"Job {job_id} is {job.state} already.")
    if job.state == "queued":
        job.state, job.finished_at = "cancelled", utcnow()
    job.cancel_requested = True
    audit(db, actor, "job.cancel", "job", job.id, project_id=job.project_id,
          details={"kind": job.kind, "state": job.state})
    db.flush()
    return _info(job, slug, username)


# ---- the worker's side (acts for nobody; the job then runs as the one who asked) --------

def claim(db: Session, worker: str, *, lease_s: float, max_attempts: int,
          dead: Callable[[str], bool]) -> int | None:
    """Take the oldest queued job, or a running one whose worker died (its lease ran out,
    or ``dead(worker id)`` says so); None when there is none. A job interrupted
    ``max_attempts`` times is marked failed instead, a cancelled one cancelled."""
    now = utcnow()
    cutoff = now - timedelta(seconds=lease_s)
    running = db.execute(select(Job.id, Job.worker, Job.heartbeat_at, Job.attempts,
                                Job.cancel_requested)
                         .where(Job.state == "running").order_by(Job.id)).all()
    for job_id, old, beat, attempts, cancelled in running:
        if not ((beat is not None and beat < cutoff) or (old and dead(old))):
            continue
        taken = (update(Job).where(Job.id == job_id, Job.state == "running",
                                   Job.worker == old)
                 .execution_options(synchronize_session=False))
        if cancelled:
            db.execute(taken.values(state="cancelled", finished_at=now))
            continue
        if attempts >= max_attempts:
            db.execute(taken.values(
                state="failed", finished_at=now, error_code="job.abandoned",
                error_message=f"The job's worker stopped {attempts} times while running it."))
            continue
        got = db.execute(taken.values(worker=worker, heartbeat_at=now,
                                      attempts=Job.attempts + 1).returning(Job.id)).first()
        if got is not None:
            return int(got[0])
    pick = _PICK[db.get_bind().dialect.name](
        select(Job.id).where(Job.state == "queued").order_by(Job.id).limit(1))
    job_id = db.scalar(pick)
    if job_id is None:
        return None
    got = db.execute(update(Job).where(Job.id == job_id, Job.state == "queued")
                     .values(state="running", worker=worker, heartbeat_at=now, started_at=now,
                             attempts=Job.attempts + 1)
                     .returning(Job.id).execution_options(synchronize_session=False)).first()
    return int(got[0]) if got is not None else None


def has_work(db: Session, *, lease_s: float, dead: Callable[[str], bool]) -> bool:
    """A cheap read: is there a queued job, or a running one a worker could take over?"""
    if db.scalar(select(Job.id).where(Job.state == "queued").limit(1)) is not None:
        return True
    cutoff = utcnow() - timedelta(seconds=lease_s)
    return any((beat is not None and beat < cutoff) or (w and dead(w)) for w, beat in
               db.execute(select(Job.worker, Job.heartbeat_at).where(Job.state == "running")))


@dataclass(frozen=True)
class RunSpec:
    """What a worker needs to run a claimed job."""

    id: int
    kind: str
    slug: str
    params: dict[str, Any]
    checkpoint: dict[str, Any]
    actor: Actor | None  # None when the user who asked can no longer log in


def run_spec(db: Session, job_id: int) -> RunSpec:
    """The claimed job's kind, project, parameters, checkpoint and who it runs as."""
    job, slug, user = db.execute(select(Job, Project.slug, User)
                                 .join(Project, Project.id == Job.project_id)
                                 .join(User, User.id == Job.requested_by)
                                 .where(Job.id == job_id)).one()
    actor = Actor(user.id, user.username, user.is_admin) if user.is_active else None
    return RunSpec(job.id, job.kind, slug, dict(job.params), dict(job.checkpoint or {}), actor)


def heartbeat(db: Session, job_id: int, worker: str, done: int, total: int | None,
              message: str) -> bool | None:
    """Renew the lease and record progress; whether a cancel was asked, None if the job is
    no longer this worker's."""
    got = db.execute(update(Job).where(Job.id == job_id, Job.worker == worker,
                                       Job.state == "running")
                     .values(heartbeat_at=utcnow(), progress_done=done, progress_total=total,
                             progress_message=message[:300])
                     .returning(Job.cancel_requested)
                     .execution_options(synchronize_session=False)).first()
    return None if got is None else bool(got[0])


def save_checkpoint(db: Session, job_id: int, worker: str, data: dict[str, Any]) -> bool:
    """Keep a running job's checkpoint; False if the job is no longer this worker's."""
    got = db.execute(update(Job).where(Job.id == job_id, Job.worker == worker,
                                       Job.state == "running")
                     .values(checkpoint=data, heartbeat_at=utcnow()).returning(Job.id)
                     .execution_options(synchronize_session=False)).first()
    return got is not None


def finish(db: Session, job_id: int, worker: str, state: str, *,
           result: dict[str, Any] | None = None, error: tuple[str, str] | None = None,
           progress: tuple[int, int | None, str] | None = None) -> bool:
    """Record how a running job ended (done, failed, cancelled); False if it is no
    longer this worker's (another took it over)."""
    assert state in FINISHED
    values: dict[str, Any] = {"state": state, "finished_at": utcnow(), "result": result,
                              "error_code": error[0] if error else None,
                              "error_message": error[1] if error else None}
    if progress is not None:
        values.update(progress_done=progress[0], progress_total=progress[1],
                      progress_message=progress[2][:300])
    got = db.execute(update(Job).where(Job.id == job_id, Job.worker == worker,
                                       Job.state == "running")
                     .values(**values).returning(Job.project_id, Job.requested_by, Job.kind)
                     .execution_options(synchronize_session=False)).first()
    if got is None:
        return False
    user = db.get(User, got[1])
    actor = Actor(user.id, user.username, user.is_admin) if user is not None else None
    audit(db, actor, f"job.{state}", "job", job_id, project_id=got[0],
          details={"kind": got[2], **({"error": error[0]} if error else {})})
    return True
