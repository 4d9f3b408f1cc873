"""Plain words for a release: units instead of SDMX codes, and what was suppressed and why.

Light on purpose (no pandas): the public pages, the sign-off page and the report use it.
Words are translated in the current language (:func:`citizendata.i18n.use_locale`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from citizendata.i18n import gettext as _
from citizendata.i18n import ngettext

__all__ = ["N_", "REASON_CLASSES", "UNIT_WORDS", "reason_words", "suppression_summary", "unit_words"]


def N_(message: str) -> str:
    """Mark a message for translation; it is translated where it is shown."""
    return message


# SDMX UNIT_MEASURE codes (CL_UNIT_MEASURE) used by projects, as words a reader knows
UNIT_WORDS: Mapping[str, str] = {
    "PT": N_("per cent"),
    "PERCENT": N_("per cent"),
    "KM": N_("km"),
    "NUMBER": N_("number"),
    "YR": N_("years"),
    "HA": N_("hectares"),
    "USD": N_("US dollars"),
    "PER_1000_LIVE_BIRTHS": N_("per 1,000 live births"),
    "PER_100000_LIVE_BIRTHS": N_("per 100,000 live births"),
    "PER_1000_POP": N_("per 1,000 people"),
    "PER_100000_POP": N_("per 100,000 people"),
}

# the ``suppression`` column of a protected table: why a cell is hidden
REASON_CLASSES: tuple[str, ...] = ("threshold", "dominance", "secondary", "confidential")


def unit_words(code: str | None) -> str:
    """The unit as words ("per cent" for PT); an unknown code is shown as it is."""
    code = (code or "").strip()
    return _(UNIT_WORDS[code]) if code in UNIT_WORDS else code


def reason_words(reason: str, rules: Mapping[str, Any] | None = None) -> str:
    """Why cells of this class are hidden, in plain words."""
    threshold = (rules or {}).get("threshold")
    if reason == "threshold":
        if isinstance(threshold, int):
            return ngettext("fewer than %(n)s respondent in the cell",
                            "fewer than %(n)s respondents in the cell",
                            threshold) % {"n": threshold}
        return _("too few respondents in the cell")
    if reason == "dominance":
        return _("one or two respondents make up most of the figure")
    if reason == "secondary":
        return _("hidden so that another hidden cell cannot be worked out from the totals")
    if isinstance(threshold, int):
        return ngettext(
            "fewer than %(n)s respondent in the cell, or hidden so that such a cell "
            "cannot be worked out from the totals",
            "fewer than %(n)s respondents in the cell, or hidden so that such a cell "
            "cannot be worked out from the totals", threshold) % {"n": threshold}
    return _("too few respondents in the cell, or hidden so that such a cell cannot be "
             "worked out from the totals")


def suppression_summary(cells: Iterable[Mapping[str, Any]],
                        protection: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """How many of an indicator's cells are suppressed, by reason class, in words.

    ``cells`` are the rows of the indicator's published estimates (``conf_status`` C or
    D marks a hidden cell, ``suppression`` its reason); ``protection`` is the indicator's
    protection report from the manifest (its ``rules`` give the threshold).
    """
    rules = (protection or {}).get("rules") or {}
    total = hidden = 0
    by_reason: dict[str, int] = {}
    for cell in cells:
        total += 1
        if str(cell.get("conf_status") or "F") in ("C", "D"):
            hidden += 1
            reason = str(cell.get("suppression") or "confidential")
            by_reason[reason] = by_reason.get(reason, 0) + 1
    order = {r: i for i, r in enumerate(REASON_CLASSES)}
    reasons = [{"reason": r, "count": n, "words": reason_words(r, rules)}
               for r, n in sorted(by_reason.items(), key=lambda kv: (order.get(kv[0], 9), kv[0]))]
    return {"cells": total, "suppressed": hidden, "reasons": reasons,
            "sentence": ngettext("%(n)s of %(total)s cell is suppressed.",
                                 "%(n)s of %(total)s cells are suppressed.",
                                 total) % {"n": hidden, "total": total}}
