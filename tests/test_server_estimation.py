"""Estimation through the JSON API and the CLI: indicators, reference tables, estimates, runs."""

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
from xlsform_builders import make_xlsform

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message="Using `httpx` with", category=UserWarning)
    from fastapi.testclient import TestClient

FORM = make_xlsform(
    [{"type": "select_one ward", "name": "ward", "label": "Ward"},
     {"type": "select_one yn", "name": "working", "label": "Working?"},
     {"type": "integer", "name": "households", "label": "Households served"}],
    [{"list_name": "ward", "name": "kibera", "label": "Kibera"},
     {"list_name": "ward", "name": "mathare", "label": "Mathare"},
     {"list_name": "yn", "name": "yes", "label": "Yes"},
     {"list_name": "yn", "name": "no", "label": "No"}],
    {"form_id": "water_point", "version": "1", "form_title": "Water point"},
)
SPEC: dict[str, Any] = {
    "slug": "nairobi-water",
    "name": "Nairobi water points",
    "initiator": {"slug": "water-youth", "name": "Water Youth Group"},
    "engagement": {"design": {"level": 4}, "collect": {"level": 5}},
    "validation": {"analytics": "all_but_rejected"},
    "estimation": {
        "indicators": [
            {"id": "working", "name": "Water points working", "form": "water_point",
             "kind": "proportion", "numerator": "${working} = 'yes'", "scale": 100,
             "unit_of_measure": "PT", "disaggregations": [["ward"]],
             "benchmark": {"value": 70.0, "se": 2.0, "source": "county survey", "year": 2025}},
            {"id": "households", "form": "water_point", "kind": "mean",
             "numerator": "${households}", "disaggregations": [["ward"]]},
        ],
    },
}
BASE = "/api/v1/projects/nairobi-water"
# Kibera: 8 of 10 working; Mathare: 3 of 10 (hand-countable)
ROWS = [("kibera", "yes" if i < 8 else "no", 10 + i) for i in range(10)] + \
       [("mathare", "yes" if i < 3 else "no", 20 + i) for i in range(10)]


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """A workspace with 20 water points, an owner, a collector and an analyst, and their tokens."""
    root = tmp_path_factory.mktemp("est")
    ws = Workspace(file_settings(root))
    owner = ws.create_admin("amina", "amina-password")
    owner.create_project(SPEC)
    owner.add_form("nairobi-water", FORM, "water.xlsx")
    for name, role in (("otieno", "collector"), ("wanjiku", "analyst")):
        owner.create_user(name, f"{name}-password")
        owner.add_member("nairobi-water", name, role)
    subs = [{"meta": {"instanceID": f"uuid:w{i:02d}"}, "ward": w, "working": k, "households": h}
            for i, (w, k, h) in enumerate(ROWS)]
    owner.submit("nairobi-water", "water_point", json.dumps(subs).encode())
    tokens = {n: ws.login(n, f"{n}-password").create_token("t") for n in ("amina", "otieno", "wanjiku")}
    ws.close()
    return root, tokens


@pytest.fixture
def http(built: tuple[Path, dict[str, str]]) -> Iterator[TestClient]:
    """A test client on the module's workspace."""
    root, _ = built
    with TestClient(create_app(settings=file_settings(root))) as client:
        yield client


def auth(built: tuple[Path, dict[str, str]], who: str) -> dict[str, str]:
    """The Authorization header of one user."""
    return {"Authorization": f"Bearer {built[1][who]}"}


def test_estimate_by_ward_matches_hand_counts_and_wilson(http: TestClient, built: Any) -> None:
    r = http.post(f"{BASE}/indicators/working/estimate", headers=auth(built, "wanjiku"))
    assert r.status_code == 200, r.text
    body = r.json()
    cells = {row["ward"]: row for row in body["estimates"]}
    assert set(cells) == {"_T", "kibera", "mathare"}
    assert cells["kibera"]["value"] == pytest.approx(80.0)
    assert cells["mathare"]["value"] == pytest.approx(30.0)
    assert cells["_T"]["value"] == pytest.approx(55.0)
    # Wilson's interval for 8 of 10 is 0.4902 to 0.9433 (Newcombe 1998, table I)
    assert cells["kibera"]["ci_low"] == pytest.approx(49.02, abs=0.01)
    assert cells["kibera"]["ci_high"] == pytest.approx(94.33, abs=0.01)
    assert cells["kibera"]["se"] == pytest.approx(100 * (0.8 * 0.2 / 10) ** 0.5)
    assert cells["kibera"]["ci_method"] == "wilson" and cells["kibera"]["flag"] == "low_n"
    assert body["weighting"] is None
    coh = body["coherence"]
    assert coh["difference"] == pytest.approx(55.0 - 70.0)
    assert coh["difference_se"] == pytest.approx((cells["_T"]["se"] ** 2 + 4.0) ** 0.5)


def test_mean_and_one_off_disaggregation(http: TestClient, built: Any) -> None:
    r = http.post(f"{BASE}/indicators/households/estimate", headers=auth(built, "wanjiku"),
                  params={"by": ""})
    assert r.status_code == 200, r.text
    (total,) = r.json()["estimates"]
    assert total["value"] == pytest.approx(sum(h for *_, h in ROWS) / 20)
    assert total["ci_method"] == "wald"


def test_runs_are_kept_and_listed(http: TestClient, built: Any) -> None:
    http.post(f"{BASE}/indicators/working/estimate", headers=auth(built, "wanjiku"))
    runs = http.get(f"{BASE}/estimates", params={"indicator": "working"},
                    headers=auth(built, "wanjiku")).json()["runs"]
    assert runs and runs[0]["indicator"] == "working"
    assert runs[0]["result"]["provenance"]["snapshot"]


def test_indicators_are_listed(http: TestClient, built: Any) -> None:
    body = http.get(f"{BASE}/indicators", headers=auth(built, "wanjiku")).json()
    assert [i["id"] for i in body["indicators"]] == ["working", "households"]


def test_collector_cannot_estimate_and_unknown_indicator_is_404(http: TestClient,
                                                                built: Any) -> None:
    r = http.post(f"{BASE}/indicators/working/estimate", headers=auth(built, "otieno"))
    assert r.status_code == 403 and r.json()["error"]["code"] == "auth.forbidden"
    r = http.post(f"{BASE}/indicators/nope/estimate", headers=auth(built, "wanjiku"))
    assert r.status_code == 404 and r.json()["error"]["code"] == "indicator.unknown"
    r = http.post(f"{BASE}/indicators/working/estimate", headers=auth(built, "wanjiku"),
                  params={"by": "colour"})
    assert r.status_code == 422 and r.json()["error"]["code"] == "indicator.unknown_dimension"


def test_reference_tables_put_list_and_conflict(http: TestClient, built: Any) -> None:
    csv = b"ward,population\nkibera,1200\nmathare,900\n"
    r = http.put(f"{BASE}/reference-tables/census", content=csv, params={"kind": "margins"},
                 headers=auth(built, "amina"))
    assert r.status_code == 200, r.text
    assert r.json()["rows"] == 2 and r.json()["columns"] == ["ward", "population"]
    again = http.put(f"{BASE}/reference-tables/census", content=csv, headers=auth(built, "amina"))
    assert again.json()["sha256"] == r.json()["sha256"]
    other = http.put(f"{BASE}/reference-tables/census", content=b"ward,population\nkibera,1\n",
                     headers=auth(built, "amina"))
    assert other.status_code == 409 and other.json()["error"]["code"] == "conflict.exists"
    listed = http.get(f"{BASE}/reference-tables", headers=auth(built, "wanjiku")).json()
    assert [t["name"] for t in listed["reference_tables"]] == ["census"]
    r = http.put(f"{BASE}/reference-tables/x", content=csv, headers=auth(built, "wanjiku"))
    assert r.status_code == 403


def test_cli_estimate_prints_a_table_and_writes_csv(built: Any, tmp_path: Path) -> None:
    root, _ = built
    out = tmp_path / "est.csv"
    result = CliRunner().invoke(cli_app, ["estimate", "nairobi-water", "working", "--workspace",
                                          str(root / "ws"), "--as", "wanjiku", "--out", str(out)],
                                env={"COLUMNS": "160"})
    assert result.exit_code == 0, result.output
    assert "kibera" in result.output and "80.0" in result.output
    assert "unweighted" in result.output
    assert out.read_text().splitlines()[0].startswith("indicator,series,unit_measure,ward,value")
    bad = CliRunner().invoke(cli_app, ["estimate", "nairobi-water", "nope", "--workspace",
                                       str(root / "ws"), "--as", "wanjiku"])
    assert bad.exit_code != 0 and "indicator.unknown" in bad.output
