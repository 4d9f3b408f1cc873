"""What every command group shares: the app, options, the client, errors and output.

Nothing heavy is imported here (no pandas, numpy, Ibis, DuckDB, PyArrow, SciPy, FastAPI):
``citizendata --help`` and the light commands must start in well under half a second.
Commands import what they need inside their own bodies.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from citizendata.errors import BadInput, CitizenDataError

if TYPE_CHECKING:
    from rich.progress import Progress

    from citizendata.workspace import Client, Workspace

__all__ = [
    "DEFAULT_WS",
    "AsOpt",
    "EncodingOpt",
    "JsonOpt",
    "Table",
    "VersionMapOpt",
    "WorkspaceOpt",
    "app",
    "client",
    "close_workspaces",
    "console",
    "counting_bar",
    "err_console",
    "fmt",
    "guard",
    "open_workspace",
    "opened",
    "password",
    "print_json",
    "report",
    "spinner",
]

T = TypeVar("T")

app = typer.Typer(name="citizendata", no_args_is_help=True, add_completion=False,
                  help="Citizen data from collection to official statistics.")

console = Console()
err_console = Console(stderr=True)

WorkspaceOpt = Annotated[Path, typer.Option("--workspace", "-w", envvar="CITIZENDATA_WORKSPACE",
                                            help="Workspace folder.")]
AsOpt = Annotated[str | None, typer.Option("--as", envvar="CITIZENDATA_USER",
                                           help="Act as this user (default: the first admin).")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")]
EncodingOpt = Annotated[str | None, typer.Option(
    "--encoding", help="The CSV's text encoding, e.g. cp1252 or utf-16-le. Without it only "
    "UTF-8 (and UTF-16 with a byte order mark) is read; nothing is guessed.")]
VersionMapOpt = Annotated[list[str] | None, typer.Option(
    "--version-map", help="KOBO_VERSION_ID=FORM_VERSION: the form version of the rows with "
    "that KoboToolbox __version__ (repeatable); without it, versions are matched by content.")]
DEFAULT_WS = Path("citizendata-workspace")


_OPENED: list[Workspace] = []


def open_workspace(workspace: Path) -> Workspace:
    """Open (and migrate) the workspace folder; `close_workspaces` closes it at exit."""
    from citizendata.workspace import Workspace

    return opened(Workspace.open(workspace))


def opened(ws: Workspace) -> Workspace:
    """Remember a workspace a command opened, to close it when the command ends."""
    _OPENED.append(ws)
    return ws


def close_workspaces() -> None:
    """Close every workspace the command opened (its connections; SQLite's WAL checkpoint)."""
    while _OPENED:
        _OPENED.pop().close()


def client(workspace: Path, as_user: str | None) -> Client:
    """A client acting as ``as_user`` (default: the workspace's first administrator)."""
    ws = open_workspace(workspace)
    if as_user is None:
        as_user = _first_admin(ws)
    return ws.as_user(as_user)


def _first_admin(ws: Workspace) -> str:
    from sqlalchemy import select

    from citizendata.store.models import User

    with ws.transaction() as db:
        name = db.scalar(select(User.username).where(User.is_admin.is_(True)).order_by(User.id))
    if name is None:
        raise BadInput("workspace.missing", "This workspace has no administrator yet.",
                       fix="Run 'citizendata init' first.")
    return str(name)


def report(exc: CitizenDataError, as_json: bool) -> None:
    """Print a coded error: code, message, where, every problem, the fix (or its JSON)."""
    if as_json:
        err_console.print_json(json.dumps(exc.to_dict(), default=str))
        return
    err_console.print(f"[bold red]error[/] [bold]{exc.code}[/]: {exc.message}", highlight=False)
    if exc.where is not None and exc.where.to_dict():
        err_console.print(f"  where: {exc.where}", highlight=False)
    if exc.problems:
        table = Table("code", "where", "problem", "fix", title=f"{len(exc.problems)} problem(s)")
        for p in exc.problems[:200]:
            table.add_row(p.code, str(p.where or ""), p.message, p.fix or "")
        err_console.print(table)
    if exc.fix:
        err_console.print(f"  fix: {exc.fix}", highlight=False)


def guard(fn: Callable[[], T], as_json: bool = False) -> T:
    """Run a command's body; a coded error is printed and exits 2 (your input) or 1."""
    try:
        return fn()
    except CitizenDataError as exc:
        report(exc, as_json)
        raise typer.Exit(2 if exc.http_status < 500 else 1) from None


def password(value: str | None, env: str = "CITIZENDATA_PASSWORD") -> str:
    """The password from the option, the environment, or a hidden prompt."""
    if value:
        return value
    if os.environ.get(env):
        return os.environ[env]
    if not sys.stdin.isatty():
        raise BadInput("input.invalid", f"No password given; pass --password or set {env}.")
    return str(typer.prompt("Password", hide_input=True, confirmation_prompt=True))


def print_json(data: Any) -> None:
    """Print JSON-able data (the ``--json`` output)."""
    console.print_json(data=data)


def counting_bar() -> Progress:
    """A transient progress bar on stderr counting items."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(TextColumn("{task.description}"), BarColumn(), TextColumn(
        "{task.completed:,}/{task.total:,}"), TimeElapsedColumn(), console=err_console,
        transient=True)


def spinner() -> Progress:
    """A transient spinner on stderr for work of unknown length."""
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    return Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(),
                    console=err_console, transient=True)


def fmt(v: Any, digits: int = 1) -> str:
    """A number with thousands separators, or a dash for a missing one."""
    # pandas' NA (a blanked count) without importing pandas for every command
    missing = v is None or type(v).__name__ == "NAType" or (isinstance(v, float) and v != v)
    return "–" if missing else f"{v:,.{digits}f}"
