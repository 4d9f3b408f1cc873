"""The OData feed, read as Excel, Power BI or ruODK would: a real OData client from the
package index (python-odata) over a real uvicorn server, compared with the snapshot."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from xml.etree import ElementTree

import pytest
import requests
import uvicorn
from odata import ODataService
from requests.auth import HTTPBasicAuth

from citizendata.server.app import create_app
from citizendata.workspace import Workspace
from conftest import file_settings
from xlsform_builders import make_xlsform

SPEC: dict[str, Any] = {"slug": "magadi-health", "name": "Magadi health",
                        "initiator": {"slug": "magadi-cso", "name": "Magadi CSO"},
                        "engagement": {"collect": {"level": 5}}}
FORM = make_xlsform(
    [{"type": "text", "name": "respondent", "label": "Your name"},  # personal by default
     {"type": "integer", "name": "age", "label": "Age"},
     {"type": "select_one ward", "name": "ward", "label": "Ward"},
     {"type": "select_multiple need", "name": "needs", "label": "Needs"},
     {"type": "decimal", "name": "income", "label": "Income"},
     {"type": "geopoint", "name": "gps", "label": "Where"},  # personal by default
     {"type": "begin_group", "name": "household", "label": "Household"},
     {"type": "integer", "name": "members", "label": "Members"},
     {"type": "end_group"},
     {"type": "begin_repeat", "name": "births", "label": "Births"},
     {"type": "select_one place", "name": "place", "label": "Place"},
     {"type": "integer", "name": "weight_g", "label": "Weight (g)"},
     {"type": "begin_repeat", "name": "visits", "label": "Visits"},
     {"type": "date", "name": "when", "label": "When"},
     {"type": "end_repeat"},
     {"type": "end_repeat"}],
    [{"list_name": "ward", "name": "magadi", "label": "Magadi"},
     {"list_name": "ward", "name": "ewuaso", "label": "Ewuaso"},
     {"list_name": "need", "name": "water", "label": "Water"},
     {"list_name": "need", "name": "school", "label": "School"},
     {"list_name": "place", "name": "home", "label": "Home"},
     {"list_name": "place", "name": "facility", "label": "Facility"}],
    {"form_id": "health", "version": "1", "form_title": "Health"})
SVC = "/api/v1/projects/magadi-health/forms/health.svc"


def answers(i: int) -> dict[str, Any]:
    """One household's answers; every third had births, the first of them with visits."""
    births = [{"place": "home", "weight_g": str(3000 + i),
               "visits": [{"when": "2026-01-02"}, {"when": "2026-02-03"}]},
              {"place": "facility", "weight_g": "2900"}] if i % 3 == 0 else []
    return {"meta": {"instanceID": f"uuid:h{i:02d}"}, "respondent": f"Zyxwq Secret {i}",
            "age": str(18 + i), "ward": "magadi" if i % 2 else "ewuaso",
            "needs": "water school" if i % 4 else "water", "income": f"{i * 1.5:.1f}",
            "gps": f"-1.{i:02d} 36.8 1200 5", "household": {"members": str(1 + i % 6)},
            "births": births}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Workspace, str]]:
    """24 households in two batches, one edited, one withdrawn; served on 127.0.0.1.

    Yields the base URL, the workspace and the time between the two batches.
    """
    root = tmp_path_factory.mktemp("odata")
    ws = Workspace(file_settings(root))
    owner = ws.create_admin("amina", "amina-password")
    owner.create_project(SPEC)
    owner.add_form("magadi-health", FORM, "health.xlsx")
    for name, role in (("baraka", "analyst"), ("otieno", "collector"), ("mallory", None)):
        owner.create_user(name, f"{name}-password")
        if role:
            owner.add_member("magadi-health", name, role)
    owner.submit("magadi-health", "health", json.dumps([answers(i) for i in range(12)]))
    time.sleep(0.01)
    between = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    time.sleep(0.01)
    owner.submit("magadi-health", "health", json.dumps([answers(i) for i in range(12, 24)]))
    owner.edit("magadi-health", "health", "uuid:h05", {"age": 40}, "typo on the paper form")
    owner.decide("magadi-health", "health", ["uuid:h01", "uuid:h02"], "approved")
    owner.withdraw_consent("magadi-health", "health", "uuid:h07")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    srv = uvicorn.Server(uvicorn.Config(create_app(ws), host="127.0.0.1", port=port,
                                        log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    for _ in range(200):
        if srv.started or not thread.is_alive():
            break
        time.sleep(0.05)
    assert srv.started, "uvicorn did not start"
    yield f"http://127.0.0.1:{port}", ws, between
    srv.should_exit = True
    thread.join(timeout=10)
    ws.close()


def client(base: str, auth: Any = None, token: str | None = None,
           page: int | None = None) -> ODataService:
    """python-odata reading the form's service, reflecting its $metadata."""
    session = requests.Session()
    if token:
        session.headers["Authorization"] = f"Bearer {token}"
    if page:
        session.headers["Prefer"] = f"odata.maxpagesize={page}"
    return ODataService(f"{base}{SVC}/", auth=auth, session=session, reflect_entities=True)


def test_a_real_odata_client_reads_every_row_as_the_snapshot_has_it(
        server: tuple[str, Workspace, str]) -> None:
    base, ws, _ = server
    # pages of 5: the client follows @odata.nextLink four times
    svc = client(base, HTTPBasicAuth("amina", "amina-password"), page=5)
    assert set(svc.entities) == {"Submissions", "Submissions.births",
                                 "Submissions.births.visits"}
    rows = [r.__odata__.data for r in svc.query(svc.entities["Submissions"])]
    snap = ws.as_user("amina").open_snapshot("magadi-health", "health",
                                            include_personal=True).table().to_pyarrow()
    want = {r["_instance_id"]: r for r in snap.to_pylist()}
    assert len(rows) == len(want) == 23  # uuid:h07 withdrew
    for row in rows:
        s = want[row["__id"]]
        assert (row["age"], row["ward"], row["income"], row["household"]["members"]) == (
            s["age"], s["ward"], s["income"], s["members"])
        assert row["__system"]["reviewState"] == (
            "approved" if s["_review_status"] == "approved" else None)
        assert row["gps"]["coordinates"][:2] == [s["gps__lon"], s["gps__lat"]]
    by_id = {r["__id"]: r for r in rows}
    assert by_id["uuid:h05"]["age"] == 40 and by_id["uuid:h05"]["__system"]["edits"] == 1
    assert by_id["uuid:h04"]["needs"] == "water"
    assert by_id["uuid:h04"]["respondent"] == "Zyxwq Secret 4"


def test_repeat_tables_link_to_their_parents_and_match_the_snapshot(
        server: tuple[str, Workspace, str]) -> None:
    base, ws, _ = server
    token = ws.as_user("amina").create_token("power-bi")
    svc = client(base, token=token)
    births = [r.__odata__.data for r in svc.query(svc.entities["Submissions.births"])]
    visits = [r.__odata__.data for r in svc.query(svc.entities["Submissions.births.visits"])]
    snap = ws.as_user("amina").open_snapshot("magadi-health", "health")
    assert len(births) == snap.table("births").count().execute() == 16
    assert len(visits) == snap.table("births/visits").count().execute() == 16
    assert sorted(b["weight_g"] for b in births) == sorted(
        snap.table("births").to_pyarrow().column("weight_g").to_pylist())
    assert {b["__Submissions-id"] for b in births} == {f"uuid:h{i:02d}" for i in
                                                       (0, 3, 6, 9, 12, 15, 18, 21)}
    first = [b for b in births if b["place"] == "home"]
    assert {v["__Submissions-births-id"] for v in visits} == {b["__id"] for b in first}


def test_filter_on_submission_date_count_top_and_skip(server: tuple[str, Workspace, str]
                                                      ) -> None:
    base, _, between = server
    auth = ("amina", "amina-password")

    def get(**params: str) -> dict[str, Any]:
        r = requests.get(f"{base}{SVC}/Submissions", params=params, auth=auth, timeout=30)
        assert r.status_code == 200, r.text
        assert r.headers["odata-version"] == "4.0"
        return r.json()

    late = get(**{"$filter": f"__system/submissionDate ge {between}", "$count": "true"})
    assert late["@odata.count"] == 12 and len(late["value"]) == 12
    assert all(r["__id"] >= "uuid:h12" for r in late["value"])
    both = get(**{"$filter": f"__system/submissionDate lt {between} or "
                             f"(__system/submissionDate gt {between} and "
                             "not __system/reviewState eq 'approved')", "$count": "true"})
    assert both["@odata.count"] == 23 - 2 + 2  # approved ones are in the early batch
    approved = get(**{"$filter": "__system/reviewState eq 'approved'", "$select": "__id"})
    assert approved["value"] == [{"__id": "uuid:h01"}, {"__id": "uuid:h02"}]
    page = get(**{"$top": "5", "$skip": "3", "$count": "true", "$select": "age,household"})
    assert [r["age"] for r in page["value"]] == [21, 22, 40, 24, 26]  # h07 withdrew
    assert page["value"][0] == {"age": 21, "household": {"members": 4}}
    assert page["@odata.count"] == 23
    rest = requests.get(page["@odata.nextLink"], auth=auth, timeout=30).json()
    assert [r["age"] for r in rest["value"]][:2] == [27, 28]
    assert "@odata.count" in rest and len(rest["value"]) == 5
    bad = requests.get(f"{base}{SVC}/Submissions", auth=auth, timeout=30,
                       params={"$filter": "age gt 30"})
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "odata.invalid_query"


def test_personal_fields_are_not_in_the_analyst_s_feed(server: tuple[str, Workspace, str]
                                                       ) -> None:
    base, _, _ = server
    auth = ("baraka", "baraka-password")
    meta = requests.get(f"{base}{SVC}/$metadata", auth=auth, timeout=30)
    assert meta.status_code == 200
    names = {p.get("Name") for p in ElementTree.fromstring(meta.content).iter(
        "{http://docs.oasis-open.org/odata/ns/edm}Property")}
    assert {"age", "ward", "members"} <= names and not {"respondent", "gps"} & names
    svc = client(base, HTTPBasicAuth(*auth))
    rows = [r.__odata__.data for r in svc.query(svc.entities["Submissions"])]
    assert len(rows) == 23 and "respondent" not in rows[0] and "gps" not in rows[0]
    raw = requests.get(f"{base}{SVC}/Submissions", auth=auth, timeout=30).text
    assert "Zyxwq" not in raw and "36.8" not in raw


def test_who_may_not_read_the_feed(server: tuple[str, Workspace, str]) -> None:
    base, _, _ = server
    url = f"{base}{SVC}/Submissions"
    assert requests.get(url, auth=("otieno", "otieno-password"), timeout=30).status_code == 403
    assert requests.get(url, auth=("mallory", "mallory-password"),
                        timeout=30).status_code == 404
    anonymous = requests.get(url, timeout=30)
    assert anonymous.status_code == 401
    assert anonymous.headers["www-authenticate"].startswith('Basic realm="citizendata"')
    # wrong passwords are counted like any log-in: the sixth try is refused before checking
    codes = [requests.get(url, auth=("mallory", "wrong"), timeout=30).status_code
             for _ in range(6)]
    assert codes == [401] * 5 + [429]


def test_repeat_pages_follow_next_links_without_gaps_or_repeats(
        server: tuple[str, Workspace, str]) -> None:
    base, _, _ = server
    auth = ("amina", "amina-password")
    url: str | None = f"{base}{SVC}/Submissions.births?$top=5&$count=true"
    seen: list[str] = []
    pages = 0
    while url:
        doc = requests.get(url, auth=auth, timeout=30).json()
        assert doc["@odata.count"] == 16
        seen += [r["__id"] for r in doc["value"]]
        url = doc.get("@odata.nextLink")
        pages += 1
    assert pages == 4 and len(seen) == len(set(seen)) == 16
    skipped = requests.get(f"{base}{SVC}/Submissions.births", auth=auth, timeout=30,
                           params={"$skip": "14"}).json()
    assert [r["__id"] for r in skipped["value"]] == seen[14:]
