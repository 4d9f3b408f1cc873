"""Benchmark: bulk import of a 1,000,000-row, 30-field CSV into PostgreSQL.

Measures the whole library call (read, check, stage, conflict check, insert, audit) and,
as the obvious alternative in the same run, a raw COPY of the very same rows into the
same table. Writes bench/results/bulk_import.json with rows, rows_per_s,
copy_rows_per_s, ratio_to_copy. Target: ≥ 50,000 rows/s.

    python bench/bulk_import.py [--rows 1000000]
"""

from __future__ import annotations

import argparse
import io
import sys
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv

sys.path.insert(0, str(Path(__file__).parent))
from _common import drop_postgres, fresh_postgres, wide_csv, wide_form, write_results

from citizendata.ingest.tabular import read_tabular
from citizendata.workspace import Workspace

SPEC = {"slug": "bench", "name": "Bench", "initiator": {"slug": "bench-cso", "name": "Bench CSO"},
        "engagement": {"design": {"level": 5}}}


def raw_copy(ws: Workspace, table: pa.Table) -> float:
    """Seconds for a plain COPY of the same rows into submissions (after removing them)."""
    from sqlalchemy import text

    with ws.transaction() as db:
        ids = db.execute(text("SELECT p.id, f.id, fv.id FROM projects p JOIN forms f ON "
                              "f.project_id = p.id JOIN form_versions fv ON fv.form_id = f.id"
                              )).one()
        db.execute(text("TRUNCATE submissions, attachments"))
    n = table.num_rows
    copy_table = pa.table({
        "project_id": pa.array([ids[0]] * n, pa.int64()),
        "form_id": pa.array([ids[1]] * n, pa.int64()),
        "form_version_id": pa.array([ids[2]] * n, pa.int64()),
        "instance_id": table.column("instance_id"),
        "payload": table.column("payload"),
        "content_hash": table.column("content_hash"),
        "received_at": pa.array(["2026-01-01T00:00:00Z"] * n),
        "review_status": pa.array(["received"] * n),
        "channel": pa.array(["csv"] * n),
    })
    buf = io.BytesIO()
    pacsv.write_csv(copy_table, buf, pacsv.WriteOptions(include_header=False))
    cols = ", ".join(copy_table.column_names)
    t0 = time.perf_counter()
    with ws.transaction() as db:
        raw = db.connection().connection.driver_connection
        with raw.cursor() as cur, cur.copy(
                f"COPY submissions ({cols}) FROM STDIN WITH (FORMAT csv)") as cp:
            view = buf.getbuffer()
            for start in range(0, len(view), 1 << 20):
                cp.write(view[start:start + (1 << 20)])
    return time.perf_counter() - t0


def main() -> None:
    """Run the benchmark and write its figures."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--fields", type=int, default=30)
    args = ap.parse_args()
    url = fresh_postgres("citizendata_bench_bulk")
    if url is None:
        sys.exit("PostgreSQL is needed for this benchmark.")
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        ws = Workspace.open(Path(tmp), database_url=url)
        me = ws.create_admin("bench", "bench-password")
        me.create_project(SPEC)
        form, fields = wide_form(args.fields)
        me.add_form("bench", form, "bench.xlsx")
        data = wide_csv(args.rows, fields)
        print(f"CSV: {args.rows:,} rows × {args.fields} fields, {len(data) / 1e6:.0f} MB")
        t0 = time.perf_counter()
        result = me.import_file("bench", "bench", data, "bench.csv")
        seconds = time.perf_counter() - t0
        assert result.created == args.rows, result
        # parsing alone, to see where the time goes
        schema = me.form_versions("bench", "bench")[-1].schema
        t1 = time.perf_counter()
        staged = read_tabular(data, "bench.csv", schema)
        parse_s = time.perf_counter() - t1
        copy_s = raw_copy(ws, staged.table)
        ws.close()
    drop_postgres("citizendata_bench_bulk")
    out = {
        "backend": "postgresql",
        "rows": args.rows,
        "fields": args.fields,
        "seconds": round(seconds, 2),
        "rows_per_s": round(args.rows / seconds),
        "parse_seconds": round(parse_s, 2),
        "copy_seconds": round(copy_s, 2),
        "copy_rows_per_s": round(args.rows / copy_s),
        "ratio_to_copy": round((args.rows / seconds) / (args.rows / copy_s), 3),
        "target_rows_per_s": 50_000,
    }
    write_results("bulk_import", out, ["rows", "seconds", "rows_per_s", "parse_seconds",
                                       "copy_rows_per_s", "ratio_to_copy"],
                  "bulk import into PostgreSQL (library call vs raw COPY)")


if __name__ == "__main__":
    main()
