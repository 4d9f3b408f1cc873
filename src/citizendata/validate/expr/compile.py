"""Compile the expression AST to one vectorised Ibis expression over a table of raw texts.

Each column of the table holds the raw text of one field (NULL is the same as
''). Values keep the static kind of their node: text is a non-null string,
booleans are non-null, numbers and dates are float64 where SQL NULL stands for
XPath's NaN (a date is its day number since 1970-01-01). Every conversion
mirrors ``citizendata.validate.expr.interpret``, which the tests hold it to.
"""

from __future__ import annotations

import functools
from datetime import date
from typing import Any

import ibis
import ibis.expr.types as ir

from citizendata.errors import BadInput, Where
from citizendata.validate.expr.interpret import (
    DATE_RE,
    EPOCH,
    INT_MAX,
    INT_MIN,
    MAX_DAY,
    MIN_DAY,
    NUMBER_RE,
    ROUND_LIMIT,
    SPLIT_RE,
    Labels,
)
from citizendata.validate.expr.parser import (
    Binary,
    Call,
    Kind,
    Lit,
    Lookup,
    Node,
    Nodes,
    Ref,
    Unary,
)

__all__ = [
    "NUMBER_PREFIX", "compile_expr", "compile_number", "compile_text", "compile_truthy",
    "full_match", "numeric_refs", "str_to_num", "with_numbers",
]

_WS = " \t\r\n"
_PADDED_NUMBER = f"[{_WS}]*{NUMBER_RE[1:-1]}[{_WS}]*"
# a column holding a field's number, computed once (see with_numbers)
NUMBER_PREFIX = "__num__"


@ibis.udf.scalar.builtin(name="floor")
def _floor(x: float) -> float:  # type: ignore[empty-body]
    """DuckDB's floor() of a double, kept a double (Ibis' floor() casts to int64)."""


@ibis.udf.scalar.builtin(name="ceil")
def _ceil(x: float) -> float:  # type: ignore[empty-body]
    """DuckDB's ceil() of a double, kept a double."""


@ibis.udf.scalar.builtin(name="regexp_full_match")
def full_match(s: str, pattern: str) -> bool:  # type: ignore[empty-body]
    """DuckDB's whole-string regular expression match (faster than an anchored search)."""


@ibis.udf.scalar.builtin(name="trim")
def _trim(s: str, chars: str) -> str:  # type: ignore[empty-body]
    """DuckDB's trim() of given characters at both ends."""


def _null() -> ir.FloatingValue:
    """The compiled NaN."""
    return ibis.null("float64")


def _num_lit(x: float) -> ir.FloatingValue:
    """A float64 literal."""
    return ibis.literal(x, type="float64")


def _strip(s: ir.StringValue) -> ir.StringValue:
    """Text without XPath white space at either end."""
    return _trim(s, _WS)


def _days(t: ir.StringValue) -> ir.FloatingValue:
    """The day number of an ISO date text (already stripped), else NULL."""
    d = t.try_cast("date")
    return ibis.cases((t.re_search(DATE_RE), d.epoch_days().cast("float64")),
                      else_=_null())


def str_to_num(s: ir.StringValue) -> ir.FloatingValue:
    """XPath number() of text: a decimal number, else an ISO date's day number, else NULL."""
    # the empty answer is settled first, and white space is stripped only where it
    # matters: this conversion runs on every numeric field of every row
    return ibis.cases((s == "", _null()),
                      # DuckDB's cast skips surrounding white space itself (a trim is slow)
                      (full_match(s, _PADDED_NUMBER), s.cast("float64")),
                      else_=_days(_strip(s)))


def _trunc(n: ir.FloatingValue) -> ir.FloatingValue:
    """Truncation toward zero."""
    return ibis.cases((n >= 0, _floor(n)), else_=_ceil(n))


def _java_int(n: ir.FloatingValue) -> ir.IntegerValue:
    """Java's (int) cast: truncated, NULL (NaN) to 0, clamped to 32 bits."""
    return ibis.cases(
        (n.isnull(), 0), (n >= INT_MAX, INT_MAX), (n <= INT_MIN, INT_MIN),
        else_=_trunc(n).cast("int64"),
    ).cast("int64")


def _no_nan(x: ir.FloatingValue) -> ir.FloatingValue:
    """NaN produced by arithmetic (inf - inf, 0 * inf) as NULL."""
    return ibis.cases((x.isnan(), _null()), else_=x)


def num_to_str(n: ir.FloatingValue) -> ir.StringValue:
    """XPath string() of a number, as ``format_number`` writes it."""
    whole = (n == _floor(n)) & (n.abs() < 1e15)
    return ibis.cases(
        (n.isnull(), "NaN"), (n.isinf() & (n > 0), "Infinity"), (n.isinf(), "-Infinity"),
        (whole, n.cast("int64").cast("string")), else_=n.cast("string"),
    )


def days_to_date(n: ir.FloatingValue) -> ir.DateValue:
    """A day number as a date, NULL when out of range."""
    ok = (n >= MIN_DAY) & (n <= MAX_DAY)
    d = (ibis.date(EPOCH.year, EPOCH.month, EPOCH.day)
         + n.cast("int64").as_interval("D")).cast("date")
    return ibis.cases((ok, d), else_=ibis.null("date"))


def _to_num(v: Any, kind: Kind) -> ir.FloatingValue:
    """A compiled value of a kind as a number."""
    if kind == "str":
        return str_to_num(v)
    if kind == "bool":
        return ibis.cases((v, 1.0), else_=0.0)
    return v


def _to_str(v: Any, kind: Kind) -> ir.StringValue:
    """A compiled value of a kind as text."""
    if kind == "str":
        return v
    if kind == "bool":
        return ibis.cases((v, "true"), else_="false")
    if kind == "date":
        return days_to_date(v).strftime("%Y-%m-%d").fill_null("")
    return num_to_str(v)


def _to_bool(v: Any, kind: Kind) -> ir.BooleanValue:
    """A compiled value of a kind as a non-null boolean."""
    if kind == "str":
        return v != ""
    if kind == "bool":
        return v
    return (v != 0).fill_null(False)


class _Compiler:
    """Turns nodes into Ibis expressions over one table."""

    def __init__(self, table: ir.Table, current: str | None, today: date,
                 labels: Labels | None) -> None:
        self.table, self.current, self.labels = table, current, labels
        self.today = float((today - EPOCH).days)
        self.numeric_refs: set[str] = set()  # fields read as numbers (see with_numbers)

    def ref(self, node: Ref) -> ir.StringValue:
        """A field's raw text column; NULL read as ''."""
        name = node.name if node.name is not None else self.current
        if name is None:
            raise BadInput("expr.unknown_field", "'.' is used but there is no current field",
                           where=Where(position=node.pos))
        if name not in self.table.columns:
            raise BadInput("expr.unknown_field", f"the table has no column for ${{{name}}}",
                           where=Where(field=name, position=node.pos))
        return self.table[name].cast("string").fill_null("")

    def ev(self, node: Node) -> Any:
        """The compiled value of a node, of the node's kind."""
        return self._ev(node)

    def _ev(self, node: Node) -> Any:
        if isinstance(node, Lit):
            if node.kind == "num":
                return _num_lit(float(node.value))
            return ibis.literal(node.value)
        if isinstance(node, Ref):
            return self.ref(node)
        if isinstance(node, Unary):
            return -self.num(node.arg)
        if isinstance(node, Binary):
            return self.binary(node)
        from citizendata.validate.expr import compile_extra  # it imports this module
        if isinstance(node, Lookup):
            if node.problem:
                raise _not_evaluable(node, node.problem)
            return compile_extra.compile_lookup(self, node)
        if isinstance(node, Nodes):
            raise _not_evaluable(node, "a group is used as a value")
        assert isinstance(node, Call)
        if node.problem:
            raise _not_evaluable(node, node.problem)
        if node.name in compile_extra.EXTRA:
            return compile_extra.EXTRA[node.name](self, node)
        return self.call(node)

    def num(self, node: Node) -> ir.FloatingValue:
        """A node as a number; a field's number is read from its cached column when present."""
        if isinstance(node, Ref):
            name = node.name if node.name is not None else self.current
            if name is not None and NUMBER_PREFIX + name in self.table.columns:
                return self.table[NUMBER_PREFIX + name]
            if name is not None:
                self.numeric_refs.add(name)
        return _to_num(self.ev(node), node.kind)

    def text(self, node: Node) -> ir.StringValue:
        """A node as text."""
        return _to_str(self.ev(node), node.kind)

    def bool(self, node: Node) -> ir.BooleanValue:
        """A node as a boolean."""
        return _to_bool(self.ev(node), node.kind)

    def binary(self, node: Binary) -> Any:
        """Operators: boolean, comparison, arithmetic."""
        op, lk, rk = node.op, node.left.kind, node.right.kind
        if op == "and":
            return self.bool(node.left) & self.bool(node.right)
        if op == "or":
            return self.bool(node.left) | self.bool(node.right)
        if op in ("=", "!="):
            if "bool" in (lk, rk) or not {lk, rk} & {"num", "date"}:
                conv = self.bool if "bool" in (lk, rk) else self.text
                a, b = conv(node.left), conv(node.right)
                return a == b if op == "=" else a != b
            x, y = self.num(node.left), self.num(node.right)
            return (x == y).fill_null(False) if op == "=" else (x != y).fill_null(True)
        return _arith_or_compare(op, self.num(node.left), self.num(node.right))

    def call(self, node: Call) -> Any:
        """A function call."""
        name, args = node.name, node.args
        if name in _TEXT_FUNCTIONS:
            return _TEXT_FUNCTIONS[name](*(self.text(a) for a in args))
        if name in ("if", "coalesce"):
            return self.choose(node)
        if name == "substr":
            return self.substr(node)
        if name == "int":
            x = self.num(args[0])
            return ibis.cases((x.isinf(), x), else_=_trunc(x))
        if name == "number":
            return self.num(args[0])
        if name == "round":
            digits = self.num(args[1]) if len(args) > 1 else _num_lit(0.0)
            return _round(self.num(args[0]), digits)
        if name == "today":
            return _num_lit(self.today)
        if name == "date":
            return self.date(args[0])
        if name == "not":
            return ~self.bool(args[0])
        if name == "boolean":
            return self.bool(args[0])
        assert name == "jr:choice-name"
        return self.choice_name(node)

    def choose(self, node: Call) -> Any:
        """if() and coalesce(), converting branches to the node's kind."""
        args = node.args
        conv = self.ev if node.kind != "str" else self.text
        if node.name == "if":
            return ibis.cases((self.bool(args[0]), conv(args[1])), else_=conv(args[2]))
        first, second = conv(args[0]), conv(args[1])
        if node.kind == "str":
            return ibis.cases((first != "", first), else_=second)
        if node.kind in ("num", "date"):
            return first.fill_null(second)
        return first

    def substr(self, node: Call) -> ir.StringValue:
        """ODK substr(s, start[, end]): 0-based start, end exclusive, both clamped."""
        args = node.args
        s = self.text(args[0])
        start = ibis.greatest(_java_int(self.num(args[1])), 0)
        length = s.length().cast("int64")
        end = ibis.least(_java_int(self.num(args[2])), length) if len(args) > 2 else length
        return ibis.cases((start < end, s.substr(start, end - start)), else_="")

    def date(self, arg: Node) -> ir.FloatingValue:
        """date(): an ISO date text, or a day number (floored)."""
        if arg.kind == "str":
            return _days(_strip(self.text(arg)))
        x = self.num(arg)
        return ibis.cases(((x >= MIN_DAY) & (x <= MAX_DAY), _floor(x)),
                          else_=_null())

    def choice_name(self, node: Call) -> ir.StringValue:
        """jr:choice-name(): the label of the choice named by the value, '' if none."""
        name = node.choice_field or ""
        if self.labels is None or name not in self.labels:
            raise BadInput("expr.unknown_field",
                           f"jr:choice-name() names ${{{name}}}, which has no choice list here",
                           where=Where(field=name, position=node.pos))
        value = self.text(node.args[0])
        pairs = [(value == k, ibis.literal(v)) for k, v in self.labels[name].items()]
        if not pairs:
            return ibis.literal("")
        return ibis.cases(*pairs, else_="")


def _not_evaluable(node: Node, why: str) -> BadInput:
    return BadInput("expr.unsupported_function", f"not evaluated on the server: {why}",
                    where=Where(position=node.pos))


def _arith_or_compare(op: str, a: ir.FloatingValue, b: ir.FloatingValue) -> Any:
    """Relational and arithmetic operators on two compiled numbers."""
    if op in ("<", "<=", ">", ">="):
        cmp = {"<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b}[op]
        return cmp.fill_null(False)
    if op == "+":
        return _no_nan(a + b)
    if op == "-":
        return _no_nan(a - b)
    if op == "*":
        return _no_nan(a * b)
    if op == "div":
        inf = _num_lit(float("inf"))
        by_zero = ibis.cases((a > 0, inf), (a < 0, -inf), else_=_null())
        return ibis.cases((b == 0, by_zero), else_=_no_nan(a / b))
    assert op == "mod"
    safe_b = ibis.cases((b == 0, _null()), else_=b)
    return ibis.cases((a.isinf(), _null()), (b.isinf(), a), else_=a % safe_b)


def _round(x: ir.FloatingValue, digits: ir.FloatingValue) -> ir.FloatingValue:
    """Round half away from zero to whole ``digits`` (clamped to ±15), as the interpreter."""
    d = ibis.greatest(ibis.least(_java_int(digits), 15), -15)
    m = _num_lit(10.0).pow(d.abs().cast("float64"))
    scaled = ibis.cases((d >= 0, x.abs() * m), else_=x.abs() / m)
    r = _floor(scaled + 0.5)
    r = ibis.cases((d >= 0, r / m), else_=r * m)
    signed = ibis.cases((x < 0, -r), else_=r)
    return ibis.cases(
        (digits.isnull(), _null()), (x.isinf(), x), (scaled >= ROUND_LIMIT, x), else_=signed,
    )


def _selected(s: ir.StringValue, value: ir.StringValue) -> ir.BooleanValue:
    """selected(): is the choice among the space-separated answer."""
    v = _strip(value)
    return (v != "") & s.re_split(SPLIT_RE).contains(v).fill_null(False)


def _count_selected(s: ir.StringValue) -> ir.FloatingValue:
    """count-selected(): the number of space-separated choices."""
    t = _strip(s)
    return ibis.cases((t == "", 0.0), else_=t.re_split(SPLIT_RE).length().cast("float64"))


def _concat(*parts: ir.StringValue) -> ir.StringValue:
    """concat() of texts."""
    if not parts:
        return ibis.literal("")
    return functools.reduce(lambda a, b: a + b, parts)


_TEXT_FUNCTIONS: dict[str, Any] = {
    "selected": _selected,
    "count-selected": _count_selected,
    "string-length": lambda s: s.length().cast("float64"),
    "regex": lambda s, p: s.re_search(p),
    "contains": lambda s, t: s.contains(t),
    "starts-with": lambda s, t: s.startswith(t),
    "ends-with": lambda s, t: s.endswith(t),
    "concat": _concat,
    "string": lambda s: s,
}


def compile_expr(node: Node, table: ir.Table, *, current: str | None = None,
                 today: date | None = None, labels: Labels | None = None) -> ir.Value:
    """Compile an expression over ``table`` (raw text columns named after the fields).

    The result is a boolean, string, float64 (NULL for NaN) or date (NULL when
    invalid) column, matching ``evaluate`` row by row.
    """
    compiler = _Compiler(table, current, today or date.today(), labels)
    value = compiler.ev(node)
    if node.kind == "date":
        return days_to_date(value)
    return value


def compile_truthy(node: Node, table: ir.Table, *, current: str | None = None,
                   today: date | None = None, labels: Labels | None = None) -> ir.BooleanValue:
    """Compile an expression to its XPath boolean value (never NULL), e.g. for relevance."""
    compiler = _Compiler(table, current, today or date.today(), labels)
    return compiler.bool(node)



def compile_text(node: Node, table: ir.Table, *, current: str | None = None,
                 today: date | None = None, labels: Labels | None = None) -> ir.StringValue:
    """Compile an expression to its XPath string value, as a form stores a calculation."""
    return _Compiler(table, current, today or date.today(), labels).text(node)


def compile_number(node: Node, table: ir.Table, *, current: str | None = None,
                   today: date | None = None, labels: Labels | None = None) -> ir.FloatingValue:
    """Compile an expression to its XPath number value (NULL for NaN)."""
    return _Compiler(table, current, today or date.today(), labels).num(node)


def numeric_refs(node: Node, table: ir.Table, *, current: str | None = None,
                 labels: Labels | None = None) -> set[str]:
    """The fields an expression reads as numbers (worth converting once, see with_numbers)."""
    compiler = _Compiler(table, current, date(2000, 1, 1), labels)
    compiler.ev(node)
    return compiler.numeric_refs


def with_numbers(table: ir.Table, names: set[str]) -> ir.Table:
    """The table with each named field's XPath number added as a column, read by the compiler.

    A field used in several places (relevance, constraints) is then converted from text
    once per row instead of once per use; the caller materialises the result (e.g.
    ``.cache()``) so the database does not inline the conversion back into every use.
    """
    return table.mutate(**{NUMBER_PREFIX + n: str_to_num(table[n].cast("string").fill_null(""))
                           for n in sorted(names)})
