"""Write a generated data set to files: JSON submissions, a flat CSV, the truth and references."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from citizendata.scenarios.mexico_lgbtiq.project import spec_dict
from citizendata.scenarios.mexico_lgbtiq.references import reference_bytes

if TYPE_CHECKING:
    from citizendata.scenarios.mexico_lgbtiq import ScenarioData

__all__ = ["flat_table", "write_files"]


def _flatten(node: dict[str, Any], prefix: str = "") -> dict[str, str]:
    out: dict[str, str] = {}
    for k, v in node.items():
        if isinstance(v, dict):
            out.update(_flatten(v, f"{prefix}{k}/"))
        else:
            out[f"{prefix}{k}"] = v
    return out


def flat_table(submissions: list[dict[str, Any]]) -> pd.DataFrame:
    """One row per submission, one column per slash path (absent answers empty)."""
    rows = [_flatten(s["data"]) for s in submissions]
    return pd.DataFrame(rows, dtype=object).fillna("")


def _json(obj: Any) -> str:
    """Stable, readable JSON."""
    return json.dumps(obj, ensure_ascii=False, indent=2, sort_keys=False) + "\n"


def write_files(data: ScenarioData, out_dir: Path) -> dict[str, Path]:
    """Write every file of the scenario into ``out_dir``; return name -> path.

    The submissions hold the synthetic personal fields (names, phones, narratives, GPS)
    as a real export by the network would; they are invented and identify nobody.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {name: out / name for name in (
        "submissions.json", "submissions.csv", "truth.json", "project.json", "population.parquet")}
    paths["submissions.json"].write_text(_json(data.submissions), encoding="utf-8")
    flat_table(data.submissions).to_csv(paths["submissions.csv"], index=False, lineterminator="\n")
    paths["truth.json"].write_text(_json(data.truth), encoding="utf-8")
    paths["project.json"].write_text(_json(spec_dict()), encoding="utf-8")
    data.population.to_parquet(paths["population.parquet"], index=False)
    for name, raw in reference_bytes().items():
        paths[f"{name}.csv"] = out / f"{name}.csv"
        paths[f"{name}.csv"].write_bytes(raw)
    return paths
