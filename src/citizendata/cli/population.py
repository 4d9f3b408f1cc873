"""Command line: population by small area and census undercount.

``citizendata population estimate PROJECT``: the project's estimates (the Client call,
with its permission check). On files, thin over :mod:`citizendata.integrate.population`:
``citizendata population dse CENSUS.csv ENUMERATION.csv`` (census coverage by
post-stratum) and ``citizendata population bottom-up DWELLINGS.csv LISTING.csv``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from citizendata.cli._common import (
    DEFAULT_WS,
    AsOpt,
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

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["population_app"]

population_app = typer.Typer(help="Population by small area: census coverage (dual-system), "
                             "bottom-up estimates from dwellings, the census undercount.",
                             no_args_is_help=True)
app.add_typer(population_app, name="population")

AreaOpt = Annotated[str, typer.Option(help="The column naming the area.")]
SeedOpt = Annotated[int, typer.Option(help="Seed of the bootstrap.")]
LevelOpt = Annotated[float, typer.Option(help="Confidence level.")]


def _csv(path: Path) -> pd.DataFrame:
    import pandas as pd

    from citizendata.errors import BadInput, Where

    try:
        # a blank cell is a missing value (e.g. the persons of a household not interviewed)
        return pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""])
    except (OSError, UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError):
        raise BadInput("population.invalid", f"{path.name} cannot be read as a CSV table.",
                       where=Where(file=path.name), fix="Give a UTF-8 CSV with a header.") \
            from None


def _figure_table(rows: list[dict[str, Any]], title: str, key: str = "code") -> Table:
    table = Table(key, "census", "estimate", "interval", "undercount", title=title)
    for r in rows:
        interval = "–" if r.get("lower") is None else f"{fmt(r['lower'], 0)}–{fmt(r['upper'], 0)}"
        u = r.get("undercount")
        table.add_row(str(r[key]), fmt(r.get("census"), 0), fmt(r.get("estimate"), 0), interval,
                      "–" if u is None else f"{100 * u:.1f}%")
    return table


@population_app.command("estimate")
def estimate(project: str, areas: Annotated[bool, typer.Option(
                 "--areas", help="Also list every area.")] = False,
             workspace: WorkspaceOpt = DEFAULT_WS, as_user: AsOpt = None,
             as_json: JsonOpt = False) -> None:
    """The project's population and census undercount by level and area, with intervals."""
    def go() -> None:
        got = client(workspace, as_user).population_estimates(project)
        if as_json:
            print_json(got)
            return
        t = got["total"]
        console.print(f"{project}: population {fmt(t['estimate'], 0)} ({fmt(t['lower'], 0)}–"
                      f"{fmt(t['upper'], 0)}), census {fmt(t['census'], 0)}, undercount "
                      f"{100 * (t['undercount'] or 0):.1f}%", highlight=False)
        if got["coverage"]:
            cov = Table("post-stratum", "enumerated", "matched", "coverage", "undercount",
                        title="census coverage (dual-system)")
            for r in got["coverage"]:
                cov.add_row(str(r["post_stratum"]), fmt(r.get("n_enum"), 0),
                            fmt(r.get("matched"), 0), fmt(r.get("coverage"), 3),
                            f"{100 * r['undercount']:.1f}%" if r.get("undercount") is not None
                            else "–")
            console.print(cov)
        for level, rows in got["levels"].items():
            console.print(_figure_table(rows, f"by {level}"))
        if areas:
            console.print(_figure_table(got["areas"], "by area"))
        console.print(f"{got['protection']['suppressed']} area(s) hidden by disclosure "
                      "control", highlight=False)
    guard(go, as_json)


@population_app.command("dse")
def dse(census: Annotated[Path, typer.Argument(help="Census counts: one row per area "
                                                    "(and post-stratum).")],
        enumeration: Annotated[Path, typer.Argument(help="The enumeration's persons.")],
        records: Annotated[Path | None, typer.Option(
            help="The census's person records of the enumerated areas.")] = None,
        links: Annotated[Path | None, typer.Option(
            help="Matched pairs: census_id, enum_id.")] = None,
        matched: Annotated[str | None, typer.Option(
            help="Or: the enumeration's yes/no column saying the person was matched.")] = None,
        area: AreaOpt = "area",
        post_strata: Annotated[str, typer.Option(help="Post-strata columns, comma-separated.")]
        = "", count: Annotated[str, typer.Option(help="The census count column.")] = "count",
        census_id: Annotated[str, typer.Option(help="The census records' id column.")]
        = "person_id",
        enum_id: Annotated[str, typer.Option(help="The enumeration's id column.")] = "person_id",
        bootstrap: Annotated[int, typer.Option(help="Bootstrap replicates.")] = 999,
        seed: SeedOpt = 2022, level: LevelOpt = 0.95, as_json: JsonOpt = False) -> None:
    """Census coverage and population by post-stratum and area (dual-system estimation)."""
    def go() -> None:
        from citizendata.integrate.population import dual_system

        r = dual_system(_csv(census), _csv(enumeration), _csv(records) if records else None,
                        area=area, post_strata=[c for c in post_strata.split(",") if c],
                        count=count, links=_csv(links) if links else None, matched=matched,
                        census_id=census_id, enum_id=enum_id, confidence=level,
                        bootstrap=bootstrap, seed=seed)
        if as_json:
            print_json(r.to_dict())
            return
        rows = [{**s, "code": s["post_stratum"]} for s in r.to_dict()["strata"]]
        console.print(_figure_table([*rows, {**r.total, "code": "total"}],
                                    "census coverage by post-stratum"))
        for note in r.notes:
            console.print(f"note: {note}", highlight=False)
    guard(go, as_json)


@population_app.command("bottom-up")
def bottom_up(dwellings: Annotated[Path, typer.Argument(help="Dwelling counts by area.")],
              listing: Annotated[Path, typer.Argument(
                  help="The listing of sampled areas: one row per dwelling.")],
              area: AreaOpt = "area",
              strata: Annotated[str, typer.Option(help="Strata columns, comma-separated.")]
              = "", count: Annotated[str, typer.Option(help="The dwelling count column.")]
              = "dwellings",
              household: Annotated[str, typer.Option(help="The listing's dwelling id.")]
              = "household",
              occupied: Annotated[str, typer.Option(help="The listing's yes/no column.")]
              = "occupied",
              persons: Annotated[str, typer.Option(help="The listing's persons column.")]
              = "persons",
              draws: Annotated[int, typer.Option(help="Replicates.")] = 2000,
              seed: SeedOpt = 2022, level: LevelOpt = 0.95, as_json: JsonOpt = False) -> None:
    """Population of every area from dwellings × occupancy × persons per dwelling."""
    def go() -> None:
        from citizendata.integrate.population import bottom_up as model

        r = model(_csv(dwellings), _csv(listing), area=area,
                  strata=[c for c in strata.split(",") if c], count=count,
                  household=household, occupied=occupied, persons=persons, draws=draws,
                  confidence=level, seed=seed)
        if as_json:
            print_json(r.to_dict())
            return
        rows = [{**a, "code": a["area"], "census": None} for a in r.to_dict()["areas"]]
        console.print(_figure_table([*rows, {**r.total, "code": "total"}], "bottom-up"))
        for note in r.notes:
            console.print(f"note: {note}", highlight=False)
    guard(go, as_json)
