"""Command line: `citizendata fay-herriot DIRECT.csv`, area-level small area estimates."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from citizendata.cli._common import JsonOpt, Table, app, console, fmt, guard
from citizendata.errors import BadInput, Where

if TYPE_CHECKING:
    import pandas as pd

    from citizendata.integrate.sae import FHResult

__all__ = ["fay_herriot_cmd"]


def _read(path: Path, area: str, label: str) -> pd.DataFrame:
    """A CSV file with the area column kept as text (county codes like 001 keep their zeros)."""
    import io

    import pandas as pd

    from citizendata.ingest.encoding import decode_text, sniff_delimiter

    try:
        data = decode_text(path.read_bytes(), path.name, None)
        sep = sniff_delimiter(data[:65536].decode("utf-8", errors="replace"))
        return pd.read_csv(io.BytesIO(data), sep=sep, dtype={area: str})
    except (OSError, ValueError, pd.errors.ParserError) as exc:
        raise BadInput("input.invalid", f"the {label} {path.name!r} cannot be read as CSV "
                       f"({type(exc).__name__})", where=Where(file=path.name),
                       fix="Give a CSV file with a header row.") from None


def _smoothed(frame: pd.DataFrame, area: str, estimate: str, variance: str | None,
              se: str | None, sample_size: str | None) -> pd.DataFrame:
    """The table with `__v_smooth`, the GVF-smoothed sampling variances."""
    import pandas as pd

    from citizendata.integrate.sae import smooth_variances

    if sample_size is None or (variance is None and se is None):
        raise BadInput("sae.invalid_direct", "--smooth-variances needs --sample-size and "
                       "--variance or --se", where=Where(column=sample_size))
    if se is not None:
        frame = frame.assign(__v=pd.to_numeric(frame[se], errors="coerce") ** 2)
        variance = "__v"
    assert variance is not None
    return frame.assign(__v_smooth=smooth_variances(
        frame, estimate=estimate, variance=variance, sample_size=sample_size, area=area))


def _split(value: str | None) -> list[str]:
    return [c.strip() for c in (value or "").split(",") if c.strip()]


@app.command("fay-herriot")
def fay_herriot_cmd(
        direct: Annotated[Path, typer.Argument(
            help="Direct estimates: one row per area with its estimate and sampling variance "
                 "(or standard error), and any covariates.")],
        area: Annotated[str, typer.Option(help="Column naming the area.")],
        estimate: Annotated[str, typer.Option(help="Column of the direct estimates.")],
        variance: Annotated[str | None, typer.Option(
            help="Column of the sampling variances.")] = None,
        se: Annotated[str | None, typer.Option(
            help="Column of the standard errors (instead of --variance).")] = None,
        covariates: Annotated[str | None, typer.Option(
            metavar="COL,COL", help="Covariate columns (of DIRECT, or of --covariate-table).")] = None,
        categorical: Annotated[str | None, typer.Option(
            metavar="COL,COL", help="Columns expanded into treatment-coded dummies "
                                    "<col><level>, the first level in sorted order as "
                                    "reference.")] = None,
        covariate_table: Annotated[Path | None, typer.Option(
            help="Area-keyed covariates; its areas without a direct estimate get synthetic "
                 "estimates.")] = None,
        method: Annotated[str, typer.Option(help="reml, ml or fh.")] = "reml",
        transform: Annotated[str | None, typer.Option(
            help="arcsin for proportions (needs --sample-size).")] = None,
        sample_size: Annotated[str | None, typer.Option(
            help="Column of the (effective) sample sizes, for --transform arcsin.")] = None,
        smooth: Annotated[bool, typer.Option(
            "--smooth-variances", help="Smooth the sampling variances with a generalised "
                                       "variance function of --sample-size first.")] = False,
        benchmark: Annotated[float | None, typer.Option(
            help="Benchmark the estimates so their --weights-weighted mean equals VALUE.")] = None,
        weights: Annotated[str | None, typer.Option(
            help="Column of the areas' populations (or shares), for --benchmark.")] = None,
        benchmark_method: Annotated[str, typer.Option(
            help="ratio or difference.")] = "ratio",
        bootstrap: Annotated[int, typer.Option(
            metavar="N", help="Parametric bootstrap MSE with N replicates (0: analytic).")] = 0,
        seed: Annotated[int | None, typer.Option(help="Seed of the bootstrap.")] = None,
        level: Annotated[float, typer.Option(help="Confidence level of the intervals.")] = 0.95,
        as_json: JsonOpt = False) -> None:
    """Fay–Herriot EBLUPs of area means or proportions, with MSEs (R sae's conventions).

    `--json` prints {"method", "beta", "sigma2_u", "areas": [{"area", "direct", "eblup",
    "mse", "gamma"}]}.
    """
    def go() -> None:
        from citizendata.integrate.sae import Benchmark, fay_herriot

        frame = _read(direct, area, "direct estimates")
        cov = _read(covariate_table, area, "covariate table") if covariate_table else None
        cats = _split(categorical)
        cols = _split(covariates)
        var_col, se_col = variance, se
        if smooth:
            frame = _smoothed(frame, area, estimate, variance, se, sample_size)
            var_col, se_col = "__v_smooth", None
        bench = None
        if benchmark is not None:
            if weights is None:
                raise BadInput("sae.invalid_model", "--benchmark needs --weights",
                               where=Where(field="weights"))
            bench = Benchmark(benchmark, weights, method=benchmark_method)
        result = fay_herriot(frame, area=area, estimate=estimate, variance=var_col, se=se_col,
                             covariates=cov, columns=cols + [c for c in cats if c not in cols],
                             categorical=cats, method=method, transform=transform,
                             sample_size=sample_size, benchmark=bench, bootstrap=bootstrap,
                             seed=seed, level=level)
        if as_json:
            console.print_json(data=result.to_dict())
            return
        _print(result, direct)
    guard(go, as_json)


def _pct(v: float) -> str:
    return fmt(100 * v, 1) + "%" if v == v else "–"


def _print(result: FHResult, path: Path) -> None:
    a = result.areas
    console.print(f"{path.name}: {int(a['in_sample'].sum())} areas with direct estimates, "
                  f"{int((~a['in_sample']).sum())} without; {result.method}, "
                  f"sigma2_u = {result.sigma2_u:.6g} ({result.iterations} iterations), "
                  f"MSE: {result.mse_method}", highlight=False)
    coef = Table("term", "beta", "std. error", title="Regression coefficients")
    for name, b in result.beta.items():
        coef.add_row(name, f"{b:.6g}", f"{result.beta_se[name]:.6g}")
    console.print(coef)
    pct = f"{result.level:.0%}"
    table = Table("area", "direct", "CV direct", "EBLUP", "MSE", "CV", "gamma", f"{pct} interval",
                  title="Small area estimates")
    for r in a.itertuples(index=False):
        table.add_row(str(r.area), fmt(r.direct, 4), _pct(r.cv_direct),
                      fmt(r.eblup, 4), f"{r.mse:.4g}", _pct(r.cv), fmt(r.gamma, 3),
                      f"{fmt(r.lower, 4)}–{fmt(r.upper, 4)}")
    console.print(table)
    sw = result.diagnostics.get("shapiro_wilk", {})
    if sw.get("p_value") is not None:
        console.print(f"Shapiro–Wilk on standardised residuals: W = {sw['statistic']:.4f}, "
                      f"p = {sw['p_value']:.4f}", highlight=False)
    for note in result.notes:
        console.print(f"note: {note}", highlight=False)
