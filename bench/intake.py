"""Benchmark: single-submission JSON intake over HTTP, 8 concurrent clients for 30 s.

Runs `citizendata serve` in its own process on SQLite and on PostgreSQL, drives it
from this process with 8 concurrent HTTP clients (one submission per request, Kenya
scenario payloads, bearer token), and compares with the obvious alternative in the
same run: the library call (`Client.submit`) in-process, one submission at a time.
Writes bench/results/intake.json: one entry per backend with backend,
submissions_per_s, p99_ms, errors. Target: ≥ 500 submissions/s and p99 < 100 ms.

    python bench/intake.py [--seconds 30] [--clients 8] [--backends sqlite,postgresql]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from _common import drop_postgres, fresh_postgres, write_results

from citizendata.demo import kenya_spec
from citizendata.scenarios.kenya_maternal_health import FORM_PATH, generate
from citizendata.workspace import Workspace

SLUG = "kenya-maternal-health"
FORM = "kenya_maternal_health"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _setup(path: Path, url: str | None) -> str:
    ws = Workspace.open(path, database_url=url)
    me = ws.create_admin("bench", "bench-password")
    me.create_project(kenya_spec())
    me.add_form(SLUG, FORM_PATH)
    token = me.create_token("bench")
    ws.close()
    return token


async def _client(port: int, token: str, items: list[bytes], until: float,
                  lat: list[float], errors: list[int]) -> None:
    # a minimal keep-alive HTTP/1.1 client: httpx's own overhead (~2.5 ms a request here)
    # would otherwise be what this benchmark measures
    path = f"/api/v1/projects/{SLUG}/forms/{FORM}/submissions"
    head = (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n"
            "Content-Type: application/json\r\nContent-Length: ").encode()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        while items and time.perf_counter() < until:
            body = items.pop()
            t0 = time.perf_counter()
            writer.write(head + str(len(body)).encode() + b"\r\n\r\n" + body)
            await writer.drain()
            status_line, _, rest = (await reader.readuntil(b"\r\n\r\n")).partition(b"\r\n")
            length = next((int(h.split(b":", 1)[1]) for h in rest.split(b"\r\n")
                           if h.lower().startswith(b"content-length:")), 0)
            await reader.readexactly(length)
            lat.append(time.perf_counter() - t0)
            if status_line.split()[1] not in (b"200", b"201"):
                errors.append(1)
    finally:
        writer.close()


async def _drive(port: int, token: str, items: list[bytes], seconds: float, clients: int
                 ) -> tuple[float, list[float], int]:
    lat: list[float] = []
    errors: list[int] = []
    start = time.perf_counter()
    until = start + seconds
    await asyncio.gather(*[_client(port, token, items, until, lat, errors)
                           for _ in range(clients)])
    return time.perf_counter() - start, lat, len(errors)


def _serve(path: Path, url: str | None, port: int, workers: int) -> subprocess.Popen[bytes]:
    env = dict(os.environ)
    if url:
        env["CITIZENDATA_DATABASE_URL"] = url
    proc = subprocess.Popen([sys.executable, "-m", "citizendata.cli", "serve", "-w", str(path),
                             "--port", str(port), "--workers", str(workers)], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    for _ in range(200):
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit(f"server did not start: {proc.stderr.read().decode() if proc.stderr else ''}")


def _library_rate(path: Path, url: str | None, items: list[bytes], n: int) -> float:
    ws = Workspace.open(path, database_url=url)
    me = ws.as_user("bench")
    t0 = time.perf_counter()
    for body in items[:n]:
        me.submit(SLUG, FORM, body)
    ws.close()
    return n / (time.perf_counter() - t0)


def run_backend(name: str, url: str | None, bodies: list[bytes], seconds: float, clients: int,
                workers: int) -> dict[str, Any]:
    """One backend: serve, drive over HTTP, then the in-process library baseline."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "ws"
        token = _setup(path, url)
        port = _free_port()
        proc = _serve(path, url, port, workers)
        try:
            items = list(bodies)
            elapsed, lat, errors = asyncio.run(
                _drive(port, token, items, seconds, clients))
        finally:
            proc.terminate()
            proc.wait(timeout=30)
        sent = len(lat)
        rest = items[: min(len(items), 2000)]
        lib = _library_rate(path, url, rest, len(rest)) if rest else float("nan")
    ms = np.array(lat) * 1000
    rate = (sent - errors) / elapsed
    return {"backend": name, "workers": workers, "clients": clients, "seconds": round(elapsed, 1),
            "submissions": sent - errors, "submissions_per_s": round(rate, 1),
            "p50_ms": round(float(np.percentile(ms, 50)), 1),
            "p99_ms": round(float(np.percentile(ms, 99)), 1), "errors": errors,
            "library_submissions_per_s": round(lib, 1),
            "ratio_http_to_library": round(rate / lib, 2) if lib == lib else None}


def main() -> None:
    """Run the benchmark and write its figures."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--backends", default="sqlite,postgresql")
    ap.add_argument("--pg-workers", type=int, default=2, help="server processes, PostgreSQL")
    ap.add_argument("--sqlite-workers", type=int, default=1, help="server processes, SQLite")
    args = ap.parse_args()
    n = int(args.seconds * 1500) + 2000
    data = generate(n)
    bodies = [json.dumps(s).encode() for s in data.submissions]
    results = []
    for backend in args.backends.split(","):
        url = None
        if backend == "postgresql":
            url = fresh_postgres("citizendata_bench_intake")
            if url is None:
                continue
        print(f"running {backend} for {args.seconds:.0f} s with {args.clients} clients …")
        workers = args.pg_workers if backend == "postgresql" else args.sqlite_workers
        results.append(run_backend(backend, url, bodies, args.seconds, args.clients, workers))
        if url:
            drop_postgres("citizendata_bench_intake")
    write_results("intake", results, ["backend", "workers", "submissions_per_s", "p50_ms", "p99_ms", "errors",
                                      "library_submissions_per_s", "ratio_http_to_library"],
                  "single-submission JSON intake over HTTP (8 clients)")


if __name__ == "__main__":
    main()
