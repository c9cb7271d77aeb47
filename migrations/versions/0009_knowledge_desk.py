"""The agent's day and content the agency keeps current: knowledge changes made in the console
(edited answers, reviews) and canned replies.

Revision ID: 0009
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0007"
branch_labels = None
depends_on = None

TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "knowledge_changes",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("entry_id", sa.String(80), nullable=False),
        sa.Column("variant", sa.String(20), nullable=False),
        sa.Column("action", sa.String(10), nullable=False),
        sa.Column("edit_number", sa.Integer, nullable=True),
        sa.Column("file_text", sa.Text, nullable=True),
        sa.Column("old_text", sa.Text, nullable=True),
        sa.Column("new_text", sa.Text, nullable=True),
        sa.Column("diff", sa.Text, nullable=True),
        sa.Column("agent_id", sa.Integer,
                  sa.ForeignKey("agents.id", ondelete="SET NULL"), nullable=True),
        sa.Column("agent_name", sa.String(64), nullable=False),
        sa.Column("created_at", TIME, nullable=False),
        sa.CheckConstraint("action IN ('edited', 'reviewed')",
                           name="ck_knowledge_changes_action"),
        sa.UniqueConstraint("entry_id", "variant", "edit_number",
                            name="uq_knowledge_changes_edit"),
    )
    op.create_index("ix_knowledge_changes_entry", "knowledge_changes",
                    ["entry_id", "variant", "id"])
    op.create_table(
        "canned_replies",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("title", sa.String(80), nullable=False, unique=True),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("created_by", sa.Integer,
                  sa.ForeignKey("agents.id", ondelete="SET NULL"), nullable=True),
        sa.Column("updated_by", sa.Integer,
                  sa.ForeignKey("agents.id", ondelete="SET NULL"), nullable=True),
        sa.Column("created_at", TIME, nullable=False),
        sa.Column("updated_at", TIME, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("canned_replies")
    op.drop_index("ix_knowledge_changes_entry", table_name="knowledge_changes")
    op.drop_table("knowledge_changes")
