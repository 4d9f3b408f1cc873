"""Every outgoing estimate passes the project's protection: suppression, DP with a budget."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd
import pytest

from citizendata.errors import BadInput, Conflict
from citizendata.privacy.attack import attack
from citizendata.privacy.outputs import rollup_hierarchies
from citizendata.privacy.structure import TableStructure
from citizendata.projects.spec import ProjectSpec
from citizendata.workspace import Client
from conftest import SPEC

GEOGRAPHY = b"ward,county\nmagadi,kajiado\newuaso,kajiado\n"
ESTIMATION: dict[str, Any] = {
    "derived": {"county_of_ward": {"kind": "rollup", "field": "ward", "geography": "geography",
                                   "level": "county"},
                "age_group": {"kind": "age_group", "field": "age", "scheme": "custom",
                              "breaks": [15, 25, 35]}},
    "indicators": [
        {"id": "consented", "form": "household", "kind": "proportion",
         "numerator": "${consent} = 'yes'", "scale": 100,
         "disaggregations": [["ward", "age_group"], ["county_of_ward"]]},
        {"id": "skilled", "form": "household", "unit": "births", "kind": "proportion",
         "numerator": "selected(${attendants}, 'doctor')"},
    ],
}


def women(n_magadi: int, n_ewuaso: int) -> list[dict[str, Any]]:
    """Women of three age groups in two wards; every fourth did not consent."""
    out = []
    for i in range(n_magadi + n_ewuaso):
        out.append({"meta": {"instanceID": f"uuid:x{i}"}, "consent": "no" if i % 4 == 3 else "yes",
                    "age": (18, 28, 40)[i % 3], "respondent": f"Name {i}",
                    "location": {"ward": "magadi" if i < n_magadi else "ewuaso"},
                    "n_births": 1, "births": [{"place": "home", "attendants": "doctor"}]})
    return out


def setup(owner: Client, protection: dict[str, Any], n_magadi: int = 40, n_ewuaso: int = 13
          ) -> None:
    """A project whose Ewuaso ward is small, with its geography and approved submissions."""
    owner.update_project(ProjectSpec.model_validate(
        {**SPEC, "estimation": ESTIMATION, "protection": protection}))
    owner.add_reference_table("test-project", "geography", GEOGRAPHY, kind="geography")
    subs = women(n_magadi, n_ewuaso)
    owner.submit("test-project", "household", json.dumps(subs).encode())
    owner.decide("test-project", "household", [s["meta"]["instanceID"] for s in subs], "approved")


def test_estimates_are_protected_by_default(owner: Client) -> None:
    setup(owner, {})
    r = owner.estimate("test-project", "consented")
    t = r.table
    assert {"conf_status", "suppression"} <= set(t.columns)
    small = t[(t["conf_status"] != "F")]
    assert len(small) > 0
    # suppressed cells keep their row but show nothing
    assert small[["value", "se", "ci_low", "ci_high"]].isna().all().all()
    assert small["n_psu"].isna().all()
    assert (t.loc[t["conf_status"] == "F", "n_psu"] >= 5).all()
    assert r.protection is not None and r.protection["secondary"] >= 1
    stored = owner.estimate_runs("test-project", indicator="consented")[0]["result"]
    assert stored["protection"]["primary"] == r.protection["primary"]
    assert all(e["value"] is None for e in stored["estimates"] if e["conf_status"] != "F")


def test_no_suppressed_cell_can_be_recovered_through_the_county_totals(owner: Client) -> None:
    """The attacker knows every published count and that wards add up to counties."""
    setup(owner, {})
    spec = owner.estimation_spec("test-project")
    r = owner.estimate("test-project", "consented", store=False)
    raw = owner.estimate("test-project", "consented", store=False, protect=False)
    geo = pd.read_csv(pd.io.common.BytesIO(GEOGRAPHY))
    work, dims, hier = rollup_hierarchies(raw.table, raw.dims, spec, {"geography": geo})
    assert dims == ["ward", "age_group"] and "ward" in hier
    structure = TableStructure.from_table(work, dims, hier)
    values = np.zeros(structure.n_cells)
    values[structure.positions(work)] = work["n_psu"].to_numpy(float)
    suppressed = np.zeros(structure.n_cells, dtype=bool)
    suppressed[structure.positions(work)] = (r.table["conf_status"] != "F").to_numpy()
    found = attack(structure, values, suppressed)
    primary = np.zeros(structure.n_cells, dtype=bool)
    primary[structure.positions(work)] = (r.table["conf_status"] == "C").to_numpy()
    sens = found[primary[found["position"].to_numpy()]]
    assert len(sens) > 0
    # each primary cell's interval is wider than a single value
    assert ((sens["hi"] - sens["lo"]) >= 1.0).all()


def test_the_threshold_is_configurable(owner: Client) -> None:
    setup(owner, {"tables": {"threshold": 1, "dominance": None}})
    r = owner.estimate("test-project", "consented", store=False)
    assert (r.table["conf_status"] == "F").all()


def test_dp_release_spends_the_budget_and_is_refused_beyond_it(owner: Client) -> None:
    setup(owner, {"dp": {"enabled": True, "epsilon": 1.0, "budget_epsilon": 2.5}})
    rel = owner.dp_estimate("test-project", "consented", label="release v1", by=["ward"])
    t = rel.table
    assert rel.noise_scale if hasattr(rel, "noise_scale") else rel.scale > 0
    assert (t["n"] >= 0).all() and (t["numerator"] >= 0).all()
    assert (t["numerator"] <= t["n"]).all()
    total = t[t["ward"] == "_T"]
    assert int(total["n"].iloc[0]) == int(t.loc[t["ward"] != "_T", "n"].sum())
    assert "dp_noise_sd" in t.columns
    owner.dp_estimate("test-project", "consented", label="release v2", by=["ward"])
    budget = owner.privacy_budget("test-project")
    assert budget["spent"]["epsilon"] == pytest.approx(2.0)
    assert [e["label"] for e in budget["ledger"]] == ["release v1", "release v2"]
    with pytest.raises(Conflict) as e:
        owner.dp_estimate("test-project", "consented", label="release v3", by=["ward"])
    assert e.value.code == "privacy.budget_exceeded"
    assert len(owner.privacy_budget("test-project")["ledger"]) == 2
    # a smaller spend still fits
    owner.dp_estimate("test-project", "consented", label="v3 small", by=["ward"], epsilon=0.5)


def test_dp_refuses_what_it_cannot_protect_without_spending(owner: Client) -> None:
    setup(owner, {"dp": {"enabled": True}})
    with pytest.raises(BadInput) as e:
        owner.dp_estimate("test-project", "skilled", label="births")
    assert "one person must be one row" in e.value.message
    assert owner.privacy_budget("test-project")["ledger"] == []


def test_dp_is_off_unless_the_project_turns_it_on(owner: Client) -> None:
    setup(owner, {})
    with pytest.raises(BadInput):
        owner.dp_estimate("test-project", "consented", label="x")
