"""cases and linkage: verification decisions and clerical link decisions

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07 22:45:00

- ``case_verifications``: append-only decisions on cases (submissions of a project's
  case form): verified or not verified, the criteria met, the evidence, a note, who and
  when. A case's status is its latest decision.
- ``link_decisions``: append-only clerical decisions on pairs of source records
  (``list:record_id`` keys): match, non-match or unsure. A pair's decision is its latest.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

# revision identifiers, used by Alembic.
revision: str = "0016"
down_revision: str | Sequence[str] | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_BIG = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        "case_verifications",
        sa.Column("id", _BIG, autoincrement=True, nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("submission_id", _BIG, nullable=False),
        sa.Column("decision", sa.String(length=20), nullable=False),
        sa.Column("criteria", _JSON, nullable=False),
        sa.Column("evidence", sa.Text(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("actor", sa.String(length=150), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["project_id"], ["projects.id"],
                                name=op.f("fk_case_verifications_project_id_projects")),
        sa.ForeignKeyConstraint(["submission_id"], ["submissions.id"],
                                name=op.f("fk_case_verifications_submission_id_submissions")),
        sa.ForeignKeyConstraint(["actor_id"], ["users.id"],
                                name=op.f("fk_case_verifications_actor_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_verifications")),
    )
    with op.batch_alter_table("case_verifications", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_case_verifications_project_id"), ["project_id"],
                              unique=False)
        batch_op.create_index("ix_case_verifications_submission", ["submission_id", "id"],
                              unique=False)
    op.create_table(
        "link_decisions",
        sa.Column("id", _BIG, autoincrement=True, nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("left_key", sa.String(length=300), nullable=False),
        sa.Column("right_key", sa.String(length=300), nullable=False),
        sa.Column("decision", sa.String(length=20), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("actor", sa.String(length=150), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["project_id"], ["projects.id"],
                                name=op.f("fk_link_decisions_project_id_projects")),
        sa.ForeignKeyConstraint(["actor_id"], ["users.id"],
                                name=op.f("fk_link_decisions_actor_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_link_decisions")),
    )
    with op.batch_alter_table("link_decisions", schema=None) as batch_op:
        batch_op.create_index("ix_link_decisions_pair",
                              ["project_id", "left_key", "right_key", "id"], unique=False)


def downgrade() -> None:
    """Downgrade schema (the decisions are dropped; the submissions stay)."""
    with op.batch_alter_table("link_decisions", schema=None) as batch_op:
        batch_op.drop_index("ix_link_decisions_pair")
    op.drop_table("link_decisions")
    with op.batch_alter_table("case_verifications", schema=None) as batch_op:
        batch_op.drop_index("ix_case_verifications_submission")
        batch_op.drop_index(batch_op.f("ix_case_verifications_project_id"))
    op.drop_table("case_verifications")
