"""The accounts directory.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "accounts",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("system", sa.String(20), nullable=False),
        sa.Column("user_name", sa.String(64), nullable=False),
        sa.Column("first_name", sa.String(80), nullable=False),
        sa.Column("last_name", sa.String(80), nullable=False),
        sa.Column("birth_date", sa.Date, nullable=False),
        sa.Column("email", sa.String(254), nullable=False),
        sa.Column("district", sa.String(120), nullable=False),
        sa.Column("school", sa.String(120), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("password_hash", sa.String(255), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False,
                  server_default=sa.func.now()),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False,
                  server_default=sa.func.now()),
        sa.UniqueConstraint("system", "user_name", name="uq_accounts_system_user"),
        sa.CheckConstraint("system IN ('ese_portal', 'massone')", name="ck_accounts_system"),
        sa.CheckConstraint(
            "status IN ('active', 'inactive', 'deactivated')", name="ck_accounts_status"
        ),
    )
    op.create_index("ix_accounts_identity", "accounts", ["last_name", "birth_date"])


def downgrade() -> None:
    op.drop_index("ix_accounts_identity", table_name="accounts")
    op.drop_table("accounts")
