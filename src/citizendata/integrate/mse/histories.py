"""Capture histories: which lists saw each victim, as counts of the 2^k - 1 observable patterns.

A histories table has one 0/1 column per list (named by the list) and a last column with
the number of victims seen by exactly that combination of lists.  Rows in errors are
numbered from 1 for the first data row (the header is not counted).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from citizendata.errors import BadInput, Problem, Where

__all__ = ["MAX_LISTS", "Histories", "histories_from_records", "read_histories"]

MAX_LISTS = 8
_CODE = "mse.invalid_histories"


@dataclass(frozen=True)
class Histories:
    """Counts of the observed capture patterns of k lists.

    ``patterns`` is m x k of 0/1 (one row per observed pattern, never all zeros, no
    repeats); ``counts`` the m whole, non-negative counts.
    """

    lists: list[str]
    patterns: np.ndarray
    counts: np.ndarray

    @property
    def k(self) -> int:
        """The number of lists."""
        return len(self.lists)

    @property
    def n_observed(self) -> int:
        """The number of victims seen by at least one list."""
        return int(self.counts.sum())

    def to_frame(self) -> pd.DataFrame:
        """The table as read: one 0/1 column per list and ``count``."""
        frame = pd.DataFrame(self.patterns.astype(int), columns=self.lists)
        frame["count"] = self.counts.astype(int)
        return frame

    def full_counts(self) -> np.ndarray:
        """Counts of all 2^k - 1 observable patterns, pattern index = sum of 2^j for lists seen.

        List j (0-based, column order) is bit j; index 0 (unseen by all) is dropped, so the
        returned vector has entry ``index - 1``.
        """
        out = np.zeros(2 ** self.k - 1)
        np.add.at(out, self.pattern_index() - 1, self.counts)
        return out

    def pattern_index(self) -> np.ndarray:
        """Each observed pattern's index (bit j for list j)."""
        return (self.patterns.astype(np.int64) << np.arange(self.k)).sum(axis=1)

    def list_totals(self) -> dict[str, int]:
        """How many victims each list saw."""
        totals = (self.patterns * self.counts[:, None]).sum(axis=0)
        return {name: int(t) for name, t in zip(self.lists, totals, strict=True)}


def _fail(message: str, *, file: str | None, row: int | None = None,
          column: str | None = None, problems: Sequence[Problem] = ()) -> BadInput:
    return BadInput(_CODE, message, where=Where(file=file, row=row, column=column),
                    problems=list(problems))


def _read_source(source: str | Path | pd.DataFrame, file: str | None) -> tuple[pd.DataFrame, str | None]:
    if isinstance(source, pd.DataFrame):
        return source, file
    path = Path(source)
    name = file or path.name
    if not path.is_file():
        raise BadInput("input.invalid", f"No such file: {path}.", where=Where(file=str(path)),
                       fix="Check the path.")
    try:
        frame = pd.read_csv(path, encoding="utf-8-sig", dtype=str, keep_default_na=False,
                            skipinitialspace=True)
    except UnicodeDecodeError as exc:
        raise _fail(f"{name} is not UTF-8 text ({exc.reason} at byte {exc.start}).",
                    file=name) from None
    except (ValueError, OSError, pd.errors.ParserError) as exc:
        raise _fail(f"{name} cannot be read as CSV: {exc}", file=name) from None
    return frame, name


def _numeric(frame: pd.DataFrame, column: str, file: str | None,
             *, binary: bool) -> np.ndarray:
    """One column as numbers; the first bad cell is named by row and column."""
    values = pd.to_numeric(frame[column].astype(str).str.strip(), errors="coerce").to_numpy(float)
    if binary:
        bad = ~np.isin(values, (0.0, 1.0))
        rule = "a list column holds 0 (not seen) or 1 (seen)"
    else:
        bad = ~np.isfinite(values) | (values < 0) | (values != np.round(values))
        rule = "a count is a whole number, 0 or more"
    if bad.any():
        rows = np.flatnonzero(bad)
        raise _fail(f"Row {rows[0] + 1}, column {column!r}: {rule}"
                    f"{f' ({len(rows)} rows break it)' if len(rows) > 1 else ''}.",
                    file=file, row=int(rows[0]) + 1, column=str(column))
    return values


def read_histories(source: str | Path | pd.DataFrame, *, file: str | None = None,
                   min_lists: int = 2, duplicates: Literal["error", "sum"] = "error") -> Histories:
    """Capture histories from a CSV file or a data frame (0/1 list columns, then the count).

    Repeated patterns are an error (``duplicates="sum"`` adds them up instead); a row of
    all zeros, values other than 0/1, negative or fractional counts, fewer than
    ``min_lists`` or more than 8 lists, and a list that shares no victim with any other
    list are errors naming the row and column.
    """
    frame, name = _read_source(source, file)
    columns = [str(c) for c in frame.columns]
    if len(columns) - 1 < min_lists:
        raise _fail(f"{name or 'The table'} has {max(len(columns) - 1, 0)} list column(s); "
                    f"at least {min_lists} lists are needed, then a count column.", file=name)
    if len(columns) - 1 > MAX_LISTS:
        raise _fail(f"{len(columns) - 1} lists: at most {MAX_LISTS} are supported.", file=name,
                    column=columns[MAX_LISTS])
    if len(set(columns)) != len(columns) or any(not c.strip() for c in columns):
        dup = next(c for c in columns if columns.count(c) > 1 or not c.strip())
        raise _fail(f"Column {dup!r} is empty or repeated: every list has its own name.",
                    file=name, column=dup)
    if len(frame) == 0:
        raise _fail("The table has no rows.", file=name)
    lists, count_col = columns[:-1], columns[-1]
    patterns = np.column_stack([_numeric(frame, c, name, binary=True) for c in frame.columns[:-1]])
    counts = _numeric(frame, frame.columns[-1], name, binary=False)
    zero = np.flatnonzero(patterns.sum(axis=1) == 0)
    if len(zero):
        raise _fail(f"Row {zero[0] + 1} is all zeros: the victims no list saw are what is "
                    "estimated, so they cannot be counted in the table.", file=name,
                    row=int(zero[0]) + 1, column=lists[0])
    index = (patterns.astype(np.int64) << np.arange(len(lists))).sum(axis=1)
    _, first, inverse = np.unique(index, return_index=True, return_inverse=True)
    repeated = np.flatnonzero(first[inverse] != np.arange(len(index)))
    if len(repeated) and duplicates == "error":
        row = int(repeated[0])
        raise _fail(f"Row {row + 1} repeats the pattern of row {first[inverse[row]] + 1}: "
                    "each pattern is given once, with its count.", file=name, row=row + 1,
                    column=count_col)
    h = _collapse(lists, patterns.astype(np.int8), counts)
    _check_overlap(h, name)
    return h


def _collapse(lists: list[str], patterns: np.ndarray, counts: np.ndarray) -> Histories:
    """Repeated patterns summed; rows kept in order of first appearance."""
    index = (patterns.astype(np.int64) << np.arange(len(lists))).sum(axis=1)
    uniq, first, inverse = np.unique(index, return_index=True, return_inverse=True)
    sums = np.bincount(inverse, weights=counts, minlength=len(uniq))
    order = np.argsort(first, kind="stable")
    return Histories(list(lists), patterns[first[order]].copy(), sums[order].round().astype(np.int64))


def _check_overlap(h: Histories, file: str | None) -> None:
    """Every list shares at least one victim with some other list (else nothing links it)."""
    shared = h.patterns[(h.patterns.sum(axis=1) >= 2) & (h.counts > 0)]
    alone = [name for j, name in enumerate(h.lists) if not shared[:, j].any()]
    if alone:
        raise _fail(f"List {alone[0]!r} shares no victim with any other list: its overlap "
                    "is what the estimate learns from, so it cannot be used"
                    f"{' (also: ' + ', '.join(map(repr, alone[1:])) + ')' if alone[1:] else ''}.",
                    file=file, column=alone[0])


def histories_from_records(records: pd.DataFrame, *, list_col: str, cluster_col: str,
                           lists: Sequence[str] | None = None,
                           strata: Sequence[str] | None = None) -> pd.DataFrame:
    """Capture histories from linked records: one row per observed pattern [per stratum].

    ``records`` has one row per source record, its list in ``list_col`` and the unique
    victim it was linked to in ``cluster_col``.  Columns out: the lists (in ``lists``
    order, default sorted), the strata, then ``count``.  A victim's strata are taken from
    its first record (linked records of one victim should agree).
    """
    strata = list(strata or [])
    missing = [c for c in (list_col, cluster_col, *strata) if c not in records.columns]
    if missing:
        raise _fail(f"The records have no column {missing[0]!r}.", file=None, column=missing[0])
    names = list(lists) if lists is not None else sorted(map(str, records[list_col].dropna().unique()))
    data = records[[cluster_col, list_col, *strata]].dropna(subset=[cluster_col, list_col])
    unknown = ~data[list_col].astype(str).isin(names)
    if unknown.any():
        row = int(np.flatnonzero(unknown.to_numpy())[0])
        raise _fail(f"Row {row + 1}: list {data[list_col].iloc[row]!r} is not one of "
                    f"{', '.join(names)}.", file=None, row=row + 1, column=list_col)
    seen = pd.crosstab(data[cluster_col], data[list_col].astype(str)).reindex(
        columns=names, fill_value=0).clip(upper=1)
    table = seen.astype(int)
    if strata:
        first = data.drop_duplicates(cluster_col).set_index(cluster_col)[strata]
        table = table.join(first)
    out = table.groupby([*names, *strata], sort=True, dropna=False).size().reset_index(name="count")
    out = out[out[names].sum(axis=1) > 0]
    return out.sort_values([*strata, *names[::-1]], kind="stable").reset_index(drop=True)
