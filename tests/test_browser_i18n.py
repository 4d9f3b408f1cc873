"""Languages in Chromium: a Swahili phone user switches to French, and French follows them.

Juma's phone asks for Swahili (Accept-Language), so the log-in and projects pages are in
Swahili; he picks Français in the language switch with the keyboard; the choice is saved
for him, so after logging out, on a browser with no cookie left, he gets French again.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from browser_kit import CHROMIUM_MARKS, DESKTOP, PHONE, check_page, fenced_page, login, serve
from citizendata.workspace import Workspace
from conftest import file_settings

if TYPE_CHECKING:
    from playwright.sync_api import Browser

pytestmark = CHROMIUM_MARKS


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Workspace]]:
    """Amina owns a water project; Juma collects for it."""
    ws = Workspace(file_settings(Path(tmp_path_factory.mktemp("i18n"))))
    admin = ws.create_admin("amina", "amina-password")
    admin.create_project({"slug": "maji", "name": "Maji safi Kisumu",
                          "initiator": {"slug": "wanawake", "name": "Wanawake wa Maji"},
                          "engagement": {"design": {"level": 4}, "collect": {"level": 5}}})
    admin.create_user("juma", "juma-password")
    admin.add_member("maji", "juma", "collector")
    with serve(ws) as url:
        yield url, ws
    ws.close()


def test_a_swahili_phone_user_switches_to_french_and_keeps_it(
        browser: Browser, served: tuple[str, Workspace]) -> None:
    base, ws = served
    with fenced_page(browser, language="sw", **PHONE) as (page, traffic):
        page.goto(f"{base}/login")
        assert page.locator("html").get_attribute("lang") == "sw"
        assert page.locator("h1").inner_text() == "Ingia"
        assert page.get_by_label("Jina la mtumiaji").is_visible()
        check_page(page, phone=True, shot="i18n-login-sw")

        login(page, base, "juma", "juma-password")
        assert page.locator("h1").inner_text() == "Miradi yako"
        card = page.locator(".card").first
        assert "mkusanyaji" in card.inner_text()  # his role, in Swahili
        assert "Inafikia kiwango cha data ya wananchi" in card.inner_text()
        switch = page.get_by_role("navigation", name="Lugha")
        assert switch.locator("[aria-current]").inner_text() == "Kiswahili"
        assert switch.get_by_role("link").all_inner_texts() == ["English", "Español",
                                                                "Français"]
        check_page(page, phone=True, shot="i18n-projects-sw")

        # by keyboard: Tab to the switch's "Français" and press Enter
        page.get_by_role("link", name="Français").focus()
        page.keyboard.press("Enter")
        page.wait_for_url("**/projects?lang=fr")
        assert page.locator("html").get_attribute("lang") == "fr"
        assert page.locator("h1").inner_text() == "Vos projets"
        assert "enquêteur" in page.locator(".card").first.inner_text()
        check_page(page, phone=True, shot="i18n-projects-fr")
        assert ws.as_user("juma").language() == "fr"  # saved for him

        # an error page: the title in French, the precise detail as recorded
        page.goto(f"{base}/projects/mto")
        assert page.locator("h1").inner_text() == "Ce projet n’existe pas"
        assert "mto" in page.locator(".error p[lang=en]").inner_text()
        check_page(page, phone=True, shot="i18n-error-fr")

        page.goto(f"{base}/projects")
        page.get_by_role("button", name="Se déconnecter (juma)").click()
        page.wait_for_url("**/login")
        # no cookie left (another phone, or cleared): the browser would choose Swahili…
        page.context.clear_cookies()
        page.goto(f"{base}/login")
        assert page.locator("h1").inner_text() == "Ingia"
        # …but once Juma is logged in, his saved French wins
        login(page, base, "juma", "juma-password")
        assert page.locator("html").get_attribute("lang") == "fr"
        assert page.locator("h1").inner_text() == "Vos projets"
        check_page(page, phone=True)
        traffic.assert_local()


def test_an_english_desktop_user_sees_english(browser: Browser,
                                              served: tuple[str, Workspace]) -> None:
    base, _ws = served
    with fenced_page(browser, language="en-GB", **DESKTOP) as (page, traffic):
        login(page, base, "amina", "amina-password")
        assert page.locator("html").get_attribute("lang") == "en"
        assert page.locator("h1").inner_text() == "Your projects"
        assert "owner" in page.locator(".card").first.inner_text()
        check_page(page, shot="i18n-projects-en")
        traffic.assert_local()
