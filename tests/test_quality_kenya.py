"""The quality record on the Kenya scenario, with problems injected one at a time.

Each injected problem must move the dimension it concerns, in the right direction,
and no other dimension's score by more than TOLERANCE. The problems are applied in
turn to one workspace; each is compared with the state just before it.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest

from citizendata.errors import BadInput, Forbidden
from citizendata.projects.spec import ProjectSpec
from citizendata.workspace import Client, Workspace

SLUG, FORM, IND = "kenya-maternal-health", "kenya_maternal_health", "sba"
TOLERANCE = 0.1  # a dimension's score (0..1) may drift this much from a problem it is not about
TODAY = date(2026, 6, 1)


def scores(record: dict[str, Any]) -> dict[str, float | None]:
    """Each dimension's score."""
    return {d["key"]: d["score"] for d in record["scorecard"]["dimensions"]}


def moved(before: dict[str, Any], after: dict[str, Any], key: str, direction: int) -> None:
    """``key`` moved in ``direction`` (-1 worse); every other dimension stayed within tolerance."""
    b, a = scores(before), scores(after)
    assert b[key] is not None and a[key] is not None, key
    assert (a[key] - b[key]) * direction > 0, (key, b[key], a[key])
    for k in b:
        if k == key or b[k] is None or a[k] is None:
            continue
        assert abs(a[k] - b[k]) <= TOLERANCE, (k, b[k], a[k])


@pytest.fixture(scope="module")
def kenya(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workspace]:
    """The demo workspace with 1,000 submissions, validated, approved and weighted."""
    from citizendata.demo import build_demo

    root = tmp_path_factory.mktemp("quality")
    ws, _ = build_demo(root / "demo", n=1000, fresh=True)
    yield ws
    ws.close()
    shutil.rmtree(root, ignore_errors=True)


def user(ws: Workspace, name: str) -> Client:
    """A demo user."""
    return ws.as_user(name)


def record(ws: Workspace) -> dict[str, Any]:
    """The analyst's quality record of the SBA indicator."""
    return user(ws, "wanjiru").quality(SLUG, FORM, IND, today=TODAY)


def test_the_baseline_record(kenya: Workspace) -> None:
    r = record(kenya)
    assert r["engagement"]["meets_threshold"]
    assert r["gateway"]["passed"], r["gateway"]
    dims = {d["key"]: d for d in r["scorecard"]["dimensions"]}
    assert len(dims) == 12
    ev = r["evidence"]
    assert 0.9 < ev["validation_pass_rate"] <= 1 and ev["submissions"] >= 1000
    assert ev["r_indicator"] is not None and ev["coherence_z"] is not None
    assert ev["lag_days"] == (TODAY - date(2026, 3, 13)).days
    assert dims["timeliness_punctuality"]["rating"] == "high"
    assert r["recommendation"]["recommendation"] in ("integrate", "publish_alongside",
                                                     "stand_alone")
    html = user(kenya, "wanjiru").quality_html(SLUG, FORM, IND, today=TODAY)
    assert html.lstrip().startswith("<section") and "Timeliness" in html
    assert "http://" not in html and "https://" not in html


def test_a_late_release_moves_timeliness_only(kenya: Workspace) -> None:
    owner = user(kenya, "naserian")
    before = record(kenya)
    spec = owner.project(SLUG).spec
    assert isinstance(spec, ProjectSpec)
    late = spec.model_copy(update={"quality": spec.quality.model_copy(
        update={"released_on": date(2028, 12, 31)})})
    owner.update_project(late)
    after = record(kenya)
    moved(before, after, "timeliness_punctuality", -1)
    owner.update_project(spec)


def test_more_duplicates_move_accuracy_only(kenya: Workspace) -> None:
    owner = user(kenya, "naserian")
    before = record(kenya)
    _, rows = owner.submissions(SLUG, FORM, limit=150)
    # the same interviews entered again under new instance ids (a re-keyed paper batch)
    again = []
    for i, r in enumerate(rows):
        data = dict(r["data"])
        data["meta"] = {"instanceID": f"uuid:rekeyed-{i:04d}"}
        again.append(data)
    owner.submit(SLUG, FORM, json.dumps(again).encode())
    user(kenya, "nkoitoi").validate(SLUG, FORM)
    after = record(kenya)
    assert after["evidence"]["duplicate_rate"] > before["evidence"]["duplicate_rate"]
    moved(before, after, "accuracy_reliability", -1)


def test_missing_items_move_accuracy_only(kenya: Workspace) -> None:
    owner = user(kenya, "naserian")
    before = record(kenya)
    # a batch of paper forms whose "about you" page was torn off: two answers lost
    _, rows = owner.submissions(SLUG, FORM, limit=600, review_status="approved")
    edited = [r["instance_id"] for r in rows
              if (r["data"].get("respondent") or {}).get("ethnicity")]
    for iid in edited:
        owner.edit(SLUG, FORM, iid, {"respondent/ethnicity": None, "respondent/sex": None},
                   reason="test: the page was lost")
    # an edit sends a submission back for review; the validator approves it as it now is
    user(kenya, "nkoitoi").decide(SLUG, FORM, edited, "approved")
    after = record(kenya)
    assert after["evidence"]["item_nonresponse"] > before["evidence"]["item_nonresponse"]
    moved(before, after, "accuracy_reliability", -1)


def test_a_coverage_bias_moves_representativeness(kenya: Workspace) -> None:
    owner = user(kenya, "naserian")
    before = record(kenya)
    # most of one large ward's interviews are rejected: the sample no longer covers it
    _total, rows = owner.submissions(SLUG, FORM, limit=10**6, review_status="approved")
    ward = "kimana"
    drop = [r["instance_id"] for r in rows
            if (r["data"].get("location") or {}).get("ward") == ward][:-5]
    # by the same validator, so no disagreement between validators enters the record
    user(kenya, "nkoitoi").decide(SLUG, FORM, drop, "rejected",
                                  comment="test: outside the sampling frame")
    after = record(kenya)
    assert after["evidence"]["coverage_distance"] > before["evidence"]["coverage_distance"]
    moved(before, after, "representativeness_coverage", -1)


def test_attestations_and_decisions_need_the_right_role(kenya: Workspace) -> None:
    analyst, owner, nso = (user(kenya, n) for n in ("wanjiru", "naserian", "otieno"))
    with pytest.raises(Forbidden):
        analyst.attest(SLUG, "accessibility_clarity", "high", "reviewed the report",
                       form_id=FORM)
    a = owner.attest(SLUG, "accessibility_clarity", "high",
                     "the community meeting reviewed the report in Maa", form_id=FORM)
    assert a["by"] == "naserian" and a["role"] == "owner"
    with pytest.raises(Forbidden):
        owner.decide_fitness(SLUG, "integrate", reason="we like it", form_id=FORM,
                             indicator=IND)
    rec = nso.quality(SLUG, FORM, IND, today=TODAY)["recommendation"]["recommendation"]
    other = "stand_alone" if rec != "stand_alone" else "publish_alongside"
    with pytest.raises(BadInput):
        nso.decide_fitness(SLUG, other, form_id=FORM, indicator=IND)
    d = nso.decide_fitness(SLUG, other, reason="the benchmark gap needs a field visit first",
                           form_id=FORM, indicator=IND)
    assert d["decision"] == other and d["by"] == "otieno"
    after = nso.quality(SLUG, FORM, IND, today=TODAY)
    assert after["recommendation"]["decision"] == other
    events = [e for e in owner.audit_log(SLUG) if e["action"] in ("quality.attest",
                                                                  "quality.decide")]
    assert {e["action"] for e in events} == {"quality.attest", "quality.decide"}
