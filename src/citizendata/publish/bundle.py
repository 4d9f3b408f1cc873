"""Release bundles: every file of a release written deterministically, with a manifest.

Given the same protected tables, metadata and extra files (SDMX, the HTML report),
``write_bundle`` writes byte-identical files: fixed column and row order, fixed float
formatting, LF line ends, sorted JSON keys, no timestamps but the ones passed in.
The manifest lists every file with its SHA-256 and size, and the release's
provenance (input hashes, configuration hash, code version), so anyone can check a
bundle and rebuild it.
"""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

__all__ = ["ESTIMATE_COLUMNS", "OPEN_SDG_NON_DISAGGREGATION", "OPEN_SDG_OBSERVATION_ATTRIBUTES",
           "Manifest", "open_sdg_csv", "stable_floats", "stable_json", "write_bundle"]

TOTAL = "_T"
# the columns of the full estimates file, after the dimensions
ESTIMATE_COLUMNS = ("value", "se", "ci_low", "ci_high", "cv", "n", "flag", "conf_status",
                    "suppression")
_FLOAT = "%.10g"  # enough digits for any published figure, and stable across platforms


@dataclass(frozen=True)
class Manifest:
    """What a bundle holds: each file's hash and size, and the release's provenance."""

    release: dict[str, Any]
    files: dict[str, dict[str, Any]]

    def to_json(self) -> bytes:
        """The manifest's canonical bytes."""
        return _json(stable_json({"release": self.release, "files": self.files}))


def _json(obj: Any) -> bytes:
    return (json.dumps(obj, sort_keys=True, ensure_ascii=False, indent=2, allow_nan=False)
            + "\n").encode("utf-8")


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _sorted(table: pd.DataFrame, dims: Sequence[str]) -> pd.DataFrame:
    """Rows in a stable order: totals first, then codes, dimension by dimension."""
    if not dims:
        return table.reset_index(drop=True)
    keys = {d: table[d].astype(str).map(lambda c: ("0" if c == TOTAL else "1") + c)
            for d in dims}
    order = pd.DataFrame(keys).sort_values(list(dims), kind="stable").index
    return table.loc[order].reset_index(drop=True)


def _csv(df: pd.DataFrame) -> bytes:
    return df.to_csv(index=False, lineterminator="\n", float_format=_FLOAT).encode("utf-8")


# Open SDG's default indicator options (sdg-build 2.3, open_sdg_indicator_options_defaults):
# columns it does not read as disaggregations, and the observation attributes it shows
# (later versions add SOURCE_DETAIL; 2.3 would take it for a disaggregation)
OPEN_SDG_NON_DISAGGREGATION = ("Year", "Units", "Series", "Value", "GeoCode",
                               "Observation status", "Unit multiplier", "Unit measure",
                               "UNIT_MEASURE", "SERIES", "COMMENT_TS", "DATA_LAST_UPDATE")
OPEN_SDG_OBSERVATION_ATTRIBUTES = ("COMMENT_OBS",)


def open_sdg_csv(table: pd.DataFrame, dims: Sequence[str], *, year: str, series: str,
                 units: str, labels: Mapping[str, str] | None = None) -> bytes:
    """The Open SDG data layout: Year, Series, Units, one column per disaggregation, Value.

    A blank disaggregation means the total. Status and notes go only in columns Open
    SDG's default settings do not take for disaggregations: ``Observation status``
    (SDMX CL_OBS_STATUS: E estimated, U low reliability, O missing — a suppressed cell)
    and the observation attribute ``COMMENT_OBS``, which Open SDG shows as a footnote.
    The source (citizen data) belongs in the indicator's metadata. ``Value`` is the last
    column, as sdg-build's CSV check requires.
    """
    labels = dict(labels or {})
    t = _sorted(table, dims)
    out = pd.DataFrame({"Year": year, "Series": series, "Units": units}, index=t.index)
    for d in dims:
        name = labels.get(d, d)
        if name in OPEN_SDG_NON_DISAGGREGATION or name in OPEN_SDG_OBSERVATION_ATTRIBUTES:
            raise ValueError(f"dimension {d!r} would be read by Open SDG as {name!r}")
        out[name] = t[d].astype(str).where(t[d].astype(str) != TOTAL, "")
    value = pd.to_numeric(t["value"], errors="coerce")
    status = t["conf_status"].astype(str) if "conf_status" in t.columns else \
        pd.Series("F", index=t.index)
    hidden = status.isin(["C", "D"]).to_numpy() | value.isna().to_numpy()
    flag = t["flag"].astype(str) if "flag" in t.columns else pd.Series("", index=t.index)
    unreliable = (flag == "unreliable").to_numpy()
    out["Observation status"] = np.where(hidden, "O", np.where(unreliable, "U", "E"))
    out["COMMENT_OBS"] = np.where(hidden, "confidential",
                                  np.where(unreliable, "low reliability", ""))
    out["Value"] = value.where(~hidden)
    return _csv(out)


def stable_floats(df: pd.DataFrame) -> pd.DataFrame:
    """Floats rounded to 10 significant digits, as the CSV writes them.

    A database's parallel sums may differ in the last bits between two runs over the
    same data; rounding makes every format of a rebuild byte-identical.
    """
    out = df.copy()
    for c in out.columns:
        if pd.api.types.is_float_dtype(out[c]):
            x = out[c].to_numpy(dtype=float, na_value=np.nan)
            with np.errstate(divide="ignore", invalid="ignore"):
                mag = np.floor(np.log10(np.abs(x)))
            scale = np.where(np.isfinite(mag), 10.0 ** (9 - mag), 1.0)
            out[c] = np.where(np.isfinite(x), np.round(x * scale) / scale, x)
    return out


def stable_json(obj: Any) -> Any:
    """A JSON-ready object with every float at 10 significant digits."""
    if isinstance(obj, float):
        return float(f"{obj:.10g}") if np.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: stable_json(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [stable_json(v) for v in obj]
    return obj


def _parquet(df: pd.DataFrame) -> bytes:
    """Parquet bytes with no pandas index metadata and fixed writer settings."""
    table = pa.Table.from_pandas(stable_floats(df), preserve_index=False)
    table = table.replace_schema_metadata(None)
    buf = io.BytesIO()
    pq.write_table(table, buf, compression="zstd", use_dictionary=False, write_statistics=False)
    return buf.getvalue()


def _frictionless_type(dtype: Any) -> str:
    if pd.api.types.is_integer_dtype(dtype):
        return "integer"
    if pd.api.types.is_float_dtype(dtype):
        return "number"
    return "string"


def write_bundle(out_dir: str | Path, *, release: Mapping[str, Any],
                 tables: Mapping[str, tuple[pd.DataFrame, Sequence[str]]],
                 extra_files: Mapping[str, bytes] | None = None) -> Manifest:
    """Write every file of a release into ``out_dir`` and return its manifest.

    ``tables`` maps an indicator id to its protected estimates and dimensions;
    ``release`` carries version, project, year, series and unit per indicator
    (``release["indicators"][id]``) and the provenance.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    files: dict[str, bytes] = {}
    resources: list[dict[str, Any]] = []
    for ind_id in sorted(tables):
        table, dims = tables[ind_id]
        meta = release["indicators"][ind_id]
        cols = [*dims, *[c for c in ESTIMATE_COLUMNS if c in table.columns]]
        full = _sorted(table[cols], dims)
        files[f"{ind_id}/estimates.csv"] = _csv(full)
        files[f"{ind_id}/estimates.parquet"] = _parquet(full)
        files[f"{ind_id}/estimates.json"] = _json(stable_json(json.loads(
            full.to_json(orient="records", double_precision=15))))
        files[f"{ind_id}/open-sdg.csv"] = open_sdg_csv(
            table, dims, year=str(meta["year"]), series=str(meta.get("series") or ""),
            units=str(meta.get("unit") or ""))
        resources.append({
            "name": ind_id.lower().replace("_", "-"), "path": f"{ind_id}/estimates.csv",
            "format": "csv", "mediatype": "text/csv", "encoding": "utf-8",
            "schema": {"fields": [{"name": c, "type": _frictionless_type(full[c].dtype)}
                                  for c in full.columns]},
        })
    files.update(extra_files or {})
    for r in resources:
        data = files[r["path"]]
        r["hash"] = f"sha256:{_sha256(data)}"
        r["bytes"] = len(data)
    package = {
        "name": str(release["project"]).lower(), "title": release.get("title", ""),
        "version": str(release["version"]), "resources": resources,
        "licenses": release.get("licenses", []),
    }
    files["datapackage.json"] = _json(package)
    for name, data in sorted(files.items()):
        path = out / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    manifest = Manifest(
        release=dict(release),
        files={name: {"sha256": _sha256(data), "bytes": len(data)}
               for name, data in sorted(files.items())})
    (out / "manifest.json").write_bytes(manifest.to_json())
    return manifest
