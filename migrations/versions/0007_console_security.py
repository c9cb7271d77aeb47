"""The console's second factor (TOTP secrets, recovery codes, sessions waiting for it), the
client address in the audit log, and no secret left in sent mails.

Revision ID: 0007
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0004"
branch_labels = None
depends_on = None

TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("agents") as batch:
        batch.add_column(sa.Column("totp_secret", sa.String(255), nullable=True))
        batch.add_column(sa.Column("totp_pending_secret", sa.String(255), nullable=True))
        batch.add_column(sa.Column("totp_last_step", sa.Integer, nullable=True))
        batch.add_column(sa.Column("totp_enabled_at", TIME, nullable=True))
    op.create_table(
        "agent_recovery_codes",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("agent_id", sa.Integer,
                  sa.ForeignKey("agents.id", ondelete="CASCADE"), nullable=False),
        sa.Column("code_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("created_at", TIME, nullable=False),
        sa.Column("used_at", TIME, nullable=True),
    )
    op.create_index("ix_agent_recovery_codes_agent_id", "agent_recovery_codes", ["agent_id"])
    with op.batch_alter_table("agent_sessions") as batch:
        batch.add_column(sa.Column("pending_step", sa.String(10), nullable=True))
    with op.batch_alter_table("audit_log") as batch:
        batch.add_column(sa.Column("client", sa.String(64), nullable=True))
    op.create_index("ix_audit_log_client", "audit_log", ["client", "action", "created_at"])
    # Mails sent before this revision still held their reset links and user names.
    op.execute("UPDATE outbox SET body = '' WHERE sent_at IS NOT NULL")


def downgrade() -> None:
    op.drop_index("ix_audit_log_client", table_name="audit_log")
    with op.batch_alter_table("audit_log") as batch:
        batch.drop_column("client")
    with op.batch_alter_table("agent_sessions") as batch:
        batch.drop_column("pending_step")
    op.drop_index("ix_agent_recovery_codes_agent_id", table_name="agent_recovery_codes")
    op.drop_table("agent_recovery_codes")
    with op.batch_alter_table("agents") as batch:
        batch.drop_column("totp_enabled_at")
        batch.drop_column("totp_last_step")
        batch.drop_column("totp_pending_secret")
        batch.drop_column("totp_secret")
