"""Protected estimates as Client calls: one pattern per set of indicators over the same units.

A mixin of ``Client``. Whoever asks and whatever subset of an indicator's declared
tables they ask for, the cells hidden are the same: the pattern is computed once over
the indicator's declared cube together with every declared indicator of the same form
and unit that counts the same units (linked tables), and an answer is cut from it. A
table the project does not declare is protected on its own, so only roles that may see
unprotected figures may ask for one; anyone else could difference it against the
declared ones.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from citizendata._lazy import lazy_module
from citizendata.auth import Action, Actor, allowed
from citizendata.errors import BadInput, Forbidden, Where
from citizendata.projects.estimation import EstimationSpec, IndicatorSpec
from citizendata.projects.protection import ProtectionSpec
from citizendata.services.access import audit, project_for

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from citizendata.privacy import estimates as _estimates
    from citizendata.privacy import public as _public
    from citizendata.services import consent, validation
    from citizendata.services import estimation as estimation_svc
    from citizendata.services import privacy as privacy_svc
    from citizendata.stats import indicators as _indicators
    from citizendata.stats.indicators import IndicatorResult
else:  # the statistics stack loads on the first call that needs it
    np = lazy_module("numpy")
    pd = lazy_module("pandas")
    _estimates = lazy_module("citizendata.privacy.estimates")
    _public = lazy_module("citizendata.privacy.public")
    consent = lazy_module("citizendata.services.consent")
    estimation_svc = lazy_module("citizendata.services.estimation")
    privacy_svc = lazy_module("citizendata.services.privacy")
    validation = lazy_module("citizendata.services.validation")
    _indicators = lazy_module("citizendata.stats.indicators")

__all__ = ["ProtectionMethods", "require_unprotected", "sees_unprotected"]


def sees_unprotected(db: Any, actor: Actor | None, slug: str) -> bool:
    """Whether the caller's role may see unprotected figures (owners and managers)."""
    _project, role = project_for(db, actor, slug, Action.DATA_EXPORT)
    return allowed(role, Action.PERSONAL_DATA_VIEW)


def _key(disaggregations: Sequence[Sequence[str]]) -> tuple[tuple[str, ...], ...]:
    return tuple(tuple(d) for d in disaggregations)


def _union(*lists: Sequence[Sequence[str]]) -> list[list[str]]:
    """The disaggregations of several indicators, each once, in order."""
    out: dict[tuple[str, ...], None] = {}
    for lst in lists:
        for d in lst:
            out[tuple(d)] = None
    return [list(d) for d in out]


def _covered(wanted: Sequence[Sequence[str]], declared: Sequence[Sequence[str]]) -> bool:
    """Every cell ``wanted`` asks for is a cell of the declared cube."""
    _, sets = _indicators.grouping_sets(declared)
    have = {frozenset(s) for s in sets}
    _, want = _indicators.grouping_sets(wanted)
    return all(frozenset(s) in have for s in want)


class ProtectionMethods:
    """Client methods for protected estimates (a mixin: ``self`` is a Client)."""

    # raw estimates and base fingerprints, by what they were asked for
    _memo: dict[tuple[Any, ...], Any] | None = None

    @contextmanager
    def _estimate_memo(self) -> Iterator[None]:
        """Within the block, an indicator estimated twice over the same cells is computed once."""
        outer = self._memo
        self._memo = {} if outer is None else outer
        try:
            yield
        finally:
            self._memo = outer

    def _raw(self, slug: str, ind: IndicatorSpec, dis: Sequence[Sequence[str]], purpose: str,
             options: dict[str, Any]) -> tuple[IndicatorResult, EstimationSpec, dict[str, Any]]:
        me: Any = self
        key = (slug, ind.id, _key(dis), purpose, tuple(sorted(options.items())))
        if self._memo is not None and key in self._memo:
            # protection changes a result in place: hand out a copy
            return copy.deepcopy(self._memo[key])
        found = me._estimate(slug, ind.id, dis, purpose, **options)
        if self._memo is not None:
            self._memo[key] = copy.deepcopy(found)
        return found

    def _protected(self, slug: str, indicator: str,
                   disaggregations: Sequence[Sequence[str]] | None, purpose: str,
                   inspect: Callable[[IndicatorResult], None] | None = None,
                   **options: Any) -> IndicatorResult:
        """The indicator's protected table, cut from its coordinated pattern."""
        me: Any = self
        ind: IndicatorSpec = me._read(estimation_svc.indicator_spec, slug, indicator)
        spec: EstimationSpec = me._read(estimation_svc.estimation_spec, slug)
        policy = me.protection_policy(slug)
        raw_ok: bool = me._read(sees_unprotected, slug)
        declared = ind.disaggregations
        if disaggregations is not None and not _covered(disaggregations, declared):
            if not raw_ok:
                # a dimension that does not exist is the clearer answer, if that is it
                self._raw(slug, ind, disaggregations, purpose, options)
                raise Forbidden("privacy.undeclared_table", f"indicator {indicator!r} declares "
                               f"no table {[list(d) for d in disaggregations]}",
                               where=Where(field="disaggregations"),
                               fix="Ask for tables within the indicator's declared "
                                   f"disaggregations {declared}, or ask an owner to declare "
                                   "the table in the project spec.")
            result, spec, refs = self._raw(slug, ind, disaggregations, purpose, options)
            if inspect:
                inspect(result)
            _estimates.protect_estimates(result, policy, spec, refs)
            assert result.protection is not None
            result.protection["notes"].append(
                "a table the project does not declare, protected on its own: do not publish "
                "it beside the declared tables")
            return result
        mine, others = self._linked(slug, ind, spec, purpose, options)
        if inspect:
            inspect(mine)
        refs, _ = me._read(estimation_svc.read_reference_tables, slug)
        _estimates.protect_linked([mine, *others], policy, spec, refs)
        _cut(mine, disaggregations if disaggregations is not None else declared)
        assert mine.protection is not None
        mine.protection["linked"] = sorted(r.indicator.id for r in others)
        if not raw_ok:
            mine.protection_detail = None
        return mine

    def _units(self, slug: str, indicator: str, purpose: str, today: Any
               ) -> tuple[int, ...]:
        """The indicator's base fingerprint, kept in the memo: a release asks for it once
        per indicator and linked neighbour, and each costs a pass over the snapshot."""
        me: Any = self
        key = ("fingerprint", slug, indicator, purpose, today)
        if self._memo is not None and key in self._memo:
            found: tuple[int, ...] = self._memo[key]
            return found
        found = me._fingerprint(slug, indicator, purpose, today)
        if self._memo is not None:
            self._memo[key] = found
        return found

    def _linked(self, slug: str, ind: IndicatorSpec, spec: EstimationSpec, purpose: str,
                options: dict[str, Any]) -> tuple[IndicatorResult, list[IndicatorResult]]:
        """The indicator and the declared ones counting the same units, over the same cells."""
        kin = [i for i in spec.indicators if i.id != ind.id and i.form == ind.form
               and i.unit == ind.unit]
        if kin:
            today = options.get("today")
            print_ = self._units(slug, ind.id, purpose, today)
            kin = [i for i in kin if self._units(slug, i.id, purpose, today) == print_]
        dis = _union(ind.disaggregations, *(i.disaggregations for i in kin))
        mine, _, _ = self._raw(slug, ind, dis, purpose, options)
        others = []
        for other in kin:
            r, _, _ = self._raw(slug, other, dis, purpose, options)
            if _same_units(mine, r):
                others.append(r)
        return mine, others


    def protection_policy(self: Any, slug: str) -> ProtectionSpec:
        """The project's protection policy (threshold, suppression, k, DP, location, consent)."""
        return self._read(privacy_svc.policy, slug)

    def withdraw_consent(self: Any, slug: str, form_id: str, instance_id: str, *,
                         scopes: Sequence[str] = ("all",), basis: str = "respondent_request",
                         erase: bool = False) -> dict[str, Any]:
        """Record a respondent's withdrawal of consent: later outputs leave them out.

        ``erase`` also wipes the stored answers and this workspace's snapshot files of
        the form, so no copy outlives the request.
        """
        info = self._run(consent.withdraw, slug, form_id, instance_id, scopes=scopes,
                         basis=basis, erase=erase)
        if erase:
            self.workspace.drop_snapshots(slug, form_id)
        return info

    def consent_withdrawals(self: Any, slug: str, form_id: str | None = None) -> list[dict[str, Any]]:
        """The withdrawals recorded in the project, newest first."""
        return self._read(consent.withdrawals, slug, form_id)

    def public_microdata(self: Any, slug: str, form_id: str, out: str | Path | None = None, *,
                         purpose: str = "publication") -> tuple[Any, dict[str, Any]]:
        """Respondent-level data safe to publish: no personal field, coarse places, k-anonymous.

        Only submissions whose consent covers ``purpose`` are in it; writes a CSV if
        ``out`` is given. Returns the table and the report of what was done.
        """
        statuses = list(self._read(validation.project_statuses, slug))
        consent_filter = self._read(consent.consent_filter, slug, form_id, purpose)
        refs, hashes = self._read(estimation_svc.read_reference_tables, slug)
        policy = self.protection_policy(slug)
        shapes = None
        if policy.location.method == "area" and policy.location.boundaries:
            files, more = self._read(estimation_svc.read_boundaries, slug)
            if policy.location.boundaries not in files:
                raise BadInput("input.invalid", f"the boundaries {policy.location.boundaries!r} "
                               "are not a reference table of the project",
                               where=Where(field="protection.location.boundaries"),
                               fix="Add them: citizendata reference add PROJECT NAME FILE "
                                   "--kind boundaries.")
            shapes = files[policy.location.boundaries]
            hashes = {**hashes, policy.location.boundaries: more[policy.location.boundaries]}
        snap = self.open_snapshot(slug, form_id)
        data, report = _public.public_microdata(snap, policy, statuses=statuses,
                                        consent=consent_filter, references=refs,
                                        boundaries=shapes)
        self._run(_audit_microdata, slug, form_id, report, hashes)
        if out is not None:
            data.to_csv(out, index=False)
        return data, report

    def privacy_budget(self: Any, slug: str) -> dict[str, Any]:
        """The project's differential-privacy budget, what is spent, and the ledger."""
        out: dict[str, Any] = self._read(privacy_svc.budget, slug)
        return out


def _same_units(a: IndicatorResult, b: IndicatorResult) -> bool:
    """Two results over the same cells count the same units in every one of them."""
    cols = [c for c in ("n", "n_psu") if c in a.table.columns and c in b.table.columns]
    if len(a.table) != len(b.table) or list(a.dims) != list(b.dims):
        return False
    left = a.table[[*a.dims, *cols]].astype({d: str for d in a.dims})
    right = b.table[[*b.dims, *cols]].astype({d: str for d in b.dims})
    both = left.merge(right, on=list(a.dims), how="outer", suffixes=("", "_b"), indicator=True)
    if (both["_merge"] != "both").any():
        return False
    return all(np.array_equal(pd.to_numeric(both[c]).to_numpy(float),
                              pd.to_numeric(both[f"{c}_b"]).to_numpy(float)) for c in cols)


def _cut(result: IndicatorResult, disaggregations: Sequence[Sequence[str]]) -> None:
    """Keep the rows and dimensions of the tables asked for (in place)."""
    dims, sets = _indicators.grouping_sets(disaggregations)
    t = result.table
    keep = _estimates.within_sets(t, result.dims, sets)
    t = t.loc[keep].reset_index(drop=True)
    extra = [d for d in result.dims if d not in dims]
    result.table = t.drop(columns=extra)
    result.dims = [d for d in result.dims if d in dims]
    if result.protection is not None:
        # the report speaks of this answer; the pattern may have covered more cells
        result.protection["pattern_cells"] = result.protection["cells"]
        result.protection["cells"] = len(t)
        result.protection["suppressed"] = int((t["conf_status"] != "F").sum())


def _audit_microdata(db: Any, actor: Actor | None, slug: str, form_id: str,
                     report: dict[str, Any], hashes: dict[str, str]) -> None:
    project, _ = project_for(db, actor, slug, Action.DATA_EXPORT)
    anon = report["anonymisation"]
    audit(db, actor, "microdata.export", "form", form_id, project_id=project.id,
          details={"records": report["records"], "k": anon["k_reached"],
                   "suppressed": anon["records_suppressed"], "references": hashes})


def require_unprotected(db: Any, actor: Actor | None, slug: str) -> None:
    """Refuse a role that may see only protected tables."""
    _project, role = project_for(db, actor, slug, Action.DATA_EXPORT)
    if not allowed(role, Action.PERSONAL_DATA_VIEW):
        raise Forbidden("auth.forbidden", f"your role {role!r} sees only protected tables",
                        where=Where(field="protect"),
                        fix="Leave protect on; an owner or manager can look at unprotected cells.")
