"""Command line: link the records of several lists of victims into victim-events."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from citizendata.cli._common import EncodingOpt, JsonOpt, Table, app, console, fmt, guard
from citizendata.errors import BadInput, Where

if TYPE_CHECKING:
    import pandas as pd

    from citizendata.integrate.linkage import LinkageResult

__all__ = ["linkage_app"]

linkage_app = typer.Typer(help="Record linkage across organisations' lists of victims "
                          "(Fellegi–Sunter with splink; Spanish names).", no_args_is_help=True)
app.add_typer(linkage_app, name="linkage")


def _read_csv(path: Path, encoding: str | None, what: str) -> pd.DataFrame:
    import pandas as pd

    if not path.is_file():
        raise BadInput("input.invalid", f"No such file: {path}.", where=Where(file=str(path)),
                       fix=f"Give the path of the {what} CSV.")
    try:
        # every column as text: record ids like 007 and codes like 05001 keep their zeros
        return pd.read_csv(path, dtype=str, keep_default_na=False, encoding=encoding or "utf-8")
    except (UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise BadInput("input.invalid", f"{path.name} is not a readable CSV "
                       f"({type(exc).__name__}).", where=Where(file=str(path)),
                       fix="Save the file as UTF-8 CSV, or give --encoding.") from None


def _summary(result: LinkageResult, threshold: float, band: tuple[float, float],
             clusters: pd.DataFrame, out: Path) -> dict[str, Any]:
    pairs = result.pairs
    return {
        "records": len(result.keys),
        "records_by_list": {str(k): int(v) for k, v in
                            result.sources.value_counts().sort_index().items()},
        "candidate_pairs": len(pairs),
        "linked_pairs": int((pairs["match_probability"] >= threshold).sum()),
        "threshold": threshold,
        "clusters": int(clusters["cluster_id"].nunique()),
        "review_band": list(band),
        "review_queue": len(result.review_queue(*band)),
        "cut_pairs": len(clusters.attrs.get("cut", ())),
        "out": str(out),
        "model": result.model_summary(),
    }


@linkage_app.command("link")
def link_cmd(
        records: Annotated[Path, typer.Argument(
            help="The records of every list: a CSV with the case form's fields (source, "
                 "record_id, victim_given_names, victim_surnames, victim_sex, victim_age, "
                 "victim_role, violation, event_date, department, municipality).")],
        out: Annotated[Path, typer.Option(
            "--out", help="Where to write the clusters: key,cluster_id (no names).")],
        threshold: Annotated[float, typer.Option(
            help="Link pairs with at least this match probability.")] = 0.9,
        date_tolerance: Annotated[int, typer.Option(
            help="Event dates this many days apart still count as close.")] = 30,
        seed: Annotated[int, typer.Option(help="Seed of the u sampling.")] = 2016,
        decisions: Annotated[Path | None, typer.Option(
            help="Clerical decisions: a CSV left_key,right_key,decision "
                 "(match, non_match or unsure).")] = None,
        pairs_out: Annotated[Path | None, typer.Option(
            "--pairs", help="Also write the scored candidate pairs (keys, probability, "
                            "weight and comparison levels; no names).")] = None,
        review_low: Annotated[float, typer.Option(help="Low end of the review band.")] = 0.5,
        review_high: Annotated[float, typer.Option(help="High end of the review band.")] = 0.95,
        encoding: EncodingOpt = None,
        as_json: JsonOpt = False) -> None:
    """Link the records into victim-events and write each record's cluster.

    Names are compared after normalisation (accents, particles, nicknames, order), dates
    with a tolerance, places by department and municipality; the model is trained by EM
    (docs/methods/linkage.md). Output holds keys (list:record_id), never names.
    """
    def go() -> None:
        from citizendata.integrate.linkage import link_records

        frame = _read_csv(records, encoding, "records")
        dec = _read_csv(decisions, encoding, "decisions") if decisions else None
        result = link_records(frame, date_tolerance_days=date_tolerance, seed=seed,
                              decisions=dec)
        clusters = result.clusters(threshold)
        band = (review_low, review_high)
        summary = _summary(result, threshold, band, clusters, out)
        clusters[["key", "cluster_id"]].to_csv(out, index=False)
        if pairs_out is not None:
            result.pairs.to_csv(pairs_out, index=False)
        if as_json:
            console.print_json(data=summary)
            return
        _print(summary)
    guard(go, as_json)


def _print(s: dict[str, Any]) -> None:
    table = Table("list", "records", title=f"{s['records']:,} records linked into "
                  f"{s['clusters']:,} clusters at threshold {s['threshold']:g}")
    for name, n in s["records_by_list"].items():
        table.add_row(name, f"{n:,}")
    console.print(table)
    m = s["model"]
    console.print(f"candidate pairs: {s['candidate_pairs']:,}; linked: {s['linked_pairs']:,}; "
                  f"for review ({s['review_band'][0]:g}–{s['review_band'][1]:g}): "
                  f"{s['review_queue']:,}; prior λ = "
                  f"{fmt(m['probability_two_random_records_match'] * 1e6, 2)} per million pairs",
                  highlight=False)
    if s["cut_pairs"]:
        console.print(f"{s['cut_pairs']} link(s) cut to keep decided non-matches apart",
                      highlight=False)
    console.print(f"clusters written to {s['out']}", highlight=False)
