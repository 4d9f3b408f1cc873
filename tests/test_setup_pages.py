"""The set-up pages over HTTP: creating a project, its settings, members, form uploads,
imports and reference tables — each refusal shown where it is, and each page only for
the roles it is for."""

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
from citizendata.store.models import AuditEvent
from citizendata.workspace import Workspace
from conftest import household_form
from xlsform_builders import make_xlsform

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message="Using `httpx` with", category=UserWarning)
    from fastapi.testclient import TestClient

SLUG = "nakuru-clinics"
SPEC: dict[str, Any] = {
    "slug": SLUG, "name": "Nakuru clinics",
    "initiator": {"slug": "nakuru-mothers", "name": "Nakuru Mothers' Network"},
    "engagement": {"design": {"level": 4, "evidence": "workshops"}},
}
HTML = {"Accept": "text/html"}
USERS = ("ada", "owen", "mary", "val", "colin", "nobody")
PAGES = ("/settings", "/members", "/forms/new", "/forms/household/import", "/reference")


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """ada: site administrator; owen owns the project, mary manages, val validates,
    colin collects; nobody belongs to nothing."""
    root = tmp_path_factory.mktemp("setup")
    ws = Workspace(Settings(workspace=root / "ws", database_url=None, mode="test"))
    ada = ws.create_admin("ada", "ada-password")
    for name in USERS[1:]:
        ada.create_user(name, f"{name}-password")
    ada.create_project(SPEC)
    ada.add_organisation_member("nakuru-mothers", "owen")
    for name, role in (("owen", "owner"), ("mary", "manager"), ("val", "validator"),
                       ("colin", "collector")):
        ada.add_member(SLUG, name, role)
    ada.add_form(SLUG, household_form(), "household.xlsx")
    ws.close()
    return root


@pytest.fixture
def app(template: Path, tmp_path: Path) -> Iterator[tuple[Workspace, dict[str, TestClient]]]:
    shutil.copytree(template / "ws", tmp_path / "ws")
    ws = Workspace(Settings(workspace=tmp_path / "ws", database_url=None, mode="test"))
    application = create_app(ws)
    clients: dict[str, TestClient] = {}
    with TestClient(application, follow_redirects=False, headers=HTML) as anon:
        clients[""] = anon
        yield ws, clients
        for c in clients.values():
            if c is not anon:
                c.close()
    ws.close()


def csrf_of(page: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', page)
    assert found, page[:500]
    return found.group(1)


def as_user(app: tuple[Workspace, dict[str, TestClient]], name: str) -> TestClient:
    _ws, clients = app
    if name not in clients:
        c = TestClient(clients[""].app, follow_redirects=False, headers=HTML)
        page = c.get("/login").text
        r = c.post("/login", data={"username": name, "password": f"{name}-password",
                                   "csrf": csrf_of(page), "next": "/projects"})
        assert r.status_code == 303, r.text
        clients[name] = c
    return clients[name]


def post(c: TestClient, url: str, data: dict[str, Any] | None = None,
         files: Any = None, page: str | None = None,
         headers: dict[str, str] | None = None) -> Any:
    token = csrf_of(c.get(page or url).text)
    return c.post(url, data={"csrf": token, **(data or {})}, files=files, headers=headers)


def errors_of(html: str, field: str) -> str:
    found = re.search(rf'id="err-{re.escape(field)}">(.*?)</p>', html, re.S)
    return re.sub(r"<[^>]+>", "", found.group(1)) if found else ""


# ---- access ------------------------------------------------------------------------------

@pytest.mark.parametrize(("user", "status"), [("owen", 200), ("mary", 200), ("val", 403),
                                              ("colin", 403), ("nobody", 404)])
def test_set_up_pages_are_for_owners_and_managers(app: Any, user: str, status: int) -> None:
    c = as_user(app, user)
    for page in PAGES:
        assert c.get(f"/projects/{SLUG}{page}").status_code == status, page
    nav = c.get(f"/projects/{SLUG}").text
    assert ('href="/projects/nakuru-clinics/members"' in nav) == (status == 200)


@pytest.mark.parametrize(("user", "status"), [("ada", 200), ("owen", 200), ("mary", 403),
                                              ("nobody", 403)])
def test_new_projects_by_administrators_and_organisation_members(app: Any, user: str,
                                                                 status: int) -> None:
    assert as_user(app, user).get("/projects/new").status_code == status


def test_not_logged_in_and_no_csrf(app: Any) -> None:
    assert app[1][""].get("/projects/new").status_code in (303, 401)
    c = as_user(app, "owen")
    r = c.post(f"/projects/{SLUG}/members/add", data={"username": "val", "role": "viewer"})
    assert r.status_code == 403


# ---- a new project ------------------------------------------------------------------------

def test_a_new_projects_errors_show_next_to_each_field(app: Any) -> None:
    c = as_user(app, "owen")
    r = post(c, "/projects/new", {
        "slug": "Bad Slug", "name": "Waiting times", "initiator": "nakuru-mothers",
        "partner_rows": "2", "partner-1-name": "KNBS", "partner-1-slug": "k" * 101,
        "partner-1-role": "nso", "eng-use-evidence": "reports read in the baraza"})
    assert r.status_code == 422
    html = r.text
    assert "lower-case letters" in errors_of(html, "slug")
    assert 'aria-invalid="true" aria-describedby="err-slug' in html
    assert errors_of(html, "partner-1-slug")  # at the row it was typed in
    assert errors_of(html, "eng-use-level")
    # the summary links each problem to its field; values are kept
    assert 'href="#f-slug"' in html and 'value="Waiting times"' in html
    assert "reports read in the baraza" in html and 'value="KNBS"' in html


def test_add_another_partner_keeps_what_was_typed(app: Any) -> None:
    c = as_user(app, "owen")
    r = post(c, "/projects/new", {"action": "add_partner", "slug": "x-y-z", "partner_rows": "2",
                                  "partner-0-name": "KNBS"})
    assert r.status_code == 200
    assert 'value="KNBS"' in r.text and 'name="partner-2-name"' in r.text
    assert 'name="partner-3-name"' not in r.text


def test_a_new_project_is_created_and_its_creator_owns_it(app: Any) -> None:
    c = as_user(app, "owen")
    r = post(c, "/projects/new", {
        "slug": "nakuru-water", "name": "Nakuru water points", "initiator": "nakuru-mothers",
        "purpose": "Where water points work", "consent_basis": "verbal",
        "integration_intent": "integrate", "partner_rows": "2", "partner-0-name": "KNBS",
        "partner-0-role": "nso", "eng-design-level": "5", "eng-design-evidence": "co-design",
        "eng-collect-level": "4", "protection_level": "strict"})
    assert r.status_code == 303 and r.headers["location"] == "/projects/nakuru-water"
    page = c.get("/projects/nakuru-water").text
    assert "Nakuru water points" in page and "created" in page
    spec = app[0].as_user("owen").project("nakuru-water").spec
    assert spec.partners[0].slug == "knbs" and spec.partners[0].role == "nso"
    assert spec.protection.level == "strict" and spec.engagement["design"].level == 5
    assert spec.integration_intent == "integrate"
    # the slug is taken now: said next to the slug
    r = post(c, "/projects/new", {"slug": "nakuru-water", "name": "Again",
                                  "initiator": "nakuru-mothers"})
    assert r.status_code == 409 and "already exists" in errors_of(r.text, "slug")


def test_an_initiator_one_does_not_belong_to_is_refused_at_the_field(app: Any) -> None:
    c = as_user(app, "owen")
    r = post(c, "/projects/new", {"slug": "elsewhere", "name": "Elsewhere",
                                  "initiator": "someone-else"})
    assert r.status_code == 404 and "not a member" in errors_of(r.text, "initiator")


def test_a_project_from_a_spec_file(app: Any) -> None:
    c = as_user(app, "ada")
    bad = b"slug: ok-slug\nname: X\ninitiator: {slug: a-org, name: A}\nengagement:\n  nowhere: {level: 2}\n"
    r = post(c, "/projects/new", files={"spec_file": ("spec.yaml", bad, "application/yaml")})
    assert r.status_code == 422 and "unknown value-chain stage" in r.text
    assert "engagement" in r.text
    good = bad.replace(b"nowhere", b"design")
    r = post(c, "/projects/new", files={"spec_file": ("spec.yaml", good, "application/yaml")})
    assert r.status_code == 303 and r.headers["location"] == "/projects/ok-slug"


# ---- settings -----------------------------------------------------------------------------

def test_settings_about_form_saves_through_update_project(app: Any) -> None:
    c = as_user(app, "mary")
    page = c.get(f"/projects/{SLUG}/settings").text
    assert 'value="workshops"' in page  # the stored engagement evidence
    r = post(c, f"/projects/{SLUG}/settings", {
        "name": "Nakuru clinic waits", "initiator": "nakuru-mothers", "purpose": "Shorter waits",
        "eng-design-level": "5", "eng-design-evidence": "workshops", "partner_rows": "0",
        "protection_level": "standard", "integration_intent": "stand_alone"})
    assert r.status_code == 303
    assert app[0].as_user("mary").project(SLUG).spec.purpose == "Shorter waits"
    events = app[0].run(lambda db: list(db.scalars(select(AuditEvent.action))), write=False)
    assert "project.update" in events


def test_settings_yaml_errors_have_their_path_and_line(app: Any) -> None:
    c = as_user(app, "owen")
    url = f"/projects/{SLUG}/settings"
    text = "community_representatives: [amina]\nmaps:\n  - boundaries: wards\n"
    r = post(c, url, {"section": "release", "yaml": text, "action": "save"})
    assert r.status_code == 422
    assert "release.maps.0.dimension" in r.text and "line 3" in r.text
    r = post(c, url, {"section": "release", "yaml": "maps: [\n", "action": "save"})
    assert r.status_code == 422 and "line" in r.text
    # aliases could expand a few lines into billions of values: refused, with their line
    bomb = "a: &a [x, x]\nb: &b [*a, *a]\ncommunity_representatives: *b\n"
    r = post(c, url, {"section": "release", "yaml": bomb, "action": "save"})
    assert r.status_code == 422 and "aliases" in r.text and "line 2" in r.text
    r = post(c, url, {"section": "release", "yaml": "x:" + " [" * 300 + "]" * 300,
                      "action": "save"})
    assert r.status_code == 422
    assert app[0].as_user("owen").project(SLUG).spec.release.maps == []


def test_settings_preview_shows_the_diff_then_save(app: Any) -> None:
    c = as_user(app, "owen")
    url = f"/projects/{SLUG}/settings"
    text = "community_representatives: [amina]\nlicence: CC-BY-4.0\n"
    r = post(c, url, {"section": "release", "yaml": text, "action": "preview"})
    assert r.status_code == 200
    assert 'class="d-add">+community_representatives:' in r.text
    assert app[0].as_user("owen").project(SLUG).spec.release.community_representatives == []
    r = post(c, url, {"section": "release", "yaml": text, "action": "save"})
    assert r.status_code == 303 and r.headers["location"].endswith("#section-release")
    assert app[0].as_user("owen").project(SLUG).spec.release.community_representatives == [
        "amina"]


# ---- members ------------------------------------------------------------------------------

def test_an_owner_invites_with_a_one_time_password(app: Any) -> None:
    c = as_user(app, "owen")
    url = f"/projects/{SLUG}/members"
    assert '<option value="owner"' in c.get(url).text
    r = post(c, f"{url}/invite", {"username": "vera", "role": "nso"}, page=url)
    assert r.status_code == 200 and r.headers["cache-control"] == "no-store"
    password = re.search(r'<code class="password">([^<]+)</code>', r.text).group(1)  # type: ignore[union-attr]
    assert app[0].login("vera", password).project(SLUG).role == "nso"
    # not shown again
    assert password not in c.get(url).text


def test_invitation_errors_are_shown_at_the_field(app: Any) -> None:
    c = as_user(app, "mary")
    url = f"/projects/{SLUG}/members"
    r = post(c, f"{url}/invite", {"username": "colin", "role": "viewer"}, page=url)
    assert r.status_code == 409 and "already exists" in errors_of(r.text, "invite-username")
    r = post(c, f"{url}/invite", {"username": "", "role": "viewer"}, page=url)
    assert r.status_code == 422 and errors_of(r.text, "invite-username")
    r = post(c, f"{url}/add", {"username": "ghost", "role": "viewer"}, page=url)
    assert r.status_code == 404 and "ghost" in errors_of(r.text, "add-username")


def test_a_manager_sees_only_what_they_may_do(app: Any) -> None:
    c = as_user(app, "mary")
    page = c.get(f"/projects/{SLUG}/members").text
    assert '<option value="owner"' not in page
    # owen owns the project: no role change, reset, revoke or removal for mary to offer
    assert "/members/owen/" not in page
    assert "/members/colin/reset" in page and "/members/colin/role" in page
    assert "/members/ada/reset" not in page  # a site administrator


def test_a_manager_changes_a_role_removes_resets_and_revokes(app: Any) -> None:
    ws = app[0]
    c = as_user(app, "mary")
    url = f"/projects/{SLUG}/members"
    r = post(c, f"{url}/colin/role", {"role": "validator"}, page=url)
    assert r.status_code == 303
    assert "colin is now validator" in c.get(url).text.replace("&#39;", "'")
    token = ws.as_user("colin").create_token("phone")
    r = post(c, f"{url}/colin/revoke", page=url)
    assert r.status_code == 303 and "1 API token of colin revoked" in c.get(url).text
    r = post(c, f"{url}/colin/reset", page=url)
    assert r.status_code == 200 and r.headers["cache-control"] == "no-store"
    password = re.search(r'<code class="password">([^<]+)</code>', r.text).group(1)  # type: ignore[union-attr]
    assert ws.login("colin", password).actor.username == "colin"
    r = post(c, f"{url}/colin/remove", page=url)
    assert r.status_code == 303
    assert {m.username for m in ws.as_user("mary").members(SLUG)} >= {"owen", "mary"}
    assert "colin" not in {m.username for m in ws.as_user("mary").members(SLUG)}
    del token


def test_a_refused_member_action_says_why(app: Any) -> None:
    c = as_user(app, "mary")
    url = f"/projects/{SLUG}/members"
    r = post(c, f"{url}/owen/reset", page=url)
    assert r.status_code == 303
    assert 'class="flash error"' in c.get(url).text
    r = post(c, f"{url}/owen/role", {"role": "viewer"}, page=url)
    assert r.status_code == 303
    assert "Only an owner" in c.get(url).text


# ---- forms --------------------------------------------------------------------------------

def test_a_broken_xlsform_lists_sheet_row_and_column(app: Any) -> None:
    c = as_user(app, "mary")
    url = f"/projects/{SLUG}/forms/new"
    broken = make_xlsform([{"type": "integer", "name": "a b", "label": "A"}],
                          settings={"form_id": "broken"})
    r = post(c, url, files={"xlsform": ("broken.xlsx", broken, "application/octet-stream")})
    assert r.status_code == 422
    cells = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", r.text))
    assert "sheet survey" in cells and "row 2" in cells and "column name" in cells
    r = post(c, url, data={})
    assert r.status_code == 422 and "Choose an XLSForm" in r.text


def test_a_form_upload_shows_its_version(app: Any) -> None:
    c = as_user(app, "owen")
    r = post(c, f"/projects/{SLUG}/forms/new",
             files={"xlsform": ("household.xlsx", household_form("2"), "application/octet-stream")})
    assert r.status_code == 200
    assert "Form household, version 2, is ready" in r.text


# ---- imports ------------------------------------------------------------------------------

def test_an_import_lists_every_problem_and_imports_nothing(app: Any) -> None:
    c = as_user(app, "mary")
    url = f"/projects/{SLUG}/forms/household/import"
    bad = b"instance_id,respondent,age,colour\nuuid:1,A,20,x\n,B,21,y\n"
    r = post(c, url, files={"file": ("people.csv", bad, "text/csv")})
    assert r.status_code == 422
    cells = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", r.text))
    assert "row 3 column instance_id" in cells and "column colour" in cells
    assert app[0].as_user("mary").form(SLUG, "household").submissions == 0
    good = b"instance_id,respondent,age\nuuid:1,A,20\nuuid:2,B,21\n"
    r = post(c, url, files={"file": ("people.csv", good, "text/csv")})
    assert r.status_code == 303 and r.headers["location"] == url
    assert "Imported" in c.get(url).text
    assert app[0].as_user("mary").form(SLUG, "household").submissions == 2
    uploads = list((app[0].settings.workspace / "uploads").rglob("*people.csv"))
    assert len(uploads) == 1 and uploads[0].stat().st_mode & 0o077 == 0


def test_a_long_list_of_problems_is_capped(app: Any) -> None:
    c = as_user(app, "owen")
    rows = "".join(f",{i},20\n" for i in range(260))
    r = post(c, f"/projects/{SLUG}/forms/household/import",
             files={"file": ("many.csv", f"instance_id,respondent,age\n{rows}".encode(), "text/csv")})
    assert r.status_code == 422
    assert r.text.count('<td class="where">') == 200 and "60 more problems" in r.text


def test_an_import_needs_a_table_file(app: Any) -> None:
    c = as_user(app, "owen")
    r = post(c, f"/projects/{SLUG}/forms/household/import",
             files={"file": ("photo.jpg", b"\xff\xd8", "image/jpeg")})
    assert r.status_code == 422 and "CSV, XLSX or zip" in r.text


# ---- reference tables ---------------------------------------------------------------------

def test_reference_tables_with_errors_at_their_field(app: Any) -> None:
    c = as_user(app, "owen")
    url = f"/projects/{SLUG}/reference"
    csv = b"ward,sex,count\nmagadi,f,100\nmagadi,m,90\n"
    r = post(c, url, {"name": "bad name!", "kind": "margins"},
             files={"file": ("m.csv", csv, "text/csv")})
    assert r.status_code == 422 and "not valid" in errors_of(r.text, "name")
    r = post(c, url, {"name": "wards", "kind": "boundaries"},
             files={"file": ("w.geojson", b"{\"type\": \"nothing\"}", "application/json")})
    assert r.status_code == 422 and "GeoJSON" in r.text
    r = post(c, url, {"name": "", "kind": "margins", "note": "Census 2019"},
             files={"file": ("census_margins.csv", csv, "text/csv")})
    assert r.status_code == 303
    page = c.get(url).text
    assert "census_margins" in page and "stored: 2 rows" in page
    r = post(c, url, {"kind": "margins"})
    assert r.status_code == 422 and errors_of(r.text, "file")


def test_an_import_in_another_encoding_is_stored_as_utf8(app: Any) -> None:
    c = as_user(app, "owen")
    url = f"/projects/{SLUG}/forms/household/import"
    latin = "instance_id,respondent,age\nuuid:9,Zoë,33\n".encode("cp1252")
    r = post(c, url, files={"file": ("latin.csv", latin, "text/csv")})
    assert r.status_code == 422 and "encoding" in r.text
    r = post(c, url, {"encoding": "cp1252"}, files={"file": ("latin.csv", latin, "text/csv")})
    assert r.status_code == 303
    _total, rows = app[0].as_user("owen").submissions(SLUG, "household")
    assert rows[0]["data"]["respondent"] == "Zoë"


def test_the_import_page_takes_files_as_large_as_the_api() -> None:
    from citizendata.server.middleware import limit_for

    settings = Settings(workspace=Path("unused"), mode="test")
    assert limit_for(f"/projects/{SLUG}/forms/household/import", settings) == \
        settings.max_upload_bytes
    assert limit_for(f"/projects/{SLUG}/forms/new", settings) == settings.max_request_bytes


@pytest.mark.parametrize(("language", "heading"), [("sw", "Wanachama"), ("es", "Miembros"),
                                                   ("fr", "Membres")])
def test_the_pages_speak_the_persons_language(app: Any, language: str, heading: str) -> None:
    c = as_user(app, "owen")
    lang = {"Accept-Language": language}
    for page in (*PAGES, ""):
        url = f"/projects/{SLUG}{page}" if page else "/projects/new"
        r = c.get(url, headers=lang)
        assert r.status_code == 200 and f'<html lang="{language}">' in r.text, url
    assert f"<h1>{heading}</h1>" in c.get(f"/projects/{SLUG}/members", headers=lang).text
    # a refused form in the language too
    r = post(c, "/projects/new", {"slug": "X", "name": "", "partner_rows": "1",
                                  "partner-0-name": "KNBS"}, headers=lang)
    assert r.status_code == 422 and f'<html lang="{language}">' in r.text
    assert {"sw": "Washirika", "es": "Socios", "fr": "Partenaires"}[language] in r.text
