"""Benchmark: the review queue's page time at depth, keyset against OFFSET paging.

Loads ``n`` synthetic Kenya submissions (bulk path, as imports) into a SQLite
workspace, marks every 7th as having issues, then times:

- ``first``: the queue's first page (the library call, and the HTML page over HTTP);
- ``deep_keyset``: a page near the end reached by its cursor (``after``), as the page's
  "Next" links do;
- ``deep_offset``: the same page asked for by ``OFFSET`` (how the queue paged before);
- the other review pages over HTTP: a submission, 'approve all without errors' (its
  count over every submission), the duplicate pairs, the project's review overview.

Each is the median of ``--repeat`` runs, counting the filtered total as a page does.
``ratio`` is deep_offset / deep_keyset. Writes bench/results/review_pages.json.

    python bench/review_pages.py [--n 100000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
from _common import write_results
from snapshot import FORM, SLUG, _load

from citizendata.workspace import Workspace

PAGE = 50


def _median(fn: Any, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def run(n: int, repeat: int) -> dict[str, Any]:
    """Time the queue's pages on a workspace of ``n`` submissions."""
    from sqlalchemy import text

    with tempfile.TemporaryDirectory() as tmp:
        ws = Workspace.open(Path(tmp) / "ws")
        t0 = time.perf_counter()
        me = _load(ws, n)
        load_s = time.perf_counter() - t0
        with ws.transaction() as db:
            db.execute(text("UPDATE submissions SET review_status = 'has_issues' "
                            "WHERE id % 7 = 0"))
            # a finished validation run, so 'approve all without errors' has one to trust
            from datetime import UTC, datetime

            from citizendata.store.models import ValidationRun

            form_pk = db.scalar(text("SELECT id FROM forms LIMIT 1"))
            db.add(ValidationRun(form_id=form_pk, actor="bench", submissions=n,
                                 finished_at=datetime.now(UTC)))
        with ws.transaction(write=False) as db:
            total = int(db.scalar(text("SELECT count(*) FROM submissions WHERE review_status "
                                       "IN ('has_issues','received','edited')")) or 0)
        depth = (total // PAGE - 1) * PAGE  # the last full page
        with ws.transaction(write=False) as db:
            cursor = db.scalar(text(
                "SELECT id FROM submissions WHERE review_status IN "
                "('has_issues','received','edited') ORDER BY id LIMIT 1 OFFSET :o"),
                {"o": depth - 1})
        keyset = me.review_page(SLUG, FORM, after=cursor, limit=PAGE)
        offset = me.review_page(SLUG, FORM, offset=depth, limit=PAGE)
        assert [r["id"] for r in keyset.rows] == [r["id"] for r in offset.rows]
        first_ms = _median(lambda: me.review_page(SLUG, FORM, limit=PAGE), repeat)
        deep_keyset_ms = _median(lambda: me.review_page(SLUG, FORM, after=cursor,
                                                        limit=PAGE), repeat)
        deep_offset_ms = _median(lambda: me.review_page(SLUG, FORM, offset=depth,
                                                        limit=PAGE), repeat)
        approve_preview_ms = _median(lambda: me.approve_clean(SLUG, FORM, dry_run=True), repeat)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from fastapi.testclient import TestClient

            from citizendata.server.app import create_app
        with TestClient(create_app(ws)) as http:
            import re

            token = re.search(r'name="csrf" value="([^"]+)"', http.get("/login").text)
            assert token
            http.post("/login", data={"username": "bench", "password": "bench-password",
                                      "csrf": token.group(1)})
            url = f"/projects/{SLUG}/forms/{FORM}/review"
            assert http.get(url).status_code == 200
            html_first_ms = _median(lambda: http.get(url), repeat)
            html_deep_ms = _median(lambda: http.get(url, params={"after": cursor}), repeat)
            sub_url = f"/projects/{SLUG}/forms/{FORM}/submissions/{keyset.rows[0]['instance_id']}"
            assert http.get(sub_url).status_code == 200
            html_submission_ms = _median(lambda: http.get(sub_url), repeat)
            html_approve_ms = _median(lambda: http.get(f"{url}/approve-clean"), repeat)
            dup_url = f"/projects/{SLUG}/forms/{FORM}/duplicates"
            html_duplicates_ms = _median(lambda: http.get(dup_url), repeat)
            html_overview_ms = _median(lambda: http.get(f"/projects/{SLUG}/review"), repeat)
        ws.close()
    return {"submissions": n, "queue_total": total, "page_size": PAGE, "deep_offset_rows": depth,
            "load_s": round(load_s, 1), "first_ms": round(first_ms, 1),
            "deep_keyset_ms": round(deep_keyset_ms, 1),
            "deep_offset_ms": round(deep_offset_ms, 1),
            "ratio": round(deep_offset_ms / deep_keyset_ms, 1),
            "html_first_ms": round(html_first_ms, 1), "html_deep_ms": round(html_deep_ms, 1),
            "html_submission_ms": round(html_submission_ms, 1),
            "approve_preview_ms": round(approve_preview_ms, 1),
            "html_approve_ms": round(html_approve_ms, 1),
            "html_duplicates_ms": round(html_duplicates_ms, 1),
            "html_overview_ms": round(html_overview_ms, 1)}


def main() -> None:
    """Run and write bench/results/review_pages.json."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    result = run(args.n, args.repeat)
    write_results("review_pages", result, list(result), "Review queue paging (SQLite)")


if __name__ == "__main__":
    main()
