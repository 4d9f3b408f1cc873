"""The web server: a thin FastAPI layer over the library (see ``create_app``)."""

from __future__ import annotations

__all__ = ["create_app"]


def __getattr__(name: str) -> object:
    # importing the package builds nothing; the factory is loaded on first use
    if name == "create_app":
        from citizendata.server.app import create_app

        return create_app
    raise AttributeError(name)
