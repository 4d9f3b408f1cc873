"""Open a snapshot for analysis: its Parquet tables as Ibis tables on an in-memory DuckDB."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import ibis
import pandas as pd
import pyarrow as pa

from citizendata.errors import BadInput, Where
from citizendata.forms.schema import FormSchema
from citizendata.snapshot.build import SNAPSHOT_FILE, SnapshotInfo, TableInfo, _sha256
from citizendata.snapshot.layout import plan_tables

__all__ = ["Snapshot", "empty_snapshot", "open_snapshot"]


class Snapshot:
    """An opened snapshot: metadata in ``info``, tables through an Ibis DuckDB backend."""

    def __init__(self, info: SnapshotInfo, con: Any) -> None:
        self.info = info
        self.con = con

    @property
    def tables(self) -> list[str]:
        """The table names, main table first."""
        return list(self.info.tables)

    def resolve(self, name: str | None = None) -> str:
        """The table name for None (main), a table name, a repeat path or a unique repeat name."""
        if name is None:
            return self.info.main
        if name in self.info.tables:
            return name
        by_path = [t for t, ti in self.info.tables.items() if ti.repeat == name]
        by_name = [
            t for t, ti in self.info.tables.items()
            if ti.repeat is not None and ti.repeat.rsplit("/", 1)[-1] == name
        ]
        found = by_path or (by_name if len(by_name) == 1 else [])
        if not found:
            raise BadInput(
                "input.invalid",
                f"The snapshot has no table {name!r}; it has {', '.join(self.tables)}.",
                where=Where(field=name),
                fix="Use a table name, a repeat group's path, or its name if it is unique.",
            )
        return found[0]

    def table(self, name: str | None = None) -> ibis.Table:
        """One table as an Ibis expression (None: the main table, one row per submission)."""
        return self.con.table(self.resolve(name))

    def categories(self, name: str | None = None) -> dict[str, list[str]]:
        """The categorical columns of a table and their choices in form order."""
        return dict(self.info.tables[self.resolve(name)].categories)

    def to_pandas(self, name: str | None = None) -> pd.DataFrame:
        """One table as a DataFrame, select_one columns as Categoricals in the form's order."""
        # through Arrow: ibis 12's own pandas conversion warns under pandas 3;
        # nullable dtypes keep integers integral and booleans boolean despite gaps
        nullable = {pa.int64(): pd.Int64Dtype(), pa.bool_(): pd.BooleanDtype()}
        df = self.table(name).to_pyarrow().to_pandas(types_mapper=nullable.get)
        for col, choices in self.categories(name).items():
            df[col] = pd.Categorical(df[col], categories=choices)
        return df


def open_snapshot(path: Path, *, verify: bool = False) -> Snapshot:
    """Open the snapshot in directory ``path``; with ``verify``, check every file's SHA-256."""
    path = Path(path)
    meta = path / SNAPSHOT_FILE
    if not meta.is_file():
        raise BadInput(
            "input.invalid", f"{path} is not a snapshot: it has no {SNAPSHOT_FILE}.",
            where=Where(file=str(path)), fix="Build the snapshot first, or give its directory.",
        )
    info = SnapshotInfo.from_dict(json.loads(meta.read_text(encoding="utf-8")), path)
    con = ibis.duckdb.connect()
    for name, table in info.tables.items():
        file = path / table.file
        if verify and _sha256(file) != table.sha256:
            raise BadInput(
                "input.invalid", f"{table.file} does not match the hash in {SNAPSHOT_FILE}.",
                where=Where(file=str(file)), fix="Rebuild the snapshot; do not edit its files.",
            )
        con.read_parquet(file, table_name=name)
    return Snapshot(info, con)


def empty_snapshot(schema: FormSchema) -> Snapshot:
    """A snapshot of ``schema`` with no rows: every table and column a real one would have,
    for checking a request (dimensions, derived variables) before any data are read."""
    plans = plan_tables(schema)
    con = ibis.duckdb.connect()
    tables = {}
    for plan in plans:
        con.create_table(plan.name, plan.arrow_schema.empty_table(), temp=True)
        tables[plan.name] = TableInfo(
            file=plan.file, rows=0, columns={c.name: str(c.type) for c in plan.columns},
            sha256="", repeat=plan.repeat, parent=plan.parent,
            categories={c.name: list(c.choices) for c in plan.columns if c.choices})
    info = SnapshotInfo(path=Path(), form_id=schema.form_id, tables=tables,
                        created_at=datetime.now(UTC), schema_dict=schema.to_dict())
    return Snapshot(info, con)
