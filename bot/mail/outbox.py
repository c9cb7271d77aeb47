"""Queue an e-mail in the outbox, inside the caller's transaction (bot.mail.worker sends it)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from bot.models import OutboxMail


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def as_utc(moment: dt.datetime) -> dt.datetime:
    """`moment` in UTC; a naive time (SQLite stores no offset) is taken to be UTC already."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=dt.timezone.utc)
    return moment.astimezone(dt.timezone.utc)


def enqueue(
    session: Session, *, kind: str, to_address: str, subject: str, body: str,
    now: dt.datetime | None = None, ticket_reference: str | None = None,
) -> OutboxMail:
    """Add a mail to `session`; it is sent only if the caller's transaction commits.

    A mail about a ticket names its `ticket_reference`: replies to it then reach the ticket.
    """
    now = now or utc_now()
    mail = OutboxMail(
        kind=kind, to_address=to_address, subject=subject, body=body,
        created_at=now, attempts=0, next_attempt_at=now, ticket_reference=ticket_reference,
    )
    session.add(mail)
    return mail
