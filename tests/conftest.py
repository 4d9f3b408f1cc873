"""Shared fixtures: a workspace on SQLite and on PostgreSQL, each test in a rolled-back transaction."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from argon2 import PasswordHasher
from fastapi.testclient import TestClient
from sqlalchemy import Engine, create_engine, text

from citizendata import auth
from citizendata.config import Settings
from citizendata.server.app import create_app
from citizendata.store.engine import make_engine
from citizendata.store.migrate import upgrade
from citizendata.workspace import Client, Workspace
from xlsform_builders import make_xlsform

if TYPE_CHECKING:
    from playwright.sync_api import Browser

PG_ADMIN_URL = os.environ.get("CITIZENDATA_TEST_POSTGRES_ADMIN_URL",
                              "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
# One database per test session, so a developer's run and a CI run on the same server
# never drop each other's database.
PG_DB = os.environ.get("CITIZENDATA_TEST_POSTGRES_DB", f"citizendata_test_{os.getpid()}")
_pg_skip_reason: list[str] = []

# Passwords are still hashed and checked with argon2id, but with the smallest work factor:
# the default (64 MiB, 3 passes, ~0.15 s a hash by design) made password hashing the largest
# single cost of the suite (test_storage: 116 hashes, 19.5 s of its 30 s). A hash records its
# own parameters, so a server process started by a test verifies these cheaply as well.
auth._hasher = PasswordHasher(time_cost=1, memory_cost=64, parallelism=1)


def _pg_url() -> str:
    return PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + PG_DB


def _stale_databases(conn: Any) -> list[str]:
    """Test databases left by sessions whose process has ended (killed runs)."""
    names = conn.execute(text("SELECT datname FROM pg_database "
                              "WHERE datname LIKE 'citizendata\\_test\\_%'")).scalars()
    stale = []
    for name in names:
        pid = name.rsplit("_", 1)[-1]
        if pid.isdigit() and int(pid) != os.getpid():
            try:
                os.kill(int(pid), 0)
            except ProcessLookupError:
                stale.append(name)
            except PermissionError:
                pass  # alive, another user's
    return stale


def _drop_postgres() -> None:
    """Drop this session's test database."""
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f'DROP DATABASE IF EXISTS "{PG_DB}" WITH (FORCE)'))
    admin.dispose()


def _prepare_postgres() -> Engine | None:
    """A migrated, empty test database on the local PostgreSQL, or None (with a reason)."""
    try:
        admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as c:
            for name in _stale_databases(c):
                c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            c.execute(text(f'DROP DATABASE IF EXISTS "{PG_DB}" WITH (FORCE)'))
            c.execute(text(f'CREATE DATABASE "{PG_DB}"'))
        admin.dispose()
    except Exception as exc:
        _pg_skip_reason.append(f"PostgreSQL not reachable at {PG_ADMIN_URL}: "
                               f"{type(exc).__name__}: {str(exc).splitlines()[0]}")
        return None
    engine = make_engine(_pg_url())
    upgrade(engine)
    return engine


@pytest.fixture(scope="session")
def engines(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Engine | None]:
    """One migrated engine per backend (None when PostgreSQL is absent)."""
    sqlite_dir = tmp_path_factory.mktemp("sqlite")
    sqlite = make_engine(f"sqlite:///{sqlite_dir / 'test.db'}")
    upgrade(sqlite)
    out: dict[str, Engine | None] = {"sqlite": sqlite, "postgresql": _prepare_postgres()}
    yield out  # type: ignore[misc]
    for e in out.values():
        if e is not None:
            e.dispose()
    if out["postgresql"] is not None:
        _drop_postgres()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def backend(request: pytest.FixtureRequest) -> str:
    """The storage backend under test."""
    return str(request.param)


@pytest.fixture
def ws(backend: str, engines: dict[str, Engine | None], tmp_path: Path) -> Iterator[Workspace]:
    """A workspace whose every change is rolled back after the test."""
    engine = engines[backend]
    if engine is None:
        pytest.skip(_pg_skip_reason[0] if _pg_skip_reason else "PostgreSQL unavailable")
    url = "sqlite:///unused" if backend == "sqlite" else _pg_url()
    settings = Settings(workspace=tmp_path / "ws", database_url=url, mode="test")
    conn = engine.connect()
    trans = conn.begin()
    try:
        yield Workspace(settings, bind=conn, migrate=False)
    finally:
        trans.rollback()
        conn.close()


SURVEY = [
    {"type": "start", "name": "start"},
    {"type": "end", "name": "end"},
    {"type": "text", "name": "respondent", "label": "Name"},
    {"type": "integer", "name": "age", "label": "Age", "constraint": ". >= 15",
     "constraint_message": "15 or older"},
    {"type": "select_one yn", "name": "consent", "label": "Consent?", "required": "yes"},
    {"type": "begin_group", "name": "location", "label": "Location"},
    {"type": "select_one ward", "name": "ward", "label": "Ward"},
    {"type": "geopoint", "name": "gps", "label": "GPS"},
    {"type": "end_group"},
    {"type": "integer", "name": "n_births", "label": "Births"},
    {"type": "begin_repeat", "name": "births", "label": "Birth", "repeat_count": "${n_births}"},
    {"type": "select_one place", "name": "place", "label": "Place"},
    {"type": "select_multiple att", "name": "attendants", "label": "Attendants"},
    {"type": "end_repeat"},
]
CHOICES = [
    {"list_name": "yn", "name": "yes", "label": "Yes"},
    {"list_name": "yn", "name": "no", "label": "No"},
    {"list_name": "ward", "name": "magadi", "label": "Magadi"},
    {"list_name": "ward", "name": "ewuaso", "label": "Ewuaso"},
    {"list_name": "place", "name": "home", "label": "Home"},
    {"list_name": "place", "name": "facility", "label": "Facility"},
    {"list_name": "att", "name": "doctor", "label": "Doctor"},
    {"list_name": "att", "name": "nurse", "label": "Nurse/midwife"},
    {"list_name": "att", "name": "tba", "label": "Traditional birth attendant"},
]


def household_form(version: str = "1", extra: list[dict[str, Any]] | None = None) -> bytes:
    """A small household form as an .xlsx (form id 'household')."""
    return make_xlsform(SURVEY + (extra or []), CHOICES,
                        {"form_id": "household", "version": version, "form_title": "Household"})


SPEC = {
    "slug": "test-project",
    "name": "Test project",
    "initiator": {"slug": "test-cso", "name": "Test CSO"},
    "partners": [{"slug": "test-nso", "name": "Test NSO", "kind": "nso", "role": "nso"}],
    "purpose": "Testing",
    "consent_basis": "verbal",
    "integration_intent": "publish_alongside",
    "engagement": {"design": {"level": 5}, "collect": {"level": 4}, "analyse": {"level": 2}},
}


@pytest.fixture
def owner(ws: Workspace) -> Client:
    """An administrator who owns 'test-project' with the household form uploaded."""
    me = ws.create_admin("owner", "owner-password")
    me.create_project(SPEC)
    me.add_form("test-project", household_form(), "household.xlsx")
    return me


def demo_copy(tmp_path_factory: pytest.TempPathFactory, n: int) -> Workspace:
    """A private copy of the Kenya demo workspace with ``n`` submissions (``build_demo``:
    validated, approved, estimated, release published), built once per test run.

    Under xdist every worker of the run sees the same parent folder, and a lock makes
    the first to ask build it while the others wait; each caller gets its own copy to
    change. (Built once rather than per module: a build costs 30-60 s.)
    """
    import fcntl
    import io
    import os

    from rich.console import Console

    from citizendata.demo import build_demo

    base = tmp_path_factory.getbasetemp()
    shared = (base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base) / f"kenya-demo-{n}"
    shared.mkdir(parents=True, exist_ok=True)
    with open(shared / "lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (shared / "built").exists():
            ws, _ = build_demo(shared / "demo", n=n, fresh=True,
                               console=Console(file=io.StringIO()))
            ws.close()
            (shared / "built").touch()
        copy = tmp_path_factory.mktemp(f"kenya-demo-{n}") / "demo"
        shutil.copytree(shared / "demo", copy)
    return Workspace.open(copy)


def file_settings(root: Path, **kw: Any) -> Settings:
    """Settings for a workspace folder under ``root`` on its own SQLite file."""
    return Settings(workspace=root / "ws", database_url=None, mode="test", **kw)


# Server tests: each module builds a `template` workspace once (password hashing is slow
# on purpose) as (folder, {user name: API token}); every test gets a fresh copy of it.
@pytest.fixture
def workspace(template: tuple[Path, dict[str, str]], tmp_path: Path) -> Iterator[Workspace]:
    """A fresh copy of the module's template workspace."""
    shutil.copytree(template[0] / "ws", tmp_path / "ws")
    copy = Workspace(file_settings(tmp_path))
    yield copy
    copy.close()


@pytest.fixture
def http(workspace: Workspace) -> Iterator[TestClient]:
    """A test client for the app serving the workspace."""
    with TestClient(create_app(workspace)) as c:
        yield c


@pytest.fixture
def tokens(template: tuple[Path, dict[str, str]]) -> dict[str, dict[str, str]]:
    """Each template user's Authorization: Bearer header."""
    return {name: {"Authorization": f"Bearer {t}"} for name, t in template[1].items()}


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Say loudly when the PostgreSQL storage tests did not run, and why."""
    if _pg_skip_reason:
        terminalreporter.write_sep("!", "PostgreSQL storage tests were SKIPPED", red=True)
        terminalreporter.write_line(_pg_skip_reason[0])
        terminalreporter.write_line("Start PostgreSQL at 127.0.0.1:5432 or set "
                                    "CITIZENDATA_TEST_POSTGRES_ADMIN_URL to run them.")


_fresh_dbs = iter(range(1, 1_000_000))


@pytest.fixture
def database_url(backend: str, engines: dict[str, Engine | None]) -> Iterator[str | None]:
    """A real, empty database that several engines or processes can share and commit to:
    None for SQLite (the workspace's own file), or a fresh PostgreSQL database, dropped
    at the end (named so that a killed run's leftovers are dropped by the next session)."""
    if backend == "sqlite":
        yield None
        return
    if engines["postgresql"] is None:
        pytest.skip(_pg_skip_reason[0] if _pg_skip_reason else "PostgreSQL unavailable")
    with fresh_postgres(f"citizendata_test_x{next(_fresh_dbs)}_{os.getpid()}") as url:
        yield url


@contextmanager
def fresh_postgres(name: str) -> Iterator[str]:
    """A new PostgreSQL database's URL, dropped at the end (skips if the server is absent).

    End ``name`` with this process's id: a killed run's leftovers are then dropped by the
    next session.
    """
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            c.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # the storage fixtures say loudly why PostgreSQL is absent
        pytest.skip(f"PostgreSQL not reachable at {PG_ADMIN_URL}: {type(exc).__name__}")
    try:
        yield PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    finally:
        with admin.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="module")
def http_template(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """Once per module: an owner's workspace with the household form, and their token."""
    root = tmp_path_factory.mktemp("http")
    ws = Workspace(Settings(workspace=root / "ws", mode="test"))
    admin = ws.create_admin("owner", "owner-password")
    admin.create_project(SPEC)
    admin.add_form(SPEC["slug"], household_form(), "household.xlsx")
    token = admin.create_token("t")
    ws.close()
    return root, {"owner": token}


@pytest.fixture
def http_server(http_template: tuple[Path, dict[str, str]], tmp_path: Path
                ) -> Iterator[tuple[Workspace, TestClient, dict[str, str]]]:
    """A fresh copy of the template workspace, its app and the owner's auth header."""
    shutil.copytree(http_template[0] / "ws", tmp_path / "ws")
    ws = Workspace(Settings(workspace=tmp_path / "ws", mode="test"))
    with TestClient(create_app(ws)) as client:
        yield ws, client, {"Authorization": f"Bearer {http_template[1]['owner']}"}
    ws.close()


BROWSER_PATH = "/usr/bin/chromium"


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Headless Debian Chromium (Playwright's own download is not used)."""
    if os.environ.get("CITIZENDATA_REQUIRE_BROWSER"):
        import playwright.sync_api as sync_api
    else:
        sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=BROWSER_PATH, args=[
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        yield b
        b.close()


# Two indicators over twelve households in two wards, with ward maps: the release and
# browser tests publish them
WARD_ESTIMATION: dict[str, Any] = {"indicators": [
    {"id": "skilled", "name": "Skilled attendance", "form": "household", "kind": "proportion",
     "numerator": "${consent} = 'yes'", "scale": 100, "unit_of_measure": "PT",
     "disaggregations": [["ward"]]},
    # few households are 40 or older: Ewuaso's cell is suppressed, Magadi's with it
    {"id": "older", "name": "Consent among the 40+", "form": "household", "kind": "proportion",
     "numerator": "${consent} = 'yes'", "denominator": "${age} >= 40", "scale": 100,
     "unit_of_measure": "PT", "disaggregations": [["ward"]]}]}


def square(code: str, name: str, x: float) -> dict[str, Any]:
    """A GeoJSON feature: a 0.1-degree square ward near Magadi, starting at longitude x."""
    ring = [[x, -1.9], [x + 0.1, -1.9], [x + 0.1, -1.8], [x, -1.8], [x, -1.9]]
    return {"type": "Feature", "properties": {"code": code, "name": name},
            "geometry": {"type": "Polygon", "coordinates": [ring]}}


WARDS = {"type": "FeatureCollection",
         "features": [square("magadi", "Magadi", 36.2), square("ewuaso", "Ewuaso", 36.3)]}
