"""Replies by e-mail: an outbox mail about a ticket names it, so it goes out with a reply
address carrying the reference (helpdesk+HD-2026-000123@example.org).

Revision ID: 0010
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("ticket_reference", sa.String(20), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("ticket_reference")
