"""Background jobs on SQLite and PostgreSQL: queue, permissions, run, cancel, take over.

Worker threads need connections of their own, so the tests on the rolled-back ``ws``
fixture drive the worker by hand without its heartbeat thread (``beat=False``); the
tests of concurrent workers and of a killed worker use real databases.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import update

from citizendata.config import Settings
from citizendata.errors import BadInput, Conflict, Forbidden, NotFound
from citizendata.jobs import Worker
from citizendata.services import jobs as jobs_svc
from citizendata.store.models import Job, utcnow
from citizendata.workspace import Client, Workspace
from conftest import SPEC, household_form
from test_releases import AS_OF
from test_releases import setup as release_data

P, F = "test-project", "household"


def _expire(ws: Workspace, job_id: int) -> None:
    """As if the job's worker had stopped beating long ago."""
    ws.run(lambda db: db.execute(update(Job).where(Job.id == job_id).values(
        heartbeat_at=utcnow() - timedelta(hours=1))))


def test_a_validation_job_runs_as_the_one_who_asked(owner: Client) -> None:
    release_data(owner, {"community_representatives": ["rep"]})
    job = owner.submit_job(P, "validate", {"form_id": F}, done_url="/projects/test-project")
    assert job.state == "queued" and job.requested_by == "owner" and job.params == {
        "form_id": F}
    worker = Worker(owner.workspace, beat=False)
    assert worker.run_once() == job.id
    done = owner.job(job.id)
    assert done.state == "done" and done.attempts == 1 and done.finished_at is not None
    assert done.result is not None and done.result["submissions"] == 12
    assert done.progress_done == done.progress_total == 12
    assert done.done_url == "/projects/test-project"
    assert worker.run_once() is None  # nothing left
    assert [j.id for j in owner.jobs(P)] == [job.id]
    assert [j.id for j in owner.jobs(state="done")] == [job.id]
    assert owner.jobs(P, state="queued") == []
    actions = [e["action"] for e in owner.audit_log(P)]
    assert "job.submit" in actions and "job.done" in actions


def test_an_estimate_job_keeps_its_run(owner: Client) -> None:
    release_data(owner, {"community_representatives": ["rep"]})
    analyst = owner.workspace.as_user("nso")  # the NSO may export protected outputs
    job = analyst.submit_job(P, "estimate", {"indicator": "skilled"})
    Worker(owner.workspace, beat=False).run_once()
    done = analyst.job(job.id)
    assert done.state == "done", done.error_message
    assert done.result is not None and done.result["indicator"] == "skilled"
    assert done.result["run"] and done.result["cells"] >= 1
    assert done.progress_message == "estimating: skilled"


def test_a_page_on_a_single_connection_runs_its_job_at_once(owner: Client) -> None:
    """A test's workspace on one connection has no worker thread: start_work runs the job
    in the request, and the page reads as before the queue (a message on done_url)."""
    import re

    from fastapi.testclient import TestClient

    from citizendata.server.app import create_app

    release_data(owner, {"community_representatives": ["rep"]})
    with TestClient(create_app(owner.workspace), follow_redirects=False) as http:
        token = re.search(r'name="csrf" value="([^"]+)"', http.get("/login").text)
        assert token
        http.post("/login", data={"username": "owner", "password": "owner-password",
                                  "csrf": token.group(1), "next": "/projects"})
        csrf = re.search(r'name="csrf" value="([^"]+)"', http.get("/projects").text)
        assert csrf
        r = http.post(f"/projects/{P}/releases", data={"csrf": csrf.group(1)})
        assert r.status_code == 303 and r.headers["location"] == f"/projects/{P}/releases"
    assert [r["version"] for r in owner.releases(P)] == [1]
    assert owner.jobs(P)[0].state == "done"


def test_a_failed_job_keeps_the_libraries_coded_error(owner: Client) -> None:
    job = owner.submit_job(P, "estimate", {"indicator": "nothing-declared"})
    Worker(owner.workspace, beat=False).run_once()
    failed = owner.job(job.id)
    assert failed.state == "failed" and failed.error_code and failed.error_message
    assert failed.result is None


def test_permissions_follow_what_the_job_does(owner: Client) -> None:
    ws = owner.workspace
    for name, role in (("collector", "collector"), ("validator", "validator")):
        owner.create_user(name, f"{name}-password-1")
        owner.add_member(P, name, role)
    owner.create_user("stranger", "stranger-password-1")
    collector, validator = ws.as_user("collector"), ws.as_user("validator")
    with pytest.raises(Forbidden):
        collector.submit_job(P, "release.build")
    with pytest.raises(Forbidden):
        collector.submit_job(P, "validate", {"form_id": F})
    with pytest.raises(NotFound):
        ws.as_user("stranger").submit_job(P, "validate", {"form_id": F})
    mine = validator.submit_job(P, "validate", {"form_id": F})
    build = owner.submit_job(P, "release.build")
    # the collector sees neither; the validator sees their own job, not the build
    with pytest.raises(NotFound) as e:
        collector.job(mine.id)
    assert e.value.code == "not_found.job"
    assert collector.jobs(P) == []
    assert [j.id for j in validator.jobs(P)] == [mine.id]
    with pytest.raises(NotFound):
        validator.cancel_job(build.id)
    assert {j.id for j in owner.jobs(P)} == {mine.id, build.id}
    with pytest.raises(BadInput):
        owner.submit_job(P, "rm -rf", {})
    with pytest.raises(BadInput):
        owner.submit_job(P, "validate", {"form_id": F, "extra": 1})
    with pytest.raises(BadInput):
        owner.submit_job(P, "validate", {})
    with pytest.raises(BadInput):
        owner.submit_job(P, "validate", {"form_id": F}, done_url="https://evil.example/")
    with pytest.raises(BadInput):  # a job reads no file but one staged for it
        owner.submit_job(P, "import", {"form_id": F, "path": "/etc/passwd"})
    with pytest.raises(BadInput):
        owner.jobs(P, state="lost")


def test_an_import_job_reads_its_staged_file_and_deletes_it(owner: Client) -> None:
    csv = b"meta/instanceID,consent,age\nuuid:i1,yes,30\nuuid:i2,no,40\n"
    path = owner.stage_import(P, csv, "../../export.csv")
    assert Path(path).parent == owner.workspace.settings.workspace.resolve() / "uploads"
    job = owner.submit_job(P, "import", {"form_id": F, "path": path,
                                         "filename": "export.csv"})
    assert "path" not in job.params
    Worker(owner.workspace, beat=False).run_once()
    done = owner.job(job.id)
    assert done.state == "done", done.error_message
    assert done.result is not None and done.result["created"] == 2
    assert not Path(path).exists()


def test_cancel_a_queued_job_and_not_a_finished_one(owner: Client) -> None:
    job = owner.submit_job(P, "validate", {"form_id": F})
    assert owner.cancel_job(job.id).state == "cancelled"
    assert Worker(owner.workspace, beat=False).run_once() is None
    with pytest.raises(Conflict) as e:
        owner.cancel_job(job.id)
    assert e.value.code == "job.not_cancellable"


def test_a_build_recorded_before_the_crash_is_not_built_twice(owner: Client) -> None:
    """The worker died after the release was recorded, before the job was marked done."""
    ws = owner.workspace
    release_data(owner, {"community_representatives": ["rep"]})
    job = owner.submit_job(P, "release.build", {"as_of": AS_OF.isoformat()})
    dead = "elsewhere@1:dead"
    assert ws.run(jobs_svc.claim, dead, lease_s=60, max_attempts=3,
                  dead=lambda _w: False) == job.id
    since = utcnow().isoformat()
    assert ws.run(jobs_svc.save_checkpoint, job.id, dead, {"version": 1, "since": since})
    owner.build_release(P, as_of=AS_OF)  # ... and then the worker was killed
    _expire(ws, job.id)
    assert Worker(ws, beat=False).run_once() == job.id
    done = owner.job(job.id)
    assert done.state == "done" and done.attempts == 2
    assert done.result == {"version": 1, "status": "awaiting_signoff",
                           "files": done.result["files"], "resumed": True}
    assert [r["version"] for r in owner.releases(P)] == [1]


def test_a_build_killed_while_writing_files_is_built_again_once(owner: Client) -> None:
    ws = owner.workspace
    release_data(owner, {"community_representatives": ["rep"]})
    job = owner.submit_job(P, "release.build", {"as_of": AS_OF.isoformat()})
    dead = "elsewhere@1:dead"
    ws.run(jobs_svc.claim, dead, lease_s=60, max_attempts=3, dead=lambda _w: False)
    ws.run(jobs_svc.save_checkpoint, job.id, dead, {"version": 1,
                                                   "since": utcnow().isoformat()})
    half = ws.settings.workspace / "releases" / P / "v1"
    half.mkdir(parents=True)
    (half / "half-written.csv").write_text("a,b\n1,")
    _expire(ws, job.id)
    Worker(ws, beat=False).run_once()
    done = owner.job(job.id)
    assert done.state == "done" and done.result is not None and "resumed" not in done.result
    assert [r["version"] for r in owner.releases(P)] == [1]
    assert not (half / "half-written.csv").exists()
    assert done.progress_message == "report and files"


def test_a_job_interrupted_too_often_fails(owner: Client) -> None:
    ws = owner.workspace
    job = owner.submit_job(P, "validate", {"form_id": F})
    for i in range(2):
        ws.run(jobs_svc.claim, f"w{i}", lease_s=60, max_attempts=2, dead=lambda _w: False)
        _expire(ws, job.id)
    assert ws.run(jobs_svc.claim, "w9", lease_s=60, max_attempts=2,
                  dead=lambda _w: False) is None
    failed = owner.job(job.id)
    assert failed.state == "failed" and failed.error_code == "job.abandoned"


# ---- real databases: several workers, a killed worker ----------------------------------

def _real(root: Path, database_url: str | None) -> Workspace:
    ws = Workspace(Settings(workspace=root / "ws", database_url=database_url, mode="test"))
    owner = ws.create_admin("owner", "owner-password")
    owner.create_project(SPEC)
    owner.add_form(P, household_form(), "household.xlsx")
    owner.submit(P, F, {"meta": {"instanceID": "uuid:one"}, "consent": "yes", "age": 30})
    return ws


def test_two_workers_never_run_the_same_job(backend: str, database_url: str | None,
                                            tmp_path: Path) -> None:
    ws = _real(tmp_path, database_url)
    owner = ws.as_user("owner")
    ids = [owner.submit_job(P, "validate", {"form_id": F}).id for _ in range(6)]
    workers = [Worker(ws, lease_s=60, poll_s=0.05) for _ in range(3)]
    ran: list[int] = []
    threads = [threading.Thread(target=lambda w=w: ran.append(w.work(once=True)))
               for w in workers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    jobs = {j.id: j for j in owner.jobs(P)}
    assert sum(ran) == 6 and sorted(jobs) == sorted(ids)
    assert all(j.state == "done" and j.attempts == 1 for j in jobs.values())
    done_events = [e for e in owner.audit_log(P) if e["action"] == "job.done"]
    assert sorted(int(e["object_id"]) for e in done_events) == sorted(ids)
    ws.close()


def test_a_killed_worker_s_build_is_finished_by_the_next_worker_once(
        backend: str, database_url: str | None, tmp_path: Path) -> None:
    ws = _real(tmp_path, database_url)
    owner = ws.as_user("owner")
    release_data(owner, {"community_representatives": ["rep"]})
    job = owner.submit_job(P, "release.build", {"as_of": AS_OF.isoformat()})
    env = {**os.environ, "CITIZENDATA_WORKSPACE": str(ws.settings.workspace),
           "CITIZENDATA_MODE": "test", "PYTHONPATH": os.pathsep.join(sys.path)}
    if database_url:
        env["CITIZENDATA_DATABASE_URL"] = database_url
    proc = subprocess.Popen([sys.executable, "-c",
                             "from citizendata.jobs import Worker; "
                             "from citizendata.workspace import Workspace; "
                             "Worker(Workspace.open(None), lease_s=600).work()"],
                            env=env, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while True:  # wait until it is building: claimed, with a first step reported
            seen = owner.job(job.id)
            if seen.state == "running" and seen.progress_message:
                break
            assert time.monotonic() < deadline and proc.poll() is None, seen
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert owner.job(job.id).state == "running"  # as the killed worker left it
    # a new worker on this machine sees the old one's process has ended: no lease to wait
    assert Worker(ws, lease_s=600).run_once() == job.id
    done = owner.job(job.id)
    assert done.state == "done" and done.attempts == 2, done
    assert [r["version"] for r in owner.releases(P)] == [1]
    ws.close()


@pytest.mark.slow
def test_a_build_survives_a_server_restart(backend: str, database_url: str | None,
                                           tmp_path: Path) -> None:
    """The real server (uvicorn, as `citizendata serve` runs it) is killed with SIGKILL
    while its worker thread builds; the restarted server finishes the build, once."""
    from test_crash import KEY, Server

    ws = _real(tmp_path, database_url)
    owner = ws.as_user("owner")
    release_data(owner, {"community_representatives": ["rep"]})
    token = owner.create_token("t")
    ws.close()
    settings = Settings(workspace=tmp_path / "ws", database_url=database_url, mode="test",
                        secret_key=KEY)
    server = Server(settings, tmp_path / "server.log")
    server.start()
    ws = Workspace(settings)
    owner = ws.as_user("owner")
    try:
        r = httpx.post(f"{server.url}/api/v1/projects/{P}/jobs",
                       json={"kind": "release.build", "params": {"as_of": AS_OF.isoformat()}},
                       headers={"Authorization": f"Bearer {token}"}, timeout=30)
        assert r.status_code == 202, r.text
        job_id = r.json()["id"]
        deadline = time.monotonic() + 120
        while True:
            seen = owner.job(job_id)
            if seen.state == "running" and seen.progress_message:
                break
            assert time.monotonic() < deadline and seen.state in ("queued", "running"), seen
            time.sleep(0.05)
        server.kill()
        assert owner.job(job_id).state == "running"
        server.start()
        deadline = time.monotonic() + 180
        while not (done := owner.job(job_id)).finished:
            assert time.monotonic() < deadline, done
            time.sleep(0.2)
        assert done.state == "done" and done.attempts == 2, done
        assert [r["version"] for r in owner.releases(P)] == [1]
    finally:
        server.stop()
        ws.close()
