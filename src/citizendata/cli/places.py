"""Command line: `citizendata places locate|interpolate`, thin over citizendata.integrate.places."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from citizendata.cli._common import JsonOpt, Table, app, console, fmt, guard

__all__ = ["interpolate_cmd", "locate_cmd", "places_app"]

places_app = typer.Typer(help="Places: which area each GPS point lies in, checks against the "
                              "area named, areal interpolation.", no_args_is_help=True)
app.add_typer(places_app, name="places")

BoundariesArg = Annotated[Path, typer.Argument(
    help="Boundaries: GeoJSON, zipped Shapefile, .shp (with its sidecars) or GeoPackage; "
         "each area has a 'code' attribute.")]


def _csv(path: Path) -> Any:
    import pandas as pd

    from citizendata.errors import BadInput, Where

    try:
        return pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError, pd.errors.ParserError) as exc:
        raise BadInput("geo.invalid_points", f"{path.name!r} is not a readable UTF-8 CSV: "
                       f"{exc}", where=Where(file=path.name)) from exc


@places_app.command("locate")
def locate_cmd(
        points: Annotated[Path, typer.Argument(help="CSV of points, one per row.")],
        boundaries: BoundariesArg,
        lat: Annotated[str, typer.Option(help="Column of latitudes (decimal degrees, WGS 84).")],
        lon: Annotated[str, typer.Option(help="Column of longitudes (decimal degrees, WGS 84).")],
        area: Annotated[str | None, typer.Option(
            help="Column naming the area each point should lie in: check it.")] = None,
        tolerance: Annotated[float, typer.Option(
            metavar="M", help="With --area: metres outside the named area still accepted.")] = 0.0,
        code: Annotated[str, typer.Option(help="The boundaries' area code attribute.")] = "code",
        out: Annotated[Path | None, typer.Option(
            help="Write the points with the area they lie in (and the check) to this CSV.")] = None,
        as_json: JsonOpt = False) -> None:
    """Find the area each point lies in; with --area, check it is the area the row names.

    Points on a border shared by two areas go to the area whose code sorts first.
    Messages never show coordinates (a home's GPS point is personal data).
    """
    def go() -> None:
        import numpy as np
        import pandas as pd

        from citizendata.integrate.places import FINDING_STATUSES, Areas, check_points

        areas = Areas.read(boundaries, code_field=code)
        table = _csv(points)
        if area is None:
            res = check_points(table.assign(_area=""), areas, lon=lon, lat=lat, area="_area")
        else:
            res = check_points(table, areas, lon=lon, lat=lat, area=area,
                               tolerance_m=tolerance)
        located = res["located"]
        if out is not None:
            extra = res[["located", "distance_m", "status", "message"]] if area else \
                res[["located"]]
            pd.concat([table, extra.set_axis([f"_{c}" for c in extra.columns], axis=1)],
                      axis=1).to_csv(out, index=False, lineterminator="\n")
        by_area = {str(k): int(v) for k, v in located.value_counts(dropna=True)
                   .sort_index().items()}
        result: dict[str, Any] = {"points": len(table), "areas": len(areas),
                                  "located": int(located.notna().sum()), "by_area": by_area}
        if area is not None:
            hits = res[res["status"].isin(FINDING_STATUSES)]
            result.update({
                "tolerance_m": tolerance,
                "statuses": {str(k): int(v) for k, v in res["status"].value_counts().items()},
                "findings": [{"row": int(r) + 1, "area": a, "located": lo,
                              "distance_m": None if np.isnan(d) else float(d), "status": s,
                              "message": m}
                             for r, a, lo, d, s, m in hits[["row", "area", "located",
                                                            "distance_m", "status",
                                                            "message"]].itertuples(index=False)]})
        if as_json:
            console.print_json(data=result)
            return
        _print(result, points)
    guard(go, as_json)


def _print(result: dict[str, Any], path: Path) -> None:
    console.print(f"{path.name}: {result['points']:,} points, {result['located']:,} in one of "
                  f"{result['areas']:,} areas", highlight=False)
    if "findings" not in result:
        table = Table("area", "points")
        for k, v in result["by_area"].items():
            table.add_row(k, f"{v:,}")
        console.print(table)
        return
    console.print("statuses: " + ", ".join(f"{k} {v:,}" for k, v in result["statuses"].items()),
                  highlight=False)
    if result["findings"]:
        table = Table("row", "area named", "status", "message",
                      title=f"{len(result['findings']):,} point(s) to look at")
        for f in result["findings"][:200]:
            table.add_row(str(f["row"]), str(f["area"]), f["status"], f["message"])
        console.print(table)


@places_app.command("interpolate")
def interpolate_cmd(
        values: Annotated[Path, typer.Argument(help="CSV: one row per source area.")],
        source: Annotated[Path, typer.Argument(help="Boundaries of the values' areas.")],
        target: Annotated[Path, typer.Argument(help="Boundaries to move the values to.")],
        area: Annotated[str, typer.Option(help="Column of the values' area codes.")] = "area",
        columns: Annotated[str | None, typer.Option(
            help="Value columns, comma-separated (default: every numeric column).")] = None,
        intensive: Annotated[bool, typer.Option(
            "--intensive", help="Rates or densities: area-weighted averages, not shares.")
        ] = False,
        weights: Annotated[Path | None, typer.Option(
            help="CSV of weight points (lon, lat, weight), e.g. dwellings: share by them.")
        ] = None,
        as_json: JsonOpt = False) -> None:
    """Move counts (or rates, --intensive) from one set of areas to another by area overlap."""
    def go() -> None:
        import pandas as pd

        from citizendata.integrate.places import Areas, areal_interpolate

        table = _csv(values)
        cols = [c.strip() for c in columns.split(",")] if columns else [
            c for c in table.columns if c != area
            and pd.to_numeric(table[c], errors="coerce").notna().all()]
        for c in cols:
            if c in table.columns:
                table[c] = pd.to_numeric(table[c], errors="coerce")
        w = None
        if weights is not None:
            w = _csv(weights)
            for c in ("lon", "lat", "weight"):
                if c in w.columns:
                    w[c] = pd.to_numeric(w[c], errors="coerce")
        res = areal_interpolate(table, Areas.read(source), Areas.read(target), area=area,
                                columns=cols, extensive=not intensive, weights=w)
        if as_json:
            console.print_json(data={"extensive": not intensive, "notes": res.notes,
                                     "areas": res.table.to_dict(orient="records")})
            return
        t = Table("area", *cols, "covered")
        for row in res.table.itertuples(index=False):
            t.add_row(str(row[0]), *(fmt(v, 2) for v in row[1:]))
        console.print(t)
        for note in res.notes:
            console.print(f"note: {note}", highlight=False)
    guard(go, as_json)
