"""The mexico-lgbtiq scenario under its strict policy: intersectional cells, microdata, consent."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest

from citizendata.privacy.attack import attack, check_protection
from citizendata.privacy.microdata import measure
from citizendata.privacy.structure import TableStructure
from citizendata.privacy.suppress import protection_levels
from citizendata.scenarios import mexico_lgbtiq as mx
from citizendata.scenarios.mexico_lgbtiq.workspace import setup_workspace
from citizendata.workspace import Client, Workspace

SLUG, FORM = "mexico-lgbtiq", mx.FORM_ID


def user(ws: Workspace, role: str) -> Client:
    """The scenario's demo user with that role."""
    return ws.as_user(next(u["username"] for u in mx.DEMO_USERS if u["role"] == role))


@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workspace]:
    """The scenario's project with 1,500 approved submissions."""
    data = mx.generate(1500, seed=mx.DEFAULT_SEED)
    ws = setup_workspace(tmp_path_factory.mktemp("mexico-privacy") / "ws",
                         submissions=data.submissions)
    yield ws
    ws.close()


def test_intersectional_cells_are_protected(ws: Workspace) -> None:
    analyst = user(ws, "analyst")
    r = analyst.estimate(SLUG, "discrimination", store=False)
    t = r.table
    assert r.protection is not None and r.protection["rules"]["threshold"] == 10
    published = t[t["conf_status"] == "F"]
    assert (published["n"] >= 10).all()
    # one flag for every hidden cell: an analyst cannot tell the small ones
    assert set(t["conf_status"]) == {"F", "C"} and (t["conf_status"] == "C").sum() >= 6
    assert r.protection_detail is None  # an analyst does not learn which are primary
    hidden = t[t["conf_status"] != "F"]
    assert hidden[["value", "se", "ci_low", "ci_high", "n"]].isna().all().all()


def test_the_attacker_cannot_narrow_any_suppressed_cell(ws: Workspace) -> None:
    """Linear programming over every published count and total, as an intruder would."""
    owner = user(ws, "owner")
    policy = owner.protection_policy(SLUG).tables
    protected = owner.estimate(SLUG, "discrimination", store=False)
    raw = owner.estimate(SLUG, "discrimination", store=False, protect=False)
    dims = raw.dims
    structure = TableStructure.from_table(raw.table, dims)
    pos = structure.positions(raw.table)
    values = np.zeros(structure.n_cells)
    values[pos] = raw.table["n"].to_numpy(float)
    # the proportion times n gives the numerators of published cells: one more table
    numerators = np.zeros(structure.n_cells)
    numerators[pos] = np.rint(raw.table["value"].to_numpy(float) / 100 * values[pos])
    status = np.full(structure.n_cells, "F", dtype=object)
    status[pos] = protected.table["conf_status"].to_numpy()
    lower, upper = protection_levels(values, policy.protection_ratio, policy.protection_minimum)
    known = {"lower": np.minimum(values, 1.0), "numerators": [numerators], "integer": True}
    found = attack(structure, values, status != "F", **known)
    primary = (values > 0) & (values < policy.threshold)
    assert primary.sum() >= 5
    assert check_protection(found, np.minimum(lower, values - 1), upper, cells=primary).empty
    # the naive alternative, primary suppression alone, is broken by the same attacker
    naive = attack(structure, values, primary, **known)
    assert not check_protection(naive, lower, upper, cells=primary).empty


def test_publication_needs_publication_consent(ws: Workspace) -> None:
    analyst = user(ws, "analyst")
    a = analyst.estimate(SLUG, "discrimination", store=False, disaggregations=[])
    p = analyst.estimate(SLUG, "discrimination", store=False, disaggregations=[],
                         purpose="publication")
    assert p.total()["n"] < a.total()["n"]


def test_public_microdata_is_k_anonymous_without_personal_fields(ws: Workspace) -> None:
    analyst = user(ws, "analyst")
    policy = analyst.protection_policy(SLUG).microdata
    data, report = analyst.public_microdata(SLUG, FORM)
    assert not any(c.startswith("_") for c in data.columns)
    for personal in ("narrative", "contact_name", "contact_phone", "gps", "deviceid"):
        assert personal not in data.columns
    risk = measure(data, policy.quasi_identifiers, policy.sensitive, k=policy.k, l=policy.l)
    assert risk.k_reached >= 10 and risk.satisfied
    assert report["risk_before"]["k"] < 10
    assert report["anonymisation"]["share_suppressed"] <= policy.max_suppressed


def test_withdrawal_in_the_scenario(ws: Workspace) -> None:
    owner = user(ws, "owner")

    def n() -> int:
        return int(owner.estimate(SLUG, "discrimination", store=False, disaggregations=[],
                                  protect=False).total()["n"])

    before = n()
    # someone in the denominator: consented to analysis and answered yes or no
    snap = owner.open_snapshot(SLUG, FORM)
    t = snap.table().execute()
    counted = t[(t["consent"] == "yes") & t["discriminated"].isin(["yes", "no"])
                & t["consent_scope__analysis"].fillna(False).astype(bool)]
    who = str(counted["_instance_id"].iloc[0])
    owner.withdraw_consent(SLUG, FORM, who)
    assert n() == before - 1
    assert who not in set(owner.open_snapshot(SLUG, FORM).table().execute()["_instance_id"])
