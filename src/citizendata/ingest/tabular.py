"""Bulk import of CSV and XLSX files: KoboToolbox and ODK Central exports, or plain tables.

The file is read into Arrow (all cells as text, empty cells as null), its columns
are matched to the form, and DuckDB builds each row's nested payload as canonical
JSON with its sha256 in one vectorised query. Every structural problem of the
file is collected and raised together as ``import.structure``; nothing is
imported from a file with problems.

Repeats come from KoboToolbox's XLSX export (one sheet per repeat, ``_index`` /
``_parent_index``) or ODK Central's zip (one CSV per repeat, ``KEY`` / ``PARENT_KEY``)
and are stored as lists of items, as OpenRosa submissions are. Label exports, version
ids and the zip's layout are handled in :mod:`citizendata.ingest.exports`.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any, Literal

import duckdb
import pyarrow as pa

from citizendata.errors import Problem, Where, problems_error
from citizendata.forms.schema import Field, FormSchema
from citizendata.ingest.archive import ArchiveLimits, archive_limits, check_archive
from citizendata.ingest.encoding import column_letter, not_a_table
from citizendata.ingest.exports import (
    MEDIA_TYPES,
    ExportContext,
    FormLabels,
    canonical_headers,
    central_parts,
    header_tables,
    infer_versions,
    is_central_zip,
    label_value_sql,
    read_zip_members,
    version_sql,
    zip_names,
)
from citizendata.ingest.payload import SchemaIndex, canonical_json, content_hash
from citizendata.ingest.sheets import Sheet, read_csv_sheet, read_xlsx_sheets
from citizendata.sqltext import quote_identifier, quote_literal

__all__ = ["OUTPUT_SCHEMA", "Layout", "TabularImport", "column_letter", "read_tabular"]

Layout = Literal["kobo", "odk_central", "plain"]

OUTPUT_SCHEMA = pa.schema([
    ("row", pa.int64()),
    ("instance_id", pa.string()),
    ("payload", pa.string()),
    ("content_hash", pa.string()),
    ("collected_at", pa.timestamp("us", tz="UTC")),
    ("form_version", pa.string()),
    ("source_meta", pa.string()),
])

KOBO_META = frozenset({
    "_id", "_uuid", "_submission_time", "_validation_status", "_notes", "_status", "_submitted_by",
    "__version__", "_version_", "_tags", "_index", "_xform_id_string", "_attachments", "_geolocation",
    "formhub/uuid", "meta/rootUuid", "meta/deprecatedID",
})
ODK_META = frozenset({
    "SubmissionDate", "KEY", "SubmitterID", "SubmitterName", "AttachmentsPresent",
    "AttachmentsExpected", "Status", "ReviewState", "DeviceID", "Edits", "FormVersion", "instanceID",
    "UserAgent", "meta-deprecatedID", "meta-rootUuid",
})
# Items of meta/ kept as channel metadata rather than answers (see ingest.payload).
_LIFTED_META = frozenset({"meta/deprecatedID", "meta/rootUuid"})
_GEO_TYPES = frozenset({"geopoint", "start-geopoint"})
_ODK_GEO_PARTS = ("Latitude", "Longitude", "Altitude", "Accuracy")
_KOBO_GEO = re.compile(r"^_(?P<base>.+)_(latitude|longitude|altitude|precision)$")
_TRUE = ("1", "true", "yes")
# DuckDB writes \u escapes of control characters in upper case, Python in lower case.
_UPPER_ESCAPE = r"\\u00[01][A-F]"
_MAX_LISTED = 1000


@dataclass(frozen=True)
class TabularImport:
    """An imported file: one row per submission, ready for the idempotent insert."""

    layout: Layout
    table: pa.Table
    n_rows: int
    file: str = ""


@dataclass
class Plan:
    """What each column of a sheet means."""

    leaves: dict[str, str] = field(default_factory=dict)  # payload path -> SQL expression
    id_col: str | None = None
    kobo_uuid_col: str | None = None
    version_col: str | None = None
    kobo_version_col: str | None = None
    version_sql: str | None = None  # form version from KoboToolbox's version id
    time_col: str | None = None
    meta: dict[str, str] = field(default_factory=dict)  # source_meta key -> column
    index_col: str | None = None
    parent_col: str | None = None
    geo: dict[str, dict[int, str]] = field(default_factory=dict)  # path -> part -> column
    choices: dict[str, tuple[Field, dict[str, str]]] = field(default_factory=dict)
    sources: dict[str, str] = field(default_factory=dict)  # payload path -> header
    clashes: list[tuple[str, str]] = field(default_factory=list)  # (header, earlier header)

    def leaf(self, path: str, expr: str, header: str) -> None:
        """Set the expression of a payload path, noting two columns for one path."""
        if path in self.sources:
            self.clashes.append((header, self.sources[path]))
            return
        self.sources[path] = header
        self.leaves[path] = expr


def detect_layout(headers: list[str]) -> Layout:
    """KoboToolbox, ODK Central or plain, from the header names."""
    names = {h.strip() for h in headers}
    if names & {"SubmissionDate", "meta-instanceID", "KEY"}:
        return "odk_central"
    if names & {"_uuid", "_submission_time", "_id", "__version__", "_index"}:
        return "kobo"
    return "plain"


# -- reading -------------------------------------------------------------------

# -- matching columns to the form ---------------------------------------------------

class Matcher:
    """Resolves header names to fields for one layout (and one repeat's sheet)."""

    def __init__(self, index: SchemaIndex, layout: Layout, repeat: str | None = None) -> None:
        self.index = index
        self.layout = layout
        self.dashed = {f.path.replace("/", "-"): f for f in index.schema.fields}
        self.repeat = repeat

    def field(self, header: str) -> Field | None:
        """The field a header names (by path, unique name or ODK dashed path).

        In a Central repeat CSV, paths are relative to the repeat."""
        found = self.index.schema.find(header)
        if found is None and self.layout == "odk_central":
            found = self.dashed.get(header)
            if found is None and self.repeat:
                found = self.dashed.get(f"{self.repeat}/{header}".replace("/", "-"))
        return found

    def media_url(self, header: str) -> bool:
        """True for KoboToolbox's attachment URL column of a media question (`photo_URL`)."""
        f = self.field(header[:-4]) if header.endswith("_URL") else None
        return f is not None and f.type in MEDIA_TYPES

    def split(self, header: str, seps: str) -> tuple[Field, str] | None:
        """(field, suffix) for a header `<field><sep><suffix>`, trying each separator."""
        for sep in seps:
            base, s, suffix = header.rpartition(sep)
            if s and base:
                f = self.field(base)
                if f is not None:
                    return f, suffix
        return None

    def kobo_geo(self, header: str) -> bool:
        """True for Kobo's derived `_<geopoint>_latitude` style columns."""
        m = _KOBO_GEO.match(header)
        f = self.field(m.group("base")) if m else None
        return f is not None and f.type in _GEO_TYPES


def plan_columns(sheet: Sheet, index: SchemaIndex, layout: Layout, repeat: str | None,
                 problems: list[Problem], names: list[str] | None = None) -> Plan:
    """Give every column a role, reporting unknown and duplicate columns.

    ``names`` are the headers in path form (labels and other spellings resolved, see
    :func:`citizendata.ingest.exports.canonical_headers`); problems name the real header.
    """
    plan = Plan()
    match = Matcher(index, layout, repeat)
    seen: dict[str, int] = {}
    names = names or sheet.headers
    for i, header in enumerate(sheet.headers):
        col = f"c{i}"
        letter = column_letter(i)
        if header == "" and sheet.table.column(col).null_count == sheet.table.num_rows:
            continue
        if header in seen:
            problems.append(Problem(
                "import.duplicate_column",
                f"columns {column_letter(seen[header])} and {letter} are both named {header!r}",
                where=sheet.where(column=header)))
            continue
        seen[header] = i
        before, n_clashes = set(plan.sources), len(plan.clashes)
        if not _assign(plan, names[i], col, match, repeat):
            problems.append(_unknown_column(sheet, header, letter, match, repeat))
        # problems name the columns as the file does, not as resolved
        for path in set(plan.sources) - before:
            plan.sources[path] = header
        plan.clashes[n_clashes:] = [(header, earlier) for _, earlier in plan.clashes[n_clashes:]]
    for header, earlier in plan.clashes:
        problems.append(Problem(
            "import.duplicate_column",
            f"columns {earlier!r} and {header!r} are the same field",
            where=sheet.where(column=header)))
    _derived_leaves(plan)
    if repeat is None and layout == "odk_central":
        plan.index_col = plan.meta.get("KEY")
        plan.id_col = plan.id_col or plan.index_col
    return plan


def _unknown_column(sheet: Sheet, header: str, letter: str, match: Matcher,
                    repeat: str | None) -> Problem:
    f = match.field(header)
    if f is not None and f.repeat != repeat:
        place = f"repeat '{f.repeat}'" if f.repeat else "the main table"
        msg = (f"column {letter} {header!r} is a field of {place}; import repeats from an "
               "XLSX export with one sheet per repeat")
    else:
        msg = f"column {letter} {header!r} is not a field of form '{match.index.schema.form_id}'"
    return Problem("import.unknown_column", msg, where=sheet.where(column=header))


def _assign(plan: Plan, header: str, col: str, match: Matcher, repeat: str | None) -> bool:
    """Record the role of one column in the plan; False when the column is unknown."""
    layout = match.layout
    if repeat is not None:
        if header in ("_index", "_parent_index", "KEY", "PARENT_KEY"):
            setattr(plan, "index_col" if header in ("_index", "KEY") else "parent_col", col)
            return True
        if layout == "kobo" and match.media_url(header):
            return True  # the URL of an attachment: not an answer
        if header.startswith("_") and match.field(header) is None:
            return True  # Kobo's _submission__uuid, _parent_table_name: the parent's metadata
    else:
        if _assign_envelope(plan, header, col, layout):
            return True
        path = "meta/" + header[5:] if layout == "odk_central" and header.startswith("meta-") else header
        if path in _LIFTED_META:
            plan.meta[path] = col
            return True
        if path.startswith("meta/"):
            plan.leaf(path, quote_identifier(col), header)
            return True
        if match.field(header) is None and _is_channel_meta(layout, header):
            if layout == "kobo" and match.kobo_geo(header):
                return True  # derived from the geopoint column
            plan.meta[header] = col
            if header == "_index":
                plan.index_col = col
            if header == "FormVersion":
                plan.version_col = col
            if header in ("__version__", "_version_"):
                # KoboToolbox's own version id, not the XLSForm version: see infer_versions
                plan.kobo_version_col = col
            return True
        if layout == "kobo" and match.media_url(header):
            plan.meta[header] = col  # the attachment's URL on the KoboToolbox server
            return True
    f = match.field(header)
    if f is not None:
        if f.repeat != repeat:
            return False
        plan.leaf(_relative(f.path, repeat), quote_identifier(col), header)
        return True
    return _assign_derived(plan, header, col, match, repeat)


def _is_channel_meta(layout: Layout, header: str) -> bool:
    if layout == "kobo":
        return header in KOBO_META or header.startswith("_")
    return layout == "odk_central" and header in ODK_META


def _assign_envelope(plan: Plan, header: str, col: str, layout: Layout) -> bool:
    """Instance id, version and time columns of the main table."""
    ids = {"kobo": ("meta/instanceID", "instanceID"),
           "odk_central": ("meta-instanceID", "instanceID"),
           "plain": ("instance_id", "instanceID", "meta/instanceID")}[layout]
    if header in ids:
        plan.id_col = plan.id_col or col
        return True
    if layout == "kobo" and header == "_uuid":
        plan.kobo_uuid_col = col
        plan.meta[header] = col
        return True
    if layout == "plain" and header in ("form_version", "collected_at"):
        setattr(plan, "version_col" if header == "form_version" else "time_col", col)
        return True
    return False


def _relative(path: str, repeat: str | None) -> str:
    return path[len(repeat) + 1:] if repeat else path


def _assign_derived(plan: Plan, header: str, col: str, match: Matcher, repeat: str | None) -> bool:
    """Split geopoints (ODK) and expanded select_multiple choices (Kobo, ODK)."""
    if match.layout == "odk_central":
        hit = match.split(header, "-")
        if hit and hit[0].type in _GEO_TYPES and hit[1] in _ODK_GEO_PARTS and hit[0].repeat == repeat:
            plan.geo.setdefault(_relative(hit[0].path, repeat), {})[_ODK_GEO_PARTS.index(hit[1])] = col
            return True
    hit = match.split(header, "/-" if match.layout == "odk_central" else "/")
    if (hit and hit[0].type == "select_multiple" and hit[0].repeat == repeat
            and hit[1] in {c.name for c in hit[0].choices}):
        plan.choices.setdefault(_relative(hit[0].path, repeat), (hit[0], {}))[1][hit[1]] = col
        return True
    return False


def _all_null(cols: list[str]) -> str:
    return " AND ".join(f"{c} IS NULL" for c in cols)


def _derived_leaves(plan: Plan) -> None:
    """Rebuild geopoints and select_multiple answers; a main column, if present, wins."""
    for path, parts in plan.geo.items():
        if path not in plan.leaves:
            cols = [quote_identifier(parts[k]) for k in sorted(parts)]
            # ODK writes a geopoint as "lat lon alt acc"
            plan.leaves[path] = f"CASE WHEN {_all_null(cols)} THEN NULL ELSE concat_ws(' ', {', '.join(cols)}) END"
    for path, (f, by_choice) in plan.choices.items():
        if path in plan.leaves:
            continue  # Kobo writes both; the main column is the answer as given
        plan.leaves[path] = _choices_sql(f, by_choice)


def _choices_sql(f: Field, by_choice: dict[str, str]) -> str:
    """A select_multiple answer from one 0/1 column per choice, in the form's choice order."""
    order = [c.name for c in f.choices if c.name in by_choice]
    cols = [quote_identifier(by_choice[name]) for name in order]
    picks = ", ".join(f"CASE WHEN lower(trim({quote_identifier(by_choice[name])})) IN {_TRUE} THEN {quote_literal(name)} END"
                      for name in order)
    return f"CASE WHEN {_all_null(cols)} THEN NULL ELSE concat_ws(' ', {picks}) END"


# -- building the payloads in DuckDB ------------------------------------------------

def _json_sql(leaves: dict[str, str]) -> str:
    """A json_object(...) expression nesting slash paths, keys in canonical (sorted) order."""
    tree: dict[str, Any] = {}
    for path, expr in leaves.items():
        node = tree
        *groups, last = path.split("/")
        for g in groups:
            node = node.setdefault(g, {})
        node[last] = expr

    def render(node: dict[str, Any]) -> str:
        items = [f"{quote_literal(k)}, {render(v) if isinstance(v, dict) else v}" for k, v in sorted(node.items())]
        return f"json_object({', '.join(items)})"

    return render(tree)


@dataclass
class _Part:
    """A sheet registered in DuckDB with its plan."""

    name: str  # the DuckDB table name
    sheet: Sheet
    plan: Plan
    repeat: str | None


def _repeat_aggregates(con: duckdb.DuckDBPyConnection, parts: list[_Part], index: SchemaIndex,
                       problems: list[Problem]) -> dict[str | None, dict[str, str]]:
    """Aggregate each repeat sheet into a JSON list per parent row, innermost repeats first."""
    joins: dict[str | None, dict[str, str]] = {}  # parent repeat -> {relative path: agg table}
    by_repeat = {p.repeat: p for p in parts}
    for group in reversed(index.schema.repeats):
        part = by_repeat.get(group.path)
        if part is None:
            continue
        parent = by_repeat.get(group.parent_repeat)
        plan = part.plan
        if plan.parent_col is None or plan.index_col is None:
            problems.append(Problem("import.orphan_repeat_row",
                                    f"sheet {part.sheet.name or part.sheet.file!r} needs the columns "
                                    "_index and _parent_index (KoboToolbox) or KEY and PARENT_KEY "
                                    "(ODK Central)", where=part.sheet.where()))
            continue
        if parent is None or parent.plan.index_col is None:
            problems.append(Problem("import.orphan_repeat_row",
                                    f"the sheet holding the parents of {part.sheet.name!r} has no _index column",
                                    where=part.sheet.where()))
            continue
        leaves = dict(plan.leaves)
        sql_from = f"{part.name} t"
        for rel, agg in joins.get(group.path, {}).items():
            leaves[rel] = f"{agg}.arr"
            sql_from += f" LEFT JOIN {agg} ON {agg}.pidx = t.{quote_identifier(plan.index_col)}"
        agg_name = f"agg_{part.name}"
        con.execute(
            f"CREATE TEMP TABLE {agg_name} AS SELECT t.{quote_identifier(plan.parent_col)} AS pidx, "
            f"to_json(list({_json_sql(leaves)} ORDER BY TRY_CAST(t.{quote_identifier(plan.index_col)} AS BIGINT), t.row)) AS arr "
            f"FROM {sql_from} GROUP BY 1")
        orphans = con.execute(
            f"SELECT row FROM {part.name} WHERE {quote_identifier(plan.parent_col)} IS NULL OR {quote_identifier(plan.parent_col)} "
            f"NOT IN (SELECT {quote_identifier(parent.plan.index_col)} FROM {parent.name} "
            f"WHERE {quote_identifier(parent.plan.index_col)} IS NOT NULL) ORDER BY row LIMIT {_MAX_LISTED}").fetchall()
        for (row,) in orphans:
            problems.append(Problem("import.orphan_repeat_row",
                                    f"row {row} of sheet {part.sheet.name!r} points to no row of "
                                    f"{parent.sheet.name!r}", where=part.sheet.where(row=row)))
        rel = group.path[len(group.parent_repeat) + 1:] if group.parent_repeat else group.path
        joins.setdefault(group.parent_repeat, {})[rel] = agg_name
    return joins


def _main_select(main: _Part, index: SchemaIndex, joins: dict[str, str]) -> str:
    """The query giving one output row per row of the main sheet."""
    plan = main.plan
    leaves = dict(plan.leaves)
    sql_from = f"{main.name} t"
    for rel, agg in joins.items():
        leaves[rel] = f"{agg}.arr"
        sql_from += f" LEFT JOIN {agg} ON {agg}.pidx = t.{quote_identifier(plan.index_col or 'row')}"
    if plan.id_col:
        c = f"t.{quote_identifier(plan.id_col)}"
        id_sql = f"CASE WHEN trim({c}) = '' THEN NULL ELSE {c} END"
    elif plan.kobo_uuid_col:
        c = f"t.{quote_identifier(plan.kobo_uuid_col)}"
        # KoboToolbox's _uuid is the instanceID without its 'uuid:' prefix
        id_sql = (f"CASE WHEN trim({c}) = '' THEN NULL WHEN starts_with({c}, 'uuid:') THEN {c} "
                  f"ELSE 'uuid:' || {c} END")
    else:
        id_sql = "NULL::VARCHAR"
    times = [f"TRY_CAST({leaves[p]} AS TIMESTAMPTZ)" for p in index.time_paths if p in leaves]
    found = f"coalesce({', '.join(times)})" if times else "NULL::TIMESTAMPTZ"
    bad_time = "false"
    if plan.time_col:
        c = f"t.{quote_identifier(plan.time_col)}"
        found = f"CASE WHEN {c} IS NULL THEN {found} ELSE TRY_CAST({c} AS TIMESTAMPTZ) END"
        bad_time = f"({c} IS NOT NULL AND TRY_CAST({c} AS TIMESTAMPTZ) IS NULL)"
    version = f"t.{quote_identifier(plan.version_col)}" if plan.version_col else "NULL::VARCHAR"
    if plan.version_sql:
        version = plan.version_sql
    meta = {k: f"t.{quote_identifier(c)}" for k, c in plan.meta.items()}
    meta_sql = _json_sql_flat(meta)
    return (f"SELECT t.row AS row, {id_sql} AS instance_id, {_json_sql(leaves)}::VARCHAR AS payload, "
            f"{found} AS collected_at, {version} AS form_version, {meta_sql}::VARCHAR AS source_meta, "
            f"{bad_time} AS bad_time FROM {sql_from}")


def _json_sql_flat(items: dict[str, str]) -> str:
    """A json_object with the given keys as they are (slashes kept), sorted."""
    body = ", ".join(f"{quote_literal(k)}, {v}" for k, v in sorted(items.items()))
    return f"json_object({body})"


def _row_problems(con: duckdb.DuckDBPyConnection, main: _Part, problems: list[Problem]) -> None:
    """Blank and duplicate instance ids, and unreadable collected_at, found by grouping in DuckDB."""
    sheet, plan = main.sheet, main.plan
    id_header = _header_of(sheet, plan.id_col or plan.kobo_uuid_col)
    n_blank, blank_rows = con.execute(
        f"SELECT count(*), list(row ORDER BY row)[1:{_MAX_LISTED}] FROM out WHERE instance_id IS NULL"
    ).fetchone() or (0, [])
    for row in blank_rows or []:
        problems.append(Problem("import.missing_instance_id", f"row {row} has no instance id",
                                where=sheet.where(column=id_header, row=row)))
    _more(problems, n_blank, "rows have no instance id", sheet)
    dups = con.execute(
        "SELECT instance_id, list(row ORDER BY row), count(*) OVER () FROM out WHERE instance_id IS NOT NULL "
        f"GROUP BY instance_id HAVING count(*) > 1 ORDER BY min(row) LIMIT {_MAX_LISTED}").fetchall()
    for instance_id, rows, _ in dups:
        problems.append(Problem(
            "import.duplicate_instance_id",
            f"instance id {instance_id!r} is in rows {', '.join(map(str, rows))}",
            where=Where(file=sheet.file, sheet=sheet.name, column=id_header, row=rows[0],
                        instance_id=instance_id)))
    _more(problems, dups[0][2] if dups else 0, "instance ids appear more than once", sheet)
    if plan.time_col:
        bad = con.execute(f"SELECT row FROM out WHERE bad_time ORDER BY row LIMIT {_MAX_LISTED}").fetchall()
        for (row,) in bad:
            problems.append(Problem("intake.bad_timestamp", f"row {row}: collected_at is not ISO 8601",
                                    where=sheet.where(column="collected_at", row=row)))


def _more(problems: list[Problem], total: int, what: str, sheet: Sheet) -> None:
    """One closing problem saying how many were not listed, so the list stays readable."""
    if total > _MAX_LISTED:
        code = problems[-1].code
        problems.append(Problem(code, f"… and {total - _MAX_LISTED} more {what}", where=sheet.where()))


def _header_of(sheet: Sheet, col: str | None) -> str | None:
    return sheet.headers[int(col[1:])] if col else None


def _canonicalise_escapes(con: duckdb.DuckDBPyConnection) -> None:
    """Rewrite the rare payloads whose control-character escapes differ from Python's JSON."""
    rows = con.execute("SELECT row, payload FROM out WHERE contains(payload, '\\u00') "
                       "AND regexp_matches(payload, ?)", [_UPPER_ESCAPE]).fetchall()
    if rows:
        fixed = []
        for row, text in rows:
            payload = json.loads(text)
            fixed.append((canonical_json(payload), content_hash(payload), row))
        con.executemany("UPDATE out SET payload = ?, content_hash = ? WHERE row = ?", fixed)


# -- the entry point -------------------------------------------------------------

def _is_xlsx(data: bytes, filename: str) -> bool:
    return data[:4] == b"PK\x03\x04" or filename.lower().endswith((".xlsx", ".xlsm"))


def _match_sheets(sheets: list[Sheet], index: SchemaIndex) -> tuple[Sheet, dict[str, Sheet]]:
    """The main sheet and the repeat sheets (Kobo names them after the repeat, cut to 31 characters)."""
    names: dict[str, str] = {}
    for g in index.schema.repeats:
        for candidate in (g.name, g.name[:31], g.path, g.path[:31]):
            names.setdefault(candidate, g.path)
    main = next((s for s in sheets if (s.name or "") not in names), sheets[0])
    repeats = {names[s.name]: s for s in sheets if s is not main and s.name in names}
    return main, repeats


def _read_sheets(data: bytes, filename: str, index: SchemaIndex, problems: list[Problem],
                 encoding: str | None, limits: ArchiveLimits | None) -> tuple[Sheet, dict[str, Sheet]]:
    """The main sheet and the repeat sheets of an XLSX workbook, a Central zip or a CSV."""
    if _is_xlsx(data, filename):
        # before anything opens it: a damaged or hostile zip is a coded refusal
        check_archive(data, filename, limits or archive_limits())
    if is_central_zip(data):
        main_name, by_repeat, rest = central_parts(zip_names(data), index.schema)
        if main_name is None:
            raise not_a_table(filename, "the zip holds no CSV file")
        try:
            members = read_zip_members(data, [main_name, *by_repeat.values()])
        except Exception as exc:  # a damaged member (CRC, header) fails in many ways
            raise not_a_table(filename, "the zip is damaged; export it again") from exc
        for name in rest:
            problems.append(Problem("import.unknown_part", f"{name} in the zip is not a repeat of "
                                    f"form '{index.schema.form_id}'", where=Where(file=name)))
        return (read_csv_sheet(members[main_name], main_name, problems, encoding),
                {path: read_csv_sheet(members[n], n, problems, encoding) for path, n in by_repeat.items()})
    if _is_xlsx(data, filename):
        sheets = read_xlsx_sheets(data, filename, problems)
        if not sheets:
            raise not_a_table(filename, "the workbook has no sheets")
        return _match_sheets(sheets, index)
    if data[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1":
        raise not_a_table(filename, "it is an old Excel .xls file; save it as .xlsx or CSV")
    return read_csv_sheet(data, filename, problems, encoding), {}


@dataclass
class _Names:
    """Header spellings of one file: the tables and the label language found."""

    tables: dict[str | None, dict[str, str]]
    lang: str | None = None

    def of(self, sheet: Sheet, layout: Layout) -> list[str]:
        if layout != "kobo":
            return sheet.headers
        names, self.lang = canonical_headers(sheet.headers, self.tables, self.lang)
        return names


def _relabel(con: duckdb.DuckDBPyConnection, part: _Part, index: SchemaIndex,
             labels: FormLabels | None, lang: str | None) -> None:
    """Answers of a label export back to choice names, for every select column of a sheet."""
    if lang is None:
        return
    lists = (labels.choices if labels and labels.paths else {}).get(lang, {})
    if not lists:
        fallback = {f.list_name: {c.name: c.label for c in f.choices if c.label}
                    for f in index.schema.fields if f.list_name}
        lists = {k: {n: t for n, t in v.items() if t} for k, v in fallback.items() if k}
    plan = part.plan
    for rel in list(plan.sources):
        f = index.fields.get(f"{part.repeat}/{rel}" if part.repeat else rel)
        if f is None or not f.list_name or rel not in plan.leaves:
            continue
        sql = label_value_sql(con, part.name, plan.leaves[rel], f, lists.get(f.list_name, {}))
        if sql is None and rel in plan.choices:
            sql = _choices_sql(*plan.choices[rel])  # answers not readable as labels: use 0/1 columns
        if sql is not None:
            plan.leaves[rel] = sql


def _versions(con: duckdb.DuckDBPyConnection, main: _Part, ctx: ExportContext) -> None:
    """Each row's form version from KoboToolbox's version id, matched by content."""
    plan = main.plan
    if plan.kobo_version_col is None or plan.version_col is not None:
        return
    id_expr = quote_identifier(plan.kobo_version_col)
    mapping = infer_versions(con, main.name, id_expr, plan.leaves, ctx)
    plan.version_sql = version_sql(f"t.{id_expr}", mapping)


def read_tabular(data: bytes, filename: str, schema: FormSchema, *, encoding: str | None = None,
                 limits: ArchiveLimits | None = None,
                 context: ExportContext | None = None) -> TabularImport:
    """A CSV, XLSX or ODK Central zip export as one row per submission with canonical JSON.

    A CSV is read as UTF-8 (or UTF-16 with a byte order mark) unless ``encoding`` names
    its encoding; nothing is guessed (see :mod:`citizendata.ingest.encoding`). An XLSX
    workbook carries its own encoding and must stay within ``limits`` when decompressed
    (the settings' defaults when not given). ``context`` gives the form's versions and
    labels in every language (label exports, KoboToolbox version ids) and an explicit
    mapping of KoboToolbox version ids to form versions.
    """
    ctx = context or ExportContext()
    index = SchemaIndex(schema)
    problems: list[Problem] = []
    main_sheet, repeat_sheets = _read_sheets(data, filename, index, problems, encoding, limits)
    layout = detect_layout(main_sheet.headers)
    names = _Names(header_tables(schema, ctx.labels))
    n_before = len(problems)
    main_plan = plan_columns(main_sheet, index, layout, None, problems, names.of(main_sheet, layout))
    recognised = main_plan.id_col or main_plan.kobo_uuid_col or main_plan.leaves
    if len(main_sheet.headers) == 1 and not recognised:
        raise not_a_table(filename, "it has a single column and no recognisable header")
    if len(problems) - n_before == len(main_sheet.headers) and not recognised and main_sheet.headers:
        problems.insert(n_before, Problem("import.not_a_table", "no column of the file is a field of the "
                                          "form", where=main_sheet.where()))
    if not (main_plan.id_col or main_plan.kobo_uuid_col):
        problems.append(Problem("import.no_instance_id_column",
                                "the file has no instance id column ('_uuid', 'meta-instanceID', "
                                "'instance_id' or 'instanceID')", where=main_sheet.where()))
    con = duckdb.connect()
    try:
        con.execute("SET TimeZone = 'UTC'")
        main = _Part("src", main_sheet, main_plan, None)
        parts = [main]
        con.register("src", main_sheet.table)
        for k, (path, sheet) in enumerate(repeat_sheets.items()):
            part = _Part(f"rep{k}", sheet, plan_columns(sheet, index, layout, path, problems,
                                                        names.of(sheet, layout)), path)
            con.register(part.name, sheet.table)
            parts.append(part)
        for part in parts:
            _relabel(con, part, index, ctx.labels, names.lang)
        _versions(con, main, ctx)
        return _build(con, parts, index, problems, filename, layout)
    finally:
        con.close()


def _build(con: duckdb.DuckDBPyConnection, parts: list[_Part], index: SchemaIndex,
           problems: list[Problem], filename: str, layout: Layout) -> TabularImport:
    """Run the payload query, collect the row problems, and return the table."""
    main = parts[0]
    joins = _repeat_aggregates(con, parts, index, problems)
    con.execute(f"CREATE TEMP TABLE out AS SELECT *, sha256(payload) AS content_hash "
                f"FROM ({_main_select(main, index, joins.get(None, {}))})")
    if main.plan.id_col or main.plan.kobo_uuid_col:
        _row_problems(con, main, problems)
    if problems:
        raise problems_error(problems, file=filename)
    _canonicalise_escapes(con)
    # Without joins DuckDB keeps the file's row order; sorting a million rows costs seconds.
    order = " ORDER BY row" if joins else ""
    table = con.sql(
        "SELECT row, instance_id, payload, content_hash, collected_at, form_version, source_meta "
        f"FROM out{order}").to_arrow_table()
    table = table.cast(OUTPUT_SCHEMA)
    return TabularImport(layout=layout, table=table, n_rows=table.num_rows, file=filename)
