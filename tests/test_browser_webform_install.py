"""The web forms are an installable web app: Chromium finds the manifest, its icons and a
service worker that controls the page, and reports no installability error."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from browser_kit import CHROMIUM_MARKS, PHONE, fenced_page, login, serve, wait_until
from citizendata.workspace import Workspace
from conftest import file_settings
from test_server_openrosa import FORM, SPEC

if TYPE_CHECKING:
    from playwright.sync_api import Browser

pytestmark = CHROMIUM_MARKS
FILL = "/projects/kisumu-roads/forms/road_hazard/fill"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A project with one form and one collector, served over HTTP."""
    ws = Workspace(file_settings(Path(tmp_path_factory.mktemp("install"))))
    admin = ws.create_admin("achieng", "achieng-password")
    admin.create_project(SPEC)
    admin.add_form("kisumu-roads", FORM, "road.xlsx")
    admin.create_user("otieno", "otieno-password")
    admin.add_member("kisumu-roads", "otieno", "collector")
    with serve(ws) as url:
        yield url
    ws.close()


def test_the_fill_page_is_installable_and_kept_for_offline_use(
        browser: Browser, served: str) -> None:
    with fenced_page(browser, **PHONE) as (page, traffic):
        login(page, served, "otieno", "otieno-password")
        page.goto(f"{served}{FILL}")
        # the page asks its service worker to keep it, its XForm and its stylesheets
        wait_until(page, "() => document.documentElement.dataset.offlineReady === 'true'")
        assert page.evaluate("navigator.serviceWorker.controller !== null")
        cdp = page.context.new_cdp_session(page)
        manifest = cdp.send("Page.getAppManifest")
        assert manifest["errors"] == [], manifest["errors"]
        assert manifest["url"].startswith(f"{served}/webforms.webmanifest?start=")
        errors = cdp.send("Page.getInstallabilityErrors")["installabilityErrors"]
        # a Playwright context is an incognito profile, where Chromium installs nothing
        # and says so; the manifest's own checks (above) and the controlling worker are
        # what the test can see
        assert [e["errorId"] for e in errors if e["errorId"] != "in-incognito"] == [], errors
        kept = page.evaluate("""async () => {
            const cache = await caches.open('citizendata-pages-v1');
            return (await cache.keys()).map((r) => new URL(r.url).pathname).sort();
        }""")
        assert FILL in kept and f"{FILL}/form.xml" in kept and "/static/site.css" in kept
        traffic.assert_local()
