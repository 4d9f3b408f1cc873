"""The `citizendata` command line: a thin layer over the library (Workspace and Client).

Each command group is a module of this package that registers its commands on the one
``app`` of :mod:`citizendata.cli._common`, where the options, the client, error printing
and output helpers they share live. Adding a group is one line: its module's name in
``GROUPS`` (in the order the help should list it). Commands import the statistics stack
inside their bodies only, so ``citizendata --help`` and the light commands start fast.
"""

from __future__ import annotations

import gc
from importlib import import_module

from citizendata.cli._common import (
    DEFAULT_WS,
    AsOpt,
    EncodingOpt,
    JsonOpt,
    VersionMapOpt,
    WorkspaceOpt,
    app,
    client,
    close_workspaces,
    console,
    err_console,
    guard,
)

__all__ = ["DEFAULT_WS", "GROUPS", "AsOpt", "EncodingOpt", "JsonOpt", "VersionMapOpt",
           "WorkspaceOpt", "app", "client", "console", "err_console", "guard", "main"]

# the names group modules written against the old single-file cli.py import
_client, _guard = client, guard

# the command groups, in the order `citizendata --help` lists them
GROUPS = ("admin", "projects", "data", "estimate", "survey", "serve", "encryption", "orgs", "privacy",
          "quality", "release", "jobs", "links", "integrate", "mse", "linkage", "pprl", "cases",
          "sae", "population", "places")

for _name in GROUPS:
    import_module(f"{__name__}.{_name}")


def main() -> None:
    """Entry point of the `citizendata` command."""
    try:
        app()
    finally:
        close_workspaces()
        # the interpreter's last garbage collections would walk every object the imports
        # made (a quarter of a second of a light command); nothing left needs collecting
        gc.freeze()
