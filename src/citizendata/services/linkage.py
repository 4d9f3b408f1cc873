"""Linkage of a project's case records, clerical decisions, and the uncounted estimated.

The database side (the records analysis may use, the clerical decisions, audit) and the
computation on them (splink through :mod:`citizendata.integrate.linkage`, capture
histories and multiple systems estimation through :mod:`citizendata.integrate.mse`,
the project's disclosure control). The Client (integrate/cases_client.py) reads the
inputs in one short transaction, computes outside it, and audits. Scored pairs and
estimates are kept in memory by a digest of what they are computed from (records and
settings; capture histories and estimate settings), so every answer follows the current
submissions and decisions and a repeated visit does not recompute.

Records used: submissions of the case form with a review status analysis admits (the
project's ``validation.analytics``), consent to analysis standing, and, for the
verified list when ``verification.verified_only``, a latest decision ``verified``.
A pair's decision is its latest row in ``link_decisions`` (``unsure`` leaves the pair
to the model, and keeps it out of the queue).
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from citizendata.auth import Action, Actor, allowed
from citizendata.errors import BadInput, NotFound, Where
from citizendata.projects.cases import CasesSpec, MSEIndicatorSpec
from citizendata.services.access import audit, form_in, project_for, project_spec
from citizendata.services.cases import case_frame, cases_spec
from citizendata.services.consent import protection_spec
from citizendata.services.validation import analytic_statuses
from citizendata.store.models import LinkDecision, Project

if TYPE_CHECKING:
    import pandas as pd

    from citizendata.projects.protection import ProtectionSpec

__all__ = ["PAIR_DECISIONS", "LinkageInputs", "audit_event", "decide_pair", "decision_history",
           "decisions_frame", "linkage_inputs", "pair_key"]

PAIR_DECISIONS = ("match", "non_match", "unsure")


@dataclass
class LinkageInputs:
    """What linkage and estimation read, in one transaction: personal data, server only."""

    slug: str
    spec: CasesSpec
    records: pd.DataFrame  # the case fields, ``key``, ``status``, ``review_status``
    decisions: pd.DataFrame  # left_key, right_key, decision (latest per pair)
    policy: ProtectionSpec
    personal: bool  # the caller may see names
    unprotected: bool  # the caller may see unprotected figures
    country: str | None
    excluded: dict[str, int]  # records left out, by reason


def pair_key(left: str, right: str) -> tuple[str, str]:
    """A pair's one spelling: the smaller key first."""
    return (left, right) if left <= right else (right, left)


def decisions_frame(db: Session, project_id: int) -> pd.DataFrame:
    """The latest decision on each pair: left_key, right_key, decision."""
    import pandas as pd

    latest = select(func.max(LinkDecision.id)).where(LinkDecision.project_id == project_id) \
        .group_by(LinkDecision.left_key, LinkDecision.right_key)
    rows = db.execute(select(LinkDecision.left_key, LinkDecision.right_key, LinkDecision.decision)
                      .where(LinkDecision.id.in_(latest)).order_by(LinkDecision.id)).all()
    return pd.DataFrame([tuple(r) for r in rows],
                        columns=["left_key", "right_key", "decision"]).astype(str)


def linkage_inputs(db: Session, actor: Actor | None, slug: str, action: Action
                   ) -> LinkageInputs:
    """The records analysis may use and the decisions, for a caller allowed ``action``."""
    project, role = project_for(db, actor, slug, action)
    spec = cases_spec(project)
    form = form_in(db, project, spec.form)
    frame = case_frame(db, project, form, spec)
    statuses = analytic_statuses(project)
    keep = frame["review_status"].isin(statuses)
    excluded = {"review_status": int((~keep).sum())}
    v = spec.verification
    if v is not None and v.verified_only:
        unverified = (frame[spec.fields.source] == v.list) & (frame["status"] != "verified")
        excluded["not_verified"] = int((keep & unverified).sum())
        keep &= ~unverified
    known = frame[spec.fields.source].isin([x.name for x in spec.lists])
    excluded["unknown_list"] = int((keep & ~known).sum())
    keep &= known
    records = frame[keep].reset_index(drop=True)
    return LinkageInputs(
        slug=slug, spec=spec, records=records, decisions=decisions_frame(db, project.id),
        policy=protection_spec(project), personal=allowed(role, Action.PERSONAL_DATA_VIEW),
        unprotected=allowed(role, Action.PERSONAL_DATA_VIEW),
        country=project_spec(project).country, excluded=excluded)


def decide_pair(db: Session, actor: Actor | None, slug: str, left_key: str, right_key: str,
                decision: str, *, note: str = "") -> dict[str, Any]:
    """Record a clerical decision on a pair of records (both must be cases of the project)."""
    project, _ = project_for(db, actor, slug, Action.SUBMISSION_REVIEW)
    assert actor is not None
    # one decision at a time per project: the project row's lock (PostgreSQL; SQLite's
    # BEGIN IMMEDIATE already writes one transaction at a time) makes the consistency
    # check below and the insert atomic, so two validators deciding at once under READ
    # COMMITTED cannot store contradicting decisions (held until the commit)
    db.execute(select(Project.id).where(Project.id == project.id).with_for_update())
    spec = cases_spec(project)
    if decision not in PAIR_DECISIONS:
        raise BadInput("linkage.review_invalid", f"Unknown decision {decision!r}.",
                       where=Where(field="decision"),
                       fix="Use match, non_match or unsure.")
    if left_key == right_key:
        raise BadInput("linkage.review_invalid", "A record is not paired with itself.",
                       where=Where(field="right_key"))
    form = form_in(db, project, spec.form)
    keys = set(case_frame(db, project, form, spec)["key"])
    for name, key in (("left_key", left_key), ("right_key", right_key)):
        if key not in keys:
            raise NotFound("not_found.submission", f"No case record {key!r} in the project.",
                           where=Where(field=name),
                           fix="Give keys as list:record_id, as the review queue shows them.")
    left, right = pair_key(left_key, right_key)
    _consistent(decisions_frame(db, project.id), keys, left, right, decision)
    db.add(LinkDecision(project_id=project.id, left_key=left, right_key=right,
                        decision=decision, note=note, actor_id=actor.user_id,
                        actor=actor.username))
    # keys are list:record_id, no names; the note is left out (it may quote the records)
    audit(db, actor, "linkage.decide", "pair", f"{left}|{right}", project_id=project.id,
          details={"left_key": left, "right_key": right, "decision": decision})
    return {"left_key": left, "right_key": right, "decision": decision}


def _consistent(before: pd.DataFrame, keys: set[str], left: str, right: str,
                decision: str) -> None:
    """Refuse a decision that contradicts the others (a non-match inside decided matches)."""
    import pandas as pd

    from citizendata.integrate.linkage.result import check_decisions

    new = pd.DataFrame([{"left_key": left, "right_key": right, "decision": decision}])
    both = pd.concat([before, new], ignore_index=True)
    both = both[both["left_key"].isin(keys) & both["right_key"].isin(keys)]
    try:
        check_decisions(both.reset_index(drop=True), pd.Index(sorted(keys)))
    except BadInput as exc:
        raise BadInput("linkage.review_invalid", f"The decision contradicts earlier ones: "
                       f"{exc.message}", where=Where(field="decision"),
                       fix="Change the earlier decision first (decide that pair again).") from None


def decision_history(db: Session, actor: Actor | None, slug: str) -> list[dict[str, Any]]:
    """Every clerical decision, oldest first."""
    project, _ = project_for(db, actor, slug, Action.SUBMISSION_REVIEW)
    rows = db.scalars(select(LinkDecision).where(LinkDecision.project_id == project.id)
                      .order_by(LinkDecision.id)).all()
    return [{"left_key": r.left_key, "right_key": r.right_key, "decision": r.decision,
             "note": r.note, "actor": r.actor, "at": r.at.isoformat()} for r in rows]


def audit_event(db: Session, actor: Actor | None, slug: str, action: str, object_id: str,
                details: dict[str, Any], *, needs: Action = Action.SUBMISSION_VIEW) -> None:
    """Log a linkage run or an estimate (counts and settings only, never names)."""
    project, _ = project_for(db, actor, slug, needs)
    audit(db, actor, action, "cases", object_id, project_id=project.id, details=details)


def estimate_spec(spec: CasesSpec, indicator: str) -> MSEIndicatorSpec:
    """One of the project's estimates by key, else a coded error naming them."""
    est = spec.estimates.get(indicator)
    if est is None:
        raise BadInput("cases.invalid", f"The project has no estimate {indicator!r}.",
                       where=Where(field="indicator"),
                       fix=f"Use one of {sorted(spec.estimates)}.")
    return est


def review_columns(spec: CasesSpec, personal: bool) -> Sequence[str]:
    """The fields shown for each record of a pair under review."""
    f = spec.fields
    cols = [f.source, f.record_id, f.sex, f.age, f.role, f.violation, f.event_date,
            f.department, f.municipality, f.perpetrator]
    return [*cols[:2], f.given_names, f.surnames, *cols[2:]] if personal else cols


# -- computation (outside any transaction) -------------------------------------------------

def _field_columns(spec: CasesSpec) -> list[str]:
    return list(dict.fromkeys(spec.fields.model_dump().values()))


_MODELS: OrderedDict[str, Any] = OrderedDict()  # content digest -> scored pairs
_MODELS_LOCK = threading.Lock()
_MODELS_KEPT = 4


def _digest(records: pd.DataFrame, spec: CasesSpec) -> str:
    """What the scored pairs depend on: every record's fields and the linkage settings."""
    import pandas as pd

    h = hashlib.sha256(spec.linkage.model_dump_json().encode())
    h.update(spec.fields.model_dump_json().encode())
    h.update(pd.util.hash_pandas_object(records.astype(str), index=False).to_numpy().tobytes())
    h.update(",".join(records.columns).encode())
    return h.hexdigest()


_ESTIMATES: OrderedDict[str, tuple[bool, Any]] = OrderedDict()  # digest -> (ok, result)
_ESTIMATES_LOCK = threading.Lock()
_ESTIMATES_KEPT = 64


def _cached_estimate(fn: str, hist: pd.DataFrame, est: MSEIndicatorSpec, **kw: Any) -> Any:
    """``estimate_mse``/``estimate_stratified`` on capture histories, kept by a digest of
    the histories, the indicator's spec and the call's settings (bounded LRU).

    The same histories and settings give the same estimate (seeds are fixed), so a second
    visit of the summary is instant; other records, decisions or settings change the
    histories or the spec, hence the digest, and recompute. A coded refusal is kept too.
    """
    import copy
    import json

    import pandas as pd

    from citizendata.integrate import mse

    h = hashlib.sha256(fn.encode())
    h.update(est.model_dump_json().encode())
    h.update(json.dumps(kw, sort_keys=True, default=str).encode())
    h.update(json.dumps([str(c) for c in hist.columns]).encode())
    h.update(pd.util.hash_pandas_object(hist.astype(str), index=False).to_numpy().tobytes())
    digest = h.hexdigest()
    with _ESTIMATES_LOCK:
        hit = _ESTIMATES.get(digest)
        if hit is not None:
            _ESTIMATES.move_to_end(digest)
    if hit is None:
        try:
            hit = (True, getattr(mse, fn)(hist, **kw))
        except BadInput as exc:
            hit = (False, exc)
        with _ESTIMATES_LOCK:
            _ESTIMATES[digest] = hit
            while len(_ESTIMATES) > _ESTIMATES_KEPT:
                _ESTIMATES.popitem(last=False)
    ok, value = hit
    if not ok:
        raise value
    return copy.deepcopy(value)  # callers may edit what they get; the kept one stays


def link(inputs: LinkageInputs) -> Any:
    """The records linked with the project's settings and its clerical decisions.

    The scored pairs are kept in memory by a digest of the records and settings (the
    same records give the same pairs), so a page of the review queue does not refit
    the model; the decisions are applied afresh at every call. Nothing goes stale: other
    records are another digest.
    """
    from citizendata.integrate.linkage import link_records

    s = inputs.spec
    if len(inputs.records) < 2:
        raise BadInput("linkage.invalid", f"{len(inputs.records)} case record(s) can be used; "
                       "linkage needs records of at least two lists.",
                       where=Where(field="cases"),
                       fix="Import the lists, and approve (or verify) the records analysis "
                           "may use.")
    cols = [c for c in _field_columns(s) if c in inputs.records.columns]
    records = inputs.records[cols]
    keys = set(inputs.records["key"])
    d = inputs.decisions
    # a decision on a record analysis no longer uses (withdrawn, unverified) waits, kept
    d = d[d["left_key"].isin(keys) & d["right_key"].isin(keys)].reset_index(drop=True)
    digest = _digest(records, s)
    with _MODELS_LOCK:
        scored = _MODELS.get(digest)
        if scored is not None:
            _MODELS.move_to_end(digest)
    if scored is None:
        scored = link_records(records.copy(), fields=s.fields,
                              date_tolerance_days=s.linkage.date_tolerance_days,
                              seed=s.linkage.seed)
        with _MODELS_LOCK:
            _MODELS[digest] = scored
            while len(_MODELS) > _MODELS_KEPT:
                _MODELS.popitem(last=False)
    return scored.with_decisions(d)


def _queue(inputs: LinkageInputs, result: Any) -> pd.DataFrame:
    lo, hi = inputs.spec.linkage.review_band
    q = result.review_queue(lo, hi)
    if len(q):
        # the most uncertain first: nearest an even chance
        q = q.assign(_u=(q["match_probability"] - 0.5).abs()).sort_values(
            ["_u", "left_key", "right_key"]).drop(columns="_u")
    return q.reset_index(drop=True)


def link_summary(inputs: LinkageInputs, result: Any) -> dict[str, Any]:
    """Counts, clusters at the threshold, review queue size and the model (no names)."""
    s = inputs.spec
    clusters = result.clusters(s.linkage.threshold)
    sizes = clusters.groupby("cluster_id").size()
    by_list = inputs.records[s.fields.source].value_counts()
    decided = inputs.decisions["decision"].value_counts()
    return {
        "records": len(inputs.records),
        "by_list": {x.name: int(by_list.get(x.name, 0)) for x in s.lists},
        "excluded": dict(inputs.excluded),
        "pairs": len(result.pairs),
        "threshold": s.linkage.threshold,
        "clusters": len(sizes),
        "linked_records": int(sizes[sizes > 1].sum()),
        "largest_cluster": int(sizes.max()) if len(sizes) else 0,
        "review": len(_queue(inputs, result)),
        "review_band": list(s.linkage.review_band),
        "decisions": {d: int(decided.get(d, 0)) for d in PAIR_DECISIONS},
        "model": result.model_summary(),
    }


def review_rows(inputs: LinkageInputs, result: Any, limit: int) -> dict[str, Any]:
    """The first ``limit`` pairs of the queue with both records side by side."""
    if not 1 <= limit <= 500:
        raise BadInput("input.invalid", "limit is 1 to 500.", where=Where(field="limit"))
    q = _queue(inputs, result)
    cols = list(review_columns(inputs.spec, inputs.personal))
    recs = inputs.records.set_index("key")[cols]
    recs = recs.astype(object).where(recs.notna(), None)
    pairs = []
    for row in q.head(limit).to_dict("records"):  # at most 500 pairs: a page, not a hot path
        pairs.append({"left_key": row["left_key"], "right_key": row["right_key"],
                      "match_probability": float(row["match_probability"]),
                      "match_weight": float(row.get("match_weight", float("nan"))),
                      "left": recs.loc[row["left_key"]].to_dict(),
                      "right": recs.loc[row["right_key"]].to_dict()})
    return {"total": len(q), "limit": limit, "personal": inputs.personal, "pairs": pairs}


TOTAL = "_T"  # the whole population, as in every estimate table
DERIVED_STRATA = ("year", "period")


def _strata_columns(records: pd.DataFrame, spec: CasesSpec, strata: Sequence[str]
                    ) -> pd.DataFrame:
    """The estimate's strata per record: a case field, or ``year`` / ``period`` (three-year
    periods counted from the earliest event year) derived from the event date."""
    import pandas as pd

    fields = set(spec.fields.model_dump().values())
    year = pd.to_datetime(records[spec.fields.event_date], errors="coerce").dt.year
    out = pd.DataFrame(index=records.index)
    for name in strata:
        if name == "year":
            out[name] = year.astype("Int64").astype(str)
        elif name == "period":
            first = int(year.min()) if year.notna().any() else 0
            lo = first + (year - first) // 3 * 3
            out[name] = (lo.astype("Int64").astype(str) + "-"
                         + (lo + 2).astype("Int64").astype(str))
        elif name in fields:
            out[name] = records[name].astype(str)
        else:
            raise BadInput("cases.invalid", f"The stratum {name!r} is neither a case field nor "
                           f"one of {list(DERIVED_STRATA)}.", where=Where(field="strata"),
                           fix="Stratify by year, period or a field of the case form.")
    bad = out.isin(["<NA>", "nan", "None"]).any(axis=1)
    out[bad] = pd.NA  # a record without its stratum cannot be placed
    return out


def victim_violation(records: pd.DataFrame, violation: str) -> pd.Series:
    """Each linked victim-event's violation: the one most of its records name (lists
    classify some acts differently, e.g. a disappearance recorded as a kidnapping);
    a tie goes to the first in alphabetical order, so the answer is the same every time."""
    counts = (records.groupby(["cluster_id", violation]).size().rename("n").reset_index()
              .sort_values(["cluster_id", "n", violation], ascending=[True, False, True]))
    return counts.drop_duplicates("cluster_id").set_index("cluster_id")[violation]


def capture_frame(inputs: LinkageInputs, est: MSEIndicatorSpec, clusters: pd.DataFrame
                  ) -> tuple[pd.DataFrame, list[str]]:
    """The estimate's records as (list, cluster, strata), and the lists in order.

    Victims are counted by their linked records as a whole: a victim-event is in the
    estimate when most of its records name one of its violations, and a list captured
    it when any of that list's records is linked to it (whatever that record calls the
    act). Lists are merged as ``merge`` says; each victim is placed in the stratum of
    its first record.
    """
    s = inputs.spec
    f = s.fields
    recs = inputs.records.merge(clusters[["key", "cluster_id"]], on="key", how="left")
    label = victim_violation(recs, f.violation)
    recs = recs[recs["cluster_id"].map(label).isin(est.violations)].reset_index(drop=True)
    merged = {m: group for group, members in est.merge.items() for m in members}
    lists: list[str] = []
    for x in s.lists:
        name = merged.get(x.name, x.name)
        if name not in lists:
            lists.append(name)
    frame = recs[["key", "cluster_id"]].assign(list=recs[f.source].replace(merged))
    strata = _strata_columns(recs, s, est.strata)
    for c in est.strata:
        frame[c] = strata[c].to_numpy()
    if est.strata:
        first = frame.sort_values("key").groupby("cluster_id")[est.strata].first()
        frame = frame.drop(columns=est.strata).merge(first, left_on="cluster_id",
                                                     right_index=True)
    present = set(frame["list"])
    return frame, [x for x in lists if x in present]


def _no_estimate(documented: int, exc: BadInput) -> dict[str, Any]:
    # a sparse table: too few lists overlap, or no model has a finite estimate; said as
    # such, never as a number
    return {"documented": documented, "estimate": None, "ci": [None, None], "selected": None,
            "models": [], "note": f"{exc.code}: {exc.message}"}


def _selected(res: Any) -> dict[str, Any]:
    sel = dict(res.selected)
    return {"terms": list(sel.get("terms", [])), "estimate": sel.get("estimate"),
            "ci": list(sel.get("ci") or [None, None]), "aic": sel.get("aic"),
            "bic": sel.get("bic"), "deviance": sel.get("deviance"), "df": sel.get("df"),
            "se": sel.get("se")}


def _fit(frame: pd.DataFrame, lists: list[str], est: MSEIndicatorSpec) -> dict[str, Any]:
    """One multiple systems estimate from (list, cluster) rows: documented, N̂, interval,
    the models compared and the one selected."""
    from citizendata.integrate.mse import histories_from_records

    documented = int(frame["cluster_id"].nunique())
    try:
        hist = histories_from_records(frame, list_col="list", cluster_col="cluster_id",
                                      lists=lists)
        res = _cached_estimate("estimate_mse", hist, est, method=est.method,
                               selection=est.selection, confidence=est.confidence, seed=0)
    except BadInput as exc:
        return _no_estimate(documented, exc)
    sel = _selected(res)
    return {"documented": documented, "estimate": sel["estimate"], "ci": sel["ci"],
            "selected": sel, "models": list(res.models), "note": None}


def _estimate_at(inputs: LinkageInputs, est: MSEIndicatorSpec, clusters: pd.DataFrame
                 ) -> tuple[list[dict[str, Any]], dict[str, Any], list[str]]:
    """Per-stratum fits and the recombined total at one clustering."""
    frame, lists = capture_frame(inputs, est, clusters)
    if not est.strata:
        return [], _fit(frame, lists, est), lists
    from citizendata.integrate.mse import histories_from_records

    placed = frame.dropna(subset=list(est.strata))
    by = placed.groupby(list(est.strata))["cluster_id"].nunique()
    documented = {_label(k): int(v) for k, v in by.items()}
    try:
        hist = histories_from_records(placed, list_col="list", cluster_col="cluster_id",
                                      lists=lists, strata=list(est.strata))
        res = _cached_estimate("estimate_stratified", hist, est, strata=list(est.strata),
                               lists=lists, method=est.method, selection=est.selection,
                               confidence=est.confidence, seed=0)
    except BadInput as exc:
        total = _no_estimate(sum(documented.values()), exc)
        return ([{**_no_estimate(n, exc), "stratum": k} for k, n in documented.items()],
                total, lists)
    rows = []
    for key, r in res.results.items():
        sel = _selected(r)
        rows.append({"stratum": _label(key), "documented": documented[_label(key)],
                     "estimate": sel["estimate"], "ci": sel["ci"], "selected": sel,
                     "models": list(r.models), "note": None})
    # a stratum without an estimate says why; the others are still shown
    rows += [{"stratum": _label(key), "documented": documented[_label(key)], "estimate": None,
              "ci": [None, None], "selected": None, "models": [], "note": f["note"]}
             for key, f in res.failed.items()]
    rows.sort(key=lambda r: r["stratum"])
    note = (f"strata estimated apart and added up; interval: {res.interval}"
            if res.total is not None else f"{res.note}: a total needs every stratum")
    if res.total is not None and res.note:
        note += f" ({res.note})"
    total = {"documented": sum(documented.values()), "estimate": res.total,
             "ci": list(res.ci), "selected": None, "models": [], "note": note}
    return rows, total, lists


def _label(key: Any) -> str:
    """A stratum's label: its values joined by '|'."""
    return "|".join(map(str, key)) if isinstance(key, tuple) else str(key)


_HIDDEN = ("documented", "estimate", "ci_low", "ci_high")


def protect_estimates(table: pd.DataFrame, policy: ProtectionSpec
                      ) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The estimate table with small strata (and their cover) hidden: the documented count
    of distinct victims is the table's count; a hidden cell's estimate and interval go too."""
    import numpy as np

    from citizendata.privacy.suppress import threshold_rule
    from citizendata.privacy.tables import protect_table

    spec = policy.tables
    out = table.copy()
    if len(table) == 1:  # the total alone: the threshold rule is all there is
        hide = threshold_rule(table["documented"].to_numpy(float), spec.threshold,
                              spec.zero_unsafe)
        report: dict[str, Any] = {"cells": 1, "suppressed": int(hide.sum()),
                                  "rules": {"threshold": spec.threshold,
                                            "zero_unsafe": spec.zero_unsafe}, "notes": []}
    else:
        try:
            protected = protect_table(table[["stratum", "documented"]], ["stratum"], spec,
                                      count="documented", value_columns=[])
        except BadInput:
            raise BadInput("privacy.invalid_table", "the estimate table could not be protected: "
                           "its documented counts do not add up to the total",
                           fix="Report this to the project's owner.") from None
        hide = (protected.table["conf_status"] != "F").to_numpy()
        report = protected.report()
        report["cells"], report["suppressed"] = len(table), int(hide.sum())
    out["conf_status"] = np.where(hide, "C", "F")
    for c in _HIDDEN:
        out[c] = out[c].astype(object).where(~hide, None)
    report.setdefault("notes", []).append(
        "a stratum with fewer documented victims than the threshold is hidden with its "
        "estimate and interval, and so is what would reveal it (secondary suppression)")
    return out, report


def _rows_frame(rows: list[dict[str, Any]], total: dict[str, Any]) -> pd.DataFrame:
    import pandas as pd

    allrows = [*rows, {**total, "stratum": TOTAL}]
    return pd.DataFrame({
        "stratum": [r["stratum"] for r in allrows],
        "documented": [int(r["documented"]) for r in allrows],
        "estimate": [r["estimate"] for r in allrows],
        "ci_low": [r["ci"][0] for r in allrows],
        "ci_high": [r["ci"][1] for r in allrows],
    })


def estimate_uncounted(inputs: LinkageInputs, result: Any, indicator: str) -> dict[str, Any]:
    """One estimate of ``cases.estimates``: the protected table, models, sensitivity."""
    est = estimate_spec(inputs.spec, indicator)
    thr = inputs.spec.linkage.threshold
    rows, total, lists = _estimate_at(inputs, est, result.clusters(thr))
    table, report = protect_estimates(_rows_frame(rows, total), inputs.policy)
    hidden = set(table.loc[table["conf_status"] != "F", "stratum"])
    strata_models = [{"stratum": r["stratum"], "selected": r["selected"], "note": r["note"]}
                     for r in rows if r["stratum"] not in hidden]
    models = {r["stratum"]: r["selected"]["terms"] for r in rows if r["selected"] is not None}
    if not est.strata and total["selected"] is not None:
        models[""] = total["selected"]["terms"]
    sensitivity = [] if TOTAL in hidden or not models else _sensitivity(inputs, result, est,
                                                                          models)
    return {
        "indicator": indicator, "series": est.series, "title": est.title,
        "violations": list(est.violations), "strata": list(est.strata),
        "lists": lists, "merge": {k: list(v) for k, v in est.merge.items()},
        "method": est.method, "selection": est.selection, "confidence": est.confidence,
        "threshold": thr, "years": _years(inputs, est),
        "table": [_clean(r) for r in table.to_dict("records")],
        "models": total["models"] if TOTAL not in hidden else [],
        "selected": total["selected"] if TOTAL not in hidden else None,
        "strata_models": strata_models,
        "note": total.get("note"),
        "sensitivity": sensitivity,
        "protection": report,
        "excluded": dict(inputs.excluded) if inputs.unprotected else {},
    }


def _years(inputs: LinkageInputs, est: MSEIndicatorSpec) -> list[int | None]:
    """The first and last event year of the estimate's records."""
    import pandas as pd

    f = inputs.spec.fields
    recs = inputs.records[inputs.records[f.violation].isin(est.violations)]
    # (the years of the records that name the violations: the span the lists cover)
    years = pd.to_datetime(recs[f.event_date], errors="coerce").dt.year.dropna()
    return [int(years.min()), int(years.max())] if len(years) else [None, None]


def _held(est: MSEIndicatorSpec, models: dict[str, list[str]], key: Any,
          lists: list[str]) -> dict[str, Any]:
    """How a stratum is refitted at another threshold: its selected log-linear model held
    (terms of lists still present), or LCMCR again (it selects no model)."""
    if est.method == "lcmcr":
        return {"method": "lcmcr", "seed": 0}
    return {"models": [[m for m in models.get(_label(key), [])
                        if set(m.split(":")) <= set(lists)]]}


def _sensitivity(inputs: LinkageInputs, result: Any, est: MSEIndicatorSpec,
                 models: dict[str, list[str]]) -> list[dict[str, Any]]:
    """The total (documented and estimated) at each of the settings' thresholds.

    Each stratum keeps the model selected at the project's threshold (``models``), so
    the change is the linkage's alone, not another model's; the interval is recombined
    as the total's (``recombine``: the sum of variances, or LCMCR's summed draws).
    """
    from citizendata.integrate.mse import histories_from_records
    from citizendata.integrate.mse.estimate import present_lists, recombine

    out = []
    for t in inputs.spec.linkage.sensitivity:
        frame, lists = capture_frame(inputs, est, result.clusters(float(t)))
        placed = frame.dropna(subset=list(est.strata)) if est.strata else frame
        row: dict[str, Any] = {"threshold": float(t),
                               "documented": int(placed["cluster_id"].nunique()),
                               "estimate": None, "ci": [None, None], "note": None}
        try:
            hist = histories_from_records(placed, list_col="list", cluster_col="cluster_id",
                                          lists=lists, strata=list(est.strata))
            parts = hist.groupby(list(est.strata)) if est.strata else [("", hist)]
            # per stratum, the lists with records there (as estimate_stratified does)
            tables = [(key, *present_lists(part, lists, "count")) for key, part in parts]
            fits = [_cached_estimate("estimate_mse", table, est, confidence=est.confidence,
                                     **_held(est, models, key, here))
                    for key, here, table in tables]
        except BadInput as exc:
            row["note"] = f"{exc.code}: {exc.message}"
            out.append(row)
            continue
        # LCMCR has no standard error: its posterior draws are summed (never se = 0)
        ci, _how, note = recombine(fits, est.confidence)
        row.update(estimate=float(sum(f.estimate for f in fits)), note=note,
                   ci=[None if ci[0] is None else max(ci[0], row["documented"]), ci[1]])
        out.append(row)
    return out


def _clean(r: dict[str, Any]) -> dict[str, Any]:
    import math

    out = {}
    for k, v in r.items():
        if hasattr(v, "item"):
            v = v.item()
        out[k] = None if isinstance(v, float) and not math.isfinite(v) else v
    return out
