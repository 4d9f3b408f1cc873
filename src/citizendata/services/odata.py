"""The OData feed of a form, streamed: submissions are read in keyset chunks, each in a
short read transaction of its own, and written out as JSON text as they come, so memory
stays flat however many submissions the form has (bench/odata.py measures it).

Who may read it, and what, follows the submission API: a role that may see submissions;
personal fields only for roles that may see personal data (they are left out of the
entity model, not blanked, so every value keeps its type); respondents who withdrew
consent to analysis (or to everything) are left out, as in a snapshot; the answers are
a reviewer's latest edit where there is one, as in a snapshot.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any, TypeVar
from urllib.parse import urlencode

from sqlalchemy import and_, exists, func, select
from sqlalchemy.orm import Session, aliased

from citizendata.auth import Action, Actor, allowed
from citizendata.errors import BadInput, NotFound, Where
from citizendata.publish.odata.model import EntitySet, FormModel, build_model
from citizendata.publish.odata.query import REVIEW_STATES, FeedQuery, parse_query, skiptoken
from citizendata.services.access import form_in, project_for
from citizendata.services.attachments import count_attachments, expected_media
from citizendata.services.consent import consent_spec
from citizendata.services.forms import merged_schema
from citizendata.store.models import (
    ConsentWithdrawal,
    FormVersion,
    Submission,
    SubmissionVersion,
    User,
)

__all__ = ["CHUNK", "FeedContext", "feed_context", "stream_feed"]

T = TypeVar("T")
Runner = Callable[[Callable[[Session], T]], T]
# submissions read per transaction: big enough to amortise a round trip, small enough
# that a chunk of large payloads stays a few megabytes
CHUNK = 500
_FLUSH = 64 * 1024


@dataclass(frozen=True)
class FeedContext:
    """What the caller may read of one form, worked out once per request."""

    form_pk: int
    model: FormModel
    scope: str


def feed_context(db: Session, actor: Actor | None, slug: str, form_id: str) -> FeedContext:
    """The form's feed as the caller may see it (permission checked here, once)."""
    project, role = project_for(db, actor, slug, Action.SUBMISSION_VIEW)
    form = form_in(db, project, form_id)
    schema = merged_schema(db, form)
    model = build_model(form_id, schema, personal=allowed(role, Action.PERSONAL_DATA_VIEW))
    return FeedContext(form.id, model, consent_spec(project).analysis)


def _base(ctx: FeedContext, query: FeedQuery) -> Any:
    withdrawn = exists().where(ConsentWithdrawal.submission_id == Submission.id,
                               ConsentWithdrawal.scope.in_(("all", ctx.scope)))
    return and_(Submission.form_id == ctx.form_pk, ~withdrawn, query.condition())


def _chunk(db: Session, ctx: FeedContext, query: FeedQuery, first_id: int, offset: int,
           limit: int) -> list[Any]:
    """Up to ``limit`` submissions with id ≥ ``first_id``, in id order, with what the
    feed shows of each (a reviewer's latest edit, the number of edits)."""
    sv = aliased(SubmissionVersion)
    latest = (select(func.max(SubmissionVersion.version))
              .where(SubmissionVersion.submission_id == Submission.id).scalar_subquery())
    q = (select(Submission.id, Submission.instance_id, Submission.received_at,
                Submission.review_status, Submission.submitter_id, User.username,
                FormVersion.version, Submission.payload, sv.payload, sv.version, sv.at)
         .join(FormVersion, FormVersion.id == Submission.form_version_id)
         .outerjoin(User, User.id == Submission.submitter_id)
         .outerjoin(sv, and_(sv.submission_id == Submission.id, sv.version == latest))
         .where(_base(ctx, query), Submission.id >= first_id)
         .order_by(Submission.id).offset(offset).limit(limit))
    rows = db.execute(q).all()
    present = count_attachments(db, [r[0] for r in rows]) if rows else {}
    return [(*r, present.get(r[0], 0)) for r in rows]


def _count(db: Session, ctx: FeedContext, query: FeedQuery) -> int:
    return db.scalar(select(func.count()).select_from(Submission)
                     .where(_base(ctx, query))) or 0


def _iso(stamp: datetime | None) -> str | None:
    if stamp is None:
        return None
    return stamp.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _system(row: Any, payload: dict[str, Any], model: FormModel) -> dict[str, Any]:
    (_, _, received, status, submitter_id, username, version, _, _, edit_version, edited_at,
     present) = row
    return {"submissionDate": _iso(received), "updatedAt": _iso(edited_at),
            "deletedAt": None,
            "submitterId": None if submitter_id is None else str(submitter_id),
            "submitterName": username,
            "attachmentsPresent": present,
            "attachmentsExpected": len(expected_media(payload, model.schema)),
            "status": None, "reviewState": REVIEW_STATES.get(status),
            "deviceId": None, "edits": max(0, (edit_version or 1) - 1),
            "formVersion": version}


def _selector(model: FormModel, es: EntitySet, paths: tuple[str, ...] | None
              ) -> Callable[[dict[str, Any]], dict[str, Any]] | None:
    """The $select pruning of a row, after checking every path names a property."""
    if paths is None:
        return None
    known = model.property_paths(es)
    tree: dict[str, Any] = {}
    for p in paths:
        if p not in known:
            raise BadInput("odata.invalid_query", f"$select names {p!r}, which {es.name} "
                           "does not have (or you may not see).", where=Where(field="$select"))
        node = tree
        parts = p.split("/")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if node is True:
                break
        else:
            node[parts[-1]] = True

    def prune(row: dict[str, Any], spec: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, sub in spec.items():
            value = row.get(key)
            out[key] = value if sub is True or not isinstance(value, dict) else prune(value, sub)
        return out

    return lambda row: prune(row, tree)


def stream_feed(run: Runner[Any], ctx: FeedContext, table: str, params: Mapping[str, str],
                service_root: str, *, page_size: int | None = None) -> Iterator[str]:
    """The entity set ``table`` as OData JSON text, written as it is read.

    ``page_size`` (a client's ``Prefer: odata.maxpagesize``) caps the rows of this
    response; the rest are behind ``@odata.nextLink``. Options are checked before the
    first byte, so a bad request is a coded error, not a broken stream.
    """
    es = ctx.model.sets.get(table)
    if es is None:
        raise NotFound("not_found.route", f"The feed has no entity set {table!r}; the "
                       "service document lists them.")
    query = parse_query(params)
    params = dict(params)
    if page_size and (query.top is None or query.top > page_size):
        if query.top is not None:  # the next page asks for what is left of $top
            params["$top"] = str(query.top - page_size)
        query = dataclasses.replace(query, top=page_size)
    select_row = _selector(ctx.model, es, query.select)
    total = run(lambda db: _count(db, ctx, query)) if query.count and es.parent_key is None \
        else None
    return _write(run, ctx, es, query, select_row, total, service_root,
                  _next_link(service_root, table, params))


def _next_link(service_root: str, table: str, params: Mapping[str, str]
               ) -> Callable[[int, int], str]:
    kept = [(k, v) for k, v in params.items() if k not in ("$skip", "$skiptoken")]
    return lambda sid, n: (f"{service_root}/{table}?"
                           + urlencode([*kept, ("$skiptoken", skiptoken(sid, n))]))


def _write(run: Runner[Any], ctx: FeedContext, es: EntitySet, query: FeedQuery,
           select_row: Callable[[dict[str, Any]], dict[str, Any]] | None, total: int | None,
           service_root: str, next_link: Callable[[int, int], str]) -> Iterator[str]:
    model, main = ctx.model, es.parent_key is None
    yield ('{"@odata.context":' + json.dumps(f"{service_root}/$metadata#{es.name}")
           + ',"value":[')
    after_sid, resume = query.after or (0, 0)
    # a repeat's $count counts the rows of earlier pages too: read from the start
    first_id = 0 if query.count and not main else after_sid
    # on Submissions $skip is an OFFSET in the database; on a repeat, rows are counted
    offset, to_skip = (query.skip, 0) if main else (0, query.skip)
    top = query.top
    sent = counted = 0
    buf: list[str] = []
    size = 0
    link: str | None = None
    last = (0, 0)
    done = False
    while not done:
        # on Submissions a page needs $top rows and one more (is there a next page?)
        limit = CHUNK if not main or top is None else min(CHUNK, top - sent + 1)
        rows: list[Any] = run(partial(_chunk, ctx=ctx, query=query, first_id=first_id,
                                      offset=offset, limit=limit))
        offset = 0
        if not rows:
            break
        for row in rows:
            sid, iid = row[0], row[1]
            if main and top is not None and sent >= top:
                link, done = next_link(last[0], last[1]), True  # a row is left: next page
                break
            payload = row[8] if isinstance(row[8], dict) else row[7]
            system = _system(row, payload, model) if main else None
            items = model.rows(es, iid, payload, system)
            for n, item in enumerate(items, start=1):
                counted += 1
                if sid < after_sid or (sid == after_sid and n <= resume):
                    continue  # sent on an earlier page
                if to_skip:
                    to_skip -= 1
                    continue
                if top is not None and sent >= top:
                    if link is None:
                        link = next_link(last[0], last[1])
                    if main or not query.count:  # a repeat's $count reads to the end
                        done = True
                        break
                    continue
                text = json.dumps(select_row(item) if select_row else item,
                                  ensure_ascii=False, separators=(",", ":"))
                buf.append(text if not sent else "," + text)
                size += len(text)
                sent += 1
                last = (sid, n)
                if size >= _FLUSH:
                    yield "".join(buf)
                    buf, size = [], 0
            if done:
                break
        first_id = rows[-1][0] + 1
    yield "".join(buf) + "]"
    if link:
        yield ',"@odata.nextLink":' + json.dumps(link)
    if query.count:
        yield ',"@odata.count":' + str(total if total is not None else counted)
    yield "}"

