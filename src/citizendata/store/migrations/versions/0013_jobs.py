"""jobs: long work (release builds, validation runs, imports, estimates) run in the background

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07 14:00:00

One row per job, in the project's own database (SQLite or PostgreSQL): what was asked
and by whom, its state and progress, a lease (worker and heartbeat) so that a job whose
worker died is claimed again, a checkpoint kept between attempts, and the outcome.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0013"
down_revision: str | Sequence[str] | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_BIG = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_JSON = sa.JSON().with_variant(sa.dialects.postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        "jobs",
        sa.Column("id", _BIG, autoincrement=True, nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("params", _JSON, nullable=False),
        sa.Column("requested_by", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("progress_done", sa.Integer(), nullable=False),
        sa.Column("progress_total", sa.Integer(), nullable=True),
        sa.Column("progress_message", sa.String(length=300), nullable=False),
        sa.Column("checkpoint", _JSON, nullable=False),
        sa.Column("result", _JSON, nullable=True),
        sa.Column("error_code", sa.String(length=60), nullable=True),
        sa.Column("error_message", sa.Text(), nullable=True),
        sa.Column("done_url", sa.String(length=500), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("cancel_requested", sa.Boolean(), nullable=False),
        sa.Column("worker", sa.String(length=200), nullable=True),
        sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["project_id"], ["projects.id"],
                                name=op.f("fk_jobs_project_id_projects")),
        sa.ForeignKeyConstraint(["requested_by"], ["users.id"],
                                name=op.f("fk_jobs_requested_by_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_jobs")),
    )
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_jobs_project_id"), ["project_id"], unique=False)
        batch_op.create_index("ix_jobs_state_id", ["state", "id"], unique=False)


def downgrade() -> None:
    """Downgrade schema (the jobs' records are dropped with it)."""
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.drop_index("ix_jobs_state_id")
        batch_op.drop_index(batch_op.f("ix_jobs_project_id"))
    op.drop_table("jobs")
