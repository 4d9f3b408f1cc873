"""The snapshots kept in a workspace: one folder per content key, built once, never half-seen.

A form's snapshots live in one folder per variant (with or without personal fields)::

    snapshots/{slug}/{form_id}/{plain|personal}/
        .lock                 held (exclusively) by whoever builds a snapshot of the variant
        LATEST                the key of the snapshot built last
        {key}/                a finished snapshot: Parquet files, snapshot.json, .readers
        .build-{pid}-{hex}/   a build under way (or left by a process that died)

``key`` is a digest of everything the snapshot would contain (see
services/snapshots.py), so a folder never changes once it is in place. A build
writes into a fresh ``.build-*`` folder and renames it to ``{key}`` in one step,
so readers see a whole snapshot or none. Builds of a variant take turns on
``.lock`` (``flock``: threads and processes alike, released by the kernel when a
process dies); whoever waited finds the folder built for its key and reuses it.
An opened snapshot holds a shared lock on its ``.readers`` file until its DuckDB
connection is collected; old snapshots are removed only when nobody holds them.
"""

from __future__ import annotations

import os
import shutil
import threading
import time
import uuid
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from citizendata.snapshot.build import SNAPSHOT_FILE
from citizendata.snapshot.open import Snapshot, open_snapshot

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: builds take turns within one process only
    fcntl = None  # type: ignore[assignment]

__all__ = ["LOCK_FILE", "READERS_FILE", "SnapshotStore", "exclusive_lock"]

LOCK_FILE = ".lock"
READERS_FILE = ".readers"
LATEST_FILE = "LATEST"
BUILD_PREFIX = ".build-"
TRASH_PREFIX = ".trash-"
# without flock, a left-over build folder is only taken for dead after this long
STALE_WITHOUT_LOCKS_S = 3600.0

_local: dict[str, threading.Lock] = {}
_local_guard = threading.Lock()


@contextmanager
def exclusive_lock(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on the file ``path`` (made if absent), against threads and
    processes; waits for the holder. The kernel releases it if this process dies."""
    if fcntl is None:  # pragma: no cover
        with _local_guard:
            lock = _local.setdefault(str(path), threading.Lock())
        with lock:
            yield
        return
    # one open file per holder: flock excludes other open files, in this process too
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _try_exclusive(path: Path) -> int | None:
    """An fd holding an exclusive lock on ``path``, or None if someone holds it (or it is gone)."""
    if fcntl is None:  # pragma: no cover
        return -1
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    except FileNotFoundError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


def _shared(path: Path) -> int | None:
    """An fd holding a shared lock on ``path``, or None if its folder is gone."""
    if fcntl is None:  # pragma: no cover
        return -1
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    except FileNotFoundError:
        return None
    fcntl.flock(fd, fcntl.LOCK_SH)  # waits only while a cleaner moves the folder away
    return fd


def _release(fd: int) -> None:
    if fd >= 0:
        os.close(fd)


def _fsync_tree(folder: Path) -> None:
    """Flush a finished build to disk before it is renamed into place."""
    if not hasattr(os, "O_DIRECTORY"):  # pragma: no cover
        return
    for f in folder.iterdir():
        fd = os.open(f, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class SnapshotStore:
    """The snapshots of one form variant (with or without personal fields) in a workspace."""

    def __init__(self, folder: Path, *, legacy: Path | None = None) -> None:
        self.folder = folder
        self.legacy = legacy  # the folder older versions kept this variant's snapshot in

    # -- finding and opening ----------------------------------------------------------
    def find(self, key: str) -> Path | None:
        """The finished snapshot with this key, if there is one."""
        path = self.folder / key
        return path if (path / SNAPSHOT_FILE).is_file() else None

    def latest(self) -> Path | None:
        """The snapshot built last, if it is still there."""
        try:
            key = (self.folder / LATEST_FILE).read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            return None
        return self.find(key) if key else None

    def open(self, path: Path) -> Snapshot | None:
        """Open a finished snapshot and keep it from removal while it is in use; None if it
        was removed in the meantime (the caller looks again)."""
        fd = _shared(path / READERS_FILE)
        if fd is None:
            return None
        if not (path / SNAPSHOT_FILE).is_file():  # moved away before we held it
            _release(fd)
            return None
        try:
            snap = open_snapshot(path)
        except BaseException:
            _release(fd)
            raise
        # Ibis tables made from the snapshot keep its connection alive: the hold ends
        # when the last of them is gone, not when the Snapshot object is
        weakref.finalize(snap.con, _release, fd)
        return snap

    # -- building -----------------------------------------------------------------------
    @contextmanager
    def building(self) -> Iterator[None]:
        """Take this variant's build turn (waiting for any build under way); clean up what
        dead builds left, and on the way out remove snapshots nobody uses any more."""
        self.folder.mkdir(parents=True, exist_ok=True)
        with exclusive_lock(self.folder / LOCK_FILE):
            self._clean_stale()
            yield
            self.prune()

    def new_build(self) -> Path:
        """A fresh folder to build into (only while holding the build turn)."""
        path = self.folder / f"{BUILD_PREFIX}{os.getpid()}-{uuid.uuid4().hex}"
        path.mkdir(parents=True)
        (path / READERS_FILE).touch()
        return path

    def publish(self, build: Path, key: str) -> Path:
        """Move a finished build into place under its key, in one rename; mark it latest."""
        final = self.folder / key
        _fsync_tree(build)
        try:
            os.rename(build, final)
        except OSError:
            if self.find(key) is None:
                raise
            shutil.rmtree(build, ignore_errors=True)  # the same content is already there
        tmp = self.folder / f"{LATEST_FILE}.{uuid.uuid4().hex}"
        tmp.write_text(key + "\n", encoding="utf-8")
        os.replace(tmp, self.folder / LATEST_FILE)
        return final

    def discard(self, build: Path) -> None:
        """Remove a build that failed."""
        shutil.rmtree(build, ignore_errors=True)

    # -- cleaning -------------------------------------------------------------------------
    def _clean_stale(self) -> None:
        """Remove builds and removals that a dead process left (only with the build turn)."""
        for path in self._entries():
            if not path.name.startswith((BUILD_PREFIX, TRASH_PREFIX, LATEST_FILE + ".")):
                continue
            # holding the turn, no one else is building: every build folder is a leftover
            if fcntl is None and time.time() - path.stat().st_mtime < STALE_WITHOUT_LOCKS_S:
                continue  # pragma: no cover
            _remove(path)
        if self.legacy is not None and self.legacy.exists():
            shutil.rmtree(self.legacy, ignore_errors=True)

    def prune(self) -> list[str]:
        """Remove every finished snapshot but the latest that no one has open; their keys."""
        latest = self.latest()
        removed = []
        for path in self._entries():
            if path.name.startswith(".") or not path.is_dir() or path == latest:
                continue
            fd = _try_exclusive(path / READERS_FILE)
            if fd is None:
                continue  # in use (or already gone): removed by a later build
            try:
                trash = self.folder / f"{TRASH_PREFIX}{uuid.uuid4().hex}"
                os.rename(path, trash)  # gone from its key at once; deleted at leisure
            except OSError:  # pragma: no cover - e.g. a file open on Windows
                continue
            finally:
                _release(fd)
            _remove(trash)
            removed.append(path.name)
        return removed

    def clear(self) -> None:
        """Remove every snapshot of the variant, open or not (erasure): waits for a build
        under way, so none is put in place after."""
        if not self.folder.exists():
            if self.legacy is not None:
                shutil.rmtree(self.legacy, ignore_errors=True)
            return
        with exclusive_lock(self.folder / LOCK_FILE):
            for path in self._entries():
                if path.name != LOCK_FILE:  # the lock file stays: waiters hold it open
                    _remove(path)
            if self.legacy is not None:
                shutil.rmtree(self.legacy, ignore_errors=True)

    def _entries(self) -> list[Path]:
        try:
            return sorted(self.folder.iterdir())
        except FileNotFoundError:
            return []


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)

