"""Command line for organisations: create one, add its members, list yours."""

from __future__ import annotations

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

__all__ = ["orgs_app"]

orgs_app = typer.Typer(help="Organisations: only their members start projects for them.",
                       no_args_is_help=True)
app.add_typer(orgs_app, name="orgs")


@orgs_app.command("create")
def orgs_create(slug: str, name: str,
                kind: Annotated[str, typer.Option(help="cso, nso, government, academic, "
                                                       "funder or other")] = "cso",
                country: Annotated[str | None, typer.Option(help="UN M49 code")] = None,
                workspace: WorkspaceOpt = DEFAULT_WS, as_user: AsOpt = None) -> None:
    """Create an organisation (site administrators)."""
    def go() -> None:
        org = client(workspace, as_user).create_organisation(slug, name, kind=kind,
                                                              country=country)
        console.print(f"Organisation [bold]{org.slug}[/] created.")
    guard(go)


@orgs_app.command("add-member")
def orgs_add_member(slug: str, username: str,
                    role: Annotated[str, typer.Option(help="owner or member")] = "member",
                    workspace: WorkspaceOpt = DEFAULT_WS, as_user: AsOpt = None) -> None:
    """Make a user a member (or owner) of an organisation."""
    def go() -> None:
        client(workspace, as_user).add_organisation_member(slug, username, role)
        console.print(f"{username} is now {role} of {slug}.")
    guard(go)


@orgs_app.command("list")
def orgs_list(workspace: WorkspaceOpt = DEFAULT_WS, as_user: AsOpt = None,
              as_json: JsonOpt = False) -> None:
    """Your organisations (an administrator sees all)."""
    def go() -> None:
        rows = client(workspace, as_user).organisations()
        if as_json:
            console.print_json(data=[{"slug": o.slug, "name": o.name, "kind": o.kind,
                                      "country": o.country} for o in rows])
            return
        table = Table("slug", "name", "kind", "country")
        for o in rows:
            table.add_row(o.slug, o.name, o.kind, o.country or "")
        console.print(table)
    guard(go, as_json)
