"""The agents' console: agents, their sessions, the audit log, conversations, ratings,
unanswered messages, and who a ticket is assigned to.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "agents",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("username", sa.String(64), nullable=False, unique=True),
        sa.Column("display_name", sa.String(120), nullable=False),
        sa.Column("role", sa.String(10), nullable=False),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column("active", sa.Integer, nullable=False),
        sa.Column("created_at", TIME, nullable=False),
        sa.Column("last_sign_in_at", TIME, nullable=True),
        sa.CheckConstraint("role IN ('agent', 'admin')", name="ck_agents_role"),
    )
    op.create_table(
        "agent_sessions",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("agent_id", sa.Integer,
                  sa.ForeignKey("agents.id", ondelete="CASCADE"), nullable=False),
        sa.Column("csrf_token", sa.String(64), nullable=False),
        sa.Column("created_at", TIME, nullable=False),
        sa.Column("last_seen_at", TIME, nullable=False),
        sa.Column("expires_at", TIME, nullable=False),
        sa.Column("revoked_at", TIME, nullable=True),
    )
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("agent_id", sa.Integer,
                  sa.ForeignKey("agents.id", ondelete="SET NULL"), nullable=True),
        sa.Column("action", sa.String(40), nullable=False),
        sa.Column("target", sa.String(120), nullable=False),
        sa.Column("detail", sa.Text, nullable=False),
        sa.Column("created_at", TIME, nullable=False),
    )
    op.create_index("ix_audit_log_time", "audit_log", ["created_at"])
    op.create_table(
        "conversations",
        sa.Column("conversation_id", sa.String(64), primary_key=True),
        sa.Column("started_at", TIME, nullable=False),
        sa.Column("last_seen_at", TIME, nullable=False),
        sa.Column("answers", sa.Integer, nullable=False),
        sa.Column("fallbacks", sa.Integer, nullable=False),
        sa.Column("tickets", sa.Integer, nullable=False),
    )
    op.create_index("ix_conversations_started", "conversations", ["started_at"])
    op.create_table(
        "ratings",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("conversation_id", sa.String(64), nullable=False, unique=True),
        sa.Column("helpful", sa.Integer, nullable=False),
        sa.Column("created_at", TIME, nullable=False),
        sa.Column("updated_at", TIME, nullable=False),
    )
    op.create_table(
        "unanswered_messages",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("conversation_id", sa.String(64), nullable=False),
        sa.Column("text", sa.String(500), nullable=False),
        sa.Column("normalised", sa.String(200), nullable=False),
        sa.Column("created_at", TIME, nullable=False),
        sa.Column("attached_faq_id", sa.String(80), nullable=True),
        sa.Column("attached_by", sa.Integer,
                  sa.ForeignKey("agents.id", ondelete="SET NULL"), nullable=True),
        sa.Column("attached_at", TIME, nullable=True),
    )
    op.create_index("ix_unanswered_normalised", "unanswered_messages", ["normalised"])
    with op.batch_alter_table("tickets") as batch:
        batch.add_column(sa.Column("assignee_id", sa.Integer, nullable=True))
        batch.create_foreign_key("fk_tickets_assignee", "agents", ["assignee_id"], ["id"],
                                 ondelete="SET NULL")


def downgrade() -> None:
    with op.batch_alter_table("tickets") as batch:
        batch.drop_constraint("fk_tickets_assignee", type_="foreignkey")
        batch.drop_column("assignee_id")
    op.drop_index("ix_unanswered_normalised", table_name="unanswered_messages")
    op.drop_table("unanswered_messages")
    op.drop_table("ratings")
    op.drop_index("ix_conversations_started", table_name="conversations")
    op.drop_table("conversations")
    op.drop_index("ix_audit_log_time", table_name="audit_log")
    op.drop_table("audit_log")
    op.drop_table("agent_sessions")
    op.drop_table("agents")
