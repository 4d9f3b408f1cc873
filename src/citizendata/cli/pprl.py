"""Command line for privacy-preserving record linkage: encode a list, link encodings."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from citizendata.cli._common import EncodingOpt, JsonOpt, Table, app, console, fmt, guard
from citizendata.errors import BadInput, Where

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["pprl_app"]

pprl_app = typer.Typer(help="Privacy-preserving record linkage: each list holder encodes its "
                       "identifiers into Bloom filters with a secret the holders share; the "
                       "encodings are linked without names.", no_args_is_help=True)
app.add_typer(pprl_app, name="pprl")


def _read_csv(path: Path, encoding: str | None) -> pd.DataFrame:
    """Every column as text ('05' stays '05'); empty cells are ''."""
    import pandas as pd

    if not path.is_file():
        raise BadInput("input.invalid", f"No such file: {path}.", where=Where(file=str(path)),
                       fix="Check the path.")
    try:
        return pd.read_csv(path, dtype=str, keep_default_na=False,
                           encoding=encoding or "utf-8-sig")
    except UnicodeDecodeError as exc:
        raise BadInput("input.invalid", f"{path.name} is not UTF-8 text ({exc.reason} at byte "
                       f"{exc.start}).", where=Where(file=str(path)),
                       fix="Give its encoding with --encoding, e.g. cp1252.") from None
    except (ValueError, OSError, pd.errors.ParserError) as exc:
        raise BadInput("input.invalid", f"{path.name} cannot be read as CSV: {exc}",
                       where=Where(file=str(path))) from None


def _read_secret(path: Path) -> bytes:
    if not path.is_file():
        raise BadInput("pprl.invalid", f"No secret file {path}.", where=Where(file=str(path)),
                       fix="Give the file holding the secret the list holders agreed.")
    # one trailing newline (an editor's) is not part of the secret
    return path.read_bytes().rstrip(b"\r\n")


@pprl_app.command("schema")
def pprl_schema_cmd(
        out: Annotated[Path | None, typer.Option(
            "--out", help="Write the schema here instead of printing it.")] = None) -> None:
    """The case form's identifiers as an encoding schema (JSON) to share with the holders."""
    def go() -> None:
        from citizendata.integrate.pprl import colombia_schema

        text = json.dumps(colombia_schema().model_dump(mode="json"), indent=2)
        if out is None:
            console.print_json(text)
        else:
            out.write_text(text + "\n", encoding="utf-8")
    guard(go)


@pprl_app.command("encode")
def pprl_encode_cmd(
        data: Annotated[Path, typer.Argument(help="The list (CSV) with its identifiers.")],
        schema: Annotated[Path, typer.Option(help="The shared encoding schema (JSON).")],
        secret_file: Annotated[Path, typer.Option(
            help="File with the secret the list holders share (never give it to "
                 "citizendata's server).")],
        out: Annotated[Path, typer.Option(help="Where to write the encodings (CSV).")],
        id_col: Annotated[str, typer.Option(help="The list's record id column.")] = "record_id",
        encoding: EncodingOpt = None,
        as_json: JsonOpt = False) -> None:
    """Encode a list into Bloom filters: record_id, clk, hashed blocking keys; no names."""
    def go() -> None:
        from citizendata.integrate.pprl import encode_clks, read_schema

        frame = _read_csv(data, encoding)
        enc = encode_clks(frame, read_schema(schema), _read_secret(secret_file), id_col=id_col)
        enc.to_csv(out, index=False)
        info = {"records": len(enc), "out": str(out), "schema": enc["schema"].iloc[0]
                if len(enc) else None}
        if as_json:
            console.print_json(data=info)
        else:
            console.print(f"{len(enc):,} record(s) encoded to {out}", highlight=False)
    guard(go, as_json)


def _lists(specs: list[str]) -> dict[str, Path]:
    named: dict[str, Path] = {}
    for text in specs:
        name, sep, file = text.partition("=")
        if not sep or not name.strip() or not file.strip():
            raise BadInput("pprl.invalid", f"{text!r}: expected LIST=ENCODINGS.csv.",
                           where=Where(field="lists"), fix="Write e.g. fiscalia=fiscalia.enc.csv.")
        if name.strip() in named:
            raise BadInput("pprl.invalid", f"The list {name.strip()!r} is given twice.",
                           where=Where(field="lists"))
        named[name.strip()] = Path(file.strip())
    return named


@pprl_app.command("link")
def pprl_link_cmd(
        lists: Annotated[list[str], typer.Argument(
            metavar="LIST=ENCODINGS.csv", help="Each list's encodings, named by the list.")],
        out: Annotated[Path, typer.Option(help="The accepted pairs with their Dice scores (CSV).")],
        clusters: Annotated[Path | None, typer.Option(
            help="Also write key, cluster_id (connected components) here.")] = None,
        threshold: Annotated[float, typer.Option(help="Dice coefficient to accept a pair.")
                             ] = 0.8,
        blocking: Annotated[list[str] | None, typer.Option(
            help="keys (the hashed blocking keys), lsh (bands of filter bits) or all; "
                 "repeat to unite.")] = None,
        many: Annotated[bool, typer.Option(
            "--many-to-many", help="Keep every pair over the threshold (default: each record "
                                   "in at most one pair per two lists, best first).")] = False,
        as_json: JsonOpt = False) -> None:
    """Link the lists' encodings by Dice coefficients over blocked candidate pairs."""
    def go() -> None:
        from citizendata.integrate.pprl import link_encodings

        encoded = {n: _read_csv(p, None) for n, p in _lists(lists).items()}
        res = link_encodings(encoded, threshold=threshold, blocking=blocking or ["keys"],
                             one_to_one=not many)
        links = res.links()
        links[["left_key", "right_key", "score"]].to_csv(out, index=False)
        groups = res.clusters()
        if clusters is not None:
            groups.to_csv(clusters, index=False)
        info = {**res.summary, "threshold": threshold, "links": len(links),
                "records": len(groups), "clusters": int(groups["cluster_id"].nunique())}
        if as_json:
            console.print_json(data=info)
            return
        table = Table("list", "records", title=f"{len(links):,} link(s) at Dice ≥ {threshold:g}")
        for name, n in res.summary["lists"].items():
            table.add_row(name, f"{n:,}")
        console.print(table)
        console.print(f"candidate pairs {res.summary['candidate_pairs']:,} of "
                      f"{res.summary['all_pairs']:,} (reduction "
                      f"{fmt(res.summary['reduction_ratio'], 4)}); {info['clusters']:,} "
                      f"cluster(s) of {len(groups):,} record(s)", highlight=False)
    guard(go, as_json)
