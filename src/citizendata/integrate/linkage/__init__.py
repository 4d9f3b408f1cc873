"""Record linkage across organisations' lists of victims (Fellegi–Sunter with splink).

Each list names the victims its organisation knows of; the same victim-event appears in
several lists, spelt differently. :func:`link_records` scores candidate pairs of
records with a Fellegi–Sunter model suited to Spanish names (accents, compound surnames
and particles, names swapped, nicknames), event dates with a tolerance and places by
their hierarchy, trained by EM; :class:`LinkageResult` clusters them at a threshold
with the clerical decisions applied. docs/methods/linkage.md has the method.
"""

from __future__ import annotations

from citizendata.integrate.linkage.link import link_records
from citizendata.integrate.linkage.quality import (
    blocking_recall,
    linkage_quality,
    threshold_sensitivity,
)
from citizendata.integrate.linkage.result import DECISIONS, LinkageResult

__all__ = [
    "DECISIONS",
    "LinkageResult",
    "blocking_recall",
    "link_records",
    "linkage_quality",
    "threshold_sensitivity",
]
