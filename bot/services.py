"""The application services the action server and the web app share, built once from settings."""

from __future__ import annotations

import hashlib
from functools import lru_cache

from bot.db import make_engine, session_factory
from bot.recovery import RecoveryService
from bot.settings import Settings


@lru_cache(maxsize=1)
def recovery_service() -> RecoveryService:
    settings = Settings.from_env()
    sessions = session_factory(make_engine(settings.database_url))
    return RecoveryService(sessions, settings.public_base_url, settings.secret_key)


def conversation_key(sender_id: str) -> str:
    """How the audit log names a conversation: a sender id can be anything, even an address."""
    return hashlib.sha256(sender_id.encode()).hexdigest()
