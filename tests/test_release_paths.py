"""Releases are kept relative to the workspace; no answer shows where the server keeps it."""

from __future__ import annotations

import hashlib
import json
import shutil
import warnings
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, text

from citizendata.config import Settings
from citizendata.projects.spec import ProjectSpec
from citizendata.server.app import create_app
from citizendata.services import releases as releases_svc
from citizendata.store.engine import make_engine
from citizendata.store.migrate import upgrade
from citizendata.store.models import OrganisationMember, Release
from citizendata.workspace import Client, Workspace
from conftest import SPEC, household_form

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message="Using `httpx` with", category=UserWarning)
    from fastapi.testclient import TestClient

P, F = "test-project", "household"
AS_OF = date(2026, 6, 30)
ESTIMATION: dict[str, Any] = {"indicators": [
    {"id": "skilled", "name": "Skilled attendance", "form": F, "kind": "proportion",
     "numerator": "${consent} = 'yes'", "scale": 100, "unit_of_measure": "PT",
     "disaggregations": [["ward"]]}]}


def _settings(folder: Path, url: str | None) -> Settings:
    return Settings(workspace=folder, database_url=url, mode="test")


def prepare(owner: Client) -> None:
    """The project with an indicator, a representative 'rep' and twelve approved answers."""
    owner.create_project(SPEC)
    owner.add_form(P, household_form(), "household.xlsx")
    owner.update_project(ProjectSpec.model_validate(
        {**SPEC, "estimation": ESTIMATION, "release": {"community_representatives": ["rep"]},
         "protection": {"tables": {"threshold": 3}}}))
    owner.create_user("rep", "rep-password-1")
    owner.add_member(P, "rep", "viewer")
    subs = [{"meta": {"instanceID": f"uuid:r{i}"}, "consent": "yes" if i % 3 else "no",
             "age": 30, "location": {"ward": "magadi" if i < 6 else "ewuaso"}, "n_births": 0}
            for i in range(12)]
    owner.submit(P, F, json.dumps(subs).encode())
    owner.decide(P, F, [s["meta"]["instanceID"] for s in subs], "approved")


def _published(http: TestClient) -> dict[str, bytes]:
    """Every file of the published release v1, downloaded."""
    listed = http.get("/api/v1/public/releases").json()["releases"]
    assert [r["version"] for r in listed] == [1]
    assert http.get(f"/public/releases/{P}/1").status_code == 200
    out = {}
    for name in [*listed[0]["files"], "manifest.json"]:
        r = http.get(f"/public/releases/{P}/1/{name}")
        assert r.status_code == 200, (name, r.text)
        out[name] = r.content
    return out


@pytest.mark.parametrize("how", ["moved", "copied"])
def test_a_moved_or_copied_workspace_still_serves_its_release(
        backend: str, database_url: str | None, tmp_path: Path, how: str) -> None:
    first = tmp_path / "first" / "ws"
    ws = Workspace(_settings(first, database_url))
    owner = ws.create_admin("owner", "owner-password")
    prepare(owner)
    owner.build_release(P, as_of=AS_OF)
    ws.as_user("rep").sign_release(P, 1)
    owner.publish_release(P, 1)
    with TestClient(create_app(ws)) as http:
        before = _published(http)
    with ws.transaction(write=False) as db:
        assert db.scalar(select(Release.path)) == "releases/test-project/v1"
    ws.close()

    second = tmp_path / "elsewhere" / "ws"
    second.parent.mkdir()
    if how == "moved":
        shutil.move(first, second)
    else:
        shutil.copytree(first, second)
        shutil.rmtree(first)
    again = Workspace(_settings(second, database_url))
    try:
        with TestClient(create_app(again)) as http:
            after = _published(http)
        assert after == before
        manifest = json.loads(after["manifest.json"])
        for name, entry in manifest["files"].items():
            assert hashlib.sha256(after[name]).hexdigest() == entry["sha256"], name
        me = again.login("owner", "owner-password")
        assert me.release_dir(P, 1) == (second / "releases" / P / "v1").resolve()
        assert me.verify_release(P, 1)["identical"]
    finally:
        again.close()


def test_old_absolute_paths_are_converted_and_still_read(
        backend: str, database_url: str | None, tmp_path: Path) -> None:
    settings = _settings(tmp_path / "ws", database_url)
    settings.workspace.mkdir(parents=True)
    engine = make_engine(settings.resolved_database_url)
    upgrade(engine, "0007")
    old = tmp_path / "old-server" / "ws" / "releases" / P / "v1"
    elsewhere = tmp_path / "archive" / "bundle"
    elsewhere.mkdir(parents=True)
    (elsewhere / "report.html").write_text("<p>archived</p>", encoding="utf-8")
    with engine.begin() as c:
        c.execute(text("INSERT INTO organisations (id, slug, name, kind, created_at) "
                       "VALUES (1, 'test-cso', 'Test CSO', 'cso', CURRENT_TIMESTAMP)"))
        c.execute(text("INSERT INTO users (id, username, password_hash, is_admin, is_active, "
                       "created_at) VALUES (1, 'owner', 'x', true, true, CURRENT_TIMESTAMP)"))
        c.execute(text("INSERT INTO projects (id, slug, name, initiator_org_id, purpose, "
                       "consent_basis, integration_intent, spec, created_at, created_by) "
                       "VALUES (1, :s, 'Test project', 1, '', '', 'stand_alone', :spec, "
                       "CURRENT_TIMESTAMP, 1)"), {"s": P, "spec": json.dumps(SPEC)})
        for version, path in ((1, str(old)), (2, str(elsewhere))):
            c.execute(text(
                "INSERT INTO releases (project_id, version, status, as_of, built_by, "
                "built_at, withdrawals_seen, path, manifest, published_at) VALUES (1, :v, "
                "'published', '2026-06-30', 'owner', CURRENT_TIMESTAMP, 0, :p, :m, "
                "CURRENT_TIMESTAMP)"),
                {"v": version, "p": path,
                 "m": json.dumps({"files": {"report.html": {"sha256": "-", "bytes": 15}}})})
    upgrade(engine)
    with engine.connect() as c:
        paths = dict(c.execute(text("SELECT version, path FROM releases")).all())
        members = c.execute(select(OrganisationMember.organisation_id, OrganisationMember.user_id,
                                   OrganisationMember.role)).all()
    engine.dispose()
    # citizendata's own folders become relative; anything else stays, and is still read
    assert paths == {1: "releases/test-project/v1", 2: str(elsewhere)}
    assert members == [(1, 1, "owner")]  # the creator owns the initiating organisation
    ws = Workspace(settings)
    try:
        with TestClient(create_app(ws)) as http:
            r = http.get(f"/public/releases/{P}/2/report.html")
            assert r.status_code == 200 and r.text == "<p>archived</p>"
            assert http.get(f"/public/releases/{P}/1/report.html").status_code == 404
    finally:
        ws.close()
    assert releases_svc.locate(tmp_path, str(elsewhere), "../../etc/passwd") is None


# -- no server path in any answer ------------------------------------------------------------

def _strings(value: Any) -> Any:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield str(k)
            yield from _strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)


def test_no_answer_shows_a_server_path(tmp_path: Path) -> None:
    folder = tmp_path / "ws"
    ws = Workspace(_settings(folder, None))
    owner = ws.create_admin("owner", "owner-password")
    prepare(owner)
    owner.add_reference_table(P, "margins", b"ward,n\nmagadi,40\newuaso,60\n", kind="margins")
    secrets = {str(tmp_path), str(tmp_path.resolve())}
    answers: list[tuple[str, Any]] = []

    with TestClient(create_app(ws)) as http:
        def call(method: str, url: str, **kw: Any) -> Any:
            r = http.request(method, url, **kw)
            if r.headers.get("content-type", "").startswith("application/json"):
                answers.append((f"{method} {url} {r.status_code}", r.json()))
            return r

        login = call("POST", "/api/v1/login", json={"username": "owner",
                                                   "password": "owner-password"})
        h = {"X-CSRF-Token": login.json()["csrf_token"]}
        base, form = f"/api/v1/projects/{P}", f"/api/v1/projects/{P}/forms/{F}"
        rep = {"Authorization": "Bearer " + ws.login("rep", "rep-password-1").create_token("t")}
        for url in ("/api/v1/me", "/api/v1/projects", base, f"{base}/members", f"{base}/forms",
                    form, f"{form}/submissions", f"{form}/submissions/uuid:r1",
                    f"{base}/reference-tables", f"{base}/indicators", f"{base}/protection",
                    f"{base}/privacy-budget", f"{base}/quality", f"{form}/microdata",
                    f"{form}/duplicates", f"{form}/findings/summary", f"{form}/review-queue"):
            call("GET", url)
        call("POST", f"{form}/validate", headers=h)
        call("POST", f"{base}/indicators/skilled/estimate", headers=h)
        call("GET", f"{base}/estimates")
        built = call("POST", f"{base}/releases", json={"as_of": "2026-06-30"}, headers=h)
        assert built.status_code == 201, built.text
        call("POST", f"{base}/releases/1/signoffs", json={}, headers=rep)
        call("POST", f"{base}/releases/1/publish", headers=h)
        call("GET", f"{base}/releases")
        call("GET", "/api/v1/public/releases")
        # errors of every kind
        call("GET", f"{base}/releases/99")
        call("POST", f"{base}/releases/99/publish", headers=h)
        call("POST", f"{base}/releases/1/publish", headers=h)
        call("GET", f"/public/releases/{P}/1/no-such-file.csv")
        call("POST", f"{form}/submissions", content=b"{", headers={
            **h, "Content-Type": "application/json"})
        call("POST", f"{form}/import", files={"file": ("x.csv", b"\x00\x01", "text/csv")},
             headers=h)
        call("PUT", f"{base}/reference-tables/margins", content=b"a,b\n1,2\n", headers=h)
        call("GET", "/api/v1/projects/no-such-project")
        audit = call("GET", f"{base}/audit")
    ws.close()

    actions = {e["action"] for e in audit.json()["events"]}
    assert {"snapshot.create", "release.build", "release.publish"} <= actions
    assert len(answers) > 30
    for where, body in answers:
        for s in _strings(body):
            assert not any(secret in s for secret in secrets), (where, s)
