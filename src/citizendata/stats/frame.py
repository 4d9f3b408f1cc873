"""The analysis frame: one row per unit of analysis with every enclosing level's answers.

For an indicator over births (a repeat group), each birth row carries its mother's
answers (ward, age, the Washington Group questions) so that it can be disaggregated
by them. Multi-select and geopoint answers are rebuilt as the form's text (``doctor
nurse_midwife``, ``lat lon alt acc``) so the indicator's expressions read exactly
like the form's own rules. Everything stays a lazy Ibis expression.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import ibis
import ibis.expr.types as ir
import pandas as pd

from citizendata.errors import BadInput, Where
from citizendata.forms.schema import FormSchema
from citizendata.projects.estimation import DerivedSpec
from citizendata.snapshot.layout import GEO_PARTS
from citizendata.snapshot.open import Snapshot
from citizendata.stats import derive

__all__ = ["PSU", "ConsentFilter", "Frame", "analysis_frame"]

PSU = "_psu"  # the submission: the unit that was sampled (a woman, not her births)


@dataclass
class Frame:
    """An analysis table and what is known about its columns."""

    table: ir.Table
    unit: str | None
    psu_level: set[str] = field(default_factory=set)  # columns constant within a submission
    origin: dict[str, str] = field(default_factory=dict)  # column -> table it comes from


@dataclass(frozen=True)
class ConsentFilter:
    """Which submissions a use may read: the scope granted and not withdrawn.

    ``field`` is the form's consent-scope question and ``values`` its choices that
    grant the scope; without a field, ``default`` says whether every submission
    carries the scope. ``excluded`` lists instance ids whose consent was withdrawn.
    """

    scope: str
    field: str | None = None
    values: tuple[str, ...] = ()
    default: bool = True
    excluded: tuple[str, ...] = ()

    def condition(self, table: ir.Table) -> ir.BooleanValue | None:
        """The rows the scope allows (None: every row)."""
        cond: ir.BooleanValue | None = None
        if self.field is not None:
            if self.field not in table.columns:
                raise BadInput("indicator.invalid",
                               f"the consent policy reads the field {self.field!r}, which the "
                               "form does not have", where=Where(field=self.field),
                               fix="Name the form's consent-scope question in "
                                   "protection.consent.field.")
            # a select_multiple is its choices joined by spaces: match whole tokens
            padded = ibis.literal(" ") + table[self.field].cast("string").fill_null("") + " "
            hits = [padded.contains(f" {v} ") for v in self.values]
            cond = ibis.or_(*hits) if hits else ibis.literal(False)
        elif not self.default:
            cond = ibis.literal(False)
        if self.excluded:
            out = ~table["_instance_id"].isin(list(self.excluded))
            cond = out if cond is None else cond & out
        return cond


def _chain(snap: Snapshot, unit: str | None) -> list[str]:
    """Table names from the unit's table out to the main table."""
    names = [snap.resolve(unit)]
    while True:
        info = snap.info.tables[names[-1]]
        if info.repeat is None:
            return names
        names.append(snap.resolve(info.parent) if info.parent else snap.info.main)


def _text_columns(table: ir.Table, schema: FormSchema, present: set[str]) -> dict[str, ir.Value]:
    """Multi-select and geopoint answers rebuilt as the text the form stores."""
    out: dict[str, ir.Value] = {}
    for f in schema.fields:
        if f.name in present or not f.has_value:
            continue
        if f.storage_type == "multi":
            cols = [f"{f.name}__{c.name}" for c in f.choices if f"{f.name}__{c.name}" in table.columns]
            if cols:
                parts = [ibis.ifelse(table[c].fill_null(False), ibis.literal(c.split("__", 1)[1]),
                                     ibis.null("string")) for c in cols]
                out[f.name] = ibis.literal(" ").join(parts)
        elif f.storage_type == "geopoint":
            cols = [f"{f.name}__{p}" for p in GEO_PARTS]
            if all(c in table.columns for c in cols):
                out[f.name] = ibis.literal(" ").join([table[c].cast("string") for c in cols])
    return out


def analysis_frame(snap: Snapshot, unit: str | None = None, *,
                   statuses: Sequence[str] | None = None,
                   derived: Mapping[str, DerivedSpec] | None = None,
                   references: Mapping[str, pd.DataFrame] | None = None,
                   consent: ConsentFilter | None = None) -> Frame:
    """The unit's rows joined to their enclosing levels, with derived variables added.

    ``statuses`` keeps only submissions whose review status is listed (None keeps all);
    ``consent`` keeps only those whose consent covers the use.
    """
    schema = FormSchema.from_dict(snap.info.schema_dict)
    names = _chain(snap, unit)
    main_name = names[-1]
    table = snap.con.table(names[0])
    origin = {c: names[0] for c in table.columns if not c.startswith("_")}
    psu_col = "_id" if len(names) == 1 else "_submission_id"
    table = table.mutate(**{PSU: table[psu_col]})
    link = "_parent_id"  # the column of the current table pointing to the next level out
    for k, name in enumerate(names[1:], start=1):
        outer = snap.con.table(name)
        keep = [c for c in outer.columns if not c.startswith("_") and c not in table.columns]
        is_main = name == main_name
        cols: dict[str, ir.Value] = {f"_o{k}_id": outer["_id"], **{c: outer[c] for c in keep}}
        if is_main:
            cols["_review_status"] = outer["_review_status"]
            cols["_instance_id"] = outer["_instance_id"]
        else:
            cols[f"_o{k}_parent"] = outer["_parent_id"]
        outer = outer.select(**cols)
        table = table.join(outer, table[PSU if is_main else link] == outer[f"_o{k}_id"])
        link = f"_o{k}_parent"
        origin.update({c: name for c in keep})
    if statuses is not None:
        table = table.filter(table["_review_status"].isin(list(statuses)))
    text = _text_columns(table, schema, set(table.columns))
    if text:
        table = table.mutate(**text)
        for f in schema.fields:
            if f.name in text:
                origin[f.name] = next((n for n in names if any(
                    c.startswith(f"{f.name}__") for c in snap.info.tables[n].columns)), main_name)
    cond = consent.condition(table) if consent is not None else None
    if cond is not None:
        table = table.filter(cond)
    psu_level = {c for c, o in origin.items() if o == main_name}
    frame = Frame(table, unit, psu_level, origin)
    if derived:
        # the inner joins of an empty table have no rows, hence no unexpected answers to
        # look for (an empty snapshot checks a request before any data are read)
        empty = any(snap.info.tables[n].rows == 0 for n in names)
        clean = empty or all(_answers_clean(snap, origin, set(text), spec)
                             for spec in derived.values() if spec.kind == "washington_group")
        add_derived(frame, derived, references or {}, check_answers=not clean)
    return frame


# (table sha256, columns, valid and missing codes) -> no answer is anything else
_CLEAN: dict[tuple[str, tuple[str, ...], frozenset[str]], bool] = {}
_CLEAN_KEPT = 256


def _answers_clean(snap: Snapshot, origin: Mapping[str, str], rebuilt: set[str],
                   spec: DerivedSpec) -> bool:
    """True when the snapshot tables the WG answers come from hold no answer that is
    neither a valid nor a missing code: then no frame over them (joins and filters only
    drop rows) holds one, and its own check can be skipped. False means "check the frame".

    Each analysis frame otherwise runs that check over its joins, and an estimate builds
    several frames; the answer for a table is kept by the table's SHA-256 (a snapshot's
    files never change), so it is one query on one table per snapshot.
    """
    if spec.missing is None:
        return True  # nothing to check: unexpected answers count as missing
    try:
        severity, miss = derive._wg_codes(getattr(spec, "codes", None), spec.missing)
    except BadInput:
        return False  # the frame's own check says what is wrong
    known = frozenset(set(severity) | miss)
    by_table: dict[str, list[str]] = {}
    for col in spec.fields.values():
        name = origin.get(col)
        info = snap.info.tables.get(name) if name is not None else None
        if info is None or col in rebuilt or col not in info.columns or not info.sha256:
            return False  # rebuilt or derived: only the frame's check can tell
        by_table.setdefault(name, []).append(col)  # type: ignore[arg-type]
    for name, cols in by_table.items():
        key = (snap.info.tables[name].sha256, tuple(sorted(set(cols))), known)
        ok = _CLEAN.get(key)
        if ok is None:
            ok = derive._unexpected(snap.con.table(name), list(key[1]), set(known)).empty
            if len(_CLEAN) >= _CLEAN_KEPT:
                _CLEAN.clear()
            _CLEAN[key] = ok
        if not ok:
            return False
    return True


def _inputs(spec: DerivedSpec) -> list[str]:
    """The fields a derived variable is computed from."""
    if spec.kind == "washington_group":
        return list(spec.fields.values())
    return [spec.field] if spec.field else []


def add_derived(frame: Frame, derived: Mapping[str, DerivedSpec],
                references: Mapping[str, pd.DataFrame], *, check_answers: bool = True) -> None:
    """Add each derived variable as a column; later ones may use earlier ones.

    ``check_answers=False`` skips the query for Washington Group answers that are neither
    valid nor missing codes (for a frame known to have no rows); the columns are the same.
    """
    for name, spec in derived.items():
        table = frame.table
        missing = [f for f in _inputs(spec) if f not in table.columns]
        if missing:
            raise BadInput("indicator.unknown_dimension",
                           f"derived variable {name!r} reads {missing}, which the unit's table "
                           f"does not have", where=Where(field=name),
                           fix="Use fields of the unit of analysis or of an enclosing level.")
        if spec.kind == "washington_group":
            # missing: the don't-know/refused codes; codes (when the spec has them): the
            # answers meaning no difficulty / some / a lot / cannot, if not 1-4
            col = derive.washington_group(table, spec.fields, spec.identifier,
                                          missing=spec.missing,
                                          codes=getattr(spec, "codes", None),
                                          on_unexpected=None if check_answers else "missing")
        elif spec.kind == "age_group":
            breaks, upper = spec.age_breaks()
            col = derive.age_group(table[str(spec.field)], breaks, upper)
        else:
            geo = references.get(str(spec.geography))
            if geo is None:
                raise BadInput("indicator.invalid",
                               f"derived variable {name!r} needs the reference table "
                               f"{spec.geography!r}, which the project does not have",
                               where=Where(field=name),
                               fix="Add the geography with Client.add_reference_table.")
            lowest = str(spec.field)
            col = derive.rollup(table[lowest], geo, lowest, str(spec.level))
        frame.table = table.mutate(**{name: col})
        inputs = _inputs(spec)
        frame.origin[name] = "derived"
        if all(f in frame.psu_level for f in inputs):
            frame.psu_level.add(name)
