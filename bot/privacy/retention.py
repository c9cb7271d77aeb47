"""How long conversations are kept: `purge_conversations` deletes what is older than an age.

Deleted, when older than the cutoff:

* in Rasa's SQL tracker store (the cluster's), the events of every conversation whose last
  event is older, and, of a conversation still going on, the events of its earlier sessions
  (Rasa reads only the current session back, so it never misses them);
* in the application database, the per-conversation rows: the dashboard's conversation counts
  (by last activity), ratings, unanswered messages, ticket-status lookups and the recovery
  attempts (the audit of identity checks, kept as HMACs).

Tickets (and the transcript each holds), the console's audit log and the outbox are the help
desk's records, not conversations: they are kept.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Column, Float, MetaData, String, Table, delete, func, inspect, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import sessionmaker

from bot.models import (
    Conversation,
    LiveChat,
    Rating,
    RecoveryAttempt,
    TicketStatusCheck,
    UnansweredMessage,
)

# Rasa's SQLTrackerStore table, only the columns the purge reads.
_EVENTS = Table(
    "events", MetaData(),
    Column("sender_id", String(255)), Column("type_name", String(255)),
    Column("timestamp", Float),
)
# Per-conversation rows of the application database and the time each is judged by.
APP_ROWS = {
    "conversations": Conversation.last_seen_at,
    "ratings": Rating.updated_at,
    "unanswered messages": UnansweredMessage.created_at,
    "ticket status lookups": TicketStatusCheck.created_at,
    "recovery attempts": RecoveryAttempt.created_at,
    "live chats": LiveChat.created_at,  # their messages go with them (ON DELETE CASCADE)
}


@dataclass(frozen=True)
class PurgeReport:
    cutoff: datetime
    app_rows: dict[str, int]  # per kind of row, how many were deleted
    tracker_conversations: int | None = None  # None: no tracker store to purge
    tracker_events: int | None = None


def purge_app_rows(sessions: sessionmaker, cutoff: datetime) -> dict[str, int]:
    """Delete the application's per-conversation rows older than `cutoff`; counts per kind."""
    deleted = {}
    with sessions() as session, session.begin():
        for what, moment in APP_ROWS.items():
            result = session.execute(
                delete(moment.class_).where(moment < cutoff)
                .execution_options(synchronize_session=False)
            )
            deleted[what] = result.rowcount
    return deleted


def purge_tracker_events(engine: Engine, cutoff: datetime) -> tuple[int, int]:
    """Delete tracker-store events older than `cutoff` (see the module's docstring); returns
    (conversations deleted whole, events deleted)."""
    if not inspect(engine).has_table("events"):
        return 0, 0
    before = cutoff.timestamp()
    events = _EVENTS.c
    idle = (
        select(events.sender_id).group_by(events.sender_id)
        .having(func.max(events.timestamp) < before)
    )
    sessions = _EVENTS.alias("sessions")
    current_session_start = (
        select(func.max(sessions.c.timestamp))
        .where(sessions.c.sender_id == events.sender_id,
               sessions.c.type_name == "session_started")
        .scalar_subquery()
    )
    with engine.begin() as connection:
        idle_senders = connection.execute(
            select(func.count()).select_from(idle.subquery())
        ).scalar_one()
        whole = connection.execute(
            delete(_EVENTS).where(events.sender_id.in_(idle))
        ).rowcount
        earlier_sessions = connection.execute(
            delete(_EVENTS).where(events.timestamp < before,
                                  events.timestamp < current_session_start)
        ).rowcount
    return idle_senders, whole + earlier_sessions


def purge_conversations(
    sessions: sessionmaker, tracker_engine: Engine | None, older_than: timedelta,
    now: datetime,
) -> PurgeReport:
    """Delete conversations older than `older_than` from the tracker store (when there is
    one) and the application database."""
    cutoff = now - older_than
    conversations = events = None
    if tracker_engine is not None:
        conversations, events = purge_tracker_events(tracker_engine, cutoff)
    return PurgeReport(cutoff, purge_app_rows(sessions, cutoff), conversations, events)
