"""The encoding schema every list holder shares: fields, q-grams, hash counts, filter length.

A schema holds no secret: it is exchanged in the clear (JSON) and its fingerprint travels
with every encoding, so lists encoded under different schemas are refused, not linked.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from citizendata.errors import BadInput, Problem, Where

__all__ = ["ClkSchema", "FieldSpec", "colombia_schema", "read_schema"]


class FieldSpec(BaseModel):
    """One identifier encoded into the filter.

    ``kind``: ``name`` (Spanish name normalisation, then q-grams), ``text`` (q-grams of
    the folded text), ``exact`` (the whole value is one token: sex, DIVIPOLA codes) or
    ``date`` (tokens for the year, the year-month and the day: dates a few days apart
    still share two of three tokens) or ``year`` (a date's year, one token: a salt).
    """

    model_config = ConfigDict(extra="forbid")
    name: str
    columns: list[str] = Field(default_factory=list)  # joined by a space; default [name]
    kind: Literal["name", "text", "exact", "date", "year"] = "text"
    q: int = Field(default=2, ge=1, le=4)
    k: int | None = Field(default=None, ge=1, le=64)  # hash positions per token; default from weight
    weight: float = Field(default=1.0, gt=0, le=10)
    # harden: mix another field's normalised value (non-identifying, e.g. the event year)
    # into this field's hashing, so a token's bits differ between salt values
    salt: str | None = None

    @model_validator(mode="after")
    def _columns(self) -> FieldSpec:
        if not self.columns:
            self.columns = [self.name]
        return self


class ClkSchema(BaseModel):
    """Bloom-filter encoding schema (Schnell, Bachteler & Reiher 2009; CLK: 2011).

    ``encoding``: ``record`` = one cryptographic long-term key (every field into one
    filter of ``length`` bits, field f with k_f positions per token); ``field`` = one
    filter of ``length`` bits per field, compared field by field and averaged with
    the weights. ``hashing``: ``double`` (Kirsch–Mitzenmacher g_i = h1 + i·h2 mod l)
    or ``random`` (k independent keyed positions per token; Niedermeyer et al. 2014
    broke double hashing's pattern). ``hardening``: ``balance`` (filter and its
    complement, keyed permutation: constant Hamming weight) and/or ``xor_fold`` (the
    two halves XOR-ed).
    """

    model_config = ConfigDict(extra="forbid")
    version: Literal[1] = 1
    fields: list[FieldSpec]
    length: int = Field(default=1024, ge=64, le=65536)
    k: int = Field(default=20, ge=1, le=64)  # hash positions per token of a field of weight 1
    encoding: Literal["record", "field"] = "record"
    hashing: Literal["double", "random"] = "double"
    hardening: list[Literal["balance", "xor_fold"]] = Field(default_factory=list)
    # blocking keys the holders add, hashed with the secret: each inner list is one key
    # made of field values, "event_date:year" for a date's year
    blocking: list[list[str]] = Field(default_factory=list)

    @field_validator("length")
    @classmethod
    def _length(cls, v: int) -> int:
        if v % 128:
            raise ValueError("the filter length must be a multiple of 128 bits")
        return v

    @model_validator(mode="after")
    def _consistent(self) -> ClkSchema:
        names = [f.name for f in self.fields]
        if not names:
            raise ValueError("a schema needs at least one field")
        if len(set(names)) != len(names):
            raise ValueError("field names must be unique")
        for f in self.fields:
            if f.salt is not None and f.salt not in names:
                raise ValueError(f"field {f.name!r}: salt {f.salt!r} is not a field")
            if f.salt == f.name:
                raise ValueError(f"field {f.name!r} cannot salt itself")
        for key in self.blocking:
            for part in key:
                base, _, how = part.partition(":")
                if base not in names or how not in ("", "year", "month"):
                    raise ValueError(f"blocking part {part!r}: a field name, optionally "
                                     "':year' or ':month' of a date field")
        if len(set(self.hardening)) != len(self.hardening):
            raise ValueError("a hardening step is listed twice")
        return self

    def k_of(self, spec: FieldSpec) -> int:
        """Positions per token of a field: its own k, or the schema's k times its weight."""
        return spec.k if spec.k is not None else max(1, round(self.k * spec.weight))

    def source_columns(self) -> list[str]:
        """Every input column the schema reads."""
        return list(dict.fromkeys(c for f in self.fields for c in f.columns))

    def fingerprint(self) -> str:
        """A short digest of the schema (not the secret): equal schemas, equal prints."""
        text = json.dumps(self.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def output_bits(self) -> int:
        """Bits of one encoding after hardening."""
        bits = self.length * (len(self.fields) if self.encoding == "field" else 1)
        for step in self.hardening:
            bits = bits * 2 if step == "balance" else bits // 2
        return bits


def read_schema(source: str | Path | dict[str, Any]) -> ClkSchema:
    """A schema from a JSON file or a dict; a coded error names every broken field."""
    where = Where(file=str(source)) if not isinstance(source, dict) else None
    try:
        data = source if isinstance(source, dict) else json.loads(Path(source).read_text("utf-8"))
    except (OSError, ValueError) as exc:
        raise BadInput("pprl.invalid", f"The schema cannot be read as JSON: {exc}.",
                       where=where, fix="Give the schema as a JSON object.") from None
    try:
        return ClkSchema.model_validate(data)
    except ValidationError as exc:
        problems = [Problem("pprl.invalid", e["msg"],
                            Where(field=".".join(str(p) for p in e["loc"]) or None))
                    for e in exc.errors()]
        raise BadInput("pprl.invalid", f"The schema has {len(problems)} problem(s), first: "
                       f"{problems[0].where.field if problems[0].where else ''}: {problems[0].message}.",
                       where=where, problems=problems) from None


def colombia_schema(**overrides: Any) -> ClkSchema:
    """The case form's identifiers (projects/cases.py CaseFields) as a record-level CLK."""
    # given names and surnames in one field: lists swap them (surname in the given-name
    # column) and a bigram set does not care about word order
    fields = [
        FieldSpec(name="name", columns=["victim_given_names", "victim_surnames"], kind="name"),
        FieldSpec(name="sex", columns=["victim_sex"], kind="exact", weight=0.5),
        FieldSpec(name="event_date", kind="date", weight=1.0),
        FieldSpec(name="department", kind="exact", weight=0.5),
        FieldSpec(name="municipality", kind="exact", weight=0.5),
        # one person can be the victim of two acts days apart (tortured, then killed):
        # the violation type keeps those events apart (lists seldom disagree on it)
        FieldSpec(name="violation", kind="exact", weight=1.0),
    ]
    data: dict[str, Any] = {"fields": fields, "blocking": [["event_date:year"]]}
    data.update(overrides)
    return ClkSchema.model_validate(data)
