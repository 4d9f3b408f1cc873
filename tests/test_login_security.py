"""Log-in throttle shared by every server process, and the CSRF token for cookie writes."""

from __future__ import annotations

import base64
import json
import logging
import warnings
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, text

from citizendata.config import Settings
from citizendata.errors import TooManyRequests, Unauthenticated
from citizendata.server.app import create_app
from citizendata.services import logins
from citizendata.store.models import LoginThrottle, utcnow
from citizendata.workspace import Workspace
from conftest import SPEC, household_form

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message="Using `httpx` with", category=UserWarning)
    from fastapi.testclient import TestClient

# what production sets: both processes sign cookies and key the throttle with it
KEY = "k" * 48
PASSWORDS = {"amina": "amina-password", "baraka": "baraka-password",
             "chebet": "chebet-password", "dalmas": "dalmas-password"}


def _settings(folder: Path, url: str | None, **kw: Any) -> Settings:
    return Settings(workspace=folder, database_url=url, mode="test", secret_key=KEY, **kw)


@pytest.fixture
def pair(backend: str, database_url: str | None, tmp_path: Path
         ) -> Iterator[tuple[Workspace, Workspace]]:
    """Two server processes' workspaces over one database: on SQLite the same workspace
    file (as two `citizendata serve` workers), on PostgreSQL two folders."""
    first = tmp_path / "a"
    second = first if backend == "sqlite" else tmp_path / "b"
    a = Workspace(_settings(first, database_url))
    admin = a.create_admin("amina", PASSWORDS["amina"])
    for name in ("baraka", "chebet", "dalmas"):
        admin.create_user(name, PASSWORDS[name])
    admin.create_project(SPEC)
    admin.add_form("test-project", household_form(), "household.xlsx")
    admin.add_member("test-project", "baraka", "collector")
    b = Workspace(_settings(second, database_url))
    assert a.engine is not b.engine
    yield a, b
    a.close()
    b.close()


def _login(http: TestClient, user: str, password: str) -> Any:
    return http.post("/api/v1/login", json={"username": user, "password": password})


def test_two_processes_enforce_one_limit_with_retry_after(
        pair: tuple[Workspace, Workspace]) -> None:
    a, b = pair
    with TestClient(create_app(a)) as one, TestClient(create_app(b)) as two:
        # five wrong guesses, spread over both processes
        for http in (one, two, one, two, one):
            r = _login(http, "baraka", "wrong-guess")
            assert r.status_code == 401 and r.json()["error"]["code"] == \
                "auth.invalid_credentials"
        for http in (one, two):
            # even the right password is refused for now, by either process
            r = _login(http, "baraka", PASSWORDS["baraka"])
            assert r.status_code == 429, r.text
            assert r.json()["error"]["code"] == "auth.too_many_attempts"
            wait = int(r.headers["retry-after"])
            assert 0 < wait <= 900 and r.json()["error"]["details"] == {"retry_after_s": wait}
        # another user on the same address logs in
        assert _login(two, "chebet", PASSWORDS["chebet"]).status_code == 200


def test_a_correct_password_forgets_the_failures(pair: tuple[Workspace, Workspace]) -> None:
    a, b = pair
    for ws in (a, b, a, b):
        with pytest.raises(Unauthenticated):
            ws.login("chebet", "wrong-guess")
    assert b.login("chebet", PASSWORDS["chebet"]).actor.username == "chebet"
    for ws in (a, b, a, b):
        with pytest.raises(Unauthenticated):
            ws.login("chebet", "wrong-guess")
    assert a.login("chebet", PASSWORDS["chebet"]).actor.username == "chebet"


def test_concurrent_guesses_cannot_slip_past_the_limit(
        pair: tuple[Workspace, Workspace]) -> None:
    a, b = pair

    def guess(i: int) -> str:
        try:
            (a if i % 2 else b).login("dalmas", f"wrong-{i}")
        except Unauthenticated:
            return "401"
        except TooManyRequests:
            return "429"
        return "200"

    with ThreadPoolExecutor(8) as pool:
        outcomes = list(pool.map(guess, range(16)))
    # each attempt is counted before its password is checked: exactly five get checked
    assert outcomes.count("401") == 5 and outcomes.count("429") == 11


def test_one_address_guessing_at_many_accounts_is_stopped(
        backend: str, database_url: str | None, tmp_path: Path) -> None:
    ws = Workspace(_settings(tmp_path / "a", database_url, login_max_failures_per_address=3))
    admin = ws.create_admin("amina", PASSWORDS["amina"])
    admin.create_user("baraka", PASSWORDS["baraka"])
    try:
        app = create_app(ws)
        with TestClient(app, client=("203.0.113.7", 4000)) as attacker, \
                TestClient(app, client=("198.51.100.2", 4000)) as office:
            for user in ("amina", "baraka", "nobody"):
                assert _login(attacker, user, "wrong-guess").status_code == 401
            r = _login(attacker, "someone-else", "wrong-guess")
            assert r.status_code == 429 and "your address" in r.json()["error"]["message"]
            assert int(r.headers["retry-after"]) > 0
            # the accounts themselves are not locked for people elsewhere
            assert _login(office, "baraka", PASSWORDS["baraka"]).status_code == 200
    finally:
        ws.close()


def test_the_window_ends(backend: str, database_url: str | None, tmp_path: Path) -> None:
    ws = Workspace(_settings(tmp_path / "a", database_url, login_window_s=60))
    ws.create_admin("amina", PASSWORDS["amina"])
    try:
        for _ in range(5):
            with pytest.raises(Unauthenticated):
                ws.login("amina", "wrong-guess")
        with pytest.raises(TooManyRequests) as e:
            ws.login("amina", PASSWORDS["amina"])
        assert 0 < e.value.details["retry_after_s"] <= 60
        limits = logins.limits_for(KEY.encode(), "amina", None, per_user=5, per_address=0,
                                   window_s=60)
        # a minute after the first failure the count starts again
        later = utcnow() + timedelta(seconds=61)
        ws.run(logins.begin_attempt, limits, now=later)
        with ws.transaction(write=False) as db:
            assert db.scalar(select(LoginThrottle.failures)) == 1
    finally:
        ws.close()


def test_openrosa_basic_is_throttled_too(pair: tuple[Workspace, Workspace]) -> None:
    a, b = pair

    def basic(password: str) -> dict[str, str]:
        return {"Authorization": "Basic " + base64.b64encode(
            f"baraka:{password}".encode()).decode()}

    with TestClient(create_app(a)) as one, TestClient(create_app(b)) as two:
        for http in (one, two, one, two, one):
            assert http.get("/openrosa/test-project/formList",
                            headers=basic("wrong-guess")).status_code == 401
        r = two.get("/openrosa/test-project/formList", headers=basic(PASSWORDS["baraka"]))
        assert r.status_code == 429 and int(r.headers["retry-after"]) > 0
        assert b"auth.too_many_attempts" in r.content


def test_no_name_or_address_is_stored_or_logged(
        pair: tuple[Workspace, Workspace], caplog: pytest.LogCaptureFixture) -> None:
    a, _ = pair
    with caplog.at_level(logging.DEBUG), \
            TestClient(create_app(a), client=("192.0.2.44", 5000)) as http:
        for _ in range(6):
            _login(http, "Wanjiku.Personal", "wrong-guess")
    with a.transaction(write=False) as db:
        stored = json.dumps([(r.key, r.failures) for r in db.scalars(select(LoginThrottle))])
        assert db.scalar(text("SELECT count(*) FROM login_throttle")) == 2  # user, address
    for secret in ("wanjiku", "192.0.2.44"):
        assert secret not in stored.lower()
        assert secret not in caplog.text.lower()


# -- CSRF: JSON writes carried by the session cookie ---------------------------------------

MEMBERS = "/api/v1/projects/test-project/members"


@pytest.fixture
def http(pair: tuple[Workspace, Workspace]) -> Iterator[TestClient]:
    """A client of the first process."""
    with TestClient(create_app(pair[0])) as c:
        yield c


def test_a_cookie_write_needs_the_csrf_token(http: TestClient) -> None:
    r = _login(http, "amina", PASSWORDS["amina"])
    token = r.json()["csrf_token"]
    body = {"username": "chebet", "role": "viewer"}
    for headers in ({}, {"X-CSRF-Token": "forged"}):
        refused = http.post(MEMBERS, json=body, headers=headers)
        assert refused.status_code == 403 and refused.json()["error"]["code"] == "auth.csrf"
    # a form a hostile page could post, carried by the same cookie
    posted = http.post(MEMBERS, data=body)
    assert posted.status_code == 403 and posted.json()["error"]["code"] == "auth.csrf"
    put = http.put("/api/v1/projects/test-project/reference-tables/margins",
                   content=b"ward,n\nmagadi,3\n")
    assert put.status_code == 403 and put.json()["error"]["code"] == "auth.csrf"
    members = {m["username"] for m in http.get(MEMBERS).json()["members"]}
    assert "chebet" not in members  # reads need no token; nothing was written
    ok = http.post(MEMBERS, json=body, headers={"X-CSRF-Token": token})
    assert ok.status_code == 200 and ok.json()["role"] == "viewer"


def test_the_token_of_an_html_session_is_in_me(http: TestClient) -> None:
    import re

    page = http.get("/login").text
    form_token = re.search(r'name="csrf" value="([^"]+)"', page)
    assert form_token
    r = http.post("/login", data={"username": "amina", "password": PASSWORDS["amina"],
                                  "csrf": form_token.group(1), "next": "/projects"},
                  follow_redirects=False)
    assert r.status_code == 303
    token = http.get("/api/v1/me").json()["csrf_token"]
    assert http.post("/api/v1/tokens", json={"name": "laptop"}).status_code == 403
    made = http.post("/api/v1/tokens", json={"name": "laptop"}, headers={"X-CSRF-Token": token})
    assert made.status_code == 201 and made.json()["token"].startswith("cdt_")


def test_token_and_basic_clients_need_no_csrf_token(http: TestClient,
                                                    pair: tuple[Workspace, Workspace]) -> None:
    bearer = {"Authorization": f"Bearer {pair[0].login('amina', PASSWORDS['amina']).create_token('t')}"}
    r = http.post(MEMBERS, json={"username": "chebet", "role": "viewer"}, headers=bearer)
    assert r.status_code == 200
    assert "csrf_token" not in http.get("/api/v1/me", headers=bearer).json()
    xml = (b"<data id='household' version='1'><respondent>Naserian</respondent>"
           b"<consent>yes</consent><meta><instanceID>uuid:csrf-1</instanceID></meta></data>")
    basic = {"Authorization": "Basic " + base64.b64encode(
        f"baraka:{PASSWORDS['baraka']}".encode()).decode()}
    sent = http.post("/openrosa/test-project/submission", headers=basic,
                     files={"xml_submission_file": ("submission.xml", xml, "text/xml")})
    assert sent.status_code == 201, sent.text


def test_a_throttle_row_deleted_by_a_concurrent_success_is_made_again(
        pair: tuple[Workspace, Workspace], backend: str) -> None:
    """A successful log-in deletes the user's throttle row while another attempt, already
    past its insert, waits for the row's lock: that attempt makes the row again instead of
    failing (seen as a 500 when four phones sent at once on PostgreSQL)."""
    import threading
    import time

    a, b = pair
    limits = logins.limits_for(KEY.encode(), "baraka", None, per_user=5, per_address=0,
                               window_s=60)
    key = limits[0].key
    a.run(logins.begin_attempt, limits)  # the row exists, committed
    errors: list[BaseException] = []
    if backend == "sqlite":  # one writer at a time: the interleaving cannot happen
        b.run(logins.succeeded, limits)
        b.run(logins.begin_attempt, limits)
    else:
        with a.transaction() as holder:  # a successful log-in, midway: it holds the row
            row = holder.scalar(select(LoginThrottle).where(LoginThrottle.key == key)
                                .with_for_update())
            assert row is not None

            def attempt() -> None:
                try:
                    b.run(logins.begin_attempt, limits)
                except BaseException as exc:  # reported below
                    errors.append(exc)

            waiter = threading.Thread(target=attempt)
            waiter.start()
            time.sleep(0.5)  # the attempt has inserted nothing (conflict) and waits to lock
            holder.delete(row)
        waiter.join(timeout=30)
        assert not waiter.is_alive()
    assert errors == []
    with a.transaction(write=False) as db:
        assert db.scalar(select(LoginThrottle.failures).where(LoginThrottle.key == key)) == 1
