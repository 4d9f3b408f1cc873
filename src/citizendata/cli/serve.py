"""Command line for the web server and the demo."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any

import typer

from citizendata.cli._common import WorkspaceOpt, app, console, err_console, guard, opened
from citizendata.cli._common import open_workspace as _open
from citizendata.errors import BadInput, Where

__all__ = ["served_workspace"]


# -- server and demo ---------------------------------------------------------------------------
@app.command()
def serve(workspace: Annotated[Path | None, typer.Option(
              "--workspace", "-w", envvar="CITIZENDATA_WORKSPACE",
              help="Workspace folder (made by 'citizendata init' or 'citizendata demo').")] = None,
          host: Annotated[str | None, typer.Option()] = None,
          port: Annotated[int | None, typer.Option()] = None,
          workers: Annotated[int, typer.Option(
              help="Server processes (for PostgreSQL; SQLite has one writer anyway).")] = 1
          ) -> None:
    """Run the web server (API, OpenRosa endpoints, pages)."""
    guard(lambda: _serve(served_workspace(workspace), host, port, workers))


def served_workspace(folder: Path | None) -> Any:
    """The workspace to serve: an initialised one, never an empty one made on the spot.

    Without a folder (no ``-w``, no CITIZENDATA_WORKSPACE), with a folder that holds no
    database, or with a database without users, BadInput ``workspace.not_initialised``
    says which folder was looked at and how to make or name one.
    """
    from citizendata.config import get_settings

    if folder is None:
        raise BadInput("workspace.not_initialised",
                       "No workspace to serve: give its folder with -w (or set "
                       "CITIZENDATA_WORKSPACE).", where=Where(field="--workspace"))
    settings = get_settings(workspace=folder)
    if settings.is_sqlite and not settings.sqlite_path.is_file():
        raise BadInput("workspace.not_initialised",
                       f"{folder} is not a citizendata workspace: it holds no "
                       f"{settings.sqlite_path.name}.", where=Where(file=str(folder)))
    ws = _open(folder)
    if not ws.has_users():
        ws.close()
        raise BadInput("workspace.not_initialised",
                       f"The workspace {folder} has no users yet: nobody could log in.",
                       where=Where(file=str(folder)))
    return ws


def _serve(ws: Any, host: str | None, port: int | None, workers: int = 1) -> None:
    import uvicorn

    h, p = host or ws.settings.host, port or ws.settings.port
    if workers > 1:
        # each worker process opens the workspace itself from the environment
        os.environ["CITIZENDATA_WORKSPACE"] = str(ws.settings.workspace.resolve())
        ws.close()
        uvicorn.run("citizendata.server.app:create_app", factory=True, workers=workers,
                    host=h, port=p, log_level="warning", access_log=False)
        return
    from citizendata.server.app import create_app

    uvicorn.run(create_app(ws), host=h, port=p, log_level="warning", access_log=False)


@app.command()
def demo(workspace: WorkspaceOpt = Path("citizendata-demo"),
         no_serve: Annotated[bool, typer.Option("--no-serve", help="Build and exit.")] = False,
         n: Annotated[int, typer.Option(help="Number of submissions.")] = 5000,
         fresh: Annotated[bool, typer.Option(help="Delete the workspace first.")] = False,
         host: Annotated[str | None, typer.Option()] = None,
         port: Annotated[int | None, typer.Option()] = None) -> None:
    """Build the Kenya maternal-health demo workspace, then serve it."""
    from citizendata.demo import build_demo

    def go() -> None:
        ws, summary = build_demo(workspace, n=n, fresh=fresh, console=err_console)
        opened(ws)
        console.print(summary)
        if not no_serve:
            h, p = host or ws.settings.host, port or ws.settings.port
            console.print(f"\nServing on [bold]http://{h}:{p}/[/]  (Ctrl-C to stop)")
            _serve(ws, h, p)
    guard(go)

