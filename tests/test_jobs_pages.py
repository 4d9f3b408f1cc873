"""The jobs API and pages: queue, follow, cancel; who may do what (TestClient).

The app's own worker thread is off here (``jobs_in_server``), so each test runs the
worker by hand and sees every state a job goes through.
"""

from __future__ import annotations

import json
import re
import shutil
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from citizendata.jobs import Worker
from citizendata.projects.spec import ProjectSpec
from citizendata.server.app import create_app
from citizendata.workspace import Workspace
from conftest import SPEC, file_settings, household_form
from test_releases import ESTIMATION

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message="Using `httpx` with", category=UserWarning)
    from fastapi.testclient import TestClient

HTML = {"Accept": "text/html,application/xhtml+xml"}
SLUG = "test-project"
API = f"/api/v1/projects/{SLUG}/jobs"
PASSWORDS = {"owner": "owner-password", "collector": "collector-password-1",
             "validator": "validator-password-1", "outsider": "outsider-password-1"}


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """Once per module: an owner, a collector, a validator and an outsider (with API
    tokens), and twelve approved respondents."""
    root = tmp_path_factory.mktemp("jobs")
    ws = Workspace(file_settings(root))
    owner = ws.create_admin("owner", PASSWORDS["owner"])
    owner.create_project(SPEC)
    owner.add_form(SLUG, household_form(), "household.xlsx")
    owner.update_project(ProjectSpec.model_validate(
        {**SPEC, "estimation": ESTIMATION, "release": {"community_representatives": []},
         "protection": {"tables": {"threshold": 3}}}))
    tokens = {"owner": owner.create_token("t")}
    for name in ("collector", "validator", "outsider"):
        owner.create_user(name, PASSWORDS[name])
        if name != "outsider":
            owner.add_member(SLUG, name, name)
        tokens[name] = ws.as_user(name).create_token("t")
    subs = [{"meta": {"instanceID": f"uuid:r{i}"}, "consent": "yes" if i % 3 else "no",
             "age": 30, "location": {"ward": "magadi" if i < 6 else "ewuaso"}, "n_births": 0}
            for i in range(12)]
    owner.submit(SLUG, "household", json.dumps(subs).encode())
    owner.decide(SLUG, "household", [s["meta"]["instanceID"] for s in subs], "approved")
    ws.close()
    return root, tokens


@pytest.fixture
def ws(template: tuple[Path, dict[str, str]], tmp_path: Path) -> Iterator[Workspace]:
    """A fresh copy of the template; no worker in the app, no waiting in the pages."""
    shutil.copytree(template[0] / "ws", tmp_path / "ws")
    workspace = Workspace(file_settings(tmp_path, jobs_in_server=False, jobs_wait_s=0))
    yield workspace
    workspace.close()


@pytest.fixture
def http(ws: Workspace) -> Iterator[TestClient]:
    with TestClient(create_app(ws), follow_redirects=False) as c:
        yield c


def auth(template: tuple[Path, dict[str, str]], name: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {template[1][name]}"}


def csrf_of(page: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', page)
    assert found, page
    return found.group(1)


def log_in(http: TestClient, username: str) -> str:
    http.cookies.clear()
    token = csrf_of(http.get("/login", headers=HTML).text)
    r = http.post("/login", data={"username": username, "password": PASSWORDS[username],
                                  "csrf": token, "next": "/projects"}, headers=HTML)
    assert r.status_code == 303, r.text
    return csrf_of(http.get("/projects", headers=HTML).text)


def test_the_api_queues_follows_and_cancels_jobs(http: TestClient, ws: Workspace,
                                                 template: Any) -> None:
    owner = auth(template, "owner")
    r = http.post(API, json={"kind": "validate", "params": {"form_id": "household"}},
                  headers=owner)
    assert r.status_code == 202, r.text
    job = r.json()
    assert job["state"] == "queued" and job["kind"] == "validate"
    assert job["requested_by"] == "owner" and job["params"] == {"form_id": "household"}
    assert http.get(f"/api/v1/jobs/{job['id']}", headers=owner).json()["state"] == "queued"
    assert Worker(ws).run_once() == job["id"]
    done = http.get(f"/api/v1/jobs/{job['id']}", headers=owner).json()
    assert done["state"] == "done" and done["result"]["submissions"] == 12
    assert done["percent"] == 100
    listed = http.get(API, params={"state": "done"}, headers=owner).json()["jobs"]
    assert [j["id"] for j in listed] == [job["id"]]
    refused = http.post(f"/api/v1/jobs/{job['id']}/cancel", headers=owner)
    assert refused.status_code == 409 and refused.json()["error"]["code"] == \
        "job.not_cancellable"
    queued = http.post(API, json={"kind": "release.build"}, headers=owner).json()
    cancelled = http.post(f"/api/v1/jobs/{queued['id']}/cancel", headers=owner)
    assert cancelled.status_code == 200 and cancelled.json()["state"] == "cancelled"
    assert Worker(ws).run_once() is None


def test_the_api_refuses_what_the_role_may_not_and_bad_input(http: TestClient,
                                                              template: Any) -> None:
    owner, collector = auth(template, "owner"), auth(template, "collector")
    outsider, validator = auth(template, "outsider"), auth(template, "validator")
    r = http.post(API, json={"kind": "release.build"}, headers=collector)
    assert r.status_code == 403 and r.json()["error"]["code"] == "auth.forbidden"
    assert http.post(API, json={"kind": "release.build"}, headers=outsider).status_code == 404
    assert http.get(API, headers=outsider).status_code == 404
    mine = http.post(API, json={"kind": "validate", "params": {"form_id": "household"}},
                     headers=validator).json()
    build = http.post(API, json={"kind": "release.build"}, headers=owner).json()
    assert http.get(f"/api/v1/jobs/{mine['id']}", headers=validator).status_code == 200
    assert http.get(f"/api/v1/jobs/{build['id']}", headers=validator).status_code == 404
    assert http.get(f"/api/v1/jobs/{mine['id']}", headers=collector).status_code == 404
    assert http.get(API, headers=collector).json() == {"jobs": []}
    assert http.post(f"/api/v1/jobs/{build['id']}/cancel", headers=collector
                     ).status_code == 404
    for bad in ({"kind": "shell"}, {"kind": "validate"}, {"kind": "validate",
                "params": {"form_id": "household", "x": 1}},
                {"kind": "import", "params": {"form_id": "household", "path": "/etc/passwd"}},
                {"kind": "estimate", "params": {"indicator": "skilled"},
                 "done_url": "//evil.example"}):
        r = http.post(API, json=bad, headers=owner)
        assert r.status_code == 422, (bad, r.text)
    assert http.get(API, params={"state": "lost"}, headers=owner).status_code == 422
    assert http.get("/api/v1/jobs/0", headers=owner).status_code == 422
    assert http.get("/api/v1/jobs/999999", headers=owner).status_code == 404
    assert http.get("/api/v1/jobs/1").status_code == 401


def test_a_build_from_the_releases_page_shows_its_progress_then_the_outcome(
        http: TestClient, ws: Workspace) -> None:
    csrf = log_in(http, "owner")
    r = http.post(f"/projects/{SLUG}/releases", data={"csrf": csrf}, headers=HTML)
    assert r.status_code == 303
    url = r.headers["location"]
    assert re.fullmatch(r"/jobs/\d+", url)
    page = http.get(url, headers=HTML).text
    assert 'src="/static/jobs.js"' in page and "data-follow" in page
    assert "Release build" in page and "Queued" in page and "waiting for a worker" in page
    assert "Cancel this job" in page and 'href="/projects/test-project/jobs"' in page
    assert "style=" not in page and "<script>" not in page  # CSP: no inline script or style
    Worker(ws).run_once()
    page = http.get(url, headers=HTML).text
    assert "data-follow" not in page
    assert "Release v1 built; it awaits sign-off." in page
    assert f'href="/projects/{SLUG}/releases"' in page and "See the result" in page
    listing = http.get(f"/projects/{SLUG}/jobs", headers=HTML).text
    assert f'href="{url}"' in listing and "Release v1 built" in listing
    assert "<caption>" in listing
    sw = http.get(f"{url}?lang=sw", headers=HTML).text
    assert 'lang="sw"' in sw and "Imekamilika" in sw


def test_cancel_from_the_job_page(http: TestClient, ws: Workspace) -> None:
    csrf = log_in(http, "owner")
    url = http.post(f"/projects/{SLUG}/releases", data={"csrf": csrf},
                    headers=HTML).headers["location"]
    assert http.post(f"{url}/cancel", data={"csrf": "forged"}, headers=HTML
                     ).status_code == 403
    r = http.post(f"{url}/cancel", data={"csrf": csrf}, headers=HTML)
    assert r.status_code == 303 and r.headers["location"] == url
    page = http.get(url, headers=HTML).text
    assert "The job was cancelled." in page and "Cancel this job" not in page
    assert Worker(ws).run_once() is None
    assert ws.as_user("owner").releases(SLUG) == []


def test_a_collector_has_no_jobs_to_see_and_cannot_build(http: TestClient) -> None:
    csrf = log_in(http, "collector")
    assert http.post(f"/projects/{SLUG}/releases", data={"csrf": csrf},
                     headers=HTML).status_code == 403
    page = http.get(f"/projects/{SLUG}/jobs", headers=HTML)
    assert page.status_code == 200 and "No jobs yet." in page.text
    assert http.get("/jobs/1", headers=HTML).status_code == 404


def test_a_page_s_import_file_is_staged_for_its_job(ws: Workspace, tmp_path: Path) -> None:
    """start_work's callers pass what the inline calls took: a file saved anywhere by the
    page, and parameters a kind does not take."""
    from citizendata.server.work import _page_params

    owner = ws.as_user("owner")
    saved = tmp_path / "upload.csv"
    saved.write_bytes(b"meta/instanceID,consent,age\nuuid:p1,yes,30\n")
    params = _page_params(owner, SLUG, "import", {"form_id": "household", "path": str(saved),
                                                   "note": "not a parameter"})
    assert set(params) == {"form_id", "path", "filename"} and params["filename"] == "upload.csv"
    assert Path(params["path"]).parent == ws.settings.workspace.resolve() / "uploads"
    job = owner.submit_job(SLUG, "import", params)
    Worker(ws).run_once()
    done = owner.job(job.id)
    assert done.state == "done" and done.result is not None and done.result["created"] == 1
    assert saved.exists() and not Path(params["path"]).exists()
