"""Alembic environment: runs on the connection handed over by citizendata.store.migrate."""

from __future__ import annotations

from alembic import context

from citizendata.store.models import Base

target_metadata = Base.metadata


def run_migrations_online() -> None:
    """Run migrations on the connection given in the config attributes."""
    connection = context.config.attributes.get("connection")
    if connection is None:
        from sqlalchemy import create_engine

        url = context.config.get_main_option("sqlalchemy.url")
        assert url, "give a connection or sqlalchemy.url"
        with create_engine(url).begin() as conn:
            _run(conn)
        return
    _run(connection)


def _run(connection: object) -> None:
    context.configure(
        connection=connection,  # type: ignore[arg-type]
        target_metadata=target_metadata,
        render_as_batch=True,  # SQLite needs batch mode to alter tables
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


run_migrations_online()
