"""The application services the action server and the web app share, built once from settings."""

from __future__ import annotations

import hashlib
import logging
from functools import lru_cache

from sqlalchemy.orm import Session, sessionmaker

from bot.console import conversation_stats
from bot.db import make_engine, session_factory
from bot.directory.admins import lookup_admins
from bot.knowledge.entries import KnowledgeBase, load_knowledge
from bot.live.service import LiveDesk
from bot.models import DirectoryAdmin
from bot.recovery.service import RecoveryLimits, RecoveryService
from bot.settings import Settings
from bot.tickets.service import TicketLimits, TicketService

log = logging.getLogger(__name__)


@lru_cache(maxsize=1)
def settings() -> Settings:
    return Settings.from_env()


@lru_cache(maxsize=1)
def sessions() -> sessionmaker[Session]:
    """One engine (and connection pool) per process."""
    return session_factory(make_engine(settings().database_url))


def knowledge() -> KnowledgeBase:
    """The knowledge as the bot answers from it: the YAML with the answer texts admins edited
    in the console (stored in the database, so every process sees an edit at once)."""
    return load_knowledge(sessions=sessions())


@lru_cache(maxsize=1)
def recovery_service() -> RecoveryService:
    limits = RecoveryLimits(attempts_per_hour=settings().recovery_attempts_per_hour,
                            mails_per_hour=settings().mail_per_hour)
    return RecoveryService(sessions(), settings().public_base_url, settings().secret_key,
                           limits)


@lru_cache(maxsize=1)
def ticket_service() -> TicketService:
    return TicketService(sessions(), TicketLimits(mails_per_hour=settings().mail_per_hour))


@lru_cache(maxsize=1)
def live_desk() -> LiveDesk:
    return LiveDesk(sessions(), agent_timeout=settings().live_agent_timeout,
                    always_open=settings().live_chat_always_open)


def live_wait() -> int | None:
    """Minutes to wait for a live chat with the help desk, or None when nobody can chat now
    (outside hours, nobody available, or the database unreachable: the request path then)."""
    try:
        desk = live_desk()
        return desk.expected_wait() if desk.can_offer() else None
    except Exception as error:  # a person is still reachable by a request
        log.warning("live chat availability unknown: %s", type(error).__name__)
        return None


def directory_admins(district: str) -> list[DirectoryAdmin]:
    """The Directory Administrators on file for a district (its name from the district list)."""
    with sessions()() as session:
        return lookup_admins(session, district)


def record_turn(sender_id: str, what: str, unanswered: str | None = None) -> None:
    """Count a turn for the dashboard; a failure is logged (by class) and never breaks a chat."""
    try:
        conversation_stats.record(sessions(), conversation_key(sender_id), what, unanswered)
    except Exception as error:  # the statistics must not cost the user an answer
        log.warning("conversation statistics not recorded: %s", type(error).__name__)


def conversation_key(sender_id: str) -> str:
    """How the audit log names a conversation: a sender id can be anything, even an address."""
    return hashlib.sha256(sender_id.encode()).hexdigest()
