"""Each cell's largest contributions, for the dominance rules on magnitude tables.

A respondent's contribution to a cell is their weighted value summed over their units
in it (a woman's distances over her births). The p% rule needs the cell's total and
its two largest contributions; the (n, k) rule the sum of the n largest.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

__all__ = ["MAX_N", "cell_contributions"]

MAX_N = 5  # the (n, k) rule is supported up to n = 5 largest contributors
TOTAL, UNKNOWN = "_T", "_U"


def cell_contributions(units: pd.DataFrame, dims: Sequence[str],
                       sets: Sequence[Sequence[str]], *, psu: str = "_psu",
                       value: str = "_c") -> pd.DataFrame:
    """Per cell of every grouping set: ``total``, ``top1`` … ``top5`` and ``top_n`` sums.

    ``units`` has the respondent id ``psu``, the dimensions and the (non-negative)
    contribution ``value`` of each unit.
    """
    dims = list(dims)
    df = units[[psu, *dims, value]].copy()
    for d in dims:
        df[d] = df[d].astype(object).where(df[d].notna(), UNKNOWN).astype(str)
    df[value] = df[value].abs()
    parts = []
    for s in sets:
        keys = list(s)
        per = df.groupby([*keys, psu], sort=False)[value].sum().reset_index()
        if keys:
            per = per.sort_values([*keys, value], ascending=[True] * len(keys) + [False],
                                  kind="stable")
            rank = per.groupby(keys, sort=False).cumcount().to_numpy()
            cells = per.groupby(keys, sort=False)[value].sum().rename("total").reset_index()
        else:
            per = per.sort_values(value, ascending=False, kind="stable")
            rank = np.arange(len(per))
            cells = pd.DataFrame({"total": [float(per[value].sum())]})
        for k in range(MAX_N):
            top = per[rank == k]
            col = f"top{k + 1}"
            if keys:
                cells = cells.merge(top[[*keys, value]].rename(columns={value: col}),
                                    on=keys, how="left")
            else:
                cells[col] = float(top[value].iloc[0]) if len(top) else 0.0
            cells[col] = cells[col].fillna(0.0)
        for d in dims:
            if d not in keys:
                cells[d] = TOTAL
        parts.append(cells)
    out = pd.concat(parts, ignore_index=True)
    tops = [f"top{k + 1}" for k in range(MAX_N)]
    out[tops] = out[tops].astype(float)
    return out[[*dims, "total", *tops]]
