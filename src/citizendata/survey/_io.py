"""Reading a survey file (CSV, Parquet, Excel) and its totals tables, with coded errors."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from citizendata.errors import BadInput, Where

__all__ = ["read_table", "read_totals"]

READERS = (".csv", ".parquet", ".xlsx")


def read_table(path: Path | str, *, encoding: str | None = None) -> pd.DataFrame:
    """A data frame from a .csv, .parquet or .xlsx file (first sheet)."""
    p = Path(path)
    if not p.is_file():
        raise BadInput("input.invalid", f"No such file: {p}.", where=Where(file=str(p)),
                       fix="Check the path.")
    suffix = p.suffix.lower()
    try:
        if suffix == ".parquet":
            return pd.read_parquet(p)
        if suffix == ".xlsx":
            return pd.read_excel(p, sheet_name=0)
        if suffix != ".csv":
            raise BadInput("input.invalid", f"{p.name}: a survey file is {', '.join(READERS)}, "
                           f"not {suffix or 'a file without extension'}.",
                           where=Where(file=str(p)), fix="Save the data as CSV.")
        return pd.read_csv(p, encoding=encoding or "utf-8-sig", skipinitialspace=True)
    except BadInput:
        raise
    except UnicodeDecodeError as exc:
        raise BadInput("input.invalid", f"{p.name} is not UTF-8 text ({exc.reason} at byte "
                       f"{exc.start}).", where=Where(file=str(p)),
                       fix="Give its encoding with --encoding, e.g. cp1252.") from None
    except (ValueError, OSError, pd.errors.ParserError) as exc:
        raise BadInput("input.invalid", f"{p.name} cannot be read: {exc}",
                       where=Where(file=str(p))) from None


def read_totals(path: Path | str, columns: list[str] | None = None, *,
                encoding: str | None = None) -> pd.DataFrame:
    """A totals table: the category column(s) and ``total`` (checked here, named in errors)."""
    table = read_table(path, encoding=encoding)
    p = Path(path)
    if "total" not in table.columns:
        raise BadInput("calibration.invalid", f"{p.name} has no 'total' column (its columns: "
                       f"{', '.join(map(str, table.columns))}).", where=Where(file=str(p)),
                       fix="A totals file has the category column(s) and a column named total.")
    cats = [c for c in table.columns if c != "total"] if columns is None else columns
    missing = [c for c in cats if c not in table.columns]
    if missing or not cats:
        raise BadInput("calibration.invalid", f"{p.name} has no column "
                       f"{', '.join(repr(c) for c in missing) or 'besides total'} (its columns: "
                       f"{', '.join(map(str, table.columns))}).",
                       where=Where(file=str(p), column=missing[0] if missing else None),
                       fix="Name the category column(s) as in the survey file.")
    out = table[[*cats, "total"]].copy()
    out.attrs["source"] = str(p)  # errors found later (categories, columns) name the file
    return out
