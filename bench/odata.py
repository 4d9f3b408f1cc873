"""Benchmark: the OData feed's memory while reading every page of 10,000 and 100,000
submissions, against the obvious alternative (every row loaded into a list, then the
whole document written at once).

Loads synthetic submissions of the Kenya maternal-health form (groups, a repeat group
of births) into SQLite, then, each in a fresh child process so the peak is its own:

- ``pages``: follows ``@odata.nextLink`` through pages of 1,000 rows (as Power BI or
  python-odata do with ``Prefer: odata.maxpagesize``);
- ``one_response``: the whole entity set in one streamed response (as Central serves
  Excel);
- ``list``: the alternative: all payloads fetched into a list, every row converted,
  then one ``json.dumps`` of the document.

Memory is measured twice, in separate runs: the peak resident set (``VmHWM``; its
growth over the resident set just before the read leaves out the interpreter, the
libraries and the workspace opened) and the Python heap's peak (tracemalloc), which
leaves out SQLite's page cache and memory-mapped file (bounded by configuration).
Writes bench/results/odata.json.

    python bench/odata.py [--sizes 10000,100000]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
from _common import write_results

SLUG = "kenya-maternal-health"
FORM = "kenya_maternal_health"
PAGE = 1_000


def _status_mb(key: str) -> float:
    """VmRSS (now) or VmHWM (peak) of this process. ru_maxrss is not used: Linux carries
    the parent's peak over fork and exec, so a child would report the loader's."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) / 1024
    return 0.0


def load(folder: Path, n: int) -> None:
    """A workspace at ``folder`` with ``n`` synthetic submissions (bulk path, as imports)."""
    from snapshot import _load

    from citizendata.workspace import Workspace

    ws = Workspace.open(folder)
    _load(ws, n)
    ws.close()


def _read_pages(me: Any, root: str) -> tuple[int, int]:
    from urllib.parse import parse_qsl, urlsplit

    params: dict[str, str] = {}
    rows = size = 0
    while True:
        text = "".join(me.odata_stream(SLUG, FORM, "Submissions", params, service_root=root,
                                       page_size=PAGE))
        doc = json.loads(text)
        rows += len(doc["value"])
        size += len(text)
        link = doc.get("@odata.nextLink")
        if not link:
            return rows, size
        params = dict(parse_qsl(urlsplit(link).query))


def _read_one(me: Any, root: str) -> tuple[int, int]:
    size = rows = 0
    for piece in me.odata_stream(SLUG, FORM, "Submissions", {}, service_root=root):
        size += len(piece)
        rows += piece.count('"__system":')
    return rows, size


def _read_list(me: Any, root: str) -> tuple[int, int]:
    """The alternative: every row read into a list, converted the same way, then one
    document written at once."""
    from citizendata.publish.odata.query import FeedQuery
    from citizendata.services import odata

    ctx = me._read(odata.feed_context, SLUG, FORM)
    es = ctx.model.sets["Submissions"]
    rows = me.workspace.run(lambda db: odata._chunk(db, ctx, FeedQuery(), 0, 0, 10**9),
                            write=False)
    value = []
    for row in rows:
        payload = row[8] if isinstance(row[8], dict) else row[7]
        value += ctx.model.rows(es, row[1], payload, odata._system(row, payload, ctx.model))
    text = json.dumps({"@odata.context": f"{root}/$metadata#Submissions", "value": value},
                      ensure_ascii=False, separators=(",", ":"))
    return len(value), len(text)


def measure(folder: Path, method: str, trace: bool = False) -> dict[str, Any]:
    """Read the feed one way in this process; the figures as JSON on stdout.

    With ``trace``, the Python heap's peak (tracemalloc) instead of the resident set:
    SQLite's page cache (64 MiB) and memory-mapped reads (settings in store/engine.py)
    count in the resident set but are bounded by configuration, not by the rows read.
    """
    from citizendata.workspace import Workspace

    ws = Workspace.open(folder)
    me = ws.as_user("bench")
    root = "http://bench/api/v1/projects/kenya-maternal-health/forms/kenya_maternal_health.svc"
    # warm up: imports, the model, the first query plan
    "".join(me.odata_stream(SLUG, FORM, "Submissions", {"$top": "10"}, service_root=root))
    if trace:
        tracemalloc.start()
    base = _status_mb("VmRSS")
    t0 = time.perf_counter()
    rows, size = {"pages": _read_pages, "one_response": _read_one,
                  "list": _read_list}[method](me, root)
    seconds = time.perf_counter() - t0
    peak = _status_mb("VmHWM")
    ws.close()
    if trace:
        return {"python_heap_peak_mb": round(tracemalloc.get_traced_memory()[1] / 2**20, 1)}
    return {"rows": rows, "mb_written": round(size / 1e6, 1), "seconds": round(seconds, 2),
            "baseline_mb": round(base, 1), "peak_mb": round(peak, 1),
            "growth_mb": round(max(0.0, peak - base), 1)}


def main() -> None:
    """Run the benchmark and write its figures."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--sizes", default="10000,100000")
    ap.add_argument("--measure", nargs=3, metavar=("FOLDER", "METHOD", "TRACE"),
                    help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.measure:
        folder, method, trace = args.measure
        print(json.dumps(measure(Path(folder), method, trace == "trace")))
        return
    results = []
    for n in (int(s) for s in args.sizes.split(",")):
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp) / "ws"
            print(f"loading {n:,} submissions …")
            load(folder, n)
            for method in ("pages", "one_response", "list"):
                got: dict[str, Any] = {}
                for trace in ("rss", "trace"):
                    out = subprocess.run([sys.executable, __file__, "--measure", str(folder),
                                          method, trace], capture_output=True, text=True,
                                         check=True)
                    got.update(json.loads(out.stdout.strip().splitlines()[-1]))
                results.append({"submissions": n, "method": method, **got,
                                "rows_per_s": round(got["rows"] / max(got["seconds"], 1e-9))})
                print(results[-1])
    by = {(r["submissions"], r["method"]): r["python_heap_peak_mb"] for r in results}
    rss = {(r["submissions"], r["method"]): r["peak_mb"] for r in results}
    sizes = sorted({r["submissions"] for r in results})
    summary: dict[str, Any] = {"results": results}
    if len(sizes) == 2:
        small, big = sizes
        for m in ("pages", "one_response", "list"):
            summary[f"{m}_heap_{big}_over_{small}"] = round(
                by[(big, m)] / max(by[(small, m)], 0.1), 2)
            summary[f"{m}_rss_peak_{big}_over_{small}"] = round(
                rss[(big, m)] / rss[(small, m)], 2)
        for m in ("pages", "one_response"):
            summary[f"list_heap_over_{m}_at_{big}"] = round(
                by[(big, "list")] / max(by[(big, m)], 0.1), 1)
            summary[f"list_rss_peak_over_{m}_at_{big}"] = round(
                rss[(big, "list")] / rss[(big, m)], 1)
    write_results("odata", summary, [k for k in summary if k != "results"],
                  "OData feed: memory growth while reading every row (ratios)")


if __name__ == "__main__":
    main()
