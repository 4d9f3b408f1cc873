"""The engagement record, the gateway, the fitness rules and the quality section, as pure functions."""

from __future__ import annotations

import json
from datetime import date
from html.parser import HTMLParser
from typing import Any

import pytest

from citizendata.errors import BadInput
from citizendata.projects.spec import STAGES, ProjectSpec, load_spec
from citizendata.quality.engagement import engagement_summary, meets_threshold, p4t_category
from citizendata.quality.fitness import RULE_DIMENSIONS, apply_decision, recommend
from citizendata.quality.gateway import gateway
from citizendata.quality.model import (
    DIMENSIONS,
    NQAF_DIMENSIONS,
    Attestation,
    DimensionResult,
    Evidence,
    GatewayCriterion,
    GatewayResult,
    Recommendation,
    Scorecard,
)
from citizendata.quality.report import quality_html, quality_json

DAY = date(2026, 3, 2)


def make_spec(engagement: dict[str, int] | None = None, *, kind: str = "cso",
              notes: dict[str, str] | None = None, **over: Any) -> ProjectSpec:
    """A complete spec; ``over`` replaces top-level keys."""
    levels = {"design": 4, "collect": 5} if engagement is None else engagement
    notes = notes or {}
    data: dict[str, Any] = {
        "slug": "kenya-births",
        "name": "Kenya births",
        "initiator": {"slug": "mama-afya", "name": "Mama Afya", "kind": kind},
        "purpose": "Count births attended by skilled personnel in informal settlements.",
        "consent_basis": "informed verbal consent, recorded in the form",
        "integration_intent": "integrate",
        "engagement": {s: {"level": lv, "evidence": notes.get(s, f"{s}: community meetings")}
                       for s, lv in levels.items()},
        "stewardship": {"holder": "Mama Afya", "agreement": "DSA with KNBS", "access": "NSO"},
    }
    data.update(over)
    return load_spec(data)


def good_evidence(**over: Any) -> Evidence:
    """Evidence that passes every gateway criterion."""
    base: dict[str, Any] = {"consent_recorded": True, "personal_fields_tagged": True,
                            "protection_level": "standard", "threshold": 5,
                            "documented_methods": True, "sdg_series": ["SH_STA_BRTC"],
                            "purpose_stated": True}
    base.update(over)
    return Evidence(**base)


def attest(subject: str, rating: str, statement: str = "reviewed", by: str = "Amina Odhiambo",
           on: date = DAY) -> Attestation:
    """A signed attestation."""
    return Attestation(subject, rating, statement, by, "nso_reviewer", on)


# ---------------------------------------------------------------- engagement record

ENGAGEMENT_TABLE = [
    # (case, levels, initiator kind, meets threshold, P4T category)
    ("nothing recorded", {}, "cso", False, "participation"),
    ("consultation only", {"design": 2, "collect": 3}, "cso", False, "participation"),
    ("level 4 only in collect", {"design": 2, "collect": 4}, "cso", True, "engagement"),
    ("level 4 only in design", {"design": 4}, "community", True, "engagement"),
    ("level 5 in process is not a threshold stage", {"process": 5, "identify": 5}, "community",
     False, "participation"),
    ("community-led, uptake at 4", {"design": 5, "collect": 5, "influence": 4}, "community",
     True, "empowerment"),
    ("cso-led, release at 5", {"design": 5, "collect": 5, "release": 5}, "cso", True,
     "empowerment"),
    ("level 5 everywhere but NSO-initiated", dict.fromkeys(STAGES, 5), "nso", True,
     "engagement"),
    ("community-led but only collection", {"design": 5, "collect": 5, "process": 5},
     "community", True, "engagement"),
    ("community, design 4 not 5", {"design": 4, "collect": 5, "analyse": 5}, "community", True,
     "engagement"),
    ("impact stage alone does not count", {"design": 5, "collect": 5, "use": 5}, "cso", True,
     "engagement"),
    ("academic initiator", {"design": 5, "collect": 5, "disseminate": 5}, "academic", True,
     "engagement"),
]


@pytest.mark.parametrize(("levels", "kind", "threshold", "category"),
                         [c[1:] for c in ENGAGEMENT_TABLE], ids=[c[0] for c in ENGAGEMENT_TABLE])
def test_engagement_table(levels: dict[str, int], kind: str, threshold: bool,
                          category: str) -> None:
    spec = make_spec(levels, kind=kind)
    summary = engagement_summary(spec)
    assert summary["meets_threshold"] is threshold
    assert summary["meets_threshold"] is spec.meets_citizen_data_threshold
    assert meets_threshold(levels) is threshold
    assert summary["p4t_category"] == category
    assert p4t_category(levels, kind)[0] == category
    assert summary["p4t_reasons"]


def test_engagement_summary_fields() -> None:
    s = engagement_summary(make_spec({"collect": 4, "release": 2}, kind="community"))
    assert [r["stage"] for r in s["stages"]] == list(STAGES)  # every stage, value-chain order
    collect = next(r for r in s["stages"] if r["stage"] == "collect")
    assert collect == {"stage": "collect", "group": "collection", "level": 4,
                       "level_name": "shared decision-making",
                       "evidence": "collect: community meetings"}
    design = s["stages"][0]
    assert design["level"] is None and design["level_name"] is None
    assert s["initiator"] == {"slug": "mama-afya", "name": "Mama Afya", "kind": "community"}
    assert s["stewardship"]["holder"] == "Mama Afya"
    assert s["integration_intent"] == "integrate"
    json.dumps(s)


def test_engagement_explains_what_empowerment_lacks() -> None:
    _, reasons = p4t_category(dict.fromkeys(STAGES, 5), "nso")
    assert any("initiated by the national statistical office" in r for r in reasons)


# ---------------------------------------------------------------- gateway


def criterion(result: GatewayResult, key: str) -> GatewayCriterion:
    return next(c for c in result.criteria if c.key == key)


def test_gateway_passes_on_complete_evidence() -> None:
    result = gateway(make_spec(), good_evidence(), [])
    assert result.passed
    assert [c.key for c in result.criteria] == ["ethics_privacy", "transparency_accountability",
                                                "need"]
    assert all(c.source == "evidence" and c.reasons for c in result.criteria)


@pytest.mark.parametrize(("spec_over", "evidence_over", "reason"), [
    ({"consent_basis": ""}, {"consent_recorded": None}, "No consent is recorded"),
    ({}, {"personal_fields_tagged": False}, "Personal fields are not tagged"),
    ({}, {"protection_level": None}, "No protection policy"),
], ids=["no consent", "untagged personal fields", "no protection"])
def test_ethics_privacy_fails(spec_over: dict[str, Any], evidence_over: dict[str, Any],
                              reason: str) -> None:
    result = gateway(make_spec(**spec_over), good_evidence(**evidence_over), [])
    c = criterion(result, "ethics_privacy")
    assert not c.passed and not result.passed and c.source == "evidence"
    assert any(reason in r for r in c.reasons)
    assert criterion(result, "need").passed


def test_consent_from_the_form_alone_is_enough() -> None:
    result = gateway(make_spec(consent_basis=""), good_evidence(consent_recorded=True), [])
    assert criterion(result, "ethics_privacy").passed


def test_personal_fields_not_checked_yet_does_not_fail() -> None:
    result = gateway(make_spec(), good_evidence(personal_fields_tagged=None), [])
    assert criterion(result, "ethics_privacy").passed


def test_ethics_attestation_fail_fails_the_gateway() -> None:
    refused = attest("gateway:ethics_privacy", "fail", "ethics review refused")
    result = gateway(make_spec(), good_evidence(), [refused])
    c = criterion(result, "ethics_privacy")
    assert not c.passed and c.source == "attestation"
    assert "Amina Odhiambo" in c.reasons[0] and "ethics review refused" in c.reasons[0]


def test_attestation_pass_cannot_rescue_failing_evidence() -> None:
    approved = attest("gateway:ethics_privacy", "pass", "approved by the board")
    result = gateway(make_spec(), good_evidence(protection_level=None), [approved])
    c = criterion(result, "ethics_privacy")
    assert not c.passed and c.source == "evidence"
    assert any("cannot override" in r for r in c.reasons)


def test_latest_attestation_stands_and_fail_wins_a_tie() -> None:
    refused = attest("gateway:ethics_privacy", "fail", "refused", on=date(2026, 1, 5))
    approved = attest("gateway:ethics_privacy", "pass", "approved after changes",
                      on=date(2026, 2, 5))
    assert criterion(gateway(make_spec(), good_evidence(), [refused, approved]),
                     "ethics_privacy").passed
    same_day = attest("gateway:ethics_privacy", "pass", on=date(2026, 1, 5))
    assert not criterion(gateway(make_spec(), good_evidence(), [same_day, refused]),
                         "ethics_privacy").passed


def test_unsigned_attestation_is_ignored() -> None:
    unsigned = attest("gateway:ethics_privacy", "fail", by=" ")
    c = criterion(gateway(make_spec(), good_evidence(), [unsigned]), "ethics_privacy")
    assert c.passed and any("unsigned" in r for r in c.reasons)


@pytest.mark.parametrize(("spec_over", "evidence_over", "reason"), [
    ({"initiator": {"slug": "x-org", "name": " ", "kind": "cso"}}, {}, "initiator is not named"),
    ({"purpose": ""}, {"purpose_stated": None}, "purpose is not stated"),
    ({}, {"documented_methods": None}, "methods are not documented (not recorded)"),
    ({}, {"documented_methods": False}, "methods are not documented"),
    ({"stewardship": {"holder": ""}}, {}, "No data steward"),
], ids=["initiator", "purpose", "methods unknown", "methods missing", "steward"])
def test_transparency_fails(spec_over: dict[str, Any], evidence_over: dict[str, Any],
                            reason: str) -> None:
    c = criterion(gateway(make_spec(**spec_over), good_evidence(**evidence_over), []),
                  "transparency_accountability")
    assert not c.passed
    assert any(reason in r for r in c.reasons)


def test_transparency_needs_evidence_for_high_levels() -> None:
    spec = make_spec({"design": 4, "collect": 2, "release": 5},
                     notes={"design": "", "collect": "", "release": "  "})
    c = criterion(gateway(spec, good_evidence(), []), "transparency_accountability")
    assert not c.passed
    assert any("design, release" in r for r in c.reasons)  # collect is level 2: no note needed


def test_transparency_attestation_fail() -> None:
    doubt = attest("gateway:transparency_accountability", "fail", "funder not disclosed")
    c = criterion(gateway(make_spec(), good_evidence(), [doubt]), "transparency_accountability")
    assert not c.passed and c.source == "attestation"


def test_need_from_sdg_series_or_attestation() -> None:
    no_sdg = good_evidence(sdg_series=[])
    c = criterion(gateway(make_spec(), no_sdg, []), "need")
    assert not c.passed and any("No SDG series" in r for r in c.reasons)
    need = attest("gateway:need", "pass", "county health plan lacks these figures")
    c = criterion(gateway(make_spec(), no_sdg, [need]), "need")
    assert c.passed and c.source == "attestation"
    assert any("county health plan" in r for r in c.reasons)
    silent = attest("gateway:need", "pass", statement=" ")
    c = criterion(gateway(make_spec(), no_sdg, [silent]), "need")
    assert not c.passed and any("no statement" in r for r in c.reasons)


def test_need_requires_a_purpose_even_when_attested() -> None:
    need = attest("gateway:need", "pass", "the county asked for it")
    c = criterion(gateway(make_spec(purpose=""), good_evidence(purpose_stated=None), [need]),
                  "need")
    assert not c.passed and any("cannot override" in r for r in c.reasons)


def test_need_attested_fail() -> None:
    c = criterion(gateway(make_spec(), good_evidence(), [attest("gateway:need", "fail")]), "need")
    assert not c.passed and c.source == "attestation"


# ---------------------------------------------------------------- fitness

PASSED = GatewayResult([GatewayCriterion(k, True, ["ok"], "evidence")
                        for k in ("ethics_privacy", "transparency_accountability", "need")])
FAILED = GatewayResult([GatewayCriterion("ethics_privacy", False, ["no consent"], "evidence"),
                        GatewayCriterion("need", True, ["ok"], "evidence")])


def card(default: str = "high", **ratings: str) -> Scorecard:
    """A scorecard with every dimension at ``default`` except those given."""
    dims = {}
    for key, name in DIMENSIONS.items():
        rating = ratings.get(key, default)
        dims[key] = DimensionResult(key=key, name=name, rating=rating,  # type: ignore[arg-type]
                                    score=None, source="none" if rating == "not_assessed"
                                    else "evidence")
    return Scorecard("births-2025", None, dims)


@pytest.mark.parametrize(("gw", "sc", "expected", "rule"), [
    (FAILED, card(), "stand_alone", "R1"),
    (PASSED, card(), "integrate", "R2"),
    (PASSED, card(relevance="medium", timeliness_punctuality="medium",
                  accessibility_clarity="medium", inclusion="low"), "integrate", "R2"),
    (PASSED, card(accuracy_reliability="medium"), "publish_alongside", "R3"),
    (PASSED, card(representativeness_coverage="low"), "publish_alongside", "R3"),
    (PASSED, card(confidentiality_privacy="medium"), "publish_alongside", "R3"),
    (PASSED, card(default="medium"), "publish_alongside", "R3"),
    (PASSED, card(timeliness_punctuality="low"), "stand_alone", "R4"),
    (PASSED, card(confidentiality_privacy="low"), "stand_alone", "R4"),
], ids=["R1 gateway failed", "R2 all high", "R2 rest medium", "R3 accuracy medium",
        "R3 coverage low", "R3 privacy medium", "R3 all medium", "R4 NQAF low", "R4 privacy low"])
def test_each_rule_fires(gw: GatewayResult, sc: Scorecard, expected: str, rule: str) -> None:
    rec = recommend(gw, sc, meets_threshold=True, intent="integrate")
    assert (rec.recommendation, rec.rule) == (expected, rule)
    assert rec.reasons[-1].startswith(rule)


def test_gateway_failure_wins_over_a_perfect_scorecard() -> None:
    rec = recommend(FAILED, card(), meets_threshold=True, intent="integrate")
    assert rec.recommendation == "stand_alone" and "ethics_privacy" in rec.reasons[0]


@pytest.mark.parametrize(("sc", "intent", "expected", "rule", "capped"), [
    (card(), "publish_alongside", "publish_alongside", "R2", True),
    (card(), "stand_alone", "stand_alone", "R2", True),
    (card(accuracy_reliability="medium"), "stand_alone", "stand_alone", "R3", True),
    (card(accuracy_reliability="medium"), "integrate", "publish_alongside", "R3", False),
    (card(accuracy_reliability="low"), "publish_alongside", "stand_alone", "R4", False),
])
def test_recommendation_never_exceeds_intent(sc: Scorecard, intent: str, expected: str,
                                             rule: str, capped: bool) -> None:
    rec = recommend(PASSED, sc, meets_threshold=True, intent=intent)
    assert (rec.recommendation, rec.rule) == (expected, rule)
    assert ("does not exceed it" in rec.reasons[-1]) is capped


def test_unknown_intent_is_bad_input() -> None:
    with pytest.raises(BadInput):
        recommend(PASSED, card(), meets_threshold=True, intent="merge")


@pytest.mark.parametrize("key", RULE_DIMENSIONS)
def test_not_assessed_blocks_r2_and_r3(key: str) -> None:
    rec = recommend(PASSED, card(**{key: "not_assessed"}), meets_threshold=True,
                    intent="integrate")
    assert (rec.recommendation, rec.rule) == ("stand_alone", "R4")
    assert f"{DIMENSIONS[key]} not assessed" in rec.reasons[-1]


def test_not_assessed_outside_the_rules_does_not_matter() -> None:
    rec = recommend(PASSED, card(inclusion="not_assessed", integrability="not_assessed"),
                    meets_threshold=True, intent="integrate")
    assert rec.recommendation == "integrate"


def test_missing_dimension_counts_as_not_assessed() -> None:
    sc = card()
    del sc.dimensions["relevance"]
    rec = recommend(PASSED, sc, meets_threshold=True, intent="integrate")
    assert rec.rule == "R4" and "Relevance not assessed" in rec.reasons[-1]


def test_below_threshold_is_said_but_rules_still_apply() -> None:
    rec = recommend(PASSED, card(), meets_threshold=False, intent="integrate")
    assert rec.recommendation == "integrate"
    assert "Not citizen data by the Copenhagen Framework" in rec.reasons[0]


def test_confirm_and_override() -> None:
    rec = recommend(PASSED, card(accuracy_reliability="medium"), meets_threshold=True,
                    intent="integrate")
    confirmed = apply_decision(rec, decision="publish_alongside", by="Jane Wanjiru", on=DAY,
                               reason="", role="nso_approver")
    assert confirmed.decision == "publish_alongside" and confirmed.decided_on == "2026-03-02"
    assert confirmed.decided_by == "Jane Wanjiru" and confirmed.decision_reason is None
    assert rec.decision is None  # the original is not changed
    with pytest.raises(BadInput) as err:
        apply_decision(rec, decision="integrate", by="Jane Wanjiru", on=DAY, reason="  ",
                       role="nso_approver")
    assert err.value.code == "input.invalid"
    over = apply_decision(rec, decision="stand_alone", by="Jane Wanjiru", on="2026-03-03",
                          reason="survey redesign pending", role="nso_approver")
    assert (over.decision, over.decision_reason) == ("stand_alone", "survey redesign pending")
    with pytest.raises(BadInput):
        apply_decision(rec, decision="merge", by="Jane", on=DAY, reason="x", role="r")
    with pytest.raises(BadInput):
        apply_decision(rec, decision="stand_alone", by=" ", on=DAY, reason="x", role="r")


# ---------------------------------------------------------------- report


class _Tags(HTMLParser):
    """Collects the tags and attributes actually present in the markup."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.attrs: list[tuple[str, str | None]] = []
        self.style = ""
        self._in_style = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attrs.extend(attrs)
        self._in_style = tag == "style"

    def handle_endtag(self, tag: str) -> None:
        self._in_style = False

    def handle_data(self, data: str) -> None:
        if self._in_style:
            self.style += data


def full_record(note: str = "meetings in Kibera") -> tuple[dict[str, Any], GatewayResult,
                                                           Scorecard, Recommendation]:
    spec = make_spec({"design": 5, "collect": 5, "release": 4}, kind="community",
                     notes={"design": note})
    eng = engagement_summary(spec)
    gw = gateway(spec, good_evidence(), [attest("gateway:ethics_privacy", "pass",
                                                "Kenyatta University ERC, ref 123")])
    sc = card(accuracy_reliability="medium", inclusion="not_assessed")
    sc.dimensions["accuracy_reliability"].evidence = {"validation_pass_rate": 0.9312,
                                                      "kappa": float("nan"),
                                                      "group_cells": {"disability": (3, 4)}}
    sc.dimensions["accuracy_reliability"].reasons = ["9 in 10 submissions pass validation."]
    sc.dimensions["relevance"].attestation = attest("relevance", "high", "asked by the county")
    sc.dimensions["relevance"].source = "attestation"
    rec = recommend(gw, sc, meets_threshold=eng["meets_threshold"], intent="integrate")
    rec = apply_decision(rec, decision="stand_alone", by="Jane Wanjiru", on=DAY,
                         reason="wait for the 2026 round", role="nso_approver")
    return eng, gw, sc, rec


def test_quality_json_round_trips() -> None:
    data = quality_json(*full_record())
    text = json.dumps(data, allow_nan=False)
    assert json.loads(text) == data
    acc = next(d for d in data["scorecard"]["dimensions"] if d["key"] == "accuracy_reliability")
    assert acc["evidence"]["kappa"] is None
    assert acc["evidence"]["group_cells"] == {"disability": [3, 4]}
    # inclusion (not assessed) is not read by the rules; accuracy medium gives R3
    assert data["recommendation"]["rule"] == "R3"
    assert data["recommendation"]["decision"] == "stand_alone"
    assert data["gateway"]["passed"] is True


def test_quality_json_without_scorecard() -> None:
    eng, gw, _, _ = full_record()
    data = quality_json(eng, gw, None, None)
    assert data["scorecard"] is None and data["recommendation"] is None
    json.dumps(data)
    assert "Not scored" in quality_html(eng, gw, None, None)


def test_quality_html_content() -> None:
    page = quality_html(*full_record())
    assert page.lstrip().startswith('<section class="quality">')
    assert page.rstrip().endswith("</section>")
    for name in DIMENSIONS.values():
        assert name in page
    assert "Publish alongside official statistics" in page and "rule R3" in page
    assert "Stand alone (recommendation overridden)" in page
    assert "Jane Wanjiru" in page and "2026-03-02" in page and "wait for the 2026 round" in page
    assert "Kenyatta University ERC, ref 123" in page  # the gateway attestation
    assert "asked by the county" in page  # a dimension's attestation, with its name and date
    assert "EMPOWERMENT" in page and "MET" in page
    assert "NOT ASSESSED" in page  # the rating is a word, not a colour


def test_quality_html_escapes_and_has_no_assets() -> None:
    evil = '<script src="https://evil.example/x.js">alert(1)</script> & <a href="http://x">'
    page = quality_html(*full_record(evil))
    assert "<script" not in page and "&lt;script" in page
    tags = _Tags()
    tags.feed(page)
    assert "script" not in tags.tags and "a" not in tags.tags
    assert not [a for a in tags.attrs if a[0] in ("src", "href", "srcset", "action")]
    assert tags.tags.count("style") == 1
    assert "url(" not in tags.style and "@import" not in tags.style
    assert "http://" not in tags.style and "https://" not in tags.style
    clean = quality_html(*full_record())
    assert "http://" not in clean and "https://" not in clean


def test_nqaf_names_are_the_documented_ones() -> None:
    assert set(NQAF_DIMENSIONS) <= set(RULE_DIMENSIONS)
