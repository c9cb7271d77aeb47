"""Limits that hold and are keyed on what is attacked: one live reset link per account in the
schema; recovery attempts counted per e-mail address and user name given (as HMACs) and per
matched account; status checks counted per reference and e-mail; a ticket filed for an address
that already has one open names it as a possible duplicate instead of being merged into it.

Revision ID: 0011
Revises: 0010
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

LIVE = "used_at IS NULL AND revoked_at IS NULL"


def upgrade() -> None:
    # Races before this revision could leave several live links: keep each account's newest.
    op.execute(
        "UPDATE reset_tokens SET revoked_at = created_at WHERE used_at IS NULL "
        "AND revoked_at IS NULL AND id NOT IN (SELECT max(id) FROM reset_tokens "
        "WHERE used_at IS NULL AND revoked_at IS NULL GROUP BY account_id)"
    )
    op.create_index("uq_reset_tokens_live", "reset_tokens", ["account_id"], unique=True,
                    postgresql_where=sa.text(LIVE), sqlite_where=sa.text(LIVE))
    with op.batch_alter_table("recovery_attempts") as batch:
        batch.add_column(sa.Column("email_key", sa.String(64), nullable=True))
        batch.add_column(sa.Column("user_name_key", sa.String(64), nullable=True))
    op.create_index("ix_recovery_email_time", "recovery_attempts", ["email_key", "created_at"])
    op.create_index("ix_recovery_user_name_time", "recovery_attempts",
                    ["user_name_key", "created_at"])
    op.create_index("ix_recovery_account_time", "recovery_attempts",
                    ["account_id", "created_at"])
    op.create_index("ix_recovery_time", "recovery_attempts", ["created_at"])
    with op.batch_alter_table("ticket_status_checks") as batch:
        batch.add_column(sa.Column("reference_key", sa.String(64), nullable=True))
        batch.add_column(sa.Column("email_key", sa.String(64), nullable=True))
    op.create_index("ix_status_checks_reference", "ticket_status_checks",
                    ["reference_key", "created_at"])
    op.create_index("ix_status_checks_email", "ticket_status_checks", ["email_key", "created_at"])
    with op.batch_alter_table("tickets") as batch:
        batch.add_column(sa.Column("possible_duplicate_of", sa.Integer, nullable=True))
    op.create_index("ix_outbox_created", "outbox", ["created_at"])


def downgrade() -> None:
    op.drop_index("ix_outbox_created", table_name="outbox")
    with op.batch_alter_table("tickets") as batch:
        batch.drop_column("possible_duplicate_of")
    op.drop_index("ix_status_checks_email", table_name="ticket_status_checks")
    op.drop_index("ix_status_checks_reference", table_name="ticket_status_checks")
    with op.batch_alter_table("ticket_status_checks") as batch:
        batch.drop_column("email_key")
        batch.drop_column("reference_key")
    op.drop_index("ix_recovery_time", table_name="recovery_attempts")
    op.drop_index("ix_recovery_account_time", table_name="recovery_attempts")
    op.drop_index("ix_recovery_user_name_time", table_name="recovery_attempts")
    op.drop_index("ix_recovery_email_time", table_name="recovery_attempts")
    with op.batch_alter_table("recovery_attempts") as batch:
        batch.drop_column("user_name_key")
        batch.drop_column("email_key")
    op.drop_index("uq_reset_tokens_live", table_name="reset_tokens")
