"""Capture histories: reading the CSV a user gives, and building histories from linked records."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from citizendata.errors import BadInput
from citizendata.integrate.mse import Histories, histories_from_records, read_histories

UK_CSV = """\
LA,NG,PF,GO,count
1,0,0,0,54
0,1,0,0,463
1,1,0,0,15
0,0,1,0,907
1,0,1,0,19
0,1,1,1,65
"""


def _write(tmp_path: Path, text: str, name: str = "h.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _error(tmp_path: Path, text: str) -> BadInput:
    with pytest.raises(BadInput) as info:
        read_histories(_write(tmp_path, text))
    assert info.value.code == "mse.invalid_histories"
    return info.value


def test_a_csv_reads_into_lists_patterns_and_counts(tmp_path: Path) -> None:
    h = read_histories(_write(tmp_path, UK_CSV))
    assert h.lists == ["LA", "NG", "PF", "GO"]
    assert h.patterns.shape == (6, 4)
    assert h.n_observed == 54 + 463 + 15 + 907 + 19 + 65
    assert h.list_totals() == {"LA": 88, "NG": 543, "PF": 991, "GO": 65}
    full = h.full_counts()
    assert full.shape == (15,)
    assert full[0b0011 - 1] == 15 and full[0b1110 - 1] == 65 and full.sum() == h.n_observed
    frame = h.to_frame()
    assert list(frame.columns) == [*h.lists, "count"]
    assert frame["count"].tolist() == [54, 463, 15, 907, 19, 65]


@pytest.mark.parametrize(("text", "row", "column", "words"), [
    ("A,B,C,n\n1,0,0,3\n0,0,0,2\n1,1,0,1\n0,1,1,1\n1,0,1,1\n", 2, "A", "all zeros"),
    ("A,B,C,n\n1,0,0,3\n0,2,0,2\n1,1,0,1\n0,1,1,1\n", 2, "B", "0 (not seen) or 1"),
    ("A,B,C,n\n1,0,0,3\n0,1,0,-2\n1,1,0,1\n0,1,1,1\n", 2, "n", "whole number"),
    ("A,B,C,n\n1,0,0,3\n0,1,0,2.5\n1,1,0,1\n0,1,1,1\n", 2, "n", "whole number"),
    ("A,B,C,n\n1,0,0,3\n0,1,0,x\n1,1,0,1\n0,1,1,1\n", 2, "n", "whole number"),
    ("A,B,C,n\n1,0,0,3\n1,1,0,1\n0,1,1,1\n1,0,0,4\n", 4, "n", "repeats the pattern of row 1"),
    ("A,B,C,n\n1,0,0,3\n0,1,0,2\n0,0,1,1\n1,1,0,5\n", None, "C", "shares no victim"),
])
def test_bad_histories_name_the_row_and_column(tmp_path: Path, text: str, row: int | None,
                                               column: str, words: str) -> None:
    err = _error(tmp_path, text)
    assert err.where is not None
    assert err.where.row == row
    assert err.where.column == column
    assert words in str(err)


def test_too_few_lists_and_repeated_names_are_refused(tmp_path: Path) -> None:
    with pytest.raises(BadInput, match="at least 3 lists"):
        read_histories(_write(tmp_path, "A,B,n\n1,1,3\n1,0,2\n"), min_lists=3)
    with pytest.raises(BadInput, match="repeated") as info:
        read_histories(pd.DataFrame([[1, 1, 2, 3]], columns=["A", "A", "B", "n"]))
    assert info.value.code == "mse.invalid_histories"


def test_repeated_patterns_may_be_summed_when_asked(tmp_path: Path) -> None:
    h = read_histories(_write(tmp_path, "A,B,C,n\n1,1,0,3\n0,1,1,2\n1,1,0,4\n"),
                       duplicates="sum")
    assert h.counts.tolist() == [7, 2]


def test_histories_from_linked_records_count_each_victims_pattern() -> None:
    records = pd.DataFrame({
        "source": ["flip", "fiscalia", "flip", "medios", "fiscalia", "medios", "flip", "flip"],
        "cluster": [1, 1, 2, 2, 3, 4, 5, 5],
        "year": ["2016", "2016", "2017", "2017", "2016", "2017", "2016", "2016"],
    })
    out = histories_from_records(records, list_col="source", cluster_col="cluster",
                                 lists=["flip", "fiscalia", "medios"], strata=["year"])
    assert list(out.columns) == ["flip", "fiscalia", "medios", "year", "count"]
    rows = {tuple(r[:4]): r[4] for r in out.itertuples(index=False)}
    # cluster 5 is two flip records of one victim: counted once
    assert rows == {(1, 1, 0, "2016"): 1, (0, 1, 0, "2016"): 1, (1, 0, 0, "2016"): 1,
                    (1, 0, 1, "2017"): 1, (0, 0, 1, "2017"): 1}
    plain = histories_from_records(records, list_col="source", cluster_col="cluster")
    assert list(plain.columns) == ["fiscalia", "flip", "medios", "count"]
    assert plain["count"].sum() == 5
    with pytest.raises(BadInput) as info:
        histories_from_records(records, list_col="source", cluster_col="cluster",
                               lists=["flip", "fiscalia"])
    assert info.value.where is not None and info.value.where.row == 4


def _csv(lists: list[str], patterns: np.ndarray, counts: list[int]) -> str:
    buf = io.StringIO()
    frame = pd.DataFrame(patterns, columns=lists)
    frame["count"] = counts
    frame.to_csv(buf, index=False)
    return buf.getvalue()


@st.composite
def _tables(draw: st.DrawFn) -> tuple[int, list[int], list[int]]:
    k = draw(st.integers(2, 6))
    cells = draw(st.lists(st.integers(1, 2 ** k - 1), min_size=1, max_size=2 ** k - 1, unique=True))
    counts = draw(st.lists(st.integers(0, 500), min_size=len(cells), max_size=len(cells)))
    return k, cells, counts


@settings(max_examples=150, deadline=None)
@given(_tables())
def test_any_valid_table_reads_back_exactly_or_is_refused_for_no_overlap(
        table: tuple[int, list[int], list[int]]) -> None:
    k, cells, counts = table
    lists = [f"L{j}" for j in range(k)]
    patterns = (np.array(cells)[:, None] >> np.arange(k)) & 1
    text = _csv(lists, patterns, counts)
    shared = patterns[(patterns.sum(axis=1) >= 2) & (np.array(counts) > 0)]
    try:
        h = read_histories(pd.read_csv(io.StringIO(text), dtype=str))
    except BadInput as err:
        assert err.code == "mse.invalid_histories"
        assert not shared.any(axis=0).all()  # the only refusal for a valid table
        return
    assert shared.any(axis=0).all()
    assert isinstance(h, Histories)
    assert h.pattern_index().tolist() == cells
    assert h.counts.tolist() == counts


@settings(max_examples=150, deadline=None)
@given(st.lists(st.lists(st.sampled_from(["0", "1", "2", "-1", "0.5", "", "x", " 1", "1e0"]),
                         min_size=4, max_size=4), min_size=1, max_size=8))
def test_arbitrary_cells_are_read_or_refused_with_a_coded_error(rows: list[list[str]]) -> None:
    frame = pd.DataFrame(rows, columns=["A", "B", "C", "n"])
    try:
        h = read_histories(frame)
    except BadInput as err:
        assert err.code == "mse.invalid_histories"
        assert err.where is not None
        return
    assert set(np.unique(h.patterns)) <= {0, 1}
    assert (h.patterns.sum(axis=1) > 0).all()
    assert (h.counts >= 0).all()
