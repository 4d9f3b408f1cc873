"""The library API: a workspace (settings + database) and a client acting as one user.

Everything the CLI and the web server do is a call on these two classes, so a
statistician can do the same in a notebook::

    ws = Workspace.open("my-workspace")
    me = ws.login("amina", "a long password")
    me.add_form("kenya-maternal-health", "form.xlsx")
    me.import_file("kenya-maternal-health", "kenya_maternal_health", "export.csv")
    t = me.table("kenya-maternal-health", "kenya_maternal_health")   # an Ibis table
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import Connection, Engine, select
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from citizendata._lazy import lazy_module
from citizendata.auth import Action, Actor
from citizendata.config import Settings, get_settings
from citizendata.encryption_client import EncryptionMethods
from citizendata.errors import BadInput, ServerMisconfigured, Where
from citizendata.ingest.archive import archive_limits
from citizendata.ingest.depth import check_object_depth
from citizendata.integrate.cases_client import CasesMethods
from citizendata.integrate.client import IntegrationMethods
from citizendata.integrate.population_client import PopulationMethods
from citizendata.integrate.sae_client import SmallAreaMethods
from citizendata.jobs.client import JobsMethods
from citizendata.privacy.client import ProtectionMethods
from citizendata.projects.spec import ProjectSpec, load_spec
from citizendata.publish.client import ReleaseMethods
from citizendata.publish.odata.client import ODataMethods
from citizendata.quality.client import QualityMethods
from citizendata.services import accounts
from citizendata.services import projects as projects_svc
from citizendata.services.access import project_for
from citizendata.snapshot.client import SnapshotMethods
from citizendata.sources import read_source
from citizendata.stats.client import EstimationMethods
from citizendata.store.engine import make_engine, make_sessionmaker, traits
from citizendata.store.migrate import current_revision, head_revision, upgrade
from citizendata.store.models import AuditEvent, User
from citizendata.webforms.client import PublicLinkMethods
from citizendata.webforms.public import PublicLinkAccess

if TYPE_CHECKING:
    from citizendata.services import attachments as attachments_svc
    from citizendata.services import (
        bulk,
        duplicates,
        intake,
        logins,
        review,
        submissions,
        validation,
    )
    from citizendata.services import forms as forms_svc
    from citizendata.services import members as members_svc
    from citizendata.snapshot.cache import SnapshotStore
else:  # PyArrow, Ibis, DuckDB, pyxform: loaded on the first call that needs them, so that
    # importing the library (the CLI, the server) stays light (tests/test_cli_startup.py)
    bulk = lazy_module("citizendata.services.bulk")
    duplicates = lazy_module("citizendata.services.duplicates")
    intake = lazy_module("citizendata.services.intake")
    logins = lazy_module("citizendata.services.logins")
    review = lazy_module("citizendata.services.review")
    submissions = lazy_module("citizendata.services.submissions")
    validation = lazy_module("citizendata.services.validation")
    attachments_svc = lazy_module("citizendata.services.attachments")
    forms_svc = lazy_module("citizendata.services.forms")
    members_svc = lazy_module("citizendata.services.members")

__all__ = ["Client", "Workspace", "WriterBusy"]

T = TypeVar("T")


class WriterBusy(Exception):
    """Another writer holds the (SQLite) database and the caller asked not to wait."""


class Workspace(PublicLinkAccess):
    """Settings plus a migrated database; hands out clients that act as a user."""

    def __init__(self, settings: Settings, *, bind: Engine | Connection | None = None,
                 migrate: bool = True) -> None:
        self.settings = settings
        if settings.is_sqlite:
            settings.workspace.mkdir(parents=True, exist_ok=True)
        self.engine: Engine = (bind.engine if isinstance(bind, Connection) else bind) or \
            make_engine(settings.resolved_database_url, pool_size=settings.db_pool_size)
        if migrate:
            try:
                if current_revision(self.engine) != head_revision():
                    upgrade(self.engine)
            except OperationalError as exc:
                raise ServerMisconfigured(
                    "db.unavailable", f"The database cannot be reached: {exc.orig}") from exc
        self._sessions: sessionmaker[Session]
        self._read_sessions: sessionmaker[Session]
        self._consistent_sessions: sessionmaker[Session]
        # SQLite has one writer at a time: queue this process's writers on a lock rather
        # than on SQLite's busy handler, whose back-off sleeps make long latency tails
        self._write_lock: threading.Lock | None = None
        # tests: one connection for everything, so no background thread may use it
        self.shared_connection = isinstance(bind, Connection)
        if isinstance(bind, Connection):
            # tests: every session joins the caller's transaction through a savepoint
            self._sessions = sessionmaker(bind=bind, expire_on_commit=False,
                                          join_transaction_mode="create_savepoint")
            self._read_sessions = self._consistent_sessions = self._sessions
        else:
            self._sessions = make_sessionmaker(self.engine)
            self._read_sessions = make_sessionmaker(self.engine.execution_options(cd_read=True))
            level = traits(self.engine).consistent_isolation
            self._consistent_sessions = make_sessionmaker(self.engine.execution_options(
                cd_read=True, **({"isolation_level": level} if level else {})))
            # for callers that must not wait on another process's write (see try_submit)
            self._nowait_sessions = make_sessionmaker(
                self.engine.execution_options(cd_busy_ms=0))
            if self.engine.dialect.name == "sqlite":
                self._write_lock = threading.Lock()

    @classmethod
    def open(cls, path: str | Path | None = None, *, database_url: str | None = None,
             **overrides: Any) -> Workspace:
        """Open (and migrate) the workspace at ``path`` with settings from the environment."""
        return cls(get_settings(workspace=Path(path) if path else None,
                                database_url=database_url, **overrides))

    # -- transactions -----------------------------------------------------------
    @contextmanager
    def transaction(self, *, write: bool = True, wait: bool = True, consistent: bool = False
                    ) -> Iterator[Session]:
        """A session in one transaction: committed on success, rolled back on any error.

        With ``wait=False`` a write raises :class:`WriterBusy` at once instead of queueing
        behind another writer (only where writers are serialised, i.e. SQLite). A
        ``consistent`` read sees one state of the database throughout.
        """
        if not write:
            sessions = self._consistent_sessions if consistent else self._read_sessions
            with sessions() as db, db.begin():
                yield db
            return
        lock = self._write_lock
        if lock is None:
            with self._sessions() as db, db.begin():
                yield db
            return
        if not lock.acquire(blocking=wait):
            raise WriterBusy
        try:
            sessions = self._sessions if wait else self._nowait_sessions
            try:
                with sessions() as db, db.begin():
                    yield db
            except OperationalError as exc:
                if wait or "locked" not in str(exc.orig):
                    raise
                raise WriterBusy from None  # another process is writing
        finally:
            lock.release()

    @property
    def single_writer(self) -> bool:
        """True where writes are serialised (SQLite): a short write may run on the caller's
        thread without losing parallelism."""
        return self._write_lock is not None

    def run(self, fn: Callable[..., T], *args: Any, retry_integrity: bool = False,
            write: bool = True, wait: bool = True, consistent: bool = False, **kwargs: Any
            ) -> T:
        """Call ``fn(db, *args)`` in a transaction (retried once after a lost insert race)."""
        try:
            with self.transaction(write=write, wait=wait, consistent=consistent) as db:
                return fn(db, *args, **kwargs)
        except IntegrityError:
            if not retry_integrity:
                raise
            # a concurrent resend won the race; the retry sees it and answers as a duplicate
            with self.transaction(write=write, wait=wait, consistent=consistent) as db:
                return fn(db, *args, **kwargs)

    # -- who acts ---------------------------------------------------------------
    def has_users(self) -> bool:
        """True once any user exists."""
        with self.transaction(write=False) as db:
            return db.scalar(select(User.id).limit(1)) is not None

    def create_admin(self, username: str, password: str, *, display_name: str | None = None
                     ) -> Client:
        """Create the first administrator of an empty workspace and act as them."""
        def go(db: Session) -> Actor:
            first = db.scalar(select(User.id).limit(1)) is None
            if not first:
                raise BadInput("input.invalid", "This workspace already has users; an "
                               "administrator must create new ones.")
            accounts.create_user(db, None, username, password, display_name=display_name,
                                 is_admin=True, bootstrap=True)
            return accounts.actor_for(accounts.user_by_name(db, username))
        return Client(self, self.run(go))

    def login(self, username: str, password: str, *, address: str | None = None) -> Client:
        """A client acting as the user whose password this is.

        Failed log-ins are counted in the database, per user name and per client
        ``address``, so every process over it enforces one limit (429 past it).
        """
        s = self.settings
        limits = logins.limits_for(s.session_secret().encode(), username, address,
                                   per_user=s.login_max_failures,
                                   per_address=s.login_max_failures_per_address,
                                   window_s=s.login_window_s)
        self.run(logins.begin_attempt, limits)
        actor = self.run(accounts.authenticate, username, password, write=False)
        self.run(logins.succeeded, limits)
        return Client(self, actor)

    def with_token(self, token: str) -> Client:
        """A client acting as the owner of an API token, checked inside each call's own
        transaction (one round trip fewer per API request)."""
        return Client(self, token=token)

    def as_user(self, username: str) -> Client:
        """A client acting as a user without a password: for local use by whoever holds the
        workspace files (the CLI, a notebook); the server never calls this."""
        return Client(self, self.run(lambda db: accounts.actor_for(
            accounts.user_by_name(db, username)), write=False))

    def snapshot_store(self, slug: str, form_id: str, *, personal: bool = False
                       ) -> SnapshotStore:
        """Where a form's snapshots are kept in this workspace (with personal fields in a
        folder of their own, so a snapshot without them is never mistaken for one with)."""
        from citizendata.snapshot.cache import SnapshotStore

        root = (self.settings.workspace / "snapshots").resolve()
        form = (root / slug / form_id).resolve()
        if not form.is_relative_to(root) or form.parent.parent != root:
            raise BadInput("input.invalid", f"{slug!r}/{form_id!r} is not a folder name.")
        return SnapshotStore(form / ("personal" if personal else "plain"),
                             legacy=form / ("latest-personal" if personal else "latest"))

    def snapshot_dir(self, slug: str, form_id: str, *, personal: bool = False) -> Path:
        """The folder of a form's snapshots (one sub-folder per content)."""
        return self.snapshot_store(slug, form_id, personal=personal).folder

    def drop_snapshots(self, slug: str, form_id: str) -> None:
        """Delete every snapshot of a form, once any build under way has finished."""
        for personal in (False, True):
            self.snapshot_store(slug, form_id, personal=personal).clear()
        from citizendata.quality.cache import QualityCache  # records made from them go too

        QualityCache.of(self.settings.workspace, slug, form_id).clear()

    def close(self) -> None:
        """Release database connections."""
        self.engine.dispose()


class Client(QualityMethods, ReleaseMethods, ProtectionMethods, SnapshotMethods,
             EstimationMethods, EncryptionMethods, ODataMethods, JobsMethods, PublicLinkMethods,
             IntegrationMethods, CasesMethods, SmallAreaMethods, PopulationMethods):
    """One user's view of a workspace: every call is permission-checked for that user."""

    def __init__(self, workspace: Workspace, actor: Actor | None = None, *,
                 token: str | None = None) -> None:
        if actor is None and token is None:
            raise ValueError("give an actor or a token")
        self.workspace = workspace
        self._actor = actor
        self._token = token

    @property
    def actor(self) -> Actor:
        """Who this client acts as (a token is checked on first use)."""
        if self._actor is None:
            self._actor = self.workspace.run(accounts.resolve_token, self._token, write=False)
        return self._actor

    def _who(self, db: Session) -> Actor:
        if self._actor is None:
            self._actor = accounts.resolve_token(db, str(self._token))
        return self._actor

    def _run(self, fn: Callable[..., T], *args: Any, write: bool = True,
             retry_integrity: bool = False, wait: bool = True, consistent: bool = False,
             **kwargs: Any) -> T:
        return self.workspace.run(lambda db: fn(db, self._who(db), *args, **kwargs), write=write,
                                  retry_integrity=retry_integrity, wait=wait,
                                  consistent=consistent)

    def _read(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        return self._run(fn, *args, write=False, **kwargs)

    # -- users and tokens ---------------------------------------------------------
    def create_user(self, username: str, password: str, *, display_name: str | None = None,
                    is_admin: bool = False) -> accounts.UserInfo:
        """Create a user (administrators only)."""
        return self._run(accounts.create_user, username, password, display_name=display_name,
                         is_admin=is_admin)

    def create_token(self, name: str) -> str:
        """A new API token for this user; shown once."""
        return self._run(accounts.create_token, name)

    def revoke_tokens(self, name: str | None = None) -> int:
        """Revoke this user's tokens (all, or those with a name); returns how many."""
        return self._run(accounts.revoke_tokens, name)

    def language(self) -> str | None:
        """The interface language this user chose, or None (the browser decides)."""
        return self._read(accounts.user_language)

    def set_language(self, language: str | None) -> str | None:
        """Keep this user's interface language (a code of ``citizendata.i18n.LANGUAGES``)."""
        return self._run(accounts.set_language, language)

    # -- organisations -----------------------------------------------------------
    def create_organisation(self, slug: str, name: str, *, kind: str = "cso",
                            country: str | None = None) -> accounts.OrganisationInfo:
        """Create an organisation (administrators only)."""
        from pydantic import ValidationError

        from citizendata.projects.spec import OrganisationRef

        try:
            ref = OrganisationRef(slug=slug, name=name, kind=kind, country=country)
        except ValidationError as exc:
            first = exc.errors()[0]
            field = ".".join(str(p) for p in first["loc"])
            raise BadInput("input.invalid", f"{field}: {first['msg']}",
                           where=Where(field=field)) from None
        return self._run(accounts.create_organisation, ref)

    def add_organisation_member(self, slug: str, username: str, role: str = "member"
                                ) -> dict[str, str]:
        """Make a user a member (or owner) of an organisation (administrators, its owners)."""
        return self._run(accounts.add_organisation_member, slug, username, role)

    def organisations(self) -> list[accounts.OrganisationInfo]:
        """The organisations this user belongs to (an administrator: all)."""
        return self._read(accounts.list_organisations)

    # -- projects -----------------------------------------------------------------
    def create_project(self, spec: ProjectSpec | dict[str, Any] | str | Path
                       ) -> projects_svc.ProjectInfo:
        """Create a project from a spec (object, dict, YAML/JSON text or file)."""
        if not isinstance(spec, ProjectSpec):
            spec = load_spec(Path(spec) if isinstance(spec, str) and Path(spec).exists()
                             else spec, max_depth=self.workspace.settings.max_depth)
        return self._run(projects_svc.create_project, spec)

    def update_project(self, spec: ProjectSpec) -> projects_svc.ProjectInfo:
        """Replace a project's spec."""
        return self._run(projects_svc.update_project, spec)

    def projects(self) -> list[projects_svc.ProjectInfo]:
        """The projects this user is a member of."""
        return self._read(projects_svc.list_projects)

    def project(self, slug: str) -> projects_svc.ProjectInfo:
        """One project."""
        return self._read(projects_svc.get_project, slug)

    def add_member(self, slug: str, username: str, role: str) -> projects_svc.MemberInfo:
        """Give a user a role in a project."""
        return self._run(projects_svc.add_member, slug, username, role)

    def assignable_roles(self, slug: str) -> list[str]:
        """The roles this user may hand out in a project (an owner: all seven)."""
        return self._read(members_svc.assignable_roles, slug)

    def invite_member(self, slug: str, username: str, role: str, *,
                      display_name: str | None = None) -> tuple[projects_svc.MemberInfo, str]:
        """Create a user with a one-time password (returned once) and give them a role."""
        return self._run(members_svc.invite_member, slug, username, role,
                         display_name=display_name)

    def member_actions(self, slug: str) -> dict[str, dict[str, bool]]:
        """Per member, what this user may do to them (change, remove, reset, revoke)."""
        return self._read(members_svc.member_actions, slug)

    def remove_member(self, slug: str, username: str) -> None:
        """Take a member out of a project (never its last owner)."""
        self._run(members_svc.remove_member, slug, username)

    def reset_member_password(self, slug: str, username: str) -> str:
        """A new one-time password for a member (returned once), if they have no access
        this user lacks (services/members.py)."""
        return self._run(members_svc.reset_member_password, slug, username)

    def revoke_member_tokens(self, slug: str, username: str) -> int:
        """Revoke every API token of a member; returns how many were live."""
        return self._run(members_svc.revoke_member_tokens, slug, username)

    def members(self, slug: str) -> list[projects_svc.MemberInfo]:
        """The members of a project."""
        return self._read(projects_svc.list_members, slug)

    def engagement(self, slug: str) -> dict[str, Any]:
        """The project's engagement record and citizen-data threshold verdict."""
        return self._read(projects_svc.engagement_record, slug)

    # -- forms ----------------------------------------------------------------------
    def add_form(self, slug: str, source: str | Path | bytes, filename: str | None = None,
                 *, attachments: Mapping[str, bytes] | Sequence[str | Path] | None = None
                 ) -> forms_svc.FormVersionInfo:
        """Upload an XLSForm (a new form or a new version of one) with the files it serves
        to phones (``attachments``: name → bytes, or paths), e.g. the CSV of a
        select_one_from_file question."""
        data, name = read_source(source, filename)
        if attachments is not None and not isinstance(attachments, Mapping):
            attachments = {Path(p).name: Path(p).read_bytes() for p in attachments}
        settings = self.workspace.settings
        return self._run(forms_svc.add_form, slug, data, name,
                         limits=archive_limits(settings, form=True), max_depth=settings.max_depth,
                         attachments=attachments)

    def form_attachments(self, slug: str, form_id: str, version: str | None = None
                         ) -> list[forms_svc.AttachmentInfo]:
        """The files served with a form version (the newest by default)."""
        return self._read(forms_svc.form_attachments, slug, form_id, version)

    def form_attachment(self, slug: str, form_id: str, name: str, version: str | None = None
                        ) -> tuple[forms_svc.AttachmentInfo, bytes]:
        """One file served with a form version (the newest by default) and its bytes."""
        return self._read(forms_svc.form_attachment, slug, form_id, name, version)

    def forms(self, slug: str) -> list[forms_svc.FormInfo]:
        """The forms of a project."""
        return self._read(forms_svc.list_forms, slug)

    def form(self, slug: str, form_id: str) -> forms_svc.FormInfo:
        """One form."""
        return self._read(forms_svc.get_form, slug, form_id)

    def xform(self, slug: str, form_id: str, version: str | None = None
              ) -> tuple[forms_svc.FormVersionInfo, str]:
        """A version's XForm XML (the newest when version is None), for ODK Collect and Enketo."""
        return self._read(forms_svc.xform_for, slug, form_id, version)

    def form_versions(self, slug: str, form_id: str) -> list[forms_svc.FormVersionInfo]:
        """Every version of a form, oldest first."""
        return self._read(forms_svc.form_versions, slug, form_id)

    # -- intake -----------------------------------------------------------------------
    def try_submit(self, slug: str, form_id: str, body: bytes, *, channel: str = "json"
                   ) -> intake.IntakeResult | None:
        """Like submit, but None at once if another writer holds the database (SQLite)."""
        try:
            return self.submit(slug, form_id, body, channel=channel, wait=False)
        except WriterBusy:
            return None

    def submit(self, slug: str, form_id: str, body: bytes | str | dict[str, Any] | list[Any],
               *, channel: str = "json", wait: bool = True) -> intake.IntakeResult:
        """Submit one submission or a batch (≤ max_batch) as JSON."""
        from citizendata.ingest.payload import parse_json_body

        settings = self.workspace.settings
        if isinstance(body, (dict, list)):
            check_object_depth(body, settings.max_depth, what="The submission")
        raw = body if isinstance(body, bytes) else (
            body.encode() if isinstance(body, str) else _json_bytes(body))

        limit = self.workspace.settings.max_batch

        # one transaction: on SQLite, fewer lock hand-offs beat parsing outside the lock
        def go(db: Session, actor: Actor) -> intake.IntakeResult:
            ctx = intake.form_context(db, actor, slug, form_id)
            items = parse_json_body(raw, ctx.schema, max_batch=limit,
                                    max_depth=settings.max_depth)
            return intake.store_submissions(db, actor, slug, form_id, items, channel=channel,
                                            context=ctx)
        return self._run(go, retry_integrity=True, wait=wait)

    def submit_items(self, slug: str, form_id: str,
                     items: Sequence[Any], *, channel: str = "json",
                     attachments: Sequence[Sequence[intake.StoredAttachment]] = ()
                     ) -> intake.IntakeResult:
        """Store already-parsed submissions (used by the OpenRosa endpoint)."""
        return self._run(intake.store_submissions, slug, form_id, items, channel=channel,
                         attachments=attachments, retry_integrity=True)

    def submit_instance(self, slug: str, xml: bytes,
                        media: Sequence[intake.StoredAttachment] = (), *,
                        channel: str = "openrosa") -> intake.IntakeResult:
        """Store one XForm instance (OpenRosa, ODK Collect, a web form) and its media."""
        return self._run(intake.store_instance_xml, slug, xml, media, retry_integrity=True,
                         channel=channel, max_depth=self.workspace.settings.max_depth)

    def form_schema(self, slug: str, form_id: str) -> Any:
        """The form's schema merged over all its versions (what intake validates against)."""
        return self._read(lambda db, actor: intake.form_context(db, actor, slug, form_id,
                                                                Action.FORM_VIEW).schema)

    def import_file(self, slug: str, form_id: str, source: str | Path | bytes,
                    filename: str | None = None,
                    progress: Callable[[str], None] | None = None, *,
                    encoding: str | None = None,
                    version_map: dict[str, str] | None = None) -> intake.IntakeResult:
        """Import a CSV or XLSX export (KoboToolbox, ODK Central or plain), all or nothing.

        A CSV that is not UTF-8 (nor UTF-16 with a byte order mark) is refused unless
        ``encoding`` names its encoding (e.g. "cp1252"); nothing is guessed. ODK
        Central's zip (main CSV and repeat CSVs) is read whole. KoboToolbox's
        ``__version__`` ids are matched to the form's versions by the rows' answers, or
        by ``version_map`` ({kobo id: form version}) where given.
        """
        from citizendata.ingest.tabular import read_tabular

        data, name = read_source(source, filename)
        sha = hashlib.sha256(data).hexdigest()
        limits = archive_limits(self.workspace.settings)

        def go(db: Session, actor: Actor) -> intake.IntakeResult:
            form = intake.form_context(db, actor, slug, form_id)
            ids = sorted({i for v, i in form.versions.items() if v is not None})
            context = bulk.export_context(db, ids, version_map)
            if progress:
                progress("reading and checking the file")
            tab = read_tabular(data, name, form.schema, encoding=encoding, limits=limits,
                               context=context)
            channel = "xlsx" if name.lower().endswith((".xlsx", ".xls")) else "csv"
            return bulk.import_table(db, actor, slug, form_id, tab.table, channel=channel,
                                     filename=name, sha256=sha, progress=progress)
        return self._run(go)

    def check_import(self, slug: str, form_id: str, source: str | Path | bytes,
                     filename: str | None = None, *, encoding: str | None = None,
                     version_map: dict[str, str] | None = None) -> int:
        """Read and check a file as :meth:`import_file` does, storing nothing: every
        structural problem is raised at once (import.structure); returns the row count.

        Pages run it before handing the file to a background import, so the person sees
        each problem's row and column at once; resends and conflicts with stored
        submissions are found by the import itself.
        """
        from citizendata.ingest.tabular import read_tabular

        data, name = read_source(source, filename)
        limits = archive_limits(self.workspace.settings)

        def go(db: Session, actor: Actor) -> int:
            form = intake.form_context(db, actor, slug, form_id)
            ids = sorted({i for v, i in form.versions.items() if v is not None})
            context = bulk.export_context(db, ids, version_map)
            tab = read_tabular(data, name, form.schema, encoding=encoding, limits=limits,
                               context=context)
            bulk.check_table(db, form.form_pk, tab.table, name)
            return int(tab.table.num_rows)
        return self._read(go)

    # -- reading ------------------------------------------------------------------------
    def submissions(self, slug: str, form_id: str, *, limit: int = 100, offset: int = 0,
                    review_status: str | None = None) -> tuple[int, list[dict[str, Any]]]:
        """A page of submissions, newest first, and the total."""
        return self._read(submissions.list_submissions, slug, form_id, limit=limit,
                         offset=offset, review_status=review_status)

    def submission(self, slug: str, form_id: str, instance_id: str) -> dict[str, Any]:
        """One submission."""
        return self._read(submissions.get_submission, slug, form_id, instance_id)

    def attachments(self, slug: str, form_id: str, instance_id: str
                    ) -> attachments_svc.AttachmentList:
        """A submission's attachments (sent and missing) that you may see."""
        return self._read(attachments_svc.list_attachments, slug, form_id, instance_id)

    def attachment(self, slug: str, form_id: str, instance_id: str, name: str
                   ) -> tuple[attachments_svc.AttachmentInfo, bytes]:
        """One attachment of a submission and its bytes."""
        return self._read(attachments_svc.get_attachment, slug, form_id, instance_id, name)

    def export_attachments(self, slug: str, form_id: str, out_dir: str | Path, *,
                           include_personal: bool = False) -> attachments_svc.ExportSummary:
        """Write the attachments of the submissions a snapshot holds into ``out_dir``
        (one folder per submission, index.csv and missing.csv)."""
        summary = self._read(attachments_svc.export_attachments, slug, form_id, Path(out_dir),
                             include_personal=include_personal)
        self._run(attachments_svc.audit_export, slug, form_id, summary, include_personal)
        return summary

    def table(self, slug: str, form_id: str, repeat: str | None = None, *,
              reviewed: bool = True) -> Any:
        """A form's submissions as a typed Ibis table (a repeat group's table if named).

        By default only the submissions the project lets into analysis: approved ones,
        or all but rejected ones (project option ``validation.analytics``). Give
        ``reviewed=False`` for every submission, whatever its review status.
        """
        snap = self.open_snapshot(slug, form_id)
        table = snap.table(repeat)
        if not reviewed:
            return table
        statuses = list(self._read(validation.project_statuses, slug))
        main = snap.table()
        keep = main.filter(main._review_status.isin(statuses)).select("_id")
        if repeat is None:
            return table.filter(table._review_status.isin(statuses))
        return table.semi_join(keep, table._submission_id == keep._id)

    # -- validation ------------------------------------------------------------------------
    def validate(self, slug: str, form_id: str, *, today: date | None = None,
                 progress: Callable[[int], None] | None = None) -> validation.ValidationReport:
        """Check every submission of a form on the server and store the findings.

        Submissions still 'received' that break an error-level rule move to 'has_issues'.
        """
        computed = self._read(validation.compute, slug, form_id, today=today,
                              progress=progress)
        return self._run(validation.store, slug, form_id, computed)

    def findings(self, slug: str, form_id: str, *, instance_id: str | None = None,
                 severity: str | None = None, kind: str | None = None,
                 rule: str | None = None, limit: int = 500, offset: int = 0
                 ) -> tuple[list[dict[str, Any]], int]:
        """A page of the form's stored findings and their total."""
        return self._read(validation.findings, slug, form_id, instance_id=instance_id,
                          severity=severity, kind=kind, rule=rule, limit=limit, offset=offset)

    def findings_summary(self, slug: str, form_id: str) -> list[dict[str, Any]]:
        """Findings counted per rule."""
        return self._read(validation.findings_summary, slug, form_id)

    def review_queue(self, slug: str, form_id: str, *,
                     statuses: Sequence[str] = ("has_issues", "received", "edited"),
                     limit: int = 100, offset: int = 0) -> tuple[list[dict[str, Any]], int]:
        """Submissions awaiting review, those with errors first."""
        return self._read(validation.review_queue, slug, form_id, statuses=statuses,
                          limit=limit, offset=offset)

    def duplicate_pairs(self, slug: str, form_id: str, *, status: str | None = None,
                        limit: int | None = None) -> list[duplicates.PairInfo]:
        """Exact and probable duplicate pairs found by validation, most likely first."""
        return self._read(duplicates.duplicate_pairs, slug, form_id, status=status,
                          limit=limit)

    def duplicate_pair_counts(self, slug: str, form_id: str) -> dict[str, int]:
        """How many duplicate pairs are in each status (candidate, confirmed, …)."""
        return self._read(duplicates.count_pairs, slug, form_id)

    def decide_pair(self, slug: str, form_id: str, pair_id: int, action: str, *,
                    keep: str | None = None) -> duplicates.PairInfo:
        """Confirm, dismiss or merge a duplicate pair (a merge keeps both originals)."""
        return self._run(duplicates.decide_pair, slug, form_id, pair_id, action, keep=keep)

    # -- review ----------------------------------------------------------------------------
    def decide(self, slug: str, form_id: str, instance_ids: str | Sequence[str], status: str,
               comment: str | None = None) -> int:
        """Record your decision (has_issues, approved, rejected) on one or many submissions."""
        ids = [instance_ids] if isinstance(instance_ids, str) else list(instance_ids)
        return self._run(review.decide, slug, form_id, ids, status, comment)

    def comment(self, slug: str, form_id: str, instance_id: str, text: str) -> None:
        """Comment on a submission."""
        self._run(review.comment, slug, form_id, instance_id, text)

    def edit(self, slug: str, form_id: str, instance_id: str, changes: dict[str, Any],
             reason: str) -> int:
        """Change answers as a new version (the original is kept); returns the version."""
        return self._run(review.edit, slug, form_id, instance_id, changes, reason)

    def approve_clean(self, slug: str, form_id: str, *, dry_run: bool = False
                      ) -> review.CleanApproval:
        """Approve every submission awaiting review that the latest validation run found
        without errors (and in no undecided duplicate pair); returns the counts."""
        return self._run(review.approve_clean, slug, form_id, dry_run=dry_run,
                         write=not dry_run)

    def review_page(self, slug: str, form_id: str,
                    filters: validation.QueueFilter | None = None, *, after: int | None = None,
                    before: int | None = None, limit: int = 50, offset: int | None = None
                    ) -> validation.QueuePage:
        """A page of the review queue, filtered, by keyset (fast however deep)."""
        return self._read(validation.queue_page, slug, form_id, filters, after=after,
                          before=before, limit=limit, offset=offset)

    def review_counts(self, slug: str) -> dict[str, dict[str, int]]:
        """Per form of the project: how many submissions are in each review status."""
        return self._read(validation.status_counts, slug)

    def submission_answers(self, slug: str, form_id: str, instance_ids: Sequence[str]
                           ) -> tuple[Any, list[review.SubmissionAnswers]]:
        """The form's schema and these submissions' current answers, as your role sees them."""
        return self._read(review.answers, slug, form_id, list(instance_ids))

    def review_boundaries(self, slug: str) -> dict[str, Any] | None:
        """The project's finest boundary file, to place a submission's GPS point."""
        return self._read(review.boundaries, slug)

    def review_history(self, slug: str, form_id: str, instance_id: str
                       ) -> list[review.ReviewEntry]:
        """A submission's decisions, comments and edits, oldest first."""
        return self._read(review.history, slug, form_id, instance_id)

    def decisions(self, slug: str, form_id: str) -> list[tuple[str, str, str]]:
        """Each validator's latest decision per submission (for validator agreement)."""
        return self._read(review.decisions, slug, form_id)

    def validator_agreement(self, slug: str, form_id: str) -> dict[str, Any]:
        """Cohen's kappa per pair of validators and Fleiss' kappa for three or more."""
        return self._read(review.agreement, slug, form_id)

    # -- estimation --------------------------------------------------------------------------
    def exact_duplicates(self, slug: str, form_id: str) -> list[duplicates.ExactDuplicate]:
        """Groups of submissions with identical answers under different instance ids."""
        return self._read(duplicates.exact_duplicates, slug, form_id)

    def audit_log(self, slug: str, *, limit: int = 200) -> list[dict[str, Any]]:
        """The project's audit log, newest first (owners and managers)."""
        def go(db: Session, actor: Actor) -> list[dict[str, Any]]:
            project, _ = project_for(db, actor, slug, Action.AUDIT_VIEW)
            rows = db.scalars(select(AuditEvent).where(AuditEvent.project_id == project.id)
                              .order_by(AuditEvent.id.desc()).limit(limit))
            return [{"id": e.id, "at": e.at.isoformat(), "actor": e.actor, "action": e.action,
                     "object_type": e.object_type, "object_id": e.object_id,
                     "details": _within(e.details, roots)} for e in rows]
        # folders are shown relative to the workspace: its place on the server stays private
        root = self.workspace.settings.workspace
        roots = sorted({str(root.resolve()), str(root.absolute())}, key=len, reverse=True)
        return self._read(go)


def _within(value: Any, roots: Sequence[str]) -> Any:
    """``value`` with every path under one of the ``roots`` made relative to it."""
    if isinstance(value, str):
        for root in roots:
            if value == root or value.startswith(root + "/"):
                return value[len(root) + 1:] or "."
        return value
    if isinstance(value, dict):
        return {k: _within(v, roots) for k, v in value.items()}
    if isinstance(value, list):
        return [_within(v, roots) for v in value]
    return value


def _json_bytes(obj: Any) -> bytes:
    import json

    return json.dumps(obj, ensure_ascii=False, default=str).encode()
