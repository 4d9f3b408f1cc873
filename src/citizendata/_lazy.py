"""A module imported on first use, so that importing the library stays light.

``citizendata.workspace`` (and so the CLI and the server) must not load the statistics
stack (pandas, NumPy, SciPy, Ibis, DuckDB, PyArrow, pyxform) until a call needs it.
Modules that use a heavy module only inside functions bind it lazily::

    if TYPE_CHECKING:
        import pandas as pd
    else:
        pd = lazy_module("pandas")

Type checkers see the real module; at run time the first attribute read imports it
(through Python's import lock, so threads are safe) and later reads go straight to it.
tests/test_cli_startup.py fails when ``citizendata --help`` or ``import
citizendata.workspace`` loads any of them.
"""

from __future__ import annotations

from importlib import import_module
from types import ModuleType
from typing import Any

__all__ = ["lazy_module"]


class _LazyModule(ModuleType):
    """Stands for a module until an attribute is read, then forwards to it."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.__dict__["_lazy_target"] = None

    def _load(self) -> ModuleType:
        module: ModuleType | None = self.__dict__["_lazy_target"]
        if module is None:
            module = import_module(self.__name__)
            self.__dict__["_lazy_target"] = module
        return module

    def __getattr__(self, attr: str) -> Any:
        return getattr(self._load(), attr)

    def __dir__(self) -> list[str]:
        return dir(self._load())

    def __repr__(self) -> str:
        state = "loaded" if self.__dict__["_lazy_target"] is not None else "not loaded yet"
        return f"<lazy module {self.__name__!r} ({state})>"


def lazy_module(name: str) -> Any:
    """A stand-in for the module ``name`` that imports it when first used."""
    return _LazyModule(name)
