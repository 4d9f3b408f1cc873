"""Public links in Chromium: a manager on a phone in Swahili makes a link for a form (its
address and QR code shown once) and switches it off; anyone with a link fills the form
anonymously on a phone (consent given and refused), the cap refuses what is past it, the
rate limit answers 429, and a revoked link's page says the survey is closed. Every page
passes axe-core and fits a 375 px screen."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

from browser_kit import CHROMIUM_MARKS, DESKTOP, PHONE, check_page, fenced_page, login, serve
from citizendata.workspace import Workspace
from conftest import SPEC, file_settings, household_form
from xlsform_builders import make_xlsform

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

pytestmark = CHROMIUM_MARKS

P, F = str(SPEC["slug"]), "household"
PAGE = f"/projects/{P}/forms/{F}/links"
RATE = 5
# a consent question first; the rest is asked only of those who agree
CLINIC = make_xlsform(
    [{"type": "select_one yn", "name": "consent", "label": "Do you agree to answer?",
      "required": "yes"},
     {"type": "text", "name": "village", "label": "Village", "relevant": "${consent} = 'yes'"},
     {"type": "text", "name": "comment", "label": "What should the clinic change?",
      "relevant": "${consent} = 'yes'"}],
    [{"list_name": "yn", "name": "yes", "label": "Yes"},
     {"list_name": "yn", "name": "no", "label": "No"}],
    settings={"form_id": "clinic_visit", "version": "1", "form_title": "Clinic visit"})


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Workspace]]:
    """mary manages the project with the household form."""
    root = tmp_path_factory.mktemp("weblinks-browser")
    ws = Workspace(file_settings(root, weblink_rate_per_minute=RATE))
    owner = ws.create_admin("owner", "owner-password")
    owner.create_project(SPEC)
    owner.add_form(P, household_form(), "household.xlsx")
    owner.add_form(P, CLINIC, "clinic.xlsx")
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


def _stored(ws: Workspace) -> list[dict[str, object]]:
    return ws.as_user("owner").submissions(P, "clinic_visit", limit=50)[1]


def _wait_for(page: Page, check: object, what: str, seconds: float = 20) -> None:
    for _ in range(int(seconds * 4)):
        if check():  # type: ignore[operator]
            return
        page.wait_for_timeout(250)
    raise AssertionError(f"timed out waiting for {what}")


def _send(page: Page) -> None:
    page.get_by_role("button", name="Send", exact=True).click()


def test_anyone_with_the_link_fills_the_form_anonymously(browser: Browser,
                                                         site: tuple[str, Workspace]) -> None:
    url, ws = site
    info, token = ws.as_user("owner").create_public_link(P, "clinic_visit", "Clinic poster",
                                                          max_submissions=2)
    with fenced_page(browser, **PHONE) as (page, traffic):
        page.goto(f"{url}/f/{token}")
        page.get_by_label("Yes", exact=True).check()
        page.get_by_label("Village").fill("Olkeri")
        page.get_by_label("What should the clinic change?").fill("More nurses")
        check_page(page, phone=True, shot="weblinks-fill")
        _send(page)
        _wait_for(page, lambda: len(_stored(ws)) == 1, "the first submission")
        # the next respondent on this phone refuses: nothing else is asked
        page.get_by_label("No", exact=True).check()
        assert page.get_by_label("Village").count() == 0
        _send(page)
        _wait_for(page, lambda: len(_stored(ws)) == 2, "the refusal")
        # the cap is reached: a third is refused, and the page says why
        page.get_by_label("Yes", exact=True).check()
        page.get_by_label("Village").fill("Nkoile")
        _send(page)
        _wait_for(page, lambda: page.locator(".outbox-refused").count() == 1, "a refusal")
        assert "weblink.full" in page.locator(".outbox-refused").inner_text()
        check_page(page, phone=True)
        # the browser's own requests past the rate limit: 3 sent so far, 2 more, then 429
        post = {"multipart": {"xml_submission_file": {
            "name": "submission.xml", "mimeType": "text/xml", "buffer": b"<data/>"}}}
        answers = [page.request.post(f"{url}/f/{token}/submission", **post)  # type: ignore[arg-type]
                   for _ in range(RATE - 3 + 1)]
        assert [a.status for a in answers][-1] == 429
        assert int(answers[-1].headers["retry-after"]) >= 1
        traffic.assert_local()
    rows = {r["data"].get("consent"): r for r in _stored(ws)}  # type: ignore[union-attr]
    assert rows["yes"]["data"]["village"] == "Olkeri"  # type: ignore[index]
    assert not rows["no"]["data"].get("village")  # type: ignore[union-attr]
    assert {r["submitter"] for r in rows.values()} == {None}  # type: ignore[index]
    assert ws.as_user("owner").public_links(P, "clinic_visit")[0].submissions == 2
    # switched off: the page says the survey is closed
    ws.as_user("owner").revoke_public_link(P, info.id)
    with fenced_page(browser, **PHONE) as (page, _traffic):
        answer = page.goto(f"{url}/f/{token}")
        assert answer is not None and answer.status == 410
        assert "switched off" in page.locator("main").inner_text()
        check_page(page, phone=True)
