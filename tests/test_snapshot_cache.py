"""The workspace's snapshots: reused while the content is the same, built once under
concurrency (threads and processes), never seen half-written, left-overs of killed
builds cleaned, and never built (or logged) for a request that is refused anyway."""

from __future__ import annotations

import gc
import json
import multiprocessing
import os
import signal
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from citizendata.config import Settings
from citizendata.errors import BadInput, Forbidden, NotFound
from citizendata.forms.schema import Choice, Field, FormSchema
from citizendata.projects.spec import ProjectSpec
from citizendata.snapshot import build_snapshot, open_snapshot, synthetic_batches
from citizendata.snapshot.cache import BUILD_PREFIX
from citizendata.workspace import Client, Workspace
from conftest import SPEC, file_settings, household_form

SLUG, FORM = "test-project", "household"
ESTIMATION: dict[str, Any] = {
    "indicators": [{"id": "skilled", "form": "household", "unit": "births",
                    "kind": "proportion", "disaggregations": [["ward"]],
                    "numerator": "selected(${attendants}, 'doctor') or "
                                 "selected(${attendants}, 'nurse')"}],
}


def woman(i: int, ward: str = "magadi", attendants: str = "doctor") -> dict[str, Any]:
    """One consenting woman with one birth, as a JSON client sends her."""
    return {"meta": {"instanceID": f"uuid:w{i}"}, "consent": "yes", "age": 30,
            "respondent": f"Woman {i}", "location": {"ward": ward}, "n_births": 1,
            "births": [{"place": "facility", "attendants": attendants}]}


def snapshot_events(me: Client) -> list[dict[str, Any]]:
    """The snapshot.create entries of the project's audit log, oldest first."""
    return [e for e in reversed(me.audit_log(SLUG)) if e["action"] == "snapshot.create"]


def listing(folder: Path) -> dict[str, float]:
    """Every file under a folder with its modification time (empty if there is none)."""
    if not folder.exists():
        return {}
    return {str(p.relative_to(folder)): p.stat().st_mtime for p in sorted(folder.rglob("*"))}


def key_folders(folder: Path) -> list[str]:
    """The finished snapshots in a variant folder."""
    return sorted(p.name for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))


# -- reuse, keyed by content (both backends) ------------------------------------------------

def test_a_snapshot_is_reused_until_what_it_would_hold_changes(ws: Workspace,
                                                               owner: Client) -> None:
    owner.submit(SLUG, FORM, [woman(1), woman(2, "ewuaso")])
    first = owner.open_snapshot(SLUG, FORM)
    again = owner.open_snapshot(SLUG, FORM)
    assert again.info.path == first.info.path
    assert len(snapshot_events(owner)) == 1  # the second call built and logged nothing

    paths = [first.info.path]
    changes = [
        lambda: owner.decide(SLUG, FORM, "uuid:w1", "approved"),
        lambda: owner.edit(SLUG, FORM, "uuid:w2", {"age": 31}, "typo in the age"),
        lambda: owner.withdraw_consent(SLUG, FORM, "uuid:w1", scopes=["analysis"]),
        lambda: owner.submit(SLUG, FORM, [woman(3)]),
    ]
    for change in changes:
        change()
        snap = owner.open_snapshot(SLUG, FORM)
        assert snap.info.path not in paths
        paths.append(snap.info.path)
    seen = snap.to_pandas()
    assert sorted(seen["_instance_id"]) == ["uuid:w2", "uuid:w3"]  # w1 withdrew
    assert seen.set_index("_instance_id").loc["uuid:w2", "age"] == 31
    assert len(snapshot_events(owner)) == 1 + len(changes)

    # with personal fields: a folder of its own, never mistaken for the plain one
    personal = owner.open_snapshot(SLUG, FORM, include_personal=True)
    assert personal.info.path.parent.name == "personal" and snap.info.path.parent.name == "plain"
    assert "respondent" in personal.to_pandas() and "respondent" not in seen
    # refresh=False opens the one made last without looking at the data
    assert owner.open_snapshot(SLUG, FORM, refresh=False).info.path == snap.info.path


def test_an_open_snapshot_outlives_a_newer_one_and_is_removed_after(ws: Workspace,
                                                                   owner: Client) -> None:
    owner.submit(SLUG, FORM, [woman(1), woman(2)])
    old = owner.open_snapshot(SLUG, FORM)
    table = old.table()  # an analyst's Ibis table, still to be computed
    owner.submit(SLUG, FORM, [woman(3)])
    new = owner.open_snapshot(SLUG, FORM)
    folder = new.info.path.parent
    assert key_folders(folder) == sorted([old.info.path.name, new.info.path.name])
    assert table.count().execute() == 2  # the older files are still there to read
    del old, table, new
    gc.collect()
    owner.submit(SLUG, FORM, [woman(4)])
    latest = owner.open_snapshot(SLUG, FORM)
    # nobody holds the older ones any more: the next build removed them
    assert key_folders(folder) == [latest.info.path.name]
    assert latest.table().count().execute() == 4


def test_erasure_removes_every_snapshot_of_the_form(ws: Workspace, owner: Client) -> None:
    owner.submit(SLUG, FORM, [woman(1), woman(2)])
    owner.open_snapshot(SLUG, FORM)
    owner.snapshot(SLUG, FORM, include_personal=True)
    owner.withdraw_consent(SLUG, FORM, "uuid:w1", erase=True)
    for personal in (False, True):
        folder = ws.snapshot_dir(SLUG, FORM, personal=personal)
        assert [p.name for p in folder.iterdir()] == [".lock"]


def test_a_consistent_read_sees_one_state_throughout(backend: str, engines: dict[str, Any],
                                                     tmp_path: Path) -> None:
    """A snapshot's key and its rows are read in one such transaction: were a write to
    land between them, the folder's name would not match what it holds."""
    engine = engines[backend]
    if engine is None:
        pytest.skip("PostgreSQL unavailable")
    url = engine.url.render_as_string(hide_password=False)
    ws = Workspace(Settings(workspace=tmp_path / "ws", database_url=url, mode="test"),
                   migrate=False)
    table = f"probe_{os.getpid()}"
    try:
        with ws.transaction() as db:
            db.execute(text(f"CREATE TABLE {table} (n INTEGER)"))
            db.execute(text(f"INSERT INTO {table} VALUES (1)"))
        with ws.transaction(write=False, consistent=True) as db:
            before = db.scalar(text(f"SELECT COUNT(*) FROM {table}"))
            with ws.transaction() as other:  # another request commits meanwhile
                other.execute(text(f"INSERT INTO {table} VALUES (2)"))
            after = db.scalar(text(f"SELECT COUNT(*) FROM {table}"))
        assert before == after == 1
        with ws.transaction(write=False) as db:
            assert db.scalar(text(f"SELECT COUNT(*) FROM {table}")) == 2
    finally:
        with ws.transaction() as db:
            db.execute(text(f"DROP TABLE IF EXISTS {table}"))
        ws.close()


# -- refused requests build nothing and log nothing (both backends) -------------------------

@pytest.fixture
def project(ws: Workspace, owner: Client) -> Client:
    """The household project with a skilled-attendance indicator, an analyst and a collector."""
    owner.update_project(ProjectSpec.model_validate({**SPEC, "estimation": ESTIMATION}))
    for name, role in (("ana", "analyst"), ("col", "collector")):
        owner.create_user(name, f"{name}-password-long")
        owner.add_member(SLUG, name, role)
    owner.submit(SLUG, FORM, [woman(i, ("magadi", "ewuaso")[i % 2]) for i in range(8)])
    owner.decide(SLUG, FORM, [f"uuid:w{i}" for i in range(8)], "approved")
    return owner


REFUSED: list[tuple[str, str, dict[str, Any], type[Exception], str]] = [
    ("ana", "nope", {}, NotFound, "indicator.unknown"),
    ("col", "skilled", {}, Forbidden, "auth.forbidden"),
    ("ana", "skilled", {"protect": False}, Forbidden, "auth.forbidden"),
    ("ana", "skilled", {"variance": "jackknife"}, BadInput, "input.invalid"),
    ("ana", "skilled", {"variance": "bootstrap", "replicates": 1}, BadInput, "input.invalid"),
    ("ana", "skilled", {"purpose": "marketing"}, BadInput, "consent.invalid_scope"),
    ("ana", "skilled", {"disaggregations": [["ward", "shoe_size"]]}, BadInput,
     "indicator.unknown_dimension"),
]


def test_a_refused_estimate_builds_no_snapshot_and_logs_nothing(ws: Workspace,
                                                               project: Client) -> None:
    folder = ws.snapshot_dir(SLUG, FORM)

    def refuse_all() -> None:
        for who, indicator, options, error, code in REFUSED:
            with pytest.raises(error) as e:
                ws.as_user(who).estimate(SLUG, indicator, **options)
            assert e.value.code == code, (who, indicator, options)  # type: ignore[attr-defined]

    log = project.audit_log(SLUG)
    refuse_all()
    assert not folder.exists() and project.audit_log(SLUG) == log
    # the same requests once a snapshot exists and the data have moved on since, so
    # that any snapshot opened for them would be a new one
    ws.as_user("ana").estimate(SLUG, "skilled", store=False)
    project.submit(SLUG, FORM, [woman(20)])
    log, files = project.audit_log(SLUG), listing(folder)
    assert files and any(e["action"] == "snapshot.create" for e in log)
    refuse_all()
    assert listing(folder) == files and project.audit_log(SLUG) == log


# -- threads and processes on one workspace folder ----------------------------------------

@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """A workspace folder (SQLite) with the household form and 40 submissions."""
    root = tmp_path_factory.mktemp("cache")
    ws = Workspace(file_settings(root))
    owner = ws.create_admin("owner", "owner-password")
    owner.create_project(SPEC)
    owner.add_form(SLUG, household_form(), "household.xlsx")
    owner.submit(SLUG, FORM, [woman(i) for i in range(40)])
    ws.close()
    return root, {}


def _export_in_process(folder: str, barrier: Any, pause: float, out: Any) -> None:
    """In a process of its own: wait for the others, then export the form's snapshot
    (``pause`` seconds per batch read, so that builds surely overlap)."""
    ws = Workspace(Settings(workspace=Path(folder), database_url=None, mode="test"))
    me = ws.as_user("owner")
    barrier.wait()
    info = me.snapshot(SLUG, FORM, progress=lambda _n: time.sleep(pause))
    out.put((str(info.path), {k: t.sha256 for k, t in info.tables.items()}))
    ws.close()


def test_two_processes_asking_at_once_build_one_snapshot(workspace: Workspace) -> None:
    ctx = multiprocessing.get_context("spawn")
    barrier, out = ctx.Barrier(2), ctx.Queue()
    folder = str(workspace.settings.workspace)
    procs = [ctx.Process(target=_export_in_process, args=(folder, barrier, 1.0, out))
             for _ in range(2)]
    for p in procs:
        p.start()
    results = [out.get(timeout=300) for _ in procs]
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    assert results[0] == results[1]  # the same folder, the same files
    events = snapshot_events(workspace.as_user("owner"))
    assert sorted(e["details"]["built"] for e in events) == [False, True]
    variant = Path(results[0][0]).parent
    assert key_folders(variant) == [Path(results[0][0]).name]
    assert not [p for p in variant.iterdir() if p.name.startswith(BUILD_PREFIX)]
    snap = open_snapshot(Path(results[0][0]), verify=True)
    assert snap.table().count().execute() == 40


def test_threads_asking_at_once_share_one_build(workspace: Workspace) -> None:
    me = workspace.as_user("owner")
    start = threading.Barrier(6)
    paths: list[Path] = []
    failures: list[BaseException] = []

    def ask() -> None:
        start.wait()
        try:
            paths.append(me.open_snapshot(SLUG, FORM).info.path)
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=ask) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not failures and len(set(paths)) == 1 and len(paths) == 6
    assert [e["details"]["built"] for e in snapshot_events(me)] == [True]


def test_a_killed_build_is_cleaned_up_and_gives_up_its_turn(workspace: Workspace) -> None:
    ctx = multiprocessing.get_context("spawn")
    barrier, out = ctx.Barrier(1), ctx.Queue()
    folder = workspace.snapshot_dir(SLUG, FORM)
    # this build reads its first batch, then stalls: killed mid-way, holding the turn
    proc = ctx.Process(target=_export_in_process,
                       args=(str(workspace.settings.workspace), barrier, 3600.0, out))
    proc.start()
    deadline = time.monotonic() + 120
    while not (folder.exists() and any(p.name.startswith(BUILD_PREFIX)
                                       for p in folder.iterdir())):
        assert time.monotonic() < deadline and proc.is_alive(), "the build never started"
        time.sleep(0.05)
    assert proc.pid is not None
    os.kill(proc.pid, signal.SIGKILL)
    proc.join(30)
    left = [p.name for p in folder.iterdir() if p.name.startswith(BUILD_PREFIX)]
    assert left and f"{BUILD_PREFIX}{proc.pid}-" in left[0]  # what the dead process left

    snap = workspace.as_user("owner").open_snapshot(SLUG, FORM)  # does not wait forever
    assert snap.table().count().execute() == 40
    assert not [p for p in folder.iterdir() if p.name.startswith(BUILD_PREFIX)]
    assert key_folders(folder) == [snap.info.path.name]


def test_builds_into_one_folder_from_threads_never_collide(tmp_path: Path) -> None:
    """An explicit export folder may be asked for twice at once: unique temporary files."""
    schema = FormSchema("hh", "1", "Household", "hh", (
        Field("ward", "ward", "select_one", choices=(Choice("w1", "W1"), Choice("w2", "W2"))),
        Field("age", "age", "integer")))
    out = tmp_path / "export"
    failures: list[BaseException] = []

    def build() -> None:
        try:
            build_snapshot(synthetic_batches(3000, schema, seed=1, batch_size=500), schema, out)
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=build) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not failures
    snap = open_snapshot(out, verify=True)
    assert snap.table().count().execute() == 3000
    assert not [p.name for p in out.iterdir() if ".part-" in p.name]
    assert json.loads((out / "snapshot.json").read_text())["form_id"] == "hh"
