"""SDG rows of the uncounted (publish/mse_series.py): checked, written, read back by sdmx1."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from citizendata.errors import BadInput
from citizendata.publish.mse_series import OBS_KIND, series_csv, series_rows
from citizendata.publish.sdmx import check_constraints, read_back, write_sdmx_ml


def _estimate(series: str, strata: list[str], table: list[dict[str, Any]]) -> dict[str, Any]:
    return {"indicator": series.lower(), "series": series, "strata": strata,
            "lists": ["fiscalia", "defensoria", "prensa"], "method": "loglinear",
            "selection": "bic", "confidence": 0.95, "years": [2016, 2024],
            "selected": {"terms": ["fiscalia:defensoria"]}, "table": table}


def _row(stratum: str, documented: int | None, estimate: float | None, lo: float | None,
         hi: float | None, status: str = "F") -> dict[str, Any]:
    return {"stratum": stratum, "documented": documented, "estimate": estimate,
            "ci_low": lo, "ci_high": hi, "conf_status": status}


KILLINGS = _estimate("VC_VAW_MTUHRA", ["period"], [
    _row("2016-2018", 120, 151.3, 131.0, 184.9),
    _row("2019-2021", 141, 170.2, 152.4, 199.0),
    _row("2022-2024", None, None, None, None, "C"),
    _row("_T", 380, 472.5, 440.1, 520.3),
])
DISAPPEARANCES = _estimate("VC_VOC_ENFDIS", [], [_row("_T", 31, 52.4, 38.2, 90.7)])


def test_documented_and_estimated_observations_are_told_apart() -> None:
    rows = series_rows({"killings": KILLINGS, "disappearances": DISAPPEARANCES}, "170")
    assert check_constraints(rows) == []
    est = rows[rows[OBS_KIND] == "estimated"].set_index(["SERIES", "TIME_PERIOD"])
    doc = rows[rows[OBS_KIND] == "documented"].set_index(["SERIES", "TIME_PERIOD"])
    k = est.loc[("VC_VAW_MTUHRA", "2018")]
    assert (k["OBS_VALUE"], k["NATURE"], k["OBS_STATUS"]) == ("151.3", "M", "E")
    assert (k["LOWER_BOUND"], k["UPPER_BOUND"], k["TIME_DETAIL"]) == ("131", "184.9",
                                                                      "2016-2018")
    assert "documented 120" in k["COMMENT_OBS"] and "fiscalia:defensoria" in k["COMMENT_OBS"]
    d = doc.loc[("VC_VAW_MTUHRA", "2018")]
    assert (d["OBS_VALUE"], d["NATURE"], d["OBS_STATUS"], d["LOWER_BOUND"]) == (
        "120", "C", "A", "")
    # the hidden period is published as hidden, in both kinds
    for frame in (est, doc):
        hidden = frame.loc[("VC_VAW_MTUHRA", "2024")]
        assert (hidden["OBS_VALUE"], hidden["OBS_STATUS"]) == ("", "O")
    # a series with no time strata: its whole span, the last year with the range as detail
    e = est.loc[("VC_VOC_ENFDIS", "2024")]
    assert (e["OBS_VALUE"], e["TIME_DETAIL"], e["UNIT_MULT"], e["REF_AREA"]) == (
        "52.4", "2016-2024", "0", "170")
    # the recombined total of time strata is not a time point of its own
    assert len(est.loc["VC_VAW_MTUHRA"]) == 3


def test_each_kind_is_written_checked_and_read_back(tmp_path: Path) -> None:
    import sdmx

    rows = series_rows({"killings": KILLINGS, "disappearances": DISAPPEARANCES}, "170")
    for kind in ("estimated", "documented"):
        path = tmp_path / f"{kind}.csv"
        path.write_text(series_csv(rows, kind), encoding="utf-8")
        back = read_back(path)
        mine = rows[rows[OBS_KIND] == kind]
        assert len(back) == len(mine) == 4 and check_constraints(back) == []
        assert set(back["NATURE"]) == ({"M"} if kind == "estimated" else {"C"})
        xml = tmp_path / f"{kind}.xml"
        write_sdmx_ml(mine.drop(columns=[OBS_KIND]), xml,
                      prepared=datetime(2026, 12, 7, tzinfo=UTC))
        logging.getLogger("sdmx").setLevel(logging.ERROR)  # no DSD given: it says so
        with xml.open("rb") as fh:
            msg = sdmx.read_sdmx(fh)
        seen = {}
        for key, observations in msg.data[0].series.items():
            for obs in observations:
                attrs = {k: v.value for k, v in obs.attrib.items()}
                seen[(key.get_values()[2], str(obs.dimension.get_values()[0]))] = (
                    obs.value, attrs)
        killed = seen[("VC_VAW_MTUHRA", "2021")]
        if kind == "estimated":
            assert float(killed[0]) == 170.2 and killed[1]["UPPER_BOUND"] == "199"
            assert killed[1]["NATURE"] == "M" and killed[1]["OBS_STATUS"] == "E"
        else:
            assert float(killed[0]) == 141 and killed[1]["OBS_STATUS"] == "A"
    with pytest.raises(BadInput):
        series_csv(rows, "both")


def test_a_project_without_a_country_cannot_publish() -> None:
    with pytest.raises(BadInput, match="country"):
        series_rows({"killings": KILLINGS}, None)
