"""Jobs in Chromium: an owner builds a release from the releases page, follows its job
page (its script shows the progress) to the outcome, and finds it on the jobs page;
on a desktop in English and on a phone in Swahili, axe-core on every page."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from browser_kit import CHROMIUM_MARKS, DESKTOP, PHONE, check_page, fenced_page, login, serve
from citizendata.jobs import Worker
from citizendata.projects.spec import ProjectSpec
from citizendata.workspace import Workspace
from conftest import SPEC, file_settings, household_form
from test_releases import ESTIMATION

if TYPE_CHECKING:
    from playwright.sync_api import Browser

pytestmark = CHROMIUM_MARKS
SLUG = "test-project"
SEEN: dict[str, dict[str, str]] = {
    "en": {"kind": "Release build", "queued": "Queued", "done": "Done",
           "built": "built; it awaits sign-off.", "jobs": "Jobs", "result": "See the result"},
    "sw": {"kind": "Kutayarisha toleo", "queued": "Kwenye foleni", "done": "Imekamilika",
           "built": "limetayarishwa; linasubiri idhini.", "jobs": "Kazi",
           "result": "Tazama matokeo"},
}


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Workspace]]:
    """An owner's project with twelve approved respondents, served; the jobs worker is
    started by the test, so the queued job can be seen first."""
    root = Path(tmp_path_factory.mktemp("jobs-browser"))
    ws = Workspace(file_settings(root, jobs_in_server=False, jobs_wait_s=0))
    owner = ws.create_admin("amina", "amina-password")
    owner.create_project(SPEC)
    owner.add_form(SLUG, household_form(), "household.xlsx")
    owner.update_project(ProjectSpec.model_validate(
        {**SPEC, "estimation": ESTIMATION, "release": {"community_representatives": []},
         "protection": {"tables": {"threshold": 3}}}))
    subs = [{"meta": {"instanceID": f"uuid:r{i}"}, "consent": "yes" if i % 3 else "no",
             "age": 30, "location": {"ward": "magadi" if i < 6 else "ewuaso"}, "n_births": 0}
            for i in range(12)]
    owner.submit(SLUG, "household", json.dumps(subs).encode())
    owner.decide(SLUG, "household", [s["meta"]["instanceID"] for s in subs], "approved")
    with serve(ws) as url:
        yield url, ws
    ws.close()


@pytest.mark.parametrize(("device", "language"), [(DESKTOP, "en"), (PHONE, "sw")])
def test_an_owner_follows_a_release_build_to_its_outcome(
        browser: Browser, served: tuple[str, Workspace], device: dict[str, Any],
        language: str) -> None:
    base, ws = served
    words, phone = SEEN[language], device is PHONE
    with fenced_page(browser, language=language, **device) as (page, traffic):
        login(page, base, "amina", "amina-password")
        page.goto(f"{base}/projects/{SLUG}/releases")
        page.locator(f"form[action='/projects/{SLUG}/releases'] [type=submit]").click()
        page.wait_for_load_state("load")
        assert "/jobs/" in page.url
        job_url = page.url
        assert words["kind"] in page.locator("h1").inner_text()
        assert page.locator("#job-state").inner_text() == words["queued"]
        assert page.locator("progress.job-bar").is_visible()
        assert page.locator("#job-live[data-follow]").count() == 1
        check_page(page, phone=phone, shot=f"jobs-queued-{language}")

        worker = Worker(ws, poll_s=0.2)
        worker.start()
        try:  # the page's script follows the job until the build is done
            page.wait_for_selector(".job-outcome", timeout=120_000)
        finally:
            worker.stop(timeout=60)
        page.wait_for_load_state("load")
        assert page.locator("#job-state").inner_text() == words["done"]
        outcome = page.locator(".job-outcome").inner_text()
        assert outcome.endswith(words["built"]) and " v" in outcome, outcome
        result = page.get_by_role("link", name=words["result"])
        assert result.get_attribute("href") == f"/projects/{SLUG}/releases"
        assert page.locator("#job-live[data-follow]").count() == 0
        check_page(page, phone=phone, shot=f"jobs-done-{language}")

        page.goto(f"{base}/projects/{SLUG}/jobs")
        assert page.locator("h1").inner_text() == words["jobs"]
        row = page.locator(f"table.jobs a[href='{job_url.removeprefix(base)}']")
        assert row.count() == 1
        check_page(page, phone=phone, shot=f"jobs-list-{language}")
        traffic.assert_local()
