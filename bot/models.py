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
    text,
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


LIVE_TOKEN = "used_at IS NULL AND revoked_at IS NULL"


class ResetToken(Base):
    """A password-reset link's token: only its SHA-256 is stored; single use, short-lived.

    At most one live (neither used nor revoked) token per account: a unique partial index.
    """

    __tablename__ = "reset_tokens"
    __table_args__ = (
        Index("uq_reset_tokens_live", "account_id", unique=True,
              postgresql_where=text(LIVE_TOKEN), sqlite_where=text(LIVE_TOKEN)),
    )

    id = Column(Integer, primary_key=True)
    account_id = Column(Integer, ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False)
    token_hash = Column(String(64), nullable=False, unique=True)
    created_at = Column(DateTime(timezone=True), nullable=False)
    expires_at = Column(DateTime(timezone=True), nullable=False)
    used_at = Column(DateTime(timezone=True), nullable=True)
    revoked_at = Column(DateTime(timezone=True), nullable=True)  # a newer token was issued


class OutboxMail(Base):
    """An e-mail waiting to be sent (written in the same transaction as what caused it).

    Once sent, `body` is blanked: a reset link or a user name must not outlive its delivery.
    """

    __tablename__ = "outbox"
    __table_args__ = (
        Index("ix_outbox_pending", "sent_at", "next_attempt_at"),
        Index("ix_outbox_created", "created_at"),  # the global mail ceiling counts by hour
    )

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
    # The ticket a mail is about (HD-2026-000123): it goes out with that ticket's reply address.
    ticket_reference = Column(String(20), nullable=True)


class RecoveryAttempt(Base):
    """The audit log of every recovery attempt: outcome and time, no raw PII.

    `identity_key` is a keyed hash (HMAC) of the normalised name and date of birth, so attempts
    per identity can be counted without storing who it was; `email_key` and `user_name_key`
    do the same for the e-mail address and the user name given, so attempts are also counted
    per target, whatever name or date of birth is tried with it.
    """

    __tablename__ = "recovery_attempts"
    __table_args__ = (
        Index("ix_recovery_identity_time", "identity_key", "created_at"),
        Index("ix_recovery_email_time", "email_key", "created_at"),
        Index("ix_recovery_user_name_time", "user_name_key", "created_at"),
        Index("ix_recovery_account_time", "account_id", "created_at"),
        Index("ix_recovery_time", "created_at"),
    )

    id = Column(Integer, primary_key=True)
    kind = Column(String(20), nullable=False)  # username or password
    system = Column(String(20), nullable=False)
    outcome = Column(String(20), nullable=False)  # exact, partial, none, rate_limited
    conversation_id = Column(String(128), nullable=False)
    identity_key = Column(String(64), nullable=False)
    email_key = Column(String(64), nullable=True)  # HMAC of the e-mail address given, if any
    user_name_key = Column(String(64), nullable=True)  # HMAC of the user name given, if any
    account_id = Column(Integer, ForeignKey("accounts.id", ondelete="SET NULL"), nullable=True)
    created_at = Column(DateTime(timezone=True), nullable=False)


TICKET_KINDS = (
    "report_name_misspelled",
    "merge_duplicate_accounts",
    "transfer_account",
    "reactivate_account",
    "login_incorrect",
    "report_error",
    "human_handoff",
)
TICKET_STATUSES = ("open", "in_progress", "waiting_on_user", "resolved")
OPEN_TICKET_STATUSES = ("open", "in_progress", "waiting_on_user")


class Ticket(Base):
    """Something the bot cannot do itself, handed to the help desk with every fact it needs.

    The reference users see (HD-2026-000123) is derived from the year and the id, not stored
    (`bot.tickets.service.reference_of`).
    `facts` and `transcript` are JSON text; the transcript is masked before it is stored.
    """

    __tablename__ = "tickets"
    __table_args__ = (
        CheckConstraint(
            "status IN ('open', 'in_progress', 'waiting_on_user', 'resolved')",
            name="ck_tickets_status",
        ),
        Index("ix_tickets_contact_kind", "contact_email", "kind", "status"),
        Index("ix_tickets_status_created", "status", "created_at"),
    )

    id = Column(Integer, primary_key=True)
    kind = Column(String(40), nullable=False)
    system = Column(String(20), nullable=True)  # None when the request is not about one system
    status = Column(String(20), nullable=False, default="open")
    contact_email = Column(String(254), nullable=False)
    facts = Column(Text, nullable=False)  # JSON object: field name -> value
    transcript = Column(Text, nullable=False)  # JSON list of {"from", "text", "at"}, masked
    conversation_id = Column(String(64), nullable=False)  # sha256 of the sender id
    created_at = Column(DateTime(timezone=True), nullable=False)
    updated_at = Column(DateTime(timezone=True), nullable=False)
    resolved_at = Column(DateTime(timezone=True), nullable=True)
    assignee_id = Column(Integer, ForeignKey("agents.id", ondelete="SET NULL"), nullable=True)
    # The contact's open ticket of the same kind when this one was filed: the address was
    # typed, not verified, so the request is never merged into it; agents decide.
    possible_duplicate_of = Column(Integer, nullable=True)

    def __repr__(self) -> str:
        return f"<Ticket {self.id} {self.kind} {self.status}>"


class TicketEvent(Base):
    """The history of a ticket: created, facts added, status changed, notes, replies.

    `idempotency_key` (unique) makes a retried submission a no-op instead of a second ticket
    or a second "facts added".
    """

    __tablename__ = "ticket_events"
    __table_args__ = (Index("ix_ticket_events_ticket", "ticket_id", "created_at"),)

    id = Column(Integer, primary_key=True)
    ticket_id = Column(Integer, ForeignKey("tickets.id", ondelete="CASCADE"), nullable=False)
    actor = Column(String(120), nullable=False)  # "bot", or later "agent:<name>"
    action = Column(String(40), nullable=False)  # created, facts_added, status_changed, ...
    detail = Column(Text, nullable=False, default="{}")  # JSON
    conversation_id = Column(String(64), nullable=True)
    idempotency_key = Column(String(64), nullable=True, unique=True)
    created_at = Column(DateTime(timezone=True), nullable=False)


class TicketStatusCheck(Base):
    """Every "what is the status of my ticket?" lookup, to rate-limit guessing references."""

    __tablename__ = "ticket_status_checks"
    __table_args__ = (
        Index("ix_status_checks_conversation", "conversation_id", "created_at"),
        Index("ix_status_checks_reference", "reference_key", "created_at"),
        Index("ix_status_checks_email", "email_key", "created_at"),
    )

    id = Column(Integer, primary_key=True)
    conversation_id = Column(String(64), nullable=False)
    found = Column(Integer, nullable=False)  # 1 or 0
    # Hashes of the reference and the e-mail address asked about: a new conversation does not
    # reset the count of guesses at one ticket or one address.
    reference_key = Column(String(64), nullable=True)
    email_key = Column(String(64), nullable=True)
    created_at = Column(DateTime(timezone=True), nullable=False)


class DirectoryAdmin(Base):
    """A district's Directory Administrator, imported with `helpdesk admins import`."""

    __tablename__ = "directory_admins"
    __table_args__ = (
        UniqueConstraint("district", "email", name="uq_directory_admins_district_email"),
    )

    id = Column(Integer, primary_key=True)
    district = Column(String(120), nullable=False, index=True)  # a name from the district list
    first_name = Column(String(80), nullable=False)
    last_name = Column(String(80), nullable=False)
    email = Column(String(254), nullable=False)
    phone = Column(String(40), nullable=False, default="")
    created_at = Column(DateTime(timezone=True), nullable=False, server_default=func.now())
    updated_at = Column(
        DateTime(timezone=True), nullable=False, server_default=func.now(), onupdate=func.now()
    )


AGENT_ROLES = ("agent", "admin")


class Agent(Base):
    """A help-desk agent who signs in to the console (`helpdesk agents create`)."""

    __tablename__ = "agents"
    __table_args__ = (CheckConstraint("role IN ('agent', 'admin')", name="ck_agents_role"),)

    id = Column(Integer, primary_key=True)
    username = Column(String(64), nullable=False, unique=True)
    display_name = Column(String(120), nullable=False)
    role = Column(String(10), nullable=False, default="agent")
    password_hash = Column(String(255), nullable=False)  # argon2id
    active = Column(Integer, nullable=False, default=1)
    created_at = Column(DateTime(timezone=True), nullable=False)
    last_sign_in_at = Column(DateTime(timezone=True), nullable=True)
    # The second factor (bot.console.second_factor): TOTP secrets are stored encrypted.
    totp_secret = Column(String(255), nullable=True)  # set up and confirmed
    totp_pending_secret = Column(String(255), nullable=True)  # shown, not yet confirmed
    totp_last_step = Column(Integer, nullable=True)  # the last code's time step: no replay
    totp_enabled_at = Column(DateTime(timezone=True), nullable=True)

    def __repr__(self) -> str:
        return f"<Agent {self.id} {self.role}>"


class AgentRecoveryCode(Base):
    """A single-use code that stands in for an agent's authenticator app: only its SHA-256 is
    stored (each code carries 80 random bits)."""

    __tablename__ = "agent_recovery_codes"

    id = Column(Integer, primary_key=True)
    agent_id = Column(Integer, ForeignKey("agents.id", ondelete="CASCADE"), nullable=False,
                      index=True)
    code_hash = Column(String(64), nullable=False, unique=True)
    created_at = Column(DateTime(timezone=True), nullable=False)
    used_at = Column(DateTime(timezone=True), nullable=True)


class AgentSession(Base):
    """A signed-in console session: the cookie holds a random token, stored here as SHA-256."""

    __tablename__ = "agent_sessions"

    id = Column(Integer, primary_key=True)
    token_hash = Column(String(64), nullable=False, unique=True)
    agent_id = Column(Integer, ForeignKey("agents.id", ondelete="CASCADE"), nullable=False)
    csrf_token = Column(String(64), nullable=False)  # sent back with every form
    created_at = Column(DateTime(timezone=True), nullable=False)
    last_seen_at = Column(DateTime(timezone=True), nullable=False)
    expires_at = Column(DateTime(timezone=True), nullable=False)  # absolute limit
    revoked_at = Column(DateTime(timezone=True), nullable=True)  # signed out
    # "code" (the agent's second factor is asked next) or "setup" (one must be set up first):
    # such a session opens nothing but that step. None: fully signed in.
    pending_step = Column(String(10), nullable=True)


class AuditEntry(Base):
    """Who did what in the console outside a ticket's own history (sign-ins, FAQ additions,
    views of personal data), and from which client address."""

    __tablename__ = "audit_log"
    __table_args__ = (
        Index("ix_audit_log_time", "created_at"),
        Index("ix_audit_log_client", "client", "action", "created_at"),
    )

    id = Column(Integer, primary_key=True)
    agent_id = Column(Integer, ForeignKey("agents.id", ondelete="SET NULL"), nullable=True)
    action = Column(String(40), nullable=False)
    target = Column(String(120), nullable=False, default="")
    detail = Column(Text, nullable=False, default="{}")  # JSON, no secrets
    created_at = Column(DateTime(timezone=True), nullable=False)
    client = Column(String(64), nullable=True)  # the client's address (bot.web.common)


class Conversation(Base):
    """One chat conversation, counted for the dashboard (keyed by a hash of the sender id)."""

    __tablename__ = "conversations"
    __table_args__ = (Index("ix_conversations_started", "started_at"),)

    conversation_id = Column(String(64), primary_key=True)
    started_at = Column(DateTime(timezone=True), nullable=False)
    last_seen_at = Column(DateTime(timezone=True), nullable=False)
    answers = Column(Integer, nullable=False, default=0)  # answers from the documents
    fallbacks = Column(Integer, nullable=False, default=0)  # "not something I can help with"
    tickets = Column(Integer, nullable=False, default=0)  # tickets filed


class Rating(Base):
    """A user's verdict on a conversation: helpful or not (the last one given counts)."""

    __tablename__ = "ratings"

    id = Column(Integer, primary_key=True)
    conversation_id = Column(String(64), nullable=False, unique=True)
    helpful = Column(Integer, nullable=False)  # 1 or 0
    created_at = Column(DateTime(timezone=True), nullable=False)
    updated_at = Column(DateTime(timezone=True), nullable=False)


class UnansweredMessage(Base):
    """A message the bot could not answer (masked), for agents to see what the knowledge lacks.

    `normalised` groups the same question typed differently; an admin can attach it to an FAQ,
    which adds it to the NLU data for the next training.
    """

    __tablename__ = "unanswered_messages"
    __table_args__ = (Index("ix_unanswered_normalised", "normalised"),)

    id = Column(Integer, primary_key=True)
    conversation_id = Column(String(64), nullable=False)
    text = Column(String(500), nullable=False)
    normalised = Column(String(200), nullable=False)
    created_at = Column(DateTime(timezone=True), nullable=False)
    attached_faq_id = Column(String(80), nullable=True)
    attached_by = Column(Integer, ForeignKey("agents.id", ondelete="SET NULL"), nullable=True)
    attached_at = Column(DateTime(timezone=True), nullable=True)


KNOWLEDGE_ACTIONS = ("edited", "reviewed")


class KnowledgeChange(Base):
    """An admin's change to the knowledge from the console: an answer's text edited, or an
    entry marked as reviewed.

    The newest `edited` row of an (entry, variant) is the text the bot gives, as long as the
    YAML still holds `file_text` (the text the edit replaced); `helpdesk knowledge export`
    writes it back to `knowledge/`. `variant` is "" for the entry's generic answer, else the
    system whose answer it is. `agent_name` keeps who it was if the agent is removed.
    """

    __tablename__ = "knowledge_changes"
    __table_args__ = (
        CheckConstraint("action IN ('edited', 'reviewed')", name="ck_knowledge_changes_action"),
        # Two admins saving the same answer at once: only one edit gets the next number.
        UniqueConstraint("entry_id", "variant", "edit_number", name="uq_knowledge_changes_edit"),
        Index("ix_knowledge_changes_entry", "entry_id", "variant", "id"),
    )

    id = Column(Integer, primary_key=True)
    entry_id = Column(String(80), nullable=False)
    variant = Column(String(20), nullable=False, default="")
    action = Column(String(10), nullable=False)
    edit_number = Column(Integer, nullable=True)  # 1, 2, ... per (entry, variant); edits only
    file_text = Column(Text, nullable=True)  # the YAML's text when edited
    old_text = Column(Text, nullable=True)  # the text the bot gave before
    new_text = Column(Text, nullable=True)
    diff = Column(Text, nullable=True)  # unified diff, one sentence a line
    agent_id = Column(Integer, ForeignKey("agents.id", ondelete="SET NULL"), nullable=True)
    agent_name = Column(String(64), nullable=False)
    created_at = Column(DateTime(timezone=True), nullable=False)


class CannedReply(Base):
    """A reply text admins prepare for agents' e-mails, with {first_name} and {reference}."""

    __tablename__ = "canned_replies"

    id = Column(Integer, primary_key=True)
    title = Column(String(80), nullable=False, unique=True)
    body = Column(Text, nullable=False)
    created_by = Column(Integer, ForeignKey("agents.id", ondelete="SET NULL"), nullable=True)
    updated_by = Column(Integer, ForeignKey("agents.id", ondelete="SET NULL"), nullable=True)
    created_at = Column(DateTime(timezone=True), nullable=False)
    updated_at = Column(DateTime(timezone=True), nullable=False)


LIVE_CHAT_STATUSES = ("waiting", "active", "returned", "ended", "ticketed")
LIVE_SENDERS = ("user", "agent", "system")


class LiveChat(Base):
    """A conversation handed from the bot to a person (`bot.live`): waiting for an agent, with
    one (active), or over (returned to the bot, ended, or turned into a ticket).

    `transcript` is the bot conversation before the hand-over, masked like a ticket's (JSON);
    `facts` what the bot had collected (JSON). `resumed_at` says the bot took the conversation
    back (Rasa's ConversationResumed was logged) after the chat was over."""

    __tablename__ = "live_chats"
    __table_args__ = (
        CheckConstraint(
            "status IN ('waiting', 'active', 'returned', 'ended', 'ticketed')",
            name="ck_live_chats_status",
        ),
        Index("ix_live_chats_conversation", "conversation_id", "status"),
        Index("ix_live_chats_status", "status", "created_at"),
    )

    id = Column(Integer, primary_key=True)
    conversation_id = Column(String(64), nullable=False)  # sha256 of the sender id
    status = Column(String(10), nullable=False, default="waiting")
    agent_id = Column(Integer, ForeignKey("agents.id", ondelete="SET NULL"), nullable=True)
    system = Column(String(20), nullable=True)
    facts = Column(Text, nullable=False, default="{}")
    transcript = Column(Text, nullable=False, default="[]")
    ticket_id = Column(Integer, ForeignKey("tickets.id", ondelete="SET NULL"), nullable=True)
    created_at = Column(DateTime(timezone=True), nullable=False)
    taken_at = Column(DateTime(timezone=True), nullable=True)
    closed_at = Column(DateTime(timezone=True), nullable=True)
    resumed_at = Column(DateTime(timezone=True), nullable=True)
    user_seen_at = Column(DateTime(timezone=True), nullable=True)
    user_left_at = Column(DateTime(timezone=True), nullable=True)
    agent_seen_at = Column(DateTime(timezone=True), nullable=True)

    def __repr__(self) -> str:
        return f"<LiveChat {self.id} {self.status}>"


class LiveMessage(Base):
    """One message of a live chat: from the user, the agent, or the desk itself ("system")."""

    __tablename__ = "live_messages"
    __table_args__ = (
        CheckConstraint("sender IN ('user', 'agent', 'system')", name="ck_live_messages_sender"),
        Index("ix_live_messages_chat", "chat_id", "id"),
    )

    id = Column(Integer, primary_key=True)
    chat_id = Column(Integer, ForeignKey("live_chats.id", ondelete="CASCADE"), nullable=False)
    sender = Column(String(10), nullable=False)
    text = Column(Text, nullable=False)
    created_at = Column(DateTime(timezone=True), nullable=False)


class LiveAgent(Base):
    """An agent's availability for live chats: available while the console's live page is open
    (it refreshes `seen_at` every few seconds)."""

    __tablename__ = "live_agents"

    agent_id = Column(Integer, ForeignKey("agents.id", ondelete="CASCADE"), primary_key=True)
    available = Column(Integer, nullable=False, default=0)
    seen_at = Column(DateTime(timezone=True), nullable=False)
