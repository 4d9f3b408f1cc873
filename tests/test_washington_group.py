"""Derived variables: Washington Group disability status, age groups and geographic roll-ups."""

from __future__ import annotations

from typing import Any

import ibis
import pandas as pd
import pytest

from citizendata.errors import BadInput
from citizendata.stats.derive import (
    WITH_DISABILITY,
    WITHOUT_DISABILITY,
    age_group,
    age_labels,
    rollup,
    washington_group,
)

FIELDS = {"seeing": "wg_seeing", "hearing": "wg_hearing", "walking": "wg_walking",
          "cognition": "wg_cognition", "selfcare": "wg_selfcare",
          "communication": "wg_communication"}
COLUMNS = list(FIELDS.values())

W, WO, U = WITH_DISABILITY, WITHOUT_DISABILITY, None
# case: the six answers (seeing … communication) and the status by DISABILITY1, 2, 3, 4.
# 1 no difficulty, 2 some, 3 a lot, 4 cannot do at all; 7 don't know, 9 refused.
CASES: dict[str, tuple[list[str | None], tuple[str | None, ...]]] = {
    "all ones":                    (["1", "1", "1", "1", "1", "1"], (WO, WO, WO, WO)),
    "one 2":                       (["2", "1", "1", "1", "1", "1"], (W, WO, WO, WO)),
    "two 2s":                      (["2", "2", "1", "1", "1", "1"], (W, W, WO, WO)),
    "one 3":                       (["1", "1", "3", "1", "1", "1"], (W, W, W, WO)),
    "one 4":                       (["1", "1", "1", "1", "1", "4"], (W, W, W, W)),
    "all missing":                 (["", None, "", None, "", None], (U, U, U, U)),
    "all don't know":              (["7", "7", "7", "7", "7", "7"], (U, U, U, U)),
    "all refused or blank":        (["9", "7", "", None, "9", "7"], (U, U, U, U)),
    "mixed 9s and a 3":            (["9", "9", "3", "9", "9", "9"], (W, W, W, WO)),
    "decimal export 3.0":          (["3.0", "1", "1", "1", "1", "1"], (W, W, W, WO)),
    "decimal export 2.0 and 1.0":  (["2.0", "1.0", "1.0", "1.0", "1.0", "1.0"], (W, WO, WO, WO)),
    "some missing, rest 1":        (["9", "", None, "7", "1", "1"], (WO, WO, WO, WO)),
    "one answer 1, rest missing":  (["1", None, None, None, None, None], (WO, WO, WO, WO)),
    "only a 2 answered":           ([None, None, "2", None, None, None], (W, WO, WO, WO)),
    "a 2 and a 3":                 (["2", "3", "1", "1", "1", "1"], (W, W, W, WO)),
    "padded answer":               ([" 4 ", "1", "1", "1", "1", "1"], (W, W, W, W)),
}


@pytest.fixture(scope="module")
def statuses() -> pd.DataFrame:
    """Every case's status under each identifier, computed by DuckDB."""
    names = list(CASES)
    data: dict[str, list[Any]] = {"case": names}
    for j, col in enumerate(COLUMNS):
        data[col] = [CASES[n][0][j] for n in names]
    t = ibis.memtable(pd.DataFrame(data, dtype=object).astype({"case": str}))
    t = t.cast({c: "string" for c in COLUMNS})
    out = t.mutate(**{ident: washington_group(t, FIELDS, ident)
                      for ident in ("DISABILITY1", "DISABILITY2", "DISABILITY3", "DISABILITY4")})
    return out.to_pandas().set_index("case")


@pytest.mark.parametrize("case", list(CASES))
def test_washington_group_identifiers(statuses: pd.DataFrame, case: str) -> None:
    got = statuses.loc[case]
    want = CASES[case][1]
    for k, ident in enumerate(("DISABILITY1", "DISABILITY2", "DISABILITY3", "DISABILITY4")):
        value = got[ident]
        value = None if pd.isna(value) else value
        assert value == want[k], (case, ident, value)


def test_default_identifier_is_disability3() -> None:
    t = ibis.memtable(pd.DataFrame({c: ["1", "1", "3", "1", "1", "1"][i:i + 1]
                                    for i, c in enumerate(COLUMNS)}))
    got = t.select(s=washington_group(t, FIELDS)).to_pandas()["s"].tolist()
    assert got == [W]


def test_numeric_answer_columns_work_too() -> None:
    # an export may type the answers as numbers, with NULL for blanks
    t = ibis.memtable(pd.DataFrame({c: pd.array([2, 1, None], dtype="Int64") for c in COLUMNS}))
    got = t.select(s=washington_group(t, FIELDS, "DISABILITY1")).to_pandas()["s"].tolist()
    assert [None if pd.isna(v) else v for v in got] == [W, WO, None]


def test_unknown_identifier_is_refused() -> None:
    t = ibis.memtable(pd.DataFrame({c: ["1"] for c in COLUMNS}))
    with pytest.raises(BadInput) as err:
        washington_group(t, FIELDS, "DISABILITY5")
    assert err.value.code == "indicator.invalid"
    assert "DISABILITY5" in err.value.message


def test_a_domain_not_mapped_is_refused() -> None:
    t = ibis.memtable(pd.DataFrame({c: ["1"] for c in COLUMNS}))
    fields = {k: v for k, v in FIELDS.items() if k != "selfcare"}
    with pytest.raises(BadInput) as err:
        washington_group(t, fields)
    assert err.value.code == "indicator.unknown_dimension"
    assert "selfcare" in err.value.message


def test_a_mapped_field_missing_from_the_table_is_refused() -> None:
    t = ibis.memtable(pd.DataFrame({c: ["1"] for c in COLUMNS if c != "wg_hearing"}))
    with pytest.raises(BadInput) as err:
        washington_group(t, FIELDS)
    assert err.value.code == "indicator.unknown_dimension"
    assert "wg_hearing" in err.value.message


# -- codings and the missing list ---------------------------------------------------------

ZERO_TO_THREE = {"no_difficulty": "0", "some": "1", "a_lot": "2", "cannot": "3"}
NAMES = {"no_difficulty": "no_difficulty", "some": "some_difficulty",
         "a_lot": "a_lot_of_difficulty", "cannot": "cannot_do"}
# the same people under three codings; the last column is each identifier's status
PEOPLE = [  # severities 1-4, None blank, "dk" / "ref" the missing codes
    ([1, 1, 1, 1, 1, 1], (WO, WO, WO, WO)),
    ([2, 1, 1, 1, 1, 1], (W, WO, WO, WO)),
    ([2, 2, 1, 1, 1, 1], (W, W, WO, WO)),
    ([1, 1, 3, 1, 1, 1], (W, W, W, WO)),
    ([1, 1, 1, 1, 1, 4], (W, W, W, W)),
    (["dk", "ref", None, "dk", "ref", None], (U, U, U, U)),
    (["dk", "dk", 3, "ref", "ref", "ref"], (W, W, W, WO)),
    ([1, "dk", None, "ref", None, None], (WO, WO, WO, WO)),
]
IDENTS = ("DISABILITY1", "DISABILITY2", "DISABILITY3", "DISABILITY4")


def _coded(codes: dict[str, str], dk: str, ref: str) -> pd.DataFrame:
    level = dict(zip((1, 2, 3, 4), (codes[k] for k in ("no_difficulty", "some", "a_lot",
                                                       "cannot")), strict=True))
    rows = [[None if a is None else dk if a == "dk" else ref if a == "ref" else level[a]
             for a in answers] for answers, _ in PEOPLE]
    return pd.DataFrame(rows, columns=COLUMNS, dtype=object)


def _statuses(df: pd.DataFrame, **kw: Any) -> dict[str, list[str | None]]:
    t = ibis.memtable(df.assign(i=range(len(df)))).cast({c: "string" for c in COLUMNS})
    out = t.mutate(**{k: washington_group(t, FIELDS, k, **kw) for k in IDENTS}).order_by("i")
    got = out.to_pandas()
    return {k: [None if pd.isna(v) else v for v in got[k]] for k in IDENTS}


@pytest.mark.parametrize(("codes", "dk", "ref"), [
    (None, "7", "9"),                        # the WG's 1-4, don't know 7, refused 9
    (ZERO_TO_THREE, "8", "9"),               # 0-3
    (NAMES, "dont_know", "refused"),         # choice names
], ids=["1-4", "0-3", "names"])
def test_every_coding_gives_the_same_statuses(codes: dict[str, str] | None, dk: str,
                                              ref: str) -> None:
    df = _coded(codes or {"no_difficulty": "1", "some": "2", "a_lot": "3", "cannot": "4"},
                dk, ref)
    got = _statuses(df, missing=[dk, ref], codes=codes)
    for k, ident in enumerate(IDENTS):
        assert got[ident] == [want[k] for _, want in PEOPLE], ident


def test_zero_to_three_without_codes_is_refused_not_misread() -> None:
    # read as 1-4, a 0-3 coding would turn 'no difficulty' (0) into missing and 'some' (1)
    # into 'no difficulty': with the missing list given, the 0s are named instead
    df = _coded(ZERO_TO_THREE, "8", "9")
    with pytest.raises(BadInput) as err:
        _statuses(df, missing=["8", "9"])
    e = err.value
    assert e.code == "indicator.invalid"
    assert "'0' in wg_seeing" in e.message and "give `codes`" in (e.fix or "")
    assert {"field": "wg_seeing", "value": "0", "n": 4} in e.details["unexpected"]


def test_an_answer_neither_valid_nor_missing_is_refused_with_its_count() -> None:
    df = _coded({"no_difficulty": "1", "some": "2", "a_lot": "3", "cannot": "4"}, "7", "9")
    df.loc[0, "wg_hearing"] = "5"
    df.loc[1, "wg_hearing"] = "5"
    df.loc[2, "wg_selfcare"] = "yes"
    with pytest.raises(BadInput) as err:
        _statuses(df, missing=["7", "9"])
    assert err.value.details["unexpected"] == [
        {"field": "wg_hearing", "value": "5", "n": 2},
        {"field": "wg_selfcare", "value": "yes", "n": 1}]
    assert "'5' in wg_hearing (2 answer(s))" in err.value.message
    assert err.value.where is not None and err.value.where.field == "wg_hearing"
    # asked to, such answers count as missing instead (and so does a code not in `missing`)
    got = _statuses(df, missing=["7"], on_unexpected="missing")
    assert got["DISABILITY3"] == [want[2] for _, want in PEOPLE]


def test_an_answer_in_missing_counts_as_missing() -> None:
    # "8" listed as missing: person 2 (a 2 in seeing, the rest 8) has one answer, 'some'
    df = pd.DataFrame([["2", "8", "8", "8", "8", "8"], ["8"] * 6], columns=COLUMNS)
    got = _statuses(df, missing=["8"])
    assert got["DISABILITY1"] == [W, None]
    assert got["DISABILITY3"] == [WO, None]


def test_without_a_missing_list_anything_else_is_missing_as_before() -> None:
    df = pd.DataFrame([["5", "1", "1", "1", "1", "1"], ["5"] * 6], columns=COLUMNS)
    assert _statuses(df)["DISABILITY1"] == [WO, None]


def test_several_codes_for_one_level_and_numeric_codes() -> None:
    codes = {"no_difficulty": ["1", "no"], "some": "2", "a_lot": 3, "cannot": ["4", "cannot"]}
    df = pd.DataFrame([["no", "1", "no", "no", "1", "no"], ["cannot", "1", "1", "1", "1", "1"],
                       ["3.0", "no", "1", "1", "1", "1"]], columns=COLUMNS)
    got = _statuses(df, missing=["9"], codes=codes)  # type: ignore[arg-type]
    assert got["DISABILITY4"] == [WO, W, WO]
    assert got["DISABILITY3"] == [WO, W, W]


@pytest.mark.parametrize(("codes", "missing", "words"), [
    ({"no_difficulty": "0", "some": "1", "a_lot": "2"}, None, "cannot"),
    ({**ZERO_TO_THREE, "unknown": "9"}, None, "unknown"),
    ({**ZERO_TO_THREE, "cannot": "2"}, None, "two levels"),
    (ZERO_TO_THREE, ["3", "9"], "both as a valid answer and as missing"),
    ({**ZERO_TO_THREE, "some": []}, None, "lists no answer"),
])
def test_bad_codings_are_refused(codes: Any, missing: Any, words: str) -> None:
    t = ibis.memtable(pd.DataFrame({c: ["1"] for c in COLUMNS}))
    with pytest.raises(BadInput) as err:
        washington_group(t, FIELDS, missing=missing, codes=codes)
    assert err.value.code == "indicator.invalid"
    assert words in err.value.message


# -- age groups ------------------------------------------------------------------------------


def _bands(ages: list[Any], breaks: list[int], upper: int | None = None) -> list[str | None]:
    t = ibis.memtable(pd.DataFrame({"i": range(len(ages)),
                                    "age": pd.array(ages, dtype="Float64")}))
    out = t.select("i", band=age_group(t["age"], breaks, upper)).order_by("i").to_pandas()
    return [None if pd.isna(v) else v for v in out["band"]]


def test_age_labels() -> None:
    assert age_labels([15, 20, 25], 30) == ["15-19", "20-24", "25-29"]
    assert age_labels([0, 18, 60], None) == ["0-17", "18-59", "60+"]
    assert age_labels([0, 5, 10], None) == ["0-4", "5-9", "10+"]
    assert age_labels([65], None) == ["65+"]


def test_five_year_bands_with_open_last_band() -> None:
    breaks = list(range(0, 95, 5))
    got = _bands([0, 4, 5, 17, 19.5, 49, 89, 90, 104], breaks)
    assert got == ["0-4", "0-4", "5-9", "15-19", "15-19", "45-49", "85-89", "90+", "90+"]


def test_custom_bands_with_open_last_band() -> None:
    got = _bands([0, 17, 18, 59, 60, 100], [0, 18, 60])
    assert got == ["0-17", "0-17", "18-59", "18-59", "60+", "60+"]


def test_upper_bound_closes_the_last_band() -> None:
    # reproductive ages 15-49: younger and older women are in no band
    got = _bands([14, 15, 49, 49.9, 50, 62], [15, 20, 25, 30, 35, 40, 45], upper=50)
    assert got == [None, "15-19", "45-49", "45-49", None, None]


def test_missing_age_has_no_band() -> None:
    assert _bands([None, 30, None], [0, 18, 60]) == [None, "18-59", None]


def test_age_as_text_is_read_as_a_number() -> None:
    t = ibis.memtable(pd.DataFrame({"i": [0, 1, 2], "age": ["23", "61", None]}))
    out = t.select("i", band=age_group(t["age"], [0, 18, 60])).order_by("i").to_pandas()
    assert [None if pd.isna(v) else v for v in out["band"]] == ["18-59", "60+", None]


# -- roll-ups --------------------------------------------------------------------------------

GEOGRAPHY = pd.DataFrame({
    "group_ranch": ["olkeri", "mosiro", "naroosura", "nkoroi", "lpus"],
    "ward": ["magadi", "magadi", "mosiro", "mosiro", "wamba"],
    "county": ["kajiado", "kajiado", "narok", "narok", "samburu"],
})


def _rolled(codes: list[Any], geography: pd.DataFrame, lowest: str, level: str) -> list[Any]:
    t = ibis.memtable(pd.DataFrame({"i": range(len(codes)), lowest: codes}))
    out = t.select("i", up=rollup(t[lowest], geography, lowest, level)).order_by("i").to_pandas()
    return [None if pd.isna(v) else v for v in out["up"]]


def test_rollup_ward_to_county() -> None:
    got = _rolled(["magadi", "wamba", "mosiro", "magadi"], GEOGRAPHY, "ward", "county")
    assert got == ["kajiado", "samburu", "narok", "kajiado"]


def test_rollup_unknown_or_missing_code_is_null() -> None:
    got = _rolled(["magadi", "atlantis", None], GEOGRAPHY, "ward", "county")
    assert got == ["kajiado", None, None]


def test_rollup_numeric_codes_in_the_reference_table() -> None:
    # a reference table read from CSV types its code columns as numbers
    geo = pd.DataFrame({"ward": [101, 102, 201], "county": [1, 1, 2]})
    assert _rolled(["101", "201", "999"], geo, "ward", "county") == ["1", "2", None]


def test_rollup_code_with_two_parents_is_refused() -> None:
    geo = pd.concat([GEOGRAPHY, pd.DataFrame({"group_ranch": ["x"], "ward": ["wamba"],
                                              "county": ["isiolo"]})], ignore_index=True)
    t = ibis.memtable(pd.DataFrame({"ward": ["wamba"]}))
    with pytest.raises(BadInput) as err:
        rollup(t["ward"], geo, "ward", "county")
    assert err.value.code == "indicator.invalid"
    assert "wamba" in err.value.message and "isiolo" in err.value.message


def test_rollup_missing_column_is_refused() -> None:
    t = ibis.memtable(pd.DataFrame({"ward": ["wamba"]}))
    with pytest.raises(BadInput) as err:
        rollup(t["ward"], GEOGRAPHY, "ward", "subcounty")
    assert err.value.code == "indicator.unknown_dimension"
    assert "subcounty" in err.value.message


def _snapshot(answers: list[str], statuses: list[str], sha: str) -> Any:
    """A one-table snapshot (the main table) of women with their six WG answers."""
    from datetime import UTC, datetime
    from pathlib import Path

    from citizendata.snapshot.build import SnapshotInfo, TableInfo, table_name
    from citizendata.snapshot.open import Snapshot

    df = pd.DataFrame({"_id": range(1, len(answers) + 1), "_review_status": statuses,
                       "_instance_id": [f"uuid:{i}" for i in range(len(answers))],
                       **{c: answers for c in COLUMNS}})
    main = table_name("women", None)
    con = ibis.duckdb.connect()
    con.create_table(main, df)
    info = SnapshotInfo(path=Path("."), form_id="women",
                        tables={main: TableInfo(file="women.parquet", rows=len(df),
                                                   columns={c: "string" for c in df.columns},
                                                   sha256=sha)},
                        created_at=datetime.now(UTC),
                        schema_dict={"form_id": "women", "version": "1", "title": "Women",
                                     "root": "data", "fields": []})
    return Snapshot(info, con)


def test_the_analysis_frame_refuses_an_unexpected_answer_it_contains(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The frame's check is skipped only when the snapshot's tables hold no odd answer (kept
    by the table's hash); an odd answer is still refused when the frame holds it, and not
    when a filter leaves it out, as without the shortcut."""
    from citizendata.projects.estimation import DerivedSpec
    from citizendata.stats import derive, frame

    spec = {"disability": DerivedSpec(kind="washington_group", fields=FIELDS)}
    queries: list[int] = []
    real = derive._unexpected
    monkeypatch.setattr(derive, "_unexpected", lambda *a: queries.append(1) or real(*a))

    odd = _snapshot(["1", "3", "5"], ["approved", "approved", "rejected"], "sha-odd")
    with pytest.raises(BadInput) as err:
        frame.analysis_frame(odd, None, derived=spec)
    assert err.value.code == "indicator.invalid"
    assert err.value.details["unexpected"][0]["value"] == "5"
    # the odd answer's submission filtered out: no refusal, as before
    kept = frame.analysis_frame(odd, None, statuses=["approved"], derived=spec)
    assert kept.table["disability"].to_pandas().tolist() == [WO, W]

    queries.clear()
    clean = _snapshot(["1", "3", "8"], ["approved"] * 3, "sha-clean")
    for _ in range(3):
        got = frame.analysis_frame(clean, None, derived=spec).table["disability"].to_pandas()
        assert got.iloc[:2].tolist() == [WO, W] and pd.isna(got.iloc[2])  # 8: don't know
    assert len(queries) == 1  # one look at the table, kept for the other frames
