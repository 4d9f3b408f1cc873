"""Bad input of every kind: the right coded error, where it is, and nothing half-written."""

from __future__ import annotations

import csv
import io
import itertools
import json
import random
import shutil
import warnings
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from citizendata.config import Settings
from citizendata.errors import BadInput, CitizenDataError, Conflict, PayloadTooLarge
from citizendata.server.app import create_app
from citizendata.workspace import Client, Workspace
from conftest import SPEC, household_form
from xlsform_builders import make_xlsform

with warnings.catch_warnings():
    # starlette 1.x prefers httpx2 for its test client; httpx is what the project installs
    warnings.filterwarnings("ignore", message="Using `httpx` with", category=UserWarning)
    from fastapi.testclient import TestClient

P, F = "test-project", "household"
TABLES = ("submissions", "intake_batches", "forms", "form_versions", "audit_log")
HEADER = "instance_id,respondent,age,consent,location/ward,n_births\n"


def counts(ws: Workspace) -> dict[str, int]:
    """How many rows each table that intake or form upload writes holds."""
    with ws.transaction() as db:
        return {t: int(db.scalar(text(f"SELECT count(*) FROM {t}")) or 0) for t in TABLES}


def refused(ws: Workspace, exc: type[CitizenDataError], call: Any) -> CitizenDataError:
    """Call, expect the error, and check that no table gained or lost a row."""
    before = counts(ws)
    with pytest.raises(exc) as e:
        call()
    assert counts(ws) == before
    return e.value


def sub(iid: str, **data: Any) -> dict[str, Any]:
    """One JSON submission in the envelope shape."""
    return {"instance_id": iid, "data": {"respondent": "Naserian", "age": "30",
                                         "consent": "yes", **data}}


# -- 1 and 2: forms ------------------------------------------------------------------------

def _zip_not_workbook() -> bytes:
    """A valid zip archive holding no workbook."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("notes.txt", "a zip file, but no workbook inside")
    return buf.getvalue()


@pytest.mark.parametrize("data", [random.Random(7).randbytes(3000), _zip_not_workbook()],
                         ids=["random-bytes", "zip-not-workbook"])
def test_non_xlsform_file_is_refused_whole(ws: Workspace, owner: Client, data: bytes) -> None:
    err = refused(ws, BadInput, lambda: owner.add_form(P, data, "form.xlsx"))
    assert err.code == "form.not_xlsform"
    assert err.where is not None and err.where.file == "form.xlsx"


def test_bad_type_names_sheet_row_and_column(ws: Workspace, owner: Client) -> None:
    form = make_xlsform([{"type": "text", "name": "a", "label": "A"},
                         {"type": "integr", "name": "b", "label": "B"}],
                        settings={"form_id": "other", "version": "1"})
    err = refused(ws, BadInput, lambda: owner.add_form(P, form, "other.xlsx"))
    assert err.code == "form.invalid"
    assert err.where is not None
    assert (err.where.file, err.where.sheet, err.where.row, err.where.column) == \
        ("other.xlsx", "survey", 3, "type")


def test_bad_new_version_of_existing_form_writes_no_version(ws: Workspace, owner: Client) -> None:
    form = household_form("2", [{"type": "integr", "name": "extra", "label": "Extra"}])
    err = refused(ws, BadInput, lambda: owner.add_form(P, form, "household.xlsx"))
    assert err.code == "form.invalid" and err.where is not None
    assert (err.where.sheet, err.where.row) == ("survey", 16)
    assert owner.form(P, F).versions == ("1",)


def test_unsupported_features_are_each_named(ws: Workspace, owner: Client) -> None:
    form = make_xlsform(
        [{"type": "text", "name": "a", "label": "A"},
         {"type": "calculate", "name": "c", "calculation": "pulldata('x', 'y', 'z', ${a})"},
         {"type": "select_one yn", "name": "s", "label": "S", "appearance": "search('fruits')"}],
        [{"list_name": "yn", "name": "yes", "label": "Yes"}],
        {"form_id": "ext", "version": "1"})
    err = refused(ws, BadInput, lambda: owner.add_form(P, form, "ext.xlsx"))
    # the form works once its files come with it: until then each is named, with its row
    assert err.code == "form.attachment_missing"
    found = {(p.where.row, p.where.column, p.where.field) for p in err.problems if p.where}
    assert found == {(3, "calculation", "c"), (4, "appearance", "s")}
    assert all(p.code == "form.attachment_missing" and p.where and p.where.sheet == "survey"
               for p in err.problems)
    assert err.details["missing"] == ["x.csv", "fruits.csv"]
    assert "pulldata()" in err.message and "search()" in err.message


# -- 3: encodings and junk -----------------------------------------------------------------

ACCENTED = "Zoë Müller-Ñúñez, d’Artagnan, Ærø €5"


@pytest.mark.parametrize("name", [ACCENTED, "Jürgen Müller", "Björk Guðmundsdóttir"],
                         ids=["mixed", "german", "icelandic"])
def test_cp1252_semicolon_csv_keeps_values_exactly(ws: Workspace, owner: Client, name: str) -> None:
    # a short export saved by Excel on Windows: cp1252, semicolons, CRLF
    body = ("instance_id;respondent;age;consent;location/ward;n_births\r\n"
            f'uuid:e1;"{name}";30;yes;magadi;0\r\n'
            "uuid:e2;Élodie Çelik;41;no;ewuaso;0\r\n")
    # nothing is guessed: refused unless the encoding is named, then read exactly
    err = refused(ws, BadInput, lambda: owner.import_file(P, F, body.encode("cp1252"),
                                                          "windows.csv"))
    assert err.code == "import.encoding" and err.where is not None and err.where.row == 2
    r = owner.import_file(P, F, body.encode("cp1252"), "windows.csv", encoding="cp1252")
    assert (r.created, r.duplicates) == (2, 0)
    one = owner.submission(P, F, "uuid:e1")["data"]
    assert one["respondent"] == name and one["location"] == {"ward": "magadi"}
    assert owner.submission(P, F, "uuid:e2")["data"]["respondent"] == "Élodie Çelik"


@pytest.mark.parametrize("codec", ["utf-16", "utf-16-le", "utf-16-be"])
def test_utf16_csv_is_imported(ws: Workspace, owner: Client, codec: str) -> None:
    body = HEADER + f'uuid:u1,"{ACCENTED}",22,yes,ewuaso,0\n'
    if codec == "utf-16":  # with a byte order mark, which says it is UTF-16
        r = owner.import_file(P, F, body.encode(codec), "unicode.csv")
    else:  # without one, the byte order is named
        err = refused(ws, BadInput, lambda: owner.import_file(P, F, body.encode(codec),
                                                              "unicode.csv"))
        assert err.code == "import.encoding" and codec in str(err.fix)
        r = owner.import_file(P, F, body.encode(codec), "unicode.csv", encoding=codec)
    assert r.created == 1
    assert owner.submission(P, F, "uuid:u1")["data"]["respondent"] == ACCENTED


def test_binary_junk_is_not_a_table(ws: Workspace, owner: Client) -> None:
    junk = b"\x89PNG\r\n\x1a\n" + random.Random(3).randbytes(4000)
    err = refused(ws, BadInput, lambda: owner.import_file(P, F, junk, "photo.csv"))
    assert err.code == "import.structure"
    assert [p.code for p in err.problems] == ["import.not_a_table"]
    assert err.problems[0].where is not None and err.problems[0].where.file == "photo.csv"


# -- 4: structural problems are listed together ---------------------------------------------

def _problems(err: CitizenDataError) -> set[tuple[str, int | None, str | None]]:
    """Each listed problem as (code, row, column)."""
    return {(p.code, p.where.row if p.where else None, p.where.column if p.where else None)
            for p in err.problems}


def test_missing_instance_id_column(ws: Workspace, owner: Client) -> None:
    body = b"respondent,age\nAmina,25\nSela,35\n"
    err = refused(ws, BadInput, lambda: owner.import_file(P, F, body, "noid.csv"))
    assert err.code == "import.structure"
    assert [p.code for p in err.problems] == ["import.no_instance_id_column"]


def test_blank_instance_id(ws: Workspace, owner: Client) -> None:
    body = (HEADER + "uuid:b1,A,25,yes,magadi,0\n,B,26,yes,magadi,0\n   ,C,27,yes,magadi,0\n")
    err = refused(ws, BadInput, lambda: owner.import_file(P, F, body.encode(), "blank.csv"))
    assert _problems(err) == {("import.missing_instance_id", 3, "instance_id"),
                              ("import.missing_instance_id", 4, "instance_id")}


def test_duplicate_instance_ids_in_the_file(ws: Workspace, owner: Client) -> None:
    body = (HEADER + "uuid:d1,A,25,yes,magadi,0\nuuid:d2,B,26,yes,magadi,0\n"
            "uuid:d1,A,25,yes,magadi,0\n")
    err = refused(ws, BadInput, lambda: owner.import_file(P, F, body.encode(), "dup.csv"))
    assert _problems(err) == {("import.duplicate_instance_id", 2, "instance_id")}
    assert err.problems[0].where is not None and err.problems[0].where.instance_id == "uuid:d1"
    assert "2, 4" in err.problems[0].message


def test_unknown_column(ws: Workspace, owner: Client) -> None:
    body = b"instance_id,respondent,colour\nuuid:k1,A,red\n"
    err = refused(ws, BadInput, lambda: owner.import_file(P, F, body, "colour.csv"))
    assert _problems(err) == {("import.unknown_column", None, "colour")}
    assert "column C" in err.problems[0].message


def test_every_structural_problem_in_one_error(ws: Workspace, owner: Client) -> None:
    body = ("instance_id,respondent,colour,age,shoe_size\n"
            "uuid:x1,A,red,25,40\n"
            ",B,blue,26,41\n"
            "uuid:x1,C,green,27,42\n"
            "uuid:x2,D,grey,28,43\n"
            "uuid:x2,E,pink,29,44\n")
    err = refused(ws, BadInput, lambda: owner.import_file(P, F, body.encode(), "all.csv"))
    assert err.code == "import.structure" and err.where is not None
    assert err.where.file == "all.csv"
    assert _problems(err) == {
        ("import.unknown_column", None, "colour"),
        ("import.unknown_column", None, "shoe_size"),
        ("import.missing_instance_id", 3, "instance_id"),
        ("import.duplicate_instance_id", 2, "instance_id"),
        ("import.duplicate_instance_id", 5, "instance_id"),
    }
    assert "nothing was imported" in err.message


def test_no_id_column_and_unknown_column_together(ws: Workspace, owner: Client) -> None:
    body = b"respondent,colour\nA,red\n"
    err = refused(ws, BadInput, lambda: owner.import_file(P, F, body, "both.csv"))
    assert {p.code for p in err.problems} == {"import.unknown_column",
                                             "import.no_instance_id_column"}


# -- 5: a conflict with what is stored --------------------------------------------------------

def test_conflicting_row_leaves_store_and_other_rows_untouched(ws: Workspace,
                                                               owner: Client) -> None:
    owner.import_file(P, F, (HEADER + "uuid:s1,Amina,25,yes,magadi,0\n").encode(), "a.csv")
    stored = owner.submission(P, F, "uuid:s1")
    body = (HEADER + "uuid:n1,Nuru,31,yes,magadi,0\n"
            "uuid:s1,Amina,26,yes,magadi,0\n"
            "uuid:n2,Baraka,33,no,ewuaso,0\n")
    err = refused(ws, Conflict, lambda: owner.import_file(P, F, body.encode(), "b.csv"))
    assert err.code == "conflict.submission" and err.where is not None and err.where.row == 3
    assert owner.submission(P, F, "uuid:s1") == stored
    assert owner.submissions(P, F)[0] == 1


# -- 6 and 7: JSON intake ------------------------------------------------------------------------

def test_invalid_json_names_line_and_position(ws: Workspace, owner: Client) -> None:
    body = b'[{"instance_id": "uuid:j1", "data": {}},\n  {"instance_id": "uuid:j2",, }]'
    err = refused(ws, BadInput, lambda: owner.submit(P, F, body))
    assert err.code == "intake.invalid_json"
    assert err.where is not None and (err.where.row, err.where.position) == (2, 29)


def test_one_bad_item_refuses_the_whole_batch(ws: Workspace, owner: Client) -> None:
    batch = [sub("uuid:g1"), sub("uuid:g2", colour="red"), sub("uuid:g3")]
    err = refused(ws, BadInput, lambda: owner.submit(P, F, batch))
    assert err.code == "intake.unknown_field"
    assert [(p.where.row, p.where.field) for p in err.problems if p.where] == [(1, "colour")]
    two = [sub("uuid:g1"), sub("uuid:g2", colour="red"), "not an object"]
    err = refused(ws, BadInput, lambda: owner.submit(P, F, two))
    assert err.code == "intake.invalid_submission"
    assert {(p.code, p.where.row if p.where else None) for p in err.problems} == {
        ("intake.unknown_field", 1), ("intake.invalid_submission", 2)}


def test_over_the_batch_limit(ws: Workspace, owner: Client) -> None:
    ws.settings.max_batch = 3
    err = refused(ws, PayloadTooLarge,
                  lambda: owner.submit(P, F, [sub(f"uuid:m{i}") for i in range(4)]))
    assert err.code == "intake.batch_too_large" and err.http_status == 413
    assert owner.submit(P, F, [sub(f"uuid:m{i}") for i in range(3)]).created == 3


# -- round trip of arbitrary text through the bulk import ------------------------------------

_ids = itertools.count()


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(value=st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\x00"),
                     min_size=1))
def test_any_text_survives_csv_import(owner: Client, value: str) -> None:
    # an empty cell means "no answer", so the empty string is not a value to round-trip
    iid = f"uuid:h{next(_ids)}"
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["instance_id", "respondent"])
    w.writerow([iid, value])
    assert owner.import_file(P, F, buf.getvalue().encode(), "h.csv").created == 1
    assert owner.submission(P, F, iid)["data"]["respondent"] == value


# -- 8: the server -------------------------------------------------------------------------------

BASE = f"/api/v1/projects/{P}"
SUBS = f"{BASE}/forms/{F}/submissions"


def _settings(root: Path, **kw: Any) -> Settings:
    return Settings(workspace=root / "ws", database_url=None, mode="test", **kw)


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """Once per module: 'owner' owns the project; 'outsider' belongs to no project."""
    root = tmp_path_factory.mktemp("badinput")
    ws = Workspace(_settings(root))
    admin = ws.create_admin("owner", "owner-password")
    admin.create_project(SPEC)
    admin.add_form(P, household_form(), "household.xlsx")
    admin.create_user("outsider", "outsider-password")
    tokens = {n: ws.login(n, f"{n}-password").create_token("t") for n in ("owner", "outsider")}
    ws.close()
    return root, tokens


@pytest.fixture
def server(template: tuple[Path, dict[str, str]], tmp_path: Path
           ) -> Iterator[tuple[Workspace, TestClient, dict[str, dict[str, str]]]]:
    """A copy of the template workspace served with a 2 kB request limit."""
    shutil.copytree(template[0] / "ws", tmp_path / "ws")
    ws = Workspace(_settings(tmp_path))
    app = create_app(ws, settings=_settings(tmp_path, max_request_bytes=2048))
    headers = {n: {"Authorization": f"Bearer {t}"} for n, t in template[1].items()}
    with TestClient(app) as client:
        yield ws, client, headers
    ws.close()


def error_of(r: Any, status: int, code: str) -> dict[str, Any]:
    """The body is exactly {"error": {...}} with code, title, message and status."""
    assert r.status_code == status, r.text
    body = r.json()
    assert list(body) == ["error"]
    err = body["error"]
    assert {"code", "title", "message", "status"} <= set(err)
    assert set(err) <= {"code", "title", "message", "status", "where", "rule", "fix",
                        "problems", "details"}
    assert (err["code"], err["status"]) == (code, status)
    assert isinstance(err["title"], str) and isinstance(err["message"], str)
    return dict(err)


def test_server_refuses_bad_requests_and_writes_nothing(
        server: tuple[Workspace, TestClient, dict[str, dict[str, str]]]) -> None:
    ws, http, tokens = server
    before = counts(ws)
    h = {**tokens["owner"], "Content-Type": "application/json"}
    big = json.dumps([sub(f"uuid:{i}") for i in range(40)]).encode()
    assert len(big) > 2048
    err = error_of(http.post(SUBS, content=big, headers=h), 413, "intake.payload_too_large")
    assert err["details"] == {"limit_bytes": 2048}
    r = http.post(f"/openrosa/{P}/submission", content=b"<data/>",
                  headers={**tokens["owner"], "Content-Type": "text/xml"})
    assert r.status_code == 415 and b"intake.unsupported_media_type" in r.content
    error_of(http.post(SUBS, content=json.dumps(sub("uuid:a")).encode(),
                       headers={"Content-Type": "application/json"}), 401,
             "auth.unauthenticated")
    bad = http.post(SUBS, content=b'{"instance_id": ', headers=h)
    assert error_of(bad, 422, "intake.invalid_json")["where"] == {"row": 1, "position": 17}
    assert counts(ws) == before


def test_hidden_and_absent_projects_look_the_same(
        server: tuple[Workspace, TestClient, dict[str, dict[str, str]]]) -> None:
    _, http, tokens = server
    h = tokens["outsider"]
    for path in ("", "/forms", f"/forms/{F}/submissions"):
        hidden = error_of(http.get(f"{BASE}{path}", headers=h), 404, "not_found.project")
        absent = error_of(http.get(f"/api/v1/projects/no-such-project{path}", headers=h), 404,
                          "not_found.project")
        assert json.loads(json.dumps(hidden).replace(P, "SLUG")) == \
            json.loads(json.dumps(absent).replace("no-such-project", "SLUG"))


@pytest.mark.parametrize("body", [
    b'{"instance_id": "uuid:n1", "data": {"age": NaN}}',
    b'{"instance_id": "uuid:n1", "data": {"age": Infinity}}',
    b'{"instance_id": "uuid:n1", "data": {"age": 1e400}}',
    b'{"instance_id": "uuid:n1", "data": {"respondent": "A\\u0000B"}}',
    b'{"instance_id": "uuid:n1", "data": {"respondent": "\\ud800"}}',
])
def test_json_that_cannot_be_stored_exactly_is_refused(ws: Workspace, owner: Client,
                                                       body: bytes) -> None:
    with pytest.raises(BadInput) as e:
        owner.submit("test-project", "household", body)
    assert e.value.code == "intake.invalid_json"
    assert owner.form("test-project", "household").submissions == 0


def test_a_nul_in_a_csv_cell_is_refused_with_its_row(ws: Workspace, owner: Client) -> None:
    csv = b"instance_id,respondent\nuuid:z1,Amina\nuuid:z2,Se\x00la\n"
    with pytest.raises(BadInput) as e:
        owner.import_file("test-project", "household", csv, "nul.csv")
    assert e.value.problems[0].where is not None and e.value.problems[0].where.row == 3
    assert owner.form("test-project", "household").submissions == 0
