"""The ODK XPath functions added beyond the first subset, as the reference interpreter runs them.

Scalar functions take and return the interpreter's internal values (text, float with
NaN, bool; a date is a day number). ``ROW_FUNCTIONS`` are the ones the compiler does
not translate to SQL: it calls these same Python functions once per row inside the
query (see ``compile_rows``), so both engines share one implementation. Numbers
follow Java's ``Math`` (NaN for a domain error, ±Infinity on overflow), as JavaRosa.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import math
import re
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

__all__ = [
    "MATH", "ROW_FUNCTIONS", "checklist", "normalize_space", "pow_", "selected_at",
    "substring_after", "substring_before", "translate",
]

NAN = float("nan")
INF = float("inf")
WS = " \t\r\n"
EPOCH = date(1970, 1, 1)
EPOCH_DT = datetime(1970, 1, 1, tzinfo=UTC)
EXP_LIMIT = 709.782712893384  # exp() of more overflows a double


def translate(s: str, src: str, dst: str) -> str:
    """XPath translate(): each character of ``src`` becomes the one at its place in ``dst``
    (the first occurrence counts), or is removed when ``dst`` is shorter."""
    table: dict[int, int | None] = {}
    for i, ch in enumerate(src):
        table.setdefault(ord(ch), ord(dst[i]) if i < len(dst) else None)
    return s.translate(table)


def normalize_space(s: str) -> str:
    """XPath normalize-space(): trimmed, inner runs of white space as one space."""
    return re.sub(f"[{WS}]+", " ", s.strip(WS))


def substring_before(s: str, t: str) -> str:
    """XPath substring-before(): '' when ``t`` is not in ``s``."""
    i = s.find(t)
    return s[:i] if i >= 0 else ""


def substring_after(s: str, t: str) -> str:
    """XPath substring-after(): '' when ``t`` is not in ``s``."""
    i = s.find(t)
    return s[i + len(t):] if i >= 0 else ""


def selected_at(parts: list[str], index: int) -> str:
    """selected-at(): the choice at a 0-based place, '' outside the list."""
    return parts[index] if 0 <= index < len(parts) else ""


def pow_(x: float, y: float) -> float:
    """Java's Math.pow."""
    if math.isnan(y):  # Java: NaN for a NaN exponent, even of 1 (C's pow(1, NaN) is 1)
        return NAN
    try:
        return math.pow(x, y)
    except ValueError:  # 0 to a negative power, a negative number to a fraction
        # 0 to a negative power: +Infinity (DuckDB, unlike Java, ignores the sign of -0)
        return INF if x == 0 else NAN
    except OverflowError:
        odd = y == math.trunc(y) and math.fmod(y, 2) != 0
        return -INF if x < 0 and odd else INF


def _log(x: float, base10: bool) -> float:
    if math.isnan(x) or x < 0:
        return NAN
    if x == 0:
        return -INF
    if math.isinf(x):
        return INF
    return math.log10(x) if base10 else math.log(x)


def _exp(x: float) -> float:
    if math.isnan(x):
        return NAN
    return INF if x > EXP_LIMIT else math.exp(x)


def _guard(fn: Callable[[float], float], low: float = -INF, high: float = INF
           ) -> Callable[[float], float]:
    """A math function that is NaN outside [low, high], for infinities and for NaN."""
    def run(x: float) -> float:
        if math.isnan(x) or math.isinf(x) or not low <= x <= high:
            return NAN
        return fn(x)
    return run


# one-argument number functions
MATH: dict[str, Callable[[float], float]] = {
    "log": lambda x: _log(x, False),
    "log10": lambda x: _log(x, True),
    "exp": _exp,
    "exp10": lambda x: pow_(10.0, x),
    "sqrt": lambda x: NAN if math.isnan(x) or x < 0 else math.sqrt(x),
    "abs": abs,
    "sin": _guard(math.sin),
    "cos": _guard(math.cos),
    "tan": _guard(math.tan),
    "asin": _guard(math.asin, -1.0, 1.0),
    "acos": _guard(math.acos, -1.0, 1.0),
    "atan": lambda x: NAN if math.isnan(x) else math.atan(x),
}


def checklist(lo: float, hi: float, count: float) -> bool:
    """checklist()/weighted-checklist(): is the count within [lo, hi] (-1 = no bound)."""
    return (lo < 0 or count >= lo) and (hi < 0 or count <= hi)


# -- functions evaluated row by row (shared by the interpreter and the compiler) -------

_DT = re.compile(r"^\s*([0-9]{4}-[0-9]{2}-[0-9]{2})(?:T([0-9]{2}):([0-9]{2})"
                 r"(?::([0-9]{2})(?:\.([0-9]+))?)?(Z|[+-][0-9]{2}:?[0-9]{2})?)?\s*$")
_TIME = re.compile(r"^\s*([0-9]{2}):([0-9]{2})(?::([0-9]{2})(?:\.([0-9]+))?)?"
                   r"(Z|[+-][0-9]{2}:?[0-9]{2})?\s*$")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def _offset(text: str | None) -> timedelta:
    if not text or text == "Z":
        return timedelta(0)
    sign = -1 if text[0] == "-" else 1
    digits = text[1:].replace(":", "")
    return sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))


def _parse_datetime(text: str) -> tuple[datetime, timedelta] | None:
    """A date or dateTime text as (wall-clock time, UTC offset); None when not one."""
    m = _DT.match(text)
    if m is None:
        return None
    try:
        day = date.fromisoformat(m.group(1))
        h, mi, sec = (int(g) if g else 0 for g in m.group(2, 3, 4))
        micro = int((m.group(5) or "0")[:6].ljust(6, "0"))
        wall = datetime(day.year, day.month, day.day, h, mi, sec, micro)
    except ValueError:
        return None
    return wall, _offset(m.group(6))


def _as_datetime(value: Any, kind: str) -> datetime | None:
    """A value as a wall-clock dateTime: a text, or a (fractional) day number."""
    if kind == "str":
        parsed = _parse_datetime(value)
        return parsed[0] if parsed else None
    if kind in ("num", "date") and not (math.isnan(value) or math.isinf(value)):
        try:
            return (EPOCH_DT + timedelta(days=value)).replace(tzinfo=None)
        except OverflowError:
            return None
    return None


def format_date(args: list[tuple[Any, str]]) -> str:
    """format-date(value, format) and format-date-time(): ODK's %-identifiers."""
    (value, kind), (fmt, _) = args
    dt = _as_datetime(value, kind)
    if dt is None or not 1000 <= dt.year <= 9999:
        return ""
    codes = {"Y": f"{dt.year:04d}", "y": f"{dt.year % 100:02d}", "m": f"{dt.month:02d}",
             "n": str(dt.month), "b": _MONTHS[dt.month - 1], "d": f"{dt.day:02d}",
             "e": str(dt.day), "a": _DAYS[dt.weekday()], "H": f"{dt.hour:02d}",
             "h": str(dt.hour), "M": f"{dt.minute:02d}", "S": f"{dt.second:02d}",
             "3": f"{dt.microsecond // 1000:03d}"}
    return re.sub(r"%(.)", lambda m: codes.get(m.group(1), m.group(0)), str(fmt))


def decimal_date_time(args: list[tuple[Any, str]]) -> float:
    """decimal-date-time(): days since 1970-01-01 UTC (no offset written: read as UTC)."""
    ((value, kind),) = args
    if kind != "str":
        return float(value) if kind in ("num", "date") else NAN
    parsed = _parse_datetime(value)
    if parsed is None:
        return NAN
    wall, offset = parsed
    return ((wall - offset).replace(tzinfo=UTC) - EPOCH_DT) / timedelta(days=1)


def decimal_time(args: list[tuple[Any, str]]) -> float:
    """decimal-time(): a time of day as a fraction of a day (its wall-clock time)."""
    ((value, kind),) = args
    m = _TIME.match(value) if kind == "str" else None
    if m is None:
        return NAN
    h, mi, sec = (int(g) if g else 0 for g in m.group(1, 2, 3))
    if h > 23 or mi > 59 or sec > 59:
        return NAN
    frac = float("0." + m.group(4)) if m.group(4) else 0.0
    return (h * 3600 + mi * 60 + sec + frac) / 86400


_DIGESTS = {"MD5": "md5", "SHA-1": "sha1", "SHA-256": "sha256", "SHA-384": "sha384",
            "SHA-512": "sha512"}


def digest(args: list[tuple[Any, str]]) -> str:
    """digest(text, algorithm[, 'base64'|'hex']): '' for an unknown algorithm or encoding."""
    text, alg = str(args[0][0]), str(args[1][0])
    enc = str(args[2][0]) if len(args) > 2 else "base64"
    if alg not in _DIGESTS or enc not in ("base64", "hex"):
        return ""
    h = hashlib.new(_DIGESTS[alg], text.encode("utf-8")).digest()
    return h.hex() if enc == "hex" else base64.b64encode(h).decode("ascii")


def base64_decode(args: list[tuple[Any, str]]) -> str:
    """base64-decode(): the UTF-8 text of base64 bytes, '' when not valid."""
    try:
        return base64.b64decode(str(args[0][0]), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return ""


ROW_FUNCTIONS: dict[str, Callable[[list[tuple[Any, str]]], Any]] = {
    "format-date": format_date,
    "format-date-time": format_date,
    "decimal-date-time": decimal_date_time,
    "decimal-time": decimal_time,
    "digest": digest,
    "base64-decode": base64_decode,
}
