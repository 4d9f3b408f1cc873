"""log-in throttle, organisation members, release paths relative to the workspace

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02 09:30:00

- ``login_throttle``: failed log-ins per keyed hash of a user name or client address, so
  every server process over the database enforces one limit.
- ``organisation_members``: who may attach an organisation to a new project. The creator
  of each existing project becomes an owner of its initiating organisation.
- ``releases.path``: absolute folders written before this revision become relative to the
  workspace (``releases/{slug}/v{version}``), so a moved workspace still serves them.

"""

from collections.abc import Sequence
from pathlib import PurePath

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0009"
down_revision: str | Sequence[str] | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _relative_release_paths() -> None:
    conn = op.get_bind()
    rows = conn.execute(sa.text(
        "SELECT r.id, r.path, r.version, p.slug FROM releases r "
        "JOIN projects p ON p.id = r.project_id")).all()
    for rid, path, version, slug in rows:
        tail = ("releases", slug, f"v{version}")
        parts = PurePath(path).parts
        # only the folders citizendata itself wrote (WORKSPACE/releases/SLUG/vN); any other
        # absolute path is left for the reader, which still accepts one
        if PurePath(path).is_absolute() and tuple(parts[-3:]) == tail:
            conn.execute(sa.text("UPDATE releases SET path = :p WHERE id = :id"),
                         {"p": "/".join(tail), "id": rid})


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        "login_throttle",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("window_start", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_login_throttle")),
    )
    with op.batch_alter_table("login_throttle", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_login_throttle_window_start"), ["window_start"],
                              unique=False)
    op.create_table(
        "organisation_members",
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["organisation_id"], ["organisations.id"],
                                name=op.f("fk_organisation_members_organisation_id_organisations")),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"],
                                name=op.f("fk_organisation_members_user_id_users")),
        sa.PrimaryKeyConstraint("organisation_id", "user_id",
                                name=op.f("pk_organisation_members")),
    )
    with op.batch_alter_table("organisation_members", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_organisation_members_user_id"), ["user_id"],
                              unique=False)
    op.execute(sa.text(
        "INSERT INTO organisation_members (organisation_id, user_id, role, created_at) "
        "SELECT DISTINCT initiator_org_id, created_by, 'owner', CURRENT_TIMESTAMP "
        "FROM projects WHERE initiator_org_id IS NOT NULL AND created_by IS NOT NULL"))
    _relative_release_paths()


def downgrade() -> None:
    """Downgrade schema.

    Relative release paths stay relative (the migration does not know the workspace's
    folder): code before 0009 serves those releases only when started in the workspace.
    """
    with op.batch_alter_table("organisation_members", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_organisation_members_user_id"))
    op.drop_table("organisation_members")
    with op.batch_alter_table("login_throttle", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_login_throttle_window_start"))
    op.drop_table("login_throttle")
