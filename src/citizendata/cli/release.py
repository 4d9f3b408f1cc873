"""Command line for releases: build, sign, publish, withdraw, list, verify, audit."""

from __future__ import annotations

from datetime import date
from typing import Annotated

import typer
from rich.table import Table

from citizendata.cli._common import (
    DEFAULT_WS,
    AsOpt,
    JsonOpt,
    WorkspaceOpt,
    app,
    client,
    console,
    guard,
)

__all__ = ["release_app"]

release_app = typer.Typer(help="Releases: immutable bundles, published after community sign-off.",
                          no_args_is_help=True)
app.add_typer(release_app, name="release")


@release_app.command("build")
def release_build(project: str,
                  as_of: Annotated[str | None, typer.Option(
                      help="The release's date (YYYY-MM-DD); default today.")] = None,
                  workspace: WorkspaceOpt = DEFAULT_WS, as_user: AsOpt = None,
                  as_json: JsonOpt = False) -> None:
    """Build the next version: protected estimates, SDMX, CSV, Parquet, JSON, report, manifest."""
    def go() -> None:
        when = date.fromisoformat(as_of) if as_of else None
        me = client(workspace, as_user)
        r = me.build_release(project, as_of=when)
        if as_json:
            console.print_json(data=r)
            return
        console.print(f"release v{r['version']} built ({len(r['files'])} files) in "
                      f"{me.release_dir(project, r['version'])}; "
                      "awaiting sign-off by the community representatives")
    guard(go, as_json)


@release_app.command("sign")
def release_sign(project: str, version: int,
                 decision: Annotated[str, typer.Option(help="approve or reject")] = "approve",
                 note: Annotated[str, typer.Option(help="Why, in a sentence.")] = "",
                 workspace: WorkspaceOpt = DEFAULT_WS, as_user: AsOpt = None) -> None:
    """Approve (or refuse) a release as a community representative or the NSO."""
    def go() -> None:
        r = client(workspace, as_user).sign_release(project, version, decision, note)
        s = r["signoffs"][-1]
        console.print(f"v{version}: {s['decision']} by {s['by']} ({s['capacity']})")
    guard(go)


@release_app.command("publish")
def release_publish(project: str, version: int, workspace: WorkspaceOpt = DEFAULT_WS,
                    as_user: AsOpt = None) -> None:
    """Publish a release once every sign-off is in."""
    def go() -> None:
        r = client(workspace, as_user).publish_release(project, version)
        console.print(f"v{version} published at {r['published_at']}: "
                      f"/public/releases/{project}/{version}/report.html")
    guard(go)


@release_app.command("withdraw")
def release_withdraw(project: str, version: int,
                     reason: Annotated[str, typer.Option(help="Why it is withdrawn.")],
                     workspace: WorkspaceOpt = DEFAULT_WS, as_user: AsOpt = None) -> None:
    """End public access to a release; its record is kept."""
    def go() -> None:
        client(workspace, as_user).withdraw_release(project, version, reason)
        console.print(f"v{version} withdrawn")
    guard(go)


@release_app.command("list")
def release_list(project: str, workspace: WorkspaceOpt = DEFAULT_WS, as_user: AsOpt = None,
                 as_json: JsonOpt = False) -> None:
    """The project's releases and their sign-offs."""
    def go() -> None:
        rows = client(workspace, as_user).releases(project)
        if as_json:
            console.print_json(data=rows)
            return
        table = Table("version", "status", "as of", "built by", "sign-offs")
        for r in rows:
            table.add_row(f"v{r['version']}", r["status"], r["as_of"], r["built_by"],
                          ", ".join(f"{s['by']} {s['decision']}" for s in r["signoffs"]))
        console.print(table)
    guard(go, as_json)


@release_app.command("verify")
def release_verify(project: str, version: int, workspace: WorkspaceOpt = DEFAULT_WS,
                   as_user: AsOpt = None) -> None:
    """Rebuild a release from the same inputs and check every file is byte-identical."""
    def go() -> None:
        r = client(workspace, as_user).verify_release(project, version)
        console.print(f"v{version}: " + ("byte-identical" if r["identical"]
                                         else f"differs in {', '.join(r['differ'])}"))
        if not r["identical"]:
            raise typer.Exit(1)
    guard(go)


@release_app.command("audit")
def release_audit(project: str, version: int, workspace: WorkspaceOpt = DEFAULT_WS,
                  as_user: AsOpt = None, as_json: JsonOpt = False) -> None:
    """Read a release as an outsider and judge it against the true counts (owners, managers)."""
    def go() -> None:
        r = client(workspace, as_user).audit_release(project, version)
        if as_json:
            console.print_json(data=r)
            return
        table = Table("indicator", "programme", "hidden cells", "sensitive", "pinned",
                      "narrowed", title=f"{project} v{version} read from its public files")
        for mode in ("lp", "integer"):
            for ind, c in r[mode].items():
                table.add_row(ind, "linear" if mode == "lp" else "integer", str(c["hidden"]),
                              str(c["sensitive"]), str(c["pinned"]), str(c["narrowed"]))
        console.print(table)
    guard(go, as_json)
