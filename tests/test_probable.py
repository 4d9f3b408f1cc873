"""Probable duplicates: accuracy on a simulated population with known truth, and the edges."""

from __future__ import annotations

import datetime as dt
import json
import logging
import random
from itertools import combinations

import pyarrow as pa
import pytest

from citizendata.errors import BadInput
from citizendata.validate.probable import (
    Comparison,
    DuplicateConfig,
    empty_result,
    probable_duplicates,
)

FIRST = ["Wanjiru", "Achieng", "Akinyi", "Njeri", "Wambui", "Atieno", "Chebet", "Jepkosgei",
         "Nafula", "Moraa", "Kamau", "Otieno", "Mwangi", "Ochieng", "Kiprop", "Mutua", "Omondi",
         "Kariuki", "Barasa", "Wekesa", "Amina", "Fatuma", "Halima", "Zainabu", "Mohamed",
         "Hassan", "Grace", "Mercy", "Faith", "Joseph", "Peter", "John", "Esther", "Mary", "Ann",
         "Lucy", "David", "Daniel", "Samuel", "James"]
LAST = ["Kamau", "Otieno", "Mwangi", "Ochieng", "Kiprop", "Mutua", "Omondi", "Kariuki", "Barasa",
        "Wekesa", "Njoroge", "Odhiambo", "Wafula", "Kipchumba", "Cheruiyot", "Nyambura", "Maina",
        "Githinji", "Owino", "Onyango", "Ali", "Abdi", "Juma", "Said", "Mohamud", "Achieng",
        "Wanjala", "Kimani", "Ndungu", "Muriuki"]
WARDS = ["Kibera", "Kangemi", "Mathare", "Korogocho", "Mukuru", "Kawangware", "Dandora",
         "Kariobangi", "Eastleigh", "Githurai"]

CONFIG = DuplicateConfig((Comparison("ward", "exact"), Comparison("name", "fuzzy"),
                          Comparison("date", "date_within", 3)))
RESULT_COLUMNS = ["id_l", "id_r", "match_probability", "match_weight",
                  "gamma_ward", "gamma_name", "gamma_date"]


def _typo(rng: random.Random, s: str) -> str:
    i = rng.randrange(1, len(s) - 1)
    kind = rng.choice(["substitute", "delete", "insert", "swap"])
    letter = rng.choice("abcdefghijklmnopqrstuvwxyz")
    if kind == "substitute":
        return s[:i] + letter + s[i + 1:]
    if kind == "delete":
        return s[:i] + s[i + 1:]
    if kind == "insert":
        return s[:i] + letter + s[i:]
    return s[:i - 1] + s[i] + s[i - 1] + s[i + 1:]


def simulate(seed: int = 7, n: int = 400, n_duplicates: int = 40
             ) -> tuple[pa.Table, set[tuple[int, int]]]:
    """n distinct incidents plus re-reports with one typo in the name and the date ±0–2 days."""
    rng = random.Random(seed)
    start = dt.date(2024, 1, 1)
    rows = [{"name": f"{rng.choice(FIRST)} {rng.choice(LAST)}", "ward": rng.choice(WARDS),
             "date": (start + dt.timedelta(days=rng.randrange(366))).isoformat()}
            for _ in range(n)]
    incident = list(range(n))
    for _ in range(n_duplicates):
        k = rng.randrange(n)
        date = dt.date.fromisoformat(rows[k]["date"]) + dt.timedelta(days=rng.randint(-2, 2))
        rows.append({"name": _typo(rng, rows[k]["name"]), "ward": rows[k]["ward"],
                     "date": date.isoformat()})
        incident.append(k)
    # ids in random order, so a duplicate is not simply the later id
    order = list(range(len(rows)))
    rng.shuffle(order)
    ids = [0] * len(rows)
    for new, old in enumerate(order):
        ids[old] = 1000 + new
    groups: dict[int, list[int]] = {}
    for row, k in enumerate(incident):
        groups.setdefault(k, []).append(ids[row])
    truth = {pair for g in groups.values() for pair in combinations(sorted(g), 2)}
    table = pa.table({"_id": pa.array(ids, pa.int64()),
                      "name": [r["name"] for r in rows], "ward": [r["ward"] for r in rows],
                      "date": [r["date"] for r in rows]})
    return table, truth


@pytest.fixture(scope="module")
def simulated() -> tuple[pa.Table, set[tuple[int, int]], pa.Table]:
    table, truth = simulate()
    return table, truth, probable_duplicates(table, CONFIG)


def _pairs(result: pa.Table) -> list[tuple[int, int]]:
    return list(zip(result["id_l"].to_pylist(), result["id_r"].to_pylist(), strict=True))


def test_precision_and_recall_on_simulated_population(simulated):
    _, truth, result = simulated
    found = set(_pairs(result))
    true_positives = len(found & truth)
    precision = true_positives / len(found)
    recall = true_positives / len(truth)
    assert precision >= 0.9, (precision, sorted(found - truth))
    assert recall >= 0.9, (recall, sorted(truth - found))


def test_pairs_ordered_once_with_probabilities(simulated):
    _, _, result = simulated
    assert result.column_names == RESULT_COLUMNS
    assert result.schema.equals(empty_result(CONFIG).schema)
    pairs = _pairs(result)
    assert pairs and all(a < b for a, b in pairs)
    assert len(pairs) == len(set(pairs))
    probs = result["match_probability"].to_pylist()
    assert all(0.8 <= p <= 1 for p in probs)
    keys = [(-p, a, b) for p, (a, b) in zip(probs, pairs, strict=True)]
    assert keys == sorted(keys)
    # everything reported was blocked on ward, so the ward agrees exactly
    assert set(result["gamma_ward"].to_pylist()) == {1}
    assert set(result["gamma_name"].to_pylist()) <= {-1, 0, 1, 2, 3}


def test_model_is_described_in_metadata(simulated):
    _, _, result = simulated
    model = json.loads(result.schema.metadata[b"citizendata.duplicates"])
    assert model["n_rows"] == 440
    assert 0 < model["probability_two_random_records_match"] < 0.01
    for c in model["comparisons"]:
        assert c["m_source"] in {"em", "fallback"}
        assert sum(c["m"]) == pytest.approx(1) and sum(c["u"]) == pytest.approx(1)


def test_reproducible(simulated):
    table, _, result = simulated
    assert probable_duplicates(table, CONFIG).equals(result)


def test_quiet_and_restores_logging(caplog):
    table, _ = simulate(seed=3, n=60, n_duplicates=6)
    splink_logger = logging.getLogger("splink")
    splink_logger.setLevel(logging.DEBUG)
    try:
        with caplog.at_level(logging.DEBUG):
            probable_duplicates(table, CONFIG)
        assert [r for r in caplog.records if r.name.startswith("splink")] == []
        assert splink_logger.level == logging.DEBUG
    finally:
        splink_logger.setLevel(logging.NOTSET)


def _table(rows: list[dict[str, object]], id_column: str = "_id") -> pa.Table:
    columns: dict[str, list[object]] = {id_column: [], "ward": [], "name": [], "date": []}
    for i, row in enumerate(rows):
        columns[id_column].append(i + 1)
        for key in ("ward", "name", "date"):
            columns[key].append(row.get(key))
    return pa.table({k: pa.array(v, pa.int64() if k == id_column else pa.string())
                     for k, v in columns.items()})


def test_empty_and_one_row():
    assert probable_duplicates(_table([]), CONFIG).equals(empty_result(CONFIG))
    one = _table([{"ward": "Kibera", "name": "Amina Hassan", "date": "2024-03-01"}])
    result = probable_duplicates(one, CONFIG)
    assert result.num_rows == 0
    assert result.column_names == RESULT_COLUMNS


def test_small_table_falls_back_and_finds_the_obvious_pair():
    rows = [
        {"ward": "Kibera", "name": "Amina Hassan", "date": "2024-03-01"},
        {"ward": "kibera ", "name": "Amina Hasan", "date": "2024-03-02"},
        {"ward": "Kibera", "name": "Peter Kiprop", "date": "2024-07-19"},
        {"ward": "Mathare", "name": "Grace Wambui", "date": "2024-05-05"},
        {"ward": "Mathare", "name": "John Mutua", "date": "2024-11-30"},
    ]
    result = probable_duplicates(_table(rows), CONFIG)
    assert _pairs(result) == [(1, 2)]
    assert result.select(["gamma_ward", "gamma_name", "gamma_date"]).to_pylist() == [
        {"gamma_ward": 1, "gamma_name": 2, "gamma_date": 1}]
    model = json.loads(result.schema.metadata[b"citizendata.duplicates"])
    assert {c["m_source"] for c in model["comparisons"]} == {"fallback"}
    assert model["prior_source"] == "fallback"


def test_all_null_fuzzy_field():
    table, _ = simulate(seed=5, n=80, n_duplicates=8)
    names = pa.array([None, ""] * (table.num_rows // 2), pa.string())
    table = table.set_column(table.column_names.index("name"), "name", names)
    result = probable_duplicates(table, CONFIG)
    assert set(result["gamma_name"].to_pylist()) <= {-1}
    assert all(0 <= p <= 1 for p in result["match_probability"].to_pylist())


def test_invalid_dates_are_missing():
    rows = [
        {"ward": "Kibera", "name": "Amina Hassan", "date": "2024-02-30"},
        {"ward": "Kibera", "name": "Amina Hassan", "date": "yesterday"},
        {"ward": "Kibera", "name": "Amina Hassan", "date": "01/03/2024"},
        {"ward": "Kibera", "name": "Amina Hassan", "date": ""},
    ]
    result = probable_duplicates(_table(rows), DuplicateConfig(CONFIG.comparisons, threshold=0))
    assert len(result) == 6  # every pair in the one ward block
    assert set(result["gamma_date"].to_pylist()) == {-1}
    assert set(result["gamma_name"].to_pylist()) == {3}


def test_no_pairs_in_any_block():
    rows = [{"ward": w, "name": "Amina Hassan", "date": "2024-03-01"} for w in WARDS]
    result = probable_duplicates(_table(rows), CONFIG)
    assert result.num_rows == 0
    assert result.schema.equals(empty_result(CONFIG).schema)


def test_without_blocking_small_tables_compare_all_pairs():
    rows = [{"ward": w, "name": "Amina Hassan", "date": "2024-03-01"} for w in WARDS[:4]]
    config = DuplicateConfig((Comparison("name", "fuzzy"), Comparison("date", "date_within", 2)),
                             threshold=0)
    assert probable_duplicates(_table(rows), config).num_rows == 6


def test_large_table_without_blocking_is_refused():
    table = pa.table({"_id": pa.array(range(5001), pa.int64()),
                      "name": pa.array(["x"] * 5001, pa.string())})
    with pytest.raises(BadInput) as err:
        probable_duplicates(table, DuplicateConfig((Comparison("name", "fuzzy"),)))
    assert err.value.code == "input.invalid"
    assert err.value.where is not None and err.value.where.field == "blocking"


def test_number_within_odd_names_and_id_column():
    table = pa.table({
        "submission": pa.array([10, 11, 12, 13], pa.int64()),
        'victim "name"': ["Amina Hassan", "Amina Hasan", "Peter Kiprop", "Grace Wambui"],
        "age (years)": ["34", "35", "n/a", "60"],
    })
    config = DuplicateConfig((Comparison('victim "name"', "fuzzy"),
                              Comparison("age (years)", "number_within", 2)), threshold=0)
    result = probable_duplicates(table, config, id_column="submission")
    assert result.column_names[-2:] == ['gamma_victim "name"', "gamma_age (years)"]
    rows = {(r["id_l"], r["id_r"]): r for r in result.to_pylist()}
    assert len(rows) == 6
    assert rows[(10, 11)]["gamma_age (years)"] == 1
    assert rows[(10, 12)]["gamma_age (years)"] == -1
    assert rows[(10, 13)]["gamma_age (years)"] == 0
    assert max(rows.values(), key=lambda r: r["match_probability"]) is rows[(10, 11)]


@pytest.mark.parametrize(("build", "field"), [
    (lambda: probable_duplicates(_table([{}, {}]), DuplicateConfig(
        (Comparison("victim", "fuzzy"),))), "victim"),
    (lambda: probable_duplicates(_table([{}, {}]), DuplicateConfig(
        (Comparison("name", "fuzzy"),), blocking=(("district",),))), "district"),
    (lambda: Comparison("name", "soundex"), "name"),
    (lambda: Comparison("date", "date_within"), "date"),
    (lambda: Comparison("date", "date_within", -1), "date"),
    (lambda: Comparison("name", "fuzzy", 3), "name"),
    (lambda: DuplicateConfig((Comparison("name", "fuzzy"),), threshold=1.5), "threshold"),
    (lambda: probable_duplicates(_table([{}, {}]), CONFIG, id_column="uuid"), "uuid"),
    (lambda: DuplicateConfig.from_dict({"comparisons": [{"field": "x", "metod": "exact"}]}),
     "comparisons[0].metod"),
    (lambda: DuplicateConfig.from_dict({"comparison": []}), "comparison"),
    (lambda: DuplicateConfig.from_dict({"comparisons": [{"field": "date",
                                                         "method": "date_within"}]}), "date"),
])
def test_config_errors_are_coded(build, field):
    with pytest.raises(BadInput) as err:
        build()
    assert err.value.code == "input.invalid"
    assert err.value.where is not None and err.value.where.field == field
    assert err.value.fix and field in str(err.value)


def test_from_dict_round_trip():
    mapping = {
        "comparisons": [
            {"field": "ward", "method": "exact"},
            {"field": "victim_name", "method": "fuzzy"},
            {"field": "incident_date", "method": "date_within", "within": 3},
            {"field": "age", "method": "number_within", "within": 2.5},
        ],
        "blocking": [["ward"], ["incident_date", "age"]],
        "threshold": 0.9,
    }
    config = DuplicateConfig.from_dict(mapping)
    assert config == DuplicateConfig(
        (Comparison("ward", "exact"), Comparison("victim_name", "fuzzy"),
         Comparison("incident_date", "date_within", 3),
         Comparison("age", "number_within", 2.5)),
        blocking=(("ward",), ("incident_date", "age")), threshold=0.9)
    assert config.to_dict() == mapping
    assert DuplicateConfig.from_dict(config.to_dict()) == config
    # a one-column rule may be written as its name; the threshold has a default
    short = DuplicateConfig.from_dict({"comparisons": [{"field": "ward", "method": "exact"}],
                                       "blocking": ["ward"]})
    assert short.blocking == (("ward",),) and short.threshold == 0.8
