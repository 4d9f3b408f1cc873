"""Attachments: a collector's photos and signature come back, to whom and as they may."""

from __future__ import annotations

import base64
import csv
import warnings
from pathlib import Path
from typing import Any

import pytest

from citizendata.workspace import Workspace
from conftest import file_settings
from xlsform_builders import make_xlsform

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message="Using `httpx` with", category=UserWarning)
    from fastapi.testclient import TestClient

SPEC: dict[str, Any] = {
    "slug": "kisumu-roads", "name": "Kisumu road safety",
    "initiator": {"slug": "kisumu-riders", "name": "Kisumu Boda Riders"},
    "engagement": {"collect": {"level": 5}},
}
FORM = make_xlsform(
    [{"type": "text", "name": "road", "label": "Road"},
     # images and audio are personal by default; this project decided a road photo and a
     # voice note about a pothole are not
     {"type": "image", "name": "photo", "label": "Photo of the hazard", "personal": "no"},
     {"type": "begin_repeat", "name": "hazard", "label": "Hazard"},
     {"type": "text", "name": "kind", "label": "Kind"},
     {"type": "audio", "name": "voice", "label": "Describe it", "personal": "no"},
     {"type": "end_repeat"},
     {"type": "image", "name": "sign", "label": "Your signature", "appearance": "signature"}],
    [], {"form_id": "road_hazard", "version": "1", "form_title": "Road hazard"})
BASE = "/api/v1/projects/kisumu-roads/forms/road_hazard/submissions"
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF road photo"
PNG = b"\x89PNG\r\n\x1a\n signature strokes"
M4A = b"\x00\x00\x00\x18ftypM4A  voice note"


def instance(iid: str) -> bytes:
    """What ODK Collect posts: the photo, a signature and two voice notes named."""
    return (f"<?xml version='1.0' ?><data id=\"road_hazard\" version=\"1\" "
            f"xmlns:orx=\"http://openrosa.org/xforms\"><road>Oginga Odinga St</road>"
            f"<photo>1712.jpg</photo><hazard><kind>pothole</kind><voice>v1.m4a</voice></hazard>"
            f"<hazard><kind>no light</kind><voice>v2.m4a</voice></hazard>"
            f"<sign>sign-1713.png</sign><meta><orx:instanceID>{iid}</orx:instanceID></meta>"
            f"</data>").encode()


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """achieng owns, otieno collects (v2.m4a never arrived), wanjiru analyses, one outsider."""
    root = tmp_path_factory.mktemp("attachments")
    ws = Workspace(file_settings(root))
    admin = ws.create_admin("achieng", "achieng-password")
    admin.create_project(SPEC)
    admin.add_form("kisumu-roads", FORM, "road.xlsx")
    for name, role in (("otieno", "collector"), ("wanjiru", "analyst"), ("outsider", None)):
        admin.create_user(name, f"{name}-password")
        if role:
            admin.add_member("kisumu-roads", name, role)
    from citizendata.services.intake import StoredAttachment
    collector = ws.login("otieno", "otieno-password")
    for iid in ("uuid:a1", "uuid:a2"):
        collector.submit_instance("kisumu-roads", instance(iid), [
            StoredAttachment("1712.jpg", "image/jpeg", JPEG),
            StoredAttachment("sign-1713.png", "image/png", PNG),
            StoredAttachment("v1.m4a", "audio/mp4", M4A)])
    tokens = {n: ws.login(n, f"{n}-password").create_token("t")
              for n in ("achieng", "otieno", "wanjiru", "outsider")}
    ws.close()
    return root, tokens


def test_owner_lists_every_file_with_the_missing_voice_note(
        http: TestClient, tokens: dict[str, dict[str, str]]) -> None:
    r = http.get(f"{BASE}/uuid:a1/attachments", headers=tokens["achieng"])
    assert r.status_code == 200, r.text
    got = {a["name"]: (a["field"], a["present"], a["content_type"], a["size"])
           for a in r.json()["attachments"]}
    assert got == {"1712.jpg": ("photo", True, "image/jpeg", len(JPEG)),
                   "v1.m4a": ("hazard/voice", True, "audio/mp4", len(M4A)),
                   "v2.m4a": ("hazard/voice", False, None, None),
                   "sign-1713.png": ("sign", True, "image/png", len(PNG))}
    assert r.json()["withheld"] == 0


def test_the_bytes_come_back_as_a_download_with_their_type(
        http: TestClient, tokens: dict[str, dict[str, str]]) -> None:
    r = http.get(f"{BASE}/uuid:a1/attachments/1712.jpg", headers=tokens["achieng"])
    assert r.status_code == 200 and r.content == JPEG
    assert r.headers["content-type"] == "image/jpeg"
    assert r.headers["content-disposition"] == "attachment; filename*=UTF-8''1712.jpg"
    assert r.headers["x-content-type-options"] == "nosniff"
    missing = http.get(f"{BASE}/uuid:a1/attachments/v2.m4a", headers=tokens["achieng"])
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "not_found.attachment"


def test_an_analyst_never_gets_the_personal_signature(
        http: TestClient, tokens: dict[str, dict[str, str]]) -> None:
    r = http.get(f"{BASE}/uuid:a1/attachments", headers=tokens["wanjiru"])
    assert r.status_code == 200
    assert sorted(a["name"] for a in r.json()["attachments"]) == ["1712.jpg", "v1.m4a",
                                                                  "v2.m4a"]
    assert r.json()["withheld"] == 1
    assert "sign-1713" not in r.text
    sign = http.get(f"{BASE}/uuid:a1/attachments/sign-1713.png", headers=tokens["wanjiru"])
    assert sign.status_code == 404 and PNG not in sign.content
    photo = http.get(f"{BASE}/uuid:a1/attachments/1712.jpg", headers=tokens["wanjiru"])
    assert photo.content == JPEG


def test_collectors_outsiders_and_anonymous_callers_get_nothing(
        http: TestClient, tokens: dict[str, dict[str, str]]) -> None:
    url = f"{BASE}/uuid:a1/attachments/1712.jpg"
    assert http.get(url, headers=tokens["otieno"]).status_code == 403
    assert http.get(url, headers=tokens["outsider"]).status_code == 404
    assert http.get(url).status_code == 401
    basic = "Basic " + base64.b64encode(b"achieng:achieng-password").decode()
    assert http.get(url, headers={"Authorization": basic}).status_code == 401


def test_a_withdrawn_respondent_s_files_are_gone(
        http: TestClient, workspace: Workspace, tokens: dict[str, dict[str, str]]) -> None:
    workspace.as_user("achieng").withdraw_consent("kisumu-roads", "road_hazard", "uuid:a2")
    for who in ("achieng", "wanjiru"):
        assert http.get(f"{BASE}/uuid:a2/attachments", headers=tokens[who]).status_code == 404
        assert http.get(f"{BASE}/uuid:a2/attachments/1712.jpg",
                        headers=tokens[who]).status_code == 404


def test_export_writes_files_an_index_and_the_missing_list(
        workspace: Workspace, tmp_path: Path) -> None:
    analyst = workspace.as_user("wanjiru")
    summary = analyst.export_attachments("kisumu-roads", "road_hazard", tmp_path / "plain")
    assert (summary.submissions, summary.written, summary.missing, summary.withheld) == (
        2, 4, 2, 2)
    assert (tmp_path / "plain" / "uuid_a1" / "1712.jpg").read_bytes() == JPEG
    assert not list((tmp_path / "plain").rglob("sign-*"))
    with (tmp_path / "plain" / "missing.csv").open() as fh:
        missing = list(csv.DictReader(fh))
    assert [(m["instance_id"], m["field"], m["name"]) for m in missing] == [
        ("uuid:a1", "hazard/voice", "v2.m4a"), ("uuid:a2", "hazard/voice", "v2.m4a")]
    owner = workspace.as_user("achieng")
    full = owner.export_attachments("kisumu-roads", "road_hazard", tmp_path / "all",
                                    include_personal=True)
    assert full.written == 6
    assert (tmp_path / "all" / "uuid_a2" / "sign-1713.png").read_bytes() == PNG


def test_cli_export_puts_the_files_in_the_snapshot_folder(
        workspace: Workspace, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from citizendata.cli import app

    def run(*args: str) -> tuple[int, str]:
        result = CliRunner().invoke(app, [*args, "-w", str(workspace.settings.workspace),
                                          "--as", "wanjiru"], catch_exceptions=False)
        return result.exit_code, result.output

    code, out = run("export", "kisumu-roads", "road_hazard", "--attachments")
    assert code == 2 and "--out" in out
    snap = tmp_path / "snap"
    code, out = run("export", "kisumu-roads", "road_hazard", "--out", str(snap),
                    "--attachments")
    assert code == 0, out
    assert "4 attachment(s)" in out and "2 expected but not sent" in out
    assert (snap / "road_hazard.parquet").exists()
    assert (snap / "attachments" / "uuid_a2" / "v1.m4a").read_bytes() == M4A
    assert (snap / "attachments" / "missing.csv").read_text().count("v2.m4a") == 2
