"""The reference per-row interpreter of XLSForm expressions (ODK XPath semantics).

A row is a mapping of field name to its raw text value; a missing or None value
is the empty string, as ODK treats an unanswered question. Inside the
interpreter numbers and dates are floats (a date is its day number since
1970-01-01) and NaN stands for "not a number"; ``evaluate`` hands a date back as
a ``datetime.date`` (None when invalid). Constraints are checked only for
answered fields: that rule belongs to the caller, not to this module.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from datetime import date, timedelta
from typing import Any

from citizendata.errors import BadInput, Where
from citizendata.validate.expr import functions as fn
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
    "Labels", "evaluate", "evaluate_number", "evaluate_text", "format_number", "string_to_number",
    "truthy",
]

Labels = Mapping[str, Mapping[str, str]]  # field name -> choice name -> label
# the column holding a repeat item's place, e.g. 'hh[2]/member[3]' (see validate.extract)
ITEM_COLUMN = "_item"
ITEM_RE = r"\[([0-9]+)\]"

WS = " \t\r\n"  # XPath white space
NAN = float("nan")
EPOCH = date(1970, 1, 1)
MIN_DAY = (date(1000, 1, 1) - EPOCH).days
MAX_DAY = (date(9999, 12, 31) - EPOCH).days
INT_MAX, INT_MIN = 2**31 - 1, -(2**31)
ROUND_LIMIT = 2.0**52  # at or above this magnitude a double is already an integer
NUMBER_RE = r"^-?([0-9]+(\.[0-9]*)?|\.[0-9]+)$"
DATE_RE = r"^[1-9][0-9]{3}-[0-9]{2}-[0-9]{2}$"
SPLIT_RE = r"[ \t\r\n]+"
_NUMBER = re.compile(NUMBER_RE)
_DATE = re.compile(DATE_RE)
_SPLIT = re.compile(SPLIT_RE)


def string_to_number(s: str) -> float:
    """XPath number() of a text: a decimal number, else an ISO date as a day number, else NaN."""
    t = s.strip(WS)
    if _NUMBER.match(t):
        return float(t)
    return _string_to_day(t)


def _string_to_day(t: str) -> float:
    """The day number of an ISO date text (already stripped), else NaN."""
    if _DATE.match(t):
        try:
            return float((date.fromisoformat(t) - EPOCH).days)
        except ValueError:
            return NAN
    return NAN


def format_number(x: float) -> str:
    """XPath string() of a number: integers without a decimal point, NaN as 'NaN'."""
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "Infinity" if x > 0 else "-Infinity"
    if x == math.trunc(x) and abs(x) < 1e15:
        return str(int(x))
    return repr(x)


def _day_to_date(x: float) -> date | None:
    """A day number as a date, None when NaN or out of range."""
    if math.isnan(x) or not MIN_DAY <= x <= MAX_DAY:
        return None
    return EPOCH + timedelta(days=int(x))


def to_num(v: Any, kind: Kind) -> float:
    """A value of a kind as a number."""
    if kind == "str":
        return string_to_number(v)
    if kind == "bool":
        return 1.0 if v else 0.0
    return float(v)


def to_str(v: Any, kind: Kind) -> str:
    """A value of a kind as text."""
    if kind == "str":
        return str(v)
    if kind == "bool":
        return "true" if v else "false"
    if kind == "date":
        d = _day_to_date(v)
        return "" if d is None else d.isoformat()
    return format_number(v)


def to_bool(v: Any, kind: Kind) -> bool:
    """A value of a kind as a boolean: non-empty text, a non-zero non-NaN number."""
    if kind == "str":
        return v != ""
    if kind == "bool":
        return bool(v)
    return not math.isnan(v) and v != 0


def truthy(value: Any) -> bool:
    """The XPath boolean of a result of ``evaluate`` (None is false)."""
    if value is None:
        return False
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        return value != ""
    if isinstance(value, date):
        return True
    return not math.isnan(value) and value != 0


def java_int(x: float) -> int:
    """A number as Java's (int) cast makes it: truncated, NaN 0, clamped to 32 bits."""
    if math.isnan(x):
        return 0
    if x >= INT_MAX:
        return INT_MAX
    if x <= INT_MIN:
        return INT_MIN
    return math.trunc(x)


def split_choices(s: str) -> list[str]:
    """The choice names of a select_multiple answer, split at white space."""
    return [p for p in _SPLIT.split(s) if p]


def round_half_away(x: float, digits: float) -> float:
    """Round half away from zero to whole ``digits`` (clamped to ±15) decimal places."""
    if math.isnan(x) or math.isnan(digits) or math.isinf(x):
        return x if not math.isnan(digits) else NAN
    d = max(-15, min(15, java_int(digits)))
    m = 10.0 ** abs(d)
    scaled = abs(x) * m if d >= 0 else abs(x) / m
    if scaled >= ROUND_LIMIT:
        return x
    whole = float(math.floor(scaled + 0.5))
    return math.copysign(whole / m if d >= 0 else whole * m, x)


class _Interpreter:
    """Evaluates nodes against one row."""

    def __init__(self, row: Mapping[str, str | None], current: str | None, today: date,
                 labels: Labels | None) -> None:
        self.row, self.current, self.labels = row, current, labels
        self.today = float((today - EPOCH).days)

    def ref(self, node: Ref) -> str:
        """The raw text of a field; '' when missing or None."""
        name = node.name if node.name is not None else self.current
        if name is None:
            raise BadInput("expr.unknown_field", "'.' is used but there is no current field",
                           where=Where(position=node.pos))
        value = self.row.get(name)
        return "" if value is None else str(value)

    def ev(self, node: Node) -> Any:
        """The internal value of a node: str, float (NaN for no number) or bool."""
        if isinstance(node, Lit):
            return node.value
        if isinstance(node, Ref):
            return self.ref(node)
        if isinstance(node, Unary):
            return -to_num(self.ev(node.arg), node.arg.kind)
        if isinstance(node, Binary):
            return self.binary(node)
        if isinstance(node, Lookup):
            return self.lookup(node)
        if isinstance(node, Nodes):
            raise _not_evaluable(node, "a group is used as a value")
        assert isinstance(node, Call)
        if node.problem:
            raise _not_evaluable(node, node.problem)
        if node.name in _EXTRA:
            return _EXTRA[node.name](self, node)
        return self.call(node)

    def num(self, node: Node) -> float:
        """A node's value as a number."""
        return to_num(self.ev(node), node.kind)

    def text(self, node: Node) -> str:
        """A node's value as text."""
        return to_str(self.ev(node), node.kind)

    def bool(self, node: Node) -> bool:
        """A node's value as a boolean."""
        return to_bool(self.ev(node), node.kind)

    def binary(self, node: Binary) -> Any:
        """Operators: boolean, comparison, arithmetic."""
        op, lk, rk = node.op, node.left.kind, node.right.kind
        if op == "and":
            return self.bool(node.left) and self.bool(node.right)
        if op == "or":
            return self.bool(node.left) or self.bool(node.right)
        if op in ("=", "!="):
            if "bool" in (lk, rk):
                same = self.bool(node.left) == self.bool(node.right)
            elif lk in ("num", "date") or rk in ("num", "date"):
                same = self.num(node.left) == self.num(node.right)
            else:
                same = self.text(node.left) == self.text(node.right)
            return same if op == "=" else not same
        a, b = self.num(node.left), self.num(node.right)
        return _arith_or_compare(op, a, b)

    def call(self, node: Call) -> Any:
        """A function call."""
        name, args = node.name, node.args
        if name in _TEXT_FUNCTIONS:
            return _TEXT_FUNCTIONS[name](*(self.text(a) for a in args))
        if name in ("if", "coalesce"):
            return self.choose(node)
        if name == "substr":
            s = self.text(args[0])
            start = max(java_int(self.num(args[1])), 0)
            end = min(java_int(self.num(args[2])) if len(args) > 2 else len(s), len(s))
            return s[start:end] if start < end else ""
        if name in ("int", "number", "round"):
            x = self.num(args[0])
            if name == "int":
                return x if math.isnan(x) or math.isinf(x) else float(math.trunc(x))
            if name == "round":
                return round_half_away(x, self.num(args[1]) if len(args) > 1 else 0.0)
            return x
        if name == "today":
            return self.today
        if name == "date":
            return self.date(args[0])
        if name == "not":
            return not self.bool(args[0])
        if name == "boolean":
            return self.bool(args[0])
        assert name == "jr:choice-name" and node.choice_field is not None
        return _choice_labels(self.labels, node)[0].get(self.text(args[0]), "")

    def choose(self, node: Call) -> Any:
        """if() and coalesce(), converting branches to the node's kind."""
        args = node.args
        if node.name == "if":
            branch = args[1] if self.bool(args[0]) else args[2]
            return self.ev(branch) if branch.kind == node.kind else self.text(branch)
        if node.kind == "str":
            first = self.text(args[0])
            return first if first != "" else self.text(args[1])
        first = self.ev(args[0])
        if node.kind in ("num", "date") and math.isnan(first):
            return self.ev(args[1])
        return first

    def lookup(self, node: Lookup) -> str:
        """instance('list')/root/item[name = key]/label (or /name): '' when no such item."""
        table = (self.labels or {}).get(lookup_key(node.list_name))
        if table is None:
            raise _not_evaluable(node, f"the list {node.list_name!r} is not known here")
        key = self.text(node.key) if node.key is not None else ""
        if key not in table:
            return ""
        return table[key] if node.out == "label" else key

    def item_number(self, depth: int) -> float:
        """The place of the row's item in its ``depth``-th enclosing repeat (0: innermost)."""
        found = re.findall(ITEM_RE, str(self.row.get(ITEM_COLUMN) or ""))
        if not found or depth > len(found):
            return NAN
        return float(found[depth - 1] if depth else found[-1])

    def date(self, arg: Node) -> float:
        """date(): an ISO date text, or a day number (floored)."""
        if arg.kind == "str":
            return _string_to_day(self.text(arg).strip(WS))
        x = self.num(arg)
        if math.isnan(x) or not MIN_DAY <= x <= MAX_DAY:
            return NAN
        return float(math.floor(x))


def _arith_or_compare(op: str, a: float, b: float) -> Any:
    """Relational and arithmetic operators on two numbers, XPath style."""
    if op == "<":
        return a < b
    if op == "<=":
        return a <= b
    if op == ">":
        return a > b
    if op == ">=":
        return a >= b
    if op == "+":
        return a + b
    if op == "-":
        return a - b
    if op == "*":
        return a * b
    if op == "div":
        if b == 0:
            return math.inf if a > 0 else -math.inf if a < 0 else NAN
        return a / b
    assert op == "mod"
    if b == 0 or math.isnan(a) or math.isnan(b) or math.isinf(a):
        return NAN
    return a if math.isinf(b) else math.fmod(a, b)


def _regex(s: str, pattern: str) -> bool:
    """regex(): does the pattern match anywhere in the text (RE2-like ASCII classes)."""
    try:
        return re.search(pattern, s, flags=re.ASCII) is not None
    except re.error as exc:
        raise BadInput("expr.invalid_regex", f"invalid regular expression {pattern!r}: {exc}") \
            from None


def _selected(s: str, value: str) -> bool:
    """selected(): is the choice among the space-separated answer."""
    v = value.strip(WS)
    return v != "" and v in split_choices(s)


_TEXT_FUNCTIONS: dict[str, Any] = {
    "selected": _selected,
    "count-selected": lambda s: float(len(split_choices(s))),
    "string-length": lambda s: float(len(s)),
    "regex": _regex,
    "contains": lambda s, t: t in s,
    "starts-with": lambda s, t: s.startswith(t),
    "ends-with": lambda s, t: s.endswith(t),
    "concat": lambda *parts: "".join(parts),
    "string": lambda s: s,
}


def lookup_key(list_name: str) -> str:
    """The key of a choice list in ``Labels`` (field names never hold quotes)."""
    return f"instance('{list_name}')"


def _not_evaluable(node: Node, why: str) -> BadInput:
    return BadInput("expr.unsupported_function", f"not evaluated on the server: {why}",
                    where=Where(position=node.pos))


def _count(it: _Interpreter, node: Call) -> float:
    """count(): the items of a repeat directly inside the row's level, else 1."""
    if node.target is None:
        return 1.0
    value = it.row.get("#" + node.target)
    return NAN if value is None or value == "" else float(value)


def _max_min(it: _Interpreter, node: Call) -> float:
    """max()/min() of values: NaN when one is not a number."""
    xs = [it.num(a) for a in node.args]
    if any(math.isnan(x) for x in xs):
        return NAN
    return max(xs) if node.name == "max" else min(xs)


def _checklist(it: _Interpreter, node: Call) -> bool:
    """checklist(min, max, v...) and weighted-checklist(min, max, v, w, ...)."""
    lo, hi, rest = it.num(node.args[0]), it.num(node.args[1]), node.args[2:]
    if node.name == "checklist":
        total = float(sum(it.bool(a) for a in rest))
    else:
        total = sum(it.num(w) for v, w in zip(rest[::2], rest[1::2], strict=False)
                    if it.bool(v))
    return fn.checklist(lo, hi, total)


def _per_row(it: _Interpreter, node: Call) -> Any:
    """A function evaluated row by row in both engines (see functions.ROW_FUNCTIONS)."""
    return fn.ROW_FUNCTIONS[node.name]([(it.ev(a), a.kind) for a in node.args])


def _unary(f: Any) -> Any:
    """A one-number function of a Call."""
    return lambda it, n: f(it.num(n.args[0]))


_EXTRA: dict[str, Any] = {
    "boolean-from-string": lambda it, n: it.text(n.args[0]) in ("true", "1"),
    "translate": lambda it, n: fn.translate(*(it.text(a) for a in n.args)),
    "normalize-space": lambda it, n: fn.normalize_space(
        it.text(n.args[0]) if n.args else it.ref(Ref(pos=n.pos, kind="str", name=None))),
    "substring-before": lambda it, n: fn.substring_before(*(it.text(a) for a in n.args)),
    "substring-after": lambda it, n: fn.substring_after(*(it.text(a) for a in n.args)),
    "selected-at": lambda it, n: fn.selected_at(split_choices(it.text(n.args[0])),
                                                java_int(it.num(n.args[1]))),
    "pow": lambda it, n: fn.pow_(it.num(n.args[0]), it.num(n.args[1])),
    **{name: _unary(f) for name, f in fn.MATH.items()},
    "atan2": lambda it, n: math.atan2(it.num(n.args[0]), it.num(n.args[1])),
    "pi": lambda it, n: math.pi,
    "sum": lambda it, n: it.num(n.args[0]),
    "max": _max_min,
    "min": _max_min,
    "count": _count,
    "count-non-empty": lambda it, n: 0.0 if it.text(n.args[0]) == "" else 1.0,
    "join": lambda it, n: it.text(n.args[0]).join(it.text(a) for a in n.args[1:]),
    "checklist": _checklist,
    "weighted-checklist": _checklist,
    "position": lambda it, n: it.item_number(n.depth),
    **{name: _per_row for name in fn.ROW_FUNCTIONS},
}


def _choice_labels(labels: Labels | None, node: Call) -> tuple[Mapping[str, str], str]:
    """The choice labels of the field jr:choice-name() names; an error when unknown."""
    name = node.choice_field or ""
    if labels is None or name not in labels:
        raise BadInput("expr.unknown_field",
                       f"jr:choice-name() names ${{{name}}}, which has no choice list here",
                       where=Where(field=name, position=node.pos))
    return labels[name], name


def evaluate(node: Node, row: Mapping[str, str | None], *, current: str | None = None,
             today: date | None = None, labels: Labels | None = None) -> Any:
    """Evaluate an expression against one row of raw texts: str, float, bool or date|None."""
    value = _Interpreter(row, current, today or date.today(), labels).ev(node)
    return _day_to_date(value) if node.kind == "date" else value


def evaluate_text(node: Node, row: Mapping[str, str | None], *, current: str | None = None,
                  today: date | None = None, labels: Labels | None = None) -> str:
    """The XPath string value of an expression on one row, as a form stores a calculation."""
    return to_str(_Interpreter(row, current, today or date.today(), labels).ev(node), node.kind)


def evaluate_number(node: Node, row: Mapping[str, str | None], *, current: str | None = None,
                    today: date | None = None, labels: Labels | None = None) -> float:
    """The XPath number value of an expression on one row (NaN when not a number)."""
    return to_num(_Interpreter(row, current, today or date.today(), labels).ev(node), node.kind)
