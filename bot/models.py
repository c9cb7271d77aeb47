"""Database tables. Schema changes go through a migration in migrations/versions/."""

from __future__ import annotations

from sqlalchemy import (
    CheckConstraint,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.orm import declarative_base

Base = declarative_base()

SYSTEMS = ("ese_portal", "massone")
ACCOUNT_STATUSES = ("active", "inactive", "deactivated")


class Account(Base):
    """A person's account in one of the two systems, as exported by the agency."""

    __tablename__ = "accounts"
    __table_args__ = (
        UniqueConstraint("system", "user_name", name="uq_accounts_system_user"),
        CheckConstraint("system IN ('ese_portal', 'massone')", name="ck_accounts_system"),
        CheckConstraint(
            "status IN ('active', 'inactive', 'deactivated')", name="ck_accounts_status"
        ),
        Index("ix_accounts_identity", "last_name", "birth_date"),
    )

    id = Column(Integer, primary_key=True)
    system = Column(String(20), nullable=False)
    user_name = Column(String(64), nullable=False)
    first_name = Column(String(80), nullable=False)
    last_name = Column(String(80), nullable=False)
    birth_date = Column(Date, nullable=False)
    email = Column(String(254), nullable=False)
    district = Column(String(120), nullable=False, default="")
    school = Column(String(120), nullable=False, default="")
    status = Column(String(20), nullable=False, default="active")
    password_hash = Column(String(255), nullable=True)
    created_at = Column(DateTime(timezone=True), nullable=False, server_default=func.now())
    updated_at = Column(
        DateTime(timezone=True), nullable=False, server_default=func.now(), onupdate=func.now()
    )

    def __repr__(self) -> str:  # no PII: the repr can end up in logs
        return f"<Account {self.id} {self.system}>"


class ResetToken(Base):
    """A password-reset link's token: only its SHA-256 is stored; single use, short-lived."""

    __tablename__ = "reset_tokens"

    id = Column(Integer, primary_key=True)
    account_id = Column(Integer, ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False)
    token_hash = Column(String(64), nullable=False, unique=True)
    created_at = Column(DateTime(timezone=True), nullable=False)
    expires_at = Column(DateTime(timezone=True), nullable=False)
    used_at = Column(DateTime(timezone=True), nullable=True)
    revoked_at = Column(DateTime(timezone=True), nullable=True)  # a newer token was issued


class OutboxMail(Base):
    """An e-mail waiting to be sent (written in the same transaction as what caused it)."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_pending", "sent_at", "next_attempt_at"),)

    id = Column(Integer, primary_key=True)
    kind = Column(String(40), nullable=False)
    to_address = Column(String(254), nullable=False)
    subject = Column(String(200), nullable=False)
    body = Column(Text, nullable=False)
    created_at = Column(DateTime(timezone=True), nullable=False)
    attempts = Column(Integer, nullable=False, default=0)
    next_attempt_at = Column(DateTime(timezone=True), nullable=False)
    sent_at = Column(DateTime(timezone=True), nullable=True)
    last_error = Column(String(200), nullable=True)  # the SMTP error class and code, no PII


class RecoveryAttempt(Base):
    """The audit log of every recovery attempt: outcome and time, no raw PII.

    `identity_key` is a keyed hash (HMAC) of the normalised name and date of birth, so attempts
    per identity can be counted without storing who it was.
    """

    __tablename__ = "recovery_attempts"
    __table_args__ = (Index("ix_recovery_identity_time", "identity_key", "created_at"),)

    id = Column(Integer, primary_key=True)
    kind = Column(String(20), nullable=False)  # username or password
    system = Column(String(20), nullable=False)
    outcome = Column(String(20), nullable=False)  # exact, partial, none, rate_limited
    conversation_id = Column(String(128), nullable=False)
    identity_key = Column(String(64), nullable=False)
    account_id = Column(Integer, ForeignKey("accounts.id", ondelete="SET NULL"), nullable=True)
    created_at = Column(DateTime(timezone=True), nullable=False)
