"""Input checks shared by the population estimators.

Errors are ``population.invalid`` and name the table, row (1-based, as in a file),
column and area; never the value of a personal field (names, birth dates).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from citizendata.errors import BadInput, Problem, Where

__all__ = ["CODE", "bad", "check_columns", "check_counts", "check_flag", "check_keys", "labels",
           "quantiles", "text", "z_value"]

CODE = "population.invalid"
_MAX_PROBLEMS = 20


def bad(message: str, *, where: Where | None = None, fix: str | None = None,
        problems: Sequence[Problem] = ()) -> BadInput:
    return BadInput(CODE, message, where=where, fix=fix, problems=list(problems))


def _raise(table: str, problems: list[Problem]) -> None:
    if problems:
        more = " (the first shown)" if len(problems) > 1 else ""
        raise bad(f"{len(problems)} problem(s) in the {table}{more}: {problems[0].message}",
                  where=problems[0].where, fix=problems[0].fix,
                  problems=problems[:_MAX_PROBLEMS])


def text(s: pd.Series) -> pd.Series:
    """Codes and ids as Python strings in an object column: pandas' hash tables then do
    isin/map/groupby on them (its Arrow strings take a Python loop for isin)."""
    return s.astype(str).astype(object)


def labels(df: pd.DataFrame, cols: list[str]) -> pd.Series:
    """One text label per row joining ``cols`` with ' | ' ('all' without columns)."""
    if not cols:
        return pd.Series("all", index=df.index, dtype=object)
    out = text(df[cols[0]])
    for c in cols[1:]:
        out = out + " | " + text(df[c])
    return out.astype(object)


def check_columns(df: Any, table: str, columns: Iterable[str]) -> pd.DataFrame:
    """The table as a DataFrame with a fresh index; a missing column is refused."""
    if not isinstance(df, pd.DataFrame):
        raise bad(f"The {table} must be a table (a pandas DataFrame).",
                  where=Where(field=table), fix=f"Pass the {table} as a DataFrame.")
    missing = [c for c in dict.fromkeys(columns) if c not in df.columns]
    if missing:
        raise bad(f"The {table} have no column {', '.join(map(repr, missing))}.",
                  where=Where(field=table, column=missing[0]),
                  problems=[Problem(CODE, f"Column {c!r} is missing from the {table}.",
                                    where=Where(field=table, column=c)) for c in missing],
                  fix=f"Give the {table} the columns {', '.join(map(repr, columns))}.")
    return df.reset_index(drop=True)


def _rows(df: pd.DataFrame, mask: np.ndarray, table: str, column: str, rule: str,
          fix: str, area: str | None) -> list[Problem]:
    out = []
    for r in np.flatnonzero(mask)[:_MAX_PROBLEMS]:
        at = f", area {df.at[r, area]!r}" if area is not None and area != column else ""
        out.append(Problem(CODE, f"{table.capitalize()} row {int(r) + 1}{at}, column "
                                 f"{column!r}: {rule}.",
                           where=Where(field=table, row=int(r) + 1, column=column),
                           rule=rule, fix=fix))
    return out


def check_keys(df: pd.DataFrame, table: str, columns: Iterable[str]) -> None:
    """Key columns (areas, strata, ids) must not be blank."""
    problems: list[Problem] = []
    for c in columns:
        s = df[c]
        blank = s.isna().to_numpy().copy()
        if not pd.api.types.is_numeric_dtype(s):
            blank |= ~np.char.str_len(np.char.strip(s.to_numpy(dtype=str))).astype(bool)
        problems += _rows(df, blank, table, c, "blank",
                          "Give every row its area (and stratum or id).", None)
    _raise(table, problems)


def check_counts(df: pd.DataFrame, table: str, columns: Iterable[str], area: str | None,
                 *, whole: bool = True, allow_missing: bool = False) -> dict[str, np.ndarray]:
    """Non-negative (whole) numbers; returns them as float arrays."""
    problems: list[Problem] = []
    out = {}
    for c in columns:
        v = pd.to_numeric(df[c], errors="coerce").to_numpy(dtype=float)
        missing = np.isnan(v) & ~df[c].isna().to_numpy() if allow_missing else np.isnan(v)
        problems += _rows(df, missing, table, c, "not a number",
                          "Write a count as a number.", area)
        problems += _rows(df, v < 0, table, c, "a negative count",
                          "Counts are zero or more.", area)
        if whole:
            problems += _rows(df, np.isfinite(v) & (v % 1 != 0), table, c,
                              "not a whole number", "Counts are whole numbers.", area)
        out[c] = v
    _raise(table, problems)
    return out


def check_flag(df: pd.DataFrame, table: str, column: str, area: str | None) -> np.ndarray:
    """A yes/no column (bool, 0/1, yes/no, true/false) as a bool array."""
    s = df[column]
    if pd.api.types.is_bool_dtype(s):
        if s.isna().any():
            _raise(table, _rows(df, s.isna().to_numpy(), table, column, "blank",
                                "Write yes or no.", area))
        return s.to_numpy(dtype=bool)
    text = s.astype("string").str.strip().str.lower()
    yes = text.isin(["1", "1.0", "true", "yes", "y"]).to_numpy(dtype=bool)
    no = text.isin(["0", "0.0", "false", "no", "n"]).to_numpy(dtype=bool)
    _raise(table, _rows(df, ~(yes | no), table, column, "not yes or no",
                        "Write yes/no, true/false or 1/0.", area))
    return yes


def z_value(confidence: float) -> float:
    from scipy.stats import norm

    if not isinstance(confidence, float | int) or not 0.5 <= float(confidence) < 1:
        raise bad(f"The confidence level is a number from 0.5 to 1 (exclusive), got "
                  f"{confidence!r}.", where=Where(field="confidence"), fix="Use e.g. 0.95.")
    return float(norm.ppf(0.5 + float(confidence) / 2))


def quantiles(draws: np.ndarray, confidence: float, axis: int = 0) -> tuple[np.ndarray,
                                                                            np.ndarray]:
    """Equal-tailed percentile interval of draws along ``axis`` (NaN draws ignored)."""
    a = (1 - confidence) / 2
    if not np.isnan(draws).any():  # nanquantile loops over slices in Python
        return np.quantile(draws, a, axis=axis), np.quantile(draws, 1 - a, axis=axis)
    with np.errstate(all="ignore"):
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            lo = np.nanquantile(draws, a, axis=axis)
            hi = np.nanquantile(draws, 1 - a, axis=axis)
    return lo, hi
