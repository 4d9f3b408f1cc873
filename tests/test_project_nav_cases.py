"""The project menu links the cases pages only for a project with cases and a role that
may open them (routers/cases_pages.py: the list needs submission.view, the linkage
summary submission.review or data.export), in the page's language."""

from __future__ import annotations

import re
import warnings
from pathlib import Path
from typing import Any

import pytest

from citizendata.scenarios import colombia_press_freedom as co
from citizendata.workspace import Workspace
from conftest import SPEC, file_settings

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message="Using `httpx` with", category=UserWarning)
    from fastapi.testclient import TestClient

from citizendata.server.app import create_app

SLUG = co.PROJECT["slug"]
PLAIN = SPEC["slug"]
PASSWORD = "nav-password-2026"
ROLES = {"owner": "owner", "val": "validator", "ana": "analyst", "vie": "viewer",
         "col": "collector"}
# user -> (Cases link, Linkage link), as the pages themselves let them in
SEES = {"owner": (True, True), "val": (True, True), "ana": (True, True),
        "vie": (False, False), "col": (False, False)}


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Any:
    root: Path = tmp_path_factory.mktemp("nav")
    ws = Workspace(file_settings(root))
    owner = ws.create_admin("owner", PASSWORD)
    owner.create_project(co.spec_dict())
    owner.add_form(SLUG, co.FORM_PATH)
    owner.create_project(SPEC)
    for user, role in ROLES.items():
        if user != "owner":
            owner.create_user(user, PASSWORD)
            owner.add_member(SLUG, user, role)
    ws.close()
    return create_app(settings=file_settings(root))


def login(app: Any, user: str, language: str = "en") -> TestClient:
    c = TestClient(app, headers={"Accept-Language": language})
    token = re.search(r'name="csrf" value="([^"]+)"', c.get("/login").text)
    assert token is not None
    r = c.post("/login", data={"username": user, "password": PASSWORD, "csrf": token.group(1)},
               follow_redirects=False)
    assert r.status_code == 303, r.text
    return c


def _nav(html: str) -> str:
    nav = re.search(r'<nav class="project-nav".*?</nav>', html, re.S)
    assert nav is not None
    return nav.group(0)


@pytest.mark.parametrize("user", list(ROLES))
def test_the_menu_links_the_cases_pages_only_for_roles_that_open_them(app: Any,
                                                                       user: str) -> None:
    cases, linkage = SEES[user]
    with login(app, user) as c:
        nav = _nav(c.get(f"/projects/{SLUG}").text)
        assert (f'href="/projects/{SLUG}/cases">Cases<' in nav) is cases, nav
        assert (f'href="/projects/{SLUG}/linkage">Linkage<' in nav) is linkage, nav
        # what the menu offers opens; what it hides is refused
        assert c.get(f"/projects/{SLUG}/cases").status_code == (200 if cases else 403)


def test_a_project_without_cases_has_no_cases_links(app: Any) -> None:
    with login(app, "owner") as c:
        nav = _nav(c.get(f"/projects/{PLAIN}").text)
    assert "/cases" not in nav and "/linkage" not in nav
    assert f'href="/projects/{PLAIN}/estimates"' in nav


@pytest.mark.parametrize(("language", "words"), [
    ("es", ("Casos", "Vinculación")), ("fr", ("Cas", "Appariement")),
    ("sw", ("Kesi", "Uunganishaji"))])
def test_the_links_are_translated(app: Any, language: str, words: tuple[str, str]) -> None:
    with login(app, "val", language) as c:
        # the menu on a page of the cases router too (it passes the project object)
        for url in (f"/projects/{SLUG}", f"/projects/{SLUG}/cases"):
            nav = _nav(c.get(url).text)
            assert f'/cases">{words[0]}<' in nav and f'/linkage">{words[1]}<' in nav, nav
