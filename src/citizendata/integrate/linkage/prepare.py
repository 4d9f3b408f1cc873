"""Source records checked and turned into the columns the linkage model compares.

Errors name the row (1-based, as in the file) and the column, never a value: the
columns hold victims' names.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from citizendata.errors import BadInput, Problem, Where
from citizendata.integrate.linkage.names import (
    canonical_given,
    fonetica,
    normalise,
    split_surnames,
)
from citizendata.projects.cases import CaseFields

__all__ = ["REQUIRED", "SEXES", "prepare"]

# the case-form parts every record must carry as columns (values may be blank)
REQUIRED = ("source", "record_id", "given_names", "surnames", "sex", "age", "role",
            "violation", "event_date", "department", "municipality")
SEXES = ("female", "male")  # "unknown" and blanks are missing, not a disagreement
_MAX_PROBLEMS = 20


def _bad(message: str, problems: Sequence[Problem] = (), where: Where | None = None,
         fix: str | None = None) -> BadInput:
    return BadInput("linkage.invalid", message, where=where, fix=fix, problems=list(problems))


def _text(values: pd.Series) -> pd.Series:
    s = values.astype("string").str.strip()
    return s.mask(s == "")


def _code(values: pd.Series) -> pd.Series:
    """A DIVIPOLA code as text; numbers (5001.0 from a spreadsheet) lose their '.0'."""
    if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
        whole = values.notna() & (values % 1 == 0)
        text = values.astype("string")
        text[whole] = values[whole].astype("int64").astype("string")
        return _text(text)
    return _text(values)


def _row_problems(rows: pd.Index, column: str, rule: str, fix: str) -> list[Problem]:
    return [Problem("linkage.invalid", f"Row {int(r) + 1}, column {column!r}: {rule}.",
                    where=Where(row=int(r) + 1, column=column), rule=rule, fix=fix)
            for r in rows[:_MAX_PROBLEMS]]


def prepare(records: pd.DataFrame, fields: CaseFields | None = None) -> pd.DataFrame:
    """One row per record: ``key`` and the normalised, typed comparison columns.

    Raises ``linkage.invalid`` for a missing column, a blank or repeated record id within
    a list, or an event date, age or place code that cannot be read.
    """
    f = fields or CaseFields()
    if not isinstance(records, pd.DataFrame):
        raise _bad("The records must be a table (a pandas DataFrame).",
                   fix="Pass the case records as a DataFrame, one row per source record.")
    cols = {part: getattr(f, part) for part in REQUIRED}
    missing = [c for c in cols.values() if c not in records.columns]
    if missing:
        raise _bad(f"The records have no column {', '.join(map(repr, missing))}.",
                   [Problem("linkage.invalid", f"Column {c!r} is missing.",
                            where=Where(column=c)) for c in missing],
                   where=Where(column=missing[0]),
                   fix="Give every record the case form's fields; a list without a value "
                       "leaves the cell blank.")
    df = records.reset_index(drop=True)
    source, record_id = _text(df[cols["source"]]), _text(df[cols["record_id"]])
    problems: list[Problem] = []
    for col, s in ((cols["source"], source), (cols["record_id"], record_id)):
        problems += _row_problems(df.index[s.isna()], col, "blank",
                                  "Give every record its list and its id within the list.")
    key = source + ":" + record_id
    dup = key.duplicated(keep="first") & key.notna()
    problems += _row_problems(df.index[dup], cols["record_id"],
                              "the same record id appears earlier in the same list",
                              "Give every record of a list its own id.")
    raw_date = df[cols["event_date"]]
    if pd.api.types.is_datetime64_any_dtype(raw_date):
        # a typed column (a snapshot's date field): the day is what is compared
        raw_date = raw_date.dt.strftime("%Y-%m-%d")
    date_text = _text(raw_date)
    date = pd.to_datetime(date_text, format="%Y-%m-%d", errors="coerce")
    problems += _row_problems(df.index[date_text.notna() & date.isna()], cols["event_date"],
                              "not a date written YYYY-MM-DD",
                              "Write the date as YYYY-MM-DD, or leave it blank.")
    age_text = _text(df[cols["age"]])
    age = pd.to_numeric(age_text, errors="coerce")
    bad_age = age_text.notna() & (age.isna() | (age % 1 != 0) | (age < 0) | (age > 120))
    problems += _row_problems(df.index[bad_age], cols["age"], "not an age in whole years",
                              "Write the age as a whole number from 0 to 120, or leave it blank.")
    dept, muni = _code(df[cols["department"]]), _code(df[cols["municipality"]])
    muni = muni.str.zfill(5)
    dept = dept.str.zfill(2)
    for col, s, n in ((cols["department"], dept, 2), (cols["municipality"], muni, 5)):
        wrong = s.notna() & ~s.str.fullmatch(rf"\d{{{n}}}").fillna(False)
        problems += _row_problems(df.index[wrong], col, f"not a {n}-digit DIVIPOLA code",
                                  f"Write the {n}-digit DIVIPOLA code, or leave it blank.")
    # a municipality code begins with its department's code
    clash = dept.notna() & muni.notna() & (muni.str[:2] != dept)
    problems += _row_problems(df.index[clash], cols["municipality"],
                              "the municipality is not in the record's department",
                              "Check the department and municipality codes.")
    if problems:
        raise _bad(f"{len(problems)} problem(s) in the records"
                   + (" (the first shown)" if len(problems) >= _MAX_PROBLEMS else "")
                   + f": {problems[0].message}", problems, where=problems[0].where,
                   fix=problems[0].fix)
    return _columns(df, cols, key, date, age, dept.fillna(muni.str[:2]), muni)


def _columns(df: pd.DataFrame, cols: dict[str, str], key: pd.Series, date: pd.Series,
             age: pd.Series, dept: pd.Series, muni: pd.Series) -> pd.DataFrame:
    given = normalise(df[cols["given_names"]])
    surn = normalise(df[cols["surnames"]])
    sur = split_surnames(surn)
    can = canonical_given(given)
    first_canon = can["g1_canon"].str[0].astype("string")
    sex = _text(df[cols["sex"]]).str.lower()
    out = pd.DataFrame({
        "unique_id": key.astype(str),
        "source": _text(df[cols["source"]]).astype(str),
        "given": given, "surn": surn,
        "g1": can["g1"], "g1_canon": can["g1_canon"], "canon": can["canon"],
        "s1_key": sur["s1_key"], "s2_key": sur["s2_key"],
        "ph_s1": fonetica(sur["s1_key"]), "ph_g1": fonetica(first_canon),
        "sex": sex.where(sex.isin(SEXES)),
        "age": age.astype("Int64"),
        "role": _text(df[cols["role"]]).str.lower(),
        "violation": _text(df[cols["violation"]]).str.lower(),
        "event_date": date.dt.date,
        "year": date.dt.year.astype("Int64"),
        "department": dept, "municipality": muni,
    })
    return out
