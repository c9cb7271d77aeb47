"""Replies by e-mail reach the ticket: reply addresses on ticket mails (the real outbox worker
delivering to a real aiosmtpd server), the inbound SMTP listener (smtplib on loopback -> the
listener -> the ticket in a real database, SQLite and PostgreSQL), `helpdesk mail ingest` with
mbox and .eml files, the trimming of quoted history and signatures, attachments, HTML-only mail,
and the console's ticket page. No mocks; time is an injected clock."""

from __future__ import annotations

import datetime as dt
import json
import logging
import mailbox
import re
import smtplib
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path

import pytest
from conftest import Chat, Clock, LiveServer, converse, mails_to, texts
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from test_console import Browser
from test_mailer import Mailbox, SmtpServer

from bot import cli
from bot.console.agents import AgentInfo, AgentService
from bot.console.ticket_desk import TicketDesk
from bot.db import make_engine, session_factory
from bot.mail.inbound import address_tag, html_to_text, read_mail, tagged_address, trim_reply
from bot.mail.outbox import as_utc, enqueue
from bot.mail.receiver import MailReceiver
from bot.mail.worker import OutboxWorker
from bot.models import OutboxMail, Ticket, TicketEvent
from bot.ops.serve import Stack, free_port
from bot.recovery.service import RecoveryService
from bot.settings import Settings, SmtpSettings
from bot.tickets.mail_replies import MailReplies
from bot.tickets.service import TicketRequest, TicketService, parse_reference
from bot.web import create_app
from bot.web.console import CLOCK_KEY

# Monday 2 March 2026, 10:00 in Massachusetts.
START = dt.datetime(2026, 3, 2, 15, 0, tzinfo=dt.timezone.utc)
INBOUND = "helpdesk@example.org"
CONTACT = "Jane.Doe@Example.net"
MAX_BYTES = 64 * 1024
PASSWORD = "correct horse battery staple"
ANSWER = "My new school is Lincoln Elementary, from March 16.\nThe old one was Brooks."
NOT_MATCHED_TEXT = "no request with that reference was made with the address it comes from"
REFERENCE_IN = re.compile(r"HD-\d{4}-\d{6}")


# ------------------------------------------------------------------------- building mails
def message(
    text: str, *, to: str, sender: str = CONTACT, subject: str = "Re: your request",
    **headers: str,
) -> EmailMessage:
    """A plain-text mail as a mail client sends it."""
    mail = EmailMessage()
    mail["From"] = f"Jane Doe <{sender}>"
    mail["To"] = to
    mail["Subject"] = subject
    mail["Date"] = "Mon, 02 Mar 2026 11:30:00 -0500"
    mail["Message-ID"] = make_msgid(domain="example.net")
    for name, value in headers.items():
        mail[name.replace("_", "-")] = value
    mail.set_content(text)
    return mail


def answer_to(original: EmailMessage, text: str, sender: str = CONTACT) -> EmailMessage:
    """What a mail client sends when the user answers `original` with "Reply": to its Reply-To,
    "Re:" and its subject, the answer above a signature and the quoted original."""
    quoted = "\n".join(f"> {line}" for line in original.get_content().splitlines())
    body = (
        f"{text}\n\n"
        f"-- \nJane Doe\nGrade 3 teacher\n\n"
        f"On Mon, Mar 2, 2026 at 10:02 AM ESE and MassONE help desk <\n"
        f"{original['Reply-To']}> wrote:\n\n{quoted}\n"
    )
    return message(body, to=str(original["Reply-To"]), sender=sender,
                   subject=f"Re: {original['Subject']}", In_Reply_To=str(original["Message-ID"]))


# ------------------------------------------------------------------------- the desk
@dataclass
class Desk:
    """A database with tickets, the inbound listener on a free port, and an agent."""

    sessions: sessionmaker[Session]
    clock: Clock
    receiver: MailReceiver
    agent: AgentInfo

    def file(self, contact: str = CONTACT) -> str:
        request = TicketRequest(
            kind="transfer_account", system="massone", contact_email=contact,
            facts={"old_school": "Brooks", "contact_email": contact}, transcript=[],
        )
        reference = TicketService(self.sessions, clock=self.clock).submit(
            "c" * 64, request).reference
        assert reference is not None
        return reference

    def desk(self) -> TicketDesk:
        return TicketDesk(self.sessions, self.clock)

    def waiting(self, reference: str) -> None:
        assert self.desk().set_status(self.agent, reference, "waiting_on_user")

    def ticket(self, reference: str) -> Ticket:
        with self.sessions() as session:
            return session.get(Ticket, parse_reference(reference)[1])  # type: ignore[index]

    def events(self, reference: str, action: str | None = None) -> list[TicketEvent]:
        with self.sessions() as session:
            query = select(TicketEvent).where(
                TicketEvent.ticket_id == parse_reference(reference)[1]  # type: ignore[index]
            ).order_by(TicketEvent.id)
            if action is not None:
                query = query.where(TicketEvent.action == action)
            return list(session.execute(query).scalars())

    def all_event_details(self) -> str:
        with self.sessions() as session:
            return " ".join(session.execute(select(TicketEvent.detail)).scalars())

    def client(self) -> smtplib.SMTP:
        return smtplib.SMTP("127.0.0.1", self.receiver.port, timeout=10)

    def send(self, mail: EmailMessage) -> None:
        """Deliver `mail` over SMTP to the listener, as the agency's relay would."""
        with self.client() as client:
            client.send_message(mail)

    def refusal(self, mail: EmailMessage) -> tuple[int, str]:
        """Deliver `mail`, expecting it refused after DATA: (code, text)."""
        with self.client() as client, pytest.raises(smtplib.SMTPDataError) as refused:
            client.send_message(mail)
        return refused.value.smtp_code, refused.value.smtp_error.decode()


@pytest.fixture
def desk(database_url: str) -> Iterator[Desk]:
    engine = make_engine(database_url)
    sessions = session_factory(engine)
    clock = Clock(START)
    agent = AgentService(sessions, clock=clock).create(
        "alice", PASSWORD, display_name="Alice Agent", role="admin")
    replies = MailReplies(sessions, INBOUND, MAX_BYTES, clock)
    receiver = MailReceiver(replies, port=free_port()).start()
    yield Desk(sessions, clock, receiver, agent)
    receiver.stop()
    engine.dispose()


@pytest.fixture
def relay() -> Iterator[SmtpServer]:
    """The SMTP server the outbox worker delivers the help desk's own mails to."""
    server = SmtpServer(Mailbox()).start()
    yield server
    server.stop()


def deliver_outbox(desk: Desk, relay: SmtpServer) -> list[EmailMessage]:
    """Run the real outbox worker once; the mails the relay received so far."""
    OutboxWorker(desk.sessions, relay.settings(), clock=desk.clock,
                 inbound_address=INBOUND).send_due()
    return relay.mailbox.messages


# ------------------------------------------------------------------------- the whole path
def test_a_reply_to_the_agents_mail_reaches_the_ticket_and_reopens_it(
    desk: Desk, relay: SmtpServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    reference = desk.file()
    with desk.sessions.begin() as session:  # a recovery mail: about no ticket
        enqueue(session, kind="username_reminder", to_address="x@example.net",
                subject="Your user name", body="jdoe", now=START)
    desk.desk().reply(desk.agent, reference, "Which school are you moving to, and when?")
    desk.waiting(reference)

    confirmation, reminder, agents_mail = deliver_outbox(desk, relay)
    reply_address = f"helpdesk+{reference}@example.org"
    assert confirmation["Reply-To"] == reply_address and reference in confirmation["Subject"]
    assert agents_mail["Reply-To"] == reply_address and reference in agents_mail["Subject"]
    assert reminder["Reply-To"] is None

    desk.clock.advance(hours=2)
    answer = answer_to(agents_mail, ANSWER)
    desk.send(answer)

    ticket = desk.ticket(reference)
    assert ticket.status == "open" and ticket.resolved_at is None
    (reply,) = desk.events(reference, "email_reply")
    detail = json.loads(reply.detail)
    assert reply.actor == "user"
    assert as_utc(reply.created_at) == START + dt.timedelta(hours=2)
    assert detail["text"] == ANSWER  # no signature, no quoted history
    assert detail["from"] == CONTACT and detail["via"] == "smtp"
    assert detail["sent_at"] == "2026-03-02T11:30:00-05:00"
    assert detail["trimmed_lines"] >= 6 and detail["attachments"] == []
    reopened = desk.events(reference, "status_changed")[-1]
    assert (reopened.actor, json.loads(reopened.detail)) == ("user", {
        "previous": "waiting_on_user", "status": "open", "because": "email_reply"})

    desk.send(answer)  # the relay retrying, or the same mail delivered twice
    assert len(desk.events(reference, "email_reply")) == 1

    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert f"attached to ticket {desk.ticket(reference).id}, reopened" in logged
    assert "duplicate" in logged
    for private in (CONTACT, CONTACT.lower(), "Lincoln", "Re: About", reply_address):
        assert private not in logged


def test_the_reference_in_the_subject_is_enough_and_an_open_ticket_stays_open(
    desk: Desk,
) -> None:
    reference = desk.file()
    desk.desk().set_status(desk.agent, reference, "in_progress")
    desk.send(message("Still locked out.", to=INBOUND,
                      subject=f"Re: Your help desk request {reference}"))
    assert desk.ticket(reference).status == "in_progress"
    (reply,) = desk.events(reference, "email_reply")
    assert json.loads(reply.detail)["text"] == "Still locked out."
    assert desk.events(reference, "status_changed")[-1].actor == "agent:alice"


def test_mail_from_another_address_is_refused_saying_why_and_the_same_as_no_ticket(
    desk: Desk, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    reference = desk.file()
    desk.waiting(reference)
    before = desk.events(reference)
    to = tagged_address(INBOUND, reference)

    wrong_sender = desk.refusal(message(ANSWER, to=to, sender="someone.else@example.com"))
    year = reference.split("-")[1]
    no_ticket = desk.refusal(message(ANSWER, to=f"helpdesk+HD-{year}-999999@example.org"))
    other_year = desk.refusal(message(ANSWER, to=to.replace(f"-{year}-", "-2025-")))

    assert wrong_sender[0] == 550 and NOT_MATCHED_TEXT in wrong_sender[1]
    assert wrong_sender[1].startswith("5.7.1 ")
    assert no_ticket == wrong_sender == other_year  # nothing tells which tickets exist
    assert desk.ticket(reference).status == "waiting_on_user"
    assert len(desk.events(reference)) == len(before)
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert logged.count("refused: not_matched") == 3
    assert "someone.else" not in logged and CONTACT not in logged


def test_mail_naming_no_ticket_is_refused(desk: Desk, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    reference = desk.file()
    code, text = desk.refusal(message("Hello, I need help.", to=INBOUND, subject="Help"))
    assert code == 550 and text.startswith("5.1.1 ")
    assert "names none" in text and "keeping the reference" in text
    garbled = desk.refusal(message("Hi", to="helpdesk+HD-20x6-1@example.org", subject="Hi"))
    assert garbled[0] == 550 and "names none" in garbled[1]
    assert desk.events(reference, "email_reply") == []
    assert "refused: no_reference" in caplog.text


def test_only_the_help_desk_address_is_taken(desk: Desk) -> None:
    with desk.client() as client, pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
        client.send_message(message("hi", to="postmaster@example.org"))
    ((code, text),) = refused.value.recipients.values()
    assert code == 550 and b"only takes replies to help desk requests" in text
    with desk.client() as client, pytest.raises(smtplib.SMTPRecipientsRefused):
        client.send_message(message("hi", to="helpdesk+HD-2026-000001@elsewhere.example"))


def test_an_oversized_mail_is_refused_and_nothing_is_kept(
    desk: Desk, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    reference = desk.file()
    big = message("Screenshot attached.", to=tagged_address(INBOUND, reference))
    big.add_attachment(b"\0" * MAX_BYTES, maintype="application", subtype="octet-stream",
                       filename="huge.bin")
    # A client announcing the size (ESMTP SIZE) is refused before sending it...
    with desk.client() as client, pytest.raises(smtplib.SMTPSenderRefused) as refused:
        client.send_message(big)
    assert refused.value.smtp_code == 552
    # ...and one that does not, after the data, without the listener keeping it.
    with desk.client() as client:
        client.ehlo()
        client.mail(CONTACT)
        client.rcpt(tagged_address(INBOUND, reference))
        code, text = client.data(big.as_string())
    assert code == 552 and text.decode().startswith("5.3.4 ")
    assert "larger than the help desk accepts (64 KB)" in text.decode()
    assert desk.events(reference, "email_reply") == []
    assert caplog.text.count("refused: too_large") == 2


def test_automatic_replies_are_taken_but_never_attached(desk: Desk) -> None:
    reference = desk.file()
    desk.waiting(reference)
    to = tagged_address(INBOUND, reference)
    desk.send(message("I am out of the office until Monday.", to=to,
                      subject="Automatic reply: About your help desk request",
                      Auto_Submitted="auto-replied"))
    desk.send(message("Out of office", to=to, X_Autoreply="yes"))
    assert desk.events(reference, "email_reply") == []
    assert desk.ticket(reference).status == "waiting_on_user"


def test_only_quoted_text_is_refused_as_empty(desk: Desk) -> None:
    reference = desk.file()
    code, text = desk.refusal(message(
        "> Which school are you moving to?\n\n-- \nJane", to=tagged_address(INBOUND, reference)))
    assert code == 550 and "only quoted text" in text
    assert desk.events(reference, "email_reply") == []


def test_an_html_only_mail_is_attached_as_plain_text(desk: Desk) -> None:
    reference = desk.file()
    desk.waiting(reference)
    mail = EmailMessage()
    mail["From"] = CONTACT
    mail["To"] = tagged_address(INBOUND, reference)
    mail["Subject"] = f"Re: {reference}"
    mail.set_content(
        "<html><head><style>p {color: red}</style><script>steal()</script></head><body>"
        "<p>It&#39;s <b>Lincoln</b> &amp; Brooks &lt;script&gt;</p><p>Thanks<br>Jane</p>"
        '<div class="gmail_quote"><div>On Mon, Mar 2, 2026 at 10:02 AM Help desk '
        "&lt;helpdesk@example.org&gt; wrote:<br></div><blockquote>Which school?</blockquote>"
        '</div><img src="https://tracker.example/pixel.gif"></body></html>',
        subtype="html",
    )
    desk.send(mail)
    (reply,) = desk.events(reference, "email_reply")
    detail = json.loads(reply.detail)
    assert detail["html_only"] is True
    assert detail["text"] == "It's Lincoln & Brooks <script>\n\nThanks\nJane"
    assert "steal" not in reply.detail and "color" not in reply.detail
    assert "tracker.example" not in reply.detail and "Which school" not in reply.detail
    assert desk.ticket(reference).status == "open"


def test_attachments_are_listed_never_kept(desk: Desk) -> None:
    reference = desk.file()
    mail = message("Here is the error I get.", to=tagged_address(INBOUND, reference))
    secret = b"%PDF-1.4 CONTENT-NEVER-STORED " + b"x" * 2000
    mail.add_attachment(secret, maintype="application", subtype="pdf",
                        filename="error <screen>.pdf")
    mail.add_attachment(b"MZ\x90\x00EXECUTABLE-NEVER-STORED", maintype="application",
                        subtype="x-msdownload", filename="run me.exe")
    desk.send(mail)
    (reply,) = desk.events(reference, "email_reply")
    detail = json.loads(reply.detail)
    assert detail["text"] == "Here is the error I get."
    assert detail["attachments"] == [
        {"name": "error <screen>.pdf", "type": "application/pdf", "size": len(secret)},
        {"name": "run me.exe", "type": "application/x-msdownload", "size": 27},
    ]
    stored = desk.all_event_details()
    assert "NEVER-STORED" not in stored and "JVBERi0xLjQ" not in stored  # nor in base64


def test_make_run_takes_a_reply_to_the_confirmation_of_a_ticket_filed_in_the_chat(
    stack: Stack, chat: Chat
) -> None:
    """The whole stack: chat -> ticket -> confirmation through the outbox and the catcher ->
    the user's reply to its Reply-To, over SMTP to the listener `make run` starts."""
    address = "reply.by.mail@example.org"
    converse(chat, "can I talk to a real person please", "My MassONE roster is empty.", address)
    reference = REFERENCE_IN.findall(texts(chat.say("/affirm")))[0]
    confirmation = mails_to(stack, address)[-1]
    assert confirmation["Reply-To"] == f"helpdesk+{reference}@example.org"

    with smtplib.SMTP("127.0.0.1", stack.inbound_port, timeout=10) as client:
        client.send_message(answer_to(confirmation, "It is the Grade 3 roster.", address))

    sessions = session_factory(make_engine(stack.env["DATABASE_URL"]))
    _ticket, events = TicketService(sessions).get(reference)
    (reply,) = [event for event in events if event.action == "email_reply"]
    assert json.loads(reply.detail)["text"] == "It is the Grade 3 roster."


# ------------------------------------------------------------------------- helpdesk mail ingest
def ingest(path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch,
           capsys: pytest.CaptureFixture[str], **env: str) -> tuple[int, str, str]:
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("SECRET_KEY", "test-secret-key")
    monkeypatch.setenv("INBOUND_MAIL_ADDRESS", INBOUND)
    monkeypatch.setenv("INBOUND_MAIL_MAX_BYTES", str(MAX_BYTES))
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    code = cli.main(["mail", "ingest", str(path)])
    out, err = capsys.readouterr()
    return code, out, err


def test_ingest_an_mbox_then_again_changes_nothing(
    desk: Desk, database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    first, second = desk.file(), desk.file("other@example.org")
    desk.waiting(first)
    path = tmp_path / "replies.mbox"
    box = mailbox.mbox(path)
    for mail in (
        message(f"{ANSWER}\n\nOn Mon, Mar 2, 2026, Help desk wrote:\n> old", to=INBOUND,
                subject=f"Re: About your help desk request {first}"),
        message("From the wrong person", to=tagged_address(INBOUND, second)),
        message("No reference here", to=INBOUND, subject="Hello"),
        message("Away", to=tagged_address(INBOUND, first), Auto_Submitted="auto-replied"),
        message("From line inside\nFrom here on it is fine.",
                to=tagged_address(INBOUND, second), sender="other@example.org"),
    ):
        box.add(mail.as_bytes())
    box.close()

    code, out, _err = ingest(path, database_url, monkeypatch, capsys)
    assert code == 0
    assert out.splitlines() == [
        f"message 1: added to {first} and reopened it",
        f"message 2: refused (not_matched): This message could not be added to a help desk "
        f"request: {NOT_MATCHED_TEXT}. Please write from the e-mail address you gave when you "
        f"made the request.",
        "message 3: refused (no_reference): This message could not be added to a help desk "
        "request because it names none. Please reply to the e-mail the help desk sent you, "
        "keeping the reference (like HD-2026-000123) in the subject.",
        "message 4: an automatic reply or a bounce, not added",
        f"message 5: added to {second}",
        "5 messages: 2 added, 0 already added, 1 automatic, 2 refused",
    ]
    assert json.loads(desk.events(first, "email_reply")[0].detail)["via"] == "file"
    assert json.loads(desk.events(second, "email_reply")[0].detail)["text"] == (
        "From line inside\nFrom here on it is fine.")
    assert desk.ticket(first).status == "open"

    code, out, _err = ingest(path, database_url, monkeypatch, capsys)
    assert code == 0 and out.splitlines()[-1] == (
        "5 messages: 0 added, 2 already added, 1 automatic, 2 refused")
    assert len(desk.events(first, "email_reply")) == 1


def test_ingest_a_single_eml_and_refuse_an_oversized_one(
    desk: Desk, database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    reference = desk.file()
    outlook = (
        "Yes, that is right.\n\n-----Original Message-----\nFrom: ESE and MassONE help desk\n"
        "Sent: Monday, March 2, 2026 10:02 AM\nSubject: About your help desk request\n"
    )
    eml = tmp_path / "reply.eml"
    eml.write_bytes(message(outlook, to=tagged_address(INBOUND, reference)).as_bytes())
    code, out, _err = ingest(eml, database_url, monkeypatch, capsys)
    assert (code, out.splitlines()[0]) == (0, f"message 1: added to {reference}")
    assert json.loads(desk.events(reference, "email_reply")[0].detail)["text"] == (
        "Yes, that is right.")

    big = message("See attached", to=tagged_address(INBOUND, reference))
    big.add_attachment(b"\0" * MAX_BYTES, maintype="image", subtype="png", filename="a.png")
    huge = tmp_path / "huge.eml"
    huge.write_bytes(big.as_bytes())
    code, out, _err = ingest(huge, database_url, monkeypatch, capsys)
    assert code == 0
    assert out.splitlines()[0] == (
        "message 1: refused (too_large): This message is larger than the help desk accepts "
        "(64 KB). Please send it again without large attachments.")
    assert len(desk.events(reference, "email_reply")) == 1


def test_ingest_says_plainly_when_the_file_is_missing_or_empty(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, err = ingest(tmp_path / "nowhere.mbox", database_url, monkeypatch, capsys)
    assert (code, out) == (2, "") and "nowhere.mbox is not a file" in err
    empty = tmp_path / "empty.eml"
    empty.write_bytes(b"")
    code, out, err = ingest(empty, database_url, monkeypatch, capsys)
    assert (code, out) == (2, "") and "empty.eml is empty: no message to read" in err


# ------------------------------------------------------------------------- the console
def test_the_console_shows_the_emailed_answer_escaped(desk: Desk, database_url: str) -> None:
    reference = desk.file()
    desk.waiting(reference)
    mail = message("<script>alert(1)</script> is what I see\non two lines",
                   to=tagged_address(INBOUND, reference))
    mail.add_attachment(b"png", maintype="image", subtype="png",
                        filename='<img src=x onerror="alert(2)">.png')
    desk.send(mail)

    settings = Settings(database_url=database_url, public_base_url="https://help.example.org",
                        secret_key=b"test-secret-key", smtp=SmtpSettings())
    app = create_app(RecoveryService(desk.sessions, settings.public_base_url,
                                     settings.secret_key, clock=desk.clock), settings)
    app[CLOCK_KEY] = desk.clock
    server = LiveServer(app).start()
    try:
        browser = Browser(server.url, [])
        assert browser.sign_in("alice", PASSWORD).status == 303
        page = browser.get(f"/console/tickets/{reference}")
    finally:
        server.stop()
    assert page.status == 200
    assert f"Answer by e-mail from {CONTACT}" in page.text
    assert ("<blockquote>&lt;script&gt;alert(1)&lt;/script&gt; is what I see\non two lines"
            "</blockquote>") in page.text
    assert "&lt;img src=x onerror=&#34;alert(2)&#34;&gt;.png (image/png, 3 bytes)" in page.text
    assert "<script>alert(1)" not in page.text and "<img src=x" not in page.text
    assert "Status changed from Waiting on user to Open (the user answered by e-mail)" in page.text


# ------------------------------------------------------------------------- reading mail
GMAIL_STYLE = """Lincoln Elementary, from March 16.

Thanks,
Jane
--\u0020
Jane Doe | Grade 3

On Mon, Mar 2, 2026 at 10:02 AM ESE and MassONE help desk <
helpdesk+HD-2026-000001@example.org> wrote:

> Hello,
> Which school?
"""


@pytest.mark.parametrize(("text", "kept"), [
    (GMAIL_STYLE, "Lincoln Elementary, from March 16.\n\nThanks,\nJane"),
    ("> Which school?\nLincoln\n> And when?\nMarch 16\n", "Lincoln\nMarch 16"),
    ("Done.\n-----Original Message-----\nFrom: Help desk\nSent: today\n\nWhich school?",
     "Done."),
    ("Done.\n\n________________________________\nFrom: Help desk <helpdesk@example.org>\n"
     "Sent: Monday, March 2, 2026 10:02 AM\nTo: Jane\n\nWhich school?", "Done."),
    ("Done.\n\nFrom: Help desk\nSent: Monday\nSubject: x\n> quoted", "Done."),
    ("Yes.\n--\nJane", "Yes."),
    ("On Monday I tried again and it still fails.\nOn Tuesday too.",
     "On Monday I tried again and it still fails.\nOn Tuesday too."),
    ("Answer\r\nwith\rodd line ends\u202e and a bidi override\x07", "Answer\nwith\nodd line "
     "ends and a bidi override"),
])
def test_quoted_history_and_signatures_are_trimmed(text: str, kept: str) -> None:
    assert trim_reply(text)[0] == kept


def test_html_becomes_text_without_markup_scripts_or_styles() -> None:
    html = ("<title>t</title><style>b{}</style><script>var a = '<p>';</script>"
            "<p>One &amp; <i>two</i></p><ul><li>three</li><li>four</li></ul>"
            "<blockquote>quoted<blockquote>deeper</blockquote></blockquote><!-- note -->")
    assert html_to_text(html) == "One & two\n\n- three\n- four\n\n> quoted\n\n> > deeper"


def test_reading_lists_attachments_and_forwarded_mails_without_their_content() -> None:
    mail = message("See both.", to=INBOUND)
    mail.add_alternative("<p>See <b>both</b>.</p>", subtype="html")
    mail.add_attachment(b"\x89PNG....", maintype="image", subtype="png", filename="shot.png")
    forwarded = message("the original problem", to="someone@example.org")
    mail.add_attachment(forwarded)
    read = read_mail(mail.as_bytes())
    assert read.answer == "See both." and read.html_only is False
    assert [(a.name, a.content_type) for a in read.attachments] == [
        ("shot.png", "image/png"), ("(no name)", "message/rfc822")]
    assert read.attachments[0].size == 8
    assert read.senders == [CONTACT] and read.recipients == [INBOUND]
    assert not read.automatic


def test_reply_addresses_carry_the_reference() -> None:
    assert tagged_address(INBOUND, "HD-2026-000123") == "helpdesk+HD-2026-000123@example.org"
    assert address_tag(INBOUND, "HelpDesk+HD-2026-000123@EXAMPLE.org") == "HD-2026-000123"
    assert address_tag(INBOUND, "<helpdesk@example.org>") == ""
    assert address_tag(INBOUND, "helpdesk+x@example.com") is None
    assert address_tag(INBOUND, "other+HD-2026-000123@example.org") is None


def test_the_inbound_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("INBOUND_MAIL_ADDRESS", "INBOUND_SMTP_HOST", "INBOUND_SMTP_PORT",
                 "INBOUND_MAIL_MAX_BYTES"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SECRET_KEY", "test-secret-key")
    monkeypatch.setenv("MAIL_FROM", "State help desk <desk@help.example.gov>")
    default = Settings.from_env().inbound
    assert (default.address, default.host, default.port, default.max_bytes) == (
        "desk@help.example.gov", "127.0.0.1", 8026, 10 * 1024 * 1024)
    monkeypatch.setenv("INBOUND_MAIL_ADDRESS", "replies@help.example.gov")
    monkeypatch.setenv("INBOUND_SMTP_HOST", "0.0.0.0")
    monkeypatch.setenv("INBOUND_SMTP_PORT", "2525")
    monkeypatch.setenv("INBOUND_MAIL_MAX_BYTES", "2048")
    configured = Settings.from_env().inbound
    assert (configured.address, configured.host, configured.port, configured.max_bytes) == (
        "replies@help.example.gov", "0.0.0.0", 2525, 2048)
    for wrong in ("helpdesk", "helpdesk+x@example.org", "@example.org"):
        monkeypatch.setenv("INBOUND_MAIL_ADDRESS", wrong)
        with pytest.raises(ValueError, match="must be a plain address like helpdesk@"):
            Settings.from_env()


def test_outbox_rows_name_their_ticket(desk: Desk) -> None:
    reference = desk.file()
    with desk.sessions() as session:
        rows = session.execute(select(OutboxMail.kind, OutboxMail.ticket_reference)).all()
    assert [tuple(row) for row in rows] == [("ticket_created", reference)]
