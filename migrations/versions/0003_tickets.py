"""Tickets, their history, status lookups and the Directory Administrators directory.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "tickets",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("system", sa.String(20), nullable=True),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("contact_email", sa.String(254), nullable=False),
        sa.Column("facts", sa.Text, nullable=False),
        sa.Column("transcript", sa.Text, nullable=False),
        sa.Column("conversation_id", sa.String(64), nullable=False),
        sa.Column("created_at", TIME, nullable=False),
        sa.Column("updated_at", TIME, nullable=False),
        sa.Column("resolved_at", TIME, nullable=True),
        sa.CheckConstraint(
            "status IN ('open', 'in_progress', 'waiting_on_user', 'resolved')",
            name="ck_tickets_status",
        ),
    )
    op.create_index("ix_tickets_contact_kind", "tickets", ["contact_email", "kind", "status"])
    op.create_index("ix_tickets_status_created", "tickets", ["status", "created_at"])
    op.create_table(
        "ticket_events",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("ticket_id", sa.Integer,
                  sa.ForeignKey("tickets.id", ondelete="CASCADE"), nullable=False),
        sa.Column("actor", sa.String(120), nullable=False),
        sa.Column("action", sa.String(40), nullable=False),
        sa.Column("detail", sa.Text, nullable=False),
        sa.Column("conversation_id", sa.String(64), nullable=True),
        sa.Column("idempotency_key", sa.String(64), nullable=True, unique=True),
        sa.Column("created_at", TIME, nullable=False),
    )
    op.create_index("ix_ticket_events_ticket", "ticket_events", ["ticket_id", "created_at"])
    op.create_table(
        "ticket_status_checks",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("conversation_id", sa.String(64), nullable=False),
        sa.Column("found", sa.Integer, nullable=False),
        sa.Column("created_at", TIME, nullable=False),
    )
    op.create_index("ix_status_checks_conversation", "ticket_status_checks",
                    ["conversation_id", "created_at"])
    op.create_table(
        "directory_admins",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("district", sa.String(120), nullable=False),
        sa.Column("first_name", sa.String(80), nullable=False),
        sa.Column("last_name", sa.String(80), nullable=False),
        sa.Column("email", sa.String(254), nullable=False),
        sa.Column("phone", sa.String(40), nullable=False),
        sa.Column("created_at", TIME, nullable=False, server_default=sa.func.now()),
        sa.Column("updated_at", TIME, nullable=False, server_default=sa.func.now()),
        sa.UniqueConstraint("district", "email", name="uq_directory_admins_district_email"),
    )
    op.create_index("ix_directory_admins_district", "directory_admins", ["district"])


def downgrade() -> None:
    op.drop_index("ix_directory_admins_district", table_name="directory_admins")
    op.drop_table("directory_admins")
    op.drop_index("ix_status_checks_conversation", table_name="ticket_status_checks")
    op.drop_table("ticket_status_checks")
    op.drop_index("ix_ticket_events_ticket", table_name="ticket_events")
    op.drop_table("ticket_events")
    op.drop_index("ix_tickets_status_created", table_name="tickets")
    op.drop_index("ix_tickets_contact_kind", table_name="tickets")
    op.drop_table("tickets")
