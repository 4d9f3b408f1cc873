"""The cases API under /api/v1/projects/{slug}/cases and /linkage (JSON, coded errors)."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest

from cases_kit import case_form, cases_spec
from citizendata.auth import Actor
from citizendata.server.app import create_app
from citizendata.server.contract import route_statuses
from citizendata.workspace import Client, Workspace
from conftest import file_settings

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message="Using `httpx` with", category=UserWarning)
    from fastapi.testclient import TestClient

S = "casos"
API = f"/api/v1/projects/{S}"
FLIP = (
    "record_id,victim_given_names,victim_surnames,victim_sex,victim_age,victim_role,violation,"
    "event_date,department,municipality,perpetrator\n"
    "R1,Maria Jose,Gomez,female,34,journalist,killing,2019-02-04,05,05001,armed_group\n"
    "R2,Ana,Ruiz Salas,female,29,journalist,arbitrary_detention,2022-05-09,19,19001,state_agent\n"
)
MEDIOS = FLIP.replace("R1,Maria Jose", "M1,María José").replace("R2,Ana", "M2,Ana")


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    root = tmp_path_factory.mktemp("cases-api")
    ws = Workspace(file_settings(root))
    owner = ws.create_admin("owner", "owner-password")
    owner.create_project(cases_spec())
    owner.add_form(S, case_form(), "cases.xlsx")
    tokens = {"owner": owner.create_token("t")}
    for name, role in (("validator", "validator"), ("analyst", "analyst"),
                       ("collector", "collector"), ("outsider", None)):
        info = owner.create_user(name, f"{name}-password")
        if role:
            owner.add_member(S, name, role)
        tokens[name] = Client(ws, Actor(info.id, name)).create_token("t")
    ws.close()
    return root, tokens


@pytest.fixture
def api(template: tuple[Path, dict[str, str]], tmp_path: Path) -> Iterator[TestClient]:
    import shutil

    shutil.copytree(template[0] / "ws", tmp_path / "ws")
    ws = Workspace(file_settings(tmp_path))
    with TestClient(create_app(ws)) as c:
        yield c
    ws.close()


def h(template: tuple[Path, dict[str, str]], who: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {template[1][who]}"}


def test_import_verify_and_read_through_the_api(api: TestClient,
                                                template: tuple[Path, dict[str, str]]) -> None:
    owner, val = h(template, "owner"), h(template, "validator")
    url = f"{API}/cases/lists/flip/import"
    r = api.post(url, params={"filename": "flip.csv"}, content=FLIP.encode(), headers=owner)
    assert r.status_code == 201 and r.json()["imported"] == 2, r.text
    r = api.post(url, files={"file": ("flip.csv", FLIP.encode(), "text/csv")}, headers=owner)
    assert r.status_code == 200 and r.json()["unchanged"] == 2
    r = api.post(url, params={"filename": "flip.csv"}, headers=owner,
                 content=FLIP.replace("Ruiz Salas", "Ruiz").encode())
    assert r.status_code == 409 and r.json()["error"]["where"]["row"] == 3
    assert "Ruiz" not in r.text
    r = api.post(f"{API}/cases/lists/medios/import", params={"filename": "m.csv"},
                 content=MEDIOS.replace("2019-02-04", "04/02/2019").encode(), headers=owner)
    err = r.json()["error"]
    assert r.status_code == 422 and err["code"] == "cases.invalid"
    assert err["problems"][0]["where"] == {"file": "m.csv", "row": 2, "column": "event_date"}
    rows = api.get(f"{API}/cases", params={"list": "flip"}, headers=val).json()["rows"]
    r1 = next(x for x in rows if x["key"] == "flip:R1")
    assert r1["victim_surnames"] == "Gomez"
    analyst = api.get(f"{API}/cases", headers=h(template, "analyst")).json()
    assert analyst["total"] == 2 and "Gomez" not in str(analyst)
    body = {"decision": "verified", "criteria": ["identity", "role"], "evidence": "acta 12"}
    iid = r1["instance_id"]
    r = api.post(f"{API}/cases/{iid}/verification", json=body, headers=val)
    assert r.status_code == 201 and r.json()["status"] == "verified", r.text
    r = api.post(f"{API}/cases/{iid}/verification", json=body, headers=h(template, "collector"))
    assert r.status_code == 403
    r = api.post(f"{API}/cases/{iid}/verification", json=body, headers=h(template, "outsider"))
    assert r.status_code == 404
    r = api.post(f"{API}/cases/{iid}/verification", json={**body, "criteria": ["role"]},
                 headers=val)
    assert r.status_code == 422 and r.json()["error"]["code"] == "verification.invalid"
    hist = api.get(f"{API}/cases/{iid}/verification", headers=h(template, "analyst")).json()
    assert hist["status"] == "verified" and "evidence" not in hist["history"][0]


def test_pair_decisions_through_the_api(api: TestClient,
                                        template: tuple[Path, dict[str, str]]) -> None:
    owner, val = h(template, "owner"), h(template, "validator")
    for name, text in (("flip", FLIP), ("medios", MEDIOS)):
        api.post(f"{API}/cases/lists/{name}/import", params={"filename": f"{name}.csv"},
                 content=text.encode(), headers=owner)
    body = {"left_key": "medios:M1", "right_key": "flip:R1", "decision": "match"}
    r = api.post(f"{API}/linkage/decisions", json=body, headers=val)
    assert r.status_code == 201 and r.json()["left_key"] == "flip:R1"
    # flip:R1 = medios:M1 and medios:M1 = flip:R2 decided: R1 and R2 cannot be apart
    api.post(f"{API}/linkage/decisions", headers=val,
             json={"left_key": "medios:M1", "right_key": "flip:R2", "decision": "match"})
    r = api.post(f"{API}/linkage/decisions", headers=val,
                 json={"left_key": "flip:R1", "right_key": "flip:R2", "decision": "non_match"})
    assert r.status_code == 422 and r.json()["error"]["code"] == "linkage.review_invalid"
    r = api.post(f"{API}/linkage/decisions", json=body, headers=h(template, "analyst"))
    assert r.status_code == 403
    got = api.get(f"{API}/linkage/decisions", headers=val).json()
    assert [d["decision"] for d in got] == ["match", "match"]


def test_every_cases_route_declares_what_it_answers(api: TestClient) -> None:
    from fastapi.routing import APIRoute

    def walk(routes: list[object]) -> Iterator[APIRoute]:
        for r in routes:
            inner = getattr(r, "original_router", None)
            if inner is not None:
                yield from walk(inner.routes)
            elif isinstance(r, APIRoute):
                yield r

    prefix = API.replace(S, "{slug}")
    routes = [r for r in walk(api.app.routes)  # type: ignore[attr-defined]
              if r.path.startswith((f"{prefix}/cases", f"{prefix}/linkage"))]
    assert len(routes) == 10
    for r in routes:
        method = next(iter(r.methods))
        statuses = route_statuses(r, method, r.path)
        assert {401, 403, 404} <= statuses, r.path
    imp = next(r for r in routes if r.path.endswith("/import"))
    assert {200, 201, 409, 413, 422} <= route_statuses(imp, "POST", imp.path)
