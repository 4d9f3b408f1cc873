"""Cases from several lists: list import mapping, the case table, and verification.

A project with a ``cases:`` section (projects/cases.py) keeps every source record as a
submission of its case form. An organisation's own file (CSV/XLSX, its own column
names and date format) is mapped here to the form's fields and handed to the one bulk
importer (services/bulk.py), with an instance id derived from (project, list, record
id): a re-import is a no-op and a changed row a conflict, as in ODK Central.

Verification follows the review workflow's conventions: decisions are appended, never
changed (``case_verifications``); a case's status is its latest decision, ``reported``
before any; every decision is audited without personal data. Errors name the file, row
and column, never a value of a personal field.
"""

from __future__ import annotations

import io
import re
import uuid
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, cast

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from citizendata.auth import Action, Actor, allowed
from citizendata.errors import BadInput, CitizenDataError, Problem, Where, problems_error
from citizendata.forms.schema import FormSchema
from citizendata.ingest.payload import get_path
from citizendata.projects.cases import CasesSpec, ListSpec
from citizendata.services.access import audit, form_in, project_for, project_spec
from citizendata.services.consent import consent_spec
from citizendata.services.forms import merged_schema
from citizendata.services.snapshots import export_batches
from citizendata.services.submissions import current_version
from citizendata.store.models import CaseVerification, Form, Project, Submission

if TYPE_CHECKING:
    import pandas as pd

    from citizendata.ingest.archive import ArchiveLimits

__all__ = ["DECISIONS", "STATUSES", "case_frame", "case_instance_id", "cases_spec",
           "check_case_form", "list_cases", "map_list_file", "remap_problems", "verification", "verify"]

DECISIONS = ("verified", "not_verified")
STATUSES = ("reported", *DECISIONS)
_NAMESPACE = uuid.UUID("6f1c3e0a-7d2b-5b8e-9a61-19c0a5e1d016")  # citizendata case records


def cases_spec(project: Project) -> CasesSpec:
    """The project's ``cases:`` section, or a coded error saying it has none."""
    spec = project_spec(project).cases
    if spec is None:
        raise BadInput("cases.invalid", f"Project {project.slug!r} declares no cases.",
                       where=Where(field="cases"),
                       fix="Add a cases: section (case form, lists, linkage, estimates) to "
                           "the project spec.")
    return spec


def list_spec(cspec: CasesSpec, name: str) -> ListSpec:
    """One list of the project by name, else a coded error naming the known ones."""
    for x in cspec.lists:
        if x.name == name:
            return x
    raise BadInput("cases.invalid", f"The project has no list {name!r}.", where=Where(field="list"),
                   fix=f"Use one of {[x.name for x in cspec.lists]}.")


def case_instance_id(slug: str, list_name: str, record_id: str) -> str:
    """The instance id of a list's record: the same for every import of the same record."""
    return "uuid:" + str(uuid.uuid5(_NAMESPACE, f"{slug}/{list_name}/{record_id}"))


def check_case_form(cspec: CasesSpec, schema: FormSchema) -> FormSchema:
    """The case form's schema, once it is known to mark the victims' names personal.

    Only fields the form flags are withheld from roles without personal data (case page,
    exports, OData), so a case form that forgets ``personal: yes`` on the names would show
    them to analysts: every use of the case form goes through here and refuses it."""
    fields = {x.name: x for x in schema.fields}
    bare = [name for name in (cspec.fields.given_names, cspec.fields.surnames)
            if name in fields and not fields[name].personal]
    if bare:
        raise BadInput("cases.invalid", f"The case form {cspec.form!r} does not mark "
                       f"{list_of(bare)} personal; victims' names never leave the server.",
                       where=Where(field=bare[0]),
                       fix="Mark it personal: yes in the XLSForm and publish the form again.",
                       problems=[Problem("cases.invalid", f"field {name!r} is not personal",
                                         where=Where(field=name),
                                         fix="mark it personal: yes in the XLSForm")
                                 for name in bare])
    return schema


def _read_sheet(data: bytes, filename: str, problems: list[Problem], encoding: str | None,
                limits: ArchiveLimits | None) -> Any:
    from citizendata.ingest.archive import archive_limits, check_archive
    from citizendata.ingest.encoding import not_a_table
    from citizendata.ingest.sheets import read_csv_sheet, read_xlsx_sheets

    if data[:4] == b"PK\x03\x04" or filename.lower().endswith((".xlsx", ".xlsm")):
        check_archive(data, filename, limits or archive_limits())
        sheets = read_xlsx_sheets(data, filename, problems)
        if not sheets:
            raise not_a_table(filename, "the workbook has no sheets")
        _uncached_formulas(data, sheets[0], problems)
        return sheets[0]
    return read_csv_sheet(data, filename, problems, encoding)


_FORMULA = re.compile(rb"<(?:\w+:)?f[ >/]")
_MAIN = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
_REL = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"


def _sheet_part(z: Any, title: str | None) -> str | None:
    """The zip part of the worksheet called ``title`` (else the first), from the workbook's
    sheet list and its relationships."""
    from defusedxml import ElementTree as ET

    sheets = ET.fromstring(z.read("xl/workbook.xml")).iter(f"{_MAIN}sheet")
    rid = next((e.get(f"{_REL}id") for e in sheets if title is None or e.get("name") == title),
               None)
    rels = ET.fromstring(z.read("xl/_rels/workbook.xml.rels"))
    target = next((e.get("Target") for e in rels if e.get("Id") == rid), None)
    if target is None:
        return None
    return target.lstrip("/") if target.startswith("/") else "xl/" + target


def _uncached_formulas(data: bytes, sheet: Any, problems: list[Problem]) -> None:
    """A formula cell stored without its computed value (a workbook written by a program and
    never opened in a spreadsheet) reads as blank: each such cell of a named column is a
    problem (row, column), not a silently dropped value. Without a value means no ``<v>``,
    or an empty one on a cell not typed as text (an empty text result is a value)."""
    import zipfile

    from defusedxml import ElementTree as ET

    from citizendata.ingest.encoding import column_letter

    letters = {column_letter(i): h for i, h in enumerate(sheet.headers)}
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        part = _sheet_part(z, sheet.name)
        if part is None or part not in z.namelist():
            return
        xml = z.read(part)
    if not _FORMULA.search(xml):
        return  # the common case: no formulas, no second read
    for _, cell in ET.iterparse(io.BytesIO(xml)):
        if cell.tag != f"{_MAIN}c":
            continue
        if cell.find(f"{_MAIN}f") is not None:
            value = cell.find(f"{_MAIN}v")
            empty = value is None or not (value.text or "")
            ref = cell.get("r") or ""
            col, row = ref.rstrip("0123456789"), ref[len(ref.rstrip("0123456789")):]
            if empty and cell.get("t") not in ("str", "inlineStr") and col in letters \
                    and row.isdigit() and int(row) > 1:
                problems.append(Problem(
                    "cases.invalid", "a formula cell has no computed value",
                    where=sheet.where(column=letters[col], row=int(row)),
                    fix="Open and save the workbook in a spreadsheet program, or type the "
                        "value instead of the formula."))
        cell.clear()


def map_list_file(data: bytes, filename: str, slug: str, lspec: ListSpec, cspec: CasesSpec,
                  schema: FormSchema, *, encoding: str | None = None,
                  limits: ArchiveLimits | None = None) -> tuple[bytes, list[int]]:
    """The organisation's file as a plain CSV of the case form (with instance ids), and the
    file's row number of each of its rows; every problem of the file raised at once."""
    check_case_form(cspec, schema)
    problems: list[Problem] = []
    sheet = _read_sheet(data, filename, problems, encoding, limits)
    f = cspec.fields
    paths = {x.name: x.path for x in schema.fields if x.repeat is None}
    dates = {x.name for x in schema.fields if x.type == "date"}
    by_name = {x.name: x for x in schema.fields if x.repeat is None}
    seen: dict[str, str] = {}
    cols: dict[str, pa.ChunkedArray] = {}
    for i, header in enumerate(sheet.headers):
        target = lspec.columns.get(header)
        if target is None:
            problems.append(Problem("cases.invalid", f"column {header!r} is not mapped to a "
                                    f"field of the case form by list {lspec.name!r}",
                                    where=sheet.where(column=header),
                                    fix="Remove the column, or map it in the list's columns."))
            continue
        if target in (f.source,) or target not in paths:
            problems.append(Problem("cases.invalid", f"column {header!r} maps to {target!r}, "
                                    "which the case form cannot take from a list",
                                    where=sheet.where(column=header)))
            continue
        if target in seen:
            problems.append(Problem("cases.invalid", f"columns {seen[target]!r} and {header!r} "
                                    f"both map to {target!r}", where=sheet.where(column=header)))
            continue
        seen[target] = header
        col = sheet.table.column(f"c{i}")
        cols[target] = _dates(col, lspec.date_format, sheet, header, problems) \
            if target in dates else _pad_codes(_text(col), by_name[target])
        _check_values(cols[target], by_name[target], sheet, header, problems)
    rows = sheet.table.column("row")
    if f.record_id not in cols:
        problems.append(Problem("cases.invalid", f"no column of the file is mapped to "
                                f"{f.record_id!r} (the list's own record id)",
                                where=sheet.where(), fix="Map the record id column."))
    else:
        _check_ids(cols[f.record_id], rows, sheet, seen[f.record_id], problems)
    if problems:
        raise problems_error(problems, file=filename, code="cases.invalid")
    rid = cols[f.record_id].to_pylist()
    out = {"instance_id": pa.array([case_instance_id(slug, lspec.name, r) for r in rid]),
           paths[f.source]: pa.array([lspec.name] * len(rid)),
           **{paths[k]: v for k, v in cols.items()}}
    buf = io.BytesIO()
    pacsv.write_csv(pa.table(out), buf)
    return buf.getvalue(), rows.to_pylist()


def _text(col: pa.ChunkedArray) -> pa.ChunkedArray:
    """Cells trimmed; a blank one is no answer."""
    t = pc.utf8_trim_whitespace(col)
    return pc.if_else(pc.equal(t, ""), pa.scalar(None, pa.string()), t)


def _dates(col: pa.ChunkedArray, fmt: str, sheet: Any, header: str,
           problems: list[Problem]) -> pa.ChunkedArray:
    """A text column of dates in the list's format as ISO dates; unreadable ones listed."""
    text = _text(col)
    parsed = pc.strptime(text, format=fmt, unit="s", error_is_null=True)
    if sheet.name is not None:
        # a workbook's date cells are dates, read as ISO text whatever the list's format
        for iso in ("%Y-%m-%d", "%Y-%m-%dT%H:%M:%S"):
            parsed = pc.coalesce(parsed, pc.strptime(text, format=iso, unit="s",
                                                     error_is_null=True))
    bad = pc.and_(pc.is_valid(text), pc.is_null(parsed))
    rows = pc.filter(sheet.table.column("row"), bad).to_pylist()
    for r in rows[:1000]:
        # the date itself is not quoted: the row and column find it
        problems.append(Problem("cases.invalid", f"not a date in the list's format {fmt!r}",
                                where=sheet.where(column=header, row=r),
                                fix="Correct the date, or the list's date_format."))
    return pc.strftime(parsed, format="%Y-%m-%d")


def _pad_codes(col: pa.ChunkedArray, field: Any) -> pa.ChunkedArray:
    """A select_one whose choices are all digit codes of one width (DIVIPOLA: '05',
    '05001') gets back the leading zeros a spreadsheet drops from a number (5, 5001): a
    shorter all-digit cell is left-padded with zeros when the padded value is a choice;
    any other value is kept as it is (and refused if it is not a choice)."""
    names = [c.name for c in field.choices] if field.type == "select_one" else []
    width = len(names[0]) if names else 0
    if not names or not all(n.isdigit() and len(n) == width for n in names):
        return col
    padded = pc.utf8_lpad(col, width=width, padding="0")
    use = pc.and_(pc.match_substring_regex(col, "^[0-9]+$"),
                  pc.is_in(padded, value_set=pa.array(names, pa.string())))
    return pc.if_else(pc.fill_null(use, False), padded, col)


_INTEGER = r"^[+-]?[0-9]+$"
_DECIMAL = r"^[+-]?([0-9]+[.]?[0-9]*|[.][0-9]+)$"


def _check_values(col: pa.ChunkedArray, field: Any, sheet: Any, header: str,
                  problems: list[Problem]) -> None:
    """Numbers are numbers and a select_one's answer is one of its choices (row, column)."""
    if field.type == "select_one" and field.choices:
        names = pa.array([c.name for c in field.choices], pa.string())
        bad = pc.and_(pc.is_valid(col), pc.invert(pc.is_in(col, value_set=names)))
        rule = f"one of the choices {[c.name for c in field.choices][:20]}"
    elif field.type in ("integer", "decimal"):
        ok = pc.match_substring_regex(col, _INTEGER if field.type == "integer" else _DECIMAL)
        bad = pc.invert(pc.fill_null(ok, True))
        rule = f"a number ({field.type})"
    else:
        return
    for r in pc.filter(sheet.table.column("row"), bad).to_pylist()[:1000]:
        problems.append(Problem("cases.invalid", f"the value is not {rule}",
                                where=sheet.where(column=header, row=r),
                                fix="Correct the value, or map the column to another field."))


def _check_ids(col: pa.ChunkedArray, rows: pa.ChunkedArray, sheet: Any, header: str,
               problems: list[Problem]) -> None:
    """Every row has a record id, and no id appears twice in the file."""
    for r in pc.filter(rows, pc.is_null(col)).to_pylist()[:1000]:
        problems.append(Problem("cases.invalid", "the record id is empty",
                                where=sheet.where(column=header, row=r),
                                fix="Give every record the list's own id."))
    t = pa.table({"id": col, "row": rows}).filter(pc.is_valid(col))
    counts = t.group_by("id").aggregate([("row", "count"), ("row", "max")])
    for r in counts.filter(pc.greater(counts.column("row_count"), 1)).column("row_max") \
            .to_pylist()[:1000]:
        problems.append(Problem("cases.invalid", "the record id repeats an earlier row's",
                                where=sheet.where(column=header, row=r),
                                fix="Each record of a list has its own id."))


def remap_problems(exc: CitizenDataError, filename: str, lspec: ListSpec, rows: Sequence[int]
                   ) -> CitizenDataError:
    """An error of the mapped CSV told in the organisation's file: its rows and columns."""
    back = {v: k for k, v in lspec.columns.items()}

    def where(w: Where | None) -> Where | None:
        if w is None:
            return None
        row = rows[w.row - 2] if w.row is not None and 2 <= w.row < len(rows) + 2 else w.row
        column = back.get(w.column.split("/")[-1], w.column) if w.column else None
        return Where(file=filename, sheet=w.sheet, row=row, column=column, field=w.field,
                     position=w.position, instance_id=w.instance_id)

    problems = [Problem(p.code, p.message, where(p.where), p.rule, p.fix) for p in exc.problems]
    return type(exc)(exc.code, exc.message, where=where(exc.where), rule=exc.rule,
                     fix=exc.fix, problems=problems, details=exc.details)


def import_target(db: Session, actor: Actor | None, slug: str, list_name: str
                  ) -> tuple[str, ListSpec, CasesSpec]:
    """The case form's id and the list, for a caller who may import submissions."""
    project, _ = project_for(db, actor, slug, Action.SUBMISSION_CREATE)
    cspec = cases_spec(project)
    return cspec.form, list_spec(cspec, list_name), cspec


def _json_path(path: str) -> str:
    return "$." + ".".join(f'"{p}"' for p in path.split("/"))


def case_frame(db: Session, project: Project, form: Form, cspec: CasesSpec) -> pd.DataFrame:
    """Every case of the form whose consent to analysis stands: one row per submission with
    ``_id``, ``instance_id``, ``review_status``, ``status`` (verification), ``key`` and the
    case fields (as text). Holds personal data: it never leaves the server as it is."""
    import duckdb
    import numpy as np
    import pandas as pd

    from citizendata.snapshot.synthetic import BATCH_SCHEMA

    # COPY of no rows is no CSV at all: ask first whether the form has any
    stored = db.scalar(select(Submission.id).where(Submission.form_id == form.id).limit(1))
    batches = [] if stored is None else list(export_batches(
        db, form.id, withdrawn_scope=consent_spec(project).analysis))

    subs = pa.Table.from_batches(batches, schema=BATCH_SCHEMA)
    schema = check_case_form(cspec, merged_schema(db, form))
    paths = {x.name: x.path for x in schema.fields if x.repeat is None}
    fields = cspec.fields.model_dump()
    con = duckdb.connect()
    try:
        con.register("subs", subs)
        exprs = ", ".join(
            f"json_extract_string(payload, '{_json_path(paths.get(name, name))}') AS \"{key}\""
            for key, name in fields.items())
        df = con.sql(f"SELECT _id, _instance_id AS instance_id, _review_status AS review_status,"
                     f" {exprs} FROM subs ORDER BY _id").df()
    finally:
        con.close()
    df = df.rename(columns={k: fields[k] for k in fields})
    latest = (select(CaseVerification.submission_id, CaseVerification.decision)
              .where(CaseVerification.id.in_(
                  select(func.max(CaseVerification.id)).where(
                      CaseVerification.project_id == project.id)
                  .group_by(CaseVerification.submission_id))))
    status = {int(i): str(d) for i, d in db.execute(latest).all()}
    ids = df["_id"].to_numpy()
    known = np.isin(ids, np.fromiter(status, dtype=np.int64, count=len(status)))
    df["status"] = np.where(known, df["_id"].map(pd.Series(status, dtype=object)), "reported")
    df["key"] = df[cspec.fields.source].astype(str) + ":" + df[cspec.fields.record_id].astype(str)
    return pd.DataFrame(df)


def _case_form(db: Session, actor: Actor | None, slug: str, action: Action
               ) -> tuple[Project, str, CasesSpec, Form]:
    project, role = project_for(db, actor, slug, action)
    cspec = cases_spec(project)
    form = form_in(db, project, cspec.form)
    # the case page, the case list and verification all start here
    check_case_form(cspec, merged_schema(db, form))
    return project, role, cspec, form


def list_cases(db: Session, actor: Actor | None, slug: str, *, list: str | None = None,
               status: str | None = None, limit: int = 100, offset: int = 0) -> dict[str, Any]:
    """A page of cases, oldest first, with their verification status; names only for roles
    that may see personal data."""
    project, role, cspec, form = _case_form(db, actor, slug, Action.SUBMISSION_VIEW)
    if status is not None and status not in STATUSES:
        raise BadInput("cases.invalid", f"Unknown status {status!r}.", where=Where(field="status"),
                       fix=f"Use one of {list_of(STATUSES)}.")
    if list is not None:
        list_spec(cspec, list)
    if not (1 <= limit <= 1000 and offset >= 0):
        raise BadInput("input.invalid", "limit is 1 to 1000 and offset 0 or more.",
                       where=Where(field="limit"))
    df = case_frame(db, project, form, cspec)
    f = cspec.fields
    if list is not None:
        df = df[df[f.source] == list]
    if status is not None:
        df = df[df["status"] == status]
    page = df.iloc[offset:offset + limit]
    shown = ["instance_id", "key", f.source, f.record_id, f.violation, f.event_date,
             f.department, f.municipality, f.role, "review_status", "status"]
    if allowed(role, Action.PERSONAL_DATA_VIEW):
        shown += [f.given_names, f.surnames]
    rows = page[shown].astype(object).where(page[shown].notna(), None).to_dict("records")
    return {"total": len(df), "limit": limit, "offset": offset, "rows": rows,
            "personal": allowed(role, Action.PERSONAL_DATA_VIEW)}


def list_of(items: Sequence[str]) -> str:
    """Items for a message: a, b or c."""
    return ", ".join(items[:-1]) + f" or {items[-1]}" if len(items) > 1 else "".join(items)


def _case(db: Session, role: str, form: Form, instance_id: str, *, reading: bool) -> Any:
    from citizendata.services.review import _submissions

    (sub,) = _submissions(db, form.id, [instance_id], role, reading=reading)
    return sub


def verify(db: Session, actor: Actor | None, slug: str, instance_id: str, decision: str, *,
           criteria: Sequence[str], evidence: str, note: str = "") -> dict[str, Any]:
    """Record a validator's decision on a case of the verified list; returns its status."""
    project, role, cspec, form = _case_form(db, actor, slug, Action.SUBMISSION_REVIEW)
    assert actor is not None
    vspec = cspec.verification
    if vspec is None:
        raise BadInput("verification.invalid", "The project's cases declare no verification.",
                       where=Where(field="cases.verification"),
                       fix="Add cases.verification: the list and its written criteria.")
    if decision not in DECISIONS:
        raise BadInput("verification.invalid", f"Unknown decision {decision!r}.",
                       where=Where(field="decision"), fix=f"Use {list_of(DECISIONS)}.")
    # cast: the spec's field named ``list`` hides the builtin in its annotations for mypy
    codes = [c.code for c in cast(Sequence[Any], vspec.criteria)]
    unknown = sorted(set(criteria) - set(codes))
    if unknown:
        raise BadInput("verification.invalid", f"Unknown criteria {unknown}.",
                       where=Where(field="criteria"), fix=f"Criteria are {codes}.")
    sub = _case(db, role, form, instance_id, reading=False)
    paths = {x.name: x.path for x in merged_schema(db, form).fields if x.repeat is None}
    source = get_path(current_version(db, sub)[1], paths.get(cspec.fields.source,
                                                              cspec.fields.source))
    if source != vspec.list:
        raise BadInput("verification.invalid", f"Case {instance_id} is a record of list "
                       f"{source!r}; only records of {vspec.list!r} are verified.",
                       where=Where(instance_id=instance_id, field="source"))
    if decision == "verified":
        missing = [c for c in (vspec.required or codes) if c not in criteria]
        if missing:
            raise BadInput("verification.invalid", f"A verified case meets every required "
                           f"criterion; not checked: {missing}.", where=Where(
                               instance_id=instance_id, field="criteria"),
                           fix="Check the criteria met, or decide not_verified.")
        if not evidence.strip():
            raise BadInput("verification.invalid", "A verified case needs its evidence.",
                           where=Where(instance_id=instance_id, field="evidence"),
                           fix="Say what the case was verified against (sources, documents).")
    db.add(CaseVerification(project_id=project.id, submission_id=sub.id, decision=decision,
                            criteria=sorted(set(criteria), key=codes.index), evidence=evidence,
                            note=note, actor_id=actor.user_id, actor=actor.username))
    # no evidence or note in the log: either may quote the case
    audit(db, actor, "cases.verify", "submission", sub.id, project_id=project.id,
          details={"instance_id": instance_id, "decision": decision,
                   "criteria": sorted(set(criteria))})
    db.flush()
    return verification_of(db, role, project, form, sub)


def verification(db: Session, actor: Actor | None, slug: str, instance_id: str) -> dict[str, Any]:
    """A case's current status and every decision on it, oldest first."""
    project, role, _cspec, form = _case_form(db, actor, slug, Action.SUBMISSION_VIEW)
    return verification_of(db, role, project, form,
                           _case(db, role, form, instance_id, reading=True))


def verification_of(db: Session, role: str, project: Project, form: Form, sub: Any
                    ) -> dict[str, Any]:
    """The status and history of one case (evidence shown to those who review)."""
    rows = db.scalars(select(CaseVerification).where(CaseVerification.submission_id == sub.id)
                      .order_by(CaseVerification.id)).all()
    reviewer = allowed(role, Action.SUBMISSION_REVIEW)
    history = [{"decision": r.decision, "criteria": list(r.criteria), "actor": r.actor,
                "at": r.at.isoformat(),
                **({"evidence": r.evidence, "note": r.note} if reviewer else {})} for r in rows]
    return {"instance_id": sub.instance_id, "status": rows[-1].decision if rows else "reported",
            "history": history}
