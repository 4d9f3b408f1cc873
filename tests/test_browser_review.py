"""A validator's review in Chromium: desktop in English, a phone in Swahili.

Queue → submission (the form's own Swahili labels) → comment → edit (the diff) →
decision → approve all without errors (the count) → a duplicate pair decided; axe on
every page, no sideways scrolling on the phone, screenshots prefixed ``review-``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from browser_kit import CHROMIUM_MARKS, DESKTOP, PHONE, check_page, fenced_page, login, serve
from test_review_pages import FORM, SLUG, answers, build_review_workspace

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

pytestmark = CHROMIUM_MARKS
Q = f"/projects/{SLUG}/forms/{FORM}"


@pytest.fixture(scope="module")
def base_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The review workspace with a second exact pair, served over HTTP."""
    ws = build_review_workspace(Path(tmp_path_factory.mktemp("browser-review")))
    col = ws.as_user("col")
    col.submit(SLUG, FORM, json.dumps([answers("uuid:copy2", age=21, births=1),
                                       answers("uuid:young2", age=11)]).encode())
    ws.as_user("val").validate(SLUG, FORM)
    with serve(ws) as url:
        yield url
    ws.close()


def _flash(page: Page) -> str:
    return page.locator("p.flash").first.inner_text()


@pytest.mark.parametrize(("device", "language", "target", "age_label"),
                         [(DESKTOP, "en", "uuid:young", "Age"),
                          (PHONE, "sw", "uuid:young2", "Umri")])
def test_a_validator_reviews(browser: Browser, base_url: str, device: dict, language: str,
                             target: str, age_label: str) -> None:
    phone = device is PHONE
    with fenced_page(browser, language=language, **device) as (page, traffic):
        login(page, base_url, "val", "val-password")
        page.goto(f"{base_url}/projects/{SLUG}/review")
        assert page.locator("h1").inner_text() == ("Review" if language == "en" else "Mapitio")
        check_page(page, phone=phone, shot=f"review-overview-{language}")

        page.goto(f"{base_url}{Q}/review")
        assert page.locator("table.queue").is_visible()
        check_page(page, phone=phone, shot=f"review-queue-{language}")

        page.goto(f"{base_url}{Q}/submissions/{target}")
        answers_table = page.locator("table.answers")
        assert answers_table.get_by_text(age_label, exact=True).is_visible()
        assert page.locator("svg.pointmap").is_visible()
        check_page(page, phone=phone, shot=f"review-submission-{language}")

        page.locator("#comment-text").fill("Nimempigia simu" if language == "sw"
                                           else "Called her back")
        page.locator("form[action$='/comment'] button").click()
        assert page.locator("p.flash.ok").is_visible()
        assert page.locator("#history blockquote").first.is_visible()

        page.locator("details.edit summary", has_text=age_label).click()
        edit = page.locator("details.edit[open] form")
        edit.locator("input[name=value]").fill("21")
        edit.locator("input[name=reason]").fill("read back")
        edit.locator("button").click()
        assert page.locator("p.flash.ok").is_visible()
        diff = page.locator("table.diff").last
        assert diff.locator("del").inner_text() in ("12", "11")
        assert diff.locator("ins").inner_text() == "21"
        check_page(page, phone=phone)

        page.locator("form[action$='/decide'] button").click()
        assert page.locator("p.flash.ok").is_visible()
        assert page.locator(".facts .status.s-approved").is_visible()

        page.goto(f"{base_url}{Q}/review")
        page.locator("a.button[href$='/review/approve-clean']").click()
        count = page.locator("#approve-count")
        n = int(count.get_attribute("data-count") or "0")
        assert f"{n:,}" in count.inner_text()
        check_page(page, phone=phone, shot=f"review-approve-{language}")
        if n:
            page.locator("form[action$='/review/approve-clean'] button").click()
            assert str(n) in _flash(page)
            check_page(page, phone=phone)

        page.goto(f"{base_url}{Q}/duplicates")
        check_page(page, phone=phone, shot=f"review-duplicates-{language}")
        first = page.locator("section.pair").first
        first.locator("input[name=action][value=dismiss] ~ button").click()
        assert page.locator("p.flash.ok").is_visible()
        check_page(page, phone=phone)
        traffic.assert_local()
