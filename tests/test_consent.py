"""Consent scopes and withdrawal end to end, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from typing import Any

import pytest

from citizendata.errors import BadInput, Conflict, Forbidden, NotFound
from citizendata.projects.spec import ProjectSpec
from citizendata.workspace import Client
from conftest import SPEC

ESTIMATION: dict[str, Any] = {
    "indicators": [{"id": "skilled", "form": "household", "unit": "births", "kind": "proportion",
                    "numerator": "selected(${attendants}, 'doctor') or "
                                 "selected(${attendants}, 'nurse')"}],
}
# the estimation tests look at exact numbers: let every cell through
OPEN_TABLES: dict[str, Any] = {"tables": {"threshold": 1, "dominance": None}}


def woman(i: int, ward: str, attendants: str, consent: str = "yes") -> dict[str, Any]:
    """One woman with one birth."""
    return {"meta": {"instanceID": f"uuid:w{i}"}, "consent": consent, "age": 30,
            "respondent": f"Secret Name {i}", "location": {"ward": ward}, "n_births": 1,
            "births": [{"place": "facility", "attendants": attendants}]}


def setup(owner: Client, protection: dict[str, Any], women: list[dict[str, Any]]) -> None:
    """Give the project its indicator and policy, and approve every woman."""
    owner.update_project(ProjectSpec.model_validate(
        {**SPEC, "estimation": ESTIMATION, "protection": protection}))
    owner.submit("test-project", "household", json.dumps(women).encode())
    owner.decide("test-project", "household", [w["meta"]["instanceID"] for w in women], "approved")


# 10 women: 7 attended by a doctor or nurse
TEN = [woman(i, "magadi" if i < 5 else "ewuaso", "doctor" if i < 7 else "tba") for i in range(10)]


def test_withdrawal_removes_a_person_from_later_snapshots_and_estimates(owner: Client) -> None:
    setup(owner, OPEN_TABLES, TEN)
    before = owner.estimate("test-project", "skilled")
    assert before.total()["value"] == pytest.approx(0.7) and before.total()["n"] == 10

    info = owner.withdraw_consent("test-project", "household", "uuid:w0")
    assert info["scopes"] == ["all"] and not info["erased"]

    snap = owner.open_snapshot("test-project", "household")
    ids = set(snap.table().execute()["_instance_id"])
    assert "uuid:w0" not in ids and len(ids) == 9
    after = owner.estimate("test-project", "skilled")
    assert after.total()["n"] == 9 and after.total()["value"] == pytest.approx(6 / 9)
    assert after.provenance["consent"]["withdrawn"] == 1
    # what was already produced is not silently changed
    runs = owner.estimate_runs("test-project", indicator="skilled")
    assert [r["result"]["total"]["n"] for r in runs] == [9, 10]
    events = [e for e in owner.audit_log("test-project") if e["action"] == "consent.withdraw"]
    assert events and events[0]["object_id"] == "uuid:w0"
    assert "Secret" not in json.dumps(events)
    assert owner.consent_withdrawals("test-project")[0]["instance_id"] == "uuid:w0"


def test_withdrawal_errors_are_coded(owner: Client) -> None:
    setup(owner, OPEN_TABLES, TEN)
    owner.withdraw_consent("test-project", "household", "uuid:w1")
    with pytest.raises(Conflict) as e:
        owner.withdraw_consent("test-project", "household", "uuid:w1")
    assert e.value.code == "consent.already_withdrawn"
    with pytest.raises(NotFound) as nf:
        owner.withdraw_consent("test-project", "household", "uuid:nobody")
    assert nf.value.code == "consent.unknown_submission"
    with pytest.raises(BadInput) as bad:
        owner.withdraw_consent("test-project", "household", "uuid:w2", scopes=["marketing"])
    assert bad.value.code == "consent.invalid_scope"


def test_withdrawing_publication_only_keeps_the_person_in_analysis(owner: Client) -> None:
    setup(owner, OPEN_TABLES, TEN)
    owner.withdraw_consent("test-project", "household", "uuid:w9", scopes=["publication"])
    assert owner.estimate("test-project", "skilled", store=False).total()["n"] == 10
    published = owner.estimate("test-project", "skilled", store=False, purpose="publication")
    assert published.total()["n"] == 9
    with pytest.raises(BadInput):
        owner.estimate("test-project", "skilled", store=False, purpose="advertising")


def test_consent_scope_comes_from_the_form(owner: Client) -> None:
    women = [*TEN, woman(10, "magadi", "doctor", consent="no")]
    setup(owner, {**OPEN_TABLES, "consent": {"field": "consent",
                                             "mapping": {"yes": "analysis publication"},
                                             "default": []}}, women)
    r = owner.estimate("test-project", "skilled", store=False)
    assert r.total()["n"] == 10 and r.provenance["consent"]["field"] == "consent"
    # nobody granted sharing with the NSO in this form
    with pytest.raises(BadInput) as e:
        owner.estimate("test-project", "skilled", store=False, purpose="nso_sharing")
    assert e.value.code == "indicator.empty"


def test_erasure_wipes_the_answers_and_keeps_the_envelope(owner: Client) -> None:
    setup(owner, OPEN_TABLES, TEN)
    owner.withdraw_consent("test-project", "household", "uuid:w3", erase=True)
    sub = owner.submission("test-project", "household", "uuid:w3")
    assert "Secret Name 3" not in json.dumps(sub) and sub["instance_id"] == "uuid:w3"
    assert owner.estimate("test-project", "skilled", store=False).total()["n"] == 9


def test_only_owners_and_managers_record_withdrawals(owner: Client) -> None:
    setup(owner, OPEN_TABLES, TEN)
    owner.create_user("ana", "analyst-password-1")
    owner.add_member("test-project", "ana", "analyst")
    analyst = owner.workspace.as_user("ana")
    with pytest.raises(Forbidden):
        analyst.withdraw_consent("test-project", "household", "uuid:w0")
    owner.withdraw_consent("test-project", "household", "uuid:w0")
    # the analyst no longer sees her submission at all; the owner still does
    total, rows = analyst.submissions("test-project", "household")
    assert total == 9 and "uuid:w0" not in {r["instance_id"] for r in rows}
    with pytest.raises(NotFound):
        analyst.submission("test-project", "household", "uuid:w0")
    assert owner.submissions("test-project", "household")[0] == 10
    with pytest.raises(Forbidden):
        analyst.estimate("test-project", "skilled", protect=False)
