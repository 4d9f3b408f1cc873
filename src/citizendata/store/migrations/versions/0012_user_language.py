"""user language: the interface language a user chose, used whenever they are logged in

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07 14:00:00

``users.language`` holds a language code (``sw``, ``fr`` …) chosen with the language
switch; empty means the browser's cookie or Accept-Language decides.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0012"
down_revision: str | Sequence[str] | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("language", sa.String(length=20), nullable=True))


def downgrade() -> None:
    """Downgrade schema."""
    # a plain DROP COLUMN (PostgreSQL, SQLite 3.35+): a batch copy of 'users' would drop a
    # table that every other table's foreign keys point to
    op.drop_column("users", "language")
