"""Submissions received as JSON: one common shape for every intake channel.

Every channel (JSON API, CSV/XLSX import, OpenRosa) turns what it receives into
``IncomingSubmission`` objects. The payload mirrors the XForm instance: groups are
nested objects, repeats are lists of objects, leaf values are kept exactly as
received. The instance id, the deprecated id and ``meta/rootUuid`` are lifted out of
the payload into their own attributes, so the same answers give the same
``content_hash`` whichever channel brought them.

In problems, ``Where.row`` is the 0-based index of the item in a batch (None for a
single object); for invalid JSON it is the line and ``Where.position`` the column.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from citizendata.config import DEFAULT_MAX_DEPTH
from citizendata.errors import BadInput, PayloadTooLarge, Problem, Where
from citizendata.forms.schema import Field, FormSchema, Group
from citizendata.ingest.depth import check_json_depth, check_object_depth

__all__ = [
    "IncomingSubmission",
    "SchemaIndex",
    "canonical_json",
    "content_hash",
    "parse_json_body",
    "parse_json_submission",
    "parse_timestamp",
    "raise_problems",
]

# meta/* items that identify the record rather than answer the form.
INSTANCE_ID_PATH = "meta/instanceID"
DEPRECATED_ID_PATH = "meta/deprecatedID"
ROOT_UUID_PATH = "meta/rootUuid"
# Keys of the JSON envelope shape {"instance_id": ..., "data": {...}}.
_ENVELOPE_KEYS = frozenset(
    {"instance_id", "collected_at", "form_version", "deprecated_id", "data", "source_meta"}
)
# Top-level keys of a bare Kobo/ODK JSON record that carry the form version.
_VERSION_KEYS = ("__version__", "_version_", "_version")


@dataclass(frozen=True)
class IncomingSubmission:
    """One submission as received, before it is stored."""

    instance_id: str
    payload: dict[str, Any]
    collected_at: datetime | None
    form_version: str | None
    deprecated_id: str | None = None
    source_meta: dict[str, Any] = field(default_factory=dict)

    @property
    def content_hash(self) -> str:
        """The sha256 of the payload's canonical JSON."""
        return content_hash(self.payload)


def canonical_json(payload: Any) -> str:
    """The one JSON text of a payload: sorted keys, no spaces, UTF-8 kept as is."""
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def content_hash(payload: Any) -> str:
    """The sha256 hex digest of ``canonical_json(payload)``, used for idempotency."""
    return hashlib.sha256(canonical_json(payload).encode("utf-8")).hexdigest()


def parse_timestamp(value: str) -> datetime:
    """An ISO 8601 timestamp as an aware UTC datetime; naive times are taken as UTC."""
    dt = datetime.fromisoformat(value.strip())
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC)


# meta items ODK Collect, Enketo and KoboToolbox add whether or not the form declares them
_CLIENT_META = frozenset({"meta", "meta/instanceID", "meta/deprecatedID", "meta/rootUuid",
                          "meta/instanceName", "meta/audit"})


class SchemaIndex:
    """Path lookups over a form schema, shared by the intake parsers."""

    def __init__(self, schema: FormSchema) -> None:
        self.schema = schema
        self.fields: dict[str, Field] = {f.path: f for f in schema.fields}
        self.groups: dict[str, Group] = {g.path: g for g in schema.groups}
        self.repeats: frozenset[str] = frozenset(g.path for g in schema.groups if g.repeat)
        top = [f for f in schema.fields if f.repeat is None]
        # `end` first: the time the interview was finished is when it was collected.
        self.time_paths: tuple[str, ...] = tuple(
            f.path for kind in ("end", "start") for f in top if f.type == kind
        )

    def is_known(self, path: str) -> bool:
        """True for a field or group path, and the meta items ODK clients add themselves."""
        return path in self.fields or path in self.groups or path in _CLIENT_META

    def collected_at(self, payload: dict[str, Any]) -> datetime | None:
        """The first readable value of the form's `end`, then `start` field."""
        for path in self.time_paths:
            value = get_path(payload, path)
            if isinstance(value, str) and value.strip():
                try:
                    return parse_timestamp(value)
                except ValueError:
                    continue
        return None


def get_path(payload: dict[str, Any], path: str) -> Any:
    """The value at a slash path of a nested payload, or None."""
    node: Any = payload
    for part in path.split("/"):
        if not isinstance(node, dict):
            return None
        node = node.get(part)
    return node


def pop_path(payload: dict[str, Any], path: str) -> Any:
    """Remove and return the value at a slash path; drop parents left empty."""
    head, _, rest = path.partition("/")
    if head not in payload:
        return None
    if not rest:
        return payload.pop(head)
    child = payload[head]
    if not isinstance(child, dict):
        return None
    value = pop_path(child, rest)
    if not child:
        del payload[head]
    return value


def nest(obj: dict[str, Any], repeats: frozenset[str], prefix: str = "") -> tuple[dict[str, Any], list[str]]:
    """Turn flat slash keys into nested objects; returns the payload and key conflicts."""
    out: dict[str, Any] = {}
    conflicts: list[str] = []
    for key, value in obj.items():
        if prefix and isinstance(key, str) and key.startswith(prefix + "/"):
            key = key[len(prefix) + 1:]  # KoboToolbox writes full paths inside groups and repeats
        parts = key.split("/") if isinstance(key, str) and "/" in key else [key]
        node = out
        for i, part in enumerate(parts[:-1]):
            sub = node.setdefault(part, {})
            if not isinstance(sub, dict):
                conflicts.append("/".join([prefix, *parts[: i + 1]]).strip("/"))
                break
            node = sub
        else:
            path = "/".join([prefix, *parts]).strip("/")
            value = _nest_value(value, path, repeats, conflicts)
            last = parts[-1]
            if last in node and isinstance(node[last], dict) and isinstance(value, dict):
                _merge(node[last], value, path, conflicts)
            elif last in node:
                conflicts.append(path)
            else:
                node[last] = value
    return out, conflicts


def _nest_value(value: Any, path: str, repeats: frozenset[str], conflicts: list[str]) -> Any:
    """Nest inside objects and repeat lists; a single object for a repeat becomes a list."""
    if path in repeats and isinstance(value, dict):
        value = [value]
    if isinstance(value, list) and path in repeats:
        return [_nest_dict(v, path, repeats, conflicts) if isinstance(v, dict) else v for v in value]
    if isinstance(value, dict):
        return _nest_dict(value, path, repeats, conflicts)
    return value


def _nest_dict(value: dict[str, Any], path: str, repeats: frozenset[str], conflicts: list[str]) -> dict[str, Any]:
    nested, more = nest(value, repeats, path)
    conflicts.extend(more)
    return nested


def _merge(into: dict[str, Any], other: dict[str, Any], path: str, conflicts: list[str]) -> None:
    """Merge two nested objects given for the same group, reporting clashing leaves."""
    for k, v in other.items():
        if k in into and isinstance(into[k], dict) and isinstance(v, dict):
            _merge(into[k], v, f"{path}/{k}", conflicts)
        elif k in into:
            conflicts.append(f"{path}/{k}")
        else:
            into[k] = v


def unknown_paths(payload: dict[str, Any], index: SchemaIndex, prefix: str = "") -> list[str]:
    """Paths in a nested payload that are neither fields nor groups of the form."""
    return [p for p, known in _walk(payload, index, prefix) if not known]


def misshapen_paths(payload: dict[str, Any], index: SchemaIndex, prefix: str = "") -> list[str]:
    """Known paths whose value has the wrong shape: a group must be an object, a repeat a
    list of objects, a field one value (a list only for select_multiple). Anything else
    could slip past the form's checks and the personal-data rules."""
    return [p for p, known in _walk(payload, index, prefix) if known]


def _walk(payload: dict[str, Any], index: SchemaIndex, prefix: str) -> list[tuple[str, bool]]:
    """(path, known) for every unknown path (known=False) and misshapen one (known=True)."""
    found: list[tuple[str, bool]] = []
    for key, value in payload.items():
        path = f"{prefix}/{key}" if prefix else str(key)
        if not index.is_known(path):
            found.append((path, False))
        elif path in index.repeats:
            for item in value if isinstance(value, list) else [value]:
                if isinstance(item, dict):
                    found.extend(_walk(item, index, path))
                elif item is not None:
                    found.append((path, True))
        elif path in index.groups or path == "meta":
            if isinstance(value, dict):
                found.extend(_walk(value, index, path))
            elif value not in (None, ""):
                found.append((path, True))
        elif not _scalar_for(index.fields.get(path), value):
            found.append((path, True))
    return found


def _scalar_for(field: Field | None, value: Any) -> bool:
    if isinstance(value, dict):
        return False
    if isinstance(value, list):
        return bool(field and field.type.startswith("select_multiple")) and all(
            isinstance(v, (str, int, float)) and not isinstance(v, bool) for v in value)
    return True


def _where(index: int | None, **kw: Any) -> Where:
    return Where(row=index, **kw)


def _item(index: int | None) -> str:
    return f"item {index}: " if index is not None else ""


def raise_problems(problems: list[Problem], summary_code: str = "intake.invalid_submission") -> None:
    """Raise nothing for no problems, the problem's own code for one, else one error listing all."""
    if not problems:
        return
    if len(problems) == 1:
        p = problems[0]
        raise BadInput(p.code, p.message, where=p.where, fix=p.fix, problems=problems)
    n = len(problems)
    raise BadInput(
        summary_code,
        f"{n} problems found; nothing was accepted. "
        + "; ".join(str(p) for p in problems[:5])
        + (" …" if n > 5 else ""),
        problems=problems,
    )


def _text_id(value: Any) -> str | None:
    """An instance id as text; numbers are accepted, blanks are not."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        value = str(value)
    if isinstance(value, str) and value.strip():
        return value
    return None


def _split_source_meta(obj: dict[str, Any], index: SchemaIndex) -> tuple[dict[str, Any], dict[str, Any]]:
    """Separate Kobo/ODK channel metadata (_id, _submission_time, formhub, __system) from answers."""
    answers: dict[str, Any] = {}
    meta: dict[str, Any] = {}
    for k, v in obj.items():
        head = k.split("/", 1)[0] if isinstance(k, str) else k
        channel = isinstance(head, str) and (head.startswith("_") or head == "formhub")
        if channel and not index.is_known(head):
            meta[k] = v
        else:
            answers[k] = v
    return answers, meta


def _parse_one(
    obj: Any, index: SchemaIndex, idx: int | None, problems: list[Problem]
) -> IncomingSubmission | None:
    """Parse one JSON object, appending its problems; None when it cannot be used."""
    if not isinstance(obj, dict):
        problems.append(Problem("intake.invalid_submission",
                                f"{_item(idx)}a submission must be a JSON object, not {type(obj).__name__}",
                                where=_where(idx)))
        return None
    envelope = isinstance(obj.get("data"), dict) and not index.is_known("data")
    explicit_id: Any = None
    stated_time: Any = None
    version: Any = None
    deprecated: Any = None
    source_meta: dict[str, Any] = {}
    if envelope:
        for k in obj:
            if k not in _ENVELOPE_KEYS:
                problems.append(Problem("intake.unknown_field",
                                        f"{_item(idx)}'{k}' is not a key of the submission envelope",
                                        where=_where(idx, field=str(k))))
        explicit_id, stated_time = obj.get("instance_id"), obj.get("collected_at")
        version, deprecated = obj.get("form_version"), obj.get("deprecated_id")
        if isinstance(obj.get("source_meta"), dict):
            source_meta.update(obj["source_meta"])
        raw = obj["data"]
    else:
        raw = dict(obj)
        explicit_id = raw.pop("instanceID", None) if not index.is_known("instanceID") else None
    raw, channel = _split_source_meta(raw, index)
    source_meta.update(channel)
    payload, conflicts = nest(raw, index.repeats)
    for path in conflicts:
        problems.append(Problem("intake.invalid_submission",
                                f"{_item(idx)}'{path}' is given twice (as a flat path and nested)",
                                where=_where(idx, field=path)))
    meta_id = pop_path(payload, INSTANCE_ID_PATH)
    meta_deprecated = pop_path(payload, DEPRECATED_ID_PATH)
    root_uuid = pop_path(payload, ROOT_UUID_PATH)
    if root_uuid is not None:
        source_meta[ROOT_UUID_PATH] = root_uuid
    instance_id = _text_id(explicit_id) or _text_id(meta_id)
    if instance_id is None and _text_id(channel.get("_uuid")):
        # KoboToolbox's _uuid is the instanceID without its 'uuid:' prefix.
        uuid = str(channel["_uuid"])
        instance_id = uuid if uuid.startswith("uuid:") else f"uuid:{uuid}"
    if version is None:
        version = next((channel[k] for k in _VERSION_KEYS if channel.get(k) is not None), None)
    for path in unknown_paths(payload, index):
        problems.append(Problem("intake.unknown_field",
                                f"{_item(idx)}'{path}' is not a field of form '{index.schema.form_id}'",
                                where=_where(idx, field=path, instance_id=instance_id)))
    for path in misshapen_paths(payload, index):
        problems.append(Problem("intake.invalid_submission",
                                f"{_item(idx)}'{path}' has the wrong shape: a group is an object, "
                                "a repeat a list of objects, a field a single value",
                                where=_where(idx, field=path, instance_id=instance_id)))
    if instance_id is None:
        problems.append(Problem("intake.missing_instance_id",
                                f"{_item(idx)}the submission has no instance id",
                                where=_where(idx)))
        return None
    collected_at = _stated_time(stated_time, idx, instance_id, problems)
    if collected_at is None and stated_time is None:
        collected_at = index.collected_at(payload)
    return IncomingSubmission(
        instance_id=instance_id,
        payload=payload,
        collected_at=collected_at,
        form_version=None if version is None else str(version),
        deprecated_id=_text_id(deprecated) or _text_id(meta_deprecated),
        source_meta=source_meta,
    )


def _stated_time(value: Any, idx: int | None, instance_id: str, problems: list[Problem]) -> datetime | None:
    """The envelope's collected_at, reporting it when it cannot be read."""
    if value is None:
        return None
    try:
        if not isinstance(value, str):
            raise ValueError(value)
        return parse_timestamp(value)
    except ValueError:
        problems.append(Problem("intake.bad_timestamp",
                                f"{_item(idx)}collected_at {value!r} is not an ISO 8601 timestamp",
                                where=_where(idx, field="collected_at", instance_id=instance_id)))
        return None


def parse_json_submission(obj: Any, schema: FormSchema, *, index: int | None = None,
                          max_depth: int = DEFAULT_MAX_DEPTH) -> IncomingSubmission:
    """One JSON object (envelope or bare payload) as a submission; BadInput lists every problem."""
    check_object_depth(obj, max_depth, what="The submission")
    problems: list[Problem] = []
    sub = _parse_one(obj, SchemaIndex(schema), index, problems)
    raise_problems(problems)
    assert sub is not None  # no problems means it parsed
    return sub


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"the number {text} is too large to store")
    return value


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON value")


def _load_json(body: bytes, max_depth: int = DEFAULT_MAX_DEPTH) -> Any:
    """Decode a JSON body, turning a syntax error into intake.invalid_json with line and column.

    Only what can be stored exactly is accepted: no NaN/Infinity, no number beyond the
    range of a double, no NUL character and no unpaired surrogate in a string. Nesting
    deeper than ``max_depth`` is refused (input.too_deep) before parsing.
    """
    check_json_depth(body, max_depth)
    try:
        doc = json.loads(body, parse_float=_finite, parse_constant=_no_constant)
    except json.JSONDecodeError as exc:
        raise BadInput("intake.invalid_json",
                       f"The body is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}",
                       where=Where(row=exc.lineno, position=exc.colno)) from None
    except UnicodeDecodeError as exc:
        raise BadInput("intake.invalid_json",
                       f"The body is not UTF-8 text (byte {exc.start})",
                       where=Where(position=exc.start)) from None
    except ValueError as exc:
        raise BadInput("intake.invalid_json", f"The body cannot be stored as it is: {exc}.",
                       fix="Send finite numbers, and text without NUL characters.") from None
    try:
        text = json.dumps(doc, ensure_ascii=False)
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise BadInput("intake.invalid_json", "The body has a lone UTF-16 surrogate (\\ud800-"
                       "\\udfff) that is not part of a character.",
                       fix="Send valid Unicode text.") from None
    if "\\u0000" in text or "\x00" in text:
        raise BadInput("intake.invalid_json", "The body has a NUL character in a text value.",
                       fix="Remove the NUL characters (\\u0000).")
    return doc


def parse_json_body(body: bytes, schema: FormSchema, *, max_batch: int = 10_000,
                    max_depth: int = DEFAULT_MAX_DEPTH) -> list[IncomingSubmission]:
    """A JSON request body (object, array, or {"submissions": [...]}) as submissions, all or nothing."""
    doc = _load_json(body, max_depth)
    items: list[Any]
    if isinstance(doc, list):
        items = doc
    elif isinstance(doc, dict) and set(doc) == {"submissions"} and isinstance(doc["submissions"], list):
        items = doc["submissions"]
    else:
        items = [doc]
    if len(items) > max_batch:
        raise PayloadTooLarge("intake.batch_too_large",
                              f"{len(items)} submissions in one request; the limit is {max_batch}",
                              fix=f"Send at most {max_batch:,} submissions per request, or use bulk import.")
    index = SchemaIndex(schema)
    problems: list[Problem] = []
    single = isinstance(doc, dict) and len(items) == 1 and items[0] is doc
    parsed: list[IncomingSubmission] = []
    first_seen: dict[str, int] = {}
    for i, obj in enumerate(items):
        sub = _parse_one(obj, index, None if single else i, problems)
        if sub is None:
            continue
        if sub.instance_id in first_seen:
            problems.append(Problem("intake.duplicate_instance_id",
                                    f"items {first_seen[sub.instance_id]} and {i} have the same instance id "
                                    f"{sub.instance_id!r}",
                                    where=Where(row=i, instance_id=sub.instance_id)))
        else:
            first_seen[sub.instance_id] = i
        parsed.append(sub)
    raise_problems(problems)
    return parsed

