"""Set-up in Chromium: an owner on a desktop in English creates a project, uploads a form,
invites a validator and imports data; a manager on a phone in Swahili changes a role and
edits the release settings. Every page passes axe-core and fits the screen."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from browser_kit import CHROMIUM_MARKS, DESKTOP, PHONE, check_page, fenced_page, login, serve
from citizendata.workspace import Workspace
from conftest import file_settings
from xlsform_builders import make_xlsform

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

pytestmark = CHROMIUM_MARKS

FORM = make_xlsform(
    [{"type": "text", "name": "respondent", "label": "Name"},
     {"type": "integer", "name": "wait_minutes", "label": "Minutes waited"}],
    settings={"form_id": "clinic_visit", "version": "1", "form_title": "Clinic visit"})
BROKEN = make_xlsform([{"type": "integer", "name": "wait minutes", "label": "Minutes"}],
                      settings={"form_id": "clinic_visit", "version": "1"})


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Workspace, Path]]:
    """amina administers the site; in 'mtaa-water' mary manages and colin collects."""
    root = Path(tmp_path_factory.mktemp("setup-browser"))
    ws = Workspace(file_settings(root))
    amina = ws.create_admin("amina", "amina-password")
    amina.create_project({"slug": "mtaa-water", "name": "Mtaa water points",
                          "initiator": {"slug": "mtaa-cso", "name": "Mtaa CSO"},
                          "engagement": {"design": {"level": 4}}})
    for name, role in (("mary", "manager"), ("colin", "collector")):
        amina.create_user(name, f"{name}-password")
        amina.add_member("mtaa-water", name, role)
    amina.add_organisation_member("mtaa-cso", "mary")
    amina.add_form("mtaa-water", FORM, "clinic.xlsx")
    files = root / "files"
    files.mkdir()
    (files / "broken.xlsx").write_bytes(BROKEN)
    (files / "clinic.xlsx").write_bytes(FORM)
    (files / "bad.csv").write_text("instance_id,respondent,wait_minutes,colour\n"
                                   "uuid:1,Wanjiku,30,red\n,Akinyi,45,blue\n")
    (files / "good.csv").write_text("instance_id,respondent,wait_minutes\n"
                                    "uuid:1,Wanjiku,30\nuuid:2,Akinyi,45\n")
    with serve(ws) as url:
        yield url, ws, files
    ws.close()


def _text(page: Page, selector: str) -> str:
    return " ".join(page.locator(selector).inner_text().split())


def test_an_owner_sets_up_a_project_on_a_desktop(browser: Browser,
                                                 site: tuple[str, Workspace, Path]) -> None:
    base, ws, files = site
    with fenced_page(browser, language="en", **DESKTOP) as (page, traffic):
        login(page, base, "amina", "amina-password")
        page.goto(f"{base}/projects/new")
        page.fill("#f-slug", "Clinic Waits")
        page.fill("#f-name", "Nakuru clinic waiting times")
        page.fill("#f-new_initiator_name", "Nakuru Mothers' Network")
        page.fill("#f-purpose", "Shorter waits at the clinics")
        page.fill("#f-partner-0-name", "Kenya National Bureau of Statistics")
        page.select_option("#f-partner-0-role", "nso")
        page.select_option("#f-eng-design-level", "5")
        page.fill("#f-eng-design-evidence", "Mothers wrote the questions")
        page.select_option("#f-eng-collect-level", "4")
        page.click("button[value=create]")
        # the slug's message is next to the slug, and the summary links to it
        assert "lower-case letters" in _text(page, "#err-slug")
        assert page.locator("#f-slug").get_attribute("aria-invalid") == "true"
        assert page.locator("#f-name").input_value() == "Nakuru clinic waiting times"
        check_page(page, shot="setup-new-project-error")
        page.fill("#f-slug", "clinic-waits")
        page.click("button[value=create]")
        page.wait_for_url(f"{base}/projects/clinic-waits")
        assert "created" in _text(page, "main")

        # a broken XLSForm first: the problem by sheet, row and column
        page.goto(f"{base}/projects/clinic-waits/forms/new")
        page.set_input_files("#f-xlsform", str(files / "broken.xlsx"))
        page.click("form[enctype] button[type=submit]")
        problems = _text(page, "table.problems")
        assert "sheet survey" in problems and "row 2" in problems and "column name" in problems
        check_page(page, shot="setup-form-problems")
        page.set_input_files("#f-xlsform", str(files / "clinic.xlsx"))
        page.click("form[enctype] button[type=submit]")
        assert "Form clinic_visit, version 1, is ready" in _text(page, ".done")
        check_page(page)

        # invite a validator: the one-time password is shown once
        page.goto(f"{base}/projects/clinic-waits/members")
        page.fill("#f-invite-username", "vera")
        page.fill("#f-invite-display_name", "Vera Wambui")
        page.select_option("#f-invite-role", "validator")
        page.click("#invite button[type=submit]")
        password = page.locator("code.password").inner_text()
        assert "shown only this once" in _text(page, ".secret")
        check_page(page, shot="setup-members-invite")
        assert ws.login("vera", password).project("clinic-waits").role == "validator"

        # an import with a bad row: every problem with its row and column, nothing stored
        page.goto(f"{base}/projects/clinic-waits/forms/clinic_visit/import")
        page.set_input_files("#f-file", str(files / "bad.csv"))
        page.click("form[enctype] button[type=submit]")
        problems = _text(page, "table.problems")
        assert "row 3" in problems and "column instance_id" in problems
        assert "column colour" in problems
        check_page(page, shot="setup-import-problems")
        page.set_input_files("#f-file", str(files / "good.csv"))
        page.click("form[enctype] button[type=submit]")
        page.wait_for_url("**/forms/clinic_visit/import")
        assert "The form has 2 submissions." in _text(page, "main")
        check_page(page)

        page.goto(f"{base}/projects/clinic-waits/reference")
        check_page(page, shot="setup-reference")
        page.goto(f"{base}/projects/clinic-waits/settings")
        check_page(page, shot="setup-settings")
        traffic.assert_local()


def test_a_manager_on_a_phone_in_swahili(browser: Browser,
                                        site: tuple[str, Workspace, Path]) -> None:
    base, ws, _files = site
    with fenced_page(browser, language="sw", **PHONE) as (page, traffic):
        login(page, base, "mary", "mary-password")
        page.goto(f"{base}/projects/mtaa-water/members")
        assert page.locator("h1").inner_text() == "Wanachama"
        # a manager cannot hand out the owner role
        assert page.locator("#f-invite-role option[value=owner]").count() == 0
        row = page.locator("tr", has_text="colin")
        row.locator("select").select_option("validator")
        row.locator("button", has_text="Badilisha jukumu").click()
        assert "colin sasa ni mhakiki" in _text(page, ".flash")
        check_page(page, phone=True, shot="setup-members-sw")
        assert {m.username: m.role for m in ws.as_user("mary").members("mtaa-water")}[
            "colin"] == "validator"

        page.goto(f"{base}/projects/mtaa-water/settings")
        release = page.locator("#section-release")
        release.locator("textarea").fill("community_representatives: [amina]\n"
                                          "maps:\n  - boundaries: wards\n")
        release.locator("button[value=save]").click()
        release = page.locator("#section-release")
        assert "release.maps.0.dimension" in _text(page, "#section-release .error-summary")
        assert "mstari 3" in _text(page, "#section-release .error-summary")
        release.locator("textarea").fill("community_representatives: [amina]\n")
        release.locator("button[value=preview]").click()
        assert "+community_representatives:" in _text(page, "#section-release pre.diff")
        check_page(page, phone=True, shot="setup-settings-sw")
        page.locator("#section-release button[value=save]").click()
        assert "Mipangilio imehifadhiwa." in _text(page, ".flash")
        check_page(page, phone=True)

        # the other set-up pages fit the phone too
        page.goto(f"{base}/projects/new")
        assert page.locator("h1").inner_text() == "Mradi mpya"
        check_page(page, phone=True, shot="setup-new-project-sw")
        for tail in ("forms/new", "forms/clinic_visit/import", "reference"):
            page.goto(f"{base}/projects/mtaa-water/{tail}")
            check_page(page, phone=True)
        traffic.assert_local()
    assert ws.as_user("mary").project("mtaa-water").spec.release.community_representatives == [
        "amina"]
