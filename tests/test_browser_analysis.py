"""The analyst's, the NSO officer's and the collector's journeys in Chromium.

An analyst (desktop, English; phone, Swahili) opens the estimates, sees a figure with its
confidence interval and a suppressed cell in words, and downloads the CSV; an NSO officer
records a fitness decision with reasons and sees it; a collector's project page shows
their forms and the ODK Collect set-up first. Every page passes axe, fits a phone, and
breaks no rule of the server's Content-Security-Policy (the charts and the quality
section render without inline styles).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

import analysis_workspace as aw
from browser_kit import CHROMIUM_MARKS, DESKTOP, PHONE, check_page, fenced_page, login, serve

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

pytestmark = CHROMIUM_MARKS
BASE = f"/projects/{aw.SLUG}"


@pytest.fixture(scope="module")
def base_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The analysis workspace (one kept run per indicator), served over HTTP."""
    ws = aw.build(Path(tmp_path_factory.mktemp("analysis-browser")))
    with serve(ws) as url:
        yield url
    ws.close()


def csp_errors(page: Page) -> list[str]:
    """Console errors of the page's Content-Security-Policy, collected from now on."""
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text)
            if m.type == "error" and "Content Security Policy" in m.text else None)
    return errors


WORDS = {
    "en": {"estimates": "Estimates", "suppressed": "suppressed: fewer than 5 respondents",
           "secondary": "suppressed to protect another cell", "ci": "37.3 to 72.4",
           "download": "Download this table", "forms": "Your forms",
           "collect": "Collect with ODK Collect", "about": "About the project"},
    "sw": {"estimates": "Makadirio", "suppressed": "imefichwa: wahojiwa wachache kuliko 5",
           "secondary": "imefichwa ili kulinda kisanduku kingine", "ci": "37.3 hadi 72.4",
           "download": "Pakua jedwali hili", "forms": "Fomu zako",
           "collect": "Kusanya kwa ODK Collect", "about": "Kuhusu mradi"},
}


@pytest.mark.parametrize(("device", "language"), [(DESKTOP, "en"), (PHONE, "sw")])
def test_an_analyst_reads_the_estimates_and_downloads_them(
        browser: Browser, base_url: str, device: dict, language: str,
        tmp_path: Path) -> None:
    words, phone = WORDS[language], device is PHONE
    with fenced_page(browser, language=language, accept_downloads=True, **device) as (
            page, traffic):
        blocked = csp_errors(page)
        login(page, base_url, "wanjiku", aw.PASSWORD.format("wanjiku"))
        page.goto(f"{base_url}{BASE}/estimates")
        assert page.locator("h1").inner_text() == words["estimates"]
        assert "55.6" in page.locator("table.estimates-list").inner_text()
        check_page(page, phone=phone, shot=f"analysis-estimates-{language}")

        page.locator("table.estimates-list a", has_text="Water points working").click()
        page.wait_for_load_state("load")
        headline = page.locator("section.headline").inner_text()
        assert "55.6" in headline and words["ci"] in headline
        table = page.locator("table.estimates").inner_text()
        assert words["suppressed"] in table and words["secondary"] in table
        assert "33.3" in table
        # the report's interval chart and map, drawn under style-src 'self'
        chart = page.locator("svg#est-c0")
        assert chart.is_visible() and chart.bounding_box()["height"] > 50  # type: ignore[index]
        assert page.locator("svg#est-map0 path.area").count() == 3
        check_page(page, phone=phone, shot=f"analysis-estimate-{language}")

        with page.expect_download() as got:
            page.locator("p.downloads a", has_text="CSV").click()
        saved = tmp_path / "table.csv"
        got.value.save_as(saved)
        lines = saved.read_text(encoding="utf-8").splitlines()
        assert lines[0].startswith("indicator,") and "conf_status" in lines[0]
        kware = next(line for line in lines if ",kware," in line)
        assert kware.endswith(",C,threshold") and ",,,,,," in kware  # no figure at all
        assert blocked == []
        traffic.assert_local()


REASON = ("The county's ethics board approved the survey; publish it beside the county "
          "figures.")


def test_an_nso_officer_records_the_fitness_decision_with_reasons(
        browser: Browser, base_url: str) -> None:
    with fenced_page(browser, language="en", **DESKTOP) as (page, traffic):
        blocked = csp_errors(page)
        login(page, base_url, "njeri", aw.PASSWORD.format("njeri"))
        page.goto(f"{base_url}{BASE}/quality")
        assert page.locator("section.quality h3", has_text="Quality scorecard").is_visible()
        check_page(page, shot="analysis-quality-en")
        page.locator("#decision-publish_alongside").check()
        page.locator("#reason").fill(REASON)
        page.locator("form.decide [type=submit]").click()
        page.wait_for_load_state("load")
        assert page.locator("p.flash.ok").inner_text() == "The fitness decision is recorded."
        decision = page.locator("p.decision").inner_text()
        assert "Publish alongside official statistics (recommendation overridden)" in decision
        assert REASON in page.locator("section[aria-labelledby=decision-h]").inner_text()
        check_page(page, shot="analysis-decision-en")
        assert blocked == []
        traffic.assert_local()


def test_the_decision_reads_in_swahili_on_a_phone(browser: Browser, base_url: str) -> None:
    """After the NSO's decision (the test above): the officer's phone, in Swahili."""
    with fenced_page(browser, language="sw", **PHONE) as (page, traffic):
        blocked = csp_errors(page)
        login(page, base_url, "njeri", aw.PASSWORD.format("njeri"))
        page.goto(f"{base_url}{BASE}/quality")
        assert page.locator("h1").inner_text() == "Ubora"
        assert page.locator("section.quality h3", has_text="Kadi ya alama za ubora").is_visible()
        decision = page.locator("p.decision").inner_text()
        assert "Kuchapisha pamoja na takwimu rasmi (pendekezo limebatilishwa)" in decision
        check_page(page, phone=True, shot="analysis-decision-sw")
        assert blocked == []
        traffic.assert_local()


@pytest.mark.parametrize(("device", "language"), [(DESKTOP, "en"), (PHONE, "sw")])
def test_a_collector_sees_their_forms_and_how_to_collect_first(
        browser: Browser, base_url: str, device: dict, language: str) -> None:
    words, phone = WORDS[language], device is PHONE
    with fenced_page(browser, language=language, **device) as (page, traffic):
        login(page, base_url, "otieno", aw.PASSWORD.format("otieno"))
        page.goto(f"{base_url}{BASE}")
        headings = page.locator("main h2").all_inner_texts()
        assert headings.index(words["forms"]) < headings.index(words["collect"]) \
            < headings.index(words["about"])
        assert "Water point" in page.locator("#forms").inner_text()
        assert f"{base_url}/openrosa/{aw.SLUG}" in page.locator("#collect").inner_text()
        assert page.locator("#collect svg").is_visible()
        check_page(page, phone=phone, shot=f"analysis-collector-{language}")
        traffic.assert_local()
