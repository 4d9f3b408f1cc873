"""XPath paths in expressions: what ``../x``, ``/data/g/x`` or ``current()/../x`` name.

pyxform writes ``${x}`` as a path in the XForm (``../x`` for a sibling in the same
repeat, ``/data/g/x`` elsewhere), writes ``selected(../x, 'other')`` for an
``or_other`` question, and users write paths in their XLSForms. A ``Scope`` holds
what a path can resolve to: the form's root name, its fields and groups by path, and
the node the expression is bound to (XForms evaluates a bind's paths relative to
its own node, so ``..`` is the enclosing group). See docs/methods/expressions.md.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field

from citizendata.forms.schema import FormSchema

__all__ = ["Scope", "Target", "resolve", "scope_of"]


@dataclass(frozen=True)
class Scope:
    """What the paths of one expression can name, and where the expression is bound."""

    root: str
    fields: Mapping[str, str]  # field path -> field name
    field_repeat: Mapping[str, str | None]  # field name -> its innermost repeat
    groups: Mapping[str, bool]  # group path -> is a repeat
    group_names: Mapping[str, str]  # group name -> group path
    parent_repeat: Mapping[str, str | None]  # repeat path -> its enclosing repeat
    lists: frozenset[str] = field(default_factory=frozenset)  # choice lists held
    here: str = ""  # path of the node the expression is bound to ('' = the root)
    level: str | None = None  # the repeat whose items the rule is checked on

    def bound(self, here: str, level: str | None) -> Scope:
        """The same form, for an expression bound to another node."""
        return Scope(self.root, self.fields, self.field_repeat, self.groups, self.group_names,
                     self.parent_repeat, self.lists, here, level)

    def relation(self, repeat: str | None) -> str:
        """'same' when one value per item of the rule's level, 'child' when ``repeat`` is a
        repeat directly inside that level, else 'other'."""
        lv = self.level
        if repeat is None or repeat == lv or (lv is not None and lv.startswith(repeat + "/")):
            return "same"
        if self.parent_repeat.get(repeat, "#") == lv:
            return "child"
        return "other"

    def depth(self, repeat: str) -> int:
        """How many repeats enclose ``repeat``, itself included (1 for an outermost one)."""
        parts = repeat.split("/")
        return sum(1 for i in range(1, len(parts) + 1) if self.groups.get("/".join(parts[:i])))


def scope_of(schema: FormSchema, here: str = "", level: str | None = None) -> Scope:
    """The scope of a form's expressions, bound to the node at ``here``."""
    return Scope(
        root=schema.root,
        fields={f.path: f.name for f in schema.fields},
        field_repeat={f.name: f.repeat for f in schema.fields},
        groups={g.path: g.repeat for g in schema.groups},
        group_names={g.name: g.path for g in schema.groups},
        parent_repeat={g.path: g.parent_repeat for g in schema.repeats},
        lists=frozenset(f.list_name for f in schema.fields if f.list_name and f.choices),
        here=here, level=level,
    )


@dataclass(frozen=True)
class Target:
    """What a path names: a field (by name) or a group (by path; '' is the root)."""

    field: str | None = None
    group: str | None = None
    repeat: bool = False


def resolve(steps: list[str], absolute: bool, scope: Scope | None,
            known: Collection[str] | None) -> Target | str:
    """The target of a path's steps, or why it names nothing (a message)."""
    if scope is None:
        # no form at hand: a path names the field of its last step
        names = [s for s in steps[1 if absolute else 0:] if s not in (".", "..")]
        if not names:
            return Target(group=None)
        if known is not None and names[-1] not in known:
            return f"unknown field {names[-1]!r}"
        return Target(field=names[-1])
    if absolute:
        if not steps or steps[0] != scope.root:
            return f"an absolute path must start with the form's root /{scope.root}"
        parts: list[str] = []
        steps = steps[1:]
    else:
        parts = [p for p in scope.here.split("/") if p]
    for step in steps:
        if step == "..":
            if not parts:
                return "the path goes above the form's root"
            parts.pop()
        elif step != ".":
            parts.append(step)
    path = "/".join(parts)
    if path in scope.fields:
        return Target(field=scope.fields[path])
    if path == "" or path in scope.groups:
        return Target(group=path, repeat=scope.groups.get(path, False))
    return f"no field or group at /{scope.root}/{path}"
