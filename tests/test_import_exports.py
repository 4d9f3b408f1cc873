"""KoboToolbox and ODK Central exports, as their own export code writes them, import losslessly.

The files in tests/data/exports/ were made by formpack (KoboToolbox's export library)
and by ODK Central's export code from synthetic submissions (see the README there and
the generators beside it). Each export is read back and compared with the submissions
it was made from; imported into a workspace, it gives the same stored submissions and
the same snapshot as the same data sent by ODK Collect (OpenRosa XML).
"""

from __future__ import annotations

import io
import json
import zipfile
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from citizendata.errors import BadInput, NotFound
from citizendata.forms.schema import FormSchema
from citizendata.forms.xlsform import merge_schemas, parse_xlsform
from citizendata.ingest.exports import ExportContext, FormLabels, labels_from_xform, shape_of
from citizendata.ingest.openrosa import parse_instance_xml
from citizendata.ingest.tabular import read_tabular
from citizendata.workspace import Client, Workspace
from conftest import SPEC

DATA = Path(__file__).parent / "data" / "exports"
KOBO, CENTRAL = DATA / "kobo", DATA / "central"
FORMS = {"water_points": ["water_points_v1.xlsx", "water_points_v2.xlsx"],
         "household": ["household_v1.xlsx"]}
KOBO_IDS = {"vUqn6kLgc3XrvbLgSrUAtx": "2026.1", "vKq7bYJsW2nWdAy3tRpU3e": "2026.2"}
KOBO_EXPORTS = json.loads((KOBO / "manifest.json").read_text(encoding="utf-8"))
CENTRAL_MANIFEST = json.loads((CENTRAL / "manifest.json").read_text(encoding="utf-8"))
CENTRAL_EXPORTS = CENTRAL_MANIFEST["exports"]


@cache
def form(form_id: str) -> tuple[FormSchema, ExportContext]:
    """The merged schema and the export context of a fixture form, as the workspace builds them."""
    parsed = [parse_xlsform((KOBO / f).read_bytes(), f) for f in FORMS[form_id]]
    labels = FormLabels()
    for p in parsed:
        labels.merge(labels_from_xform(p.xform_xml))
    return (merge_schemas([p.schema for p in parsed]),
            ExportContext(tuple(shape_of(p.schema) for p in parsed), labels))


@cache
def submissions(form_id: str) -> list[dict[str, Any]]:
    """The submissions the exports were made from, in KoboToolbox's JSON shape."""
    return json.loads((KOBO / f"{form_id}_submissions.json").read_text(encoding="utf-8"))


def answers(flat: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """KoboToolbox's flat record (full slash paths, also in repeats) as a nested payload."""
    out: dict[str, Any] = {}
    for key, value in flat.items():
        if key.startswith(("_", "formhub/", "meta/")):
            continue
        rel = key[len(prefix) + 1:] if prefix else key
        *groups, last = rel.split("/")
        node = out
        for g in groups:
            node = node.setdefault(g, {})
        node[last] = [answers(item, key) for item in value] if isinstance(value, list) else value
    return out


def lexical(value: Any) -> Any:
    """A payload with unanswered questions left out: an empty cell, an empty element and an
    absent one all mean no answer (as services.intake.same_content compares them)."""
    if isinstance(value, dict):
        kept = {k: lexical(v) for k, v in value.items()}
        return {k: v for k, v in kept.items() if v not in (None, "", [], {})}
    if isinstance(value, list):
        return [lexical(v) for v in value]
    return value


def read(folder: Path, name: str, form_id: str, encoding: str | None = None) -> list[dict[str, Any]]:
    schema, ctx = form(form_id)
    result = read_tabular((folder / name).read_bytes(), name, schema, encoding=encoding, context=ctx)
    rows = result.table.to_pylist()
    for row in rows:
        row["payload"], row["source_meta"] = json.loads(row["payload"]), json.loads(row["source_meta"])
    return rows


@pytest.mark.parametrize("export", KOBO_EXPORTS, ids=[e["file"] for e in KOBO_EXPORTS])
def test_formpack_export_imports_losslessly(export: dict[str, Any]) -> None:
    encoding = None if export.get("encoding", "utf-8") == "utf-8" else export["encoding"]
    rows = read(KOBO, export["file"], export["form"], encoding)
    subs = submissions(export["form"])
    assert len(rows) == len(subs)
    for row, sub in zip(rows, subs, strict=True):
        assert row["instance_id"] == sub["meta/instanceID"]
        assert lexical(row["payload"]) == lexical(answers(sub))
        # __version__ is KoboToolbox's id; the rows were matched to the XLSForm version
        assert row["form_version"] == KOBO_IDS[sub["__version__"]]
        meta = row["source_meta"]
        assert meta["_id"] == str(sub["_id"]) and meta["__version__"] == sub["__version__"]
        assert meta.get("_submitted_by") == sub["_submitted_by"]
        assert meta.get("_validation_status") == (sub["_validation_status"] or {}).get("label")
        if sub.get("_attachments"):
            assert meta["photo_URL"] == sub["_attachments"][0]["download_url"]


def collect_payloads(form_id: str) -> list[dict[str, Any]]:
    """The same submissions as ODK Collect sends them, parsed by the OpenRosa intake."""
    schema, _ = form(form_id)
    files = sorted((CENTRAL / form_id).glob("*.xml"), key=lambda p: int(p.stem))
    return [parse_instance_xml(p.read_bytes(), lambda _f, _v: schema)[1].payload for p in files]


@pytest.mark.parametrize("export", CENTRAL_EXPORTS, ids=[e["file"] for e in CENTRAL_EXPORTS])
def test_central_export_imports_losslessly(export: dict[str, Any]) -> None:
    rows = read(CENTRAL, export["file"], export["form"])
    subs = submissions(export["form"])
    sent = CENTRAL_MANIFEST["submissions"][export["form"]]
    collect = collect_payloads(export["form"])
    assert len(rows) == len(subs) == len(collect)
    for row, sub, given, xml_payload in zip(rows, subs, sent, collect, strict=True):
        assert row["instance_id"] == given["instanceId"] == sub["meta/instanceID"]
        assert lexical(row["payload"]) == lexical(answers(sub)) == lexical(xml_payload)
        assert row["form_version"] == given["formVersion"] == KOBO_IDS[sub["__version__"]]
        meta = row["source_meta"]
        assert meta.get("ReviewState") == given["reviewState"]
        assert meta["SubmitterName"] == given["submitter"]["displayName"]
        assert meta["DeviceID"] == given["deviceId"] and meta["Edits"] == str(given["edits"])


def test_repeats_keep_their_order_and_nesting() -> None:
    """Nested repeats: members and each member's illnesses, in the order collected."""
    for folder, name in ((KOBO, "household_labels_es.xlsx"), (CENTRAL, "household.zip")):
        first, second, third, fourth = (r["payload"] for r in read(folder, name, "household"))
        assert [m["name"] for m in first["hh"]["member"]] == ["Wanjiru", "Otieno"]
        assert [i["illness_name"] for i in first["hh"]["member"][0]["illness"]] == ["malaria", "flu"]
        assert second["hh"]["member"][0]["illness"] == [{"days": "10", "illness_name": "cough; fever"}]
        assert not third["hh"].get("member")
        assert [m["sex"] for m in fourth["hh"]["member"]] == ["male", "female", "female"]


# -- into a workspace: the same stored submissions and snapshot as Collect's --------------

def _project(me: Client, slug: str, form_id: str) -> None:
    me.create_project({**SPEC, "slug": slug, "name": slug})
    for f in FORMS[form_id]:
        me.add_form(slug, KOBO / f, f)


# what the store numbers itself (row ids, arrival time), not the data
_STORE_COLUMNS = ("_id", "_parent_id", "_submission_id", "_received_at")


def _snapshot(me: Client, slug: str, form_id: str) -> dict[str, list[dict[str, Any]]]:
    """Every snapshot table as rows, store ids replaced by what they point to."""
    snap = me.open_snapshot(slug, form_id, include_personal=True)
    out: dict[str, list[dict[str, Any]]] = {}
    ident: dict[Any, Any] = {}  # a table row's _id -> (instance id, index path)
    for name in snap.tables:  # main table first, then outer repeats before inner ones
        df = snap.to_pandas(name)
        records = df.astype(object).where(df.notna(), None).to_dict("records")
        parent = max((t for t in out if name.startswith(t + "__")), key=len, default=None)
        rows = []
        for r in records:
            if parent is None:
                key: Any = (r["_instance_id"],)
            else:
                r["_parent"] = ident[parent, r["_parent_id"]]
                key = (*r["_parent"], r["_index"])
            ident[name, r["_id"]] = key
            rows.append({k: v for k, v in r.items() if k not in _STORE_COLUMNS})
        out[name] = sorted(rows, key=repr)
    return out


@pytest.mark.parametrize("form_id", ["water_points", "household"])
def test_exports_and_collect_store_the_same_submissions(ws: Workspace, form_id: str) -> None:
    me = ws.create_admin("amina", "a long admin password")
    _project(me, "from-exports", form_id)
    _project(me, "from-collect", form_id)
    n = len(submissions(form_id))
    kobo = [e for e in KOBO_EXPORTS if e["form"] == form_id and e["file"].endswith(".xlsx")]
    first = me.import_file("from-exports", form_id, KOBO / kobo[0]["file"])
    assert (first.created, first.duplicates) == (n, 0)
    # every other export of the same data is recognised as the same submissions
    for e in [*kobo[1:], *(c for c in CENTRAL_EXPORTS if c["form"] == form_id)]:
        folder = CENTRAL if e in CENTRAL_EXPORTS else KOBO
        again = me.import_file("from-exports", form_id, folder / e["file"])
        assert (again.created, again.duplicates) == (0, n), e["file"]
    for xml in sorted((CENTRAL / form_id).glob("*.xml")):
        me.submit_instance("from-collect", xml.read_bytes())
    back = me.import_file("from-collect", form_id, KOBO / kobo[-1]["file"])
    assert (back.created, back.duplicates) == (0, n)
    # and KoboToolbox's own JSON records of them (full paths, also inside repeats)
    again_json = me.submit("from-collect", form_id, submissions(form_id))
    assert (again_json.created, again_json.duplicates) == (0, n)
    _, stored = me.submissions("from-exports", form_id, limit=100)
    versions = {s["meta/instanceID"]: KOBO_IDS[s["__version__"]] for s in submissions(form_id)}
    assert {r["instance_id"]: r["form_version"] for r in stored} == versions
    exported, collected = _snapshot(me, "from-exports", form_id), _snapshot(me, "from-collect", form_id)
    assert exported.keys() == collected.keys()
    for name, rows in exported.items():
        assert rows == collected[name], name


# -- problems: each named once, by row and real column, all at once ---------------------

def _problems(exc: pytest.ExceptionInfo[BadInput]) -> list[tuple[str, str | None, int | None]]:
    return [(p.code, p.where.column if p.where else None, p.where.row if p.where else None)
            for p in exc.value.problems]


def test_label_export_with_a_renamed_column_and_a_repeated_row() -> None:
    text = (KOBO / "water_labels_en_hierarchy.csv").read_text(encoding="utf-8")
    lines = text.splitlines()
    lines[0] = lines[0].replace('"Site/Village name"', '"Site/Village"')
    lines.append(lines[1])  # the same submission twice
    schema, ctx = form("water_points")
    with pytest.raises(BadInput) as exc:
        read_tabular("\n".join(lines).encode(), "labels.csv", schema, context=ctx)
    assert exc.value.code == "import.structure"
    assert _problems(exc) == [("import.unknown_column", "Site/Village", None),
                              ("import.duplicate_instance_id", "_uuid", 2)]
    assert "'Site/Village' is not a field" in exc.value.problems[0].message


def _rezip(name: str, change: dict[str, bytes | None]) -> bytes:
    src = zipfile.ZipFile(CENTRAL / name)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as dst:
        for member in src.namelist():
            if change.get(member, b"") is not None:
                dst.writestr(member, change.get(member) or src.read(member))
        for member, data in change.items():
            if member not in src.namelist() and data is not None:
                dst.writestr(member, data)
    return out.getvalue()


def test_central_zip_with_a_stray_file_and_an_orphan_repeat_row() -> None:
    members = zipfile.ZipFile(CENTRAL / "household.zip").read("household-member.csv").decode()
    lines = members.splitlines()
    lines[1] = lines[1].replace(",uuid:7e6d5c4b-bbbb-4ccc-8ddd-000000000000,", ",uuid:nobody,", 1)
    data = _rezip("household.zip", {"household-member.csv": "\n".join(lines).encode(),
                                    "household-pets.csv": b"name,PARENT_KEY,KEY\n"})
    schema, ctx = form("household")
    with pytest.raises(BadInput) as exc:
        read_tabular(data, "household.zip", schema, context=ctx)
    found = [(p.code, p.where.file if p.where else None, p.where.row if p.where else None)
             for p in exc.value.problems]
    assert found == [("import.unknown_part", "household-pets.csv", None),
                     ("import.orphan_repeat_row", "household-member.csv", 2)]


def test_cp1252_export_is_refused_until_its_encoding_is_named() -> None:
    schema, ctx = form("water_points")
    data = (KOBO / "water_labels_fr_cp1252.csv").read_bytes()
    with pytest.raises(BadInput) as exc:
        read_tabular(data, "fr.csv", schema, context=ctx)
    assert exc.value.code == "import.encoding"
    assert read_tabular(data, "fr.csv", schema, context=ctx, encoding="cp1252").n_rows == 6


def test_an_explicit_version_map_wins_and_a_wrong_one_is_refused(ws: Workspace) -> None:
    me = ws.create_admin("amina", "a long admin password")
    _project(me, "kobo", "water_points")
    file = KOBO / "water_xml_semicolon.csv"
    with pytest.raises(BadInput) as exc:
        me.import_file("kobo", "water_points", file, version_map={"vUqn6kLgc3XrvbLgSrUAtx": "9.9"})
    assert exc.value.problems[0].code == "not_found.form_version"
    result = me.import_file("kobo", "water_points", file,
                            version_map={"vKq7bYJsW2nWdAy3tRpU3e": "2026.2",
                                         "vUqn6kLgc3XrvbLgSrUAtx": "2026.2"})
    assert result.created == 6
    _, rows = me.submissions("kobo", "water_points", limit=10)
    assert {r["form_version"] for r in rows} == {"2026.2"}
    with pytest.raises(NotFound):
        me.import_file("kobo", "nope", file)


def test_api_takes_centrals_zip_and_a_version_map(ws: Workspace) -> None:
    import warnings

    from citizendata.server.app import create_app

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Using `httpx` with", category=UserWarning)
        from fastapi.testclient import TestClient

    me = ws.create_admin("amina", "a long admin password")
    _project(me, "api", "household")
    _project(me, "api-water", "water_points")
    with TestClient(create_app(ws)) as http:
        http.headers["Authorization"] = f"Bearer {me.create_token('t')}"
        url = "/api/v1/projects/api/forms/household/import"
        sent = http.post(url, files={"file": ("household.zip", (CENTRAL / "household.zip").read_bytes(),
                                              "application/zip")})
        assert sent.status_code == 201 and sent.json()["created"] == 4
        url = "/api/v1/projects/api-water/forms/water_points/import"
        body = (KOBO / "water_xml_semicolon.csv").read_bytes()
        bad = http.post(f"{url}?version_map=vUqn6kLgc3XrvbLgSrUAtx", files={"file": ("k.csv", body)})
        assert bad.status_code == 422 and bad.json()["error"]["code"] == "input.invalid"
        good = http.post(f"{url}?version_map=vUqn6kLgc3XrvbLgSrUAtx=2026.1"
                         "&version_map=vKq7bYJsW2nWdAy3tRpU3e=2026.2", files={"file": ("k.csv", body)})
        assert good.status_code == 201 and good.json()["created"] == 6
    _, rows = me.submissions("api-water", "water_points", limit=10)
    assert sorted(r["form_version"] for r in rows) == ["2026.1"] * 3 + ["2026.2"] * 3


def test_cli_import_with_version_map(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from citizendata.cli import app

    def cli(*args: str) -> tuple[int, str]:
        result = CliRunner().invoke(app, [*args, "-w", str(tmp_path / "ws")],
                                    env={"CITIZENDATA_PASSWORD": ""}, catch_exceptions=False)
        return result.exit_code, result.output

    assert cli("init", "--admin", "amina", "--password", "amina-password")[0] == 0
    (tmp_path / "spec.yaml").write_text("slug: water\nname: Water\n"
                                        "initiator: {slug: cso, name: CSO}\n")
    assert cli("projects", "create", str(tmp_path / "spec.yaml"))[0] == 0
    for f in FORMS["water_points"]:
        assert cli("forms", "add", "water", str(KOBO / f))[0] == 0
    export = str(KOBO / "water_labels_fr_cp1252.csv")
    code, out = cli("import", "water", "water_points", export, "--encoding", "cp1252",
                    "--version-map", "vUqn6kLgc3XrvbLgSrUAtx")
    assert code != 0 and "input.invalid" in out
    code, out = cli("import", "water", "water_points", export, "--encoding", "cp1252",
                    "--version-map", "vUqn6kLgc3XrvbLgSrUAtx=2026.1", "--json")
    assert code == 0 and json.loads(out)["created"] == 6


def test_two_columns_for_one_question_are_named_as_the_file_names_them() -> None:
    """`site/village` and `site.village` are the same question: one problem naming both."""
    text = (KOBO / "water_xml_semicolon.csv").read_text(encoding="utf-8")
    lines = text.splitlines()
    lines[0] = lines[0].replace('"households"', '"site.village"', 1)
    schema, ctx = form("water_points")
    with pytest.raises(BadInput) as exc:
        read_tabular("\n".join(lines).encode(), "twice.csv", schema, context=ctx)
    (problem,) = exc.value.problems
    assert problem.code == "import.duplicate_column" and problem.where.column == "site.village"
    assert problem.message == "columns 'site/village' and 'site.village' are the same field"


def test_a_mixed_language_header_is_named_as_written() -> None:
    """The language is the one most headers are in; a header in another is unknown, by its name."""
    text = (KOBO / "water_labels_en.csv").read_text(encoding="utf-8")
    lines = text.splitlines()
    lines[0] = lines[0].replace('"Households served"', '"Ménages desservis"', 1)
    schema, ctx = form("water_points")
    with pytest.raises(BadInput) as exc:
        read_tabular("\n".join(lines).encode(), "mixed.csv", schema, context=ctx)
    assert _problems(exc) == [("import.unknown_column", "Ménages desservis", None)]


def test_kobo_json_records_are_matched_to_versions_not_refused(ws: Workspace) -> None:
    """KoboToolbox's REST records carry its version id too; they are stored, not refused."""
    me = ws.create_admin("amina", "a long admin password")
    _project(me, "json", "water_points")
    result = me.submit("json", "water_points", submissions("water_points"))
    assert result.created == 6
    _, rows = me.submissions("json", "water_points", limit=10)
    assert sorted(r["form_version"] for r in rows) == ["2026.1"] * 3 + ["2026.2"] * 3
