"""The rules of a form: what the server re-checks on every submission, worked out once per version.

``form_rules`` reads a form schema into rules of seven kinds (required, not_relevant,
type, choice, constraint, calculate, repeat_count), each with its parsed expressions.
It also checks the form's expressions as a whole, so that mistakes are reported when
the form is added rather than when data is validated: syntax errors, unknown
``${names}`` or paths and circular ``calculate`` references are collected and raised
together. A valid expression the server cannot evaluate (an unknown function,
``now()``, ``random()``, ``indexed-repeat()``, a sum over a repeat's items, a lookup
in an external list, a reference into a repeat that does not enclose the field) does
not stop the form (phones evaluate it): its rule is skipped and named in the form's
warnings. A rule using a function evaluated row by row (``format-date()``...) is
checked, and named in the warnings too.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass, field

from citizendata.errors import BadInput, Problem, Where
from citizendata.forms.schema import Field, FormSchema, Group
from citizendata.validate.expr.parser import (
    Binary,
    Call,
    Node,
    field_refs,
    parse,
    per_row,
    server_problem,
    walk,
)
from citizendata.validate.expr.paths import scope_of

__all__ = ["KINDS", "SEVERITY", "Rule", "RuleSet", "column_names", "form_rules"]

# rule kind -> severity of its findings; an error moves a received submission to has_issues
SEVERITY: dict[str, str] = {
    "required": "error",
    "type": "error",
    "choice": "error",
    "constraint": "error",
    "repeat_count": "error",
    "not_relevant": "warning",
    "calculate": "warning",
}
KINDS = tuple(SEVERITY)

# storage types whose raw text is checked for form
TYPED = frozenset({"integer", "decimal", "date", "datetime", "geopoint"})
CHOICE_TYPES = frozenset({"select_one", "select_multiple"})


@dataclass(frozen=True)
class Rule:
    """One check on one field (or repeat group), with the expressions it needs."""

    kind: str
    field: str  # the field path (the repeat path for repeat_count)
    column: str  # the field's column in its table
    repeat: str | None  # the table: None for the main table, else the repeat path
    message: str
    expr: Node | None = None  # constraint, calculation, required-if or repeat count
    relevant: Node | None = None  # the combined relevance of the field and its groups
    storage_type: str = "text"
    choices: tuple[str, ...] = ()
    row: int | None = None
    personal: bool = False  # the field holds personal data: findings do not carry its value

    @property
    def id(self) -> str:
        """A stable rule id, e.g. 'constraint:mother/age'."""
        return f"{self.kind}:{self.field}"

    @property
    def severity(self) -> str:
        """error or warning."""
        return SEVERITY[self.kind]


@dataclass(frozen=True)
class RuleSet:
    """The rules of one form version, and the rules the server cannot check."""

    form_id: str
    version: str
    rules: tuple[Rule, ...]
    skipped: tuple[str, ...] = ()  # human-readable: which rule, and why
    columns: dict[str, str] = field(default_factory=dict)  # field path -> column name
    row_by_row: tuple[str, ...] = ()  # rules evaluated row by row, and the functions why

    @property
    def warnings(self) -> tuple[str, ...]:
        """What the form version's warnings say of its rules: skipped, then row by row."""
        return self.skipped + self.row_by_row

    def for_table(self, repeat: str | None) -> Iterator[Rule]:
        """The rules checked on one table."""
        return (r for r in self.rules if r.repeat == repeat)


def column_names(schema: FormSchema) -> dict[str, str]:
    """Each field's column: its name when unique in the form, else its path."""
    counts: dict[str, int] = {}
    for f in schema.fields:
        counts[f.name] = counts.get(f.name, 0) + 1
    return {f.path: f.name if counts[f.name] == 1 else f.path for f in schema.fields}


def _and(a: Node | None, b: Node | None) -> Node | None:
    if a is None:
        return b
    if b is None:
        return a
    return Binary(pos=0, kind="bool", op="and", left=a, right=b)


def _row(f: Field | Group) -> str:
    """' (row N)' of a survey row, when known."""
    return f" (row {f.row})" if f.row is not None else ""


class _Reader:
    """Parses every expression of a form, collecting problems instead of stopping at the first."""

    def __init__(self, schema: FormSchema) -> None:
        self.schema = schema
        self.known = frozenset(f.name for f in schema.fields)
        self.by_name = {f.name: f for f in schema.fields}
        self.problems: list[Problem] = []
        self.skipped: list[str] = []
        self.row_by_row: list[str] = []
        self.scope = scope_of(schema)

    def parse(self, text: str | None, what: str, f: Field | Group) -> Node | None:
        """The parsed expression, or None (and a problem or a skip noted) when it cannot be."""
        if text is None or not text.strip():
            return None
        # XForms evaluates a bind's paths from its own node; a group's rules are checked
        # on the table of its enclosing repeat
        level = f.repeat if isinstance(f, Field) else f.parent_repeat
        scope = self.scope.bound(f.path, level)
        try:
            node = parse(text, field=f.name, row=f.row, known=self.known, scope=scope)
        except BadInput as exc:
            if exc.code == "expr.unsupported_function":
                self.skip(what, f, exc.message)
            else:
                self.problems.append(Problem(exc.code, f"{what}: {exc.message}", where=exc.where,
                                             fix=exc.fix))
            return None
        problem = server_problem(node)
        if problem is not None:
            self.skip(what, f, problem)
            return None
        if not self._check_scope(node, text, what, f):
            return None
        if not self._check_choice_names(node, text, what, f):
            return None
        slow = per_row(node)
        if slow:
            self.row_by_row.append(
                f"{what} of {f.path!r}{_row(f)} is evaluated row by row on the server "
                f"(not vectorised): it uses {', '.join(sorted(f'{n}()' for n in slow))}")
        return node

    def skip(self, what: str, f: Field | Group, why: str) -> None:
        """Note a rule the server does not re-check (phones still do)."""
        self.skipped.append(f"{what} of {f.path!r}{_row(f)} is not re-checked on the server: "
                            f"{why}")

    def _check_choice_names(self, node: Node, text: str, what: str, f: Field | Group) -> bool:
        """Refuse jr:choice-name() of a field that has no choice list; skip the rule when the
        choices are in an external file (select_one_from_file), which the server lacks."""
        for n in walk(node):
            if not isinstance(n, Call) or n.name != "jr:choice-name":
                continue
            target = self.by_name.get(n.choice_field or "")
            if target is None or target.choices:
                continue
            if target.type.endswith("_from_file"):
                self.skip(what, f, f"jr:choice-name() names ${{{target.name}}}, whose choices "
                                   "are in an external file")
                return False
            self.problems.append(Problem(
                "expr.wrong_arguments",
                f"{what} of field {f.name!r}: jr:choice-name() names "
                f"${{{target.name}}}, which has no choice list: {text!r}",
                where=Where(sheet="survey", row=f.row, field=f.name),
                fix="Name a select_one or select_multiple question."))
            return False
        return True

    def _check_scope(self, node: Node, text: str, what: str, f: Field | Group) -> bool:
        """Skip rules referring into a repeat that does not enclose the expression's field.

        ODK evaluates such a reference as the node-set of all its items (a comparison is
        true when one item makes it true); the server holds one value per row here, so
        the rule is skipped with a warning rather than refusing a valid form.
        """
        # a group's relevance and a repeat's count are evaluated in the enclosing level
        own = f.repeat if isinstance(f, Field) else f.parent_repeat
        for name in sorted(field_refs(node)):
            target = self.by_name[name].repeat if name in self.by_name else None
            if target is None or (own is not None and (own == target or
                                                       own.startswith(target + "/"))):
                continue
            self.skip(what, f, f"it refers to ${{{name}}}, inside the repeat {target!r} that "
                               f"does not enclose {f.name!r} (all its items are meant): {text!r}")
            return False
        return True


def _calculate_cycles(schema: FormSchema, calcs: dict[str, Node]) -> list[Problem]:
    """A problem for each cycle among calculations (a calculate that depends on itself)."""
    graph = {name: sorted(field_refs(node) & calcs.keys()) for name, node in calcs.items()}
    state: dict[str, int] = {}  # 1 on the stack, 2 done
    problems: list[Problem] = []
    rows = {f.name: f.row for f in schema.fields}

    def visit(name: str, stack: list[str]) -> None:
        state[name] = 1
        stack.append(name)
        for nxt in graph[name]:
            if state.get(nxt) == 1:
                cycle = [*stack[stack.index(nxt):], nxt]
                problems.append(Problem(
                    "expr.circular",
                    "calculations refer to each other in a circle: "
                    + " → ".join(f"${{{n}}}" for n in cycle),
                    where=Where(sheet="survey", row=rows.get(nxt), field=nxt),
                    fix="Break the circle: one of these calculations must not depend on the "
                        "others."))
            elif nxt not in state:
                visit(nxt, stack)
        stack.pop()
        state[name] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name, [])
    return problems


def _uses_today(node: Node) -> bool:
    return any(isinstance(n, Call) and n.name == "today" for n in walk(node))


def form_rules(schema: FormSchema, *, filename: str | None = None,
               columns: dict[str, str] | None = None) -> RuleSet:
    """The rules of a form version; BadInput listing every faulty expression if any.

    ``columns`` maps field paths to table columns (default: ``column_names(schema)``).
    """
    reader = _Reader(schema)
    columns = columns if columns is not None else column_names(schema)
    group_rel = {g.path: reader.parse(g.relevant, "relevant", g) for g in schema.groups}

    def enclosing_relevance(path: str) -> Node | None:
        parts = path.split("/")
        out: Node | None = None
        for i in range(1, len(parts)):
            out = _and(out, group_rel.get("/".join(parts[:i])))
        return out

    rules: list[Rule] = []
    calcs: dict[str, Node] = {}
    for f in schema.fields:
        if not f.has_value:
            continue
        own = reader.parse(f.relevant, "relevant", f)
        relevant = _and(enclosing_relevance(f.path), own)
        base = {"field": f.path, "column": columns[f.path], "repeat": f.repeat,
                "relevant": relevant, "storage_type": f.storage_type, "row": f.row,
                "personal": f.personal}
        if f.is_metadata or f.type in ("calculate", "hidden"):
            pass
        elif f.required:
            rules.append(Rule(kind="required", message=f.required_message or
                              f"{f.name}: an answer is required", **base))  # type: ignore[arg-type]
        elif f.required_if:
            cond = reader.parse(f.required_if, "required", f)
            if cond is not None:
                rules.append(Rule(kind="required", expr=cond, message=f.required_message or
                                  f"{f.name}: an answer is required here", **base))  # type: ignore[arg-type]
        if relevant is not None and not f.is_metadata:
            rules.append(Rule(kind="not_relevant", message=f"{f.name}: answered although the "
                              "question does not apply (not relevant)", **base))  # type: ignore[arg-type]
        if f.storage_type in TYPED:
            rules.append(Rule(kind="type", message=f"{f.name}: not a valid {f.storage_type}",
                              **base))  # type: ignore[arg-type]
        if f.type in CHOICE_TYPES and f.choices:
            rules.append(Rule(kind="choice", choices=tuple(c.name for c in f.choices),
                              message=f"{f.name}: not one of the choices of list "
                                      f"{f.list_name!r}", **base))  # type: ignore[arg-type]
        constraint = reader.parse(f.constraint, "constraint", f)
        if constraint is not None:
            rules.append(Rule(kind="constraint", expr=constraint, message=(
                f.constraint_message or f"{f.name}: the answer breaks the rule "
                f"{f.constraint}"), **base))  # type: ignore[arg-type]
        calc = reader.parse(f.calculation, "calculation", f)
        if calc is not None:
            calcs[f.name] = calc
            if _uses_today(calc):
                reader.skipped.append(f"calculation of {f.path!r}{_row(f)} uses today(), "
                                      "which changes from day to day: not re-checked")
            else:
                rules.append(Rule(kind="calculate", expr=calc, message=(
                    f"{f.name}: the stored value differs from what the form calculates "
                    f"({f.calculation})"), **base))  # type: ignore[arg-type]
    for g in schema.repeats:
        count = reader.parse(g.repeat_count, "repeat_count", g)
        if count is not None:
            rel = _and(enclosing_relevance(g.path), group_rel.get(g.path))
            rules.append(Rule(kind="repeat_count", field=g.path, column=f"#{g.path}",
                              repeat=g.parent_repeat, expr=count, relevant=rel, row=g.row,
                              message=f"{g.name}: the number of items differs from the form's "
                                      f"repeat_count ({g.repeat_count})"))
    problems = reader.problems + _calculate_cycles(schema, calcs)
    if problems:
        if filename:
            problems = [dataclasses.replace(p, where=dataclasses.replace(
                p.where or Where(), file=filename)) for p in problems]
        first = problems[0]
        raise BadInput(first.code, f"{len(problems)} expression problem(s) in form "
                       f"{schema.form_id!r}; the first: {first.message}", where=first.where,
                       fix=first.fix, problems=problems)
    return RuleSet(schema.form_id, schema.version, tuple(rules), tuple(reader.skipped), columns,
                   tuple(reader.row_by_row))
