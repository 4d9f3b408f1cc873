"""OpenRosa endpoints as ODK Collect uses them: form list, form download, HEAD and POST."""

from __future__ import annotations

import base64
import hashlib
import warnings
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import pytest
from sqlalchemy import select

from citizendata.server.app import create_app
from citizendata.store.models import Attachment, Submission
from citizendata.workspace import Workspace
from conftest import file_settings
from xlsform_builders import make_xlsform

with warnings.catch_warnings():
    # starlette 1.x prefers httpx2 for its test client; httpx is what the project installs
    warnings.filterwarnings("ignore", message="Using `httpx` with", category=UserWarning)
    from fastapi.testclient import TestClient

SPEC: dict[str, Any] = {
    "slug": "kisumu-roads",
    "name": "Kisumu road safety",
    "initiator": {"slug": "kisumu-riders", "name": "Kisumu Boda Riders"},
    "engagement": {"collect": {"level": 5}},
}
FORM = make_xlsform(
    [{"type": "text", "name": "reporter", "label": "Your name", "personal": "yes"},
     {"type": "begin_group", "name": "place", "label": "Place"},
     {"type": "text", "name": "road", "label": "Road"},
     {"type": "end_group"},
     {"type": "begin_repeat", "name": "hazard", "label": "Hazard"},
     {"type": "select_one kind", "name": "kind", "label": "Kind"},
     {"type": "end_repeat"},
     {"type": "image", "name": "photo", "label": "Photo"}],
    [{"list_name": "kind", "name": "pothole", "label": "Pothole"},
     {"list_name": "kind", "name": "no_light", "label": "No street light"}],
    {"form_id": "road_hazard", "version": "2026-03", "form_title": "Road hazard"},
)
NS = {"x": "http://openrosa.org/xforms/xformsList"}
OR = "/openrosa/kisumu-roads"


def instance(iid: str = "uuid:0b1c", road: str = "Oginga Odinga St",
             hazards: tuple[str, ...] = ("pothole", "no_light")) -> bytes:
    """An instance XML as ODK Collect writes it."""
    reps = "".join(f"<hazard><kind>{k}</kind></hazard>" for k in hazards)
    return (f"<?xml version='1.0' ?><data id=\"road_hazard\" version=\"2026-03\" "
            f"xmlns:orx=\"http://openrosa.org/xforms\"><reporter>Onyango</reporter>"
            f"<place><road>{road}</road></place>{reps}<photo>1712.jpg</photo>"
            f"<meta><orx:instanceID>{iid}</orx:instanceID></meta></data>").encode()


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """Once per module: 'achieng' owns the project, 'otieno' collects, 'outsider' is not in it."""
    root = tmp_path_factory.mktemp("template")
    ws = Workspace(file_settings(root))
    admin = ws.create_admin("achieng", "achieng-password")
    admin.create_project(SPEC)
    admin.add_form("kisumu-roads", FORM, "road.xlsx")
    for name in ("otieno", "outsider"):
        admin.create_user(name, f"{name}-password")
    admin.add_member("kisumu-roads", "otieno", "collector")
    tokens = {n: ws.login(n, f"{n}-password").create_token("t")
              for n in ("achieng", "otieno", "outsider")}
    ws.close()
    return root, tokens


def basic(username: str, password: str | None = None) -> dict[str, str]:
    """The Authorization header ODK Collect sends."""
    raw = f"{username}:{password or username + '-password'}".encode()
    return {"Authorization": "Basic " + base64.b64encode(raw).decode()}


def post_instance(http: TestClient, headers: dict[str, str], xml: bytes,
                  media: tuple[tuple[str, bytes, str], ...] = ()) -> Any:
    """POST a filled form as multipart/form-data, the XML part first."""
    files = [("xml_submission_file", ("submission.xml", xml, "text/xml"))]
    files += [(name, (name, data, ctype)) for name, data, ctype in media]
    return http.post(f"{OR}/submission", files=files, headers=headers)


def message(r: Any) -> tuple[str, str]:
    """The nature and text of an OpenRosaResponse."""
    root = ElementTree.fromstring(r.content)
    msg = root.find("{http://openrosa.org/http/response}message")
    assert msg is not None, r.text
    return msg.get("nature") or "", msg.text or ""


def test_form_list_lists_the_form_with_its_hash_and_download_url(
        http: TestClient, tokens: dict[str, dict[str, str]]) -> None:
    r = http.get(f"{OR}/formList", headers=basic("otieno"))
    assert r.status_code == 200 and r.headers["x-openrosa-version"] == "1.0"
    forms = ElementTree.fromstring(r.content).findall("x:xform", NS)
    assert [f.findtext("x:formID", namespaces=NS) for f in forms] == ["road_hazard"]
    entry = forms[0]
    assert entry.findtext("x:name", namespaces=NS) == "Road hazard"
    assert entry.findtext("x:version", namespaces=NS) == "2026-03"
    url = entry.findtext("x:downloadUrl", namespaces=NS) or ""
    assert url == "http://testserver/openrosa/kisumu-roads/forms/road_hazard/form.xml"
    xml = http.get(url, headers=tokens["otieno"])
    assert xml.status_code == 200 and xml.headers["x-openrosa-version"] == "1.0"
    digest = hashlib.md5(xml.content).hexdigest()
    assert entry.findtext("x:hash", namespaces=NS) == f"md5:{digest}"
    only = http.get(f"{OR}/formList?formID=other", headers=tokens["otieno"])
    assert ElementTree.fromstring(only.content).findall("x:xform", NS) == []


def test_head_submission_is_204_with_openrosa_headers(
        http: TestClient, tokens: dict[str, dict[str, str]]) -> None:
    r = http.head(f"{OR}/submission", headers=tokens["otieno"])
    assert r.status_code == 204
    assert r.headers["x-openrosa-version"] == "1.0"
    assert int(r.headers["x-openrosa-accept-content-length"]) == 32 * 1024 * 1024


def test_no_credentials_get_a_basic_challenge(http: TestClient) -> None:
    for r in (http.get(f"{OR}/formList"), http.head(f"{OR}/submission"),
              post_instance(http, {}, instance())):
        assert r.status_code == 401
        assert r.headers["www-authenticate"] == 'Basic realm="citizendata"'
        assert r.headers["x-openrosa-version"] == "1.0"
    nature, text = message(http.get(f"{OR}/formList"))
    assert nature == "error" and text.startswith("auth.unauthenticated: ")
    wrong = http.get(f"{OR}/formList", headers=basic("otieno", "wrong-password"))
    assert wrong.status_code == 401 and "Basic" in wrong.headers["www-authenticate"]
    assert message(wrong)[1].startswith("auth.invalid_credentials: ")


def test_collector_posts_a_form_with_media_and_it_is_readable(
        http: TestClient, workspace: Workspace, tokens: dict[str, dict[str, str]]) -> None:
    photo = b"\xff\xd8\xff\xe0 a jpeg"
    r = post_instance(http, basic("otieno"), instance(), (("1712.jpg", photo, "image/jpeg"),))
    assert r.status_code == 201, r.text
    assert r.headers["x-openrosa-version"] == "1.0"
    assert message(r)[0] == "submit_success"
    got = http.get("/api/v1/projects/kisumu-roads/forms/road_hazard/submissions/uuid:0b1c",
                   headers=tokens["achieng"]).json()
    assert got["channel"] == "openrosa" and got["submitter"] == "otieno"
    assert got["data"]["place"] == {"road": "Oginga Odinga St"}
    assert got["data"]["hazard"] == [{"kind": "pothole"}, {"kind": "no_light"}]
    with workspace.transaction() as db:
        sub_id = db.scalar(select(Submission.id).where(Submission.instance_id == "uuid:0b1c"))
        files = {a.name: (a.content_type, a.data) for a in
                 db.scalars(select(Attachment).where(Attachment.submission_id == sub_id))}
    assert files["1712.jpg"] == ("image/jpeg", photo)
    assert files["xml_submission_file"] == ("text/xml", instance())


def test_identical_resend_is_202_and_different_content_is_409(
        http: TestClient, tokens: dict[str, dict[str, str]]) -> None:
    h = tokens["otieno"]
    assert post_instance(http, h, instance()).status_code == 201
    again = post_instance(http, h, instance())
    assert again.status_code == 202 and message(again)[0] == "submit_success"
    assert "Duplicate" in message(again)[1]
    changed = post_instance(http, h, instance(road="Jomo Kenyatta Hwy"))
    assert changed.status_code == 409
    nature, text = message(changed)
    assert nature == "error" and text.startswith("conflict.submission: ")
    stored = http.get("/api/v1/projects/kisumu-roads/forms/road_hazard/submissions/uuid:0b1c",
                      headers=tokens["achieng"]).json()
    assert stored["data"]["place"]["road"] == "Oginga Odinga St"


def test_wrong_content_type_is_415_as_openrosa_xml(http: TestClient,
                                                   tokens: dict[str, dict[str, str]]) -> None:
    r = http.post(f"{OR}/submission", content=instance(),
                  headers={**tokens["otieno"], "Content-Type": "text/xml"})
    assert r.status_code == 415 and r.headers["content-type"].startswith("text/xml")
    assert r.headers["x-openrosa-version"] == "1.0"
    nature, text = message(r)
    assert nature == "error" and text.startswith("intake.unsupported_media_type: ")


def test_broken_or_missing_xml_is_422(http: TestClient,
                                      tokens: dict[str, dict[str, str]]) -> None:
    h = tokens["otieno"]
    broken = post_instance(http, h, b"<data id='road_hazard'><reporter>")
    assert broken.status_code == 422 and message(broken)[1].startswith("intake.invalid_xml: ")
    missing = http.post(f"{OR}/submission", files={"photo": ("a.jpg", b"x", "image/jpeg")},
                        headers=h)
    assert missing.status_code == 422 and "xml_submission_file" in message(missing)[1]
    unknown = post_instance(http, h, instance().replace(b"<photo>", b"<colour>red</colour><photo>"))
    assert unknown.status_code == 422
    assert "colour" in message(unknown)[1]


def test_non_member_sees_no_project(http: TestClient, tokens: dict[str, dict[str, str]]) -> None:
    r = http.get(f"{OR}/formList", headers=tokens["outsider"])
    assert r.status_code == 404 and message(r)[1].startswith("not_found.project: ")
    assert post_instance(http, tokens["outsider"], instance()).status_code == 404


def test_submission_over_the_limit_is_413_as_openrosa_xml(
        workspace: Workspace, tmp_path: Path, tokens: dict[str, dict[str, str]]) -> None:
    app = create_app(workspace, settings=file_settings(tmp_path, max_request_bytes=2000))
    with TestClient(app) as c:
        head = c.head(f"{OR}/submission", headers=tokens["otieno"])
        assert head.headers["x-openrosa-accept-content-length"] == "2000"
        r = post_instance(c, tokens["otieno"], instance(),
                          (("1712.jpg", b"\xff" * 5000, "image/jpeg"),))
    assert r.status_code == 413 and r.headers["x-openrosa-version"] == "1.0"
    assert message(r)[1].startswith("intake.payload_too_large: ")
