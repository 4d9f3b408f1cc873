"""The `citizendata` command line: a thin layer over the library (Workspace and Client)."""

from __future__ import annotations

import dataclasses
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from citizendata.errors import BadInput, CitizenDataError, Where

__all__ = ["app", "main"]

T = TypeVar("T")

app = typer.Typer(name="citizendata", no_args_is_help=True, add_completion=False,
                  help="Citizen data from collection to official statistics.")
db_app = typer.Typer(help="Database migrations.", no_args_is_help=True)
users_app = typer.Typer(help="Users and API tokens.", no_args_is_help=True)
projects_app = typer.Typer(help="Projects (citizen data initiatives).", no_args_is_help=True)
forms_app = typer.Typer(help="XLSForms and their versions.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(users_app, name="users")
app.add_typer(projects_app, name="projects")
app.add_typer(forms_app, name="forms")

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


def _open(workspace: Path) -> Any:
    from citizendata.workspace import Workspace

    return Workspace.open(workspace)


def _client(workspace: Path, as_user: str | None) -> Any:
    ws = _open(workspace)
    if as_user is None:
        as_user = _first_admin(ws)
    return ws.as_user(as_user)


def _first_admin(ws: Any) -> str:
    from sqlalchemy import select

    from citizendata.store.models import User

    with ws.transaction() as db:
        name = db.scalar(select(User.username).where(User.is_admin.is_(True)).order_by(User.id))
    if name is None:
        raise BadInput("workspace.missing", "This workspace has no administrator yet.",
                       fix="Run 'citizendata init' first.")
    return str(name)


def _report(exc: CitizenDataError, as_json: bool) -> None:
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


def _guard(fn: Callable[[], T], as_json: bool = False) -> T:
    try:
        return fn()
    except CitizenDataError as exc:
        _report(exc, as_json)
        raise typer.Exit(2 if exc.http_status < 500 else 1) from None


def _password(value: str | None, env: str = "CITIZENDATA_PASSWORD") -> str:
    if value:
        return value
    if os.environ.get(env):
        return os.environ[env]
    if not sys.stdin.isatty():
        raise BadInput("input.invalid", f"No password given; pass --password or set {env}.")
    return str(typer.prompt("Password", hide_input=True, confirmation_prompt=True))


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
    _guard(go)


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
    _guard(go)


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
        me = _client(workspace, as_user)
        me.create_user(username, _password(password), display_name=display_name, is_admin=admin)
        console.print(f"User [bold]{username}[/] created.")
    _guard(go)


@users_app.command("token")
def users_token(username: str, name: Annotated[str, typer.Option(help="A label.")] = "cli",
                workspace: WorkspaceOpt = DEFAULT_WS) -> None:
    """Create an API token for a user (printed once)."""
    def go() -> None:
        token = _open(workspace).as_user(username).create_token(name)
        console.print(token, highlight=False)
    _guard(go)


@users_app.command("revoke-tokens")
def users_revoke_tokens(username: str, name: Annotated[str | None, typer.Option(
        help="Only tokens with this label.")] = None,
                        workspace: WorkspaceOpt = DEFAULT_WS) -> None:
    """Revoke a user's API tokens."""
    _guard(lambda: console.print(
        f"{_open(workspace).as_user(username).revoke_tokens(name)} token(s) revoked."))


# -- projects -------------------------------------------------------------------------------
@projects_app.command("create")
def projects_create(spec: Annotated[Path, typer.Argument(help="Project spec, YAML or JSON.")],
                    workspace: WorkspaceOpt = DEFAULT_WS, as_user: AsOpt = None) -> None:
    """Create a project from its spec file; you become its owner."""
    def go() -> None:
        info = _client(workspace, as_user).create_project(spec)
        verdict = "meets" if info.meets_citizen_data_threshold else "does NOT meet"
        console.print(f"Project [bold]{info.slug}[/] created; it {verdict} the citizen-data "
                      "threshold (design or collection at level 4–5).")
    _guard(go)


@projects_app.command("list")
def projects_list(workspace: WorkspaceOpt = DEFAULT_WS, as_user: AsOpt = None,
                  as_json: JsonOpt = False) -> None:
    """List your projects."""
    def go() -> None:
        items = _client(workspace, as_user).projects()
        if as_json:
            console.print_json(json.dumps([{"slug": p.slug, "name": p.name, "role": p.role}
                                           for p in items]))
            return
        table = Table("slug", "name", "your role", "citizen data")
        for p in items:
            table.add_row(p.slug, p.name, p.role or "",
                          "yes" if p.meets_citizen_data_threshold else "no")
        console.print(table)
    _guard(go, as_json)


@projects_app.command("add-member")
def projects_add_member(project: str, username: str, role: str,
                        workspace: WorkspaceOpt = DEFAULT_WS, as_user: AsOpt = None) -> None:
    """Give a user a role (owner, manager, collector, validator, analyst, viewer)."""
    def go() -> None:
        m = _client(workspace, as_user).add_member(project, username, role)
        console.print(f"[bold]{m.username}[/] is now {m.role} in [bold]{project}[/].")
    _guard(go)


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
        v = _client(workspace, as_user).add_form(project, file, attachments=attachment or [])
        console.print(f"Form [bold]{v.form_id}[/] version [bold]{v.version}[/] "
                      f"({len(v.schema.fields)} fields"
                      + (f", attachments: {', '.join(v.attachments)}" if v.attachments else "")
                      + ").")
        for w in v.warnings:
            console.print(f"  [yellow]warning[/] {w}", highlight=False)
    _guard(go)


@forms_app.command("list")
def forms_list(project: str, workspace: WorkspaceOpt = DEFAULT_WS, as_user: AsOpt = None) -> None:
    """List a project's forms, versions and submission counts."""
    def go() -> None:
        table = Table("form id", "title", "versions", "submissions")
        for f in _client(workspace, as_user).forms(project):
            table.add_row(f.form_id, f.title, ", ".join(f.versions), str(f.submissions))
        console.print(table)
    _guard(go)


# -- intake and export -------------------------------------------------------------------------
def _counting_bar() -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), TextColumn(
        "{task.completed:,}/{task.total:,}"), TimeElapsedColumn(), console=err_console,
        transient=True)


def _spinner() -> Progress:
    return Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(),
                    console=err_console, transient=True)


@app.command("import")
def import_(project: str, form_id: str, file: Path, workspace: WorkspaceOpt = DEFAULT_WS,
            as_user: AsOpt = None, as_json: JsonOpt = False,
            encoding: EncodingOpt = None, version_map: VersionMapOpt = None) -> None:
    """Import a CSV/XLSX export or ODK Central's zip (KoboToolbox, Central, plain); all or nothing."""
    def go() -> None:
        from citizendata.ingest.exports import parse_version_map

        me = _client(workspace, as_user)
        mapping = parse_version_map(version_map or [])
        with _spinner() as bar:
            task = bar.add_task(f"importing {file.name}")
            result = me.import_file(project, form_id, file, encoding=encoding, version_map=mapping,
                                    progress=lambda m: bar.update(task, description=m))
        if as_json:
            console.print_json(json.dumps(result.to_dict()))
        else:
            console.print(f"Imported [bold]{result.created}[/] new submission(s); "
                          f"{result.duplicates} already stored (identical resends).")
    _guard(go, as_json)


@app.command()
def submit(project: str, form_id: str, file: Path, workspace: WorkspaceOpt = DEFAULT_WS,
           as_user: AsOpt = None) -> None:
    """Submit a JSON file of one submission or an array of them."""
    def go() -> None:
        result = _client(workspace, as_user).submit(project, form_id, file.read_bytes())
        console.print(f"{result.created} created, {result.duplicates} duplicate(s).")
    _guard(go)


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
        me = _client(workspace, as_user)
        if decrypt or passphrase:
            from citizendata.cli_encryption import decrypted_export

            info = decrypted_export(me, project, form_id, out, passphrase, include_personal)
        else:
            total = me.form(project, form_id).submissions
            with _counting_bar() as bar:
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
    _guard(go)


@app.command()
def validate(project: str, form_id: str, workspace: WorkspaceOpt = DEFAULT_WS,
             as_user: AsOpt = None, as_json: JsonOpt = False,
             show: Annotated[int, typer.Option(
                 help="Also list this many findings, errors first.")] = 0) -> None:
    """Check every submission of a form on the server; store and summarise the findings."""
    def go() -> None:
        me = _client(workspace, as_user)
        total = me.form(project, form_id).submissions
        with _counting_bar() as bar:
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
    _guard(go)


# -- estimation ---------------------------------------------------------------------------------
reference_app = typer.Typer(help="Official reference tables: census margins, geographies, "
                            "area boundaries.",
                            no_args_is_help=True)
app.add_typer(reference_app, name="reference")


@reference_app.command("add")
def reference_add(project: str, name: str, file: Path,
                  kind: Annotated[str, typer.Option(
                      help="margins, geography, boundaries (GeoJSON) or other.")] = "other",
                  note: Annotated[str, typer.Option(help="Where the table comes from.")] = "",
                  replace: Annotated[bool, typer.Option(help="Replace a table of that name.")] = False,
                  workspace: WorkspaceOpt = DEFAULT_WS, as_user: AsOpt = None,
                  encoding: EncodingOpt = None) -> None:
    """Store a reference table (CSV, or GeoJSON boundaries) for weighting, roll-ups, maps."""
    def go() -> None:
        info = _client(workspace, as_user).add_reference_table(project, name, file, kind=kind,
                                                              note=note, replace=replace,
                                                              encoding=encoding)
        console.print(f"reference table {info['name']!r}: {info['rows']:,} rows, columns "
                      f"{', '.join(info['columns'])}; sha256 {info['sha256'][:16]}…")
    _guard(go)


@reference_app.command("list")
def reference_list(project: str, workspace: WorkspaceOpt = DEFAULT_WS, as_user: AsOpt = None
                   ) -> None:
    """List the project's reference tables."""
    def go() -> None:
        table = Table("name", "kind", "rows", "columns", "sha256", "added by")
        for r in _client(workspace, as_user).reference_tables(project):
            table.add_row(r["name"], r["kind"], f"{r['rows']:,}", ", ".join(r["columns"]),
                          r["sha256"][:16] + "…", r["added_by"])
        console.print(table)
    _guard(go)


def _fmt(v: Any, digits: int = 1) -> str:
    # pandas' NA (a blanked count) without importing pandas for every command
    missing = v is None or type(v).__name__ == "NAType" or (isinstance(v, float) and v != v)
    return "–" if missing else f"{v:,.{digits}f}"


@app.command()
def estimate(project: str, indicator: str, workspace: WorkspaceOpt = DEFAULT_WS,
             as_user: AsOpt = None, as_json: JsonOpt = False,
             by: Annotated[list[str] | None, typer.Option(
                 help="A disaggregation, dimensions joined by commas (repeatable); default: "
                      "the indicator's own.")] = None,
             depth: Annotated[int, typer.Option(
                 help="Show cells crossing up to this many dimensions (all go to --out).")] = 1,
             variance: Annotated[str, typer.Option(
                 help="linearisation or bootstrap.")] = "linearisation",
             replicates: Annotated[int, typer.Option(help="Bootstrap replicates.")] = 200,
             out: Annotated[Path | None, typer.Option(
                 help="Write every estimate to this CSV file.")] = None,
             purpose: Annotated[str, typer.Option(
                 help="The use, which respondents' consent must cover: analysis, publication "
                      "or nso_sharing.")] = "analysis",
             unprotected: Annotated[bool, typer.Option(
                 "--unprotected", help="Skip disclosure control (owners and managers only; "
                                       "never for publication).")] = False) -> None:
    """Estimate an indicator for every cell of its disaggregations, with SEs, CIs and flags.

    The table passes the project's disclosure control: cells below the threshold and
    the cells that would give them away are blanked and marked.
    """
    def go() -> None:
        me = _client(workspace, as_user)
        dis = [[d.strip() for d in b.split(",") if d.strip()] for b in by] if by else None
        with _spinner() as bar:
            bar.add_task(f"estimating {indicator}", total=None)
            result = me.estimate(project, indicator, disaggregations=dis, variance=variance,
                                 replicates=replicates, purpose=purpose,
                                 protect=not unprotected)
        if out is not None:
            result.table.to_csv(out, index=False)
        if as_json:
            console.print_json(data=result.to_dict())
            return
        _print_estimate(result, depth, out)
    _guard(go)


_STATUS = {"F": "", "C": "suppressed", "D": "suppressed (secondary)"}


def _print_estimate(result: Any, depth: int, out: Path | None) -> None:
    import pandas as pd

    from citizendata.stats import TOTAL

    ind, t, dims = result.indicator, result.table, result.dims
    shown = t[sum((t[d] != TOTAL).astype(int) for d in dims) <= depth] if dims else t
    title = (f"{ind.id}: {ind.name or ind.kind}" + (f" [{ind.series}]" if ind.series else "")
             + f" — {len(t):,} cells, {result.seconds:.1f} s")
    status = "conf_status" in t.columns
    table = Table(*dims, "estimate", "SE", "95% CI", "CV %", "n", "flag",
                  *(["status"] if status else []), title=title)
    for _, r in shown.iterrows():
        shown_ci = "–" if pd.isna(r["ci_low"]) else f"{_fmt(r['ci_low'])}–{_fmt(r['ci_high'])}"
        table.add_row(*[str(r[d]) for d in dims], _fmt(r["value"]), _fmt(r["se"], 2), shown_ci,
                      _fmt(100 * r["cv"]), _fmt(r["n"], 0),
                      "" if pd.isna(r["flag"]) else str(r["flag"]),
                      *([_STATUS.get(str(r["conf_status"]), str(r["conf_status"]))]
                        if status else []))
    console.print(table)
    p, detail = result.protection, result.protection_detail
    if p and detail:  # for those who may see unprotected figures
        console.print(f"protection: {detail.get('primary', 0):,} cell(s) below the rules and "
                      f"{detail.get('secondary', 0):,} more that would give them away are "
                      f"suppressed (threshold {p.get('rules', {}).get('threshold', '?')} on "
                      f"{p.get('count')}; method {p.get('method')}).")
    elif p:
        console.print(f"protection: {p.get('suppressed', 0):,} cell(s) suppressed under the "
                      f"threshold of {p.get('rules', {}).get('threshold', '?')} on "
                      f"{p.get('count')}, all flagged alike.")
    else:
        console.print("[bold yellow]unprotected[/]: for the project's own eyes only.")
    first = t.iloc[0]
    console.print(f"variance: {first['variance_method']}; interval: {first['ci_method']}; "
                  f"flags: low_n below the minimum n, caution/unreliable by CV. "
                  f"{result.counts.get('missing', 0):,} unit(s) left out for a missing answer.")
    w = result.weighting
    if w:
        d = w.get("diagnostics", {})
        r_ind = d.get("r_indicator", {}) or {}
        console.print(f"weighting: {w.get('method')} to {w.get('reference')!r}, converged "
                      f"{w.get('converged')} in {w.get('iterations')} iterations; Kish deff "
                      f"{_fmt(d.get('kish_deff'), 2)}, effective n {_fmt(d.get('effective_n'), 0)}"
                      f" of {d.get('n', 0):,}; largest margin gap after "
                      f"{_fmt(100 * (d.get('max_abs_rel_diff_after') or 0), 4)}%; R-indicator "
                      f"{_fmt(r_ind.get('R'), 3)}; {w.get('units_dropped_missing', 0)} unit(s) "
                      "without a calibration variable left out.")
    else:
        console.print("unweighted: the respondents as they are (no weighting declared).")
    c = result.coherence
    if c:
        console.print(f"benchmark: {_fmt(c['benchmark'])} ({c['benchmark_source']}, "
                      f"{c['benchmark_year']}); difference {_fmt(c['difference'])} "
                      f"(95% CI {_fmt(c['ci_low'])} to {_fmt(c['ci_high'])}), p = "
                      f"{c['p_value']:.3g}; {c['assumption']}.")
    if out is not None:
        console.print(f"all {len(t):,} estimates written to {out}")


# -- server and demo ---------------------------------------------------------------------------
@app.command()
def serve(workspace: WorkspaceOpt = DEFAULT_WS,
          host: Annotated[str | None, typer.Option()] = None,
          port: Annotated[int | None, typer.Option()] = None,
          workers: Annotated[int, typer.Option(
              help="Server processes (for PostgreSQL; SQLite has one writer anyway).")] = 1
          ) -> None:
    """Run the web server (API, OpenRosa endpoints, pages)."""
    _guard(lambda: _serve(_open(workspace), host, port, workers))


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
    _guard(go)


# the protection and quality commands register themselves on ``app``
from citizendata import (  # noqa: E402,F401
    cli_encryption,
    cli_jobs,
    cli_orgs,
    cli_privacy,
    cli_quality,
    cli_release,
)


def main() -> None:
    """Entry point of the `citizendata` command."""
    app()


if __name__ == "__main__":
    main()
