"""The releases pages: the members' page with its forms, and the public release pages."""

from __future__ import annotations

import json
import re
import shutil
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from citizendata.projects.spec import ProjectSpec
from citizendata.server.app import create_app
from citizendata.workspace import Workspace
from conftest import SPEC, file_settings, household_form

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message="Using `httpx` with", category=UserWarning)
    from fastapi.testclient import TestClient

HTML = {"Accept": "text/html,application/xhtml+xml"}
SLUG = "test-project"
PAGE = f"/projects/{SLUG}/releases"
PUBLIC = f"/public/releases/{SLUG}/1"
ESTIMATION: dict[str, Any] = {"indicators": [
    {"id": "skilled", "name": "Skilled attendance", "form": "household", "kind": "proportion",
     "numerator": "${consent} = 'yes'", "scale": 100, "unit_of_measure": "PT",
     "disaggregations": [["ward"]]}]}
# distinctive names, so the public pages can be searched for them
PASSWORDS = {"wanjiru": "wanjiru-password", "naserian": "naserian-password-1",
             "kipchoge": "kipchoge-password-1"}


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Once per module: owner 'wanjiru', representative 'naserian' (a viewer), outsider
    'kipchoge', and twelve approved respondents; no release yet."""
    root = tmp_path_factory.mktemp("template")
    ws = Workspace(file_settings(root))
    owner = ws.create_admin("wanjiru", PASSWORDS["wanjiru"])
    owner.create_project(SPEC)
    owner.add_form(SLUG, household_form(), "household.xlsx")
    owner.update_project(ProjectSpec.model_validate(
        {**SPEC, "estimation": ESTIMATION,
         "release": {"community_representatives": ["naserian"]},
         "protection": {"tables": {"threshold": 3}}}))
    owner.create_user("naserian", PASSWORDS["naserian"])
    owner.add_member(SLUG, "naserian", "viewer")
    owner.create_user("kipchoge", PASSWORDS["kipchoge"])
    subs = [{"meta": {"instanceID": f"uuid:r{i}"}, "consent": "yes" if i % 3 else "no",
             "age": 30, "location": {"ward": "magadi" if i < 6 else "ewuaso"}, "n_births": 0}
            for i in range(12)]
    owner.submit(SLUG, "household", json.dumps(subs).encode())
    owner.decide(SLUG, "household", [s["meta"]["instanceID"] for s in subs], "approved")
    ws.close()
    return root


@pytest.fixture
def ws(template: Path, tmp_path: Path) -> Iterator[Workspace]:
    """A fresh copy of the template workspace."""
    shutil.copytree(template / "ws", tmp_path / "ws")
    workspace = Workspace(file_settings(tmp_path))
    yield workspace
    workspace.close()


@pytest.fixture
def http(ws: Workspace) -> Iterator[TestClient]:
    """A browser-like client (follows no redirects)."""
    with TestClient(create_app(ws), follow_redirects=False, headers=HTML) as c:
        yield c


def csrf_of(page: str) -> str:
    """The CSRF token hidden in a page's form."""
    found = re.search(r'name="csrf" value="([^"]+)"', page)
    assert found, page
    return found.group(1)


def log_in(http: TestClient, username: str) -> str:
    """Log in through the login form; the session's CSRF token."""
    http.cookies.clear()
    token = csrf_of(http.get("/login").text)
    r = http.post("/login", data={"username": username, "password": PASSWORDS[username],
                                  "csrf": token, "next": PAGE})
    assert r.status_code == 303, r.text
    return csrf_of(http.get("/projects").text)


def build(http: TestClient) -> None:
    """The owner builds the next release through the page."""
    r = http.post(PAGE, data={"csrf": log_in(http, "wanjiru")})
    assert r.status_code == 303 and r.headers["location"].startswith(PAGE)


def test_the_members_page_lists_the_release_and_the_missing_signoff(
        http: TestClient, ws: Workspace) -> None:
    csrf = log_in(http, "wanjiru")
    assert "No release has been built yet" in http.get(PAGE).text
    assert f'href="{PAGE}"' in http.get(f"/projects/{SLUG}").text
    r = http.post(PAGE, data={"csrf": csrf})
    # the build goes through the jobs seam, which says what it did on the list page
    assert r.status_code == 303 and r.headers["location"] == PAGE
    page = http.get(PAGE)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    text = page.text
    assert "Version 1" in text and "awaiting sign-off" in text and "Release v1 built" in text
    assert "naserian" in text and "not yet signed" in text
    # the pending report is linked on the release's members-only page, never publicly
    assert f'href="{PAGE}/1"' in text
    one = http.get(f"{PAGE}/1").text
    assert f'href="{PAGE}/1/report.html"' in one and f"{PUBLIC}/report.html" not in one
    assert str(ws.settings.workspace.resolve()) not in text
    assert "<script" not in text and "https://" not in text


def test_the_representative_approves_through_the_page(http: TestClient, ws: Workspace) -> None:
    build(http)
    csrf = log_in(http, "naserian")
    r = http.post(f"{PAGE}/1/sign", data={"csrf": csrf, "decision": "approve",
                                         "note": "read out at the assembly"})
    assert r.status_code == 303 and r.headers["location"] == f"{PAGE}/1"
    [signoff] = ws.as_user("wanjiru").releases(SLUG)[0]["signoffs"]
    assert (signoff["by"], signoff["capacity"], signoff["decision"], signoff["note"]) == (
        "naserian", "community", "approve", "read out at the assembly")
    text = http.get(PAGE).text
    assert "approved" in text and "read out at the assembly" in text
    assert "not yet signed" not in text


def test_refusals_come_back_as_readable_pages(http: TestClient, ws: Workspace) -> None:
    build(http)
    csrf = log_in(http, "wanjiru")
    early = http.post(f"{PAGE}/1/publish", data={"csrf": csrf})
    assert early.status_code == 409 and early.headers["content-type"].startswith("text/html")
    assert "release.signoff_missing" in early.text
    assert "lacks the approval of community representative" in early.text
    assert "Traceback" not in early.text
    # the owner is no signatory: the library says so
    signed = http.post(f"{PAGE}/1/sign", data={"csrf": csrf, "decision": "approve"})
    assert signed.status_code == 403 and "release.not_signatory" in signed.text
    assert ws.as_user("wanjiru").releases(SLUG)[0]["status"] == "awaiting_signoff"


def test_after_approval_publication_and_the_public_page(http: TestClient,
                                                         ws: Workspace) -> None:
    build(http)
    assert http.get(PUBLIC).status_code == 404  # not yet published
    ws.as_user("naserian").sign_release(SLUG, 1, "approve", "agreed by the elders")
    csrf = log_in(http, "wanjiru")
    r = http.post(f"{PAGE}/1/publish", data={"csrf": csrf})
    assert r.status_code == 303 and r.headers["location"] == f"{PAGE}/1"
    members = http.get(f"{PAGE}/1").text
    assert "published" in members and f'href="{PUBLIC}"' in members

    http.cookies.clear()  # the public pages need no login
    listing = http.get("/public/releases")
    assert listing.status_code == 200 and f'href="{PUBLIC}"' in listing.text
    assert f'href="{PUBLIC}/report.html"' in listing.text
    page = http.get(PUBLIC)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    text = page.text
    manifest = http.get(f"{PUBLIC}/manifest.json").json()
    for name, entry in manifest["files"].items():
        assert f'href="{PUBLIC}/{name}"' in text and entry["sha256"] in text
    assert "Test project" in text and "2026" in text and "CC-BY-4.0" in text
    assert "Skilled attendance" in text and "66.7 per cent" in text  # 8 of 12 consented
    assert "Approved by 1 community representative (" in text  # capacity and date, no name
    for private in ("wanjiru", "naserian", "kipchoge", "agreed by the elders"):
        assert private not in text and private not in listing.text
    assert "<script" not in text and "https://" not in text
    # the file route under the page's path still serves the files
    assert http.get(f"{PUBLIC}/report.html").status_code == 200
    assert http.get(f"{PUBLIC}/skilled/estimates.csv").status_code == 200


def test_unknown_and_unpublished_releases_are_404_withdrawn_ones_a_notice(
        http: TestClient, ws: Workspace) -> None:
    build(http)
    for path in (PUBLIC, f"/public/releases/{SLUG}/2", "/public/releases/no-such-project/1"):
        r = http.get(path)
        assert r.status_code == 404 and "release.not_found" in r.text, path
    # a version that is no number is a bad request, as on every route
    for path in (f"/public/releases/{SLUG}/one", f"/public/releases/{SLUG}/2147483648"):
        r = http.get(path)
        assert r.status_code == 422 and "input.invalid" in r.text, path
    ws.as_user("naserian").sign_release(SLUG, 1)
    ws.as_user("wanjiru").publish_release(SLUG, 1)
    assert http.get(PUBLIC).status_code == 200
    csrf = log_in(http, "wanjiru")
    # a reason is required
    blank = http.post(f"{PAGE}/1/withdraw", data={"csrf": csrf, "reason": "  "})
    assert blank.status_code == 422 and http.get(PUBLIC).status_code == 200
    r = http.post(f"{PAGE}/1/withdraw", data={"csrf": csrf, "reason": "a ward was mislabelled"})
    assert r.status_code == 303
    assert ws.as_user("wanjiru").releases(SLUG)[0]["status"] == "withdrawn"
    assert "withdrawn" in http.get(PAGE).text
    gone = http.get(PUBLIC)
    assert gone.status_code == 410 and "a ward was mislabelled" in gone.text
    assert http.get(f"{PUBLIC}/report.html").status_code == 410
    assert http.get(f"{PUBLIC}/skilled/estimates.csv").status_code == 404
    assert f'href="{PUBLIC}"' not in http.get("/public/releases").text


def test_non_members_get_404_and_anonymous_visitors_the_login(http: TestClient,
                                                              ws: Workspace) -> None:
    build(http)
    http.cookies.clear()
    r = http.get(PAGE)
    assert r.status_code == 303 and r.headers["location"].startswith("/login")
    csrf = log_in(http, "kipchoge")
    assert http.get(PAGE).status_code == 404
    assert http.post(PAGE, data={"csrf": csrf}).status_code == 404
    assert http.post(f"{PAGE}/1/sign", data={"csrf": csrf, "decision": "approve"}
                     ).status_code == 404
    assert http.post(f"{PAGE}/1/publish", data={"csrf": csrf}).status_code == 404
    assert len(ws.as_user("wanjiru").releases(SLUG)) == 1


def test_a_post_without_the_csrf_token_is_refused(http: TestClient, ws: Workspace) -> None:
    build(http)
    ws.as_user("naserian").sign_release(SLUG, 1)
    log_in(http, "wanjiru")
    for path, data in ((PAGE, {}), (f"{PAGE}/1/publish", {"csrf": "forged"}),
                       (f"{PAGE}/1/withdraw", {"reason": "no token"})):
        r = http.post(path, data=data)
        assert r.status_code == 403 and "auth.csrf" in r.text, path
    log_in(http, "naserian")
    r = http.post(f"{PAGE}/1/sign", data={"decision": "reject"})
    assert r.status_code == 403 and "auth.csrf" in r.text
    [release] = ws.as_user("wanjiru").releases(SLUG)
    assert release["status"] == "awaiting_signoff" and len(release["signoffs"]) == 1


def test_the_nso_row_appears_when_its_signoff_is_required(http: TestClient,
                                                          ws: Workspace) -> None:
    owner = ws.as_user("wanjiru")
    owner.update_project(ProjectSpec.model_validate(
        {**SPEC, "estimation": ESTIMATION, "protection": {"tables": {"threshold": 3}},
         "release": {"community_representatives": ["naserian"], "nso_signoff": True}}))
    owner.add_member(SLUG, "kipchoge", "nso")
    build(http)
    page = http.get(PAGE).text
    assert "the NSO" in page and page.count("not yet signed") == 2
    ws.as_user("kipchoge").sign_release(SLUG, 1, "approve", "checked against the census")
    ws.as_user("naserian").sign_release(SLUG, 1)
    page = http.get(PAGE).text
    assert "not yet signed" not in page and "(kipchoge)" in page
    csrf = csrf_of(page)
    assert http.post(f"{PAGE}/1/publish", data={"csrf": csrf}).status_code == 303
    public = http.get(PUBLIC).text
    assert "kipchoge" not in public and "census" not in public
