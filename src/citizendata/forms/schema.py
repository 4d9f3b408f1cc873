"""The form schema: what citizendata keeps of an XLSForm, independent of pyxform's internals.

Paths are slash-separated from the instance root, without the root itself:
``location/ward`` for a field in a group, ``births/place`` for a field in the
repeat group ``births``. A submission payload mirrors the XForm instance: groups
are nested objects, repeats are lists of objects, leaf values are stored exactly
as received (strings from XML and CSV; JSON scalars from the JSON API).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = ["METADATA_TYPES", "STORAGE_TYPES", "Choice", "Field", "FormSchema", "Group"]

# XLSForm types whose values are captured by the device, not asked.
METADATA_TYPES = frozenset(
    {"start", "end", "today", "deviceid", "subscriberid", "simserial", "phonenumber",
     "username", "email", "audit", "start-geopoint"}
)

# The storage type of each XLSForm type in a snapshot (see citizendata.snapshot).
STORAGE_TYPES: dict[str, str] = {
    "integer": "integer",
    "decimal": "decimal",
    "range": "decimal",
    "text": "text",
    "select_one": "categorical",
    "select_one_from_file": "text",
    "select_multiple": "multi",
    "select_multiple_from_file": "text",
    "rank": "text",
    "date": "date",
    "datetime": "datetime",
    "time": "text",
    "start": "datetime",
    "end": "datetime",
    "today": "date",
    "geopoint": "geopoint",
    "start-geopoint": "geopoint",
    "geotrace": "text",
    "geoshape": "text",
    "calculate": "text",
    "hidden": "text",
    "note": "none",
    "acknowledge": "text",
    "barcode": "text",
    "image": "text",
    "audio": "text",
    "video": "text",
    "file": "text",
    "background-audio": "text",
    "deviceid": "text",
    "subscriberid": "text",
    "simserial": "text",
    "phonenumber": "text",
    "username": "text",
    "email": "text",
    "audit": "text",
    "trigger": "text",
}


@dataclass(frozen=True)
class Choice:
    """One answer option of a choice list."""

    name: str
    label: str | None = None


@dataclass(frozen=True)
class Field:
    """One question, calculation or metadata item of a form."""

    name: str
    path: str
    type: str
    label: str | None = None
    list_name: str | None = None
    choices: tuple[Choice, ...] = ()
    required: bool = False
    required_message: str | None = None
    required_if: str | None = None  # an expression, when 'required' is not plain yes/no
    choice_filter: str | None = None
    relevant: str | None = None
    constraint: str | None = None
    constraint_message: str | None = None
    calculation: str | None = None
    default: str | None = None
    appearance: str | None = None
    repeat: str | None = None  # path of the innermost enclosing repeat, None at top level
    row: int | None = None  # row number in the XLSForm 'survey' sheet (header is row 1)
    parameters: tuple[tuple[str, str], ...] = ()
    personal: bool = False  # tagged as personal data (names, phones, exact GPS, free text)

    @property
    def storage_type(self) -> str:
        """How the snapshot types this field (integer, decimal, categorical, multi, ...)."""
        if self.type == "calculate" and self.parameters:
            return "text"
        return STORAGE_TYPES.get(self.type, "text")

    @property
    def is_metadata(self) -> bool:
        """True for device-captured items such as start, end, deviceid."""
        return self.type in METADATA_TYPES

    @property
    def has_value(self) -> bool:
        """False for notes, which hold no data."""
        return self.storage_type != "none"


@dataclass(frozen=True)
class Group:
    """A group or a repeat group."""

    name: str
    path: str
    repeat: bool
    label: str | None = None
    relevant: str | None = None
    repeat_count: str | None = None
    parent_repeat: str | None = None  # path of the enclosing repeat, if any
    row: int | None = None


@dataclass(frozen=True)
class FormSchema:
    """Everything citizendata needs of one form version."""

    form_id: str
    version: str
    title: str
    root: str  # the instance root element name (usually the form_id)
    fields: tuple[Field, ...]
    groups: tuple[Group, ...] = ()
    default_language: str | None = None
    languages: tuple[str, ...] = ()
    warnings: tuple[str, ...] = field(default=(), compare=False)

    # -- lookups -------------------------------------------------------------
    def field(self, path: str) -> Field:
        """The field at a path; KeyError if absent."""
        for f in self.fields:
            if f.path == path:
                return f
        raise KeyError(path)

    def find(self, name_or_path: str) -> Field | None:
        """A field by path, else by unique name; None if absent or ambiguous."""
        by_path = [f for f in self.fields if f.path == name_or_path]
        if by_path:
            return by_path[0]
        by_name = [f for f in self.fields if f.name == name_or_path]
        return by_name[0] if len(by_name) == 1 else None

    @property
    def repeats(self) -> tuple[Group, ...]:
        """The repeat groups, outermost first."""
        return tuple(g for g in self.groups if g.repeat)

    def fields_in(self, repeat: str | None) -> Iterator[Field]:
        """Fields whose innermost repeat is ``repeat`` (None: the main table)."""
        return (f for f in self.fields if f.repeat == repeat)

    # -- serialisation ---------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form, stored with each form version."""
        d = asdict(self)
        d["warnings"] = list(self.warnings)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> FormSchema:
        """The inverse of ``to_dict``."""
        fields = tuple(
            Field(
                **{
                    **f,
                    "choices": tuple(Choice(**c) for c in f.get("choices", ())),
                    "parameters": tuple(tuple(p) for p in f.get("parameters", ())),
                }
            )
            for f in d["fields"]
        )
        groups = tuple(Group(**g) for g in d.get("groups", ()))
        return cls(
            form_id=d["form_id"],
            version=d["version"],
            title=d["title"],
            root=d["root"],
            fields=fields,
            groups=groups,
            default_language=d.get("default_language"),
            languages=tuple(d.get("languages", ())),
            warnings=tuple(d.get("warnings", ())),
        )
