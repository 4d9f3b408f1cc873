"""encrypted submissions (ODK encryption) and the project's encryption keys

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07 11:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0011"
down_revision: str | Sequence[str] | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_BIG = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_JSON = sa.JSON().with_variant(sa.dialects.postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        "encryption_keys",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("managed", sa.Boolean(), nullable=False),
        sa.Column("public_key", sa.Text(), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("sealed", _JSON, nullable=True),
        sa.Column("hint", sa.String(length=300), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["created_by"], ["users.id"],
                                name=op.f("fk_encryption_keys_created_by_users")),
        sa.ForeignKeyConstraint(["project_id"], ["projects.id"],
                                name=op.f("fk_encryption_keys_project_id_projects")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_encryption_keys")),
        sa.UniqueConstraint("project_id", "fingerprint",
                            name=op.f("uq_encryption_keys_project_id")),
    )
    with op.batch_alter_table("encryption_keys", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_encryption_keys_project_id"), ["project_id"],
                              unique=False)
    op.create_table(
        "encrypted_submissions",
        sa.Column("id", _BIG, autoincrement=True, nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("form_id", sa.Integer(), nullable=False),
        sa.Column("form_version_id", sa.Integer(), nullable=False),
        sa.Column("instance_id", sa.String(length=255), nullable=False),
        sa.Column("envelope", sa.LargeBinary(), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("submitter_id", sa.Integer(), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.ForeignKeyConstraint(["form_id"], ["forms.id"],
                                name=op.f("fk_encrypted_submissions_form_id_forms")),
        sa.ForeignKeyConstraint(
            ["form_version_id"], ["form_versions.id"],
            name=op.f("fk_encrypted_submissions_form_version_id_form_versions")),
        sa.ForeignKeyConstraint(["project_id"], ["projects.id"],
                                name=op.f("fk_encrypted_submissions_project_id_projects")),
        sa.ForeignKeyConstraint(["submitter_id"], ["users.id"],
                                name=op.f("fk_encrypted_submissions_submitter_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_encrypted_submissions")),
        sa.UniqueConstraint("form_id", "instance_id",
                            name=op.f("uq_encrypted_submissions_form_id")),
    )
    with op.batch_alter_table("encrypted_submissions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_encrypted_submissions_project_id"),
                              ["project_id"], unique=False)
    op.create_table(
        "encrypted_files",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("encrypted_submission_id", _BIG, nullable=False),
        sa.Column("name", sa.String(length=300), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["encrypted_submission_id"], ["encrypted_submissions.id"],
            name=op.f("fk_encrypted_files_encrypted_submission_id_encrypted_submissions")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_encrypted_files")),
        sa.UniqueConstraint("encrypted_submission_id", "name",
                            name=op.f("uq_encrypted_files_encrypted_submission_id")),
    )
    with op.batch_alter_table("encrypted_files", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_encrypted_files_encrypted_submission_id"),
                              ["encrypted_submission_id"], unique=False)


def downgrade() -> None:
    """Downgrade schema (the encrypted submissions and keys are dropped with it)."""
    for table, column in (("encrypted_files", "encrypted_submission_id"),
                          ("encrypted_submissions", "project_id"),
                          ("encryption_keys", "project_id")):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_index(batch_op.f(f"ix_{table}_{column}"))
        op.drop_table(table)
