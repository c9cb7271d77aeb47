"""Agents, sign-in and console sessions (`bot.console.agents`), on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterator

import pytest
from sqlalchemy import select
from sqlalchemy.orm import sessionmaker

from bot.console import agents as agents_module
from bot.console.agents import (
    LOCKED_OUT,
    REFUSED,
    SIGNED_IN,
    AgentError,
    AgentService,
)
from bot.console.agents_cli import DEMO_AGENT, ensure_demo_agent
from bot.db import make_engine, session_factory
from bot.models import Agent, AgentSession, AuditEntry

START = dt.datetime(2031, 5, 6, 14, 0, tzinfo=dt.timezone.utc)
PASSWORD = "correct horse battery staple"


class Clock:
    """A settable clock."""

    def __init__(self, now: dt.datetime) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += dt.timedelta(**delta)


@pytest.fixture
def sessions(database_url: str) -> Iterator[sessionmaker]:
    engine = make_engine(database_url)
    yield session_factory(engine)
    engine.dispose()


@pytest.fixture
def clock() -> Clock:
    return Clock(START)


@pytest.fixture
def service(sessions: sessionmaker, clock: Clock) -> AgentService:
    return AgentService(sessions, clock=clock)


def audit_actions(sessions: sessionmaker) -> list[tuple[str, str]]:
    with sessions() as session:
        rows = session.execute(select(AuditEntry).order_by(AuditEntry.id)).scalars()
        return [(row.action, row.target) for row in rows]


# --- creating agents --------------------------------------------------------------------------


def test_an_agent_is_created_with_an_argon2id_hash(
    service: AgentService, sessions: sessionmaker
) -> None:
    agent = service.create("jane.doe", PASSWORD, display_name="Jane  Doe", role="admin")
    assert (agent.username, agent.display_name, agent.role) == ("jane.doe", "Jane Doe", "admin")
    assert agent.active and agent.is_admin and agent.actor == "agent:jane.doe"
    assert agent.created_at == START
    with sessions() as session:
        stored = session.execute(select(Agent)).scalar_one()
    assert stored.password_hash.startswith("$argon2id$")
    assert PASSWORD not in stored.password_hash
    assert [a.username for a in service.list_agents()] == ["jane.doe"]
    assert service.get("jane.doe") == agent
    assert service.get("nobody") is None
    assert ("agent_created", "jane.doe") in audit_actions(sessions)


def test_the_display_name_defaults_to_the_username(service: AgentService) -> None:
    agent = service.create("desk-1", PASSWORD)
    assert agent.display_name == "desk-1" and agent.role == "agent"


@pytest.mark.parametrize("username", ["ab", "Jane", "jane doe", "jane@example", "x" * 65, ""])
def test_a_malformed_username_is_refused(service: AgentService, username: str) -> None:
    with pytest.raises(AgentError) as error:
        service.create(username, PASSWORD)
    assert any("username" in problem for problem in error.value.problems)
    assert service.list_agents() == []


@pytest.mark.parametrize("password", ["password123", "short", "jane.doe-secret-words"])
def test_a_weak_password_is_refused(service: AgentService, password: str) -> None:
    with pytest.raises(AgentError):
        service.create("jane.doe", password)
    assert service.list_agents() == []


def test_an_unknown_role_and_a_taken_username_are_refused(service: AgentService) -> None:
    with pytest.raises(AgentError, match="role"):
        service.create("jane", PASSWORD, role="root")
    service.create("jane", PASSWORD)
    with pytest.raises(AgentError, match="already taken"):
        service.create("jane", "another long passphrase here")
    assert len(service.list_agents()) == 1


# --- signing in -------------------------------------------------------------------------------


def test_signing_in_opens_a_session_stored_as_a_hash(
    service: AgentService, sessions: sessionmaker
) -> None:
    service.create("jane", PASSWORD)
    result = service.sign_in("  Jane ", PASSWORD)  # trimmed, case-insensitive
    assert result.outcome == SIGNED_IN and result.token and result.session
    assert len(result.token) == 43  # 256 random bits, URL-safe base64
    with sessions() as session:
        row = session.execute(select(AgentSession)).scalar_one()
        agent = session.execute(select(Agent)).scalar_one()
    assert row.token_hash == hashlib.sha256(result.token.encode()).hexdigest()
    assert result.token not in (row.token_hash, row.csrf_token)
    assert len(row.csrf_token) >= 32 and row.csrf_token == result.session.csrf_token
    assert agent.last_sign_in_at is not None
    assert result.session.expires_at == START + dt.timedelta(hours=8)
    assert audit_actions(sessions)[-1] == ("sign_in", "jane")
    assert service.session(result.token).agent.username == "jane"


def test_a_wrong_password_an_unknown_and_a_deactivated_agent_look_the_same(
    service: AgentService, sessions: sessionmaker, monkeypatch: pytest.MonkeyPatch
) -> None:
    service.create("jane", PASSWORD)
    service.create("gone", PASSWORD)
    assert service.deactivate("gone")
    verified: list[str] = []
    real_verify = agents_module.verify_password

    def counting_verify(stored: str, password: str) -> bool:
        verified.append(stored)
        return real_verify(stored, password)

    monkeypatch.setattr(agents_module, "verify_password", counting_verify)
    results = [
        service.sign_in("jane", "not the password at all"),
        service.sign_in("nobody", PASSWORD),
        service.sign_in("gone", PASSWORD),
        service.sign_in("Not A Username!", PASSWORD),
    ]
    assert {result.outcome for result in results} == {REFUSED}
    assert all(result.token is None and result.session is None for result in results)
    assert len(verified) == 4  # one argon2 verification each, existing or not
    assert all(stored.startswith("$argon2id$") for stored in verified)
    failed = [target for action, target in audit_actions(sessions) if action == "sign_in_failed"]
    assert failed == ["jane", "nobody", "gone", "(malformed username)"]


def test_five_failures_lock_the_username_for_fifteen_minutes(
    service: AgentService, sessions: sessionmaker, clock: Clock
) -> None:
    service.create("jane", PASSWORD)
    for _ in range(5):
        assert service.sign_in("jane", "wrong guess number one").outcome == REFUSED
        clock.advance(minutes=1)
    assert service.sign_in("jane", PASSWORD).outcome == LOCKED_OUT
    for _ in range(5):
        service.sign_in("nobody", "wrong guess number one")
    assert service.sign_in("nobody", PASSWORD).outcome == LOCKED_OUT  # same answer
    assert ("sign_in_locked", "jane") in audit_actions(sessions)
    clock.advance(minutes=11)  # the first failure is now 15 minutes old
    assert service.sign_in("jane", PASSWORD).outcome == SIGNED_IN


def test_failures_before_a_successful_sign_in_do_not_count(
    service: AgentService, clock: Clock
) -> None:
    service.create("jane", PASSWORD)
    for _ in range(4):
        service.sign_in("jane", "wrong guess number one")
    clock.advance(seconds=1)
    assert service.sign_in("jane", PASSWORD).outcome == SIGNED_IN
    clock.advance(seconds=1)
    for _ in range(4):
        assert service.sign_in("jane", "wrong guess number one").outcome == REFUSED
    assert service.sign_in("jane", PASSWORD).outcome == SIGNED_IN


# --- sessions ---------------------------------------------------------------------------------


def test_a_session_slides_and_ends_after_thirty_idle_minutes(
    service: AgentService, clock: Clock
) -> None:
    service.create("jane", PASSWORD)
    token = service.sign_in("jane", PASSWORD).token
    clock.advance(minutes=29)
    assert service.session(token) is not None
    clock.advance(minutes=29)  # 58 minutes after signing in, 29 after the last request
    assert service.session(token) is not None
    clock.advance(minutes=30)
    assert service.session(token) is None


def test_a_session_ends_eight_hours_after_signing_in(service: AgentService, clock: Clock) -> None:
    service.create("jane", PASSWORD)
    token = service.sign_in("jane", PASSWORD).token
    for _ in range(23):
        clock.advance(minutes=20)
        assert service.session(token) is not None
    clock.advance(minutes=20)  # 8 hours exactly
    assert service.session(token) is None


def test_signing_out_and_deactivating_end_sessions(
    service: AgentService, sessions: sessionmaker
) -> None:
    service.create("jane", PASSWORD)
    first = service.sign_in("jane", PASSWORD).token
    second = service.sign_in("jane", PASSWORD).token
    service.sign_out(first)
    assert service.session(first) is None
    assert service.session(second) is not None
    assert ("sign_out", "") in audit_actions(sessions)
    service.sign_out(first)  # twice: nothing more happens
    assert service.deactivate("jane")
    assert service.session(second) is None
    assert service.sign_in("jane", PASSWORD).outcome == REFUSED
    assert not service.deactivate("nobody")
    with sessions() as session:
        assert all(row.revoked_at is not None
                   for row in session.execute(select(AgentSession)).scalars())


@pytest.mark.parametrize("token", [None, "", "short", "x" * 43, "!" * 43, "a" * 500])
def test_a_missing_or_unknown_token_is_no_session(service: AgentService, token: str | None) -> None:
    assert service.session(token) is None
    service.sign_out(token)


# --- the demo agent ---------------------------------------------------------------------------


def test_the_demo_agent_is_created_once_with_a_random_password(
    database_url: str, sessions: sessionmaker
) -> None:
    created = ensure_demo_agent(database_url)
    assert created is not None
    username, password = created
    assert username == DEMO_AGENT and len(password) >= 16
    assert ensure_demo_agent(database_url) is None
    service = AgentService(sessions)
    agent = service.get(DEMO_AGENT)
    assert agent is not None and agent.role == "admin"
    with sessions() as session:
        stored = session.execute(select(Agent.password_hash)).scalar_one()
        audit_details = " ".join(session.execute(select(AuditEntry.detail)).scalars())
    assert password not in stored and password not in audit_details
    assert service.sign_in(DEMO_AGENT, password).outcome == SIGNED_IN
