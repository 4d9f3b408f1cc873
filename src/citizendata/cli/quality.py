"""Command line for the quality record: show it, attest a dimension, decide fitness."""

from __future__ import annotations

from datetime import date
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

__all__ = ["quality_app"]

quality_app = typer.Typer(help="Quality: engagement record, gateway, scorecard, fitness.",
                          no_args_is_help=True)
app.add_typer(quality_app, name="quality")

FormOpt = Annotated[str | None, typer.Option("--form", help="The form (dataset); needed when "
                                             "the project has several.")]
IndicatorOpt = Annotated[str | None, typer.Option("--indicator", help="Score this indicator too.")]


@quality_app.command("show")
def quality_show(project: str, form: FormOpt = None, indicator: IndicatorOpt = None,
                 html: Annotated[Path | None, typer.Option(
                     help="Also write the quality statement as an HTML section.")] = None,
                 workspace: WorkspaceOpt = DEFAULT_WS, as_user: AsOpt = None,
                 as_json: JsonOpt = False) -> None:
    """The quality record: engagement, gateway, every dimension, the recommendation."""
    def go() -> None:
        me = client(workspace, as_user)
        rec = me.quality(project, form, indicator)
        if html is not None:
            html.write_text(me.quality_html(project, form, indicator), encoding="utf-8")
        if as_json:
            console.print_json(data=rec)
            return
        _print(rec)
        if html is not None:
            console.print(f"quality statement written to {html}")
    guard(go, as_json)


def _print(rec: dict[str, Any]) -> None:
    eng = rec["engagement"]
    console.print(f"[bold]{rec['dataset']}[/]" + (f" / {rec['indicator']}" if rec["indicator"]
                                                  else "")
                  + f": citizen-data threshold {'met' if eng['meets_threshold'] else 'NOT met'}"
                  f"; {eng['p4t_category']}")
    gate = rec["gateway"]
    console.print(f"gateway: {'pass' if gate['passed'] else 'FAIL'}")
    for c in gate["criteria"]:
        console.print(f"  {c['key']}: {'pass' if c['passed'] else 'fail'} — "
                      + "; ".join(c["reasons"]))
    table = Table("dimension", "rating", "source", "why")
    for d in (rec["scorecard"] or {}).get("dimensions", []):
        table.add_row(d["name"], d["rating"], d["source"], "; ".join(d["reasons"])[:200])
    console.print(table)
    r = rec["recommendation"]
    line = f"recommendation: [bold]{r['recommendation']}[/] ({r['rule']}): " + "; ".join(
        r["reasons"])
    if r.get("decision"):
        line += f"\ndecision: {r['decision']} by {r['decided_by']} ({r['decided_on']})"
        if r.get("decision_reason"):
            line += f": {r['decision_reason']}"
    console.print(line)


@quality_app.command("attest")
def quality_attest(project: str, subject: str, rating: str,
                   statement: Annotated[str, typer.Option(help="What was checked, and how.")],
                   form: FormOpt = None, indicator: IndicatorOpt = None,
                   on: Annotated[str | None, typer.Option(help="Date (YYYY-MM-DD).")] = None,
                   workspace: WorkspaceOpt = DEFAULT_WS, as_user: AsOpt = None) -> None:
    """Attest a dimension (high/medium/low) or a gateway criterion (pass/fail), by name and date."""
    def go() -> None:
        when = date.fromisoformat(on) if on else None
        a = client(workspace, as_user).attest(project, subject, rating, statement,
                                               form_id=form, indicator=indicator, on=when)
        console.print(f"{a['subject']}: {a['rating']} — attested by {a['by']} ({a['role']}) "
                      f"on {a['on']}")
    guard(go)


@quality_app.command("decide")
def quality_decide(project: str, decision: str,
                   reason: Annotated[str, typer.Option(help="Why (needed to override).")] = "",
                   form: FormOpt = None, indicator: IndicatorOpt = None,
                   workspace: WorkspaceOpt = DEFAULT_WS, as_user: AsOpt = None) -> None:
    """The NSO confirms or overrides the fitness recommendation."""
    def go() -> None:
        d = client(workspace, as_user).decide_fitness(project, decision, reason=reason,
                                                       form_id=form, indicator=indicator)
        verb = "confirmed" if d["decision"] == d["recommendation"] else "overridden"
        console.print(f"{d['recommendation']} {verb}: {d['decision']} by {d['by']}")
    guard(go)
