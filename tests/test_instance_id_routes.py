"""Every instance id intake accepts can be addressed through the API, percent-encoded.

ODK Collect writes ``uuid:<uuid>``; imports and other apps bring ids with '/', '?',
'#', '%', spaces and letters beyond ASCII. Each is submitted, then read, commented,
edited, looked up in the history and withdrawn by its URL, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from citizendata.errors import BadInput
from citizendata.server.app import create_app
from citizendata.server.instance_ids import InstanceIdConvertor
from citizendata.workspace import Client
from test_storage import sub

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message="Using `httpx` with", category=UserWarning)
    from fastapi.testclient import TestClient

P, F = "test-project", "household"
API = f"/api/v1/projects/{P}/forms/{F}"
AWKWARD = [
    "uuid:6f0c5a4e-2b1d-4f57-9a7e-0d3c2b1a9f88",
    "kobo/2024/000173",
    "a/b/history",          # ends like the history route
    "x/comments",           # ends like the comments route
    "50% sure",
    "what?#fragment",
    "%2F literally",        # an id that itself looks percent-encoded
    "Ñandú/ü ë",
    "  padded  ",
    "uuid:a+b&c=d;e",
]


@pytest.fixture
def http(owner: Client) -> Iterator[TestClient]:
    """The server over the test's workspace, with an owner's token."""
    owner.submit(P, F, [sub(i) for i in AWKWARD])
    with TestClient(create_app(owner.workspace)) as c:
        c.headers["Authorization"] = f"Bearer {owner.create_token('t')}"
        yield c


def url(iid: str, tail: str = "") -> str:
    """The URL of a submission, its id encoded as one path segment."""
    return f"{API}/submissions/{quote(iid, safe='')}{tail}"


@pytest.mark.parametrize("iid", AWKWARD)
def test_every_submission_route_reaches_an_awkward_id(http: TestClient, iid: str) -> None:
    got = http.get(url(iid))
    assert got.status_code == 200, got.text
    assert got.json()["instance_id"] == iid
    r = http.post(url(iid, "/comments"), json={"comment": "checked by phone"})
    assert r.status_code == 201 and r.json()["instance_id"] == iid
    r = http.post(url(iid, "/edits"), json={"changes": {"age": "31"}, "reason": "read back"})
    assert r.status_code == 201 and r.json() == {"instance_id": iid, "version": 2}
    r = http.get(url(iid, "/history"))
    assert r.status_code == 200 and [e["kind"] for e in r.json()["history"]] == ["comment",
                                                                                 "edit"]
    r = http.post(url(iid, "/consent-withdrawal"), json={"erase": True})
    assert r.status_code == 201 and r.json()["instance_id"] == iid
    # only that submission was touched
    others = [s["instance_id"] for s in http.get(f"{API}/submissions?limit=100").json()[
        "submissions"] if s["data"].get("erased")]
    assert others == [iid]


def test_an_id_ending_like_a_route_is_not_taken_for_it(http: TestClient) -> None:
    # GET .../a%2Fb%2Fhistory is the submission 'a/b/history'; .../a%2Fb/history its history
    assert http.get(url("a/b/history")).json()["instance_id"] == "a/b/history"
    assert http.get(url("a/b", "/history")).json()["error"]["code"] == "not_found.submission"
    assert http.get(url("nobody")).status_code == 404


@pytest.mark.parametrize("iid", [".", "..", "x" * 256])
def test_ids_that_cannot_be_stored_or_addressed_are_refused_at_intake(owner: Client,
                                                                      iid: str) -> None:
    with pytest.raises(BadInput) as e:
        owner.submit(P, F, [sub("uuid:fine"), sub(iid)])
    assert e.value.code == "intake.invalid_instance_id"
    csv = f"instanceID,respondent,age,consent,n_births\n{iid},Naserian,30,yes,0\n".encode()
    with pytest.raises(BadInput) as e:
        owner.import_file(P, F, csv, "export.csv")
    assert e.value.code == "intake.invalid_instance_id"
    assert owner.submissions(P, F)[0] == 0


@settings(max_examples=200, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(st.characters(blacklist_categories=("Cs",)), min_size=1))
def test_the_path_convertor_round_trips_any_id(iid: str) -> None:
    conv = InstanceIdConvertor()
    # what InstanceIdPaths leaves in the decoded path for the segment
    kept = iid.replace("%", "%25").replace("/", "%2F")
    assert conv.convert(kept) == iid
    assert "/" not in conv.to_string(iid)
