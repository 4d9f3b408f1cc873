"""public links: anonymous submissions to one form through a revocable URL

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07 17:00:00

- ``public_links``: one row per link (the SHA-256 of its token, never the token), its
  optional expiry and submission cap, the count of submissions it has stored (raised in
  the transaction that stores each one, under a lock on the row) and its revocation.
- ``public_link_throttle``: public submissions counted per keyed hash of the client
  address and minute window, so every server process enforces one rate limit.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0015"
down_revision: str | Sequence[str] | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        "public_links",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("form_id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("max_submissions", sa.Integer(), nullable=True),
        sa.Column("submission_count", sa.Integer(), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_by", sa.Integer(), nullable=True),
        sa.CheckConstraint("max_submissions IS NULL OR max_submissions > 0",
                           name=op.f("ck_public_links_max_positive")),
        sa.ForeignKeyConstraint(["project_id"], ["projects.id"],
                                name=op.f("fk_public_links_project_id_projects")),
        sa.ForeignKeyConstraint(["form_id"], ["forms.id"],
                                name=op.f("fk_public_links_form_id_forms")),
        sa.ForeignKeyConstraint(["created_by"], ["users.id"],
                                name=op.f("fk_public_links_created_by_users")),
        sa.ForeignKeyConstraint(["revoked_by"], ["users.id"],
                                name=op.f("fk_public_links_revoked_by_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_public_links")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_public_links_token_hash")),
    )
    with op.batch_alter_table("public_links", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_public_links_project_id"), ["project_id"],
                              unique=False)
        batch_op.create_index(batch_op.f("ix_public_links_form_id"), ["form_id"],
                              unique=False)
    op.create_table(
        "public_link_throttle",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("window_start", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_public_link_throttle")),
    )
    with op.batch_alter_table("public_link_throttle", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_public_link_throttle_window_start"),
                              ["window_start"], unique=False)


def downgrade() -> None:
    """Downgrade schema (the links and their counts are dropped; the submissions stay)."""
    with op.batch_alter_table("public_link_throttle", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_public_link_throttle_window_start"))
    op.drop_table("public_link_throttle")
    with op.batch_alter_table("public_links", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_public_links_form_id"))
        batch_op.drop_index(batch_op.f("ix_public_links_project_id"))
    op.drop_table("public_links")
