"""Server-side validation of a form's submissions: machine findings stored per submission and rule.

A run reads every submission (a reviewer's latest edit where there is one) into
raw-text tables, checks each form version's rules (citizendata.validate.checks),
flags outliers, GPS points outside the area they name (validate.location), exact
and probable duplicates, then replaces the form's findings and moves received
submissions with an error to ``has_issues``. The heavy part runs
in a read transaction (``compute``); storing is a short write (``store``).
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from datetime import time as dtime
from typing import Any

import ibis
import pyarrow as pa
from sqlalchemy import case, delete, func, insert, select
from sqlalchemy.orm import Session

from citizendata.auth import Action, Actor
from citizendata.errors import BadInput, Where
from citizendata.forms.schema import FormSchema
from citizendata.projects.spec import FormValidationSpec
from citizendata.services.access import audit, form_in, project_for, project_spec
from citizendata.services.consent import consent_spec, withdrawn_everywhere
from citizendata.services.duplicates import exact_groups, instance_ids
from citizendata.services.forms import merged_schema
from citizendata.services.snapshots import export_batches
from citizendata.snapshot.synthetic import BATCH_SCHEMA
from citizendata.store.models import (
    DuplicatePair,
    Finding,
    Form,
    FormVersion,
    Project,
    ReferenceTable,
    ReviewEvent,
    Submission,
    User,
    ValidationRun,
)
from citizendata.validate.checks import FINDING_COLUMNS, check_table
from citizendata.validate.expr import choice_labels
from citizendata.validate.extract import connect, raw_tables
from citizendata.validate.outliers import HardLimit, hard_limit_findings, robust_z_findings
from citizendata.validate.probable import DuplicateConfig, probable_duplicates
from citizendata.validate.rules import column_names, form_rules

__all__ = ["ANALYTIC_STATUSES", "QUEUE_STATUSES", "Computed", "QueueFilter", "QueuePage",
           "ValidationReport", "analytic_statuses", "compute", "findings", "findings_summary",
           "project_statuses", "queue_page", "require_analysable", "review_queue",
           "status_counts", "store"]

ANALYTIC_STATUSES = {
    "approved": ("approved",),
    "all_but_rejected": ("received", "has_issues", "approved", "edited"),
}
_NUMERIC = frozenset({"integer", "decimal", "range"})
_STORED = (*FINDING_COLUMNS, "score")


@dataclass
class Computed:
    """What a run found, before it is stored."""

    form_id: str
    submissions: int
    rules: int
    findings: pa.Table
    pairs: list[tuple[int, int, str, float]]  # (id_l, id_r, method, probability)
    skipped: list[str] = field(default_factory=list)
    seconds: float = 0.0


@dataclass(frozen=True)
class ValidationReport:
    """The outcome of a validation run."""

    run_id: int
    form_id: str
    submissions: int
    rules: int
    findings: int
    by_kind: dict[str, int]
    errors: int
    warnings: int
    submissions_with_errors: int
    moved_to_has_issues: int
    duplicate_pairs: int
    skipped: tuple[str, ...]
    seconds: float


def analytic_statuses(project: Project) -> tuple[str, ...]:
    """The review statuses analysis sees: approved only (default) or all but rejected."""
    return ANALYTIC_STATUSES[project_spec(project).validation.analytics]


def project_statuses(db: Session, actor: Actor | None, slug: str) -> tuple[str, ...]:
    """The review statuses the project lets into analysis (for anyone who may see it)."""
    project, _ = project_for(db, actor, slug, Action.PROJECT_VIEW)
    return analytic_statuses(project)


def _form_settings(project: Project, form_id: str) -> FormValidationSpec:
    return project_spec(project).validation.forms.get(form_id) or FormValidationSpec()


def compute(db: Session, actor: Actor | None, slug: str, form_id: str, *,
            today: date | None = None, progress: Callable[[int], None] | None = None
            ) -> Computed:
    """Check every submission of a form; nothing is written."""
    started = time.perf_counter()
    project, _ = project_for(db, actor, slug, Action.SUBMISSION_REVIEW)
    form = form_in(db, project, form_id)
    merged = merged_schema(db, form)
    batches = []
    for b in export_batches(db, form.id, withdrawn_scope=consent_spec(project).analysis):
        batches.append(b)
        if progress:
            progress(b.num_rows)
    subs = pa.Table.from_batches(batches, schema=BATCH_SCHEMA)
    if subs.num_rows == 0:
        return Computed(form_id, 0, 0, _empty_findings(), [])
    con = connect()
    columns = column_names(merged)
    tables = raw_tables(con, subs, merged, columns)
    parts: list[pa.Table] = []
    skipped: list[str] = []
    n_rules = 0
    present = set(subs.column("_form_version").to_pylist())
    for fv in db.scalars(select(FormVersion).where(FormVersion.form_id == form.id)):
        if fv.version not in present:
            continue
        schema = FormSchema.from_dict(fv.schema)
        rules = form_rules(schema, columns=columns)
        n_rules = max(n_rules, len(rules.rules))
        skipped.extend(s for s in rules.skipped if s not in skipped)
        for level, table in tables.items():
            chosen = list(rules.for_table(level))
            if chosen:
                mine = table.filter(table._form_version == fv.version)
                parts.append(con.to_pyarrow(check_table(mine, chosen, today=today,
                                                        labels=choice_labels(schema))))
    settings = _form_settings(project, form_id)
    parts.extend(_outliers(con, tables, merged, columns, settings))
    parts.extend(_locations(db, project, con, tables, merged, columns, settings, skipped))
    found = pa.concat_tables([_with_score(p) for p in parts]) if parts else _empty_findings()
    pairs = _probable(con, tables[None], columns, settings)
    return Computed(form_id, subs.num_rows, n_rules, found, pairs, skipped,
                    time.perf_counter() - started)


def _with_score(t: pa.Table) -> pa.Table:
    if "score" not in t.column_names:
        t = t.append_column("score", pa.nulls(t.num_rows, pa.float64()))
    return t.select(list(_STORED)).cast(_empty_findings().schema)


def _empty_findings() -> pa.Table:
    return pa.table({"_id": pa.array([], pa.int64()), "_item": pa.array([], pa.string()),
                     **{c: pa.array([], pa.string()) for c in FINDING_COLUMNS[2:]},
                     "score": pa.array([], pa.float64())})


def _outliers(con: Any, tables: dict[str | None, ibis.Table], schema: FormSchema,
              columns: dict[str, str], settings: FormValidationSpec) -> list[pa.Table]:
    by_name = {**{f.name: f for f in schema.fields}, **{f.path: f for f in schema.fields}}
    wanted = ([] if settings.outliers is None else settings.outliers.fields or [
        f.path for f in schema.fields if f.repeat is None and f.type in _NUMERIC
        and not f.personal])
    named = [*wanted, *(settings.outliers.by if settings.outliers else []),
             *(lim.field for lim in settings.limits)]
    unknown = [n for n in named if n not in by_name]
    if unknown:
        raise BadInput("input.invalid", f"The project's validation settings name unknown "
                       f"fields {unknown}.", where=Where(field=unknown[0]),
                       fix="Use the form's field names or paths.")
    paths = {columns[f.path]: f.path for f in schema.fields}
    out = []
    # each repeat level is its own table; group columns may come from enclosing levels
    for level, table in tables.items():
        fields = [columns[by_name[n].path] for n in wanted if by_name[n].repeat == level]
        limits = [HardLimit(columns[by_name[lim.field].path], lim.min, lim.max, lim.severity)
                  for lim in settings.limits if by_name[lim.field].repeat == level]
        numeric = table.mutate(**{c: table[c].try_cast("float64")
                                  for c in {*fields, *(lim.field for lim in limits)}})
        if fields and settings.outliers is not None:
            by = [columns[by_name[n].path] for n in settings.outliers.by]
            hits = con.to_pyarrow(robust_z_findings(
                numeric, fields, by=by, keep=("_item",), threshold=settings.outliers.threshold,
                min_count=settings.outliers.min_count))
            out.append(_outlier_rows(hits, paths, "outlier"))
        if limits:
            hits = con.to_pyarrow(hard_limit_findings(numeric, limits, keep=("_item",)))
            out.append(_outlier_rows(hits, paths, "limit"))
    return out


def _locations(db: Session, project: Project, con: Any, tables: dict[str | None, ibis.Table],
               schema: FormSchema, columns: dict[str, str], settings: FormValidationSpec,
               skipped: list[str]) -> list[pa.Table]:
    """GPS answers checked against the area another answer names (integrate.places).

    A check whose boundaries are not (yet) uploaded is skipped and named in ``skipped``,
    as an uncheckable form rule is: review goes on while the boundaries are missing.
    """
    if not settings.locations:
        return []
    from citizendata.integrate.places import Areas
    from citizendata.validate.location import location_findings

    by_name = {**{f.name: f for f in schema.fields}, **{f.path: f for f in schema.fields}}
    areas: dict[str, Areas] = {}
    out = []
    for spec in settings.locations:
        unknown = [n for n in (spec.field, spec.area_field) if n not in by_name]
        if unknown:
            raise BadInput("input.invalid", f"The project's location check names unknown "
                           f"fields {unknown}.", where=Where(field=unknown[0]),
                           fix="Use the form's field names or paths.")
        point, area = by_name[spec.field], by_name[spec.area_field]
        if point.type != "geopoint":
            raise BadInput("input.invalid", f"The location check's field {point.path!r} is a "
                           f"{point.type}, not a geopoint.", where=Where(field=point.path))
        table = tables[point.repeat]
        if columns[area.path] not in table.columns:
            raise BadInput("input.invalid", f"The location check's area field {area.path!r} "
                           f"is not in the same repeat as {point.path!r} or one enclosing it.",
                           where=Where(field=area.path))
        if spec.boundaries not in areas:
            found, why = _boundaries(db, project, spec.boundaries)
            if found is None:
                skipped.append(f"location:{point.path}: {why}")
                continue
            areas[spec.boundaries] = found
        rows = con.to_pyarrow(table.select("_id", "_item", _p=table[columns[point.path]],
                                           _a=table[columns[area.path]]))
        out.append(location_findings(rows, areas[spec.boundaries], point="_p", area="_a",
                                     field=point.path, area_field=area.path,
                                     tolerance_m=spec.tolerance_m, severity=spec.severity))
    return out


def _boundaries(db: Session, project: Project, name: str) -> tuple[Any, str]:
    """The named boundaries as Areas, or None and why not."""
    from citizendata.integrate.places import Areas

    row = db.scalar(select(ReferenceTable).where(ReferenceTable.project_id == project.id,
                                                 ReferenceTable.name == name))
    if row is None or row.kind != "boundaries":
        have = sorted(db.scalars(select(ReferenceTable.name).where(
            ReferenceTable.project_id == project.id, ReferenceTable.kind == "boundaries")))
        return None, (f"not checked: the location check uses boundaries {name!r}, but the "
                      f"project has no boundaries reference table of that name (it has "
                      f"{have}); upload them (kind 'boundaries') or correct the name")
    return Areas.from_geojson(json.loads(row.content.decode("utf-8"))), ""


def _outlier_rows(hits: pa.Table, paths: dict[str, str], kind: str) -> pa.Table:
    fields = [paths.get(c, c) for c in hits.column("field").to_pylist()]
    values = hits.column("value").to_pylist()
    return pa.table({
        "_id": hits.column("_id").cast(pa.int64()),
        "_item": hits.column("_item").cast(pa.string()),
        "rule": pa.array([f"{kind}:{f}" for f in fields], pa.string()),
        "kind": pa.array([kind] * hits.num_rows, pa.string()),
        "field": pa.array(fields, pa.string()),
        "severity": hits.column("severity").cast(pa.string()),
        "message": hits.column("message").cast(pa.string()),
        "value": pa.array([None if v is None else f"{v:g}" for v in values], pa.string()),
        "score": hits.column("score").cast(pa.float64()),
    })


def _probable(con: Any, main: ibis.Table, columns: dict[str, str],
              settings: FormValidationSpec) -> list[tuple[int, int, str, float]]:
    if not settings.duplicates:
        return []
    config = DuplicateConfig.from_dict(settings.duplicates)
    by_name = {**{p.split("/")[-1]: c for p, c in columns.items()}, **columns}
    wanted = {c.field for c in config.comparisons} | {x for b in config.blocking for x in b}
    missing = sorted(wanted - set(by_name))
    if missing:
        raise BadInput("input.invalid", f"validation duplicates compare unknown fields "
                       f"{missing}.", where=Where(field=missing[0]),
                       fix="Use the form's field names.")
    table = con.to_pyarrow(main.select("_id", **{n: main[by_name[n]] for n in sorted(wanted)}))
    pairs = probable_duplicates(table, config)
    return [(int(a), int(b), "probable", float(p)) for a, b, p in zip(
        pairs.column("id_l").to_pylist(), pairs.column("id_r").to_pylist(),
        pairs.column("match_probability").to_pylist(), strict=True)]


def _exact_pairs(db: Session, form_pk: int) -> list[tuple[int, int, str, float]]:
    # each copy is paired with the oldest submission of its group
    return [(g[0][0], sid, "exact", 1.0) for g in exact_groups(db, form_pk).values()
            for sid, _ in g[1:]]


def store(db: Session, actor: Actor | None, slug: str, form_id: str, computed: Computed
          ) -> ValidationReport:
    """Replace the form's findings with a run's, record duplicate pairs, move error rows."""
    project, _ = project_for(db, actor, slug, Action.SUBMISSION_REVIEW)
    assert actor is not None
    form = form_in(db, project, form_id)
    run = ValidationRun(form_id=form.id, actor_id=actor.user_id, actor=actor.username,
                        submissions=computed.submissions, rules=computed.rules)
    db.add(run)
    db.flush()
    pairs = _exact_pairs(db, form.id) + computed.pairs
    extra = _pair_findings(db, form.id, pairs)
    n_pairs = len(extra)  # distinct pairs, dismissed ones left out
    found = computed.findings.to_pylist() + extra
    db.execute(delete(Finding).where(Finding.form_id == form.id))
    rows = [{"run_id": run.id, "form_id": form.id, "submission_id": f["_id"], "item": f["_item"],
             "rule": f["rule"], "kind": f["kind"], "field": f["field"],
             "severity": f["severity"], "message": f["message"], "value": f["value"],
             "score": f["score"]} for f in found]
    for i in range(0, len(rows), 5000):
        db.execute(insert(Finding), rows[i:i + 5000])
    error_ids = sorted({f["_id"] for f in found if f["severity"] == "error"})
    moved = _move_to_has_issues(db, actor, error_ids)
    kinds = Counter(f["kind"] for f in found)
    severities = Counter(f["severity"] for f in found)
    run.finished_at = datetime.now(UTC)
    run.summary = {"by_kind": dict(kinds), "errors": severities["error"],
                   "warnings": severities["warning"], "moved_to_has_issues": moved,
                   "skipped": computed.skipped, "duplicate_pairs": n_pairs}
    audit(db, actor, "validation.run", "form", form_id, project_id=project.id,
          details={"run": run.id, "submissions": computed.submissions, "findings": len(found),
                   "moved_to_has_issues": moved})
    return ValidationReport(run.id, form_id, computed.submissions, computed.rules, len(found),
                            dict(kinds), severities["error"], severities["warning"],
                            len(error_ids), moved, n_pairs, tuple(computed.skipped),
                            round(computed.seconds, 3))


def _pair_findings(db: Session, form_pk: int, pairs: list[tuple[int, int, str, float]]
                   ) -> list[dict[str, Any]]:
    # keep reviewers' decisions on pairs already known; add the new ones
    known = {(p.submission_l, p.submission_r): p for p in db.scalars(
        select(DuplicatePair).where(DuplicatePair.form_id == form_pk))}
    iids = instance_ids(db, {i for a, b, _, _ in pairs for i in (a, b)})
    out = []
    seen: set[tuple[int, int]] = set()
    for a, b, method, p in pairs:
        if (a, b) in seen:  # an exact duplicate is also a probable one: reported once
            continue
        seen.add((a, b))
        pair = known.get((a, b))
        if pair is None:
            db.add(DuplicatePair(form_id=form_pk, submission_l=a, submission_r=b, method=method,
                                 probability=p))
        elif pair.status in ("dismissed",):
            continue
        else:
            pair.probability = p
        what = "the same answers as" if method == "exact" else "possibly the same report as"
        out.append({"_id": b, "_item": None, "rule": f"duplicate:{method}", "kind": "duplicate",
                    "field": "", "severity": "warning", "score": p, "value": None,
                    "message": f"{what} {iids.get(a, a)} (match probability {p:.2f}); "
                               "a reviewer confirms, dismisses or merges"})
    return out


def _move_to_has_issues(db: Session, actor: Actor, ids: Sequence[int]) -> int:
    moved = 0
    for i in range(0, len(ids), 5000):
        chunk = list(ids[i:i + 5000])
        todo = list(db.scalars(select(Submission).where(
            Submission.id.in_(chunk), Submission.review_status == "received")))
        for sub in todo:
            sub.review_status = "has_issues"
            db.add(ReviewEvent(submission_id=sub.id, kind="auto", status="has_issues",
                               comment="machine validation found errors",
                               actor_id=actor.user_id, actor=actor.username))
        moved += len(todo)
    return moved


def findings(db: Session, actor: Actor | None, slug: str, form_id: str, *,
             instance_id: str | None = None, severity: str | None = None,
             kind: str | None = None, rule: str | None = None, limit: int = 500,
             offset: int = 0) -> tuple[list[dict[str, Any]], int]:
    """A page of the form's findings (oldest submission first) and their total."""
    project, _ = project_for(db, actor, slug, Action.SUBMISSION_VIEW)
    form = form_in(db, project, form_id)
    q = (select(Finding, Submission.instance_id)
         .join(Submission, Submission.id == Finding.submission_id)
         .where(Finding.form_id == form.id, ~withdrawn_everywhere(form.id)))
    for col, val in ((Submission.instance_id, instance_id), (Finding.severity, severity),
                     (Finding.kind, kind), (Finding.rule, rule)):
        if val is not None:
            q = q.where(col == val)
    total = db.scalar(select(func.count()).select_from(q.subquery())) or 0
    rows = db.execute(q.order_by(Finding.submission_id, Finding.id).limit(limit)
                      .offset(offset)).all()
    return [{"instance_id": iid, "item": f.item, "rule": f.rule, "kind": f.kind,
             "field": f.field, "severity": f.severity, "message": f.message,
             "value": f.value, "score": f.score} for f, iid in rows], total


def findings_summary(db: Session, actor: Actor | None, slug: str, form_id: str
                     ) -> list[dict[str, Any]]:
    """Per rule: kind, severity, how many findings and submissions, one message."""
    project, _ = project_for(db, actor, slug, Action.SUBMISSION_VIEW)
    form = form_in(db, project, form_id)
    rows = db.execute(
        select(Finding.rule, Finding.kind, Finding.severity, func.count(),
               func.count(func.distinct(Finding.submission_id)), func.min(Finding.message))
        .where(Finding.form_id == form.id)
        .group_by(Finding.rule, Finding.kind, Finding.severity)
        .order_by(Finding.severity, func.count().desc(), Finding.rule)).all()
    return [{"rule": r, "kind": k, "severity": s, "findings": n, "submissions": m,
             "message": msg} for r, k, s, n, m, msg in rows]


def review_queue(db: Session, actor: Actor | None, slug: str, form_id: str, *,
                 statuses: Sequence[str] = ("has_issues", "received", "edited"),
                 limit: int = 100, offset: int = 0) -> tuple[list[dict[str, Any]], int]:
    """Submissions awaiting review, those with errors first, with their finding counts."""
    project, _ = project_for(db, actor, slug, Action.SUBMISSION_VIEW)
    form = form_in(db, project, form_id)
    counts = (select(Finding.submission_id,
                     func.sum(case((Finding.severity == "error", 1), else_=0)).label("errors"),
                     func.sum(case((Finding.severity == "warning", 1), else_=0)).label("warnings"))
              .where(Finding.form_id == form.id).group_by(Finding.submission_id).subquery())
    base = (select(Submission.instance_id, Submission.review_status, Submission.received_at,
                   func.coalesce(counts.c.errors, 0), func.coalesce(counts.c.warnings, 0))
            .outerjoin(counts, counts.c.submission_id == Submission.id)
            .where(Submission.form_id == form.id, Submission.review_status.in_(statuses),
                   # a respondent who withdrew everything is no longer reviewed, by anyone
                   ~withdrawn_everywhere(form.id)))
    total = db.scalar(select(func.count()).select_from(base.subquery())) or 0
    rows = db.execute(base.order_by(func.coalesce(counts.c.errors, 0).desc(),
                                    func.coalesce(counts.c.warnings, 0).desc(), Submission.id)
                      .limit(limit).offset(offset)).all()
    return [{"instance_id": i, "review_status": s, "received_at": r.isoformat() if r else None,
             "errors": int(e), "warnings": int(w)} for i, s, r, e, w in rows], total



QUEUE_STATUSES = ("has_issues", "received", "edited")
REVIEW_STATUSES = ("received", "has_issues", "edited", "approved", "rejected")
FINDING_FILTERS = ("errors", "warnings", "any", "none")
COUNT_CAP = 10_000  # a queue's total is counted up to this many (then shown as "10,000+")


@dataclass(frozen=True)
class QueueFilter:
    """What a reviewer narrows the queue to; every part is optional."""

    statuses: tuple[str, ...] = QUEUE_STATUSES
    findings: str | None = None  # errors | warnings | any | none
    rule: str | None = None  # a rule id (constraint:age) or a field path (age)
    since: date | None = None  # received on or after (UTC)
    until: date | None = None  # received on or before (UTC)
    collector: str | None = None  # the submitter's user name


@dataclass(frozen=True)
class QueuePage:
    """One page of the review queue, oldest first, and the cursors around it."""

    rows: list[dict[str, Any]]
    total: int  # capped at COUNT_CAP + 1: more than COUNT_CAP means "COUNT_CAP or more"
    next_after: int | None  # give as ``after`` for the next page
    prev_before: int | None  # give as ``before`` for the previous page


def _check_filter(filt: QueueFilter) -> None:
    unknown = [s for s in filt.statuses if s not in REVIEW_STATUSES]
    if unknown or not filt.statuses:
        raise BadInput("input.invalid", f"Unknown review status(es) {unknown}.",
                       where=Where(field="status"), fix=f"Use {list(REVIEW_STATUSES)}.")
    if filt.findings not in (None, *FINDING_FILTERS):
        raise BadInput("input.invalid", f"Unknown findings filter {filt.findings!r}.",
                       where=Where(field="findings"), fix=f"Use {list(FINDING_FILTERS)}.")
    if filt.since and filt.until and filt.since > filt.until:
        raise BadInput("input.invalid", f"The date range ends ({filt.until}) before it starts "
                       f"({filt.since}).", where=Where(field="until"),
                       fix="Give the earlier date first.")


def _has_finding(form_pk: int, *conditions: Any) -> Any:
    return select(Finding.id).where(Finding.form_id == form_pk,
                                    Finding.submission_id == Submission.id, *conditions).exists()


def queue_page(db: Session, actor: Actor | None, slug: str, form_id: str,
               filt: QueueFilter | None = None, *, after: int | None = None,
               before: int | None = None, limit: int = 50, offset: int | None = None
               ) -> QueuePage:
    """A page of the review queue by keyset (submission order): as fast deep as first.

    ``after``/``before`` are cursors from an earlier page; ``offset`` pages the slow way
    (kept for comparison in bench/review_pages.py). Each row carries its error and
    warning counts and its first findings (field paths; pages show them by label).
    """
    project, _ = project_for(db, actor, slug, Action.SUBMISSION_VIEW)
    form = form_in(db, project, form_id)
    filt = filt or QueueFilter()
    _check_filter(filt)
    conds: list[Any] = [Submission.form_id == form.id,
                        Submission.review_status.in_(filt.statuses),
                        ~withdrawn_everywhere(form.id)]
    if filt.findings == "errors":
        conds.append(_has_finding(form.id, Finding.severity == "error"))
    elif filt.findings == "warnings":
        conds.append(_has_finding(form.id, Finding.severity == "warning"))
    elif filt.findings == "any":
        conds.append(_has_finding(form.id))
    elif filt.findings == "none":
        conds.append(~_has_finding(form.id))
    if filt.rule:
        conds.append(_has_finding(form.id, (Finding.rule == filt.rule)
                                  | (Finding.field == filt.rule)))
    if filt.since:
        conds.append(Submission.received_at >= datetime.combine(filt.since, dtime(), UTC))
    if filt.until:
        conds.append(Submission.received_at < datetime.combine(
            filt.until + timedelta(days=1), dtime(), UTC))
    if filt.collector:
        conds.append(Submission.submitter_id.in_(
            select(User.id).where(User.username == filt.collector)))
    # counted up to a cap: an exact count of 100,000 rows costs more than the page itself
    total = db.scalar(select(func.count()).select_from(
        select(Submission.id).where(*conds).limit(COUNT_CAP + 1).subquery())) or 0
    q = select(Submission.id, Submission.instance_id, Submission.review_status,
               Submission.received_at, Submission.submitter_id).where(*conds)
    backwards = before is not None and after is None
    if after is not None:
        q = q.where(Submission.id > after)
    if backwards:
        q = q.where(Submission.id < before)
    q = q.order_by(Submission.id.desc() if backwards else Submission.id)
    if offset:
        q = q.offset(offset)
    got = list(db.execute(q.limit(limit + 1)).all())
    more = len(got) > limit
    got = got[:limit]
    if backwards:
        got.reverse()
    ids = [r[0] for r in got]
    counts: dict[int, tuple[int, int]] = {}
    first: dict[int, list[dict[str, Any]]] = {}
    if ids:
        for sid, sev, n in db.execute(
                select(Finding.submission_id, Finding.severity, func.count())
                .where(Finding.form_id == form.id, Finding.submission_id.in_(ids))
                .group_by(Finding.submission_id, Finding.severity)):
            e, w = counts.get(sid, (0, 0))
            counts[sid] = (e + n, w) if sev == "error" else (e, w + n)
        for f in db.scalars(select(Finding).where(Finding.form_id == form.id,
                                                  Finding.submission_id.in_(ids))
                            .order_by(Finding.submission_id, Finding.severity, Finding.id)):
            shown = first.setdefault(f.submission_id, [])
            if len(shown) < 3:
                shown.append({"field": f.field, "item": f.item, "rule": f.rule, "kind": f.kind,
                              "severity": f.severity, "message": f.message})
    users = {uid: name for uid, name in db.execute(select(User.id, User.username).where(
        User.id.in_({r[4] for r in got if r[4] is not None})))} if got else {}
    rows = [{"id": sid, "instance_id": iid, "review_status": st,
             "received_at": at.isoformat() if at else None,
             "submitter": users.get(uid) if uid is not None else None,
             "errors": counts.get(sid, (0, 0))[0], "warnings": counts.get(sid, (0, 0))[1],
             "findings": first.get(sid, [])} for sid, iid, st, at, uid in got]
    has_next = more if not backwards else bool(ids)
    has_prev = (more if backwards else after is not None) and bool(ids)
    return QueuePage(rows, total, ids[-1] if ids and has_next else None,
                     ids[0] if ids and has_prev else None)


def status_counts(db: Session, actor: Actor | None, slug: str
                  ) -> dict[str, dict[str, int]]:
    """Per form of the project: submissions per review status (withdrawn ones left out)."""
    project, _ = project_for(db, actor, slug, Action.SUBMISSION_VIEW)
    out: dict[str, dict[str, int]] = {}
    for form in db.scalars(select(Form).where(Form.project_id == project.id)
                           .order_by(Form.xml_form_id)):
        out[form.xml_form_id] = {s: 0 for s in REVIEW_STATUSES}
        for status, n in db.execute(
                select(Submission.review_status, func.count(Submission.id))
                .where(Submission.form_id == form.id, ~withdrawn_everywhere(form.id))
                .group_by(Submission.review_status)):
            out[form.xml_form_id][str(status)] = int(n)
    return out


def require_analysable(db: Session, actor: Actor | None, slug: str, form_id: str) -> None:
    """Refuse, naming the real cause, when no submission of the form is let into analysis.

    Without it an estimate over a form nobody has approved fails deep in weighting
    (``calibration.invalid … no units``), which sends people to the wrong settings.
    """
    project, _ = project_for(db, actor, slug, Action.PROJECT_VIEW)
    form = form_in(db, project, form_id)
    statuses = analytic_statuses(project)
    live = (Submission.form_id == form.id, ~withdrawn_everywhere(form.id))
    if db.scalar(select(Submission.id).where(*live, Submission.review_status.in_(statuses))
                 .limit(1)) is not None:
        return
    counts = dict(db.execute(select(Submission.review_status, func.count(Submission.id))
                             .where(*live).group_by(Submission.review_status)).all())
    total = sum(counts.values())
    which = "approved" if statuses == ("approved",) else "unrejected"
    raise BadInput(
        "review.none_approved",
        f"No {which} submissions of form {form_id!r} to estimate from: {total} received, "
        f"{counts.get('has_issues', 0)} with issues, {counts.get('rejected', 0)} rejected, "
        f"{counts.get('received', 0) + counts.get('edited', 0)} not reviewed yet; approve "
        "them in review or with approve-clean.",
        where=Where(field=form_id),
        fix=f"Run validation, then approve the submissions without errors (citizendata "
            f"review approve-clean {slug} {form_id}, or 'Approve all without errors' on the "
            "form's review page) and decide the rest.")
