"""review indexes: submissions by form and review status

The review pages count a form's submissions per review status (the project's review
overview, 'approve all without errors') and page the queue by status: with this index
those are index scans instead of reads of every stored payload
(bench/review_pages.py: the overview at 100,000 submissions 270 -> 67 ms).

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07 14:30:00
"""

from collections.abc import Sequence

from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0014"
down_revision: str | Sequence[str] | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_index("ix_submissions_form_status", "submissions",
                    ["form_id", "review_status", "id"])


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_index("ix_submissions_form_status", table_name="submissions")
