"""What KoboToolbox and ODK Central exports need beyond a plain table.

- Header names as the exporters write them: KoboToolbox's ``.`` group separator,
  headers and answers as labels in any of the form's languages (with or without the
  group labels before them), geopoint parts inside groups (``site/_location_latitude``)
  and attachment URL columns (``photo_URL``). :func:`canonical_headers` turns each into
  the path form the column matcher knows; the problem report keeps the real header.
- KoboToolbox's ``__version__`` is its own version id, never the XLSForm ``version``:
  :func:`infer_versions` matches each id to a form version by the answers its rows hold
  (or by an explicit mapping).
- ODK Central's zip: the main CSV and one CSV per repeat, linked by ``KEY``/``PARENT_KEY``.
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from defusedxml import ElementTree as SafeET

from citizendata.forms.schema import Field, FormSchema

__all__ = ["ExportContext", "FormLabels", "VersionShape", "canonical_headers",
           "choose_version", "labels_from_xform", "split_labels"]

_GEO_PARTS = ("latitude", "longitude", "altitude", "precision")
MEDIA_TYPES = frozenset({"image", "audio", "video", "file", "background-audio"})
_XF = "{http://www.w3.org/2002/xforms}"


@dataclass
class FormLabels:
    """Labels by language: fields and groups by path, choices by list and name."""

    paths: dict[str, dict[str, str]] = field(default_factory=dict)  # lang -> path -> label
    choices: dict[str, dict[str, dict[str, str]]] = field(default_factory=dict)  # lang -> list -> name -> label

    def merge(self, other: FormLabels) -> None:
        """Add the labels of another version (the newer one's labels win)."""
        for lang, by_path in other.paths.items():
            self.paths.setdefault(lang, {}).update(by_path)
        for lang, lists in other.choices.items():
            for name, labels in lists.items():
                self.choices.setdefault(lang, {}).setdefault(name, {}).update(labels)


@dataclass(frozen=True)
class VersionShape:
    """What a form version allows: its fields and each select's choice names."""

    version: str
    fields: frozenset[str]
    choices: Mapping[str, frozenset[str]]


@dataclass
class ExportContext:
    """What an import may know of the form beyond its merged schema."""

    versions: tuple[VersionShape, ...] = ()  # oldest first
    labels: FormLabels | None = None
    version_map: Mapping[str, str] = field(default_factory=dict)  # exporter's id -> version


def shape_of(schema: FormSchema) -> VersionShape:
    """The fields and choice names of one version's schema."""
    return VersionShape(schema.version, frozenset(f.path for f in schema.fields if f.has_value),
                        {f.path: frozenset(c.name for c in f.choices)
                         for f in schema.fields if f.choices})


def labels_from_xform(xml: str) -> FormLabels:
    """Every language's labels of an XForm (its itext), keyed by schema path."""
    out = FormLabels()
    try:
        doc = SafeET.fromstring(xml)
    except Exception:  # a stored XForm always parses; labels are only a help
        return out
    model = doc.find(f".//{_XF}model")
    if model is None:
        return out
    instances = model.findall(f"{_XF}instance")
    root = next(iter(instances[0]), None) if instances else None
    prefix = f"/{root.tag.split('}')[-1]}/" if root is not None else "/"
    item_of: dict[str, tuple[str, str]] = {}  # itext id -> (list, choice name)
    for inst in instances[1:]:
        list_name = inst.get("id") or ""
        for item in inst.iter(f"{_XF}item"):
            text_id = item.findtext(f"{_XF}itextId")
            name = item.findtext(f"{_XF}name")
            if text_id and name is not None:
                item_of[text_id] = (list_name, name)
    for tr in model.iter(f"{_XF}translation"):
        lang = tr.get("lang") or "default"
        for text in tr.iter(f"{_XF}text"):
            tid = text.get("id") or ""
            value = next((v.text for v in text.iter(f"{_XF}value")
                          if v.get("form") is None and v.text), None)
            if value is None:
                continue
            if tid.endswith(":label") and tid.startswith(prefix):
                out.paths.setdefault(lang, {})[tid[len(prefix):-len(":label")]] = value
            elif tid in item_of:
                list_name, name = item_of[tid]
                out.choices.setdefault(lang, {}).setdefault(list_name, {})[name] = value
    return out


def _single_language(schema: FormSchema) -> FormLabels:
    """Labels of a form without translations, from the schema itself."""
    labels = FormLabels()
    paths = {f.path: f.label for f in schema.fields if f.label}
    paths.update({g.path: g.label for g in schema.groups if g.label})
    labels.paths["default"] = {k: v for k, v in paths.items() if v}
    labels.choices["default"] = {f.list_name: {c.name: c.label for c in f.choices if c.label}
                                 for f in schema.fields if f.list_name and f.choices}
    return labels


# -- header names -------------------------------------------------------------------

def _variants(segments: list[str]) -> Iterable[tuple[str, str]]:
    """(header, separator) for a field named by its hierarchy, its own name, with / or ."""
    for sep in ("/", "."):
        yield sep.join(segments), sep
    yield segments[-1], "/"


def _field_headers(f: Field, names: list[str], sep_join: Iterable[tuple[str, str]],
                   choice_text: Mapping[str, str], table: dict[str, str]) -> None:
    """Every header an exporter may write for one field, mapped to its path form."""
    for header, sep in sep_join:
        table.setdefault(header, f.path)
        if f.type in MEDIA_TYPES:
            table.setdefault(f"{header}_URL", f"{f.path}_URL")
        for cname, text in choice_text.items():
            for s in {sep, "/"}:
                table.setdefault(f"{header}{s}{text}", f"{f.path}/{cname}")
    if f.type in ("geopoint", "start-geopoint"):
        *groups, own = names
        for part in _GEO_PARTS:
            base = f"_{own}_{part}"
            for sep in ("/", "."):
                table.setdefault(sep.join([*groups, base]), f"_{f.path}_{part}")
            table.setdefault(base, f"_{f.path}_{part}")


def header_tables(schema: FormSchema, labels: FormLabels | None) -> dict[str | None, dict[str, str]]:
    """Header text -> path form, for XML names (key None) and for each label language."""
    tables: dict[str | None, dict[str, str]] = {None: {}}
    group_label: dict[str, dict[str, str]] = {}
    labels = labels if labels and labels.paths else _single_language(schema)
    for lang, by_path in labels.paths.items():
        group_label[lang] = by_path
        tables[lang] = {}
    counts: dict[str, int] = {}
    for f in schema.fields:
        counts[f.name] = counts.get(f.name, 0) + 1
    for f in schema.fields:
        if not f.has_value:
            continue
        segs = f.path.split("/")
        xml = [(h, s) for h, s in _variants(segs) if h != f.name or counts[f.name] == 1]
        _field_headers(f, segs, xml, {c.name: c.name for c in f.choices}, tables[None])
        for lang, by_path in group_label.items():
            own = by_path.get(f.path)
            if not own:
                continue
            parts = ["/".join(segs[:i + 1]) for i in range(len(segs) - 1)]
            names = [by_path.get(p) or p.rsplit("/", 1)[-1] for p in parts] + [own]
            texts = (labels.choices.get(lang, {}).get(f.list_name or "", {})
                     if f.choices else {})
            _field_headers(f, names, _variants(names), texts, tables[lang])
    return tables


def canonical_headers(headers: list[str], tables: dict[str | None, dict[str, str]],
                      lang: str | None = None) -> tuple[list[str], str | None]:
    """Each header in the path form the matcher knows, and the label language found.

    The language is the one whose labels name most headers (given for repeat sheets,
    found on the main sheet); headers that are XML names are kept whatever it is.
    """
    xml = tables[None]
    if lang is None:
        best = 0
        for candidate, table in tables.items():
            if candidate is None:
                continue
            n = sum(1 for h in headers if h not in xml and h in table)
            if n > best:
                lang, best = candidate, n
    named = tables.get(lang, {}) if lang else {}
    return [xml.get(h) or named.get(h) or h for h in headers], lang


def split_labels(value: str, labels: Mapping[str, str]) -> list[str] | None:
    """A select_multiple answer written as labels joined by spaces, back to choice names.

    Labels may hold spaces, so the longest label that fits is taken first; None when
    the text cannot be read as labels (or names) only.
    """
    by_text = {text: name for name, text in labels.items()}
    by_text.update({name: name for name in labels})
    ordered = sorted(by_text, key=len, reverse=True)
    out: list[str] = []
    rest = value.strip()
    while rest:
        hit = next((t for t in ordered if rest == t or rest.startswith(t + " ")), None)
        if hit is None:
            return None
        out.append(by_text[hit])
        rest = rest[len(hit):].lstrip(" ")
    return out


# -- versions -----------------------------------------------------------------------

def choose_version(used: set[str], values: Mapping[str, set[str]],
                   versions: tuple[VersionShape, ...]) -> str | None:
    """The form version that rows using these fields and choice values were made with.

    Candidates hold every field used and every choice value given; of those, the one
    with the fewest fields left unused fits best, the newest on a tie. Without a
    candidate by choices, fields alone decide; None when no version holds the fields.
    """
    def fits(v: VersionShape, with_choices: bool) -> bool:
        if not used <= v.fields:
            return False
        return not with_choices or all(vals <= v.choices.get(p, vals) for p, vals in values.items())

    for with_choices in (True, False):
        found = [(len(v.fields - used), -i, v.version) for i, v in enumerate(versions)
                 if fits(v, with_choices)]
        if found:
            return min(found)[2]
    return None


# -- ODK Central's zip ----------------------------------------------------------------

_TILDE = re.compile(r"~(\d+)$")


def is_central_zip(data: bytes) -> bool:
    """True for a zip of CSV files (not an XLSX workbook, which is a zip too)."""
    if data[:4] != b"PK\x03\x04":
        return False
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            names = zf.namelist()
    except Exception:  # a damaged directory fails in many ways (even NotImplementedError)
        return False
    return "[Content_Types].xml" not in names and any(n.lower().endswith(".csv") for n in names)


def central_parts(names: list[str], schema: FormSchema) -> tuple[str | None, dict[str, str], list[str]]:
    """(main CSV, {repeat path: CSV}, CSVs matching nothing) of a Central zip.

    Central names the repeat files ``<form>-<repeat name>.csv``, adding ``~1``, ``~2``
    in form order when two repeats share a name.
    """
    csvs = [n for n in names if n.lower().endswith(".csv") and not n.endswith("/")]
    main = min(csvs, key=len) if csvs else None
    stem = main[:-4] if main else ""
    by_name: dict[str, list[str]] = {}
    for g in schema.repeats:
        by_name.setdefault(g.name, []).append(g.path)
    repeats: dict[str, str] = {}
    rest: list[str] = []
    for n in csvs:
        if n == main:
            continue
        tail = n[len(stem) + 1:-4] if n.startswith(stem + "-") else ""
        m = _TILDE.search(tail)
        name, k = (tail[:m.start()], int(m.group(1)) - 1) if m else (tail, 0)
        paths = by_name.get(name, [])
        if k < len(paths):
            repeats[paths[k]] = n
        else:
            rest.append(n)
    return main, repeats, rest


def read_zip_members(data: bytes, names: Iterable[str]) -> dict[str, bytes]:
    """The bytes of the named members (the archive was checked against the limits)."""
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        return {n: zf.read(n) for n in names}


def zip_names(data: bytes) -> list[str]:
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        return zf.namelist()


def distinct_text(values: Iterable[Any]) -> set[str]:
    """Non-empty text values as a set (space-separated select_multiple answers split)."""
    out: set[str] = set()
    for v in values:
        if isinstance(v, str):
            out.update(v.split())
    return out


# -- SQL over the registered sheet (DuckDB) ---------------------------------------------

def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _case(expr: str, mapping: Mapping[str, str]) -> str:
    """expr with the given values replaced (others kept as they are)."""
    if not mapping:
        return expr
    whens = " ".join(f"WHEN {_quote(k)} THEN {_quote(v)}" for k, v in mapping.items())
    return f"(CASE {expr} {whens} ELSE {expr} END)"


def label_value_sql(con: Any, table: str, expr: str, f: Field,
                    texts: Mapping[str, str]) -> str | None:
    """SQL turning a column of choice labels back into choice names (names pass as they are).

    For a select_multiple, every distinct answer is split into labels; None when one
    cannot be (the caller then rebuilds the answer from the one-column-per-choice
    columns, if the export has them)."""
    if not f.type.startswith("select_multiple"):
        by_text = {text: name for name, text in texts.items() if text != name}
        return _case(expr, by_text)
    mapping: dict[str, str] = {}
    for (value,) in con.execute(f"SELECT DISTINCT {expr} FROM {table} WHERE {expr} IS NOT NULL").fetchall():
        names = split_labels(str(value), texts)
        if names is None:
            return None
        joined = " ".join(names)
        if joined != value:
            mapping[str(value)] = joined
    return _case(expr, mapping)


def infer_versions(con: Any, table: str, id_expr: str, leaves: Mapping[str, str],
                   ctx: ExportContext) -> dict[str, str]:
    """KoboToolbox version id -> form version, for each id in the file.

    An explicit mapping wins, then an id that is itself a version's name; otherwise
    the rows of each id are matched to a version by the fields they answer and the
    choice values they give (:func:`choose_version`). Ids left unmatched are absent
    (their rows take the newest version)."""
    ids = [str(r[0]) for r in con.execute(
        f"SELECT DISTINCT {id_expr} FROM {table} WHERE {id_expr} IS NOT NULL").fetchall()]
    known = {v.version for v in ctx.versions}
    out = {i: ctx.version_map[i] for i in ids if i in ctx.version_map}
    out.update({i: i for i in ids if i in known and i not in out})
    todo = [i for i in ids if i not in out]
    fields = set().union(*(v.fields for v in ctx.versions)) if ctx.versions else set()
    paths = [p for p in leaves if p in fields]
    if not todo or not paths:
        return out
    selects = [p for p in paths if any(p in v.choices for v in ctx.versions)]
    counts = ", ".join(f"count({leaves[p]})" for p in paths)
    lists = "".join(f", list(DISTINCT {leaves[p]})" for p in selects)
    for row in con.execute(f"SELECT {id_expr}, {counts}{lists} FROM {table} "
                           f"WHERE {id_expr} IS NOT NULL GROUP BY 1").fetchall():
        vid = str(row[0])
        if vid not in todo:
            continue
        used = {p for p, n in zip(paths, row[1:1 + len(paths)], strict=True) if n}
        values = {p: distinct_text(v) for p, v in zip(selects, row[1 + len(paths):], strict=True)}
        found = choose_version(used, values, ctx.versions)
        if found is not None:
            out[vid] = found
    return out


def version_sql(id_expr: str, mapping: Mapping[str, str]) -> str:
    """The form version of each row from its KoboToolbox version id."""
    if not mapping:
        return "NULL::VARCHAR"
    whens = " ".join(f"WHEN {_quote(k)} THEN {_quote(v)}" for k, v in mapping.items())
    return f"(CASE {id_expr} {whens} ELSE NULL END)"


def parse_version_map(items: Iterable[str]) -> dict[str, str]:
    """``KOBO_ID=VERSION`` pairs (CLI ``--version-map``, API ``?version_map=``) as a mapping."""
    from citizendata.errors import BadInput, Where

    out: dict[str, str] = {}
    for item in items:
        kobo_id, sep, version = item.partition("=")
        if not (sep and kobo_id.strip() and version.strip()):
            raise BadInput("input.invalid", f"{item!r} is not KOBO_VERSION_ID=FORM_VERSION.",
                           where=Where(column="version_map"),
                           fix="Write e.g. vUqn6kLgc3XrvbLgSrUAtx=2026.1")
        out[kobo_id.strip()] = version.strip()
    return out
