"""The collector's page in Chromium: "Keep on this device" registers the service worker,
which keeps the form's page and XForm in the Cache API; the status turns to available,
the page and the form then open without a connection. axe-core on a desktop in English
and on a phone in Swahili (the guide's screenshot, webform-collect.png)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from browser_kit import CHROMIUM_MARKS, DESKTOP, PHONE, check_page, fenced_page, login, serve
from citizendata.demo import _setup, kenya_spec
from citizendata.scenarios.kenya_maternal_health import FORM_PATH
from citizendata.scenarios.kenya_maternal_health.project import DEMO_USERS
from citizendata.workspace import Workspace
from conftest import file_settings

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

pytestmark = CHROMIUM_MARKS
COLLECTOR = next(u for u in DEMO_USERS if u["role"] == "collector")
WORDS = {"en": {"missing": "Not yet on this device", "keep": "Keep on this device",
                "available": "Available offline on this device", "title": "Collect data"},
         "sw": {"missing": "Bado haipo kwenye kifaa hiki", "keep": "Hifadhi kwenye kifaa hiki",
                "available": "Inapatikana bila mtandao kwenye kifaa hiki",
                "title": "Kusanya data"}}


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str, str]]:
    """The demo's Kenya project with its form (English and Swahili), served."""
    root = Path(tmp_path_factory.mktemp("collect-browser"))
    ws = Workspace(file_settings(root))
    owner = _setup(ws)
    slug = kenya_spec().slug
    form_id = owner.add_form(slug, FORM_PATH).form_id
    with serve(ws) as url:
        yield url, slug, form_id
    ws.close()


def _keep(page: Page, base: str, slug: str, fill: str, words: dict[str, str], *,
          phone: bool) -> None:
    """From the project page to the collect page, then "Keep on this device"."""
    login(page, base, COLLECTOR["username"], COLLECTOR["password"])
    page.goto(f"{base}/projects/{slug}")  # the project page leads to the collect page
    page.locator(f"a[href='/projects/{slug}/collect']").first.click()
    page.wait_for_load_state("load")
    assert page.locator("h1").inner_text() == words["title"]
    item = page.locator(f".collect-form[data-fill-url='{fill}']")
    status = item.locator(".offline-status")
    item.locator(".offline-status[data-state=missing]").wait_for()
    assert status.inner_text() == words["missing"]
    assert "English" in item.inner_text() and "Swahili" in item.inner_text()
    check_page(page, phone=phone)

    item.get_by_role("button", name=words["keep"]).click()
    item.locator(".offline-status[data-state=available]").wait_for(timeout=60_000)
    assert status.inner_text() == words["available"]
    assert page.locator("#collect-live").inner_text().endswith(words["available"])
    page.wait_for_function("() => navigator.serviceWorker.controller !== null",
                           timeout=20_000)


@pytest.mark.parametrize(("device", "language"), [(DESKTOP, "en"), (PHONE, "sw")])
def test_keep_on_this_device_turns_the_status_to_available(
        browser: Browser, served: tuple[str, str, str], device: dict[str, Any],
        language: str) -> None:
    base, slug, form_id = served
    words, phone = WORDS[language], device is PHONE
    fill = f"/projects/{slug}/forms/{form_id}/fill"
    with fenced_page(browser, language=language, **device) as (page, traffic):
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        _keep(page, base, slug, fill, words, phone=phone)
        kept = page.evaluate("""async (fill) => {
            const cache = await caches.open('citizendata-pages-v1');
            const has = async (u) => Boolean(await cache.match(u));
            return [await has(fill), await has(fill + '/form.xml'),
                    await has(location.pathname), await has('/static/collect.js'),
                    await has('/static/webform.css')];
        }""", fill)
        assert kept == [True, True, True, True, True]
        check_page(page, phone=phone, shot="webform-collect" if phone else None)
        # opened again, the page finds the form on the device at once
        page.reload()
        page.locator(f".collect-form[data-fill-url='{fill}'] "
                     ".offline-status[data-state=available]").wait_for()
        assert errors == []
        traffic.assert_local()


@pytest.mark.xfail(strict=True, reason=(
    "the service worker's keep-offline stores header-less cache keys while pages answer "
    "with Vary: Accept-Language, so its network-first fallback misses them; the fix "
    "(ignoreVary in web/public/sw.js) is asked for in /work/notes/collect-web-request.md"))
def test_a_kept_form_and_the_list_open_without_a_connection(
        browser: Browser, served: tuple[str, str, str]) -> None:
    base, slug, form_id = served
    fill = f"/projects/{slug}/forms/{form_id}/fill"
    with fenced_page(browser, **PHONE) as (page, _traffic):
        _keep(page, base, slug, fill, WORDS["en"], phone=True)
        page.context.set_offline(True)
        try:  # never opened before: the list and the form come from the device
            page.reload()
            item = page.locator(f".collect-form[data-fill-url='{fill}']")
            item.locator(".offline-status[data-state=available]").wait_for()
            item.locator("a.button-link").click()
            page.wait_for_load_state("load")
            assert page.url.endswith(fill)
            page.locator("#webform").wait_for(state="attached")
        finally:
            page.context.set_offline(False)
