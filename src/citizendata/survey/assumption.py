"""Which variance assumption an estimate rests on: as data, and in words.

Every estimate says how its margin of error was computed: the declared design (strata,
first-stage units, finite population corrections, the option for a stratum with a single
PSU, its degrees of freedom), or that none was declared and every submission counts as an
independent draw. :class:`VarianceAssumption` holds that as data (a ``code`` and plain
``params``), so outputs keep it in the provenance and pages translate it;
:func:`assumption_text` writes the sentence, in English unless a language is asked for
(the clauses are gettext messages: ``locale/<lang>/LC_MESSAGES/design.po``).

Codes: ``none_declared``, ``srs``, ``stratified``, ``cluster``, ``stratified_cluster``,
``two_stage``, ``non_probability``, ``replicates`` (a survey's own replicate weights
carry its design). Params (each optional): ``n`` (units), ``n_strata``, ``n_psu``,
``df``, ``fpc`` (first stage without replacement), ``stratified`` (two stages),
``second_stage`` (``fpc``, ``with_replacement`` or ``in_first``), ``lonely_psu`` and
``n_lonely`` (strata with one PSU), ``calibrated``, ``weighting`` (``poststratify``,
``rake``, ``ratio``, ``calibrate``), ``replicates`` (type), ``n_replicates``,
``own_replicates``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from citizendata.i18n import gettext as _
from citizendata.i18n import ngettext, use_locale

__all__ = ["CODES", "VarianceAssumption", "assumption_from_provenance", "assumption_text",
           "said_in_provenance"]

CODES = ("none_declared", "srs", "stratified", "cluster", "stratified_cluster", "two_stage",
         "non_probability", "replicates")


@dataclass(frozen=True)
class VarianceAssumption:
    """A design's variance assumption as data: ``code`` (one of :data:`CODES`) and params."""

    code: str
    params: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.code not in CODES:
            raise ValueError(f"unknown variance assumption {self.code!r}")
        # JSON-ready plain values, and no None: an absent param is simply not given
        object.__setattr__(self, "params", {k: _plain(v) for k, v in self.params.items()
                                            if v is not None})

    def with_params(self, **extra: Any) -> VarianceAssumption:
        """The same assumption with more (or changed) params."""
        return VarianceAssumption(self.code, {**self.params, **extra})

    def with_code(self, code: str) -> VarianceAssumption:
        """The same params under another code."""
        return VarianceAssumption(code, self.params)

    def text(self, language: str | None = "en") -> str:
        """The sentence (English by default; ``None``: the current language)."""
        return assumption_text(self, language)

    def to_dict(self) -> dict[str, Any]:
        """``{"code": …, "params": {…}}`` (JSON-ready)."""
        return {"code": self.code, "params": dict(self.params)}


def _plain(v: Any) -> Any:
    """numpy scalars as Python ints, floats and bools."""
    return v.item() if hasattr(v, "item") and not isinstance(v, (str, bytes)) else v


def assumption_from_provenance(provenance: Mapping[str, Any]) -> VarianceAssumption | None:
    """The assumption an estimate's provenance records, or None (a run kept before codes)."""
    code = provenance.get("variance_assumption_code")
    if code not in CODES:
        return None
    return VarianceAssumption(str(code), dict(provenance.get("variance_assumption_params") or {}))


def said_in_provenance(provenance: Mapping[str, Any], language: str | None = "en") -> str:
    """An estimate's assumption in words, from its code and params in ``language`` (None:
    the current one), or its stored English sentence (a run kept before the codes)."""
    data = assumption_from_provenance(provenance)
    if data is None:
        return str(provenance.get("variance_assumption") or "")
    return assumption_text(data, language)


def assumption_text(a: VarianceAssumption, language: str | None = "en") -> str:
    """The assumption in words: clauses joined by semicolons, in ``language``."""
    if language is None:
        return _sentence(a)
    with use_locale(language):
        return _sentence(a)


def _num(n: Any) -> str:
    """A count in the current language's digits grouping."""
    from babel.numbers import format_decimal

    from citizendata.i18n import current_language

    try:
        return str(format_decimal(int(n), locale=current_language()))
    except Exception:  # a language Babel does not know: plain digits
        return f"{int(n):,}"


def _sentence(a: VarianceAssumption) -> str:
    p = a.params
    if a.code == "none_declared":
        clauses = [_("no sampling design declared: each submission is treated as an "
                     "independent draw with replacement, with equal design weights"),
                   _("if the submissions cluster (villages, group ranches, schools) the "
                     "standard errors are too small")]
    elif a.code == "non_probability":
        clauses = _non_probability(p)
    elif a.code == "replicates":
        clauses = [_("the survey's own replicate weights carry its design")]
    elif a.code == "srs" and not p.get("fpc"):
        clauses = [_("no clusters or strata declared: the %(n)s units are treated as "
                     "independent draws with replacement") % {"n": _num(p.get("n", 0))}]
    else:
        clauses = _probability(a.code, p)
    clauses += _weighting(p)
    if "df" in p:  # given only where the design (or its replicates) has them
        clauses.append(ngettext("%(num)s degree of freedom", "%(num)s degrees of freedom",
                                int(p["df"])) % {"num": _num(p["df"])})
    return "; ".join(clauses)


def _structure(p: Mapping[str, Any]) -> list[str]:
    """The declared strata and first-stage units, counted."""
    parts = []
    if p.get("n_strata"):
        parts.append(ngettext("%(num)s stratum", "%(num)s strata", int(p["n_strata"]))
                     % {"num": _num(p["n_strata"])})
    if p.get("n_psu"):
        parts.append(ngettext("%(num)s first-stage unit (PSU)", "%(num)s first-stage units (PSUs)",
                              int(p["n_psu"])) % {"num": _num(p["n_psu"])})
    return parts


def _probability(code: str, p: Mapping[str, Any]) -> list[str]:
    """A declared probability design: its kind, size, stages and lonely PSUs."""
    kinds = {"srs": _("simple random sample"), "stratified": _("stratified sample"),
             "cluster": _("cluster sample"), "stratified_cluster": _("stratified cluster sample"),
             "two_stage": (_("stratified two-stage cluster sample") if p.get("stratified")
                           else _("two-stage cluster sample"))}
    parts = _structure(p)
    if not p.get("n_psu"):
        parts.append(_("%(n)s units, each its own PSU") % {"n": _num(p.get("n", 0))})
    first = (_("first stage without replacement (finite population correction)") if p.get("fpc")
             else _("first stage as drawn with replacement"))
    taylor = _("Taylor linearisation")
    how = first if p.get("replicates") else f"{taylor}, {first}"
    clauses = [f"{kinds[code]} ({', '.join(parts)}): {how}"]
    second = p.get("second_stage")
    if second == "fpc":
        clauses.append(_("second stage with its finite population correction"))
    elif second == "with_replacement":
        clauses.append(_("second stage as drawn with replacement"))
    elif second == "in_first":
        clauses.append(_("the second stage's variance is carried by the first stage's"))
    return clauses + _lonely(p)


def _lonely(p: Mapping[str, Any]) -> list[str]:
    if not p.get("lonely_psu"):
        return []
    return [_("strata with one PSU: %(option)s") % {"option": p["lonely_psu"]}]


def _non_probability(p: Mapping[str, Any]) -> list[str]:
    """A convenience or crowd sample: model-based, whatever units are declared."""
    clauses = [_("non-probability sample: no design weights")]
    if p.get("n_psu"):
        clauses.append(_("the variance treats its %(num)s first-stage units (PSUs) as "
                         "independent draws with replacement") % {"num": _num(p["n_psu"])})
    else:
        clauses.append(_("the variance treats the %(n)s units as independent draws with "
                         "replacement") % {"n": _num(p.get("n", 0))})
    clauses.append(_("valid only if selection is ignorable given the calibration variables "
                     "(model-based, not design-based)"))
    if not p.get("calibrated"):
        clauses.append(_("no calibration is declared, so nothing corrects who took part"))
    if p.get("n_strata"):
        clauses += _structure({"n_strata": p["n_strata"]})
    return clauses + _lonely(p)


def _weighting(p: Mapping[str, Any]) -> list[str]:
    """Calibration of the weights, then the replicate variance."""
    out = []
    kind = p.get("weighting") or ("calibrate" if p.get("calibrated") else None)
    reps = p.get("replicates")
    if kind is not None and reps:
        out.append(_("weights calibrated to population totals, each replicate re-calibrated"))
    elif kind == "poststratify":
        out.append(_("weights post-stratified to population totals, the variance on the "
                     "calibration's residuals"))
    elif kind == "rake":
        out.append(_("weights raked to population totals, the variance on the calibration's "
                     "residuals"))
    elif kind == "ratio":
        out.append(_("weights calibrated to population totals (ratio estimator), the variance "
                     "on the calibration's residuals"))
    elif kind is not None:
        out.append(_("weights calibrated to population totals, the variance on the "
                     "calibration's residuals"))
    if reps:
        values = {"count": _num(p.get("n_replicates", 0)), "type": reps}
        out.append(_("variance from the survey's own %(count)s %(type)s replicate weights") % values
                   if p.get("own_replicates") else
                   _("variance from %(count)s %(type)s replicate weights") % values)
    return out
