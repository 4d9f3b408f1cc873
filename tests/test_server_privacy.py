"""Protection through the JSON API and the CLI: policy, consent withdrawal, DP budget, microdata."""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from citizendata.cli import app as cli_app
from citizendata.server.app import create_app
from citizendata.workspace import Workspace
from conftest import file_settings
from test_server_estimation import FORM, ROWS

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message="Using `httpx` with", category=UserWarning)
    from fastapi.testclient import TestClient

SPEC: dict[str, Any] = {
    "slug": "water-dp",
    "name": "Water points, privately",
    "initiator": {"slug": "water-youth", "name": "Water Youth Group"},
    "validation": {"analytics": "all_but_rejected"},
    "estimation": {"indicators": [
        {"id": "working", "form": "water_point", "kind": "proportion",
         "numerator": "${working} = 'yes'", "scale": 100, "disaggregations": [["ward"]]}]},
    "protection": {
        "dp": {"enabled": True, "epsilon": 1.0, "budget_epsilon": 1.5},
        "microdata": {"k": 5, "l": 1, "quasi_identifiers": ["ward"], "sensitive": ["working"]},
    },
}
BASE = "/api/v1/projects/water-dp"


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """Twenty water points, an owner and an analyst with their tokens."""
    root = tmp_path_factory.mktemp("dp")
    ws = Workspace(file_settings(root))
    owner = ws.create_admin("amina", "amina-password")
    owner.create_project(SPEC)
    owner.add_form("water-dp", FORM, "water.xlsx")
    owner.create_user("wanjiku", "wanjiku-password")
    owner.add_member("water-dp", "wanjiku", "analyst")
    subs = [{"meta": {"instanceID": f"uuid:w{i:02d}"}, "ward": w, "working": k, "households": h}
            for i, (w, k, h) in enumerate(ROWS)]
    owner.submit("water-dp", "water_point", json.dumps(subs).encode())
    tokens = {n: ws.login(n, f"{n}-password").create_token("t") for n in ("amina", "wanjiku")}
    ws.close()
    return root, tokens


@pytest.fixture
def http(built: tuple[Path, dict[str, str]]) -> Iterator[TestClient]:
    """A test client on the module's workspace."""
    with TestClient(create_app(settings=file_settings(built[0]))) as client:
        yield client


def auth(built: tuple[Path, dict[str, str]], who: str) -> dict[str, str]:
    """The Authorization header of one user."""
    return {"Authorization": f"Bearer {built[1][who]}"}


def test_policy_and_dp_budget_over_the_api(http: TestClient, built: Any) -> None:
    policy = http.get(f"{BASE}/protection", headers=auth(built, "wanjiku")).json()
    assert policy["tables"]["threshold"] == 5 and policy["dp"]["enabled"]
    r = http.post(f"{BASE}/indicators/working/dp-estimate", params={"label": "v1", "by": "ward"},
                  headers=auth(built, "wanjiku"))
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["epsilon"] == 1.0 and body["noise_scale"] > 0
    assert {e["ward"] for e in body["estimates"]} == {"_T", "kibera", "mathare", "_U"}
    again = http.post(f"{BASE}/indicators/working/dp-estimate", params={"label": "v2"},
                      headers=auth(built, "wanjiku"))
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "privacy.budget_exceeded"
    budget = http.get(f"{BASE}/privacy-budget", headers=auth(built, "wanjiku")).json()
    assert budget["spent"]["epsilon"] == 1.0 and budget["remaining"]["epsilon"] == 0.5


def test_consent_withdrawal_over_the_api_needs_an_owner(http: TestClient, built: Any) -> None:
    url = f"{BASE}/forms/water_point/submissions/uuid:w00/consent-withdrawal"
    r = http.post(url, json={"scopes": ["all"]}, headers=auth(built, "wanjiku"))
    assert r.status_code == 403
    r = http.post(url, json={"scopes": ["all"]}, headers=auth(built, "amina"))
    assert r.status_code == 201, r.text
    again = http.post(url, json={}, headers=auth(built, "amina"))
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "consent.already_withdrawn"
    listed = http.get(f"{BASE}/consent-withdrawals", headers=auth(built, "amina")).json()
    assert [w["instance_id"] for w in listed["withdrawals"]] == ["uuid:w00"]
    est = http.post(f"{BASE}/indicators/working/estimate", headers=auth(built, "wanjiku")).json()
    assert est["total"]["n"] == 19


def test_cli_consent_budget_and_microdata(built: Any, tmp_path: Path) -> None:
    root, _ = built
    ws = ["--workspace", str(root / "ws")]
    r = CliRunner().invoke(cli_app, ["consent", "withdraw", "water-dp", "water_point",
                                     "uuid:w01", "--scope", "publication", *ws])
    assert r.exit_code == 0, r.output
    assert "withdrawn for publication" in r.output
    r = CliRunner().invoke(cli_app, ["consent", "list", "water-dp", *ws],
                           env={"COLUMNS": "160"})
    assert "uuid:w01" in r.output and "publication" in r.output
    r = CliRunner().invoke(cli_app, ["privacy", "budget", "water-dp", *ws],
                           env={"COLUMNS": "160"})
    assert r.exit_code == 0 and "budget ε 1.5" in r.output
    out = tmp_path / "public.csv"
    r = CliRunner().invoke(cli_app, ["microdata", "water-dp", "water_point", str(out), *ws],
                           env={"COLUMNS": "200"})
    assert r.exit_code == 0, r.output
    header = out.read_text().splitlines()[0].split(",")
    assert set(header) == {"ward", "working"}
    # whoever withdrew (w01 here, w00 too if the API test ran) is not in the public file
    gone = CliRunner().invoke(cli_app, ["consent", "list", "water-dp", "--json", *ws])
    withdrawn = {w["instance_id"] for w in json.loads(gone.output)}
    assert "uuid:w01" in withdrawn
    assert len(out.read_text().splitlines()) - 1 == 20 - len(withdrawn)


def test_quality_record_attestation_and_decision_over_the_api(http: TestClient,
                                                              built: Any) -> None:
    r = http.get(f"{BASE}/quality", params={"indicator": "working"},
                 headers=auth(built, "wanjiku"))
    assert r.status_code == 200, r.text
    body = r.json()
    assert {d["key"] for d in body["scorecard"]["dimensions"]} >= {"relevance", "inclusion"}
    assert body["recommendation"]["recommendation"] in ("integrate", "publish_alongside",
                                                        "stand_alone")
    page = http.get(f"{BASE}/quality/statement.html", headers=auth(built, "wanjiku"))
    assert page.status_code == 200 and page.text.lstrip().startswith("<section")
    assert "https://" not in page.text and "<script" not in page.text
    att = {"subject": "accessibility_clarity", "rating": "high",
           "statement": "read back at the ward meeting"}
    assert http.post(f"{BASE}/quality/attestations", json=att,
                     headers=auth(built, "wanjiku")).status_code == 403
    ok = http.post(f"{BASE}/quality/attestations", json=att, headers=auth(built, "amina"))
    assert ok.status_code == 201 and ok.json()["by"] == "amina"
    # the fitness decision is the statistical office's: not even the owner's
    d = http.post(f"{BASE}/quality/decision", json={"decision": "integrate", "reason": "x"},
                  headers=auth(built, "amina"))
    assert d.status_code == 403
