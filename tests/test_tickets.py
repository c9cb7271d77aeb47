"""The ticket service in `bot.tickets.service`, on SQLite and PostgreSQL (no mocks; an injected
clock)."""

from __future__ import annotations

import asyncio
import datetime as dt
import email
import json
import logging
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, replace
from email.message import EmailMessage
from email.policy import default as default_policy
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from conftest import Clock
from sqlalchemy import func, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from bot.db import make_engine, session_factory
from bot.mail.outbox import as_utc
from bot.mail.worker import OutboxWorker
from bot.models import OutboxMail, Ticket, TicketEvent, TicketStatusCheck
from bot.ops.serve import free_port
from bot.settings import SmtpSettings
from bot.tickets.service import (
    ADDED,
    CREATED,
    FOUND,
    NOT_FOUND,
    RATE_LIMITED,
    StatusResult,
    Submission,
    TicketLimits,
    TicketRequest,
    TicketService,
    format_reference,
    idempotency_key,
    parse_reference,
    reference_of,
)

START = dt.datetime(2026, 3, 2, 15, 0, tzinfo=dt.timezone.utc)
GENEROUS = TicketLimits(submissions_per_conversation=100, submissions_per_contact=100,
                        status_checks_per_conversation=100)
CONTACT = "Jane.Doe@Example.org"
CONVERSATION = "a" * 64
OTHER_CONVERSATION = "b" * 64
TRANSCRIPT = [
    {"from": "user", "text": "my name is misspelled", "at": "2026-03-02T14:58:00+00:00"},
    {"from": "bot", "text": "What is the user name of the account?",
     "at": "2026-03-02T14:58:01+00:00"},
]


def misspelled(
    contact: str = CONTACT, system: str | None = "massone", **facts: str
) -> TicketRequest:
    """A "name spelled incorrectly" request; `facts` override the defaults."""
    values = {"user_name": "", "name_as_shown": "Jane Doh", "name_should_be": "Jane Doe",
              "contact_email": contact}
    values.update(facts)
    return TicketRequest(kind="report_name_misspelled", system=system, contact_email=contact,
                         facts=values, transcript=list(TRANSCRIPT))


def handoff(summary: str = "I need help with my MassONE class", contact: str = CONTACT,
            system: str | None = "massone") -> TicketRequest:
    return TicketRequest(kind="human_handoff", system=system, contact_email=contact,
                         facts={"summary": summary, "contact_email": contact},
                         transcript=[{"from": "user", "text": summary, "at": ""}])



@dataclass
class Env:
    url: str
    engine: Engine
    sessions: sessionmaker[Session]
    clock: Clock

    def service(self, limits: TicketLimits = GENEROUS) -> TicketService:
        return TicketService(self.sessions, limits, self.clock)

    def all(self, model: Any) -> list[Any]:
        with self.sessions() as session:
            return list(session.execute(select(model).order_by(model.id)).scalars())

    def ticket(self, reference: str) -> Ticket:
        parsed = parse_reference(reference)
        assert parsed is not None
        with self.sessions() as session:
            return session.get(Ticket, parsed[1])

    def set_status(self, reference: str, status: str) -> None:
        with self.sessions.begin() as session:
            session.execute(
                update(Ticket).where(Ticket.id == self.ticket(reference).id).values(status=status)
            )

    def counts(self) -> tuple[int, int, int]:
        """How many tickets, ticket events and mails there are."""
        with self.sessions() as session:
            return tuple(  # type: ignore[return-value]
                session.execute(select(func.count(model.id))).scalar_one()
                for model in (Ticket, TicketEvent, OutboxMail)
            )


@pytest.fixture
def env(database_url: str) -> Iterator[Env]:
    engine = make_engine(database_url)
    yield Env(database_url, engine, session_factory(engine), Clock(START))
    engine.dispose()


# --- references -----------------------------------------------------------------------------


def test_format_reference() -> None:
    assert format_reference(2026, 123) == "HD-2026-000123"
    assert format_reference(2027, 1) == "HD-2027-000001"
    assert format_reference(2026, 1234567) == "HD-2026-1234567"


@pytest.mark.parametrize("text", [
    "HD-2026-000123", " hd-2026-123 ", "HD 2026 000123", "hd2026000123", "HD-2026 - 123",
    "HD\u20132026\u2013000123", "\uff28\uff24-2026-000123",  # an en dash; a full-width "HD"
])
def test_parse_reference_is_tolerant(text: str) -> None:
    assert parse_reference(text) == (2026, 123)


@pytest.mark.parametrize("text", [
    "", "   ", "HD", "HD-2026", "HD-2026-", "HD-26-000123", "XY-2026-000123", "2026-000123",
    "HD-2026-000123x", "HD-2026-000123-4", "HD-2026-000000", "HD-2026-99999999999",
    "HD-2026-0x1F", "HD-2026-\u0661\u0662\u0663",  # Arabic-Indic digits are not a reference
])
def test_parse_reference_rejects_malformed(text: str) -> None:
    assert parse_reference(text) is None


# --- creating -------------------------------------------------------------------------------


def test_create_stores_the_ticket_its_event_and_a_confirmation(env: Env) -> None:
    service = env.service()
    request = misspelled()

    submission = service.submit(CONVERSATION, request)

    assert submission.outcome == CREATED
    assert re.fullmatch(r"HD-2026-\d{6}", submission.reference or "")
    [ticket] = env.all(Ticket)
    assert parse_reference(submission.reference or "") == (2026, ticket.id)
    assert reference_of(ticket) == submission.reference
    assert (ticket.kind, ticket.system, ticket.status) == ("report_name_misspelled", "massone",
                                                           "open")
    assert ticket.contact_email == CONTACT
    assert ticket.conversation_id == CONVERSATION
    assert json.loads(ticket.facts) == request.facts
    assert list(json.loads(ticket.facts)) == list(request.facts)  # asking order kept
    assert json.loads(ticket.transcript) == TRANSCRIPT
    assert as_utc(ticket.created_at) == as_utc(ticket.updated_at) == START
    assert ticket.resolved_at is None

    [created] = env.all(TicketEvent)
    assert (created.ticket_id, created.actor, created.action) == (ticket.id, "bot", "created")
    assert created.idempotency_key == idempotency_key(CONVERSATION, request)
    assert re.fullmatch(r"[0-9a-f]{64}", created.idempotency_key)
    assert created.conversation_id == CONVERSATION
    assert json.loads(created.detail)["idempotency_key"] == created.idempotency_key

    [mail] = env.all(OutboxMail)
    assert (mail.kind, mail.to_address) == ("ticket_created", CONTACT)
    assert mail.subject == f"Your help desk request {submission.reference}"
    assert submission.reference in mail.body
    for line in ("Request: Name spelled incorrectly", "System: MassONE"):
        assert line in mail.body, line
    # The address was typed, not verified: nothing the user typed goes to it.
    for typed in ("Jane Doh", "Jane Doe", "Name as it appears now", CONTACT):
        assert typed not in mail.body, typed
    assert "MassONE Help Desk" in mail.body and "massonehelp@doe.mass.edu" in mail.body
    assert "Monday through Friday, 8:00 am to 4:00 pm" in mail.body
    assert "loginhelp@doe.mass.edu" not in mail.body
    assert "status" in mail.body and "this e-mail address" in mail.body


def test_the_mail_names_the_help_desk_of_the_system(env: Env) -> None:
    service = env.service()
    service.submit(CONVERSATION, handoff(system="ese_portal"))
    service.submit(CONVERSATION, handoff(system=None, contact="someone@example.net"))
    ese, both = env.all(OutboxMail)
    assert "System: ESE Security Portal" in ese.body
    assert "loginhelp@doe.mass.edu" in ese.body and "massonehelp" not in ese.body
    assert "System: not stated" in both.body
    assert "loginhelp@doe.mass.edu" in both.body and "massonehelp@doe.mass.edu" in both.body


def test_unknown_kind_or_system_is_refused(env: Env) -> None:
    service = env.service()
    with pytest.raises(ValueError):
        service.submit(CONVERSATION, replace(misspelled(), kind="ticket_status"))
    with pytest.raises(ValueError):
        service.submit(CONVERSATION, replace(misspelled(), system="elar"))
    with pytest.raises(ValueError):
        service.submit(CONVERSATION, replace(misspelled(), contact_email="  "))
    assert env.counts() == (0, 0, 0)


# --- idempotency ----------------------------------------------------------------------------


def test_the_same_request_twice_makes_one_ticket_and_one_mail(env: Env) -> None:
    service = env.service()
    first = service.submit(CONVERSATION, misspelled())
    env.clock.advance(seconds=30)
    again = service.submit(CONVERSATION, misspelled())
    shouted = service.submit(CONVERSATION, replace(misspelled(), contact_email=CONTACT.upper()))

    assert first == again == shouted
    assert env.counts() == (1, 1, 1)
    assert as_utc(env.all(Ticket)[0].updated_at) == START


def test_a_repeated_addition_adds_once(env: Env) -> None:
    service = env.service()
    created = service.submit(CONVERSATION, misspelled())
    later = misspelled(name_should_be="Jayne Doe")
    added = service.submit(CONVERSATION, later)
    assert service.submit(CONVERSATION, later) == added == Submission(
        ADDED, created.reference
    )
    assert env.counts() == (1, 2, 2)


def test_the_key_covers_conversation_kind_system_email_and_facts() -> None:
    base = misspelled()
    key = idempotency_key(CONVERSATION, base)
    assert idempotency_key(CONVERSATION, replace(base, contact_email=" JANE.doe@example.ORG "))\
        == key
    assert idempotency_key(CONVERSATION, replace(base, transcript=[])) == key
    others = {
        idempotency_key(OTHER_CONVERSATION, base),
        idempotency_key(CONVERSATION, replace(base, kind="reactivate_account")),
        idempotency_key(CONVERSATION, replace(base, system="ese_portal")),
        idempotency_key(CONVERSATION, replace(base, system=None)),
        idempotency_key(CONVERSATION, replace(base, contact_email="jane@example.net")),
        idempotency_key(CONVERSATION, misspelled(user_name="jdoe")),
    }
    assert len(others) == 6 and key not in others


class MissesItsTwin(TicketService):
    """A service whose first look for the key comes too early to see a twin's commit."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lookups = 0

    def _stored(self, session: Session, key: str) -> Submission | None:  # type: ignore[override]
        self.lookups += 1
        return None if self.lookups == 1 else TicketService._stored(session, key)


def test_a_twin_committed_in_between_wins_through_the_unique_key(env: Env) -> None:
    first = env.service().submit(CONVERSATION, misspelled())
    racer = MissesItsTwin(env.sessions, GENEROUS, env.clock)
    env.clock.advance(seconds=1)

    # It finds the twin's ticket open, tries to add the same facts under the same key: the
    # unique key refuses, everything it wrote is rolled back and the stored answer returned.
    assert racer.submit(CONVERSATION, misspelled()) == first
    assert racer.lookups == 2
    assert env.counts() == (1, 1, 1)
    [ticket] = env.all(Ticket)
    assert as_utc(ticket.updated_at) == START


def test_two_concurrent_twins_make_one_ticket(
    env: Env, caplog: pytest.LogCaptureFixture
) -> None:
    """Both threads submit at once: the lock on the conversation makes the second wait and
    find the first's answer (the unique key stays the last defence, tested above)."""
    caplog.set_level(logging.INFO, logger="bot.tickets.service")
    engines = [make_engine(env.url) for _ in range(2)]
    barrier = threading.Barrier(2, timeout=20)
    results: list[Submission] = []
    errors: list[BaseException] = []

    def submit(engine: Engine) -> None:
        try:
            service = TicketService(session_factory(engine), GENEROUS, env.clock)
            barrier.wait()
            results.append(service.submit(CONVERSATION, misspelled()))
        except BaseException as error:  # noqa: BLE001 - reported by the assertion below
            errors.append(error)

    threads = [threading.Thread(target=submit, args=(engine,)) for engine in engines]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
    finally:
        for engine in engines:
            engine.dispose()

    assert errors == []
    assert len(results) == 2 and results[0] == results[1]
    assert results[0].outcome == CREATED
    assert env.counts() == (1, 1, 1)
    lines = [record.getMessage() for record in caplog.records
             if record.name == "bot.tickets.service"]
    assert sum("repeated" in line or "raced" in line for line in lines) == 1, lines


# --- adding to an open ticket ---------------------------------------------------------------


def test_a_new_request_from_the_same_conversation_adds_its_facts(env: Env) -> None:
    service = env.service()
    created = service.submit(CONVERSATION, misspelled())
    env.clock.advance(hours=2)
    newer = TicketRequest(
        kind="report_name_misspelled", system="massone", contact_email="JANE.DOE@example.org",
        facts={"user_name": "jdoe7", "name_as_shown": "Jane Doh", "name_should_be": "Jayne Doe",
               "contact_email": "JANE.DOE@example.org"},
        transcript=[*TRANSCRIPT, {"from": "user", "text": "I forgot my user name", "at": ""}],
    )

    added = service.submit(CONVERSATION, newer)

    assert added == Submission(ADDED, created.reference)
    [ticket] = env.all(Ticket)
    assert json.loads(ticket.facts) == {
        "user_name": "jdoe7", "name_as_shown": "Jane Doh", "name_should_be": "Jayne Doe",
        "contact_email": "JANE.DOE@example.org",
    }
    assert as_utc(ticket.updated_at) == START + dt.timedelta(hours=2)
    assert as_utc(ticket.created_at) == START
    assert ticket.contact_email == CONTACT  # the address it was opened with
    assert json.loads(ticket.transcript) == newer.transcript  # the longer version of its part

    created_event, added_event = env.all(TicketEvent)
    assert (added_event.action, added_event.actor) == ("facts_added", "bot")
    assert added_event.idempotency_key == idempotency_key(CONVERSATION, newer)
    detail = json.loads(added_event.detail)
    assert detail["changed"] == {"user_name": "jdoe7", "name_should_be": "Jayne Doe",
                                 "contact_email": "JANE.DOE@example.org"}
    assert detail["previous"] == {"user_name": "", "name_should_be": "Jane Doe",
                                  "contact_email": CONTACT}

    confirmation, update_mail = env.all(OutboxMail)
    assert update_mail.kind == "ticket_updated"
    assert update_mail.subject == f"We added your new details to {created.reference}"
    assert "User name, Correct spelling" in update_mail.body  # labels, never values
    assert "Jayne" not in update_mail.body and "jdoe7" not in update_mail.body


def test_a_stranger_using_the_address_gets_a_ticket_of_their_own(env: Env) -> None:
    """Issue 11, item 4: a typed address is no proof. The open ticket is neither changed nor
    named; the new one is flagged to agents as a possible duplicate."""
    service = env.service()
    victim = service.submit(CONVERSATION, misspelled(user_name="jdoe7"))
    env.clock.advance(hours=1)
    stranger = service.submit(OTHER_CONVERSATION, misspelled(
        contact="JANE.DOE@example.org", user_name="evil", name_should_be="Click http://x.example"))

    assert stranger.outcome == CREATED and stranger.reference != victim.reference
    first, second = env.all(Ticket)
    assert json.loads(first.facts)["user_name"] == "jdoe7"
    assert as_utc(first.updated_at) == START
    assert first.possible_duplicate_of is None
    assert second.possible_duplicate_of == first.id
    assert [row.action for row in env.all(TicketEvent)] == ["created", "created"]
    mail = env.all(OutboxMail)[-1]
    assert victim.reference not in mail.body and victim.reference not in mail.subject
    assert "http://x.example" not in mail.body and "evil" not in mail.body


def test_an_unknown_value_does_not_erase_a_known_one(env: Env) -> None:
    service = env.service()
    reference = service.submit(CONVERSATION, misspelled(user_name="jdoe7")).reference
    assert service.submit(CONVERSATION, misspelled(user_name="", name_should_be="J. Doe")) \
        == Submission(ADDED, reference)
    facts = json.loads(env.ticket(reference or "").facts)
    assert (facts["user_name"], facts["name_should_be"]) == ("jdoe7", "J. Doe")
    detail = json.loads(env.all(TicketEvent)[-1].detail)
    assert detail["changed"] == {"name_should_be": "J. Doe"}


def test_a_resolved_ticket_is_not_added_to(env: Env) -> None:
    service = env.service()
    first = service.submit(CONVERSATION, misspelled())
    for status in ("in_progress", "waiting_on_user"):
        env.set_status(first.reference or "", status)
        assert service.submit(CONVERSATION, misspelled(user_name=status)).outcome == ADDED
    env.set_status(first.reference or "", "resolved")

    second = service.submit(CONVERSATION, misspelled(user_name="jdoe7"))

    assert second.outcome == CREATED and second.reference != first.reference
    assert env.counts() == (2, 4, 4)
    assert [mail.kind for mail in env.all(OutboxMail)] == [
        "ticket_created", "ticket_updated", "ticket_updated", "ticket_created"
    ]


def test_another_kind_or_contact_or_system_gets_its_own_ticket(env: Env) -> None:
    service = env.service()
    references = {
        service.submit(CONVERSATION, misspelled()).reference,
        service.submit(CONVERSATION, handoff()).reference,
        service.submit(CONVERSATION, misspelled(contact="other@example.org")).reference,
        service.submit(CONVERSATION, misspelled(system="ese_portal")).reference,
    }
    assert len(references) == 4
    assert [mail.kind for mail in env.all(OutboxMail)] == ["ticket_created"] * 4


def test_a_request_about_no_system_joins_the_open_ticket(env: Env) -> None:
    service = env.service()
    unsure = service.submit(CONVERSATION, handoff(system=None))
    sure = service.submit(CONVERSATION, handoff("It is about MassONE", system="massone"))
    assert sure == Submission(ADDED, unsure.reference)  # the same conversation
    ticket = env.ticket(unsure.reference or "")
    assert ticket.system == "massone"
    assert json.loads(env.all(TicketEvent)[-1].detail)["system"] == {
        "previous": None, "value": "massone"
    }


# --- rate limits ----------------------------------------------------------------------------


def test_default_limits() -> None:
    limits = TicketLimits()
    assert (limits.submissions_per_conversation, limits.submissions_per_contact) == (5, 5)
    assert limits.submission_window == dt.timedelta(hours=24)
    assert limits.status_checks_per_conversation == 10
    assert limits.status_check_window == dt.timedelta(hours=1)


def test_sixth_submission_in_a_conversation_is_rate_limited(env: Env) -> None:
    service = env.service(TicketLimits())
    for number in range(5):
        request = handoff(contact=f"person{number}@example.org")
        assert service.submit(CONVERSATION, request).outcome == CREATED
        env.clock.advance(hours=1)
    before = env.counts()

    assert service.submit(CONVERSATION, handoff(contact="late@example.org")) == Submission(
        RATE_LIMITED, None
    )
    assert env.counts() == before
    # a repeat of an earlier submission still gets its answer
    assert service.submit(CONVERSATION, handoff(contact="person0@example.org")).outcome == CREATED
    # another conversation is not affected
    assert service.submit(OTHER_CONVERSATION, handoff(contact="late@example.org")).outcome \
        == CREATED
    # 24 hours after the first, one is allowed again
    env.clock.now = START + dt.timedelta(hours=24, seconds=1)
    assert service.submit(CONVERSATION, handoff(contact="later@example.org")).outcome == CREATED
    assert service.submit(CONVERSATION, handoff(contact="later2@example.org")).outcome \
        == RATE_LIMITED


def test_sixth_submission_for_an_email_is_rate_limited(env: Env) -> None:
    service = env.service(TicketLimits())
    outcomes = [
        service.submit(f"{number:064d}", handoff(f"problem number {number}")).outcome
        for number in range(5)
    ]
    assert outcomes == [CREATED] * 5
    before = env.counts()
    shouted = handoff("one more", contact=CONTACT.upper())
    assert service.submit("f" * 64, shouted) == Submission(RATE_LIMITED, None)
    assert service.submit("f" * 64, misspelled()) == Submission(RATE_LIMITED, None)
    assert env.counts() == before
    assert service.submit("f" * 64, handoff(contact="someone.else@example.org")).outcome \
        == CREATED


# --- status ---------------------------------------------------------------------------------


def test_status_needs_the_reference_and_the_email(env: Env) -> None:
    service = env.service()
    reference = service.submit(CONVERSATION, misspelled()).reference or ""
    env.clock.advance(hours=3)
    service.submit(CONVERSATION, misspelled(user_name="jdoe7"))
    env.set_status(reference, "in_progress")
    year, number = parse_reference(reference) or (0, 0)

    found = service.status(OTHER_CONVERSATION, f" hd {year} {number} ", " JANE.DOE@example.ORG")

    assert found == StatusResult(
        FOUND, reference=reference, kind="report_name_misspelled",
        title="Name spelled incorrectly", status="in_progress", created_at=START,
        updated_at=START + dt.timedelta(hours=3),
    )
    misses = [
        service.status(OTHER_CONVERSATION, reference, "jane@example.org"),  # wrong e-mail
        service.status(OTHER_CONVERSATION, format_reference(year + 1, number), CONTACT),
        service.status(OTHER_CONVERSATION, format_reference(year, number + 1), CONTACT),
        service.status(OTHER_CONVERSATION, "HD-2026-abc", CONTACT),  # malformed
        service.status(OTHER_CONVERSATION, "HD-2026-99999999999", CONTACT),  # past any id
        service.status(OTHER_CONVERSATION, "", CONTACT),
    ]
    assert all(miss == StatusResult(NOT_FOUND) for miss in misses)
    assert all(
        (miss.reference, miss.kind, miss.title, miss.status, miss.created_at, miss.updated_at)
        == (None,) * 6 for miss in misses
    )
    checks = env.all(TicketStatusCheck)
    assert [check.found for check in checks] == [1, 0, 0, 0, 0, 0, 0]
    assert {check.conversation_id for check in checks} == {OTHER_CONVERSATION}


def test_eleventh_status_check_in_an_hour_is_rate_limited(env: Env) -> None:
    service = env.service(TicketLimits())
    reference = service.submit(CONVERSATION, misspelled()).reference or ""
    for number in range(10):
        assert service.status(OTHER_CONVERSATION, f"HD-2026-{number + 900}",
                              f"guess{number}@example.org").outcome == NOT_FOUND
        env.clock.advance(minutes=5)
    assert service.status(OTHER_CONVERSATION, reference, CONTACT) == StatusResult(RATE_LIMITED)
    assert service.status(CONVERSATION, reference, CONTACT).outcome == FOUND  # another chat
    assert len(env.all(TicketStatusCheck)) == 12  # refused checks are recorded too
    env.clock.now = START + dt.timedelta(hours=2)
    assert service.status(OTHER_CONVERSATION, reference, CONTACT).outcome == FOUND


def test_guesses_at_one_address_or_one_reference_are_limited_across_conversations(
    env: Env,
) -> None:
    """A new conversation does not reset the count of guesses at one ticket or one address."""
    service = env.service(TicketLimits())
    reference = service.submit(CONVERSATION, misspelled()).reference or ""
    year, number = parse_reference(reference) or (0, 0)
    by_reference = [service.status(f"r{n:063d}", reference, f"guess{n}@example.org").outcome
                    for n in range(11)]
    assert by_reference == [NOT_FOUND] * 10 + [RATE_LIMITED]
    # spelled another way, it is the same reference
    spelled = f"hd_{year} {number}"
    assert service.status("x" * 64, spelled, CONTACT) == StatusResult(RATE_LIMITED)
    by_address = [service.status(f"e{n:063d}", format_reference(year, number + 1 + n),
                                 "Victim@Example.org").outcome for n in range(11)]
    assert by_address == [NOT_FOUND] * 10 + [RATE_LIMITED]
    env.clock.advance(hours=1, seconds=1)
    assert service.status("y" * 64, reference, CONTACT).outcome == FOUND


# --- listing --------------------------------------------------------------------------------


def test_list_newest_first_with_filters(env: Env) -> None:
    service = env.service()
    first = service.submit(CONVERSATION, misspelled()).reference
    env.clock.advance(minutes=1)
    second = service.submit(CONVERSATION, handoff()).reference
    env.clock.advance(minutes=1)
    third = service.submit(CONVERSATION, handoff(contact="x@example.org")).reference
    env.set_status(third or "", "resolved")

    assert [reference_of(t) for t in service.list_tickets()] == [third, second, first]
    assert [reference_of(t) for t in service.list_tickets(limit=2)] == [third, second]
    assert [reference_of(t) for t in service.list_tickets(kind="human_handoff", status="open")]\
        == [second]
    assert service.list_tickets(status="waiting_on_user") == []
    with pytest.raises(ValueError):
        service.list_tickets(status="closed")
    with pytest.raises(ValueError):
        service.list_tickets(kind="ticket_status")


def test_get_returns_the_ticket_and_its_events(env: Env) -> None:
    service = env.service()
    reference = service.submit(CONVERSATION, misspelled()).reference or ""
    env.clock.advance(minutes=10)
    service.submit(CONVERSATION, misspelled(user_name="jdoe7"))
    year, number = parse_reference(reference) or (0, 0)

    found = service.get(f"hd {year} {number}")

    assert found is not None
    ticket, events = found
    assert reference_of(ticket) == reference
    assert [event.action for event in events] == ["created", "facts_added"]
    assert service.get(format_reference(year - 1, number)) is None
    assert service.get(format_reference(year, number + 1)) is None
    assert service.get("not a reference") is None


# --- privacy --------------------------------------------------------------------------------


def test_logs_name_ids_kinds_and_outcomes_only(
    env: Env, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="bot.tickets.service")
    service = env.service(TicketLimits(submissions_per_conversation=3))
    reference = service.submit(CONVERSATION, misspelled()).reference or ""
    service.submit(CONVERSATION, misspelled())
    service.submit(CONVERSATION, misspelled(user_name="jdoe7"))
    service.submit(CONVERSATION, handoff())
    service.submit(CONVERSATION, handoff("secret summary"))
    service.status(CONVERSATION, reference, CONTACT)
    service.status(CONVERSATION, reference, "wrong@example.org")
    lines = [record.getMessage() for record in caplog.records
             if record.name == "bot.tickets.service"]
    assert len(lines) == 7
    text = "\n".join(lines).lower()
    for secret in ("@", "jane", "doe", "doh", "jdoe7", "summary", "massone class", CONVERSATION):
        assert secret not in text, secret
    assert "outcome=created" in text and "outcome=added" in text
    assert "outcome=rate_limited" in text and "outcome=found" in text


# --- the mail, delivered --------------------------------------------------------------------


class Mailbox:
    """An aiosmtpd handler keeping what it accepts."""

    def __init__(self) -> None:
        self.envelopes: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        self.envelopes.append(envelope)
        await asyncio.sleep(0)
        return "250 Message accepted for delivery"


def test_the_confirmation_arrives_over_smtp(env: Env) -> None:
    reference = env.service().submit(CONVERSATION, misspelled()).reference or ""
    mailbox = Mailbox()
    port = free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        smtp = SmtpSettings(host="127.0.0.1", port=port, timeout=5.0)
        worker = OutboxWorker(env.sessions, smtp, clock=lambda: START + dt.timedelta(minutes=1))
        assert worker.send_due() == 1
    finally:
        controller.stop()

    [envelope] = mailbox.envelopes
    assert envelope.rcpt_tos == [CONTACT]
    message = email.message_from_bytes(envelope.content, policy=default_policy)
    assert isinstance(message, EmailMessage)
    assert message["Subject"] == f"Your help desk request {reference}"
    body = message.get_content().replace("\r\n", "\n")
    assert f"Your reference is {reference}." in body
    assert "Jane Doh" not in body
    assert "MassONE Help Desk" in body


# --- one grammar for references (issue 11, item 16) -----------------------------------------


@pytest.mark.parametrize("typed", [
    "HD-2026-000123", "hd 2026 123", "HD_2026_000123", "HD\u20132026\u2013000123",
    "HD \u2014 2026 \u2014 123", "HD2026000123", "\uff28\uff24\uff3f2026\uff3f123",
])
def test_every_reader_takes_every_spelling(typed: str) -> None:
    from bot.dialogue.facts import find_reference as in_chat
    from bot.tickets.fields import check_answer
    from bot.tickets.kinds import load_request_kinds
    from bot.tickets.references import find_reference

    assert parse_reference(typed) == (2026, 123)
    assert in_chat(f"what's up with {typed}?") == "HD-2026-000123"  # a chat message
    # a reply's subject (bot.tickets.mail_replies reads it with find_reference)
    assert find_reference(f"Re: About your help desk request {typed}") == "HD-2026-000123"
    [field] = [field for field in load_request_kinds()["ticket_status"].fields
               if field.type == "reference"]
    assert check_answer(field, typed) == "HD-2026-000123"  # the status form


@pytest.mark.parametrize("text", ["HD-2026-", "XHD-2026-123", "HD-26-123", "my code 2026 123",
                                  "HD-2026-12345678901"])
def test_no_reference_is_found_where_there_is_none(text: str) -> None:
    from bot.tickets.references import find_reference

    assert find_reference(text) is None
