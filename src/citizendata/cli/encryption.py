"""Command line for encrypted forms: managed keys, private keys, decrypting exports.

A passphrase is read from a hidden prompt, or from CITIZENDATA_PASSPHRASE where no one
types (scripts); ``--passphrase`` on the command line works but shows in the process
list and the shell history.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated, Any

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
from citizendata.errors import BadInput

__all__ = ["decrypted_export", "encryption_app", "passphrase"]

encryption_app = typer.Typer(help="Encrypted forms (ODK encryption): keys and passphrases.",
                             no_args_is_help=True)
app.add_typer(encryption_app, name="encryption")
ENV = "CITIZENDATA_PASSPHRASE"
PassOpt = Annotated[str | None, typer.Option(
    "--passphrase", help=f"The passphrase (better: the prompt, or {ENV}).")]


def passphrase(value: str | None, *, confirm: bool = False) -> str:
    """The passphrase from the option, the environment, or a hidden prompt."""
    if value:
        return value
    if os.environ.get(ENV):
        return os.environ[ENV]
    if not sys.stdin.isatty():
        raise BadInput("input.invalid", f"No passphrase given; set {ENV} or answer the prompt.")
    return str(typer.prompt("Passphrase", hide_input=True, confirmation_prompt=confirm))


@encryption_app.command("enable")
def enable(project: str, hint: Annotated[str | None, typer.Option(
               help="A reminder of the passphrase, shown to the project's members")] = None,
           secret: PassOpt = None, workspace: WorkspaceOpt = DEFAULT_WS,
           as_user: AsOpt = None) -> None:
    """Managed encryption: forms are served with the project's new public key."""
    def go() -> None:
        key = client(workspace, as_user).enable_encryption(
            project, passphrase(secret, confirm=True), hint)
        console.print(f"Encryption enabled for {project}; key {key.fingerprint[:16]}…. Phones "
                      "encrypt once they fetch the forms again. Without the passphrase the "
                      "encrypted submissions can never be read.")
    guard(go)


@encryption_app.command("register-key")
def register_key(project: str, private_key: Path, secret: PassOpt = None,
                 hint: Annotated[str | None, typer.Option(help="A passphrase reminder")] = None,
                 workspace: WorkspaceOpt = DEFAULT_WS, as_user: AsOpt = None) -> None:
    """Keep the PEM private key of a form's own public_key, sealed under a passphrase."""
    def go() -> None:
        key = client(workspace, as_user).register_private_key(
            project, private_key.read_bytes(), passphrase(secret, confirm=True), hint)
        console.print(f"Private key {key.fingerprint[:16]}… registered for "
                      f"{', '.join(key.forms)}. You may now delete the PEM file.")
    guard(go)


@encryption_app.command("status")
def status(project: str, workspace: WorkspaceOpt = DEFAULT_WS, as_user: AsOpt = None,
           as_json: JsonOpt = False) -> None:
    """The project's keys and the encrypted submissions each form holds."""
    def go() -> None:
        info = client(workspace, as_user).encryption_status(project)
        if as_json:
            console.print_json(data=info)
            return
        table = Table("key", "managed", "private key", "forms")
        for k in info["keys"]:
            table.add_row(k["fingerprint"][:16], "yes" if k["managed"] else "no",
                          "held" if k["has_private_key"] else "missing",
                          ", ".join(k["forms"]) or ("all" if k["managed"] else ""))
        console.print(table)
        for form_id, n in info["encrypted_submissions"].items():
            console.print(f"{form_id}: {n} encrypted submission(s)")
    guard(go, as_json)


def decrypted_export(me: Any, project: str, form_id: str, out: Path | None, secret: str | None,
                     include_personal: bool) -> Any:
    """`citizendata export --decrypt`: the snapshot with encrypted submissions decrypted."""
    if out is None:
        raise BadInput("input.invalid", "A decrypted export needs --out: decrypted data are "
                       "written only where you ask.")
    report = me.snapshot_decrypted(project, form_id, out, passphrase(secret),
                                   include_personal=include_personal)
    console.print(f"{report.decrypted} encrypted submission(s) decrypted"
                  + (f", {report.left_out} left out (consent withdrawn or erased)"
                     if report.left_out else ""))
    for p in report.problems:
        console.print(f"  [yellow]{p}[/]", highlight=False)
    return report.info
