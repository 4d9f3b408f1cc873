"""Benchmark: analysts using one served workspace at the same time (issue 14).

Serves a Kenya demo workspace (``--workspace``, built with ``citizendata demo --no-serve``
if it is not there; public microdata enabled on the county) with ``citizendata serve``
in a subprocess (``--workers`` uvicorn processes), then fires two bursts: twenty
estimates from four threads (the report in issue 14: four analysts), and sixteen mixed
requests from eight threads (estimates, quality records, public microdata and one
release build), the first burst on a server that finds no snapshot made yet. Counts
the answers by status code (a 5xx or a dropped connection is a
server error) and writes bench/results/concurrency.json.

    python bench/concurrency.py --workspace /tmp/demo [--workers 1,2]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).parent))
from _common import write_results

from citizendata.projects.protection import MicrodataSpec
from citizendata.workspace import Workspace

SLUG = "kenya-maternal-health"
FORM = "kenya_maternal_health"
BASE = f"/api/v1/projects/{SLUG}"
CLI = str(Path(sys.executable).parent / "citizendata")


def free_port() -> int:
    """A TCP port nobody listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def requests_for(mix: str, n: int) -> list[tuple[str, str, str]]:
    """(who, method, path) of each request, in the order they are submitted."""
    est = [("analyst", "POST", f"{BASE}/indicators/{i}/estimate")
           for i in ("sba", "wg_disability", "distance")]
    if mix == "estimates":
        return [est[0]] * n
    kinds = [est[0], ("analyst", "GET", f"{BASE}/quality?form={FORM}&indicator=sba"),
             ("analyst", "GET", f"{BASE}/forms/{FORM}/microdata"), est[1], est[2]]
    out = [kinds[k % len(kinds)] for k in range(n - 1)]
    out.insert(n // 2, ("owner", "POST", f"{BASE}/releases"))
    return out


def fire(url: str, tokens: dict[str, str], mix: str, threads: int, n: int) -> dict[str, Any]:
    """Send ``n`` requests of a mix from ``threads`` threads; the answers counted."""
    todo = requests_for(mix, n)

    def call(item: tuple[str, str, str]) -> tuple[str, int, float]:
        who, method, path = item
        started = time.perf_counter()
        try:
            r = httpx.request(method, url + path, timeout=600,
                              json={} if path.endswith("/releases") else None,
                              headers={"Authorization": f"Bearer {tokens[who]}"})
            code = r.status_code
        except httpx.TransportError:
            code = 0  # a dropped connection is an error too
        return path.rsplit("/", 1)[-1].split("?")[0], code, time.perf_counter() - started

    started = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        answers = list(pool.map(call, todo))
    wall = time.perf_counter() - started
    codes = Counter(code for _, code, _ in answers)
    return {
        "mix": mix, "threads": threads, "requests": len(answers),
        "server_errors": sum(k for c, k in codes.items() if c >= 500 or c == 0),
        "status": " ".join(f"{c}:{k}" for c, k in sorted(codes.items())),
        "by_kind": {k: dict(Counter(c for kk, c, _ in answers if kk == k))
                    for k in sorted({k for k, _, _ in answers})},
        "wall_seconds": round(wall, 1),
        "slowest_seconds": round(max(s for _, _, s in answers), 1),
    }


def serve_and_fire(workspace: Path, workers: int, tokens: dict[str, str]
                   ) -> list[dict[str, Any]]:
    """Serve the workspace with ``workers`` processes and fire both bursts at it (the
    first finds no snapshot: every request needs one made)."""
    shutil.rmtree(workspace / "snapshots", ignore_errors=True)
    port = free_port()
    env = {**os.environ, "CITIZENDATA_WORKSPACE": str(workspace.resolve())}
    server = subprocess.Popen([CLI, "serve", "-w", str(workspace), "--port", str(port),
                               "--workers", str(workers)], env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(600):
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                if server.poll() is not None:
                    raise SystemExit("the server did not start") from None
                time.sleep(0.1)
        return [fire(url, tokens, mix, threads, n) | {"workers": workers}
                for mix, threads, n in (("estimates", 4, 20), ("mixed", 8, 16))]
    finally:
        server.terminate()
        server.wait(30)


def main() -> None:
    """Serve the workspace, fire each mix of requests, print and write the counts."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workspace", type=Path, required=True)
    ap.add_argument("--workers", default="1,2", help="server processes; one run per value")
    args = ap.parse_args()
    if not (args.workspace / "citizendata.db").exists():
        subprocess.run([CLI, "demo", "-w", str(args.workspace), "--no-serve"], check=True)
    ws = Workspace.open(args.workspace)
    owner = ws.as_user("naserian")
    spec = owner.project(SLUG).spec
    owner.update_project(spec.model_copy(update={"protection": spec.protection.model_copy(
        update={"microdata": MicrodataSpec(k=5, l=1, quasi_identifiers=["county"],
                                           fields=["births_count"])})}))
    tokens = {"analyst": ws.as_user("wanjiru").create_token("bench-concurrency"),
              "owner": ws.as_user("naserian").create_token("bench-concurrency")}
    ws.close()
    results = []
    for workers in (int(w) for w in args.workers.split(",")):
        results += serve_and_fire(args.workspace, workers, tokens)
    print(json.dumps(results, indent=2))
    write_results("concurrency", results, ["mix", "workers", "threads", "requests",
                                           "server_errors", "status", "wall_seconds",
                                           "slowest_seconds"],
                  "analysts asking one server at the same time")


if __name__ == "__main__":
    main()
