"""Typed settings, built by a factory (never at import time)."""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from citizendata.errors import ServerMisconfigured

__all__ = ["DEFAULT_MAX_DEPTH", "Settings", "get_settings"]

# the library's parsers use this when called without settings
DEFAULT_MAX_DEPTH = 64
_INSECURE_KEYS = frozenset({"", "secret", "changeme", "change-me", "dev", "development", "insecure"})


class Settings(BaseSettings):
    """Every setting, read from CITIZENDATA_* environment variables or passed in."""

    model_config = SettingsConfigDict(env_prefix="CITIZENDATA_", extra="forbid")

    workspace: Path = Field(default=Path("citizendata-workspace"),
                            description="Folder holding the embedded database and snapshots.")
    database_url: str | None = Field(default=None,
                                     description="SQLAlchemy URL; default: SQLite in the workspace.")
    mode: Literal["development", "production", "test"] = "development"
    secret_key: SecretStr | None = Field(default=None, description="Signs session cookies.")
    open_registration: bool = False
    host: str = "127.0.0.1"
    port: int = 8000
    base_url: str | None = Field(default=None, description="Public URL, for OpenRosa form lists.")
    max_request_bytes: int = 32 * 1024 * 1024
    max_upload_bytes: int = 1024 * 1024 * 1024
    max_batch: int = 10_000
    max_depth: int = Field(default=DEFAULT_MAX_DEPTH, ge=1, le=500,
                           description="Deepest nesting of JSON bodies, project specs, "
                                       "XML submissions and form groups.")
    max_uncompressed_bytes: int = Field(default=1024 * 1024 * 1024, ge=1,
                                        description="Largest decompressed size of an "
                                                    "imported XLSX workbook.")
    max_form_uncompressed_bytes: int = Field(default=64 * 1024 * 1024, ge=1,
                                             description="Largest decompressed size of an "
                                                         "XLSForm workbook.")
    max_archive_members: int = Field(default=1000, ge=1,
                                     description="Most files inside one XLSX workbook.")
    max_compression_ratio: int = Field(default=200, ge=1,
                                       description="Most a file inside a workbook may expand "
                                                   "(decompressed / compressed size).")
    session_max_age_s: int = 8 * 3600
    login_max_failures: int = Field(default=5, ge=0, description=(
        "Failed log-ins per user name in one window before log-ins are refused (0: none)."))
    login_max_failures_per_address: int = Field(default=50, ge=0, description=(
        "Failed log-ins per client address in one window (0: no limit)."))
    login_window_s: int = Field(default=900, ge=1, description=(
        "How long a failed log-in counts, from the first failure, in seconds."))
    weblink_rate_per_minute: int = Field(default=30, ge=0, description=(
        "Submissions through public links from one client address per minute before "
        "further ones are refused (429 weblink.rate_limited; 0: no limit)."))
    db_pool_size: int = 10
    jobs_in_server: bool = Field(default=True, description=(
        "Run a background jobs worker inside the web server (off: run "
        "'citizendata jobs work' separately)."))
    jobs_lease_s: int = Field(default=120, ge=5, description=(
        "Seconds a running job's worker may go without a heartbeat before another worker "
        "takes the job over."))
    jobs_poll_s: float = Field(default=1.0, gt=0, description=(
        "How often an idle worker looks for queued jobs, in seconds."))
    jobs_wait_s: float | None = Field(default=None, ge=0, description=(
        "How long a page that starts a job waits for it to end before showing the job's "
        "progress page, in seconds (quick work then reads as before); default 2, or 30 in "
        "test mode so that tests see quick work end."))
    jobs_max_attempts: int = Field(default=3, ge=1, description=(
        "How many times a job is started before an interrupted one is marked failed."))

    @property
    def jobs_wait(self) -> float:
        """The wait in force (see ``jobs_wait_s``)."""
        if self.jobs_wait_s is not None:
            return self.jobs_wait_s
        return 30.0 if self.mode == "test" else 2.0

    @property
    def sqlite_path(self) -> Path:
        """Where the embedded SQLite database lives."""
        return self.workspace / "citizendata.db"

    @property
    def resolved_database_url(self) -> str:
        """The database URL in force (the workspace's SQLite file by default)."""
        if self.database_url:
            url = self.database_url
            # psycopg 3 is the driver we ship; accept the common spellings
            if url.startswith("postgresql://") or url.startswith("postgres://"):
                url = "postgresql+psycopg://" + url.split("://", 1)[1]
            return url
        return f"sqlite:///{self.sqlite_path.resolve()}"

    @property
    def is_sqlite(self) -> bool:
        """True when the embedded SQLite database is in use."""
        return self.resolved_database_url.startswith("sqlite")

    def session_secret(self) -> str:
        """The cookie-signing key; in development it is created once and kept in the workspace."""
        if self.secret_key is not None:
            return self.secret_key.get_secret_value()
        key_file = self.workspace / "secret_key"
        if key_file.exists():
            return key_file.read_text().strip()
        self.workspace.mkdir(parents=True, exist_ok=True)
        key = secrets.token_urlsafe(48)
        # written with owner-only permissions: the key signs every session
        try:
            fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another server worker wrote it first
            return key_file.read_text().strip()
        with os.fdopen(fd, "w") as fh:
            fh.write(key)
        return key

    def check_production(self) -> None:
        """Refuse unsafe defaults when mode is production."""
        if self.mode != "production":
            return
        key = self.secret_key.get_secret_value() if self.secret_key else ""
        if key.lower() in _INSECURE_KEYS or len(key) < 32:
            raise ServerMisconfigured(
                "config.unsafe",
                "CITIZENDATA_SECRET_KEY must be set to a random value of at least 32 characters "
                "in production mode.",
                fix="Set CITIZENDATA_SECRET_KEY, e.g. from `python -c 'import secrets; "
                "print(secrets.token_urlsafe(48))'`.",
            )
        if self.open_registration:
            raise ServerMisconfigured(
                "config.unsafe",
                "Open registration is refused in production mode: accounts are created by an "
                "administrator.",
                fix="Unset CITIZENDATA_OPEN_REGISTRATION.",
            )


def get_settings(**overrides: Any) -> Settings:
    """Build settings from the environment, with explicit overrides winning."""
    clean = {k: v for k, v in overrides.items() if v is not None}
    try:
        settings = Settings(**clean)
    except ValueError as exc:
        raise ServerMisconfigured("config.invalid", str(exc)) from exc
    settings.check_production()
    return settings
