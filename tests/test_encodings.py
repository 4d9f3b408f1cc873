"""Reading CSV text (imports and reference tables): nothing guessed, nothing garbled, and an
empty reference table refused.

A file is read as UTF-8 (with or without a byte order mark), or as UTF-16 when its byte
order mark says so. Anything else is refused at the first byte that does not decode,
with its row, column and byte offset, unless the user names the encoding.
"""

from __future__ import annotations

import csv
import io
import json
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import text
from typer.testing import CliRunner

from citizendata import errors
from citizendata.cli import app as cli_app
from citizendata.errors import BadInput, CitizenDataError
from citizendata.forms.schema import FormSchema
from citizendata.forms.xlsform import parse_xlsform
from citizendata.ingest.tabular import read_tabular
from citizendata.workspace import Client, Workspace
from conftest import CHOICES, SPEC, SURVEY, household_form
from xlsform_builders import make_xlsform

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message="Using `httpx` with", category=UserWarning)
    from fastapi.testclient import TestClient

P, F = "test-project", "household"
BASE = f"/api/v1/projects/{P}"
HEADER = "instance_id,respondent,age,consent,location/ward,n_births"
# names as Excel on Windows saves them in Latin America and West Africa (cp1252): the
# curly apostrophe is 0x92, the euro sign 0x80, the dashes 0x96 and 0x97
NAMES = ("Ñusta Quispe Mamani", "João da Conceição", "Aïcha Koné – Côte d’Ivoire",
         "Bogotá «centro» — €5", "Ndèye Fatou Sène")


def windows_csv(names: tuple[str, ...] = NAMES, sep: str = ";") -> str:
    lines = [HEADER.replace(",", sep)]
    lines += [sep.join([f"uuid:w{i}", name, "30", "yes", "magadi", "0"])
              for i, name in enumerate(names)]
    return "\r\n".join(lines) + "\r\n"


def stored(ws: Workspace) -> int:
    with ws.transaction() as db:
        return int(db.scalar(text("SELECT count(*) FROM submissions")) or 0)


@pytest.fixture(scope="module")
def schema() -> FormSchema:
    return parse_xlsform(household_form(), "household.xlsx").schema


def respondents(result: Any) -> list[str | None]:
    return [json.loads(r).get("respondent") for r in result.table.column("payload").to_pylist()]


# -- a stray byte ---------------------------------------------------------------------------------

def test_utf8_with_one_stray_byte_is_refused_where_the_byte_is(ws: Workspace,
                                                              owner: Client) -> None:
    good = (HEADER + "\nuuid:s1,José Müller,30,yes,magadi,0\n"
            "uuid:s2,Zoë Njeri,31,yes,magadi,0\nuuid:s3,Wanjiru,32,no,ewuaso,0\n").encode()
    at = good.index(b"Wanjiru")
    data = good[:at] + b"\x96" + good[at:]  # a dash pasted from a cp1252 program
    with pytest.raises(BadInput) as e:
        owner.import_file(P, F, data, "stray.csv")
    err = e.value
    assert err.code == "import.encoding"
    assert err.where is not None
    assert (err.where.file, err.where.row, err.where.column, err.where.position) == \
        ("stray.csv", 4, "respondent", at)
    assert "0x96" in err.message and "column B" in err.message
    assert "rest of the file reads as UTF-8" in str(err.fix)
    assert stored(ws) == 0
    # naming an encoding that reads it is the user's decision, and is then exact
    r = owner.import_file(P, F, good, "fixed.csv")
    assert r.created == 3 and owner.submission(P, F, "uuid:s1")["data"]["respondent"] == "José Müller"


def test_a_bad_byte_in_a_quoted_multiline_cell_is_found(schema: FormSchema) -> None:
    data = (HEADER + '\nuuid:q1,"two\nlines \xff here",30,yes,magadi,0\n').encode("latin-1")
    with pytest.raises(BadInput) as e:
        read_tabular(data, "q.csv", schema)
    assert e.value.where is not None
    assert (e.value.where.row, e.value.where.column, e.value.where.position) == \
        (2, "respondent", data.index(b"\xff"))


# -- Windows-1252 and UTF-16 with a named encoding -------------------------------------------------

def test_cp1252_export_is_refused_then_read_exactly_when_named(ws: Workspace,
                                                              owner: Client) -> None:
    data = windows_csv().encode("cp1252")
    with pytest.raises(BadInput) as e:
        owner.import_file(P, F, data, "excel.csv")
    assert e.value.code == "import.encoding" and e.value.where is not None
    assert (e.value.where.row, e.value.where.column) == (2, "respondent")
    assert "--encoding cp1252" in str(e.value.fix)
    assert stored(ws) == 0
    r = owner.import_file(P, F, data, "excel.csv", encoding="windows-1252")
    assert r.created == len(NAMES)
    assert [owner.submission(P, F, f"uuid:w{i}")["data"]["respondent"]
            for i in range(len(NAMES))] == list(NAMES)


def test_excel_unicode_text_is_read_from_its_byte_order_mark(schema: FormSchema) -> None:
    # Excel's "Unicode text": UTF-16 LE with a byte order mark, tab separated, CRLF
    data = windows_csv(sep="\t").encode("utf-16")
    assert data[:2] == b"\xff\xfe"
    assert respondents(read_tabular(data, "unicode.txt", schema)) == list(NAMES)


@pytest.mark.parametrize("codec", ["utf-16-le", "utf-16-be"])
def test_utf16_without_byte_order_mark_needs_its_name(schema: FormSchema, codec: str) -> None:
    data = windows_csv(sep="\t").encode(codec)
    with pytest.raises(BadInput) as e:
        read_tabular(data, "u.csv", schema)
    assert e.value.code == "import.encoding" and f"--encoding {codec}" in str(e.value.fix)
    with pytest.raises(BadInput) as e:
        read_tabular(data, "u.csv", schema, encoding="utf-16")  # which byte first?
    assert e.value.code == "import.encoding" and "utf-16-le or utf-16-be" in str(e.value.fix)
    assert respondents(read_tabular(data, "u.csv", schema, encoding=codec)) == list(NAMES)


def test_a_named_encoding_is_applied_strictly(schema: FormSchema) -> None:
    data = windows_csv().encode("utf-8")
    with pytest.raises(BadInput) as e:
        read_tabular(data, "x.csv", schema, encoding="ascii")
    assert e.value.code == "import.encoding" and e.value.where is not None
    assert (e.value.where.row, e.value.where.column) == (2, "respondent")
    assert "Check that ascii is the file's encoding" in str(e.value.fix)
    # 0x81 is not a cp1252 character: refused, not replaced
    with pytest.raises(BadInput) as e:
        read_tabular(HEADER.encode() + b"\nuuid:a,x\x81y,1,yes,magadi,0\n", "y.csv", schema,
                     encoding="cp1252")
    assert e.value.code == "import.encoding"
    for name in ("klingon", "base64", "rot13"):
        with pytest.raises(BadInput) as e:
            read_tabular(data, "x.csv", schema, encoding=name)
        assert e.value.code == "input.invalid" and e.value.where is not None
        assert e.value.where.field == "encoding"


def test_binary_and_empty_files_are_still_not_tables(schema: FormSchema) -> None:
    for data in (b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 20, b"", b"\xef\xbb\xbf  \r\n"):
        with pytest.raises(BadInput) as e:
            read_tabular(data, "x.csv", schema)
        assert [p.code for p in e.value.problems] == ["import.not_a_table"]


# -- property tests ------------------------------------------------------------------------------------

_cell = st.text(st.characters(exclude_categories=["Cs", "Cc"]), min_size=1, max_size=12)


@settings(max_examples=200, deadline=None)
@given(cells=st.lists(st.tuples(_cell, _cell), min_size=1, max_size=6),
       row=st.integers(0, 5), col=st.sampled_from([0, 1]), bad=st.integers(0x80, 0xFF))
def test_the_first_bad_byte_is_reported_where_it_was_put(schema: FormSchema,
                                                         cells: list[tuple[str, str]], row: int,
                                                         col: int, bad: int) -> None:
    row = min(row, len(cells) - 1)
    marked = [list(c) for c in cells]
    marked[row][col] = "\x01" + marked[row][col]  # where the stray byte goes
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["respondent", "age"])
    w.writerows(marked)
    data = buf.getvalue().encode("utf-8")
    at = data.index(b"\x01")
    data = data[:at] + bytes([bad]) + data[at + 1:]
    with pytest.raises(BadInput) as e:
        read_tabular(data, "h.csv", schema)
    assert e.value.code == "import.encoding" and e.value.where is not None
    assert (e.value.where.row, e.value.where.column, e.value.where.position) == \
        (row + 2, ["respondent", "age"][col], at)


@settings(max_examples=200, deadline=None)
@given(body=st.binary(max_size=400), header=st.booleans(),
       encoding=st.sampled_from([None, None, "latin-1", "utf-16-le", "cp1252"]))
def test_random_bytes_give_a_faithful_import_or_a_coded_error(schema: FormSchema, body: bytes,
                                                             header: bool,
                                                             encoding: str | None) -> None:
    data = (b"instance_id,respondent\n" if header else b"") + body
    try:
        result = read_tabular(data, "r.csv", schema, encoding=encoding)
    except CitizenDataError as exc:
        assert exc.code in errors.CATALOGUE
        assert type(exc).__name__ == errors.CATALOGUE[exc.code].kind
        return
    # accepted: no answer holds a character the bytes do not say in the encoding used
    decoded = data.decode(encoding or ("utf-16" if data[:2] in (b"\xff\xfe", b"\xfe\xff")
                                       else "utf-8-sig"))
    for payload in result.table.column("payload").to_pylist():
        assert set(_strings(json.loads(payload))) <= set(decoded)


def _strings(value: Any) -> Iterator[str]:
    """Every character of every text in a payload."""
    if isinstance(value, dict):
        for v in value.values():
            yield from _strings(v)
    elif isinstance(value, str):
        yield from value


_cp1252 = st.text(st.sampled_from(
    [c for c in bytes(range(0x20, 0x100)).decode("cp1252", errors="ignore")]), min_size=1,
    max_size=30)


@settings(max_examples=100, deadline=None)
@given(value=_cp1252, codec=st.sampled_from(["cp1252", "utf-16", "utf-16-le", "latin-1"]))
def test_text_in_a_named_encoding_round_trips(schema: FormSchema, value: str, codec: str) -> None:
    if codec == "latin-1" and not all(ord(c) < 256 for c in value):
        value = value.encode("latin-1", errors="replace").decode("latin-1")
    buf = io.StringIO()
    csv.writer(buf).writerows([["instance_id", "respondent"], ["uuid:t", value]])
    result = read_tabular(buf.getvalue().encode(codec), "t.csv", schema, encoding=codec)
    assert respondents(result) == [value]


# -- reference tables ------------------------------------------------------------------------------

def test_reference_table_encoding_follows_the_same_rule(ws: Workspace, owner: Client) -> None:
    table = "Région,Population\nSédhiou,452994\nZiguinchor,549151\n"
    with pytest.raises(BadInput) as e:
        owner.add_reference_table(P, "census", table.encode("cp1252"), kind="margins")
    assert e.value.code == "import.encoding" and e.value.where is not None
    assert (e.value.where.file, e.value.where.row, e.value.where.column) == ("census", 1, "A")
    info = owner.add_reference_table(P, "census", table.encode("cp1252"), kind="margins",
                                     encoding="cp1252")
    assert (info["columns"], info["rows"]) == (["Région", "Population"], 2)
    # the same text as UTF-8 is the same table: same canonical content, same hash
    again = owner.add_reference_table(P, "census", table.encode("utf-8"), kind="margins")
    assert again["sha256"] == info["sha256"]


@pytest.mark.parametrize("body", [b"", b"\n\n \r\n", b"\xef\xbb\xbf", b"\xff\xfe",
                                  b"area,count\n", b"area;count\r\n\r\n"],
                         ids=["zero-bytes", "blank-lines", "utf8-bom", "utf16-bom",
                              "header-only", "header-and-blank-line"])
def test_empty_reference_table_is_refused_naming_the_file(owner: Client, body: bytes) -> None:
    with pytest.raises(BadInput) as e:
        owner.add_reference_table(P, "census", body, kind="margins")
    assert e.value.code == "import.not_a_table" and e.value.http_status == 422
    assert e.value.where is not None and e.value.where.file == "census"
    assert owner.reference_tables(P) == []


def test_single_column_reference_table_keeps_its_column(owner: Client) -> None:
    info = owner.add_reference_table(P, "areas", b"area\nMagadi\nEwuaso\n", kind="geography")
    assert (info["columns"], info["rows"]) == (["area"], 2)


# -- HTTP API and the command line ---------------------------------------------------------------------

@pytest.fixture
def server(http_server: tuple[Workspace, TestClient, dict[str, str]]
           ) -> tuple[Workspace, TestClient, dict[str, str]]:
    """The owner's workspace served, with their auth header (conftest's http_server)."""
    return http_server


def test_http_import_refuses_then_reads_a_named_encoding(
        server: tuple[Workspace, TestClient, dict[str, str]]) -> None:
    ws, http, h = server
    data = windows_csv().encode("cp1252")
    url = f"{BASE}/forms/{F}/import"
    r = http.post(url, headers=h, files={"file": ("excel.csv", data, "text/csv")})
    assert r.status_code == 422, r.text
    err = r.json()["error"]
    assert err["code"] == "import.encoding"
    assert err["where"] == {"file": "excel.csv", "row": 2, "column": "respondent",
                            "position": data.index(b"\xd1")}
    assert err["details"] == {"byte_offset": data.index(b"\xd1")}
    bad = http.post(f"{url}?encoding=klingon", headers=h,
                    files={"file": ("excel.csv", data, "text/csv")})
    assert bad.status_code == 422 and bad.json()["error"]["where"] == {"field": "encoding"}
    assert stored(ws) == 0
    ok = http.post(f"{url}?encoding=cp1252&filename=excel.csv", content=data,
                   headers={**h, "Content-Type": "application/octet-stream"})
    assert ok.status_code == 201, ok.text
    one = http.get(f"{BASE}/forms/{F}/submissions/uuid:w2", headers=h).json()
    assert one["data"]["respondent"] == NAMES[2]
    ref = http.put(f"{BASE}/reference-tables/census?kind=margins&encoding=cp1252",
                   content="Région;Population\nKédougou;184938\n".encode("cp1252"),
                   headers={**h, "Content-Type": "text/csv"})
    assert ref.status_code == 200 and ref.json()["columns"] == ["Région", "Population"]


def test_cli_encoding_option(tmp_path: Path) -> None:
    runner = CliRunner()

    def cli(*args: str) -> tuple[int, str]:
        result = runner.invoke(cli_app, [*args, "-w", str(tmp_path / "ws")],
                               env={"CITIZENDATA_PASSWORD": "", "COLUMNS": "200"},
                               catch_exceptions=False)
        return result.exit_code, result.output

    assert cli("init", "--admin", "amina", "--password", "amina-password")[0] == 0
    (tmp_path / "spec.json").write_text(json.dumps(SPEC))
    assert cli("projects", "create", str(tmp_path / "spec.json"))[0] == 0
    (tmp_path / "form.xlsx").write_bytes(
        make_xlsform(SURVEY, CHOICES, {"form_id": F, "version": "1"}))
    assert cli("forms", "add", P, str(tmp_path / "form.xlsx"))[0] == 0
    export = tmp_path / "export.csv"
    export.write_bytes(windows_csv().encode("cp1252"))
    code, out = cli("import", P, F, str(export))
    assert code == 2 and "import.encoding" in out and "--encoding cp1252" in out
    code, out = cli("import", P, F, str(export), "--encoding", "cp1252")
    assert code == 0 and f"Imported {len(NAMES)} new" in " ".join(out.split())
    census = tmp_path / "census.csv"
    census.write_bytes("Région,Population\nSédhiou,452994\n".encode("cp1252"))
    assert cli("reference", "add", P, "census", str(census))[0] == 2
    code, out = cli("reference", "add", P, "census", str(census), "--encoding", "cp1252")
    assert code == 0 and "Région" in out

