"""The outbox worker against a real SMTP server (aiosmtpd), on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import datetime as dt
import email
import logging
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from email.message import EmailMessage
from email.policy import default as default_policy
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session, sessionmaker

from bot.db import make_engine, session_factory
from bot.mail.outbox import enqueue
from bot.mail.worker import OutboxWorker, backoff
from bot.models import OutboxMail
from bot.ops.serve import free_port
from bot.settings import SmtpSettings

T0 = dt.datetime(2024, 9, 2, 8, 0, tzinfo=dt.timezone.utc)
TO = "parent@example.net"


class Mailbox:
    """An aiosmtpd handler that keeps every envelope it accepts."""

    def __init__(self, delay: float = 0.0, refuse_rcpt: bool = False) -> None:
        self.envelopes: list[Any] = []
        self.delay = delay
        self.refuse_rcpt = refuse_rcpt

    async def handle_RCPT(  # noqa: N802 - the name aiosmtpd looks up
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]
    ) -> str:
        if self.refuse_rcpt:
            return "550 5.1.1 mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        if self.delay:
            await asyncio.sleep(self.delay)
        self.envelopes.append(envelope)
        return "250 Message accepted for delivery"

    @property
    def messages(self) -> list[EmailMessage]:
        return [
            email.message_from_bytes(envelope.content, policy=default_policy)
            for envelope in self.envelopes
        ]


class SmtpServer:
    """A real SMTP server on 127.0.0.1 at a free port, started only when asked."""

    def __init__(self, mailbox: Mailbox, **smtp_parameters: Any) -> None:
        self.mailbox = mailbox
        self.port = free_port()
        self.smtp_parameters = smtp_parameters
        self.controller: Controller | None = None

    def settings(self, **overrides: Any) -> SmtpSettings:
        return SmtpSettings(host="127.0.0.1", port=self.port, timeout=5.0, **overrides)

    def start(self) -> SmtpServer:
        self.controller = Controller(
            self.mailbox, hostname="127.0.0.1", port=self.port, **self.smtp_parameters
        )
        self.controller.start()
        return self

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None


@pytest.fixture
def make_server() -> Iterator[Any]:
    """Builds (not started) SMTP servers; stops them all afterwards."""
    servers: list[SmtpServer] = []

    def make(mailbox: Mailbox | None = None, **smtp_parameters: Any) -> SmtpServer:
        server = SmtpServer(mailbox or Mailbox(), **smtp_parameters)
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.stop()


@pytest.fixture
def smtp_server(make_server: Any) -> SmtpServer:
    return make_server().start()


@pytest.fixture
def sessions(database_url: str) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(database_url)
    yield session_factory(engine)
    engine.dispose()


class Clock:
    """An injected clock that only moves when told."""

    def __init__(self, now: dt.datetime = T0) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += dt.timedelta(**delta)


def queue(sessions: sessionmaker[Session], count: int = 1, now: dt.datetime = T0) -> list[int]:
    """Enqueue `count` mails in one committed transaction; their ids."""
    with sessions.begin() as session:
        mails = [
            enqueue(
                session, kind="username_reminder", to_address=f"user{n}@example.net",
                subject=f"Your user name ({n})", body=f"Hello,\nyour user name is jdoe{n}.\n",
                now=now,
            )
            for n in range(count)
        ]
        session.flush()
        return [mail.id for mail in mails]


def load(sessions: sessionmaker[Session], mail_id: int) -> OutboxMail:
    with sessions() as session:
        return session.get(OutboxMail, mail_id)


def utc(value: dt.datetime | None) -> dt.datetime | None:
    """Times read back from SQLite are naive (stored without offset, in UTC)."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=dt.timezone.utc)


def test_a_queued_mail_is_delivered_once(
    sessions: sessionmaker[Session], smtp_server: SmtpServer
) -> None:
    clock = Clock()
    with sessions.begin() as session:
        mail = enqueue(
            session, kind="username_reminder", to_address=TO, subject="Your MassONE user name",
            body="Hello,\n\nyour MassONE user name is jdoe42.\n", now=T0,
        )
        session.flush()
        mail_id = mail.id
    worker = OutboxWorker(sessions, smtp_server.settings(), clock=clock)

    assert worker.send_due() == 1

    [envelope] = smtp_server.mailbox.envelopes
    assert envelope.rcpt_tos == [TO]
    assert envelope.mail_from == "helpdesk@example.org"
    [message] = smtp_server.mailbox.messages
    assert message["To"] == TO
    assert message["Subject"] == "Your MassONE user name"
    body = message.get_content().replace("\r\n", "\n")  # CRLF on the wire
    assert body == "Hello,\n\nyour MassONE user name is jdoe42.\n"
    assert message["From"].addresses[0].addr_spec == "helpdesk@example.org"
    assert message["Date"] and message["Message-ID"].endswith("@example.org>")
    assert utc(load(sessions, mail_id).sent_at) == T0

    clock.advance(hours=1)
    assert worker.send_due() == 0
    assert len(smtp_server.mailbox.envelopes) == 1


def test_a_sent_mail_keeps_no_secret_in_its_row(
    sessions: sessionmaker[Session], make_server: Any
) -> None:
    """A reset link or a user name lives in the outbox only until it is delivered."""
    link = "https://help.example.org/reset/" + "t" * 43
    with sessions.begin() as session:
        reset = enqueue(session, kind="password_reset", to_address=TO, subject="Reset",
                        body=f"Open this link:\n\n{link}\n", now=T0)
        session.flush()
        reset_id = reset.id
    server = make_server()
    worker = OutboxWorker(sessions, server.settings(), clock=Clock())
    assert worker.send_due() == 0  # relay down: the mail waits, whole
    assert link in load(sessions, reset_id).body
    server.start()
    worker.clock.advance(seconds=5)
    assert worker.send_due() == 1
    [message] = server.mailbox.messages
    assert link in message.get_content()
    sent = load(sessions, reset_id)
    assert sent.sent_at is not None and sent.body == ""
    assert (sent.kind, sent.to_address, sent.subject) == ("password_reset", TO, "Reset")
    with sessions() as session:
        bodies = session.execute(select(OutboxMail.body)).scalars().all()
    assert not any("reset/" in body for body in bodies)


def test_smtp_down_the_mail_waits_and_is_delivered_once_back(
    sessions: sessionmaker[Session], make_server: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="bot.mail.worker")
    server = make_server()  # its port is free: nothing listens there yet
    clock = Clock()
    [mail_id] = queue(sessions)
    worker = OutboxWorker(sessions, server.settings(), clock=clock)

    assert worker.send_due() == 0
    mail = load(sessions, mail_id)
    assert mail.sent_at is None
    assert mail.attempts == 1
    assert mail.last_error == "ConnectionRefusedError"
    assert utc(mail.next_attempt_at) == T0 + dt.timedelta(seconds=5)

    server.start()
    clock.advance(seconds=4)  # server back, but the retry is not due yet
    assert worker.send_due() == 0
    assert server.mailbox.envelopes == []
    assert load(sessions, mail_id).attempts == 1

    clock.advance(seconds=1)
    assert worker.send_due() == 1
    clock.advance(minutes=30)
    assert worker.send_due() == 0
    assert [envelope.rcpt_tos for envelope in server.mailbox.envelopes] == [["user0@example.net"]]
    assert utc(load(sessions, mail_id).sent_at) == T0 + dt.timedelta(seconds=5)

    mailer_logs = [r.getMessage() for r in caplog.records if r.name == "bot.mail.worker"]
    assert any("ConnectionRefusedError" in line for line in mailer_logs)
    assert not any("@" in line or "jdoe" in line for line in mailer_logs)


def test_backoff_doubles_and_caps_at_15_minutes() -> None:
    seconds = [backoff(attempts).total_seconds() for attempts in range(1, 12)]
    assert seconds == [5, 10, 20, 40, 80, 160, 320, 640, 900, 900, 900]
    assert backoff(10_000) == dt.timedelta(minutes=15)


def test_an_outage_delays_mail_with_growing_waits_and_never_gives_up(
    sessions: sessionmaker[Session], make_server: Any
) -> None:
    server = make_server()
    clock = Clock()
    [mail_id] = queue(sessions)
    worker = OutboxWorker(sessions, server.settings(), clock=clock)
    waits = []
    for attempt in range(1, 13):
        assert worker.send_due() == 0
        mail = load(sessions, mail_id)
        assert mail.attempts == attempt and mail.sent_at is None
        waits.append((utc(mail.next_attempt_at) - clock.now).total_seconds())
        clock.now = utc(mail.next_attempt_at)
    assert waits == [5, 10, 20, 40, 80, 160, 320, 640, 900, 900, 900, 900]

    server.start()
    assert worker.send_due() == 1
    assert len(server.mailbox.envelopes) == 1


def test_a_refused_recipient_is_recorded_with_its_code_only(
    sessions: sessionmaker[Session], make_server: Any
) -> None:
    server = make_server(Mailbox(refuse_rcpt=True)).start()
    [mail_id] = queue(sessions)
    worker = OutboxWorker(sessions, server.settings(), clock=Clock())

    assert worker.send_due() == 0
    mail = load(sessions, mail_id)
    assert mail.last_error == "SMTPRecipientsRefused 550"
    assert mail.attempts == 1 and mail.sent_at is None
    assert utc(mail.next_attempt_at) > T0


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_login_only_when_a_user_is_configured(
    sessions: sessionmaker[Session], make_server: Any
) -> None:
    def authenticator(server: Any, session: Any, envelope: Any, mechanism: str,
                      auth_data: Any) -> AuthResult:
        ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (
            b"bot", b"s3cret"
        )
        return AuthResult(success=ok, handled=False)  # handled=False: aiosmtpd replies 535

    server = make_server(  # no TLS here: test-only, on loopback
        authenticator=authenticator, auth_required=True, auth_require_tls=False
    ).start()
    clock = Clock()
    [anonymous, wrong, right] = queue(sessions, 3)

    OutboxWorker(sessions, server.settings(), clock=clock, batch_size=1).send_due()
    OutboxWorker(
        sessions, server.settings(user="bot", password="wrong"), clock=clock, batch_size=1
    ).send_due()
    sent = OutboxWorker(
        sessions, server.settings(user="bot", password="s3cret"), clock=clock, batch_size=1
    ).send_due()

    assert sent == 1
    assert load(sessions, anonymous).last_error == "SMTPSenderRefused 530"
    assert load(sessions, wrong).last_error == "SMTPAuthenticationError 535"
    assert load(sessions, right).sent_at is not None
    assert [envelope.rcpt_tos for envelope in server.mailbox.envelopes] == [["user2@example.net"]]


def test_only_committed_mails_are_sent(
    sessions: sessionmaker[Session], smtp_server: SmtpServer
) -> None:
    worker = OutboxWorker(sessions, smtp_server.settings(), clock=Clock())
    with sessions() as session:
        session.begin()
        enqueue(session, kind="password_reset", to_address="ghost@example.net",
                subject="Reset", body="never sent", now=T0)
        session.flush()  # written, not committed: the worker must not see it
        assert worker.send_due() == 0
        session.rollback()
    queue(sessions)

    assert worker.send_due() == 1
    assert [envelope.rcpt_tos for envelope in smtp_server.mailbox.envelopes] == [
        ["user0@example.net"]
    ]
    with sessions() as session:
        assert session.execute(select(OutboxMail.to_address)).scalars().all() == [
            "user0@example.net"
        ]


def test_two_workers_deliver_each_mail_exactly_once(
    database_url: str, sessions: sessionmaker[Session], make_server: Any
) -> None:
    if "postgresql" not in database_url:
        pytest.skip("on SQLite a single worker is the documented topology")
    server = make_server(Mailbox(delay=0.02)).start()  # slow enough for the workers to overlap
    ids = queue(sessions, 20)
    engines = [make_engine(database_url) for _ in range(2)]
    workers = [
        OutboxWorker(session_factory(engine), server.settings(), clock=Clock(), batch_size=20)
        for engine in engines
    ]
    start = threading.Barrier(2)

    def work(worker: OutboxWorker) -> int:
        start.wait(timeout=10)
        return worker.send_due()

    try:
        with ThreadPoolExecutor(max_workers=2) as pool:
            counts = list(pool.map(work, workers))
    finally:
        for engine in engines:
            engine.dispose()

    assert sum(counts) == 20
    assert all(count > 0 for count in counts), counts  # they really ran side by side
    recipients = sorted(envelope.rcpt_tos[0] for envelope in server.mailbox.envelopes)
    assert recipients == sorted(f"user{n}@example.net" for n in range(20))
    with sessions() as session:
        mails = session.execute(select(OutboxMail).where(OutboxMail.id.in_(ids))).scalars().all()
        assert all(mail.sent_at is not None and mail.attempts == 0 for mail in mails)


class FlakySessions:
    """Sessions on a database that is down for the first `outages` transactions, then back."""

    def __init__(self, real: sessionmaker[Session], down_url: str, outages: int) -> None:
        self.real = real
        self.down = sessionmaker(create_engine(down_url, future=True), future=True)
        self.outages = outages
        self.calls = 0

    def __call__(self) -> Session:
        self.calls += 1
        return self.down() if self.calls <= self.outages else self.real()


def test_run_survives_a_database_outage_and_stops_on_request(
    sessions: sessionmaker[Session], smtp_server: SmtpServer, tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="bot.mail.worker")
    down_url = f"sqlite:///{tmp_path / 'missing-folder' / 'db.sqlite3'}"  # cannot be opened
    flaky = FlakySessions(sessions, down_url, outages=3)
    [mail_id] = queue(sessions, now=dt.datetime.now(dt.timezone.utc))
    worker = OutboxWorker(flaky, smtp_server.settings())  # type: ignore[arg-type]
    stop = threading.Event()
    thread = threading.Thread(target=worker.run, args=(stop, 0.05), daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 15
        while not smtp_server.mailbox.envelopes and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        stop.set()
        thread.join(timeout=10)

    assert not thread.is_alive()
    assert len(smtp_server.mailbox.envelopes) == 1
    assert load(sessions, mail_id).sent_at is not None
    assert flaky.calls > 3
    mailer_logs = [r.getMessage() for r in caplog.records if r.name == "bot.mail.worker"]
    assert sum("database error (OperationalError)" in line for line in mailer_logs) == 3
    assert not any("@" in line for line in mailer_logs)
