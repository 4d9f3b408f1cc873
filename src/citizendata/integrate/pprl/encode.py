"""Bloom-filter encodings made at the list holder (Schnell, Bachteler & Reiher 2009).

Each identifier is split into tokens (padded q-grams of each word of a name, or one
token for a code); each token sets k bit positions chosen by keyed hashing with the
secret the holders share. Every distinct token of a field is hashed once (HMAC per
token is the only Python loop, over distinct tokens, not records) and the bits are
scattered into the filters with numpy.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from citizendata.errors import BadInput, Problem, Where
from citizendata.integrate.pprl.normalise import normalise_name, normalise_text
from citizendata.integrate.pprl.schema import ClkSchema, FieldSpec

if TYPE_CHECKING:
    from numpy.typing import NDArray

__all__ = ["MIN_SECRET_BYTES", "decode_clks", "derive_key", "encode_clks", "field_tokens"]

MIN_SECRET_BYTES = 16  # a shorter secret can be guessed by trying likely ones
_CHUNK = 32768  # records scattered at a time: bounds the n x l bit matrix in memory


def derive_key(secret: bytes, purpose: str) -> bytes:
    """A key for one purpose (h1, h2, blocking, permutation) derived from the secret."""
    return hmac.new(secret, f"citizendata.pprl.v1/{purpose}".encode(), hashlib.sha256).digest()


def _as_secret(secret: bytes | str) -> bytes:
    raw = secret.encode("utf-8") if isinstance(secret, str) else bytes(secret)
    if len(raw) < MIN_SECRET_BYTES:
        raise BadInput("pprl.invalid", f"The shared secret has {len(raw)} byte(s); at least "
                       f"{MIN_SECRET_BYTES} are needed.", where=Where(field="secret"),
                       fix="Agree a long random secret among the list holders, e.g. "
                           "'openssl rand -hex 32', and keep it away from citizendata.")
    return raw


def field_tokens(spec: FieldSpec, value: str) -> list[str]:
    """The tokens of one normalised value (padded q-grams per word, a code, date parts)."""
    if not value:
        return []
    if spec.kind in ("exact", "year"):
        return [value]
    if spec.kind == "date":
        return [f"y{value[:4]}", f"m{value[:7]}", f"d{value}"]
    out: list[str] = []
    for word in value.split():
        padded = f"_{word}_" if spec.q > 1 else word
        out.extend(padded[i:i + spec.q] for i in range(max(1, len(padded) - spec.q + 1)))
    return out


def _normalised(frame: pd.DataFrame, spec: FieldSpec) -> pd.Series:
    """One column of normalised text per record; '' where missing."""
    if spec.kind in ("date", "year"):
        raw = frame[spec.columns[0]]
        dates = pd.to_datetime(raw, errors="coerce", format="mixed", dayfirst=False)
        text = dates.dt.strftime("%Y-%m-%d" if spec.kind == "date" else "%Y")
        return text.fillna("").astype(object)
    cols = [frame[c].astype(object).where(frame[c].notna(), "").astype(str)
            for c in spec.columns]
    joined = cols[0].str.cat(cols[1:], sep=" ") if len(cols) > 1 else cols[0]
    codes, uniques = pd.factorize(joined)
    fold = normalise_name if spec.kind == "name" else normalise_text
    clean = np.array([fold(u) for u in uniques] + [""], dtype=object)
    return pd.Series(clean[codes], index=frame.index, dtype=object)


def _positions(tokens: list[str], spec: FieldSpec, schema: ClkSchema, secret: bytes,
               ) -> NDArray[np.int64]:
    """k bit positions for each distinct token (rows), keyed with the secret."""
    k, length = schema.k_of(spec), schema.length
    prefix = f"{spec.name}\x1f".encode()
    key1, key2 = derive_key(secret, "h1"), derive_key(secret, "h2")
    msgs = [prefix + t.encode() for t in tokens]
    if schema.hashing == "double":
        h1 = np.array([int.from_bytes(hmac.digest(key1, m, "sha256")[:8], "big") % length
                       for m in msgs], dtype=np.int64)
        # odd step: with a length divisible by 2 the k positions never collapse to one
        h2 = np.array([int.from_bytes(hmac.digest(key2, m, "sha256")[:8], "big") % length
                       for m in msgs], dtype=np.int64) | 1
        return (h1[:, None] + np.arange(k, dtype=np.int64)[None, :] * h2[:, None]) % length
    blocks = -(-k // 8)  # each SHA-256 digest gives 8 independent 32-bit positions
    raw = b"".join(hmac.digest(key1, m + bytes([b]), "sha256")
                   for m in msgs for b in range(blocks))
    words = np.frombuffer(raw, dtype=">u4").reshape(len(msgs), blocks * 8)[:, :k]
    return (words % length).astype(np.int64)


def _field_rows(values: pd.Series, spec: FieldSpec, schema: ClkSchema, secret: bytes,
                salts: pd.Series | None) -> tuple[NDArray[np.intp], NDArray[np.uint64]]:
    """Each record's value code and one packed filter row per distinct value of a field.

    Hashing and scattering are per distinct value (names repeat across records); records
    then only gather their value's row.
    """
    if salts is not None:
        # the salt changes every token's bits; without a salt value the field is left out
        values = values.where(salts != "", "")
        values = salts.str.cat(values, sep="\x1e").where(values != "", "")
    codes, uniques = pd.factorize(values)
    token_lists = [field_tokens(spec, u.rpartition("\x1e")[2]) for u in uniques]
    salt_of = [u.rpartition("\x1e")[0] for u in uniques]
    counts = np.array([len(t) for t in token_lists], dtype=np.int64)
    flat = [f"{s}\x1e{t}" if s else t for s, ts in zip(salt_of, token_lists, strict=True)
            for t in ts]
    tok_codes, distinct = pd.factorize(pd.Series(flat, dtype=object))
    pos = _positions(list(distinct), spec, schema, secret)  # distinct tokens x k
    owner = np.repeat(np.arange(len(uniques)), counts)  # the value of each flat token
    bits = np.zeros((len(uniques), schema.length), dtype=bool)
    bits[np.repeat(owner, pos.shape[1]), pos[tok_codes].ravel()] = True
    rows = np.packbits(bits, axis=1).view(np.uint64)
    return codes, rows


def _harden(bits: NDArray[np.bool_], schema: ClkSchema, secret: bytes) -> NDArray[np.bool_]:
    """Balancing (Schnell 2016) and XOR-folding (Schnell, Borgs & Encarnação 2016), per field."""
    for step in schema.hardening:
        if step == "balance":
            width = bits.shape[2] * 2
            seed = np.frombuffer(derive_key(secret, f"perm/{width}"), dtype=np.uint32)
            perm = np.random.default_rng(seed).permutation(width)
            bits = np.concatenate([bits, ~bits], axis=2)[:, :, perm]
        else:
            half = bits.shape[2] // 2
            bits = bits[:, :, :half] ^ bits[:, :, half:]
    return bits


def _block_keys(frame: pd.DataFrame, schema: ClkSchema, secret: bytes,
                norm: dict[str, pd.Series]) -> dict[str, pd.Series]:
    """Hashed blocking keys ('' where a part is missing): equal values, equal keys."""
    key = derive_key(secret, "block")
    out: dict[str, pd.Series] = {}
    for i, parts in enumerate(schema.blocking, start=1):
        cols = []
        for part in parts:
            name, _, how = part.partition(":")
            col = norm[name]
            cols.append(col.str[:4] if how == "year" else col.str[:7] if how == "month" else col)
        text = cols[0].str.cat(cols[1:], sep="\x1f") if len(cols) > 1 else cols[0]
        missing = pd.concat([c == "" for c in cols], axis=1).any(axis=1)
        codes, uniques = pd.factorize(text)
        hashed = np.array([hmac.digest(key, u.encode(), "sha256")[:12].hex() for u in uniques],
                          dtype=object)
        out[f"block_{i}"] = pd.Series(hashed[codes], index=frame.index).where(~missing, "")
    return out


def _check_frame(df: pd.DataFrame, schema: ClkSchema, id_col: str) -> None:
    missing = [c for c in [id_col, *schema.source_columns()] if c not in df.columns]
    if missing:
        raise BadInput("pprl.invalid", f"The list has no column(s) {', '.join(missing)} "
                       "that the schema encodes.", where=Where(column=missing[0]),
                       fix="Rename the list's columns to the schema's, or edit the schema's "
                           "'columns'.")
    ids = df[id_col].astype("string")
    bad = ids.isna() | (ids.str.strip() == "") | ids.duplicated(keep=False)
    if bad.any():
        rows = np.flatnonzero(bad.to_numpy())[:50]
        raise BadInput("pprl.invalid", f"{int(bad.sum())} record id(s) are missing or "
                       "repeated.", where=Where(column=id_col, row=int(rows[0]) + 2),
                       problems=[Problem("pprl.invalid", "missing or repeated record id",
                                         Where(column=id_col, row=int(r) + 2)) for r in rows],
                       fix="Give every record of the list its own id.")


def encode_clks(df: pd.DataFrame, schema: ClkSchema, secret: bytes | str, *,
                id_col: str = "record_id") -> pd.DataFrame:
    """Encode a list: ``record_id``, ``clk`` (base64), hashed ``block_i`` keys, ``schema``.

    Run this where the list is kept: the output holds no identifier in the clear, and
    the secret must never reach citizendata's server. Give codes as text ("05", not 5):
    every holder must write a value the same way.
    """
    key = _as_secret(secret)
    _check_frame(df, schema, id_col)
    frame = df.reset_index(drop=True)
    n, nf = len(frame), len(schema.fields)
    norm = {f.name: _normalised(frame, f) for f in schema.fields}
    words = schema.length // 64
    segments = nf if schema.encoding == "field" else 1
    filters = np.zeros((n, words * segments), dtype=np.uint64)
    for j, spec in enumerate(schema.fields):
        salts = norm[spec.salt] if spec.salt else None
        codes, rows = _field_rows(norm[spec.name], spec, schema, key, salts)
        if schema.encoding == "field":
            filters[:, j * words:(j + 1) * words] = rows[codes]
        else:
            filters |= rows[codes]
    raw = filters.view(np.uint8)
    if schema.hardening:
        parts = []
        for lo in range(0, n, _CHUNK):
            bits = np.unpackbits(raw[lo:lo + _CHUNK], axis=1).astype(bool)
            bits = _harden(bits.reshape(len(bits), segments, schema.length), schema, key)
            parts.append(np.packbits(bits.reshape(len(bits), -1), axis=1))
        raw = np.concatenate(parts) if parts else np.zeros((0, schema.output_bits() // 8),
                                                           dtype=np.uint8)
    clk = [base64.b64encode(row.tobytes()).decode("ascii") for row in raw]
    out = pd.DataFrame({"record_id": frame[id_col].astype(str).to_numpy(), "clk": clk})
    for name, col_ in _block_keys(frame, schema, key, norm).items():
        out[name] = col_.to_numpy()
    out["schema"] = schema.fingerprint()
    return out


def decode_clks(clks: pd.Series, *, where: Where | None = None) -> NDArray[np.uint64]:
    """base64 CLKs -> an n x words uint64 matrix (every CLK must have the same length)."""
    try:
        raw = [base64.b64decode(s, validate=True) for s in clks.astype(str)]
    except ValueError:
        raise BadInput("pprl.invalid", "A 'clk' value is not base64 text.", where=where,
                       fix="Link the encoding files exactly as 'pprl encode' wrote them.") from None
    sizes = {len(r) for r in raw}
    if len(sizes) > 1 or (sizes and next(iter(sizes)) % 8):
        raise BadInput("pprl.invalid", f"The encodings have different or odd lengths "
                       f"({sorted(sizes)[:5]} bytes).", where=where,
                       fix="Encode every record with the same schema (filter length).")
    width = next(iter(sizes)) if sizes else 8
    return np.frombuffer(b"".join(raw), dtype=np.uint64).reshape(len(raw), width // 8)
