"""The quality record as a Client call: evidence, scorecard, gateway, recommendation, decisions.

Kept apart from workspace.py (a mixin of ``Client``) so the library API stays one
object while the module stays small.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from citizendata.errors import BadInput, NotFound, Where
from citizendata.forms.schema import FormSchema
from citizendata.projects.spec import ProjectSpec
from citizendata.quality.evidence import coverage_distance, item_nonresponse, project_evidence
from citizendata.quality.model import Recommendation
from citizendata.services import quality as quality_svc
from citizendata.services import validation

__all__ = ["QualityMethods"]


class QualityMethods:
    """Client methods for the quality record (a mixin: ``self`` is a Client)."""

    def quality(self, slug: str, form_id: str | None = None, indicator: str | None = None, *,
                today: date | None = None) -> dict[str, Any]:
        """The quality record of a form's data (and an indicator): JSON-ready.

        The engagement record, the gateway, the scorecard (each dimension from evidence
        or a named attestation), the fitness recommendation and the decisions on it.
        """
        from citizendata.quality import engagement as engagement_mod
        from citizendata.quality import fitness, gateway, identity, report, scorecard

        me: Any = self
        spec: ProjectSpec = me.project(slug).spec
        ind = None
        if indicator is not None:
            est = me.estimation_spec(slug)
            ind = est.indicator(indicator)
            if ind is None:
                known = [i.id for i in est.indicators]
                raise NotFound("indicator.unknown", f"project {slug!r} declares no indicator "
                               f"{indicator!r}; it has {known}", where=Where(field="indicator"))
        dataset = form_id or (ind.form if ind else None) or _only_form(me, slug)
        db_ev = me._read(quality_svc.database_evidence, slug, dataset)
        snap = me.open_snapshot(slug, dataset)
        schema: FormSchema = me.form_schema(slug, dataset)
        statuses = list(me._read(validation.project_statuses, slug))
        result, coverage = None, None
        if ind is not None:
            # the run is protected before anything is read from it, so a suppressed headline
            # gives no CV or benchmark gap away; the coverage gap (one aggregate over the
            # margins) is read first, since protection drops the sample's margin totals
            seen: list[Any] = []
            result = me._protected(slug, ind.id, None, "analysis", today=today,
                                   inspect=lambda r: seen.append(coverage_distance(r.weighting)))
            coverage = seen[0]
        ev = project_evidence(spec, schema, db_ev, nonresponse=item_nonresponse(
            snap, schema, statuses), result=result, today=today)
        self._identity_evidence(ev, spec, schema)
        if result is not None:
            ev.coverage_distance = coverage
            ev.group_cells = identity.group_cells(result.table, spec.quality.groups)
        atts = me._read(quality_svc.attestations, slug, dataset, indicator)
        card = scorecard.score_dimensions(
            ev, thresholds=spec.quality.thresholds, attestations=atts, dataset=dataset,
            indicator=indicator)
        eng = engagement_mod.engagement_summary(spec)
        gate = gateway.gateway(spec, ev, atts)
        rec = fitness.recommend(gate, card, meets_threshold=bool(eng["meets_threshold"]),
                                intent=spec.integration_intent.value)
        history = me._read(quality_svc.decisions, slug, dataset, indicator)
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


def _only_form(me: Any, slug: str) -> str:
    forms = me.forms(slug)
    if len(forms) != 1:
        raise BadInput("input.invalid", f"project {slug!r} has {len(forms)} forms: name one",
                       where=Where(field="form"), fix="Pass the form id (--form).")
    return str(forms[0].form_id)

