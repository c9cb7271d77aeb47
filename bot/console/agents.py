"""Help-desk agents: accounts, sign-in and console sessions.

* Usernames are 3-64 characters of `a-z 0-9 . _ -`; passwords follow `bot.recovery.passwords` (NIST
  policy) and are stored as argon2id hashes.
* Signing in does the same work and gives the same answer whether the username exists, is
  deactivated or has a wrong password: a missing agent is checked against a dummy hash.
* Failed sign-ins are limited per client address and per username, over 15 minutes: 20 from
  one client whatever the usernames (password spraying), 5 for one username from one client,
  50 for one username from all clients together (counted since its last successful sign-in).
  So one client cannot lock an agent out everywhere. Every failure is an `audit_log` row with
  the client's address, and so is every sign-in, sign-out and refusal while locked out. The
  count and the password check run under a lock on the client and the username
  (`bot.limits.serialise`): simultaneous guesses are checked one after another, so no more
  than the limit are ever verified.
* An agent with a second factor (`bot.console.second_factor`), or every agent when it is
  required, gets a session that opens only that step (`pending_step`: "code" or "setup", for
  10 minutes); the code, then, makes it a full session under a new token. Wrong codes count
  per client and per agent (5 per 15 minutes).
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

from bot.console.second_factor import RECOVERY, check_code
from bot.limits import serialise
from bot.mail.outbox import as_utc, utc_now
from bot.models import AGENT_ROLES, Agent, AgentSession, AuditEntry
from bot.recovery.passwords import hash_password, needs_rehash, password_problems, verify_password

log = logging.getLogger(__name__)

USERNAME_PATTERN = re.compile(r"[a-z0-9._-]{3,64}")
USERNAME_RULE = "a username has 3 to 64 characters: lower-case letters, digits, '.', '_' or '-'"
MAX_DISPLAY_NAME = 120
TOKEN_PATTERN = re.compile(r"[A-Za-z0-9_-]{43}")  # secrets.token_urlsafe(32)
SIGNED_IN, REFUSED, LOCKED_OUT = "signed_in", "refused", "locked_out"
CLIENT_LOCKED = "client_locked"  # too many failures from this client address
CODE, SETUP = "code", "setup"  # the second-factor step a pending session is waiting for
AGENT, ADMIN = AGENT_ROLES
# audit_log actions
SIGN_IN, SIGN_IN_FAILED, SIGN_IN_LOCKED = "sign_in", "sign_in_failed", "sign_in_locked"
SIGN_OUT, AGENT_CREATED, AGENT_DEACTIVATED = "sign_out", "agent_created", "agent_deactivated"
PASSWORD_ACCEPTED, SECOND_FACTOR_FAILED = "password_accepted", "second_factor_failed"
RECOVERY_CODE_USED = "recovery_code_used"
MALFORMED_USERNAME = "(malformed username)"


class AgentError(ValueError):
    """An agent cannot be created or changed; `problems` says why, as sentences."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class AgentLimits:
    failed_sign_ins: int = 5  # per username from one client
    failed_per_client: int = 20  # per client address, whatever the usernames
    failed_per_username: int = 50  # per username, from every client together
    failed_codes: int = 5  # wrong second-factor codes per agent
    failed_window: timedelta = timedelta(minutes=15)
    idle_timeout: timedelta = timedelta(minutes=30)
    lifetime: timedelta = timedelta(hours=8)
    pending_lifetime: timedelta = timedelta(minutes=10)  # to give the second factor


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
    outcome: str  # SIGNED_IN, REFUSED, LOCKED_OUT or CLIENT_LOCKED
    token: str | None = None  # the cookie value, only when signed in
    session: ConsoleSession | None = None  # a full session (None while `pending`)
    pending: str | None = None  # CODE or SETUP: the token opens only that step


@dataclass(frozen=True)
class PendingSignIn:
    """A session past the password, waiting for the second factor (`step`)."""

    id: int
    agent: AgentInfo
    step: str
    csrf_token: str


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
    target: str = "", detail: dict[str, Any] | None = None, client: str | None = None,
) -> None:
    """Add an audit_log row to `session` (committed with the caller's transaction)."""
    session.add(AuditEntry(
        agent_id=agent_id, action=action, target=target[:120],
        detail=json.dumps(detail or {}, ensure_ascii=False), created_at=now,
        client=client[:64] if client is not None else None,
    ))


class AgentService:
    """Creates agents, signs them in and out, and checks console sessions."""

    def __init__(
        self,
        sessions: sessionmaker,
        limits: AgentLimits = AgentLimits(),
        clock: Callable[[], datetime] = utc_now,
        *,
        secret_key: bytes = b"",  # opens the second factor's secrets
        require_second_factor: bool = False,
    ) -> None:
        self._sessions = sessions
        self.limits = limits
        self._clock = clock
        self._secret_key = secret_key
        self.require_second_factor = require_second_factor

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
    def sign_in(self, username: str, password: str, client: str = "") -> SignInResult:
        """A new session if the username and password match an active agent: a full one, or
        one waiting for the second factor (`pending`).

        An unknown or deactivated agent and a wrong password take the same work (one argon2
        verification) and give the same REFUSED; past a failure limit the answer is
        LOCKED_OUT (this username from this client) or CLIENT_LOCKED (this client), without
        checking the password, whether the username exists or not.
        """
        username = username.strip().lower()
        well_formed = USERNAME_PATTERN.fullmatch(username) is not None
        target = username if well_formed else MALFORMED_USERNAME
        now = self._now()
        with self._sessions() as session, session.begin():
            serialise(session, f"sign_in:client:{client}", f"sign_in:username:{target}")
            agent = None
            if well_formed:
                agent = session.execute(
                    select(Agent).where(Agent.username == username)
                ).scalar_one_or_none()
            agent_id = agent.id if agent is not None else None
            locked = self._locked_out(session, username if well_formed else None, agent,
                                      client, now)
            if locked is not None:
                audit(session, action=SIGN_IN_LOCKED, now=now, agent_id=agent_id,
                      target=target, detail={"by": locked}, client=client)
                log.info("console sign-in: outcome=%s", LOCKED_OUT)
                return SignInResult(CLIENT_LOCKED if locked == "client" else LOCKED_OUT)
            stored = agent.password_hash if agent is not None else _dummy_hash()
            matches = verify_password(stored, password)
            if agent is None or not agent.active or not matches:
                audit(session, action=SIGN_IN_FAILED, now=now, agent_id=agent_id,
                      target=target, client=client)
                log.info("console sign-in: outcome=%s", REFUSED)
                return SignInResult(REFUSED)
            if needs_rehash(agent.password_hash):
                agent.password_hash = hash_password(password)
            pending = CODE if agent.totp_secret else SETUP if self.require_second_factor else None
            token, signed_in = self._open_session(session, agent, now, client, pending)
        log.info("console sign-in: agent=%s outcome=%s pending=%s", agent_id, SIGNED_IN,
                 pending)
        return SignInResult(SIGNED_IN, token, signed_in, pending)

    def _open_session(
        self, session: Session, agent: Agent, now: datetime, client: str, pending: str | None,
    ) -> tuple[str, ConsoleSession | None]:
        """A new session row for `agent` (audited) and its token; the ConsoleSession unless it
        is pending."""
        if pending is None:
            agent.last_sign_in_at = now
        # Sessions that ended long ago are of no use to anyone: drop them.
        session.execute(
            delete(AgentSession)
            .where(AgentSession.agent_id == agent.id,
                   AgentSession.expires_at < now - timedelta(days=1))
            .execution_options(synchronize_session=False)
        )
        token = secrets.token_urlsafe(32)
        lifetime = self.limits.lifetime if pending is None else self.limits.pending_lifetime
        row = AgentSession(
            token_hash=token_hash(token), agent_id=agent.id,
            csrf_token=secrets.token_urlsafe(32), created_at=now, last_seen_at=now,
            expires_at=now + lifetime, pending_step=pending,
        )
        session.add(row)
        session.flush()
        audit(session, action=SIGN_IN if pending is None else PASSWORD_ACCEPTED, now=now,
              agent_id=agent.id, target=agent.username, detail={"session": row.id},
              client=client)
        if pending is not None:
            return token, None
        return token, ConsoleSession(row.id, AgentInfo.of(agent), row.csrf_token,
                                     as_utc(row.expires_at))

    def _failures(self, session: Session, actions: tuple[str, ...], since: datetime,
                  **equal: str) -> int:
        """How many `actions` rows since `since` whose columns have the values in `equal`."""
        return session.execute(
            select(func.count(AuditEntry.id)).where(
                AuditEntry.action.in_(actions), AuditEntry.created_at > since,
                *(getattr(AuditEntry, column) == value for column, value in equal.items()),
            )
        ).scalar_one()

    def _locked_out(
        self, session: Session, username: str | None, agent: Agent | None, client: str,
        now: datetime,
    ) -> str | None:
        """"client" when this client used up its failed sign-ins in the window, "username"
        when the username did (from this client, or from every client together; failures
        before the agent's last successful sign-in do not count); None otherwise."""
        limits = self.limits
        window_start = now - limits.failed_window
        failed = (SIGN_IN_FAILED, SECOND_FACTOR_FAILED)
        if self._failures(session, failed, window_start, client=client) >= (
            limits.failed_per_client
        ):
            return "client"
        if username is None:
            return None
        since = window_start
        if agent is not None and agent.last_sign_in_at is not None:
            since = max(since, as_utc(agent.last_sign_in_at))
        from_here = self._failures(session, (SIGN_IN_FAILED,), since, target=username,
                                   client=client)
        everywhere = self._failures(session, (SIGN_IN_FAILED,), since, target=username)
        if from_here >= limits.failed_sign_ins or everywhere >= limits.failed_per_username:
            return "username"
        return None

    # ----------------------------------------------------------------- the second factor
    def pending(self, token: str | None) -> PendingSignIn | None:
        """The sign-in a cookie's token names if it is past the password, waiting for the
        second factor, and less than 10 minutes old; None otherwise."""
        if not token or not TOKEN_PATTERN.fullmatch(token):
            return None
        now = self._now()
        with self._sessions() as session:
            found = session.execute(
                select(AgentSession, Agent)
                .join(Agent, Agent.id == AgentSession.agent_id)
                .where(AgentSession.token_hash == token_hash(token))
            ).first()
            if found is None:
                return None
            row, agent = found
            if (row.pending_step is None or row.revoked_at is not None or not agent.active
                    or now >= as_utc(row.expires_at)):
                return None
            return PendingSignIn(row.id, AgentInfo.of(agent), row.pending_step, row.csrf_token)

    def give_code(self, token: str | None, code: str, client: str = "") -> SignInResult:
        """The second sign-in step: a code from the agent's app or a recovery code turns the
        pending session into a full one, under a new token."""
        now = self._now()
        with self._sessions() as session, session.begin():
            row, agent = self._pending_row(session, token, CODE, now)
            if row is None or agent is None:
                return SignInResult(REFUSED)
            serialise(session, f"sign_in:client:{client}", f"sign_in:code:{agent.id}")
            window_start = now - self.limits.failed_window
            if self._failures(session, (SIGN_IN_FAILED, SECOND_FACTOR_FAILED), window_start,
                              client=client) >= self.limits.failed_per_client:
                return SignInResult(CLIENT_LOCKED)
            since = window_start
            if agent.last_sign_in_at is not None:
                since = max(since, as_utc(agent.last_sign_in_at))
            if self._failures(session, (SECOND_FACTOR_FAILED,), since,
                              target=agent.username) >= self.limits.failed_codes:
                audit(session, action=SIGN_IN_LOCKED, now=now, agent_id=agent.id,
                      target=agent.username, detail={"by": "code"}, client=client)
                return SignInResult(LOCKED_OUT)
            used = check_code(session, agent, code, self._secret_key, now)
            if used is None:
                audit(session, action=SECOND_FACTOR_FAILED, now=now, agent_id=agent.id,
                      target=agent.username, client=client)
                log.info("console second factor: agent=%s outcome=%s", agent.id, REFUSED)
                return SignInResult(REFUSED)
            row.revoked_at = now
            new_token, signed_in = self._open_session(session, agent, now, client, None)
            if used == RECOVERY:
                audit(session, action=RECOVERY_CODE_USED, now=now, agent_id=agent.id,
                      target=agent.username, client=client)
        log.info("console second factor: agent=%s outcome=%s by=%s", agent.id, SIGNED_IN, used)
        return SignInResult(SIGNED_IN, new_token, signed_in)

    def finish_setup(self, token: str | None, client: str = "") -> SignInResult:
        """After the second factor was set up from a "setup" session: a full session under a
        new token (REFUSED when the token is not such a session, or no factor is on)."""
        now = self._now()
        with self._sessions() as session, session.begin():
            row, agent = self._pending_row(session, token, SETUP, now)
            if row is None or agent is None or not agent.totp_secret:
                return SignInResult(REFUSED)
            row.revoked_at = now
            new_token, signed_in = self._open_session(session, agent, now, client, None)
        return SignInResult(SIGNED_IN, new_token, signed_in)

    @staticmethod
    def _pending_row(
        session: Session, token: str | None, step: str, now: datetime
    ) -> tuple[AgentSession | None, Agent | None]:
        """The pending session row waiting for `step` and its agent, locked; (None, None) if
        the token names none that is still usable."""
        if not token or not TOKEN_PATTERN.fullmatch(token):
            return None, None
        found = session.execute(
            select(AgentSession, Agent)
            .join(Agent, Agent.id == AgentSession.agent_id)
            .where(AgentSession.token_hash == token_hash(token))
            .with_for_update()
        ).first()
        if found is None:
            return None, None
        row, agent = found
        if (row.pending_step != step or row.revoked_at is not None or not agent.active
                or now >= as_utc(row.expires_at)):
            return None, None
        return row, agent

    def record_access(
        self, agent: AgentInfo, action: str, target: str, rows: list[Any], client: str,
    ) -> None:
        """Audit that `agent` saw personal data: what (`action`, `target`), which rows, and
        from which client address."""
        now = self._now()
        with self._sessions() as session, session.begin():
            audit(session, action=action, now=now, agent_id=agent.id, target=target,
                  detail={"rows": rows}, client=client)

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
                or row.pending_step is not None  # past the password only
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
