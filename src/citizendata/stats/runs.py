"""A kept estimate run's table as a file: CSV or Parquet, exactly the protected rows kept.

Runs are kept after disclosure control (``Client.estimate``), so a file made here holds
what any page shows of the run: a suppressed cell keeps its row with its figures blank,
its ``conf_status`` and, where the policy publishes it, the ``suppression`` reason.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from typing import Any

import pandas as pd

from citizendata.errors import BadInput, Where

__all__ = ["FORMATS", "run_file", "run_table"]

FORMATS = {"csv": "text/csv; charset=utf-8", "parquet": "application/vnd.apache.parquet"}
_NUMBERS = ("value", "se", "ci_low", "ci_high", "cv", "df")


def run_table(result: Mapping[str, Any]) -> pd.DataFrame:
    """The run's cells, one row each, in the kept order; dimension codes as text."""
    rows = list(result.get("estimates") or [])
    dims = [str(d) for d in result.get("dims") or []]
    df = pd.DataFrame(rows)
    if df.empty:
        return df
    for d in dims:
        if d in df.columns:
            df[d] = df[d].astype(str)
    for c in _NUMBERS:
        if c in df.columns:
            df[c] = pd.to_numeric(df[c]).astype("float64")
    if "n" in df.columns:
        df["n"] = pd.array(pd.to_numeric(df["n"]), dtype="Int64")
    for c in ("flag", "conf_status", "suppression"):
        if c in df.columns:
            df[c] = df[c].astype(object).where(df[c].notna(), None)
    return df


def run_file(result: Mapping[str, Any], fmt: str) -> bytes:
    """The run's table as ``csv`` (UTF-8, blank for a hidden figure) or ``parquet`` bytes."""
    if fmt not in FORMATS:
        raise BadInput("input.invalid", f"unknown table format {fmt!r}",
                       where=Where(field="format"), fix=f"Use one of {sorted(FORMATS)}.")
    df = run_table(result)
    if fmt == "csv":
        return df.to_csv(index=False, lineterminator="\n").encode("utf-8")
    buf = io.BytesIO()
    df.to_parquet(buf, index=False)
    return buf.getvalue()
