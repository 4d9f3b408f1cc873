"""Benchmark: the NSO's quality record (``Client.quality``), first view and repeat views.

Builds the demo workspace (``--n`` synthetic submissions; not timed) or opens one
(``--workspace``), then, as the NSO, times the quality record of the headline indicator:
the first view with no record kept (median of ``--first`` rounds, the kept records
removed before each), and ``--views`` repeat views read back from the workspace
(median and p95). Each repeat view still reads everything the record is made from
(snapshot content key, database evidence, spec, attestations, decisions) to find its
key. Reports the ratio repeat / first. Writes bench/results/quality_page.json. The
issue's target: every page under 300 ms at p95.

    python bench/quality_page.py [--n 5000] [--first 2] [--views 20] [--workspace DIR]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
from _common import machine, write_results

from citizendata.demo import build_demo
from citizendata.workspace import Workspace

SLUG, IND = "kenya-maternal-health", "sba"


def run(ws: Workspace, first_rounds: int, views: int) -> dict[str, Any]:
    """Time first and repeat views of the record on an open workspace."""
    nso = ws.as_user("otieno")
    kept = ws.settings.workspace / "cache" / "quality" / SLUG
    nso.open_snapshot(SLUG, nso.forms(SLUG)[0].form_id)  # the snapshot is not what we time
    firsts, repeats = [], []
    for _ in range(first_rounds):
        shutil.rmtree(kept, ignore_errors=True)
        t = time.perf_counter()
        nso.quality(SLUG, None, IND)
        firsts.append(time.perf_counter() - t)
    for _ in range(views):
        t = time.perf_counter()
        nso.quality(SLUG, None, IND)
        repeats.append(time.perf_counter() - t)
    repeats.sort()
    first = statistics.median(firsts)
    repeat = statistics.median(repeats)
    p95 = repeats[min(len(repeats) - 1, round(0.95 * (len(repeats) - 1)))]
    return {"first_s": first, "repeat_ms": repeat * 1000, "repeat_p95_ms": p95 * 1000,
            "ratio_repeat_to_first": repeat / first, "first_rounds": first_rounds,
            "views": views}


def main() -> None:
    """Build or open the demo, time first and repeat views, print and write the figures."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=5000)
    ap.add_argument("--first", type=int, default=2)
    ap.add_argument("--views", type=int, default=20)
    ap.add_argument("--workspace", type=Path, default=None,
                    help="an existing demo workspace (not rebuilt)")
    args = ap.parse_args()
    if args.workspace is not None:
        ws = Workspace.open(args.workspace)
        n = ws.as_user("otieno").quality(SLUG, None, IND)["evidence"]["submissions"]
        result = {"submissions": n, **run(ws, args.first, args.views)}
        ws.close()
    else:
        with tempfile.TemporaryDirectory() as tmp:
            ws, _ = build_demo(Path(tmp) / "demo", n=args.n, fresh=True)
            result = {"submissions": args.n, **run(ws, args.first, args.views)}
            ws.close()
    result["machine"] = machine()
    write_results("quality_page", result,
                  ["submissions", "first_s", "repeat_ms", "repeat_p95_ms",
                   "ratio_repeat_to_first"],
                  "The NSO's quality record: first view (s) and repeat views (ms)")


if __name__ == "__main__":
    main()
