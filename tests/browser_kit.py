"""What every Chromium journey needs: a live server, Debian's Chromium, a page fenced to
localhost, logging in, axe-core, the phone-width check and the guide's screenshots.

Use it from a test module (the ``browser`` fixture is in conftest.py)::

    from browser_kit import CHROMIUM_MARKS, check_page, fenced_page, login, serve
    pytestmark = CHROMIUM_MARKS

``check_page(page)`` runs axe-core (vendored in tests/assets/axe, MPL-2.0) and fails on any
serious or critical violation; with ``phone=True`` it also fails when the page scrolls
sideways. Screenshots are written to docs/img/ only when CITIZENDATA_SCREENSHOTS is set.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import pytest
import uvicorn

from citizendata.server.app import create_app
from citizendata.workspace import Workspace

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page, Request, Route

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_MARKS = [
    pytest.mark.slow,
    pytest.mark.timeout(300),
    # CI installs Chromium and sets CITIZENDATA_REQUIRE_BROWSER: there, a missing browser fails
    pytest.mark.skipif(not Path(CHROMIUM).is_file()
                       and not os.environ.get("CITIZENDATA_REQUIRE_BROWSER"),
                       reason=f"no Chromium at {CHROMIUM}"),
]
LOCAL_HOSTS = {"127.0.0.1", "localhost"}
AXE = Path(__file__).parent / "assets" / "axe" / "axe.min.js"
SCREENSHOTS = Path(__file__).parent.parent / "docs" / "img"
DESKTOP: dict[str, Any] = {"viewport": {"width": 1280, "height": 900}}
PHONE: dict[str, Any] = {"viewport": {"width": 375, "height": 812}, "is_mobile": True,
                         "has_touch": True, "device_scale_factor": 2}


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serve(ws: Workspace) -> Iterator[str]:
    """The app for ``ws`` over real HTTP on 127.0.0.1; yields its base URL."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(ws), host="127.0.0.1", port=port,
                                           log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    for _ in range(200):
        if server.started or not thread.is_alive():
            break
        time.sleep(0.05)
    assert server.started, "uvicorn did not start"
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


class Traffic:
    """Every request a page makes, and those refused for leaving localhost."""

    def __init__(self) -> None:
        self.seen: list[str] = []
        self.aborted: list[str] = []

    def record(self, request: Request) -> None:
        self.seen.append(request.url)

    def guard(self, route: Route) -> None:
        """Let local requests through; abort the rest, so nothing can actually leave."""
        url = urlsplit(route.request.url)
        if url.scheme in ("data", "about") or url.hostname in LOCAL_HOSTS:
            route.continue_()
        else:
            self.aborted.append(route.request.url)
            route.abort()

    def assert_local(self) -> None:
        """Every request went to this machine (or was a data: URL), and none was refused."""
        assert self.seen, "the page made no request at all"
        outside = [u for u in self.seen if not u.startswith(("data:", "about:"))
                   and urlsplit(u).hostname not in LOCAL_HOSTS]
        assert outside == [] and self.aborted == [], (outside, self.aborted)


@contextmanager
def fenced_page(browser: Browser, *, language: str = "en",
                **context: Any) -> Iterator[tuple[Page, Traffic]]:
    """A fresh page (own cookies) whose requests are fenced to localhost.

    ``language`` is sent as Accept-Language, as a phone set to that language does.
    """
    ctx = browser.new_context(locale=language,
                              extra_http_headers={"Accept-Language": language}, **context)
    traffic = Traffic()
    ctx.route("**/*", traffic.guard)
    page = ctx.new_page()
    page.on("request", traffic.record)
    try:
        yield page, traffic
    finally:
        ctx.close()


def wait_until(page: Page, predicate: str, timeout_s: float = 30.0) -> Any:
    """Poll a JavaScript function until it answers something truthy.

    ``page.wait_for_function`` evaluates its predicate with ``eval``, which a page whose
    policy has no 'unsafe-eval' (the web-form page) refuses; ``page.evaluate`` is not
    subject to the page's policy.
    """
    deadline = time.monotonic() + timeout_s
    while True:
        value = page.evaluate(predicate)
        if value:
            return value
        assert time.monotonic() < deadline, f"still false after {timeout_s} s: {predicate}"
        page.wait_for_timeout(100)


def login(page: Page, base_url: str, username: str, password: str) -> None:
    """Log in through the login form, as a person does."""
    page.goto(f"{base_url}/login")
    page.locator("input[name=username]").fill(username)
    page.locator("input[name=password]").fill(password)
    page.locator("form[action='/login'] [type=submit]").click()
    page.wait_for_load_state("load")
    assert "/login" not in page.url, f"log-in as {username} failed"


def axe_violations(page: Page, impacts: tuple[str, ...] = ("serious", "critical")
                   ) -> list[dict[str, Any]]:
    """axe-core's WCAG 2.1 A/AA violations of the page at these impacts."""
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        # added as a script element's text: pages' CSP would refuse it, so the test's
        # browser context bypasses it only for this (page.add_script_tag obeys CSP)
        page.evaluate(AXE.read_text(encoding="utf-8") + "\n;0")
    result = page.evaluate("""async () => {
        const r = await axe.run(document, {runOnly: {type: 'tag',
            values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']}});
        return r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
            nodes: v.nodes.slice(0, 3).map(n => n.target.join(' ')),
            detail: v.nodes.slice(0, 3).map(n => n.html.slice(0, 120) + ' :: '
                                                + (n.failureSummary || '').slice(0, 240))}));
    }""")
    return [v for v in result if v.get("impact") in impacts]


def sideways_overflow(page: Page) -> int:
    """How many CSS pixels the page is wider than its viewport (0 when it fits)."""
    return int(page.evaluate(
        "() => document.documentElement.scrollWidth - window.innerWidth"))


def check_page(page: Page, *, phone: bool = False, shot: str | None = None) -> None:
    """axe: no serious or critical violation; on a phone: no sideways scrolling.

    ``shot`` names a screenshot for the guide (docs/img/<shot>.png), written only when
    the CITIZENDATA_SCREENSHOTS environment variable is set.
    """
    violations = axe_violations(page)
    assert violations == [], f"axe on {page.url}: {violations}"
    if phone:
        assert sideways_overflow(page) <= 0, f"{page.url} scrolls sideways on a phone"
    if shot and os.environ.get("CITIZENDATA_SCREENSHOTS"):
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / f"{shot}.png"), full_page=False)


@contextmanager
def service_worker_page(browser: Browser, **context: Any) -> Iterator[tuple[Page, Traffic]]:
    """Like fenced_page, for pages that must be served by their service worker offline.

    Playwright makes Chromium bypass service workers when it routes requests, and also
    when a context sets ``locale`` or ``extra_http_headers``: offline, such a page gets
    nothing from the worker's cache. So nothing is routed here and the browser's own
    language (English) is sent; requests are recorded, so ``traffic.assert_local()``
    still says whether anything left this machine.
    """
    ctx = browser.new_context(**context)
    traffic = Traffic()
    ctx.on("request", traffic.record)
    page = ctx.new_page()
    try:
        yield page, traffic
    finally:
        ctx.close()
