"""Reference tables and estimate runs on both storage backends (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from citizendata.errors import Conflict
from citizendata.projects.spec import ProjectSpec
from citizendata.workspace import Client
from conftest import SPEC

ESTIMATION: dict[str, Any] = {
    "weighting": {"household": {"reference": "census", "margins": [["ward"]]}},
    "indicators": [{"id": "skilled", "form": "household", "unit": "births", "kind": "proportion",
                    "numerator": "selected(${attendants}, 'doctor') or "
                                 "selected(${attendants}, 'nurse')"}],
}


def woman(i: int, ward: str, attendants: str) -> dict[str, Any]:
    """One consenting woman with one birth."""
    return {"meta": {"instanceID": f"uuid:s{i}"}, "consent": "yes", "age": 30,
            "location": {"ward": ward}, "n_births": 1,
            "births": [{"place": "facility", "attendants": attendants}]}


@pytest.fixture
def analysed(owner: Client) -> Client:
    """Four women (two per ward), all approved, and a census of 100 and 300 women."""
    # four women: let every cell through the threshold to see the numbers
    spec = ProjectSpec.model_validate({**SPEC, "estimation": ESTIMATION,
                                       "protection": {"tables": {"threshold": 1}}})
    owner.update_project(spec)
    subs = [woman(1, "magadi", "doctor"), woman(2, "magadi", "tba"),
            woman(3, "ewuaso", "nurse"), woman(4, "ewuaso", "doctor tba")]
    owner.submit("test-project", "household", json.dumps(subs).encode())
    owner.decide("test-project", "household", [f"uuid:s{i}" for i in range(1, 5)], "approved")
    owner.add_reference_table("test-project", "census", b"ward,population\nmagadi,100\newuaso,300\n",
                              kind="margins", note="test census")
    return owner


def test_weighted_estimate_is_kept_with_its_provenance(analysed: Client) -> None:
    r = analysed.estimate("test-project", "skilled")
    # weights 50 (magadi) and 150 (ewuaso): (50*1 + 50*0 + 150*1 + 150*1) / 400
    assert r.total()["value"] == pytest.approx(0.875)
    assert r.weighting is not None and r.weighting["converged"]
    runs = analysed.estimate_runs("test-project", indicator="skilled")
    assert runs[0]["result"]["total"]["value"] == pytest.approx(0.875)
    census = analysed.reference_tables("test-project")[0]
    assert runs[0]["result"]["provenance"]["references"] == {"census": census["sha256"]}
    assert any(e["action"] == "estimate.run" for e in analysed.audit_log("test-project"))


def test_reference_table_replace_and_conflict(analysed: Client) -> None:
    with pytest.raises(Conflict):
        analysed.add_reference_table("test-project", "census", b"ward,population\nmagadi,1\n")
    info = analysed.add_reference_table("test-project", "census",
                                        b"ward;population\nmagadi;100\newuaso;100\n", replace=True)
    assert info["rows"] == 2 and info["columns"] == ["ward", "population"]
    # equal census counts: weights 50 everywhere, so the plain share of skilled births
    assert analysed.estimate("test-project", "skilled", store=False).total()["value"] == \
        pytest.approx(0.75)
