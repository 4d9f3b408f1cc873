"""quality attestations and fitness decisions

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-21 10:20:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

# revision identifiers, used by Alembic.
revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        "quality_attestations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("dataset", sa.String(length=100), nullable=False),
        sa.Column("indicator", sa.String(length=100), nullable=True),
        sa.Column("subject", sa.String(length=100), nullable=False),
        sa.Column("rating", sa.String(length=20), nullable=False),
        sa.Column("statement", sa.Text(), nullable=False),
        sa.Column("by", sa.String(length=150), nullable=False),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.Column("on", sa.Date(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"], ["projects.id"],
            name=op.f("fk_quality_attestations_project_id_projects"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_quality_attestations")),
    )
    with op.batch_alter_table("quality_attestations", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_quality_attestations_project_id"), ["project_id"], unique=False
        )
    op.create_table(
        "quality_decisions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("dataset", sa.String(length=100), nullable=False),
        sa.Column("indicator", sa.String(length=100), nullable=True),
        sa.Column("recommendation", sa.String(length=30), nullable=False),
        sa.Column("rule", sa.String(length=20), nullable=False),
        sa.Column("decision", sa.String(length=30), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("by", sa.String(length=150), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "record",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["project_id"], ["projects.id"], name=op.f("fk_quality_decisions_project_id_projects")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_quality_decisions")),
    )
    with op.batch_alter_table("quality_decisions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_quality_decisions_project_id"), ["project_id"], unique=False
        )


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table("quality_decisions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_quality_decisions_project_id"))
    op.drop_table("quality_decisions")
    with op.batch_alter_table("quality_attestations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_quality_attestations_project_id"))
    op.drop_table("quality_attestations")
