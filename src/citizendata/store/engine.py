"""Engines and sessions for the embedded SQLite database and PostgreSQL."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

__all__ = ["DIALECTS", "DialectTraits", "make_engine", "make_sessionmaker", "traits"]


@dataclass(frozen=True)
class DialectTraits:
    """What differs between the storage backends, as data rather than if-chains."""

    name: str
    bulk_loader: str  # how staged rows reach the database: "copy" or "executemany"
    payload_as_text: str  # SQL that reads the payload column as JSON text
    max_bind_params: int  # largest IN-list we send in one statement
    # isolation for a read that must see one state throughout (a snapshot's key and its
    # rows); None where every read transaction already does (SQLite in WAL mode)
    consistent_isolation: str | None


DIALECTS: dict[str, DialectTraits] = {
    "sqlite": DialectTraits("sqlite", "executemany", "submissions.payload", 30_000, None),
    "postgresql": DialectTraits("postgresql", "copy", "submissions.payload::text", 30_000,
                                "REPEATABLE READ"),
}


def traits(engine: Engine) -> DialectTraits:
    """The traits of an engine's dialect."""
    return DIALECTS[engine.dialect.name]


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    # WAL lets readers go on while one writer writes; NORMAL sync is safe with WAL
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=30000")
    # a larger page cache and memory-mapped reads keep index pages of big forms in memory
    cur.execute("PRAGMA cache_size=-65536")
    cur.execute("PRAGMA mmap_size=268435456")
    cur.execute("PRAGMA temp_store=MEMORY")
    cur.close()


def make_engine(url: str, *, pool_size: int = 10) -> Engine:
    """An engine for a SQLAlchemy URL with the settings each backend needs.

    Statement parameters are hidden from error messages: they hold answers about people,
    and error messages end up in logs.
    """
    if url.startswith("sqlite"):
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": 30},
            pool_size=pool_size,
            max_overflow=pool_size,
            hide_parameters=True,
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        # pysqlite's own transaction handling defers BEGIN; take control so that
        # a write transaction starts at BEGIN IMMEDIATE and never deadlocks on upgrade
        @event.listens_for(engine, "connect")
        def _no_autobegin(dbapi_conn: Any, _record: Any) -> None:
            dbapi_conn.isolation_level = None

        @event.listens_for(engine, "begin")
        def _begin(conn: Any) -> None:
            # read-only work (execution option cd_read) must not take the write lock
            options = conn.get_execution_options()
            # pooled connections are shared by waiting and non-waiting callers: set the
            # busy timeout whenever it differs from what this connection has
            busy = int(options.get("cd_busy_ms", 30000))
            info = conn.connection.info
            if info.get("cd_busy_ms", 30000) != busy:
                conn.exec_driver_sql(f"PRAGMA busy_timeout={busy}")
                info["cd_busy_ms"] = busy
            conn.exec_driver_sql("BEGIN" if options.get("cd_read", False) else "BEGIN IMMEDIATE")

        return engine
    # no pre-ping: it costs a round trip per transaction on the intake hot path; stale
    # connections are recycled hourly and a failed one is dropped from the pool on error
    return create_engine(url, pool_size=pool_size, max_overflow=pool_size, pool_recycle=3600,
                         hide_parameters=True)


def make_sessionmaker(bind: Any) -> sessionmaker[Session]:
    """Sessions that keep loaded objects usable after commit."""
    return sessionmaker(bind=bind, expire_on_commit=False)
