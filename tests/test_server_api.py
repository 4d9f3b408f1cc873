"""The JSON API: auth, projects, forms, submissions, imports and the one error shape."""

from __future__ import annotations

import json
import logging
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import pytest

from citizendata.server.app import create_app
from citizendata.workspace import Client, Workspace
from conftest import file_settings
from xlsform_builders import make_xlsform

with warnings.catch_warnings():
    # starlette 1.x prefers httpx2 for its test client; httpx is what the project installs
    warnings.filterwarnings("ignore", message="Using `httpx` with", category=UserWarning)
    from fastapi.testclient import TestClient

SPEC: dict[str, Any] = {
    "slug": "mathare-water",
    "name": "Mathare water points",
    "initiator": {"slug": "mathare-youth", "name": "Mathare Youth Group"},
    "purpose": "Map working water points",
    "engagement": {"design": {"level": 4, "evidence": "community meetings"},
                   "collect": {"level": 5}},
}
FORM = make_xlsform(
    [{"type": "text", "name": "respondent", "label": "Name", "personal": "yes"},
     {"type": "integer", "name": "households", "label": "Households served"},
     {"type": "select_one yn", "name": "working", "label": "Working?"}],
    [{"list_name": "yn", "name": "yes", "label": "Yes"},
     {"list_name": "yn", "name": "no", "label": "No"}],
    {"form_id": "water_point", "version": "1", "form_title": "Water point"},
)
BASE = "/api/v1/projects/mathare-water"
SUBS = f"{BASE}/forms/water_point/submissions"
ERROR_KEYS = {"code", "title", "message", "status"}


USERS = {"amina": "owner", "otieno": "collector", "wanjiku": "analyst", "outsider": None}


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """Built once per module (password hashing is slow on purpose): a workspace where the
    administrator amina owns 'mathare-water' with the water point form, otieno collects,
    wanjiku analyses and 'outsider' belongs to no project; and each user's API token."""
    root = tmp_path_factory.mktemp("template")
    ws = Workspace(file_settings(root))
    admin = ws.create_admin("amina", "amina-password")
    admin.create_project(SPEC)
    admin.add_form("mathare-water", FORM, "water.xlsx")
    for name, role in USERS.items():
        if name != "amina":
            admin.create_user(name, f"{name}-password")
        if role and role != "owner":
            admin.add_member("mathare-water", name, role)
    tokens = {name: ws.login(name, f"{name}-password").create_token("tests") for name in USERS}
    ws.close()
    return root, tokens


@pytest.fixture
def owner(tokens: dict[str, dict[str, str]]) -> dict[str, str]:
    """Amina's Authorization header."""
    return tokens["amina"]


def sub(iid: str, households: int = 12, respondent: str = "Achieng") -> dict[str, Any]:
    """One submission as a JSON client would send it."""
    return {"meta": {"instanceID": iid}, "respondent": respondent, "households": households,
            "working": "yes"}


def post_json(http: TestClient, url: str, body: Any, headers: dict[str, str]) -> Any:
    """POST a JSON body as bytes with the JSON content type."""
    return http.post(url, content=json.dumps(body).encode(),
                     headers={**headers, "Content-Type": "application/json"})


def assert_error(r: Any, status: int, code: str) -> dict[str, Any]:
    """The response is the one error shape with this status and code."""
    assert r.status_code == status, r.text
    body = r.json()
    assert list(body) == ["error"]
    assert set(body["error"]) >= ERROR_KEYS
    assert body["error"]["code"] == code and body["error"]["status"] == status
    return dict(body["error"])


def test_login_sets_a_session_and_tokens_work(http: TestClient) -> None:
    r = http.post("/api/v1/login", json={"username": "amina", "password": "amina-password"})
    assert r.json()["user"]["username"] == "amina" and r.json()["user"]["is_admin"] is True
    assert http.get("/api/v1/me").json()["user"]["username"] == "amina"
    # a write carried by the cookie sends the session's CSRF token back
    csrf = {"X-CSRF-Token": r.json()["csrf_token"]}
    token = http.post("/api/v1/tokens", json={"name": "laptop"}, headers=csrf).json()["token"]
    http.post("/api/v1/logout")
    assert_error(http.get("/api/v1/me"), 401, "auth.unauthenticated")
    me = http.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert me.json()["user"]["username"] == "amina"


def test_wrong_password_and_unknown_token_are_401(http: TestClient) -> None:
    r = http.post("/api/v1/login", json={"username": "amina", "password": "nope-nope"})
    assert_error(r, 401, "auth.invalid_credentials")
    r = http.get("/api/v1/projects", headers={"Authorization": "Bearer cdt_made_up"})
    assert_error(r, 401, "auth.invalid_token")


def test_no_credentials_is_401_with_exact_error_shape(http: TestClient) -> None:
    r = http.get("/api/v1/projects")
    err = assert_error(r, 401, "auth.unauthenticated")
    assert set(err) == ERROR_KEYS | {"fix"}
    assert err["title"] == "Authentication required"


def test_create_and_list_projects(http: TestClient, owner: dict[str, str]) -> None:
    spec = {**SPEC, "slug": "kibera-sanitation", "name": "Kibera sanitation",
            "engagement": {"collect": {"level": 2}}}
    created = post_json(http, "/api/v1/projects", spec, owner)
    assert created.status_code == 201 and created.json()["role"] == "owner"
    projects = http.get("/api/v1/projects", headers=owner).json()["projects"]
    assert [(p["slug"], p["role"], p["meets_citizen_data_threshold"]) for p in projects] == [
        ("kibera-sanitation", "owner", False), ("mathare-water", "owner", True)]
    one = http.get(BASE, headers=owner).json()
    assert one["engagement"]["initiator"] == "Mathare Youth Group"
    assert_error(post_json(http, "/api/v1/projects", SPEC, owner), 409, "conflict.exists")


def test_bad_project_spec_lists_every_problem(http: TestClient, owner: dict[str, str]) -> None:
    bad = {"slug": "X", "name": "n", "initiator": {"slug": "a", "name": "A"},
           "engagement": {"design": {"level": 9}}}
    err = assert_error(post_json(http, "/api/v1/projects", bad, owner), 422, "input.invalid")
    fields = {p["where"]["field"] for p in err["problems"]}
    assert {"slug", "engagement.design.level"} <= fields


def test_another_projects_existence_does_not_leak(http: TestClient,
                                                  tokens: dict[str, dict[str, str]]) -> None:
    h = tokens["outsider"]
    hidden = assert_error(http.get(BASE, headers=h), 404, "not_found.project")
    absent = assert_error(http.get("/api/v1/projects/no-such-project", headers=h), 404,
                          "not_found.project")
    assert hidden["title"] == absent["title"]
    assert_error(post_json(http, SUBS, sub("uuid:x"), h), 404, "not_found.project")
    assert http.get("/api/v1/projects", headers=h).json() == {"projects": []}


def test_collector_submits_but_cannot_read(http: TestClient,
                                           tokens: dict[str, dict[str, str]]) -> None:
    h = tokens["otieno"]
    assert post_json(http, SUBS, sub("uuid:c1"), h).status_code == 201
    assert_error(http.get(SUBS, headers=h), 403, "auth.forbidden")
    assert_error(http.get(f"{SUBS}/uuid:c1", headers=h), 403, "auth.forbidden")
    assert_error(http.get(f"{BASE}/audit", headers=h), 403, "auth.forbidden")


def test_submit_one_batch_and_idempotent_resend(http: TestClient, owner: dict[str, str]) -> None:
    r = post_json(http, SUBS, sub("uuid:1"), owner)
    assert r.status_code == 201 and r.json()["created"] == 1
    batch = {"submissions": [sub("uuid:2"), sub("uuid:3", 4), sub("uuid:4", 7)]}
    first = post_json(http, SUBS, batch, owner)
    assert first.status_code == 201 and first.json()["created"] == 3
    again = post_json(http, SUBS, batch, owner)
    assert again.status_code == 200
    assert again.json()["ids"] == first.json()["ids"]
    assert (again.json()["created"], again.json()["duplicates"]) == (0, 3)
    as_array = post_json(http, SUBS, [sub("uuid:1"), sub("uuid:5")], owner)
    assert as_array.status_code == 201 and as_array.json()["created"] == 1
    assert http.get(SUBS, headers=owner).json()["total"] == 5


def test_conflicting_resend_is_409_and_nothing_is_overwritten(
        http: TestClient, owner: dict[str, str]) -> None:
    post_json(http, SUBS, sub("uuid:1", households=12), owner)
    r = post_json(http, SUBS, [sub("uuid:9"), sub("uuid:1", households=99)], owner)
    err = assert_error(r, 409, "conflict.submission")
    assert err["where"]["instance_id"] == "uuid:1"
    stored = http.get(f"{SUBS}/uuid:1", headers=owner).json()
    assert stored["data"]["households"] == 12
    assert_error(http.get(f"{SUBS}/uuid:9", headers=owner), 404, "not_found.submission")


def test_invalid_json_is_422_with_line_and_column(http: TestClient,
                                                  owner: dict[str, str]) -> None:
    r = http.post(SUBS, content=b'{"meta": {"instanceID": "uuid:1"},\n  "households": }',
                  headers={**owner, "Content-Type": "application/json"})
    err = assert_error(r, 422, "intake.invalid_json")
    assert err["where"]["row"] == 2 and err["where"]["position"] > 0


def test_wrong_content_type_is_415(http: TestClient, owner: dict[str, str]) -> None:
    r = http.post(SUBS, content=json.dumps(sub("uuid:1")).encode(),
                  headers={**owner, "Content-Type": "text/plain"})
    err = assert_error(r, 415, "intake.unsupported_media_type")
    assert "application/json" in err["message"]


def test_body_over_the_limit_is_413(workspace: Workspace, tmp_path: Path,
                                    owner: dict[str, str]) -> None:
    app = create_app(workspace, settings=file_settings(tmp_path, max_request_bytes=300))
    h = {**owner, "Content-Type": "application/json"}
    big = json.dumps([sub(f"uuid:{i}") for i in range(20)]).encode()
    with TestClient(app) as c:
        err = assert_error(c.post(SUBS, content=big, headers=h), 413, "intake.payload_too_large")
        assert err["details"]["limit_bytes"] == 300

        def chunks() -> Iterator[bytes]:
            # no Content-Length: the bytes are counted as they stream in
            for i in range(0, len(big), 100):
                yield big[i:i + 100]

        assert_error(c.post(SUBS, content=chunks(), headers=h), 413, "intake.payload_too_large")


def test_invalid_request_fields_are_422_listing_each(http: TestClient) -> None:
    err = assert_error(http.post("/api/v1/login", json={"user": "amina"}), 422, "input.invalid")
    assert {p["where"]["field"] for p in err["problems"]} == {"username", "password"}
    r = http.get(f"{SUBS}?limit=0", headers={"Authorization": "Bearer x"})
    assert r.status_code in (401, 422)


def test_unknown_route_is_404_not_found_route(http: TestClient) -> None:
    assert_error(http.get("/api/v1/nothing-here"), 404, "not_found.route")
    assert_error(http.delete("/api/v1/projects"), 405, "not_found.route")


def test_unexpected_error_is_500_with_request_id_and_no_body_in_logs(
        http: TestClient, owner: dict[str, str], monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    def boom(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("storage exploded")

    monkeypatch.setattr(Client, "submit", boom)
    with caplog.at_level(logging.ERROR, logger="citizendata.server"):
        r = post_json(http, SUBS, sub("uuid:1", respondent="Secret Person Name"), owner)
    err = assert_error(r, 500, "internal")
    assert err["details"]["request_id"] == r.headers["x-request-id"]
    assert "storage exploded" not in r.text
    assert r.headers["x-request-id"] in caplog.text
    assert "Secret Person Name" not in caplog.text


def test_security_headers(http: TestClient) -> None:
    r = http.get("/api/v1/projects")
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["content-security-policy"].startswith("default-src 'self'")


def test_forms_upload_versions_and_xform(http: TestClient, owner: dict[str, str]) -> None:
    v2 = make_xlsform([{"type": "integer", "name": "households", "label": "Households"}],
                      settings={"form_id": "water_point", "version": "2",
                                "form_title": "Water point"})
    up = http.post(f"{BASE}/forms", files={"file": ("water-v2.xlsx", v2)}, headers=owner)
    assert up.status_code == 201 and up.json()["version"] == "2"
    raw = http.post(f"{BASE}/forms?filename=water.xlsx", content=FORM,
                    headers={**owner, "Content-Type": "application/octet-stream"})
    assert raw.status_code == 201 and raw.json()["version"] == "1"
    forms = http.get(f"{BASE}/forms", headers=owner).json()["forms"]
    assert [(f["form_id"], f["versions"], f["submissions"]) for f in forms] == [
        ("water_point", ["1", "2"], 0)]
    one = http.get(f"{BASE}/forms/water_point", headers=owner).json()
    assert one["title"] == "Water point"
    assert [v["filename"] for v in one["version_details"]] == ["water.xlsx", "water-v2.xlsx"]
    xml = http.get(f"{BASE}/forms/water_point/versions/1/xform", headers=owner)
    assert xml.headers["content-type"].startswith("text/xml")
    assert ElementTree.fromstring(xml.content).tag.endswith("html")
    assert_error(http.get(f"{BASE}/forms/water_point/versions/7/xform", headers=owner), 404,
                 "not_found.form_version")
    assert_error(http.post(f"{BASE}/forms", content=b"x", headers=owner), 422, "input.invalid")
    not_xls = http.post(f"{BASE}/forms", files={"file": ("a.xlsx", b"not a workbook")},
                        headers=owner)
    assert_error(not_xls, 422, "form.not_xlsform")


def test_list_page_filter_and_personal_fields_withheld(
        http: TestClient, tokens: dict[str, dict[str, str]]) -> None:
    owner = tokens["amina"]
    post_json(http, SUBS, [sub(f"uuid:{i}", i) for i in range(5)], owner)
    page = http.get(f"{SUBS}?limit=2&offset=1", headers=owner).json()
    assert page["total"] == 5 and [s["instance_id"] for s in page["submissions"]] == [
        "uuid:3", "uuid:2"]
    assert http.get(f"{SUBS}?review_status=approved", headers=owner).json()["total"] == 0
    assert http.get(f"{SUBS}/uuid:1", headers=owner).json()["data"]["respondent"] == "Achieng"
    seen = http.get(f"{SUBS}/uuid:1", headers=tokens["wanjiku"]).json()["data"]
    assert seen["respondent"].startswith("[withheld") and seen["households"] == 1


def test_csv_import_then_resend_is_a_duplicate(http: TestClient, owner: dict[str, str]) -> None:
    csv = b"instance_id,respondent,households,working\nuuid:a,Njeri,3,yes\nuuid:b,Kamau,8,no\n"
    url = f"{BASE}/forms/water_point/import"
    r = http.post(url, files={"file": ("points.csv", csv, "text/csv")}, headers=owner)
    assert r.status_code == 201, r.text
    assert r.json()["created"] == 2
    again = http.post(url, files={"file": ("points.csv", csv, "text/csv")}, headers=owner)
    assert again.status_code == 200 and again.json()["duplicates"] == 2
    bad = http.post(url, files={"file": ("p.csv", b"respondent\nNjeri\n", "text/csv")},
                    headers=owner)
    assert bad.status_code == 422 and bad.json()["error"]["code"].startswith("import.")


def test_members_and_audit(http: TestClient, owner: dict[str, str]) -> None:
    r = post_json(http, f"{BASE}/members", {"username": "outsider", "role": "viewer"}, owner)
    assert r.json() == {"username": "outsider", "display_name": None, "role": "viewer"}
    members = http.get(f"{BASE}/members", headers=owner).json()["members"]
    assert {(m["username"], m["role"]) for m in members} == {
        ("amina", "owner"), ("otieno", "collector"), ("wanjiku", "analyst"),
        ("outsider", "viewer")}
    r = post_json(http, f"{BASE}/members", {"username": "otieno", "role": "chief"}, owner)
    assert_error(r, 422, "input.invalid")
    actions = [e["action"] for e in http.get(f"{BASE}/audit", headers=owner).json()["events"]]
    assert "project.create" in actions and "member.set_role" in actions


def test_docs_and_openapi_need_no_cdn(http: TestClient) -> None:
    schema = http.get("/openapi.json").json()
    assert schema["info"]["title"] == "citizendata"
    assert "/api/v1/projects/{slug}/forms/{form_id}/submissions" in schema["paths"]
    docs = http.get("/docs")
    assert docs.status_code == 200 and "/api/v1/login" in docs.text
    assert "http://" not in docs.text.replace("http://testserver", "")
    assert "https://" not in docs.text
