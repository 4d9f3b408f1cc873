"""Read an XLSForm into a FormSchema and an XForm, through pyxform.

This is the only module that knows pyxform and its internal JSON dictionary;
everything else uses :class:`~citizendata.forms.schema.FormSchema`.

Personal data tagging (``Field.personal``), in this order:

1. a ``personal`` column on the survey row decides when it is set: yes/true/1 tags the
   field, no/false/0 explicitly un-tags it;
2. a ``sensitive`` column set to yes/true/1 tags the field;
3. otherwise these types are personal by default: free ``text`` (no appearance un-tags it,
   because phone numbers and names are often typed into text questions with the
   ``numbers`` appearance), exact positions (``geopoint``, ``geotrace``, ``geoshape``,
   ``start-geopoint``), contact and device identifiers (``phonenumber``, ``email``,
   ``username``, ``deviceid``, ``subscriberid``, ``simserial``) and recordings that can
   show or voice a person (``image``, ``audio``, ``video``, ``background-audio``, ``file``);
4. every field inside a group or repeat tagged ``personal``/``sensitive`` is personal
   unless its own row says ``personal: no``;
5. a field computed from a personal one (its ``calculation`` or ``default`` refers to it
   with ``${name}``, e.g. an ``instance_name`` built from the respondent's name) is
   personal too.

``meta/instanceID`` (added by pyxform, typed ``text`` here) is never personal.
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import PurePath
from typing import Any

from defusedxml import ElementTree as SafeET
from pyxform.errors import PyXFormError, PyXFormReadError
from pyxform.parsing.parameters import parse as parse_parameters
from pyxform.question_type_dictionary import QUESTION_TYPE_DICT
from pyxform.xls2json_backends import DefinitionData, get_xlsform
from pyxform.xls2xform import convert

from citizendata.config import DEFAULT_MAX_DEPTH
from citizendata.errors import BadInput, Problem, Where
from citizendata.forms.media import ITEMSETS, Need, needed_files
from citizendata.forms.schema import STORAGE_TYPES, Choice, Field, FormSchema, Group
from citizendata.ingest.archive import ArchiveLimits, archive_limits, check_archive

__all__ = ["ParsedForm", "merge_schemas", "parse_xlsform"]

_XF = "{http://www.w3.org/2002/xforms}"
_ZIP_MAGIC = b"PK\x03\x04"
_OLE_MAGIC = bytes.fromhex("D0CF11E0A1B11AE1")
_TEXT_TYPES = {".csv", ".md"}
_WORKBOOK_TYPES = {".xlsx", ".xlsm", ".xls"}

_TRUE = {"yes", "true", "true()", "1", "y"}
_FALSE = {"no", "false", "false()", "0", "n"}

PERSONAL_TYPES = frozenset(
    {"text", "geopoint", "geotrace", "geoshape", "start-geopoint", "phonenumber", "email",
     "username", "deviceid", "subscriberid", "simserial", "image", "audio", "video",
     "background-audio", "file"}
)

# pyxform keeps many historical aliases as the element type; name them as XLSForm does today.
_TYPE_ALIASES = {
    "select one": "select_one",
    "select all that apply": "select_multiple",
    "int": "integer",
    "string": "text",
    "dateTime": "datetime",
    "location": "geopoint",
    "gps": "geopoint",
    "photo": "image",
    "imei": "deviceid",
    "device id": "deviceid",
    "subscriber id": "subscriberid",
    "sim id": "simserial",
    "get sim id": "simserial",
    "get phone number": "phonenumber",
    "get start time": "start",
    "get end time": "end",
    "end time": "end",
    "get today": "today",
}
_BIND_TYPES = {"int": "integer", "string": "text", "dateTime": "datetime", "binary": "file"}
# Elements that make no node in the instance (secondary instances only).
_NO_NODE_TYPES = {"xml-external", "csv-external"}
_CONTAINER_RE = re.compile(r"^(begin|end)[ _](group|repeat|loop|lgroup|looped group)\b", re.I)
_OPENPYXL_NOISE = "openpyxl"  # module whose UserWarnings about workbook styling we ignore


@dataclass(frozen=True)
class ParsedForm:
    """An XLSForm read and converted: its schema, its XForm and where it came from."""

    schema: FormSchema
    xform_xml: str
    form_id: str
    version: str
    title: str
    warnings: tuple[str, ...]
    sha256: str  # of the uploaded file's bytes
    version_defaulted: bool = False  # True when 'version' was absent and sha256[:12] was used
    # files phones need besides the XForm (forms.media), and those made from the workbook
    # itself (select_one_external's itemsets.csv)
    needs: tuple[Need, ...] = ()
    generated: tuple[tuple[str, bytes], ...] = ()


@dataclass(frozen=True)
class _Row:
    """One survey sheet row: its number (None when unknown) and its cells by lower-cased header."""

    number: int | None
    cells: Mapping[str, Any]


@dataclass
class _RowIndex:
    """Survey rows by path and by unique name, so schema items can name their row."""

    by_path: dict[str, _Row] = dataclasses.field(default_factory=dict)
    by_name: dict[str, _Row | None] = dataclasses.field(default_factory=dict)
    by_type: dict[str, _Row] = dataclasses.field(default_factory=dict)

    def find(self, path: str, name: str) -> _Row | None:
        """The row of an item: by path, else by name when the name is unique."""
        return self.by_path.get(path) or self.by_name.get(name)


# -- entry points ----------------------------------------------------------------------


def parse_xlsform(data: bytes, filename: str = "form.xlsx", *, limits: ArchiveLimits | None = None,
                  max_depth: int = DEFAULT_MAX_DEPTH) -> ParsedForm:
    """Read an XLSForm (.xlsx, .xls, or pyxform's .csv/.md text forms) into a ParsedForm.

    The version is the settings sheet's ``version``; when absent it defaults to the first
    12 hex characters of the file's sha256 and is written into the XForm, so devices send
    it back. The form id is ``form_id``/``id_string``, else the file name's stem. Raises
    BadInput ``form.not_xlsform``, ``form.invalid`` or ``form.unsupported``, and
    PayloadTooLarge ``import.too_large_uncompressed`` for a workbook that expands past
    ``limits`` (the settings' defaults for forms when not given). Groups and repeats may
    nest ``max_depth`` deep.
    """
    sha = hashlib.sha256(data).hexdigest()
    file_type = _file_type(data, filename)
    if file_type in (".xlsx", ".xlsm"):
        check_archive(data, filename, limits or archive_limits(form=True))
    book = _read_book(data, file_type, filename)
    rows = _index_rows(book, numbered=file_type in _WORKBOOK_TYPES, max_depth=max_depth,
                       filename=filename)
    version_defaulted = _ensure_version(book, sha[:12])
    result_warnings: list[str] = []
    book_dict = {f.name: getattr(book, f.name) for f in dataclasses.fields(book)}
    book_dict["fallback_form_name"] = book.fallback_form_name or PurePath(filename).stem or None
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", category=UserWarning, module=_OPENPYXL_NOISE)
            result = convert(xlsform=book_dict, warnings=result_warnings)
    except PyXFormError as exc:
        raise _invalid(exc, filename, rows) from exc
    except (KeyError, ValueError, TypeError, AttributeError, IndexError) as exc:
        # pyxform sometimes fails on odd input without its own error class.
        raise BadInput("form.invalid", f"pyxform could not convert the form: {exc!r}",
                       where=Where(file=filename)) from exc
    pyx: dict[str, Any] = result._pyxform or {}
    root, xml_id, xml_version, languages, srcs = _instance_facts(result.xform)
    default_language = _default_language(pyx, languages)
    builder = _SchemaBuilder(pyx, rows, filename, default_language)
    builder.walk(pyx.get("children", []), prefix="", repeat=None)
    builder.tag_derived()
    problems = builder.problems + _unsupported_sheets(book, filename)
    if problems:
        raise _unsupported(problems, filename)
    form_id = xml_id or str(pyx.get("id_string") or root)
    if not _FORM_ID.match(form_id) or form_id in (".", ".."):
        # the form id names folders and URL path segments (quoted): spaces are fine, as in
        # ODK Central, but not path separators or control characters
        raise BadInput("form.invalid", f"The form id {form_id!r} is not allowed.",
                       where=Where(file=filename, sheet="settings", column="form_id"),
                       rule="form_id: 1-200 characters, no / or \\, no control characters, "
                            "no leading or trailing space",
                       fix="Set form_id in the settings sheet, e.g. 'household_survey'.")
    version = xml_version or str(pyx.get("version") or sha[:12])
    title = str(pyx.get("title") or form_id)
    schema = FormSchema(
        form_id=form_id,
        version=version,
        title=title,
        root=root,
        fields=tuple(builder.fields),
        groups=tuple(builder.groups),
        default_language=default_language,
        languages=languages,
        warnings=tuple(result_warnings),
    )
    # imported here: citizendata.validate reads citizendata.forms
    from citizendata.validate.rules import form_rules

    # expressions are checked now, not when data is validated; rules the server cannot
    # re-check are named in the form's warnings
    try:
        skipped = form_rules(schema, filename=filename).warnings
    except BadInput as exc:
        raise _on_settings(exc) from exc
    if skipped:
        result_warnings.extend(skipped)
        schema = dataclasses.replace(schema, warnings=tuple(result_warnings))
    generated = ((ITEMSETS, result.itemsets.encode("utf-8")),) if result.itemsets else ()
    return ParsedForm(schema=schema, xform_xml=result.xform, form_id=form_id, version=version,
                      title=title, warnings=tuple(result_warnings), sha256=sha,
                      version_defaulted=version_defaulted,
                      needs=tuple(needed_files(schema, srcs)), generated=generated)


def merge_schemas(schemas: Sequence[FormSchema]) -> FormSchema:
    """The union of several versions of one form, ordered oldest to newest (the last is newest).

    Fields and groups of the newest version come first, in their order, then those found
    only in older versions (newer before older); where a path exists in several versions
    the newest definition wins. Identity (form id, version, title, root) is the newest's.
    """
    if not schemas:
        raise ValueError("merge_schemas needs at least one schema")
    newest_first = list(reversed(schemas))
    fields: dict[str, Field] = {}
    groups: dict[str, Group] = {}
    for schema in newest_first:
        for g in schema.groups:
            if g.path not in groups and g.path not in fields:
                groups[g.path] = g
        for f in schema.fields:
            if f.path not in fields and f.path not in groups:
                fields[f.path] = f
    languages: list[str] = []
    for schema in newest_first:
        languages.extend(lang for lang in schema.languages if lang not in languages)
    newest = newest_first[0]
    return dataclasses.replace(
        newest,
        fields=tuple(fields.values()),
        groups=tuple(groups.values()),
        languages=tuple(languages),
    )


# -- reading ---------------------------------------------------------------------------


def _not_xlsform(filename: str, why: str) -> BadInput:
    """The one error for files that are not XLSForms at all."""
    return BadInput("form.not_xlsform", f"{filename} is not an XLSForm: {why}",
                    where=Where(file=filename))


def _file_type(data: bytes, filename: str) -> str:
    """The pyxform file type, from the bytes first and the file name's extension second."""
    ext = PurePath(filename).suffix.lower()
    if data.startswith(_ZIP_MAGIC):
        return ".xlsm" if ext == ".xlsm" else ".xlsx"
    if data.startswith(_OLE_MAGIC):
        return ".xls"
    if ext in _TEXT_TYPES:
        try:
            data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise _not_xlsform(filename, "the text is not UTF-8") from exc
        return ext
    raise _not_xlsform(filename, "it is neither an .xlsx nor an .xls workbook")


def _read_book(data: bytes, file_type: str, filename: str) -> DefinitionData:
    """The workbook's sheets as pyxform reads them."""
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", category=UserWarning, module=_OPENPYXL_NOISE)
            book = get_xlsform(xlsform=data, file_type=file_type)
    except PyXFormReadError as exc:
        raise _not_xlsform(filename, str(exc)) from exc
    except PyXFormError as exc:
        if "not recognized as a supported type" in str(exc):
            raise _not_xlsform(filename, "the workbook could not be read") from exc
        raise _invalid(exc, filename, _RowIndex()) from exc
    except Exception as exc:  # a damaged zip or OLE file fails in many ways
        raise _not_xlsform(filename, f"the workbook could not be read ({exc})") from exc
    if book.survey is None:
        raise _not_xlsform(filename, "it has no 'survey' sheet")
    return book


def _index_rows(book: DefinitionData, *, numbered: bool, max_depth: int = DEFAULT_MAX_DEPTH,
                filename: str = "form.xlsx") -> _RowIndex:
    """Map survey paths and names to rows (row 2 is the first after the header).

    Groups nested deeper than ``max_depth`` are refused here, before pyxform (which
    recurses once per level) sees them.
    """
    index = _RowIndex()
    stack: list[str] = []
    for number, raw in enumerate(book.survey or (), start=2):
        cells = {str(k).strip().lower(): v for k, v in raw.items() if v is not None}
        kind = str(cells.get("type", "")).strip()
        if not kind or _flag(cells.get("disabled")):
            continue
        row = _Row(number if numbered else None, cells)
        index.by_type.setdefault(kind, row)
        name = str(cells.get("name", "")).strip()
        container = _CONTAINER_RE.match(kind)
        if container and container.group(1).lower() == "end":
            if stack:
                stack.pop()
            continue
        if container:
            stack.append(name)
            if len(stack) > max_depth:
                raise BadInput("input.too_deep", f"groups and repeats nest more than {max_depth} "
                               f"levels deep at {kind} {name!r}",
                               where=Where(file=filename, sheet="survey", row=row.number,
                                           column="type", field=name or None),
                               fix=f"Nest groups and repeats at most {max_depth} levels deep.")
        if not name:
            continue
        path = "/".join([*stack, name]) if not container else "/".join(stack)
        index.by_path.setdefault(path, row)
        index.by_name[name] = None if name in index.by_name else row
    return index


def _ensure_version(book: DefinitionData, default: str) -> bool:
    """Write the default version into the settings when the form has none; True if written."""
    settings = list(book.settings or [])
    first = dict(settings[0]) if settings else {}
    if str(first.get("version") or "").strip():
        return False
    first["version"] = default
    book.settings = [first, *settings[1:]]
    header = dict(book.settings_header[0]) if book.settings_header else {}
    header.setdefault("version", None)
    book.settings_header = [header]
    return True


def _instance_facts(xform: str
                    ) -> tuple[str, str | None, str | None, tuple[str, ...], dict[str, str]]:
    """The primary instance's root name, id and version, the itext languages and the
    secondary instances loaded from files (id → src)."""
    doc = SafeET.fromstring(xform.encode("utf-8"))
    model = doc.find(f".//{_XF}model")
    if model is None:
        raise BadInput("form.invalid", "pyxform produced an XForm without a model")
    primary = next((i for i in model.findall(f"{_XF}instance") if "id" not in i.attrib), None)
    root_el = next(iter(primary), None) if primary is not None else None
    if root_el is None:
        raise BadInput("form.invalid", "pyxform produced an XForm without a primary instance")
    root = root_el.tag.rsplit("}", 1)[-1]
    langs = tuple(
        lang for t in model.findall(f"{_XF}itext/{_XF}translation")
        if (lang := t.get("lang")) and lang != "default"
    )
    srcs = {str(i.get("id")): str(i.get("src")) for i in model.findall(f"{_XF}instance")
            if i.get("id") and i.get("src")}
    return root, root_el.get("id"), root_el.get("version"), langs, srcs


def _default_language(pyx: Mapping[str, Any], languages: tuple[str, ...]) -> str | None:
    """The settings' default language, else the first named language (Collect's choice)."""
    lang = pyx.get("default_language")
    if lang and lang != "default":
        return str(lang)
    if languages and not _uses_unnamed_language(pyx.get("children", [])):
        return languages[0]
    return None


def _uses_unnamed_language(children: Sequence[Mapping[str, Any]]) -> bool:
    """True if any label is given without a language (a plain 'label' column)."""
    for child in children:
        label = child.get("label")
        if isinstance(label, str) or (isinstance(label, Mapping) and "default" in label):
            return True
        if _uses_unnamed_language(child.get("children", [])):
            return True
    return False


_SEARCH = re.compile(r"search\(\s*['\"]([^'\"]+)['\"]")
_FORM_ID = re.compile(r"^(?=\S)[^/\\\x00-\x1f\x7f]{0,199}(?<=\S)$")
_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_.-]*)\}")


# -- building the schema -----------------------------------------------------------------


class _SchemaBuilder:
    """Walks pyxform's element tree into Fields and Groups."""

    def __init__(self, pyx: Mapping[str, Any], rows: _RowIndex, filename: str,
                 language: str | None) -> None:
        self.choice_lists: Mapping[str, Any] = pyx.get("choices") or {}
        self.rows = rows
        self.filename = filename
        self.language = language
        self.fields: list[Field] = []
        self.groups: list[Group] = []
        self.problems: list[Problem] = []

    def walk(self, children: Sequence[Mapping[str, Any]], prefix: str, repeat: str | None,
             personal: bool = False) -> None:
        """Add every element below one container, in document order (``personal``: the
        container is tagged personal, so its fields are unless they say otherwise)."""
        for el in children:
            kind = str(el.get("type", ""))
            name = str(el.get("name", ""))
            if kind in _NO_NODE_TYPES or not name:
                continue
            path = f"{prefix}{name}"
            row = self.rows.find(path, name)
            if kind in ("group", "repeat", "loop"):
                self.groups.append(self._group(el, name, path, repeat, row))
                inner = path if kind == "repeat" else repeat
                tagged = personal or _is_personal("", row)
                if kind == "loop":
                    self._loop(el, path, repeat, tagged)
                    continue
                self.walk(el.get("children", []), prefix=f"{path}/", repeat=inner,
                          personal=tagged)
            else:
                field = self._field(el, name, path, repeat, row)
                if personal and not field.personal and _explicit(row) is None:
                    field = replace(field, personal=True)
                self.fields.append(field)

    def tag_derived(self) -> None:
        """Tag as personal every field computed from a personal one (a calculate, a default,
        the instance name), until nothing changes."""
        changed = True
        while changed:
            personal = {f.name for f in self.fields if f.personal}
            changed = False
            for i, f in enumerate(self.fields):
                if f.personal or f.path == "meta/instanceID":
                    continue
                refs = set(_REF.findall(" ".join(filter(None, (f.calculation, f.default)))))
                if refs & personal:
                    self.fields[i] = replace(f, personal=True)
                    changed = True

    def _loop(self, el: Mapping[str, Any], path: str, repeat: str | None,
              personal: bool) -> None:
        """A loop over a choice list, as pyxform writes it into the XForm: one group per
        choice (``loop/choice/question``), with ``%(label)s`` and ``%(name)s`` in labels."""
        for column in el.get("columns") or ():
            cname = str(column.get("name") or "")
            if not cname:
                continue
            label = self._text(column.get("label")) or cname
            group = {"type": "group", "name": cname, "label": label}
            self.groups.append(self._group(group, cname, f"{path}/{cname}", repeat, None))
            children = [_fill(child, {"name": cname, "label": label})
                        for child in el.get("children", [])]
            self.walk(children, prefix=f"{path}/{cname}/", repeat=repeat, personal=personal)

    def _group(self, el: Mapping[str, Any], name: str, path: str, parent_repeat: str | None,
               row: _Row | None) -> Group:
        """A group or repeat."""
        bind, control = el.get("bind") or {}, el.get("control") or {}
        count = control.get("jr:count")
        return Group(
            name=name,
            path=path,
            repeat=el.get("type") == "repeat",
            label=self._text(el.get("label")),
            relevant=_opt(bind.get("relevant")),
            repeat_count=_opt(count),
            parent_repeat=parent_repeat,
            row=row.number if row else None,
        )

    def _field(self, el: Mapping[str, Any], name: str, path: str, repeat: str | None,
               row: _Row | None) -> Field:
        """A question, calculation or metadata item."""
        bind, control = el.get("bind") or {}, el.get("control") or {}
        kind = _normal_type(el)
        list_name = _opt(el.get("list_name"))
        if kind.endswith("_from_file"):
            list_name = _opt(el.get("itemset"))
        search = _SEARCH.search(str(control.get("appearance") or ""))
        if search and kind in ("select_one", "select_multiple"):
            # search('shops') takes its choices from shops.csv on the phone: the answers
            # are that file's names, not the choices sheet's placeholder rows
            kind, list_name = f"{kind}_from_file", f"{search.group(1)}.csv"
        if path == "meta/instanceID":
            kind = "text"  # pyxform calls it a calculate; it holds the submission's uuid
        raw_params = el.get("parameters") or {}
        if isinstance(raw_params, str):
            # pyxform passes the cell through unparsed for image, audio, geopoint, text...
            try:
                raw_params = parse_parameters(raw_params, row.number if row else 0)
            except PyXFormError:
                raw_params = {}
        return Field(
            name=name,
            path=path,
            type=kind,
            label=self._text(el.get("label")),
            list_name=list_name,
            choices=self._choices(el, list_name, kind),
            required=_flag(bind.get("required")) is True,
            required_message=self._text(bind.get("jr:requiredMsg")),
            required_if=_expression(bind.get("required")),
            choice_filter=_opt(el.get("choice_filter")),
            relevant=_opt(bind.get("relevant")),
            constraint=_opt(bind.get("constraint")),
            constraint_message=self._text(bind.get("jr:constraintMsg")),
            calculation=_opt(bind.get("calculate")),
            default=_opt(el.get("default")),
            appearance=_opt(control.get("appearance")),
            repeat=repeat,
            row=row.number if row else None,
            parameters=tuple((str(k), str(v)) for k, v in raw_params.items()),
            personal=path != "meta/instanceID" and _is_personal(kind, row),
        )

    def _choices(self, el: Mapping[str, Any], list_name: str | None, kind: str) -> tuple[Choice, ...]:
        """The answer options of a select question (none for selects from files)."""
        if kind.endswith("_from_file"):
            return ()
        options = el.get("choices")
        if options is None and list_name:
            options = self.choice_lists.get(list_name)
        return tuple(
            Choice(name=str(c.get("name")), label=self._text(c.get("label")))
            for c in options or () if c.get("name") is not None
        )

    def _text(self, value: Any) -> str | None:
        """A label or message in the default language (or the first one given)."""
        if isinstance(value, Mapping):
            for key in (self.language, "default"):
                if key in value and value[key] not in (None, ""):
                    return str(value[key])
            first = next((v for v in value.values() if isinstance(v, str) and v), None)
            return first
        return _opt(value)


def _unsupported_sheets(book: DefinitionData, filename: str) -> list[Problem]:
    """Problems for whole sheets citizendata cannot use yet."""
    out: list[Problem] = []
    for sheet, rows, why in (
        ("entities", book.entities, "ODK entities need a server that creates and updates "
         "entity lists (ODK Central); citizendata does not"),
    ):
        if rows:
            out.append(Problem(
                code="form.unsupported",
                message=f"entities (the '{sheet}' sheet, row 2) are not supported: {why}",
                where=Where(file=filename, sheet=sheet, row=2),
                fix=f"Remove the '{sheet}' sheet; the form's questions still collect the data.",
            ))
    return out


def _on_settings(exc: BadInput) -> BadInput:
    """An expression error of the instance name, placed on the settings sheet where the
    author wrote it (the rules only know the field meta/instanceName)."""
    def move(where: Where | None) -> Where | None:
        if where is None or where.field not in ("meta/instanceName", "instanceName"):
            return where
        return replace(where, sheet="settings", row=2, column="instance_name", field=None)

    if not any(p.where and p.where.field in ("meta/instanceName", "instanceName")
               for p in exc.problems) and move(exc.where) is exc.where:
        return exc
    problems = [replace(p, where=move(p.where)) for p in exc.problems]
    message = exc.message.replace("field 'instanceName'", "the settings' instance_name")
    return BadInput(exc.code, message, where=move(exc.where), rule=exc.rule, fix=exc.fix,
                    problems=problems, details=exc.details)


def _unsupported(problems: list[Problem], filename: str) -> BadInput:
    """One error carrying every unsupported feature of the form."""
    n = len(problems)
    listed = "; ".join(p.message for p in problems[:5]) + (" …" if n > 5 else "")
    features = sorted({p.message.split(" (", 1)[0] for p in problems})
    return BadInput(
        "form.unsupported",
        f"The XLSForm uses {n} unsupported feature{'s' if n != 1 else ''}: {listed}",
        where=problems[0].where or Where(file=filename),
        problems=problems,
        details={"features": features},
    )


_ROW_RE = re.compile(r"\[row\s*:\s*(\d+)\]")
_SHEET_RES = (
    re.compile(r"'(survey|choices|settings|external_choices|entities|osm)' sheet", re.I),
    re.compile(r"sheet:?\s*'(\w+)'", re.I),
)
_COLUMN_RE = re.compile(r"the '([^']+)' (?:value|column)")
_UNKNOWN_TYPE_RE = re.compile(r"Unknown question type '([^']*)'")


def _invalid(exc: PyXFormError, filename: str, rows: _RowIndex) -> BadInput:
    """pyxform's error as form.invalid, with its sheet, row and column read from it."""
    msg = str(exc)
    ctx = getattr(exc, "context", None) or {}
    row = ctx.get("row")
    if row is None and (m := _ROW_RE.search(msg)):
        row = int(m.group(1))
    sheet = ctx.get("sheet")
    for pattern in _SHEET_RES:
        if sheet is None and (m := pattern.search(msg)):
            sheet = m.group(1).lower()
    column = ctx.get("column")
    if column is None and (m := _COLUMN_RE.search(msg)):
        column = m.group(1)
    if row is None and (m := _UNKNOWN_TYPE_RE.search(msg)):
        # pyxform does not say where an unknown type is; find the row ourselves.
        found = rows.by_type.get(m.group(1))
        row = found.number if found else None
        column = column or "type"
    if row is not None and sheet is None:
        sheet = "survey"
    where = Where(file=filename, sheet=sheet, row=int(row) if row is not None else None,
                  column=str(column) if column else None)
    return BadInput("form.invalid", msg, where=where)


# -- small helpers -----------------------------------------------------------------------


def _normal_type(el: Mapping[str, Any]) -> str:
    """The XLSForm type name of a pyxform element (select_one, integer, start, ...)."""
    kind = str(el.get("type", ""))
    if kind == "select one external":
        return "select_one_external"  # its choices are in itemsets.csv, served to phones
    if kind in ("select one", "select all that apply"):
        base = _TYPE_ALIASES[kind]
        itemset = str(el.get("itemset") or "")
        if not el.get("list_name") and "." in itemset:
            return f"{base}_from_file"
        return base
    if kind in STORAGE_TYPES:
        return kind
    if kind in _TYPE_ALIASES:
        return _TYPE_ALIASES[kind]
    spec = QUESTION_TYPE_DICT.get(kind) or {}
    preload = (spec.get("bind") or {}).get("jr:preloadParams")
    if preload in ("start", "end", "today"):
        return str(preload)
    bind_type = str((spec.get("bind") or {}).get("type") or "")
    if bind_type:
        return _BIND_TYPES.get(bind_type, bind_type)
    return kind


def _fill(el: Any, values: Mapping[str, str]) -> Any:
    """A loop's element with %(name)s / %(label)s filled in every string, as pyxform does."""
    if isinstance(el, str):
        try:
            return el % values
        except (KeyError, ValueError, TypeError):
            return el
    if isinstance(el, Mapping):
        return {k: _fill(v, values) for k, v in el.items()}
    if isinstance(el, list):
        return [_fill(v, values) for v in el]
    return el


def _explicit(row: _Row | None) -> bool | None:
    """The row's own 'personal' flag, if it has one."""
    return _flag((row.cells if row else {}).get("personal"))


def _is_personal(kind: str, row: _Row | None) -> bool:
    """The personal-data rule in the module docstring."""
    cells = row.cells if row else {}
    explicit = _flag(cells.get("personal"))
    if explicit is not None:
        return explicit
    if _flag(cells.get("sensitive")) is True:
        return True
    return kind in PERSONAL_TYPES


def _flag(value: Any) -> bool | None:
    """yes/true/1 → True, no/false/0 → False, anything else (or nothing) → None."""
    if value is None:
        return None
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    return None


def _expression(value: Any) -> str | None:
    """A 'required' value that is an expression rather than yes/no (kept for validation)."""
    text = _opt(value)
    if text is None or _flag(text) is not None or text.strip() in ("true()", "false()"):
        return None
    return text


def _opt(value: Any) -> str | None:
    """A non-empty string, or None."""
    if value is None:
        return None
    text = str(value)
    return text if text.strip() else None
