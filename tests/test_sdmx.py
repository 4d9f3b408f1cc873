"""SDMX output of protected estimates for the SDG global DSD."""

from __future__ import annotations

import io
import math
import re
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from citizendata.publish.sdmx import (
    COLUMNS,
    SDG_DIMENSIONS,
    SeriesMapping,
    check_constraints,
    load_constraints,
    read_back,
    to_sdg_rows,
    write_sdmx_csv,
    write_sdmx_ml,
)

PREPARED = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)

KENYA = SeriesMapping(
    series="SH_STA_BRTC",
    ref_area="404",
    time_period="2026",
    unit_measure="PT",
    unit_mult=0,
    source_detail="Citizen data: Kenya community health volunteers, calibrated survey estimate",
    dims={
        "disability": ("DISABILITY_STATUS", {"pwd": "PWD", "no_pwd": "PD"}),
    },
)

DISCRIM = SeriesMapping(
    series="VC_VOV_GDSD",
    ref_area="170",
    time_period="2026",
    source_detail="Citizen data: Colombia discrimination survey, calibrated estimate",
    dims={
        "sex": ("SEX", {"f": "F", "m": "M"}),
        "age": ("AGE", {"18-29": "Y18T29", "30-44": "Y30T44", "45+": "Y_GE45"}),
    },
)


def _cell(value: float | None, conf: str = "F", flag: str | None = "", **dims: str) -> dict:
    suppressed = conf != "F"
    return {
        **dims,
        "value": math.nan if value is None or suppressed else value,
        "se": 1.534,
        "ci_low": 58.1,
        "ci_high": 64.1,
        "n": 1697,
        "flag": None if suppressed else flag,
        "conf_status": conf,
    }


def births_table() -> pd.DataFrame:
    """Disability × ward with totals, as produced by the estimation and SDC steps."""
    rows = []
    for dis in ("_T", "pwd", "no_pwd"):
        for ward in ("_T", "W1", "W2"):
            rows.append(_cell(61.1, disability=dis, ward=ward))
    return pd.DataFrame(rows)


def discrim_table() -> pd.DataFrame:
    rows = [_cell(12.5, sex="_T", age="_T")]
    rows.append(_cell(13.25, sex="f", age="_T", flag="caution"))
    rows.append(_cell(11.0, sex="m", age="_T", flag="unreliable"))
    rows.append(_cell(None, conf="C", sex="f", age="18-29"))
    rows.append(_cell(None, conf="D", sex="m", age="18-29"))
    rows.append(_cell(14.0, sex="_T", age="18-29", flag="low_n"))
    rows.append(_cell(10.0, sex="_T", age="30-44"))
    rows.append(_cell(9.0, sex="_U", age="30-44"))
    return pd.DataFrame(rows)


def test_births_only_totals_survive_constraints() -> None:
    rows, report = to_sdg_rows(births_table(), KENYA)
    # SH_STA_BRTC allows only _T for DISABILITY_STATUS (and AGE); ward has no SDG dimension.
    assert len(rows) == 1
    assert rows.loc[0, "DISABILITY_STATUS"] == "_T"
    assert rows.loc[0, "AGE"] == "_T"
    assert report.rows_in == 9 and report.rows_out == 1 and report.rows_excluded == 8
    assert report.excluded == {
        "project dimension 'ward' has no SDG dimension": 6,
        "DISABILITY_STATUS=PWD not allowed for SH_STA_BRTC": 1,
        "DISABILITY_STATUS=PD not allowed for SH_STA_BRTC": 1,
    }
    assert "8 left out" in report.summary()
    row = rows.iloc[0]
    assert list(rows.columns) == list(COLUMNS)
    assert (row["FREQ"], row["REPORTING_TYPE"], row["REF_AREA"]) == ("A", "N", "404")
    # an estimate from a sample of citizen-collected answers: E, with its bounds in the
    # DSD's own attributes, not in comment text
    assert (row["OBS_VALUE"], row["OBS_STATUS"], row["NATURE"]) == ("61.1", "E", "")
    assert (row["LOWER_BOUND"], row["UPPER_BOUND"]) == ("58.1", "64.1")
    assert row["COMMENT_OBS"] == "SE 1.53; n 1697"
    assert row["SOURCE_DETAIL"].startswith("Citizen data: ")
    assert all(row[d] == "_T" for d in SDG_DIMENSIONS[4:])
    assert check_constraints(rows, "SH_STA_BRTC") == []


def test_discrimination_by_sex_and_age_and_suppression() -> None:
    rows, report = to_sdg_rows(discrim_table(), DISCRIM)
    assert report.excluded == {"unknown code _U in 'sex'": 1}
    assert report.rows_out == 7 and report.suppressed == 2
    assert check_constraints(rows, "VC_VOV_GDSD") == []
    by_key = rows.set_index(["SEX", "AGE"])
    assert set(by_key.index) == {
        ("_T", "_T"),
        ("F", "_T"),
        ("M", "_T"),
        ("F", "Y18T29"),
        ("M", "Y18T29"),
        ("_T", "Y18T29"),
        ("_T", "Y30T44"),
    }
    primary = by_key.loc[("F", "Y18T29")]
    secondary = by_key.loc[("M", "Y18T29")]
    for cell, note in (
        (primary, "confidential"),
        (secondary, "confidential (secondary)"),
    ):
        assert cell["OBS_VALUE"] == ""
        assert cell["OBS_STATUS"] == "O"
        assert cell["COMMENT_OBS"] == note  # no SE/CI/n: they could reveal the value
    assert by_key.loc[("M", "_T"), "OBS_STATUS"] == "U"
    assert by_key.loc[("M", "_T"), "COMMENT_OBS"].endswith("; low reliability")
    assert by_key.loc[("F", "_T"), "OBS_STATUS"] == "E"
    assert by_key.loc[("F", "_T"), "OBS_VALUE"] == "13.25"
    assert by_key.loc[("_T", "Y18T29"), "COMMENT_OBS"].endswith("; small sample")


def test_confidential_value_is_never_written() -> None:
    table = discrim_table()
    table.loc[table["conf_status"] == "C", "value"] = 42.0  # a leak upstream
    rows, _ = to_sdg_rows(table, DISCRIM)
    assert "42" not in set(rows["OBS_VALUE"])


def test_mapping_and_table_errors() -> None:
    with pytest.raises(ValueError, match="CL_NATURE"):
        SeriesMapping("SH_STA_BRTC", "404", "2026", "x", nature="CITIZEN")
    with pytest.raises(ValueError, match="not allowed"):
        SeriesMapping("SH_STA_BRTC", "404", "2026", 'Citizen data: "quoted"')
    with pytest.raises(ValueError, match="breakdown"):
        SeriesMapping("SH_STA_BRTC", "404", "2026", "x", dims={"w": ("REF_AREA", {})})
    with pytest.raises(ValueError, match="not in the SDG content constraints"):
        to_sdg_rows(births_table(), SeriesMapping("NO_SUCH", "404", "2026", "x"))
    with pytest.raises(ValueError, match="UNIT_MEASURE"):
        to_sdg_rows(births_table(), SeriesMapping("SH_STA_BRTC", "404", "2026", "x", "NUMBER"))
    merged = SeriesMapping(
        "VC_VOV_GDSD", "170", "2026", "x", dims={"sex": ("SEX", {"f": "F", "m": "F"})}
    )
    with pytest.raises(ValueError, match="share a series key"):
        to_sdg_rows(pd.DataFrame([_cell(1.0, sex="f"), _cell(2.0, sex="m")]), merged)


def test_check_constraints_reports_bad_codes() -> None:
    rows, _ = to_sdg_rows(births_table(), KENYA)
    bad = rows.copy()
    bad.loc[0, "AGE"] = "Y15T49"
    bad.loc[0, "UNIT_MEASURE"] = "NUMBER"
    problems = check_constraints(bad)
    assert "AGE=Y15T49 not allowed for SH_STA_BRTC (1 rows)" in problems
    assert any(p.startswith("UNIT_MEASURE=NUMBER") for p in problems)
    assert load_constraints()["SH_STA_BRTC"].allowed["SEX"] is None  # ALL


def test_sdmx_csv_layout_and_read_back(tmp_path: Path) -> None:
    rows, _ = to_sdg_rows(discrim_table(), DISCRIM)
    path = tmp_path / "gdsd.csv"
    text = write_sdmx_csv(rows, path)
    raw = path.read_bytes()
    assert raw == text.encode("utf-8") and b"\r" not in raw
    header = text.split("\n", 1)[0].split(",")
    assert header[:3] == ["STRUCTURE", "STRUCTURE_ID", "ACTION"]
    assert header[3:] == list(COLUMNS)
    first = text.split("\n")[1]
    assert first.startswith("datastructure,IAEG-SDGs:SDG(1.8),I,A,N,VC_VOV_GDSD,170,")
    back = read_back(path)
    pd.testing.assert_frame_equal(back, rows)
    assert check_constraints(back, "VC_VOV_GDSD") == []
    buf = io.StringIO()
    write_sdmx_csv(rows, buf)
    assert buf.getvalue() == text


def test_sdmx_ml_round_trip(tmp_path: Path) -> None:
    rows, _ = to_sdg_rows(discrim_table(), DISCRIM)
    path = tmp_path / "gdsd.xml"
    text = write_sdmx_ml(rows, path, prepared=PREPARED)
    assert "<mes:Prepared>2026-03-01T12:00:00Z</mes:Prepared>" in text
    assert 'agencyID="IAEG-SDGs" id="SDG" version="1.8"' in text
    # the unit is the series', as in the SDG DSD; bounds and status each observation's
    series = re.findall(r"<Series [^>]*>", text)
    obs = re.findall(r"<Obs [^>]*>", text)
    assert series and all('UNIT_MEASURE="PT"' in s for s in series)
    assert obs and not any("UNIT_MEASURE" in o for o in obs)
    assert any('LOWER_BOUND="' in o and 'OBS_STATUS="E"' in o for o in obs)
    back = read_back(path)
    pd.testing.assert_frame_equal(back, rows)
    # the header cites the version the project names
    other = write_sdmx_ml(rows, tmp_path / "v19.xml", prepared=PREPARED, dsd_version="1.9")
    assert 'id="SDG" version="1.9"' in other and "IAEG-SDGs:SDG(1.9)" in other
    with pytest.raises(ValueError, match="timezone"):
        write_sdmx_ml(rows, path, prepared=datetime(2026, 3, 1))


def test_byte_identical_rewrite(tmp_path: Path) -> None:
    rows, _ = to_sdg_rows(discrim_table(), DISCRIM)
    shuffled = rows.sample(frac=1.0, random_state=3)
    for name, write in (
        ("a", lambda r, p: write_sdmx_csv(r, p)),
        ("b", lambda r, p: write_sdmx_ml(r, p, prepared=PREPARED)),
    ):
        first, second = tmp_path / f"{name}1", tmp_path / f"{name}2"
        write(rows, first)
        write(shuffled, second)
        assert first.read_bytes() == second.read_bytes()


_values = st.one_of(
    st.none(),
    st.floats(min_value=0, max_value=1e6, allow_nan=False, allow_infinity=False),
)


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(values=st.lists(_values, min_size=1, max_size=3), by_sex=st.booleans())
def test_hypothesis_csv_round_trip(
    tmp_path: Path, values: list[float | None], by_sex: bool
) -> None:
    codes = ["_T", "f", "m"][: len(values)]
    table = pd.DataFrame(
        [
            _cell(v, conf="F" if v is not None else "C", sex=c if by_sex else "_T", age=a)
            for v, c, a in zip(values, codes, ["_T", "18-29", "30-44"], strict=False)
        ]
    )
    rows, report = to_sdg_rows(table, DISCRIM)
    assert report.rows_out == len(values)
    path = tmp_path / "h.csv"
    write_sdmx_csv(rows, path)
    back = read_back(path)
    pd.testing.assert_frame_equal(back, rows)
    got = sorted(float(v) for v in back["OBS_VALUE"] if v != "")
    assert got == sorted(v for v in values if v is not None)
    assert (back["OBS_VALUE"] == "").sum() == sum(v is None for v in values)


def test_leading_zero_area_and_integer_values_survive_csv(tmp_path: Path) -> None:
    # pysdmx's CSV reader infers types; read_back must still return "004" and "0".
    afghanistan = SeriesMapping("VC_VOV_GDSD", "004", "2026", "Citizen data: test")
    rows, _ = to_sdg_rows(pd.DataFrame([_cell(0.0, sex="_T")]), afghanistan)
    path = tmp_path / "afg.csv"
    write_sdmx_csv(rows, path)
    assert ",004," in path.read_text(encoding="utf-8")
    back = read_back(path)
    assert (back.loc[0, "REF_AREA"], back.loc[0, "OBS_VALUE"]) == ("004", "0")


def test_another_sdmx_library_reads_the_sdmx_ml(tmp_path: Path) -> None:
    """sdmx1 (not the library that wrote it) finds the key, the bounds and the status."""
    import logging

    import sdmx

    rows, _ = to_sdg_rows(discrim_table(), DISCRIM)
    path = tmp_path / "gdsd.xml"
    write_sdmx_ml(rows, path, prepared=PREPARED)
    logging.getLogger("sdmx").setLevel(logging.ERROR)  # no DSD given: it says so
    with path.open("rb") as fh:
        msg = sdmx.read_sdmx(fh)
    seen = {}
    for key, observations in msg.data[0].series.items():
        values = key.get_values()
        for obs in observations:
            attrs = {k: v.value for k, v in obs.attrib.items()}
            seen[(values[4], values[5])] = (obs.value, attrs)
    published = rows[rows["OBS_VALUE"] != ""]
    assert len(seen) == len(rows) and len(published) > 0
    for _, r in published.iterrows():
        value, attrs = seen[(r["SEX"], r["AGE"])]
        assert float(value) == float(r["OBS_VALUE"])
        assert attrs["OBS_STATUS"] == r["OBS_STATUS"] in {"E", "U"}
        assert attrs.get("LOWER_BOUND") == r["LOWER_BOUND"] and "CI" not in attrs["COMMENT_OBS"]
