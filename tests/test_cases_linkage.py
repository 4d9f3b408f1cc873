"""Cases end to end on the Colombia scenario (small scale): import, verify, link, review.

One workspace for the module (building it imports six lists and verifies FLIP's
backlog); tests that change it put every change back.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass

import pandas as pd
import pytest

from citizendata.auth import Actor
from citizendata.errors import BadInput, Forbidden, NotFound
from citizendata.scenarios import colombia_press_freedom as cpf
from citizendata.workspace import Client, Workspace
from conftest import file_settings

SCALE = 0.1


@dataclass
class World:
    ws: Workspace
    owner: Client
    validator: Client
    analyst: Client
    collector: Client
    scenario: cpf.ColombiaScenario
    slug: str
    ids: dict[str, str]  # key -> instance id


def _member(ws: Workspace, owner: Client, slug: str, name: str, role: str) -> Client:
    info = owner.create_user(name, f"{name}-password-long")
    owner.add_member(slug, name, role)
    return Client(ws, Actor(info.id, name))


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    sc = cpf.generate(seed=2016, scale=SCALE)
    ws = Workspace(file_settings(tmp_path_factory.mktemp("casos")))
    owner = ws.create_admin("owner", "owner-password")
    spec = cpf.spec_dict()
    # imported lists arrive as received: analysis takes every record not rejected
    spec["validation"] = {"analytics": "all_but_rejected"}
    owner.create_project(spec)
    slug = spec["slug"]
    owner.add_form(slug, cpf.form_xlsx(), "form.xlsx")
    for name, frame in sc.files.items():
        owner.import_case_list(slug, name, frame.to_csv(index=False).encode(),
                               filename=f"{name}.csv")
    rows = owner.cases(slug, limit=1000)["rows"]
    ids = {r["key"]: r["instance_id"] for r in rows}
    validator = _member(ws, owner, slug, "camila", "validator")
    verified = sc.backlog[sc.backlog["status"] == "verified"]["record_id"]
    codes = ["two_sources", "victim_work", "act_16_10_1", "date_place"]
    for rid in verified:
        validator.verify_case(slug, ids[f"flip:{rid}"], "verified", criteria=codes,
                              evidence="Acta de verificación")
    try:
        yield World(ws, owner, validator, _member(ws, owner, slug, "andres", "analyst"),
                    _member(ws, owner, slug, "laura", "collector"), sc, slug, ids)
    finally:
        ws.close()


def _names(sc: cpf.ColombiaScenario) -> list[str]:
    """Every name part of the scenario's records longer than 3 letters (no stop words)."""
    parts = pd.concat([sc.records["victim_given_names"], sc.records["victim_surnames"]])
    words = {w for v in parts.dropna() for w in str(v).split() if len(w) > 3}
    return sorted(words - {"del", "de", "la", "los", "las"})


def test_the_linked_records_are_the_ones_analysis_may_use(world: World) -> None:
    got = world.validator.link_cases(world.slug)
    sc = world.scenario
    n_verified = int((sc.backlog["status"] == "verified").sum())
    others = int((sc.records["source"] != "flip").sum())
    assert got["records"] == others + n_verified
    assert got["by_list"]["flip"] == n_verified
    assert got["excluded"]["not_verified"] == len(sc.backlog) - n_verified
    # every record of a true event is in one victim at most: fewer victims than records,
    # and not fewer than the true victim-events the lists captured
    captured = sc.records.loc[sc.records["source"] != "flip", "_event_id"].nunique()
    assert captured <= got["clusters"] < got["records"]
    text = json.dumps(got, ensure_ascii=False)
    assert not [n for n in _names(sc) if n in text]


def test_a_clerical_decision_changes_the_victims_and_is_undone(world: World) -> None:
    base = world.validator.link_cases(world.slug)["clusters"]
    # two records of different true events, far apart: never linked by the model
    recs = world.scenario.records
    a = recs[recs["source"] == "fiscalia"].iloc[0]
    b = recs[(recs["source"] == "somos") & (recs["_event_id"] != a["_event_id"])].iloc[0]
    left, right = f"fiscalia:{a['record_id']}", f"somos:{b['record_id']}"
    got = world.validator.decide_link(world.slug, right, left, "match", note="misma persona")
    assert (got["left_key"], got["right_key"]) == (left, right)  # one spelling of a pair
    assert world.validator.link_cases(world.slug)["clusters"] == base - 1
    world.validator.decide_link(world.slug, left, right, "non_match")
    assert world.validator.link_cases(world.slug)["clusters"] == base
    history = world.owner.link_decisions(world.slug)
    assert [h["decision"] for h in history[-2:]] == ["match", "non_match"]
    with pytest.raises(BadInput):
        world.validator.decide_link(world.slug, left, right, "same")
    with pytest.raises(NotFound):
        world.validator.decide_link(world.slug, left, "somos:NO-EXISTE", "match")
    with pytest.raises(Forbidden):
        world.analyst.decide_link(world.slug, left, right, "match")


def test_the_review_queue_shows_names_only_to_those_who_may_see_them(world: World) -> None:
    got = world.validator.link_review_queue(world.slug, limit=5)
    assert got["personal"] and got["total"] >= len(got["pairs"])
    for p in got["pairs"]:
        assert 0.5 <= p["match_probability"] < 0.95
        assert "victim_surnames" in p["left"] and "victim_surnames" in p["right"]
    with pytest.raises(Forbidden):
        world.analyst.link_review_queue(world.slug)
    with pytest.raises(Forbidden):
        world.collector.link_cases(world.slug)
