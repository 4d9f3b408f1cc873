"""Command line for the web server and the demo."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any

import typer

from citizendata.cli._common import DEFAULT_WS, WorkspaceOpt, app, console, err_console, guard
from citizendata.cli._common import open_workspace as _open

__all__: list[str] = []



# -- server and demo ---------------------------------------------------------------------------
@app.command()
def serve(workspace: WorkspaceOpt = DEFAULT_WS,
          host: Annotated[str | None, typer.Option()] = None,
          port: Annotated[int | None, typer.Option()] = None,
          workers: Annotated[int, typer.Option(
              help="Server processes (for PostgreSQL; SQLite has one writer anyway).")] = 1
          ) -> None:
    """Run the web server (API, OpenRosa endpoints, pages)."""
    guard(lambda: _serve(_open(workspace), host, port, workers))


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
        console.print(summary)
        if not no_serve:
            h, p = host or ws.settings.host, port or ws.settings.port
            console.print(f"\nServing on [bold]http://{h}:{p}/[/]  (Ctrl-C to stop)")
            _serve(ws, h, p)
    guard(go)

