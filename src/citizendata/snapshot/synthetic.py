"""Synthetic submissions for a form schema, shaped like the store's export batches.

Used by the snapshot benchmark and tests. Every value is generated column-wise
with numpy and pyarrow string kernels (no Python loop over rows), and the
payload JSON is assembled by element-wise string joins, groups as nested
objects and repeats as arrays of objects, exactly like a stored submission.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from citizendata.forms.schema import Field, FormSchema

__all__ = ["BATCH_SCHEMA", "synthetic_batches"]

# The columns the store hands to build_snapshot, in this order.
BATCH_SCHEMA = pa.schema(
    [
        ("_id", pa.int64()),
        ("_instance_id", pa.string()),
        ("_form_version", pa.string()),
        ("_submitter", pa.string()),
        ("_collected_at", pa.timestamp("us", tz="UTC")),
        ("_received_at", pa.timestamp("us", tz="UTC")),
        ("_review_status", pa.string()),
        ("payload", pa.string()),
    ]
)

_WORDS: list[str | None] = [
    "yes", "no", "water", "clinic", "market", "school", "road", "rain", "none", "other"
]
_SUBMITTERS: list[str | None] = ["amina", "brian", "chen", "dalia", "emeka", None]
_STATUSES: list[str | None] = ["received", "approved", "approved", "approved", "rejected"]
_BASE_S = 1_767_225_600  # 2026-01-01T00:00:00Z in seconds
_MISSING_RATE = 0.05


@dataclass
class _Node:
    """A group, repeat or the root in the payload tree."""

    name: str
    repeat: bool = False
    children: dict[str, _Node] = field(default_factory=dict)
    leaves: list[tuple[str, Field]] = field(default_factory=list)
    order: list[tuple[str, str]] = field(default_factory=list)  # ("leaf"|"node", key) in form order


def _tree(schema: FormSchema) -> _Node:
    """The payload tree of a schema: fields placed under their groups and repeats."""
    repeats = {g.path for g in schema.groups if g.repeat}
    root = _Node("")
    for f in schema.fields:
        if not f.has_value:
            continue
        parts = f.path.split("/")
        node, prefix = root, ""
        for part in parts[:-1]:
            prefix = f"{prefix}/{part}" if prefix else part
            if part not in node.children:
                node.children[part] = _Node(part, repeat=prefix in repeats)
                node.order.append(("node", part))
            node = node.children[part]
        node.leaves.append((parts[-1], f))
        node.order.append(("leaf", parts[-1]))
    return root


def _pick(vocab: Sequence[str | None], idx: np.ndarray) -> pa.Array:
    """Strings taken from a small vocabulary by index (fast: no Python objects per row)."""
    return pa.array(vocab, type=pa.string()).take(pa.array(idx))


def _blank(missing: np.ndarray, text: pa.Array) -> pa.Array:
    """``text`` with nulls where ``missing`` is true."""
    return pc.if_else(pa.array(missing), pa.scalar(None, pa.string()), text)


def _value_strings(f: Field, n: int, rng: np.random.Generator) -> pa.Array:
    """Plausible answers to one field for ``n`` rows, as received text (nulls = unanswered)."""
    missing = rng.random(n) < _MISSING_RATE
    kind = f.storage_type
    if kind == "integer":
        return pc.cast(pa.array(rng.integers(0, 90, n), mask=missing), pa.string())
    if kind == "decimal":
        vals = np.round(rng.gamma(2.0, 15.0, n), 2)
        return pc.cast(pa.array(vals, mask=missing), pa.string())
    if kind in ("categorical", "multi") and f.choices:
        names = [c.name for c in f.choices]
        if kind == "categorical":
            return _blank(missing, _pick(names, rng.integers(0, len(names), n)))
        picks = [_pick(["", f"{name} "], (rng.random(n) < 0.35).astype(np.int8)) for name in names]
        # (null_handling="skip" would drop all-null rows in pyarrow 26, so no nulls here)
        joined = pc.binary_join_element_wise(*picks, "")
        return _blank(missing, pc.utf8_rtrim_whitespace(joined))
    if kind == "date":
        days = pa.array(rng.integers(0, 365, n) + 20454, type=pa.int32())  # 2026-01-01 onwards
        return _blank(missing, pc.cast(pc.cast(days, pa.date32()), pa.string()))
    if kind == "datetime":
        secs = rng.integers(0, 365 * 86400, n) + _BASE_S
        # a cast to text is ~10x faster than strftime; it gives "2026-01-01 00:00:00"
        plain = pc.cast(pa.array(secs, type=pa.timestamp("s")), pa.string())
        text = pc.binary_join_element_wise(
            pc.replace_substring(plain, " ", "T", max_replacements=1), ".000+03:00", ""
        )
        return _blank(missing, text)
    if kind == "geopoint":
        parts = [
            pc.cast(pa.array(np.round(rng.uniform(-4.5, 4.5, n), 6)), pa.string()),
            pc.cast(pa.array(np.round(rng.uniform(33.0, 42.0, n), 6)), pa.string()),
            pc.cast(pa.array(np.round(rng.uniform(0, 2500, n), 1)), pa.string()),
            pc.cast(pa.array(np.round(rng.uniform(3, 30, n), 1)), pa.string()),
        ]
        return _blank(missing, pc.binary_join_element_wise(*parts, " "))
    words = _pick(_WORDS, rng.integers(0, len(_WORDS), n))
    number = pc.cast(pa.array(rng.integers(0, 1000, n)), pa.string())
    return _blank(missing, pc.binary_join_element_wise(words, number, " "))


def _object(node: _Node, n: int, rng: np.random.Generator) -> pa.Array:
    """The JSON object text of ``node`` for ``n`` rows (children omitted when null)."""
    members: list[pa.Array] = []
    leaves = dict(node.leaves)
    for kind, key in node.order:
        # generated text never holds a quote or backslash, so it needs no JSON escaping
        if kind == "leaf":
            value = _value_strings(leaves[key], n, rng)
            members.append(pc.binary_join_element_wise(f',"{key}":"', value, '"', ""))
            continue
        child = node.children[key]
        text = _array(child, n, rng) if child.repeat else _object(child, n, rng)
        members.append(pc.binary_join_element_wise(f',"{key}":', text, ""))
    if not members:
        return _pick(["{}"], np.zeros(n, dtype=np.int8))
    # each member starts with a comma; unanswered members vanish, then the first comma goes
    body = pc.binary_join_element_wise(*members, "", null_handling="replace")
    return pc.binary_join_element_wise("{", pc.utf8_slice_codeunits(body, 1), "}", "")


def _array(node: _Node, n: int, rng: np.random.Generator) -> pa.Array:
    """The JSON array text of repeat ``node`` for ``n`` parent rows (null when empty)."""
    counts = np.minimum(rng.poisson(1.5, n), 8)
    offsets = np.zeros(n + 1, dtype=np.int32)
    np.cumsum(counts, out=offsets[1:])
    items = _object(node, int(offsets[-1]), rng)
    lists = pa.ListArray.from_arrays(pa.array(offsets), items)
    joined = pc.binary_join(lists, ",")
    text = pc.binary_join_element_wise("[", joined, "]", "")
    return pc.if_else(pa.array(counts == 0), pa.scalar(None, pa.string()), text)


def _batch(schema: FormSchema, tree: _Node, start: int, n: int, rng: np.random.Generator) -> pa.RecordBatch:
    """One batch of ``n`` submissions with ids ``start + 1`` onwards."""
    ids = np.arange(start + 1, start + n + 1, dtype=np.int64)
    hexes = pc.cast(pa.array(rng.integers(0, 2**62, n, dtype=np.int64)), pa.string())
    instance = pc.binary_join_element_wise("uuid:", hexes, "-", pc.cast(pa.array(ids), pa.string()), "")
    received = (_BASE_S + ids * 29) * 1_000_000
    collected = received - rng.integers(60, 86400 * 3, n) * 1_000_000
    utc = pa.timestamp("us", tz="UTC")
    columns = [
        pa.array(ids),
        instance,
        pa.array([schema.version] * n, type=pa.string()),
        _pick(_SUBMITTERS, rng.integers(0, len(_SUBMITTERS), n)),
        pa.array(collected, type=pa.int64()).cast(utc),
        pa.array(received, type=pa.int64()).cast(utc),
        _pick(_STATUSES, rng.integers(0, len(_STATUSES), n)),
        _object(tree, n, rng),
    ]
    return pa.RecordBatch.from_arrays(columns, schema=BATCH_SCHEMA)


def synthetic_batches(
    n: int, schema: FormSchema, *, seed: int = 0, batch_size: int = 50_000
) -> Iterator[pa.RecordBatch]:
    """``n`` synthetic submissions to ``schema`` as store-like batches, ids 1..n in order."""
    rng = np.random.default_rng(seed)
    tree = _tree(schema)
    for start in range(0, n, batch_size):
        yield _batch(schema, tree, start, min(batch_size, n - start), rng)
