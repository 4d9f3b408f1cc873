"""Web forms for members, over HTTP: the fill page, its XForm and files, and submissions
sent by the page's outbox (multipart, session cookie + CSRF header, JSON answers)."""

from __future__ import annotations

import json
import re
import warnings
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from citizendata.server.webform_page import FILL_POLICY
from citizendata.store.models import Submission
from citizendata.workspace import Client, Workspace
from conftest import file_settings
from test_server_openrosa import FORM, SPEC, instance

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message="Using `httpx` with", category=UserWarning)
    from fastapi.testclient import TestClient

FILL = "/projects/kisumu-roads/forms/road_hazard/fill"


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """'achieng' owns the project, 'otieno' collects, 'wanjiru' only views it."""
    root = tmp_path_factory.mktemp("template")
    ws = Workspace(file_settings(root))
    admin = ws.create_admin("achieng", "achieng-password")
    admin.create_project(SPEC)
    admin.add_form("kisumu-roads", FORM, "road.xlsx")
    for name, role in (("otieno", "collector"), ("wanjiru", "viewer")):
        admin.create_user(name, f"{name}-password")
        admin.add_member("kisumu-roads", name, role)
    ws.close()
    return root, {}


def log_in(http: TestClient, name: str) -> str:
    """Log in with the session cookie, as the browser does; the session's CSRF token."""
    r = http.post("/api/v1/login", json={"username": name, "password": f"{name}-password"})
    assert r.status_code == 200, r.text
    return str(r.json()["csrf_token"])


def send(http: TestClient, xml: bytes, csrf: str | None, *,
         media: tuple[tuple[str, bytes, str], ...] = (), url: str = FILL) -> Any:
    """What the page's outbox sends for one finished submission."""
    files = [("xml_submission_file", ("submission.xml", xml, "text/xml"))]
    files += [(name, (name, data, ctype)) for name, data, ctype in media]
    headers = {"Accept": "application/json"}
    if csrf is not None:
        headers["X-CSRF-Token"] = csrf
    return http.post(f"{url}/submission", files=files, headers=headers)


def test_a_collector_gets_the_page_with_its_own_policy_and_settings(http: TestClient) -> None:
    log_in(http, "otieno")
    r = http.get(FILL, headers={"Accept": "text/html"})
    assert r.status_code == 200
    assert r.headers["content-security-policy"] == FILL_POLICY
    block = re.search(r'<script type="application/json" id="webform-config">(.*?)</script>',
                      r.text, re.S)
    assert block is not None
    cfg = json.loads(block.group(1))
    assert cfg["mode"] == "member" and cfg["submitUrl"] == f"{FILL}/submission"
    assert cfg["formXmlUrl"] == f"{FILL}/form.xml"
    assert cfg["formKey"] == "member:otieno:kisumu-roads:road_hazard" and cfg["user"] == "otieno"
    script = re.search(r'<script type="module" src="(/static/webforms/[^"]+)">', r.text)
    assert script is not None and http.get(script.group(1)).status_code == 200
    # the rest of the site keeps its strict policy
    assert "unsafe-inline" not in http.get("/projects").headers["content-security-policy"]


def test_the_page_speaks_the_interface_language(http: TestClient) -> None:
    log_in(http, "otieno")
    r = http.get(f"{FILL}?lang=sw", headers={"Accept": "text/html"})
    assert "Kwenye kifaa hiki" in r.text  # "On this device"
    cfg = json.loads(re.search(r'id="webform-config">(.*?)</script>', r.text, re.S)
                     .group(1))  # type: ignore[union-attr]
    assert cfg["language"] == "sw" and cfg["strings"]["state_sent"] == "Imetumwa"


def test_the_xform_and_its_version_are_served_to_members(http: TestClient) -> None:
    log_in(http, "otieno")
    r = http.get(f"{FILL}/form.xml")
    assert r.status_code == 200 and r.headers["x-form-version"] == "2026-03"
    assert b"<h:html" in r.content and b'id="road_hazard"' in r.content


def test_a_viewer_cannot_fill_and_a_stranger_is_asked_to_log_in(http: TestClient) -> None:
    r = http.get(FILL, headers={"Accept": "text/html"}, follow_redirects=False)
    assert r.status_code in (302, 303, 307) and "/login" in r.headers["location"]
    assert http.get(f"{FILL}/form.xml").status_code == 401
    log_in(http, "wanjiru")
    assert http.get(FILL, headers={"Accept": "text/html"}).status_code == 403
    csrf = log_in(http, "wanjiru")
    r = send(http, instance("uuid:viewer"), csrf)
    assert r.status_code == 403 and r.json()["error"]["code"] == "auth.forbidden"


def test_a_submission_is_stored_once_and_a_resend_is_a_duplicate(
        http: TestClient, workspace: Workspace) -> None:
    csrf = log_in(http, "otieno")
    photo = (("1712.jpg", b"\xff\xd8\xff\xe0 a photo", "image/jpeg"),)
    first = send(http, instance("uuid:web-1"), csrf, media=photo)
    assert first.status_code == 201, first.text
    assert first.json() == {"status": "created", "instance_id": "uuid:web-1"}
    again = send(http, instance("uuid:web-1"), csrf, media=photo)
    assert again.status_code == 202 and again.json()["status"] == "duplicate"
    with workspace.transaction() as db:
        rows = db.scalars(select(Submission).where(Submission.instance_id == "uuid:web-1")).all()
    assert len(rows) == 1 and rows[0].channel == "webform"
    # the same instance id with other answers is not a resend
    clash = send(http, instance("uuid:web-1", road="Another road"), csrf)
    assert clash.status_code == 409 and clash.json()["error"]["code"] == "conflict.submission"


def test_without_the_csrf_token_nothing_is_stored(http: TestClient) -> None:
    log_in(http, "otieno")
    r = send(http, instance("uuid:no-token"), None)
    assert r.status_code == 403 and r.json()["error"]["code"] == "auth.csrf"
    r = send(http, instance("uuid:bad-token"), "not-the-token")
    assert r.status_code == 403


def test_an_instance_of_another_form_is_refused_where_it_says(http: TestClient) -> None:
    csrf = log_in(http, "otieno")
    other = instance("uuid:other").replace(b'id="road_hazard"', b'id="household"')
    r = send(http, other, csrf)
    assert r.status_code == 422
    err = r.json()["error"]
    assert err["code"] == "intake.form_mismatch" and "'household'" in err["message"]


def test_a_submission_must_be_multipart(http: TestClient) -> None:
    csrf = log_in(http, "otieno")
    r = http.post(f"{FILL}/submission", content=instance("uuid:raw"),
                  headers={"Content-Type": "text/xml", "X-CSRF-Token": csrf,
                           "Accept": "application/json"})
    assert r.status_code == 415 and r.json()["error"]["code"] == "intake.unsupported_media_type"


def test_engine_files_are_sent_compressed_when_the_browser_takes_it(http: TestClient) -> None:
    log_in(http, "otieno")
    page = http.get(FILL, headers={"Accept": "text/html"}).text
    src = re.search(r'src="(/static/webforms/[^"]+\.js)"', page).group(1)  # type: ignore[union-attr]
    plain = http.get(src, headers={"Accept-Encoding": "identity"})
    gz = http.get(src, headers={"Accept-Encoding": "gzip"})
    assert plain.headers.get("content-encoding") is None
    assert gz.headers["content-encoding"] == "gzip" and gz.content == plain.content
    assert int(gz.headers["content-length"]) < len(plain.content) / 4
    assert gz.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert "Accept-Encoding" in gz.headers["vary"]
    br = http.get(src, headers={"Accept-Encoding": "br;q=1, gzip;q=0.5"})
    assert br.headers["content-encoding"] == "br"
    refused = http.get(src, headers={"Accept-Encoding": "br;q=0, gzip;q=0"})
    assert refused.headers.get("content-encoding") is None


def test_the_webform_channel_is_kept_on_both_backends(owner: Client, ws: Workspace) -> None:
    xml = (b"<data id=\"household\" version=\"1\"><consent>yes</consent>"
           b"<meta><instanceID>uuid:web-both</instanceID></meta></data>")
    result = owner.submit_instance("test-project", xml, channel="webform")
    assert result.created
    with ws.transaction() as db:
        row = db.scalars(select(Submission).where(
            Submission.instance_id == "uuid:web-both")).one()
    assert row.channel == "webform"


def test_the_xform_is_gzipped_for_browsers_that_take_it(http: TestClient) -> None:
    log_in(http, "otieno")
    plain = http.get(f"{FILL}/form.xml", headers={"Accept-Encoding": "identity"})
    gz = http.get(f"{FILL}/form.xml", headers={"Accept-Encoding": "gzip, br"})
    assert plain.headers.get("content-encoding") is None
    assert gz.headers["content-encoding"] == "gzip" and gz.content == plain.content
    assert int(gz.headers["content-length"]) < len(plain.content)


def test_a_public_link_s_token_is_never_written_to_the_error_log() -> None:
    from citizendata.server.errors import logged_path

    assert logged_path("/f/Zq3-secret_token/submission") == "/f/…/submission"
    assert logged_path("/f/Zq3-secret_token") == "/f/…"
    assert logged_path(FILL) == FILL


def test_the_site_has_an_icon(http: TestClient) -> None:
    r = http.get("/favicon.ico")
    assert r.status_code == 200 and r.headers["content-type"] == "image/svg+xml"
    assert r.content.startswith(b"<svg")


def test_an_encrypted_form_is_not_filled_in_the_browser(
        http: TestClient, workspace: Workspace) -> None:
    # the engine would send the answers in the clear: the page and its intake refuse
    owner = workspace.login("achieng", "achieng-password")
    owner.enable_encryption("kisumu-roads", "a long enough passphrase for the test")
    csrf = log_in(http, "otieno")
    page = http.get(FILL, headers={"Accept": "text/html"})
    assert page.status_code == 409 and "ODK Collect" in page.text
    r = send(http, instance("uuid:clear"), csrf)
    assert r.status_code == 409 and r.json()["error"]["code"] == "webform.encrypted"
    _link, token = owner.create_public_link("kisumu-roads", "road_hazard", "Everyone")
    assert http.get(f"/f/{token}", headers={"Accept": "text/html"}).status_code == 409
    files = [("xml_submission_file", ("submission.xml", instance("uuid:clear2"), "text/xml"))]
    r = http.post(f"/f/{token}/submission", files=files, headers={"Accept": "application/json"})
    assert r.status_code == 409 and r.json()["error"]["code"] == "webform.encrypted"
