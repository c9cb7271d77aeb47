"""Help-desk tickets: what the bot hands over when it cannot help itself, and status lookups.

* A submission is idempotent: its key (a SHA-256 of the conversation, the kind, the system, the
  contact e-mail and the facts) is stored, unique, on the ticket event it caused, so a retried
  action or a double-submitted form returns the first answer and changes nothing.
* A contact e-mail address is typed, never verified, so it proves nothing: a request is added
  to an open ticket ("facts_added") only when that ticket was filed from the same
  conversation. A request for an address with an open ticket of the same kind filed elsewhere
  gets a ticket of its own, flagged to agents as a possible duplicate
  (`Ticket.possible_duplicate_of`); the other ticket is neither changed nor named to the user.
* Confirmations go to that unverified address, so they carry no text the user typed (only the
  reference, the kind of request, the system and the labels of what changed): the bot cannot
  be used to send someone else a message under the agency's address.
* Submissions are limited per conversation and per contact e-mail, status checks per
  conversation, per reference and per e-mail address asked about (references are guessable,
  so every check is recorded; a new conversation does not reset the counts); every limit is
  counted under a lock on its keys (`bot.limits.serialise`), so racing requests cannot pass it.
  Submissions stop too when the hourly ceiling of queued mail is reached.
* Mails go through the outbox in the same transaction as the ticket.
* Logs name ticket ids, kinds and outcomes only: never addresses, names or facts.

A reference reads HD-<year created>-<id, 6 digits>; only the id is stored.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from bot.dates import long_date
from bot.knowledge.contacts import help_desk_phrase
from bot.knowledge.entries import load_knowledge
from bot.limits import mails_in_last_hour, plain_key, serialise
from bot.mail.outbox import as_utc, enqueue, utc_now
from bot.models import (
    OPEN_TICKET_STATUSES,
    SYSTEMS,
    TICKET_KINDS,
    TICKET_STATUSES,
    Ticket,
    TicketEvent,
    TicketStatusCheck,
)
from bot.tickets.kinds import load_request_kinds
from bot.tickets.references import (  # noqa: F401 - the grammar, re-exported for callers
    MAX_TICKET_ID,
    find_reference,
    format_reference,
    parse_reference,
)

log = logging.getLogger(__name__)

CREATED, ADDED, RATE_LIMITED = "created", "added", "rate_limited"
FOUND, NOT_FOUND = "found", "not_found"
OPEN = "open"
BOT = "bot"
ACTION_CREATED, ACTION_FACTS_ADDED = "created", "facts_added"
SUBMISSION_ACTIONS = (ACTION_CREATED, ACTION_FACTS_ADDED)
NOT_GIVEN = "(not given)"
# The transcript entry put between the parts of a ticket's transcript from different chats.
SEPARATOR = "separator"
SEPARATOR_TEXT = "(a later conversation)"


@dataclass(frozen=True)
class TicketRequest:
    """What the request form collected, ready to hand over."""

    kind: str  # one of models.TICKET_KINDS
    system: str | None  # "ese_portal", "massone" or None
    contact_email: str  # already validated by the caller
    facts: dict[str, str]  # field name -> value, in asking order; "" = the user didn't know
    transcript: list[dict[str, str]]  # already masked (bot.tickets.transcript)


@dataclass(frozen=True)
class Submission:
    outcome: str  # CREATED, ADDED or RATE_LIMITED
    reference: str | None  # None when rate limited


@dataclass(frozen=True)
class StatusResult:
    """A status lookup; every field but `outcome` is None unless the outcome is FOUND."""

    outcome: str  # FOUND, NOT_FOUND or RATE_LIMITED
    reference: str | None = None
    kind: str | None = None
    title: str | None = None
    status: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None


@dataclass(frozen=True)
class TicketLimits:
    """How many submissions and status checks are allowed, and over which window."""

    submissions_per_conversation: int = 5
    submissions_per_contact: int = 5
    submission_window: timedelta = timedelta(hours=24)
    status_checks_per_conversation: int = 10
    status_checks_per_target: int = 10  # per reference, and per e-mail address, asked about
    status_check_window: timedelta = timedelta(hours=1)
    mails_per_hour: int = 1000  # every queued mail together (MAIL_PER_HOUR)


# ------------------------------------------------------------------------- references
def reference_of(ticket: Ticket) -> str:
    """The ticket's reference, its year taken in UTC (PostgreSQL may return another zone)."""
    return format_reference(as_utc(ticket.created_at).year, ticket.id)


# ------------------------------------------------------------------------- facts
def idempotency_key(conversation_id: str, request: TicketRequest) -> str:
    """SHA-256 hex of the conversation, kind, system, casefolded e-mail and canonical facts."""
    canonical = json.dumps(
        [conversation_id, request.kind, request.system, _email_key(request.contact_email),
         request.facts],
        sort_keys=True, separators=(",", ":"), ensure_ascii=False,
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def kind_title(kind: str) -> str:
    """The kind's title from knowledge/tickets.yml ("Error report"), or its id if unknown."""
    found = load_request_kinds().get(kind)
    return found.title if found is not None else kind


_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def labelled_facts(kind: str, facts: dict[str, str]) -> list[tuple[str, str]]:
    """(label, value) pairs in the kind's asking order, unknown fields last under their name."""
    found = load_request_kinds().get(kind)
    fields = found.fields if found is not None else ()
    pairs = [(field.label, facts[field.name]) for field in fields if field.name in facts]
    known = {field.name for field in fields}
    pairs += [(name, value) for name, value in facts.items() if name not in known]
    return pairs


def shown(value: str) -> str:
    """A fact's value as shown to people: "(not given)" when the user didn't know, a date
    (stored as 2026-12-01) as "December 1, 2026"."""
    if not value:
        return NOT_GIVEN
    if _ISO_DATE.fullmatch(value):
        try:
            return long_date(date.fromisoformat(value))
        except ValueError:
            return value
    return value


def _email_key(address: str) -> str:
    return address.strip().casefold()


def _email_column_matches(address: str) -> Any:
    """SQL: the ticket's contact e-mail equals `address`, ignoring case."""
    return func.lower(Ticket.contact_email) == address.strip().lower()


def _merge_facts(
    old: dict[str, str], new: dict[str, str]
) -> tuple[dict[str, str], dict[str, str], dict[str, str | None]]:
    """The merged facts, the changed ones (new values) and their previous values (None: new).

    New values win, except that an unknown ("") never erases a value given before.
    """
    merged = dict(old)
    changed: dict[str, str] = {}
    previous: dict[str, str | None] = {}
    for name, value in new.items():
        before = old.get(name)
        if value == "" and before:
            continue
        if value != before:
            merged[name] = value
            changed[name] = value
            previous[name] = before
    return merged, changed, previous


def _check_request(request: TicketRequest) -> None:
    if request.kind not in TICKET_KINDS:
        raise ValueError(f"unknown ticket kind {request.kind!r}")
    if request.system is not None and request.system not in SYSTEMS:
        raise ValueError(f"unknown system {request.system!r}")
    if not request.contact_email.strip():
        raise ValueError("a ticket needs a contact e-mail address")


# ------------------------------------------------------------------------- the service
class TicketService:
    """Files tickets, answers status lookups, and lists tickets for the help desk."""

    def __init__(
        self,
        sessions: sessionmaker,
        limits: TicketLimits = TicketLimits(),
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._sessions = sessions
        self.limits = limits
        self._clock = clock

    def submit(self, conversation_id: str, request: TicketRequest) -> Submission:
        """File `request`: a new ticket, or its facts added to the open one of its kind that
        this conversation filed.

        Idempotent: the same request again (same key) returns the first Submission and
        changes nothing, even when two race (the unique key decides, the loser replays).
        """
        _check_request(request)
        key = idempotency_key(conversation_id, request)
        now = self._now()
        try:
            with self._sessions() as session, session.begin():
                serialise(session, f"tickets:conversation:{conversation_id}",
                          plain_key("tickets:contact", _email_key(request.contact_email)))
                stored = self._stored(session, key)
                if stored is not None:
                    log.info("ticket submission repeated: outcome=%s", stored.outcome)
                    return stored
                if self._submissions_limited(session, conversation_id, request, now):
                    log.info("ticket submission: kind=%s outcome=%s", request.kind, RATE_LIMITED)
                    return Submission(RATE_LIMITED, None)
                open_tickets = self._open_tickets(session, request)
                own = next((ticket for ticket in open_tickets
                            if ticket.conversation_id == conversation_id), None)
                if own is None:
                    duplicate_of = open_tickets[0].id if open_tickets else None
                    ticket = self._create(session, conversation_id, request, key, now,
                                          duplicate_of)
                    outcome = CREATED
                else:
                    ticket = own
                    self._add(session, ticket, conversation_id, request, key, now)
                    outcome = ADDED
                session.flush()  # a concurrent twin's key surfaces here as IntegrityError
                ticket_id, reference = ticket.id, reference_of(ticket)
        except IntegrityError:
            with self._sessions() as session:
                stored = self._stored(session, key)
            if stored is None:
                raise
            log.info("ticket submission raced a twin: outcome=%s", stored.outcome)
            return stored
        log.info("ticket %s: kind=%s outcome=%s", ticket_id, request.kind, outcome)
        return Submission(outcome, reference)

    def status(self, conversation_id: str, reference: str, contact_email: str) -> StatusResult:
        """The ticket's status if the reference and the contact e-mail both match it.

        Every check is recorded; past a limit (this conversation's checks, or the checks of
        this reference or this e-mail address from any conversation) the answer is
        RATE_LIMITED. A malformed or unknown reference, another year or another e-mail all
        give the same NOT_FOUND.
        """
        parsed = parse_reference(reference)
        year, ticket_id = parsed if parsed is not None else (0, 0)  # id 0 never exists
        reference_key = plain_key("reference", format_reference(year, ticket_id))
        email_key = plain_key("email", _email_key(contact_email))
        now = self._now()
        with self._sessions() as session, session.begin():
            serialise(session, f"status:conversation:{conversation_id}",
                      f"status:{reference_key}", f"status:{email_key}")
            since = now - self.limits.status_check_window

            def checks(*where: Any) -> int:
                return session.execute(
                    select(func.count(TicketStatusCheck.id))
                    .where(TicketStatusCheck.created_at > since, *where)
                ).scalar_one()

            limited = (
                checks(TicketStatusCheck.conversation_id == conversation_id)
                >= self.limits.status_checks_per_conversation
                or checks(TicketStatusCheck.reference_key == reference_key)
                >= self.limits.status_checks_per_target
                or checks(TicketStatusCheck.email_key == email_key)
                >= self.limits.status_checks_per_target
            )
            ticket = None
            if not limited:
                ticket = session.execute(
                    select(Ticket).where(Ticket.id == ticket_id)
                ).scalar_one_or_none()
            found = (
                ticket is not None
                and as_utc(ticket.created_at).year == year
                and _email_key(ticket.contact_email) == _email_key(contact_email)
            )
            session.add(TicketStatusCheck(
                conversation_id=conversation_id, found=int(found), created_at=now,
                reference_key=reference_key, email_key=email_key,
            ))
            if limited:
                log.info("ticket status check: outcome=%s", RATE_LIMITED)
                return StatusResult(RATE_LIMITED)
            if not found or ticket is None:
                log.info("ticket status check: outcome=%s", NOT_FOUND)
                return StatusResult(NOT_FOUND)
            log.info("ticket %s status check: outcome=%s", ticket.id, FOUND)
            return StatusResult(
                FOUND, reference=reference_of(ticket), kind=ticket.kind,
                title=kind_title(ticket.kind), status=ticket.status,
                created_at=as_utc(ticket.created_at), updated_at=as_utc(ticket.updated_at),
            )

    def list_tickets(
        self, *, status: str | None = None, kind: str | None = None, limit: int = 50
    ) -> list[Ticket]:
        """Tickets, newest first, optionally of one status and/or kind."""
        if status is not None and status not in TICKET_STATUSES:
            raise ValueError(f"unknown ticket status {status!r}")
        if kind is not None and kind not in TICKET_KINDS:
            raise ValueError(f"unknown ticket kind {kind!r}")
        if limit < 1:
            raise ValueError("limit must be at least 1")
        query = select(Ticket).order_by(Ticket.created_at.desc(), Ticket.id.desc()).limit(limit)
        if status is not None:
            query = query.where(Ticket.status == status)
        if kind is not None:
            query = query.where(Ticket.kind == kind)
        with self._sessions() as session:
            return list(session.execute(query).scalars())

    def get(self, reference: str) -> tuple[Ticket, list[TicketEvent]] | None:
        """The ticket a reference names, with its events oldest first; None if none does."""
        parsed = parse_reference(reference)
        if parsed is None:
            return None
        year, ticket_id = parsed
        with self._sessions() as session:
            ticket = session.get(Ticket, ticket_id)
            if ticket is None or as_utc(ticket.created_at).year != year:
                return None
            events = session.execute(
                select(TicketEvent)
                .where(TicketEvent.ticket_id == ticket.id)
                .order_by(TicketEvent.created_at, TicketEvent.id)
            ).scalars()
            return ticket, list(events)

    # ----------------------------------------------------------------- database
    def _now(self) -> datetime:
        return as_utc(self._clock())

    @staticmethod
    def _stored(session: Session, key: str) -> Submission | None:
        """The Submission a request with this key already got, if any."""
        row = session.execute(
            select(TicketEvent.action, Ticket.id, Ticket.created_at)
            .join(Ticket, Ticket.id == TicketEvent.ticket_id)
            .where(TicketEvent.idempotency_key == key)
        ).first()
        if row is None:
            return None
        outcome = CREATED if row.action == ACTION_CREATED else ADDED
        return Submission(outcome, format_reference(as_utc(row.created_at).year, row.id))

    def _submissions_limited(
        self, session: Session, conversation_id: str, request: TicketRequest, now: datetime
    ) -> bool:
        """Whether this conversation or this contact e-mail used up its submissions."""
        since = now - self.limits.submission_window
        counted = (TicketEvent.action.in_(SUBMISSION_ACTIONS), TicketEvent.created_at > since)
        by_conversation = session.execute(
            select(func.count(TicketEvent.id))
            .where(TicketEvent.conversation_id == conversation_id, *counted)
        ).scalar_one()
        by_contact = session.execute(
            select(func.count(TicketEvent.id))
            .join(Ticket, Ticket.id == TicketEvent.ticket_id)
            .where(_email_column_matches(request.contact_email), *counted)
        ).scalar_one()
        if by_conversation >= self.limits.submissions_per_conversation:
            return True
        if by_contact >= self.limits.submissions_per_contact:
            return True
        if mails_in_last_hour(session, now) >= self.limits.mails_per_hour:
            log.warning("tickets: the hourly ceiling of %d mails is reached",
                        self.limits.mails_per_hour)
            return True
        return False

    @staticmethod
    def _open_tickets(session: Session, request: TicketRequest) -> list[Ticket]:
        """The contact's open tickets of this kind, newest first (row-locked on PostgreSQL).

        A ticket about the other system does not count; one about no system in particular
        (or a request about none) does.
        """
        query = select(Ticket).where(
            Ticket.kind == request.kind,
            Ticket.status.in_(OPEN_TICKET_STATUSES),
            _email_column_matches(request.contact_email),
        )
        if request.system is not None:
            query = query.where(or_(Ticket.system.is_(None), Ticket.system == request.system))
        query = query.order_by(Ticket.id.desc()).limit(20).with_for_update()
        return [ticket for ticket in session.execute(query).scalars()
                if _email_key(ticket.contact_email) == _email_key(request.contact_email)]

    def _create(
        self, session: Session, conversation_id: str, request: TicketRequest, key: str,
        now: datetime, duplicate_of: int | None = None,
    ) -> Ticket:
        ticket = Ticket(
            kind=request.kind, system=request.system, status=OPEN,
            contact_email=request.contact_email.strip(),
            facts=json.dumps(request.facts, ensure_ascii=False),
            transcript=json.dumps(request.transcript, ensure_ascii=False),
            conversation_id=conversation_id, created_at=now, updated_at=now,
            possible_duplicate_of=duplicate_of,
        )
        session.add(ticket)
        session.flush()  # the id makes the reference
        detail: dict[str, Any] = {"idempotency_key": key, "conversation_id": conversation_id}
        if duplicate_of is not None:
            detail["possible_duplicate_of"] = duplicate_of
        session.add(TicketEvent(
            ticket_id=ticket.id, actor=BOT, action=ACTION_CREATED, detail=json.dumps(detail),
            conversation_id=conversation_id, idempotency_key=key, created_at=now,
        ))
        subject, body = self._created_mail(reference_of(ticket), request)
        enqueue(session, kind="ticket_created", to_address=request.contact_email.strip(),
                subject=subject, body=body, now=now, ticket_reference=reference_of(ticket))
        return ticket

    def _add(
        self, session: Session, ticket: Ticket, conversation_id: str, request: TicketRequest,
        key: str, now: datetime,
    ) -> None:
        """Merge the request into the open `ticket` and record what it changed."""
        facts, changed, previous = _merge_facts(json.loads(ticket.facts), request.facts)
        transcript = self._merged_transcript(session, ticket, conversation_id, request, now)
        detail: dict[str, Any] = {
            "changed": changed, "previous": previous,
            "idempotency_key": key, "conversation_id": conversation_id,
        }
        if ticket.system is None and request.system is not None:
            detail["system"] = {"previous": None, "value": request.system}
            ticket.system = request.system
        ticket.facts = json.dumps(facts, ensure_ascii=False)
        ticket.transcript = json.dumps(transcript, ensure_ascii=False)
        ticket.updated_at = now
        session.add(TicketEvent(
            ticket_id=ticket.id, actor=BOT, action=ACTION_FACTS_ADDED,
            detail=json.dumps(detail, ensure_ascii=False), conversation_id=conversation_id,
            idempotency_key=key, created_at=now,
        ))
        subject, body = self._added_mail(reference_of(ticket), ticket, changed)
        enqueue(session, kind="ticket_updated", to_address=request.contact_email.strip(),
                subject=subject, body=body, now=now, ticket_reference=reference_of(ticket))

    @staticmethod
    def _merged_transcript(
        session: Session, ticket: Ticket, conversation_id: str, request: TicketRequest,
        now: datetime,
    ) -> list[dict[str, str]]:
        """The ticket's transcript with the request's: the part from the same conversation as
        the last submission is replaced (it is a longer version of it), otherwise appended
        after a separator entry."""
        old: list[dict[str, str]] = json.loads(ticket.transcript)
        last_conversation = session.execute(
            select(TicketEvent.conversation_id)
            .where(TicketEvent.ticket_id == ticket.id,
                   TicketEvent.action.in_(SUBMISSION_ACTIONS))
            .order_by(TicketEvent.created_at.desc(), TicketEvent.id.desc())
            .limit(1)
        ).scalar_one_or_none()
        if last_conversation == conversation_id:
            starts = [i + 1 for i, entry in enumerate(old) if entry.get("from") == SEPARATOR]
            return old[: starts[-1] if starts else 0] + list(request.transcript)
        separator = {"from": SEPARATOR, "text": SEPARATOR_TEXT,
                     "at": now.isoformat(timespec="seconds")}
        return [*old, separator, *request.transcript]

    # ----------------------------------------------------------------- mail
    # The address is unverified: nothing the user typed goes into these mails.
    @staticmethod
    def _summary(kind: str, system: str | None) -> str:
        system_name = load_knowledge().system_name(system) if system else "not stated"
        return f"Request: {kind_title(kind)}\nSystem: {system_name}"

    @staticmethod
    def _footer(reference: str, system: str | None) -> str:
        return (
            f"Who handles it: {help_desk_phrase(system)}. They will reply to this e-mail "
            f"address.\n\n"
            f"To check the status, ask the assistant on the help page about your request and "
            f"give the reference {reference} and this e-mail address.\n\n"
            f"If you did not make this request, please tell the help desk.\n"
        )

    def _created_mail(self, reference: str, request: TicketRequest) -> tuple[str, str]:
        body = (
            f"Hello,\n\n"
            f"We passed your request to the help desk. Your reference is {reference}.\n\n"
            f"{self._summary(request.kind, request.system)}\n\n"
            f"{self._footer(reference, request.system)}"
        )
        return f"Your help desk request {reference}", body

    def _added_mail(
        self, reference: str, ticket: Ticket, changed: dict[str, str]
    ) -> tuple[str, str]:
        if changed:
            labels = ", ".join(label for label, _ in labelled_facts(ticket.kind, changed))
            news = f"Details added or changed: {labels}.\n\n"
        else:
            news = "Nothing in the details changed; the help desk has your new conversation.\n\n"
        body = (
            f"Hello,\n\n"
            f"We added what you told the assistant to your open help desk request {reference} "
            f"instead of opening another one.\n\n"
            f"{news}"
            f"{self._summary(ticket.kind, ticket.system)}\n\n"
            f"{self._footer(reference, ticket.system)}"
        )
        return f"We added your new details to {reference}", body
