"""citizendata: citizen data from collection to official statistics."""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING

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

if TYPE_CHECKING:
    __version__: str

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
    # the workspace pulls in SQLAlchemy and the services; import it only when asked
    if name in {"Workspace", "Client"}:
        from citizendata import workspace

        return getattr(workspace, name)
    if name == "__version__":  # importlib.metadata costs tens of milliseconds: on demand
        return _version()
    raise AttributeError(name)


@cache
def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("citizendata")
    except PackageNotFoundError:  # running from a source tree
        return "0.0.0+source"
