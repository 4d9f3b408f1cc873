"""Raw-text tables for validation: every answer as the text it was received, one table per level.

Validation checks what was sent, so answers are not typed here (a snapshot types
them). The payloads are parsed once in DuckDB with ``from_json`` into structs of
VARCHAR leaves; the main table has one row per submission, each repeat group a
table with one row per item that also carries the columns of its ancestors (an
expression inside a repeat may refer to fields outside it). A parent table has a
``#<repeat path>`` column with each child repeat's item count.
"""

from __future__ import annotations

from collections.abc import Mapping

import ibis
import ibis.expr.types as ir
import pyarrow as pa
from ibis.backends.duckdb import Backend

from citizendata.forms.schema import FormSchema
from citizendata.snapshot.layout import json_structure, member_sql
from citizendata.sqltext import quote_identifier, quote_literal

__all__ = ["raw_tables"]

_META = ("_id", "_instance_id", "_form_version", "_review_status")


def raw_tables(con: Backend, submissions: pa.Table, schema: FormSchema,
               columns: Mapping[str, str]) -> dict[str | None, ir.Table]:
    """One Ibis table per level (None: the main table, else the repeat path), all raw text.

    ``submissions`` has the columns of ``citizendata.snapshot.synthetic.BATCH_SCHEMA``
    (``_id``, ``_form_version``, ``payload`` ...); ``columns`` maps field paths to
    column names (``citizendata.validate.rules.column_names``).
    """
    con.create_table("_v_subs", submissions.select([c for c in (*_META, "payload")]),
                     overwrite=True)
    structure = json_structure(schema)
    repeats = {g.path: g for g in schema.repeats}
    fields = [f for f in schema.fields if f.has_value]

    def own_columns(repeat: str | None, item: str) -> list[str]:
        out = []
        for f in fields:
            if f.repeat == repeat:
                rel = f.path if repeat is None else f.path[len(repeat) + 1:]
                out.append(f"CAST({member_sql(item, rel)} AS VARCHAR) AS {quote_identifier(columns[f.path])}")
        for g in repeats.values():
            if g.parent_repeat == repeat:
                rel = g.path if repeat is None else g.path[len(repeat) + 1:]
                out.append(f"coalesce(len({member_sql(item, rel)}), 0) AS {quote_identifier('#' + g.path)}")
        return out

    con.raw_sql(
        "CREATE OR REPLACE TABLE _v_main AS SELECT "
        + ", ".join([*(quote_identifier(m) for m in _META), "CAST(NULL AS VARCHAR) AS _item",
                     *own_columns(None, "_j"), "_j"])
        + f" FROM (SELECT *, from_json(payload, {quote_literal(structure)}) AS _j FROM _v_subs)")
    names: dict[str | None, str] = {None: "_v_main"}
    for i, g in enumerate(schema.repeats, start=1):  # outermost first
        parent = names[g.parent_repeat]
        rel = g.path if g.parent_repeat is None else g.path[len(g.parent_repeat) + 1:]
        key = rel.split("/")[-1]
        inherited = [c for c in con.table(parent).columns
                     if c not in ("_item", "_j") and not c.startswith("#")]
        names[g.path] = f"_v_r{i}"
        con.raw_sql(
            f"CREATE OR REPLACE TABLE _v_r{i} AS SELECT "
            + ", ".join([*(quote_identifier(c) for c in inherited),
                         f"concat(coalesce(_item || '/', ''), {quote_literal(key)}, '[', _k, ']') "
                         "AS _item", *own_columns(g.path, "_j2"), "_j2 AS _j"])
            + f" FROM (SELECT *, unnest({member_sql('_j', rel)}) AS _j2, "
            f"unnest(range(1, coalesce(len({member_sql('_j', rel)}), 0) + 1)) AS _k "
            f"FROM {parent})")
    return {repeat: con.table(name).drop("_j") for repeat, name in names.items()}


def connect() -> Backend:
    """A private in-memory DuckDB for one validation run."""
    return ibis.duckdb.connect()
