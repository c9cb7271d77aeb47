"""Live chat with a person: chats handed over by the bot, their messages, agents' availability.

Revision ID: 0012
Revises: 0011
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "live_chats",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("conversation_id", sa.String(64), nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("agent_id", sa.Integer, sa.ForeignKey("agents.id", ondelete="SET NULL"),
                  nullable=True),
        sa.Column("system", sa.String(20), nullable=True),
        sa.Column("facts", sa.Text, nullable=False),
        sa.Column("transcript", sa.Text, nullable=False),
        sa.Column("ticket_id", sa.Integer, sa.ForeignKey("tickets.id", ondelete="SET NULL"),
                  nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("taken_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resumed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("user_seen_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("user_left_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("agent_seen_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('waiting', 'active', 'returned', 'ended', 'ticketed')",
            name="ck_live_chats_status",
        ),
    )
    op.create_index("ix_live_chats_conversation", "live_chats", ["conversation_id", "status"])
    op.create_index("ix_live_chats_status", "live_chats", ["status", "created_at"])
    op.create_table(
        "live_messages",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("chat_id", sa.Integer, sa.ForeignKey("live_chats.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("sender", sa.String(10), nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("sender IN ('user', 'agent', 'system')",
                           name="ck_live_messages_sender"),
    )
    op.create_index("ix_live_messages_chat", "live_messages", ["chat_id", "id"])
    op.create_table(
        "live_agents",
        sa.Column("agent_id", sa.Integer, sa.ForeignKey("agents.id", ondelete="CASCADE"),
                  primary_key=True),
        sa.Column("available", sa.Integer, nullable=False),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("live_agents")
    op.drop_index("ix_live_messages_chat", "live_messages")
    op.drop_table("live_messages")
    op.drop_index("ix_live_chats_status", "live_chats")
    op.drop_index("ix_live_chats_conversation", "live_chats")
    op.drop_table("live_chats")
