"""Reading a table file's text: encoding detection, binary refusal, delimiter sniffing."""

from __future__ import annotations

import codecs
import csv
import io
import itertools
import unicodedata

import charset_normalizer

from citizendata.errors import BadInput, Problem, Where, problems_error

__all__ = ["decode_text", "not_a_table", "sniff_delimiter"]


def not_a_table(file: str, why: str) -> BadInput:
    problem = Problem("import.not_a_table", f"{file} is not a table: {why}", where=Where(file=file))
    return BadInput("import.structure", f"1 problem found in {file}; nothing was imported. {problem}",
                    where=Where(file=file), problems=[problem])


def _looks_binary(sample: bytes) -> bool:
    """Many control bytes: an image, a PDF, a zip, not text."""
    controls = sum(1 for b in sample if b < 9 or 13 < b < 32)
    return controls > max(2, len(sample) // 100)


def _as_western(data: bytes) -> bytes | None:
    """The text as UTF-8 if it reads cleanly as cp1252 with accented Latin letters, else None.

    Statistical detection mistakes short cp1252 files (a few names with accents) for
    CJK multi-byte encodings; cp1252 text has almost only Latin letters above ASCII,
    while another encoding read as cp1252 shows punctuation and symbols there.
    """
    try:
        text = data.decode("cp1252")
    except UnicodeDecodeError:
        return None
    sample = text[: 1 << 16]
    high = [c for c in sample if ord(c) > 127]
    if any(ord(c) < 32 and c not in "\t\r\n" for c in sample):
        return None
    latin = sum(1 for c in high if c.isalpha() and "LATIN" in unicodedata.name(c, ""))
    if high and latin / len(high) >= 0.8:
        return text.encode("utf-8")
    return None


def _no_nul(data: bytes, file: str) -> bytes:
    """The text, unless it has a NUL character (no database stores one in text)."""
    at = data.find(b"\x00")
    if at < 0:
        return data
    raise problems_error([Problem("import.not_a_table", "A cell holds a NUL character, which "
                                  "cannot be stored as text.",
                                  where=Where(file=file, row=data.count(b"\n", 0, at) + 1),
                                  fix="Remove the NUL characters from that row.")], file=file)


def decode_text(data: bytes, file: str) -> bytes:
    """The file as UTF-8 bytes: UTF-8 (with or without BOM), UTF-16, or a detected 8-bit encoding."""
    if not data.strip():
        raise not_a_table(file, "it is empty")
    if data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8):]
    elif data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return _no_nul(data.decode("utf-16").encode("utf-8"), file)
        except UnicodeDecodeError:
            raise not_a_table(file, "it claims to be UTF-16 but is not") from None
    try:
        data.decode("utf-8")
        return _no_nul(data, file)
    except UnicodeDecodeError:
        pass
    sample = data[: 1 << 16]
    odd_nuls = sample[1::2].count(0)
    if odd_nuls > len(sample) // 4 or sample[0::2].count(0) > len(sample) // 4:
        codec = "utf-16-le" if odd_nuls > len(sample) // 4 else "utf-16-be"
        try:
            return _no_nul(data.decode(codec).encode("utf-8"), file)
        except UnicodeDecodeError:
            pass
    if _looks_binary(sample):
        raise not_a_table(file, "it holds binary data, not text")
    western = _as_western(data)
    if western is not None:
        return _no_nul(western, file)
    results = list(charset_normalizer.from_bytes(sample))
    if not results:
        raise BadInput("import.encoding", f"The text encoding of {file} could not be detected",
                       where=Where(file=file))
    best = results[0]
    encoding = best.encoding
    # Detection cannot tell cp1252 from its neighbours (cp1250, mac_latin2) on short samples;
    # spreadsheets saved on Windows in Western Europe, Africa and the Americas are cp1252, so
    # it wins whenever it reads the sample about as cleanly as the best guess.
    if any("cp1252" in r.could_be_from_charset and r.chaos <= best.chaos + 0.1 for r in results):
        encoding = "cp1252"
    try:
        return _no_nul(data.decode(encoding).encode("utf-8"), file)
    except (UnicodeDecodeError, LookupError):
        raise BadInput("import.encoding", f"{file} is not readable as {encoding}",
                       where=Where(file=file)) from None


def sniff_delimiter(sample: str) -> str:
    """The delimiter among , ; tab | that splits the header into most columns consistently."""
    best, best_score = ",", (False, False, 0)
    truncated = len(sample) >= (1 << 16) - 4
    for delimiter in (",", ";", "\t", "|"):
        try:
            rows = list(itertools.islice(csv.reader(io.StringIO(sample), delimiter=delimiter), 12))
        except csv.Error:
            continue
        if truncated and len(rows) > 2:
            rows = rows[:-1]
        if not rows:
            continue
        n = len(rows[0])
        body = [r for r in rows[1:] if r]
        score = (n > 1, all(len(r) == n for r in body), n)
        if score > best_score:
            best, best_score = delimiter, score
    return best


