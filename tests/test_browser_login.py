"""The log-in page in Chromium: accessible, fits a phone, in the browser's language."""

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
def base_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A workspace with one administrator, served over HTTP."""
    ws = Workspace(file_settings(Path(tmp_path_factory.mktemp("login"))))
    ws.create_admin("amina", "amina-password")
    with serve(ws) as url:
        yield url
    ws.close()


@pytest.mark.parametrize(("device", "language"), [(DESKTOP, "en"), (PHONE, "sw")])
def test_a_person_logs_in_on_an_accessible_page(browser: Browser, base_url: str,
                                                device: dict, language: str) -> None:
    with fenced_page(browser, language=language, **device) as (page, traffic):
        page.goto(f"{base_url}/login")
        assert page.locator("html").get_attribute("lang") == language
        check_page(page, phone=device is PHONE, shot=f"login-{language}")
        login(page, base_url, "amina", "amina-password")
        assert page.url.endswith("/projects")
        check_page(page, phone=device is PHONE)
        traffic.assert_local()
