"""Public links: anonymous submissions to one form through a revocable URL.

A project's owner or manager creates a link for a form (ODK Central's "Public Access
Links", KoboToolbox's anonymous submissions): a random token in the URL, shown once
and kept only as its SHA-256, like an API token; an optional expiry and submission cap;
revocable at any time. Whoever holds the URL may fetch the form and submit to it,
nothing else.

Public submissions go through the same intake as every channel
(:func:`citizendata.services.intake.store_submissions`): idempotent by instance id (an
identical resend is a duplicate and changes nothing), tombstones of withdrawn consent
respected, the XML kept as an attachment. Each is stored with channel ``weblink`` and
``source_meta`` ``{"public_link": <link id>}``, and no submitter.

The cap is never exceeded, however many submit at once: the link's row is locked
(``SELECT … FOR UPDATE`` on PostgreSQL; SQLite's write transactions start with BEGIN
IMMEDIATE and so run one at a time) before the submission is stored, and its
``submission_count`` is raised in that same transaction only when a new submission was
stored. A duplicate of a stored submission is still answered as a duplicate once the
link is full, so a phone's queue that resends is told it was received.

Submissions are also counted per client address and minute (:func:`count_attempt`), in
the database so every server process enforces one limit; the address is kept only as
a keyed hash (HMAC-SHA-256 with the session key).
"""

from __future__ import annotations

import hashlib
import hmac
import math
import re
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, aliased

from citizendata.auth import Action, Actor, hash_token
from citizendata.config import DEFAULT_MAX_DEPTH
from citizendata.errors import (
    BadInput,
    Conflict,
    Gone,
    NotFound,
    TooManyRequests,
    Where,
)
from citizendata.services.access import audit, form_in, project_for
from citizendata.store.models import (
    EncryptedSubmission,
    Form,
    FormVersion,
    Project,
    PublicLink,
    PublicLinkThrottle,
    Tombstone,
    User,
    utcnow,
)

__all__ = [
    "CHANNEL",
    "LinkTarget",
    "PublicLinkInfo",
    "address_key",
    "count_attempt",
    "create_link",
    "list_links",
    "new_link_token",
    "public_attachment",
    "public_xform",
    "resolve",
    "revoke_link",
    "submit",
]

CHANNEL = "weblink"
MAX_NAME = 200
# what a token looks like (secrets.token_urlsafe(32): 43 characters); anything else is
# refused before the database is asked
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{20,100}$")
_INSERT: dict[str, Callable[..., Any]] = {"postgresql": pg_insert, "sqlite": sqlite_insert}


def new_link_token() -> str:
    """A fresh random link token (256 bits, URL-safe): shown once, stored only as a hash."""
    return secrets.token_urlsafe(32)


@dataclass(frozen=True)
class PublicLinkInfo:
    """A public link as its managers see it (never its token)."""

    id: int
    project: str
    form_id: str
    name: str
    created_by: str | None
    created_at: datetime
    expires_at: datetime | None
    max_submissions: int | None
    submissions: int
    revoked_at: datetime | None
    revoked_by: str | None

    def state(self, now: datetime | None = None) -> str:
        """active, revoked, expired or full."""
        now = now or utcnow()
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None and self.expires_at <= now:
            return "expired"
        if self.max_submissions is not None and self.submissions >= self.max_submissions:
            return "full"
        return "active"

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form."""
        def iso(d: datetime | None) -> str | None:
            return d.isoformat() if d is not None else None
        return {"id": self.id, "project": self.project, "form_id": self.form_id,
                "name": self.name, "state": self.state(), "created_by": self.created_by,
                "created_at": iso(self.created_at), "expires_at": iso(self.expires_at),
                "max_submissions": self.max_submissions, "submissions": self.submissions,
                "revoked_at": iso(self.revoked_at), "revoked_by": self.revoked_by}


@dataclass(frozen=True)
class LinkTarget:
    """What a valid token opens: the link, its project and form."""

    link_id: int
    name: str
    project_id: int
    slug: str
    form_pk: int
    form_id: str
    title: str
    project_name: str = ""


# -- managers ------------------------------------------------------------------------------

def _infos(db: Session, project: Project, where: Any) -> list[PublicLinkInfo]:
    creator, revoker = aliased(User), aliased(User)
    rows = db.execute(
        select(PublicLink, Form.xml_form_id, creator.username, revoker.username)
        .join(Form, Form.id == PublicLink.form_id)
        .outerjoin(creator, creator.id == PublicLink.created_by)
        .outerjoin(revoker, revoker.id == PublicLink.revoked_by)
        .where(PublicLink.project_id == project.id, where)
        .order_by(PublicLink.id.desc())).all()
    return [PublicLinkInfo(link.id, project.slug, form_id, link.name, made_by, link.created_at,
                           link.expires_at, link.max_submissions, link.submission_count,
                           link.revoked_at, gone_by)
            for link, form_id, made_by, gone_by in rows]


def create_link(db: Session, actor: Actor | None, slug: str, form_id: str, name: str, *,
                expires_at: datetime | None = None, max_submissions: int | None = None,
                now: datetime | None = None) -> tuple[PublicLinkInfo, str]:
    """A new public link to a form, and its token (returned once, never stored)."""
    project, _ = project_for(db, actor, slug, Action.PUBLIC_LINK_MANAGE)
    assert actor is not None
    form = form_in(db, project, form_id)
    if db.scalar(select(FormVersion.id).where(FormVersion.form_id == form.id).limit(1)) is None:
        raise NotFound("not_found.form_version", f"Form {form_id!r} has no version.")
    name = (name or "").strip()
    if not name or len(name) > MAX_NAME:
        raise BadInput("input.invalid", f"Give the link a name of 1–{MAX_NAME} characters.",
                       where=Where(field="name"),
                       fix="Name it after where it is shared, e.g. 'Radio Magadi, March'.")
    now = now or utcnow()
    if expires_at is not None:
        if expires_at.tzinfo is None:
            raise BadInput("input.invalid", "The expiry needs a time zone.",
                           where=Where(field="expires_at"),
                           fix="Give it in UTC, e.g. 2027-03-31T23:59:00Z.")
        if expires_at <= now:
            raise BadInput("input.invalid", "The expiry is in the past.",
                           where=Where(field="expires_at"), fix="Give a later date.")
    if max_submissions is not None and max_submissions < 1:
        raise BadInput("input.invalid", "The submission cap must be at least 1.",
                       where=Where(field="max_submissions"),
                       fix="Leave it empty for no cap.")
    token = new_link_token()
    link = PublicLink(project_id=project.id, form_id=form.id, token_hash=hash_token(token),
                      name=name, created_by=actor.user_id, created_at=now,
                      expires_at=expires_at, max_submissions=max_submissions,
                      submission_count=0)
    db.add(link)
    db.flush()
    audit(db, actor, "public_link.create", "public_link", link.id, project_id=project.id,
          details={"form_id": form_id, "name": name,
                   "expires_at": expires_at.isoformat() if expires_at else None,
                   "max_submissions": max_submissions})
    return _infos(db, project, PublicLink.id == link.id)[0], token


def list_links(db: Session, actor: Actor | None, slug: str, form_id: str | None = None
               ) -> list[PublicLinkInfo]:
    """The project's public links (of one form if given), newest first."""
    project, _ = project_for(db, actor, slug, Action.PUBLIC_LINK_MANAGE)
    if form_id is None:
        return _infos(db, project, PublicLink.id.is_not(None))
    form = form_in(db, project, form_id)
    return _infos(db, project, PublicLink.form_id == form.id)


def revoke_link(db: Session, actor: Actor | None, slug: str, link_id: int) -> PublicLinkInfo:
    """Switch a link off for good (revoking a revoked link changes nothing)."""
    project, _ = project_for(db, actor, slug, Action.PUBLIC_LINK_MANAGE)
    assert actor is not None
    link = db.scalar(select(PublicLink).where(PublicLink.id == link_id,
                                              PublicLink.project_id == project.id))
    if link is None:
        raise NotFound("weblink.unknown", f"Project {slug!r} has no public link {link_id}.",
                       fix="List the form's public links and use a link's id.")
    if link.revoked_at is None:
        link.revoked_at, link.revoked_by = utcnow(), actor.user_id
        db.flush()
        audit(db, actor, "public_link.revoke", "public_link", link.id, project_id=project.id,
              details={"name": link.name, "submissions": link.submission_count})
    return _infos(db, project, PublicLink.id == link.id)[0]


# -- the anonymous side ----------------------------------------------------------------------

def _unknown() -> NotFound:
    # the same answer for a malformed token and one that was never issued
    return NotFound("weblink.unknown", "There is no public link at this address.")


def _link_row(db: Session, token: str, *, lock: bool = False) -> PublicLink:
    if not isinstance(token, str) or not _TOKEN.match(token):
        raise _unknown()
    q = select(PublicLink).where(PublicLink.token_hash == hash_token(token))
    if lock:
        # concurrent submissions through one link take turns here (PostgreSQL); SQLite's
        # write transaction already holds the database
        q = q.with_for_update().execution_options(populate_existing=True)
    link = db.scalar(q)
    if link is None:
        raise _unknown()
    return link


def _check_open(link: PublicLink, now: datetime, *, full_too: bool) -> None:
    if link.revoked_at is not None:
        raise Gone("weblink.revoked", "This public link was switched off by the project.")
    if link.expires_at is not None and link.expires_at <= now:
        raise Gone("weblink.expired",
                   f"This public link expired on {link.expires_at:%Y-%m-%d %H:%M} UTC.")
    if full_too and link.max_submissions is not None and \
            link.submission_count >= link.max_submissions:
        raise _full(link)


def _full(link: PublicLink) -> Conflict:
    return Conflict("weblink.full", f"This public link has received the "
                    f"{link.max_submissions} submission(s) it was opened for.",
                    details={"max_submissions": link.max_submissions})


def _target(db: Session, link: PublicLink) -> LinkTarget:
    row = db.execute(select(Project.id, Project.slug, Form.id, Form.xml_form_id, Form.title,
                            Project.name)
                     .join(Form, Form.project_id == Project.id)
                     .where(Form.id == link.form_id)).one()
    return LinkTarget(link.id, link.name, row[0], row[1], row[2], row[3], row[4], row[5])


def resolve(db: Session, token: str, *, now: datetime | None = None) -> LinkTarget:
    """What a token opens, or a coded error: unknown (404), revoked or expired (410), full
    (409)."""
    link = _link_row(db, token)
    _check_open(link, now or utcnow(), full_too=True)
    return _target(db, link)


def public_xform(db: Session, token: str, version: str | None = None
                 ) -> tuple[LinkTarget, str, str]:
    """(the link's target, the version, its XForm XML): the newest version by default,
    served as ODK Collect gets it."""
    from citizendata.services.encryption import served_xform
    from citizendata.services.forms import version_row

    target = resolve(db, token)
    project = db.get(Project, target.project_id)
    assert project is not None
    _, fv = version_row(db, project, target.form_id, version)
    return target, fv.version, served_xform(db, project.id, fv.xform_xml)


def public_attachment(db: Session, token: str, name: str, version: str | None = None
                      ) -> tuple[str, str, bytes]:
    """(name, content type, bytes) of a file the link's form serves (newest version by
    default)."""
    from citizendata.services.forms import version_row
    from citizendata.store.models import FormAttachment

    target = resolve(db, token)
    project = db.get(Project, target.project_id)
    assert project is not None
    _, fv = version_row(db, project, target.form_id, version)
    row = db.scalar(select(FormAttachment).where(FormAttachment.form_version_id == fv.id,
                                                 FormAttachment.name == name))
    if row is None:
        raise NotFound("not_found.form_attachment",
                       f"Version {fv.version!r} of the form has no attachment {name!r}.")
    return row.name, row.content_type, row.data


def _context(db: Session, target: LinkTarget) -> Any:
    """The intake's view of the link's form, as a member's submission would have it."""
    from citizendata.services.forms import merged_from
    from citizendata.services.intake import FormContext

    rows = db.execute(select(FormVersion.id, FormVersion.version, FormVersion.sha256)
                      .where(FormVersion.form_id == target.form_pk)
                      .order_by(FormVersion.id)).all()
    if not rows:
        raise NotFound("not_found.form_version", f"Form {target.form_id!r} has no version.")
    versions: dict[str | None, int] = {r[1]: r[0] for r in rows}
    versions[None] = rows[-1][0]
    schema = merged_from(db, [r[0] for r in rows], tuple(r[2] for r in rows))
    buried = db.scalar(select(Tombstone.id).where(Tombstone.form_id == target.form_pk)
                       .limit(1)) is not None
    encrypted = db.scalar(select(EncryptedSubmission.id).where(
        EncryptedSubmission.form_id == target.form_pk).limit(1)) is not None
    return FormContext(target.project_id, target.slug, "public", target.form_pk,
                       target.form_id, versions, schema, buried, encrypted)


def _wrong_form(target: LinkTarget, got: str) -> BadInput:
    return BadInput("weblink.wrong_form",
                    f"The submission is of form {got!r}; this link takes form "
                    f"{target.form_id!r} only.", where=Where(field="form_id"))


def submit(db: Session, token: str, xml: bytes, media: Sequence[Any] = (), *,
           max_depth: int = DEFAULT_MAX_DEPTH, now: datetime | None = None) -> Any:
    """Store one XForm instance sent through a public link (the intake's IntakeResult).

    Refused: an unknown, revoked or expired link; a new submission once the link is full
    (a duplicate is still answered as one); an instance of another form; an encrypted
    submission. Nothing is stored then, and the link's count is unchanged.
    """
    from citizendata.ingest.openrosa import instance_head, parse_instance_xml
    from citizendata.services.encryption import encrypted_root
    from citizendata.services.intake import StoredAttachment, refuse_buried, store_submissions

    now = now or utcnow()
    link = _link_row(db, token, lock=True)
    _check_open(link, now, full_too=False)
    target = _target(db, link)
    if encrypted_root(xml, max_depth) is not None:
        raise BadInput("weblink.encrypted", "The submission is ODK-encrypted; a public link "
                       "takes the answers as the form's web page sends them.")
    ctx = _context(db, target)
    head = instance_head(xml, max_depth=max_depth)
    if head is not None:
        if head[0] != target.form_id:
            raise _wrong_form(target, head[0])
        refused = refuse_buried(db, None, target.slug, *head, channel=CHANNEL, context=ctx,
                                received_hash=hashlib.sha256(xml).hexdigest())
        if refused is not None:
            return refused

    def schema_for(form_id: str, _version: str | None) -> Any:
        if form_id != target.form_id:
            raise _wrong_form(target, form_id)
        return ctx.schema

    form_id, item = parse_instance_xml(xml, schema_for, max_depth=max_depth)
    item = replace(item, source_meta={**item.source_meta, "public_link": link.id})
    attachments = [StoredAttachment("xml_submission_file", "text/xml", xml), *media]
    result = store_submissions(db, None, target.slug, form_id, [item], channel=CHANNEL,
                               attachments=[attachments], context=ctx)
    if result.created:
        if link.max_submissions is not None and link.submission_count >= link.max_submissions:
            raise _full(link)  # the transaction's rollback undoes the stored submission
        link.submission_count += result.created
    return result


# -- the rate limit per client address ----------------------------------------------------

def address_key(secret: bytes, address: str | None) -> str:
    """The keyed hash an address is counted under (the address itself is never kept)."""
    return hmac.new(secret, f"weblink\0{address or '-'}".encode(), hashlib.sha256).hexdigest()


def count_attempt(db: Session, key: str, limit: int, *, window_s: int = 60,
                  now: datetime | None = None) -> None:
    """Count one public submission from an address, or refuse it (429) past ``limit`` per
    window (``limit`` 0: no limit). Run it in a transaction of its own, before the
    submission: a refused or failed submission still counts."""
    if limit <= 0:
        return
    now = now or utcnow()
    insert = _INSERT[db.get_bind().dialect.name]
    db.execute(insert(PublicLinkThrottle).values(key=key, attempts=0, window_start=now)
               .on_conflict_do_nothing(index_elements=["key"]))
    row = db.scalar(select(PublicLinkThrottle).where(PublicLinkThrottle.key == key)
                    .with_for_update().execution_options(populate_existing=True))
    assert row is not None
    if now - row.window_start >= timedelta(seconds=window_s):
        row.attempts, row.window_start = 0, now
    if row.attempts >= limit:
        wait = max(1, math.ceil((row.window_start + timedelta(seconds=window_s)
                                 - now).total_seconds()))
        raise TooManyRequests("weblink.rate_limited",
                              f"More than {limit} submissions from your address in "
                              f"{window_s} s; try again in {wait} s.",
                              details={"retry_after_s": wait})
    row.attempts += 1
    # forget windows that have long ended: the table stays small
    db.execute(delete(PublicLinkThrottle).where(
        PublicLinkThrottle.window_start < now - timedelta(seconds=2 * window_s + 60)))
