"""Benchmark: building and verifying a release of the Kenya scenario.

Builds the demo workspace (``--n`` synthetic submissions; not timed), then times, as the
median of ``--repeat`` rounds after one warm-up: the bare protected estimates of every
indicator for the publication purpose (the floor: what any release must compute), a full
release build (the same estimates plus quality record, SDMX-CSV and SDMX-ML through
pysdmx, Open SDG CSV, Parquet, JSON, maps and the offline report, hashed into a
manifest), and a verification (rebuild in a temporary folder and compare every hash).
Reports the packaging overhead as the ratio build / floor and the bundle's size.
Writes bench/results/release.json. No target is set by the issue; an analyst expects a
release in seconds, so the figure to watch is the ratio.

    python bench/release.py [--n 5000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
from _common import machine, write_results

from citizendata.demo import build_demo

SLUG = "kenya-maternal-health"


def timed(fn: Callable[[], Any]) -> float:
    """Seconds one call takes."""
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def main() -> None:
    """Build the demo, time floor / build / verify, print and write the figures."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=5000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        ws, _ = build_demo(Path(tmp) / "demo", n=args.n, fresh=True)
        owner = ws.as_user("naserian")
        ids = [i.id for i in owner.project(SLUG).spec.estimation.indicators]

        def floor() -> None:
            for iid in ids:
                owner.estimate(SLUG, iid, purpose="publication", store=False)

        built: dict[str, Any] = {}

        def build() -> None:
            built.update(owner.build_release(SLUG))

        def verify() -> None:
            assert owner.verify_release(SLUG, 1)["identical"]

        rounds: dict[str, list[float]] = {"floor": [], "build": [], "verify": []}
        for r in range(args.repeat + 1):
            for name, fn in (("floor", floor), ("build", build), ("verify", verify)):
                s = timed(fn)
                if r:  # the first round warms caches and the snapshot
                    rounds[name].append(s)
        med = {k: statistics.median(v) for k, v in rounds.items()}
        manifest = json.loads((owner.release_dir(SLUG, built["version"]) / "manifest.json")
                              .read_text("utf-8"))
        files = manifest["files"]
        size = sum(f["bytes"] for f in files.values())
        ws.close()
    result = {"submissions": args.n, "indicators": len(ids), "files": len(files),
              "bundle_kib": size / 1024, "floor_s": med["floor"], "build_s": med["build"],
              "verify_s": med["verify"], "ratio_build_to_floor": med["build"] / med["floor"],
              "repeat": args.repeat, "machine": machine()}
    write_results("release", result, ["submissions", "indicators", "files", "bundle_kib",
                                      "floor_s", "build_s", "verify_s", "ratio_build_to_floor"],
                  "Release build of the Kenya scenario (median seconds)")


if __name__ == "__main__":
    main()
