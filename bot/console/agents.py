"""Help-desk agents: accounts, sign-in and console sessions.

* Usernames are 3-64 characters of `a-z 0-9 . _ -`; passwords follow `bot.recovery.passwords` (NIST
  policy) and are stored as argon2id hashes.
* Signing in does the same work and gives the same answer whether the username exists, is
  deactivated or has a wrong password: a missing agent is checked against a dummy hash.
* At most 5 failed sign-ins per username per 15 minutes (since its last successful one): every
  failure is an `audit_log` row, and so is every sign-in, sign-out and refusal while locked out.
* A session is a random 256-bit token held in the agent's cookie; only its SHA-256 is stored.
  It ends after 30 minutes without a request (each request slides `last_seen_at`), 8 hours
  after signing in whatever happens, at sign-out, or when the agent is deactivated. Each
  session has its own CSRF token for the console's forms.
* Logs name agent ids and outcomes, never usernames typed at sign-in or passwords.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from bot.mail.outbox import as_utc, utc_now
from bot.models import AGENT_ROLES, Agent, AgentSession, AuditEntry
from bot.recovery.passwords import hash_password, needs_rehash, password_problems, verify_password

log = logging.getLogger(__name__)

USERNAME_PATTERN = re.compile(r"[a-z0-9._-]{3,64}")
USERNAME_RULE = "a username has 3 to 64 characters: lower-case letters, digits, '.', '_' or '-'"
MAX_DISPLAY_NAME = 120
TOKEN_PATTERN = re.compile(r"[A-Za-z0-9_-]{43}")  # secrets.token_urlsafe(32)
SIGNED_IN, REFUSED, LOCKED_OUT = "signed_in", "refused", "locked_out"
AGENT, ADMIN = AGENT_ROLES
# audit_log actions
SIGN_IN, SIGN_IN_FAILED, SIGN_IN_LOCKED = "sign_in", "sign_in_failed", "sign_in_locked"
SIGN_OUT, AGENT_CREATED, AGENT_DEACTIVATED = "sign_out", "agent_created", "agent_deactivated"
MALFORMED_USERNAME = "(malformed username)"


class AgentError(ValueError):
    """An agent cannot be created or changed; `problems` says why, as sentences."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class AgentLimits:
    failed_sign_ins: int = 5
    failed_window: timedelta = timedelta(minutes=15)
    idle_timeout: timedelta = timedelta(minutes=30)
    lifetime: timedelta = timedelta(hours=8)


@dataclass(frozen=True)
class AgentInfo:
    """An agent as the console and the CLI show it (no password hash)."""

    id: int
    username: str
    display_name: str
    role: str
    active: bool
    created_at: datetime
    last_sign_in_at: datetime | None

    @property
    def is_admin(self) -> bool:
        return self.role == ADMIN

    @property
    def actor(self) -> str:
        """How ticket histories name this agent."""
        return f"agent:{self.username}"

    @classmethod
    def of(cls, agent: Agent) -> AgentInfo:
        last = agent.last_sign_in_at
        return cls(agent.id, agent.username, agent.display_name, agent.role,
                   bool(agent.active), as_utc(agent.created_at),
                   as_utc(last) if last is not None else None)


@dataclass(frozen=True)
class ConsoleSession:
    """A valid signed-in session."""

    id: int
    agent: AgentInfo
    csrf_token: str
    expires_at: datetime


@dataclass(frozen=True)
class SignInResult:
    outcome: str  # SIGNED_IN, REFUSED or LOCKED_OUT
    token: str | None = None  # the cookie value, only when signed in
    session: ConsoleSession | None = None


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("ascii")).hexdigest()


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    """A hash nobody knows the password of, verified when the username does not exist."""
    return hash_password(secrets.token_urlsafe(32))


def username_problems(username: str) -> list[str]:
    return [] if USERNAME_PATTERN.fullmatch(username) else [f"Invalid username: {USERNAME_RULE}."]


def audit(
    session: Session, *, action: str, now: datetime, agent_id: int | None = None,
    target: str = "", detail: dict[str, Any] | None = None,
) -> None:
    """Add an audit_log row to `session` (committed with the caller's transaction)."""
    session.add(AuditEntry(
        agent_id=agent_id, action=action, target=target[:120],
        detail=json.dumps(detail or {}, ensure_ascii=False), created_at=now,
    ))


class AgentService:
    """Creates agents, signs them in and out, and checks console sessions."""

    def __init__(
        self,
        sessions: sessionmaker,
        limits: AgentLimits = AgentLimits(),
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._sessions = sessions
        self.limits = limits
        self._clock = clock

    def _now(self) -> datetime:
        return as_utc(self._clock())

    # ----------------------------------------------------------------- agents
    def create(
        self, username: str, password: str, *, display_name: str | None = None,
        role: str = AGENT,
    ) -> AgentInfo:
        """A new active agent; AgentError lists every problem (bad username, weak password,
        unknown role, username taken)."""
        display_name = " ".join((display_name or username).split())
        problems = username_problems(username)
        if role not in AGENT_ROLES:
            problems.append(f"Unknown role {role!r}: use one of {', '.join(AGENT_ROLES)}.")
        if not display_name or len(display_name) > MAX_DISPLAY_NAME:
            problems.append(f"The display name needs 1 to {MAX_DISPLAY_NAME} characters.")
        problems += password_problems(password, user_name=username)
        if problems:
            raise AgentError(problems)
        now = self._now()
        password_hash = hash_password(password)
        try:
            with self._sessions() as session, session.begin():
                agent = Agent(username=username, display_name=display_name, role=role,
                              password_hash=password_hash, active=1, created_at=now)
                session.add(agent)
                session.flush()
                audit(session, action=AGENT_CREATED, now=now, agent_id=agent.id,
                      target=username, detail={"role": role})
                info = AgentInfo.of(agent)
        except IntegrityError:
            raise AgentError([f"The username {username!r} is already taken."]) from None
        log.info("agent %s created: role=%s", info.id, role)
        return info

    def list_agents(self) -> list[AgentInfo]:
        with self._sessions() as session:
            agents = session.execute(select(Agent).order_by(Agent.username)).scalars()
            return [AgentInfo.of(agent) for agent in agents]

    def get(self, username: str) -> AgentInfo | None:
        with self._sessions() as session:
            agent = session.execute(
                select(Agent).where(Agent.username == username)
            ).scalar_one_or_none()
            return AgentInfo.of(agent) if agent is not None else None

    def deactivate(self, username: str) -> bool:
        """Deactivate the agent and end its sessions; False if there is no such agent."""
        now = self._now()
        with self._sessions() as session, session.begin():
            agent = session.execute(
                select(Agent).where(Agent.username == username).with_for_update()
            ).scalar_one_or_none()
            if agent is None:
                return False
            agent.active = 0
            session.execute(
                update(AgentSession)
                .where(AgentSession.agent_id == agent.id, AgentSession.revoked_at.is_(None))
                .values(revoked_at=now)
                .execution_options(synchronize_session=False)
            )
            audit(session, action=AGENT_DEACTIVATED, now=now, agent_id=agent.id,
                  target=username)
        log.info("agent %s deactivated", agent.id)
        return True

    # ----------------------------------------------------------------- signing in
    def sign_in(self, username: str, password: str) -> SignInResult:
        """A new session if the username and password match an active agent.

        An unknown or deactivated agent and a wrong password take the same work (one argon2
        verification) and give the same REFUSED; past the failure limit the answer is
        LOCKED_OUT, without checking the password, whether the username exists or not.
        """
        username = username.strip().lower()
        well_formed = USERNAME_PATTERN.fullmatch(username) is not None
        target = username if well_formed else MALFORMED_USERNAME
        now = self._now()
        with self._sessions() as session, session.begin():
            agent = None
            if well_formed:
                agent = session.execute(
                    select(Agent).where(Agent.username == username)
                ).scalar_one_or_none()
            agent_id = agent.id if agent is not None else None
            if well_formed and self._locked_out(session, username, agent, now):
                audit(session, action=SIGN_IN_LOCKED, now=now, agent_id=agent_id, target=target)
                log.info("console sign-in: outcome=%s", LOCKED_OUT)
                return SignInResult(LOCKED_OUT)
            stored = agent.password_hash if agent is not None else _dummy_hash()
            matches = verify_password(stored, password)
            if agent is None or not agent.active or not matches:
                audit(session, action=SIGN_IN_FAILED, now=now, agent_id=agent_id, target=target)
                log.info("console sign-in: outcome=%s", REFUSED)
                return SignInResult(REFUSED)
            if needs_rehash(agent.password_hash):
                agent.password_hash = hash_password(password)
            agent.last_sign_in_at = now
            # Sessions that ended long ago are of no use to anyone: drop them.
            session.execute(
                delete(AgentSession)
                .where(AgentSession.agent_id == agent.id,
                       AgentSession.expires_at < now - timedelta(days=1))
                .execution_options(synchronize_session=False)
            )
            token = secrets.token_urlsafe(32)
            row = AgentSession(
                token_hash=token_hash(token), agent_id=agent.id,
                csrf_token=secrets.token_urlsafe(32), created_at=now, last_seen_at=now,
                expires_at=now + self.limits.lifetime,
            )
            session.add(row)
            session.flush()
            audit(session, action=SIGN_IN, now=now, agent_id=agent.id, target=username,
                  detail={"session": row.id})
            signed_in = ConsoleSession(row.id, AgentInfo.of(agent), row.csrf_token,
                                       as_utc(row.expires_at))
        log.info("console sign-in: agent=%s outcome=%s", agent_id, SIGNED_IN)
        return SignInResult(SIGNED_IN, token, signed_in)

    def _locked_out(
        self, session: Session, username: str, agent: Agent | None, now: datetime
    ) -> bool:
        """Whether the username used up its failed sign-ins in the window (failures before
        the agent's last successful sign-in do not count)."""
        since = now - self.limits.failed_window
        if agent is not None and agent.last_sign_in_at is not None:
            since = max(since, as_utc(agent.last_sign_in_at))
        failures = session.execute(
            select(func.count(AuditEntry.id)).where(
                AuditEntry.action == SIGN_IN_FAILED,
                AuditEntry.target == username,
                AuditEntry.created_at > since,
            )
        ).scalar_one()
        return failures >= self.limits.failed_sign_ins

    # ----------------------------------------------------------------- sessions
    def session(self, token: str | None, *, touch: bool = True) -> ConsoleSession | None:
        """The session a cookie's token names if it is still valid (and slide its idle
        timeout, unless `touch` is False: a live page checking, not the agent acting); None
        for a missing, malformed, unknown, ended or expired one."""
        if not token or not TOKEN_PATTERN.fullmatch(token):
            return None
        now = self._now()
        with self._sessions() as session, session.begin():
            found = session.execute(
                select(AgentSession, Agent)
                .join(Agent, Agent.id == AgentSession.agent_id)
                .where(AgentSession.token_hash == token_hash(token))
            ).first()
            if found is None:
                return None
            row, agent = found
            if (
                row.revoked_at is not None
                or not agent.active
                or now >= as_utc(row.expires_at)
                or now - as_utc(row.last_seen_at) >= self.limits.idle_timeout
            ):
                return None
            if touch:
                row.last_seen_at = now
            return ConsoleSession(row.id, AgentInfo.of(agent), row.csrf_token,
                                  as_utc(row.expires_at))

    def sign_out(self, token: str | None) -> None:
        """End the session the token names (nothing happens for an unknown token)."""
        if not token or not TOKEN_PATTERN.fullmatch(token):
            return
        now = self._now()
        with self._sessions() as session, session.begin():
            row = session.execute(
                select(AgentSession).where(AgentSession.token_hash == token_hash(token))
            ).scalar_one_or_none()
            if row is None or row.revoked_at is not None:
                return
            row.revoked_at = now
            audit(session, action=SIGN_OUT, now=now, agent_id=row.agent_id,
                  detail={"session": row.id})
        log.info("console sign-out: agent=%s", row.agent_id)
