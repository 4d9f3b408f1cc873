"""Command line: cases from several lists, their verification, linkage and estimates.

``citizendata cases import|list|verify|history|link|review|decide|estimate|series``:
the Client calls of integrate/cases_client.py, with the same permission checks.
Names are printed only for a user whose role may see personal data.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from citizendata.cli._common import (
    DEFAULT_WS,
    AsOpt,
    EncodingOpt,
    JsonOpt,
    Table,
    WorkspaceOpt,
    app,
    client,
    console,
    fmt,
    guard,
    print_json,
)

__all__ = ["cases_app"]

cases_app = typer.Typer(help="Cases reported by several lists: import, verify, link, estimate "
                        "the uncounted (SDG 16.10.1).", no_args_is_help=True)
app.add_typer(cases_app, name="cases")


@cases_app.command("import")
def import_list(project: str, list_name: Annotated[str, typer.Argument(
                    help="The list's short name in the project spec (e.g. fiscalia).")],
                file: Annotated[Path, typer.Argument(help="The organisation's CSV or XLSX.")],
                encoding: EncodingOpt = None, workspace: WorkspaceOpt = DEFAULT_WS,
                as_user: AsOpt = None, as_json: JsonOpt = False) -> None:
    """Import an organisation's list in its own layout, all or nothing (again: no change)."""
    def go() -> None:
        got = client(workspace, as_user).import_case_list(project, list_name, file,
                                                          encoding=encoding)
        if as_json:
            print_json(got)
            return
        console.print(f"{got['list']}: {got['imported']} imported, {got['unchanged']} "
                      f"unchanged, {got['total']} in the file", highlight=False)
    guard(go, as_json)


@cases_app.command("list")
def list_cases(project: str,
               list_name: Annotated[str | None, typer.Option("--list",
                                                             help="Only this list.")] = None,
               status: Annotated[str | None, typer.Option(
                   help="reported, verified or not_verified")] = None,
               limit: int = 50, offset: int = 0, workspace: WorkspaceOpt = DEFAULT_WS,
               as_user: AsOpt = None, as_json: JsonOpt = False) -> None:
    """A page of cases with their verification status."""
    def go() -> None:
        page = client(workspace, as_user).cases(project, list=list_name, status=status,
                                                limit=limit, offset=offset)
        if as_json:
            print_json(page)
            return
        rows = page["rows"]
        cols = [c for c in ("key", "violation", "event_date", "department",
                            "victim_given_names", "victim_surnames", "status", "instance_id")
                if not rows or c in rows[0]]
        table = Table(*cols, title=f"{page['total']} case(s)")
        for r in rows:
            table.add_row(*[str(r.get(c) or "") for c in cols])
        console.print(table)
    guard(go, as_json)


def _status(got: dict[str, Any]) -> None:
    table = Table("at", "by", "decision", "criteria", title=f"{got['instance_id']}: "
                                                              f"{got['status']}")
    for h in got["history"]:
        table.add_row(h["at"][:19], h["actor"], h["decision"], ", ".join(h["criteria"]))
    console.print(table)


@cases_app.command("verify")
def verify(project: str, instance_id: str,
           decision: Annotated[str, typer.Argument(help="verified or not_verified")],
           criteria: Annotated[str, typer.Option(
               help="Codes of the criteria met, joined by commas.")] = "",
           evidence: Annotated[str, typer.Option(help="What the case was checked against.")] = "",
           note: str = "", workspace: WorkspaceOpt = DEFAULT_WS, as_user: AsOpt = None,
           as_json: JsonOpt = False) -> None:
    """Record a validator's decision on a case against the written criteria."""
    def go() -> None:
        got = client(workspace, as_user).verify_case(
            project, instance_id, decision,
            criteria=[c.strip() for c in criteria.split(",") if c.strip()],
            evidence=evidence, note=note)
        print_json(got) if as_json else _status(got)
    guard(go, as_json)


@cases_app.command("history")
def history(project: str, instance_id: str, workspace: WorkspaceOpt = DEFAULT_WS,
            as_user: AsOpt = None, as_json: JsonOpt = False) -> None:
    """A case's status and every decision on it."""
    def go() -> None:
        got = client(workspace, as_user).case_verification(project, instance_id)
        print_json(got) if as_json else _status(got)
    guard(go, as_json)


@cases_app.command("link")
def link(project: str, workspace: WorkspaceOpt = DEFAULT_WS, as_user: AsOpt = None,
         as_json: JsonOpt = False) -> None:
    """Link the case records into victims; the counts, clusters and review queue size."""
    def go() -> None:
        got = client(workspace, as_user).link_cases(project)
        if as_json:
            print_json(got)
            return
        console.print(f"{got['records']} records, {got['pairs']} scored pairs; "
                      f"{got['clusters']} victims at threshold {got['threshold']}; "
                      f"{got['review']} pair(s) await review", highlight=False)
    guard(go, as_json)


@cases_app.command("review")
def review(project: str, limit: int = 10, workspace: WorkspaceOpt = DEFAULT_WS,
           as_user: AsOpt = None, as_json: JsonOpt = False) -> None:
    """Pairs awaiting a clerical decision, both records side by side."""
    def go() -> None:
        got = client(workspace, as_user).link_review_queue(project, limit=limit)
        if as_json:
            print_json(got)
            return
        for p in got["pairs"]:
            cols = list(p["left"])
            table = Table("field", p["left_key"], p["right_key"],
                          title=f"p = {p['match_probability']:.3f}")
            for c in cols:
                table.add_row(c, str(p["left"][c] or ""), str(p["right"][c] or ""))
            console.print(table)
        console.print(f"{got['total']} pair(s) await review", highlight=False)
    guard(go, as_json)


@cases_app.command("decide")
def decide(project: str, left_key: str, right_key: str,
           decision: Annotated[str, typer.Argument(help="match, non_match or unsure")],
           note: str = "", workspace: WorkspaceOpt = DEFAULT_WS, as_user: AsOpt = None,
           as_json: JsonOpt = False) -> None:
    """Record a clerical decision on a pair of records (keys list:record_id)."""
    def go() -> None:
        got = client(workspace, as_user).decide_link(project, left_key, right_key, decision,
                                                     note=note)
        if as_json:
            print_json(got)
            return
        console.print(f"{got['left_key']} / {got['right_key']}: {got['decision']}",
                      highlight=False)
    guard(go, as_json)


@cases_app.command("estimate")
def estimate(project: str, indicator: str, workspace: WorkspaceOpt = DEFAULT_WS,
             as_user: AsOpt = None, as_json: JsonOpt = False) -> None:
    """The documented count and the estimate of all victims, per stratum and in total."""
    def go() -> None:
        got = client(workspace, as_user).estimate_uncounted(project, indicator)
        if as_json:
            print_json(got)
            return
        table = Table("stratum", "documented", "estimate", f"{got['confidence']:.0%} interval",
                      title=f"{got['series']}: {got['title'] or indicator}")
        for r in got["table"]:
            hidden = r["conf_status"] != "F"
            table.add_row(r["stratum"], "hidden" if hidden else fmt(r["documented"], 0),
                          "hidden" if hidden else fmt(r["estimate"], 0),
                          "" if hidden else f"{fmt(r['ci_low'], 0)} – {fmt(r['ci_high'], 0)}")
        console.print(table)
        for s in got["sensitivity"]:
            console.print(f"threshold {s['threshold']:g}: documented {s['documented']}, "
                          f"estimate {fmt(s['estimate'], 0)}", highlight=False)
    guard(go, as_json)


@cases_app.command("series")
def series(project: str, out: Annotated[Path, typer.Option(
               help="SDMX-CSV file to write (the kind's rows).")],
           kind: Annotated[str, typer.Option(help="estimated or documented")] = "estimated",
           workspace: WorkspaceOpt = DEFAULT_WS, as_user: AsOpt = None) -> None:
    """Write the SDG series (VC_VAW_MTUHRA, VC_VOC_ENFDIS) as SDMX-CSV."""
    def go() -> None:
        from citizendata.publish.mse_series import series_csv

        text = series_csv(client(workspace, as_user).mse_series(project), kind)
        out.write_text(text, encoding="utf-8")
        console.print(f"wrote {out} ({text.count(chr(10)) - 1} observation(s))", highlight=False)
    guard(go)
