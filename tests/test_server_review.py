"""The review endpoints, as a validator's app would call them."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from citizendata.server.app import create_app
from citizendata.workspace import Workspace
from conftest import SPEC, household_form
from test_storage import sub

API = "/api/v1/projects/test-project/forms/household"


def test_decide_comment_edit_history_and_duplicates(tmp_path: Path) -> None:
    ws = Workspace.open(tmp_path / "ws")
    owner = ws.create_admin("owner", "owner-password")
    owner.create_project(SPEC)
    owner.add_form("test-project", household_form(), "household.xlsx")
    for name, role in (("val", "validator"), ("ana", "analyst")):
        owner.create_user(name, f"{name}-password")
        owner.add_member("test-project", name, role)
    owner.submit("test-project", "household", [sub("uuid:a"), sub("uuid:b"), sub("uuid:c",
                                                                                 age="41")])
    val = {"Authorization": f"Bearer {ws.login('val', 'val-password').create_token('t')}"}
    ana = {"Authorization": f"Bearer {ws.login('ana', 'ana-password').create_token('t')}"}
    with TestClient(create_app(ws)) as http:
        r = http.post(f"{API}/review", json={"instance_ids": ["uuid:a", "uuid:b"],
                                             "status": "approved"}, headers=val)
        assert r.status_code == 200 and r.json()["decided"] == 2
        assert http.post(f"{API}/review", json={"instance_ids": ["uuid:a"],
                                                "status": "approved"},
                         headers=ana).json()["error"]["code"] == "auth.forbidden"
        bad = http.post(f"{API}/review", json={"instance_ids": ["uuid:a"], "status": "ok"},
                        headers=val)
        assert bad.status_code == 422 and bad.json()["error"]["code"] == "input.invalid"
        assert http.post(f"{API}/submissions/uuid:c/comments", json={"comment": "call back"},
                         headers=val).status_code == 201
        r = http.post(f"{API}/submissions/uuid:c/edits",
                      json={"changes": {"age": "42"}, "reason": "read back"}, headers=val)
        assert r.status_code == 201 and r.json()["version"] == 2
        kinds = [e["kind"] for e in http.get(f"{API}/submissions/uuid:c/history",
                                             headers=ana).json()["history"]]
        assert kinds == ["comment", "edit"]
        groups = http.get(f"{API}/duplicates", headers=val).json()["groups"]
        assert groups == [{"content_hash": groups[0]["content_hash"],
                           "instance_ids": ["uuid:a", "uuid:b"]}]
        assert http.get(f"{API}/duplicates").status_code == 401
    ws.close()
