"""Benchmark: the web-form page on a phone over a slow connection, then again offline.

A workspace with the Kenya demo (``citizendata.demo._setup``) and its form is served over
real HTTP (uvicorn on 127.0.0.1), as the app serves it (engine files precompressed, sent
as Brotli or gzip when the browser accepts it; HTML pages and the XForm uncompressed),
and once more wrapped in Starlette's ``GZipMiddleware`` (a bench-only wrapper: what
compressing the page and the XForm as well would change). The collector logs in through
the log-in form with the context's own HTTP client (so nothing is in the browser's
cache), then Debian's Chromium (Playwright, the "Pixel 5" phone profile) opens the fill
page ``/projects/{slug}/forms/{form_id}/fill`` under Chrome DevTools protocol throttling:

- ``Network.emulateNetworkConditions``: DevTools' current "3G" preset (called "Slow 3G"
  before Chrome 118): 2000 ms request latency (400 ms RTT x 5), 400 kbit/s down and up
  (500 kbit/s x 0.8 = 50,000 bytes/s); ``--latency-ms`` chooses another latency, and the
  older, kinder figure of 400 ms is measured as a second profile;
- ``Emulation.setCPUThrottlingRate`` rate 4.

Chromium offers Brotli over HTTPS and to 127.0.0.1 (a trustworthy origin), so the page
gets the Brotli copies here as a phone does over HTTPS; one variant asks for gzip only
(as a browser does over plain HTTP), one for ``identity`` (nothing compressed, as before
the engine files were precompressed).

Measured, each ``--runs`` times in a fresh browser context (empty cache), medians kept:

(a) **interactive**: from the navigation's start (``performance.timeOrigin``) until the
    form's first question (the consent question, ``select_one yes_no``) shows its radio
    inputs, every one of them visible (non-zero box, not ``visibility: hidden``) and not
    disabled; read from ``performance.now()`` in the page;
(b) **bytes**: the sum of ``encodedDataLength`` over CDP ``Network.loadingFinished``
    for the page's requests until interactive (compressed bytes on the wire, headers
    included), with a per-file list; and the response bytes the server sent in all
    (counted in the ASGI server), which also covers the service worker's precaching of
    every engine file (the map chunk too), which the page's CDP session does not see;
(c) **offline second load**: once the page says it is kept for offline use
    (``document.documentElement.dataset.offlineReady``, set when the service worker
    answers its "keep-offline" message), the context goes offline (Playwright
    ``set_offline``) and the same URL is opened again, still with the CPU x4:
    interactive as in (a).

The alternatives: the same page without any throttling, and the site's plain
server-rendered ``/login`` page under the same throttling (interactive: its user-name
field visible and enabled). Targets (issue 17): interactive < 5 s, < 1 MB compressed,
offline second load < 1 s. Writes bench/results/webform.json.

    python bench/webform.py [--runs 3] [--latency-ms 2000] [--kbps 400] [--cpu 4]
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import uvicorn

sys.path.insert(0, str(Path(__file__).parent))
from _common import write_results
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, sync_playwright
from rich.console import Console
from rich.table import Table
from starlette.middleware.gzip import GZipMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from citizendata.config import Settings
from citizendata.demo import _setup, kenya_spec
from citizendata.scenarios.kenya_maternal_health import FORM_PATH
from citizendata.scenarios.kenya_maternal_health import project as kp
from citizendata.server.app import create_app
from citizendata.workspace import Workspace

CHROMIUM = "/usr/bin/chromium"
TARGET_INTERACTIVE_MS = 5000.0
TARGET_BYTES = 1_000_000
TARGET_OFFLINE_MS = 1000.0
DEVICE = "Pixel 5"

# the form's first question: every radio input of the first radio group on the page is
# visible and enabled (the consent question of the Kenya form)
FORM_READY = """() => {
  const first = document.querySelector('#webform input[type=radio]');
  if (!first) return false;
  const group = Array.from(document.querySelectorAll('#webform input[type=radio]'))
    .filter((r) => r.name === first.name);
  const shown = (el) => { const b = el.getBoundingClientRect();
    return b.width > 0 && b.height > 0 && getComputedStyle(el).visibility !== 'hidden'; };
  return group.length >= 2 && group.every((r) => !r.disabled && shown(r))
    ? performance.now() : false;
}"""
LOGIN_READY = """() => {
  const u = document.querySelector('input[name=username]');
  if (!u || u.disabled) return false;
  const b = u.getBoundingClientRect();
  return b.width > 0 && b.height > 0 ? performance.now() : false;
}"""


# -- the server ----------------------------------------------------------------------------
class ByteCounter:
    """ASGI wrapper: counts the response bytes (status line and headers approximated,
    bodies exact) the server sends, per path."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.by_path: dict[str, int] = defaultdict(int)
        self.lock = threading.Lock()

    def reset(self) -> None:
        with self.lock:
            self.by_path.clear()

    def total(self) -> int:
        with self.lock:
            return sum(self.by_path.values())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"]

        async def counted(message: Message) -> None:
            n = 0
            if message["type"] == "http.response.start":
                n = 17 + sum(len(k) + len(v) + 4 for k, v in message.get("headers", []))
            elif message["type"] == "http.response.body":
                n = len(message.get("body", b""))
            with self.lock:
                self.by_path[path] += n
            await send(message)

        await self.app(scope, receive, counted)


@contextmanager
def serve(app: ASGIApp) -> Iterator[str]:
    """``app`` over real HTTP on a free port of 127.0.0.1; yields its base URL."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port,
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


def kenya_workspace(root: Path) -> tuple[Workspace, str, str, dict[str, str]]:
    """The Kenya demo with its form: (workspace, project slug, form id, collector)."""
    ws = Workspace(Settings(workspace=root / "ws", database_url=None))
    owner = _setup(ws)
    slug = kenya_spec().slug
    if not owner.forms(slug):
        owner.add_form(slug, FORM_PATH.read_bytes(), "form.xlsx")
    form_id = owner.forms(slug)[0].form_id
    collector = next(u for u in kp.DEMO_USERS if u["role"] == "collector")
    return ws, slug, form_id, collector


# -- one load --------------------------------------------------------------------------
def log_in(ctx: BrowserContext, base: str, user: dict[str, str]) -> None:
    """Log in through the log-in form with the context's HTTP client (sets the session
    cookie; the browser's cache stays empty)."""
    page = ctx.request.get(f"{base}/login").text()
    token = re.search(r'name="csrf" value="([^"]+)"', page)
    assert token, "no CSRF token on /login"
    r = ctx.request.post(f"{base}/login", form={
        "username": user["username"], "password": user["password"], "csrf": token.group(1),
        "next": "/projects"}, max_redirects=0)
    assert r.status in (302, 303) and "/login" not in r.headers.get("location", ""), \
        f"log-in as {user['username']} failed ({r.status})"


class Wire:
    """The page's requests as CDP reports them: encoded bytes per URL."""

    def __init__(self) -> None:
        self.urls: dict[str, str] = {}
        self.from_sw: set[str] = set()
        self.bytes: dict[str, float] = {}
        self.failed: list[str] = []

    def on_response(self, ev: dict[str, Any]) -> None:
        self.urls[ev["requestId"]] = ev["response"]["url"]
        if ev["response"].get("fromServiceWorker"):
            self.from_sw.add(ev["requestId"])

    def on_finished(self, ev: dict[str, Any]) -> None:
        self.bytes[ev["requestId"]] = float(ev.get("encodedDataLength", 0))

    def on_failed(self, ev: dict[str, Any]) -> None:
        self.failed.append(ev.get("errorText", "?"))

    def total(self) -> int:
        return int(sum(self.bytes.values()))

    def files(self) -> dict[str, int]:
        out: dict[str, int] = defaultdict(int)
        for rid, n in self.bytes.items():
            url = self.urls.get(rid, "?")
            if url.startswith("data:"):
                continue
            out[urlsplit(url).path + (" (service worker)" if rid in self.from_sw else "")] += int(n)
        return dict(sorted(out.items(), key=lambda kv: -kv[1]))


def throttle(page: Page, ctx: BrowserContext, net: dict[str, Any] | None, cpu: float
             ) -> tuple[Any, Wire]:
    cdp = ctx.new_cdp_session(page)
    wire = Wire()
    cdp.on("Network.responseReceived", wire.on_response)
    cdp.on("Network.loadingFinished", wire.on_finished)
    cdp.on("Network.loadingFailed", wire.on_failed)
    cdp.send("Network.enable")
    cdp.send("Network.clearBrowserCache")
    if net:
        cdp.send("Network.emulateNetworkConditions", {"offline": False, **net})
    if cpu > 1:
        cdp.send("Emulation.setCPUThrottlingRate", {"rate": cpu})
    return cdp, wire


def until(page: Page, ready: str, timeout_ms: float = 180_000) -> float:
    """Milliseconds from the navigation's start until ``ready`` holds."""
    handle = page.wait_for_function(ready, polling=50, timeout=timeout_ms)
    return round(float(handle.json_value()), 1)


@dataclass(frozen=True)
class Variant:
    """One way of loading a page: which server, what the browser accepts, which profile."""

    key: str
    label: str
    page: str = "fill"              # or "login"
    server: str = "app"  # or "gzip-all": the bench's GZipMiddleware around the app
    accept_encoding: str | None = None  # None: what Chromium sends over plain HTTP
    net: dict[str, Any] | None = None
    cpu: float = 1.0
    offline_again: bool = False


def new_context(browser: Browser, pw: Playwright, v: Variant) -> BrowserContext:
    extra = {"Accept-Encoding": v.accept_encoding} if v.accept_encoding else None
    return browser.new_context(**pw.devices[DEVICE], extra_http_headers=extra)


def load_fill(browser: Browser, pw: Playwright, base: str, counter: ByteCounter, url: str,
              user: dict[str, str], v: Variant) -> dict[str, Any]:
    """One first load of the fill page with an empty cache; then, if asked, the second
    load offline from the service worker."""
    ctx = new_context(browser, pw, v)
    try:
        log_in(ctx, base, user)
        page = ctx.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        _, wire = throttle(page, ctx, v.net, v.cpu)
        counter.reset()
        page.goto(base + url, wait_until="commit", timeout=180_000)
        first = until(page, FORM_READY)
        bytes_interactive, files = wire.total(), wire.files()
        # the page asks the service worker to keep it once the worker controls it
        page.wait_for_function("() => document.documentElement.dataset.offlineReady",
                               polling=100, timeout=300_000)
        page.wait_for_load_state("networkidle", timeout=300_000)
        row: dict[str, Any] = {
            "interactive_ms": first, "page_bytes_until_interactive": bytes_interactive,
            "page_bytes_after_settling": wire.total(), "server_bytes_sent": counter.total(),
            "offline_ready": page.evaluate("() => document.documentElement.dataset.offlineReady"),
            "files_until_interactive": files,
            "server_bytes_by_path": dict(sorted(counter.by_path.items(),
                                                key=lambda kv: -kv[1])),
            "page_errors": errors}
        if v.offline_again:
            ctx.set_offline(True)
            wire2 = Wire()
            cdp2 = ctx.new_cdp_session(page)
            cdp2.on("Network.loadingFinished", wire2.on_finished)
            cdp2.send("Network.enable")
            page.goto(base + url, wait_until="commit", timeout=60_000)
            row["offline_interactive_ms"] = until(page, FORM_READY, 60_000)
            row["offline_page_bytes_on_wire"] = wire2.total()
        return row
    finally:
        ctx.close()


def load_login(browser: Browser, pw: Playwright, base: str, v: Variant) -> dict[str, Any]:
    """The plain server-rendered /login page, first load, same profile."""
    ctx = new_context(browser, pw, v)
    try:
        page = ctx.new_page()
        _, wire = throttle(page, ctx, v.net, v.cpu)
        page.goto(base + "/login", wait_until="commit", timeout=120_000)
        ms = until(page, LOGIN_READY, 120_000)
        page.wait_for_load_state("load", timeout=120_000)
        return {"interactive_ms": ms, "page_bytes_until_interactive": wire.total(),
                "files_until_interactive": wire.files()}
    finally:
        ctx.close()


def median_of(rows: list[dict[str, Any]], key: str) -> float | None:
    values = [r[key] for r in rows if r.get(key) is not None]
    return round(statistics.median(values), 1) if values else None


def plan(slow: dict[str, Any], slow_400: dict[str, Any], cpu: float) -> list[Variant]:
    return [
        Variant("fill_slow3g", "fill: 3G, CPU x4, as served (Brotli engine files)",
                net=slow, cpu=cpu, offline_again=True),
        Variant("fill_slow3g_gzip", "fill: 3G, CPU x4, as served to a browser taking gzip only",
                accept_encoding="gzip, deflate", net=slow, cpu=cpu),
        Variant("fill_slow3g_gzip_all", "fill: 3G, CPU x4, page and XForm gzipped too "
                "(bench wrapper)", server="gzip-all", net=slow, cpu=cpu),
        Variant("fill_slow3g_identity", "fill: 3G, CPU x4, nothing compressed",
                accept_encoding="identity", net=slow, cpu=cpu),
        Variant("fill_400ms", "fill: 400 ms latency, 400 kbit/s, CPU x4, as served",
                net=slow_400, cpu=cpu),
        Variant("fill_unthrottled", "fill: no throttling, as served", offline_again=True),
        Variant("login_slow3g", "/login: 3G, CPU x4", page="login", net=slow, cpu=cpu),
        Variant("login_unthrottled", "/login: no throttling", page="login"),
    ]


def main() -> None:
    """Set up, serve, load each variant ``--runs`` times, write the results."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--latency-ms", type=float, default=2000.0,
                    help="request latency (DevTools' 3G preset: 2000)")
    ap.add_argument("--kbps", type=float, default=400.0, help="down and up, kbit/s")
    ap.add_argument("--cpu", type=float, default=4.0, help="CPU slowdown")
    ap.add_argument("--only", nargs="*", default=None, help="variant keys to run")
    args = ap.parse_args()
    rate = args.kbps * 1000 / 8
    slow = {"latency": args.latency_ms, "downloadThroughput": rate, "uploadThroughput": rate,
            "connectionType": "cellular3g"}
    slow_400 = {**slow, "latency": 400.0}
    variants = [v for v in plan(slow, slow_400, args.cpu)
                if args.only is None or v.key in args.only]
    load_before = [round(x, 1) for x in os.getloadavg()]
    out: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        ws, slug, form_id, user = kenya_workspace(Path(tmp))
        url = f"/projects/{slug}/forms/{form_id}/fill"
        app = create_app(ws)
        counters = {"app": ByteCounter(app),
                    "gzip-all": ByteCounter(GZipMiddleware(app, minimum_size=500))}
        with serve(counters["app"]) as base, serve(counters["gzip-all"]) as zbase, \
                sync_playwright() as pw:
            bases = {"app": base, "gzip-all": zbase}
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=[
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"])
            for v in variants:
                rows = []
                for i in range(args.runs):
                    if v.page == "fill":
                        row = load_fill(browser, pw, bases[v.server], counters[v.server], url,
                                        user, v)
                    else:
                        row = load_login(browser, pw, bases[v.server], v)
                    rows.append(row)
                    print(f"{v.label} #{i + 1}: interactive {row['interactive_ms']:,.0f} ms, "
                          f"{row['page_bytes_until_interactive']:,} bytes"
                          + (f", offline again {row['offline_interactive_ms']:,.0f} ms"
                             if "offline_interactive_ms" in row else ""), flush=True)
                entry: dict[str, Any] = {"label": v.label, "accept_encoding": v.accept_encoding
                                         or "Chromium's own (br, gzip on loopback)",
                                         "server": v.server, "network": v.net, "cpu": v.cpu}
                for key in ("interactive_ms", "page_bytes_until_interactive",
                            "page_bytes_after_settling", "server_bytes_sent",
                            "offline_interactive_ms"):
                    m = median_of(rows, key)
                    if m is not None:
                        entry["median_" + key] = m
                entry["runs"] = rows
                out[v.key] = entry
            browser.close()
        ws.close()
    load = {"before": load_before, "after": [round(x, 1) for x in os.getloadavg()],
            "cpus": os.cpu_count()}
    write(out, args, slow, slow_400, load)


def _ratio(a: dict[str, Any] | None, b: dict[str, Any] | None, key_a: str,
           key_b: str | None = None) -> float | None:
    if not a or not b or a.get(key_a) is None or b.get(key_b or key_a) in (None, 0):
        return None
    return round(a[key_a] / b[key_b or key_a], 2)


def write(variants: dict[str, dict[str, Any]], args: argparse.Namespace,
          slow: dict[str, Any], slow_400: dict[str, Any], load: dict[str, Any]) -> None:
    g = variants.get
    t, b = "median_interactive_ms", "median_page_bytes_until_interactive"
    o = "median_offline_interactive_ms"
    ratios = {
        "fill_3g_over_fill_unthrottled": _ratio(g("fill_slow3g"), g("fill_unthrottled"), t),
        "fill_3g_over_login_3g": _ratio(g("fill_slow3g"), g("login_slow3g"), t),
        "fill_unthrottled_over_login_unthrottled": _ratio(g("fill_unthrottled"),
                                                          g("login_unthrottled"), t),
        "bytes_uncompressed_over_br": _ratio(g("fill_slow3g_identity"), g("fill_slow3g"), b),
        "bytes_gzip_over_br": _ratio(g("fill_slow3g_gzip"), g("fill_slow3g"), b),
        "bytes_as_served_over_page_and_xform_gzipped": _ratio(g("fill_slow3g"),
                                                              g("fill_slow3g_gzip_all"), b),
        "time_uncompressed_over_br_3g": _ratio(g("fill_slow3g_identity"), g("fill_slow3g"), t),
        "time_gzip_over_br_3g": _ratio(g("fill_slow3g_gzip"), g("fill_slow3g"), t),
        "time_2000ms_over_400ms_latency": _ratio(g("fill_slow3g"), g("fill_400ms"), t),
        "offline_second_load_over_unthrottled_first_load": _ratio(
            g("fill_slow3g"), g("fill_unthrottled"), o, t),
    }
    best = g("fill_slow3g") or {}
    targets = {
        "interactive_ms": TARGET_INTERACTIVE_MS, "bytes_compressed": TARGET_BYTES,
        "offline_second_load_ms": TARGET_OFFLINE_MS,
        "interactive_met_3g": (best.get(t) or 1e9) < TARGET_INTERACTIVE_MS,
        "bytes_met_br": best.get(b, 1e9) < TARGET_BYTES,
        "bytes_met_gzip": (g("fill_slow3g_gzip") or {}).get(b, 1e9) < TARGET_BYTES,
        "offline_met": (g("fill_slow3g") or {}).get(o, 1e9) < TARGET_OFFLINE_MS,
    }
    summary = [{"variant": k, "interactive_ms": v.get(t), "bytes": v.get(b),
                "server_bytes": v.get("median_server_bytes_sent"), "offline_ms": v.get(o)}
               for k, v in variants.items()]
    write_results("webform", {
        "device": DEVICE, "runs": args.runs, "cpu_slowdown": args.cpu,
        "load_average_1_5_15_min": load,
        "network_3g": {**slow, "note": "DevTools' '3G' (formerly 'Slow 3G') preset: latency "
                       "400 ms x 5, 500 kbit/s x 0.8; throughput in bytes/s"},
        "network_400ms": slow_400,
        "interactive": "the form's first question (consent, select_one) shows all its radio "
                       "inputs visible and enabled; ms from the navigation's start",
        "bytes": "sum of CDP Network.loadingFinished encodedDataLength of the page's own "
                 "requests until interactive (compressed bytes on the wire, headers "
                 "included); server_bytes_sent counts every response body and header the "
                 "server sent for the load, the service worker's precache included",
        "targets": targets, "ratios": ratios, "summary": summary, "variants": variants},
        ["device", "runs", "cpu_slowdown"], "Web form on a phone")
    table = Table("variant", "interactive ms", "page bytes", "server bytes", "offline ms",
                  title="Web form on a phone (medians)")
    for r in summary:
        table.add_row(r["variant"], f"{r['interactive_ms']:,.0f}", f"{r['bytes']:,.0f}",
                      f"{r['server_bytes']:,.0f}" if r["server_bytes"] else "-",
                      f"{r['offline_ms']:,.0f}" if r["offline_ms"] else "-")
    Console(width=140).print(table)
    table = Table("ratio", "value", title="Ratios")
    for k, val in ratios.items():
        table.add_row(k, str(val))
    Console().print(table)


if __name__ == "__main__":
    main()
