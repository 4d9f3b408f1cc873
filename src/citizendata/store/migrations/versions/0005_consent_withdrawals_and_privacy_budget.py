"""consent withdrawals and the privacy budget ledger

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-21 09:25:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

# revision identifiers, used by Alembic.
revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        "consent_withdrawals",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("form_id", sa.Integer(), nullable=False),
        sa.Column("submission_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
                  nullable=False),
        sa.Column("instance_id", sa.String(length=255), nullable=False),
        sa.Column("scope", sa.String(length=40), nullable=False),
        sa.Column("basis", sa.String(length=40), nullable=False),
        sa.Column("erased", sa.Boolean(), nullable=False),
        sa.Column("recorded_by", sa.String(length=150), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["form_id"], ["forms.id"], name=op.f("fk_consent_withdrawals_form_id_forms")
        ),
        sa.ForeignKeyConstraint(
            ["project_id"], ["projects.id"],
            name=op.f("fk_consent_withdrawals_project_id_projects"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consent_withdrawals")),
        sa.UniqueConstraint("submission_id", "scope",
                            name=op.f("uq_consent_withdrawals_submission_id")),
    )
    with op.batch_alter_table("consent_withdrawals", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_consent_withdrawals_project_id"), ["project_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_consent_withdrawals_form_id"), ["form_id"], unique=False
        )

    op.create_table(
        "privacy_budget",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("label", sa.String(length=200), nullable=False),
        sa.Column("epsilon", sa.Float(), nullable=False),
        sa.Column("delta", sa.Float(), nullable=False),
        sa.Column("mechanism", sa.String(length=40), nullable=False),
        sa.Column("actor", sa.String(length=150), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "details",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["project_id"], ["projects.id"], name=op.f("fk_privacy_budget_project_id_projects")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_privacy_budget")),
    )
    with op.batch_alter_table("privacy_budget", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_privacy_budget_project_id"), ["project_id"], unique=False
        )


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table("privacy_budget", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_privacy_budget_project_id"))
    op.drop_table("privacy_budget")
    with op.batch_alter_table("consent_withdrawals", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_consent_withdrawals_form_id"))
        batch_op.drop_index(batch_op.f("ix_consent_withdrawals_project_id"))
    op.drop_table("consent_withdrawals")
