"""Measuring the evidence for the scorecard from the project, the snapshot and an estimate run."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

import numpy as np
import pandas as pd

from citizendata.forms.schema import FormSchema
from citizendata.projects.spec import ProjectSpec
from citizendata.quality.model import Evidence
from citizendata.snapshot.open import Snapshot
from citizendata.stats.indicators import IndicatorResult

__all__ = ["consecutive", "coverage_distance", "item_nonresponse", "metadata_share",
           "project_evidence"]

# question types that carry an answer a respondent gives (not metadata or notes)
_ANSWERED = frozenset({"select_one", "select_multiple", "integer", "decimal", "text", "date",
                       "geopoint", "range", "rank", "time", "datetime"})


def item_nonresponse(snap: Snapshot, schema: FormSchema, statuses: list[str]) -> float | None:
    """Mean share of blank answers over the main table's unconditional questions.

    Questions shown only under their own condition (``relevant``) are left out: a
    blank there may be correct. Interviews that end at once (a refusal: at most one
    question answered) are unit non-response, not item non-response, and are left
    out too.
    """
    main = snap.table()
    t = main.filter(main["_review_status"].isin(statuses)) if statuses else main
    cols = set(t.columns)
    blank: dict[str, Any] = {}
    for f in schema.fields:
        if (f.type.split(" ")[0] not in _ANSWERED or f.relevant or f.personal
                or f.repeat is not None):
            continue
        if f.name in cols:
            blank[f.name] = t[f.name].isnull().cast("int8")
        else:
            parts = sorted(c for c in cols if c.startswith(f"{f.name}__"))
            if parts:  # a select_multiple or geopoint: blank when its first part is
                blank[f.name] = t[parts[0]].isnull().cast("int8")
    if len(blank) < 2:
        return None
    marks = t.select(**{f"b{i}": v for i, v in enumerate(blank.values())})
    answered = sum(1 - marks[c] for c in marks.columns)
    marks = marks.filter(answered >= 2)
    row = marks.aggregate(**{c: marks[c].mean() for c in marks.columns}).execute().iloc[0]
    shares = [float(v) for v in row.to_numpy() if v is not None and np.isfinite(v)]
    return float(np.mean(shares)) if shares else None


def coverage_distance(weighting: Mapping[str, Any] | None) -> float | None:
    """The largest gap between the sample's and the census's shares over every margin."""
    if not weighting:
        return None
    margins = pd.DataFrame((weighting.get("diagnostics") or {}).get("margins") or [])
    if margins.empty or "before" not in margins.columns:
        return None
    gaps = []
    for _, m in margins.groupby("margin"):
        before = m["before"].to_numpy(float)
        pop = m["population"].to_numpy(float)
        if before.sum() > 0 and pop.sum() > 0:
            gaps.append(np.abs(before / before.sum() - pop / pop.sum()).max())
    return float(max(gaps)) if gaps else None


def consecutive(years: list[int]) -> int:
    """The length of the run of consecutive years ending with the latest."""
    if not years:
        return 0
    run, ys = 1, sorted(set(years))
    for a, b in zip(ys[::-1][1:], ys[::-1], strict=False):
        if b - a != 1:
            break
        run += 1
    return run


def metadata_share(spec: ProjectSpec) -> float:
    """The share of the metadata items a user of the data needs that the spec fills in."""
    q = spec.quality
    items = [
        bool(spec.purpose.strip()), bool(spec.consent_basis.strip()),
        bool(spec.data_sharing.strip()), bool(spec.stewardship.holder.strip()),
        bool(spec.stewardship.agreement.strip()), spec.country is not None,
        q.reference_period_start is not None and q.reference_period_end is not None,
        bool(spec.engagement) and all(e.evidence.strip() for e in spec.engagement.values()),
        bool(spec.estimation.indicators) and all(
            i.name and i.unit_of_measure for i in spec.estimation.indicators),
    ]
    return sum(items) / len(items)


def project_evidence(spec: ProjectSpec, schema: FormSchema, db_evidence: Mapping[str, Any], *,
                     nonresponse: float | None, result: IndicatorResult | None,
                     today: date | None = None) -> Evidence:
    """Everything measurable about one form's data (and one indicator's run, if given)."""
    today = today or date.today()
    q = spec.quality
    ev = Evidence(submissions=int(db_evidence.get("submissions", 0)))
    ev.validation_pass_rate = db_evidence.get("validation_pass_rate")
    ev.duplicate_rate = db_evidence.get("duplicate_rate")
    ev.kappa = db_evidence.get("kappa")
    ev.item_nonresponse = nonresponse
    if q.reference_period_end is not None:
        ev.lag_days = float(((q.released_on or today) - q.reference_period_end).days)
    ev.periods_available = len(q.periods) if q.periods else consecutive(
        list(db_evidence.get("years") or []))
    p = spec.protection
    ev.protection_level = p.level
    ev.threshold = p.tables.threshold
    ev.consent_recorded = bool(spec.consent_basis.strip()) or p.consent.field is not None
    ev.personal_fields_tagged = any(f.personal for f in schema.fields)
    ev.metadata_share = metadata_share(spec)
    ev.sdg_series = sorted({i.series for i in spec.estimation.indicators if i.series})
    ev.purpose_stated = bool(spec.purpose.strip())
    ev.documented_methods = bool(spec.estimation.indicators) and all(
        i.name and i.unit_of_measure for i in spec.estimation.indicators)
    if result is not None:
        total = result.total()
        cv = total.get("cv")
        ev.headline_cv = float(cv) if cv is not None and np.isfinite(cv) else None
        c = result.coherence
        if c and c.get("difference") is not None and c.get("difference_se"):
            ev.coherence_difference = float(c["difference"])
            ev.coherence_z = float(c["difference"]) / float(c["difference_se"])
        w = result.weighting or {}
        r = ((w.get("diagnostics") or {}).get("r_indicator") or {}).get("R")
        ev.r_indicator = float(r) if r is not None and np.isfinite(r) else None
        ev.coverage_distance = coverage_distance(w)
    return ev
