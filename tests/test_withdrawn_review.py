"""A withdrawn submission leaves review: the queue, the history, findings and duplicate
pairs, for every role; owners and managers still see that it was withdrawn."""

from __future__ import annotations

import warnings

import pytest

from citizendata.errors import Conflict, NotFound
from citizendata.server.app import create_app
from citizendata.workspace import Client
from test_storage import sub

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message="Using `httpx` with", category=UserWarning)
    from fastapi.testclient import TestClient

P, F = "test-project", "household"
API = f"/api/v1/projects/{P}/forms/{F}"
NOTE = "Naserian says her husband must not know"


@pytest.fixture
def team(owner: Client) -> dict[str, Client]:
    """An owner, a manager, a validator and an analyst; four submissions, two alike."""
    for name, role in (("mgr", "manager"), ("val", "validator"), ("ana", "analyst")):
        owner.create_user(name, f"{name}-password")
        owner.add_member(P, name, role)
    owner.submit(P, F, [sub("uuid:a", age="12"), sub("uuid:b"), sub("uuid:c"),
                        sub("uuid:d", age="41")])
    owner.validate(P, F)  # uuid:a breaks the age constraint; uuid:b and uuid:c are alike
    val = owner.workspace.login("val", "val-password")
    val.comment(P, F, "uuid:a", NOTE)
    val.edit(P, F, "uuid:a", {"age": "21"}, reason=f"read back: {NOTE}")
    return {"owner": owner, "mgr": owner.workspace.login("mgr", "mgr-password"), "val": val,
            "ana": owner.workspace.login("ana", "ana-password")}


def queue(c: Client) -> set[str]:
    """The instance ids in a member's review queue."""
    return {r["instance_id"] for r in c.review_queue(P, F, statuses=(
        "has_issues", "received", "edited", "approved", "rejected"))[0]}


@pytest.mark.parametrize("erase", [False, True])
def test_withdrawn_submission_leaves_review_for_every_role(team: dict[str, Client],
                                                           erase: bool) -> None:
    owner, mgr, val, ana = team["owner"], team["mgr"], team["val"], team["ana"]
    assert "uuid:a" in queue(val) and val.findings(P, F, instance_id="uuid:a")[1] > 0
    assert {p.instance_l for p in val.duplicate_pairs(P, F)} == {"uuid:b"}
    owner.withdraw_consent(P, F, "uuid:a", erase=erase)
    owner.withdraw_consent(P, F, "uuid:b")

    for c in (owner, mgr, val, ana):
        assert queue(c) == {"uuid:c", "uuid:d"}
        assert c.findings(P, F, instance_id="uuid:a") == ([], 0)
        assert c.duplicate_pairs(P, F) == []
        assert c.exact_duplicates(P, F) == []
    for c in (val, ana):
        with pytest.raises(NotFound):
            c.review_history(P, F, "uuid:a")
    with pytest.raises(NotFound):
        val.comment(P, F, "uuid:a", "still there?")
    with pytest.raises(NotFound):
        val.decide(P, F, ["uuid:a", "uuid:c"], "approved")
    with pytest.raises(NotFound):
        val.edit(P, F, "uuid:b", {"age": "30"}, reason="typo")
    for c in (owner, mgr):
        with pytest.raises(Conflict) as refused:
            c.decide(P, F, ["uuid:c", "uuid:a"], "approved")
        assert refused.value.code == "consent.withdrawn"
        history = c.review_history(P, F, "uuid:a")
        assert [e.kind for e in history] == ["auto", "comment", "edit", "withdrawal"]
        assert history[-1].status == ("erased" if erase else "withdrawn")
        assert (NOTE in str(history)) is not erase
    # nothing was recorded by the refused decisions
    assert owner.decisions(P, F) == []


def test_review_api_and_page_after_withdrawal(team: dict[str, Client]) -> None:
    owner = team["owner"]
    owner.withdraw_consent(P, F, "uuid:a", erase=True)
    ws = owner.workspace
    tokens = {n: {"Authorization": f"Bearer {ws.login(n, f'{n}-password').create_token('t')}"}
              for n in ("val", "ana", "mgr")}
    with TestClient(create_app(ws)) as http:
        for who in ("val", "ana"):
            r = http.get(f"{API}/submissions/uuid:a/history", headers=tokens[who])
            assert r.status_code == 404 and NOTE not in r.text
        r = http.get(f"{API}/submissions/uuid:a/history", headers=tokens["mgr"])
        assert r.status_code == 200 and NOTE not in r.text
        assert [e["kind"] for e in r.json()["history"]][-1] == "withdrawal"
        r = http.post(f"{API}/submissions/uuid:a/comments", json={"comment": "hello"},
                      headers=tokens["mgr"])
        assert r.status_code == 409 and r.json()["error"]["code"] == "consent.withdrawn"
        queue_json = http.get(f"{API}/review-queue", headers=tokens["val"]).json()
        assert "uuid:a" not in {r["instance_id"] for r in queue_json["submissions"]}
        page = http.get(f"/projects/{P}/forms/{F}/review",
                        headers={**tokens["val"], "Accept": "text/html"})
        assert page.status_code == 200 and "uuid:c" in page.text
        assert "uuid:a" not in page.text and NOTE not in page.text
