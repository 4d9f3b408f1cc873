"""Benchmark: 1,000,000 stored submissions to a typed Parquet snapshot.

Loads synthetic submissions of the Kenya maternal-health form (groups, a repeat
group of births) into the store, then times `Client.snapshot` (read from the
database, type every field, write Parquet), and what asking again for an unchanged
snapshot costs (its content key; the key plus opening the snapshot already built for
it, as every estimate does). The obvious alternative, measured in
the same run on a sample and scaled: `json.loads` + `pandas.json_normalize` per row.
Writes bench/results/snapshot.json: one entry per backend with rows and seconds.
Target: < 30 s for 1,000,000 submissions.

    python bench/snapshot.py [--rows 1000000] [--backends sqlite,postgresql]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa

sys.path.insert(0, str(Path(__file__).parent))
from _common import drop_postgres, fresh_postgres, write_results

from citizendata.demo import kenya_spec
from citizendata.scenarios.kenya_maternal_health import FORM_PATH
from citizendata.services import bulk, snapshots
from citizendata.snapshot import synthetic_batches
from citizendata.workspace import Workspace

SLUG = "kenya-maternal-health"
FORM = "kenya_maternal_health"


def _load(ws: Workspace, n: int) -> Any:
    me = ws.create_admin("bench", "bench-password")
    me.create_project(kenya_spec())
    version = me.add_form(SLUG, FORM_PATH)
    row = 2
    for batch in synthetic_batches(n, version.schema, batch_size=100_000):
        payload = batch.column("payload")
        hashes = pa.array([hashlib.sha256(p.encode()).hexdigest()
                           for p in payload.to_pylist()])
        k = batch.num_rows
        staged = pa.table({
            "row": pa.array(range(row, row + k), pa.int64()),
            "instance_id": batch.column("_instance_id"),
            "payload": payload,
            "content_hash": hashes,
            "collected_at": batch.column("_collected_at"),
            "form_version": pa.nulls(k, pa.string()),
            "source_meta": pa.repeat(pa.scalar("{}"), k),
        })
        row += k
        ws.run(lambda db, t=staged: bulk.import_table(db, me.actor, SLUG, FORM, t,
                                                       channel="bench"))
    return me


def _alternative_rate(ws: Workspace, sample: int) -> float:
    """Rows/s of json.loads + pandas.json_normalize over stored payloads (the naive way)."""
    from sqlalchemy import text

    with ws.transaction(write=False) as db:
        payloads = [r[0] for r in db.execute(text(
            f"SELECT payload FROM submissions ORDER BY id LIMIT {sample}"))]
    t0 = time.perf_counter()
    rows = [json.loads(p) if isinstance(p, str) else p for p in payloads]
    # flattening only: no typing, no repeat tables, so the alternative is flattered
    pd.json_normalize(rows, sep="/")
    return sample / (time.perf_counter() - t0)


def run_backend(name: str, url: str | None, n: int) -> dict[str, Any]:
    """Load n submissions into one backend and time the snapshot."""
    with tempfile.TemporaryDirectory() as tmp:
        ws = Workspace.open(Path(tmp) / "ws", database_url=url)
        t0 = time.perf_counter()
        me = _load(ws, n)
        load_s = time.perf_counter() - t0
        t1 = time.perf_counter()
        info = me.snapshot(SLUG, FORM, Path(tmp) / "snap", include_personal=True)
        seconds = time.perf_counter() - t1
        # what every estimate now pays when nothing changed: the content key, then opening
        # the workspace's snapshot of that key (built here by the first call)
        me.open_snapshot(SLUG, FORM, include_personal=True)
        t2 = time.perf_counter()
        me._read(snapshots.content_key, SLUG, FORM, True)
        key_s = time.perf_counter() - t2
        t3 = time.perf_counter()
        me.open_snapshot(SLUG, FORM, include_personal=True)
        reuse_s = time.perf_counter() - t3
        alt = _alternative_rate(ws, min(n, 100_000))
        ws.close()
    rows = info.tables[info.main].rows
    child = sum(t.rows for k, t in info.tables.items() if k != info.main)
    return {"backend": name, "rows": rows, "child_rows": child, "seconds": round(seconds, 2),
            "rows_per_s": round(rows / seconds), "load_seconds": round(load_s, 1),
            "key_seconds": round(key_s, 2), "reuse_seconds": round(reuse_s, 2),
            "json_normalize_rows_per_s": round(alt),
            "ratio_to_json_normalize": round((rows / seconds) / alt, 1)}


def main() -> None:
    """Run the benchmark and write its figures."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--backends", default="sqlite,postgresql")
    args = ap.parse_args()
    results = []
    for backend in args.backends.split(","):
        url = None
        if backend == "postgresql":
            url = fresh_postgres("citizendata_bench_snapshot")
            if url is None:
                continue
        print(f"{backend}: loading {args.rows:,} submissions, then the snapshot …")
        results.append(run_backend(backend, url, args.rows))
        if url:
            drop_postgres("citizendata_bench_snapshot")
    write_results("snapshot", results, ["backend", "rows", "child_rows", "seconds", "rows_per_s",
                                        "key_seconds", "reuse_seconds",
                                        "json_normalize_rows_per_s", "ratio_to_json_normalize"],
                  "stored submissions → typed Parquet snapshot")


if __name__ == "__main__":
    main()
