"""Rasa's SQL tracker store, riding out a database restart.

Rasa wraps every tracker store in `FailSafeTrackerStore`: when the database is unreachable it
starts the conversation afresh in memory, answers, and keeps the turn only in that server's
memory, so a PostgreSQL restart silently loses messages that were answered.
`RetryingSQLTrackerStore` retries each read and write on a lost or refused connection for up to
`TRACKER_STORE_RETRY_SECONDS` (default 15) with a growing pause: a restart of a few seconds only
slows those turns down. The pool's dead connections are dropped by SQLAlchemy on the first
error, so a retry gets a fresh one. Named in the cluster's endpoints file
(`tracker_store: type: bot.rasa_plugins.tracker_store.RetryingSQLTrackerStore`).
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.trackers import DialogueStateTracker
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

log = logging.getLogger(__name__)

_T = TypeVar("_T")
FIRST_PAUSE, LONGEST_PAUSE = 0.1, 1.0


def _connection_lost(error: Exception) -> bool:
    return isinstance(error, OperationalError | InterfaceError) or (
        isinstance(error, DBAPIError) and error.connection_invalidated
    )


class RetryingSQLTrackerStore(SQLTrackerStore):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.retry_seconds = float(os.environ.get("TRACKER_STORE_RETRY_SECONDS", "15"))

    async def _retrying(self, what: str, operation: Callable[[], Awaitable[_T]]) -> _T:
        deadline = time.monotonic() + self.retry_seconds
        pause = FIRST_PAUSE
        while True:
            try:
                return await operation()
            except DBAPIError as error:
                if not _connection_lost(error) or time.monotonic() + pause > deadline:
                    raise
                log.warning("tracker store %s failed (%s); retrying in %.1f s", what,
                            type(error).__name__, pause)
                await asyncio.sleep(pause)
                pause = min(2 * pause, LONGEST_PAUSE)

    async def retrieve(self, sender_id: str) -> DialogueStateTracker | None:
        return await self._retrying("read", lambda: super(
            RetryingSQLTrackerStore, self).retrieve(sender_id))

    async def retrieve_full_tracker(self, sender_id: str) -> DialogueStateTracker | None:
        return await self._retrying("read", lambda: super(
            RetryingSQLTrackerStore, self).retrieve_full_tracker(sender_id))

    async def save(self, tracker: DialogueStateTracker) -> None:
        await self._retrying("write", lambda: super(RetryingSQLTrackerStore, self).save(tracker))
