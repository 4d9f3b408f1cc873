"""Fetching a release's public files as anyone can (test helper)."""

from __future__ import annotations

from typing import Any


def public_files(http: Any, slug: str, version: int) -> dict[str, bytes]:
    """Every file of a published release, as anyone can download it (no login)."""
    listing = http.get("/api/v1/public/releases").json()["releases"]
    rel = next(r for r in listing if r["project"] == slug and r["version"] == version)
    files = {}
    for name in [*rel["files"], "manifest.json"]:
        r = http.get(f"/public/releases/{slug}/{version}/{name}")
        assert r.status_code == 200, (name, r.status_code)
        files[name] = r.content
    return files
