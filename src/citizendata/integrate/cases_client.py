"""Cases, their verification, record linkage and multiple systems estimation, as Client calls.

A mixin of ``Client`` (``self`` is a Client). Lists are imported through the one bulk
importer; linkage and estimation read the case form's current submissions (approved or
not rejected as the project decides, consent withdrawals honoured, the verified list's
unverified reports left out when ``verification.verified_only``) at every call, so a
result always follows the data and the clerical decisions; nothing is cached.
Victims' names stay on the server: only a role with ``personal_data.view`` sees them in
the review queue or the case list; estimates and series carry counts only, and pass
the project's disclosure control.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

from citizendata._lazy import lazy_module
from citizendata.auth import Action
from citizendata.errors import BadInput, CitizenDataError

if TYPE_CHECKING:
    import pandas as pd

    from citizendata.services import cases as cases_svc
    from citizendata.services import linkage as linkage_svc
else:  # pyarrow, DuckDB and the statistics stack load on the first call that needs them
    cases_svc = lazy_module("citizendata.services.cases")
    linkage_svc = lazy_module("citizendata.services.linkage")

__all__ = ["CasesMethods"]


class CasesMethods:
    """Client methods for cases, verification, linkage and estimates (``self`` is a Client)."""

    def import_case_list(self: Any, slug: str, list_name: str, source: str | Path | bytes, *,
                         filename: str | None = None, encoding: str | None = None
                         ) -> dict[str, Any]:
        """Import one organisation's list (CSV/XLSX in its own layout), all or nothing.

        Columns are renamed by the list's mapping (unknown ones refused), dates read in
        its format, and each record stored as a case-form submission whose instance id
        comes from (project, list, record id): importing the same file again changes
        nothing, a changed record is a conflict. Returns ``imported``, ``unchanged`` and
        ``total``.
        """
        from citizendata.ingest.archive import archive_limits
        from citizendata.ingest.tabular import read_tabular
        from citizendata.services import bulk, intake
        from citizendata.services.access import audit, project_for
        from citizendata.sources import read_source

        data, name = read_source(source, filename)
        sha = hashlib.sha256(data).hexdigest()
        limits = archive_limits(self.workspace.settings)

        def go(db: Any, actor: Any) -> dict[str, Any]:
            form_id, lspec, cspec = cases_svc.import_target(db, actor, slug, list_name)
            form = intake.form_context(db, actor, slug, form_id)
            csv, rows = cases_svc.map_list_file(data, name, slug, lspec, cspec, form.schema,
                                                encoding=encoding, limits=limits)
            try:
                tab = read_tabular(csv, name + ".csv", form.schema)
                res = bulk.import_table(db, actor, slug, form_id, tab.table, channel="list",
                                        filename=name, sha256=sha)
            except CitizenDataError as exc:
                raise cases_svc.remap_problems(exc, name, lspec, rows) from None
            project, _ = project_for(db, actor, slug, Action.SUBMISSION_CREATE)
            audit(db, actor, "cases.import", "list", list_name, project_id=project.id,
                  details={"filename": name, "sha256": sha, "imported": res.created,
                           "unchanged": res.duplicates, "batch": res.batch_id})
            return {"list": list_name, "form_id": form_id, "imported": res.created,
                    "unchanged": res.duplicates, "total": res.created + res.duplicates,
                    "batch_id": res.batch_id}
        return dict(self._run(go))

    def cases(self: Any, slug: str, *, list: str | None = None, status: str | None = None,
              limit: int = 100, offset: int = 0) -> dict[str, Any]:
        """A page of cases with their verification status (names only for roles that may
        see personal data)."""
        return dict(self._read(cases_svc.list_cases, slug, list=list, status=status,
                               limit=limit, offset=offset))

    def verify_case(self: Any, slug: str, instance_id: str, decision: str, *,
                    criteria: list[str], evidence: str, note: str = "") -> dict[str, Any]:
        """Record a validator's decision (verified or not_verified) on a case of the
        verified list, with the written criteria met and the evidence; audited."""
        return dict(self._run(cases_svc.verify, slug, instance_id, decision,
                              criteria=list(criteria), evidence=evidence, note=note))

    def case_verification(self: Any, slug: str, instance_id: str) -> dict[str, Any]:
        """A case's current status (reported, verified, not_verified) and every decision."""
        return dict(self._read(cases_svc.verification, slug, instance_id))

    # -- linkage ----------------------------------------------------------------------
    def _cases_linked(self: Any, slug: str, action: Action) -> tuple[Any, Any]:
        """The inputs read in one transaction, then linked outside it."""
        inputs = self._read(linkage_svc.linkage_inputs, slug, action)
        return inputs, linkage_svc.link(inputs)

    def link_cases(self: Any, slug: str) -> dict[str, Any]:
        """Link the case records into victims (splink, the project's settings and the stored
        clerical decisions): records, pairs, clusters at the threshold, review queue size,
        model summary. No names in the answer; audited."""
        inputs, result = self._cases_linked(slug, Action.SUBMISSION_REVIEW)
        out = linkage_svc.link_summary(inputs, result)
        self._run(linkage_svc.audit_event, slug, "linkage.link", "linkage",
                  {k: out[k] for k in ("records", "pairs", "threshold", "clusters", "review",
                                       "decisions")})
        return out

    def link_review_queue(self: Any, slug: str, *, limit: int = 20) -> dict[str, Any]:
        """Pairs of records awaiting a clerical decision, the most uncertain first, with both
        records side by side (names only for roles that may see personal data).

        (Not ``review_queue``: that name is the Client's queue of submissions to review.)"""
        inputs, result = self._cases_linked(slug, Action.SUBMISSION_REVIEW)
        return linkage_svc.review_rows(inputs, result, limit)

    def decide_link(self: Any, slug: str, left_key: str, right_key: str, decision: str, *,
                    note: str = "") -> dict[str, Any]:
        """Record a clerical decision (match, non_match, unsure) on a pair of records.

        (Not ``decide_pair``: that name is the Client's decision on a duplicate pair.)"""
        return dict(self._run(linkage_svc.decide_pair, slug, left_key, right_key, decision,
                              note=note))

    def link_decisions(self: Any, slug: str) -> list[dict[str, Any]]:
        """Every clerical decision on pairs, oldest first (who, when, note)."""
        return list(self._read(linkage_svc.decision_history, slug))

    # -- estimates --------------------------------------------------------------------
    def estimate_uncounted(self: Any, slug: str, indicator: str) -> dict[str, Any]:
        """The documented count and the multiple systems estimate of one ``cases.estimates``
        entry, per stratum and recombined, with the model table, the selected model and the
        sensitivity to the linkage threshold; passed through the disclosure control and
        audited. Read like indicator estimates (``data.export``)."""
        inputs, result = self._cases_linked(slug, Action.DATA_EXPORT)
        out = linkage_svc.estimate_uncounted(inputs, result, indicator)
        self._run(linkage_svc.audit_event, slug, "cases.estimate", indicator,
                  {"series": out["series"], "cells": len(out["table"]),
                   "suppressed": out["protection"]["suppressed"]}, needs=Action.DATA_EXPORT)
        return out

    def mse_series(self: Any, slug: str) -> pd.DataFrame:
        """SDMX rows of the estimated series (VC_VAW_MTUHRA, VC_VOC_ENFDIS): documented and
        estimated values with bounds, NATURE and OBS_STATUS marking the estimates."""
        from citizendata.publish.mse_series import series_rows

        inputs, result = self._cases_linked(slug, Action.DATA_EXPORT)
        if not inputs.spec.estimates:
            raise BadInput("cases.invalid", f"Project {slug!r} declares no estimates.",
                           fix="Add cases.estimates to the project spec.")
        estimates = {key: linkage_svc.estimate_uncounted(inputs, result, key)
                     for key in inputs.spec.estimates}
        self._run(linkage_svc.audit_event, slug, "cases.series", "series",
                  {"estimates": sorted(estimates)}, needs=Action.DATA_EXPORT)
        return series_rows(estimates, inputs.country)
