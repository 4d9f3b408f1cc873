"""The HTML pages: login with CSRF, projects, a project, a form's submissions, error pages."""

from __future__ import annotations

import re
import shutil
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from citizendata.config import Settings
from citizendata.server.app import create_app
from citizendata.workspace import Workspace
from xlsform_builders import make_xlsform

with warnings.catch_warnings():
    # starlette 1.x prefers httpx2 for its test client; httpx is what the project installs
    warnings.filterwarnings("ignore", message="Using `httpx` with", category=UserWarning)
    from fastapi.testclient import TestClient

SPEC: dict[str, Any] = {
    "slug": "nakuru-clinics",
    "name": "Nakuru clinic waiting times",
    "initiator": {"slug": "nakuru-mothers", "name": "Nakuru Mothers' Network"},
    "partners": [{"slug": "knbs", "name": "KNBS", "kind": "nso", "role": "nso"}],
    "purpose": "Measure waiting times <in clinics>",
    "engagement": {"design": {"level": 4, "evidence": "co-design workshops"},
                   "collect": {"level": 5}, "analyse": {"level": 2}},
}
FORM = make_xlsform(
    [{"type": "text", "name": "mother", "label": "Mother's name", "personal": "yes"},
     {"type": "integer", "name": "wait_minutes", "label": "Minutes waited"}],
    settings={"form_id": "clinic_visit", "version": "1", "form_title": "Clinic visit"},
)
HTML = {"Accept": "text/html,application/xhtml+xml"}


def _settings(root: Path) -> Settings:
    return Settings(workspace=root / "ws", database_url=None, mode="test")


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Once per module: 'njeri' owns the project with three visits; 'otieno' collects."""
    root = tmp_path_factory.mktemp("template")
    ws = Workspace(_settings(root))
    admin = ws.create_admin("njeri", "njeri-password")
    admin.create_project(SPEC)
    admin.add_form("nakuru-clinics", FORM, "visit.xlsx")
    admin.create_user("otieno", "otieno-password")
    admin.add_member("nakuru-clinics", "otieno", "collector")
    admin.submit("nakuru-clinics", "clinic_visit", [
        {"meta": {"instanceID": f"uuid:v{i}"}, "mother": "Wairimu", "wait_minutes": 30 + i}
        for i in range(3)])
    ws.close()
    return root


@pytest.fixture
def http(template: Path, tmp_path: Path) -> Iterator[TestClient]:
    """A browser-like client (follows no redirects) on a fresh copy of the template."""
    shutil.copytree(template / "ws", tmp_path / "ws")
    ws = Workspace(_settings(tmp_path))
    with TestClient(create_app(ws), follow_redirects=False, headers=HTML) as c:
        yield c
    ws.close()


def csrf_of(page: str) -> str:
    """The CSRF token hidden in a page's form."""
    found = re.search(r'name="csrf" value="([^"]+)"', page)
    assert found, page
    return found.group(1)


def log_in(http: TestClient, username: str, next_url: str = "/projects") -> Any:
    """Fill in and send the login form."""
    token = csrf_of(http.get("/login").text)
    return http.post("/login", data={"username": username, "password": f"{username}-password",
                                     "csrf": token, "next": next_url})


def test_anonymous_visitors_are_sent_to_login(http: TestClient) -> None:
    # the landing page is public (published releases); private pages ask for a login
    home = http.get("/")
    assert home.status_code == 200 and 'href="/login"' in home.text
    r = http.get("/projects/nakuru-clinics")
    assert r.status_code == 303 and r.headers["location"] == "/login?next=/projects/nakuru-clinics"


def test_login_flow_then_projects_page(http: TestClient) -> None:
    page = http.get("/login")
    assert page.status_code == 200 and '<form method="post" action="/login"' in page.text
    r = log_in(http, "njeri", "/projects/nakuru-clinics")
    assert r.status_code == 303 and r.headers["location"] == "/projects/nakuru-clinics"
    assert 'href="/projects"' in http.get("/").text  # the landing page links to them
    projects = http.get("/projects")
    assert "Nakuru clinic waiting times" in projects.text and "owner" in projects.text
    assert "Meets the citizen-data threshold" in projects.text
    http.get("/logout")
    assert http.get("/projects").status_code == 303


def test_login_refuses_a_missing_csrf_token_and_a_wrong_password(http: TestClient) -> None:
    http.get("/login")
    forged = http.post("/login", data={"username": "njeri", "password": "njeri-password"})
    assert forged.status_code == 403 and "auth.csrf" in forged.text
    token = csrf_of(http.get("/login").text)
    wrong = http.post("/login", data={"username": "njeri", "password": "guess-guess",
                                      "csrf": token})
    assert wrong.status_code == 401 and "Wrong user name or password" in wrong.text
    assert http.get("/projects").status_code == 303


def test_login_never_redirects_off_site(http: TestClient) -> None:
    assert log_in(http, "njeri", "//evil.example/x").headers["location"] == "/projects"


def test_project_page_shows_engagement_forms_and_collect_url(http: TestClient) -> None:
    log_in(http, "njeri")
    page = http.get("/projects/nakuru-clinics").text
    assert "Nakuru Mothers&#39; Network" in page
    assert "Measure waiting times &lt;in clinics&gt;" in page  # escaped, never raw HTML
    assert re.search(r"<th scope=\"row\">design</th><td><span class=\"level l4\">4</span> shared",
                     page)
    assert "co-design workshops" in page
    assert re.search(r'forms/clinic_visit">Clinic visit</a>.*?<td class="num">3</td>', page,
                     re.S)
    assert "http://testserver/openrosa/nakuru-clinics" in page


def test_form_page_lists_submissions_newest_first(http: TestClient) -> None:
    log_in(http, "njeri")
    page = http.get("/projects/nakuru-clinics/forms/clinic_visit").text
    assert page.index("uuid:v2") < page.index("uuid:v1") < page.index("uuid:v0")
    assert "<th>wait_minutes</th>" in page and "<td>32</td>" in page
    assert "Wairimu" in page


def test_collector_gets_an_error_page_not_the_data(http: TestClient) -> None:
    log_in(http, "otieno")
    r = http.get("/projects/nakuru-clinics/forms/clinic_visit")
    assert r.status_code == 403 and r.headers["content-type"].startswith("text/html")
    assert "auth.forbidden" in r.text and "Wairimu" not in r.text
    missing = http.get("/projects/no-such-project")
    assert missing.status_code == 404 and "not_found.project" in missing.text


def test_unknown_page_is_an_html_404_with_the_code(http: TestClient) -> None:
    r = http.get("/nowhere")
    assert r.status_code == 404 and "not_found.route" in r.text
    assert r.headers["content-security-policy"].startswith("default-src 'self'")


def test_stylesheet_is_served_locally(http: TestClient) -> None:
    css = http.get("/static/site.css")
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
    page = http.get("/login").text
    assert 'href="/static/site.css"' in page and "<script" not in page
