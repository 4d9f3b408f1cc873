"""Release bundles: byte-identical rebuilds, the manifest, the Open SDG layout."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd

from citizendata.publish.bundle import (
    OPEN_SDG_NON_DISAGGREGATION,
    OPEN_SDG_OBSERVATION_ATTRIBUTES,
    open_sdg_csv,
    write_bundle,
)

TABLE = pd.DataFrame({
    "ward": ["_T", "magadi", "ewuaso", "kimana"],
    "value": [61.2, 70.9, np.nan, 77.7],
    "se": [1.53, 3.98, np.nan, 1.91],
    "ci_low": [58.1, 62.5, np.nan, 73.7],
    "ci_high": [64.1, 78.0, np.nan, 81.2],
    "n": pd.array([1697, 137, None, 475], dtype="Int64"),
    "flag": ["", "", None, ""],
    "conf_status": ["F", "F", "C", "F"],
})
RELEASE = {"project": "kenya-maternal-health", "version": "v1", "title": "Births",
           "indicators": {"sba": {"year": 2026, "series": "SH_STA_BRTC", "unit": "PT"}},
           "provenance": {"snapshot": {"main": "ab" * 32}, "code_version": "0.1.0"}}


def build(path: Path, table: pd.DataFrame = TABLE) -> dict[str, bytes]:
    """Write a bundle and read every file back."""
    write_bundle(path, release=RELEASE, tables={"sba": (table, ["ward"])},
                 extra_files={"report.html": b"<!doctype html><p>report</p>\n"})
    return {str(p.relative_to(path)): p.read_bytes() for p in sorted(path.rglob("*"))
            if p.is_file()}


def test_rebuilding_gives_byte_identical_files(tmp_path: Path) -> None:
    first = build(tmp_path / "a")
    # the same cells in another order are the same release
    second = build(tmp_path / "b", TABLE.iloc[[2, 0, 3, 1]])
    assert first == second
    assert set(first) >= {"manifest.json", "datapackage.json", "sba/estimates.csv",
                          "sba/estimates.parquet", "sba/estimates.json", "sba/open-sdg.csv",
                          "report.html"}


def test_manifest_lists_every_file_with_its_hash(tmp_path: Path) -> None:
    files = build(tmp_path)
    manifest = json.loads(files.pop("manifest.json"))
    assert set(manifest["files"]) == set(files)
    for name, entry in manifest["files"].items():
        assert entry["sha256"] == hashlib.sha256(files[name]).hexdigest()
    assert manifest["release"]["provenance"]["code_version"] == "0.1.0"
    package = json.loads(files["datapackage.json"])
    res = package["resources"][0]
    assert res["hash"] == "sha256:" + hashlib.sha256(files["sba/estimates.csv"]).hexdigest()
    assert {f["name"] for f in res["schema"]["fields"]} >= {"ward", "value", "conf_status"}


def test_open_sdg_layout_blank_means_total_and_suppressed_has_no_value() -> None:
    text = open_sdg_csv(TABLE, ["ward"], year="2026", series="SH_STA_BRTC", units="PT")
    lines = text.decode().splitlines()
    # status and notes in columns Open SDG's defaults do not read as disaggregations;
    # Value last, as sdg-build's CSV check requires
    assert lines[0] == "Year,Series,Units,ward,Observation status,COMMENT_OBS,Value"
    assert lines[1] == "2026,SH_STA_BRTC,PT,,E,,61.2"
    assert "2026,SH_STA_BRTC,PT,ewuaso,O,confidential," in lines
    # what sdg-build 2.3 (Open SDG's builder) reads as disaggregations with its defaults
    header = lines[0].split(",")
    assert [c for c in header if c not in OPEN_SDG_NON_DISAGGREGATION
            and c not in OPEN_SDG_OBSERVATION_ATTRIBUTES] == ["ward"]
    assert header[0] == "Year" and header[-1] == "Value"
