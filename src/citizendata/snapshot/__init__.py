"""Snapshots: the frozen, typed, columnar copy of submissions that every analysis reads."""

from citizendata.snapshot.build import SnapshotInfo, TableInfo, build_snapshot
from citizendata.snapshot.open import Snapshot, open_snapshot
from citizendata.snapshot.synthetic import synthetic_batches

__all__ = [
    "Snapshot",
    "SnapshotInfo",
    "TableInfo",
    "build_snapshot",
    "open_snapshot",
    "synthetic_batches",
]
