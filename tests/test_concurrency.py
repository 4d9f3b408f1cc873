"""Analysts using one served workspace at the same time (issue 14, part 2).

A real server (``citizendata serve`` with two worker processes, in a subprocess) over
the Kenya scenario, on SQLite and on PostgreSQL. Eight requests of mixed kinds (four
estimates, two quality records, public microdata and a release build) are sent all at
once to a server that has made no snapshot yet, then one at a time: every answer must
be a success, one snapshot must have been built for all of them, and each answer must
equal its one-at-a-time twin. Before snapshot builds were serialised, 6 (SQLite) and 7
(PostgreSQL) of the eight were server errors, from processes replacing each other's
files.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from citizendata.projects.protection import MicrodataSpec
from citizendata.workspace import Workspace
from conftest import fresh_postgres

pytestmark = pytest.mark.slow

SLUG, FORM = "kenya-maternal-health", "kenya_maternal_health"
BASE = f"/api/v1/projects/{SLUG}"
N = 300  # submissions: enough for every indicator and the release; the count barely
# changes the time of a request, which is what this test is about
AS_OF = "2026-06-30"
CLI = str(Path(sys.executable).parent / "citizendata")
# (who, method, path, body)
REQUESTS: list[tuple[str, str, str, dict[str, Any] | None]] = [
    ("analyst", "POST", f"{BASE}/indicators/sba/estimate", None),
    ("analyst", "POST", f"{BASE}/indicators/wg_disability/estimate", None),
    ("analyst", "GET", f"{BASE}/quality?form={FORM}&indicator=sba", None),
    ("owner", "POST", f"{BASE}/releases", {"as_of": AS_OF}),
    ("analyst", "GET", f"{BASE}/forms/{FORM}/microdata", None),
    ("analyst", "POST", f"{BASE}/indicators/distance/estimate", None),
    ("nso", "GET", f"{BASE}/quality?form={FORM}", None),
    # a part of the declared tables: cut from the same pattern as the whole
    ("analyst", "POST", f"{BASE}/indicators/sba/estimate?by=ward", None),
]
USERS = {"analyst": "wanjiru", "owner": "naserian", "nso": "otieno"}


@pytest.fixture(scope="module", params=["sqlite",
                                        pytest.param("postgresql", marks=pytest.mark.postgres)])
def served(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
           ) -> Iterator[tuple[str, dict[str, str], Path]]:
    """The Kenya demo workspace served by two worker processes: (base URL, tokens, folder)."""
    folder = tmp_path_factory.mktemp(f"served-{request.param}") / "demo"
    env = dict(os.environ)
    with ExitStack() as stack:
        if request.param == "postgresql":
            # the last part is our pid: the storage fixtures drop it if we are killed
            env["CITIZENDATA_DATABASE_URL"] = stack.enter_context(
                fresh_postgres(f"citizendata_test_served_{os.getpid()}"))
        tokens = _prepare(folder, env)
        stack.callback(shutil.rmtree, folder, ignore_errors=True)
        yield stack.enter_context(_server(folder, env)), tokens, folder


def _prepare(folder: Path, env: dict[str, str]) -> dict[str, str]:
    """The Kenya demo's project, users, submissions (reviewed) and reference tables at
    ``folder``, on the database ``env`` names; the users' tokens. (The analyses that
    ``citizendata demo`` runs after this are what the test asks the server for.)"""
    from citizendata import demo
    from citizendata.scenarios.kenya_maternal_health import FORM_PATH, generate

    with pytest.MonkeyPatch.context() as mp:
        for k, v in env.items():
            if k.startswith("CITIZENDATA_"):
                mp.setenv(k, v)
        ws = Workspace.open(folder)
    owner = demo._setup(ws)
    spec = demo.kenya_spec()
    # public microdata need declared quasi-identifiers; one indicator keeps the release short
    owner.update_project(spec.model_copy(update={
        "protection": spec.protection.model_copy(update={"microdata": MicrodataSpec(
            k=5, l=1, quasi_identifiers=["county"], fields=["births_count"])}),
        "release": spec.release.model_copy(update={"indicators": ["sba"], "maps": []}),
    }))
    owner.add_form(SLUG, FORM_PATH)
    data = generate(N)
    ws.as_user("lekishon").submit(SLUG, FORM, json.dumps(data.submissions).encode())
    validator = ws.as_user("nkoitoi")
    validator.validate(SLUG, FORM)
    demo._approve_clean(validator, SLUG, FORM)
    demo._add_references(owner, SLUG, data.margins)
    tokens = {who: ws.as_user(name).create_token("concurrency-test")
              for who, name in USERS.items()}
    ws.close()
    return tokens


@contextmanager
def _server(folder: Path, env: dict[str, str]) -> Iterator[str]:
    """``citizendata serve`` with two worker processes on a free port; its base URL."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen([CLI, "serve", "-w", str(folder), "--port", str(port),
                               "--workers", "2"], env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert server.poll() is None, "the server did not start"
            assert time.monotonic() < deadline, "the server did not answer in 2 minutes"
            time.sleep(0.2)
        yield url
    finally:
        server.terminate()
        server.wait(60)


def ask(url: str, tokens: dict[str, str], k: int) -> tuple[int, Any]:
    """Send request ``k`` of REQUESTS; its status and JSON body."""
    who, method, path, body = REQUESTS[k]
    r = httpx.request(method, url + path, json=body, timeout=600,
                      headers={"Authorization": f"Bearer {tokens[who]}"})
    return r.status_code, r.json()


def comparable(body: Any, root: Path) -> Any:
    """An answer without what differs between two identical requests: the time taken, the
    id of the stored run; of a release, its number, folder and time of building."""
    if isinstance(body, dict):
        if "built_at" in body:  # a release: what its files hold, but for its number
            folder = root / "releases" / SLUG / f"v{body['version']}"
            tag = re.compile(rb"\bv%d\b" % body["version"])  # "release v2", not "v2_1"
            manifest = json.loads((folder / "manifest.json").read_text("utf-8"))
            return {"status": body["status"], "as_of": body["as_of"], "files": {
                name: hashlib.sha256(tag.sub(b"v#", (folder / name).read_bytes())).hexdigest()
                for name in manifest["files"]}}
        return {k: comparable(v, root) for k, v in body.items() if k not in {"seconds", "run"}}
    if isinstance(body, list):
        return [comparable(v, root) for v in body]
    return body


def differences(a: Any, b: Any, where: str = "") -> list[str]:
    """Where two answers differ. Floats may differ in the last bits (a database's parallel
    sums are not added in a fixed order), as for a release rebuild: 10 significant digits."""
    if isinstance(a, dict) and isinstance(b, dict):
        if a.keys() != b.keys():
            return [f"{where}: keys {sorted(a.keys() ^ b.keys())}"]
        return [d for k in a for d in differences(a[k], b[k], f"{where}/{k}")]
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return [f"{where}: {len(a)} != {len(b)} items"]
        return [d for i, (x, y) in enumerate(zip(a, b, strict=True))
                for d in differences(x, y, f"{where}[{i}]")]
    if isinstance(a, float) and isinstance(b, float):
        return [] if math.isclose(a, b, rel_tol=1e-10, abs_tol=1e-12) else [f"{where}: {a} {b}"]
    return [] if a == b else [f"{where}: {a!r} != {b!r}"]


def test_eight_mixed_requests_at_once_all_succeed_as_one_at_a_time(
        served: tuple[str, dict[str, str], Path]) -> None:
    url, tokens, folder = served
    # all at once first, on a fresh server: they race for the first snapshot too
    start = threading.Barrier(len(REQUESTS))
    answers: list[tuple[int, Any]] = [(0, None)] * len(REQUESTS)

    def one(k: int) -> None:
        start.wait()
        try:
            answers[k] = ask(url, tokens, k)
        except Exception as exc:  # a dropped connection counts as an error too
            answers[k] = (0, repr(exc))

    threads = [threading.Thread(target=one, args=(k,)) for k in range(len(REQUESTS))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    expected = [201 if m == "POST" and p.endswith("/releases") else 200
                for _, m, p, _ in REQUESTS]
    assert [code for code, _ in answers] == expected, answers
    # two server processes, eight requests, one content: one snapshot built, the rest reused
    events = httpx.get(f"{url}{BASE}/audit",
                       headers={"Authorization": f"Bearer {tokens['owner']}"}).json()["events"]
    built = [e["details"]["built"] for e in events if e["action"] == "snapshot.create"]
    assert built == [True], built

    serial = [ask(url, tokens, k) for k in range(len(REQUESTS))]
    assert [code for code, _ in serial] == expected, serial
    for k, (answer, twin) in enumerate(zip(answers, serial, strict=True)):
        diff = differences(comparable(answer[1], folder), comparable(twin[1], folder))
        assert not diff, f"{REQUESTS[k]}:\n" + "\n".join(diff)
