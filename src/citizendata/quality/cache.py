"""Quality evidence kept in the workspace, one JSON file per key: computed once, read after.

The costly part of a quality record is its evidence: a pass over the snapshot (item
non-response) and a protected estimate run. It is kept under a digest of everything it
is made from (``record_key``)::

    cache/quality/{slug}/{form_id}/{key}.json

The key's parts are read afresh on every call (the cheap part; each read also checks
the caller's rights): the snapshot's content key (the one the snapshot store files its
folders under: submissions, review statuses, edits, consent withdrawals, schema, code
version), the project spec, the reference tables' hashes, a fingerprint of what the
database evidence reads (submissions, withdrawals, the latest validation run and its
findings, duplicate pairs not dismissed, validators' decisions), the statuses analysed,
the day (lag, ages), the indicator and the form. Change any of them and the key
changes, so evidence is never read for data it was not made from. The scorecard,
gateway, recommendation, attestations and decisions are made from it on every call.

A file is written to a temporary name and renamed into place, so readers in other
processes see a whole file or none; two processes computing the same key write
equivalent content and the last rename wins. Old files of a form are pruned beyond
``KEEP``; erasing a respondent's answers removes the form's files with its snapshots.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import uuid
from pathlib import Path
from typing import Any

from citizendata.snapshot.build import code_version

__all__ = ["FORMAT", "KEEP", "QualityCache", "record_key"]

# bump when the record's shape or the way it is computed changes
FORMAT = 1
# records kept per form (the newest by modification time)
KEEP = 32


def record_key(parts: dict[str, Any]) -> str:
    """A digest of everything a quality record is made from."""
    what = {"format": FORMAT, "code": code_version(), **parts}
    blob = json.dumps(what, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()[:40]


def normalise(record: dict[str, Any]) -> dict[str, Any]:
    """The record as it reads back from its file (tuples become lists, dates text)."""
    out: dict[str, Any] = json.loads(_dumps(record))
    return out


def _dumps(record: dict[str, Any]) -> str:
    return json.dumps(record, sort_keys=True, default=str)


class QualityCache:
    """The quality records of one form of one project in a workspace."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    @classmethod
    def of(cls, workspace_root: Path, slug: str, form_id: str) -> QualityCache:
        """The cache of a form, under the workspace's folder (refuses names that climb out)."""
        root = (workspace_root / "cache" / "quality").resolve()
        folder = (root / slug / form_id).resolve()
        if not folder.is_relative_to(root) or folder.parent.parent != root:
            raise ValueError(f"{slug!r}/{form_id!r} is not a folder name")
        return cls(folder)

    def get(self, key: str) -> dict[str, Any] | None:
        """The record kept under ``key``, if any (a damaged file counts as none)."""
        try:
            text = (self.folder / f"{key}.json").read_text(encoding="utf-8")
        except (FileNotFoundError, NotADirectoryError):
            return None
        try:
            out = json.loads(text)
        except ValueError:
            return None
        return out if isinstance(out, dict) else None

    def put(self, key: str, record: dict[str, Any]) -> None:
        """Keep a record under ``key``: written aside, renamed into place in one step."""
        self.folder.mkdir(parents=True, exist_ok=True)
        tmp = self.folder / f".{key}.{os.getpid()}.{uuid.uuid4().hex}.tmp"
        try:
            tmp.write_text(_dumps(record), encoding="utf-8")
            os.replace(tmp, self.folder / f"{key}.json")
        except OSError:
            tmp.unlink(missing_ok=True)
            return  # a record not kept is computed again next time: never an error
        self.prune()

    def prune(self, keep: int = KEEP) -> None:
        """Remove all but the ``keep`` newest records (and temporary files a dead writer left)."""
        try:
            entries = list(self.folder.iterdir())
        except FileNotFoundError:
            return
        records = []
        for p in entries:
            try:
                mtime = p.stat().st_mtime
            except FileNotFoundError:
                continue
            if p.suffix == ".json" and not p.name.startswith("."):
                records.append((mtime, p))
            elif p.name.endswith(".tmp") and _older_than(mtime, 3600):
                p.unlink(missing_ok=True)
        records.sort(reverse=True)
        for _, p in records[keep:]:
            p.unlink(missing_ok=True)

    def clear(self) -> None:
        """Remove every kept file of the form."""
        shutil.rmtree(self.folder, ignore_errors=True)


def _older_than(mtime: float, seconds: float) -> bool:
    import time

    return time.time() - mtime > seconds
