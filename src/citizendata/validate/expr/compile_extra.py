"""The compiled forms of the ODK functions in ``functions.py``, and the per-row bridge.

Each entry of ``EXTRA`` turns a Call into an Ibis expression with the same values as
the interpreter (``interpret._EXTRA``), which the property test holds it to. The
functions of ``functions.ROW_FUNCTIONS`` (dates formatted as text, digests) have no
SQL translation: they run as a Python function inside the query, once per row, on
the same code as the interpreter; ``form_rules`` names such rules in the warnings.
"""

from __future__ import annotations

import functools
import math
from typing import TYPE_CHECKING, Any

import ibis
import ibis.expr.types as ir

from citizendata.validate.expr import functions as fn
from citizendata.validate.expr.interpret import (
    ITEM_COLUMN,
    SPLIT_RE,
    format_number,
    lookup_key,
    to_str,
)
from citizendata.validate.expr.parser import Call, Lookup

if TYPE_CHECKING:
    from citizendata.validate.expr.compile import _Compiler

__all__ = ["EXTRA", "compile_lookup"]

_WS = " \t\r\n"


def _h() -> Any:
    """The compile module (imported late: it imports this one)."""
    from citizendata.validate.expr import compile as c
    return c


def _null() -> ir.FloatingValue:
    return ibis.null("float64")


def _f(x: float) -> ir.FloatingValue:
    return ibis.literal(x, type="float64")


def _finite(x: ir.FloatingValue) -> ir.BooleanValue:
    return x.notnull() & ~x.isinf()


def _log(x: ir.FloatingValue, base10: bool) -> ir.FloatingValue:
    ok = _finite(x) & (x > 0)
    return ibis.cases((ok, x.log10() if base10 else x.ln()), (x == 0, _f(-math.inf)),
                      (x.isinf() & (x > 0), x), else_=_null())


def _pow(x: ir.FloatingValue, y: ir.FloatingValue) -> ir.FloatingValue:
    """Java's Math.pow; DuckDB's pow() gives NaN where Java does (made NULL)."""
    return _h()._no_nan(x.pow(y))


def _in(low: float, high: float, f: str) -> Any:
    """A math method of a finite value within [low, high], else NULL."""
    def run(x: ir.FloatingValue) -> ir.FloatingValue:
        ok = _finite(x) & (x >= low) & (x <= high)
        return ibis.cases((ok, getattr(x, f)()), else_=_null())
    return run


_MATH: dict[str, Any] = {
    "log": lambda x: _log(x, False),
    "log10": lambda x: _log(x, True),
    "exp": lambda x: ibis.cases((x > fn.EXP_LIMIT, _f(math.inf)), else_=x.exp()),
    "exp10": lambda x: _pow(_f(10.0), x),
    "sqrt": lambda x: ibis.cases((x >= 0, x.sqrt()), else_=_null()),
    "abs": lambda x: x.abs(),
    "sin": _in(-math.inf, math.inf, "sin"),
    "cos": _in(-math.inf, math.inf, "cos"),
    "tan": _in(-math.inf, math.inf, "tan"),
    "asin": _in(-1.0, 1.0, "asin"),
    "acos": _in(-1.0, 1.0, "acos"),
    "atan": lambda x: x.atan(),
}


def _split(s: ir.StringValue) -> tuple[ir.ArrayValue, ir.IntegerValue]:
    """The choices of a select_multiple answer and their number."""
    t = _h()._strip(s)
    parts = t.re_split(SPLIT_RE)
    return parts, ibis.cases((t == "", 0), else_=parts.length()).cast("int64")


def _selected_at(c: _Compiler, n: Call) -> ir.StringValue:
    parts, count = _split(c.text(n.args[0]))
    i = _h()._java_int(c.num(n.args[1]))
    return ibis.cases(((i >= 0) & (i < count), parts[i]), else_="")


def _substring(c: _Compiler, n: Call) -> ir.StringValue:
    s, t = c.text(n.args[0]), c.text(n.args[1])
    i = s.find(t)
    part = s.substr(0, i) if n.name == "substring-before" else s.substr(i + t.length())
    return ibis.cases((i >= 0, part), else_="")


def _max_min(c: _Compiler, n: Call) -> ir.FloatingValue:
    xs = [c.num(a) for a in n.args]
    if len(xs) == 1:
        return xs[0]
    best = ibis.greatest(*xs) if n.name == "max" else ibis.least(*xs)
    return ibis.cases((ibis.or_(*[x.isnull() for x in xs]), _null()), else_=best)


def _count(c: _Compiler, n: Call) -> ir.FloatingValue:
    if n.target is None:
        return _f(1.0)
    col = "#" + n.target
    if col not in c.table.columns:
        return _null()
    return c.table[col].cast("float64")


def _join(c: _Compiler, n: Call) -> ir.StringValue:
    sep, parts = c.text(n.args[0]), [c.text(a) for a in n.args[1:]]
    out = parts[0]
    for p in parts[1:]:
        out = out + sep + p
    return out


def _checklist(c: _Compiler, n: Call) -> ir.BooleanValue:
    lo, hi, rest = c.num(n.args[0]), c.num(n.args[1]), n.args[2:]
    if n.name == "checklist":
        terms = [ibis.cases((c.bool(a), 1.0), else_=0.0) for a in rest]
    else:
        terms = [ibis.cases((c.bool(v), c.num(w)), else_=0.0)
                 for v, w in zip(rest[::2], rest[1::2], strict=False)]
    total = _f(0.0)
    for t in terms:
        total = total + t
    return (((lo < 0) | (total >= lo)).fill_null(False)
            & ((hi < 0) | (total <= hi)).fill_null(False))


def _position(c: _Compiler, n: Call) -> ir.FloatingValue:
    """The item number of the row in a repeat, read from the '_item' column."""
    if ITEM_COLUMN not in c.table.columns:
        return _null()
    if n.depth:
        pattern = rf"^(?:[^\[]*\[[0-9]+\]){{{n.depth - 1}}}[^\[]*\[([0-9]+)\]"
    else:
        pattern = r"\[([0-9]+)\][^\[]*$"
    found = c.table[ITEM_COLUMN].cast("string").fill_null("").re_extract(pattern, 1)
    return ibis.cases((found == "", _null()), else_=found.cast("float64"))


def compile_lookup(c: _Compiler, node: Lookup) -> ir.StringValue:
    """instance('list')/root/item[name = key]/label from the form's choice list."""
    table = (c.labels or {}).get(lookup_key(node.list_name))
    if table is None:
        raise _h().BadInput("expr.unsupported_function", f"not evaluated on the server: the "
                            f"list {node.list_name!r} is not known here")
    key = c.text(node.key) if node.key is not None else ibis.literal("")
    pairs = [(key == k, ibis.literal(v if node.out == "label" else k)) for k, v in table.items()]
    return ibis.cases(*pairs, else_="") if pairs else ibis.literal("")


# -- functions run row by row: a Python UDF per arity, sharing functions.ROW_FUNCTIONS --

def _decode(text: str, kind: str) -> Any:
    if kind in ("num", "date"):
        return float(text)
    if kind == "bool":
        return text == "true"
    return text


@functools.lru_cache(maxsize=1 << 16)
def _row_call(spec: str, texts: tuple[str, ...]) -> str:
    """Run a per-row function: ``spec`` is 'name|result kind|arg kinds'.

    Pure, so memoised: answers such as dates repeat across many rows.
    """
    name, result, kinds = spec.split("|")
    args = [(_decode(t, k), k) for t, k in zip(texts, kinds.split(","), strict=True)]
    value = fn.ROW_FUNCTIONS[name](args)
    return format_number(value) if result in ("num", "date") else to_str(value, result)  # type: ignore[arg-type]


@ibis.udf.scalar.python
def _row1(spec: str, a: str) -> str:
    """One row of a per-row function of one argument."""
    return _row_call(spec, (a,))


@ibis.udf.scalar.python
def _row2(spec: str, a: str, b: str) -> str:
    """One row of a per-row function of two arguments."""
    return _row_call(spec, (a, b))


@ibis.udf.scalar.python
def _row3(spec: str, a: str, b: str, c: str) -> str:
    """One row of a per-row function of three arguments."""
    return _row_call(spec, (a, b, c))


def _per_row(c: _Compiler, n: Call) -> Any:
    """A per-row function: its arguments as exact texts in, its value as text out."""
    udf = (_row1, _row2, _row3)[len(n.args) - 1]
    spec = f"{n.name}|{n.kind}|{','.join(a.kind for a in n.args)}"
    texts = [c.text(a) if a.kind != "num" and a.kind != "date" else
             _h().num_to_str(c.num(a)) for a in n.args]
    out = udf(spec, *texts)
    if n.kind in ("num", "date"):
        return ibis.cases((out == "NaN", _null()), else_=out.try_cast("float64"))
    if n.kind == "bool":
        return out == "true"
    return out


def _unary(f: Any) -> Any:
    """A one-number function of a Call."""
    return lambda c, n: f(c.num(n.args[0]))


EXTRA: dict[str, Any] = {
    "boolean-from-string": lambda c, n: c.text(n.args[0]).isin(["true", "1"]),
    "translate": lambda c, n: c.text(n.args[0]).translate(c.text(n.args[1]),
                                                          c.text(n.args[2])),
    "normalize-space": lambda c, n: _h()._strip(
        c.text(n.args[0]) if n.args else c.ref(_h().Ref(pos=n.pos, kind="str", name=None))
    ).re_replace(f"[{_WS}]+", " "),
    "substring-before": _substring,
    "substring-after": _substring,
    "selected-at": _selected_at,
    "pow": lambda c, n: _pow(c.num(n.args[0]), c.num(n.args[1])),
    **{name: _unary(f) for name, f in _MATH.items()},
    "atan2": lambda c, n: c.num(n.args[0]).atan2(c.num(n.args[1])),
    "pi": lambda c, n: _f(math.pi),
    "sum": lambda c, n: c.num(n.args[0]),
    "max": _max_min,
    "min": _max_min,
    "count": _count,
    "count-non-empty": lambda c, n: ibis.cases((c.text(n.args[0]) != "", 1.0), else_=0.0),
    "join": _join,
    "checklist": _checklist,
    "weighted-checklist": _checklist,
    "position": _position,
    **{name: _per_row for name in fn.ROW_FUNCTIONS},
}
