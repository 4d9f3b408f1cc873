"""Command line for public links: anonymous submissions to one form through a revocable URL."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated

import typer
from rich.table import Table

from citizendata.cli._common import DEFAULT_WS, AsOpt, JsonOpt, WorkspaceOpt, app, console
from citizendata.cli._common import client as _client
from citizendata.cli._common import guard as _guard
from citizendata.errors import BadInput, Where

__all__ = ["links_app"]

links_app = typer.Typer(help="Public links: let anyone with a URL fill one form, anonymously "
                             "(owners and managers).", no_args_is_help=True)
app.add_typer(links_app, name="links")


def _expiry(text: str | None) -> datetime | None:
    """YYYY-MM-DD (open through that day, UTC) or an ISO date and time with its zone."""
    if not text:
        return None
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            return datetime.combine(day + timedelta(days=1), time(0, 0), tzinfo=UTC)
        when = datetime.fromisoformat(text)
    except ValueError:
        when = None
    if when is None or when.tzinfo is None:
        raise BadInput("input.invalid", f"Cannot read the expiry {text!r}.",
                       where=Where(field="expires"),
                       fix="Give the last day as YYYY-MM-DD, or a time with its zone "
                           "such as 2027-03-31T18:00:00+03:00.")
    return when


@links_app.command("create")
def links_create(slug: str, form_id: str,
                 name: Annotated[str, typer.Option("--name", help="Where it is shared, e.g. "
                                                   "'Radio Magadi, March'.")],
                 expires: Annotated[str | None, typer.Option(
                     help="Last day it is open (YYYY-MM-DD, UTC), or a time with its zone.")
                 ] = None,
                 max_submissions: Annotated[int | None, typer.Option(
                     "--max", min=1, help="Most submissions it takes.")] = None,
                 base_url: Annotated[str | None, typer.Option(
                     envvar="CITIZENDATA_BASE_URL", help="The server's public URL.")] = None,
                 workspace: WorkspaceOpt = DEFAULT_WS, as_user: AsOpt = None,
                 as_json: JsonOpt = False) -> None:
    """Make a public link to a form; its URL is printed this once (only a hash is kept)."""
    def go() -> None:
        info, token = _client(workspace, as_user).create_public_link(
            slug, form_id, name, expires_at=_expiry(expires), max_submissions=max_submissions)
        url = f"{(base_url or '').rstrip('/')}/f/{token}"
        if as_json:
            console.print_json(data={**info.to_dict(), "token": token, "url": url})
            return
        console.print(f"Public link {info.id} ({info.name}) to {form_id}:", highlight=False)
        console.print(url, highlight=False, soft_wrap=True)
        if not base_url:
            console.print("(prefix it with the server's address, or set "
                          "CITIZENDATA_BASE_URL)", highlight=False)
        console.print("Shown this once: keep it; revoke the link if it is lost.",
                      highlight=False)
    _guard(go, as_json)


@links_app.command("list")
def links_list(slug: str, form_id: Annotated[str | None, typer.Argument(
                   help="One form (default: all the project's)")] = None,
               workspace: WorkspaceOpt = DEFAULT_WS, as_user: AsOpt = None,
               as_json: JsonOpt = False) -> None:
    """The project's public links, newest first (never their URLs)."""
    def go() -> None:
        rows = _client(workspace, as_user).public_links(slug, form_id)
        if as_json:
            console.print_json(data=[link.to_dict() for link in rows])
            return
        table = Table("id", "form", "name", "state", "submissions", "open until", "created by")
        for link in rows:
            cap = f"/{link.max_submissions}" if link.max_submissions else ""
            until = f"{link.expires_at:%Y-%m-%d %H:%M} UTC" if link.expires_at else "–"
            table.add_row(str(link.id), link.form_id, link.name, link.state(),
                          f"{link.submissions}{cap}", until, link.created_by or "")
        console.print(table)
    _guard(go, as_json)


@links_app.command("revoke")
def links_revoke(slug: str, link_id: int, workspace: WorkspaceOpt = DEFAULT_WS,
                 as_user: AsOpt = None) -> None:
    """Switch a public link off for good (what it stored stays)."""
    def go() -> None:
        info = _client(workspace, as_user).revoke_public_link(slug, link_id)
        console.print(f"Public link {info.id} ({info.name}) is switched off; it stored "
                      f"{info.submissions} submission(s).", highlight=False)
    _guard(go)
