"""The review workflow on SQLite and PostgreSQL: decisions, comments, edits, history, roles."""

from __future__ import annotations

import pytest

from citizendata.errors import BadInput, Forbidden, NotFound
from citizendata.validate.agreement import cohen_kappa
from citizendata.workspace import Client, Workspace
from test_storage import sub


@pytest.fixture
def team(ws: Workspace, owner: Client) -> dict[str, Client]:
    """An owner, two validators, an analyst and a collector on 'test-project'."""
    for name, role in (("val1", "validator"), ("val2", "validator"), ("ana", "analyst"),
                       ("col", "collector")):
        owner.create_user(name, f"{name}-password")
        owner.add_member("test-project", name, role)
    owner.submit("test-project", "household", [sub(f"uuid:r{i}") for i in range(6)])
    return {n: ws.login(n, f"{n}-password") for n in ("val1", "val2", "ana", "col")} | \
        {"owner": owner}


def test_bulk_decisions_move_the_status_and_are_audited(team: dict[str, Client]) -> None:
    v1 = team["val1"]
    assert v1.decide("test-project", "household", ["uuid:r0", "uuid:r1"], "approved") == 2
    v1.decide("test-project", "household", "uuid:r2", "rejected", comment="not a household")
    _, rows = team["owner"].submissions("test-project", "household", review_status="approved")
    assert sorted(r["instance_id"] for r in rows) == ["uuid:r0", "uuid:r1"]
    log = team["owner"].audit_log("test-project")
    assert any(e["action"] == "review.decide" and e["details"]["count"] == 2 for e in log)


def test_every_validators_decision_is_kept_for_agreement(team: dict[str, Client]) -> None:
    ids = [f"uuid:r{i}" for i in range(6)]
    first = ["approved", "approved", "rejected", "has_issues", "approved", "rejected"]
    second = ["approved", "has_issues", "rejected", "has_issues", "approved", "approved"]
    for iid, a, b in zip(ids, first, second, strict=True):
        team["val1"].decide("test-project", "household", iid, a)
        team["val2"].decide("test-project", "household", iid, b)
    rows = team["owner"].decisions("test-project", "household")
    by = {v: [s for i, w, s in sorted(rows) if w == v] for v in ("val1", "val2")}
    assert by["val1"] == first and by["val2"] == second
    k = cohen_kappa(by["val1"], by["val2"])
    assert 0 < k.kappa < 1
    summary = team["owner"].validator_agreement("test-project", "household")
    (pair,) = summary["cohen"]
    assert pair["validators"] == ["val1", "val2"] and pair["kappa"] == pytest.approx(k.kappa)
    assert pair["n_subjects"] == 6 and summary["fleiss"] is None
    # the submission's status is the latest decision
    got = team["owner"].submission("test-project", "household", "uuid:r5")
    assert got["review_status"] == "approved"


def test_edits_are_versions_and_the_original_is_kept(team: dict[str, Client]) -> None:
    owner = team["owner"]
    version = team["val1"].edit("test-project", "household", "uuid:r3",
                                {"age": "31", "location/ward": "ewuaso"},
                                reason="the interviewer read back the age on the phone")
    assert version == 2
    assert team["val1"].edit("test-project", "household", "uuid:r3", {"age": "31"},
                             reason="no change") == 2  # nothing changed: no new version
    original = owner.submission("test-project", "household", "uuid:r3")
    assert original["data"]["age"] == "30" and original["review_status"] == "edited"
    entries = owner.review_history("test-project", "household", "uuid:r3")
    (e,) = [x for x in entries if x.kind == "edit"]
    assert {d["path"]: (d["before"], d["after"]) for d in e.diff} == {
        "age": ("30", "31"), "location/ward": ("magadi", "ewuaso")}


def test_personal_values_in_edits_are_withheld_from_analysts(team: dict[str, Client]) -> None:
    team["val1"].edit("test-project", "household", "uuid:r4", {"respondent": "Naserian S."},
                      reason="spelling")
    (e,) = [x for x in team["ana"].review_history("test-project", "household", "uuid:r4")
            if x.kind == "edit"]
    assert "Naserian" not in str(e.diff)
    log = team["owner"].audit_log("test-project")
    assert "Naserian" not in str(log)  # the audit log names the path, not the values


def test_roles_and_bad_input(team: dict[str, Client]) -> None:
    with pytest.raises(Forbidden):
        team["ana"].decide("test-project", "household", "uuid:r0", "approved")
    with pytest.raises(Forbidden):
        team["col"].comment("test-project", "household", "uuid:r0", "looks fine")
    with pytest.raises(BadInput):
        team["val1"].decide("test-project", "household", "uuid:r0", "maybe")
    with pytest.raises(NotFound):
        team["val1"].decide("test-project", "household", ["uuid:r0", "uuid:nope"], "approved")
    assert team["owner"].submission("test-project", "household", "uuid:r0")[
        "review_status"] == "received"  # all or nothing
    with pytest.raises(BadInput):
        team["val1"].edit("test-project", "household", "uuid:r0", {"colour": "red"}, "x")
    with pytest.raises(BadInput):
        team["val1"].edit("test-project", "household", "uuid:r0", {"age": "1"}, reason=" ")
    team["val1"].comment("test-project", "household", "uuid:r0", "called the household back")
    kinds = [e.kind for e in team["ana"].review_history("test-project", "household",
                                                        "uuid:r0")]
    assert kinds == ["comment"]


def test_analysis_sees_the_latest_edit(team: dict[str, Client]) -> None:
    team["val1"].edit("test-project", "household", "uuid:r1", {"age": "41"}, reason="typo")
    table = team["owner"].open_snapshot("test-project", "household").to_pandas()
    ages = dict(zip(table["_instance_id"], table["age"], strict=True))
    assert ages["uuid:r1"] == 41 and ages["uuid:r0"] == 30
