"""Public links over HTTP: the managers' API and page, and the anonymous endpoints that
take a form's submissions from whoever holds the link (and from no one else)."""

from __future__ import annotations

import re
import shutil
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from citizendata.config import Settings
from citizendata.server.app import create_app
from citizendata.store.models import Submission
from citizendata.workspace import Workspace
from conftest import SPEC, household_form
from test_public_links import instance

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message="Using `httpx` with", category=UserWarning)
    from fastapi.testclient import TestClient

P, F = str(SPEC["slug"]), "household"
API = f"/api/v1/projects/{P}/forms/{F}/public-links"
PAGE = f"/projects/{P}/forms/{F}/links"
HTML = {"Accept": "text/html"}
USERS = {"mary": "manager", "val": "validator", "colin": "collector"}


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """owner (administrator) owns the project with the household form; mary manages, val
    validates, colin collects, nobody belongs to nothing; everyone's API token."""
    root = tmp_path_factory.mktemp("weblinks")
    ws = Workspace(Settings(workspace=root / "ws", mode="test"))
    owner = ws.create_admin("owner", "owner-password")
    owner.create_project(SPEC)
    owner.add_form(P, household_form(), "household.xlsx")
    for name in (*USERS, "nobody"):
        owner.create_user(name, f"{name}-password")
    for name, role in USERS.items():
        owner.add_member(P, name, role)
    tokens = {n: ws.login(n, f"{n}-password").create_token("t")
              for n in ("owner", *USERS, "nobody")}
    ws.close()
    return root, tokens


def _server(template: tuple[Path, dict[str, str]], tmp_path: Path, **settings: Any
            ) -> Iterator[tuple[Workspace, TestClient]]:
    shutil.copytree(template[0] / "ws", tmp_path / "ws")
    ws = Workspace(Settings(workspace=tmp_path / "ws", mode="test", **settings))
    with TestClient(create_app(ws), follow_redirects=False) as c:
        yield ws, c
    ws.close()


@pytest.fixture
def server(template: tuple[Path, dict[str, str]], tmp_path: Path
           ) -> Iterator[tuple[Workspace, TestClient]]:
    """A fresh copy of the template, served."""
    yield from _server(template, tmp_path)


def bearer(template: tuple[Path, dict[str, str]], who: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {template[1][who]}"}


def make_link(c: TestClient, template: Any, **body: Any) -> dict[str, Any]:
    r = c.post(API, json={"name": "Radio Magadi", **body}, headers=bearer(template, "owner"))
    assert r.status_code == 201, r.text
    out: dict[str, Any] = r.json()
    return out


def send(c: TestClient, token: str, xml: bytes, **kw: Any) -> Any:
    return c.post(f"/f/{token}/submission", files={"xml_submission_file": (
        "submission.xml", xml, "text/xml")}, **kw)


def test_the_api_gives_the_url_once_and_only_to_managers(server: Any, template: Any) -> None:
    _ws, c = server
    made = make_link(c, template, max_submissions=10, expires_at="2099-01-31T23:59:00Z")
    assert made["url"] == f"http://testserver/f/{made['token']}"
    assert made["state"] == "active" and made["max_submissions"] == 10
    assert made["expires_at"].startswith("2099-01-31T23:59:00")
    listed = c.get(API, headers=bearer(template, "mary")).json()["links"]
    assert [link["name"] for link in listed] == ["Radio Magadi"]
    assert made["token"] not in str(listed) and "token" not in listed[0]
    for who in ("val", "colin"):
        assert c.get(API, headers=bearer(template, who)).status_code == 403
        assert c.post(API, json={"name": "x"}, headers=bearer(template, who)).status_code == 403
        assert c.post(f"/api/v1/projects/{P}/public-links/{made['id']}/revoke",
                      headers=bearer(template, who)).status_code == 403
    assert c.get(API, headers=bearer(template, "nobody")).status_code == 404
    assert c.get(API).status_code == 401
    bad = c.post(API, json={"name": "x", "expires_at": "2099-01-31T23:59:00"},
                 headers=bearer(template, "owner"))
    assert bad.status_code == 422 and bad.json()["error"]["where"]["field"] == "expires_at"
    assert c.post(API, json={"name": "x", "max_submissions": 0},
                  headers=bearer(template, "owner")).status_code == 422
    revoked = c.post(f"/api/v1/projects/{P}/public-links/{made['id']}/revoke",
                     headers=bearer(template, "mary"))
    assert revoked.status_code == 200 and revoked.json()["state"] == "revoked"
    assert revoked.json()["revoked_by"] == "mary"


def test_anyone_with_the_link_fetches_the_form_and_submits_once(server: Any, template: Any
                                                                ) -> None:
    ws, c = server
    made = make_link(c, template)
    token = made["token"]
    form = c.get(f"/f/{token}/form.xml")
    assert form.status_code == 200 and form.headers["x-form-version"] == "1"
    assert form.headers["content-type"].startswith("application/xml")
    assert 'id="household"' in form.text
    r = send(c, token, instance("uuid:w1"))
    assert r.status_code == 201 and r.json() == {"status": "created", "instance_id": "uuid:w1"}
    again = send(c, token, instance("uuid:w1"))
    assert again.status_code == 202 and again.json()["status"] == "duplicate"
    with ws.transaction(write=False) as db:
        (sub,) = db.scalars(select(Submission))
    assert sub.channel == "weblink" and sub.source_meta == {"public_link": made["id"]}
    assert c.get(API, headers=bearer(template, "owner")).json()["links"][0]["submissions"] == 1
    conflict = send(c, token, instance("uuid:w1", respondent="Other"))
    assert conflict.status_code == 409
    assert conflict.json()["error"]["code"] == "conflict.submission"
    assert send(c, token, instance("uuid:o", form="other")).json()["error"]["code"] in (
        "weblink.wrong_form")


def test_without_a_valid_token_nothing_is_served_or_stored(server: Any, template: Any) -> None:
    ws, c = server
    made = make_link(c, template)
    for token in ("x", "A" * 43, made["token"][:-1] + ("A" if made["token"][-1] != "A" else "B")):
        for r in (c.get(f"/f/{token}/form.xml"), c.get(f"/f/{token}/attachments/a.csv"),
                  send(c, token, instance("uuid:z"))):
            assert r.status_code == 404, r.text
            assert r.json()["error"]["code"] == "weblink.unknown"
    assert c.get("/f/").status_code == 404
    # the link opens only its own form's files, not the project's other routes
    assert c.get(f"/f/{made['token']}/../../api/v1/projects").status_code in (401, 404)
    not_multipart = c.post(f"/f/{made['token']}/submission", content=b"<data/>",
                           headers={"Content-Type": "text/xml"})
    assert not_multipart.status_code == 415
    with ws.transaction(write=False) as db:
        assert db.scalars(select(Submission)).all() == []


def test_revoked_full_and_expired_links_are_refused(server: Any, template: Any) -> None:
    ws, c = server
    capped = make_link(c, template, name="One", max_submissions=1)
    assert send(c, capped["token"], instance("uuid:f1")).status_code == 201
    full = send(c, capped["token"], instance("uuid:f2"))
    assert full.status_code == 409 and full.json()["error"]["code"] == "weblink.full"
    assert send(c, capped["token"], instance("uuid:f1")).status_code == 202
    c.post(f"/api/v1/projects/{P}/public-links/{capped['id']}/revoke",
           headers=bearer(template, "owner"))
    for r in (c.get(f"/f/{capped['token']}/form.xml"), send(c, capped["token"],
                                                            instance("uuid:f3"))):
        assert r.status_code == 410 and r.json()["error"]["code"] == "weblink.revoked"
        assert r.json()["error"]["title"] == "This public link was switched off"
    # in Swahili for a browser in Swahili, as every error
    sw = c.get(f"/f/{capped['token']}/form.xml", headers={"Accept-Language": "sw"})
    assert sw.json()["error"]["language"] == "sw"
    # an expiry that has passed (set in the database: the API refuses past dates)
    soon = make_link(c, template, name="Soon")
    from datetime import UTC, datetime, timedelta

    from citizendata.store.models import PublicLink

    with ws.transaction() as db:
        link = db.get(PublicLink, soon["id"])
        assert link is not None
        link.expires_at = datetime.now(UTC) - timedelta(minutes=1)
    gone = send(c, soon["token"], instance("uuid:x1"))
    assert gone.status_code == 410 and gone.json()["error"]["code"] == "weblink.expired"


def test_too_many_submissions_from_one_address_is_429_with_retry_after(
        template: Any, tmp_path: Path) -> None:
    for _ws, c in _server(template, tmp_path, weblink_rate_per_minute=3):
        token = make_link(c, template)["token"]
        codes = [send(c, token, instance(f"uuid:r{i}")).status_code for i in range(4)]
        assert codes == [201, 201, 201, 429]
        r = send(c, token, instance("uuid:r9"))
        assert r.status_code == 429 and r.json()["error"]["code"] == "weblink.rate_limited"
        assert 1 <= int(r.headers["retry-after"]) <= 60
        # the managers' API is not limited by it
        assert c.get(API, headers=bearer(template, "owner")).status_code == 200


def test_anonymous_submission_needs_no_cookie_and_ignores_one(server: Any, template: Any
                                                              ) -> None:
    """A logged-in member's browser posting to a public link is still anonymous: the
    session is neither needed (no CSRF token) nor used (no submitter)."""
    ws, c = server
    token = make_link(c, template)["token"]
    browser = TestClient(c.app, follow_redirects=False)
    assert browser.post("/api/v1/login", json={"username": "colin",
                                               "password": "colin-password"}).status_code == 200
    assert send(browser, token, instance("uuid:b1")).status_code == 201
    with ws.transaction(write=False) as db:
        sub = db.scalar(select(Submission))
    assert sub is not None and sub.submitter_id is None


# -- the managers' page -------------------------------------------------------------------------

def csrf_of(page: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', page)
    assert found, page[:500]
    return found.group(1)


def logged_in(c: TestClient, name: str) -> TestClient:
    b = TestClient(c.app, follow_redirects=False, headers=HTML)
    r = b.post("/login", data={"username": name, "password": f"{name}-password",
                               "csrf": csrf_of(b.get("/login").text), "next": "/projects"})
    assert r.status_code == 303, r.text
    return b


@pytest.mark.parametrize(("user", "status"), [("owner", 200), ("mary", 200), ("val", 403),
                                              ("colin", 403), ("nobody", 404)])
def test_the_page_is_for_owners_and_managers(server: Any, user: str, status: int) -> None:
    _ws, c = server
    b = logged_in(c, user)
    assert b.get(PAGE).status_code == status
    # the project page leads there, for those it is for
    assert (f'href="{PAGE}"' in b.get(f"/projects/{P}").text) == (status == 200)


def test_the_page_makes_a_link_shows_it_once_and_switches_it_off(server: Any) -> None:
    ws, c = server
    b = logged_in(c, "mary")
    page = b.get(PAGE)
    assert page.status_code == 200 and "no public link yet" in page.text
    made = b.post(PAGE, data={"csrf": csrf_of(page.text), "name": "Chief's baraza",
                              "expires_at": "2099-03-31", "max_submissions": "200"})
    assert made.status_code == 200 and made.headers["cache-control"] == "no-store"
    url = re.search(r'id="new-link-url"[^>]*value="([^"]+)"', made.text)
    assert url and url.group(1).startswith("http://testserver/f/")
    token = url.group(1).rsplit("/", 1)[1]
    assert "<svg" in made.text and "Chief&#39;s baraza" in made.text
    assert c.get(f"/f/{token}/form.xml").status_code == 200
    listed = ws.as_user("owner").public_links(P, F)[0]
    assert listed.max_submissions == 200 and listed.expires_at is not None
    assert listed.expires_at.isoformat().startswith("2099-04-01T00:00")
    # shown once: the page never shows it again
    assert token not in b.get(PAGE).text
    # refused input is shown at its field
    bad = b.post(PAGE, data={"csrf": csrf_of(page.text), "name": "x",
                             "max_submissions": "lots"})
    assert bad.status_code == 422 and 'id="err-max_submissions"' in bad.text
    assert b.post(PAGE, data={"name": "no csrf"}).status_code == 403
    off = b.post(f"{PAGE}/{listed.id}/revoke", data={"csrf": csrf_of(page.text)})
    assert off.status_code == 303 and off.headers["location"] == PAGE
    assert "revoked" in b.get(PAGE).text
    assert c.get(f"/f/{token}/form.xml").status_code == 410


def test_the_fill_page_of_a_link(server: Any, template: Any) -> None:
    pytest.importorskip("citizendata.server.webform_page")
    _ws, c = server
    made = make_link(c, template)
    page = c.get(f"/f/{made['token']}", headers=HTML)
    assert page.status_code == 200, page.text
    assert f"/f/{made['token']}/submission" in page.text
    c.post(f"/api/v1/projects/{P}/public-links/{made['id']}/revoke",
           headers=bearer(template, "owner"))
    gone = c.get(f"/f/{made['token']}", headers=HTML)
    assert gone.status_code == 410 and "switched off" in gone.text
    assert c.get("/f/" + "A" * 43, headers=HTML).status_code == 404
