"""Command line for survey files: estimates under a declared sampling design."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from citizendata.cli._common import EncodingOpt, JsonOpt, Table, app, console, fmt, guard
from citizendata.errors import BadInput, Where

if TYPE_CHECKING:
    from citizendata.survey.estimate import SurveyResult

__all__ = ["survey_app"]

survey_app = typer.Typer(help="Survey files (not a project's submissions): estimates under a "
                         "declared sampling design, checked against R's survey package.",
                         no_args_is_help=True)
app.add_typer(survey_app, name="survey")

ColOpt = Annotated[str | None, typer.Option(metavar="COL")]
ManyOpt = Annotated[list[str] | None, typer.Option(metavar="COL")]


def _pair(text: str, option: str, what: str) -> tuple[str, str]:
    """COL=VALUE split at the first '='."""
    col, sep, value = text.partition("=")
    if not sep or not col.strip() or not value.strip():
        raise BadInput("input.invalid", f"{option} {text!r}: expected {what}.",
                       where=Where(field=option), fix=f"Write {option} {what}.")
    return col.strip(), value.strip()


def _number(text: str, option: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise BadInput("input.invalid", f"{option}: {text!r} is not a number.",
                       where=Where(field=option)) from None


def _fpc(value: str | None, data: Any) -> str | float | None:
    """An fpc column, or one number for every stratum (a fraction or a population size)."""
    if value is None or value in data.columns:
        return value
    try:
        return float(value)
    except ValueError:
        return value  # an unknown column: the design names it in its error


@survey_app.command("estimate")
def survey_estimate_cmd(
        data: Annotated[Path, typer.Argument(help="The survey file: .csv, .parquet or .xlsx.")],
        weights: Annotated[str | None, typer.Option(
            metavar="COL", help="Design weights (1/probability).")] = None,
        probabilities: Annotated[str | None, typer.Option(
            metavar="COL", help="Inclusion probabilities, instead of weights.")] = None,
        strata: Annotated[str | None, typer.Option(metavar="COL", help="Strata.")] = None,
        psu: Annotated[str | None, typer.Option(
            metavar="COL", help="First-stage units (clusters: villages, schools).")] = None,
        ssu: Annotated[str | None, typer.Option(
            metavar="COL", help="Second-stage units within each PSU.")] = None,
        fpc: Annotated[str | None, typer.Option(
            metavar="COL", help="First-stage population size per stratum (> 1) or sampling "
                                "fraction (<= 1): a column, or one number.")] = None,
        fpc2: Annotated[str | None, typer.Option(
            metavar="COL", help="Second-stage population size per PSU, or fraction.")] = None,
        nest: Annotated[bool, typer.Option(
            "--nest", help="PSU ids repeat across strata (SSU ids across PSUs): read them "
                           "within each.")] = False,
        mean: Annotated[list[str] | None, typer.Option(
            metavar="COL", help="Estimate the mean of a numeric column (repeatable).")] = None,
        total: Annotated[list[str] | None, typer.Option(
            metavar="COL", help="Estimate the total of a numeric column (repeatable).")] = None,
        proportion: Annotated[list[str] | None, typer.Option(
            metavar="COL=VALUE", help="Estimate the share of rows with COL equal to VALUE "
                                      "(repeatable).")] = None,
        by: Annotated[list[str] | None, typer.Option(
            metavar="COL", help="Domains: estimates for each value (several --by: each "
                                "combination), besides the whole sample.")] = None,
        poststratify: Annotated[str | None, typer.Option(
            metavar="COL=TOTALS.csv", help="Post-stratify to population counts; COL may be "
                                           "a+b for a cross.")] = None,
        rake: Annotated[list[str] | None, typer.Option(
            metavar="TOTALS.csv", help="Rake to a margin (repeatable): the category "
                                       "column(s) and a total column.")] = None,
        calibrate_total: Annotated[list[str] | None, typer.Option(
            metavar="COL=NUMBER", help="Calibrate to the population total of a numeric "
                                       "column (repeatable); alone: the ratio estimator.")
        ] = None,
        population_size: Annotated[float | None, typer.Option(
            metavar="N", help="Population size (an intercept: GREG with numeric totals).")
        ] = None,
        bounds: Annotated[str | None, typer.Option(
            metavar="LO,HI", help="Bounds on the calibration's g-weights, e.g. 0.5,3.")] = None,
        variance: Annotated[str, typer.Option(
            help="linearisation, jk1, jkn, brr, fay or bootstrap.")] = "linearisation",
        replicates: Annotated[int, typer.Option(help="Bootstrap replicates.")] = 200,
        replicate_weights: Annotated[str | None, typer.Option(
            metavar="PREFIX|COL,COL,…", help="The survey's own replicate weights: a prefix "
                                             "(repw for repw1, repw2, …) or the columns.")
        ] = None,
        replicate_type: Annotated[str, typer.Option(
            help="Type of the survey's replicate weights: jk1, jkn, brr, fay, bootstrap or "
                 "other.")] = "other",
        replicate_scale: Annotated[float | None, typer.Option(
            help="Their variance scale (default as R's svrepdesign for the type).")] = None,
        replicate_rscales: Annotated[str | None, typer.Option(
            metavar="R1,R2,…", help="Their per-replicate scales (needed for jkn).")] = None,
        fay_rho: Annotated[float, typer.Option(help="Fay's rho (--variance fay, or type fay).")
                           ] = 0.5,
        mse: Annotated[bool, typer.Option(
            "--mse/--no-mse", help="Centre the survey's replicates at the full-sample "
                                   "estimate, or at their mean (the default, R's default).")
        ] = False,
        seed: Annotated[int, typer.Option(help="Seed of the bootstrap.")] = 0,
        lonely_psu: Annotated[str, typer.Option(
            help="A stratum with one PSU: fail, remove, certainty, adjust or average.")
        ] = "fail",
        level: Annotated[float, typer.Option(help="Confidence level.")] = 0.95,
        domain_df: Annotated[str, typer.Option(
            help="Degrees of freedom of domain estimates: auto (the domain's own PSUs - "
                 "strata for means and totals, the design's for proportions: the interval "
                 "that covers for small domains), design (PSUs - strata, as R) or domain "
                 "(the domain's own for every domain estimate).")] = "auto",
        encoding: EncodingOpt = None,
        as_json: JsonOpt = False) -> None:
    """Means, totals and proportions with design-based SEs and t intervals (df = PSUs - strata).

    Without --psu or --strata every row is its own sampling unit, drawn with replacement;
    the output says which assumption the variance rests on.
    """
    def go() -> None:
        from citizendata.survey._io import read_table, read_totals
        from citizendata.survey.estimate import survey_estimate

        frame = read_table(data, encoding=encoding)
        props = [_pair(p, "--proportion", "COL=VALUE") for p in proportion or []]
        post = None
        if poststratify:
            cols, file = _pair(poststratify, "--poststratify", "COL=TOTALS.csv")
            names = [c.strip() for c in cols.split("+")]
            post = (names, read_totals(file, names, encoding=encoding))
        raked = [read_totals(f, encoding=encoding) for f in rake or []]
        cal = {c: _number(v, "--calibrate-total")
               for c, v in (_pair(t, "--calibrate-total", "COL=NUMBER")
                            for t in calibrate_total or [])}
        lim = None
        if bounds:
            lo, sep, hi = bounds.partition(",")
            if not sep:
                raise BadInput("input.invalid", f"--bounds {bounds!r}: expected LO,HI.",
                               where=Where(field="--bounds"), fix="Write e.g. --bounds 0.5,3.")
            lim = (_number(lo, "--bounds"), _number(hi, "--bounds"))
        own: dict[str, Any] | None = None
        if replicate_weights:
            rep_cols = [c.strip() for c in replicate_weights.split(",") if c.strip()]
            own = {"columns": rep_cols[0] if len(rep_cols) == 1 else rep_cols, "type": replicate_type,
                   "scale": replicate_scale, "mse": mse, "fay_rho": fay_rho if
                   replicate_type == "fay" else 0.0}
            if replicate_rscales:
                own["rscales"] = [_number(r, "--replicate-rscales")
                                  for r in replicate_rscales.split(",")]
        result = survey_estimate(
            frame, weights=weights, probabilities=probabilities, strata=strata, psu=psu,
            ssu=ssu, fpc=_fpc(fpc, frame), fpc2=_fpc(fpc2, frame), nest=nest,
            lonely_psu=lonely_psu, means=mean or [], totals=total or [], proportions=props,
            by=by or [], poststratify=post, rake=raked, calibrate_totals=cal or None,
            population_size=population_size, bounds=lim, variance=variance,
            replicates=replicates, seed=seed, fay_rho=fay_rho, replicate_weights=own,
            level=level, domain_df=domain_df,
            source=str(data))
        if as_json:
            console.print_json(data=result.to_dict())
            return
        _print(result, data)
    guard(go, as_json)


def _print(result: SurveyResult, data: Path) -> None:
    pct = f"{100 * result.level:g}%"
    t = result.table
    table = Table("variable", "statistic", "domain", "estimate", "SE", f"{pct} CI", "df", "n",
                  title=f"{data.name}: {len(t):,} estimate(s)")
    for r in t.itertuples(index=False):
        digits = 4 if r.statistic == "proportion" else 2
        dom = ", ".join(f"{k}={v}" for k, v in r.by.items()) or "all"
        table.add_row(r.variable, r.statistic, dom, fmt(r.estimate, digits), fmt(r.se, digits),
                      f"{fmt(r.ci_low, digits)}–{fmt(r.ci_high, digits)}", str(r.df),
                      f"{r.n:,}")
    console.print(table)
    dfs = sorted(set(t["df"].astype(int)))
    df_text = f"{dfs[0]:,}" if len(dfs) == 1 else f"{dfs[0]:,} to {dfs[-1]:,}"
    console.print(f"variance: {result.variance_method}; intervals: t with {df_text} degrees "
                  "of freedom (proportions: logit)", highlight=False)
    console.print(f"assumption: {result.assumption}", highlight=False)
    w = result.weighting
    if w:
        d = w.get("diagnostics", {})
        console.print(f"weighting: {w.get('kind')} ({w.get('method')}), converged "
                      f"{w.get('converged')} in {w.get('iterations')} iteration(s); Kish deff "
                      f"{fmt(d.get('kish_deff'), 2)}", highlight=False)
    for note in result.notes:
        console.print(f"note: {note}", highlight=False)
