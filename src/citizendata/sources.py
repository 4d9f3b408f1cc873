"""Where the library's callers give a file: a path or the bytes themselves."""

from __future__ import annotations

from pathlib import Path

from citizendata.errors import BadInput, Where

__all__ = ["read_source"]


def read_source(source: str | Path | bytes, filename: str | None = None) -> tuple[bytes, str]:
    """The file's bytes and a name for messages (``upload`` for bytes without one)."""
    if isinstance(source, bytes):
        return source, filename or "upload"
    path = Path(source)
    if not path.exists():
        raise BadInput("input.invalid", f"No file {str(path)!r}.", where=Where(file=str(path)))
    return path.read_bytes(), filename or path.name
