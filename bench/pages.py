"""Benchmark: how long every server page takes, as each demo role and the public see them.

Two workspaces: the Kenya demo (built with `build_demo`, or reused when the folder
already holds one) and one with 100,000 submissions of the same form (loaded through
the bulk path, `services.bulk.import_table`, then approved in bulk as the demo's
validator; validation is not run on it). Each is served in-process (Starlette's
TestClient over the real app). For the public and for each demo login, the benchmark
logs in through the login form and CRAWLS every same-origin GET link reachable from
``/`` and ``/projects`` (HTML pages only; downloads, files, the API, OpenRosa, OData,
static files and log-out are skipped), up to ``--max-urls`` pages per login. Each page
found is then requested ``--repeat`` times; times are grouped by the page's template
path (ids, slugs, versions and query values replaced by placeholders) into p50 and p95.
Pages added later are measured without changing this file.

The alternatives, timed the same way: ``/healthz`` (the app's cheapest route: routing,
middleware, JSON) and ``/login`` (a page rendered from a template with no data).
Target: p95 < 300 ms for every page. Writes bench/results/pages.json.

    python bench/pages.py [--demo PATH] [--demo-n 5000] [--big PATH] [--big-n 100000]
                          [--repeat 5] [--max-urls 200]
"""

from __future__ import annotations

import argparse
import hashlib
import io
import re
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from html import unescape
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit

import pyarrow as pa

sys.path.insert(0, str(Path(__file__).parent))
from _common import write_results
from rich.console import Console
from rich.table import Table
from starlette.testclient import TestClient

from citizendata.demo import DEMO_ADMIN, build_demo, demo_logins, kenya_spec
from citizendata.scenarios.kenya_maternal_health import FORM_PATH
from citizendata.scenarios.kenya_maternal_health import project as kp
from citizendata.server.app import create_app
from citizendata.services import bulk
from citizendata.snapshot import synthetic_batches
from citizendata.workspace import Workspace

TARGET_MS = 300.0
SLUG = kp.PROJECT["slug"]
HTML = {"accept": "text/html,application/xhtml+xml"}
SKIP_PREFIXES = ("/static/", "/api/", "/openrosa", "/odata", "/logout", "/docs", "/redoc",
                 "/openapi", "/healthz")
SKIP_WORDS = ("download", "export", "/attachments/", "/files/", "formList", "manifest",
              "form.xml", ".svc")
FILE_ENDINGS = (".csv", ".parquet", ".json", ".xml", ".zip", ".geojson", ".png", ".jpg",
                ".jpeg", ".svg", ".pdf", ".xlsx", ".xls", ".txt", ".gz", ".js", ".css")
# a path segment after one of these names is an id of that kind
KINDS = {"projects": "{slug}", "forms": "{form}", "releases": "{version}",
         "estimates": "{indicator}", "submissions": "{instance_id}", "jobs": "{id}",
         "indicators": "{indicator}", "duplicates": "{pair}", "members": "{user}",
         "reference": "{table}", "users": "{user}"}
HREF = re.compile(r'href="([^"]+)"')


# -- workspaces ---------------------------------------------------------------------------
def demo_workspace(path: Path, n: int) -> Workspace:
    """The demo workspace at ``path``: reused when it already holds one, else built."""
    if path.exists() and Workspace.open(path).has_users():
        return Workspace.open(path)
    ws, _ = build_demo(path, n=n, console=Console(file=io.StringIO()))
    return ws


def big_workspace(path: Path, n: int) -> Workspace:
    """A workspace with ``n`` Kenya submissions, all approved, and the demo's logins."""
    ws = Workspace.open(path)
    if ws.has_users():
        return ws
    t0 = time.perf_counter()
    admin = ws.create_admin(DEMO_ADMIN["username"], DEMO_ADMIN["password"])
    for u in kp.DEMO_USERS:
        admin.create_user(u["username"], u["password"])
    org = kenya_spec().initiator
    admin.create_organisation(org.slug, org.name, kind=org.kind, country=org.country)
    owner_name = next(u["username"] for u in kp.DEMO_USERS if u["role"] == "owner")
    admin.add_organisation_member(org.slug, owner_name, "owner")
    owner = ws.as_user(owner_name)
    owner.create_project(kenya_spec())
    for u in kp.DEMO_USERS:
        if u["role"] != "owner":
            owner.add_member(SLUG, u["username"], u["role"])
    version = owner.add_form(SLUG, FORM_PATH)
    row = 2
    for batch in synthetic_batches(n, version.schema, batch_size=25_000):
        payload = batch.column("payload")
        k = batch.num_rows
        staged = pa.table({
            "row": pa.array(range(row, row + k), pa.int64()),
            "instance_id": batch.column("_instance_id"),
            "payload": payload,
            "content_hash": pa.array([hashlib.sha256(p.encode()).hexdigest()
                                      for p in payload.to_pylist()]),
            "collected_at": batch.column("_collected_at"),
            "form_version": pa.nulls(k, pa.string()),
            "source_meta": pa.repeat(pa.scalar("{}"), k),
        })
        row += k
        ws.run(lambda db, t=staged: bulk.import_table(db, owner.actor, SLUG, version.form_id,
                                                       t, channel="bench"))
    validator = ws.as_user(next(u["username"] for u in kp.DEMO_USERS if u["role"] == "validator"))
    rows, _ = validator.review_queue(SLUG, version.form_id, statuses=("received",), limit=10**7)
    ids = [r["instance_id"] for r in rows]
    for i in range(0, len(ids), 10_000):
        validator.decide(SLUG, version.form_id, ids[i:i + 10_000], "approved",
                         comment="bench: approved in bulk")
    print(f"loaded and approved {n:,} submissions in {time.perf_counter() - t0:.0f} s")
    return ws


# -- crawling -------------------------------------------------------------------------------
def template_of(url: str) -> str:
    """The page's template path: ids after a known collection name, numbers and query
    values replaced by placeholders."""
    parts = urlsplit(url)
    segs = parts.path.strip("/").split("/") if parts.path.strip("/") else []
    out: list[str] = []
    for i, s in enumerate(segs):
        before = segs[i - 1] if i else ""
        if segs[:2] == ["public", "releases"] and i in (2, 3):
            out.append("{slug}" if i == 2 else "{version}")
        elif before in KINDS and s not in KINDS and not s.startswith("new"):
            out.append(KINDS[before])
        elif s.isdigit():
            out.append("{n}")
        else:
            out.append(s)
    path = "/" + "/".join(out)
    if parts.query:
        path += "?" + "&".join(sorted({k for k, _ in parse_qsl(parts.query)}))
    return path


def _wanted(href: str, here: str) -> str | None:
    href = unescape(href.strip())
    if not href or href.startswith(("#", "mailto:", "tel:", "javascript:", "data:")):
        return None
    url = urlsplit(urljoin("http://testserver" + here, href))
    if url.netloc != "testserver":
        return None
    path = url.path
    if path.startswith(SKIP_PREFIXES) or any(w in path for w in SKIP_WORDS):
        return None
    if path.lower().endswith(FILE_ENDINGS):
        return None
    query = dict(parse_qsl(url.query))
    query.pop("lang", None)  # the language switch: the same page
    return path + ("?" + urlencode(query) if query else "")


def crawl(http: TestClient, max_urls: int) -> list[str]:
    """Every HTML page reachable from / and /projects, breadth first."""
    queue, seen, pages = ["/", "/projects"], {"/", "/projects"}, []
    per_template: dict[str, int] = defaultdict(int)
    while queue and len(pages) < max_urls:
        url = queue.pop(0)
        r = http.get(url)
        if r.is_redirect:
            target = _wanted(r.headers.get("location", ""), url)
            if target and target not in seen and "/login" not in target:
                seen.add(target)
                queue.append(target)
            continue
        if r.status_code != 200 or "text/html" not in r.headers.get("content-type", ""):
            continue
        pages.append(url)
        for href in HREF.findall(r.text):
            target = _wanted(href, url)
            if target is None or target in seen:
                continue
            seen.add(target)
            # a few examples of each template are enough (100,000 submission links)
            if per_template[template_of(target)] < 3:
                per_template[template_of(target)] += 1
                queue.append(target)
    return pages


def log_in(http: TestClient, username: str, password: str) -> None:
    page = http.get("/login").text
    token = re.search(r'name="csrf" value="([^"]+)"', page)
    assert token, "no CSRF token on /login"
    r = http.post("/login", data={"username": username, "password": password,
                                  "csrf": token.group(1), "next": "/projects"})
    assert r.status_code in (302, 303) and "/login" not in r.headers.get("location", ""), \
        f"log-in as {username} failed ({r.status_code})"


def timed(http: TestClient, url: str, repeat: int) -> list[float]:
    out = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        r = http.get(url)
        out.append((time.perf_counter() - t0) * 1000)
        assert r.status_code < 500, f"{url}: {r.status_code}"
    return out


def _p(values: list[float], q: float) -> float:
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


def measure(ws: Workspace, label: str, repeat: int, max_urls: int) -> dict[str, Any]:
    """Crawl and time every page of one workspace for the public and each demo login."""
    app = create_app(ws)
    samples: dict[str, list[float]] = defaultdict(list)
    roles: dict[str, set[str]] = defaultdict(set)
    examples: dict[str, str] = {}
    base: dict[str, list[float]] = {"/healthz": [], "/login": []}
    logins = [{"username": "", "password": "", "role": "public"}, *demo_logins()]
    for login in logins:
        with TestClient(app, follow_redirects=False, headers=HTML) as http:
            if login["username"]:
                log_in(http, login["username"], login["password"])
            else:
                for url in base:  # the alternatives, as the public asks for them
                    base[url] += timed(http, url, repeat * 4)
            pages = crawl(http, max_urls)
            for url in pages:
                t = template_of(url)
                samples[t] += timed(http, url, repeat)
                roles[t].add(login["role"])
                examples.setdefault(t, url)
            print(f"{label}: {login['role']}: {len(pages)} page(s)")
    healthz_p95 = _p(base["/healthz"], 95)
    login_p95 = _p(base["/login"], 95)
    rows = []
    for t, v in sorted(samples.items()):
        p95 = _p(v, 95)
        rows.append({"workspace": label, "template": t, "example": examples[t],
                     "requests": len(v), "p50_ms": round(_p(v, 50), 1), "p95_ms": round(p95, 1),
                     "over_healthz": round(p95 / healthz_p95, 1),
                     "over_login_page": round(p95 / login_p95, 1),
                     "meets_target": p95 < TARGET_MS, "roles": sorted(roles[t])})
    return {"pages": rows, "healthz_p95_ms": round(healthz_p95, 2),
            "healthz_p50_ms": round(_p(base["/healthz"], 50), 2),
            "login_page_p95_ms": round(login_p95, 2),
            "login_page_p50_ms": round(_p(base["/login"], 50), 2)}


def _submissions(ws: Workspace) -> int:
    owner = next(u["username"] for u in kp.DEMO_USERS if u["role"] == "owner")
    return sum(f.submissions for f in ws.as_user(owner).forms(SLUG))


def main() -> None:
    """Build or reuse the two workspaces, crawl, time, write bench/results/pages.json."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--demo", type=Path, default=None, help="demo workspace (reused if built)")
    ap.add_argument("--demo-n", type=int, default=5000)
    ap.add_argument("--big", type=Path, default=None, help="big workspace (reused if loaded)")
    ap.add_argument("--big-n", type=int, default=100_000)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--max-urls", type=int, default=200)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        demo_path = args.demo or Path(tmp) / "demo"
        big_path = args.big or Path(tmp) / "big"
        ws = demo_workspace(demo_path, args.demo_n)
        demo_subs = _submissions(ws)
        demo = measure(ws, "demo", args.repeat, args.max_urls)
        ws.close()
        ws = big_workspace(big_path, args.big_n)
        big_subs = _submissions(ws)
        big = measure(ws, f"{big_subs:,} submissions", args.repeat, args.max_urls)
        ws.close()
    rows = demo["pages"] + big["pages"]
    missing = [f"{r['workspace']}: {r['template']} p95 {r['p95_ms']:.0f} ms"
               for r in rows if not r["meets_target"]]
    write_results("pages", {
        "target_p95_ms": TARGET_MS, "repeat": args.repeat,
        "workspaces": {"demo": {"submissions": demo_subs, **demo},
                       "big": {"submissions": big_subs, **big}},
        "pages_measured": len(rows), "pages_over_target": missing,
        "results": rows},
        ["pages_measured", "target_p95_ms"], "Page times (ms)")
    table = Table("workspace", "template", "n", "p50 ms", "p95 ms", "× healthz", "× /login",
                  "< 300 ms", title="Page times: p50 and p95 per template path")
    for r in rows:
        table.add_row(r["workspace"], r["template"], str(r["requests"]), f"{r['p50_ms']:.1f}",
                      f"{r['p95_ms']:.1f}", f"{r['over_healthz']:.1f}",
                      f"{r['over_login_page']:.1f}", "yes" if r["meets_target"] else "NO")
    Console(width=160).print(table)
    print(f"healthz p95: demo {demo['healthz_p95_ms']} ms, big {big['healthz_p95_ms']} ms; "
          f"/login p95: demo {demo['login_page_p95_ms']} ms, big {big['login_page_p95_ms']} ms")


if __name__ == "__main__":
    main()
