"""Public links in Chromium: a manager on a phone in Swahili makes a link for a form (its
address and QR code shown once) and switches it off; the page passes axe-core and fits a
375 px screen. Anyone with the link then gets the form's files and nobody else does."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

from browser_kit import CHROMIUM_MARKS, DESKTOP, PHONE, check_page, fenced_page, login, serve
from citizendata.workspace import Workspace
from conftest import SPEC, file_settings, household_form

if TYPE_CHECKING:
    from playwright.sync_api import Browser

pytestmark = CHROMIUM_MARKS

P, F = str(SPEC["slug"]), "household"
PAGE = f"/projects/{P}/forms/{F}/links"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Workspace]]:
    """mary manages the project with the household form."""
    root = tmp_path_factory.mktemp("weblinks-browser")
    ws = Workspace(file_settings(root))
    owner = ws.create_admin("owner", "owner-password")
    owner.create_project(SPEC)
    owner.add_form(P, household_form(), "household.xlsx")
    owner.create_user("mary", "mary-password")
    owner.add_member(P, "mary", "manager")
    with serve(ws) as url:
        yield url, ws
    ws.close()


def test_a_manager_makes_a_link_on_a_phone_in_swahili(browser: Browser,
                                                       site: tuple[str, Workspace]) -> None:
    url, ws = site
    with fenced_page(browser, language="sw", **PHONE) as (page, traffic):
        login(page, url, "mary", "mary-password")
        page.goto(f"{url}/projects/{P}")
        page.locator(f"a[href='{PAGE}']").click()
        page.wait_for_load_state("load")
        assert page.locator("h1").inner_text().startswith("Viungo vya umma")
        check_page(page, phone=True)
        page.locator("#f-name").fill("Redio Magadi")
        page.locator("#f-max_submissions").fill("300")
        page.locator("#new form [type=submit]").click()
        page.wait_for_load_state("load")
        address = page.locator("#new-link-url").input_value()
        assert address.startswith(f"{url}/f/")
        assert page.locator("#secret svg").count() == 1
        check_page(page, phone=True, shot="weblinks-new-link")
        traffic.assert_local()
    token = address.rsplit("/", 1)[1]
    # the address opens the form's files to anyone, with no log-in
    with fenced_page(browser, **DESKTOP) as (anon, _traffic):
        answer = anon.request.get(f"{url}/f/{token}/form.xml")
        assert answer.status == 200 and 'id="household"' in answer.text()
    # switched off: the address answers 410 and the list says so
    with fenced_page(browser, language="sw", **PHONE) as (page, _traffic):
        login(page, url, "mary", "mary-password")
        page.goto(f"{url}{PAGE}")
        page.locator("td.actions button").first.click()
        page.wait_for_load_state("load")
        assert "kimezimwa" in page.locator("table.links").inner_text()
        check_page(page, phone=True)
        assert page.request.get(f"{url}/f/{token}/form.xml").status == 410
    assert ws.as_user("mary").public_links(P, F)[0].state() == "revoked"
