"""SDMX output of protected estimates for the UN SDG global data structure (IAEG-SDGs:SDG).

A protected estimates table (one row per cell, project dimension columns holding string
codes, ``value``/``se``/``ci_low``/``ci_high``/``n``/``flag``/``conf_status``) is mapped to
the series key of the SDG data structure definition (DSD) — FREQ, REPORTING_TYPE, SERIES,
REF_AREA, SEX, AGE, URBANISATION, INCOME_WEALTH_QUANTILE, EDUCATION_LEV, OCCUPATION,
CUST_BREAKDOWN, COMPOSITE_BREAKDOWN, DISABILITY_STATUS, ACTIVITY, PRODUCT — with
TIME_PERIOD at observation level, OBS_VALUE as the measure, UNIT_MEASURE attached to the
series and the observation attributes UNIT_MULT, OBS_STATUS, NATURE, SOURCE_DETAIL,
TIME_DETAIL, LOWER_BOUND, UPPER_BOUND and COMMENT_OBS.

Coding choices (the "why" lives here so reviewers can challenge them in one place):

* OBS_STATUS (SDMX cross-domain CL_OBS_STATUS): ``E`` (estimated value) for published
  cells — every figure is estimated from a sample of citizen-collected answers, not a
  count or register value, and receivers of SDG data should see that at a glance; ``U``
  (low reliability) for cells flagged ``unreliable`` (U is the more urgent message);
  ``O`` (missing value) for suppressed cells. ``Q`` ("missing value; suppressed")
  exists in CL_OBS_STATUS 2.0 but was dropped from later versions in favour of
  CONF_STATUS/OBS_CONF, which the SDG DSD does not carry, so the confidentiality goes
  into COMMENT_OBS ("confidential").
  A cell whose ``conf_status`` is C or D is always sent blank, even if the input table
  still carries a value: a value never leaves through this module once it is marked
  confidential.
* NATURE (SDG CL_NATURE): empty by default. ``C`` (country data) asserts the figure is
  produced by the national statistical system, ``CA``/``E``/``M``/``G`` describe
  adjustments or estimates made by international agencies; none of them honestly
  describes "computed from citizen data by the initiative". The citizen-data statement
  goes into SOURCE_DETAIL instead. Set ``nature="C"`` only once the national statistical
  office has validated and adopted the figures as country data.
* LOWER_BOUND / UPPER_BOUND: the 95% confidence interval of a published cell, in the
  DSD's own attributes (not comment text), so a receiver can read it by machine.
* COMMENT_OBS for published cells: "SE 1.53; n 1697" followed by a note for
  ``low_n``/``caution``/``unreliable`` flags. Nothing about precision or sample size
  is written for suppressed cells: SE, CI and n can reveal the hidden value.
* DSD version: ``IAEG-SDGs:SDG(1.8)``, the version of the global SDG DSD the SDMX
  working group's material and open-sdg's sdg-build test data cite as current; the
  registry may hold later minor versions, so it is a parameter of the writers
  (``dsd_version``; a project sets ``release.sdmx_dsd_version``) and every header
  cites the version used.
* UNIT_MEASURE is attached to the series (as the SDG DSD does: the unit does not change
  within a series); the other attributes at observation level.
* pysdmx 1.21 neither escapes nor unescapes XML attribute values in data messages, so
  ``"``, ``&``, ``<``, ``>`` and line breaks are refused in free text (SOURCE_DETAIL,
  TIME_DETAIL, COMMENT_OBS) rather than producing broken or altered SDMX-ML.
"""

from __future__ import annotations

import csv
import hashlib
import io
import math
import os
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from importlib import resources
from pathlib import Path
from typing import IO

import numpy as np
import pandas as pd
from pysdmx.io import read_sdmx, write_sdmx
from pysdmx.io.format import Format
from pysdmx.io.pd import PandasDataset
from pysdmx.model import Concept, Organisation, Schema
from pysdmx.model.dataflow import Component, Components, Role
from pysdmx.model.message import Header

__all__ = [
    "ATTRIBUTES",
    "COLUMNS",
    "DSD_AGENCY",
    "DSD_ID",
    "DSD_VERSION",
    "NATURE_CODES",
    "SDG_DIMENSIONS",
    "SERIES_ATTRIBUTES",
    "SdgReport",
    "SeriesConstraint",
    "SeriesMapping",
    "breakdowns",
    "check_constraints",
    "default_codes",
    "load_constraints",
    "read_back",
    "sdg_schema",
    "to_sdg_rows",
    "write_sdmx_csv",
    "write_sdmx_ml",
]

DSD_AGENCY = "IAEG-SDGs"
DSD_ID = "SDG"
DSD_VERSION = "1.8"

SDG_DIMENSIONS: tuple[str, ...] = (
    "FREQ",
    "REPORTING_TYPE",
    "SERIES",
    "REF_AREA",
    "SEX",
    "AGE",
    "URBANISATION",
    "INCOME_WEALTH_QUANTILE",
    "EDUCATION_LEV",
    "OCCUPATION",
    "CUST_BREAKDOWN",
    "COMPOSITE_BREAKDOWN",
    "DISABILITY_STATUS",
    "ACTIVITY",
    "PRODUCT",
)
TIME_DIMENSION = "TIME_PERIOD"
MEASURE = "OBS_VALUE"
ATTRIBUTES: tuple[str, ...] = (
    "UNIT_MEASURE",
    "UNIT_MULT",
    "OBS_STATUS",
    "NATURE",
    "SOURCE_DETAIL",
    "TIME_DETAIL",
    "LOWER_BOUND",
    "UPPER_BOUND",
    "COMMENT_OBS",
)
# attributes attached to the series (the whole key but TIME_PERIOD); the rest to each
# observation
SERIES_ATTRIBUTES = frozenset({"UNIT_MEASURE"})
COLUMNS: tuple[str, ...] = (*SDG_DIMENSIONS, TIME_DIMENSION, MEASURE, *ATTRIBUTES)
_KEY = (*SDG_DIMENSIONS, TIME_DIMENSION)

# The breakdown dimensions a project dimension may be mapped to; the others are fixed
# by the mapping itself (one series, one country, annual, national reporting).
_BREAKDOWNS = frozenset(SDG_DIMENSIONS) - {"FREQ", "REPORTING_TYPE", "SERIES", "REF_AREA"}

NATURE_CODES = frozenset({"", "C", "CA", "E", "G", "M", "N"})

_VALUE_COLUMNS = frozenset({"value", "se", "ci_low", "ci_high", "n", "flag", "conf_status"})
# columns of citizendata's estimate tables that describe a cell but are not dimensions
_DESCRIPTIVE_COLUMNS = frozenset({"indicator", "series", "unit_measure", "cv", "suppression",
                                  "weighted_n", "dp_noise_sd", "deff"})
_TOTAL = "_T"
_UNKNOWN = "_U"
_FLAG_NOTES = {
    "low_n": "small sample",
    "caution": "interpret with caution",
    "unreliable": "low reliability",
}
# C is every hidden cell unless the policy publishes secondary (D) cells apart
_CONF_NOTES = {"C": "confidential", "D": "confidential (secondary)"}
# Characters pysdmx 1.21 would write unescaped into SDMX-ML attributes (see module doc).
_UNSAFE = frozenset('"&<>\r\n\t')
_ALL = "ALL"


# Codes in SDG CL_DISABILITY_STATUS as we read them: PD persons with disability, PWD persons
# without disability (only SL_TLF_UEMDIS lists both in the packaged constraints; check
# against the registry's code list before an official transmission).
_STANDARD_CODES: dict[str, dict[str, str]] = {
    "DISABILITY_STATUS": {"with_disability": "PD", "without_disability": "PWD"},
    "SEX": {"female": "F", "f": "F", "woman": "F", "male": "M", "m": "M", "man": "M"},
}
_AGE_BAND = re.compile(r"^(\d+)\s*-\s*(\d+)$")
_AGE_OPEN = re.compile(r"^(\d+)\s*\+$")


def default_codes(sdmx_dim: str, codes: Iterable[str]) -> dict[str, str]:
    """Standard SDMX codes for project codes where one is unambiguous ("15-19" -> Y15T19)."""
    out: dict[str, str] = {}
    table = _STANDARD_CODES.get(sdmx_dim, {})
    for code in codes:
        if sdmx_dim == "AGE":
            if m := _AGE_BAND.match(code):
                out[code] = f"Y{int(m[1])}T{int(m[2])}"
            elif m := _AGE_OPEN.match(code):
                out[code] = f"Y_GE{int(m[1])}"
        elif code.lower() in table:
            out[code] = table[code.lower()]
    return out


def breakdowns(table: pd.DataFrame, spec: Mapping[str, tuple[str, Mapping[str, str]]]
               ) -> dict[str, tuple[str, dict[str, str]]]:
    """``SeriesMapping.dims`` for a table: the spec's breakdowns, standard codes filled in."""
    out: dict[str, tuple[str, dict[str, str]]] = {}
    for pdim, (sdmx_dim, explicit) in spec.items():
        if pdim not in table.columns:
            continue
        present = sorted({str(c) for c in table[pdim]} - {_TOTAL, _UNKNOWN})
        out[pdim] = (sdmx_dim, {**default_codes(sdmx_dim, present), **explicit})
    return out


def _check_text(name: str, text: str) -> None:
    """Refuse free text that SDMX-ML via pysdmx 1.21 cannot carry intact."""
    bad = sorted(set(text) & _UNSAFE)
    if bad:
        raise ValueError(f"{name} contains characters not allowed in SDMX output: {bad!r}")


@dataclass(frozen=True)
class SeriesMapping:
    """How one protected table maps onto one SDG series for one country and year."""

    series: str
    ref_area: str
    time_period: str
    source_detail: str
    unit_measure: str = "PT"
    unit_mult: int = 0
    # Empty on purpose: no CL_NATURE code says "citizen data" (see module docstring).
    nature: str = ""
    time_detail: str = ""
    # project dimension -> (SDMX dimension id, {project code -> SDMX code}); ``_T`` maps
    # to ``_T`` unless the code map says otherwise.
    dims: Mapping[str, tuple[str, Mapping[str, str]]] = field(default_factory=dict)
    comment_decimals: int = 2

    def __post_init__(self) -> None:
        """Validate codes and free text early, before any table is touched."""
        for name in ("series", "ref_area", "time_period", "unit_measure"):
            if not getattr(self, name):
                raise ValueError(f"SeriesMapping.{name} must not be empty")
        if self.nature not in NATURE_CODES:
            raise ValueError(f"nature {self.nature!r} is not in CL_NATURE {sorted(NATURE_CODES)}")
        _check_text("source_detail", self.source_detail)
        _check_text("time_detail", self.time_detail)
        targets = [sdmx_dim for sdmx_dim, _ in self.dims.values()]
        for sdmx_dim in targets:
            if sdmx_dim not in _BREAKDOWNS:
                raise ValueError(f"{sdmx_dim!r} is not a breakdown dimension of the SDG DSD")
        dupes = sorted(d for d, k in Counter(targets).items() if k > 1)
        if dupes:
            raise ValueError(f"several project dimensions map to {dupes}")


@dataclass
class SdgReport:
    """What ``to_sdg_rows`` kept and what it left out, with reasons."""

    series: str
    rows_in: int = 0
    rows_out: int = 0
    suppressed: int = 0
    excluded: Counter[str] = field(default_factory=Counter)

    @property
    def rows_excluded(self) -> int:
        """Number of input rows left out."""
        return sum(self.excluded.values())

    def summary(self) -> str:
        """One human-readable paragraph for logs and publication notes."""
        lines = [
            f"{self.series}: {self.rows_in} cells in, {self.rows_out} SDMX observations out "
            f"({self.suppressed} suppressed), {self.rows_excluded} left out"
        ]
        lines += [f"  {count} × {reason}" for reason, count in sorted(self.excluded.items())]
        return "\n".join(lines)


@dataclass(frozen=True)
class SeriesConstraint:
    """Allowed codes of one SDG series; ``None`` means any code is allowed."""

    series: str
    name: str
    unit_measure: str | None
    unit_mult: str | None
    allowed: Mapping[str, frozenset[str] | None]

    def allows(self, dim: str, code: str) -> bool:
        """Whether ``code`` is allowed for dimension ``dim`` of this series."""
        codes = self.allowed.get(dim)
        return codes is None or code in codes


def _parse_allowed(cell: str) -> frozenset[str] | None:
    # Empty cells occur in the draft file; they state no restriction, so nothing is
    # checked rather than guessing one.
    cell = cell.strip()
    if not cell or cell == _ALL:
        return None
    return frozenset(c.strip() for c in cell.split(";") if c.strip())


@cache
def load_constraints() -> Mapping[str, SeriesConstraint]:
    """Content constraints per SDG series, from the packaged CSV (open-sdg sdg-build draft)."""
    text = (
        resources.files("citizendata.publish")
        .joinpath("data/sdg_content_constraints.csv")
        .read_text(encoding="utf-8")
    )
    out: dict[str, SeriesConstraint] = {}
    for rec in csv.DictReader(io.StringIO(text)):
        dims = {k: _parse_allowed(v or "") for k, v in rec.items() if k in SDG_DIMENSIONS}
        unit = (rec.get("UNIT_MEASURE") or "").strip()
        mult = (rec.get("UNIT_MULT") or "").strip()
        out[rec["SERIES"]] = SeriesConstraint(
            series=rec["SERIES"],
            name=rec.get("Name") or "",
            unit_measure=None if unit in ("", _ALL) else unit,
            unit_mult=None if mult in ("", _ALL) else mult,
            allowed=dims,
        )
    return out


def _constraint(series: str) -> SeriesConstraint:
    try:
        return load_constraints()[series]
    except KeyError:
        raise ValueError(f"series {series!r} is not in the SDG content constraints") from None


def _fmt(x: float, decimals: int | None = None) -> str:
    """Shortest positional decimal that round-trips (no exponent, no trailing zeros)."""
    if decimals is not None:
        x = round(x, decimals)
    if x == 0:
        x = 0.0  # no "-0"
    return np.format_float_positional(x, trim="-")


def _is_missing(x: object) -> bool:
    if x is None or x is pd.NA:
        return True
    try:
        return math.isnan(float(x))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return False


def _comment(rec: Mapping[str, object], decimals: int) -> str:
    parts = []
    se, n = (rec.get(k) for k in ("se", "n"))
    if not _is_missing(se):
        parts.append(f"SE {_fmt(float(se), decimals)}")  # type: ignore[arg-type]
    if not _is_missing(n):
        parts.append(f"n {int(float(n))}")  # type: ignore[arg-type]
    flag = rec.get("flag")
    if isinstance(flag, str) and flag in _FLAG_NOTES:
        parts.append(_FLAG_NOTES[flag])
    return "; ".join(parts)


def to_sdg_rows(table: pd.DataFrame, mapping: SeriesMapping,
                dimensions: Iterable[str] | None = None) -> tuple[pd.DataFrame, SdgReport]:
    """Map a protected estimates table to SDG DSD rows; return the rows and a report.

    ``dimensions`` names the table's dimension columns; by default every column that
    is not a value or a known descriptive column (indicator, series, cv, …).
    """
    missing = sorted({"value", "conf_status"} - set(table.columns))
    if missing:
        raise ValueError(f"protected table lacks columns {missing}")
    constraint = _constraint(mapping.series)
    problems = _unit_problems(constraint, mapping.unit_measure, str(mapping.unit_mult))
    if problems:
        raise ValueError("; ".join(problems))
    if dimensions is not None:
        project_dims = list(dimensions)
        absent = sorted(set(project_dims) - set(table.columns))
        if absent:
            raise ValueError(f"the table has no dimension columns {absent}")
    else:
        project_dims = [c for c in table.columns
                        if c not in _VALUE_COLUMNS and c not in _DESCRIPTIVE_COLUMNS]
    report = SdgReport(series=mapping.series, rows_in=len(table))
    out: list[dict[str, str]] = []
    for rec in table.to_dict(orient="records"):
        row, reason = _map_row(rec, project_dims, mapping, constraint)
        if row is None:
            report.excluded[reason] += 1
            continue
        conf = rec.get("conf_status")
        value = rec.get("value")
        if conf in _CONF_NOTES or _is_missing(value):
            # Never publish a value marked confidential, even if the table still holds it.
            report.suppressed += 1
            row[MEASURE] = ""
            row["OBS_STATUS"] = "O"
            row["COMMENT_OBS"] = _CONF_NOTES.get(str(conf), "not available")
        else:
            v = float(str(value))
            if not math.isfinite(v):
                raise ValueError(f"non-finite value {v!r} in a published cell")
            row[MEASURE] = _fmt(v)
            row["OBS_STATUS"] = "U" if rec.get("flag") == "unreliable" else "E"
            row["COMMENT_OBS"] = _comment(rec, mapping.comment_decimals)
            for col, attr in (("ci_low", "LOWER_BOUND"), ("ci_high", "UPPER_BOUND")):
                bound = rec.get(col)
                if not _is_missing(bound):
                    row[attr] = _fmt(float(bound), mapping.comment_decimals + 2)
        out.append(row)
    rows = _sorted_frame(pd.DataFrame(out, columns=list(COLUMNS)))
    dupes = rows.duplicated(subset=list(_KEY))
    if dupes.any():
        raise ValueError(
            f"{int(dupes.sum())} observations share a series key after mapping; "
            "the code map merges distinct project codes"
        )
    report.rows_out = len(rows)
    return rows, report


def _map_row(
    rec: Mapping[str, object],
    project_dims: Iterable[str],
    mapping: SeriesMapping,
    constraint: SeriesConstraint,
) -> tuple[dict[str, str] | None, str]:
    row = dict.fromkeys(COLUMNS, "")
    row.update(
        FREQ="A",
        REPORTING_TYPE="N",
        SERIES=mapping.series,
        REF_AREA=mapping.ref_area,
        TIME_PERIOD=mapping.time_period,
        UNIT_MEASURE=mapping.unit_measure,
        UNIT_MULT=str(mapping.unit_mult),
        NATURE=mapping.nature,
        SOURCE_DETAIL=mapping.source_detail,
        TIME_DETAIL=mapping.time_detail,
    )
    for dim in _BREAKDOWNS:
        row[dim] = _TOTAL
    codes_in = {pdim: str(rec[pdim]) for pdim in project_dims}
    # Most fundamental reason first, so the report says "ward is not in the DSD" rather
    # than whichever dimension happens to come first in the table.
    for pdim, code in codes_in.items():
        if code == _UNKNOWN:
            return None, f"unknown code {_UNKNOWN} in {pdim!r}"
    for pdim, code in codes_in.items():
        if pdim not in mapping.dims and code != _TOTAL:
            return None, f"project dimension {pdim!r} has no SDG dimension"
    for pdim, code in codes_in.items():
        if pdim not in mapping.dims:
            continue
        sdmx_dim, codes = mapping.dims[pdim]
        sdmx_code = codes.get(code, _TOTAL if code == _TOTAL else None)
        if sdmx_code is None:
            return None, f"{pdim!r} code {code!r} has no SDMX code"
        if not constraint.allows(sdmx_dim, sdmx_code):
            return None, f"{sdmx_dim}={sdmx_code} not allowed for {mapping.series}"
        row[sdmx_dim] = sdmx_code
    return row, ""


def _unit_problems(constraint: SeriesConstraint, unit: str, mult: str) -> list[str]:
    problems = []
    if constraint.unit_measure is not None and unit != constraint.unit_measure:
        problems.append(
            f"UNIT_MEASURE={unit} but {constraint.series} uses {constraint.unit_measure}"
        )
    if constraint.unit_mult is not None and mult != constraint.unit_mult:
        problems.append(f"UNIT_MULT={mult} but {constraint.series} uses {constraint.unit_mult}")
    return problems


def check_constraints(rows: pd.DataFrame, series: str | None = None) -> list[str]:
    """Problems of SDG rows against the packaged content constraints (empty when clean)."""
    missing = [c for c in COLUMNS if c not in rows.columns]
    if missing:
        return [f"missing columns {missing}"]
    problems: list[str] = []
    frame = rows.fillna("").astype(str)
    if series is not None:
        other = sorted(set(frame["SERIES"]) - {series})
        if other:
            problems.append(f"rows of other series {other} (expected {series})")
    for ser, part in frame.groupby("SERIES", sort=True):
        name = str(ser)
        if name not in load_constraints():
            problems.append(f"series {name!r} is not in the SDG content constraints")
            continue
        constraint = load_constraints()[name]
        for unit, mult in sorted(set(zip(part["UNIT_MEASURE"], part["UNIT_MULT"], strict=True))):
            problems += _unit_problems(constraint, unit, mult)
        for dim in SDG_DIMENSIONS:
            counts = part[dim].value_counts()
            for code in sorted(counts.index):
                if not constraint.allows(dim, code):
                    problems.append(
                        f"{dim}={code} not allowed for {name} ({int(counts[code])} rows)"
                    )
    for col, allowed in (("FREQ", {"A"}), ("REPORTING_TYPE", {"N", "G"})):
        bad = sorted(set(frame[col]) - allowed)
        if bad:
            problems.append(f"{col} codes {bad} not expected")
    bad_nature = sorted(set(frame["NATURE"]) - NATURE_CODES)
    if bad_nature:
        problems.append(f"NATURE codes {bad_nature} not in CL_NATURE")
    return problems


def sdg_schema(dsd_version: str = DSD_VERSION) -> Schema:
    """Minimal pysdmx ``Schema`` of the SDG DSD: the components this module writes."""

    series_key = ",".join(SDG_DIMENSIONS)

    def comp(cid: str, role: Role, required: bool) -> Component:
        level = None
        if role == Role.ATTRIBUTE:
            level = series_key if cid in SERIES_ATTRIBUTES else "O"
        return Component(
            id=cid,
            required=required,
            role=role,
            concept=Concept(id=cid),
            attachment_level=level,
        )

    comps = [comp(d, Role.DIMENSION, True) for d in _KEY]
    comps.append(comp(MEASURE, Role.MEASURE, False))
    comps += [comp(a, Role.ATTRIBUTE, False) for a in ATTRIBUTES]
    return Schema(
        context="datastructure",
        agency=DSD_AGENCY,
        id=DSD_ID,
        version=dsd_version,
        components=Components(comps),
        # Fixed: the default is "now", which must not leak into anything we compare.
        generated=datetime(2000, 1, 1),
    )


def _sorted_frame(rows: pd.DataFrame) -> pd.DataFrame:
    frame = rows.reindex(columns=list(COLUMNS), fill_value="").astype(object)
    frame = frame.where(frame.notna(), "").astype(str)
    return frame.sort_values(list(_KEY), kind="mergesort").reset_index(drop=True)


def _dataset(rows: pd.DataFrame, dsd_version: str) -> PandasDataset:
    return PandasDataset(structure=sdg_schema(dsd_version), data=_sorted_frame(rows))


def write_sdmx_csv(
    rows: pd.DataFrame,
    path_or_buffer: str | os.PathLike[str] | IO[str],
    *,
    dsd_version: str = DSD_VERSION,
) -> str:
    """Write SDMX-CSV 2.0 (STRUCTURE=datastructure, UTF-8, LF) and return the text."""
    for col in ("SOURCE_DETAIL", "TIME_DETAIL", "COMMENT_OBS"):
        for text in set(rows.get(col, pd.Series(dtype=str)).fillna("").astype(str)):
            _check_text(col, text)
    text = write_sdmx(_dataset(rows, dsd_version), Format.DATA_SDMX_CSV_2_0_0)
    assert text is not None  # an empty output_path makes pysdmx return the text
    # pandas ends lines with os.linesep; free text has no line breaks (checked above),
    # so normalising to LF cannot touch a quoted field.
    text = text.replace("\r\n", "\n")
    if isinstance(path_or_buffer, (str, os.PathLike)):
        with open(path_or_buffer, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
    else:
        path_or_buffer.write(text)
    return text


def write_sdmx_ml(
    rows: pd.DataFrame,
    path: str | os.PathLike[str],
    *,
    prepared: datetime,
    sender: str = "CITIZENDATA",
    dsd_version: str = DSD_VERSION,
) -> str:
    """Write SDMX-ML 2.1 structure-specific data; header ID derived from content."""
    if prepared.tzinfo is None:
        raise ValueError("prepared must be timezone-aware")
    frame = _sorted_frame(rows)
    for col in frame.columns:
        for text in set(frame[col]):
            _check_text(col, text)
    # Same rows and same prepared time give the same ID, hence byte-identical files.
    digest = hashlib.sha256(
        frame.to_csv(index=False, lineterminator="\n").encode()
        + prepared.isoformat().encode()
        + dsd_version.encode()
    ).hexdigest()[:20]
    header = Header(
        id=f"CD_{digest}",
        prepared=prepared,
        sender=Organisation(id=sender),
    )
    text = write_sdmx(
        _dataset(frame, dsd_version),
        Format.DATA_SDMX_ML_2_1_STR,
        header=header,
        dimension_at_observation=TIME_DIMENSION,
    )
    assert text is not None
    with open(path, "w", encoding="utf-8", newline="") as fh:
        fh.write(text)
    return text


def read_back(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Read SDMX-CSV or SDMX-ML data with pysdmx into plain strings in DSD column order."""
    message = read_sdmx(Path(path))
    frames = [pd.DataFrame(ds.data) for ds in message.get_datasets()]
    if not frames:
        return pd.DataFrame(columns=list(COLUMNS))
    data = pd.concat(frames, ignore_index=True)
    # pysdmx reports blanks as "" (CSV, generic ML) or None (structure-specific ML).
    data = data.reindex(columns=list(COLUMNS), fill_value="").astype(object)
    data = data.where(data.notna(), "").astype(str)
    # pysdmx 1.21 reads SDMX-CSV with pandas type inference (no dtype=str): an all-numeric
    # OBS_VALUE column comes back as "0.0"/"1e-05" and M49 "004" as "4". Undo both so
    # CSV and SDMX-ML read back to the strings that were written.
    data[MEASURE] = [_canonical_number(v) for v in data[MEASURE]]
    data["REF_AREA"] = [v.zfill(3) if v.isdigit() else v for v in data["REF_AREA"]]
    return _sorted_frame(data)


def _canonical_number(text: str) -> str:
    if text in ("", "NaN", "nan"):
        return ""
    return _fmt(float(text))
