"""Chromium journey: the community representative on a phone in Swahili reads the pending
release (a figure, the suppression summary in words, the report) and signs with a note; the
owner publishes on a desktop in English; the public, with no login, finds the landing page,
the release, an indicator and the report (styled by its own <style>, no CSP violation, fits
375 px); a withdrawn release shows its notice."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

from browser_kit import CHROMIUM_MARKS, DESKTOP, PHONE, check_page, fenced_page, login, serve
from citizendata.workspace import Workspace
from test_signoff import PASSWORDS, pending_workspace

if TYPE_CHECKING:
    from playwright.sync_api import Browser, ConsoleMessage, Page

pytestmark = CHROMIUM_MARKS
SLUG = "test-project"
PAGE = f"/projects/{SLUG}/releases/1"
PUBLIC = f"/public/releases/{SLUG}/1"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Workspace, str]]:
    """A release awaiting sign-off whose report is written in Swahili, served over HTTP."""
    ws = pending_workspace(tmp_path_factory.mktemp("signoff-browser"), language="sw")
    with serve(ws) as url:
        yield ws, url
    ws.close()


def watch_console(page: Page) -> list[str]:
    """Every console message of the page (a CSP violation is reported there)."""
    seen: list[str] = []

    def keep(message: ConsoleMessage) -> None:
        seen.append(f"{message.type}: {message.text}")

    page.on("console", keep)
    return seen


def check_report(page: Page, console: list[str]) -> None:
    """The report is styled by its own <style> (no CSP refusal) and fits a phone."""
    page.wait_for_load_state("load")
    assert page.locator("html").get_attribute("lang") == "sw"
    assert "Takwimu kuu" in page.locator("#headlines-h").inner_text()
    # the report's CSS applies: its banner colour and system font, not the browser default
    banner = page.locator(".banner").evaluate("e => getComputedStyle(e).color")
    assert banner == "rgb(11, 102, 35)", banner
    font = page.locator("body").evaluate("e => getComputedStyle(e).fontFamily")
    assert "system-ui" in font, font
    assert page.locator("th").first.evaluate("e => getComputedStyle(e).whiteSpace") == "nowrap"
    refused = [m for m in console if "Content Security Policy" in m or "Refused" in m]
    assert refused == [], refused
    charts = page.locator("svg.chart")
    assert charts.count() >= 4
    for i in range(charts.count()):
        box = charts.nth(i).bounding_box()
        assert box is not None and box["width"] > 0 and box["x"] + box["width"] <= 376


def test_sign_what_you_see_publish_and_read_in_public(browser: Browser,
                                                      served: tuple[Workspace, str]) -> None:
    ws, base = served
    # the community representative, on a phone in Swahili
    with fenced_page(browser, language="sw", **PHONE) as (page, traffic):
        login(page, base, "rep", PASSWORDS["rep"])
        page.goto(f"{base}/projects/{SLUG}/releases")
        check_page(page, phone=True)
        page.get_by_role("link", name="Soma toleo 1 kisha utie sahihi").click()
        page.wait_for_load_state("load")
        assert page.url == base + PAGE
        assert page.locator("h1").inner_text().startswith("Toleo namba 1")
        indicator = page.locator("section.indicator", has_text="Skilled attendance")
        assert "58.3" in indicator.locator(".figure").inner_text()
        assert "asilimia" in indicator.locator(".figure").inner_text()
        older = page.locator("section.indicator", has_text="Consent among the 40+")
        summary = older.locator(".suppression").inner_text()
        assert "Visanduku 2 kati ya 3 vimefichwa." in summary
        assert "chini ya wahojiwa 3 katika kisanduku" in summary
        assert older.locator("svg.chart").count() == 2  # the chart and the ward map
        check_page(page, phone=True, shot="signoff-release-sw")
        # the whole report, before publication, on the members' URL
        console = watch_console(page)
        page.get_by_role("link", name="Soma ripoti nzima").click()
        assert page.url == f"{base}{PAGE}/report.html"
        check_report(page, console)
        check_page(page, phone=True, shot="signoff-report-sw")
        page.go_back()
        page.get_by_label("Maelezo (si lazima)").fill("Tulisoma takwimu kwenye baraza.")
        page.get_by_role("button", name="Idhinisha").click()
        page.wait_for_load_state("load")
        assert "Umeidhinisha toleo v1." in page.locator(".flash").inner_text()
        assert "Tulisoma takwimu kwenye baraza." in page.locator("table").first.inner_text()
        check_page(page, phone=True, shot="signoff-signed-sw")
        traffic.assert_local()

    # the owner publishes, on a desktop in English
    with fenced_page(browser, language="en", **DESKTOP) as (page, traffic):
        login(page, base, "owner", PASSWORDS["owner"])
        page.goto(f"{base}/projects/{SLUG}/releases")
        assert page.get_by_role("button", name="Build a release").count() == 1
        check_page(page, shot="signoff-releases-en")
        page.get_by_role("link", name="Open version 1").click()
        page.wait_for_load_state("load")
        assert page.url == base + PAGE
        assert page.get_by_role("button", name="Approve").count() == 0  # owners do not sign
        check_page(page, shot="signoff-owner-en")
        page.get_by_role("button", name="Publish version 1").click()
        page.wait_for_load_state("load")
        assert "Release v1 is published." in page.locator(".flash").inner_text()
        check_page(page)
        traffic.assert_local()

    # the public, no login, on a phone in Swahili
    with fenced_page(browser, language="sw", **PHONE) as (page, traffic):
        page.goto(base + "/")
        assert "/login" not in page.url
        assert page.locator("h3.initiative").inner_text() == "Test project"
        check_page(page, phone=True, shot="signoff-public-home-sw")
        page.get_by_role("link", name="Toleo v1", exact=True).click()
        page.wait_for_load_state("load")
        assert page.url == base + PUBLIC
        assert "58.3 asilimia" in page.locator("table").first.inner_text()
        check_page(page, phone=True, shot="signoff-public-release-sw")
        page.get_by_role("link", name="Consent among the 40+").click()
        page.wait_for_load_state("load")
        assert page.url == f"{base}{PUBLIC}/indicators/older"
        assert "Visanduku 2 kati ya 3 vimefichwa." in page.locator(".suppression").inner_text()
        assert page.locator("svg.chart path.area").count() == 2
        check_page(page, phone=True, shot="signoff-public-indicator-sw")
        console = watch_console(page)
        page.goto(f"{base}{PUBLIC}/report.html")
        check_report(page, console)
        check_page(page, phone=True, shot="signoff-public-report-sw")
        traffic.assert_local()

    # withdrawn: the public sees when and why, not a 404
    ws.as_user("owner").withdraw_release(SLUG, 1, "Kata moja iliandikwa vibaya.")
    with fenced_page(browser, language="sw", **PHONE) as (page, traffic):
        response = page.goto(base + PUBLIC)
        assert response is not None and response.status == 410
        notice = page.locator(".notice").inner_text()
        assert "Toleo hili limeondolewa" in notice and "Kata moja iliandikwa vibaya." in notice
        check_page(page, phone=True, shot="signoff-withdrawn-sw")
        traffic.assert_local()
