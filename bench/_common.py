"""Shared pieces of the benchmarks: a wide test form, vectorised CSV data, result writing."""

from __future__ import annotations

import io
import json
import os
import platform
import time
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
from openpyxl import Workbook
from rich.console import Console
from rich.table import Table

RESULTS = Path(__file__).parent / "results"
PG_ADMIN = os.environ.get("CITIZENDATA_BENCH_POSTGRES_ADMIN_URL",
                          "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
WARDS = ["magadi", "ewuaso", "iloodokilani", "kimana", "mosiro", "olokurto", "suswa"]
CHOICES = ["a", "b", "c", "d", "e"]


def wide_form(n_fields: int = 30) -> tuple[bytes, list[tuple[str, str]]]:
    """An XLSForm with ``n_fields`` questions of mixed types; returns bytes and (name, type)."""
    kinds = ["integer", "decimal", "select_one ward", "text", "date", "select_multiple abc"]
    fields = [(f"q{i:02d}", kinds[i % len(kinds)]) for i in range(n_fields)]
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = "survey"
    ws.append(["type", "name", "label"])
    for name, kind in fields:
        ws.append([kind, name, name])
    ch = wb.create_sheet("choices")
    ch.append(["list_name", "name", "label"])
    for w in WARDS:
        ch.append(["ward", w, w.title()])
    for c in CHOICES:
        ch.append(["abc", c, c.upper()])
    st = wb.create_sheet("settings")
    st.append(["form_id", "version", "form_title"])
    st.append(["bench", "1", "Benchmark form"])
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue(), [(n, k.split()[0]) for n, k in fields]


def wide_csv(n_rows: int, fields: list[tuple[str, str]], seed: int = 1) -> bytes:
    """A plain-layout CSV of ``n_rows`` submissions, built column-wise with numpy."""
    rng = np.random.default_rng(seed)
    cols: dict[str, pa.Array] = {
        "instance_id": pa.array(np.char.add("uuid:bench-", np.arange(n_rows).astype(str)))}
    for name, kind in fields:
        if kind == "integer":
            cols[name] = pa.array(rng.integers(0, 100, n_rows).astype(str))
        elif kind == "decimal":
            cols[name] = pa.array(np.round(rng.random(n_rows) * 100, 2).astype(str))
        elif kind == "select_one":
            cols[name] = pa.array(np.array(WARDS)[rng.integers(0, len(WARDS), n_rows)])
        elif kind == "select_multiple":
            cols[name] = pa.array(np.array(["a", "a b", "c", "b d e", ""])[
                rng.integers(0, 5, n_rows)])
        elif kind == "date":
            days = rng.integers(0, 700, n_rows).astype("timedelta64[D]")
            cols[name] = pa.array((np.datetime64("2025-01-01") + days).astype(str))
        else:
            cols[name] = pa.array(np.array(["water point", "clinic far", "road, dusty",
                                            "market \"day\"", "none"])[
                rng.integers(0, 5, n_rows)])
    buf = io.BytesIO()
    pacsv.write_csv(pa.table(cols), buf)
    return buf.getvalue()


def fresh_postgres(db: str) -> str | None:
    """A URL to a new empty PostgreSQL database, or None if the server is absent."""
    from sqlalchemy import create_engine, text

    try:
        admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
        with admin.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)'))
            c.execute(text(f'CREATE DATABASE "{db}"'))
        admin.dispose()
    except Exception as exc:
        print(f"PostgreSQL unavailable ({type(exc).__name__}); skipping its runs.")
        return None
    return PG_ADMIN.rsplit("/", 1)[0] + "/" + db


def drop_postgres(db: str) -> None:
    """Remove a benchmark database."""
    from sqlalchemy import create_engine, text

    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)'))
    admin.dispose()


def machine() -> dict[str, Any]:
    """What the figures were measured on."""
    return {"python": platform.python_version(), "cpus": os.cpu_count(),
            "platform": platform.platform(), "when": time.strftime("%Y-%m-%dT%H:%M:%SZ",
                                                                   time.gmtime())}


def write_results(name: str, results: Any, columns: list[str], title: str) -> Path:
    """Print a table of result rows and write them to bench/results/NAME.json."""
    rows = results if isinstance(results, list) else [results]
    table = Table(*columns, title=title)
    for r in rows:
        table.add_row(*[f"{r.get(c):,.1f}" if isinstance(r.get(c), float) else
                        f"{r.get(c):,}" if isinstance(r.get(c), int) else str(r.get(c))
                        for c in columns])
    Console().print(table)
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"{name}.json"
    payload = {"results": results, "machine": machine()}
    if isinstance(results, dict):
        payload = {**results, "machine": machine()}
    out.write_text(json.dumps(payload, indent=2) + "\n")
    print(f"written {out}")
    return out
