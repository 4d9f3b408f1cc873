"""The quality record as a Client call: evidence, scorecard, gateway, recommendation, decisions.

Kept apart from workspace.py (a mixin of ``Client``) so the library API stays one
object while the module stays small.
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Any

from citizendata._lazy import lazy_module
from citizendata.errors import BadInput, NotFound, Where
from citizendata.forms.schema import FormSchema
from citizendata.projects.spec import ProjectSpec
from citizendata.quality.model import Attestation, Evidence

if TYPE_CHECKING:
    from citizendata.quality import cache as qcache
    from citizendata.quality import evidence as _evidence
    from citizendata.services import quality as quality_svc
    from citizendata.services import validation
else:  # the statistics stack loads on the first call that needs it
    qcache = lazy_module("citizendata.quality.cache")
    _evidence = lazy_module("citizendata.quality.evidence")
    quality_svc = lazy_module("citizendata.services.quality")
    validation = lazy_module("citizendata.services.validation")

__all__ = ["QualityMethods"]


class QualityMethods:
    """Client methods for the quality record (a mixin: ``self`` is a Client)."""

    def quality(self, slug: str, form_id: str | None = None, indicator: str | None = None, *,
                today: date | None = None, cache: bool = True) -> dict[str, Any]:
        """The quality record of a form's data (and an indicator): JSON-ready.

        The engagement record, the gateway, the scorecard (each dimension from evidence
        or a named attestation), the fitness recommendation and the decisions on it.

        The evidence (a pass over the snapshot and a protected estimate run, the costly
        part) is kept in the workspace under a digest of everything it is made from
        (quality/cache.py): a repeat view reads it back, and any change to the data, the
        spec, the reference tables, the review or the day makes new evidence. The rest
        (scorecard, gateway, recommendation, attestations, decisions) is made afresh on
        every call. ``cache=False`` computes the evidence afresh (and keeps nothing).
        """
        me: Any = self
        spec: ProjectSpec = me.project(slug).spec
        dataset, parts, atts, history = self._quality_inputs(slug, spec, form_id, indicator,
                                                             today)
        if not cache:
            evidence = qcache.normalise(self._quality_evidence(slug, spec, dataset, indicator,
                                                               parts, today))
        else:
            store = qcache.QualityCache.of(me.workspace.settings.workspace, slug, dataset)
            key = qcache.record_key(parts)
            found = store.get(key)
            if found is not None:
                evidence = found
            else:
                evidence = qcache.normalise(self._quality_evidence(
                    slug, spec, dataset, indicator, parts, today))
                # kept only if nothing it is made from changed while it was computed
                _, after, _, _ = self._quality_inputs(slug, me.project(slug).spec, form_id,
                                                      indicator, today)
                if qcache.record_key(after) == key:
                    store.put(key, evidence)
        return _assemble(spec, evidence, atts, history, dataset, indicator)

    def quality_kept(self, slug: str, form_id: str | None = None,
                     indicator: str | None = None, *, today: date | None = None
                     ) -> tuple[dict[str, Any] | None, str]:
        """The quality record if its evidence for the data as they are now is kept (cheap
        reads only), else None; and the key of those data. A page asks for a missing
        record as a job (with the key, so a failed attempt is not retried on every view
        until the data change) instead of waiting for it."""
        me: Any = self
        spec: ProjectSpec = me.project(slug).spec
        dataset, parts, atts, history = self._quality_inputs(slug, spec, form_id, indicator,
                                                             today)
        key = qcache.record_key(parts)
        found = qcache.QualityCache.of(me.workspace.settings.workspace, slug, dataset).get(key)
        record = None if found is None else _assemble(spec, found, atts, history, dataset,
                                                      indicator)
        return record, key

    def _quality_inputs(self, slug: str, spec: ProjectSpec, form_id: str | None,
                        indicator: str | None, today: date | None
                        ) -> tuple[str, dict[str, Any], list[Attestation], list[dict[str, Any]]]:
        """The form a record is of; everything its evidence depends on (cheap reads, each
        checking the caller's rights: the parts of its cache key); attestations; decisions."""
        me: Any = self
        ind = None
        if indicator is not None:
            est = me.estimation_spec(slug)
            ind = est.indicator(indicator)
            if ind is None:
                known = [i.id for i in est.indicators]
                raise NotFound("indicator.unknown", f"project {slug!r} declares no indicator "
                               f"{indicator!r}; it has {known}", where=Where(field="indicator"))
        dataset = form_id or (ind.form if ind else None) or _only_form(me, slug)
        # read in one consistent transaction: one round of access checks, one view
        reads = me._run(_key_reads, slug, dataset, indicator, write=False, consistent=True)
        atts, history = reads.pop("attestations"), reads.pop("decisions")
        parts: dict[str, Any] = {
            "slug": slug, "dataset": dataset, "indicator": indicator,
            "today": (today or date.today()).isoformat(),
            "spec": spec.model_dump(mode="json"), **reads,
        }
        return dataset, parts, atts, history

    def _quality_evidence(self, slug: str, spec: ProjectSpec, dataset: str,
                          indicator: str | None, parts: dict[str, Any], today: date | None
                          ) -> dict[str, Any]:
        """The record's evidence computed afresh (the snapshot pass and the protected run)."""
        from citizendata.quality import identity

        me: Any = self
        ind = me.estimation_spec(slug).indicator(indicator) if indicator is not None else None
        db_ev = me._read(quality_svc.database_evidence, slug, dataset)
        statuses = list(parts["statuses"])
        snap = me.open_snapshot(slug, dataset)
        schema: FormSchema = me.form_schema(slug, dataset)
        result, coverage = None, None
        if ind is not None:
            # the run is protected before anything is read from it, so a suppressed headline
            # gives no CV or benchmark gap away; the coverage gap (one aggregate over the
            # margins) is read first, since protection drops the sample's margin totals
            seen: list[Any] = []
            result = me._protected(slug, ind.id, None, "analysis", today=today,
                                   inspect=lambda r: seen.append(_evidence.coverage_distance(r.weighting)))
            coverage = seen[0]
        ev = _evidence.project_evidence(spec, schema, db_ev, nonresponse=_evidence.item_nonresponse(
            snap, schema, statuses), result=result, today=today)
        self._identity_evidence(ev, spec, schema)
        if result is not None:
            ev.coverage_distance = coverage
            ev.group_cells = identity.group_cells(result.table, spec.quality.groups)
        return ev.to_dict()

    def _identity_evidence(self, ev: Any, spec: ProjectSpec, schema: FormSchema) -> None:
        """Self-identification, Washington Group questions and SDG disaggregations."""
        from citizendata.quality import identity

        share, sex = identity.self_identification(spec.quality.identity, schema)
        ev.identity_self_reported, ev.sex_self_identified = share, sex
        wg = next((d for d in spec.estimation.derived.values()
                   if d.kind == "washington_group"), None)
        if wg is not None:
            check = identity.wg_check(schema, wg.fields)
            ev.wg_present, ev.wg_unaltered = check["present"], check["unaltered"]
        else:
            ev.wg_present = False
        dims = {d for i in spec.estimation.indicators for dis in i.disaggregations for d in dis}
        ev.sdg_disaggregations = identity.sdg_disaggregations(dims | set(spec.estimation.derived))

    def quality_decisions(self, slug: str, form_id: str | None = None,
                          indicator: str | None = None) -> dict[str, Any]:
        """The NSO's fitness decisions on a form's data (and an indicator), newest first.

        For every member, also those who may not read the data the record is made from:
        ``{"dataset", "indicator", "decisions"}``.
        """
        me: Any = self
        dataset = form_id
        if dataset is None and indicator is not None:
            ind = me.project(slug).spec.estimation.indicator(indicator)
            if ind is None:
                raise NotFound("indicator.unknown", f"project {slug!r} declares no indicator "
                               f"{indicator!r}", where=Where(field="indicator"))
            dataset = ind.form
        dataset = dataset or _only_form(me, slug)
        return {"dataset": dataset, "indicator": indicator,
                "decisions": me._read(quality_svc.decisions, slug, dataset, indicator)}

    def quality_html(self, slug: str, form_id: str | None = None, indicator: str | None = None,
                     *, today: date | None = None) -> str:
        """The quality statement as a self-contained HTML section (for reports and releases)."""
        from citizendata.quality import report

        rec = self.quality(slug, form_id, indicator, today=today)
        return report.quality_html_from_json(rec)

    def attest(self, slug: str, subject: str, rating: str, statement: str, *,
               form_id: str | None = None, indicator: str | None = None,
               on: date | None = None) -> dict[str, Any]:
        """Record a named attestation on a dimension or gateway criterion (dated, logged)."""
        me: Any = self
        dataset = form_id or _only_form(me, slug)
        out: dict[str, Any] = me._run(quality_svc.add_attestation, slug, dataset=dataset,
                                      subject=subject, rating=rating, statement=statement,
                                      on=on, indicator=indicator)
        return out

    def decide_fitness(self, slug: str, decision: str, *, reason: str = "",
                       form_id: str | None = None, indicator: str | None = None
                       ) -> dict[str, Any]:
        """The NSO confirms or overrides the recommendation (a reason is needed to override)."""
        from citizendata.quality import fitness

        me: Any = self
        record = self.quality(slug, form_id, indicator)
        from citizendata.quality.model import Recommendation

        rec = Recommendation(**{k: record["recommendation"][k] for k in
                                ("recommendation", "reasons", "rule")})
        decided = fitness.apply_decision(rec, decision=decision, by=me.actor.username,
                                         on=date.today().isoformat(), reason=reason,
                                         role="nso")
        out: dict[str, Any] = me._run(
            quality_svc.record_decision, slug, dataset=record["dataset"], indicator=indicator,
            recommendation=rec.recommendation, rule=rec.rule, decision=str(decided.decision),
            reason=reason, record={k: record[k] for k in ("gateway", "scorecard", "evidence")
                                   if k in record})
        return out


def _assemble(spec: ProjectSpec, evidence: dict[str, Any], atts: list[Attestation],
              history: list[dict[str, Any]], dataset: str, indicator: str | None
              ) -> dict[str, Any]:
    """The record from its evidence: scorecard, gateway, recommendation, decisions."""
    from citizendata.quality import engagement as engagement_mod
    from citizendata.quality import fitness, gateway, report, scorecard

    ev = Evidence(**{**evidence, "group_cells": {
        k: tuple(v) for k, v in (evidence.get("group_cells") or {}).items()}})
    card = scorecard.score_dimensions(
        ev, thresholds=spec.quality.thresholds, attestations=atts, dataset=dataset,
        indicator=indicator)
    eng = engagement_mod.engagement_summary(spec)
    gate = gateway.gateway(spec, ev, atts)
    rec = fitness.recommend(gate, card, meets_threshold=bool(eng["meets_threshold"]),
                            intent=spec.integration_intent.value)
    if history:
        latest = history[0]
        rec.decision, rec.decided_by = latest["decision"], latest["by"]
        rec.decided_on, rec.decision_reason = latest["at"], latest["reason"]
        rec.decided_role = "nso"  # only the NSO role may decide
    out = report.quality_json(eng, gate, card, rec)
    out["evidence"] = ev.to_dict()
    out["decisions"] = history
    out["dataset"], out["indicator"] = dataset, indicator
    return out


def _key_reads(db: Any, actor: Any, slug: str, dataset: str, indicator: str | None
               ) -> dict[str, Any]:
    """The database's part of a record's evidence key (each read checks the caller's
    rights), and the attestations and decisions (not in the key: applied on every call).

    The caller's role is not in the key: protection applies alike to every role, and the
    protection detail kept for owners is never read into the evidence.
    """
    from citizendata.services import snapshots

    return {
        "snapshot": snapshots.content_key(db, actor, slug, dataset, False),
        "database": _database_fingerprint(db, actor, slug, dataset),
        "statuses": list(validation.project_statuses(db, actor, slug)),
        "references": _reference_hashes(db, actor, slug),
        "attestations": list(quality_svc.attestations(db, actor, slug, dataset, indicator)),
        "decisions": quality_svc.decisions(db, actor, slug, dataset, indicator),
    }


def _database_fingerprint(db: Any, actor: Any, slug: str, dataset: str) -> list[Any]:
    """What ``services.quality.database_evidence`` reads, folded into a few aggregates.

    That evidence reads the form's submissions (less those withdrawn from everything),
    the latest validation run's error findings, the duplicate pairs not dismissed, and
    every validator's decisions (for kappa): stored rows that are only ever added, so
    each set is told by its count, largest and summed id (a pair's status by whether it
    is among those not dismissed; a run still writing by its finding count). Linear
    scans in the database, not rows read into Python as the evidence itself does.
    """
    from sqlalchemy import func, select

    from citizendata.auth import Action
    from citizendata.services.access import form_in, project_for
    from citizendata.store.models import (
        ConsentWithdrawal,
        DuplicatePair,
        Finding,
        ReviewEvent,
        Submission,
        ValidationRun,
    )

    project, _ = project_for(db, actor, slug, Action.DATA_EXPORT)
    form = form_in(db, project, dataset).id

    def fold(col: Any, *where: Any) -> list[Any]:
        row = db.execute(select(func.count(), func.max(col), func.sum(col)).where(*where)).one()
        return [int(row[0]), row[1], row[2]]

    run = db.execute(select(ValidationRun.id, ValidationRun.finished_at)
                     .where(ValidationRun.form_id == form)
                     .order_by(ValidationRun.id.desc()).limit(1)).first()
    return [
        fold(Submission.id, Submission.form_id == form),
        fold(ConsentWithdrawal.id, ConsentWithdrawal.form_id == form),
        None if run is None else [run[0], str(run[1]), fold(Finding.id, Finding.run_id == run[0])],
        fold(DuplicatePair.id, DuplicatePair.form_id == form,
             DuplicatePair.status != "dismissed"),
        fold(ReviewEvent.id, ReviewEvent.kind == "decision", ReviewEvent.submission_id.in_(
            select(Submission.id).where(Submission.form_id == form))),
    ]


def _reference_hashes(db: Any, actor: Any, slug: str) -> dict[str, str]:
    """Each reference table's name and content hash (margins weigh the estimates)."""
    from sqlalchemy import select

    from citizendata.auth import Action
    from citizendata.services.access import project_for
    from citizendata.store.models import ReferenceTable

    project, _ = project_for(db, actor, slug, Action.DATA_EXPORT)
    rows = db.execute(select(ReferenceTable.name, ReferenceTable.kind, ReferenceTable.sha256)
                      .where(ReferenceTable.project_id == project.id))
    return {f"{kind}:{name}": sha for name, kind, sha in rows}


def _only_form(me: Any, slug: str) -> str:
    forms = me.forms(slug)
    if len(forms) != 1:
        raise BadInput("input.invalid", f"project {slug!r} has {len(forms)} forms: name one",
                       where=Where(field="form"), fix="Pass the form id (--form).")
    return str(forms[0].form_id)

