"""The layout of a snapshot: which tables, which typed columns, and the SQL that makes them.

A plan is worked out once from the form schema. Each typed column comes with
the DuckDB expression that extracts it from the parsed payload (a STRUCT made
by ``from_json``), so a whole batch is typed in one vectorised query.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from citizendata.errors import BadInput, Where
from citizendata.forms.schema import Field, FormSchema, Group
from citizendata.sqltext import quote_literal

__all__ = [
    "ColumnPlan", "TablePlan", "json_structure", "member_sql", "plan_tables", "select_sql", "table_name",
]

UTC_TS = pa.timestamp("us", tz="UTC")

# Metadata columns of the main table, as the store hands them over.
MAIN_META: tuple[tuple[str, pa.DataType], ...] = (
    ("_id", pa.int64()),
    ("_instance_id", pa.string()),
    ("_form_version", pa.string()),
    ("_submitter", pa.string()),
    ("_collected_at", UTC_TS),
    ("_received_at", UTC_TS),
    ("_review_status", pa.string()),
)
CHILD_META: tuple[tuple[str, pa.DataType], ...] = (
    ("_id", pa.int64()),
    ("_submission_id", pa.int64()),
    ("_parent_id", pa.int64()),
    ("_index", pa.int64()),
)
GEO_PARTS = ("lat", "lon", "alt", "acc")


@dataclass(frozen=True)
class ColumnPlan:
    """One output column: its name, Arrow type, SQL expression and source field."""

    name: str
    type: pa.DataType
    sql: str
    field_path: str | None = None
    choices: tuple[str, ...] = ()  # the dictionary of a categorical column
    pre: tuple[tuple[int, str, str], ...] = ()  # (level, alias, sql) computed once beforehand


@dataclass
class TablePlan:
    """One output table: the main table (repeat None) or one repeat group's table."""

    name: str
    file: str
    repeat: str | None
    parent: str | None  # the enclosing repeat's path, None when the parent is the submission
    key: str  # the repeat's key inside its parent item
    columns: list[ColumnPlan] = field(default_factory=list)

    @property
    def arrow_schema(self) -> pa.Schema:
        """The exact Arrow schema written to Parquet."""
        return pa.schema([(c.name, c.type) for c in self.columns])


def table_name(form_id: str, repeat: str | None) -> str:
    """The table (and file stem) name of the main table or a repeat table (characters
    other than letters, digits, _ . - in a form id, such as spaces, become _)."""
    stem = re.sub(r"[^\w.-]", "_", form_id)
    return stem if repeat is None else f"{stem}__{repeat.replace('/', '__')}"




def member_sql(item: str, rel_path: str) -> str:
    """SQL reading a nested struct member, e.g. ``_j['location']['ward']``."""
    return item + "".join(f"[{quote_literal(part)}]" for part in rel_path.split("/"))


def _relative(path: str, repeat: str | None) -> str:
    """A path relative to the enclosing repeat item (or the payload root)."""
    return path if repeat is None else path[len(repeat) + 1 :]


def _dedupe(names: list[str]) -> list[str]:
    """Names made unique with _2, _3 suffixes, keeping the first as it is."""
    seen: set[str] = set()
    out = []
    for name in names:
        candidate, k = name, 2
        while candidate in seen:
            candidate, k = f"{name}_{k}", k + 1
        seen.add(candidate)
        out.append(candidate)
    return out


def _typed_columns(f: Field, col: str, raw: str, tag: str) -> list[ColumnPlan]:
    """The typed column(s) of one field; ``raw`` is its text, NULL when blank.

    ``tag`` names the intermediate values computed once in inner subqueries
    (DuckDB does not reuse repeated subexpressions of one projection).
    """
    kind = f.storage_type
    num = f"TRY_CAST({raw} AS DOUBLE)"
    if kind == "integer":
        # 12 and 12.0 are integers; 12.5 is not (a plain cast would round it)
        pre: tuple[tuple[int, str, str], ...] = (
            (1, f"{tag}d", num), (1, f"{tag}i", f"TRY_CAST({raw} AS BIGINT)")
        )
        sql = f"CASE WHEN {tag}d = {tag}i THEN {tag}i END"
        return [ColumnPlan(col, pa.int64(), sql, f.path, pre=pre)]
    if kind == "decimal":
        pre = ((1, f"{tag}d", num),)
        sql = f"CASE WHEN isfinite({tag}d) THEN {tag}d END"
        return [ColumnPlan(col, pa.float64(), sql, f.path, pre=pre)]
    if kind == "date":
        return [ColumnPlan(col, pa.date32(), f"TRY_CAST({raw} AS DATE)", f.path)]
    if kind == "datetime":
        return [ColumnPlan(col, UTC_TS, f"TRY_CAST({raw} AS TIMESTAMPTZ)", f.path)]
    if kind == "categorical":
        names = tuple(dict.fromkeys(c.name for c in f.choices))
        if not names:
            return [ColumnPlan(col, pa.dictionary(pa.int32(), pa.string()), "NULL::INTEGER", f.path)]
        enum = "ENUM(" + ", ".join(quote_literal(n) for n in names) + ")"
        sql = f"enum_code(TRY_CAST({raw} AS {enum}))::INTEGER"
        return [ColumnPlan(col, pa.dictionary(pa.int32(), pa.string()), sql, f.path, names)]
    if kind == "multi":
        # answers are space-separated choice names (extra spaces only add empty items);
        # the JSON API may send a JSON array of names instead
        split = (f"CASE WHEN starts_with({raw}, '[') AND json_valid({raw}) "
                 f"THEN from_json({raw}, '[\"VARCHAR\"]') ELSE string_split({raw}, ' ') END")
        pre = ((1, f"{tag}m", split),)
        names = tuple(dict.fromkeys(c.name for c in f.choices))
        return [
            ColumnPlan(f"{col}__{n}", pa.bool_(), f"list_contains({tag}m, {quote_literal(n)})", f.path,
                       pre=pre if i == 0 else ())
            for i, n in enumerate(names)
        ]
    if kind == "geopoint":
        parts = f"{tag}s"
        # ODK writes single spaces; the regex split (3x slower) only when there are others
        split = (f"CASE WHEN contains({raw}, '  ') OR regexp_matches({raw}, '[\\t\\n\\r]') "
                 f"THEN string_split_regex({raw}, '\\s+') ELSE string_split({raw}, ' ') END")
        pre_list = [(1, parts, split)]
        for i, part in enumerate(GEO_PARTS, start=1):
            pre_list.append((2, f"{tag}{part}", f"TRY_CAST({parts}[{i}] AS DOUBLE)"))
        ok = (f"(len({parts}) BETWEEN 2 AND 4 AND {tag}lat BETWEEN -90 AND 90 "
              f"AND {tag}lon BETWEEN -180 AND 180)")
        pre_list.append((3, f"{tag}ok", ok))
        return [
            ColumnPlan(f"{col}__{part}", pa.float64(),
                       f"CASE WHEN {tag}ok AND isfinite({tag}{part}) THEN {tag}{part} END", f.path,
                       pre=tuple(pre_list) if i == 0 else ())
            for i, part in enumerate(GEO_PARTS)
        ]
    return [ColumnPlan(col, pa.string(), raw, f.path)]


def _field_columns(schema: FormSchema, repeat: str | None, item: str) -> list[ColumnPlan]:
    """The typed columns of the fields directly in one table."""
    fields = [f for f in schema.fields_in(repeat) if f.has_value]
    counts: dict[str, int] = {}
    for f in fields:
        counts[f.name] = counts.get(f.name, 0) + 1
    out: list[ColumnPlan] = []
    for k, f in enumerate(fields):
        col = f.name if counts[f.name] == 1 else f.path.replace("/", "__")
        text = member_sql(item, _relative(f.path, repeat))
        # JSON numbers and booleans arrive as text here; blank answers are no answers
        trimmed = text if f.storage_type == "text" else f"trim({text})"
        raw = f"NULLIF({trimmed}, '')"
        out.extend(_typed_columns(f, col, raw, f"_t{k}_"))
    return out


def _count_columns(schema: FormSchema, repeat: str | None, item: str) -> list[ColumnPlan]:
    """``_n_<repeat>`` counts of the repeats nested directly in this table."""
    out = []
    for g in schema.repeats:
        if g.parent_repeat == repeat:
            sql = f"COALESCE(len({member_sql(item, _relative(g.path, repeat))}), 0)"
            out.append(ColumnPlan(f"_n_{g.name}", pa.int64(), sql))
    return out


def _finish(columns: list[ColumnPlan], meta: tuple[tuple[str, pa.DataType], ...]) -> list[ColumnPlan]:
    """Metadata columns first, then the rest with unique names."""
    head = [ColumnPlan(name, typ, f'"{name}"') for name, typ in meta]
    names = _dedupe([c.name for c in head + columns])
    return [
        ColumnPlan(n, c.type, c.sql, c.field_path, c.choices, c.pre)
        for n, c in zip(names, head + columns, strict=True)
    ]


def select_sql(plan: TablePlan, source: str, extra: Sequence[str] = ()) -> str:
    """The query typing one table from ``source`` (which has ``_id`` and ``_j``), plus ``extra``."""
    levels: dict[int, list[str]] = {}
    for c in plan.columns:
        for level, alias, sql in c.pre:
            levels.setdefault(level, []).append(f"{sql} AS {alias}")
    relation = source
    for level in sorted(levels):
        relation = f"(SELECT *, {', '.join(levels[level])} FROM {relation})"
    select = ", ".join([*(f'{c.sql} AS "{c.name}"' for c in plan.columns), *extra])
    return f"SELECT {select} FROM {relation} ORDER BY _id"


def plan_tables(schema: FormSchema) -> list[TablePlan]:
    """The main table then one table per repeat, outermost first."""
    item = "_j"
    main = TablePlan(table_name(schema.form_id, None), "", None, None, "")
    main.file = main.name + ".parquet"
    main.columns = _finish(
        _count_columns(schema, None, item) + _field_columns(schema, None, item), MAIN_META
    )
    plans = [main]
    for g in _ordered_repeats(schema):
        plan = TablePlan(table_name(schema.form_id, g.path), "", g.path, g.parent_repeat,
                         _relative(g.path, g.parent_repeat))
        plan.file = plan.name + ".parquet"
        plan.columns = _finish(
            _count_columns(schema, g.path, item) + _field_columns(schema, g.path, item), CHILD_META
        )
        plans.append(plan)
    return plans


def _ordered_repeats(schema: FormSchema) -> list[Group]:
    """Repeats with every parent before its children."""
    depth = {g.path: g.path.count("/") for g in schema.repeats}
    return sorted(schema.repeats, key=lambda g: (depth[g.path], schema.repeats.index(g)))


def json_structure(schema: FormSchema) -> str:
    """The ``from_json`` structure of a payload: only the members the snapshot reads."""
    repeats = {g.path for g in schema.repeats}
    root: dict[str, Any] = {}

    def container(path_parts: list[str]) -> dict[str, Any]:
        node, prefix = root, ""
        for part in path_parts:
            prefix = f"{prefix}/{part}" if prefix else part
            if prefix in repeats:
                node = node.setdefault(part, [{}])[0]
            else:
                node = node.setdefault(part, {})
        return node

    for g in schema.repeats:
        container(g.path.split("/"))
    for f in schema.fields:
        if f.has_value:
            parts = f.path.split("/")
            container(parts[:-1])[parts[-1]] = "VARCHAR"
    _check_keys(root, "")
    return json.dumps(_fill_empty(root) or {"_": "VARCHAR"}, separators=(",", ":"))


def _fill_empty(node: Any) -> Any:
    """Repeats with nothing to read become lists of raw JSON (DuckDB needs a member type)."""
    if isinstance(node, list):
        inner = _fill_empty(node[0])
        return [inner if inner else "JSON"]
    if isinstance(node, dict):
        return {k: _fill_empty(v) for k, v in node.items()}
    return node


def _check_keys(node: Any, where: str) -> None:
    """Refuse sibling names that differ only in case: DuckDB struct keys ignore case."""
    if isinstance(node, list):
        _check_keys(node[0], where)
        return
    if not isinstance(node, dict):
        return
    seen: dict[str, str] = {}
    for key, child in node.items():
        other = seen.setdefault(key.lower(), key)
        if other != key:
            raise BadInput(
                "form.unsupported",
                f"The names {other!r} and {key!r} in {where or 'the form'} differ only in case; "
                "snapshots cannot tell them apart.",
                where=Where(field=f"{where}/{key}" if where else key),
                fix="Rename one of them in a new form version.",
            )
        _check_keys(child, f"{where}/{key}" if where else key)
