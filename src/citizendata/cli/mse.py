"""Command line: `citizendata mse HISTORIES.csv`, multiple systems estimation of the uncounted."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from citizendata.cli._common import JsonOpt, Table, app, console, fmt, guard

if TYPE_CHECKING:
    from citizendata.integrate.mse import MSEResult

__all__ = ["mse_cmd"]


@app.command("mse")
def mse_cmd(
        histories: Annotated[Path, typer.Argument(
            help="Capture histories: one 0/1 column per list, named by the list, and a last "
                 "column with the count of each pattern.")],
        method: Annotated[str, typer.Option(
            help="loglinear (Poisson log-linear models), lcmcr (Bayesian latent classes), "
                 "chapman (two lists) or independence (main effects only).")] = "loglinear",
        selection: Annotated[str, typer.Option(
            help="bic or aic (smallest among all two-way models), stepwise (SparseMSE's) or "
                 "average (weights exp(-BIC/2)).")] = "bic",
        bootstrap: Annotated[int, typer.Option(
            metavar="N", help="Bootstrap replicates for a second interval (0: none).")] = 0,
        bootstrap_kind: Annotated[str, typer.Option(
            help="parametric or nonparametric.")] = "parametric",
        seed: Annotated[int | None, typer.Option(help="Seed of the bootstrap / MCMC.")] = None,
        level: Annotated[float, typer.Option(help="Confidence level.")] = 0.95,
        models: Annotated[int, typer.Option(
            help="How many of the best models to list.")] = 20,
        chains: Annotated[int, typer.Option(help="LCMCR: chains.")] = 4,
        samples: Annotated[int, typer.Option(help="LCMCR: draws kept per chain.")] = 2000,
        burnin: Annotated[int, typer.Option(help="LCMCR: sweeps discarded first.")] = 2000,
        thin: Annotated[int, typer.Option(help="LCMCR: keep one sweep in THIN.")] = 10,
        as_json: JsonOpt = False) -> None:
    """Estimate how many victims no list saw, from the lists' overlaps.

    Log-linear models are fitted to the 2^k - 1 observable patterns; models with no finite
    estimate are skipped and named.  Intervals: profile likelihood (and bootstrap).
    """
    def go() -> None:
        from citizendata.integrate.mse import estimate_mse, read_histories

        h = read_histories(histories, min_lists=2 if method == "chapman" else 3)
        extra: dict[str, Any] = ({"chains": chains, "samples": samples, "burnin": burnin, "thin": thin}
                 if method == "lcmcr" else {})
        result = estimate_mse(h, method=method, selection=selection, bootstrap=bootstrap,
                              bootstrap_kind=bootstrap_kind, seed=seed, confidence=level,
                              report=models, **extra)
        if as_json:
            console.print_json(data=result.to_dict())
            return
        _print(result, histories)
    guard(go, as_json)


def _ci(ci: list[float | None] | tuple[float | None, float | None]) -> str:
    lo, hi = ci
    return f"{fmt(lo, 0)}–{'∞' if hi is None else fmt(hi, 0)}"


def _print(result: MSEResult, path: Path) -> None:
    console.print(f"{path.name}: {result.n_observed:,} victims seen by {len(result.lists)} "
                  f"lists ({', '.join(result.lists)})", highlight=False)
    if result.models and result.method == "loglinear":
        table = Table("interactions", "N-hat", "interval", "AIC", "BIC", "deviance", "df",
                      title=f"{len(result.models)} best of {result.n_models:,} models")
        for m in result.models:
            table.add_row(", ".join(m["terms"]) or "(main effects)", fmt(m["estimate"], 1),
                          _ci(m["ci"]), fmt(m["aic"], 2), fmt(m["bic"], 2),
                          fmt(m["deviance"], 2), str(m["df"]))
        console.print(table)
    s = result.selected
    how = result.method if result.selection is None else f"{result.method}, {result.selection}"
    console.print(f"selected ({how}): {', '.join(s.get('terms') or []) or 'main effects'}; "
                  f"N-hat {fmt(s['estimate'], 1)}, {_ci(s['ci'])}", highlight=False)
    diag = s.get("diagnostics")
    if diag:
        console.print(f"R-hat {fmt(diag.get('rhat'), 3)}, ESS {fmt(diag.get('ess'), 0)}, "
                      f"{diag.get('chains')} chains: "
                      f"{'converged' if diag.get('converged') else 'NOT converged'}",
                      highlight=False)
    if "ci_bootstrap" in s:
        console.print(f"bootstrap interval: {_ci(s['ci_bootstrap'])}", highlight=False)
    if result.no_estimate:
        console.print(f"{len(result.no_estimate):,} model(s) have no finite estimate and were "
                      "skipped.", highlight=False)
