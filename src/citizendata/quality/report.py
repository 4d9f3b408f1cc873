"""The quality record as JSON and as a self-contained HTML section for release reports."""

from __future__ import annotations

import math
from dataclasses import asdict
from datetime import date, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from citizendata.projects.spec import LEVEL_NAMES
from citizendata.quality.gateway import CRITERIA
from citizendata.quality.model import (
    DIMENSIONS,
    Attestation,
    GatewayResult,
    Recommendation,
    Scorecard,
)

__all__ = ["RECOMMENDATION_LABELS", "TEMPLATES", "quality_html", "quality_html_from_json", "quality_json"]

TEMPLATES = Path(__file__).parent / "templates"
RECOMMENDATION_LABELS = {
    "integrate": "Integrate into official statistics",
    "publish_alongside": "Publish alongside official statistics",
    "stand_alone": "Stand alone",
}


def _plain(value: Any) -> Any:
    """Any figure or note as JSON-ready data (dates as ISO text, NaN and infinities as None)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if value is None or isinstance(value, str | int | bool):
        return value
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_plain(v) for v in value]
    if hasattr(value, "item"):  # numpy scalars, without importing numpy
        return _plain(value.item())
    return str(value)


def _attestation(a: Attestation | None) -> dict[str, Any] | None:
    if a is None:
        return None
    return {"subject": a.subject, "rating": a.rating, "statement": a.statement, "by": a.by,
            "role": a.role, "on": a.on.isoformat()}


def quality_json(engagement: dict[str, Any], gateway: GatewayResult,
                 scorecard: Scorecard | None, recommendation: Recommendation | None
                 ) -> dict[str, Any]:
    """The engagement record, gateway, scorecard and recommendation as one JSON-ready dict."""
    dims: list[dict[str, Any]] = []
    if scorecard is not None:
        # the documented order first, then any dimension the documented list does not know
        keys = [k for k in DIMENSIONS if k in scorecard.dimensions]
        keys += [k for k in scorecard.dimensions if k not in DIMENSIONS]
        for key in keys:
            d = scorecard.dimensions[key]
            dims.append({
                "key": d.key, "name": d.name or DIMENSIONS.get(key, key), "rating": d.rating,
                "score": _plain(d.score), "source": d.source, "evidence": _plain(d.evidence),
                "reasons": list(d.reasons), "attestation": _attestation(d.attestation),
            })
    return {
        "engagement": _plain(engagement),
        "gateway": {
            "passed": gateway.passed,
            "criteria": [{"key": c.key, "name": CRITERIA.get(c.key, c.key), "passed": c.passed,
                          "reasons": list(c.reasons), "source": c.source}
                         for c in gateway.criteria],
        },
        "scorecard": None if scorecard is None else {
            "dataset": scorecard.dataset, "indicator": scorecard.indicator, "dimensions": dims,
        },
        "recommendation": None if recommendation is None else {
            **_plain(asdict(recommendation)),
            "label": RECOMMENDATION_LABELS[recommendation.recommendation],
            "decision_label": RECOMMENDATION_LABELS.get(recommendation.decision or ""),
        },
    }


def quality_html_from_json(data: dict[str, Any]) -> str:
    """The HTML section from a record already in its JSON form (as ``quality_json`` gives)."""
    return _environment().get_template("quality.html").render(q=data, level_names=LEVEL_NAMES)


@lru_cache(maxsize=1)
def _environment() -> Environment:
    # autoescape on for everything: every note and statement is user-supplied text
    return Environment(loader=FileSystemLoader(TEMPLATES), autoescape=True,
                       undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True,
                       keep_trailing_newline=True)


def quality_html(engagement: dict[str, Any], gateway: GatewayResult,
                 scorecard: Scorecard | None, recommendation: Recommendation | None) -> str:
    """A self-contained ``<section class="quality">`` fragment: no scripts, no external assets."""
    data = quality_json(engagement, gateway, scorecard, recommendation)
    return _environment().get_template("quality.html").render(
        q=data, level_names=LEVEL_NAMES)
