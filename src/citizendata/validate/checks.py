"""Checks per submission: a form's rules compiled into one vectorised query per table.

Each rule becomes one boolean Ibis expression, true where the rule is broken; the
findings of all rules of a table are gathered in a single pass (one projection of
all rule flags, then unnested), so a million submissions are checked without a loop
over rows. ``reference_findings`` checks the same rules row by row with the plain
interpreter: it is the reference the tests hold the compiled checks to, and the
baseline of ``bench/validate.py``. The rules are in docs/methods/validation.md.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from datetime import date
from typing import Any

import ibis
import ibis.expr.types as ir

from citizendata.validate.expr.compile import (
    NUMBER_PREFIX,
    _java_int,
    compile_number,
    compile_text,
    compile_truthy,
    full_match,
    numeric_refs,
    str_to_num,
    with_numbers,
)
from citizendata.validate.expr.interpret import (
    Labels,
    evaluate,
    evaluate_number,
    evaluate_text,
    java_int,
    split_choices,
    string_to_number,
    truthy,
)
from citizendata.validate.rules import Rule

__all__ = ["FINDING_COLUMNS", "TYPE_PATTERNS", "check_table", "reference_findings"]

# the columns of the findings table check_table returns
FINDING_COLUMNS = ("_id", "_item", "rule", "kind", "field", "severity", "message", "value")

_INT = r"-?[0-9]+"
_DEC = r"-?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][-+]?[0-9]+)?"
_DATE = r"[1-9][0-9]{3}-[0-9]{2}-[0-9]{2}"
_DATETIME = (r"[1-9][0-9]{3}-[0-9]{2}-[0-9]{2}T([01][0-9]|2[0-3]):[0-5][0-9]"
             r"(:[0-5][0-9](\.[0-9]+)?)?(Z|[+-][0-9]{2}(:?[0-9]{2})?)?")
_NUM = r"-?([0-9]+(\.[0-9]*)?|\.[0-9]+)"
_GEOPOINT = rf"{_NUM}[ ]+{_NUM}([ ]+{_NUM}([ ]+{_NUM})?)?"
# storage type -> the pattern the whole raw text must match (date parts are also checked)
TYPE_PATTERNS = {"integer": _INT, "decimal": _DEC, "date": _DATE, "datetime": _DATETIME,
                 "geopoint": _GEOPOINT}
_CALC_TOLERANCE = 1e-9  # relative: a stored calculation is text, rounding may differ
_SPLIT = r"[ \t\r\n]+"


def _choice_pattern(choices: Iterable[str]) -> str:
    alt = "|".join(re.escape(c) for c in choices)
    return rf"[ \t\r\n]*(?:{alt})(?:[ \t\r\n]+(?:{alt}))*[ \t\r\n]*"


# -- compiled --------------------------------------------------------------------------


def _valid_date(s: ir.StringValue) -> ir.BooleanValue:
    return s.substr(0, 10).try_cast("date").notnull()


def _type_ok(v: ir.StringValue, storage_type: str) -> ir.BooleanValue:
    ok = full_match(v, TYPE_PATTERNS[storage_type])
    if storage_type in ("date", "datetime"):
        return ok & _valid_date(v)
    if storage_type == "geopoint":
        parts = v.re_split("[ ]+")
        lat, lon = parts[0].try_cast("float64"), parts[1].try_cast("float64")
        return ok & (lat.abs() <= 90).fill_null(False) & (lon.abs() <= 180).fill_null(False)
    return ok


class _Flags:
    """Compiles rules into 'broken' flags over one table."""

    def __init__(self, table: ir.Table, today: date, labels: Labels | None) -> None:
        self.t, self.today, self.labels = table, today, labels

    def value(self, rule: Rule) -> ir.StringValue:
        return self.t[rule.column].cast("string").fill_null("")

    def relevant(self, rule: Rule) -> ir.BooleanValue:
        if rule.relevant is None:
            return ibis.literal(True)
        return compile_truthy(rule.relevant, self.t, current=rule.column, today=self.today,
                              labels=self.labels)

    def broken(self, rule: Rule) -> ir.BooleanValue:
        v = self.value(rule)
        answered = v != ""
        kind = rule.kind
        if kind == "required":
            need = self.relevant(rule) & ~answered
            if rule.expr is not None:
                need = need & compile_truthy(rule.expr, self.t, current=rule.column,
                                             today=self.today, labels=self.labels)
            return need
        if kind == "not_relevant":
            return answered & ~self.relevant(rule)
        if kind == "type":
            return answered & ~_type_ok(v, rule.storage_type)
        if kind == "choice":
            if rule.storage_type == "multi":
                return answered & ~full_match(v, _choice_pattern(rule.choices))
            return answered & ~v.isin(rule.choices)
        assert rule.expr is not None
        if kind == "constraint":
            ok = compile_truthy(rule.expr, self.t, current=rule.column, today=self.today,
                                labels=self.labels)
            if rule.storage_type in TYPE_PATTERNS:
                # an answer of the wrong type is one finding (type), not two
                answered = answered & _type_ok(v, rule.storage_type)
            return self.relevant(rule) & answered & ~ok
        if kind == "calculate":
            return self.relevant(rule) & self._calc_differs(rule, v)
        assert kind == "repeat_count"
        want = compile_number(rule.expr, self.t, current=None, today=self.today,
                              labels=self.labels)
        want_int = ibis.cases((want.isnull(), 0.0), (want < 0, 0.0),
                              else_=_java_int(want).cast("float64"))
        have = self.t[rule.column].cast("float64").fill_null(0.0)
        return self.relevant(rule) & (have != want_int)

    def _calc_differs(self, rule: Rule, v: ir.StringValue) -> ir.BooleanValue:
        assert rule.expr is not None
        if rule.expr.kind == "num":
            cached = NUMBER_PREFIX + rule.column
            stored = self.t[cached] if cached in self.t.columns else str_to_num(v)
            got = compile_number(rule.expr, self.t, current=rule.column, today=self.today,
                                 labels=self.labels)
            close = (stored - got).abs() <= _CALC_TOLERANCE * ibis.greatest(got.abs(), 1.0)
            same = (stored.isnull() & got.isnull()) | close.fill_null(False)
            return ~same
        got_text = compile_text(rule.expr, self.t, current=rule.column, today=self.today,
                                labels=self.labels)
        return v != got_text


def check_table(table: ir.Table, rules: Iterable[Rule], *, today: date | None = None,
                labels: Labels | None = None) -> ir.Table:
    """The findings of ``rules`` over one table (``_id``, ``_item`` and the rules' columns).

    One row per broken rule and row, with FINDING_COLUMNS. Values of personal
    fields are not carried (``value`` is NULL for them; see Rule).
    """
    rules = list(rules)
    if not rules:
        return _empty()
    # every field the rules read as a number is converted from text once per row, into a
    # cached copy of the table, rather than once per use (a field may feed ten rules)
    numbers: set[str] = set().union(*(_numeric_fields(table, r, labels) for r in rules))
    if numbers:
        table = with_numbers(table, numbers).cache()
    return _findings(table, rules, today, labels)


def _findings(table: ir.Table, rules: list[Rule], today: date | None,
              labels: Labels | None) -> ir.Table:
    flags = _Flags(table, today or date.today(), labels)
    # one projection computes every rule's flag with the value it found; the broken ones
    # are unnested (no lambdas: DuckDB 2 refuses the arrow syntax Ibis 12 writes for them)
    hit_type = "struct<r: int64, v: string>"
    idx = ibis.array([
        ibis.cases((flags.broken(r), ibis.struct({
            "r": ibis.literal(i, "int64"),
            "v": ibis.null("string") if r.personal or r.column not in table.columns
            else table[r.column].cast("string")})), else_=ibis.null(hit_type))
        for i, r in enumerate(rules)])
    # most rows break nothing: a cheap OR of the flags keeps the rest, and only those
    # rows pay for building the list of what they break
    broken_rows = table.filter(ibis.or_(*[flags.broken(r) for r in rules]))
    marked = broken_rows.select("_id", "_item", _hits=idx)
    hits = marked.select("_id", "_item", _h=marked._hits.unnest())
    hits = hits.filter(hits._h.notnull())
    hits = hits.select("_id", "_item", _rule=hits._h["r"], value=hits._h["v"])
    meta = ibis.memtable({
        "_rule": list(range(len(rules))),
        "rule": [r.id for r in rules],
        "kind": [r.kind for r in rules],
        "field": [r.field for r in rules],
        "severity": [r.severity for r in rules],
        "message": [r.message for r in rules],
    })
    return hits.join(meta, "_rule").select(*FINDING_COLUMNS)


def _numeric_fields(table: ir.Table, r: Rule, labels: Labels | None) -> set[str]:
    # the fields a rule reads as numbers
    out: set[str] = set()
    for node in (r.relevant, r.expr):
        if node is not None:
            cur = None if r.kind == "repeat_count" else r.column
            out |= numeric_refs(node, table, current=cur, labels=labels)
    if r.kind == "calculate" and r.expr is not None and r.expr.kind == "num":
        out.add(r.column)
    return out


def _empty() -> ir.Table:
    return ibis.memtable(
        {c: [] for c in FINDING_COLUMNS},
        schema={"_id": "int64", "_item": "string", "rule": "string", "kind": "string",
                "field": "string", "severity": "string", "message": "string", "value": "string"})


# -- the reference interpreter ----------------------------------------------------------


def _type_ok_row(v: str, storage_type: str) -> bool:
    if not re.fullmatch(TYPE_PATTERNS[storage_type], v):
        return False
    if storage_type in ("date", "datetime"):
        try:
            date.fromisoformat(v[:10])
        except ValueError:
            return False
    if storage_type == "geopoint":
        parts = re.split("[ ]+", v)
        return abs(float(parts[0])) <= 90 and abs(float(parts[1])) <= 180
    return True


def _broken_row(rule: Rule, row: Mapping[str, str | None], today: date,
                labels: Labels | None) -> bool:
    v = row.get(rule.column) or ""
    kw: dict[str, Any] = {"current": rule.column, "today": today, "labels": labels}

    def relevant() -> bool:
        return rule.relevant is None or truthy(evaluate(rule.relevant, row, **kw))

    if rule.kind == "required":
        return (not v and relevant()
                and (rule.expr is None or truthy(evaluate(rule.expr, row, **kw))))
    if rule.kind == "not_relevant":
        return bool(v) and not relevant()
    if rule.kind == "type":
        return bool(v) and not _type_ok_row(v, rule.storage_type)
    if rule.kind == "choice":
        if rule.storage_type == "multi":
            parts = split_choices(v)
            return bool(v) and (not parts or any(p not in rule.choices for p in parts))
        return bool(v) and v not in rule.choices
    assert rule.expr is not None
    if rule.kind == "constraint":
        typed = rule.storage_type not in TYPE_PATTERNS or _type_ok_row(v, rule.storage_type)
        return (relevant() and bool(v) and typed
                and not truthy(evaluate(rule.expr, row, **kw)))
    if rule.kind == "calculate":
        if not relevant():
            return False
        if rule.expr.kind == "num":
            stored, got = string_to_number(v), evaluate_number(rule.expr, row, **kw)
            if math.isnan(stored) and math.isnan(got):
                return False
            return not abs(stored - got) <= _CALC_TOLERANCE * max(abs(got), 1.0)
        return v != evaluate_text(rule.expr, row, **kw)
    want = evaluate_number(rule.expr, row, **{**kw, "current": None})
    want_int = 0 if math.isnan(want) or want < 0 else java_int(want)
    have = string_to_number(str(v)) if v != "" else 0.0
    return relevant() and have != want_int


def reference_findings(rows: Iterable[Mapping[str, Any]], rules: Iterable[Rule], *,
                       today: date | None = None, labels: Labels | None = None
                       ) -> list[tuple[int, str | None, str]]:
    """The (id, item, rule id) of every broken rule, checked row by row (the reference)."""
    day = today or date.today()
    rules = list(rules)
    out = []
    for row in rows:
        for rule in rules:
            if _broken_row(rule, row, day, labels):
                out.append((int(row["_id"]), row.get("_item"), rule.id))
    return out
