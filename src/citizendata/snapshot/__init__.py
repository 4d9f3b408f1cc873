"""Snapshots: the frozen, typed, columnar copy of submissions that every analysis reads."""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
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

# DuckDB, PyArrow and Ibis load when a name is first asked for, not with the package
_WHERE = {"SnapshotInfo": "build", "TableInfo": "build", "build_snapshot": "build",
          "Snapshot": "open", "open_snapshot": "open", "synthetic_batches": "synthetic"}


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(import_module(f"{__name__}.{_WHERE[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
