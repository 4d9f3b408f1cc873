"""Record linkage of Spanish-named lists of victims (integrate.linkage).

The data are generated (tests/linkage_data.py): four lists of about 240 victim-events
written with the variants real lists show. The quality floors below are the figures
measured on these data (docs/methods/linkage.md) less a margin: at threshold 0.9,
precision 0.929, recall 0.997, F1 0.962 and 239 clusters for 244 victim-events were
measured (the false links are mostly one victim's two events, which agree on everything
but date and violation).
"""

from __future__ import annotations

import json
import stat
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from citizendata.errors import BadInput, Problem, Where
from citizendata.integrate.linkage import (
    LinkageResult,
    blocking_recall,
    link_records,
    linkage_quality,
    threshold_sensitivity,
)
from citizendata.integrate.linkage.result import check_decisions
from linkage_data import make_lists, truth_of

# victims written by two lists in ways the model must see through; the truth in _event_id
_BASE = {"victim_sex": "male", "victim_role": "journalist", "violation": "killing",
         "department": "05", "victim_age": "44"}
SPECIAL = pd.DataFrame([
    # a nickname (Pacho = Francisco), second given name and second surname dropped
    {**_BASE, "source": "flip", "record_id": "X-1", "victim_given_names": "Francisco Javier",
     "victim_surnames": "Peñaloza Úsuga", "event_date": "2019-03-14",
     "municipality": "05001", "_event_id": 9001},
    {**_BASE, "source": "fiscalia", "record_id": "X-2", "victim_given_names": "Pacho",
     "victim_surnames": "Penaloza", "event_date": "2019-03-15", "municipality": "05001",
     "_event_id": 9001},
    # surnames written in the given names' column and the other way round
    {**_BASE, "source": "flip", "record_id": "X-3", "victim_given_names": "Luis Hernando",
     "victim_surnames": "Arboleda de la Hoz", "event_date": "2021-07-02",
     "municipality": "05088", "victim_role": "trade_unionist", "_event_id": 9002},
    {**_BASE, "source": "sindical", "record_id": "X-4", "victim_given_names":
     "ARBOLEDA DE LA HOZ", "victim_surnames": "LUIS HERNANDO", "event_date": "2021-07-02",
     "municipality": "", "victim_role": "trade_unionist", "_event_id": 9002},
])


@pytest.fixture(scope="module")
def records() -> pd.DataFrame:
    return pd.concat([make_lists(), SPECIAL], ignore_index=True)


@pytest.fixture(scope="module")
def truth(records: pd.DataFrame) -> pd.Series:
    return truth_of(records)


@pytest.fixture(scope="module")
def result(records: pd.DataFrame) -> LinkageResult:
    return link_records(records.drop(columns="_event_id"))


def _w(error: BadInput | Problem) -> Where:
    assert error.where is not None
    return error.where


def _cluster_of(clusters: pd.DataFrame, key: str) -> int:
    return int(clusters.loc[clusters["key"] == key, "cluster_id"].iloc[0])


def test_quality_against_the_truth(result: LinkageResult, truth: pd.Series) -> None:
    q = linkage_quality(result, truth, threshold=0.9)
    assert q["precision"] >= 0.90
    assert q["recall"] >= 0.96
    assert q["f1"] >= 0.93
    # the number of victim-events is what the estimates count: within 3% of the truth
    assert abs(q["clusters"] - q["true_entities"]) <= 0.03 * q["true_entities"]
    assert q["records"] == len(truth)


def test_blocking_keeps_nearly_every_true_pair(records: pd.DataFrame, truth: pd.Series) -> None:
    table = blocking_recall(records, truth).set_index("rule")
    assert table.loc["union", "recall"] >= 0.97
    # each rule alone loses pairs the others find: the union is what keeps recall high
    assert (table.drop(index="union")["recall"] < table.loc["union", "recall"]).all()
    assert table.loc["names swapped", "true_pairs_kept"] >= 1


def test_nickname_and_dropped_surname_link(result: LinkageResult) -> None:
    c = result.clusters(0.9)
    assert _cluster_of(c, "flip:X-1") == _cluster_of(c, "fiscalia:X-2")
    pair = result.pairs[(result.pairs["left_key"] == "fiscalia:X-2")
                        & (result.pairs["right_key"] == "flip:X-1")]
    # level 5 of the given names: the same first name after the nickname table
    assert pair["gamma_given_names"].iloc[0] == 5


def test_names_in_swapped_columns_link(result: LinkageResult) -> None:
    c = result.clusters(0.9)
    assert _cluster_of(c, "flip:X-3") == _cluster_of(c, "sindical:X-4")
    pair = result.pairs[(result.pairs["left_key"] == "flip:X-3")
                        & (result.pairs["right_key"] == "sindical:X-4")]
    assert pair["gamma_given_names"].iloc[0] == 4  # "swapped with surnames"
    assert pair["gamma_surnames"].iloc[0] == 3  # "swapped with given names"


def test_decided_non_match_stays_apart(result: LinkageResult) -> None:
    decided = result.with_decisions(pd.DataFrame({
        "left_key": ["flip:X-1"], "right_key": ["fiscalia:X-2"], "decision": ["non_match"]}))
    c = decided.clusters(0.9)
    assert _cluster_of(c, "flip:X-1") != _cluster_of(c, "fiscalia:X-2")
    # the undecided result still links them: the decision did it
    c0 = result.clusters(0.9)
    assert _cluster_of(c0, "flip:X-1") == _cluster_of(c0, "fiscalia:X-2")


def _triangle() -> LinkageResult:
    # A–B strong, B–C weaker, A–C below the threshold: A and C are joined through B
    pairs = pd.DataFrame({"left_key": ["a:1", "a:2", "a:1"], "right_key": ["a:2", "a:3", "a:3"],
                          "match_probability": [0.99, 0.95, 0.2],
                          "match_weight": [6.6, 4.2, -2.0]})
    keys = pd.Index(["a:1", "a:2", "a:3", "a:4"], name="key")
    from citizendata.integrate.linkage.model import FittedModel

    model = FittedModel(prior=0.01, comparisons=[], blocking={}, candidate_pairs=3, records=4,
                        seed=1, date_tolerance_days=30)
    return LinkageResult(keys=keys, sources=pd.Series("a", index=keys), pairs=pairs,
                         model=model)


def test_non_match_through_others_cuts_the_weakest_edge() -> None:
    r = _triangle()
    assert r.clusters(0.9)["cluster_id"].tolist() == [0, 0, 0, 1]
    d = r.with_decisions(pd.DataFrame({"left_key": ["a:3"], "right_key": ["a:1"],
                                       "decision": ["non_match"]}))
    c = d.clusters(0.9)
    # B–C (0.95) is weaker than A–B (0.99): it is cut, A and B stay together
    assert c["cluster_id"].tolist() == [0, 0, 1, 2]
    assert c.attrs["cut"][["left_key", "right_key"]].values.tolist() == [["a:2", "a:3"]]


def test_decided_match_links_and_contradictions_are_refused() -> None:
    r = _triangle()
    d = r.with_decisions(pd.DataFrame({"left_key": ["a:4"], "right_key": ["a:3"],
                                       "decision": ["match"]}))
    assert d.clusters(0.9)["cluster_id"].nunique() == 1
    # a decided match is never cut: here A–B is cut to keep A and C apart
    d2 = r.with_decisions(pd.DataFrame({
        "left_key": ["a:2", "a:1"], "right_key": ["a:3", "a:3"],
        "decision": ["match", "non_match"]}))
    assert d2.clusters(0.9)["cluster_id"].tolist() == [0, 1, 1, 2]
    contradictory = pd.DataFrame({
        "left_key": ["a:1", "a:2", "a:1"], "right_key": ["a:2", "a:3", "a:3"],
        "decision": ["match", "match", "non_match"]})
    # a new decision is checked strictly against the stored ones (the service does this)
    with pytest.raises(BadInput) as e:
        check_decisions(contradictory, r.keys)
    assert e.value.code == "linkage.review_invalid"


def test_stored_contradictory_decisions_skip_the_later_one() -> None:
    # two validators at once (a race on PostgreSQL) stored A=B, B=C and A≠C
    r = _triangle()
    stored = pd.DataFrame({
        "left_key": ["a:1", "a:2", "a:1"], "right_key": ["a:2", "a:3", "a:3"],
        "decision": ["match", "match", "non_match"]})
    d = r.with_decisions(stored)
    c = d.clusters(0.9)
    # applied oldest first: the non_match contradicts the two matches before it
    assert c["cluster_id"].tolist() == [0, 0, 0, 1]
    skipped = c.attrs["skipped_decisions"]
    assert skipped[["left_key", "right_key", "decision"]].values.tolist() == [
        ["a:1", "a:3", "non_match"]]
    assert d.decisions["decision"].tolist() == ["match", "match"]
    # the other order: the non_match came first, so the match closing the loop is skipped
    d2 = r.with_decisions(stored.iloc[[2, 0, 1]])
    assert d2.decisions.attrs["skipped_decisions"]["right_key"].tolist() == ["a:3"]
    assert d2.decisions.attrs["skipped_decisions"]["decision"].tolist() == ["match"]
    assert d2.clusters(0.9)["cluster_id"].tolist() == [0, 0, 1, 2]
    # a later decision on the same pair replaces the earlier one: nothing is skipped
    d3 = r.with_decisions(pd.concat([stored, pd.DataFrame({
        "left_key": ["a:1"], "right_key": ["a:3"], "decision": ["match"]})]))
    assert d3.decisions.attrs["skipped_decisions"].empty
    # link_records applies stored decisions the same way
    recs = _small()
    k = (recs["source"] + ":" + recs["record_id"]).tolist()
    loop = pd.DataFrame({"left_key": [k[0], k[1], k[0]], "right_key": [k[1], k[2], k[2]],
                         "decision": ["match", "match", "non_match"]})
    linked = link_records(recs, decisions=loop)
    assert len(linked.decisions.attrs["skipped_decisions"]) == 1
    assert linked.clusters(0.9).attrs["skipped_decisions"]["decision"].tolist() == ["non_match"]


def _one_person_two_acts() -> LinkageResult:
    # one journalist: tortured (a:1, b:1), then killed (a:2, b:2); a:3 says kidnapped and
    # b:3 disappeared (lists reclassify these: one act)
    pairs = pd.DataFrame({
        "left_key": ["a:1", "a:1", "a:2", "a:1", "a:3", "a:2"],
        "right_key": ["b:1", "a:2", "b:2", "b:2", "b:3", "b:1"],
        "match_probability": [0.999, 0.98, 0.999, 0.95, 0.99, 0.6],
        "match_weight": [10.0, 5.6, 10.0, 4.2, 6.6, 0.6]})
    keys = pd.Index(["a:1", "a:2", "a:3", "b:1", "b:2", "b:3"], name="key")
    from citizendata.integrate.linkage.model import FittedModel
    from citizendata.integrate.linkage.result import COMPATIBLE_VIOLATIONS

    model = FittedModel(prior=0.01, comparisons=[], blocking={}, candidate_pairs=6, records=6,
                        seed=1, date_tolerance_days=30)
    violations = pd.Series(["torture", "killing", "kidnapping", "torture", "killing",
                            "enforced_disappearance"], index=keys)
    return LinkageResult(keys=keys, sources=pd.Series("a", index=keys), pairs=pairs,
                         model=model, violations=violations, compatible=COMPATIBLE_VIOLATIONS)


def test_incompatible_violations_are_never_linked() -> None:
    r = _one_person_two_acts()
    c = r.clusters(0.9).set_index("key")["cluster_id"]
    # torture and killing are two acts: two clusters; kidnapping ~ disappearance: one
    assert c["a:1"] == c["b:1"] and c["a:2"] == c["b:2"] and c["a:1"] != c["a:2"]
    assert c["a:3"] == c["b:3"]
    assert c.nunique() == 3
    # nor are they offered for review
    assert r.review_queue(0.5, 0.95).empty
    # disabled, the chain torture–killing links all four
    c0 = replace(r, compatible=None).clusters(0.9).set_index("key")["cluster_id"]
    assert c0["a:1"] == c0["a:2"]
    assert len(replace(r, compatible=None).review_queue(0.5, 0.95)) == 1
    # a decided match still links the two it names (a clerk judged it one act written
    # wrongly); the other records keep the rule, so b:1 and b:2 are cut off
    d = r.with_decisions(pd.DataFrame({"left_key": ["a:1"], "right_key": ["a:2"],
                                       "decision": ["match"]}))
    cd = d.clusters(0.9).set_index("key")["cluster_id"]
    assert cd["a:1"] == cd["a:2"] and cd.nunique() == 4


def test_incompatible_chain_is_cut_at_its_weakest_edge() -> None:
    # torture a:1 — (0.99) — unknown type x:1 — (0.93) — killing a:2: joined only through x:1
    pairs = pd.DataFrame({"left_key": ["a:1", "a:2"], "right_key": ["x:1", "x:1"],
                          "match_probability": [0.99, 0.93], "match_weight": [6.6, 3.7]})
    keys = pd.Index(["a:1", "a:2", "x:1"], name="key")
    r = replace(_one_person_two_acts(), keys=keys, pairs=pairs,
                violations=pd.Series(["torture", "killing", None], index=keys))
    c = r.clusters(0.9)
    assert c["cluster_id"].tolist() == [0, 1, 0]
    assert c.attrs["cut"][["left_key", "right_key"]].values.tolist() == [["a:2", "x:1"]]


def test_link_records_compares_violation_types() -> None:
    recs = _small()
    with pytest.raises(BadInput) as e:
        link_records(recs, compatible={"kidnapping": "enforced_disappearance"})
    assert e.value.code == "linkage.invalid" and _w(e.value).field == "compatible"
    r = link_records(recs)
    assert r.compatible is not None and r.violations is not None
    k = recs["source"] + ":" + recs["record_id"]
    assert r.violations[k.iloc[0]] == recs["violation"].iloc[0]
    with pytest.raises(BadInput) as e:
        r.with_decisions(pd.DataFrame({"left_key": ["a:1"], "right_key": ["a:9"],
                                       "decision": ["match"]}))
    assert e.value.code == "linkage.review_invalid" and _w(e.value).row == 1
    with pytest.raises(BadInput) as e:
        r.with_decisions(pd.DataFrame({"left_key": ["a:1"], "right_key": ["a:2"],
                                       "decision": ["maybe"]}))
    assert _w(e.value).column == "decision"


def test_review_queue_is_the_undecided_band(result: LinkageResult) -> None:
    q = result.review_queue(0.3, 0.95)
    assert q["match_probability"].between(0.3, 0.95, inclusive="left").all()
    assert q["match_probability"].is_monotonic_decreasing
    first = q.iloc[0]
    d = result.with_decisions(pd.DataFrame({"left_key": [first["right_key"]],
                                            "right_key": [first["left_key"]],
                                            "decision": ["unsure"]}))
    assert len(d.review_queue(0.3, 0.95)) == len(q) - 1
    with pytest.raises(BadInput):
        result.review_queue(0.9, 0.5)


def test_model_summary_has_the_levels_and_no_names(result: LinkageResult,
                                                   records: pd.DataFrame) -> None:
    s = result.model_summary()
    text = json.dumps(s)
    names = pd.concat([records["victim_given_names"], records["victim_surnames"]])
    words = {w.lower() for n in names for w in str(n).split() if len(w) > 3}
    assert not {w for w in words if f'"{w}' in text.lower()}
    assert s["records"] == len(records) and s["lists"] == 4
    assert 0 < s["probability_two_random_records_match"] < 0.01
    by_name = {c["name"]: c for c in s["comparisons"]}
    assert set(by_name) == {"given_names", "surnames", "sex", "age", "role", "violation",
                            "event_date", "place"}
    for c in s["comparisons"]:
        assert c["m_source"] == "em"
        bf = [lv["bayes_factor"] for lv in c["levels"]]
        # agreeing exactly counts for a match, disagreeing against
        assert bf[0] > 1 > bf[-1]
    assert by_name["event_date"]["levels"][0]["label"] == "exact"


def test_same_seed_same_pairs_and_missing_values_are_not_disagreement() -> None:
    recs = make_lists(n_events=25, seed=3).drop(columns="_event_id")
    # one list records no ages, sexes or municipalities at all
    blank = recs["source"] == "sindical"
    recs.loc[blank, ["victim_age", "municipality"]] = ""
    recs.loc[blank, "victim_sex"] = "unknown"
    a, b = link_records(recs, seed=5), link_records(recs, seed=5)
    pd.testing.assert_frame_equal(a.pairs, b.pairs)
    assert a.model_summary() == b.model_summary()
    p = a.pairs
    touches = p["left_key"].str.startswith("sindical:") | p["right_key"].str.startswith(
        "sindical:")
    assert touches.any()
    assert (p.loc[touches, "gamma_age"] == -1).all() and (p.loc[touches, "gamma_sex"] == -1).all()
    assert (p.loc[~touches, "gamma_sex"] >= 0).any()
    assert np.isfinite(p["match_weight"]).all()


def test_threshold_sensitivity(result: LinkageResult, truth: pd.Series) -> None:
    table = threshold_sensitivity(result, [0.5, 0.9, 0.99],
                                  lambda c: float(c["cluster_id"].nunique()))
    assert table["threshold"].tolist() == [0.5, 0.9, 0.99]
    assert (table["estimate"] == table["clusters"]).all()
    assert table["clusters"].is_monotonic_increasing  # a higher bar links less

    def by_list(c: pd.DataFrame) -> dict[str, float]:
        in_flip = c.loc[c["source"] == "flip", "cluster_id"].nunique()
        return {"flip_share": in_flip / c["cluster_id"].nunique()}
    table = threshold_sensitivity(result, [0.9], by_list)
    assert 0.5 < table["flip_share"].iloc[0] < 0.8


def test_linkage_quality_counts_pairs() -> None:
    clusters = pd.DataFrame({"key": ["a", "b", "c", "d"], "cluster_id": [0, 0, 0, 1]})
    truth = pd.Series([1, 1, 2, 2], index=["a", "b", "c", "d"])
    q = linkage_quality(clusters, truth)
    # predicted pairs ab ac bc, true pairs ab cd: one right
    assert (q["predicted_pairs"], q["true_pairs"], q["true_positive_pairs"]) == (3, 2, 1)
    assert q["precision"] == pytest.approx(1 / 3)
    assert q["recall"] == pytest.approx(1 / 2)
    assert q["f1"] == pytest.approx(0.4)
    with pytest.raises(BadInput) as e:
        linkage_quality(clusters, truth.drop("d"))
    assert e.value.code == "linkage.invalid" and _w(e.value).row == 4


def _small() -> pd.DataFrame:
    return make_lists(n_events=12, seed=1).drop(columns="_event_id")


def test_repeated_record_id_names_the_row_not_the_name() -> None:
    recs = _small()
    recs.loc[5, ["source", "record_id"]] = recs.loc[2, ["source", "record_id"]].to_numpy()
    with pytest.raises(BadInput) as e:
        link_records(recs)
    err = e.value
    assert err.code == "linkage.invalid"
    assert (_w(err).row, _w(err).column) == (6, "record_id")
    text = str(err) + json.dumps(err.to_dict(), default=str)
    for value in recs.loc[5, ["victim_given_names", "victim_surnames"]]:
        for word in str(value).split():
            assert word not in text


def test_missing_column_and_unreadable_values() -> None:
    with pytest.raises(BadInput) as e:
        link_records(_small().drop(columns=["municipality", "victim_age"]))
    assert e.value.code == "linkage.invalid"
    assert {_w(p).column for p in e.value.problems} == {"municipality", "victim_age"}
    recs = _small()
    recs.loc[3, "event_date"] = "14/03/2019"
    recs.loc[7, "victim_age"] = "cuarenta"
    recs.loc[8, "municipality"] = "11001"  # Bogotá, not in the record's department
    with pytest.raises(BadInput) as e:
        link_records(recs)
    where = {(_w(p).row, _w(p).column) for p in e.value.problems}
    assert {(4, "event_date"), (8, "victim_age")} <= where
    assert (9, "municipality") in where or recs.loc[8, "department"] == "11"
    assert "cuarenta" not in str(e.value)
    with pytest.raises(BadInput):
        link_records(_small(), date_tolerance_days=-1)
    with pytest.raises(BadInput):
        _triangle().clusters(1.5)


def test_duckdb_spills_to_a_private_directory_removed_afterwards(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from citizendata.integrate.linkage.model import private_duckdb

    monkeypatch.chdir(tmp_path)
    with private_duckdb() as con:
        row = con.execute("SELECT current_setting('temp_directory')").fetchone()
        assert row is not None
        folder = Path(row[0])
        assert folder.is_dir() and tmp_path not in folder.parents
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700
        # DuckDB's default would be ./.tmp, the working directory
        assert folder.name != ".tmp"
    assert not folder.exists()
    link_records(_small())
    assert list(tmp_path.iterdir()) == []
