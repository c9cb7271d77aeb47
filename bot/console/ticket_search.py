"""Finding tickets from the console: by reference, contact e-mail, name or any text.

* A query that reads as a reference (`parse_reference`: "HD-2026-000123", "hd 2026 123") of an
  existing ticket finds that ticket alone.
* Otherwise every word of the query (at most 8) must occur, ignoring case, somewhere in the
  ticket: the contact e-mail, the values of the facts the bot collected (names, schools,
  error messages...), what the user typed in the (masked) transcript, or the agents' notes and
  e-mail replies. Field names and the bot's own lines are not searched, so "error" does not
  find every error report by its field name.
* The facts, transcript and event details are JSON text: the values are read with the
  database's JSON functions (SQLite's `json_each`/`json_extract`, PostgreSQL's `json_each_text`,
  `json_array_elements` and `->>`).
* Every search is an `audit_log` row (who searched for what, how many tickets it found): the
  results show contact addresses.
"""

from __future__ import annotations

import logging
import math
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, and_, cast, exists, func, literal, or_, select
from sqlalchemy.orm import Session, aliased, sessionmaker

from bot.console.agents import AgentInfo, audit
from bot.console.ticket_desk import NOTE, PAGE_SIZE, REPLIED, QueueRow, TicketDesk, _find
from bot.mail.outbox import as_utc, utc_now
from bot.models import Agent, Ticket, TicketEvent
from bot.tickets.service import parse_reference, reference_of

log = logging.getLogger(__name__)

MIN_QUERY, MAX_QUERY, MAX_WORDS = 2, 200, 8
SEARCHED = "tickets_searched"  # audit_log action


class SearchError(ValueError):
    """The query cannot be searched for; the message says why."""


@dataclass(frozen=True)
class SearchResult:
    query: str
    rows: list[QueueRow]
    total: int
    page: int
    pages: int
    reference: str | None = None  # the query was this ticket's reference


def clean_query(text: str) -> str:
    """The query as searched: no control characters, single spaces; SearchError if it is too
    short or too long."""
    kept = "".join(" " if unicodedata.category(char).startswith("C") else char for char in text)
    query = " ".join(kept.split())
    if len(query) < MIN_QUERY:
        raise SearchError(f"Type at least {MIN_QUERY} characters to search.")
    if len(query) > MAX_QUERY:
        raise SearchError(f"A search is at most {MAX_QUERY} characters.")
    return query


def _like(word: str) -> str:
    escaped = word.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _word_matches(word: str, dialect: str) -> Any:
    """SQL: the ticket holds `word` in one of the searched places."""
    pattern = _like(word)

    def has(expression: Any) -> Any:
        return expression.ilike(pattern, escape="\\")

    if dialect == "postgresql":
        facts = func.json_each_text(cast(Ticket.facts, JSON)).table_valued("key", "value")
        lines = func.json_array_elements(cast(Ticket.transcript, JSON)).table_valued("value")
        line_text, speaker = lines.c.value.op("->>")("text"), lines.c.value.op("->>")("from")
        event_text = cast(TicketEvent.detail, JSON).op("->>")("text")
    else:
        facts = func.json_each(Ticket.facts).table_valued("value")
        lines = func.json_each(Ticket.transcript).table_valued("value")
        line_text = func.json_extract(lines.c.value, "$.text")
        speaker = func.json_extract(lines.c.value, "$.from")
        event_text = func.json_extract(TicketEvent.detail, "$.text")
    return or_(
        has(Ticket.contact_email),
        exists(select(literal(1)).select_from(facts).where(has(facts.c.value))),
        exists(select(literal(1)).select_from(lines).where(speaker == "user", has(line_text))),
        exists(select(literal(1)).where(
            TicketEvent.ticket_id == Ticket.id, TicketEvent.action.in_((NOTE, REPLIED)),
            has(event_text),
        )),
    )


class TicketSearch:
    """Searches tickets for the console, recording each search."""

    def __init__(self, sessions: sessionmaker, clock: Callable[[], datetime] = utc_now) -> None:
        self._sessions = sessions
        self._clock = clock

    def search(self, agent: AgentInfo, text: str, page: int = 1) -> SearchResult:
        """The tickets matching `text`, newest first, 50 a page."""
        query = clean_query(text)
        now = as_utc(self._clock())
        with self._sessions() as session, session.begin():
            result = self._search(session, query, page, now)
            audit(session, action=SEARCHED, now=now, agent_id=agent.id,
                  detail={"query": query, "results": result.total, "page": page})
        log.info("console: agent %s searched tickets: %d found", agent.id, result.total)
        return result

    def _search(self, session: Session, query: str, page: int, now: datetime) -> SearchResult:
        if parse_reference(query) is not None:
            ticket = _find(session, query)
            if ticket is not None:
                reference = reference_of(ticket)
                return SearchResult(query, [], 1, 1, 1, reference=reference)
        dialect = session.get_bind().dialect.name
        words = list(dict.fromkeys(query.split()))[:MAX_WORDS]
        matches = and_(*[_word_matches(word, dialect) for word in words])
        total = session.execute(select(func.count(Ticket.id)).where(matches)).scalar_one()
        assignee = aliased(Agent)
        found = session.execute(
            select(Ticket, assignee.display_name)
            .outerjoin(assignee, assignee.id == Ticket.assignee_id)
            .where(matches)
            .order_by(Ticket.created_at.desc(), Ticket.id.desc())
            .limit(PAGE_SIZE).offset((page - 1) * PAGE_SIZE)
        ).all()
        rows = [TicketDesk._row(ticket, name, now) for ticket, name in found]
        return SearchResult(query, rows, total, page, max(1, math.ceil(total / PAGE_SIZE)))
