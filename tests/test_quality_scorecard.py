"""The quality scorecard's rules and the identity checks: pure functions on small inputs."""

from __future__ import annotations

import dataclasses
from datetime import date
from typing import Any

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from citizendata.forms.xlsform import parse_xlsform
from citizendata.projects.quality import GroupSpec, IdentitySpec, ThresholdSpec
from citizendata.quality.identity import (
    WG_SS_ANSWERS,
    WG_SS_QUESTIONS,
    group_cells,
    sdg_disaggregations,
    self_identification,
    wg_check,
)
from citizendata.quality.model import DIMENSIONS, Attestation, Evidence
from citizendata.quality.scorecard import (
    BOOLEAN_MEASURES,
    DEFAULT_THRESHOLDS,
    FIELD_DIMENSIONS,
    LOWER_IS_BETTER,
    effective_thresholds,
    rate,
    score_dimensions,
)
from xlsform_builders import make_xlsform

# -- each measure at and around its thresholds ---------------------------------------------


def _with(measure: str, value: Any) -> Evidence:
    """An Evidence with one field set."""
    ev = Evidence()
    setattr(ev, measure, value)
    return ev


def _around(measure: str) -> list[tuple[float, str]]:
    """(value, expected rating) at and just either side of both cut-offs."""
    t = DEFAULT_THRESHOLDS[measure]
    eps = 1e-9 * max(1.0, abs(t.high), abs(t.medium))
    worse = 1 if measure in LOWER_IS_BETTER else -1  # the direction that makes it worse
    return [
        (t.high, "high"),
        (t.high - worse * eps, "high"),
        (t.high + worse * eps, "medium"),
        (t.medium, "medium"),
        (t.medium - worse * eps, "medium"),
        (t.medium + worse * eps, "low"),
    ]


@pytest.mark.parametrize("measure", sorted(DEFAULT_THRESHOLDS))
def test_each_measure_is_rated_at_and_around_its_thresholds(measure: str) -> None:
    for value, expected in _around(measure):
        assert rate(measure, value) == expected, (measure, value)
        if measure in ("group_cells", "sdg_disaggregations", "periods_available", "threshold"):
            continue  # set through counts; their cut-offs are checked on rate() above
        ev = _with(measure, value)
        (dim,) = FIELD_DIMENSIONS[measure]
        assert score_dimensions(ev, dataset="d").rating(dim) == expected, (measure, value)


@pytest.mark.parametrize("measure", ["periods_available", "threshold"])
def test_count_measures_through_the_scorecard(measure: str) -> None:
    t = DEFAULT_THRESHOLDS[measure]
    (dim,) = FIELD_DIMENSIONS[measure]
    got = [score_dimensions(_with(measure, int(v)), dataset="d").rating(dim)
           for v in (t.high, t.high - 1, t.medium, t.medium - 1)]
    assert got == ["high", "medium", "medium", "low"]


def test_the_documented_defaults_and_directions() -> None:
    th = {k: (v.high, v.medium) for k, v in DEFAULT_THRESHOLDS.items()}
    assert th["validation_pass_rate"] == (0.95, 0.85)
    assert th["duplicate_rate"] == (0.01, 0.05)
    assert th["kappa"] == (0.8, 0.6)
    assert th["headline_cv"] == (0.15, 0.30)
    assert th["lag_days"] == (365, 730)
    assert th["r_indicator"] == (0.8, 0.6)
    assert th["coherence_z"] == (2.0, 3.0)
    lower = {"duplicate_rate", "item_nonresponse", "headline_cv", "lag_days",
             "coverage_distance", "coherence_z"}
    assert set(LOWER_IS_BETTER) == lower


def test_coherence_is_rated_on_the_absolute_z() -> None:
    assert [rate("coherence_z", z) for z in (-1.9, -2.0, -2.5, -3.0, -3.1, 3.1)] == [
        "high", "high", "medium", "medium", "low", "low"]


def test_a_project_overrides_thresholds_by_measure_name() -> None:
    ev = Evidence(lag_days=60, kappa=0.7)
    default = score_dimensions(ev, dataset="d")
    assert default.rating("timeliness_punctuality") == "high"
    tight = score_dimensions(ev, dataset="d", thresholds={
        "lag_days": ThresholdSpec(high=30, medium=90), "kappa": ThresholdSpec(high=0.7, medium=0.5)})
    assert tight.rating("timeliness_punctuality") == "medium"
    assert "60 days is above 30 days (high) but within 90 days (medium)" in \
        tight.dimensions["timeliness_punctuality"].reasons[0]
    assert tight.rating("accuracy_reliability") == "high"
    assert default.rating("accuracy_reliability") == "medium"
    # other measures keep their defaults
    assert effective_thresholds({"kappa": ThresholdSpec(high=0.7, medium=0.5)})["lag_days"] == \
        DEFAULT_THRESHOLDS["lag_days"]


def test_bad_overrides_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown quality measure 'lag'"):
        effective_thresholds({"lag": ThresholdSpec(high=1, medium=2)})
    with pytest.raises(ValueError, match="high"):
        effective_thresholds({"kappa": ThresholdSpec(high=0.5, medium=0.7)})
    with pytest.raises(ValueError, match="high"):
        effective_thresholds({"lag_days": ThresholdSpec(high=800, medium=700)})


# -- the combine rule and the reasons -------------------------------------------------------


def test_a_dimension_takes_its_worst_rating_and_the_mean_score() -> None:
    ev = Evidence(validation_pass_rate=0.97, duplicate_rate=0.03, item_nonresponse=0.4)
    d = score_dimensions(ev, dataset="d").dimensions["accuracy_reliability"]
    assert (d.rating, d.score, d.source) == ("low", pytest.approx(0.5), "evidence")
    assert d.evidence == {"validation_pass_rate": 0.97, "duplicate_rate": 0.03,
                          "item_nonresponse": 0.4}
    assert d.reasons == [
        "validation pass rate 97% meets 95% (high)",
        "duplicate rate 3% is above 1% (high) but within 5% (medium)",
        "item non-response 40% is above 15% (medium)",
    ]


def test_reasons_name_the_measure_value_and_threshold() -> None:
    d = score_dimensions(Evidence(validation_pass_rate=0.912), dataset="d")
    assert d.dimensions["accuracy_reliability"].reasons == [
        "validation pass rate 91.2% is below 95% (high) but meets 85% (medium)"]
    # rounding never makes a miss look like a hit
    near = score_dimensions(Evidence(validation_pass_rate=0.94999), dataset="d")
    assert near.dimensions["accuracy_reliability"].reasons[0].startswith(
        "validation pass rate 94.999% is below 95% (high)")


def test_every_dimension_is_scored() -> None:
    sc = score_dimensions(Evidence(), dataset="d", indicator="i")
    assert list(sc.dimensions) == list(DIMENSIONS)
    assert (sc.dataset, sc.indicator) == ("d", "i")
    assert {d.rating for d in sc.dimensions.values()} == {"not_assessed"}
    assert {d.source for d in sc.dimensions.values()} == {"none"}


def test_inclusion_uses_the_mean_of_the_groups_shares() -> None:
    ev = Evidence(group_cells={"disability": (3, 4), "youth": (0, 0)})
    d = score_dimensions(ev, dataset="d").dimensions["inclusion"]
    assert d.evidence["group_cells"] == pytest.approx(0.375)
    assert d.rating == "low"
    assert "group 'youth': 0 of 0 cells publishable" in d.reasons


def test_sogi_is_reported_but_not_counted() -> None:
    ev = Evidence(sdg_disaggregations={"sex": True, "age": True, "income": False,
                                       "gender_identity": True, "sexual_orientation": False})
    d = score_dimensions(ev, dataset="d").dimensions["integrability"]
    assert d.evidence["sdg_disaggregations"] == pytest.approx(2 / 3)
    assert "not possible: income" in d.reasons


def test_a_nan_measure_is_not_measured() -> None:
    d = score_dimensions(Evidence(r_indicator=float("nan")), dataset="d")
    assert d.rating("representativeness_coverage") == "not_assessed"


# -- attestations --------------------------------------------------------------------------


def _att(subject: str, rating: str, on: date, by: str = "amina") -> Attestation:
    return Attestation(subject=subject, rating=rating, statement="methods page published",
                       by=by, role="steward", on=on)


def test_an_unmeasured_dimension_uses_the_latest_attestation() -> None:
    atts = [_att("accessibility_clarity", "medium", date(2026, 3, 1), "new"),
            _att("accessibility_clarity", "low", date(2025, 3, 1), "old"),
            _att("gateway:need", "pass", date(2026, 4, 1))]
    d = score_dimensions(Evidence(), dataset="d", attestations=atts).dimensions[
        "accessibility_clarity"]
    assert (d.rating, d.source, d.score) == ("medium", "attestation", None)
    assert d.attestation is not None and d.attestation.by == "new"
    assert "2026-03-01" in d.reasons[0]


def test_an_attestation_never_overrides_evidence_but_is_recorded() -> None:
    atts = [_att("accessibility_clarity", "low", date(2026, 3, 1))]
    d = score_dimensions(Evidence(documented_methods=True), dataset="d",
                         attestations=atts).dimensions["accessibility_clarity"]
    assert (d.rating, d.source, d.score) == ("high", "evidence", 1.0)
    assert d.attestation == atts[0]
    assert any("recorded" in r and "attested low" in r for r in d.reasons)


def test_an_attestation_with_a_gateway_rating_is_refused() -> None:
    with pytest.raises(ValueError, match="use high, medium or low"):
        score_dimensions(Evidence(), dataset="d",
                         attestations=[_att("relevance", "pass", date(2026, 1, 1))])


# -- improving one measure never lowers its dimension's score -------------------------------

GRADED = sorted(DEFAULT_THRESHOLDS)
_RANGE: dict[str, tuple[float, float]] = {"lag_days": (0, 2000), "periods_available": (0, 6),
                                          "threshold": (1, 12), "coherence_z": (0, 6)}


@pytest.mark.parametrize("measure", sorted(BOOLEAN_MEASURES))
def test_a_yes_never_scores_below_a_no(measure: str) -> None:
    for dim in FIELD_DIMENSIONS[measure]:
        no = score_dimensions(_with(measure, False), dataset="d").dimensions[dim].score
        yes = score_dimensions(_with(measure, True), dataset="d").dimensions[dim].score
        assert no is not None and yes is not None and yes > no


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), measure=st.sampled_from(GRADED))
def test_improving_a_measure_never_lowers_its_dimension_score(data: st.DataObject,
                                                              measure: str) -> None:
    lo, hi = _RANGE.get(measure, (0.0, 1.0))
    a, b = sorted(data.draw(st.lists(st.floats(lo, hi), min_size=2, max_size=2)))
    worse, better = (b, a) if measure in LOWER_IS_BETTER else (a, b)
    others = {m: data.draw(st.floats(*_RANGE.get(m, (0.0, 1.0)))) for m in GRADED
              if m not in ("group_cells", "sdg_disaggregations", measure)}

    def evidence(v: float) -> Evidence:
        ev = _evidence_of(others)
        _set(ev, measure, v)
        return ev

    for dim in FIELD_DIMENSIONS[measure]:
        s_worse = score_dimensions(evidence(worse), dataset="d").dimensions[dim].score
        s_better = score_dimensions(evidence(better), dataset="d").dimensions[dim].score
        assert s_worse is not None and s_better is not None
        assert s_better >= s_worse


def _evidence_of(values: dict[str, float]) -> Evidence:
    ev = Evidence()
    for m, v in values.items():
        _set(ev, m, v)
    return ev


def _set(ev: Evidence, measure: str, v: float) -> None:
    """Set a graded measure (the share measures through their source figures)."""
    if measure == "group_cells":
        ev.group_cells = {"g": (round(v * 1000), 1000)}
    elif measure == "sdg_disaggregations":
        n = round(v * 7)
        ev.sdg_disaggregations = {k: i < n for i, k in enumerate(
            ("income", "sex", "age", "race_ethnicity", "migratory_status", "disability",
             "location"))}
    elif measure in ("periods_available", "threshold"):
        setattr(ev, measure, int(v))
    else:
        setattr(ev, measure, v)


# -- each Evidence field moves only its own dimension(s) ------------------------------------

# the measure -> dimension table of docs/methods/quality.md, written out independently
DOCUMENTED: dict[str, set[str]] = {
    "validation_pass_rate": {"accuracy_reliability"},
    "duplicate_rate": {"accuracy_reliability"},
    "item_nonresponse": {"accuracy_reliability"},
    "kappa": {"accuracy_reliability"},
    "headline_cv": {"accuracy_reliability"},
    "lag_days": {"timeliness_punctuality"},
    "coherence_z": {"coherence_comparability"},
    "coherence_difference": {"coherence_comparability"},
    "wg_unaltered": {"coherence_comparability"},
    "r_indicator": {"representativeness_coverage"},
    "coverage_distance": {"representativeness_coverage"},
    "identity_self_reported": {"self_identification"},
    "sex_self_identified": {"self_identification"},
    "protection_level": {"confidentiality_privacy"},
    "threshold": {"confidentiality_privacy"},
    "consent_recorded": {"confidentiality_privacy"},
    "personal_fields_tagged": {"confidentiality_privacy"},
    "metadata_share": {"metadata_completeness"},
    "periods_available": {"sustainability_frequency"},
    "sdg_disaggregations": {"integrability"},
    "wg_present": {"integrability"},
    "sdg_series": {"integrability", "relevance"},
    "group_cells": {"inclusion"},
    "purpose_stated": {"relevance"},
    "documented_methods": {"accessibility_clarity"},
}
NOT_SCORED = {"submissions"}

FULL = Evidence(
    submissions=500, validation_pass_rate=0.99, duplicate_rate=0.0, item_nonresponse=0.01,
    kappa=0.9, headline_cv=0.05, lag_days=100, r_indicator=0.9, coverage_distance=0.01,
    coherence_z=0.5, coherence_difference=0.2, identity_self_reported=1.0,
    sex_self_identified=True, periods_available=4, protection_level="standard", threshold=5,
    consent_recorded=True, personal_fields_tagged=True, metadata_share=1.0,
    sdg_series=["SH_STA_BRTC"], purpose_stated=True, group_cells={"disability": (4, 4)},
    sdg_disaggregations={"sex": True, "age": True, "location": True, "disability": True},
    wg_present=True, wg_unaltered=True, documented_methods=True,
)
# a value for each field that is worse than FULL's (coherence_difference is context only)
CHANGED: dict[str, Any] = {
    "validation_pass_rate": 0.5, "duplicate_rate": 0.2, "item_nonresponse": 0.5, "kappa": 0.2,
    "headline_cv": 0.5, "lag_days": 1000.0, "coherence_z": -4.0, "coherence_difference": 3.0,
    "wg_unaltered": False, "r_indicator": 0.3, "coverage_distance": 0.4,
    "identity_self_reported": 0.0, "sex_self_identified": False, "protection_level": "none",
    "threshold": 1, "consent_recorded": False, "personal_fields_tagged": False,
    "metadata_share": 0.1, "periods_available": 1, "sdg_disaggregations": {"sex": False},
    "wg_present": False, "sdg_series": [], "group_cells": {"disability": (0, 4)},
    "purpose_stated": False, "documented_methods": False,
}


def test_the_documented_table_is_the_code_and_covers_every_evidence_field() -> None:
    assert {k: set(v) for k, v in FIELD_DIMENSIONS.items()} == DOCUMENTED
    fields = {f.name for f in dataclasses.fields(Evidence)}
    assert fields == set(DOCUMENTED) | NOT_SCORED
    assert set(CHANGED) == set(DOCUMENTED)


def _snapshot(ev: Evidence) -> dict[str, tuple[Any, ...]]:
    sc = score_dimensions(ev, dataset="d")
    return {k: (d.rating, d.score, d.source, d.evidence, d.reasons)
            for k, d in sc.dimensions.items()}


@pytest.mark.parametrize("field", sorted(DOCUMENTED))
def test_changing_one_evidence_field_moves_only_its_own_dimensions(field: str) -> None:
    before = _snapshot(FULL)
    after = _snapshot(dataclasses.replace(FULL, **{field: CHANGED[field]}))
    moved = {k for k in DIMENSIONS if before[k] != after[k]}
    assert moved == DOCUMENTED[field]
    # coherence_difference is a context figure, and an empty sdg_series is "not declared"
    # (not measured): both change the recorded evidence only
    if field not in ("coherence_difference", "sdg_series"):
        for k in moved:
            assert after[k][1] < before[k][1], (field, k)


def test_submissions_moves_nothing() -> None:
    assert _snapshot(dataclasses.replace(FULL, submissions=3)) == _snapshot(FULL)


# -- the Washington Group check -------------------------------------------------------------

FIELDS = {d: f"wg_{d}" for d in WG_SS_QUESTIONS}


def _wg_form(wording: dict[str, str] | None = None, answers: dict[str, str] | None = None,
             language: str | None = None) -> Any:
    wording = {**WG_SS_QUESTIONS, **(wording or {})}
    answers = WG_SS_ANSWERS if answers is None else answers
    label = "label" if language is None else f"label::{language}"
    survey = [{"type": "text", "name": "village", label: "Village"}]
    survey += [{"type": "select_one wg", "name": FIELDS[d], label: wording[d]}
               for d in WG_SS_QUESTIONS]
    choices = [{"list_name": "wg", "name": code, label: text} for code, text in answers.items()]
    choices += [{"list_name": "wg", "name": "9", label: "Refused"}]
    settings_ = {"form_id": "wg", "version": "1"}
    if language:
        settings_["default_language"] = language
    return parse_xlsform(make_xlsform(survey, choices, settings_)).schema


def test_the_standard_wording_passes() -> None:
    assert wg_check(_wg_form(), FIELDS) == {"present": True, "unaltered": True, "differences": []}


def test_case_punctuation_and_optional_parts_are_normalised() -> None:
    schema = _wg_form(
        wording={"selfcare": "Do you have difficulty washing all over or dressing?",
                 "communication": "USING your usual language,  do you have difficulty "
                                  "communicating - for example understanding or being understood"},
        answers={"1": "No - no difficulty", "2": "Yes, some difficulty",
                 "3": "Yes - a lot of difficulty", "4": "Cannot do at all."})
    assert wg_check(schema, FIELDS)["unaltered"] is True


def test_altered_wording_fails_with_the_difference_named() -> None:
    result = wg_check(_wg_form(wording={"seeing": "Do you have problems seeing?"}), FIELDS)
    assert result["present"] is True and result["unaltered"] is False
    assert len(result["differences"]) == 1
    assert "Do you have problems seeing?" in result["differences"][0]
    assert "seeing (field 'wg_seeing')" in result["differences"][0]


def test_a_missing_answer_category_fails_with_the_difference_named() -> None:
    three = {k: v for k, v in WG_SS_ANSWERS.items() if k != "4"}
    result = wg_check(_wg_form(answers=three), FIELDS)
    assert result["unaltered"] is False
    assert any("answer category 4 'Cannot do at all' is missing" in d
               for d in result["differences"])


def test_a_missing_or_retyped_question_is_not_present() -> None:
    schema = _wg_form()
    missing = wg_check(schema, {**FIELDS, "hearing": "wg_ears"})
    assert (missing["present"], missing["unaltered"]) == (False, False)
    assert "hearing: field 'wg_ears' is not in the form" in missing["differences"]
    retyped = wg_check(schema, {**FIELDS, "seeing": "village"})
    assert retyped["present"] is False
    assert any("type is text, not select_one" in d for d in retyped["differences"])
    none = wg_check(schema, {d: f"x_{d}" for d in WG_SS_QUESTIONS})
    assert (none["present"], none["unaltered"]) == (False, None)


def test_the_order_is_checked() -> None:
    swapped = {**FIELDS, "seeing": "wg_hearing", "hearing": "wg_seeing"}
    schema = _wg_form(wording={"seeing": WG_SS_QUESTIONS["hearing"],
                               "hearing": WG_SS_QUESTIONS["seeing"]})
    result = wg_check(schema, swapped)
    assert result["unaltered"] is False
    assert any("standard order" in d for d in result["differences"])


def test_labels_not_in_english_cannot_be_checked() -> None:
    result = wg_check(_wg_form(language="Swahili (sw)"), FIELDS)
    assert result["present"] is True and result["unaltered"] is None
    assert "not English" in result["differences"][-1]


def test_the_kenya_form_keeps_the_standard_wording() -> None:
    from citizendata.scenarios.kenya_maternal_health.form import form_bytes

    schema = parse_xlsform(form_bytes()).schema
    result = wg_check(schema, {d: f"wg_{d}" for d in WG_SS_QUESTIONS})
    assert result == {"present": True, "unaltered": True, "differences": []}


# -- SDG disaggregations, groups' cells, self-identification --------------------------------


def test_sdg_disaggregations_from_the_dimension_names() -> None:
    got = sdg_disaggregations({"disability", "age_group", "ward", "county_of_ward"})
    assert {k for k, v in got.items() if v} == {"disability", "age", "location"}
    assert set(got) == {"income", "sex", "age", "race_ethnicity", "migratory_status",
                        "disability", "location", "sexual_orientation", "gender_identity"}
    mexico = sdg_disaggregations({"gender_identity", "sexual_orientation", "state", "Sex"})
    assert mexico["sexual_orientation"] and mexico["gender_identity"] and mexico["sex"]


def test_sdg_disaggregation_names_are_configurable() -> None:
    got = sdg_disaggregations({"wealth_tercile", "ward"},
                              {"income": ["wealth_tercile"], "location": ["parish"]})
    assert got["income"] is True and got["location"] is False


def test_group_cells_counts_published_cells() -> None:
    table = pd.DataFrame({
        "disability": ["with_disability", "with_disability", "without_disability",
                       "with_disability", "_T"],
        "ward": ["a", "b", "a", "_T", "_T"],
        "conf_status": ["F", "C", "F", "D", "F"],
    })
    groups = {"disabled": GroupSpec(dimension="disability", values=["with_disability"]),
              "youth": GroupSpec(dimension="age_group", values=["15-19"]),
              "ward_a": GroupSpec(dimension="ward", values=["a"])}
    assert group_cells(table, groups) == {"disabled": (1, 3), "youth": (0, 0), "ward_a": (2, 2)}
    with pytest.raises(ValueError, match="conf_status"):
        group_cells(table.drop(columns="conf_status"), groups)


def test_self_identification_share_and_sex() -> None:
    schema = _wg_form()
    identity = {"sex": IdentitySpec(field="village", self_reported=False),
                "disability": IdentitySpec(field="wg_seeing"),
                "ethnicity": IdentitySpec(field="not_in_form", self_reported=False)}
    assert self_identification(identity, schema) == (0.5, False)
    assert self_identification({"disability": IdentitySpec(field="wg_seeing")}, schema) == (1.0, None)
    assert self_identification({}, schema) == (None, None)
