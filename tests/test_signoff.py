"""Sign what you see: a pending release's page and report for its members, the sign form for
the named representatives only, and the public pages (landing, release, indicator, served
report under its own hashed policy, the withdrawn notice)."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import shutil
import warnings
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from citizendata.i18n import use_locale
from citizendata.projects.release import ReleaseSpec
from citizendata.projects.spec import ProjectSpec
from citizendata.publish.summary import suppression_summary, unit_words
from citizendata.server.app import create_app
from citizendata.server.report_csp import inline_hashes
from citizendata.workspace import Workspace
from conftest import SPEC, WARDS, file_settings, household_form
from conftest import WARD_ESTIMATION as ESTIMATION

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message="Using `httpx` with", category=UserWarning)
    from fastapi.testclient import TestClient

HTML = {"Accept": "text/html,application/xhtml+xml"}
SLUG = "test-project"
PAGE = f"/projects/{SLUG}/releases/1"
PUBLIC = f"/public/releases/{SLUG}/1"
PASSWORDS = {"owner": "owner-password", "rep": "rep-password-1", "ana": "ana-password-1",
             "outsider": "outsider-password-1"}
def pending_workspace(root: Path, language: str = "en") -> Workspace:
    """Owner, representative 'rep' (viewer), member 'ana' (viewer, no signatory), outsider;
    twelve approved households in two wards; release v1 built and awaiting sign-off."""
    ws = Workspace(file_settings(root))
    owner = ws.create_admin("owner", PASSWORDS["owner"])
    owner.create_project(SPEC)
    owner.add_form(SLUG, household_form(), "household.xlsx")
    owner.add_reference_table(SLUG, "wards", json.dumps(WARDS).encode(), kind="boundaries")
    owner.update_project(ProjectSpec.model_validate(
        {**SPEC, "estimation": ESTIMATION, "protection": {"tables": {"threshold": 3}},
         "release": {"community_representatives": ["rep"], "language": language,
                     "maps": [{"boundaries": "wards", "dimension": "ward"}]}}))
    for name, role in (("rep", "viewer"), ("ana", "viewer")):
        owner.create_user(name, PASSWORDS[name])
        owner.add_member(SLUG, name, role)
    owner.create_user("outsider", PASSWORDS["outsider"])
    subs: list[dict[str, Any]] = [
        {"meta": {"instanceID": f"uuid:r{i}"},
         "consent": "yes" if i in (0, 1, 2, 3, 4, 6, 7) else "no",
         "age": 50 if i in (0, 1, 2, 6) else 30,
         "location": {"ward": "magadi" if i < 6 else "ewuaso"}, "n_births": 0}
        for i in range(12)]
    owner.submit(SLUG, "household", json.dumps(subs).encode())
    owner.decide(SLUG, "household", [s["meta"]["instanceID"] for s in subs], "approved")
    owner.build_release(SLUG, as_of=date(2026, 6, 30))
    return ws


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("signoff")
    pending_workspace(root).close()
    return root


@pytest.fixture
def ws(template: Path, tmp_path: Path) -> Iterator[Workspace]:
    shutil.copytree(template / "ws", tmp_path / "ws")
    workspace = Workspace(file_settings(tmp_path))
    yield workspace
    workspace.close()


@pytest.fixture
def http(ws: Workspace) -> Iterator[TestClient]:
    with TestClient(create_app(ws), follow_redirects=False, headers=HTML) as c:
        yield c


def csrf_of(page: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', page)
    assert found, page
    return found.group(1)


def log_in(http: TestClient, username: str) -> str:
    http.cookies.clear()
    token = csrf_of(http.get("/login").text)
    r = http.post("/login", data={"username": username, "password": PASSWORDS[username],
                                  "csrf": token, "next": "/projects"})
    assert r.status_code == 303, r.text
    return csrf_of(http.get("/projects").text)


def test_the_representative_sees_the_pending_figures_and_report_then_signs(
        http: TestClient, ws: Workspace) -> None:
    csrf = log_in(http, "rep")
    page = http.get(PAGE)
    assert page.status_code == 200
    text = page.text
    # figures, units in words, charts and maps, the suppression summary in words
    assert "Skilled attendance" in text and "58.3" in text and "per cent" in text
    assert "<svg" in text and "-map" in text
    assert "What was suppressed and why" in text
    assert "2 of 3 cells are suppressed." in text
    assert "fewer than 3 respondents in the cell" in text
    assert "not yet signed" in text and "rep" in text
    # the report, on a members' URL, with its own policy
    assert f'href="{PAGE}/report.html"' in text
    report = http.get(f"{PAGE}/report.html")
    assert report.status_code == 200 and "Skilled attendance" in report.text
    assert report.headers["cache-control"] == "private, no-store"
    assert "'unsafe-inline'" not in report.headers["content-security-policy"]
    # the sign form is theirs; publish and withdraw are not
    assert f'action="{PAGE}/sign"' in text
    assert f'action="{PAGE}/publish"' not in text and f'action="{PAGE}/withdraw"' not in text
    r = http.post(f"{PAGE}/sign", data={"csrf": csrf, "decision": "approve",
                                        "note": "read out at the baraza"})
    assert r.status_code == 303 and r.headers["location"] == PAGE
    after = http.get(PAGE).text
    assert "You approved release v1." in after and "read out at the baraza" in after
    assert "approved" in after and "not yet signed" not in after
    [signoff] = ws.as_user("owner").releases(SLUG)[0]["signoffs"]
    assert (signoff["by"], signoff["decision"]) == ("rep", "approve")


def test_a_member_who_is_no_representative_cannot_sign(http: TestClient,
                                                       ws: Workspace) -> None:
    csrf = log_in(http, "ana")
    text = http.get(PAGE).text
    assert "Skilled attendance" in text  # a member sees the release …
    assert f'action="{PAGE}/sign"' not in text  # … but has no sign button
    assert f'action="{PAGE}/publish"' not in text
    assert http.get(f"{PAGE}/report.html").status_code == 200
    r = http.post(f"{PAGE}/sign", data={"csrf": csrf, "decision": "approve"})
    assert r.status_code == 403 and "release.not_signatory" in r.text
    assert ws.as_user("owner").releases(SLUG)[0]["signoffs"] == []


def test_the_owner_publishes_and_withdraws_but_does_not_sign(http: TestClient,
                                                             ws: Workspace) -> None:
    csrf = log_in(http, "owner")
    text = http.get(PAGE).text
    assert f'action="{PAGE}/publish"' in text and f'action="{PAGE}/withdraw"' in text
    assert f'action="{PAGE}/sign"' not in text
    listing = http.get(f"/projects/{SLUG}/releases").text
    assert "Build a release" in listing and f'href="{PAGE}"' in listing
    early = http.post(f"{PAGE}/publish", data={"csrf": csrf})
    assert early.status_code == 409 and "release.signoff_missing" in early.text


def test_non_members_get_404_and_the_public_never_sees_a_pending_report(
        http: TestClient) -> None:
    log_in(http, "outsider")
    for path in (PAGE, f"{PAGE}/report.html", f"{PAGE}/files/skilled/estimates.csv"):
        assert http.get(path).status_code == 404, path
    http.cookies.clear()
    r = http.get(f"{PAGE}/report.html")
    assert r.status_code == 303 and r.headers["location"].startswith("/login")
    for path in (PUBLIC, f"{PUBLIC}/report.html", f"{PUBLIC}/indicators/skilled"):
        r = http.get(path)
        assert r.status_code == 404 and "Skilled attendance" not in r.text, path
    assert "test-project/1" not in http.get("/").text


def publish(ws: Workspace) -> None:
    ws.as_user("rep").sign_release(SLUG, 1, "approve", "agreed")
    ws.as_user("owner").publish_release(SLUG, 1)


def test_the_public_landing_release_and_indicator_pages(http: TestClient,
                                                        ws: Workspace) -> None:
    publish(ws)
    http.cookies.clear()
    home = http.get("/")
    assert home.status_code == 200  # no longer sends the public to a login form
    assert "Test project" in home.text and "Test CSO" in home.text
    assert f'href="{PUBLIC}"' in home.text and f'href="{PUBLIC}/report.html"' in home.text
    assert 'href="/projects"' not in home.text
    release = http.get(PUBLIC).text
    assert f'href="{PUBLIC}/indicators/skilled"' in release
    assert "58.3 per cent" in release and "PT" not in release.replace("PT-", "")
    ind = http.get(f"{PUBLIC}/indicators/older")
    assert ind.status_code == 200
    text = ind.text
    assert "Consent among the 40+" in text and "<svg" in text and "path class=\"area\"" in text
    assert "95% confidence interval" in text and "per cent" in text
    assert "2 of 3 cells are suppressed." in text
    assert http.get(f"{PUBLIC}/indicators/nope").status_code == 404
    for private in ("rep", "agreed", "ana"):
        assert f">{private}<" not in text
    # a logged-in member still gets a link to their projects
    log_in(http, "ana")
    assert 'href="/projects"' in http.get("/").text


def test_the_served_report_lists_the_hashes_of_its_inline_blocks(http: TestClient,
                                                                 ws: Workspace) -> None:
    publish(ws)
    http.cookies.clear()
    r = http.get(f"{PUBLIC}/report.html")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    policy = r.headers["content-security-policy"]
    assert r.headers.get_list("content-security-policy") == [policy]  # one policy only
    blocks = re.findall(rb"<style>(.*?)</style>", r.content, re.DOTALL)
    assert len(blocks) >= 2  # the report's and the quality section's
    for block in blocks:
        digest = base64.b64encode(hashlib.sha256(block).digest()).decode()
        assert f"'sha256-{digest}'" in policy
    assert "unsafe-inline" not in policy and "script-src 'none'" in policy
    assert "default-src 'none'" in policy
    # every other page keeps the site's policy
    assert "style-src 'self'" in http.get(PUBLIC).headers["content-security-policy"]
    assert inline_hashes(b"<p>no blocks</p>") == {"style": [], "script": []}


def test_a_withdrawn_release_shows_when_and_why(http: TestClient, ws: Workspace) -> None:
    publish(ws)
    ws.as_user("owner").withdraw_release(SLUG, 1, "a ward was mislabelled")
    http.cookies.clear()
    for path in (PUBLIC, f"{PUBLIC}/report.html", f"{PUBLIC}/indicators/skilled"):
        r = http.get(path)
        assert r.status_code == 410, path
        assert "This release has been withdrawn" in r.text
        assert "a ward was mislabelled" in r.text
        assert date.today().isoformat()[:4] in r.text  # the date it was withdrawn
        assert "citizendata " not in r.text  # no command line for the public
    assert http.get(f"{PUBLIC}/skilled/estimates.csv").status_code == 404
    assert f'href="{PUBLIC}"' not in http.get("/").text
    sw = http.get(PUBLIC, headers={"Accept-Language": "sw"})
    assert sw.status_code == 410 and "imeondolewa" in sw.text


def test_units_read_as_words_in_every_language() -> None:
    assert unit_words("PT") == "per cent" and unit_words("KM") == "km"
    assert unit_words("ODD") == "ODD"
    with use_locale("sw"):
        assert unit_words("PT") == "asilimia"
    with use_locale("fr"):
        assert unit_words("PT") == "pour cent"
    with use_locale("es"):
        assert unit_words("PT") == "por ciento"


def test_the_suppression_summary_counts_cells_by_reason() -> None:
    cells = [{"conf_status": "F"}, {"conf_status": "C", "suppression": "threshold"},
             {"conf_status": "D", "suppression": "secondary"},
             {"conf_status": "C", "suppression": "threshold"}]
    s = suppression_summary(cells, {"rules": {"threshold": 5}})
    assert (s["cells"], s["suppressed"]) == (4, 3)
    assert [(r["reason"], r["count"]) for r in s["reasons"]] == [("threshold", 2),
                                                                 ("secondary", 1)]
    assert s["reasons"][0]["words"] == "fewer than 5 respondents in the cell"
    assert s["sentence"] == "3 of 4 cells are suppressed."


def test_the_report_language_is_checked_and_used(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="unknown report language"):
        ReleaseSpec.model_validate({"language": "xx"})
    ws = pending_workspace(tmp_path, language="sw")
    try:
        owner = ws.as_user("owner")
        report = (owner.release_dir(SLUG, 1) / "report.html").read_text(encoding="utf-8")
        assert '<html lang="sw">' in report and "Takwimu kuu" in report
        assert "asilimia" in report
        assert owner.verify_release(SLUG, 1)["identical"]  # a rebuild is byte-identical
    finally:
        ws.close()
