"""How deep JSON may nest, checked before it is parsed.

Python's json module recurses once per level and raises RecursionError near a
thousand levels; what parses below that still reaches code that recurses (payload
nesting, the JSON encoder, pydantic). So the depth of a JSON text is measured first,
without parsing it: a vectorised scan over its bytes that skips string contents
(escaped quotes included) and keeps a running count of open brackets. The limit is
the ``max_depth`` setting; a top-level object or array is depth 1.
"""

from __future__ import annotations

import json
from functools import cache
from typing import TYPE_CHECKING, Any

from citizendata.errors import BadInput, Where

if TYPE_CHECKING:
    import numpy as np

__all__ = ["check_json_depth", "check_object_depth", "json_depth"]

# scanned a megabyte at a time: the index arrays of a chunk stay a few megabytes
_CHUNK = 1 << 20


@cache
def _classes() -> np.ndarray:
    """Byte classes: 1 opens, 2 closes, 3 is a quote, 4 a backslash (NumPy loads on first use)."""
    import numpy as np

    table = np.zeros(256, dtype=np.uint8)
    table[[ord("["), ord("{")]] = 1
    table[[ord("]"), ord("}")]] = 2
    table[ord('"')] = 3
    table[ord("\\")] = 4
    return table


def _utf8(body: bytes | str) -> bytes:
    """The text as UTF-8 bytes (json also accepts UTF-16 and UTF-32 bodies)."""
    if isinstance(body, str):
        return body.encode("utf-8", errors="surrogatepass")
    encoding = json.detect_encoding(body)
    if encoding in ("utf-8", "utf-8-sig"):
        return body
    try:
        return body.decode(encoding).encode("utf-8", errors="surrogatepass")
    except UnicodeDecodeError:
        return body  # json.loads reports it


def _unescaped(chunk: np.ndarray, quotes: np.ndarray, backslashes: np.ndarray,
               carry: int) -> np.ndarray:
    """The quotes not escaped, i.e. not preceded by an odd run of backslashes.

    ``carry`` is the number of backslashes that ended the previous chunk.
    """
    import numpy as np

    if not quotes.size or (not backslashes.size and not carry):
        return quotes
    before = quotes - 1
    after_backslash = np.zeros(quotes.size, dtype=bool)
    inner = before >= 0
    after_backslash[inner] = chunk[before[inner]] == 0x5C
    run = np.zeros(quotes.size, dtype=np.int64)
    if after_backslash.any():
        # runs of consecutive backslashes: where each starts and ends
        breaks = np.flatnonzero(np.diff(backslashes) != 1)
        run_end = backslashes[np.append(breaks, backslashes.size - 1)]
        run_start = backslashes[np.insert(breaks + 1, 0, 0)]
        last = before[after_backslash]
        first = run_start[np.searchsorted(run_end, last)]
        run[after_backslash] = last - first + 1 + np.where(first == 0, carry, 0)
    run[quotes == 0] = carry  # a quote first in the chunk follows the previous chunk's
    return quotes[run % 2 == 0]


def _trailing_backslashes(chunk: np.ndarray, carry: int) -> int:
    """How many backslashes end the chunk (counting those before it when all are)."""
    import numpy as np

    not_backslash = chunk[::-1] != 0x5C
    return int(np.argmax(not_backslash)) if not_backslash.any() else carry + chunk.size


def json_depth(body: bytes | str, limit: int | None = None, *,
               chunk_size: int = _CHUNK) -> tuple[int, int | None]:
    """(deepest nesting seen, byte offset of the first bracket past ``limit`` or None).

    Exact for valid JSON, and for the valid part of invalid JSON up to its first error,
    which is as far as a parser reads. The text is scanned in chunks, so memory stays
    small, and the scan stops at the first bracket past the limit.
    """
    import numpy as np

    classes = _classes()
    raw = np.frombuffer(_utf8(body), dtype=np.uint8)
    depth = deepest = carry = 0
    inside = False  # in a string when the previous chunk ended
    for start in range(0, raw.size, chunk_size):
        chunk = raw[start:start + chunk_size]
        codes = classes[chunk]
        where = np.flatnonzero(codes)
        kind = codes[where]
        quotes = _unescaped(chunk, where[kind == 3], where[kind == 4], carry)
        brackets = where[kind < 3]
        if quotes.size or inside:
            # a bracket after an odd number of quotes is inside a string
            brackets = brackets[(np.searchsorted(quotes, brackets) + inside) % 2 == 0]
        if brackets.size:
            levels = depth + np.cumsum(np.where(codes[brackets] == 1, 1, -1))
            deepest = max(deepest, int(levels.max()))
            if limit is not None and deepest > limit:
                return deepest, start + int(brackets[int(np.argmax(levels > limit))])
            depth = int(levels[-1])
        inside ^= bool(quotes.size % 2)
        carry = _trailing_backslashes(chunk, carry)
    return deepest, None


def _too_deep(what: str, limit: int, where: Where, **details: Any) -> BadInput:
    return BadInput("input.too_deep", f"{what} nests deeper than {limit} levels",
                    where=where, details={"limit": limit, **details},
                    fix=f"Nest objects and lists at most {limit} levels deep; a form's groups "
                        "and repeats never need more.")


def check_json_depth(body: bytes | str, limit: int, *, file: str | None = None,
                     what: str | None = None) -> None:
    """Refuse (BadInput ``input.too_deep``) JSON text that nests deeper than ``limit``.

    ``where`` gives the line (row) and column (position) of the first bracket too deep.
    """
    _, offset = json_depth(body, limit)
    if offset is None:
        return
    data = _utf8(body)
    line = data.count(b"\n", 0, offset) + 1
    column = offset - (data.rfind(b"\n", 0, offset) + 1) + 1
    raise _too_deep(what or file or "The JSON body", limit, Where(file=file, row=line, position=column),
                    byte_offset=offset)


def check_object_depth(obj: Any, limit: int, *, file: str | None = None,
                       what: str = "The JSON document") -> None:
    """Refuse (BadInput ``input.too_deep``) a parsed object or list nested deeper than ``limit``.

    Iterative, so it is safe on any depth (and ends on a structure that contains itself).
    """
    if not isinstance(obj, (dict, list)):
        return
    stack: list[tuple[Any, int, str]] = [(obj, 1, "")]
    while stack:
        node, level, path = stack.pop()
        if level > limit:
            raise _too_deep(what, limit, Where(file=file, field=path.strip("/") or None))
        items = node.items() if isinstance(node, dict) else enumerate(node)
        stack.extend((value, level + 1, f"{path}/{key}") for key, value in items
                     if isinstance(value, (dict, list)))
