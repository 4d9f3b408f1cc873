"""Command line for estimation: reference tables and indicator estimates."""

from __future__ import annotations

from enum import StrEnum
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
    spinner,
)

__all__ = ["Variance", "reference_app"]


class Variance(StrEnum):
    """The variance methods ``citizendata estimate --variance`` offers."""

    linearisation = "linearisation"
    jk1 = "jk1"
    jkn = "jkn"
    brr = "brr"
    fay = "fay"
    bootstrap = "bootstrap"


# -- estimation ---------------------------------------------------------------------------------
reference_app = typer.Typer(help="Official reference tables: census margins, geographies, "
                            "area boundaries.",
                            no_args_is_help=True)
app.add_typer(reference_app, name="reference")


@reference_app.command("add")
def reference_add(project: str, name: str, file: Path,
                  kind: Annotated[str, typer.Option(
                      help="margins, geography, boundaries (GeoJSON, zipped Shapefile or GeoPackage) or other.")] = "other",
                  note: Annotated[str, typer.Option(help="Where the table comes from.")] = "",
                  replace: Annotated[bool, typer.Option(help="Replace a table of that name.")] = False,
                  workspace: WorkspaceOpt = DEFAULT_WS, as_user: AsOpt = None,
                  encoding: EncodingOpt = None) -> None:
    """Store a reference table (CSV; boundaries as GeoJSON, Shapefile or GeoPackage)."""
    def go() -> None:
        info = client(workspace, as_user).add_reference_table(project, name, file, kind=kind,
                                                              note=note, replace=replace,
                                                              encoding=encoding)
        console.print(f"reference table {info['name']!r}: {info['rows']:,} rows, columns "
                      f"{', '.join(info['columns'])}; sha256 {info['sha256'][:16]}…")
    guard(go)


@reference_app.command("list")
def reference_list(project: str, workspace: WorkspaceOpt = DEFAULT_WS, as_user: AsOpt = None
                   ) -> None:
    """List the project's reference tables."""
    def go() -> None:
        table = Table("name", "kind", "rows", "columns", "sha256", "added by")
        for r in client(workspace, as_user).reference_tables(project):
            table.add_row(r["name"], r["kind"], f"{r['rows']:,}", ", ".join(r["columns"]),
                          r["sha256"][:16] + "…", r["added_by"])
        console.print(table)
    guard(go)



@app.command()
def estimate(project: str, indicator: str, workspace: WorkspaceOpt = DEFAULT_WS,
             as_user: AsOpt = None, as_json: JsonOpt = False,
             by: Annotated[list[str] | None, typer.Option(
                 help="A disaggregation, dimensions joined by commas (repeatable); default: "
                      "the indicator's own.")] = None,
             depth: Annotated[int, typer.Option(
                 help="Show cells crossing up to this many dimensions (all go to --out).")] = 1,
             variance: Annotated[Variance | None, typer.Option(
                 help="linearisation, or replicate weights re-calibrated per replicate "
                      "(jk1, jkn, brr, fay, bootstrap); default: the form's declared "
                      "design's (linearisation when none is declared).")] = None,
             replicates: Annotated[int, typer.Option(help="Bootstrap replicates.")] = 200,
             seed: Annotated[int | None, typer.Option(help="Seed of the replicates (default: the design's, else 0).")] = None,
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
        me = client(workspace, as_user)
        dis = [[d.strip() for d in b.split(",") if d.strip()] for b in by] if by else None
        with spinner() as bar:
            bar.add_task(f"estimating {indicator}", total=None)
            result = me.estimate(project, indicator, disaggregations=dis,
                                 variance=variance.value if variance else None,
                                 replicates=replicates, seed=seed, purpose=purpose,
                                 protect=not unprotected)
        if out is not None:
            result.table.to_csv(out, index=False)
        if as_json:
            console.print_json(data=result.to_dict())
            return
        _print_estimate(result, depth, out)
    guard(go)


@app.command("weights")
def weights(project: str, form: str, out: Path, workspace: WorkspaceOpt = DEFAULT_WS,
            as_user: AsOpt = None, as_json: JsonOpt = False,
            variance: Annotated[Variance | None, typer.Option(
                help="Replicate weights to add (jk1, jkn, brr, fay, bootstrap); default: the "
                     "form's declared design's.")] = None,
            replicates: Annotated[int, typer.Option(help="Bootstrap replicates.")] = 200,
            seed: Annotated[int | None, typer.Option(help="Seed of the replicates (default: the design's, else 0).")] = None) -> None:
    """Write a form's design, calibrated and replicate weights for R or Stata into OUT.

    OUT/replicates.csv has one row per submission (``_id`` joins the snapshot), the
    design's columns, design_weight, weight and repw1…repwR; OUT/design.json the
    replicates' type, scale, rscales and mse, with the svrepdesign/svyset commands.
    """
    def go() -> None:
        data, meta = client(workspace, as_user).survey_weights(
            project, form, out, variance=variance.value if variance else None,
            replicates=replicates, seed=seed)
        if as_json:
            console.print_json(data=meta)
            return
        rep = meta.get("replicate_weights") or {}
        console.print(f"{len(data):,} submissions' weights written to {out / 'replicates.csv'}"
                      + (f" with {rep['replicates']} {rep['type']} replicates" if rep else "")
                      + f"; {_said(meta)}.")
        console.print(f"R: {rep.get('r') or meta['r_linearised']}")
    guard(go, as_json)


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
        shown_ci = "–" if pd.isna(r["ci_low"]) else f"{fmt(r['ci_low'])}–{fmt(r['ci_high'])}"
        table.add_row(*[str(r[d]) for d in dims], fmt(r["value"]), fmt(r["se"], 2), shown_ci,
                      fmt(100 * r["cv"]), fmt(r["n"], 0),
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
    df = result.provenance.get("df")
    console.print(f"variance: {first['variance_method']}; interval: {first['ci_method']}"
                  + (f" (t, {df:g} df)" if df is not None and df == df else "") +
                  f"; flags: low_n below the minimum n, caution/unreliable by CV. "
                  f"{result.counts.get('missing', 0):,} unit(s) left out for a missing answer.")
    console.print(f"design: {_said(result.provenance)}.")
    w = result.weighting
    if w:
        d = w.get("diagnostics", {})
        r_ind = d.get("r_indicator", {}) or {}
        console.print(f"weighting: {w.get('method')} to {w.get('reference')!r}, converged "
                      f"{w.get('converged')} in {w.get('iterations')} iterations; Kish deff "
                      f"{fmt(d.get('kish_deff'), 2)}, effective n {fmt(d.get('effective_n'), 0)}"
                      f" of {d.get('n', 0):,}; largest margin gap after "
                      f"{fmt(100 * (d.get('max_abs_rel_diff_after') or 0), 4)}%; R-indicator "
                      f"{fmt(r_ind.get('R'), 3)}; {w.get('units_dropped_missing', 0)} unit(s) "
                      "without a calibration variable left out.")
    else:
        console.print("unweighted: the respondents as they are (no weighting declared).")
    c = result.coherence
    if c:
        console.print(f"benchmark: {fmt(c['benchmark'])} ({c['benchmark_source']}, "
                      f"{c['benchmark_year']}); difference {fmt(c['difference'])} "
                      f"(95% CI {fmt(c['ci_low'])} to {fmt(c['ci_high'])}), p = "
                      f"{c['p_value']:.3g}; {c['assumption']}.")
    if out is not None:
        console.print(f"all {len(t):,} estimates written to {out}")


def _said(provenance: dict[str, Any]) -> str:
    """The variance assumption in English, rendered from its code as every output does."""
    from citizendata.survey.assumption import said_in_provenance

    return said_in_provenance(provenance)
