"""Tokenizer and Pratt parser of the ODK/XLSForm expression subset into a small typed AST.

Every node carries its character offset in the source text and its static kind
(``str``, ``num``, ``bool`` or ``date``). Field values are always text, so the
kind of every node is known before any data is seen; the interpreter and the
compiler both rely on this to agree on every conversion.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from typing import Literal, cast

from citizendata.errors import BadInput, Where
from citizendata.validate.expr.paths import Scope, Target, resolve

__all__ = [
    "FUNCTIONS", "PER_ROW", "SKIPPED", "Binary", "Call", "Kind", "Lit", "Lookup", "Node", "Nodes",
    "Ref", "Scope", "Unary", "field_refs", "parse", "per_row", "server_problem", "walk",
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
    "boolean-from-string": (1, 1, "bool"),
    "translate": (3, 3, "str"),
    "normalize-space": (0, 1, "str"),
    "substring-before": (2, 2, "str"),
    "substring-after": (2, 2, "str"),
    "selected-at": (2, 2, "str"),
    "pow": (2, 2, "num"),
    **{f: (1, 1, "num") for f in ("log", "log10", "exp", "exp10", "sqrt", "abs", "sin", "cos",
                                  "tan", "asin", "acos", "atan")},
    "atan2": (2, 2, "num"),
    "pi": (0, 0, "num"),
    "sum": (1, 1, "num"),
    "max": (1, None, "num"),
    "min": (1, None, "num"),
    "count": (1, 1, "num"),
    "count-non-empty": (1, 1, "num"),
    "join": (1, None, "str"),
    "checklist": (2, None, "bool"),
    "weighted-checklist": (2, None, "bool"),
    "position": (0, 1, "num"),
    "format-date": (2, 2, "str"),
    "format-date-time": (2, 2, "str"),
    "decimal-date-time": (1, 1, "num"),
    "decimal-time": (1, 1, "num"),
    "digest": (2, 3, "str"),
    "base64-decode": (1, 1, "str"),
    # parsed so that the form is accepted, but not evaluated on the server (see SKIPPED)
    "indexed-repeat": (3, 7, "str"),
    "once": (1, 1, "str"),
    "now": (0, 0, "str"),
    "random": (0, 0, "num"),
    "uuid": (0, 1, "str"),
    "randomize": (1, 2, "str"),
    "jr:itext": (1, 1, "str"),
    "area": (1, 1, "num"),
    "distance": (1, 1, "num"),
}

# functions the compiler evaluates row by row (a Python function inside the query)
PER_ROW = frozenset({"format-date", "format-date-time", "decimal-date-time", "decimal-time",
                     "digest", "base64-decode"})
# functions the server cannot evaluate at all -> why (the rule is skipped with a warning)
SKIPPED: dict[str, str] = {
    "now": "now() is the moment the form was filled in, which the server does not know",
    "random": "random() gives a different number on every phone",
    "uuid": "uuid() gives a different identifier on every phone",
    "once": "once() keeps the value first computed on the phone",
    "randomize": "randomize() shuffles choices on the phone",
    "jr:itext": "jr:itext() reads the form's translations on the phone",
    "area": "area() of a geoshape is not computed on the server",
    "distance": "distance() of a geotrace is not computed on the server",
    "indexed-repeat": "indexed-repeat() reads another item of a repeat",
}
# functions over node-sets: a reference into a repeat below the rule's level is aggregated
AGGREGATES = frozenset({"sum", "max", "min", "count", "count-non-empty", "join"})

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
    """A function call; ``choice_field`` is the field named by jr:choice-name's 2nd argument.

    ``target`` is the repeat that count() counts or position() numbers (``depth``: how
    many repeats enclose it, itself included); ``problem`` says why the server cannot
    evaluate the call (the rule is then skipped, see ``server_problem``).
    """

    name: str
    args: tuple[Node, ...]
    choice_field: str | None = None
    target: str | None = None
    depth: int = 0
    problem: str | None = None


@dataclass(frozen=True, kw_only=True)
class Nodes(Node):
    """A path naming a group or repeat (not a value): the argument of count() or position()."""

    path: str | None
    repeat: bool = False


@dataclass(frozen=True, kw_only=True)
class Lookup(Node):
    """``instance('list')/root/item[name = key]/out``: a column of a choice list's item."""

    list_name: str
    key: Node | None
    out: str
    problem: str | None = None


_TOKEN = re.compile(
    r"""(?P<ws>[ \t\r\n]+)
      | (?P<ref>\$\{[^}]*\})
      | (?P<num>[0-9]+(?:\.[0-9]*)?|\.[0-9]+)
      | (?P<str>'[^']*'|"[^"]*")
      | (?P<op>!=|<=|>=|[=<>+\-*(),/\[\]])
      | (?P<dotdot>\.\.)
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
                 known: Collection[str] | None, scope: Scope | None = None) -> None:
        self.text, self.field, self.row, self.known = text, field, row, known
        self.scope = scope
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
        if tok.type in ("dot", "dotdot") or (tok.type == "op" and tok.text == "/"):
            return self.path(tok)
        if tok.type == "ref":
            ref = self.reference(tok)
            return self._filtered(tok.pos) if self._at("[") else ref
        if tok.type == "op" and tok.text == "-":
            arg = self.expression(UNARY_POWER)
            return Unary(pos=tok.pos, kind="num", op="-", arg=arg)
        if tok.type == "op" and tok.text == "(":
            inner = self.expression(0)
            self.expect(")")
            return inner
        if tok.type == "name" and tok.text == "current" and self.peek().text == "(":
            self.expect("(")
            self.expect(")")
            return self.path(tok)
        if tok.type == "name" and tok.text == "instance" and self.peek().text == "(":
            return self.lookup(tok)
        if tok.type == "name" and self.peek().text == "(":
            return self.call(tok)
        if tok.type == "end":
            raise self.error("expr.syntax", "the expression ends too early", tok.pos)
        if tok.type == "name":
            return self.child_path(tok)
        raise self.error("expr.syntax", f"unexpected {tok.text!r}", tok.pos)

    def _steps(self) -> list[str]:
        """The ``/step`` parts after the start of a path."""
        steps: list[str] = []
        while self.peek().type == "op" and self.peek().text == "/":
            self.take()
            tok = self.take()
            if tok.type not in ("name", "dot", "dotdot"):
                raise self.error("expr.syntax", "a path step must be a name, '.' or '..'",
                                 tok.pos)
            steps.append(tok.text)
        return steps

    def path(self, tok: _Tok) -> Node:
        """A path: ``.``, ``..``, ``../x``, ``/data/g/x``, ``current()/../x``."""
        absolute = tok.type == "op"
        if absolute:
            first = self.take()
            if first.type != "name":
                raise self.error("expr.syntax", "an absolute path starts with /root/",
                                 first.pos)
            steps = [first.text, *self._steps()]
        else:
            steps = [".." if tok.type == "dotdot" else ".", *self._steps()]
        if steps == ["."]:
            return Ref(pos=tok.pos, kind="str", name=None)
        if self._at("["):
            return self._filtered(tok.pos)
        target = resolve(steps, absolute, self.scope, self.known)
        return self._target(target, "/".join(steps) if not absolute else "/" + "/".join(steps),
                            tok.pos)

    def child_path(self, tok: _Tok) -> Node:
        """A bare name, e.g. ``age``: XPath reads it as a child element of the rule's node.

        A field has no child element, so ODK evaluates it as empty. Often a typo for
        ``${age}`` or ``'age'``: valid, but skipped with a warning that says so.
        """
        steps = [tok.text, *self._steps()]
        while self._at("["):
            self.predicate()
        if self.scope is not None:
            target = resolve(steps, False, self.scope, self.known)
            if isinstance(target, Target) and target.field is not None:
                return Ref(pos=tok.pos, kind="str", name=target.field)
        return Call(pos=tok.pos, kind="str", name="path", args=(),
                    problem=f"{'/'.join(steps)!r} is read as a child element of the node (empty "
                            "in ODK); a field is written ${name}, a text 'in quotes'")

    def _target(self, target: Target | str, text: str, pos: int) -> Node:
        """The node a resolved path stands for."""
        if isinstance(target, str):
            raise self.error("expr.unknown_field", f"the path {text} names nothing: {target}",
                             pos)
        if target.field is not None:
            return Ref(pos=pos, kind="str", name=target.field)
        return Nodes(pos=pos, kind="str", path=target.group, repeat=target.repeat)

    def reference(self, tok: _Tok) -> Node:
        """A ``${name}`` reference, checked against the known fields (and groups)."""
        name = tok.text[2:-1].strip()
        if name.startswith("last-saved#"):
            return Call(pos=tok.pos, kind="str", name="last-saved", args=(),
                        problem=f"{tok.text} reads the last submission saved on the phone")
        if not _FIELD_NAME.fullmatch(name):
            raise self.error("expr.syntax", f"{tok.text!r} is not a field reference", tok.pos)
        scope = self.scope
        if scope is not None and name in scope.group_names and name not in scope.field_repeat:
            path = scope.group_names[name]
            return Nodes(pos=tok.pos, kind="str", path=path, repeat=scope.groups.get(path, False))
        if self.known is not None and name not in self.known:
            raise self.error("expr.unknown_field", f"unknown field ${{{name}}}", tok.pos)
        return Ref(pos=tok.pos, kind="str", name=name)

    def lookup(self, tok: _Tok) -> Lookup:
        """``instance('list')/root/item[name = key]/label``, a lookup in a secondary instance."""
        self.expect("(")
        arg = self.take()
        if arg.type != "str":
            raise self.error("expr.wrong_arguments", "instance() takes the list name in "
                             "quotes", arg.pos)
        self.expect(")")
        list_name = arg.text[1:-1]
        steps: list[str] = []
        key: Node | None = None
        key_col: str | None = None
        ok = True
        while self.peek().type == "op" and self.peek().text == "/":
            self.take()
            step = self.take()
            if step.type != "name":
                raise self.error("expr.syntax", "a path step must be a name", step.pos)
            steps.append(step.text)
            while self._at("["):
                ok = ok and key is None
                key_col, key = self.predicate()
                ok = ok and key is not None and len(steps) == 2
        problem = None
        if not (ok and len(steps) == 3 and key_col == "name" and steps[2] in ("label", "name")):
            problem = (f"the lookup in instance('{list_name}') is not of the form "
                       "instance('list')/root/item[name = value]/label")
        elif self.scope is not None and list_name not in self.scope.lists:
            problem = (f"instance('{list_name}') is not a choice list of the form (an external "
                       "list the server does not hold)")
        return Lookup(pos=tok.pos, kind="str", list_name=list_name, key=key,
                      out=steps[-1] if steps else "", problem=problem)

    def _at(self, op: str) -> bool:
        """Is the next token the operator ``op``?"""
        return self.peek().type == "op" and self.peek().text == op

    def _filtered(self, pos: int) -> Node:
        """A path or reference with predicates, e.g. ``${rep}[position() = 2]/x``: it selects
        among a repeat's items, which the server does not (skipped, see server_problem)."""
        while self._at("[") or self._at("/"):
            if self._at("["):
                self.predicate()
                continue
            self.take()
            step = self.take()
            if step.type not in ("name", "dot", "dotdot"):
                raise self.error("expr.syntax", "a path step must be a name, '.' or '..'",
                                 step.pos)
        return Call(pos=pos, kind="str", name="path", args=(),
                    problem="a path with a predicate [...] selects among a repeat's items")

    def predicate(self) -> tuple[str | None, Node | None]:
        """``[column = value]``; any other predicate is skipped to its ']' (None, None)."""
        start = self.take().pos
        here = self.i
        first, second = self.peek(), self.toks[self.i + 1]
        if first.type == "name" and second.type == "op" and second.text == "=":
            self.i += 2
            try:
                value = self.expression(BINDING["="])
                if self.peek().type == "op" and self.peek().text == "]":
                    self.take()
                    return first.text, value
            except BadInput:
                pass
        self.i = here
        depth = 1
        while depth:
            tok = self.take()
            if tok.type == "end":
                raise self.error("expr.syntax", "'[' is not closed", start)
            if tok.type == "op" and tok.text in "[]":
                depth += 1 if tok.text == "[" else -1
        return None, None

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
        if name == "position":
            return self._position(tok, args)
        if name in AGGREGATES:
            return self._aggregate(tok, name, args, cast(Kind, kind))
        choice_field = None
        if name == "jr:choice-name":
            choice_field = self._choice_field(args[1])
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
        return Call(pos=tok.pos, kind=result, name=name, args=args, choice_field=choice_field,
                    problem=SKIPPED.get(name))

    def _choice_field(self, arg: Node) -> str:
        """The field jr:choice-name()'s 2nd argument names: '${q}' or a path in quotes."""
        text = arg.value if isinstance(arg, Lit) and isinstance(arg.value, str) else None
        m = _CHOICE_ARG.fullmatch(text) if text is not None else None
        name = m.group(1).strip() if m is not None else None
        if name is None and text is not None and text.strip().startswith(("/", ".")):
            steps = [s for s in text.strip().split("/") if s]
            target = resolve(steps, text.strip().startswith("/"), self.scope, self.known)
            name = target.field if isinstance(target, Target) else None
        if name is None:
            raise self.error("expr.wrong_arguments", "jr:choice-name() needs the field "
                             "named as a text, e.g. jr:choice-name(${q}, '${q}')", arg.pos)
        if self.known is not None and name not in self.known:
            raise self.error("expr.unknown_field", f"unknown field ${{{name}}}", arg.pos)
        return name

    def _position(self, tok: _Tok, args: tuple[Node, ...]) -> Node:
        """position(path): the item number of a repeat, 1 for any other node."""
        if not args:
            return Call(pos=tok.pos, kind="num", name="position", args=(),
                        problem="position() without an argument is only meaningful in a "
                                "choice_filter")
        arg = args[0]
        if isinstance(arg, Nodes) and arg.repeat and arg.path:
            depth = self.scope.depth(arg.path) if self.scope is not None else 0
            return Call(pos=tok.pos, kind="num", name="position", args=(), target=arg.path,
                        depth=depth)
        if isinstance(arg, Nodes) and self.scope is None:  # no form: the innermost repeat
            return Call(pos=tok.pos, kind="num", name="position", args=())
        if isinstance(arg, Nodes | Ref):
            return Lit(pos=tok.pos, kind="num", value=1.0)
        raise self.error("expr.wrong_arguments", "position() takes a path, e.g. position(..)",
                         arg.pos)

    def _aggregate(self, tok: _Tok, name: str, args: tuple[Node, ...], kind: Kind) -> Node:
        """sum, max, min, count, count-non-empty, join: over one value or a repeat's items."""
        problem = None
        for arg in args[1:] if name == "join" else args:
            where = self._level_of(arg)
            if where == "same":
                continue
            if name == "count" and where == "child" and len(args) == 1:
                repeat = self._repeat_of(arg)
                return Call(pos=tok.pos, kind="num", name="count", args=(), target=repeat)
            problem = problem or (f"{name}() over the items of a repeat (or a list) is not "
                                  "re-computed on the server")
        return Call(pos=tok.pos, kind=kind, name=name, args=args, problem=problem)

    def _repeat_of(self, arg: Node) -> str | None:
        """The repeat a field reference or a repeat path stands in."""
        if isinstance(arg, Nodes):
            return arg.path if arg.repeat else None
        if isinstance(arg, Ref) and arg.name is not None and self.scope is not None:
            return self.scope.field_repeat.get(arg.name)
        return None

    def _level_of(self, arg: Node) -> str:
        """'same' (one value per item of the rule's level), 'child' or 'other'."""
        if isinstance(arg, Lookup):
            return "other"
        if isinstance(arg, Nodes):
            if not arg.repeat:
                return "other"
            return "other" if self.scope is None else self.scope.relation(arg.path)
        if not isinstance(arg, Ref) or self.scope is None:
            return "same"
        return self.scope.relation(self._repeat_of(arg))


def _binary(op: str, left: Node, right: Node, pos: int) -> Binary:
    """A binary node with its result kind."""
    kind: Kind = "num" if op in ARITHMETIC else "bool"
    return Binary(pos=pos, kind=kind, op=op, left=left, right=right)


def parse(text: str, *, field: str | None = None, row: int | None = None,
          known: Collection[str] | None = None, scope: Scope | None = None) -> Node:
    """Parse an XLSForm expression; errors name ``field``, the survey ``row`` and the offset.

    ``known``, when given, is the set of field names ``${...}`` may refer to; ``scope``
    resolves paths (``../x``, ``/data/x``) to fields and groups (see ``paths.scope_of``).
    """
    return _Parser(text, field, row, known, scope).parse()


def walk(node: Node) -> Iterator[Node]:
    """Every node of an expression, the root first."""
    stack = [node]
    while stack:
        n = stack.pop()
        yield n
        if isinstance(n, Unary):
            stack.append(n.arg)
        elif isinstance(n, Binary):
            stack.extend((n.right, n.left))
        elif isinstance(n, Call):
            stack.extend(reversed(n.args))
        elif isinstance(n, Lookup) and n.key is not None:
            stack.append(n.key)


def field_refs(node: Node) -> set[str]:
    """The names of the fields an expression refers to (not ``.``)."""
    out: set[str] = set()
    for n in walk(node):
        if isinstance(n, Ref) and n.name is not None:
            out.add(n.name)
        elif isinstance(n, Call) and n.choice_field:
            out.add(n.choice_field)
    return out


def server_problem(node: Node) -> str | None:
    """Why the server cannot evaluate an expression (None when it can)."""
    for n in walk(node):
        if isinstance(n, Call | Lookup) and n.problem:
            return n.problem
        if isinstance(n, Nodes):
            name = f"/{n.path}" if n.path else "the form's root"
            return f"it uses the group {name} as a value"
    return None


def per_row(node: Node) -> set[str]:
    """The functions of an expression the compiler evaluates row by row."""
    return {n.name for n in walk(node) if isinstance(n, Call) and n.name in PER_ROW}
