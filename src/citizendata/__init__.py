"""citizendata: citizen data from collection to official statistics."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from citizendata.errors import (
    BadInput,
    CitizenDataError,
    Conflict,
    Forbidden,
    NotFound,
    PayloadTooLarge,
    Problem,
    Unauthenticated,
    UnsupportedMediaType,
    Where,
)

try:
    __version__ = version("citizendata")
except PackageNotFoundError:  # running from a source tree
    __version__ = "0.0.0+source"

__all__ = [
    "BadInput",
    "CitizenDataError",
    "Client",
    "Conflict",
    "Forbidden",
    "NotFound",
    "PayloadTooLarge",
    "Problem",
    "Unauthenticated",
    "UnsupportedMediaType",
    "Where",
    "Workspace",
    "__version__",
]


def __getattr__(name: str) -> object:
    # the workspace pulls in SQLAlchemy, pyxform and DuckDB; import it only when asked
    if name in {"Workspace", "Client"}:
        from citizendata import workspace

        return getattr(workspace, name)
    raise AttributeError(name)
