"""kill -9 in the middle of writes: what was acknowledged is stored exactly, nothing else is
half-stored, and an interrupted import leaves no row at all (SQLite and PostgreSQL).

The real server runs in a subprocess (uvicorn, as `citizendata serve` runs it) and is
killed with SIGKILL, then started again over the same workspace.
"""

from __future__ import annotations

import hashlib
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, func, select, text

from citizendata.config import Settings
from citizendata.store.models import Attachment, AuditEvent, IntakeBatch, Submission
from citizendata.workspace import Workspace
from conftest import SPEC, household_form

pytestmark = pytest.mark.slow

P, F = "test-project", "household"
KEY = "crash-test-key-" + "x" * 32
COLLECTOR = ("naserian", "naserian-password")
# rows of the import that is killed: enough that SQLite spills the open transaction to
# its write-ahead log (the page cache holds 64 MiB), so the kill is seen to land mid-write
IMPORT_ROWS = {"sqlite": 120_000, "postgresql": 60_000}
LONG_ANSWER = "with a much longer answer " * 12


class Server:
    """`uvicorn --factory citizendata.server.app:create_app` over one workspace."""

    def __init__(self, settings: Settings, log: Path) -> None:
        self.settings, self.log = settings, log
        self.proc: subprocess.Popen[bytes] | None = None
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        env = {**os.environ, "CITIZENDATA_WORKSPACE": str(self.settings.workspace),
               "CITIZENDATA_MODE": "test", "CITIZENDATA_SECRET_KEY": KEY}
        if self.settings.database_url:
            env["CITIZENDATA_DATABASE_URL"] = self.settings.database_url
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "uvicorn", "--factory",
                 "citizendata.server.app:create_app", "--host", "127.0.0.1",
                 "--port", str(self.port), "--log-level", "warning"],
                env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, self.log.read_text()
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.2)
        raise AssertionError(f"the server did not start: {self.log.read_text()}")

    def kill(self) -> None:
        """SIGKILL: no clean-up, no flush, no rollback by the server."""
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=30)
        assert self.proc.returncode == -signal.SIGKILL

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=30)


@pytest.fixture
def server(backend: str, database_url: str | None, tmp_path: Path) -> Iterator[Server]:
    """A workspace with the project, its form and a collector; its server not started."""
    settings = Settings(workspace=tmp_path / "ws", database_url=database_url, mode="test",
                        secret_key=KEY)
    ws = Workspace(settings)
    owner = ws.create_admin("owner", "owner-password")
    owner.create_project(SPEC)
    owner.add_form(P, household_form(), "household.xlsx")
    owner.create_user(*COLLECTOR)
    owner.add_member(P, COLLECTOR[0], "collector")
    ws.close()
    srv = Server(settings, tmp_path / "server.log")
    try:
        yield srv
    finally:
        srv.stop()


def instance(i: int) -> tuple[bytes, bytes]:
    """A filled form as ODK Collect sends it, and a photo."""
    xml = (f"<?xml version='1.0'?><data id=\"household\" version=\"1\">"
           f"<respondent>Respondent {i} Ñandú</respondent><age>{20 + i % 60}</age>"
           f"<consent>yes</consent><location><ward>magadi</ward></location>"
           f"<meta><instanceID>uuid:crash-{i:05d}</instanceID></meta></data>").encode()
    return xml, random.Random(i).randbytes(20_000)


def post(client: httpx.Client, url: str, i: int) -> int:
    xml, photo = instance(i)
    r = client.post(f"{url}/openrosa/{P}/submission", auth=COLLECTOR, files=[
        ("xml_submission_file", ("submission.xml", xml, "text/xml")),
        ("photo.jpg", ("photo.jpg", photo, "image/jpeg"))])
    return r.status_code


def stream(url: str, start: int, acked: set[int], sent: set[int], stop: threading.Event
           ) -> None:
    """Send submissions one after the other until the server dies (or told to stop)."""
    i = start
    with httpx.Client(timeout=30) as client:
        while not stop.is_set():
            sent.add(i)
            try:
                status = post(client, url, i)
            except httpx.HTTPError:
                return  # the server is gone: this one may or may not have been stored
            assert status in (201, 202), status
            acked.add(i)
            i += 4


def _stored(settings: Settings) -> dict[str, tuple[dict[str, Any], dict[str, bytes]]]:
    """Each stored submission's payload and attachments, by instance id."""
    ws = Workspace(settings)
    try:
        with ws.transaction(write=False) as db:
            subs = {s.id: s for s in db.scalars(select(Submission))}
            files: dict[int, dict[str, bytes]] = {i: {} for i in subs}
            for a in db.scalars(select(Attachment)):
                assert a.submission_id in subs  # no attachment without its submission
                assert hashlib.sha256(a.data).hexdigest() == a.sha256 and len(a.data) == a.size
                files[a.submission_id][a.name] = a.data
            return {s.instance_id: (s.payload, files[s.id]) for s in subs.values()}
    finally:
        ws.close()


def _complete(iid: str, payload: dict[str, Any], files: dict[str, bytes]) -> None:
    """The submission is exactly what was sent: answers, XML and photo."""
    i = int(iid.rsplit("-", 1)[1])
    xml, photo = instance(i)
    assert files == {"xml_submission_file": xml, "photo.jpg": photo}, iid
    assert payload["respondent"] == f"Respondent {i} Ñandú"
    assert str(payload["age"]) == str(20 + i % 60)


def openrosa_killed(server: Server) -> None:
    """Four ODK Collect phones send; the server is killed; what was answered is there."""
    acked: set[int] = set()
    sent: set[int] = set()
    stop = threading.Event()
    threads = [threading.Thread(target=stream, args=(server.url, k, acked, sent, stop))
               for k in range(4)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 60
    while len(acked) < 30 and time.monotonic() < deadline:
        time.sleep(0.02)
    server.kill()  # four requests in flight
    for t in threads:
        t.join(timeout=60)
    assert len(acked) >= 30
    in_flight = sent - acked
    assert in_flight  # some requests were cut off

    server.start()
    stored = _stored(server.settings)
    ids = {f"uuid:crash-{i:05d}" for i in acked}
    assert ids <= set(stored)  # acknowledged = stored
    assert set(stored) <= {f"uuid:crash-{i:05d}" for i in sent}
    for iid, (payload, files) in stored.items():
        _complete(iid, payload, files)  # nothing half-stored, acknowledged or not
    # ODK Collect sends again what it got no answer for: each is stored once, unchanged
    with httpx.Client(timeout=30) as client:
        for i in sorted(in_flight):
            assert post(client, server.url, i) == (
                202 if f"uuid:crash-{i:05d}" in stored else 201)
    again = _stored(server.settings)
    assert set(again) == {f"uuid:crash-{i:05d}" for i in sent}
    for iid, (payload, files) in again.items():
        _complete(iid, payload, files)


def _csv(rows: int, tag: str) -> bytes:
    head = "instance_id,respondent,age,consent,location/ward,n_births\n"
    body = "".join(f"uuid:{tag}-{i},Respondent {i} {LONG_ANSWER},{20 + i % 50},yes,"
                   f"{'magadi' if i % 2 else 'ewuaso'},0\n" for i in range(rows))
    return (head + body).encode()


def _writing(server: Server, backend: str, wal_before: int) -> bool:
    """True once the import's transaction is seen writing rows."""
    if backend == "sqlite":
        wal = server.settings.workspace / "citizendata.db-wal"
        return wal.exists() and wal.stat().st_size > wal_before + 8 * 2**20
    engine = create_engine(str(server.settings.database_url).replace(
        "postgresql://", "postgresql+psycopg://"))
    try:
        with engine.connect() as c:
            return bool(c.execute(text(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND state = 'active' AND query ILIKE 'COPY submissions%'")).scalar())
    finally:
        engine.dispose()


def import_killed(server: Server, backend: str) -> None:
    """A large CSV import is killed while it writes rows: it leaves nothing."""
    ws = Workspace(server.settings)
    bearer = {"Authorization": "Bearer " + ws.login("owner", "owner-password").create_token("t")}
    ws.close()
    url = f"{server.url}/api/v1/projects/{P}/forms/{F}/import"
    small = httpx.post(url, files={"file": ("first.csv", _csv(50, "first"), "text/csv")},
                       headers=bearer, timeout=60)
    assert small.status_code == 201  # acknowledged, and stored below
    wal = server.settings.workspace / "citizendata.db-wal"
    wal_before = wal.stat().st_size if wal.exists() else 0

    answer: list[Any] = []

    def send() -> None:
        try:
            answer.append(httpx.post(url, headers=bearer, timeout=300, files={
                "file": ("big.csv", _csv(IMPORT_ROWS[backend], "big"), "text/csv")}))
        except httpx.HTTPError as exc:
            answer.append(exc)

    sender = threading.Thread(target=send)
    sender.start()
    deadline = time.monotonic() + 240
    while not _writing(server, backend, wal_before):
        assert not answer, f"the import ended before it was seen writing: {answer}"
        assert time.monotonic() < deadline
        time.sleep(0.05)
    server.kill()
    sender.join(timeout=60)
    assert answer and isinstance(answer[0], httpx.HTTPError)  # never acknowledged

    server.start()
    ws = Workspace(server.settings)
    try:
        with ws.transaction(write=False) as db:
            def count(prefix: str) -> int:
                return int(db.scalar(select(func.count()).where(
                    Submission.instance_id.like(f"{prefix}%"))) or 0)

            # the interrupted file left no row at all; the acknowledged one is whole
            assert (count("uuid:big-"), count("uuid:first-")) == (0, 50)
            assert count("uuid:crash-") > 30  # the OpenRosa submissions are untouched
            batches = list(db.scalars(select(IntakeBatch.filename)))
            assert batches == ["first.csv"]
            logged = db.scalars(select(AuditEvent.details).where(
                AuditEvent.action == "intake.batch")).all()
            assert [d["filename"] for d in logged] == ["first.csv"]
            if backend == "sqlite":
                assert db.execute(text("PRAGMA integrity_check")).scalar() == "ok"
    finally:
        ws.close()
    # the same file again, now uninterrupted, is stored whole
    again = httpx.post(url, headers=bearer, timeout=300, files={
        "file": ("big.csv", _csv(2_000, "big"), "text/csv")})
    assert again.status_code == 201 and again.json()["created"] == 2_000


def test_kill_9_mid_write_loses_nothing_answered_and_half_stores_nothing(
        server: Server, backend: str) -> None:
    server.start()
    openrosa_killed(server)
    import_killed(server, backend)
