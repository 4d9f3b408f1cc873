"""The validator's review pages and approve-clean, by role: who sees what, who may act."""

from __future__ import annotations

import json
import re
import shutil
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from citizendata.errors import BadInput, Conflict
from citizendata.services.intake import StoredAttachment
from citizendata.workspace import Workspace
from conftest import file_settings
from xlsform_builders import make_xlsform

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message="Using `httpx` with", category=UserWarning)
    from fastapi.testclient import TestClient

from citizendata.server.app import create_app

SLUG, FORM = "olkeri-review", "clinic_visit"
SPEC: dict[str, Any] = {
    "slug": SLUG, "name": "Olkeri clinic visits",
    "initiator": {"slug": "olkeri", "name": "Olkeri Women's Network"},
    "engagement": {"collect": {"level": 5}},
}


def _q(kind: str, name: str, en: str, sw: str, **kw: Any) -> dict[str, Any]:
    return {"type": kind, "name": name, "label::English (en)": en, "label::Swahili (sw)": sw,
            **kw}


REVIEW_FORM = make_xlsform(
    [_q("text", "respondent", "Name", "Jina", personal="yes"),
     _q("integer", "age", "Age", "Umri", constraint=". >= 15",
        **{"constraint_message::English (en)": "15 or older",
           "constraint_message::Swahili (sw)": "Miaka 15 au zaidi"}),
     _q("select_one yn", "consent", "Consent?", "Ridhaa?"),
     _q("begin_group", "location", "Location", "Mahali"),
     _q("select_one ward", "ward", "Ward", "Wadi"),
     _q("geopoint", "gps", "GPS point", "Alama ya GPS", personal="no"),
     {"type": "end_group"},
     _q("image", "photo", "Photo of the clinic card", "Picha ya kadi ya kliniki",
        personal="no"),
     _q("integer", "n_births", "Births", "Vizazi"),
     _q("begin_repeat", "births", "Birth", "Uzazi", repeat_count="${n_births}"),
     _q("select_one place", "place", "Place of birth", "Mahali pa kujifungua"),
     {"type": "end_repeat"}],
    [{"list_name": "yn", "name": "yes", "label::English (en)": "Yes",
      "label::Swahili (sw)": "Ndiyo"},
     {"list_name": "yn", "name": "no", "label::English (en)": "No",
      "label::Swahili (sw)": "Hapana"},
     {"list_name": "ward", "name": "magadi", "label::English (en)": "Magadi",
      "label::Swahili (sw)": "Magadi"},
     {"list_name": "ward", "name": "ewuaso", "label::English (en)": "Ewuaso Kedong",
      "label::Swahili (sw)": "Ewuaso Kedong"},
     {"list_name": "place", "name": "home", "label::English (en)": "At home",
      "label::Swahili (sw)": "Nyumbani"},
     {"list_name": "place", "name": "facility", "label::English (en)": "Health facility",
      "label::Swahili (sw)": "Kituo cha afya"}],
    {"form_id": FORM, "version": "1", "form_title": "Clinic visit",
     "default_language": "English (en)"})
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF clinic card"
WARDS = {"type": "FeatureCollection", "features": [
    {"type": "Feature", "properties": {"code": "magadi", "name": "Magadi"}, "geometry": {
        "type": "Polygon", "coordinates": [[[36.0, -2.0], [36.5, -2.0], [36.5, -1.5],
                                            [36.0, -1.5], [36.0, -2.0]]]}},
    {"type": "Feature", "properties": {"code": "ewuaso", "name": "Ewuaso Kedong"},
     "geometry": {"type": "Polygon", "coordinates": [[[36.5, -2.0], [37.0, -2.0],
                                                      [37.0, -1.5], [36.5, -1.5],
                                                      [36.5, -2.0]]]}}]}
ROLES = {"val": "validator", "man": "manager", "ana": "analyst", "col": "collector",
         "out": None}


def answers(iid: str, age: int = 30, ward: str = "magadi", births: int = 0,
            name: str = "Naserian") -> dict[str, Any]:
    """One submission's JSON."""
    return {"meta": {"instanceID": iid}, "respondent": name, "age": age, "consent": "yes",
            "location": {"ward": ward, "gps": "-1.75 36.25 1200 5"},
            "n_births": births, "births": [{"place": "facility"}] * births}


def instance_xml(iid: str) -> bytes:
    """What ODK Collect posts: answers naming a photo."""
    return (f'<?xml version="1.0" ?><data id="{FORM}" version="1" '
            'xmlns:orx="http://openrosa.org/xforms"><respondent>Nashipai</respondent>'
            "<age>27</age><consent>yes</consent><location><ward>ewuaso</ward>"
            "<gps>-1.7 36.7 1300 4</gps></location><photo>card.jpg</photo>"
            "<n_births>1</n_births><births><place>home</place></births>"
            f"<meta><orx:instanceID>{iid}</orx:instanceID></meta></data>").encode()


def build_review_workspace(root: Path, n_clean: int = 4) -> Workspace:
    """A project with a bilingual form: clean submissions, one error, one exact copy, one
    ODK submission with a photo; validated. Users: owner, val, man, ana, col, out."""
    ws = Workspace(file_settings(root))
    owner = ws.create_admin("owner", "owner-password")
    owner.create_project(SPEC)
    owner.add_form(SLUG, REVIEW_FORM, "clinic.xlsx")
    owner.add_reference_table(SLUG, "wards", json.dumps(WARDS).encode(), kind="boundaries")
    for name, role in ROLES.items():
        owner.create_user(name, f"{name}-password")
        if role:
            owner.add_member(SLUG, name, role)
    col = ws.as_user("col")
    subs = [answers(f"uuid:clean{i}", age=20 + i, births=i % 2) for i in range(n_clean)]
    subs += [answers("uuid:young", age=12), answers("uuid:copy", age=20)]
    col.submit(SLUG, FORM, json.dumps(subs).encode())
    col.submit_instance(SLUG, instance_xml("uuid:photo"),
                        [StoredAttachment("card.jpg", "image/jpeg", JPEG)])
    ws.as_user("val").validate(SLUG, FORM)
    return ws


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("review-pages")
    build_review_workspace(root).close()
    return root


@pytest.fixture
def workspace(template: Path, tmp_path: Path) -> Iterator[Workspace]:
    shutil.copytree(template / "ws", tmp_path / "ws")
    ws = Workspace(file_settings(tmp_path))
    yield ws
    ws.close()


@pytest.fixture
def app(workspace: Workspace) -> Any:
    return create_app(workspace)


def login(app: Any, user: str, language: str = "en") -> TestClient:
    """A browser-like client logged in as ``user`` (its CSRF token in ``.csrf``)."""
    c = TestClient(app, headers={"Accept-Language": language})
    page = c.get("/login").text
    token = re.search(r'name="csrf" value="([^"]+)"', page)
    assert token
    r = c.post("/login", data={"username": user, "password": f"{user}-password",
                               "csrf": token.group(1)}, follow_redirects=False)
    assert r.status_code == 303, r.text
    c.csrf = re.search(r'name="csrf" value="([^"]+)"',  # type: ignore[attr-defined]
                       c.get("/projects").text).group(1)  # type: ignore[union-attr]
    return c


Q = f"/projects/{SLUG}/forms/{FORM}"


def flashes(c: TestClient, url: str) -> list[str]:
    return re.findall(r'<p class="flash [a-z]+" role="[a-z]+">([^<]*)</p>', c.get(url).text)


# -- the library ---------------------------------------------------------------------------


def test_approve_clean_approves_only_what_the_run_found_clean(ws: Workspace) -> None:
    root = ws.settings.workspace
    owner = ws.create_admin("owner", "owner-password")
    owner.create_project(SPEC)
    owner.add_form(SLUG, REVIEW_FORM, "clinic.xlsx")
    subs = [answers("uuid:a", 30), answers("uuid:b", 12), answers("uuid:c", 30),
            answers("uuid:d", 41)]
    owner.submit(SLUG, FORM, json.dumps(subs).encode())
    with pytest.raises(Conflict) as no_run:
        owner.approve_clean(SLUG, FORM)
    assert no_run.value.code == "review.not_validated"
    owner.validate(SLUG, FORM)
    owner.submit(SLUG, FORM, json.dumps([answers("uuid:late", 33)]).encode())
    preview = owner.approve_clean(SLUG, FORM, dry_run=True)
    # a and c are exact copies (a pair nobody decided), b has an error, late came after
    assert (preview.approved, preview.with_errors, preview.duplicates, preview.unchecked) == (
        1, 1, 2, 1)
    assert owner.review_page(SLUG, FORM).total == 5  # a preview changes nothing
    done = owner.approve_clean(SLUG, FORM)
    assert done.approved == 1 and not done.dry_run
    statuses = {r["instance_id"]: r["review_status"] for r in owner.review_page(
        SLUG, FORM, __import__("citizendata.services.validation", fromlist=["x"]).QueueFilter(
            statuses=("received", "has_issues", "approved", "edited"))).rows}
    assert statuses == {"uuid:a": "received", "uuid:b": "has_issues", "uuid:c": "received",
                        "uuid:d": "approved", "uuid:late": "received"}
    log = owner.audit_log(SLUG)
    assert log[0]["action"] == "review.approve_clean" and log[0]["details"]["approved"] == 1
    assert root  # the workspace folder exists for the fixture's life


def test_estimate_without_approvals_names_the_real_cause(ws: Workspace) -> None:
    owner = ws.create_admin("owner", "owner-password")
    owner.create_project({**SPEC, "estimation": {"indicators": [
        {"id": "older", "form": FORM, "kind": "proportion", "numerator": "${age} >= 25"}]}})
    owner.add_form(SLUG, REVIEW_FORM, "clinic.xlsx")
    owner.submit(SLUG, FORM, json.dumps([answers("uuid:a", 30), answers("uuid:b", 12)]))
    owner.validate(SLUG, FORM)
    with pytest.raises(BadInput) as err:
        owner.estimate(SLUG, "older", store=False)
    assert err.value.code == "review.none_approved"
    assert "2 received, 1 with issues" in err.value.message
    assert "approve-clean" in err.value.message
    owner.approve_clean(SLUG, FORM)
    assert owner.estimate(SLUG, "older", store=False).indicator.id == "older"


def test_approve_clean_over_the_api(ws: Workspace) -> None:
    owner = ws.create_admin("owner", "owner-password")
    owner.create_project(SPEC)
    owner.add_form(SLUG, REVIEW_FORM, "clinic.xlsx")
    owner.submit(SLUG, FORM, json.dumps([answers("uuid:a", 30), answers("uuid:b", 12)]))
    owner.create_user("ana", "ana-password")
    owner.add_member(SLUG, "ana", "analyst")
    bearer = {"Authorization": f"Bearer {owner.create_token('t')}"}
    ana = {"Authorization": f"Bearer {ws.as_user('ana').create_token('t')}"}
    url = f"/api/v1/projects/{SLUG}/forms/{FORM}/approve-clean"
    with TestClient(create_app(ws)) as http:
        r = http.post(url, headers=bearer)
        assert r.status_code == 409 and r.json()["error"]["code"] == "review.not_validated"
        owner.validate(SLUG, FORM)
        r = http.post(url, params={"dry_run": "true"}, headers=bearer)
        assert r.status_code == 200 and r.json()["approved"] == 1 and r.json()["dry_run"]
        assert http.post(url, headers=ana).status_code == 403
        r = http.post(url, headers=bearer)
        assert r.json()["approved"] == 1 and r.json()["with_errors"] == 1
        assert http.post(url, headers=bearer).json()["approved"] == 0


def test_queue_pages_by_keyset_and_filters(ws: Workspace) -> None:
    from citizendata.services.validation import QueueFilter

    owner = ws.create_admin("owner", "owner-password")
    owner.create_project(SPEC)
    owner.add_form(SLUG, REVIEW_FORM, "clinic.xlsx")
    owner.submit(SLUG, FORM, json.dumps([answers(f"uuid:{i:02d}", 12 if i % 5 == 0 else 30,
                                                 name=f"n{i}") for i in range(23)]))
    owner.validate(SLUG, FORM)
    seen, after = [], None
    while True:
        page = owner.review_page(SLUG, FORM, after=after, limit=10)
        seen += [r["instance_id"] for r in page.rows]
        if page.next_after is None:
            break
        after = page.next_after
    assert seen == [f"uuid:{i:02d}" for i in range(23)] and page.total == 23
    back = owner.review_page(SLUG, FORM, before=page.rows[0]["id"], limit=10)
    assert [r["instance_id"] for r in back.rows] == seen[10:20]
    errors = owner.review_page(SLUG, FORM, QueueFilter(findings="errors"))
    assert errors.total == 5 and all(r["errors"] == 1 for r in errors.rows)
    assert errors.rows[0]["findings"][0]["field"] == "age"
    assert owner.review_page(SLUG, FORM, QueueFilter(rule="age")).total == 5
    assert owner.review_page(SLUG, FORM, QueueFilter(findings="none")).total == 18
    assert owner.review_page(SLUG, FORM, QueueFilter(collector="nobody")).total == 0
    assert owner.review_page(SLUG, FORM, QueueFilter(collector="owner")).total == 23
    with pytest.raises(BadInput):
        owner.review_page(SLUG, FORM, QueueFilter(statuses=("bogus",)))
    bearer = {"Authorization": f"Bearer {owner.create_token('t')}"}
    with TestClient(create_app(ws)) as http:
        url = f"/api/v1/projects/{SLUG}/forms/{FORM}/review-page"
        r = http.get(url, params={"findings": "errors", "limit": 2}, headers=bearer)
        assert r.status_code == 200 and r.json()["total"] == 5
        nxt = http.get(url, params={"findings": "errors", "limit": 2,
                                    "after": r.json()["next_after"]}, headers=bearer).json()
        assert [s["instance_id"] for s in nxt["submissions"]] == ["uuid:10", "uuid:15"]
        assert http.get(url, params={"status": "bogus"}, headers=bearer).status_code == 422


# -- the pages -----------------------------------------------------------------------------


@pytest.mark.parametrize("user", ["val", "man"])
def test_reviewers_see_and_act(app: Any, user: str) -> None:
    c = login(app, user)
    page = c.get(f"/projects/{SLUG}/review")
    assert page.status_code == 200 and "Clinic visit" in page.text
    q = c.get(f"{Q}/review")
    assert q.status_code == 200 and "Run validation" in q.text
    assert "Approve all without errors" in q.text
    # findings by question label, not by rule id
    assert "Age" in q.text and "constraint:age" not in q.text.split("<select")[0]
    r = c.post(f"{Q}/review", data={"csrf": c.csrf, "instance_id": ["uuid:clean0"],
                                    "status": "rejected"}, follow_redirects=False)
    assert r.status_code == 303
    assert "1 submission marked rejected." in flashes(c, r.headers["location"])
    confirm = c.get(f"{Q}/review/approve-clean")
    assert confirm.status_code == 200
    n = int(re.search(r'data-count="(\d+)"', confirm.text).group(1))  # type: ignore[union-attr]
    assert n >= 1
    r = c.post(f"{Q}/review/approve-clean", data={"csrf": c.csrf}, follow_redirects=False)
    assert any(f.startswith(f"{n} submission") for f in flashes(c, f"{Q}/review"))


def test_the_submission_page_in_swahili(app: Any) -> None:
    c = login(app, "val", "sw")
    page = c.get(f"{Q}/submissions/uuid:photo")
    assert page.status_code == 200, page.text
    text = page.text
    for shown in ("Umri", "Mahali", "Ndiyo", "Picha ya kadi ya kliniki", "Nyumbani",
                  "Mahali pa kujifungua", "Nashipai"):
        assert shown in text, shown
    assert "<svg" in text and "Ewuaso Kedong" in text  # the point's ward on the map
    assert f'src="/api/v1/projects/{SLUG}/forms/{FORM}/submissions/uuid%3Aphoto/attachments/card.jpg"' in text
    assert c.get(f"/api/v1/projects/{SLUG}/forms/{FORM}/submissions/uuid%3Aphoto/attachments/"
                 "card.jpg").content == JPEG
    young = c.get(f"{Q}/submissions/uuid:young").text
    # the finding by question label, with the form's own Swahili constraint message
    assert "<strong>Umri</strong>: Miaka 15 au zaidi" in young
    assert "Swahili (sw)" in young


def test_comment_edit_decide_on_the_submission_page(app: Any) -> None:
    c = login(app, "val")
    url = f"{Q}/submissions/uuid:young"
    r = c.post(f"{url}/comment", data={"csrf": c.csrf, "comment": "Called her back"},
               follow_redirects=False)
    assert r.status_code == 303 and "Comment added." in flashes(c, url)
    r = c.post(f"{url}/edit", data={"csrf": c.csrf, "path": "age", "value": "21",
                                    "reason": "read back on the phone"}, follow_redirects=False)
    page = c.get(url).text
    assert "Answer changed: saved as version 2." in page
    assert "<del>12</del>" in page and "<ins>21</ins>" in page
    bad = c.post(f"{url}/edit", data={"csrf": c.csrf, "path": "age", "value": "22",
                                      "reason": " "}, follow_redirects=False)
    assert bad.status_code == 303 and "Say why the answers are changed." in flashes(c, url)
    c.post(f"{url}/decide", data={"csrf": c.csrf, "status": "approved", "comment": "ok now"},
           follow_redirects=False)
    assert "Decision recorded: approved." in flashes(c, url) or "approved" in c.get(url).text
    assert c.post(f"{url}/comment", data={"csrf": "wrong", "comment": "x"},
                  follow_redirects=False).status_code == 403


def test_duplicates_side_by_side_and_decided(app: Any) -> None:
    c = login(app, "val")
    page = c.get(f"{Q}/duplicates")
    assert page.status_code == 200
    assert "uuid:copy" in page.text and "0 answers differ" in page.text
    # once a reviewer corrects one of them, the differing answer is marked
    c.post(f"{Q}/submissions/uuid:copy/edit", data={"csrf": c.csrf, "path": "age",
                                                    "value": "21", "reason": "typo"})
    page = c.get(f"{Q}/duplicates")
    assert "1 answer differs" in page.text and 'class="differs"' in page.text
    pair = re.search(rf'action="{Q}/duplicates/(\d+)"', page.text)
    assert pair
    r = c.post(f"{Q}/duplicates/{pair.group(1)}", data={"csrf": c.csrf, "action": "merge",
                                                       "keep": "uuid:clean0"},
               follow_redirects=False)
    assert r.status_code == 303
    assert "kept" in " ".join(flashes(c, f"{Q}/duplicates"))
    assert "No pair here." in c.get(f"{Q}/duplicates").text


def test_analyst_reads_without_buttons_and_cannot_post(app: Any) -> None:
    c = login(app, "ana")
    q = c.get(f"{Q}/review")
    assert q.status_code == 200 and "Run validation" not in q.text
    assert "Apply to ticked" not in q.text
    sub = c.get(f"{Q}/submissions/uuid:clean1")
    assert sub.status_code == 200 and "Record decision" not in sub.text
    assert "Naserian" not in sub.text  # a personal field, withheld from analysts
    assert "Withdraw consent" not in sub.text
    dup = c.get(f"{Q}/duplicates")
    assert dup.status_code == 200 and "Merge" not in dup.text
    for path, data in ((f"{Q}/review", {"instance_id": "uuid:clean1", "status": "approved"}),
                       (f"{Q}/review/approve-clean", {}),
                       (f"{Q}/review/validate", {}),
                       (f"{Q}/submissions/uuid:clean1/comment", {"comment": "x"})):
        assert c.post(path, data={"csrf": c.csrf, **data},
                      follow_redirects=False).status_code == 403, path


@pytest.mark.parametrize(("user", "status"), [("col", 403), ("out", 404)])
def test_collectors_and_outsiders_are_refused(app: Any, user: str, status: int) -> None:
    c = login(app, user)
    for path in (f"/projects/{SLUG}/review", f"{Q}/review", f"{Q}/submissions/uuid:clean1",
                 f"{Q}/duplicates"):
        assert c.get(path).status_code == status, path
    assert c.post(f"{Q}/review/approve-clean", data={"csrf": c.csrf},
                  follow_redirects=False).status_code == status


def test_manager_withdraws_consent_after_confirming(app: Any) -> None:
    c = login(app, "man")
    url = f"{Q}/submissions/uuid:clean2"
    assert "Withdraw consent" in c.get(url).text
    c.post(f"{url}/withdraw", data={"csrf": c.csrf, "basis": "respondent_request"},
           follow_redirects=False)
    assert "Tick the box" in " ".join(flashes(c, url))
    c.post(f"{url}/withdraw", data={"csrf": c.csrf, "basis": "respondent_request",
                                    "confirm": "yes"})
    page = c.get(url).text
    assert "consent withdrawn" in page and "Record decision" not in page
    assert c.get(f"{Q}/submissions/uuid:clean2", follow_redirects=False).status_code == 200
    val = login(app, "val")
    assert val.get(url).status_code == 404  # gone for reviewers


def test_validation_runs_from_the_page(app: Any) -> None:
    c = login(app, "val")
    r = c.post(f"{Q}/review/validate", data={"csrf": c.csrf}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].endswith(f"{Q}/review")
    assert any(f.startswith("Validation finished: ") for f in flashes(c, r.headers["location"]))


def test_deep_pages_and_filters_on_the_page(app: Any) -> None:
    c = login(app, "val")
    page = c.get(f"{Q}/review", params={"findings": "errors"}).text
    assert "uuid:young" in page and "uuid:clean1" not in page
    page = c.get(f"{Q}/review", params={"since": "2999-01-01"}).text
    assert "No submission matches" in page
    bad = c.get(f"{Q}/review", params={"since": "2025-13-01"})
    assert bad.status_code == 422
