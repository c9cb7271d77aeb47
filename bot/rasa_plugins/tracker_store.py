"""Rasa's SQL tracker store, riding out a database restart and keeping no personal data the
forms no longer need.

Rasa wraps every tracker store in `FailSafeTrackerStore`: when the database is unreachable it
starts the conversation afresh in memory, answers, and keeps the turn only in that server's
memory, so a PostgreSQL restart silently loses messages that were answered.
`RetryingSQLTrackerStore` retries each read and write on a lost or refused connection for up to
`TRACKER_STORE_RETRY_SECONDS` (default 15) with a growing pause: a restart of a few seconds only
slows those turns down. The pool's dead connections are dropped by SQLAlchemy on the first
error, so a retry gets a fresh one. Named in the cluster's endpoints file
(`tracker_store: type: bot.rasa_plugins.tracker_store.RetryingSQLTrackerStore`).

What is stored is `bot.privacy.redaction.redact_events` of the conversation, not the events as
they happened: names, dates of birth, e-mail addresses, user names and ticket facts are gone
from the stored copy as soon as nothing needs them. Why here, in the store, rather than in the
actions: the actions see the live tracker Rasa sends them, so they keep working with the
values; a form that is still running reads its slots back from this store next turn, so their
current values are kept until the form is done; the user's messages, once answered, are never
read again, so they are stored redacted from the start. Each save writes the new events
redacted and rewrites, in the same transaction, the already stored rows of the session whose
redaction changed since (a form finished, a value was replaced). Rows of an earlier session were
redacted when the next session started; a conversation abandoned with a form open keeps that
form's answers until `helpdesk conversations purge` deletes it. (PostgreSQL drops the old row
versions at its next vacuum.) An event broker, if one were configured, would still receive the
events as they happened: none is.
"""

from __future__ import annotations

import json
import os
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.trackers import DialogueStateTracker

from bot.db import retry_on_disconnect_async
from bot.privacy.redaction import redact_events

_T = TypeVar("_T")


class RetryingSQLTrackerStore(SQLTrackerStore):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.retry_seconds = float(os.environ.get("TRACKER_STORE_RETRY_SECONDS", "15"))

    async def _retrying(self, what: str, operation: Callable[[], Awaitable[_T]]) -> _T:
        return await retry_on_disconnect_async(operation, self.retry_seconds,
                                               f"tracker store {what}")

    async def retrieve(self, sender_id: str) -> DialogueStateTracker | None:
        return await self._retrying("read", lambda: super(
            RetryingSQLTrackerStore, self).retrieve(sender_id))

    async def retrieve_full_tracker(self, sender_id: str) -> DialogueStateTracker | None:
        return await self._retrying("read", lambda: super(
            RetryingSQLTrackerStore, self).retrieve_full_tracker(sender_id))

    async def save(self, tracker: DialogueStateTracker) -> None:
        await self._retrying("write", lambda: self._save_redacted(tracker))

    async def _save_redacted(self, tracker: DialogueStateTracker) -> None:
        """Store the session's new events redacted, and re-redact the stored ones that need it
        now, in one transaction."""
        await self.stream_events(tracker)
        events = [event.as_dict() for event in tracker.events]
        private = redact_events(events)
        with self.session_scope() as session:
            current = self._event_query(session, tracker.sender_id,
                                        fetch_events_from_all_sessions=False)
            stored = current.count()
            changed = [n for n in range(min(stored, len(events))) if private[n] != events[n]]
            if changed:
                ids = [row.id for row in current.with_entities(self.SQLEvent.id)]
                for position in changed:
                    session.query(self.SQLEvent).filter(
                        self.SQLEvent.id == ids[position]
                    ).update({"data": json.dumps(private[position])},
                             synchronize_session=False)
            for data in private[stored:]:
                session.add(self.SQLEvent(
                    sender_id=tracker.sender_id,
                    type_name=data["event"],
                    timestamp=data.get("timestamp"),
                    intent_name=(data.get("parse_data") or {}).get("intent", {}).get("name"),
                    action_name=data.get("name"),
                    data=json.dumps(data),
                ))
            session.commit()
