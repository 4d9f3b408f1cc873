"""Build small XLSForm workbooks in memory for tests (shared by every test module)."""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from typing import Any

from openpyxl import Workbook

__all__ = ["make_xlsform"]


def _columns(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    """The union of the rows' keys, in order of first appearance."""
    cols: list[str] = []
    for row in rows:
        for key in row:
            if key not in cols:
                cols.append(key)
    return cols


def _write_sheet(wb: Workbook, title: str, rows: Sequence[Mapping[str, Any]]) -> None:
    """One sheet: a header row, then one row per dict (an empty dict is an empty row)."""
    ws = wb.create_sheet(title)
    cols = _columns(rows)
    ws.append(cols)
    for row in rows:
        ws.append([row.get(c) for c in cols])


def make_xlsform(
    survey_rows: Sequence[Mapping[str, Any]],
    choices_rows: Sequence[Mapping[str, Any]] | None = None,
    settings: Mapping[str, Any] | None = None,
    extra_sheets: Mapping[str, Sequence[Mapping[str, Any]]] | None = None,
) -> bytes:
    """An .xlsx XLSForm as bytes: 'survey' (first data row is row 2), 'choices', 'settings'.

    Keys of the row dicts are the column headers (type, name, label, label::English (en),
    required, relevant, constraint, constraint_message, calculation, choice_filter,
    repeat_count, appearance, parameters, default, personal, ...); values of None stay blank.
    """
    wb = Workbook()
    default = wb.active
    if default is not None:
        wb.remove(default)
    _write_sheet(wb, "survey", survey_rows)
    if choices_rows:
        _write_sheet(wb, "choices", choices_rows)
    if settings:
        _write_sheet(wb, "settings", [settings])
    for title, rows in (extra_sheets or {}).items():
        _write_sheet(wb, title, rows)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()
