"""Command line for the workspace itself: init, database migrations, users and tokens."""

from __future__ import annotations

from typing import Annotated

import typer

from citizendata.cli._common import DEFAULT_WS, AsOpt, WorkspaceOpt, app, client, console, guard
from citizendata.cli._common import open_workspace as _open
from citizendata.cli._common import password as _password

__all__ = ["db_app", "users_app"]

db_app = typer.Typer(help="Database migrations.", no_args_is_help=True)
users_app = typer.Typer(help="Users and API tokens.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(users_app, name="users")



# -- workspace and database ------------------------------------------------------------
@app.command()
def init(workspace: WorkspaceOpt = DEFAULT_WS,
         admin: Annotated[str, typer.Option(help="The first administrator's user name.")] = "admin",
         password: Annotated[str | None, typer.Option(help="Their password (or prompt).")] = None
         ) -> None:
    """Create a workspace (database migrated) and its first administrator."""
    def go() -> None:
        ws = _open(workspace)
        if ws.has_users():
            console.print(f"Workspace {workspace} already initialised.")
            return
        ws.create_admin(admin, _password(password))
        console.print(f"Workspace [bold]{workspace}[/] ready; administrator [bold]{admin}[/].")
    guard(go)


@db_app.command("upgrade")
def db_upgrade(workspace: WorkspaceOpt = DEFAULT_WS) -> None:
    """Apply the database migrations (also done automatically on start)."""
    def go() -> None:
        from citizendata.config import get_settings
        from citizendata.store.engine import make_engine
        from citizendata.store.migrate import upgrade

        settings = get_settings(workspace=workspace)
        if settings.is_sqlite:
            workspace.mkdir(parents=True, exist_ok=True)
        rev = upgrade(make_engine(settings.resolved_database_url))
        console.print(f"Database at revision [bold]{rev}[/].")
    guard(go)


@db_app.command("current")
def db_current(workspace: WorkspaceOpt = DEFAULT_WS) -> None:
    """Show the database's migration revision and the newest one shipped."""
    from citizendata.config import get_settings
    from citizendata.store.engine import make_engine
    from citizendata.store.migrate import current_revision, head_revision

    settings = get_settings(workspace=workspace)
    rev = current_revision(make_engine(settings.resolved_database_url))
    console.print(f"current: {rev}   newest: {head_revision()}")


# -- users ---------------------------------------------------------------------------------
@users_app.command("add")
def users_add(username: str, workspace: WorkspaceOpt = DEFAULT_WS, as_user: AsOpt = None,
              password: Annotated[str | None, typer.Option()] = None,
              admin: Annotated[bool, typer.Option("--admin")] = False,
              display_name: Annotated[str | None, typer.Option()] = None) -> None:
    """Create a user (acting as an administrator)."""
    def go() -> None:
        me = client(workspace, as_user)
        me.create_user(username, _password(password), display_name=display_name, is_admin=admin)
        console.print(f"User [bold]{username}[/] created.")
    guard(go)


@users_app.command("token")
def users_token(username: str, name: Annotated[str, typer.Option(help="A label.")] = "cli",
                workspace: WorkspaceOpt = DEFAULT_WS) -> None:
    """Create an API token for a user (printed once)."""
    def go() -> None:
        token = _open(workspace).as_user(username).create_token(name)
        console.print(token, highlight=False)
    guard(go)


@users_app.command("revoke-tokens")
def users_revoke_tokens(username: str, name: Annotated[str | None, typer.Option(
        help="Only tokens with this label.")] = None,
                        workspace: WorkspaceOpt = DEFAULT_WS) -> None:
    """Revoke a user's API tokens."""
    guard(lambda: console.print(
        f"{_open(workspace).as_user(username).revoke_tokens(name)} token(s) revoked."))
