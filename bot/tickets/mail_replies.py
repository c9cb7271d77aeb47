"""Replies by e-mail reach their ticket.

Mails about a ticket go out with a reply address carrying its reference
(helpdesk+HD-2026-000123@example.org, from INBOUND_MAIL_ADDRESS) and the reference in the
subject. A mail that comes back is tied to its ticket by that address, or else by a reference in
its subject, and is attached only when the ticket exists and the sender (From) is the ticket's
contact address. Then the answer (quoted history and signature trimmed, attachments listed but
never kept) becomes an `email_reply` event the console shows, and a ticket waiting on the user
(or resolved) is open again, recorded as a `status_changed` event by the user.

* Unknown ticket and wrong sender get the same refusal: a mail cannot probe which address
  filed which request.
* Automatic mail (out-of-office replies, bounces) is taken and dropped: it is not an answer and
  must not reopen anything.
* Idempotent: the same mail again (same Message-ID, or same bytes without one) changes nothing,
  so an SMTP retry or a mailbox ingested twice is safe.
* Logs carry the outcome class and the ticket id only: never addresses, subjects or text.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from bot.knowledge.entries import load_knowledge
from bot.mail.inbound import InboundMail, UnreadableMail, address_tag, read_mail, size_text
from bot.mail.outbox import as_utc, utc_now
from bot.models import Ticket, TicketEvent
from bot.settings import InboundMailSettings
from bot.tickets.references import find_reference, format_reference, parse_reference
from bot.tickets.service import OPEN

log = logging.getLogger(__name__)

# Outcomes. The first three are taken (SMTP 250); the others are refused, saying why.
ATTACHED, DUPLICATE, AUTOMATIC = "attached", "duplicate", "automatic"
NO_REFERENCE, NOT_MATCHED, NO_SENDER = "no_reference", "not_matched", "no_sender"
EMPTY, TOO_LARGE, UNREADABLE = "empty", "too_large", "unreadable"
TAKEN = (ATTACHED, DUPLICATE, AUTOMATIC)

ACTION_EMAIL_REPLY = "email_reply"
ACTION_STATUS_CHANGED = "status_changed"  # as the console writes it
ACTOR = "user"
REOPENED_FROM = ("waiting_on_user", "resolved")
MAX_ANSWER_CHARS = 10_000
MAX_ATTACHMENTS_LISTED = 50
MAX_SUBJECT_CHARS = 200


@dataclass(frozen=True)
class MailResult:
    outcome: str
    reference: str | None = None  # the ticket the mail names, when it names one
    reopened: bool = False
    ticket_id: int | None = None  # set when attached (for logs: ids, never addresses)

    @property
    def taken(self) -> bool:
        return self.outcome in TAKEN


class MailReplies:
    """Ties received mails to tickets and attaches the answers."""

    def __init__(
        self,
        sessions: sessionmaker,
        inbound_address: str = InboundMailSettings.address,
        max_bytes: int = InboundMailSettings.max_bytes,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._sessions = sessions
        self.inbound_address = inbound_address
        self.max_bytes = max_bytes
        self._clock = clock

    def is_ours(self, address: str) -> bool:
        """Whether mail to `address` is for the help desk (the inbound address, tagged or not)."""
        return address_tag(self.inbound_address, address) is not None

    def receive(
        self, data: bytes, envelope_recipients: Sequence[str] = (), via: str = "smtp"
    ) -> MailResult:
        """Attach the mail in `data` to its ticket, or say why not (MailResult.outcome).

        `envelope_recipients` (SMTP RCPT TO) come before the mail's own recipient headers.
        Database errors propagate: nothing was written, and the mail can be offered again.
        """
        result = self._receive(data, envelope_recipients, via)
        if result.outcome == ATTACHED:
            log.info("inbound mail (%s): attached to ticket %s%s", via, result.ticket_id,
                     ", reopened" if result.reopened else "")
        elif result.taken:
            log.info("inbound mail (%s): %s", via, result.outcome)
        else:
            log.info("inbound mail (%s) refused: %s", via, result.outcome)
        return result

    def explain(self, result: MailResult) -> str:
        """What happened, in plain words for the sender (knowledge/replies.yml `mail_reply`)."""
        return load_knowledge().reply("mail_reply", result.outcome).format(
            reference=result.reference or "", limit=size_text(self.max_bytes)
        )

    # ----------------------------------------------------------------- steps
    def _receive(self, data: bytes, envelope_recipients: Sequence[str], via: str) -> MailResult:
        if len(data) > self.max_bytes:
            return MailResult(TOO_LARGE)
        try:
            mail = read_mail(data)
        except UnreadableMail:
            return MailResult(UNREADABLE)
        if mail.automatic:
            return MailResult(AUTOMATIC)
        reference = self._reference(mail, envelope_recipients)
        if reference is None:
            return MailResult(NO_REFERENCE)
        if len(mail.senders) != 1:
            return MailResult(NO_SENDER, reference)
        if not mail.answer and not mail.attachments:
            return MailResult(EMPTY, reference)
        try:
            with self._sessions() as session, session.begin():
                return self._attach(session, reference, mail, data, via)
        except IntegrityError:  # the same mail, attached at the same moment by another process
            return MailResult(DUPLICATE, reference)

    def _reference(self, mail: InboundMail, envelope_recipients: Sequence[str]) -> str | None:
        """The reference in the reply address (envelope first), else the first in the subject."""
        for address in [*envelope_recipients, *mail.recipients]:
            tag = address_tag(self.inbound_address, address)
            parsed = parse_reference(tag) if tag else None
            if parsed is not None:
                return format_reference(*parsed)
        # anywhere in the subject ("Re: About your help desk request HD-2026-000123")
        return find_reference(mail.subject)

    def _attach(
        self, session: Session, reference: str, mail: InboundMail, data: bytes, via: str
    ) -> MailResult:
        year, ticket_id = parse_reference(reference)  # type: ignore[misc]
        ticket = session.execute(
            select(Ticket).where(Ticket.id == ticket_id).with_for_update()
        ).scalar_one_or_none()
        sender = mail.senders[0]
        if (
            ticket is None
            or as_utc(ticket.created_at).year != year
            or sender.strip().casefold() != ticket.contact_email.strip().casefold()
        ):
            return MailResult(NOT_MATCHED, reference)
        key = _mail_key(ticket.id, mail, data)
        seen = session.execute(
            select(TicketEvent.id).where(TicketEvent.idempotency_key == key)
        ).first()
        if seen is not None:
            return MailResult(DUPLICATE, reference)
        now = as_utc(self._clock())
        session.add(TicketEvent(
            ticket_id=ticket.id, actor=ACTOR, action=ACTION_EMAIL_REPLY,
            detail=json.dumps(_detail(mail, sender, via), ensure_ascii=False),
            idempotency_key=key, created_at=now,
        ))
        previous = ticket.status
        reopened = previous in REOPENED_FROM
        if reopened:
            ticket.status = OPEN
            ticket.resolved_at = None
            session.add(TicketEvent(
                ticket_id=ticket.id, actor=ACTOR, action=ACTION_STATUS_CHANGED,
                detail=json.dumps({"previous": previous, "status": OPEN,
                                   "because": ACTION_EMAIL_REPLY}),
                created_at=now,
            ))
        ticket.updated_at = now
        session.flush()  # a twin's key surfaces here as IntegrityError
        return MailResult(ATTACHED, reference, reopened, ticket.id)


def _mail_key(ticket_id: int, mail: InboundMail, data: bytes) -> str:
    """The idempotency key of `mail` on a ticket: its Message-ID, or its bytes without one."""
    identity = mail.message_id or hashlib.sha256(data).hexdigest()
    return hashlib.sha256(f"email_reply:{ticket_id}:{identity}".encode()).hexdigest()


def _detail(mail: InboundMail, sender: str, via: str) -> dict[str, Any]:
    """The event's detail: who wrote, when, the answer and the attachments' names."""
    answer = mail.answer
    cut = len(answer) > MAX_ANSWER_CHARS
    if cut:
        answer = answer[:MAX_ANSWER_CHARS] + "…"
    attachments = [
        {"name": found.name, "type": found.content_type, "size": found.size}
        for found in mail.attachments[:MAX_ATTACHMENTS_LISTED]
    ]
    return {
        "from": sender,
        "subject": mail.subject[:MAX_SUBJECT_CHARS],
        "sent_at": mail.sent_at.isoformat() if mail.sent_at else None,
        "text": answer,
        "cut": cut,
        "trimmed_lines": mail.trimmed_lines,
        "html_only": mail.html_only,
        "attachments": attachments,
        "attachments_not_listed": max(0, len(mail.attachments) - MAX_ATTACHMENTS_LISTED),
        "via": via,
    }
