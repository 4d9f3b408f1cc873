"""The Kenya scenario's planted bad records are each found by a validation run."""

from __future__ import annotations

import pytest

from citizendata.scenarios.kenya_maternal_health import generate
from citizendata.scenarios.kenya_maternal_health import project as kp
from conftest import demo_copy

SLUG, FORM = "kenya-maternal-health", "kenya_maternal_health"
# bad record kind -> the rule that must flag that submission
EXPECTED = {
    "age_constraint": "constraint:respondent/age",
    "unknown_choice": "choice:respondent/ethnicity",
    "births_count_mismatch": "repeat_count:births",
    "duplicate_submission": "duplicate:exact",
    "text_in_integer": "type:births/travel_minutes",
    "missing_required": "required:wg/wg_seeing",
    "answer_not_relevant": "not_relevant:births/place_other",
    "calculate_mismatch": "calculate:births/skilled",
    "distance_outlier": "outlier:births/distance_km",
    "travel_over_limit": "limit:births/travel_minutes",
    "probable_duplicate": "duplicate:probable",
    "gps_outside_kenya": "location:location/gps",
}


def test_every_planted_bad_record_is_found(tmp_path_factory: pytest.TempPathFactory) -> None:
    n = 1500
    # build_demo's validation run, in a copy of the run's one build (test_estimation_engine
    # uses the same)
    ws = demo_copy(tmp_path_factory, n)
    validator = ws.as_user(next(u["username"] for u in kp.DEMO_USERS if u["role"] == "validator"))
    rows, _ = validator.findings(SLUG, FORM, limit=100_000)
    rules_of: dict[str, set[str]] = {}
    for f in rows:
        rules_of.setdefault(f["instance_id"], set()).add(f["rule"])
    for record in generate(n).bad_records:
        if record["kind"] in EXPECTED:
            assert EXPECTED[record["kind"]] in rules_of.get(record["instance_id"], set()), record
    # the value of a personal field is never carried in a finding
    (other,) = [f for f in rows if f["rule"] == "not_relevant:births/place_other"]
    assert other["value"] is None
    # the demo approved the clean submissions, so analysis sees them and not the flagged
    analyst = ws.as_user(next(u["username"] for u in kp.DEMO_USERS if u["role"] == "analyst"))
    approved = analyst.table(SLUG, FORM).count().execute()
    flagged = {f["instance_id"] for f in rows if f["severity"] == "error"}
    assert approved == n - len(flagged) - 2  # two flagged as duplicates wait for a person
    ws.close()
