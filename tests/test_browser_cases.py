"""FLIP's validator on a cheap phone (360 × 740) in Spanish, in Chromium: clerical review of
a record pair with the keyboard, then a case verified by ticking its written criteria;
the analyst's summary; axe on every page; a served static file equals its file.
Screenshots prefixed ``cases-`` for the guide.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from browser_kit import CHROMIUM_MARKS, check_page, fenced_page, login, serve
from citizendata.workspace import Workspace
from conftest import file_settings
from test_cases_pages import PASSWORD, SLUG, cases_workspace_copy

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

pytestmark = CHROMIUM_MARKS
CHEAP_PHONE: dict[str, Any] = {"viewport": {"width": 360, "height": 740}, "is_mobile": True,
                               "has_touch": True, "device_scale_factor": 1.5}
STATIC = Path(__file__).parent.parent / "src" / "citizendata" / "server" / "static"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Workspace, str]]:
    """The small Colombia project, served over HTTP (in a thread of this process)."""
    root, _ = cases_workspace_copy(tmp_path_factory)
    ws = Workspace(file_settings(root))
    with serve(ws) as url:
        yield ws, url
    ws.close()


@pytest.fixture(scope="module")
def base_url(served: tuple[Workspace, str]) -> str:
    return served[1]


def _left(page: Page) -> int:
    return int(page.locator("#pairs-left").get_attribute("data-left") or "-1")


def test_a_validator_reviews_a_pair_and_verifies_a_case_on_a_phone_in_spanish(
        browser: Browser, base_url: str) -> None:
    with fenced_page(browser, language="es", **CHEAP_PHONE) as (page, traffic):
        login(page, base_url, "val", PASSWORD)
        page.goto(f"{base_url}/projects/{SLUG}/linkage/review")
        assert page.locator("h1").inner_text() == "Revisión manual"
        left = _left(page)
        assert left > 0, "the scenario gives pairs to review"
        table = page.locator("table.side")
        # both records, field by field; each differing field is said in words too
        assert table.locator("thead th").count() == 3
        assert table.get_by_text("Fecha del hecho").is_visible()
        differing = table.locator("tr.differs").count()
        assert table.locator("tr.differs .visually-hidden", has_text="difiere").count() \
            == differing
        check_page(page, phone=True, shot="cases-review-es")

        # the keyboard only: from the note, Tab reaches "Coinciden", Enter decides
        page.locator("#pair-note").focus()
        page.keyboard.type("mismo radicado")
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.textContent.trim()") == "Coinciden"
        page.keyboard.press("Enter")
        page.wait_for_load_state("load")
        assert "Decisión registrada: misma persona y mismo hecho." in page.locator(
            "p.flash.ok").inner_text()
        assert _left(page) == left - 1
        check_page(page, phone=True)

        # a FLIP report awaiting verification: tick the criteria, give the evidence
        page.goto(f"{base_url}/projects/{SLUG}/cases?list=flip&status=reported")
        check_page(page, phone=True, shot="cases-list-es")
        page.locator("table.cases tbody a").first.click()
        assert page.locator("h2#h-verify").inner_text() == "Verificar este caso"
        check_page(page, phone=True, shot="cases-case-es")
        boxes = page.locator("fieldset.criteria input[type=checkbox]")
        for i in range(boxes.count()):
            boxes.nth(i).check()
        page.get_by_label("Soportes (fuentes consultadas y lo que muestran)").fill(
            "Acta de la Fiscalía y testimonio de la familia")
        page.get_by_label("verificado", exact=True).check()
        page.get_by_role("button", name="Registrar la verificación").click()
        page.wait_for_load_state("load")
        assert "Verificación registrada: verificado." in page.locator("p.flash.ok").inner_text()
        history = page.locator("#history")
        assert history.locator("blockquote.evidence").inner_text() == \
            "Acta de la Fiscalía y testimonio de la familia"
        assert history.locator("ul.criteria-met li").count() == boxes.count()
        assert page.locator(".facts .status.v-verified").inner_text() == "verificado"
        check_page(page, phone=True)
        traffic.assert_local()


def test_the_analysts_summary_on_a_phone_and_a_served_static_file(
        browser: Browser, served: tuple[Workspace, str]) -> None:
    ws, base_url = served
    # The summary fits each declared estimate (a six-list model search, 17-33 s cold on a
    # loaded machine) inside the request, which outlasted page.goto's 30 s. The fits are
    # kept in this process by a digest of the capture histories, and the server is a thread
    # of this process: fitting them first through the library (after the review test's
    # decisions, on the same data) makes the page read the same kept results.
    ana = ws.as_user("ana")
    for key in ana.project(SLUG).spec.cases.estimates:
        assert ana.estimate_uncounted(SLUG, key)["indicator"] == key
    with fenced_page(browser, language="es", **CHEAP_PHONE) as (page, traffic):
        login(page, base_url, "ana", PASSWORD)
        page.goto(f"{base_url}/projects/{SLUG}/linkage")
        assert page.locator("h1").inner_text() == "Vinculación y estimaciones"
        total = page.locator("dd.estimate-total strong").first.inner_text()
        assert re.fullmatch(r"[\d,]+", total)
        assert page.locator("figure.sensitivity svg circle").count() >= 2
        check_page(page, phone=True, shot="cases-linkage-es")
        served = page.request.get(f"{base_url}/static/cases.css")
        assert served.ok and served.body() == (STATIC / "cases.css").read_bytes()
        assert served.headers["content-type"].startswith("text/css")
        traffic.assert_local()
