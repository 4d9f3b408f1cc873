"""The XLSForm corpus: every form pyxform converts is accepted, or refused with a coded,
documented reason; never a traceback (issue 15, part 1).

Each file under tests/data/xlsforms/corpus/forms is converted by pyxform itself and
parsed by citizendata from the same bytes, with the attachments expected.csv names
(from corpus/media); the outcome must equal the expected one. A form expected to fail
for a reason still being worked on names it in the xfail column (a strict xfail).
"""

from __future__ import annotations

import csv
import hashlib
import re
import warnings
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import pytest
from pyxform.xls2xform import convert

from citizendata.errors import BadInput
from citizendata.forms.media import check_attachments
from citizendata.forms.xlsform import parse_xlsform
from citizendata.workspace import Workspace

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message="Using `httpx` with", category=UserWarning)
    from fastapi.testclient import TestClient

CORPUS = Path(__file__).parent / "data" / "xlsforms" / "corpus"
GUIDE = Path(__file__).parents[1] / "docs" / "guide.md"
with (CORPUS / "expected.csv").open(newline="", encoding="utf-8") as _fh:
    EXPECTED = list(csv.DictReader(_fh))
# the refusals a form pyxform converts may get: each names its feature, sheet and row
DOCUMENTED = {"form.unsupported", "form.attachment_missing"}


def _names(cell: str) -> list[str]:
    return sorted(n for n in cell.split(";") if n)


def _guide_section() -> str:
    text = GUIDE.read_text(encoding="utf-8")
    start = text.index("## Supported and unsupported XLSForm features")
    end = text.find("\n## ", start + 3)
    return text[start:end if end > 0 else None]


def _pyxform_converts(data: bytes, suffix: str) -> bool:
    """pyxform's own verdict on the same bytes."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            convert(xlsform=data, file_type=suffix)
        except Exception:  # pyxform's verdict is all we want from it
            return False
    return True


def _cases() -> list[Any]:
    out = []
    for row in EXPECTED:
        marks = ([pytest.mark.xfail(strict=True, reason=row["xfail"], raises=AssertionError)]
                 if row["xfail"] else [])
        out.append(pytest.param(row, id=row["file"], marks=marks))
    return out


def test_the_corpus_is_big_and_every_file_is_listed() -> None:
    files = sorted(p.name for p in (CORPUS / "forms").iterdir())
    assert files == sorted(r["file"] for r in EXPECTED)
    converted = [r for r in EXPECTED if r["pyxform"] == "yes"]
    assert len(EXPECTED) >= 80 and len(converted) >= 80


@pytest.mark.parametrize("row", _cases())
def test_corpus_form(row: dict[str, str]) -> None:
    path = CORPUS / "forms" / row["file"]
    data = path.read_bytes()
    converts = _pyxform_converts(data, path.suffix.lower())
    assert converts == (row["pyxform"] == "yes"), "pyxform's verdict changed"
    given = {n: (CORPUS / "media" / n).read_bytes() for n in _names(row["attachments"])}
    try:
        parsed = parse_xlsform(data, row["file"])
        check_attachments(list(parsed.needs), {**dict(parsed.generated), **given}, row["file"])
    except BadInput as exc:
        outcome = ("refused", exc.code)
        if converts:
            _assert_documented(exc, path.suffix.lower() in (".xlsx", ".xls"))
        if exc.code == "form.attachment_missing":
            assert sorted(exc.details["missing"]) == _names(row["needs"])
    else:
        outcome = ("accepted", "")
        assert sorted(n.name for n in parsed.needs) == _names(row["needs"])
    assert outcome == (row["outcome"], row["code"])


def _assert_documented(exc: BadInput, numbered: bool) -> None:
    """A refusal of a form pyxform converts: a documented code naming sheet and row."""
    assert exc.code in DOCUMENTED, str(exc)
    section = _guide_section()
    assert exc.code in section
    for feature in exc.details.get("features", []):
        assert feature in section, f"{feature!r} is not listed in the guide"
    for problem in exc.problems:
        assert problem.where is not None and problem.where.sheet
        assert problem.where.row or not numbered, str(problem)


# -- through the API and ODK Collect's OpenRosa calls --------------------------------------

def _upload(client: TestClient, auth: dict[str, str], slug: str, name: str,
            attachments: tuple[str, ...] = ()) -> Any:
    files = [("file", (name, (CORPUS / "forms" / name).read_bytes()))]
    files += [("attachment", (a, (CORPUS / "media" / a).read_bytes())) for a in attachments]
    return client.post(f"/api/v1/projects/{slug}/forms", files=files, headers=auth)


def test_nasty_uploads_get_a_coded_4xx_and_attachments_reach_collect(
        http_server: tuple[Workspace, TestClient, dict[str, str]]) -> None:
    _, client, auth = http_server
    slug = client.get("/api/v1/projects", headers=auth).json()["projects"][0]["slug"]
    for name in ("nasty_truncated.xlsx", "nasty_empty.xlsx", "bad_parameters.xlsx",
                 "entities_create.xlsx", "from_file_csv_no_media.xlsx"):
        r = _upload(client, auth, slug, name)
        assert 400 <= r.status_code < 500, (name, r.status_code, r.text)
        assert r.json()["error"]["code"].startswith("form."), r.text
    missing = _upload(client, auth, slug, "from_file_csv.xlsx").json()["error"]
    assert missing["code"] == "form.attachment_missing"
    assert missing["problems"][0]["where"] == {"file": "from_file_csv.xlsx", "sheet": "survey",
                                               "row": 2, "column": "type",
                                               "field": "village"}
    # the form that raised AttributeError before, the space in a form id, and a list file
    assert _upload(client, auth, slug, "params_image_max_pixels.xlsx").status_code == 201
    assert _upload(client, auth, slug, "settings_form_id_space.xlsx").status_code == 201
    ok = _upload(client, auth, slug, "from_file_csv.xlsx", ("villages.csv",))
    assert ok.status_code == 201 and ok.json()["attachments"] == ["villages.csv"]

    ns = {"x": "http://openrosa.org/xforms/xformsList",
          "m": "http://openrosa.org/xforms/xformsManifest"}
    listing = ElementTree.fromstring(client.get(f"/openrosa/{slug}/formList", headers=auth).text)
    urls = {x.findtext("x:formID", namespaces=ns): (x.findtext("x:downloadUrl", namespaces=ns),
                                                   x.findtext("x:manifestUrl", namespaces=ns))
            for x in listing.findall("x:xform", ns)}
    spaced_url, spaced_manifest = urls["Spec test"]
    assert spaced_url is not None and "/forms/Spec%20test/form.xml" in spaced_url
    assert spaced_manifest is None
    assert client.get(re.sub("^https?://[^/]+", "", spaced_url), headers=auth).status_code == 200
    manifest_url = urls["from_file_csv"][1]
    assert manifest_url is not None
    manifest = ElementTree.fromstring(
        client.get(re.sub("^https?://[^/]+", "", manifest_url), headers=auth).text)
    media = manifest.find("m:mediaFile", ns)
    assert media is not None and media.findtext("m:filename", namespaces=ns) == "villages.csv"
    csv_bytes = (CORPUS / "media" / "villages.csv").read_bytes()
    assert media.findtext("m:hash", namespaces=ns) == "md5:" + hashlib.md5(csv_bytes).hexdigest()
    got = client.get(re.sub("^https?://[^/]+", "", media.findtext("m:downloadUrl",
                                                                     namespaces=ns) or ""),
                     headers=auth)
    assert got.status_code == 200 and got.content == csv_bytes
    # a new version without the file keeps serving the previous version's file
    assert client.get(f"/openrosa/{slug}/forms/from_file_csv/attachments/nope.csv",
                      headers=auth).status_code == 404


# -- the library and the CLI ---------------------------------------------------------------

def _villages_form(version: str) -> bytes:
    from xlsform_builders import make_xlsform

    return make_xlsform([{"type": "select_one_from_file villages.csv", "name": "village",
                          "label": "Village"}], None,
                        {"form_id": "villages", "version": version})


def test_a_new_version_keeps_the_previous_versions_file(owner: Any) -> None:
    villages = (CORPUS / "media" / "villages.csv").read_bytes()
    with pytest.raises(BadInput) as err:
        owner.add_form("test-project", _villages_form("1"), "villages.xlsx")
    assert err.value.code == "form.attachment_missing"
    assert owner.forms("test-project")[-1].form_id == "household"  # nothing was stored
    v1 = owner.add_form("test-project", _villages_form("1"), "villages.xlsx",
                        attachments={"villages.csv": villages})
    v2 = owner.add_form("test-project", _villages_form("2"), "villages.xlsx")
    assert v1.attachments == v2.attachments == ("villages.csv",)
    info, data = owner.form_attachment("test-project", "villages", "villages.csv")
    assert data == villages and info.content_type == "text/csv" and info.size == len(villages)
    with pytest.raises(BadInput) as bad:
        owner.add_form("test-project", _villages_form("3"), "villages.xlsx",
                       attachments={"../villages.csv": villages})
    assert bad.value.code == "form.attachment_invalid"


def test_the_cli_uploads_a_form_with_its_attachment(tmp_path: Path) -> None:
    from test_cli import SPEC as CLI_SPEC
    from test_cli import cli

    ws = tmp_path / "ws"
    assert cli(ws, "init", "--admin", "amina", "--password", "amina-password")[0] == 0
    (tmp_path / "spec.yaml").write_text(CLI_SPEC)
    assert cli(ws, "projects", "create", str(tmp_path / "spec.yaml"))[0] == 0
    form = tmp_path / "villages.xlsx"
    form.write_bytes(_villages_form("1"))
    code, out = cli(ws, "forms", "add", "cli-project", str(form))
    assert code == 2 and "form.attachment_missing" in out and "villages.csv" in out
    code, out = cli(ws, "forms", "add", "cli-project", str(form), "--attachment",
                    str(CORPUS / "media" / "villages.csv"))
    assert code == 0 and "attachments: villages.csv" in out


def test_a_form_id_with_a_space_and_a_loop_collect_and_snapshot(tmp_path: Path) -> None:
    import pyarrow.parquet as pq

    from conftest import file_settings

    ws = Workspace(file_settings(tmp_path))
    try:
        me = ws.create_admin("amina", "amina-password")
        me.create_project({"slug": "spaces", "name": "Spaces",
                           "initiator": {"slug": "cso", "name": "CSO"}})
        me.add_form("spaces", CORPUS / "forms" / "settings_form_id_space.xlsx")
        me.submit("spaces", "Spec test", {"instance_id": "uuid:s1", "data": {"a": "one"}})
        info = me.snapshot("spaces", "Spec test")
        assert [t.file for t in info.tables.values()] == ["Spec_test.parquet"]
        assert info.tables["Spec_test"].rows == 1
        # a loop over a choice list is one group per choice, as in the XForm
        me.add_form("spaces", CORPUS / "forms" / "loop_over_choices.xlsx")
        me.submit("spaces", "loop_over_choices", {"instance_id": "uuid:l1", "data": {
            "crop_loop": {"maize": {"area": 3}, "beans": {"area": 5}}}})
        loop = me.snapshot("spaces", "loop_over_choices", tmp_path / "loop")
        row = pq.read_table(tmp_path / "loop" / loop.tables[loop.main].file).to_pylist()[0]
        assert (row["crop_loop__maize__area"], row["crop_loop__beans__area"]) == (3, 5)
        fields = {f.path: f.label for f in me.form_versions("spaces", "loop_over_choices")[0]
                  .schema.fields}
        assert fields["crop_loop/beans/area"] == "Area of Beans"
    finally:
        ws.close()


def test_label_media_are_optional_and_a_missing_one_is_a_warning(tmp_path: Path) -> None:
    from conftest import file_settings

    ws = Workspace(file_settings(tmp_path))
    try:
        me = ws.create_admin("amina", "amina-password")
        me.create_project({"slug": "media", "name": "Media",
                           "initiator": {"slug": "cso", "name": "CSO"}})
        v = me.add_form("media", CORPUS / "forms" / "media_labels.xlsx",
                        attachments=[CORPUS / "media" / "cow.png"])
        assert v.attachments == ("cow.png",)
        assert [w for w in v.warnings if "media file" in w] == [
            "The form shows the media file 'goat.png' but it was not uploaded with the form; "
            "phones show the label without it."]
        info, data = me.form_attachment("media", "media_labels", "cow.png")
        assert info.content_type == "image/png" and data.startswith(b"\x89PNG")
    finally:
        ws.close()
