"""Deliver the outbox over SMTP: `python -m bot.mail.worker` runs the worker until SIGINT/SIGTERM.

Each mail is claimed, sent and marked sent in a transaction of its own; on PostgreSQL the claim
is `FOR UPDATE SKIP LOCKED`, so several workers never send the same mail. On SQLite run a single
worker. A failed mail is retried with exponential backoff (5 s doubling, at most 15 minutes),
forever: an SMTP outage delays mail, never loses it. Delivery is at least once: if the database
fails between the SMTP server accepting a mail and the commit, that mail is sent again.

Logs carry mail ids, kinds and error class names only, never addresses or bodies. A sent mail
keeps no secret: its body (a reset link, a user name) is blanked in the transaction that marks
it sent; the row keeps the kind, the address, the subject and the times.
"""

from __future__ import annotations

import datetime as dt
import logging
import signal
import smtplib
import ssl
import threading
from collections.abc import Callable
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid, parseaddr
from types import FrameType

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from bot.db import make_engine, session_factory, upgrade
from bot.mail.inbound import tagged_address
from bot.mail.outbox import as_utc, utc_now
from bot.models import OutboxMail
from bot.settings import InboundMailSettings, Settings, SmtpSettings

log = logging.getLogger("bot.mail.worker")  # not __name__: that is "__main__" under `python -m`

BACKOFF_BASE = dt.timedelta(seconds=5)
BACKOFF_CAP = dt.timedelta(minutes=15)
LAST_ERROR_MAX = 200  # OutboxMail.last_error is String(200)
SENT_BODY = ""  # what a sent mail's body becomes


def backoff(attempts: int) -> dt.timedelta:
    """The wait after the `attempts`-th failure: 5 s * 2**(attempts-1), capped at 15 minutes."""
    exponent = min(max(attempts, 1) - 1, 20)  # 5 s * 2**20 is far past the cap: no overflow
    return min(BACKOFF_BASE * 2**exponent, BACKOFF_CAP)


def describe_error(error: BaseException) -> str:
    """The error class name plus the SMTP reply code(s) if any; never addresses or messages."""
    codes: list[int] = []
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        # `recipients` maps each address to (code, message): keep the codes only.
        codes = sorted({code for code, _message in error.recipients.values()})
    elif isinstance(getattr(error, "smtp_code", None), int):
        codes = [error.smtp_code]  # type: ignore[attr-defined]
    text = " ".join([type(error).__name__, *(str(code) for code in codes)])
    return text[:LAST_ERROR_MAX]


def build_message(
    smtp: SmtpSettings, mail: OutboxMail, inbound_address: str = InboundMailSettings.address
) -> EmailMessage:
    """The plain-text e-mail for `mail`, with Date and a Message-ID on the sender's domain; a
    mail about a ticket gets a Reply-To with its reference (helpdesk+HD-2026-000123@...)."""
    domain = parseaddr(smtp.sender)[1].rpartition("@")[2] or "localhost"
    message = EmailMessage()
    message["From"] = smtp.sender
    message["To"] = mail.to_address
    if mail.ticket_reference:
        message["Reply-To"] = tagged_address(inbound_address, mail.ticket_reference)
    message["Subject"] = mail.subject
    message["Date"] = format_datetime(utc_now())
    message["Message-ID"] = make_msgid(idstring=f"outbox.{mail.id}", domain=domain)
    message.set_content(mail.body)
    return message


def send_message(
    smtp: SmtpSettings, mail: OutboxMail, inbound_address: str = InboundMailSettings.address
) -> None:
    """Send `mail` through the SMTP server in `smtp`; raises SMTPException or OSError."""
    message = build_message(smtp, mail, inbound_address)
    client: smtplib.SMTP
    if smtp.ssl:
        client = smtplib.SMTP_SSL(
            smtp.host, smtp.port, timeout=smtp.timeout, context=ssl.create_default_context()
        )
    else:
        client = smtplib.SMTP(smtp.host, smtp.port, timeout=smtp.timeout)
    try:
        if smtp.starttls and not smtp.ssl:
            client.starttls(context=ssl.create_default_context())
        if smtp.user:
            client.login(smtp.user, smtp.password)
        client.send_message(message)
    finally:
        _close(client)


def _close(client: smtplib.SMTP) -> None:
    """QUIT politely; a failing QUIT after the server took the mail is not a delivery failure."""
    try:
        client.quit()
    except (smtplib.SMTPException, OSError):
        pass
    finally:
        client.close()


class OutboxWorker:
    """Sends due outbox mails, one transaction per mail."""

    def __init__(
        self,
        sessions: sessionmaker,
        smtp: SmtpSettings,
        clock: Callable[[], dt.datetime] = utc_now,
        batch_size: int = 20,
        inbound_address: str = InboundMailSettings.address,  # replies to tickets go here
    ) -> None:
        self.sessions = sessions
        self.smtp = smtp
        self.clock = clock
        self.batch_size = batch_size
        self.inbound_address = inbound_address

    def now(self) -> dt.datetime:
        return as_utc(self.clock())

    def send_due(self, stop: threading.Event | None = None) -> int:
        """Send up to batch_size mails due now; returns how many were sent.

        Database errors propagate (the current mail's transaction is rolled back, so it stays
        queued); SMTP and network errors are recorded on the mail, which is retried later.
        """
        cutoff = self.now()  # failures are rescheduled after it, so each mail is tried once here
        sent = 0
        for _ in range(self.batch_size):
            if stop is not None and stop.is_set():
                break
            outcome = self._send_next(cutoff)
            if outcome is None:
                break
            sent += outcome
        return sent

    def _send_next(self, cutoff: dt.datetime) -> int | None:
        """Claim, send and record the oldest due mail: 1 sent, 0 failed, None if none is due."""
        mail_id, kind, sent = None, "", 0
        with self.sessions() as session:
            try:
                with session.begin():  # commits on leaving, releasing the row lock
                    mail = self._claim(session, cutoff)
                    if mail is None:
                        return None
                    mail_id, kind = mail.id, mail.kind
                    try:
                        send_message(self.smtp, mail, self.inbound_address)
                    except Exception as error:  # any error: one bad mail must not block the rest
                        self._failed(mail, error)
                    else:
                        mail.sent_at = self.now()
                        mail.body = SENT_BODY  # the link or user name is no longer kept
                        sent = 1
            except SQLAlchemyError:
                if sent:
                    log.error("mail %s (%s) was sent but not marked sent: it will be sent again",
                              mail_id, kind)
                raise
        if sent:
            log.info("mail %s (%s) sent", mail_id, kind)
        return sent

    def _claim(self, session: Session, cutoff: dt.datetime) -> OutboxMail | None:
        """The oldest unsent mail due at `cutoff`, row-locked on PostgreSQL (others skip it)."""
        query = (
            select(OutboxMail)
            .where(OutboxMail.sent_at.is_(None), OutboxMail.next_attempt_at <= cutoff)
            .order_by(OutboxMail.id)
            .limit(1)
        )
        if session.get_bind().dialect.name != "sqlite":
            query = query.with_for_update(skip_locked=True)
        return session.execute(query).scalars().first()

    def _failed(self, mail: OutboxMail, error: Exception) -> None:
        """Record a failed attempt and schedule the next one; the mail is never given up."""
        mail.attempts = (mail.attempts or 0) + 1
        mail.last_error = describe_error(error)
        delay = backoff(mail.attempts)
        mail.next_attempt_at = self.now() + delay
        expected = isinstance(error, (smtplib.SMTPException, OSError))
        log.log(
            logging.WARNING if expected else logging.ERROR,
            "mail %s (%s) attempt %s failed: %s; next try in %ss",
            mail.id, mail.kind, mail.attempts, mail.last_error, int(delay.total_seconds()),
        )

    def run(self, stop: threading.Event, poll_seconds: float = 1.0) -> None:
        """Send due mails until `stop` is set; database errors are logged and retried."""
        log.info("outbox worker started")
        while not stop.is_set():
            try:
                sent = self.send_due(stop)
            except SQLAlchemyError as error:
                log.warning(
                    "database error (%s); retrying in %ss", type(error).__name__, poll_seconds
                )
                stop.wait(poll_seconds)
                continue
            if sent < self.batch_size:  # a full batch means more may be waiting
                stop.wait(poll_seconds)
        log.info("outbox worker stopped")


def main() -> None:
    """`python -m bot.mail.worker`: migrate the database, then deliver until SIGINT/SIGTERM."""
    settings = Settings.from_env()
    upgrade(settings.database_url)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s", force=True
    )
    engine = make_engine(settings.database_url)
    stop = threading.Event()

    def request_stop(signum: int, _frame: FrameType | None) -> None:
        log.info("signal %s received, stopping", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    try:
        OutboxWorker(
            session_factory(engine), settings.smtp, inbound_address=settings.inbound.address
        ).run(stop)
    finally:
        engine.dispose()


if __name__ == "__main__":
    main()
