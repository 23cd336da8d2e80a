"""Deleting a take moves it to a trash (take.trashed_at) that can be emptied or restored.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-03
"""
import sqlalchemy as sa
from alembic import op

from musicdesk.history.models import UTCDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("take") as batch:
        batch.add_column(sa.Column("trashed_at", UTCDateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("take") as batch:
        batch.drop_column("trashed_at")
