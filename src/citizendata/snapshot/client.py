"""Snapshots as Client calls: made once per content, shared by every caller, safe to race.

A mixin of ``Client`` (``self`` is a Client). Every estimate, quality record, release
and microdata export asks ``open_snapshot``: it digests what a snapshot would hold now
(``services.snapshots.content_key``, one aggregate query) and opens the workspace's
snapshot of that key. Only when there is none does it take the variant's build turn
(snapshot/cache.py); whoever waited behind a build of the same content opens its result.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from citizendata._lazy import lazy_module

if TYPE_CHECKING:
    from citizendata.services import snapshots
    from citizendata.snapshot.build import SnapshotInfo
    from citizendata.snapshot.open import Snapshot
else:  # PyArrow, DuckDB, Ibis: loaded on the first call that needs them
    snapshots = lazy_module("citizendata.services.snapshots")

__all__ = ["SnapshotMethods"]


class SnapshotMethods:
    """Client methods for snapshots (a mixin: ``self`` is a Client)."""

    def snapshot(self, slug: str, form_id: str, out_dir: str | Path | None = None, *,
                 include_personal: bool = False, created_at: datetime | None = None,
                 progress: Callable[[int], None] | None = None) -> SnapshotInfo:
        """Freeze a form's submissions (all versions) into typed Parquet tables.

        Without ``out_dir``, the workspace's snapshot of the current content (made now if
        there is none yet); with it, a new snapshot written into that folder.
        """
        me: Any = self
        built = True
        if out_dir is not None:
            info: SnapshotInfo = me._read(
                snapshots.make_snapshot, slug, form_id, Path(out_dir), created_at=created_at,
                include_personal=include_personal, progress=progress)
        else:
            snap, built = self._shared_snapshot(slug, form_id, include_personal,
                                                created_at=created_at, progress=progress)
            info = snap.info
        # an export is logged whether or not the files had to be written
        me._run(snapshots.audit_snapshot, slug, form_id, info, include_personal, built)
        return info

    def open_snapshot(self, slug: str, form_id: str, *, refresh: bool = True,
                      include_personal: bool = False) -> Snapshot:
        """The form's snapshot opened in DuckDB through Ibis.

        By default the snapshot of the data as they are now (made if the workspace has
        none of this content yet); ``refresh=False`` opens the last one made, if any.
        The caller's right to export (and to see personal data, if asked) is checked
        either way.
        """
        me: Any = self
        store = me.workspace.snapshot_store(slug, form_id, personal=include_personal)
        if refresh:
            path = store.find(me._read(snapshots.content_key, slug, form_id, include_personal))
        else:
            me._read(snapshots.check_export, slug, form_id, include_personal)
            path = store.latest()
        snap = store.open(path) if path is not None else None
        if snap is None:  # none yet, or removed since we looked
            snap, built = self._shared_snapshot(slug, form_id, include_personal)
            if built:
                me._run(snapshots.audit_snapshot, slug, form_id, snap.info, include_personal)
        return snap

    def _shared_snapshot(self, slug: str, form_id: str, personal: bool, *,
                         created_at: datetime | None = None,
                         progress: Callable[[int], None] | None = None
                         ) -> tuple[Snapshot, bool]:
        """The workspace's snapshot of the current content, opened; True if made now.

        Holds the variant's build turn: a caller that waited finds the snapshot the one
        before it made. The key and the rows are read in one consistent transaction, so
        the folder's name always matches its content.
        """
        me: Any = self
        store = me.workspace.snapshot_store(slug, form_id, personal=personal)

        def find_or_build(db: Any, actor: Any) -> tuple[Path, bool]:
            key = snapshots.content_key(db, actor, slug, form_id, personal)
            found = store.find(key)
            if found is not None:
                return found, False
            build = store.new_build()
            try:
                snapshots.make_snapshot(db, actor, slug, form_id, build, created_at=created_at,
                                        include_personal=personal, progress=progress)
            except BaseException:
                store.discard(build)
                raise
            return store.publish(build, key), True

        with store.building():
            path, built = me._run(find_or_build, write=False, consistent=True)
            snap = store.open(path)  # held before the turn ends: no one can remove it
        assert snap is not None, "a snapshot vanished while its build turn was held"
        return snap, built
