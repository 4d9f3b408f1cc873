"""Write a generated data set to files: JSON submissions, KoboToolbox-style exports and the truth."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
from openpyxl import Workbook

from citizendata.scenarios.kenya_maternal_health.form import (
    FORM_TITLE,
    stable_xlsx_bytes,
    value_paths,
)

if TYPE_CHECKING:
    from citizendata.scenarios.kenya_maternal_health import ScenarioData

__all__ = ["KOBO_MAIN_SHEET", "kobo_tables", "write_files"]

KOBO_MAIN_SHEET = FORM_TITLE[:31].rstrip()  # Kobo names the main sheet after the form title
KOBO_CSV_SEPARATOR = ";"  # KoboToolbox's CSV exports separate columns with semicolons
_GPS_PARTS = ("latitude", "longitude", "altitude", "precision")


def _leaf(data: dict[str, Any], path: str) -> str:
    """The value at a slash path of a nested payload; '' when absent."""
    node: Any = data
    for part in path.split("/"):
        if not isinstance(node, dict) or part not in node:
            return ""
        node = node[part]
    return node if isinstance(node, str) else ""


def _submission_time(collected_at: str, instance_id: str) -> str:
    """Server receipt time in UTC, as Kobo shows it: after the interview, once phones had signal."""
    lag = uuid.UUID(instance_id.removeprefix("uuid:")).int % (3 * 24 * 3600)
    t = datetime.fromisoformat(collected_at).astimezone(UTC) + timedelta(seconds=lag)
    return t.replace(tzinfo=None).isoformat(timespec="seconds")


def kobo_tables(submissions: list[dict[str, Any]]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The main table and the births table in KoboToolbox's export layout (XML values, text)."""
    main_paths, birth_paths = value_paths()
    main_rows: list[dict[str, str]] = []
    birth_rows: list[dict[str, Any]] = []
    for k, sub in enumerate(submissions, start=1):
        data = sub["data"]
        row = {}
        for p in main_paths:
            row[p] = _leaf(data, p)
            if p == "location/gps":
                parts = row[p].split(" ") if row[p] else [""] * 4
                for name, v in zip(_GPS_PARTS, parts, strict=False):
                    row[f"_{p}_{name}"] = v
        u = sub["instance_id"].removeprefix("uuid:")
        sub_time = _submission_time(sub["collected_at"], sub["instance_id"])
        row.update({"_id": str(100000 + k), "_uuid": u, "_submission_time": sub_time,
                    "_validation_status": "", "_notes": "", "_status": "submitted_via_web",
                    "_submitted_by": "", "__version__": sub["form_version"], "_tags": "",
                    "_index": str(k)})
        main_rows.append(row)
        for b in data.get("births", []):
            brow: dict[str, Any] = {p: b.get(p.split("/", 1)[1], "") for p in birth_paths}
            brow.update({"_index": len(birth_rows) + 1, "_parent_table_name": KOBO_MAIN_SHEET,
                         "_parent_index": k, "_submission__id": str(100000 + k),
                         "_submission__uuid": u, "_submission__submission_time": sub_time,
                         "_submission___version__": sub["form_version"]})
            birth_rows.append(brow)
    main = pd.DataFrame(main_rows, dtype=object)
    births = pd.DataFrame(birth_rows)
    if births.empty:
        births = pd.DataFrame(columns=[*birth_paths, "_index", "_parent_table_name", "_parent_index",
                                       "_submission__id", "_submission__uuid",
                                       "_submission__submission_time", "_submission___version__"])
    return main, births


def _xlsx(main: pd.DataFrame, births: pd.DataFrame) -> bytes:
    """Kobo's XLSX export: the main sheet and one sheet per repeat."""
    wb = Workbook(write_only=True)
    for title, df in ((KOBO_MAIN_SHEET, main), ("births", births)):
        ws = wb.create_sheet(title)
        ws.append(list(df.columns))
        for rec in df.itertuples(index=False, name=None):
            ws.append([None if v == "" else v for v in rec])
    return stable_xlsx_bytes(wb)


def _json(obj: Any) -> str:
    """Stable, readable JSON."""
    return json.dumps(obj, ensure_ascii=False, indent=2, sort_keys=False) + "\n"


def write_files(data: ScenarioData, out_dir: Path) -> dict[str, Path]:
    """Write every file of the scenario into ``out_dir``; return name -> path."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {name: out / name for name in (
        "submissions.json", "kobo_export.csv", "kobo_export.xlsx", "population_margins.csv",
        "truth.json", "benchmark.json", "bad_records.json", "population.parquet",
        "births_population.parquet")}
    paths["submissions.json"].write_text(_json(data.submissions), encoding="utf-8")
    main, births = kobo_tables(data.submissions)
    main.to_csv(paths["kobo_export.csv"], sep=KOBO_CSV_SEPARATOR, index=False, lineterminator="\n")
    paths["kobo_export.xlsx"].write_bytes(_xlsx(main, births))
    data.margins.to_csv(paths["population_margins.csv"], index=False, lineterminator="\n")
    paths["truth.json"].write_text(_json(data.truth), encoding="utf-8")
    paths["benchmark.json"].write_text(_json(data.benchmark), encoding="utf-8")
    paths["bad_records.json"].write_text(_json(data.bad_records), encoding="utf-8")
    data.population.to_parquet(paths["population.parquet"], index=False)
    data.births_population.to_parquet(paths["births_population.parquet"], index=False)
    return paths
