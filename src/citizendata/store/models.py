"""SQLAlchemy 2 models: the one schema for SQLite and PostgreSQL (Alembic owns its history)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

__all__ = [
    "ApiToken",
    "Attachment",
    "AuditEvent",
    "Base",
    "CaseVerification",
    "ConsentWithdrawal",
    "EncryptedFile",
    "EncryptedSubmission",
    "EncryptionKey",
    "EngagementStage",
    "Form",
    "FormAttachment",
    "FormVersion",
    "IntakeBatch",
    "Job",
    "LinkDecision",
    "LoginThrottle",
    "Membership",
    "Organisation",
    "OrganisationMember",
    "PrivacySpend",
    "Project",
    "ProjectPartner",
    "PublicLink",
    "PublicLinkThrottle",
    "QualityAttestation",
    "QualityDecision",
    "Release",
    "ReleaseSignoff",
    "ReviewEvent",
    "Submission",
    "SubmissionVersion",
    "Tombstone",
    "User",
    "utcnow",
]

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    """The current time, timezone-aware in UTC."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored in UTC and always read back timezone-aware (SQLite drops the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are refused: give a timezone")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


# JSONB on PostgreSQL (indexable, validated), JSON text on SQLite.
JSONType = JSON().with_variant(JSONB(), "postgresql")
# SQLite only auto-increments an INTEGER PRIMARY KEY.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    """Declarative base with stable constraint names for migrations."""

    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {dict[str, Any]: JSONType, datetime: UTCDateTime}


class Organisation(Base):
    """A CSO, NSO, government body, academic group or other organisation."""

    __tablename__ = "organisations"
    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(100), unique=True)
    name: Mapped[str] = mapped_column(String(300))
    kind: Mapped[str] = mapped_column(String(40), default="cso")
    country: Mapped[str | None] = mapped_column(String(3))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class User(Base):
    """A person with a login."""

    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(150), unique=True)
    display_name: Mapped[str | None] = mapped_column(String(300))
    email: Mapped[str | None] = mapped_column(String(300))
    password_hash: Mapped[str] = mapped_column(String(300))
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    organisation_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # the interface language the user chose (a code of citizendata.i18n.LANGUAGES), or none
    language: Mapped[str | None] = mapped_column(String(20))


class OrganisationMember(Base):
    """A user's membership of an organisation: only members attach it to a new project."""

    __tablename__ = "organisation_members"
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"),
                                                 primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True, index=True)
    role: Mapped[str] = mapped_column(String(20), default="member")  # owner | member
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class LoginThrottle(Base):
    """Failed log-ins counted per key (a keyed hash of a user name or a client address), so
    every server process over the database enforces one limit. No name or address is kept."""

    __tablename__ = "login_throttle"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    window_start: Mapped[datetime] = mapped_column(index=True)


class ApiToken(Base):
    """A bearer token for API clients; only its SHA-256 is stored."""

    __tablename__ = "api_tokens"
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(12))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column()
    revoked_at: Mapped[datetime | None] = mapped_column()


class Project(Base):
    """A citizen data initiative."""

    __tablename__ = "projects"
    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(100), unique=True)
    name: Mapped[str] = mapped_column(String(300))
    initiator_org_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id"))
    purpose: Mapped[str] = mapped_column(Text, default="")
    consent_basis: Mapped[str] = mapped_column(Text, default="")
    integration_intent: Mapped[str] = mapped_column(String(40), default="stand_alone")
    # the whole reviewable project spec as last saved (see citizendata.projects.spec)
    spec: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class ProjectPartner(Base):
    """An organisation taking part in a project, with its role (cso, nso, ...)."""

    __tablename__ = "project_partners"
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"), primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), primary_key=True)
    role: Mapped[str] = mapped_column(String(40))


class EngagementStage(Base):
    """The participation level (1–5) of citizens at one value-chain stage."""

    __tablename__ = "engagement_stages"
    __table_args__ = (CheckConstraint("level BETWEEN 1 AND 5", name="level_range"),)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"), primary_key=True)
    stage: Mapped[str] = mapped_column(String(40), primary_key=True)
    level: Mapped[int] = mapped_column(Integer)
    evidence: Mapped[str] = mapped_column(Text, default="")


class Membership(Base):
    """A user's role in a project."""

    __tablename__ = "memberships"
    __table_args__ = (UniqueConstraint("project_id", "user_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    role: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Form(Base):
    """A form of a project; its versions are kept forever."""

    __tablename__ = "forms"
    __table_args__ = (UniqueConstraint("project_id", "xml_form_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"), index=True)
    xml_form_id: Mapped[str] = mapped_column(String(200))
    title: Mapped[str] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class FormVersion(Base):
    """One uploaded XLSForm version with its XForm and parsed schema."""

    __tablename__ = "form_versions"
    __table_args__ = (UniqueConstraint("form_id", "version"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    form_id: Mapped[int] = mapped_column(ForeignKey("forms.id"), index=True)
    version: Mapped[str] = mapped_column(String(100))
    sha256: Mapped[str] = mapped_column(String(64))
    filename: Mapped[str] = mapped_column(String(300))
    xlsform: Mapped[bytes] = mapped_column(LargeBinary)
    xform_xml: Mapped[str] = mapped_column(Text)
    schema: Mapped[dict[str, Any]] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class FormAttachment(Base):
    """A file served with one form version (a CSV or XML list for select_one_from_file,
    pulldata() or search(), itemsets.csv, label media): phones download it from the
    OpenRosa manifest."""

    __tablename__ = "form_attachments"
    __table_args__ = (UniqueConstraint("form_version_id", "name"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    form_version_id: Mapped[int] = mapped_column(ForeignKey("form_versions.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    content_type: Mapped[str] = mapped_column(String(100))
    sha256: Mapped[str] = mapped_column(String(64))
    md5: Mapped[str] = mapped_column(String(32))  # the OpenRosa manifest's hash
    size: Mapped[int] = mapped_column(BigInteger)
    data: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class IntakeBatch(Base):
    """One intake request or imported file; every submission points to the batch it came in."""

    __tablename__ = "intake_batches"
    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"), index=True)
    form_id: Mapped[int] = mapped_column(ForeignKey("forms.id"))
    channel: Mapped[str] = mapped_column(String(20))
    filename: Mapped[str | None] = mapped_column(String(300))
    sha256: Mapped[str | None] = mapped_column(String(64))
    n_received: Mapped[int] = mapped_column(Integer, default=0)
    n_created: Mapped[int] = mapped_column(Integer, default=0)
    n_duplicates: Mapped[int] = mapped_column(Integer, default=0)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Submission(Base):
    """One received form instance, stored exactly as received.

    The reference columns carry no database foreign keys: PostgreSQL checks each one with
    a per-row trigger, which halves bulk-load throughput (docs/performance.md). Nothing
    they point to is ever deleted (form versions, users and batches are kept forever) and
    every id is looked up in the same transaction that writes the row.
    """

    __tablename__ = "submissions"
    __table_args__ = (
        UniqueConstraint("form_id", "instance_id"),
        Index("ix_submissions_form_id_id", "form_id", "id"),
        # review pages count and page a form's submissions by status
        Index("ix_submissions_form_status", "form_id", "review_status", "id"),
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    project_id: Mapped[int] = mapped_column(Integer)
    form_id: Mapped[int] = mapped_column(Integer)
    form_version_id: Mapped[int] = mapped_column(Integer)
    instance_id: Mapped[str] = mapped_column(String(255))
    payload: Mapped[dict[str, Any]] = mapped_column()
    content_hash: Mapped[str] = mapped_column(String(64))
    submitter_id: Mapped[int | None] = mapped_column(Integer)
    collected_at: Mapped[datetime | None] = mapped_column()
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    review_status: Mapped[str] = mapped_column(String(20), default="received")
    channel: Mapped[str] = mapped_column(String(20))
    batch_id: Mapped[int | None] = mapped_column(Integer)
    deprecated_id: Mapped[str | None] = mapped_column(String(255))
    source_meta: Mapped[dict[str, Any] | None] = mapped_column(JSONType)


class Attachment(Base):
    """A file sent with a submission (OpenRosa media, the original XML)."""

    __tablename__ = "attachments"
    __table_args__ = (UniqueConstraint("submission_id", "name"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    submission_id: Mapped[int] = mapped_column(BigId, ForeignKey("submissions.id"), index=True)
    name: Mapped[str] = mapped_column(String(300))
    content_type: Mapped[str] = mapped_column(String(200))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    data: Mapped[bytes] = mapped_column(LargeBinary)


class AuditEvent(Base):
    """One entry of the append-only audit log (database triggers refuse UPDATE and DELETE)."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_project_at", "project_id", "at"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # the actor's user name at the time, kept even if the user is renamed
    actor: Mapped[str] = mapped_column(String(150))
    action: Mapped[str] = mapped_column(String(60))
    project_id: Mapped[int | None] = mapped_column(ForeignKey("projects.id"))
    object_type: Mapped[str] = mapped_column(String(40))
    object_id: Mapped[str | None] = mapped_column(String(255))
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)


class ReviewEvent(Base):
    """One reviewer action on a submission: a decision (with its status) or a comment.

    Every validator's decision is kept, so agreement between validators can be measured;
    the submission's ``review_status`` is the latest decision.
    """

    __tablename__ = "review_events"
    __table_args__ = (Index("ix_review_events_submission", "submission_id", "id"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    submission_id: Mapped[int] = mapped_column(BigId, ForeignKey("submissions.id"))
    kind: Mapped[str] = mapped_column(String(20))  # decision | comment
    status: Mapped[str | None] = mapped_column(String(20))
    comment: Mapped[str | None] = mapped_column(Text)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    actor: Mapped[str] = mapped_column(String(150))
    at: Mapped[datetime] = mapped_column(default=utcnow)


class SubmissionVersion(Base):
    """A reviewer's edit of a submission: the whole new payload and the diff from the one
    before. The payload as received stays in ``submissions`` and is never changed."""

    __tablename__ = "submission_versions"
    __table_args__ = (UniqueConstraint("submission_id", "version"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    submission_id: Mapped[int] = mapped_column(BigId, ForeignKey("submissions.id"), index=True)
    version: Mapped[int] = mapped_column(Integer)  # 2, 3, … (1 is the submission as received)
    payload: Mapped[dict[str, Any]] = mapped_column()
    content_hash: Mapped[str] = mapped_column(String(64))
    diff: Mapped[dict[str, Any]] = mapped_column()
    reason: Mapped[str] = mapped_column(Text, default="")
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    actor: Mapped[str] = mapped_column(String(150))
    at: Mapped[datetime] = mapped_column(default=utcnow)


class ValidationRun(Base):
    """One run of the server-side checks over a form: when, by whom, and what it found."""

    __tablename__ = "validation_runs"
    id: Mapped[int] = mapped_column(primary_key=True)
    form_id: Mapped[int] = mapped_column(ForeignKey("forms.id"), index=True)
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column()
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    actor: Mapped[str] = mapped_column(String(150))
    submissions: Mapped[int] = mapped_column(Integer, default=0)
    rules: Mapped[int] = mapped_column(Integer, default=0)
    summary: Mapped[dict[str, Any]] = mapped_column(default=dict)


class Finding(Base):
    """One broken rule on one submission (or one repeat item of it), from the latest run.

    A rerun replaces a form's findings; reviewers' decisions stay in review_events.
    ``value`` is the answer as received, never kept for a personal field.
    """

    __tablename__ = "findings"
    __table_args__ = (Index("ix_findings_form_submission", "form_id", "submission_id"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("validation_runs.id"), index=True)
    form_id: Mapped[int] = mapped_column(ForeignKey("forms.id"))
    submission_id: Mapped[int] = mapped_column(BigId)
    item: Mapped[str | None] = mapped_column(String(300))  # births[2] for a repeat item
    rule: Mapped[str] = mapped_column(String(300))  # e.g. constraint:mother/age
    kind: Mapped[str] = mapped_column(String(40))
    field: Mapped[str] = mapped_column(String(300))
    severity: Mapped[str] = mapped_column(String(10))
    message: Mapped[str] = mapped_column(Text)
    value: Mapped[str | None] = mapped_column(Text)
    score: Mapped[float | None] = mapped_column(Float)


class DuplicatePair(Base):
    """Two submissions that may report the same thing, and what a reviewer said about it.

    Status: candidate → confirmed | dismissed | merged. Merging keeps both submissions:
    the later one is rejected as a duplicate and points to the one kept.
    """

    __tablename__ = "duplicate_pairs"
    __table_args__ = (UniqueConstraint("form_id", "submission_l", "submission_r"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    form_id: Mapped[int] = mapped_column(ForeignKey("forms.id"), index=True)
    submission_l: Mapped[int] = mapped_column(BigId)
    submission_r: Mapped[int] = mapped_column(BigId)
    method: Mapped[str] = mapped_column(String(20))  # exact | probable
    probability: Mapped[float] = mapped_column(Float)
    status: Mapped[str] = mapped_column(String(20), default="candidate")
    kept: Mapped[int | None] = mapped_column(BigId)  # after a merge: the submission kept
    decided_by: Mapped[str | None] = mapped_column(String(150))
    decided_at: Mapped[datetime | None] = mapped_column()
    found_at: Mapped[datetime] = mapped_column(default=utcnow)


class ReferenceTable(Base):
    """An official table a project uses: census margins, a geography, … (kept as canonical CSV).

    Replacing a table keeps the name; the audit log records each version's hash.
    """

    __tablename__ = "reference_tables"
    __table_args__ = (UniqueConstraint("project_id", "name"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(20), default="other")  # margins | geography | other
    source: Mapped[str] = mapped_column(Text, default="")
    sha256: Mapped[str] = mapped_column(String(64))
    columns: Mapped[list[str]] = mapped_column(JSONType)
    rows: Mapped[int] = mapped_column(Integer)
    content: Mapped[bytes] = mapped_column(LargeBinary)
    added_by: Mapped[str] = mapped_column(String(150))
    added_at: Mapped[datetime] = mapped_column(default=utcnow)


class EstimateRun(Base):
    """One run of an indicator: its tidy estimates, weighting diagnostics, coherence and provenance."""

    __tablename__ = "estimate_runs"
    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"), index=True)
    form_id: Mapped[int] = mapped_column(ForeignKey("forms.id"))
    indicator: Mapped[str] = mapped_column(String(100))
    actor: Mapped[str] = mapped_column(String(150))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    seconds: Mapped[float] = mapped_column(Float, default=0.0)
    result: Mapped[dict[str, Any]] = mapped_column()


class ConsentWithdrawal(Base):
    """A respondent's withdrawal of consent for one submission, for one scope or for all.

    Later snapshots, estimates and releases leave the submission out; the submission
    itself is kept (or erased, if asked) and nothing already published is changed.
    """

    __tablename__ = "consent_withdrawals"
    __table_args__ = (UniqueConstraint("submission_id", "scope"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"), index=True)
    form_id: Mapped[int] = mapped_column(ForeignKey("forms.id"), index=True)
    submission_id: Mapped[int] = mapped_column(BigId)
    instance_id: Mapped[str] = mapped_column(String(255))
    scope: Mapped[str] = mapped_column(String(40))  # "all" or a consent scope
    basis: Mapped[str] = mapped_column(String(40), default="respondent_request")
    erased: Mapped[bool] = mapped_column(default=False)
    recorded_by: Mapped[str] = mapped_column(String(150))
    at: Mapped[datetime] = mapped_column(default=utcnow)


class Tombstone(Base):
    """An instance id that intake must never store again, and nothing of its content.

    Written when consent is withdrawn for everything (``reason`` "withdrawn") or the
    answers are erased ("erased"), for every instance id of the ODK edit chain, and for
    each later edit or resend refused because of it. ``content_hash`` is the hash of the
    answers as they were stored (or of the bytes of a refused edit); ``submission_id`` is
    the stored envelope the id belongs to, so a refused resend is answered with its id.
    """

    __tablename__ = "submission_tombstones"
    __table_args__ = (UniqueConstraint("form_id", "instance_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"), index=True)
    form_id: Mapped[int] = mapped_column(ForeignKey("forms.id"))
    instance_id: Mapped[str] = mapped_column(String(255))
    content_hash: Mapped[str] = mapped_column(String(64))
    submission_id: Mapped[int] = mapped_column(BigId)
    reason: Mapped[str] = mapped_column(String(20))  # withdrawn | erased
    at: Mapped[datetime] = mapped_column(default=utcnow)


class EncryptionKey(Base):
    """An RSA key pair of a project's encrypted forms (ODK encryption).

    ``public_key`` is the base64 DER (SubjectPublicKeyInfo) that forms carry as
    ``base64RsaPublicKey``. ``sealed`` holds the private key sealed with a key derived
    from the passphrase (services/encryption.py); None while the owner of a form that
    came with its own public key has not registered the private key. ``managed`` keys
    were generated here and go into every form the project serves.
    """

    __tablename__ = "encryption_keys"
    __table_args__ = (UniqueConstraint("project_id", "fingerprint"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"), index=True)
    managed: Mapped[bool] = mapped_column(Boolean, default=False)
    public_key: Mapped[str] = mapped_column(Text)
    fingerprint: Mapped[str] = mapped_column(String(64))  # SHA-256 of the DER, hex
    sealed: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    hint: Mapped[str | None] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class EncryptedSubmission(Base):
    """An ODK encrypted submission, stored exactly as received and never decrypted at rest.

    ``envelope`` is the submission manifest XML (the OpenRosa XML part); the encrypted
    instance and media are its EncryptedFile rows. The instance id is the manifest's.
    """

    __tablename__ = "encrypted_submissions"
    __table_args__ = (UniqueConstraint("form_id", "instance_id"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"), index=True)
    form_id: Mapped[int] = mapped_column(ForeignKey("forms.id"))
    form_version_id: Mapped[int] = mapped_column(ForeignKey("form_versions.id"))
    instance_id: Mapped[str] = mapped_column(String(255))
    envelope: Mapped[bytes] = mapped_column(LargeBinary)
    content_hash: Mapped[str] = mapped_column(String(64))  # SHA-256 of the envelope bytes
    submitter_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    channel: Mapped[str] = mapped_column(String(20))


class EncryptedFile(Base):
    """One encrypted file of an encrypted submission (``submission.xml.enc``, ``*.enc``)."""

    __tablename__ = "encrypted_files"
    __table_args__ = (UniqueConstraint("encrypted_submission_id", "name"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    encrypted_submission_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("encrypted_submissions.id"), index=True)
    name: Mapped[str] = mapped_column(String(300))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    data: Mapped[bytes] = mapped_column(LargeBinary)


class PrivacySpend(Base):
    """One entry of a project's differential-privacy budget ledger (append only)."""

    __tablename__ = "privacy_budget"
    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"), index=True)
    label: Mapped[str] = mapped_column(String(200))
    epsilon: Mapped[float] = mapped_column(Float)
    delta: Mapped[float] = mapped_column(Float, default=0.0)
    mechanism: Mapped[str] = mapped_column(String(40))
    actor: Mapped[str] = mapped_column(String(150))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    details: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)


class QualityAttestation(Base):
    """A named person's statement on a quality dimension or gateway criterion (append only)."""

    __tablename__ = "quality_attestations"
    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"), index=True)
    dataset: Mapped[str] = mapped_column(String(100))  # a form id
    indicator: Mapped[str | None] = mapped_column(String(100))
    subject: Mapped[str] = mapped_column(String(100))  # a dimension, or gateway:<criterion>
    rating: Mapped[str] = mapped_column(String(20))
    statement: Mapped[str] = mapped_column(Text)
    by: Mapped[str] = mapped_column(String(150))
    role: Mapped[str] = mapped_column(String(20))
    on: Mapped[date] = mapped_column(Date)
    at: Mapped[datetime] = mapped_column(default=utcnow)


class QualityDecision(Base):
    """The NSO's confirmation or override of a fitness recommendation, with the record it saw."""

    __tablename__ = "quality_decisions"
    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"), index=True)
    dataset: Mapped[str] = mapped_column(String(100))
    indicator: Mapped[str | None] = mapped_column(String(100))
    recommendation: Mapped[str] = mapped_column(String(30))
    rule: Mapped[str] = mapped_column(String(20))
    decision: Mapped[str] = mapped_column(String(30))
    reason: Mapped[str] = mapped_column(Text, default="")
    by: Mapped[str] = mapped_column(String(150))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    record: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)


class Release(Base):
    """One versioned, immutable release bundle of a project, and where it stands.

    Status: draft → awaiting_signoff → published, or withdrawn (the record and the
    files are kept; public access ends).
    """

    __tablename__ = "releases"
    __table_args__ = (UniqueConstraint("project_id", "version"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(20), default="draft")
    as_of: Mapped[date] = mapped_column(Date)
    built_by: Mapped[str] = mapped_column(String(150))
    built_at: Mapped[datetime] = mapped_column(default=utcnow)
    # the newest consent withdrawal the build saw: a later one blocks publication
    withdrawals_seen: Mapped[int] = mapped_column(Integer, default=0)
    # the bundle's folder relative to the workspace, so a moved workspace still serves it
    # (rows written before migration 0009 may hold an absolute path)
    path: Mapped[str] = mapped_column(Text)
    manifest: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    published_at: Mapped[datetime | None] = mapped_column()
    withdrawn_at: Mapped[datetime | None] = mapped_column()


class ReleaseSignoff(Base):
    """A community representative's or the NSO's approval (or refusal) of a release."""

    __tablename__ = "release_signoffs"
    id: Mapped[int] = mapped_column(primary_key=True)
    release_id: Mapped[int] = mapped_column(ForeignKey("releases.id"), index=True)
    by: Mapped[str] = mapped_column(String(150))
    capacity: Mapped[str] = mapped_column(String(20))  # community | nso
    decision: Mapped[str] = mapped_column(String(10))  # approve | reject
    note: Mapped[str] = mapped_column(Text, default="")
    at: Mapped[datetime] = mapped_column(default=utcnow)


class Job(Base):
    """Long work asked for by a user and run in the background by a worker (services/jobs).

    ``state``: queued → running → done | failed | cancelled. A running job holds a lease
    (``worker`` and ``heartbeat_at``); when the lease runs out (the worker crashed or the
    server restarted) another worker claims it again, up to ``attempts`` tries.
    ``checkpoint`` is what a kind keeps between attempts (the release version it builds);
    ``result`` a JSON summary without personal data; ``done_url`` the page that shows it.
    """

    __tablename__ = "jobs"
    __table_args__ = (Index("ix_jobs_state_id", "state", "id"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"), index=True)
    kind: Mapped[str] = mapped_column(String(40))
    params: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    requested_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    state: Mapped[str] = mapped_column(String(20), default="queued")
    progress_done: Mapped[int] = mapped_column(Integer, default=0)
    progress_total: Mapped[int | None] = mapped_column(Integer)
    progress_message: Mapped[str] = mapped_column(String(300), default="")
    checkpoint: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    error_code: Mapped[str | None] = mapped_column(String(60))
    error_message: Mapped[str | None] = mapped_column(Text)
    done_url: Mapped[str | None] = mapped_column(String(500))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    cancel_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    worker: Mapped[str | None] = mapped_column(String(200))
    heartbeat_at: Mapped[datetime | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column()
    finished_at: Mapped[datetime | None] = mapped_column()


class PublicLink(Base):
    """A revocable public link to one form: anonymous submissions by whoever holds the URL.

    Only the SHA-256 of the link's token is kept (the token is shown once, at creation).
    ``submission_count`` is raised in the same transaction that stores a new submission,
    under a lock on this row, so ``max_submissions`` is never exceeded
    (services/public_links.py).
    """

    __tablename__ = "public_links"
    __table_args__ = (CheckConstraint("max_submissions IS NULL OR max_submissions > 0",
                                      name="max_positive"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"), index=True)
    form_id: Mapped[int] = mapped_column(ForeignKey("forms.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column()
    max_submissions: Mapped[int | None] = mapped_column(Integer)
    submission_count: Mapped[int] = mapped_column(Integer, default=0)
    revoked_at: Mapped[datetime | None] = mapped_column()
    revoked_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class PublicLinkThrottle(Base):
    """Public-link submissions counted per keyed hash of a client address and minute window,
    so every server process enforces one limit. No address is kept."""

    __tablename__ = "public_link_throttle"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    window_start: Mapped[datetime] = mapped_column(index=True)


class CaseVerification(Base):
    """One validator's decision on a case (a submission of the case form): append-only.

    The case's status is its latest decision (``verified`` or ``not_verified``; none:
    ``reported``); every earlier one stays, with the criteria checked and the evidence
    (services/cases.py).
    """

    __tablename__ = "case_verifications"
    __table_args__ = (Index("ix_case_verifications_submission", "submission_id", "id"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"), index=True)
    submission_id: Mapped[int] = mapped_column(BigId, ForeignKey("submissions.id"))
    decision: Mapped[str] = mapped_column(String(20))  # verified | not_verified
    criteria: Mapped[list[str]] = mapped_column(JSONType, default=list)  # codes met
    evidence: Mapped[str] = mapped_column(Text, default="")
    note: Mapped[str] = mapped_column(Text, default="")
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    actor: Mapped[str] = mapped_column(String(150))
    at: Mapped[datetime] = mapped_column(default=utcnow)


class LinkDecision(Base):
    """A clerical decision on a pair of source records (keys ``list:record_id``): append-only.

    The pair's decision is its latest row (``match``, ``non_match`` or ``unsure``); the
    left key is the smaller of the two, so a pair has one spelling (services/linkage.py).
    """

    __tablename__ = "link_decisions"
    __table_args__ = (Index("ix_link_decisions_pair", "project_id", "left_key", "right_key",
                            "id"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id"))
    left_key: Mapped[str] = mapped_column(String(300))
    right_key: Mapped[str] = mapped_column(String(300))
    decision: Mapped[str] = mapped_column(String(20))  # match | non_match | unsure
    note: Mapped[str] = mapped_column(Text, default="")
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    actor: Mapped[str] = mapped_column(String(150))
    at: Mapped[datetime] = mapped_column(default=utcnow)
