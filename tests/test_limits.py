"""Limits hold when requests race (issue 11, item 2): 20 threads at once, each with its own
connection, on PostgreSQL (and SQLite), against the real services.

Before `bot.limits.serialise`, PostgreSQL accepted 15-17 of 20 simultaneous resets for one
identity (limit 5) and left up to 15 reset links live, 15 of 20 ticket submissions for one
address, and checked 10 console passwords instead of 5.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable, Iterator
from typing import TypeVar

import pytest
from conftest import Clock
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from bot.console.agents import LOCKED_OUT, REFUSED, SIGN_IN_FAILED, AgentService
from bot.db import make_engine, session_factory
from bot.models import AuditEntry, OutboxMail, ResetToken, Ticket
from bot.recovery.accounts_import import import_accounts
from bot.recovery.service import RATE_LIMITED, SENT_IF_MATCHED, Identity, RecoveryService
from bot.tickets.service import CREATED, TicketRequest, TicketService

THREADS = 20
START = dt.datetime(2031, 5, 6, 9, 0, tzinfo=dt.timezone.utc)
ACCOUNTS = """\
system,user_name,first_name,last_name,birth_date,email,district,school,status
ese_portal,JDoe42,Jane,Doe,1985-03-14,jane.doe@example.org,Worcester,,active
"""
JANE = Identity("Jane", "Doe", dt.date(1985, 3, 14), email="jane.doe@example.org",
                user_name="JDoe42")
_T = TypeVar("_T")


@pytest.fixture
def sessions(database_url: str) -> Iterator[sessionmaker[Session]]:
    """The services' sessions, with a pool large enough for a connection per thread."""
    engine = make_engine(database_url)
    if engine.dialect.name == "postgresql":
        engine.dispose()
        engine = create_engine(database_url, future=True, pool_size=THREADS, max_overflow=5)
    factory = session_factory(engine)
    with factory() as session:
        import_accounts(session, ACCOUNTS)
    yield factory
    engine.dispose()


def at_once(call: Callable[[int], _T]) -> list[_T]:
    """Run call(0) ... call(19) in 20 threads released together; their results."""
    barrier = threading.Barrier(THREADS, timeout=30)
    results: list[_T] = []
    errors: list[BaseException] = []

    def run(number: int) -> None:
        try:
            barrier.wait()
            results.append(call(number))
        except BaseException as error:  # noqa: BLE001 - reported below
            errors.append(error)

    threads = [threading.Thread(target=run, args=(number,)) for number in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    assert len(results) == THREADS
    return results


def count(sessions: sessionmaker[Session], *columns_and_where: object) -> int:
    model, *where = columns_and_where
    with sessions() as session:
        return session.execute(select(func.count()).select_from(model).where(*where)).scalar_one()


def test_twenty_simultaneous_resets_for_one_identity(sessions: sessionmaker[Session]) -> None:
    service = RecoveryService(sessions, "https://help.example.org", b"secret", clock=Clock(START))
    replies = at_once(lambda n: service.request_password_reset(f"c{n}", "ese_portal", JANE))
    assert replies.count(SENT_IF_MATCHED) == 5
    assert replies.count(RATE_LIMITED) == THREADS - 5
    assert count(sessions, OutboxMail, OutboxMail.kind == "password_reset") == 5
    live = count(sessions, ResetToken, ResetToken.used_at.is_(None),
                 ResetToken.revoked_at.is_(None))
    assert live == 1


def test_the_schema_allows_one_live_reset_link_per_account(
    sessions: sessionmaker[Session],
) -> None:
    with sessions() as session:
        account_id = session.execute(text("SELECT id FROM accounts")).scalar_one()
    row = {"account_id": account_id, "created_at": START, "expires_at": START}
    with sessions.begin() as session:
        session.add(ResetToken(token_hash="a" * 64, **row))
        session.add(ResetToken(token_hash="b" * 64, revoked_at=START, **row))
    with pytest.raises(IntegrityError), sessions.begin() as session:
        session.add(ResetToken(token_hash="c" * 64, **row))


def test_twenty_simultaneous_tickets_for_one_address(sessions: sessionmaker[Session]) -> None:
    service = TicketService(sessions, clock=Clock(START))

    def submit(number: int) -> str:
        request = TicketRequest(
            kind="human_handoff", system="massone", contact_email="someone@example.org",
            facts={"summary": f"problem {number}", "contact_email": "someone@example.org"},
            transcript=[],
        )
        return service.submit(f"{number:064d}", request).outcome

    outcomes = at_once(submit)
    assert outcomes.count(CREATED) == 5
    assert count(sessions, Ticket) == 5
    assert count(sessions, OutboxMail) == 5


def test_twenty_simultaneous_wrong_passwords_check_five(sessions: sessionmaker[Session]) -> None:
    service = AgentService(sessions, clock=Clock(START))
    service.create("jane.doe", "correct horse battery staple")
    outcomes = [result.outcome for result in at_once(
        lambda n: service.sign_in("jane.doe", f"wrong guess {n}", "198.51.100.7"))]
    assert outcomes.count(REFUSED) == 5  # passwords actually checked
    assert outcomes.count(LOCKED_OUT) == THREADS - 5
    assert count(sessions, AuditEntry, AuditEntry.action == SIGN_IN_FAILED) == 5
