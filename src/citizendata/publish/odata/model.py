"""A form as an OData v4 service in ODK Central's layout: entity model, documents, rows.

Central's layout (central-backend ``lib/formats/odata.js`` and ``lib/data/odata.js``),
which Excel, Power BI and R's ruODK already read:

- the entity set ``Submissions`` (key ``__id``, the instance id, and ``__system``, the
  submission's metadata); groups are complex types named by their path;
- each repeat is an entity set ``Submissions.<path with dots>`` whose rows carry their own
  ``__id`` and their parent's as ``__Submissions-id`` (``__Submissions-outer-id`` inside
  the repeat ``outer``), linked from the parent row by ``<name>@odata.navigationLink``;
- names are made OData identifiers the way Central does (``sanitizeOdataIdentifier``).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from dataclasses import field as dc_field
from typing import Any
from urllib.parse import quote
from xml.sax.saxutils import quoteattr

from citizendata.forms.schema import Field, FormSchema

__all__ = ["EntitySet", "FormModel", "Node", "build_model", "sanitize"]

NAMESPACE_ROOT = "org.opendatakit.user"
# the types Central declares for XForm types; everything else is Edm.String
EDM_TYPES = {
    "integer": "Edm.Int64", "decimal": "Edm.Decimal", "range": "Edm.Decimal",
    "geopoint": "Edm.GeographyPoint", "start-geopoint": "Edm.GeographyPoint",
    "geotrace": "Edm.GeographyLineString", "geoshape": "Edm.GeographyPolygon",
    "date": "Edm.Date", "today": "Edm.Date",
    "datetime": "Edm.DateTimeOffset", "start": "Edm.DateTimeOffset",
    "end": "Edm.DateTimeOffset",
}


_LEAD = re.compile(r"^([^a-zA-Z_])")
_OTHER = re.compile(r"[^a-zA-Z0-9_]+")


def sanitize(name: str) -> str:
    """An OData identifier for a field or group name, exactly as Central makes it."""
    return _OTHER.sub("_", _LEAD.sub(r"_\1", name))


@dataclass
class Node:
    """A field (leaf), group (structure) or repeat of the form, in form order."""

    name: str  # the name in the payload
    path: str
    kind: str  # field | group | repeat
    field: Field | None = None
    children: list[Node] = dc_field(default_factory=list)
    odata_name: str = ""  # the property name in the feed (worked out once)

    def __post_init__(self) -> None:
        self.odata_name = sanitize(self.name)


@dataclass(frozen=True)
class EntitySet:
    """The main table or one repeat's table."""

    name: str  # Submissions or Submissions.outer.inner
    node: Node  # the root (Submissions) or the repeat node
    repeats: tuple[Node, ...]  # enclosing repeats, outermost first (not the node itself)

    @property
    def parent_key(self) -> str | None:
        """The property holding the parent row's id (None for Submissions)."""
        if self.node.kind != "repeat":
            return None
        parts = _parts(self.repeats[-1].path) if self.repeats else []
        return "__" + "-".join(["Submissions", *parts]) + "-id"


def _parts(path: str) -> list[str]:
    return [sanitize(p) for p in path.split("/")]


def _convert(f: Field) -> Callable[[Any], Any]:
    """How an answer (a string as received, or a JSON scalar) becomes its typed value."""
    edm = EDM_TYPES.get(f.type, "Edm.String")
    if edm == "Edm.Int64":
        return _int
    if edm == "Edm.Decimal":
        return _float
    if edm == "Edm.GeographyPoint":
        return _point
    if edm in ("Edm.GeographyLineString", "Edm.GeographyPolygon"):
        return _line if edm == "Edm.GeographyLineString" else _polygon
    if edm == "Edm.DateTimeOffset":
        return _datetime
    return _text


def _text(v: Any) -> str | None:
    if v is None or v == "":
        return None
    if isinstance(v, list):  # select_multiple from the JSON API
        return " ".join(str(x) for x in v)
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


def _int(v: Any) -> int | None:
    try:
        return int(str(v).strip()) if v not in (None, "") and not isinstance(v, bool) else None
    except ValueError:
        return None  # Central writes null for what parseInt cannot read


def _float(v: Any) -> float | None:
    try:
        return float(v) if v not in (None, "") and not isinstance(v, bool) else None
    except (TypeError, ValueError):
        return None


def _coords(text: str) -> tuple[list[float], float | None] | None:
    parts = [float(p) for p in text.split()]
    if len(parts) < 2:
        return None
    coords = [parts[1], parts[0], *parts[2:3]]  # GeoJSON: longitude first
    return coords, parts[3] if len(parts) > 3 else None


def _point(v: Any) -> dict[str, Any] | None:
    try:
        got = _coords(str(v)) if v not in (None, "") else None
    except ValueError:
        return None
    if got is None:
        return None
    out: dict[str, Any] = {"type": "Point", "coordinates": got[0]}
    if got[1] is not None:
        out["properties"] = {"accuracy": got[1]}
    return out


def _path(v: Any) -> tuple[list[list[float]], list[float | None]] | None:
    if v in (None, ""):
        return None
    coords, acc = [], []
    for part in str(v).split(";"):
        try:
            got = _coords(part)
        except ValueError:
            got = None
        if got is not None:
            coords.append(got[0])
            acc.append(got[1])
    return (coords, acc) if coords else None


def _line(v: Any) -> dict[str, Any] | None:
    got = _path(v)
    if got is None:
        return None
    out: dict[str, Any] = {"type": "LineString", "coordinates": got[0]}
    if any(a is not None for a in got[1]):
        out["properties"] = {"accuracies": got[1]}
    return out


def _polygon(v: Any) -> dict[str, Any] | None:
    got = _path(v)
    if got is None:
        return None
    out: dict[str, Any] = {"type": "Polygon", "coordinates": [got[0]]}
    if any(a is not None for a in got[1]):
        out["properties"] = {"accuracies": got[1]}
    return out


def _datetime(v: Any) -> str | None:
    s = _text(v)
    if s is None:
        return None
    s = s.strip()
    # Collect writes "+07" as the zone; OData needs "+07:00" (as Central patches it)
    return s + ":00" if len(s) > 3 and s[-3] in "+-" and s[-2:].isdigit() else s


def _hash_id(parts: list[str]) -> str:
    # Central's repeat row ids: sha1 over the path of (name#index) from the submission
    return hashlib.sha1("%%".join(parts).encode()).hexdigest()


class FormModel:
    """The entity model of a form for one caller (personal fields only if they may see them)."""

    def __init__(self, form_id: str, schema: FormSchema, *, personal: bool) -> None:
        self.form_id = form_id
        self.schema = schema
        self.namespace = f"{NAMESPACE_ROOT}.{sanitize(form_id)}"
        self.root = Node(schema.root, "", "group")
        groups = {g.path: g for g in schema.groups}
        nodes: dict[str, Node] = {"": self.root}
        self.converters: dict[str, Callable[[Any], Any]] = {}
        for f in schema.fields:
            if not f.has_value or (f.personal and not personal):
                continue
            parent = self._parent(f.path, groups, nodes)
            parent.children.append(Node(f.name, f.path, "field", f))
            self.converters[f.path] = _convert(f)
        self.sets: dict[str, EntitySet] = {}
        self._collect(self.root, ())

    def _parent(self, path: str, groups: dict[str, Any], nodes: dict[str, Node]) -> Node:
        parts = path.split("/")[:-1]
        node = self.root
        for i in range(len(parts)):
            sub = "/".join(parts[: i + 1])
            if sub not in nodes:
                g = groups.get(sub)
                kind = "repeat" if g is not None and g.repeat else "group"
                nodes[sub] = Node(parts[i], sub, kind)
                node.children.append(nodes[sub])
            node = nodes[sub]
        return node

    def _collect(self, node: Node, repeats: tuple[Node, ...]) -> None:
        """Register an entity set per repeat (named by its whole path, as Central does)."""
        if node is self.root:
            self.sets["Submissions"] = EntitySet("Submissions", node, ())
        elif node.kind == "repeat":
            name = ".".join(["Submissions", *_parts(node.path)])
            self.sets[name] = EntitySet(name, node, repeats)
            repeats = (*repeats, node)
        for child in node.children:
            if child.kind != "field":
                self._collect(child, repeats)

    def property_paths(self, es: EntitySet) -> set[str]:
        """Every path $select may name in an entity set (groups and their fields)."""
        out = {"__id"}
        if es.parent_key:
            out.add(es.parent_key)
        else:
            out |= {"__system", *(f"__system/{p}" for p in SYSTEM_PROPERTIES)}

        def walk(node: Node, prefix: str) -> None:
            for child in node.children:
                if child.kind == "repeat":
                    continue
                path = prefix + child.odata_name
                out.add(path)
                if child.kind == "group":
                    walk(child, path + "/")

        walk(es.node, "")
        return out

    # -- documents -------------------------------------------------------------------
    def service_document(self, service_root: str) -> dict[str, Any]:
        """The service document: every entity set and its URL."""
        return {"@odata.context": f"{service_root}/$metadata",
                "value": [{"name": n, "kind": "EntitySet", "url": n} for n in self.sets]}

    def metadata_xml(self) -> str:
        """The EDMX metadata document (CSDL), as Central writes it."""
        ns = self.namespace
        entity_types: list[str] = []
        complex_types: list[str] = []
        for name, es in self.sets.items():
            props = ['<Property Name="__id" Type="Edm.String"/>']
            if es.parent_key:
                props.append(f'<Property Name="{es.parent_key}" Type="Edm.String"/>')
            else:
                props.append('<Property Name="__system" '
                             'Type="org.opendatakit.submission.metadata"/>')
            props += self._properties(es.node, complex_types)
            entity_types.append(f'<EntityType Name="{name}"><Key><PropertyRef Name="__id"/>'
                                f'</Key>{"".join(props)}</EntityType>')
        sets = "".join(f'<EntitySet Name="{n}" EntityType="{ns}.{n}"/>' for n in self.sets)
        return (_EDMX_HEAD + f'<Schema xmlns="http://docs.oasis-open.org/odata/ns/edm" '
                f'Namespace={quoteattr(ns)}>' + "".join(entity_types) + "".join(complex_types)
                + f'<EntityContainer Name={quoteattr(sanitize(self.form_id))}>{sets}'
                '</EntityContainer></Schema></edmx:DataServices></edmx:Edmx>')

    def _properties(self, node: Node, complex_types: list[str]) -> list[str]:
        out = []
        for child in node.children:
            n = child.odata_name
            if child.kind == "field":
                assert child.field is not None
                edm = EDM_TYPES.get(child.field.type, "Edm.String")
                out.append(f'<Property Name="{n}" Type="{edm}"/>')
            elif child.kind == "group":
                type_name = ".".join(_parts(child.path))
                complex_types.append(
                    f'<ComplexType Name="{type_name}">'
                    f'{"".join(self._properties(child, complex_types))}</ComplexType>')
                out.append(f'<Property Name="{n}" Type="{self.namespace}.{type_name}"/>')
            else:
                type_name = ".".join(_parts(child.path))
                out.append(f'<NavigationProperty Name="{n}" '
                           f'Type="Collection({self.namespace}.Submissions.{type_name})"/>')
        return out

    # -- rows ------------------------------------------------------------------------
    def rows(self, es: EntitySet, instance_id: str, payload: dict[str, Any],
             system: dict[str, Any] | None) -> list[dict[str, Any]]:
        """The rows one submission gives in an entity set (one for Submissions)."""
        link = f"Submissions('{quote(instance_id, safe='')}')"
        if es.parent_key is None:
            row: dict[str, Any] = {"__id": instance_id}
            row.update(self._frame(self.root, payload, [f"Submissions#{instance_id}"], link))
            meta = row.get("meta")
            if isinstance(meta, dict) and meta.get("instanceID", 0) is None:
                meta["instanceID"] = instance_id  # kept in the envelope, not the answers
            row["__system"] = system
            return [row]
        out: list[dict[str, Any]] = []
        self._descend(es, 0, payload if isinstance(payload, dict) else {},
                      [f"Submissions#{instance_id}"], link, instance_id, out)
        return out

    def _descend(self, es: EntitySet, depth: int, data: dict[str, Any], parts: list[str],
                 link: str, parent_id: str, out: list[dict[str, Any]]) -> None:
        """Walk down the enclosing repeats to the target repeat's items."""
        chain = (*es.repeats, es.node)
        target = chain[depth]
        base = chain[depth - 1].path + "/" if depth else ""
        rel = target.path[len(base):].split("/")
        items = _at(data, rel)
        for i, item in enumerate(items if isinstance(items, list) else [], start=1):
            if not isinstance(item, dict):
                continue
            ip = [*parts, *(f"{p}#" for p in rel[:-1]), f"{rel[-1]}#{i}"]
            item_id = _hash_id(ip)
            item_link = f"{link}/{'/'.join(sanitize(p) for p in rel)}('{item_id}')"
            if depth == len(chain) - 1:
                row = {"__id": item_id, es.parent_key or "": parent_id}
                row.update(self._frame(target, item, ip, item_link))
                out.append(row)
            else:
                self._descend(es, depth + 1, item, ip, item_link, item_id, out)

    def _frame(self, node: Node, data: Any, parts: list[str], link: str) -> dict[str, Any]:
        """A node's properties from its part of the payload; absent answers are null."""
        data = data if isinstance(data, dict) else {}
        out: dict[str, Any] = {}
        for child in node.children:
            n = child.odata_name
            if child.kind == "field":
                out[n] = self.converters[child.path](data.get(child.name))
            elif child.kind == "group":
                out[n] = self._frame(child, data.get(child.name), [*parts, f"{child.name}#"],
                                     f"{link}/{n}")
            else:
                out[f"{n}@odata.navigationLink"] = f"{link}/{n}"
        return out


def _at(data: dict[str, Any], rel: list[str]) -> Any:
    node: Any = data
    for p in rel:
        node = node.get(p) if isinstance(node, dict) else None
    return node


SYSTEM_PROPERTIES = ("submissionDate", "updatedAt", "deletedAt", "submitterId", "submitterName",
                     "attachmentsPresent", "attachmentsExpected", "status", "reviewState",
                     "deviceId", "edits", "formVersion")
_EDMX_HEAD = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<edmx:Edmx xmlns:edmx="http://docs.oasis-open.org/odata/ns/edmx" Version="4.0">'
    '<edmx:DataServices>'
    '<Schema xmlns="http://docs.oasis-open.org/odata/ns/edm" '
    'Namespace="org.opendatakit.submission">'
    '<ComplexType Name="metadata">'
    '<Property Name="submissionDate" Type="Edm.DateTimeOffset"/>'
    '<Property Name="updatedAt" Type="Edm.DateTimeOffset"/>'
    '<Property Name="deletedAt" Type="Edm.DateTimeOffset"/>'
    '<Property Name="submitterId" Type="Edm.String"/>'
    '<Property Name="submitterName" Type="Edm.String"/>'
    '<Property Name="attachmentsPresent" Type="Edm.Int64"/>'
    '<Property Name="attachmentsExpected" Type="Edm.Int64"/>'
    '<Property Name="status" Type="org.opendatakit.submission.Status"/>'
    '<Property Name="reviewState" Type="org.opendatakit.submission.ReviewState"/>'
    '<Property Name="deviceId" Type="Edm.String"/>'
    '<Property Name="edits" Type="Edm.Int64"/>'
    '<Property Name="formVersion" Type="Edm.String"/>'
    '</ComplexType>'
    # member values are optional in CSDL (Central leaves them out); some clients need them
    '<EnumType Name="Status"><Member Name="notDecrypted" Value="0"/>'
    '<Member Name="missingEncryptedFormData" Value="1"/></EnumType>'
    '<EnumType Name="ReviewState"><Member Name="hasIssues" Value="0"/>'
    '<Member Name="edited" Value="1"/><Member Name="rejected" Value="2"/>'
    '<Member Name="approved" Value="3"/></EnumType>'
    '</Schema>'
)


def build_model(form_id: str, schema: FormSchema, *, personal: bool) -> FormModel:
    """The entity model of a form as the caller may see it."""
    return FormModel(form_id, schema, personal=personal)

