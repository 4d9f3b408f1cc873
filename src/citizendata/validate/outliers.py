"""Outliers in numeric fields: the robust (modified) z-score and configured hard limits.

Vectorised over a snapshot table with Ibis, so the same code runs on DuckDB and Spark.
Outliers are flagged for review, never rejected. The method (Iglewicz & Hoaglin 1993):

    M_i = 0.6745 · (x_i − median(x)) / MAD,   MAD = median(|x_i − median(x)|)

with |M_i| > 3.5 flagged by default, optionally within groups (e.g. by ward). Where
MAD is 0 (more than half the values equal), the mean absolute deviation is used
instead, M_i = (x_i − median) / (1.253314 · MeanAD), as IBM SPSS and R's DescTools do;
if that is 0 too, no value of the group is an outlier by this rule.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import ibis
import ibis.expr.types as ir

__all__ = ["OUTLIER_COLUMNS", "HardLimit", "hard_limit_findings", "robust_z", "robust_z_findings"]

# the columns of every findings table this module returns
OUTLIER_COLUMNS = ("_id", "field", "value", "score", "rule", "severity", "message")

_CONSISTENCY = 0.6745  # Φ⁻¹(0.75): makes MAD consistent with σ for normal data
_MEANAD_FACTOR = 1.253314  # √(π/2): makes the mean absolute deviation consistent with σ


@dataclass(frozen=True)
class HardLimit:
    """A configured plausible range for a numeric field (either bound may be left open)."""

    field: str
    minimum: float | None = None
    maximum: float | None = None
    severity: str = "warning"


def robust_z(table: ir.Table, column: str, by: Sequence[str] = (), *,
             min_count: int = 1) -> ir.Table:
    """The table with ``_robust_z`` for ``column`` (within groups ``by``); null where undefined.

    Groups with fewer than ``min_count`` values get no score: a median and MAD of a
    handful of values flag ordinary answers.
    """
    win = ibis.window(group_by=list(by)) if by else ibis.window()
    x = table[column].cast("float64")
    step = table.mutate(_x=x)
    step = step.mutate(_median=step._x.median().over(win))
    step = step.mutate(_absdev=(step._x - step._median).abs())
    step = step.mutate(_mad=step._absdev.median().over(win),
                       _meanad=step._absdev.mean().over(win), _n=step._x.count().over(win))
    z = ibis.cases(
        (step._n < min_count, ibis.null("float64")),
        (step._mad > 0, _CONSISTENCY * (step._x - step._median) / step._mad),
        (step._meanad > 0, (step._x - step._median) / (_MEANAD_FACTOR * step._meanad)),
        else_=ibis.null("float64"),
    )
    return step.mutate(_robust_z=z).drop("_x", "_median", "_absdev", "_mad", "_meanad", "_n")


def robust_z_findings(table: ir.Table, fields: Sequence[str], *, by: Sequence[str] = (),
                      threshold: float = 3.5, keep: Sequence[str] = (),
                      min_count: int = 1) -> ir.Table:
    """One finding per value whose |robust z| exceeds ``threshold``, for each field.

    ``keep`` names extra columns carried into the findings (e.g. a repeat item's ``_item``).
    """
    parts = []
    where = f" within {', '.join(by)}" if by else ""
    for field in fields:
        scored = robust_z(table, field, by, min_count=min_count)
        hit = scored.filter(scored._robust_z.abs() > threshold)
        parts.append(hit.select(
            *keep,
            _id=hit._id,
            field=ibis.literal(field),
            value=hit[field].cast("float64"),
            score=hit._robust_z,
            rule=ibis.literal("outlier.robust_z"),
            severity=ibis.literal("warning"),
            message=ibis.literal(f"{field}: robust z-score beyond ±{threshold:g}{where}; "
                                 "check the value"),
        ))
    return _union(parts)


def hard_limit_findings(table: ir.Table, limits: Sequence[HardLimit], *,
                        keep: Sequence[str] = ()) -> ir.Table:
    """One finding per value outside its configured range (``keep``: extra columns carried)."""
    parts = []
    for lim in limits:
        x = table[lim.field].cast("float64")
        outside = ibis.literal(False)
        if lim.minimum is not None:
            outside = outside | (x < lim.minimum)
        if lim.maximum is not None:
            outside = outside | (x > lim.maximum)
        hit = table.mutate(_v=x).filter(outside)
        span = f"[{'' if lim.minimum is None else f'{lim.minimum:g}'}, " \
               f"{'' if lim.maximum is None else f'{lim.maximum:g}'}]"
        parts.append(hit.select(
            *keep,
            _id=hit._id,
            field=ibis.literal(lim.field),
            value=hit._v,
            score=ibis.null("float64"),
            rule=ibis.literal("outlier.hard_limit"),
            severity=ibis.literal(lim.severity),
            message=ibis.literal(f"{lim.field}: outside the configured range {span}"),
        ))
    return _union(parts)


def _union(parts: list[ir.Table]) -> ir.Table:
    if not parts:
        schema = {"_id": "int64", "field": "string", "value": "float64", "score": "float64",
                  "rule": "string", "severity": "string", "message": "string"}
        return ibis.memtable({c: [] for c in OUTLIER_COLUMNS}, schema=schema)
    out = parts[0]
    for p in parts[1:]:
        out = out.union(p)
    return out
