"""A project's non-probability citizen data combined with a probability survey, as a Client call.

A mixin of ``Client`` (``self`` is a Client). ``estimate_combined`` takes an indicator
of a form declared ``non_probability: true`` and its ``estimation.combine``
declaration: the indicator's unit-level values from the approved, consenting
submissions (the indicator machinery of :mod:`citizendata.stats.indicators`), the
declared covariates beside them, and the reference survey's microdata from the
project's reference table; :func:`citizendata.integrate.nonprob.estimate_nonprob`
does the estimation. The table leaves only through the project's disclosure control,
and every call is audited, as ``Client.estimate``'s runs are.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Any

from citizendata._lazy import lazy_module
from citizendata.errors import BadInput, Where

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from citizendata.privacy import suppress as _suppress
    from citizendata.privacy import tables as _tables
    from citizendata.projects.combine import CombineSpec
    from citizendata.projects.estimation import EstimationSpec, IndicatorSpec
    from citizendata.projects.protection import ProtectionSpec
    from citizendata.services import consent, estimation, validation
    from citizendata.snapshot.open import Snapshot
    from citizendata.stats.frame import ConsentFilter
else:  # the statistics stack loads on the first call that needs it
    np = lazy_module("numpy")
    pd = lazy_module("pandas")
    _suppress = lazy_module("citizendata.privacy.suppress")
    _tables = lazy_module("citizendata.privacy.tables")
    consent = lazy_module("citizendata.services.consent")
    estimation = lazy_module("citizendata.services.estimation")
    validation = lazy_module("citizendata.services.validation")

__all__ = ["CombinedResult", "IntegrationMethods", "citizen_units", "combine_estimates",
           "protect_combined"]

TOTAL = "_T"  # the whole population, as in every estimate table
_VALUES = ("estimate", "se", "ci_low", "ci_high", "n_A", "n_B")  # blanked in a hidden cell


@dataclass
class CombinedResult:
    """The combined estimates of one indicator: table, diagnostics, provenance, protection.

    ``table`` has one row per method and domain: ``method``, the ``by`` column (``_T``
    the whole population) when broken down, ``estimate``, ``se``, ``ci_low``,
    ``ci_high`` (on the indicator's scale), ``n_A`` (citizen units), ``n_B`` (survey
    units), ``assumption`` and, once protected, ``conf_status`` (F free, C hidden).
    """

    indicator: IndicatorSpec
    table: pd.DataFrame
    by: str | None
    methods: list[str]
    diagnostics: dict[str, Any]
    outcome_model: str
    variance: str
    provenance: dict[str, Any]
    counts: dict[str, int] = field(default_factory=dict)
    protection: dict[str, Any] | None = None

    def total(self, method: str) -> dict[str, Any]:
        """One method's estimate for the whole population (a row of the table)."""
        t = self.table
        rows = t[(t["method"] == method) & ((t[self.by] == TOTAL) if self.by else True)]
        return _row(rows.iloc[0]) if len(rows) else {}

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form (the API's answer, the CLI's ``--json``)."""
        rows = []
        for r in (_row(x) for x in self.table.to_dict("records")):
            out = {"method": r["method"], **({"by": {self.by: r[self.by]}} if self.by else {}),
                   "estimate": r["estimate"], "se": r["se"],
                   "ci": [r["ci_low"], r["ci_high"]], "n_A": r["n_A"], "n_B": r["n_B"],
                   "assumption": r["assumption"], "conf_status": r.get("conf_status", "F")}
            rows.append(out)
        return {"indicator": self.indicator.model_dump(mode="json"), "by": self.by,
                "methods": self.methods, "estimates": rows, "diagnostics": self.diagnostics,
                "outcome_model": self.outcome_model, "variance": self.variance,
                "counts": self.counts, "protection": self.protection,
                "provenance": self.provenance}


def _row(r: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in r.items():
        if isinstance(v, (float, np.floating)):
            out[str(k)] = float(v) if np.isfinite(v) else None
        elif isinstance(v, np.integer):
            out[str(k)] = int(v)
        elif v is None or v is pd.NA or (isinstance(v, float) and v != v):
            out[str(k)] = None
        else:
            out[str(k)] = v
    return out


def _hash(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()


def citizen_units(snap: Snapshot, spec: EstimationSpec, ind: IndicatorSpec, columns: Sequence[str],
                  *, statuses: Sequence[str] | None, references: Mapping[str, pd.DataFrame],
                  consent: ConsentFilter | None, today: date) -> tuple[pd.DataFrame, dict[str, int]]:
    """The indicator's units in its base with ``_y`` and ``columns``; counts of what was left out.

    The same units ``Client.estimate`` counts: the analysis frame of the indicator's unit
    (statuses, consent), the numerator and base of its definition, and the weighting's
    ``population`` filter when the form declares one. A unit without a value for one of
    ``columns`` is left out (and counted): the estimators need complete covariates.
    """
    from citizendata.stats.frame import PSU
    from citizendata.stats.indicators import units_in_base

    measured, frame = units_in_base(snap, spec, ind, statuses=statuses, references=references,
                                    today=today, consent=consent)
    unknown = sorted(set(columns) - set(frame.table.columns))
    if unknown:
        raise BadInput("nonprob.invalid", f"indicator {ind.id!r}: the unit "
                       f"{ind.unit or 'submission'} has no column(s) {unknown}",
                       where=Where(field=f"estimation.combine.{ind.id}"),
                       fix="Name fields of the unit or an enclosing level, or derived variables.")
    df = measured.select(*dict.fromkeys([PSU, "_y", *columns])).to_pandas()
    blank = np.zeros(len(df), dtype=bool)
    for c in columns:
        blank |= (df[c].isna() | (df[c].astype(str) == "")).to_numpy()
    counts = {"base": len(df), "missing_covariates": int(blank.sum())}
    return df.loc[~blank].reset_index(drop=True), counts


def _survey(cspec: CombineSpec, survey: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
    """The survey's rows kept by the filter, its columns under the form's names."""
    where = Where(field=f"reference table {cspec.reference}")
    for col, keep in cspec.filter.items():
        if col not in survey.columns:
            raise BadInput("nonprob.invalid", f"the reference table {cspec.reference!r} has no "
                           f"column {col!r} to filter on", where=where,
                           fix="Correct estimation.combine's filter.")
        survey = survey[survey[col].astype(str).isin([str(k) for k in keep])]
    wanted = {c: cspec.survey_name(c) for c in columns}
    missing = sorted({s for s in [*wanted.values(), cspec.weights, cspec.strata, cspec.psu,
                                  cspec.outcome]
                      if s and s not in survey.columns})
    if missing:
        raise BadInput("nonprob.invalid", f"the reference table {cspec.reference!r} has no "
                       f"column(s) {missing}", where=where,
                       fix="Name the survey's columns in estimation.combine (rename maps the "
                           "form's names to the survey's).")
    out = pd.DataFrame({c: survey[s].to_numpy() for c, s in wanted.items()})
    design: dict[str, str | None] = {"_w": cspec.weights, "_strata": cspec.strata,
                                     "_cluster": cspec.psu, "_ys": cspec.outcome}
    for tag, name in design.items():
        if name:
            out[tag] = survey[name].to_numpy()
    return out


def _align(citizen: pd.DataFrame, survey: pd.DataFrame, columns: Sequence[str]) -> None:
    """A covariate that is text in one sample and numbers in the other is text in both."""
    for c in columns:
        num_a = pd.api.types.is_numeric_dtype(citizen[c])
        num_b = pd.api.types.is_numeric_dtype(survey[c])
        if not (num_a and num_b):
            citizen[c] = citizen[c].astype(str)
            survey[c] = survey[c].astype(str)


def combine_estimates(citizen: pd.DataFrame, survey: pd.DataFrame, cspec: CombineSpec,
                      ind: IndicatorSpec, *, by: str | None, methods: Sequence[str],
                      level: float) -> tuple[pd.DataFrame, dict[str, Any], str, str]:
    """The nonprob estimators on the two samples: table (scaled), diagnostics, model, variance.

    ``citizen`` has ``_psu`` (the submission), ``_y`` and the covariates; ``survey`` the
    covariates under the form's names and ``_w``, ``_strata``, ``_cluster``.
    """
    from citizendata.integrate.nonprob import estimate_nonprob
    from citizendata.integrate.nonprob.estimate import VARIANCE_NOTE

    cols = list(dict.fromkeys([*cspec.covariates, *([by] if by else [])]))
    _align(citizen, survey, cols)
    try:
        res = estimate_nonprob(
            citizen, survey, covariates=list(cspec.covariates), y="_y", weights="_w",
            strata="_strata" if cspec.strata else None, psu="_cluster" if cspec.psu else None,
            method=list(methods), propensity_covariates=cspec.propensity_covariates,
            outcome_covariates=cspec.outcome_covariates, by=by, level=level)
    except np.linalg.LinAlgError as exc:
        # e.g. a covariate category where every citizen unit has the same outcome
        raise BadInput("nonprob.invalid", f"indicator {ind.id!r}: the propensity or outcome "
                       f"model cannot be fitted on these samples ({exc})",
                       where=Where(field=f"estimation.combine.{ind.id}.covariates"),
                       fix="Use fewer covariates or merge small categories (or give each "
                           "model its own covariates), or wait for more submissions.") from None
    t = res.table.copy()
    if "_ys" in survey.columns:
        t = pd.concat([t, _survey_rows(survey, t, by, level)], ignore_index=True)
    for c in ("estimate", "se", "ci_low", "ci_high"):
        t[c] = t[c] * ind.scale
    if by:
        t[by] = t[by].astype(str)
        # respondents (submissions) per domain: a cell of births is sensitive when few women
        resp = citizen.groupby(citizen[by].astype(str))["_psu"].nunique()
        t["_respondents"] = t[by].map(resp).fillna(citizen["_psu"].nunique()).astype(int)
    else:
        t["_respondents"] = int(citizen["_psu"].nunique())
    return t, res.diagnostics, res.outcome_model, VARIANCE_NOTE


SURVEY_ASSUMPTION = ("None beyond the survey's design: the reference survey's own design-based "
                     "estimate (Hajek mean, linearised variance, strata and PSUs with "
                     "replacement), from its own measure of the outcome; the citizen sample "
                     "plays no part. Compare: the other methods should agree with it within "
                     "their intervals when the survey measures the same thing.")


def _survey_rows(survey: pd.DataFrame, table: pd.DataFrame, by: str | None,
                 level: float) -> pd.DataFrame:
    """The survey's own estimate of the outcome, overall and in each domain of ``by``."""
    from statistics import NormalDist

    from citizendata.integrate.nonprob._variance import design_codes, psu_total_variance

    y = pd.to_numeric(survey["_ys"], errors="coerce").to_numpy(float)
    if not np.isfinite(y).all():
        raise BadInput("nonprob.invalid", "the reference survey's outcome column has empty or "
                       "non-numeric values", where=Where(field="outcome"),
                       fix="Give the survey's outcome as numbers (0/1 for a proportion), or "
                           "leave estimation.combine's outcome out.")
    d = pd.to_numeric(survey["_w"]).to_numpy(float)
    h, psu = design_codes(survey["_strata"].to_numpy() if "_strata" in survey else None,
                          survey["_cluster"].to_numpy() if "_cluster" in survey else None, len(y))
    z = NormalDist().inv_cdf(0.5 + level / 2)
    first = table.drop_duplicates(by) if by else table.iloc[:1]
    rows = []
    for r in first.to_dict("records"):
        inside = np.ones(len(y)) if not by or r[by] == TOTAL else (
            survey[by].astype(str) == str(r[by])).to_numpy(float)
        n_hat = float(d @ inside)
        mu = float(d @ (inside * y)) / n_hat
        se = float(np.sqrt(psu_total_variance(d * inside * (y - mu) / n_hat, h, psu)))
        rows.append({"method": "survey", **({by: r[by]} if by else {}), "estimate": mu,
                     "se": se, "ci_low": mu - z * se, "ci_high": mu + z * se, "n_A": r["n_A"],
                     "n_B": int(inside.sum()), "assumption": SURVEY_ASSUMPTION})
    return pd.DataFrame(rows)


def protect_combined(table: pd.DataFrame, by: str | None, policy: ProtectionSpec, *,
                     hidden: set[str], scale: float) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The table with sensitive domains and their cover hidden (every method's row), and the report.

    A domain is sensitive when fewer citizen respondents, citizen units or survey units
    than the threshold are in it, or when the indicator's own protected table hides it
    (``hidden``: the same cells stay hidden whichever table a reader looks at).
    Secondary suppression protects them within this table; the naive proportions'
    numerators (value × n) are held as a published table too, as in ``protect_linked``.
    """
    dim = by or "_all"
    work = table.assign(_all=TOTAL) if by is None else table
    cells = work.drop_duplicates(dim)[[dim, "n_A", "n_B", "_respondents"]].reset_index(drop=True)
    numerators: list[str] = []
    naive = work[work["method"] == "naive"].set_index(dim)
    if len(naive):
        k = (naive["estimate"] / scale * naive["n_A"]).reindex(cells[dim]).to_numpy(float)
        if np.isfinite(k).all() and np.abs(k - np.rint(k)).max(initial=0.0) < 1e-6:
            cells["_numerator"] = np.rint(k)
            numerators.append("_numerator")
    thr = policy.tables.threshold
    few = (_suppress.threshold_rule(cells["_respondents"].to_numpy(float), thr,
                                    policy.tables.zero_unsafe)
           | _suppress.threshold_rule(cells["n_B"].to_numpy(float), thr, policy.tables.zero_unsafe)
           | cells[dim].astype(str).isin(hidden).to_numpy())
    try:
        protected = _tables.protect_table(cells, [dim], policy.tables, count="n_A",
                                          value_columns=[], sensitive=few, numerators=numerators)
    except BadInput:
        raise BadInput("privacy.invalid_table", "the combined estimate table could not be "
                       "protected: its counts do not form additive tables",
                       fix="Report this to the project's owner.") from None
    status = dict(zip(protected.table[dim].astype(str), protected.table["conf_status"],
                      strict=True))
    out = work.copy()
    out["conf_status"] = out[dim].astype(str).map(status).fillna("C").to_numpy()
    hide = (out["conf_status"] != "F").to_numpy()
    for c in _VALUES:
        col = pd.to_numeric(out[c])
        out[c] = (col.astype("Int64") if c.startswith("n_") else col.astype(float)).mask(hide)
    out = out.drop(columns=["_respondents", *(["_all"] if by is None else [])])
    report = protected.report()
    report["cells"], report["suppressed"] = len(cells), int((~protected.table["conf_status"]
                                                              .eq("F")).sum())
    report["notes"].append("a domain is hidden in every method's row; the counts of citizen "
                           "respondents and of survey units are both held to the threshold")
    return out, report


def _safe_diagnostics(diag: dict[str, Any]) -> dict[str, Any]:
    """Diagnostics without the citizen sample's unweighted shares per covariate category.

    Those shares times ``n_A`` are the counts of citizen units in each category: a small
    one is the very count protection hides. Only roles that see unprotected figures get them.
    """
    out = json.loads(json.dumps(diag))
    for b in out.get("balance", []):
        b.pop("citizen_unweighted", None)
        b.pop("std_difference_before", None)
    return out


class IntegrationMethods:
    """Client methods for combining citizen data with a survey (a mixin: ``self`` is a Client)."""

    def estimate_combined(self: Any, slug: str, indicator: str, *, by: str | None = None,
                          method: str | Sequence[str] | None = None,
                          purpose: str = "publication", today: date | None = None
                          ) -> CombinedResult:
        """Estimate a non-probability form's indicator with a probability survey as reference.

        The indicator must have an ``estimation.combine`` declaration (its form declared
        ``non_probability: true``). ``method`` is some of ``ipw``, ``dr``, ``mi``, ``nn``
        (a list or joined by commas; default: the declaration's); the naive mean of the
        citizen sample is always shown beside them. ``by`` breaks the table down by one
        of the declaration's ``domains``. Uses the approved submissions whose consent
        covers ``purpose``; the table passes the project's disclosure control, hiding a
        domain with fewer respondents (or survey units) than the threshold, and the
        call is audited (``estimate.combined``). The same right as ``Client.estimate``.
        """
        from citizendata.privacy.client import sees_unprotected
        from citizendata.projects.combine import COMBINE_METHODS

        ind = self._read(estimation.indicator_spec, slug, indicator)
        spec = self._read(estimation.estimation_spec, slug)
        cspec = _declaration(spec, ind)
        methods = _methods(method, cspec.methods, COMBINE_METHODS)
        if by is not None and by not in cspec.domains:
            raise BadInput("nonprob.invalid", f"indicator {indicator!r}: {by!r} is not a domain "
                           f"of its combination with the survey (domains: {cspec.domains})",
                           where=Where(field="by"),
                           fix="Use one of the declared domains, or add it to "
                               f"estimation.combine.{indicator}.domains.")
        refs, hashes = self._read(estimation.read_reference_tables, slug)
        if cspec.reference not in refs:
            raise BadInput("nonprob.invalid", f"the reference survey {cspec.reference!r} is not "
                           "a reference table of the project", where=Where(field="reference"),
                           fix="Add it: citizendata reference add PROJECT NAME FILE.")
        statuses = self._read(validation.project_statuses, slug)
        consent_filter = self._read(consent.consent_filter, slug, ind.form, purpose)
        self._read(validation.require_analysable, slug, ind.form)
        # the indicator's own protected table first: its hidden cells stay hidden here
        hidden = self._hidden_cells(slug, indicator, by, purpose, today)
        today = today or date.today()
        columns = list(dict.fromkeys([*cspec.covariates, *([by] if by else [])]))
        snap = self.open_snapshot(slug, ind.form, refresh=False)
        citizen, counts = citizen_units(snap, spec, ind, columns, statuses=statuses,
                                        references=refs, consent=consent_filter, today=today)
        if citizen.empty:
            raise BadInput("indicator.empty", f"indicator {indicator!r}: no unit is in its base "
                           "with every covariate", where=Where(field=indicator),
                           fix="Approve submissions, or check the covariates.")
        survey = _survey(cspec, refs[cspec.reference], columns)
        table, diag, model, variance = combine_estimates(
            citizen, survey, cspec, ind, by=by, methods=methods, level=spec.level)
        policy = self.protection_policy(slug)
        table, report = protect_combined(table, by, policy, hidden=hidden, scale=ind.scale)
        if not self._read(sees_unprotected, slug):
            diag = _safe_diagnostics(diag)
        counts = {**counts, "citizen": len(citizen), "survey": len(survey)}
        head = table[table[by] == TOTAL] if by else table
        if (head["conf_status"] != "F").any():
            counts = {}  # the whole sample's counts are a hidden cell's
        result = CombinedResult(
            indicator=ind, table=table, by=by, methods=methods, diagnostics=diag,
            outcome_model=model, variance=variance, counts=counts, protection=report,
            provenance={
                "snapshot": {name: t.sha256 for name, t in snap.info.tables.items()},
                "snapshot_created_at": snap.info.created_at.isoformat(),
                "reference": {cspec.reference: hashes[cspec.reference]},
                "references": dict(hashes),
                "estimation_spec_sha256": _hash(spec.model_dump(mode="json")),
                "indicator_sha256": _hash(ind.model_dump(mode="json")),
                "combine_sha256": _hash(cspec.model_dump(mode="json")),
                "citizendata_version": _version(),
                "statuses": list(statuses) if statuses is not None else None,
                "consent": None if consent_filter is None else {
                    "scope": consent_filter.scope, "field": consent_filter.field,
                    "withdrawn": len(consent_filter.excluded)},
                "purpose": purpose, "level": spec.level,
            })
        self._run(_audit_combined, slug, indicator, {
            "by": by, "methods": methods, "cells": len(table),
            "suppressed": report["suppressed"], "provenance": result.provenance})
        return result

    def _hidden_cells(self: Any, slug: str, indicator: str, by: str | None, purpose: str,
                      today: date | None) -> set[str]:
        """The cells of ``by`` the indicator's own protected table hides (its coordinated
        pattern); a ``by`` the indicator does not declare is refused as ``Client.estimate``
        refuses it to roles that may see only protected tables."""
        result = self._protected(slug, indicator, [[by]] if by else [], purpose, today=today)
        t = result.table
        dim = t[by].astype(str) if by else pd.Series([TOTAL] * len(t), index=t.index)
        return set(dim[t["conf_status"] != "F"])


def _declaration(spec: EstimationSpec, ind: IndicatorSpec) -> CombineSpec:
    """The indicator's combine declaration, or a coded error saying what is missing."""
    design = spec.design.get(ind.form)
    if design is None or not design.non_probability:
        raise BadInput("nonprob.invalid", f"form {ind.form!r} is not declared a non-probability "
                       "sample: a probability sample does not need a reference survey (its "
                       "design weights make it represent the population)",
                       where=Where(field=f"estimation.design.{ind.form}"),
                       fix="Use citizendata estimate; or declare non_probability: true if the "
                           "form is a convenience or crowd sample.")
    cspec = spec.combine.get(ind.id)
    if cspec is None:
        raise BadInput("nonprob.invalid", f"indicator {ind.id!r} declares no reference survey",
                       where=Where(field=f"estimation.combine.{ind.id}"),
                       fix="Declare estimation.combine.<indicator>: the reference table, its "
                           "weights (strata, psu) and the covariates both samples share.")
    return cspec


def _methods(asked: str | Sequence[str] | None, declared: Sequence[str],
             known: Sequence[str]) -> list[str]:
    """The methods asked for (default: the declared ones), in the catalogue's order."""
    if asked is None:
        wanted = list(declared)
    else:
        wanted = [m.strip() for m in asked.split(",")] if isinstance(asked, str) else list(asked)
        wanted = list(known) if wanted == ["all"] else [m for m in wanted if m]
    bad = [m for m in wanted if m not in known]
    if bad or not wanted:
        raise BadInput("nonprob.invalid", f"unknown method(s) {bad or '(none)'}",
                       where=Where(field="method"), fix=f"Use some of {', '.join(known)} or all.")
    return [m for m in known if m in wanted]


def _version() -> str:
    import citizendata

    return citizendata.__version__


def _audit_combined(db: Any, actor: Any, slug: str, indicator: str,
                    details: dict[str, Any]) -> None:
    """A combined estimate is logged as estimate runs are."""
    from citizendata.auth import Action
    from citizendata.services.access import audit, project_for

    project, _ = project_for(db, actor, slug, Action.DATA_EXPORT)
    audit(db, actor, "estimate.combined", "indicator", indicator, project_id=project.id,
          details=details)
