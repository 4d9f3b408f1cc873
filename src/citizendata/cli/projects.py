"""Command line for projects, their members and their forms."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from citizendata.cli._common import (
    DEFAULT_WS,
    AsOpt,
    JsonOpt,
    Table,
    WorkspaceOpt,
    app,
    client,
    console,
    guard,
)

__all__ = ["forms_app", "projects_app"]

projects_app = typer.Typer(help="Projects (citizen data initiatives).", no_args_is_help=True)
forms_app = typer.Typer(help="XLSForms and their versions.", no_args_is_help=True)
app.add_typer(projects_app, name="projects")
app.add_typer(forms_app, name="forms")



# -- projects -------------------------------------------------------------------------------
@projects_app.command("create")
def projects_create(spec: Annotated[Path, typer.Argument(help="Project spec, YAML or JSON.")],
                    workspace: WorkspaceOpt = DEFAULT_WS, as_user: AsOpt = None) -> None:
    """Create a project from its spec file; you become its owner."""
    def go() -> None:
        info = client(workspace, as_user).create_project(spec)
        verdict = "meets" if info.meets_citizen_data_threshold else "does NOT meet"
        console.print(f"Project [bold]{info.slug}[/] created; it {verdict} the citizen-data "
                      "threshold (design or collection at level 4–5).")
    guard(go)


@projects_app.command("list")
def projects_list(workspace: WorkspaceOpt = DEFAULT_WS, as_user: AsOpt = None,
                  as_json: JsonOpt = False) -> None:
    """List your projects."""
    def go() -> None:
        items = client(workspace, as_user).projects()
        if as_json:
            console.print_json(json.dumps([{"slug": p.slug, "name": p.name, "role": p.role}
                                           for p in items]))
            return
        table = Table("slug", "name", "your role", "citizen data")
        for p in items:
            table.add_row(p.slug, p.name, p.role or "",
                          "yes" if p.meets_citizen_data_threshold else "no")
        console.print(table)
    guard(go, as_json)


@projects_app.command("add-member")
def projects_add_member(project: str, username: str, role: str,
                        workspace: WorkspaceOpt = DEFAULT_WS, as_user: AsOpt = None) -> None:
    """Give a user a role (owner, manager, collector, validator, analyst, viewer)."""
    def go() -> None:
        m = client(workspace, as_user).add_member(project, username, role)
        console.print(f"[bold]{m.username}[/] is now {m.role} in [bold]{project}[/].")
    guard(go)


# -- forms ------------------------------------------------------------------------------------
@forms_app.command("add")
def forms_add(project: str, file: Path, workspace: WorkspaceOpt = DEFAULT_WS,
              as_user: AsOpt = None,
              attachment: Annotated[list[Path] | None, typer.Option(
                  "--attachment", "-a", help="A file the form serves to phones (the CSV of "
                  "select_one_from_file, pulldata or search; label media); repeatable.")] = None
              ) -> None:
    """Upload an XLSForm: a new form, or a new version of an existing one."""
    def go() -> None:
        v = client(workspace, as_user).add_form(project, file, attachments=attachment or [])
        console.print(f"Form [bold]{v.form_id}[/] version [bold]{v.version}[/] "
                      f"({len(v.schema.fields)} fields"
                      + (f", attachments: {', '.join(v.attachments)}" if v.attachments else "")
                      + ").")
        for w in v.warnings:
            console.print(f"  [yellow]warning[/] {w}", highlight=False)
    guard(go)


@forms_app.command("list")
def forms_list(project: str, workspace: WorkspaceOpt = DEFAULT_WS, as_user: AsOpt = None) -> None:
    """List a project's forms, versions and submission counts."""
    def go() -> None:
        table = Table("form id", "title", "versions", "submissions")
        for f in client(workspace, as_user).forms(project):
            table.add_row(f.form_id, f.title, ", ".join(f.versions), str(f.submissions))
        console.print(table)
    guard(go)
