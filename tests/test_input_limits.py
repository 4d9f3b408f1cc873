"""Input that must never reach a server error: deep nesting, zip bombs, unknown indicators,
empty reference tables, and child elements where the form has a plain question."""

from __future__ import annotations

import ast
import io
import json
import struct
import warnings
import zipfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from citizendata import errors
from citizendata.config import Settings
from citizendata.errors import BadInput, NotFound, PayloadTooLarge
from citizendata.forms.schema import FormSchema
from citizendata.forms.xlsform import parse_xlsform
from citizendata.ingest.archive import ArchiveLimits, archive_limits, check_archive
from citizendata.ingest.depth import check_object_depth, json_depth
from citizendata.ingest.openrosa import parse_instance_xml
from citizendata.ingest.payload import parse_json_body, parse_json_submission
from citizendata.ingest.tabular import read_tabular
from citizendata.projects.spec import load_spec
from citizendata.workspace import Client, Workspace
from conftest import SPEC, household_form
from xlsform_builders import make_xlsform

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message="Using `httpx` with", category=UserWarning)
    from fastapi.testclient import TestClient

P, F = "test-project", "household"
BASE = f"/api/v1/projects/{P}"
LIMIT = 64
DEPTHS = (1_000, 5_000, 100_000)
TABLES = ("submissions", "intake_batches", "forms", "form_versions", "reference_tables")


def counts(ws: Workspace) -> dict[str, int]:
    """How many rows each table an upload may write holds."""
    with ws.transaction() as db:
        return {t: int(db.scalar(text(f"SELECT count(*) FROM {t}")) or 0) for t in TABLES}


def envelope(data: Any, iid: str = "uuid:deep") -> bytes:
    return json.dumps({"instance_id": iid, "data": data}).encode()


def nested_json(n: int, leaf: str = "1") -> bytes:
    """An answer n objects deep, written without json.dumps (which recurses)."""
    return ('{"instance_id": "uuid:deep", "data": {"respondent": ' + '{"a": ' * n + leaf
            + "}" * n + "}}").encode()


def nested_xml(n: int, field: str = "respondent") -> bytes:
    """An ODK instance whose <respondent> holds n nested elements."""
    return (f'<data id="household"><{field}>' + "<a>" * n + "x" + "</a>" * n
            + f"</{field}><meta><instanceID>uuid:x{n}</instanceID></meta></data>").encode()


@pytest.fixture(scope="module")
def schema() -> FormSchema:
    return parse_xlsform(household_form(), "household.xlsx").schema


# -- nesting: JSON -----------------------------------------------------------------------------

@pytest.mark.parametrize("n", DEPTHS)
def test_deep_json_submission_is_refused_and_nothing_is_written(ws: Workspace, owner: Client,
                                                                n: int) -> None:
    before = counts(ws)
    for body in (nested_json(n), b"[" * n + b"]" * n):
        with pytest.raises(BadInput) as e:
            owner.submit(P, F, body)
        assert e.value.code == "input.too_deep"
        assert e.value.details["limit"] == LIMIT
    assert e.value.where is not None and e.value.where.row == 1
    assert e.value.where.position == LIMIT + 1  # the first bracket past the limit
    assert counts(ws) == before


def test_json_at_the_limit_is_parsed(schema: FormSchema) -> None:
    # the envelope and data objects are two levels: 62 more fit, 63 do not
    with pytest.raises(BadInput) as e:
        parse_json_body(nested_json(LIMIT - 2), schema)
    assert e.value.code == "intake.invalid_submission"  # read, and refused for its shape
    with pytest.raises(BadInput) as e:
        parse_json_body(nested_json(LIMIT - 1), schema)
    assert e.value.code == "input.too_deep"


def test_python_objects_are_measured_without_recursion(owner: Client, schema: FormSchema) -> None:
    deep: dict[str, Any] = {}
    node = deep
    for _ in range(50_000):
        node["a"] = {}
        node = node["a"]
    sub = {"instance_id": "uuid:py", "data": {"respondent": deep}}
    for call in (lambda: owner.submit(P, F, sub), lambda: parse_json_submission(sub, schema)):
        with pytest.raises(BadInput) as e:
            call()
        assert e.value.code == "input.too_deep" and e.value.where is not None
        # the object at level 65: the envelope, data, respondent and 62 more
        assert e.value.where.field == "data/respondent/" + "/".join(["a"] * (LIMIT - 2))
    loop: list[Any] = []
    loop.append(loop)  # a list that contains itself ends too
    with pytest.raises(BadInput):
        check_object_depth(loop, LIMIT)


def test_depth_setting_is_honoured(tmp_path: Path) -> None:
    ws = Workspace(Settings(workspace=tmp_path / "ws", mode="test", max_depth=4))
    me = ws.create_admin("owner", "owner-password")
    with pytest.raises(BadInput) as e:
        me.create_project({**SPEC, "engagement": {"design": {"level": {"x": {"y": 1}}}}})
    assert e.value.code == "input.too_deep" and e.value.where is not None
    assert e.value.where.field == "engagement/design/level/x"
    me.create_project(SPEC)
    ws.close()


_leaf = st.one_of(st.integers(), st.booleans(), st.none(),
                  st.text(alphabet='[]{}"\\,:ab \n\u00e9\u2028', max_size=12))
_json = st.recursive(_leaf, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(st.text('[]{}"\\ab', max_size=4), inner,
                                                 max_size=3)), max_leaves=40)


def _depth(value: Any) -> int:
    if isinstance(value, dict):
        return 1 + max((_depth(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((_depth(v) for v in value), default=0)
    return 0


@settings(max_examples=300, deadline=None)
@given(value=_json, indent=st.sampled_from([None, 0, 2]), ascii_only=st.booleans(),
       wrap=st.integers(0, 150), chunk=st.one_of(st.integers(1, 40), st.just(1 << 20)))
def test_scan_depth_equals_the_parsed_depth(value: Any, indent: int | None, ascii_only: bool,
                                            wrap: int, chunk: int) -> None:
    body = "[" * wrap + json.dumps(value, indent=indent, ensure_ascii=ascii_only) + "]" * wrap
    expected = _depth(json.loads(body))
    assert json_depth(body, chunk_size=chunk)[0] == expected  # chunk edges anywhere
    for encoding in ("utf-8", "utf-16", "utf-32-le"):
        assert json_depth(body.encode(encoding))[0] == expected
    # with a limit, the offset is that of the first bracket deeper than it
    if expected > 1:
        _, at = json_depth(body, expected - 1, chunk_size=chunk)
        assert at is not None and body.encode()[at:at + 1] in (b"[", b"{")
        assert json_depth(body.encode()[:at], chunk_size=chunk)[0] == expected - 1


@settings(max_examples=200, deadline=None)
@given(depth=st.integers(1, 400), kinds=st.lists(st.booleans(), min_size=1, max_size=5),
       junk=st.binary(max_size=8))
def test_random_nesting_gives_a_submission_or_a_coded_error(schema: FormSchema, depth: int,
                                                            kinds: list[bool],
                                                            junk: bytes) -> None:
    opens = "".join("[" if kinds[i % len(kinds)] else '{"k": ' for i in range(depth))
    closes = "".join("]" if kinds[i % len(kinds)] else "}" for i in reversed(range(depth)))
    for body in (f'{{"instance_id": "uuid:r", "data": {{"respondent": {opens}1{closes}}}}}'.encode(),
                 opens.encode() + junk + closes.encode()):
        try:
            parse_json_body(body, schema)
        except BadInput as exc:
            assert exc.code in errors.CATALOGUE
            assert (exc.code == "input.too_deep") == (json_depth(body)[0] > LIMIT)


# -- nesting: XML, project specs, forms -----------------------------------------------------

def _schema_for(schema: FormSchema) -> Any:
    return lambda _form_id, _version: schema


@pytest.mark.parametrize("n", DEPTHS)
def test_deep_openrosa_xml_is_refused_before_the_tree_is_built(schema: FormSchema, n: int) -> None:
    for field in ("respondent", "unknown_element", "location"):
        with pytest.raises(BadInput) as e:
            parse_instance_xml(nested_xml(n, field), _schema_for(schema))
        assert e.value.code == "input.too_deep"
        assert e.value.where is not None and e.value.where.row == 1
        assert e.value.where.field == f"{field}/" + "/".join(["a"] * (LIMIT - 1))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(depth=st.integers(0, 200), name=st.sampled_from(["respondent", "location", "births", "x"]))
def test_random_xml_nesting_gives_a_submission_or_a_coded_error(schema: FormSchema, depth: int,
                                                                name: str) -> None:
    xml = nested_xml(depth, name)
    try:
        parse_instance_xml(xml, _schema_for(schema))
    except BadInput as exc:
        assert exc.code in errors.CATALOGUE
        # the root, <name> and the <a> elements: depth + 2 levels
        assert (exc.code == "input.too_deep") == (depth + 2 > LIMIT)


@pytest.mark.parametrize("n", DEPTHS)
def test_deep_project_spec_is_refused(n: int) -> None:
    yaml_text = "slug: x\nextra: " + "[" * n + "]" * n + "\n"
    block = "slug: x\n" + "".join("  " * i + f"k{i}:\n" for i in range(min(n, 3000))) + "  " * n
    for source in (yaml_text, block, "{" + '"a": {' * n + "}" * n + "}",
                   json.loads("[" * 500 + "]" * 500)):
        with pytest.raises(BadInput) as e:
            load_spec(source)
        assert e.value.code == "input.too_deep"


def test_groups_nested_too_deep_are_refused_with_their_row() -> None:
    n = 1000
    rows = ([{"type": "begin_group", "name": f"g{i}", "label": "G"} for i in range(n)]
            + [{"type": "text", "name": "a", "label": "A"}] + [{"type": "end_group"}] * n)
    form = make_xlsform(rows, None, {"form_id": "deep", "version": "1"})
    with pytest.raises(BadInput) as e:
        parse_xlsform(form, "deep.xlsx")
    assert e.value.code == "input.too_deep" and e.value.where is not None
    assert (e.value.where.sheet, e.value.where.row, e.value.where.field) == \
        ("survey", LIMIT + 2, f"g{LIMIT}")
    parse_xlsform(make_xlsform(rows[:10] + rows[n:n + 11], None,
                               {"form_id": "ok", "version": "1"}), "ok.xlsx")


# -- OpenRosa: child elements in a plain question ---------------------------------------------

@pytest.mark.parametrize(("xml_field", "json_data"), [
    ("<respondent><first>Naserian</first></respondent>", {"respondent": {"first": "Naserian"}}),
    ("<location><ward>magadi<b/></ward></location>", {"location": {"ward": {"b": ""}}}),
    ("<births><attendants><x>nurse</x></attendants></births>",
     {"births": [{"attendants": {"x": "nurse"}}]}),
], ids=["text", "in-group", "select-multiple-in-repeat"])
def test_child_elements_in_a_plain_question_are_refused_as_json_is(
        schema: FormSchema, xml_field: str, json_data: dict[str, Any]) -> None:
    xml = (f'<data id="household">{xml_field}'
           "<meta><instanceID>uuid:c1</instanceID></meta></data>").encode()
    with pytest.raises(BadInput) as from_xml:
        parse_instance_xml(xml, _schema_for(schema))
    with pytest.raises(BadInput) as from_json:
        parse_json_body(envelope(json_data, "uuid:c1"), schema)
    assert from_xml.value.code == from_json.value.code == "intake.invalid_submission"
    assert from_xml.value.where is not None and from_json.value.where is not None
    assert from_xml.value.where.field == from_json.value.where.field


# -- decompression limits ---------------------------------------------------------------------

_CT = ('<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/'
       'package/2006/content-types"><Default Extension="rels" ContentType="application/'
       'vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType='
       '"application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/'
       'vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override PartName='
       '"/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-'
       'officedocument.spreadsheetml.worksheet+xml"/><Override PartName="/xl/sharedStrings.xml" '
       'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.'
       'sharedStrings+xml"/></Types>')
_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_PKG = "http://schemas.openxmlformats.org/package/2006/relationships"
_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"


def bomb_xlsx(label_bytes: int, *, header: tuple[str, ...] = ("type", "name", "label"),
              row: tuple[str, ...] = ("text", "big")) -> bytes:
    """An XLSX whose sheet 'survey' has one row whose last cell is a huge shared string,
    as a spreadsheet program would store it; deflate shrinks it about a thousand times."""
    strings = [*header, *row]
    cells = "".join(f'<c r="{chr(65 + i)}1" t="s"><v>{i}</v></c>' for i in range(len(header)))
    body = "".join(f'<c r="{chr(65 + i)}2" t="s"><v>{len(header) + i}</v></c>'
                   for i in range(len(row) + 1))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        z.writestr("[Content_Types].xml", _CT)
        z.writestr("_rels/.rels", f'<Relationships xmlns="{_PKG}"><Relationship Id="rId1" '
                   f'Type="{_REL}/officeDocument" Target="xl/workbook.xml"/></Relationships>')
        z.writestr("xl/workbook.xml", f'<workbook xmlns="{_MAIN}" xmlns:r="{_REL}"><sheets>'
                   '<sheet name="survey" sheetId="1" r:id="rId1"/></sheets></workbook>')
        z.writestr("xl/_rels/workbook.xml.rels", f'<Relationships xmlns="{_PKG}">'
                   f'<Relationship Id="rId1" Type="{_REL}/worksheet" Target="worksheets/'
                   f'sheet1.xml"/><Relationship Id="rId2" Type="{_REL}/sharedStrings" '
                   'Target="sharedStrings.xml"/></Relationships>')
        z.writestr("xl/worksheets/sheet1.xml", f'<worksheet xmlns="{_MAIN}"><sheetData>'
                   f'<row r="1">{cells}</row><row r="2">{body}</row></sheetData></worksheet>')
        with z.open("xl/sharedStrings.xml", "w") as f:
            f.write(f'<sst xmlns="{_MAIN}">'.encode()
                    + "".join(f"<si><t>{s}</t></si>" for s in strings).encode() + b"<si><t>")
            chunk, left = b"A" * (1 << 20), label_bytes
            while left > 0:
                f.write(chunk[:left])
                left -= len(chunk)
            f.write(b"</t></si></sst>")
    return buf.getvalue()


def lie_about_size(data: bytes, member: str, size: int) -> bytes:
    """The archive with the member's uncompressed size in both headers replaced by ``size``."""
    out = bytearray(data)
    info = zipfile.ZipFile(io.BytesIO(data)).getinfo(member)
    struct.pack_into("<L", out, info.header_offset + 22, size)  # local header
    at = out.find(b"PK\x01\x02")
    while at >= 0:  # central directory entries
        name_len = struct.unpack_from("<H", out, at + 28)[0]
        if bytes(out[at + 46:at + 46 + name_len]) == member.encode():
            struct.pack_into("<L", out, at + 24, size)
        at = out.find(b"PK\x01\x02", at + 4)
    return bytes(out)


@pytest.fixture(scope="module")
def bomb() -> bytes:
    data = bomb_xlsx(100 * 1024 * 1024)
    assert len(data) < 110 * 1024  # a 100 MB label in about 100 KB
    return data


def test_form_zip_bomb_is_refused_before_it_is_opened(ws: Workspace, owner: Client,
                                                      bomb: bytes) -> None:
    before = counts(ws)
    with pytest.raises(PayloadTooLarge) as e:
        owner.add_form(P, bomb, "bomb.xlsx")
    assert e.value.code == "import.too_large_uncompressed" and e.value.http_status == 413
    assert e.value.where is not None and e.value.where.file == "bomb.xlsx"
    assert e.value.details["limit"] == 64 * 1024 * 1024
    assert "MAX_FORM_UNCOMPRESSED_BYTES" in str(e.value.fix)
    assert counts(ws) == before


def test_import_zip_bomb_is_refused_by_its_ratio(ws: Workspace, owner: Client,
                                                 bomb: bytes) -> None:
    before = counts(ws)
    with pytest.raises(PayloadTooLarge) as e:
        owner.import_file(P, F, bomb, "export.xlsx")
    assert e.value.code == "import.too_large_uncompressed"
    assert e.value.details["member"] == "xl/sharedStrings.xml"
    assert e.value.details["ratio"] > 1000
    assert counts(ws) == before


def test_a_header_that_lies_about_the_size_is_caught_while_inflating(schema: FormSchema) -> None:
    liar = lie_about_size(bomb_xlsx(5 * 1024 * 1024), "xl/sharedStrings.xml", 1000)
    assert zipfile.ZipFile(io.BytesIO(liar)).getinfo("xl/sharedStrings.xml").file_size == 1000
    for call in (lambda: parse_xlsform(liar, "liar.xlsx"),
                 lambda: read_tabular(liar, "liar.xlsx", schema)):
        with pytest.raises(PayloadTooLarge) as e:
            call()
        assert "expands past the 1,000 bytes its header declares" in e.value.message
        assert e.value.details == {"member": "xl/sharedStrings.xml", "declared_bytes": 1000}


def test_members_and_total_are_capped(schema: FormSchema) -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for i in range(1001):
            z.writestr(f"xl/n{i}.xml", "<x/>")
    with pytest.raises(PayloadTooLarge) as e:
        read_tabular(buf.getvalue(), "many.xlsx", schema)
    assert e.value.details == {"members": 1001, "limit": 1000}
    small = ArchiveLimits(max_bytes=4096, max_members=1000, max_ratio=200)
    with pytest.raises(PayloadTooLarge) as e:
        parse_xlsform(household_form(), "household.xlsx", limits=small)
    assert e.value.details["limit"] == 4096


def test_real_workbooks_pass_the_checks(schema: FormSchema) -> None:
    check_archive(household_form(), "household.xlsx", archive_limits(form=True))
    big = bomb_xlsx(3 * 1024 * 1024)  # a long label is fine where the limits allow it
    loose = ArchiveLimits(max_bytes=1 << 30, max_members=10, max_ratio=2000)
    parsed = parse_xlsform(big, "long.xlsx", limits=loose)
    field = parsed.schema.find("big")
    assert field is not None and len(field.label or "") == 3 * 1024 * 1024


# made once: openpyxl stamps the save time into the file, and Hypothesis must be able
# to replay a failing example on the same bytes
_WORKBOOK = household_form()


@settings(max_examples=150, deadline=None)
@given(damage=st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 255)), min_size=1,
                       max_size=8), cut=st.one_of(st.none(), st.integers(0, 10**6)))
def test_damaged_workbooks_give_a_coded_error_or_a_reading(schema: FormSchema,
                                                          damage: list[tuple[int, int]],
                                                          cut: int | None) -> None:
    data = bytearray(_WORKBOOK)
    for at, byte in damage:
        data[at % len(data)] = byte
    damaged = bytes(data[:cut % len(data)] if cut is not None else data)
    for call in (lambda: check_archive(damaged, "f.xlsx", archive_limits()),
                 lambda: read_tabular(damaged, "f.xlsx", schema)):
        try:
            call()
        except errors.CitizenDataError as exc:
            assert type(exc).__name__ == errors.CATALOGUE[exc.code].kind


def _damaged(data: bytes, how: str) -> bytes:
    """A zip with its first central directory entry needing 'zip version 15.2' (zipfile
    raises NotImplementedError), or with a byte of its first member's data changed."""
    out = bytearray(data)
    if how == "version":
        out[out.index(b"PK\x01\x02") + 6] = 152
    else:
        name_len, extra_len = struct.unpack("<2H", out[26:30])
        out[30 + name_len + extra_len + 2] ^= 0xFF
    return bytes(out)


@pytest.mark.parametrize("how", ["version", "data"])
@pytest.mark.parametrize("name", ["household.xlsx", "water_points.zip"])
def test_damaged_zips_give_a_coded_error(schema: FormSchema, name: str, how: str) -> None:
    """Found by the property test below: a workbook or an ODK Central zip whose directory
    names an unknown zip version was a NotImplementedError (HTTP 500)."""
    data = (household_form() if name.endswith(".xlsx") else
            (Path(__file__).parent / "data" / "exports" / "central" / name).read_bytes())
    with pytest.raises(errors.CitizenDataError) as caught:
        read_tabular(_damaged(data, how), name, schema)
    assert type(caught.value).__name__ == errors.CATALOGUE[caught.value.code].kind


def test_archive_limits_come_from_the_settings(tmp_path: Path) -> None:
    s = Settings(workspace=tmp_path, max_form_uncompressed_bytes=5000, max_archive_members=7,
                 max_compression_ratio=9)
    assert archive_limits(s, form=True) == ArchiveLimits(5000, 7, 9, "max_form_uncompressed_bytes")
    assert archive_limits().max_bytes == 1024 * 1024 * 1024


# -- every coded error is raised with its catalogue class ------------------------------------

def test_every_literal_code_is_raised_with_its_catalogue_class() -> None:
    # a code raised with the wrong class fails in the constructor: a 500 instead of a 4xx
    classes = {c.__name__ for c in (errors.BadInput, errors.NotFound, errors.Conflict,
                                    errors.Forbidden, errors.PayloadTooLarge,
                                    errors.Unauthenticated, errors.UnsupportedMediaType,
                                    errors.TooManyRequests, errors.ServerMisconfigured,
                                    errors.CitizenDataError)}
    wrong = []
    for path in (Path(__file__).parent.parent / "src").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                    and node.func.id in classes and node.args
                    and isinstance(node.args[0], ast.Constant)):
                spec = errors.CATALOGUE.get(str(node.args[0].value))
                if spec is None or spec.kind != node.func.id:
                    wrong.append(f"{path.name}:{node.lineno} {node.func.id}({node.args[0].value!r})")
    assert wrong == []


# -- the quality routes ----------------------------------------------------

def attestations(ws: Workspace) -> int:
    with ws.transaction() as db:
        return int(db.scalar(text("SELECT count(*) FROM quality_attestations")) or 0)


def test_unknown_indicator_is_not_found(ws: Workspace, owner: Client) -> None:
    for call in (lambda: owner.quality(P, F, "no_such_indicator"),
                 lambda: owner.decide_fitness(P, "fit", form_id=F, indicator="no_such_indicator"),
                 lambda: owner.attest(P, "relevance", "high", "Checked the sample frame.",
                                      form_id=F, indicator="no_such_indicator")):
        with pytest.raises(NotFound) as e:
            call()
        assert e.value.code == "indicator.unknown" and e.value.where is not None
        assert e.value.where.field == "indicator"
    assert attestations(ws) == 0
    owner.attest(P, "relevance", "high", "Checked the sample frame.", form_id=F)
    assert attestations(ws) == 1


# -- the same through the HTTP API ----------------------------------------------------------------

@pytest.fixture
def server(http_server: tuple[Workspace, TestClient, dict[str, str]]
           ) -> tuple[Workspace, TestClient, dict[str, str]]:
    """The owner's workspace served, with their auth header (conftest's http_server)."""
    return http_server


def coded(r: Any, status: int, code: str) -> dict[str, Any]:
    assert r.status_code == status, r.text
    err = r.json()["error"]
    assert (err["code"], err["status"]) == (code, status)
    return dict(err)


@pytest.mark.parametrize("n", DEPTHS)
def test_http_deep_json_anywhere_is_422_too_deep(
        server: tuple[Workspace, TestClient, dict[str, str]], n: int) -> None:
    ws, http, h = server
    before = counts(ws)
    deep = ("[" * n + "]" * n).encode()
    j = {**h, "Content-Type": "application/json"}
    calls = [
        ("post", f"{BASE}/forms/{F}/submissions", nested_json(n), j),
        ("post", "/api/v1/projects", b'{"slug": ' + deep + b"}", j),
        ("post", "/api/v1/login", b'{"username": ' + deep + b', "password": "x"}', j),
        ("post", f"{BASE}/quality/attestations", b'{"subject": ' + deep + b"}", j),
        ("post", f"{BASE}/members", deep, h),  # no content type: FastAPI reads JSON anyway
        ("put", f"{BASE}/reference-tables/areas?kind=boundaries", b'{"type": ' + deep + b"}",
         {**h, "Content-Type": "application/geo+json"}),
    ]
    for method, url, body, headers in calls:
        err = coded(getattr(http, method)(url, content=body, headers=headers), 422,
                    "input.too_deep")
        assert err["details"]["limit"] == LIMIT, url
    r = http.post(f"/openrosa/{P}/submission", headers=h,
                  files={"xml_submission_file": ("s.xml", nested_xml(n), "text/xml")})
    assert r.status_code == 422 and b"input.too_deep" in r.content
    assert counts(ws) == before


def test_http_bombs_quality_and_reference_tables(
        server: tuple[Workspace, TestClient, dict[str, str]], bomb: bytes) -> None:
    ws, http, h = server
    before = counts(ws)
    octet = {**h, "Content-Type": "application/octet-stream"}
    coded(http.post(f"{BASE}/forms?filename=bomb.xlsx", content=bomb, headers=octet), 413,
          "import.too_large_uncompressed")
    coded(http.post(f"{BASE}/forms/{F}/import", headers=h,
                    files={"file": ("export.xlsx", bomb, "application/octet-stream")}), 413,
          "import.too_large_uncompressed")
    for r in (http.get(f"{BASE}/quality?indicator=nope", headers=h),
              http.get(f"{BASE}/quality/statement.html?indicator=nope", headers=h),
              http.post(f"{BASE}/quality/decision", json={"decision": "fit", "indicator": "nope"},
                        headers=h),
              http.post(f"{BASE}/quality/attestations", headers=h,
                        json={"subject": "relevance", "rating": "high", "statement": "Checked.",
                              "indicator": "nope"})):
        assert "'nope'" in coded(r, 404, "indicator.unknown")["message"]
    for body in (b"", b"area,count\n", b"\xef\xbb\xbf\r\n"):
        err = coded(http.put(f"{BASE}/reference-tables/census?kind=margins", content=body,
                             headers={**h, "Content-Type": "text/csv"}), 422,
                    "import.not_a_table")
        assert err["where"] == {"file": "census"}
    xml = (b'<data id="household"><respondent><first>A</first></respondent>'
           b"<meta><instanceID>uuid:c9</instanceID></meta></data>")
    r = http.post(f"/openrosa/{P}/submission", headers=h,
                  files={"xml_submission_file": ("s.xml", xml, "text/xml")})
    assert r.status_code == 422 and b"intake.invalid_submission: &lt;respondent&gt;" in r.content
    assert counts(ws) == before
