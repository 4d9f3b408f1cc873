"""CSV and XLSX import: Kobo and ODK Central exports, encodings, and every structural problem at once."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime

import openpyxl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from citizendata.errors import BadInput
from citizendata.forms.schema import Choice, Field, FormSchema, Group
from citizendata.ingest.payload import content_hash, parse_json_submission
from citizendata.ingest.tabular import TabularImport, read_tabular

FRUITS = (Choice("apple"), Choice("banana"), Choice("cherry"))
SCHEMA = FormSchema(
    form_id="household", version="2026.1", title="Household survey", root="household",
    fields=(
        Field("start", "start", "start"),
        Field("end", "end", "end"),
        Field("ward", "location/ward", "text"),
        Field("district", "location/district", "text"),
        Field("members", "members", "integer"),
        Field("fruits", "fruits", "select_multiple", list_name="fruits", choices=FRUITS),
        Field("gps", "gps", "geopoint"),
        Field("name", "people/name", "text", repeat="people"),
        Field("age", "people/age", "integer", repeat="people"),
    ),
    groups=(Group("location", "location", False), Group("people", "people", True)),
)


def rows_of(result: TabularImport) -> list[dict[str, object]]:
    """The imported rows with payload and source_meta parsed, checking every hash."""
    out = []
    for row in result.table.to_pylist():
        payload = json.loads(row["payload"])
        assert content_hash(payload) == row["content_hash"]
        row["payload"], row["source_meta"] = payload, json.loads(row["source_meta"])
        out.append(row)
    return out


def test_kobo_csv_with_groups_select_multiple_and_expanded_choices() -> None:
    export = (
        "start,end,location/ward,location/district,members,fruits/banana,fruits/apple,fruits/cherry,"
        "gps,_gps_latitude,_gps_longitude,_id,_uuid,_submission_time,__version__,_index\n"
        "2026-03-01T10:00:00.000+03:00,2026-03-01T10:15:00.000+03:00,Kibera,Nairobi,4,1,1,0,"
        "-1.3 36.8 0 5,-1.3,36.8,101,abc-1,2026-03-02T00:00:00,vX,1\n"
        ',,"Ward ""7"", east",,007,0,0,0,,,,102,abc-2,2026-03-02T00:00:00,vX,2\n'
    )
    result = read_tabular(export.encode(), "kobo.csv", SCHEMA)
    assert result.layout == "kobo" and result.n_rows == 2
    first, second = rows_of(result)
    assert first["row"] == 2 and first["instance_id"] == "uuid:abc-1"
    assert first["payload"] == {
        "start": "2026-03-01T10:00:00.000+03:00", "end": "2026-03-01T10:15:00.000+03:00",
        "location": {"ward": "Kibera", "district": "Nairobi"}, "members": "4",
        "fruits": "apple banana", "gps": "-1.3 36.8 0 5"}
    assert first["collected_at"] == datetime(2026, 3, 1, 7, 15, tzinfo=UTC)
    # __version__ is KoboToolbox's own id, never taken as the XLSForm version (issue 15)
    assert first["form_version"] is None and first["source_meta"]["__version__"] == "vX"
    assert first["source_meta"]["_id"] == "101"
    assert second["payload"]["members"] == "007"  # text stays text
    assert second["payload"]["location"] == {"ward": 'Ward "7", east', "district": None}
    assert second["payload"]["fruits"] == ""
    # the same data through the JSON API gives the same payload and hash
    sub = parse_json_submission({"instance_id": "uuid:abc-2", "data": second["payload"]}, SCHEMA)
    assert sub.content_hash == second["content_hash"]


def test_kobo_main_select_column_wins_over_expanded_ones() -> None:
    export = "_uuid,fruits,fruits/apple,fruits/cherry\nu1,cherry apple,1,1\n"
    (row,) = rows_of(read_tabular(export.encode(), "kobo.csv", SCHEMA))
    assert row["payload"] == {"fruits": "cherry apple"}


def test_odk_central_csv_rejoins_split_geopoints() -> None:
    export = (
        "SubmissionDate,start,end,location-ward,members,gps-Latitude,gps-Longitude,gps-Altitude,"
        "gps-Accuracy,meta-instanceID,SubmitterID,SubmitterName,AttachmentsPresent,"
        "AttachmentsExpected,Status,ReviewState,DeviceID,Edits,FormVersion,KEY\n"
        "2026-03-02T09:00:00.000Z,2026-03-01T10:00:00.000Z,2026-03-01T10:20:00.000Z,Kibera,5,"
        "-1.2921,36.8219,1650.5,4.9,uuid:o-1,7,Amina,0,0,,approved,collect:x,0,2026.1,uuid:o-1\n"
    )
    result = read_tabular(export.encode(), "central.csv", SCHEMA)
    assert result.layout == "odk_central"
    (row,) = rows_of(result)
    assert row["instance_id"] == "uuid:o-1"
    assert row["payload"]["gps"] == "-1.2921 36.8219 1650.5 4.9"
    assert row["payload"]["location"] == {"ward": "Kibera"}
    assert row["form_version"] == "2026.1"
    assert row["source_meta"]["SubmitterName"] == "Amina"
    assert row["collected_at"] == datetime(2026, 3, 1, 10, 20, tzinfo=UTC)


def test_semicolon_cp1252_csv_keeps_accents() -> None:
    text = "instance_id;ward;district\nu1;Besançon;Île-de-France à côté\nu2;Göttingen;Müller\n"
    # not guessed: refused at the first byte that is not UTF-8, with cp1252 suggested
    with pytest.raises(BadInput) as err:
        read_tabular(text.encode("cp1252"), "excel.csv", SCHEMA)
    assert err.value.code == "import.encoding" and "--encoding cp1252" in str(err.value.fix)
    result = read_tabular(text.encode("cp1252"), "excel.csv", SCHEMA, encoding="cp1252")
    assert result.layout == "plain"
    assert [r["payload"]["location"] for r in rows_of(result)] == [
        {"ward": "Besançon", "district": "Île-de-France à côté"},
        {"ward": "Göttingen", "district": "Müller"}]


def test_utf16_tab_separated_csv() -> None:
    text = "instance_id\tlocation/ward\tmembers\nu1\tNyeri ñ\t3\n"
    (row,) = rows_of(read_tabular(text.encode("utf-16"), "utf16.csv", SCHEMA))
    assert row["payload"] == {"location": {"ward": "Nyeri ñ"}, "members": "3"}


def test_three_problems_at_once() -> None:
    export = "instance_id,members,pets\nu1,2,0\nu1,3,1\n,4,2\n"
    with pytest.raises(BadInput) as err:
        read_tabular(export.encode(), "three.csv", SCHEMA)
    assert err.value.code == "import.structure"
    found = {(p.code, p.where.row if p.where else None, p.where.column if p.where else None)
             for p in err.value.problems}
    assert found == {("import.unknown_column", None, "pets"),
                     ("import.duplicate_instance_id", 2, "instance_id"),
                     ("import.missing_instance_id", 4, "instance_id")}
    dup = next(p for p in err.value.problems if p.code == "import.duplicate_instance_id")
    assert "rows 2, 3" in dup.message


def test_duplicate_column_ragged_row_and_no_id_column() -> None:
    export = "members,members,ward\n1,2,x\n1,2\n"
    with pytest.raises(BadInput) as err:
        read_tabular(export.encode(), "bad.csv", SCHEMA)
    codes = sorted(p.code for p in err.value.problems)
    assert codes == ["import.duplicate_column", "import.no_instance_id_column", "import.ragged_row"]
    ragged = next(p for p in err.value.problems if p.code == "import.ragged_row")
    assert ragged.where is not None and ragged.where.row == 3


@pytest.mark.parametrize("data", [bytes(range(256)) * 8, b"", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" * 50,
                                  b"just some words\nmore words\n"])
def test_not_a_table(data: bytes) -> None:
    with pytest.raises(BadInput) as err:
        read_tabular(data, "upload.csv", SCHEMA)
    assert [p.code for p in err.value.problems] == ["import.not_a_table"]


def _xlsx(sheets: dict[str, list[list[object]]]) -> bytes:
    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    for name, rows in sheets.items():
        ws = wb.create_sheet(name)
        for r in rows:
            ws.append(r)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def test_kobo_xlsx_export_with_a_repeat_sheet() -> None:
    data = _xlsx({
        "Household survey": [
            ["end", "location/ward", "members", "_id", "_uuid", "_index"],
            [datetime(2026, 3, 1, 10, 15), "Kibera", 2, 101, "h1", 1],
            [None, "Karen", 0, 102, "h2", 2],
            [None, "Lavington", 1.5, 103, "h3", 3],
        ],
        "people": [
            ["people/name", "people/age", "_index", "_parent_table_name", "_parent_index",
             "_submission__uuid"],
            ["Baraka", 7, 2, "Household survey", 1, "h1"],
            ["Amina", 34, 1, "Household survey", 1, "h1"],
            ["Zawadi", 61, 3, "Household survey", 3, "h3"],
        ],
    })
    result = read_tabular(data, "kobo.xlsx", SCHEMA)
    assert result.layout == "kobo"
    h1, h2, h3 = rows_of(result)
    assert h1["payload"] == {"end": "2026-03-01T10:15:00", "location": {"ward": "Kibera"}, "members": "2",
                             "people": [{"name": "Amina", "age": "34"}, {"name": "Baraka", "age": "7"}]}
    assert h2["payload"]["people"] is None and h2["payload"]["members"] == "0"
    assert h3["payload"]["members"] == "1.5"
    assert h3["payload"]["people"] == [{"name": "Zawadi", "age": "61"}]
    assert [r["row"] for r in (h1, h2, h3)] == [2, 3, 4]


def test_xlsx_repeat_row_without_parent() -> None:
    data = _xlsx({
        "main": [["_uuid", "members", "_index"], ["h1", 1, 1]],
        "people": [["name", "_index", "_parent_index"], ["Ghost", 1, 9]],
    })
    with pytest.raises(BadInput) as err:
        read_tabular(data, "kobo.xlsx", SCHEMA)
    (problem,) = err.value.problems
    assert problem.code == "import.orphan_repeat_row"
    assert problem.where is not None and (problem.where.sheet, problem.where.row) == ("people", 2)


cell_text = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00\r"),
                    min_size=1, max_size=30)


@settings(max_examples=40, deadline=None)
@given(cells=st.lists(st.tuples(cell_text, cell_text), min_size=1, max_size=8))
def test_csv_cells_come_back_exactly(cells: list[tuple[str, str]]) -> None:
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(["instance_id", "location/ward", "location/district"])
    for i, (ward, district) in enumerate(cells):
        writer.writerow([f"id-{i}", ward, district])
    rows = rows_of(read_tabular(buf.getvalue().encode(), "any.csv", SCHEMA))
    assert [r["payload"]["location"] for r in rows] == [{"ward": w, "district": d} for w, d in cells]


def test_control_characters_hash_like_python_json() -> None:
    export = 'instance_id,location/ward\nu1,"esc\x1b vt\x0b ok"\n'
    (row,) = rows_of(read_tabular(export.encode(), "ctl.csv", SCHEMA))  # rows_of checks the hash
    assert row["payload"] == {"location": {"ward": "esc\x1b vt\x0b ok"}}


def test_xlsx_nested_repeats_nest_in_index_order() -> None:
    schema = FormSchema(
        form_id="vax", version="1", title="Vaccination", root="vax",
        fields=(Field("hh", "hh", "text"), Field("name", "people/name", "text", repeat="people"),
                Field("vax", "people/doses/vax", "text", repeat="people/doses")),
        groups=(Group("people", "people", True),
                Group("doses", "people/doses", True, parent_repeat="people")))
    data = _xlsx({
        "Vaccination": [["_uuid", "hh", "_index"], ["a", "H1", 1], ["b", "H2", 2]],
        "people": [["people/name", "_index", "_parent_index"], ["Ann", 1, 1], ["Bob", 2, 1], ["Cy", 3, 2]],
        "doses": [["people/doses/vax", "_index", "_parent_index"], ["bcg", 2, 2], ["polio", 1, 2],
                  ["mmr", 3, 3]],
    })
    a, b = rows_of(read_tabular(data, "vax.xlsx", schema))
    assert a["payload"]["people"] == [{"name": "Ann", "doses": None},
                                      {"name": "Bob", "doses": [{"vax": "polio"}, {"vax": "bcg"}]}]
    assert b["payload"]["people"] == [{"name": "Cy", "doses": [{"vax": "mmr"}]}]
