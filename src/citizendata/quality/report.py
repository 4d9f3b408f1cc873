"""The quality record as JSON and as a self-contained HTML section for release reports."""

from __future__ import annotations

import math
from dataclasses import asdict
from datetime import date, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from citizendata import i18n
from citizendata.projects.spec import LEVEL_NAMES
from citizendata.quality.gateway import CRITERIA
from citizendata.quality.model import (
    DIMENSIONS,
    Attestation,
    GatewayResult,
    Recommendation,
    Scorecard,
)

__all__ = ["RECOMMENDATION_LABELS", "STYLESHEET", "TEMPLATES", "quality_html",
           "quality_html_from_json", "quality_json"]

TEMPLATES = Path(__file__).parent / "templates"
# the section's styles, inlined in the offline report and linked by server pages
STYLESHEET = TEMPLATES / "quality.css"
RECOMMENDATION_LABELS = {
    "integrate": "Integrate into official statistics",
    "publish_alongside": "Publish alongside official statistics",
    "stand_alone": "Stand alone",
}


def N_(message: str) -> str:
    """Marks a message for the catalogues; the template translates it where it shows."""
    return message


# names that reach quality.html as data: the template passes them through _()
_NAMES = (N_("Relevance"), N_("Accuracy and reliability"), N_("Timeliness and punctuality"),
          N_("Accessibility and clarity"), N_("Coherence and comparability"),
          N_("Self-identification"), N_("Confidentiality and privacy"),
          N_("Metadata completeness"), N_("Sustainability and frequency"), N_("Integrability"),
          N_("Representativeness and coverage"), N_("Inclusion of marginalised groups"),
          N_("Ethics and privacy"), N_("Transparency and accountability"), N_("Need"),
          N_("Integrate into official statistics"), N_("Publish alongside official statistics"),
          N_("Stand alone"), N_("information"), N_("consultation"), N_("limited participation"),
          N_("shared decision-making"), N_("community-led"))


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


def quality_html_from_json(data: dict[str, Any], *, inline_css: bool = True) -> str:
    """The HTML section from a record already in its JSON form (as ``quality_json`` gives).

    The text is in the current language (``citizendata.i18n.use_locale``). With
    ``inline_css`` False the section has no ``<style>``: a page served under a
    Content-Security-Policy without inline styles links :data:`STYLESHEET` instead.
    """
    return _environment().get_template("quality.html").render(
        q=data, level_names=LEVEL_NAMES, inline_css=inline_css)


@lru_cache(maxsize=1)
def _environment() -> Environment:
    # autoescape on for everything: every note and statement is user-supplied text
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=True,
                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True,
                      keep_trailing_newline=True, extensions=["jinja2.ext.i18n"])
    # the language is the request's or the build's (domain "quality" of the catalogues)
    env.install_gettext_callables(i18n.gettext, i18n.ngettext,  # type: ignore[attr-defined]
                                  newstyle=True)
    return env


def quality_html(engagement: dict[str, Any], gateway: GatewayResult,
                 scorecard: Scorecard | None, recommendation: Recommendation | None) -> str:
    """A self-contained ``<section class="quality">`` fragment: no scripts, no external assets."""
    data = quality_json(engagement, gateway, scorecard, recommendation)
    return quality_html_from_json(data)
