"""The mapping of an organisation's file to the case form, as a parser (Hypothesis)."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cases_kit import FISCALIA_COLUMNS, case_form, cases_section
from citizendata.errors import BadInput
from citizendata.forms.xlsform import parse_xlsform
from citizendata.projects.cases import CasesSpec
from citizendata.services.cases import case_instance_id, map_list_file

SCHEMA = parse_xlsform(case_form(), "cases.xlsx").schema
SPEC = CasesSpec.model_validate(cases_section())
FISCALIA = next(x for x in SPEC.lists if x.name == "fiscalia")
HEADER = list(FISCALIA_COLUMNS)

ids = st.text(alphabet="ABCDEFGHJK0123456789-", min_size=1, max_size=12).filter(
    lambda s: s.strip("-") != "")
dates = st.dates(min_value=date(1990, 1, 1), max_value=date(2030, 12, 31))
garbage = st.text(alphabet="0123456789/-. abc", min_size=1, max_size=12)


def _file(rows: list[list[str]]) -> bytes:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(HEADER)
    w.writerows(rows)
    return buf.getvalue().encode()


def _row(rid: str, when: str) -> list[str]:
    return [rid, "Ana", "Ruiz", "female", "30", "journalist", "killing", when, "05", "05001",
            "unknown"]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(ids, dates), min_size=1, max_size=15, unique_by=lambda t: t[0]))
def test_good_rows_map_to_iso_dates_and_stable_ids(records: list[tuple[str, date]]) -> None:
    data = _file([_row(r, d.strftime("%d/%m/%Y")) for r, d in records])
    out, rows = map_list_file(data, "f.csv", "casos", FISCALIA, SPEC, SCHEMA)
    got = list(csv.DictReader(io.StringIO(out.decode())))
    assert rows == list(range(2, len(records) + 2))
    assert [g["event_date"] for g in got] == [d.isoformat() for _, d in records]
    assert [g["instance_id"] for g in got] == [case_instance_id("casos", "fiscalia", r)
                                                for r, _ in records]
    assert {g["source"] for g in got} == {"fiscalia"}


@settings(max_examples=60, deadline=None)
@given(st.lists(ids, min_size=2, max_size=10, unique=True), st.data())
def test_a_bad_date_is_named_by_row_and_column(record_ids: list[str], data: st.DataObject
                                               ) -> None:
    bad_at = data.draw(st.integers(0, len(record_ids) - 1))
    text = data.draw(garbage)
    try:
        datetime.strptime(text.strip(), "%d/%m/%Y")
        readable = True
    except ValueError:
        readable = False
    rows = [_row(r, "01/02/2020") for r in record_ids]
    rows[bad_at][7] = text
    try:
        map_list_file(_file(rows), "f.csv", "casos", FISCALIA, SPEC, SCHEMA)
    except BadInput as exc:
        assert exc.code == "cases.invalid"
        assert [(p.where.row, p.where.column) for p in exc.problems if p.where] == [
            (bad_at + 2, "fecha_hechos")]
        # the cell's text is not quoted back: the row and column find it
        assert [p.message for p in exc.problems] == [
            "not a date in the list's format '%d/%m/%Y'"]
    else:
        assert readable or text.strip() == ""


def test_ids_differ_by_project_list_and_record() -> None:
    a = case_instance_id("casos", "fiscalia", "1")
    assert a == case_instance_id("casos", "fiscalia", "1")
    assert len({a, case_instance_id("otro", "fiscalia", "1"),
                case_instance_id("casos", "somos", "1"),
                case_instance_id("casos", "fiscalia", "2")}) == 4
    with pytest.raises(BadInput) as err:
        map_list_file(_file([_row("", "01/02/2020")]), "f.csv", "casos", FISCALIA, SPEC,
                      SCHEMA)
    assert [(p.where.row, p.where.column) for p in err.value.problems if p.where] == [
        (2, "radicado")]
