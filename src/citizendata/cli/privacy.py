"""Command line for consent withdrawal, the protection policy, the privacy budget and public microdata."""

from __future__ import annotations

from pathlib import Path
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

__all__ = ["consent_app", "privacy_app"]

consent_app = typer.Typer(help="Respondents' consent: withdrawals at their request.",
                          no_args_is_help=True)
privacy_app = typer.Typer(help="The protection policy and the differential-privacy budget.",
                          no_args_is_help=True)
app.add_typer(consent_app, name="consent")
app.add_typer(privacy_app, name="privacy")


@consent_app.command("withdraw")
def consent_withdraw(
        project: str, form: str, instance_id: str,
        scope: Annotated[list[str] | None, typer.Option(
            help="A scope to withdraw (repeatable): analysis, publication, nso_sharing; "
                 "default: all.")] = None,
        basis: Annotated[str, typer.Option(
            help="respondent_request, guardian_request, community_decision or other.")
        ] = "respondent_request",
        erase: Annotated[bool, typer.Option(
            "--erase", help="Also wipe the stored answers (cannot be undone).")] = False,
        workspace: WorkspaceOpt = DEFAULT_WS, as_user: AsOpt = None,
        as_json: JsonOpt = False) -> None:
    """Withdraw a respondent's consent: later snapshots, estimates and releases leave them out."""
    def go() -> None:
        info = client(workspace, as_user).withdraw_consent(
            project, form, instance_id, scopes=scope or ["all"], basis=basis, erase=erase)
        if as_json:
            console.print_json(data=info)
            return
        console.print(f"consent of {instance_id} withdrawn for {', '.join(info['scopes'])}"
                      + (" and the answers erased" if info["erased"] else "")
                      + "; releases already published are not changed.")
    guard(go, as_json)


@consent_app.command("list")
def consent_list(project: str,
                 form: Annotated[str | None, typer.Option(help="Only this form.")] = None,
                 workspace: WorkspaceOpt = DEFAULT_WS, as_user: AsOpt = None,
                 as_json: JsonOpt = False) -> None:
    """List the consent withdrawals recorded in the project."""
    def go() -> None:
        rows = client(workspace, as_user).consent_withdrawals(project, form)
        if as_json:
            console.print_json(data=rows)
            return
        table = Table("instance id", "scope", "basis", "erased", "recorded by", "at")
        for r in rows:
            table.add_row(r["instance_id"], r["scope"], r["basis"], "yes" if r["erased"] else "",
                          r["recorded_by"], r["at"][:19])
        console.print(table)
    guard(go, as_json)


@privacy_app.command("policy")
def privacy_policy(project: str, workspace: WorkspaceOpt = DEFAULT_WS, as_user: AsOpt = None,
                   as_json: JsonOpt = False) -> None:
    """Show the project's protection policy, defaults included."""
    def go() -> None:
        spec = client(workspace, as_user).protection_policy(project).model_dump(mode="json")
        if as_json:
            console.print_json(data=spec)
        else:
            import yaml

            console.print(yaml.safe_dump(spec, sort_keys=False, allow_unicode=True))
    guard(go, as_json)


@privacy_app.command("budget")
def privacy_budget(project: str, workspace: WorkspaceOpt = DEFAULT_WS, as_user: AsOpt = None,
                   as_json: JsonOpt = False) -> None:
    """Show the differential-privacy budget, what is spent and the ledger."""
    def go() -> None:
        b = client(workspace, as_user).privacy_budget(project)
        if as_json:
            console.print_json(data=b)
            return
        console.print(f"differential privacy {'on' if b['enabled'] else 'off'} "
                      f"({b['mechanism']}); budget ε {b['budget']['epsilon']:g}, δ "
                      f"{b['budget']['delta']:g}; spent ε {b['spent']['epsilon']:g}, δ "
                      f"{b['spent']['delta']:g}; left ε {b['remaining']['epsilon']:g}")
        table = Table("label", "ε", "δ", "mechanism", "by", "at")
        for r in b["ledger"]:
            table.add_row(r["label"], f"{r['epsilon']:g}", f"{r['delta']:g}", r["mechanism"],
                          r["actor"], r["at"][:19])
        console.print(table)
    guard(go, as_json)


@app.command("microdata")
def microdata(project: str, form: str, out: Path,
              purpose: Annotated[str, typer.Option(
                  help="The use respondents' consent must cover.")] = "publication",
              workspace: WorkspaceOpt = DEFAULT_WS, as_user: AsOpt = None,
              as_json: JsonOpt = False) -> None:
    """Write public microdata (CSV): no personal field, coarse places, k-anonymous and l-diverse."""
    def go() -> None:
        _, report = client(workspace, as_user).public_microdata(project, form, out,
                                                                 purpose=purpose)
        if as_json:
            console.print_json(data=report)
            return
        a = report["anonymisation"]
        console.print(f"{report['records']:,} records written to {out}: k = {a['k_reached']} "
                      f"(asked {a['k']}), was {report['risk_before']['k']}; recoded "
                      f"{a['levels']}; {a['records_suppressed']:,} record(s) with a value "
                      f"suppressed ({100 * a['share_suppressed']:.1f}%); dropped "
                      f"{', '.join(report['dropped']) or 'nothing'}.")
    guard(go, as_json)


@privacy_app.command("dp-estimate")
def privacy_dp_estimate(
        project: str, indicator: str,
        label: Annotated[str, typer.Option(help="What the spend is for, e.g. 'release v2'.")],
        by: Annotated[str | None, typer.Option(help="Dimensions joined by commas.")] = None,
        epsilon: Annotated[float | None, typer.Option(help="ε to spend (default: the "
                                                      "project's per-release ε).")] = None,
        out: Annotated[Path | None, typer.Option(help="Write the cells to this CSV.")] = None,
        workspace: WorkspaceOpt = DEFAULT_WS, as_user: AsOpt = None,
        as_json: JsonOpt = False) -> None:
    """Publish an indicator with differential privacy, spending ε from the project's budget."""
    def go() -> None:
        dims = [d.strip() for d in by.split(",") if d.strip()] if by else None
        rel = client(workspace, as_user).dp_estimate(project, indicator, label=label, by=dims,
                                                      epsilon=epsilon)
        if out is not None:
            rel.table.to_csv(out, index=False)
        if as_json:
            console.print_json(data=rel.to_dict())
            return
        table = Table(*rel.dims, "value", "noise SD", "n", title=f"{indicator} ({label}): "
                      f"ε {rel.epsilon:g}, {rel.mechanism}, noise scale {rel.scale:.3g}")
        for _, r in rel.table.iterrows():
            table.add_row(*[str(r[d]) for d in rel.dims], f"{r['value']:.1f}",
                          f"{r['dp_noise_sd']:.2f}", str(r.get("n", "")))
        console.print(table)
    guard(go, as_json)
