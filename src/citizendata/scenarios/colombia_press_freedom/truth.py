"""The scenario's known truth: true counts, the documented count and the lists' sizes."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from citizendata.scenarios.colombia_press_freedom.capture import LISTS

__all__ = ["PERIODS", "SERIES", "compute_truth", "period_of"]

# SDG series of indicator 16.10.1 estimated here -> the violations it counts
SERIES: dict[str, tuple[str, ...]] = {"VC_VAW_MTUHRA": ("killing",),
                                      "VC_VOC_ENFDIS": ("enforced_disappearance",)}
PERIODS: dict[str, tuple[int, int]] = {"2016-2018": (2016, 2018), "2019-2021": (2019, 2021),
                                       "2022-2024": (2022, 2024)}


def period_of(years: pd.Series) -> pd.Series:
    """The three-year period of each year."""
    out = pd.Series("", index=years.index, dtype=object)
    for label, (lo, hi) in PERIODS.items():
        out[(years >= lo) & (years <= hi)] = label
    return out


def _counts(frame: pd.DataFrame, col: str) -> dict[str, int]:
    return {str(k): int(v) for k, v in frame[col].value_counts().sort_index().items()}


def _histories(on: pd.DataFrame) -> dict[str, int]:
    """Observed capture patterns (e.g. "101000" in LISTS order) -> number of true events."""
    bits = on.to_numpy(dtype=np.int64)
    k = bits.shape[1]
    code = bits @ (1 << np.arange(k - 1, -1, -1))
    codes, counts = np.unique(code[code > 0], return_counts=True)
    return {format(int(c), f"0{k}b"): int(n) for c, n in zip(codes, counts, strict=True)}


def compute_truth(events: pd.DataFrame, on: pd.DataFrame, records: pd.DataFrame,
                  backlog: pd.DataFrame) -> dict[str, Any]:
    """JSON-ready truth: counts by violation × year × region, per series, per list."""
    documented = on.sum(axis=1) > 0
    cube = (events.groupby(["violation", "year", "region"]).size().rename("n").reset_index())
    series: dict[str, Any] = {}
    for code, violations in SERIES.items():
        sel = events["violation"].isin(violations)
        ev = events[sel]
        series[code] = {
            "violations": list(violations),
            "total": int(sel.sum()),
            "documented": int((sel & documented).sum()),
            "by_year": _counts(ev, "year"),
            "by_period": _counts(ev.assign(period=period_of(ev["year"])), "period"),
            "by_region": _counts(ev, "region"),
            "histories": _histories(on[sel]),
        }
    status = backlog["status"].value_counts()
    return {
        "lists": list(LISTS),
        "true_total": len(events),
        "documented": int(documented.sum()),
        "by_violation_year_region": [
            {"violation": r.violation, "year": int(r.year), "region": r.region, "n": int(r.n)}
            for r in cube.itertuples()],
        "by_violation": _counts(events, "violation"),
        "by_role": _counts(events, "victim_role"),
        "series": series,
        "list_records": {name: int((records["source"] == name).sum()) for name in LISTS},
        "list_events": {name: int(on[name].sum()) for name in LISTS},
        "histories": _histories(on),
        "medios_duplicates": int(records["_duplicate"].sum()),
        "flip": {"reports": len(backlog), "cases": int(backlog["is_case"].sum()),
                 "non_cases": int((~backlog["is_case"]).sum()),
                 **{s: int(status.get(s, 0)) for s in ("verified", "not_verified", "pending")}},
    }
