"""submission tombstones: instance ids that intake never stores again

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-22 09:00:00

Also repairs what a resend could bring back before tombstones existed: attachments
(the instance XML, photos) and findings of erased submissions are deleted and their
collection time is cleared.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0008"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ERASED = "SELECT submission_id FROM consent_withdrawals WHERE erased"


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        "submission_tombstones",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("form_id", sa.Integer(), nullable=False),
        sa.Column("instance_id", sa.String(length=255), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("submission_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
                  nullable=False),
        sa.Column("reason", sa.String(length=20), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["form_id"], ["forms.id"], name=op.f("fk_submission_tombstones_form_id_forms")
        ),
        sa.ForeignKeyConstraint(
            ["project_id"], ["projects.id"],
            name=op.f("fk_submission_tombstones_project_id_projects"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_submission_tombstones")),
        sa.UniqueConstraint("form_id", "instance_id",
                            name=op.f("uq_submission_tombstones_form_id")),
    )
    with op.batch_alter_table("submission_tombstones", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_submission_tombstones_project_id"), ["project_id"], unique=False
        )
    # every submission already withdrawn for everything gets its tombstone
    op.execute(
        "INSERT INTO submission_tombstones (project_id, form_id, instance_id, content_hash, "
        "submission_id, reason, at) "
        "SELECT s.project_id, s.form_id, s.instance_id, s.content_hash, s.id, "
        "CASE WHEN max(CASE WHEN w.erased THEN 1 ELSE 0 END) = 1 THEN 'erased' "
        "ELSE 'withdrawn' END, min(w.at) "
        "FROM consent_withdrawals w JOIN submissions s ON s.id = w.submission_id "
        "WHERE w.scope = 'all' OR w.erased "
        "GROUP BY s.project_id, s.form_id, s.instance_id, s.content_hash, s.id"
    )
    # what a resend of an erased submission could have stored again
    op.execute(f"DELETE FROM attachments WHERE submission_id IN ({_ERASED})")
    op.execute(f"DELETE FROM findings WHERE submission_id IN ({_ERASED})")
    op.execute(f"UPDATE submissions SET collected_at = NULL WHERE id IN ({_ERASED})")


def downgrade() -> None:
    """Downgrade schema (what was deleted from erased submissions stays deleted)."""
    with op.batch_alter_table("submission_tombstones", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_submission_tombstones_project_id"))
    op.drop_table("submission_tombstones")
