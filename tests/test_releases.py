"""Releases and the community sign-off gate, on SQLite and PostgreSQL; the public surface."""

from __future__ import annotations

import json
import warnings
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from citizendata.errors import Conflict, Forbidden
from citizendata.projects.spec import ProjectSpec
from citizendata.server.app import create_app
from citizendata.services import releases as releases_svc
from citizendata.workspace import Client, Workspace
from conftest import SPEC, file_settings, household_form

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message="Using `httpx` with", category=UserWarning)
    from fastapi.testclient import TestClient

ESTIMATION: dict[str, Any] = {"indicators": [
    {"id": "skilled", "name": "Skilled attendance", "form": "household", "kind": "proportion",
     "numerator": "${consent} = 'yes'", "scale": 100, "unit_of_measure": "PT",
     "disaggregations": [["ward"]]}]}
AS_OF = date(2026, 6, 30)


def setup(owner: Client, release: dict[str, Any], intent: str = "publish_alongside") -> None:
    """Twelve approved respondents, a representative 'rep' and an NSO member 'nso'."""
    owner.update_project(ProjectSpec.model_validate(
        {**SPEC, "integration_intent": intent, "estimation": ESTIMATION, "release": release,
         "protection": {"tables": {"threshold": 3}}}))
    for name, role in (("rep", "viewer"), ("nso", "nso")):
        owner.create_user(name, f"{name}-password-1")
        owner.add_member("test-project", name, role)
    subs = [{"meta": {"instanceID": f"uuid:r{i}"}, "consent": "yes" if i % 3 else "no",
             "age": 30, "location": {"ward": "magadi" if i < 6 else "ewuaso"}, "n_births": 0}
            for i in range(12)]
    owner.submit("test-project", "household", json.dumps(subs).encode())
    owner.decide("test-project", "household", [s["meta"]["instanceID"] for s in subs],
                 "approved")


def test_publication_needs_the_community_representatives(owner: Client) -> None:
    setup(owner, {"community_representatives": ["rep"]})
    built = owner.build_release("test-project", as_of=AS_OF)
    assert built["status"] == "awaiting_signoff" and "report.html" in built["files"]
    with pytest.raises(Conflict) as e:
        owner.publish_release("test-project", 1)
    assert e.value.code == "release.signoff_missing" and "rep" in e.value.message
    with pytest.raises(Forbidden):
        owner.sign_release("test-project", 1)  # the owner is not a designated signatory
    rep = owner.workspace.as_user("rep")
    rep.sign_release("test-project", 1, "approve", "read out at the community meeting")
    done = owner.publish_release("test-project", 1)
    assert done["status"] == "published"
    public = owner.workspace.run(releases_svc.published, write=False)
    assert [(r["project"], r["version"]) for r in public] == [("test-project", 1)]
    actions = {e["action"] for e in owner.audit_log("test-project")}
    assert {"release.build", "release.sign", "release.publish"} <= actions


def test_the_nso_signs_when_integration_is_declared(owner: Client) -> None:
    setup(owner, {"community_representatives": ["rep"]}, intent="integrate")
    owner.build_release("test-project", as_of=AS_OF)
    owner.workspace.as_user("rep").sign_release("test-project", 1)
    with pytest.raises(Conflict) as e:
        owner.publish_release("test-project", 1)
    assert "NSO" in e.value.message
    owner.workspace.as_user("nso").sign_release("test-project", 1)
    assert owner.publish_release("test-project", 1)["status"] == "published"


def test_a_consent_withdrawn_after_the_build_blocks_publication(owner: Client) -> None:
    setup(owner, {"community_representatives": ["rep"]})
    owner.build_release("test-project", as_of=AS_OF)
    owner.workspace.as_user("rep").sign_release("test-project", 1)
    owner.withdraw_consent("test-project", "household", "uuid:r1")
    with pytest.raises(Conflict) as e:
        owner.publish_release("test-project", 1)
    assert e.value.code == "release.consent_withdrawn"
    # a new version leaves the respondent out and can go out
    v2 = owner.build_release("test-project", as_of=AS_OF)
    assert v2["version"] == 2
    owner.workspace.as_user("rep").sign_release("test-project", 2)
    assert owner.publish_release("test-project", 2)["status"] == "published"


def test_a_rebuild_is_byte_identical_and_withdrawal_ends_access(owner: Client) -> None:
    setup(owner, {"community_representatives": ["rep"]})
    owner.build_release("test-project", as_of=AS_OF)
    assert owner.verify_release("test-project", 1) == {"version": 1, "identical": True,
                                                       "differ": []}
    owner.workspace.as_user("rep").sign_release("test-project", 1)
    owner.publish_release("test-project", 1)
    ws = owner.workspace
    assert ws.run(releases_svc.public_file, "test-project", 1, "report.html", write=False)
    owner.withdraw_release("test-project", 1, reason="a number was wrong")
    assert ws.run(releases_svc.public_file, "test-project", 1, "report.html",
                  write=False) is None
    assert owner.releases("test-project")[0]["status"] == "withdrawn"


def test_the_public_surface_serves_only_published_files(tmp_path: Path) -> None:
    ws = Workspace(file_settings(tmp_path))
    owner = ws.create_admin("owner", "owner-password")
    owner.create_project(SPEC)
    owner.add_form("test-project", household_form(), "household.xlsx")
    setup(owner, {"community_representatives": ["rep"]})
    owner.build_release("test-project", as_of=AS_OF)
    with TestClient(create_app(ws)) as http:
        assert http.get("/api/v1/public/releases").json() == {"releases": []}
        assert http.get("/public/releases/test-project/1/report.html").status_code == 404
        rep = {"Authorization": "Bearer " + ws.login("rep", "rep-password-1").create_token("t")}
        boss = {"Authorization": "Bearer " + owner.create_token("t")}
        base = "/api/v1/projects/test-project/releases"
        refused = http.post(f"{base}/1/publish", headers=boss)
        assert refused.status_code == 409
        assert refused.json()["error"]["code"] == "release.signoff_missing"
        assert http.post(f"{base}/1/signoffs", json={}, headers=boss).status_code == 403
        assert http.post(f"{base}/1/signoffs", json={"note": "ok"},
                         headers=rep).status_code == 201
        assert http.post(f"{base}/1/publish", headers=boss).status_code == 200
        listed = http.get("/api/v1/public/releases").json()["releases"]
        assert listed[0]["version"] == 1 and "report.html" in listed[0]["files"]
        page = http.get("/public/releases/test-project/1/report.html")
        assert page.status_code == 200 and "<svg" in page.text
        assert "https://" not in page.text
        sdmx_or_csv = http.get("/public/releases/test-project/1/skilled/estimates.csv")
        assert sdmx_or_csv.status_code == 200
        assert http.get("/public/releases/test-project/1/../../../etc/passwd").status_code == 404
        assert "test-project" in http.get("/public/releases").text
    ws.close()
