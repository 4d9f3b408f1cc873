"""Command line for intake and export: import, submit, export, validate."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Annotated

import typer

from citizendata.cli._common import (
    DEFAULT_WS,
    AsOpt,
    EncodingOpt,
    JsonOpt,
    Table,
    VersionMapOpt,
    WorkspaceOpt,
    app,
    client,
    console,
    counting_bar,
    guard,
    spinner,
)
from citizendata.errors import BadInput, Where

__all__: list[str] = []



# -- intake and export -------------------------------------------------------------------------

@app.command("import")
def import_(project: str, form_id: str, file: Path, workspace: WorkspaceOpt = DEFAULT_WS,
            as_user: AsOpt = None, as_json: JsonOpt = False,
            encoding: EncodingOpt = None, version_map: VersionMapOpt = None) -> None:
    """Import a CSV/XLSX export or ODK Central's zip (KoboToolbox, Central, plain); all or nothing."""
    def go() -> None:
        from citizendata.ingest.exports import parse_version_map

        me = client(workspace, as_user)
        mapping = parse_version_map(version_map or [])
        with spinner() as bar:
            task = bar.add_task(f"importing {file.name}")
            result = me.import_file(project, form_id, file, encoding=encoding, version_map=mapping,
                                    progress=lambda m: bar.update(task, description=m))
        if as_json:
            console.print_json(json.dumps(result.to_dict()))
        else:
            console.print(f"Imported [bold]{result.created}[/] new submission(s); "
                          f"{result.duplicates} already stored (identical resends).")
    guard(go, as_json)


@app.command()
def submit(project: str, form_id: str, file: Path, workspace: WorkspaceOpt = DEFAULT_WS,
           as_user: AsOpt = None) -> None:
    """Submit a JSON file of one submission or an array of them."""
    def go() -> None:
        result = client(workspace, as_user).submit(project, form_id, file.read_bytes())
        console.print(f"{result.created} created, {result.duplicates} duplicate(s).")
    guard(go)


@app.command()
def export(project: str, form_id: str, workspace: WorkspaceOpt = DEFAULT_WS,
           out: Annotated[Path | None, typer.Option(help="Output folder.")] = None,
           include_personal: Annotated[bool, typer.Option(
               help="Keep fields tagged personal (needs a role that may see them).")] = False,
           attachments: Annotated[bool, typer.Option(
               help="Also write the submissions' photos, audio and other files into "
                    "OUT/attachments, with index.csv and missing.csv (needs --out).")] = False,
           decrypt: Annotated[bool, typer.Option(
               help="Decrypt the form's encrypted submissions too (asks the passphrase; "
                    "needs --out).")] = False,
           passphrase: Annotated[str | None, typer.Option(
               help="The passphrase for --decrypt (better: the prompt, or "
                    "CITIZENDATA_PASSPHRASE).")] = None,
           as_user: AsOpt = None) -> None:
    """Write a typed Parquet snapshot of a form's submissions (all versions)."""
    def go() -> None:
        if attachments and out is None:
            raise BadInput("input.invalid", "--attachments writes into the snapshot folder "
                           "you give: add --out FOLDER.", where=Where(field="--out"))
        me = client(workspace, as_user)
        if decrypt or passphrase:
            from citizendata.cli.encryption import decrypted_export

            info = decrypted_export(me, project, form_id, out, passphrase, include_personal)
        else:
            total = me.form(project, form_id).submissions
            with counting_bar() as bar:
                task = bar.add_task("snapshot", total=total)
                info = me.snapshot(project, form_id, out, include_personal=include_personal,
                                   progress=lambda n: bar.advance(task, n))
        table = Table("table", "rows", "columns", "file")
        for name, t in info.tables.items():
            table.add_row(name, f"{t.rows:,}", str(len(t.columns)), str(t.file))
        console.print(table)
        console.print(f"in {info.path}", soft_wrap=True)
        if attachments:
            got = me.export_attachments(project, form_id, Path(info.path) / "attachments",
                                        include_personal=include_personal)
            console.print(f"{got.written:,} attachment(s), {got.bytes:,} bytes; "
                          f"{got.missing:,} expected but not sent (missing.csv); "
                          f"{got.withheld:,} withheld as personal data; in {got.folder}",
                          soft_wrap=True)
    guard(go)


@app.command("approve-clean")
def approve_clean(project: str, form_id: str, workspace: WorkspaceOpt = DEFAULT_WS,
                  as_user: AsOpt = None, as_json: JsonOpt = False,
                  dry_run: Annotated[bool, typer.Option(
                      "--dry-run", help="Only count what would be approved.")] = False) -> None:
    """Approve every submission the latest validation found without errors (and in no
    undecided duplicate pair); the rest stay for a reviewer."""
    def go() -> None:
        done = client(workspace, as_user).approve_clean(project, form_id, dry_run=dry_run)
        if as_json:
            console.print_json(data=dataclasses.asdict(done))
            return
        verb = "would approve" if dry_run else "approved"
        console.print(f"{form_id}: {verb} {done.approved:,} submission(s) (validation run "
                      f"{done.run_id}); kept back: {done.with_errors:,} with errors, "
                      f"{done.duplicates:,} in undecided duplicate pairs, {done.unchecked:,} "
                      "received after the run.")
    guard(go, as_json)


@app.command()
def validate(project: str, form_id: str, workspace: WorkspaceOpt = DEFAULT_WS,
             as_user: AsOpt = None, as_json: JsonOpt = False,
             show: Annotated[int, typer.Option(
                 help="Also list this many findings, errors first.")] = 0) -> None:
    """Check every submission of a form on the server; store and summarise the findings."""
    def go() -> None:
        me = client(workspace, as_user)
        total = me.form(project, form_id).submissions
        with counting_bar() as bar:
            task = bar.add_task("reading submissions", total=total)
            report = me.validate(project, form_id, progress=lambda n: bar.advance(task, n))
        summary = me.findings_summary(project, form_id)
        if as_json:
            console.print_json(data={"report": dataclasses.asdict(report), "rules": summary})
            return
        table = Table("rule", "kind", "severity", "findings", "submissions",
                      title=f"{form_id}: {report.submissions:,} submissions, {report.rules} "
                            f"rules, {report.findings:,} findings in {report.seconds:.1f} s")
        for r in summary:
            table.add_row(r["rule"], r["kind"], r["severity"], f"{r['findings']:,}",
                          f"{r['submissions']:,}")
        console.print(table)
        console.print(f"{report.submissions_with_errors:,} submission(s) with errors; "
                      f"{report.moved_to_has_issues:,} moved to has_issues; "
                      f"{report.duplicate_pairs:,} duplicate pair(s) to review.")
        for line in report.skipped:
            console.print(f"[yellow]not checked:[/yellow] {line}")
        if show:
            rows, _ = me.findings(project, form_id, limit=show)
            listing = Table("instance id", "item", "rule", "severity", "message")
            for f in sorted(rows, key=lambda f: f["severity"] != "error"):
                listing.add_row(f["instance_id"], f["item"] or "", f["rule"], f["severity"],
                                f["message"])
            console.print(listing)
    guard(go)
