"""Reading a table file's text: decoding without guessing, binary refusal, delimiter sniffing.

A guess at an encoding can change text silently: a UTF-8 file with one stray byte,
read as cp1252, turns every "é" into "Ã©". So nothing is guessed. Text is read as
UTF-8 (with or without a byte order mark) or as UTF-16 when a byte order mark says
so; anything else is refused with the row, column and byte offset of the first byte
that does not decode, unless the user names the encoding, which is then applied
strictly. Detection is used only to suggest an encoding in the error.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import io
import itertools
import unicodedata

from citizendata.errors import BadInput, Problem, Where, problems_error

__all__ = ["decode_table_text", "decode_text", "not_a_table", "sniff_delimiter"]

_BOM = "\ufeff"
_UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)
# codecs whose byte order a byte order mark must settle: without one, Python assumes the
# machine's own, which is a guess
_NEEDS_BOM = {"utf-16": "utf-16-le or utf-16-be", "utf-32": "utf-32-le or utf-32-be"}


def not_a_table(file: str, why: str) -> BadInput:
    """The one error for a file that is not a table at all."""
    problem = Problem("import.not_a_table", f"{file} is not a table: {why}", where=Where(file=file))
    return BadInput("import.structure", f"1 problem found in {file}; nothing was imported. {problem}",
                    where=Where(file=file), problems=[problem])


def _looks_binary(sample: bytes) -> bool:
    """Many control bytes: an image, a PDF, a zip, not text."""
    controls = sum(1 for b in sample if b < 9 or 13 < b < 32)
    return controls > max(2, len(sample) // 100)


def _utf16_without_bom(sample: bytes) -> str | None:
    """utf-16-le or utf-16-be when every other byte is NUL (ASCII-range text), else None."""
    quarter = len(sample) // 4
    if len(sample) >= 4 and sample[1::2].count(0) > quarter:
        return "utf-16-le"
    if len(sample) >= 4 and sample[0::2].count(0) > quarter:
        return "utf-16-be"
    return None


def _reads_as_western(data: bytes) -> bool:
    """True when the bytes read cleanly as cp1252 with mostly Latin letters above ASCII.

    cp1252 text has almost only Latin letters above ASCII, while another encoding read
    as cp1252 shows punctuation and symbols there.
    """
    try:
        sample = data[: 1 << 16].decode("cp1252")
    except UnicodeDecodeError:
        return False
    if any(ord(c) < 32 and c not in "\t\r\n" for c in sample):
        return False
    high = [c for c in sample if ord(c) > 127]
    latin = sum(1 for c in high if c.isalpha() and "LATIN" in unicodedata.name(c, ""))
    return bool(high) and latin / len(high) >= 0.8


def _suggestion(data: bytes) -> str | None:
    """An encoding the bytes may be in, for the error message only (never applied)."""
    sample = data[: 1 << 16]
    utf16 = _utf16_without_bom(sample)
    if utf16:
        return utf16
    if _reads_as_western(data):
        return "cp1252"
    import charset_normalizer

    results = list(charset_normalizer.from_bytes(sample))
    if not results:
        return None
    best = results[0]
    # detection cannot tell cp1252 from its neighbours (cp1250, mac_latin2) on short
    # samples; spreadsheets saved on Windows in the Americas, Africa and Western Europe
    # are cp1252, so it is suggested whenever it reads the sample about as cleanly
    if any("cp1252" in r.could_be_from_charset and r.chaos <= best.chaos + 0.1
           for r in results):
        return "cp1252"
    return str(best.encoding)


def _no_nul(text: str, file: str) -> str:
    """The text, unless it has a NUL character (no database stores one in text)."""
    at = text.find("\x00")
    if at < 0:
        return text
    raise problems_error([Problem("import.not_a_table", "A cell holds a NUL character, which "
                                  "cannot be stored as text.",
                                  where=Where(file=file, row=text.count("\n", 0, at) + 1),
                                  fix="Remove the NUL characters from that row.")], file=file)


def column_letter(i: int) -> str:
    """The spreadsheet letter of the 0-based column i (0 -> A, 26 -> AA)."""
    s = ""
    i += 1
    while i:
        i, r = divmod(i - 1, 26)
        s = chr(65 + r) + s
    return s


def _locate(prefix: str) -> tuple[int, int | None, str | None]:
    """(row, 0-based column, header) of the character just after ``prefix`` in a CSV text."""
    delimiter = sniff_delimiter(prefix[: 1 << 16]) if "\n" in prefix else ","
    try:
        # a stand-in character where the bad byte is: the last cell read is the one it is in
        rows = list(csv.reader(io.StringIO(prefix.lstrip(_BOM) + "\x01", newline=""),
                               delimiter=delimiter))
    except csv.Error:
        return prefix.count("\n") + 1, None, None
    row, col = len(rows), len(rows[-1]) - 1
    header = rows[0][col].strip() if row > 1 and col < len(rows[0]) else None
    return row, col, header or None


def _undecodable(data: bytes, file: str, exc: UnicodeDecodeError, codec: str,
                 named: bool) -> BadInput:
    """import.encoding naming the row, column and byte offset of the first bad byte."""
    start = exc.start
    row, col, header = _locate(data[:start].decode(codec, errors="replace"))
    bad = data[start:max(exc.end, start + 1)][:4]
    where_col = header or (column_letter(col) if col is not None else None)
    place = f"row {row}" + (f", column {column_letter(col)}" if col is not None else "") + \
        (f" ({header!r})" if header else "")
    shown = " ".join(f"0x{b:02X}" for b in bad)
    message = (f"{file}: the byte{'s' if len(bad) > 1 else ''} {shown} at {place}, "
               f"byte offset {start:,}, {'are' if len(bad) > 1 else 'is'} not {codec} text; "
               "nothing was imported.")
    if named:
        fix = (f"Check that {codec} is the file's encoding; name another one, or save the file "
               "as UTF-8.")
    elif _has_utf8_text(data):
        fix = ("The rest of the file reads as UTF-8: correct or remove that byte (it was probably "
               "pasted from another program), then import the file again.")
    else:
        guess = _suggestion(data)
        hint = (f"It may be {guess}: if so, import it again naming that encoding (CLI "
                f"--encoding {guess}, API ?encoding={guess}, Python encoding={guess!r})."
                if guess else "Name its encoding (CLI --encoding, API ?encoding=).")
        fix = f"Save the file as UTF-8 (Excel: 'CSV UTF-8'), or: {hint}"
    return BadInput("import.encoding", message, fix=fix, details={"byte_offset": start},
                    where=Where(file=file, row=row, column=where_col, position=start))


def _has_utf8_text(data: bytes) -> bool:
    """True when the bytes hold well-formed UTF-8 beyond ASCII (so they are mostly UTF-8)."""
    text = data[: 1 << 20].decode("utf-8", errors="replace")
    return any(ord(c) > 127 and c not in "\ufffd\ufeff" for c in text)


def _strict(data: bytes, file: str, codec: str, *, named: bool) -> str:
    try:
        text = data.decode(codec)
    except UnicodeDecodeError as exc:
        raise _undecodable(data, file, exc, codec, named) from None
    return text[1:] if text.startswith(_BOM) else text


def _codec(encoding: str) -> str:
    """The canonical name of a text encoding the user named, or input.invalid."""
    try:
        info = codecs.lookup(encoding.strip())
        # refuses bytes-to-bytes codecs such as base64; a text encoding that needs more
        # than one byte per character fails on one byte, which is fine
        with contextlib.suppress(UnicodeDecodeError):
            b"A".decode(info.name)
    except (LookupError, ValueError):  # ValueError: a NUL in the name
        raise BadInput("input.invalid", f"{encoding!r} is not a text encoding Python knows",
                       where=Where(field="encoding"),
                       fix="Name an encoding such as utf-8, utf-16, cp1252, latin-1 or "
                           "cp850.") from None
    return info.name


def decode_table_text(data: bytes, file: str, encoding: str | None = None) -> str:
    """A table file's text, decoded without guessing (see the module's docstring).

    Raises BadInput ``import.encoding`` with the row, column and byte offset of the first
    byte that does not decode, ``input.invalid`` for an unknown encoding name, and
    ``import.structure`` (``import.not_a_table``) for an empty or binary file.
    """
    if encoding is not None:
        codec = _codec(encoding)
        if codec in _NEEDS_BOM and not data.startswith(
                (*_UTF16_BOMS, codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)):
            raise BadInput("import.encoding", f"{file} has no byte order mark, so {codec} "
                           "does not say which byte comes first",
                           where=Where(file=file, field="encoding"),
                           fix=f"Name {_NEEDS_BOM[codec]}.")
        text = _strict(data, file, codec, named=True)
    elif data.startswith(_UTF16_BOMS):
        # Excel's "Unicode text": the byte order mark declares UTF-16, nothing is guessed
        text = _strict(data, file, "utf-16", named=False)
    else:
        sample = data[: 1 << 16]
        utf16 = _utf16_without_bom(sample)
        if utf16 is not None:
            raise BadInput("import.encoding", f"{file} looks like {utf16} text without a byte "
                           "order mark; nothing was imported.", where=Where(file=file),
                           fix=f"Import it again naming the encoding (CLI --encoding {utf16}, "
                               f"API ?encoding={utf16}), or save it as UTF-8.")
        try:
            text = _strict(data, file, "utf-8", named=False)
        except BadInput:
            if _looks_binary(sample):
                raise not_a_table(file, "it holds binary data, not text") from None
            raise
    if not text.strip():
        raise not_a_table(file, "it is empty")
    return _no_nul(text, file)


def decode_text(data: bytes, file: str, encoding: str | None = None) -> bytes:
    """The file as UTF-8 bytes (for the CSV reader); see :func:`decode_table_text`."""
    text = decode_table_text(data, file, encoding)
    if encoding is None and not data.startswith(_UTF16_BOMS):
        return data[len(codecs.BOM_UTF8):] if data.startswith(codecs.BOM_UTF8) else data
    return text.encode("utf-8")


def sniff_delimiter(sample: str) -> str:
    """The delimiter among , ; tab | that splits the header into most columns consistently."""
    best, best_score = ",", (False, False, 0)
    truncated = len(sample) >= (1 << 16) - 4
    for delimiter in (",", ";", "\t", "|"):
        try:
            rows = list(itertools.islice(csv.reader(io.StringIO(sample, newline=""),
                                                    delimiter=delimiter), 12))
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
