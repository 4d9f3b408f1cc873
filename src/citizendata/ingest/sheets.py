"""Reading CSV and XLSX files into text tables (``Sheet``) for the bulk import.

Cells are read as text (empty cells as null) with their spreadsheet row numbers; every
structural problem (ragged rows, duplicate or empty headers, unreadable bytes) is added
to the caller's list rather than raised, so a file's problems are reported together.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from typing import Any

import numpy as np
import openpyxl
import pyarrow as pa
import pyarrow.csv as pacsv

from citizendata.errors import Problem, Where
from citizendata.ingest.encoding import column_letter, decode_text, not_a_table, sniff_delimiter

__all__ = ["Sheet", "read_csv_sheet", "read_xlsx_sheets"]


@dataclass
class Sheet:
    """One table read from a file: header names and text columns c0..cN."""

    file: str
    name: str | None
    headers: list[str]
    table: pa.Table  # columns c0..cN (text) and `row` (int64, header is row 1)

    def where(self, column: str | None = None, row: int | None = None) -> Where:
        """A location in this sheet."""
        return Where(file=self.file, sheet=self.name, column=column, row=row)



def _row_numbers(n: int) -> pa.Array:
    return pa.array(np.arange(2, n + 2, dtype=np.int64))


def read_csv_sheet(data: bytes, file: str, problems: list[Problem],
                   encoding: str | None = None) -> Sheet:
    """A CSV file as a sheet of text columns; ragged rows are added to problems."""
    text_bytes = decode_text(data, file, encoding)
    sample = text_bytes[: 1 << 16].decode("utf-8", errors="ignore")
    delimiter = sniff_delimiter(sample)
    # newline="": a lone CR ends a row here as it does for the Arrow reader below
    headers = next(csv.reader(io.StringIO(sample, newline=""), delimiter=delimiter), [])
    if not any(h.strip() for h in headers):
        raise not_a_table(file, "the first row holds no column names")
    names = [f"c{i}" for i in range(len(headers))]
    ragged: list[int] = []

    def on_invalid(row: Any) -> str:
        ragged.append(row.actual_columns)
        return "skip"

    try:
        table = pacsv.read_csv(
            io.BytesIO(text_bytes),
            read_options=pacsv.ReadOptions(column_names=names, block_size=1 << 24),
            parse_options=pacsv.ParseOptions(delimiter=delimiter, newlines_in_values=True,
                                             invalid_row_handler=on_invalid),
            convert_options=pacsv.ConvertOptions(
                column_types={n: pa.string() for n in names}, strings_can_be_null=True,
                null_values=[""], quoted_strings_can_be_null=True),
        ).slice(1)  # the header is read as a row so that every column stays text
    except (pa.ArrowInvalid, UnicodeDecodeError) as exc:
        raise not_a_table(file, str(exc).splitlines()[0]) from None
    table = table.append_column("row", _row_numbers(table.num_rows))
    sheet = Sheet(file, None, [h.strip() for h in headers], table)
    if ragged:
        problems.extend(_ragged_rows(text_bytes, delimiter, len(headers), sheet))
    return sheet


def _ragged_rows(text_bytes: bytes, delimiter: str, width: int, sheet: Sheet) -> list[Problem]:
    """Only on the error path: find the ragged rows as a spreadsheet numbers them."""
    found: list[Problem] = []
    reader = csv.reader(io.StringIO(text_bytes.decode("utf-8"), newline=""), delimiter=delimiter)
    try:
        for number, cells in enumerate(reader, start=1):
            if cells and len(cells) != width:
                found.append(Problem(
                    "import.ragged_row",
                    f"row {number} has {len(cells)} cells but the header has {width}",
                    where=sheet.where(row=number)))
    except csv.Error as exc:  # e.g. a cell longer than the csv module reads
        found.append(Problem("import.ragged_row", f"rows after row {reader.line_num} have a "
                             f"different number of cells than the header ({exc})",
                             where=sheet.where(row=reader.line_num + 1)))
    return found


def _cell_text(cell: Any) -> str | None:
    """A cell's value as the text a person sees: 12 not 12.0, dates in ISO 8601."""
    v = cell.value
    if v is None or v == "":
        return None
    if isinstance(v, str):
        return v
    if isinstance(v, bool):
        return "TRUE" if v else "FALSE"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return str(int(v)) if v.is_integer() and abs(v) < 1e16 else repr(v)
    if hasattr(v, "hour") and hasattr(v, "date"):  # datetime
        fmt = str(getattr(cell, "number_format", "") or "").lower()
        if (v.hour, v.minute, v.second, v.microsecond) == (0, 0, 0, 0) and "h" not in fmt:
            return str(v.date().isoformat())
        return str(v.isoformat())
    if hasattr(v, "isoformat"):
        return str(v.isoformat())
    return str(v)


def read_xlsx_sheets(data: bytes, file: str, problems: list[Problem]) -> list[Sheet]:
    """Every worksheet of an XLSX workbook as a sheet of text columns."""
    try:
        wb = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many types for a broken workbook
        raise not_a_table(file, f"it is not a readable XLSX workbook ({type(exc).__name__})") from None
    sheets: list[Sheet] = []
    try:
        for ws in wb.worksheets:
            sheets.append(_read_worksheet(ws, file, problems))
    finally:
        wb.close()
    return sheets


def _read_worksheet(ws: Any, file: str, problems: list[Problem]) -> Sheet:
    """One worksheet; cells beyond the last named column are ragged rows."""
    if hasattr(ws, "reset_dimensions"):
        ws.reset_dimensions()  # some writers store wrong dimensions
    rows = ws.iter_rows()
    headers = [_cell_text(c) or "" for c in next(rows, ())]
    while headers and not headers[-1].strip():
        headers.pop()
    n = len(headers)
    cols: list[list[str | None]] = [[] for _ in range(n)]
    numbers: list[int] = []
    for number, cells in enumerate(rows, start=2):
        values = [_cell_text(c) for c in cells]
        if all(v is None for v in values):
            continue
        if any(v is not None for v in values[n:]):
            problems.append(Problem("import.ragged_row", f"row {number} has values beyond the last named "
                                    f"column {column_letter(n - 1) if n else 'A'}",
                                    where=Where(file=file, sheet=ws.title, row=number)))
        values += [None] * (n - len(values))
        for i in range(n):
            cols[i].append(values[i])
        numbers.append(number)
    arrays = {f"c{i}": pa.array(col, pa.string()) for i, col in enumerate(cols)}
    arrays["row"] = pa.array(numbers, pa.int64())
    return Sheet(file, ws.title, [h.strip() for h in headers], pa.table(arrays))
