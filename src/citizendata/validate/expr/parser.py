"""Tokenizer and Pratt parser of the ODK/XLSForm expression subset into a small typed AST.

Every node carries its character offset in the source text and its static kind
(``str``, ``num``, ``bool`` or ``date``). Field values are always text, so the
kind of every node is known before any data is seen; the interpreter and the
compiler both rely on this to agree on every conversion.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass
from typing import Literal, cast

from citizendata.errors import BadInput, Where

__all__ = [
    "FUNCTIONS", "Binary", "Call", "Kind", "Lit", "Node", "Ref", "Unary", "field_refs", "parse",
]

Kind = Literal["str", "num", "bool", "date"]

# name -> (min args, max args or None for any, result kind; "any" = unified from args)
FUNCTIONS: dict[str, tuple[int, int | None, str]] = {
    "selected": (2, 2, "bool"),
    "count-selected": (1, 1, "num"),
    "string-length": (1, 1, "num"),
    "regex": (2, 2, "bool"),
    "contains": (2, 2, "bool"),
    "starts-with": (2, 2, "bool"),
    "ends-with": (2, 2, "bool"),
    "concat": (0, None, "str"),
    "substr": (2, 3, "str"),
    "if": (3, 3, "any"),
    "coalesce": (2, 2, "any"),
    "int": (1, 1, "num"),
    "number": (1, 1, "num"),
    "round": (1, 2, "num"),
    "today": (0, 0, "date"),
    "date": (1, 1, "date"),
    "jr:choice-name": (2, 2, "str"),
    "true": (0, 0, "bool"),
    "false": (0, 0, "bool"),
    "not": (1, 1, "bool"),
    "string": (1, 1, "str"),
    "boolean": (1, 1, "bool"),
}

ARITHMETIC = frozenset({"+", "-", "*", "div", "mod"})
COMPARISON = frozenset({"=", "!=", "<", "<=", ">", ">="})
# binding power of each infix operator (XPath 1.0 precedence, lowest first)
BINDING: dict[str, int] = {
    "or": 10, "and": 20, "=": 30, "!=": 30, "<": 40, "<=": 40, ">": 40, ">=": 40,
    "+": 50, "-": 50, "*": 60, "div": 60, "mod": 60,
}
UNARY_POWER = 70


@dataclass(frozen=True, kw_only=True)
class Node:
    """Base of every AST node: its offset in the source and its static kind."""

    pos: int
    kind: Kind


@dataclass(frozen=True, kw_only=True)
class Lit(Node):
    """A number or string literal, or the result of true()/false() folded to a constant."""

    value: str | float | bool


@dataclass(frozen=True, kw_only=True)
class Ref(Node):
    """``${name}``, or ``.`` (the current field) when ``name`` is None; always text."""

    name: str | None


@dataclass(frozen=True, kw_only=True)
class Unary(Node):
    """Unary minus."""

    op: str
    arg: Node


@dataclass(frozen=True, kw_only=True)
class Binary(Node):
    """An arithmetic, comparison or boolean operator."""

    op: str
    left: Node
    right: Node


@dataclass(frozen=True, kw_only=True)
class Call(Node):
    """A function call; ``choice_field`` is the field named by jr:choice-name's 2nd argument."""

    name: str
    args: tuple[Node, ...]
    choice_field: str | None = None


_TOKEN = re.compile(
    r"""(?P<ws>[ \t\r\n]+)
      | (?P<ref>\$\{[^}]*\})
      | (?P<num>[0-9]+(?:\.[0-9]*)?|\.[0-9]+)
      | (?P<str>'[^']*'|"[^"]*")
      | (?P<op>!=|<=|>=|[=<>+\-*(),])
      | (?P<dot>\.)
      | (?P<name>[A-Za-z_][A-Za-z0-9_.\-]*(?::[A-Za-z_][A-Za-z0-9_.\-]*)?)
    """,
    re.VERBOSE,
)
_FIELD_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-]*")
_CHOICE_ARG = re.compile(r"\s*\$\{([^}]*)\}\s*")


@dataclass(frozen=True)
class _Tok:
    """One token: its type, text and offset."""

    type: str
    text: str
    pos: int


def _where(field: str | None, row: int | None, pos: int | None) -> Where:
    """Where a problem in an expression is."""
    return Where(sheet="survey", row=row, field=field, position=pos)


class _Parser:
    """A Pratt parser over the token list of one expression."""

    def __init__(self, text: str, field: str | None, row: int | None,
                 known: Collection[str] | None) -> None:
        self.text, self.field, self.row, self.known = text, field, row, known
        self.toks = self._tokenize()
        self.i = 0

    def error(self, code: str, message: str, pos: int, fix: str | None = None) -> BadInput:
        """A coded error at a character offset, with the field and XLSForm row."""
        who = f" in the expression of field {self.field!r}" if self.field else ""
        return BadInput(code, f"{message}{who} at character {pos}: {self.text!r}",
                        where=_where(self.field, self.row, pos), fix=fix)

    def _tokenize(self) -> list[_Tok]:
        """The tokens of the text, without white space, ending with an 'end' token."""
        out: list[_Tok] = []
        pos = 0
        while pos < len(self.text):
            m = _TOKEN.match(self.text, pos)
            if m is None:
                raise self.error("expr.syntax", f"unexpected character {self.text[pos]!r}", pos)
            kind = m.lastgroup or ""
            if kind != "ws":
                out.append(_Tok(kind, m.group(0), pos))
            pos = m.end()
        out.append(_Tok("end", "", len(self.text)))
        return out

    def peek(self) -> _Tok:
        """The next token, not consumed."""
        return self.toks[self.i]

    def take(self) -> _Tok:
        """The next token, consumed."""
        tok = self.toks[self.i]
        self.i += 1
        return tok

    def expect(self, text: str) -> _Tok:
        """Consume a given operator token or fail."""
        tok = self.take()
        if tok.text != text or tok.type not in ("op",):
            found = "the end of the expression" if tok.type == "end" else repr(tok.text)
            raise self.error("expr.syntax", f"expected {text!r} but found {found}", tok.pos)
        return tok

    def parse(self) -> Node:
        """The whole expression."""
        if self.peek().type == "end":
            raise self.error("expr.syntax", "the expression is empty", 0)
        node = self.expression(0)
        tok = self.peek()
        if tok.type != "end":
            raise self.error("expr.syntax", f"unexpected {tok.text!r}", tok.pos)
        return node

    def _infix_op(self, tok: _Tok) -> str | None:
        """The infix operator a token stands for, if any."""
        if tok.type == "op" and tok.text in BINDING:
            return tok.text
        if tok.type == "name" and tok.text in ("and", "or", "div", "mod"):
            return tok.text
        return None

    def expression(self, min_power: int) -> Node:
        """An expression whose operators all bind tighter than ``min_power``."""
        left = self.prefix()
        while True:
            tok = self.peek()
            op = self._infix_op(tok)
            if op is None or BINDING[op] <= min_power:
                return left
            self.take()
            right = self.expression(BINDING[op])
            left = _binary(op, left, right, tok.pos)

    def prefix(self) -> Node:
        """A primary expression or a unary minus."""
        tok = self.take()
        if tok.type == "num":
            return Lit(pos=tok.pos, kind="num", value=float(tok.text))
        if tok.type == "str":
            return Lit(pos=tok.pos, kind="str", value=tok.text[1:-1])
        if tok.type == "dot":
            return Ref(pos=tok.pos, kind="str", name=None)
        if tok.type == "ref":
            return self.reference(tok)
        if tok.type == "op" and tok.text == "-":
            arg = self.expression(UNARY_POWER)
            return Unary(pos=tok.pos, kind="num", op="-", arg=arg)
        if tok.type == "op" and tok.text == "(":
            inner = self.expression(0)
            self.expect(")")
            return inner
        if tok.type == "name" and self.peek().text == "(":
            return self.call(tok)
        if tok.type == "end":
            raise self.error("expr.syntax", "the expression ends too early", tok.pos)
        if tok.type == "name":
            raise self.error("expr.syntax", f"unexpected name {tok.text!r} (a field is "
                             "written ${name}, a text 'in quotes')", tok.pos)
        raise self.error("expr.syntax", f"unexpected {tok.text!r}", tok.pos)

    def reference(self, tok: _Tok) -> Ref:
        """A ``${name}`` reference, checked against the known fields."""
        name = tok.text[2:-1].strip()
        if not _FIELD_NAME.fullmatch(name):
            raise self.error("expr.syntax", f"{tok.text!r} is not a field reference", tok.pos)
        if self.known is not None and name not in self.known:
            raise self.error("expr.unknown_field", f"unknown field ${{{name}}}", tok.pos)
        return Ref(pos=tok.pos, kind="str", name=name)

    def call(self, tok: _Tok) -> Node:
        """A function call, checked against the supported functions and their arity."""
        name = tok.text
        spec = FUNCTIONS.get(name)
        if spec is None:
            raise self.error("expr.unsupported_function",
                             f"function {name}() is not supported", tok.pos)
        self.expect("(")
        args: list[Node] = []
        if self.peek().text != ")" or self.peek().type != "op":
            args.append(self.expression(0))
            while self.peek().type == "op" and self.peek().text == ",":
                self.take()
                args.append(self.expression(0))
        self.expect(")")
        low, high, kind = spec
        if len(args) < low or (high is not None and len(args) > high):
            want = f"{low}" if low == high else f"{low} to {high}" if high else f"at least {low}"
            raise self.error("expr.wrong_arguments",
                             f"{name}() takes {want} argument(s), not {len(args)}", tok.pos)
        return self._build_call(tok, name, tuple(args), kind)

    def _build_call(self, tok: _Tok, name: str, args: tuple[Node, ...], kind: str) -> Node:
        """The Call node, with literal arguments checked where they must be literal."""
        if name in ("true", "false"):
            return Lit(pos=tok.pos, kind="bool", value=name == "true")
        choice_field = None
        if name == "jr:choice-name":
            arg = args[1]
            text = arg.value if isinstance(arg, Lit) and isinstance(arg.value, str) else None
            m = _CHOICE_ARG.fullmatch(text) if text is not None else None
            if m is None:
                raise self.error("expr.wrong_arguments", "jr:choice-name() needs the field "
                                 "named as a text, e.g. jr:choice-name(${q}, '${q}')", arg.pos)
            choice_field = m.group(1).strip()
            if self.known is not None and choice_field not in self.known:
                raise self.error("expr.unknown_field", f"unknown field ${{{choice_field}}}",
                                 arg.pos)
        if name == "regex" and isinstance(args[1], Lit):
            try:
                re.compile(str(args[1].value))
            except re.error as exc:
                raise self.error("expr.invalid_regex", f"invalid regular expression: {exc}",
                                 args[1].pos) from None
        result: Kind
        if kind == "any":
            branches = args[1:] if name == "if" else args
            kinds = {a.kind for a in branches}
            result = kinds.pop() if len(kinds) == 1 else "str"
        else:
            result = cast(Kind, kind)
        return Call(pos=tok.pos, kind=result, name=name, args=args, choice_field=choice_field)


def _binary(op: str, left: Node, right: Node, pos: int) -> Binary:
    """A binary node with its result kind."""
    kind: Kind = "num" if op in ARITHMETIC else "bool"
    return Binary(pos=pos, kind=kind, op=op, left=left, right=right)


def parse(text: str, *, field: str | None = None, row: int | None = None,
          known: Collection[str] | None = None) -> Node:
    """Parse an XLSForm expression; errors name ``field``, the survey ``row`` and the offset.

    ``known``, when given, is the set of field names ``${...}`` may refer to.
    """
    return _Parser(text, field, row, known).parse()


def field_refs(node: Node) -> set[str]:
    """The names of the fields an expression refers to (not ``.``)."""
    out: set[str] = set()
    stack = [node]
    while stack:
        n = stack.pop()
        if isinstance(n, Ref) and n.name is not None:
            out.add(n.name)
        elif isinstance(n, Unary):
            stack.append(n.arg)
        elif isinstance(n, Binary):
            stack.extend((n.left, n.right))
        elif isinstance(n, Call):
            stack.extend(n.args)
            if n.choice_field:
                out.add(n.choice_field)
    return out
