"""Command line for integration: citizen data combined with a probability survey."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

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
)
from citizendata.errors import BadInput, Where

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["estimate_combined", "integrate_app"]

integrate_app = typer.Typer(help="Combine citizen data with official sources (a probability "
                            "survey of the same covariates).", no_args_is_help=True)
app.add_typer(integrate_app, name="integrate")


def _read(path: Path, label: str, encoding: str | None) -> pd.DataFrame:
    """A CSV file as a table; a coded error when it cannot be read."""
    import io

    import pandas as pd

    from citizendata.ingest.encoding import decode_text, sniff_delimiter

    try:
        data = decode_text(path.read_bytes(), path.name, encoding)
        sep = sniff_delimiter(data[:65536].decode("utf-8", errors="replace"))
        return pd.read_csv(io.BytesIO(data), sep=sep)
    except (OSError, ValueError, pd.errors.ParserError) as exc:
        raise BadInput("input.invalid", f"the {label} {path.name!r} cannot be read as CSV: {exc}",
                       where=Where(file=path.name), fix="Give a CSV file with a header row.") from exc


def _cols(text: str | None) -> list[str] | None:
    return None if text is None else [c.strip() for c in text.split(",") if c.strip()]


@integrate_app.command("nonprob")
def nonprob(citizen: Annotated[Path, typer.Argument(help="The citizen (non-probability) sample, CSV.")],
            reference: Annotated[Path, typer.Argument(help="The probability survey, CSV.")],
            covariates: Annotated[str, typer.Option(
                help="Covariates both files measure, joined by commas (e.g. ward,age_group).")],
            y: Annotated[str, typer.Option("--y", help="The outcome column of the citizen sample "
                                                       "(0/1 for a proportion).")],
            ref_weights: Annotated[str | None, typer.Option(
                help="The survey's design-weight column.")] = None,
            ref_strata: Annotated[str | None, typer.Option(help="The survey's strata column.")] = None,
            ref_psu: Annotated[str | None, typer.Option(
                help="The survey's primary sampling unit (cluster) column.")] = None,
            method: Annotated[str, typer.Option(
                help="ipw, dr, mi or all (the naive mean is always shown).")] = "all",
            propensity_covariates: Annotated[str | None, typer.Option(
                help="Covariates of the propensity model, if not --covariates.")] = None,
            outcome_covariates: Annotated[str | None, typer.Option(
                help="Covariates of the outcome model, if not --covariates.")] = None,
            by: Annotated[str | None, typer.Option(
                help="Also estimate in each category of this column (both files have it).")] = None,
            as_json: JsonOpt = False, encoding: EncodingOpt = None) -> None:
    """Estimate the mean of --y from a citizen sample and a probability survey as reference.

    Propensity pseudo-weights (IPW) and the doubly robust estimator of Chen, Li & Wu
    (2020), mass imputation (Kim et al. 2021), each with its standard error, 95% interval
    and the assumption it needs; diagnostics of weights, balance and overlap.
    """
    def go() -> None:
        from citizendata.integrate.nonprob import estimate_nonprob

        a = _read(citizen, "citizen sample", encoding)
        b = _read(reference, "reference survey", encoding)
        result = estimate_nonprob(
            a, b, covariates=_cols(covariates) or [], y=y, weights=ref_weights, strata=ref_strata,
            psu=ref_psu, method=method, propensity_covariates=_cols(propensity_covariates),
            outcome_covariates=_cols(outcome_covariates), by=by)
        if as_json:
            console.print_json(data=result.to_dict())
            return
        _print(result.to_dict())
    guard(go, as_json)


@app.command("estimate-combined")
def estimate_combined(project: str, indicator: str,
                      by: Annotated[str | None, typer.Option(
                          help="A domain column the declaration lists (e.g. ward).")] = None,
                      method: Annotated[str | None, typer.Option(
                          help="Some of ipw, dr, mi, nn joined by commas, or all; default: the "
                               "declaration's.")] = None,
                      purpose: Annotated[str, typer.Option(
                          help="The use respondents' consent must cover.")] = "publication",
                      workspace: WorkspaceOpt = DEFAULT_WS, as_user: AsOpt = None,
                      as_json: JsonOpt = False) -> None:
    """Estimate an indicator of a non-probability form with the project's reference survey.

    The indicator's estimation.combine declaration names the survey (a reference table),
    its design columns and the covariates both samples share. Propensity pseudo-weights
    (IPW) and the doubly robust estimator, mass imputation and nearest neighbour, each
    with the assumption it needs; the table passes the project's disclosure control.
    """
    def go() -> None:
        res = client(workspace, as_user).estimate_combined(project, indicator, by=by,
                                                           method=method, purpose=purpose)
        out = res.to_dict()
        if as_json:
            console.print_json(data=out)
            return
        ind = out["indicator"]
        out["y"] = f"{ind['id']} (scale {ind['scale']:g})"
        _print(out)
        p = out["protection"] or {}
        console.print(f"protection: {p.get('suppressed', 0)} of {p.get('cells', 0)} domain(s) "
                      f"hidden (threshold {p.get('rules', {}).get('threshold', '?')})",
                      highlight=False)
    guard(go, as_json)


def _print(res: dict[str, Any]) -> None:
    by = res.get("by")
    table = Table(*([by] if by else []), "method", "estimate", "SE", "95% CI", "n citizen",
                  "n survey", title=f"mean of {res['y']} ({res['outcome_model']} outcome model)")
    for r in res["estimates"]:
        lo, hi = r["ci"]
        table.add_row(*([str(r["by"][by])] if by else []), r["method"], fmt(r["estimate"], 4),
                      fmt(r["se"], 4), f"{fmt(lo, 4)}–{fmt(hi, 4)}", fmt(r["n_A"], 0),
                      fmt(r["n_B"], 0))
    if any(r.get("conf_status", "F") != "F" for r in res["estimates"]):
        console.print("blank rows: hidden by the project's disclosure control", highlight=False)
    console.print(table)
    for m in dict.fromkeys(r["method"] for r in res["estimates"]):
        text = next(r["assumption"] for r in res["estimates"] if r["method"] == m)
        console.print(f"[bold]{m}[/] assumes: {text}", highlight=False)
    d = res["diagnostics"]
    if d:
        w, o = d["pseudo_weights"], d["overlap"]
        console.print(f"pseudo-weights {fmt(w['min'], 2)} to {fmt(w['max'], 2)} (ratio "
                      f"{fmt(w['ratio_max_min'], 1)}); Kish effective n {fmt(d['kish_effective_n'], 0)}; "
                      f"extreme propensities: {100 * o['share_citizen_extreme']:.1f}% of the citizen "
                      f"sample, {100 * o['share_reference_extreme']:.1f}% of the survey "
                      f"({o['extreme_means']})", highlight=False)
        bal = Table("covariate", "citizen", "citizen weighted", "survey", "std. diff. before",
                    "after", title="covariate balance")
        for b in d["balance"]:
            bal.add_row(b["covariate"], fmt(b.get("citizen_unweighted"), 3),
                        fmt(b["citizen_weighted"], 3), fmt(b["reference"], 3),
                        fmt(b.get("std_difference_before"), 2), fmt(b["std_difference_after"], 2))
        console.print(bal)
    console.print(res["variance"], highlight=False)
