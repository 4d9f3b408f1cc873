"""Cases end to end on the Colombia scenario (small scale): import, verify, link, review.

One workspace for the module (building it imports six lists and verifies FLIP's
backlog); tests that change it put every change back.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from cases_kit import case_form, cases_spec
from citizendata.auth import Actor
from citizendata.errors import BadInput, Forbidden, NotFound
from citizendata.scenarios import colombia_press_freedom as cpf
from citizendata.workspace import Client, Workspace
from conftest import file_settings
from test_cases import SLUG, _flip

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
    # SparseMSE's stepwise search instead of BIC over all 2^15 models of six lists: the
    # same estimator code, a few seconds less for each stratum
    for est in spec["cases"]["estimates"].values():
        est["selection"] = "stepwise"
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


def test_the_uncounted_killings_are_estimated_near_the_truth(world: World) -> None:
    got = world.analyst.estimate_uncounted(world.slug, "killings")
    truth = world.scenario.truth["series"]["VC_VAW_MTUHRA"]
    table = {r["stratum"]: r for r in got["table"]}
    total = table["_T"]
    assert set(table) == {"2016-2018", "2019-2021", "2022-2024", "_T"}
    assert all(r["conf_status"] == "F" for r in table.values())
    # the documented count is of distinct linked victims: never more than the truth,
    # and the linkage finds nearly every victim the lists captured
    assert truth["documented"] * 0.95 <= total["documented"] <= truth["total"]
    assert sum(r["documented"] for s, r in table.items() if s != "_T") == total["documented"]
    # the estimate adds the uncounted: above the documented count, within 15% of the
    # truth (heterogeneous captures bias two-way log-linear models downwards a little)
    assert total["documented"] <= total["estimate"]
    assert abs(total["estimate"] - truth["total"]) / truth["total"] < 0.15, (total, truth)
    assert total["ci_low"] <= total["estimate"] <= total["ci_high"]
    for period, n in truth["by_period"].items():
        assert table[period]["documented"] <= n
    assert [s["threshold"] for s in got["sensitivity"]] == [0.5, 0.7, 0.9, 0.95, 0.99]
    at_threshold = next(s for s in got["sensitivity"] if s["threshold"] == 0.9)
    assert at_threshold["documented"] == total["documented"]
    assert at_threshold["estimate"] == pytest.approx(total["estimate"], rel=1e-6)
    assert {m["stratum"] for m in got["strata_models"]} == set(table) - {"_T"}
    with pytest.raises(Forbidden):
        world.collector.estimate_uncounted(world.slug, "killings")
    with pytest.raises(BadInput):
        world.analyst.estimate_uncounted(world.slug, "threats")


def test_a_second_visit_reuses_the_estimate_and_a_decision_recomputes(
        world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    from citizendata.integrate import mse

    def visit() -> dict[str, Any]:
        got = dict(world.analyst.estimate_uncounted(world.slug, "killings"))
        got["protection"].pop("seconds")  # the disclosure control's own timing
        return got

    first = visit()
    real = mse.estimate_stratified
    calls: list[int] = []

    def counted(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(mse, "estimate_stratified", counted)
    assert visit() == first
    assert calls == []  # the same histories and settings: kept
    # two killings of different victims declared one: other histories, a new estimate
    recs = world.scenario.records
    kill = recs[recs["violation"] == "killing"]
    a = kill[kill["source"] == "fiscalia"].iloc[0]
    b = kill[(kill["source"] == "somos") & (kill["_event_id"] != a["_event_id"])].iloc[0]
    left, right = f"fiscalia:{a['record_id']}", f"somos:{b['record_id']}"
    world.validator.decide_link(world.slug, left, right, "match", note="misma persona")
    changed = visit()
    assert calls == [1] and changed["table"] != first["table"]
    world.validator.decide_link(world.slug, left, right, "non_match")
    assert visit() == first
    assert calls == [1]  # back to the first histories: kept from the first visit


def test_the_series_and_the_log_carry_no_names(world: World) -> None:
    from citizendata.publish.mse_series import OBS_KIND
    from citizendata.publish.sdmx import check_constraints

    rows = world.analyst.mse_series(world.slug)
    assert check_constraints(rows) == []
    assert set(rows["SERIES"]) == {"VC_VAW_MTUHRA", "VC_VOC_ENFDIS"}
    est = rows[(rows[OBS_KIND] == "estimated") & (rows["SERIES"] == "VC_VAW_MTUHRA")]
    assert list(est["TIME_PERIOD"]) == ["2018", "2021", "2024"]
    assert set(est["NATURE"]) == {"M"} and set(est["OBS_STATUS"]) == {"E"}
    names = _names(world.scenario)
    outputs = [rows.to_csv(), json.dumps(world.analyst.estimate_uncounted(
        world.slug, "disappearances"), ensure_ascii=False),
        json.dumps(world.owner.audit_log(world.slug, limit=1000), default=str,
                   ensure_ascii=False),
        json.dumps(world.analyst.cases(world.slug, limit=1000), ensure_ascii=False)]
    for text in outputs:
        words = set(re.findall(r"\w+", text))
        assert not [n for n in names if n in words]


def test_small_strata_are_hidden_with_their_cover() -> None:
    from citizendata.projects.protection import ProtectionSpec
    from citizendata.services.linkage import protect_estimates

    table = pd.DataFrame({"stratum": ["2016-2018", "2019-2021", "2022-2024", "_T"],
                          "documented": [3, 40, 52, 95],
                          "estimate": [4.1, 48.0, 60.2, 112.3],
                          "ci_low": [3.0, 42.0, 54.0, 101.0],
                          "ci_high": [9.0, 60.0, 70.0, 130.0]})
    out, report = protect_estimates(table, ProtectionSpec())
    hidden = out[out["conf_status"] != "F"]
    assert "2016-2018" in set(hidden["stratum"]) and len(hidden) >= 2
    assert hidden[["documented", "estimate", "ci_low", "ci_high"]].isna().all().all()
    assert report["suppressed"] == len(hidden)
    alone, _ = protect_estimates(table.tail(1).assign(documented=4), ProtectionSpec())
    assert alone.loc[3, "conf_status"] == "C" and alone.loc[3, "estimate"] is None


def test_the_series_is_served_as_sdmx_csv(world: World, tmp_path: Path) -> None:
    import warnings

    from citizendata.publish.sdmx import check_constraints, read_back
    from citizendata.server.app import create_app

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Using `httpx` with", category=UserWarning)
        from fastapi.testclient import TestClient
    token = world.analyst.create_token("series")
    with TestClient(create_app(world.ws)) as http:
        r = http.get(f"/api/v1/projects/{world.slug}/cases/series.csv",
                     params={"kind": "documented"},
                     headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    (tmp_path / "doc.csv").write_text(r.text, encoding="utf-8")
    back = read_back(tmp_path / "doc.csv")
    assert check_constraints(back) == [] and set(back["NATURE"]) == {"C"}
    assert set(back["REF_AREA"]) == {"170"}


def test_a_victim_s_violation_is_the_one_most_of_its_records_name() -> None:
    from citizendata.services.linkage import victim_violation

    recs = pd.DataFrame({"cluster_id": [0, 0, 0, 1, 1, 2],
                         "violation": ["enforced_disappearance", "kidnapping",
                                       "enforced_disappearance", "kidnapping", "killing",
                                       "torture"]})
    got = victim_violation(recs, "violation")
    assert got.to_dict() == {0: "enforced_disappearance", 1: "kidnapping", 2: "torture"}


@pytest.fixture
def small(ws: Workspace) -> Client:
    """The cases kit's project on one backend (both are tested), its owner deciding."""
    me = ws.create_admin("owner", "owner-password")
    me.create_project(cases_spec())
    me.add_form(SLUG, case_form(), "cases.xlsx")
    return me


def test_decisions_on_one_project_lock_it_and_refuse_a_contradiction(
        backend: str, small: Client) -> None:
    # review HIGH-3: on PostgreSQL (READ COMMITTED) two validators could each pass the
    # consistency check and both insert; every decision now locks the project's row first
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    _flip(small)
    seen: list[str] = []

    def spy(conn: Any, cursor: Any, statement: str, *rest: Any) -> None:
        seen.append(" ".join(statement.split()))

    event.listen(Engine, "before_cursor_execute", spy)
    try:
        small.decide_link(SLUG, "fiscalia:F-001", "fiscalia:F-002", "match")
        small.decide_link(SLUG, "fiscalia:F-003", "fiscalia:F-002", "match")
        with pytest.raises(BadInput) as err:
            small.decide_link(SLUG, "fiscalia:F-003", "fiscalia:F-001", "non_match")
    finally:
        event.remove(Engine, "before_cursor_execute", spy)
    assert err.value.code == "linkage.review_invalid"
    assert [d["decision"] for d in small.link_decisions(SLUG)] == ["match", "match"]
    if backend == "postgresql":
        locks = [i for i, s in enumerate(seen) if s.endswith("FOR UPDATE") and "projects" in s]
        inserts = [i for i, s in enumerate(seen) if s.startswith("INSERT INTO link_decisions")]
        assert len(locks) == 3 and len(inserts) == 2
        assert locks[0] < inserts[0] and locks[1] < inserts[1]


def _capture(strata: dict[str, list[tuple[tuple[int, ...], int]]]) -> pd.DataFrame:
    """(list, cluster_id, period) rows: per stratum, n victims captured by each pattern."""
    rows, cid = [], 0
    for period, cells in strata.items():
        for pattern, n in cells:
            for _ in range(n):
                cid += 1
                rows += [{"key": f"{x}:{cid}", "cluster_id": cid, "list": x, "period": period}
                         for x, on in zip("ABCD", pattern, strict=False) if on]
    return pd.DataFrame(rows)


def test_a_period_without_an_estimate_leaves_the_others_shown(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # review MEDIUM-3: lists A and B never overlap in 2022-2024: that period has no
    # estimate, the total neither, but 2016-2018 and 2019-2021 are still estimated
    from citizendata.projects.cases import MSEIndicatorSpec
    from citizendata.services import linkage as svc

    pats = [(1, 0, 0), (0, 1, 0), (1, 1, 0), (0, 0, 1), (1, 0, 1), (0, 1, 1), (1, 1, 1)]
    frame = _capture({"2016-2018": list(zip(pats, [30, 20, 10, 25, 8, 6, 3], strict=True)),
                      "2019-2021": list(zip(pats, [40, 22, 12, 20, 9, 7, 4], strict=True)),
                      "2022-2024": [((1, 0, 0), 3), ((0, 1, 0), 1)]})
    monkeypatch.setattr(svc, "capture_frame", lambda *a: (frame, ["A", "B", "C"]))
    est = MSEIndicatorSpec(series="VC_VAW_MTUHRA", violations=["killing"], strata=["period"])
    rows, total, _ = svc._estimate_at(None, est, None)  # type: ignore[arg-type]
    by = {r["stratum"]: r for r in rows}
    assert by["2016-2018"]["estimate"] > 102 and by["2019-2021"]["estimate"] > 114
    assert by["2022-2024"]["estimate"] is None and "only 2 list(s)" in by["2022-2024"]["note"]
    assert by["2022-2024"]["documented"] == 4
    assert total["estimate"] is None and total["ci"] == [None, None]
    assert "a total needs every stratum" in total["note"] and total["documented"] == 220


@pytest.mark.parametrize("backend", [pytest.param("postgresql", marks=pytest.mark.postgres)])
def test_a_decision_waits_for_another_validator_s_and_sees_it(
        backend: str, database_url: str | None, tmp_path: Path) -> None:
    # review HIGH-3, for real: validator 2 is in the middle of deciding F-002 = F-003 (it
    # holds the project's lock); validator 1's F-001 ≠ F-003 waits, then sees the match
    # and is refused, instead of both being stored under READ COMMITTED
    import threading

    from sqlalchemy import create_engine, select
    from sqlalchemy.orm import Session

    from citizendata.config import Settings
    from citizendata.store.models import LinkDecision, Project

    assert database_url is not None
    ws = Workspace(Settings(workspace=tmp_path / "ws", database_url=database_url, mode="test"))
    engine = create_engine(database_url)
    try:
        owner = ws.create_admin("owner", "owner-password")
        owner.create_project(cases_spec())
        owner.add_form(SLUG, case_form(), "cases.xlsx")
        _flip(owner)
        owner.decide_link(SLUG, "fiscalia:F-001", "fiscalia:F-002", "match")
        got: list[Any] = []

        def decide() -> None:
            try:
                got.append(owner.decide_link(SLUG, "fiscalia:F-001", "fiscalia:F-003",
                                             "non_match"))
            except BadInput as exc:
                got.append(exc)

        with Session(engine) as other:
            pid = other.scalar(select(Project.id).where(Project.slug == SLUG)
                               .with_for_update())
            t = threading.Thread(target=decide)
            t.start()
            t.join(1.0)
            assert t.is_alive() and not got  # waits for the other decision
            other.add(LinkDecision(project_id=pid, left_key="fiscalia:F-002",
                                   right_key="fiscalia:F-003", decision="match", note="",
                                   actor="validator2"))
            other.commit()
        t.join(60)
        assert len(got) == 1 and isinstance(got[0], BadInput)
        assert got[0].code == "linkage.review_invalid"
        assert [d["decision"] for d in owner.link_decisions(SLUG)] == ["match", "match"]
    finally:
        engine.dispose()
        ws.close()


PATS = [(1, 0, 0), (0, 1, 0), (1, 1, 0), (0, 0, 1), (1, 0, 1), (0, 1, 1), (1, 1, 1)]
TWO_PERIODS = {"2016-2018": list(zip(PATS, [30, 20, 10, 25, 8, 6, 3], strict=True)),
               "2019-2021": list(zip(PATS, [40, 22, 12, 20, 9, 7, 4], strict=True))}


def _sensitivity(monkeypatch: pytest.MonkeyPatch, frame: pd.DataFrame, lists: list[str],
                 **est: Any) -> dict[str, Any]:
    """The service's threshold sensitivity at one threshold on the given capture rows."""
    from types import SimpleNamespace

    from citizendata.projects.cases import MSEIndicatorSpec
    from citizendata.services import linkage as svc

    monkeypatch.setattr(svc, "capture_frame", lambda *a: (frame, lists))
    spec = MSEIndicatorSpec(series="VC_VAW_MTUHRA", violations=["killing"], strata=["period"],
                            **est)
    inputs = SimpleNamespace(spec=SimpleNamespace(linkage=SimpleNamespace(sensitivity=[0.9])))
    result = SimpleNamespace(clusters=lambda t: None)
    [row] = svc._sensitivity(inputs, result, spec, {})  # type: ignore[arg-type]
    return row


def test_the_lcmcr_sensitivity_interval_is_not_zero_width(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # review HIGH-2: LCMCR's missing se was summed as 0: rows showed [N, N]
    from citizendata.services import linkage as svc

    monkeypatch.setattr(svc, "_held", lambda *a: {"method": "lcmcr", "seed": 0, "samples": 200,
                                                  "burnin": 200, "chains": 2})
    row = _sensitivity(monkeypatch, _capture(TWO_PERIODS), ["A", "B", "C"], method="lcmcr")
    lo, hi = row["ci"]
    assert row["documented"] == 216 and row["note"] is None
    assert lo is not None and hi is not None and lo < row["estimate"] < hi and hi - lo > 10


def test_the_sensitivity_leaves_out_a_list_with_no_record_in_a_period(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # review MEDIUM-3: list C recorded nothing in 2019-2021 (D did): fitted on A, B, D there
    late = [((a, b, 0, c), n) for (a, b, c), n in TWO_PERIODS["2019-2021"]]
    early = [((a, b, c, a), n) for (a, b, c), n in TWO_PERIODS["2016-2018"]]
    frame = _capture({"2016-2018": early, "2019-2021": late})
    row = _sensitivity(monkeypatch, frame, ["A", "B", "C", "D"])
    assert row["note"] is None and row["estimate"] is not None
    assert row["ci"][0] is not None and row["ci"][0] < row["estimate"] < row["ci"][1]
