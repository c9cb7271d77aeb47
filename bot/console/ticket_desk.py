"""The agents' work on tickets: the queue, one ticket with its history, and what an agent does
to it (assign, change status, internal note, reply by e-mail).

Every change is a `ticket_events` row with actor `agent:<username>`; a reply is queued in the
outbox in the same transaction. Opening a ticket records a `viewed` event, at most one per agent
per ticket per 10 minutes. A ticket not resolved by the time the desk promised an answer
(`HELP_DESK.expected_reply(created_at, 1)`: the end of the next business day) is overdue.
"""

from __future__ import annotations

import json
import logging
import math
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, aliased, sessionmaker

from bot.console.agents import AgentInfo
from bot.knowledge.entries import load_knowledge
from bot.mail.inbound import size_text
from bot.mail.outbox import as_utc, enqueue, utc_now
from bot.models import SYSTEMS, TICKET_KINDS, TICKET_STATUSES, Agent, Ticket, TicketEvent
from bot.tickets.business_hours import HELP_DESK
from bot.tickets.mail_replies import ACTION_EMAIL_REPLY as EMAIL_REPLY
from bot.tickets.service import (
    SEPARATOR,
    kind_title,
    labelled_facts,
    parse_reference,
    reference_of,
    shown,
)
from bot.tickets.transcript import mask_text, readable

log = logging.getLogger(__name__)

PAGE_SIZE = 50
UNRESOLVED, ALL = "unresolved", "all"
STATUS_FILTERS = (UNRESOLVED, ALL, *TICKET_STATUSES)
NO_SYSTEM = "none"
SYSTEM_FILTERS = (*SYSTEMS, NO_SYSTEM)
NEWEST, OLDEST = "newest", "oldest"
ORDERS = (NEWEST, OLDEST)
MAX_AGE_DAYS = 3650
MAX_TEXT = 4000
VIEW_INTERVAL = timedelta(minutes=10)
RESOLVED = "resolved"
STATUS_LABELS = {
    "open": "Open",
    "in_progress": "In progress",
    "waiting_on_user": "Waiting on user",
    "resolved": "Resolved",
}
# ticket_events actions written here
VIEWED, ASSIGNED, STATUS_CHANGED, NOTE, REPLIED = (
    "viewed", "assigned", "status_changed", "note", "replied"
)


class TicketNotFound(LookupError):
    """No ticket has this reference."""


class ConsoleInputError(ValueError):
    """What an agent typed or chose cannot be used; the message says why."""


def is_overdue(status: str, created_at: datetime, now: datetime) -> bool:
    """Not resolved, and past the end of the business day after it was filed."""
    return status != RESOLVED and now > HELP_DESK.expected_reply(as_utc(created_at), 1)


def clean_text(text: str) -> str:
    """Typed text for a note or a reply: control characters out (line breaks kept as "\\n"),
    surrounding space trimmed; ConsoleInputError when empty or too long."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    kept = "".join(
        char if char == "\n" or unicodedata.category(char) != "Cc" else " " for char in text
    ).strip()
    if not kept:
        raise ConsoleInputError("The text is empty.")
    if len(kept) > MAX_TEXT:
        raise ConsoleInputError(f"The text is too long: at most {MAX_TEXT} characters.")
    return kept


# ------------------------------------------------------------------------- the queue
@dataclass(frozen=True)
class QueueQuery:
    """What the queue shows; the defaults are the unresolved tickets, newest first."""

    status: str = UNRESOLVED
    kind: str | None = None
    system: str | None = None  # one of SYSTEM_FILTERS, None for any
    older_than_days: int | None = None
    order: str = NEWEST
    page: int = 1

    def __post_init__(self) -> None:
        if self.status not in STATUS_FILTERS:
            raise ConsoleInputError(f"unknown status {self.status!r}")
        if self.kind is not None and self.kind not in TICKET_KINDS:
            raise ConsoleInputError(f"unknown kind {self.kind!r}")
        if self.system is not None and self.system not in SYSTEM_FILTERS:
            raise ConsoleInputError(f"unknown system {self.system!r}")
        if self.older_than_days is not None and not 0 <= self.older_than_days <= MAX_AGE_DAYS:
            raise ConsoleInputError(f"age must be 0 to {MAX_AGE_DAYS} days")
        if self.order not in ORDERS:
            raise ConsoleInputError(f"unknown order {self.order!r}")
        if self.page < 1:
            raise ConsoleInputError("page must be 1 or more")


@dataclass(frozen=True)
class QueueRow:
    id: int
    reference: str
    kind: str
    kind_title: str
    system: str | None
    status: str
    contact_email: str
    created_at: datetime
    updated_at: datetime
    assignee: str | None  # display name
    overdue: bool
    due_at: datetime


@dataclass(frozen=True)
class QueuePage:
    rows: list[QueueRow]
    total: int  # tickets matching the query, on every page
    counts: dict[str, int]  # per status, with the query's other filters
    page: int
    pages: int
    latest_id: int = 0  # the newest ticket's id, whatever the filters
    newer: int = 0  # tickets matching the query filed after the `since` ticket asked about


# ------------------------------------------------------------------------- one ticket
@dataclass(frozen=True)
class EventView:
    at: datetime
    actor: str
    action: str
    summary: str
    text: str | None = None  # a note's, a reply's or an e-mailed answer's text
    attachments: tuple[str, ...] = ()  # an e-mailed answer's: "name (type, size)", not kept


@dataclass(frozen=True)
class TicketView:
    reference: str
    kind: str
    kind_title: str
    system: str | None
    system_name: str | None
    status: str
    contact_email: str
    created_at: datetime
    updated_at: datetime
    resolved_at: datetime | None
    assignee_username: str | None
    assignee_name: str | None
    overdue: bool
    due_at: datetime
    first_name: str | None = None  # from the name facts, for canned replies
    # The open ticket this one may duplicate: filed for the same (unverified) address and kind
    # from another conversation, so it was not merged into it.
    possible_duplicate_of: str | None = None
    facts: list[tuple[str, str]] = field(default_factory=list)
    transcript: list[dict[str, str]] = field(default_factory=list)
    events: list[EventView] = field(default_factory=list)


class TicketDesk:
    """The queue and the ticket pages' data, and the changes agents make to tickets."""

    def __init__(
        self, sessions: sessionmaker, clock: Callable[[], datetime] = utc_now
    ) -> None:
        self._sessions = sessions
        self._clock = clock

    def _now(self) -> datetime:
        return as_utc(self._clock())

    # ----------------------------------------------------------------- reading
    def queue(self, query: QueueQuery, since: int | None = None) -> QueuePage:
        """One page of tickets matching `query`, with the per-status counts; with `since` (a
        ticket id), also how many matching tickets were filed after it."""
        now = self._now()
        filters: list[Any] = []
        if query.kind is not None:
            filters.append(Ticket.kind == query.kind)
        if query.system == NO_SYSTEM:
            filters.append(Ticket.system.is_(None))
        elif query.system is not None:
            filters.append(Ticket.system == query.system)
        if query.older_than_days is not None:
            filters.append(Ticket.created_at < now - timedelta(days=query.older_than_days))
        status_filter: list[Any] = []
        if query.status == UNRESOLVED:
            status_filter.append(Ticket.status != RESOLVED)
        elif query.status != ALL:
            status_filter.append(Ticket.status == query.status)
        if query.order == NEWEST:
            order = (Ticket.created_at.desc(), Ticket.id.desc())
        else:
            order = (Ticket.created_at.asc(), Ticket.id.asc())
        assignee = aliased(Agent)
        with self._sessions() as session:
            counted = dict(session.execute(
                select(Ticket.status, func.count(Ticket.id)).where(*filters)
                .group_by(Ticket.status)
            ).all())
            total = session.execute(
                select(func.count(Ticket.id)).where(*filters, *status_filter)
            ).scalar_one()
            found = session.execute(
                select(Ticket, assignee.display_name)
                .outerjoin(assignee, assignee.id == Ticket.assignee_id)
                .where(*filters, *status_filter)
                .order_by(*order)
                .limit(PAGE_SIZE).offset((query.page - 1) * PAGE_SIZE)
            ).all()
            rows = [self._row(ticket, name, now) for ticket, name in found]
            latest_id = session.execute(select(func.max(Ticket.id))).scalar_one() or 0
            newer = 0
            if since is not None:
                newer = session.execute(select(func.count(Ticket.id)).where(
                    *filters, *status_filter, Ticket.id > since)).scalar_one()
        counts = {status: counted.get(status, 0) for status in TICKET_STATUSES}
        counts[UNRESOLVED] = sum(n for status, n in counts.items() if status != RESOLVED)
        counts[ALL] = counts[UNRESOLVED] + counts[RESOLVED]
        pages = max(1, math.ceil(total / PAGE_SIZE))
        return QueuePage(rows, total, counts, query.page, pages, latest_id, newer)

    def queue_signature(self) -> tuple[Any, ...]:
        """Changes whenever a ticket is filed or changed, as every change to a ticket is one
        of its events (what the live queue watches)."""
        with self._sessions() as session:
            tickets = session.execute(select(func.count(Ticket.id), func.max(Ticket.id))).one()
            last_event = session.execute(select(func.max(TicketEvent.id))).scalar_one()
        return (*tickets, last_event)

    @staticmethod
    def _row(ticket: Ticket, assignee: str | None, now: datetime) -> QueueRow:
        created = as_utc(ticket.created_at)
        return QueueRow(
            id=ticket.id, reference=reference_of(ticket), kind=ticket.kind,
            kind_title=kind_title(ticket.kind),
            system=ticket.system, status=ticket.status, contact_email=ticket.contact_email,
            created_at=created, updated_at=as_utc(ticket.updated_at), assignee=assignee,
            overdue=is_overdue(ticket.status, created, now),
            due_at=HELP_DESK.expected_reply(created, 1),
        )

    def ticket(self, reference: str) -> TicketView | None:
        """The ticket with its labelled facts, masked transcript and history; None if there
        is no such ticket."""
        now = self._now()
        with self._sessions() as session:
            ticket = _find(session, reference)
            if ticket is None:
                return None
            assignee = session.get(Agent, ticket.assignee_id) if ticket.assignee_id else None
            events = session.execute(
                select(TicketEvent).where(TicketEvent.ticket_id == ticket.id)
                .order_by(TicketEvent.created_at, TicketEvent.id)
            ).scalars().all()
            facts: dict[str, str] = json.loads(ticket.facts)
            transcript: list[dict[str, str]] = json.loads(ticket.transcript)
            created = as_utc(ticket.created_at)
            duplicate = (session.get(Ticket, ticket.possible_duplicate_of)
                         if ticket.possible_duplicate_of else None)
            return TicketView(
                reference=reference_of(ticket), kind=ticket.kind,
                kind_title=kind_title(ticket.kind), system=ticket.system,
                system_name=load_knowledge().system_name(ticket.system) if ticket.system else None,
                status=ticket.status, contact_email=ticket.contact_email, created_at=created,
                updated_at=as_utc(ticket.updated_at),
                resolved_at=as_utc(ticket.resolved_at) if ticket.resolved_at else None,
                assignee_username=assignee.username if assignee else None,
                assignee_name=assignee.display_name if assignee else None,
                overdue=is_overdue(ticket.status, created, now),
                due_at=HELP_DESK.expected_reply(created, 1),
                first_name=first_name_of(facts),
                possible_duplicate_of=reference_of(duplicate) if duplicate else None,
                facts=[(label, shown(value)) for label, value in
                       labelled_facts(ticket.kind, facts)],
                transcript=[_transcript_entry(entry) for entry in transcript],
                events=[_event_view(ticket.kind, event) for event in events],
            )

    # ----------------------------------------------------------------- changes
    def record_view(self, agent: AgentInfo, reference: str) -> bool:
        """Record that `agent` opened the ticket, unless they did in the last 10 minutes."""
        now = self._now()
        with self._sessions() as session, session.begin():
            ticket = _find(session, reference)
            if ticket is None:
                return False
            recent = session.execute(
                select(TicketEvent.id).where(
                    TicketEvent.ticket_id == ticket.id, TicketEvent.actor == agent.actor,
                    TicketEvent.action == VIEWED, TicketEvent.created_at > now - VIEW_INTERVAL,
                ).limit(1)
            ).first()
            if recent is not None:
                return False
            _event(session, ticket, agent, VIEWED, {}, now)
        return True

    def assign_to_me(self, agent: AgentInfo, reference: str) -> bool:
        """Assign the ticket to `agent`; False when it already was."""
        return self.assign(agent, reference, agent.username)

    def assign(self, agent: AgentInfo, reference: str, assignee: str | None) -> bool:
        """`agent` assigns the ticket to the active agent named `assignee` (None: nobody);
        False when it already was."""
        now = self._now()
        with self._sessions() as session, session.begin():
            new = None
            if assignee is not None:
                new = session.execute(
                    select(Agent).where(Agent.username == assignee, Agent.active == 1)
                ).scalar_one_or_none()
                if new is None:
                    raise ConsoleInputError(f"There is no active agent {assignee[:64]!r}.")
            ticket = _locked(session, reference)
            if ticket.assignee_id == (new.id if new else None):
                return False
            previous = session.get(Agent, ticket.assignee_id) if ticket.assignee_id else None
            ticket.assignee_id = new.id if new else None
            ticket.updated_at = now
            _event(session, ticket, agent, ASSIGNED, {
                "previous": previous.username if previous else None,
                "assignee": new.username if new else None,
            }, now)
            ticket_id = ticket.id
        log.info("ticket %s assigned to agent %s by agent %s", ticket_id,
                 new.id if new else None, agent.id)
        return True

    def set_status(self, agent: AgentInfo, reference: str, status: str) -> bool:
        """Change the status (resolving sets resolved_at, reopening clears it); False when
        the ticket already had it."""
        if status not in TICKET_STATUSES:
            raise ConsoleInputError(f"Unknown status {status!r}.")
        now = self._now()
        with self._sessions() as session, session.begin():
            ticket = _locked(session, reference)
            previous = ticket.status
            if previous == status:
                return False
            ticket.status = status
            ticket.updated_at = now
            ticket.resolved_at = now if status == RESOLVED else None
            _event(session, ticket, agent, STATUS_CHANGED,
                   {"previous": previous, "status": status}, now)
            ticket_id = ticket.id
        log.info("ticket %s status %s -> %s by agent %s", ticket_id, previous, status, agent.id)
        return True

    def add_note(self, agent: AgentInfo, reference: str, text: str) -> None:
        """An internal note: only agents see it."""
        text = clean_text(text)
        now = self._now()
        with self._sessions() as session, session.begin():
            ticket = _locked(session, reference)
            _event(session, ticket, agent, NOTE, {"text": text}, now)

    def reply(self, agent: AgentInfo, reference: str, text: str) -> None:
        """E-mail `text` to the ticket's contact address (through the outbox)."""
        text = clean_text(text)
        now = self._now()
        with self._sessions() as session, session.begin():
            ticket = _locked(session, reference)
            reference = reference_of(ticket)
            body = (
                f"Hello,\n\n"
                f"The help desk has a reply about your request {reference} "
                f"({kind_title(ticket.kind)}):\n\n"
                f"{text}\n\n"
                f"{agent.display_name}, help desk\n\n"
                f"If you write back, please keep the reference {reference} in the subject.\n"
            )
            mail = enqueue(session, kind="ticket_reply", to_address=ticket.contact_email,
                           subject=f"About your help desk request {reference}", body=body,
                           now=now, ticket_reference=reference)
            session.flush()
            ticket.updated_at = now
            _event(session, ticket, agent, REPLIED, {"text": text, "mail_id": mail.id}, now)
            ticket_id = ticket.id
        log.info("ticket %s: reply queued by agent %s", ticket_id, agent.id)


# ------------------------------------------------------------------------- helpers
NAME_FACTS = ("full_name", "name_should_be", "name_as_shown")


def first_name_of(facts: dict[str, str]) -> str | None:
    """The first word of the user's name as the facts give it, if they hold a name."""
    for name in NAME_FACTS:
        words = str(facts.get(name) or "").split()
        if words:
            return words[0]
    return None


def _locked(session: Session, reference: str) -> Ticket:
    """The ticket `reference` names, row-locked for a change; TicketNotFound if there is none."""
    ticket = _find(session, reference, lock=True)
    if ticket is None:
        raise TicketNotFound(reference)
    return ticket


def _find(session: Session, reference: str, *, lock: bool = False) -> Ticket | None:
    """The ticket `reference` names (its year must match), row-locked when `lock`."""
    parsed = parse_reference(reference)
    if parsed is None:
        return None
    year, ticket_id = parsed
    query = select(Ticket).where(Ticket.id == ticket_id)
    if lock:
        query = query.with_for_update()
    ticket = session.execute(query).scalar_one_or_none()
    if ticket is None or as_utc(ticket.created_at).year != year:
        return None
    return ticket


def _event(
    session: Session, ticket: Ticket, agent: AgentInfo, action: str, detail: dict[str, Any],
    now: datetime,
) -> None:
    session.add(TicketEvent(
        ticket_id=ticket.id, actor=agent.actor, action=action,
        detail=json.dumps(detail, ensure_ascii=False), created_at=now,
    ))


def _transcript_entry(entry: dict[str, str]) -> dict[str, str]:
    """A transcript line to show: masked once more (it was masked when stored)."""
    if entry.get("from") == SEPARATOR:
        return {"from": SEPARATOR, "text": entry.get("text", ""), "at": entry.get("at", "")}
    return {"from": entry.get("from", ""), "text": readable(mask_text(entry.get("text", ""))),
            "at": entry.get("at", "")}


def _status_label(status: Any) -> str:
    return STATUS_LABELS.get(status, str(status)) if status else "none"


def _event_view(kind: str, event: TicketEvent) -> EventView:
    """An event as a sentence (plus the text of a note or reply)."""
    try:
        detail = json.loads(event.detail or "{}")
    except ValueError:
        detail = {}
    if not isinstance(detail, dict):
        detail = {}
    text = None
    action = event.action
    if action == "created":
        summary = "Ticket created"
    elif action == "facts_added":
        changed = detail.get("changed") or {}
        labels = [label for label, _value in labelled_facts(kind, changed)]
        summary = ("Details added: " + ", ".join(labels)) if labels else (
            "Another conversation added; no detail changed")
    elif action == VIEWED:
        summary = "Viewed"
    elif action == ASSIGNED:
        previous, assignee = detail.get("previous"), detail.get("assignee")
        summary = (f"Assigned to {assignee}" if assignee else "Unassigned") + (
            f" (was {previous})" if previous else "")
    elif action == STATUS_CHANGED:
        summary = (f"Status changed from {_status_label(detail.get('previous'))} "
                   f"to {_status_label(detail.get('status'))}")
    elif action == NOTE:
        summary, text = "Internal note", str(detail.get("text", ""))
    elif action == REPLIED:
        summary, text = "Reply e-mailed to the contact", str(detail.get("text", ""))
    elif action == EMAIL_REPLY:
        return _email_reply_view(event, detail)
    else:
        summary = action
    if action == STATUS_CHANGED and detail.get("because") == EMAIL_REPLY:
        summary += " (the user answered by e-mail)"
    return EventView(as_utc(event.created_at), event.actor, action, summary, text)


def _email_reply_view(event: TicketEvent, detail: dict[str, Any]) -> EventView:
    """An answer the user e-mailed: from whom, the text, the attachments (listed only)."""
    summary = f"Answer by e-mail from {detail.get('from', 'the contact')}"
    if detail.get("cut"):
        summary += " (long: only its beginning is kept)"
    listed = detail.get("attachments") or []
    attachments = tuple(
        f"{item.get('name')} ({item.get('type')}, {size_text(int(item.get('size') or 0))})"
        for item in listed if isinstance(item, dict)
    )
    if detail.get("attachments_not_listed"):
        attachments += (f"and {detail['attachments_not_listed']} more",)
    return EventView(as_utc(event.created_at), event.actor, EMAIL_REPLY, summary,
                     str(detail.get("text", "")) or None, attachments)
