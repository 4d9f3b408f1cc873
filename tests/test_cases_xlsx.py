"""A list kept in Excel: codes that lost their leading zero, formulas without a value."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest
from openpyxl import Workbook

from cases_kit import FISCALIA_COLUMNS, case_form, cases_section
from citizendata.errors import BadInput
from citizendata.forms.xlsform import parse_xlsform
from citizendata.projects.cases import CasesSpec
from citizendata.services.cases import map_list_file

SCHEMA = parse_xlsform(case_form(), "cases.xlsx").schema
SPEC = CasesSpec.model_validate(cases_section())
FISCALIA = next(x for x in SPEC.lists if x.name == "fiscalia")


def _workbook(rows: list[list[Any]]) -> bytes:
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = "Hoja1"
    ws.append(list(FISCALIA_COLUMNS))
    for row in rows:
        ws.append(row)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def _row(rid: str, depto: Any, age: Any = 34) -> list[Any]:
    return [rid, "María José", "Gómez Pérez", "female", age, "journalist", "killing",
            "03/02/2019", depto, "05001", "armed_group"]


def _mapped(data: bytes) -> list[dict[str, str]]:
    out, _ = map_list_file(data, "fiscalia.xlsx", "casos", FISCALIA, SPEC, SCHEMA)
    return list(csv.DictReader(io.StringIO(out.decode())))


def test_department_codes_typed_as_numbers_get_their_leading_zero_back() -> None:
    # Excel keeps "05" (Antioquia) as the number 5; 76 and "11" are already two digits
    got = _mapped(_workbook([_row("F-1", 5), _row("F-2", 76), _row("F-3", "11"),
                             _row("F-4", 5.0)]))
    assert [g["department"] for g in got] == ["05", "76", "11", "05"]


def test_a_number_that_is_no_code_even_padded_is_still_refused() -> None:
    # 7 -> "07" is not a department of the form: refused as typed, by row and column
    with pytest.raises(BadInput) as err:
        _mapped(_workbook([_row("F-1", 5), _row("F-2", 7), _row("F-3", 505)]))
    wheres = [(p.where.row, p.where.column) for p in err.value.problems if p.where]
    assert wheres == [(3, "cod_depto"), (4, "cod_depto")]


def test_a_formula_without_a_computed_value_is_a_problem_not_a_blank() -> None:
    # openpyxl (like any program) writes the formula but not its value
    with pytest.raises(BadInput) as err:
        _mapped(_workbook([_row("F-1", 5), _row("F-2", 5, age="=1+1"), _row("F-3", 5)]))
    problems = [p for p in err.value.problems if "formula" in p.message]
    assert [(p.where.row, p.where.column) for p in problems if p.where] == [(3, "edad")]
    assert not [p for p in err.value.problems if "María" in p.message or "1+1" in p.message]


def test_a_workbook_without_formulas_or_with_blank_cells_imports() -> None:
    got = _mapped(_workbook([_row("F-1", "05", age=None)]))
    assert got[0]["victim_age"] == "" and got[0]["department"] == "05"
