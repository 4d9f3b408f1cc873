"""Validation runs on SQLite and PostgreSQL: stored findings, status moves, pairs, queue, API."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from citizendata.errors import BadInput, Forbidden, NotFound
from citizendata.server.app import create_app
from citizendata.workspace import Client, Workspace
from conftest import SPEC, household_form
from test_storage import sub

FORM = ("test-project", "household")


@pytest.fixture
def team(ws: Workspace, owner: Client) -> dict[str, Client]:
    """The owner, a validator and an analyst; good and bad household submissions."""
    for name, role in (("val", "validator"), ("ana", "analyst")):
        owner.create_user(name, f"{name}-password")
        owner.add_member("test-project", name, role)
    good = [sub(f"uuid:g{i}", age=str(20 + i)) for i in range(8)]
    bad = [
        sub("uuid:young", age="12"),  # constraint . >= 15
        sub("uuid:text-age", age="thirty"),  # type integer
        sub("uuid:ward", ward="nairobi"),  # not a choice
        {**sub("uuid:count"), "data": {**sub("uuid:count")["data"], "n_births": "2"}},
        {"instance_id": "uuid:no-consent", "data": {"age": "40", "respondent": "Sein"}},
    ]
    copy = sub("uuid:copy", age="20")  # the same answers as uuid:g0
    owner.submit(*FORM, [*good, *bad, copy])
    return {"owner": owner, "val": ws.login("val", "val-password"),
            "ana": ws.login("ana", "ana-password")}


def _rules(client: Client) -> dict[str, set[str]]:
    rows, _ = client.findings(*FORM, limit=1000)
    out: dict[str, set[str]] = {}
    for f in rows:
        out.setdefault(f["instance_id"], set()).add(f["rule"])
    return out


def test_a_run_stores_findings_per_submission_and_rule(team: dict[str, Client]) -> None:
    report = team["val"].validate(*FORM)
    assert report.submissions == 14 and report.rules > 5
    found = _rules(team["val"])
    assert found["uuid:young"] == {"constraint:age"}
    assert found["uuid:text-age"] == {"type:age"}  # no second finding from the constraint
    assert found["uuid:ward"] == {"choice:location/ward"}
    assert found["uuid:count"] == {"repeat_count:births"}
    assert found["uuid:no-consent"] == {"required:consent"}
    assert found["uuid:copy"] == {"duplicate:exact"}
    assert not any(k.startswith("uuid:g") for k in found)
    (f,) = team["val"].findings(*FORM, instance_id="uuid:young")[0]
    assert f["message"] == "15 or older" and f["value"] == "12" and f["severity"] == "error"
    assert report.errors == 5 and report.moved_to_has_issues == 5


def test_errors_move_received_submissions_to_has_issues_only(team: dict[str, Client]) -> None:
    team["val"].decide(*FORM, "uuid:young", "approved", comment="checked: she is 12")
    team["val"].validate(*FORM)
    statuses = {i: team["owner"].submission(*FORM, i)["review_status"] for i in
                ("uuid:young", "uuid:ward", "uuid:g1", "uuid:copy")}
    # a reviewer's decision is never overridden by a machine
    assert statuses == {"uuid:young": "approved", "uuid:ward": "has_issues",
                        "uuid:g1": "received", "uuid:copy": "received"}
    history = team["owner"].review_history(*FORM, "uuid:ward")
    assert [e.kind for e in history] == ["auto"]


def test_a_rerun_replaces_findings_and_counts_by_rule(team: dict[str, Client]) -> None:
    team["val"].validate(*FORM)
    team["val"].edit(*FORM, "uuid:young", {"age": "21"}, reason="misheard on the phone")
    team["val"].validate(*FORM)
    found = _rules(team["val"])
    assert "uuid:young" not in found  # the edited version is what is checked
    summary = {r["rule"]: r["findings"] for r in team["val"].findings_summary(*FORM)}
    assert summary == {"type:age": 1, "choice:location/ward": 1, "repeat_count:births": 1,
                       "required:consent": 1, "duplicate:exact": 1}


def test_review_queue_puts_errors_first(team: dict[str, Client]) -> None:
    team["val"].validate(*FORM)
    rows, total = team["val"].review_queue(*FORM, limit=5)
    assert total == 14 and all(r["errors"] == 1 for r in rows)
    assert {r["review_status"] for r in rows} == {"has_issues"}


def test_duplicate_pairs_merge_keeps_both_and_rejects_one(team: dict[str, Client]) -> None:
    team["val"].validate(*FORM)
    (pair,) = team["val"].duplicate_pairs(*FORM)
    assert (pair.instance_l, pair.instance_r, pair.method) == ("uuid:g0", "uuid:copy", "exact")
    merged = team["val"].decide_pair(*FORM, pair.id, "merge", keep="uuid:g0")
    assert merged.status == "merged" and merged.kept == "uuid:g0"
    assert team["owner"].submission(*FORM, "uuid:copy")["review_status"] == "rejected"
    assert team["owner"].submission(*FORM, "uuid:copy")["data"]["age"] == "20"  # kept
    with pytest.raises(BadInput):
        team["val"].decide_pair(*FORM, pair.id, "merge", keep="uuid:nobody")
    with pytest.raises(NotFound) as err:
        team["val"].decide_pair(*FORM, 999, "dismiss")
    assert err.value.code == "not_found.duplicate_pair"


def test_dismissed_pairs_stay_dismissed_on_rerun(team: dict[str, Client]) -> None:
    team["val"].validate(*FORM)
    (pair,) = team["val"].duplicate_pairs(*FORM)
    team["val"].decide_pair(*FORM, pair.id, "dismiss")
    report = team["val"].validate(*FORM)
    assert report.duplicate_pairs == 0
    assert [p.status for p in team["val"].duplicate_pairs(*FORM)] == ["dismissed"]


def test_roles(team: dict[str, Client]) -> None:
    with pytest.raises(Forbidden):
        team["ana"].validate(*FORM)
    team["val"].validate(*FORM)
    assert team["ana"].findings(*FORM)[1] > 0  # analysts may read findings
    with pytest.raises(Forbidden):
        team["ana"].decide_pair(*FORM, 1, "dismiss")


def test_analysis_sees_approved_only_by_default(team: dict[str, Client], ws: Workspace
                                                ) -> None:
    team["val"].validate(*FORM)
    team["val"].decide(*FORM, ["uuid:g0", "uuid:g1", "uuid:count"], "approved")
    team["val"].decide(*FORM, ["uuid:g2"], "rejected")
    main = team["ana"].table(*FORM).to_pandas()
    assert sorted(main["_instance_id"]) == ["uuid:count", "uuid:g0", "uuid:g1"]
    births = team["ana"].table(*FORM, "births").to_pandas()
    assert births.empty  # approved submissions here have no births entries
    every = team["ana"].table(*FORM, reviewed=False).to_pandas()
    assert len(every) == 14


def test_validation_settings_with_unknown_fields_are_refused(ws: Workspace) -> None:
    me = ws.create_admin("owner2", "owner-password")
    spec: dict[str, Any] = {**SPEC, "slug": "other-project", "validation": {
        "forms": {"household": {"limits": [{"field": "height", "max": 2}]}}}}
    me.create_project(spec)
    me.add_form("other-project", household_form(), "household.xlsx")
    me.submit("other-project", "household", [sub("uuid:x1")])
    with pytest.raises(BadInput) as err:
        me.validate("other-project", "household")
    assert err.value.where is not None and err.value.where.field == "height"


def test_api_and_review_page(tmp_path: Path) -> None:
    ws = Workspace.open(tmp_path / "ws")
    owner = ws.create_admin("owner", "owner-password")
    owner.create_project(SPEC)
    owner.add_form("test-project", household_form(), "household.xlsx")
    owner.create_user("val", "val-password")
    owner.add_member("test-project", "val", "validator")
    owner.submit(*FORM, [sub("uuid:a"), sub("uuid:b", age="3"), sub("uuid:c", ward="x"),
                         sub("uuid:d", age="3")])
    h = {"Authorization": f"Bearer {ws.login('val', 'val-password').create_token('t')}"}
    base = "/api/v1/projects/test-project/forms/household"
    with TestClient(create_app(ws)) as http:
        run = http.post(f"{base}/validate", headers=h)
        assert run.status_code == 200, run.text
        assert run.json()["submissions"] == 4 and run.json()["moved_to_has_issues"] == 3
        rules = {r["rule"]: r["findings"] for r in
                 http.get(f"{base}/findings/summary", headers=h).json()["rules"]}
        assert rules == {"constraint:age": 2, "choice:location/ward": 1, "duplicate:exact": 1}
        listing = http.get(f"{base}/findings", params={"severity": "error", "limit": 1},
                           headers=h).json()
        assert listing["total"] == 3 and len(listing["findings"]) == 1
        queue = http.get(f"{base}/review-queue", headers=h).json()
        assert [r["errors"] for r in queue["submissions"]] == [1, 1, 1, 0]
        (pair,) = http.get(f"{base}/duplicate-pairs", headers=h).json()["pairs"]
        assert (pair["instance_l"], pair["instance_r"]) == ("uuid:b", "uuid:d")
        bad = http.post(f"{base}/duplicate-pairs/{pair['id']}", json={"action": "burn"},
                        headers=h)
        assert bad.status_code == 422 and bad.json()["error"]["code"] == "input.invalid"
        ok = http.post(f"{base}/duplicate-pairs/{pair['id']}", json={"action": "confirm"},
                       headers=h)
        assert ok.status_code == 200 and ok.json()["status"] == "confirmed"
        page = http.get("/projects/test-project/forms/household/review", headers=h)
        assert page.status_code == 200 and "Review queue" in page.text
        assert "15 or older" in page.text and "uuid:c" in page.text
