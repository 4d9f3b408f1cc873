"""form attachments: files served with a form version in the OpenRosa manifest

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07 11:00:00

``form_attachments`` holds the CSV/XML/GeoJSON lists of ``select_one_from_file``,
``pulldata()`` and ``search()``, the ``itemsets.csv`` of ``select_one_external`` and any
label media uploaded with a form, one row per file and form version.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0010"
down_revision: str | Sequence[str] | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        "form_attachments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("form_version_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("content_type", sa.String(length=100), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("md5", sa.String(length=32), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["form_version_id"], ["form_versions.id"],
            name=op.f("fk_form_attachments_form_version_id_form_versions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_form_attachments")),
        sa.UniqueConstraint("form_version_id", "name",
                            name=op.f("uq_form_attachments_form_version_id")),
    )
    with op.batch_alter_table("form_attachments", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_form_attachments_form_version_id"), ["form_version_id"], unique=False
        )


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table("form_attachments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_form_attachments_form_version_id"))
    op.drop_table("form_attachments")
