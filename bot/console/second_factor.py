"""Agents' second factor: a TOTP app (RFC 6238, `pyotp`) and 10 single-use recovery codes.

Agents see dates of birth, so the console asks for two factors (NIST SP 800-63B AAL2): the
password, then a code. Set up from the console: the agent scans a QR code (`segno`, drawn as
inline SVG) or types the secret shown as text into an authenticator app, and confirms with a
code from it; only then is the factor on, and 10 recovery codes are shown, once.

* The TOTP secret (160 bits) is stored encrypted (Fernet, keyed from SECRET_KEY; a new
  SECRET_KEY means setting the factor up again). Codes of the previous, current and next 30-second
  step are accepted, each step only once (no replay).
* A recovery code carries 80 random bits; only its SHA-256 is stored; each works once.
* `helpdesk agents reset-second-factor USER` removes an agent's factor (a lost phone), ends
  their sessions, and they set one up again at their next sign-in.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import pyotp
import segno
from cryptography.fernet import Fernet, InvalidToken
from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session, sessionmaker

from bot.mail.outbox import as_utc, utc_now
from bot.models import Agent, AgentRecoveryCode, AgentSession, AuditEntry

ISSUER = "ESE MassONE help desk"
RECOVERY_CODES = 10
TOTP, RECOVERY = "totp", "recovery"
# audit_log actions
SECOND_FACTOR_SET_UP, SECOND_FACTOR_RESET = "second_factor_set_up", "second_factor_reset"
_DIGITS = re.compile(r"[0-9]{6}")
_RECOVERY = re.compile(r"[a-z2-7]{16}")


def _fernet(secret_key: bytes) -> Fernet:
    key = hmac.new(secret_key, b"console second factor", hashlib.sha256).digest()
    return Fernet(base64.urlsafe_b64encode(key))


def _seal(secret_key: bytes, secret: str) -> str:
    return _fernet(secret_key).encrypt(secret.encode("ascii")).decode("ascii")


def _open(secret_key: bytes, sealed: str | None) -> str | None:
    if not sealed:
        return None
    try:
        return _fernet(secret_key).decrypt(sealed.encode("ascii")).decode("ascii")
    except InvalidToken:  # sealed under another SECRET_KEY: the factor must be set up again
        return None


def _code_hash(code: str) -> str:
    return hashlib.sha256(code.encode("ascii")).hexdigest()


def _normalised(code: str) -> str:
    return re.sub(r"[\s-]", "", code).lower()


@dataclass(frozen=True)
class Enrollment:
    """A TOTP secret being set up, as the setup page shows it."""

    secret: str  # base32
    uri: str  # otpauth://totp/...

    @property
    def grouped(self) -> str:
        """The secret in groups of four, easier to type."""
        return " ".join(self.secret[i:i + 4] for i in range(0, len(self.secret), 4))

    def qr_svg(self) -> str:
        """The otpauth URI as an inline SVG QR code (no image request, nothing external)."""
        return segno.make(self.uri, error="m").svg_inline(
            scale=5, border=4, light="#fff", title="QR code for your authenticator app"
        )


def _enrollment(username: str, secret: str) -> Enrollment:
    return Enrollment(secret, pyotp.TOTP(secret).provisioning_uri(name=username,
                                                                  issuer_name=ISSUER))


def _totp_step(secret: str, code: str, now: datetime, last_step: int | None) -> int | None:
    """The time step `code` belongs to (previous, current or next), if not used already."""
    totp = pyotp.TOTP(secret)
    current = int(now.timestamp()) // totp.interval
    for step in (current - 1, current, current + 1):
        if (last_step is None or step > last_step) and hmac.compare_digest(
            totp.at(step * totp.interval), code
        ):
            return step
    return None


def check_code(session: Session, agent: Agent, code: str, secret_key: bytes,
               now: datetime) -> str | None:
    """TOTP or RECOVERY when `code` is a valid, unused code of `agent` (and use it up, in the
    caller's transaction); None otherwise."""
    code = _normalised(code)
    if _DIGITS.fullmatch(code):
        secret = _open(secret_key, agent.totp_secret)
        step = _totp_step(secret, code, now, agent.totp_last_step) if secret else None
        if step is None:
            return None
        agent.totp_last_step = step
        return TOTP
    if _RECOVERY.fullmatch(code):
        used = session.execute(
            update(AgentRecoveryCode)
            .where(AgentRecoveryCode.agent_id == agent.id,
                   AgentRecoveryCode.code_hash == _code_hash(code),
                   AgentRecoveryCode.used_at.is_(None))
            .values(used_at=now)
            .execution_options(synchronize_session=False)
        )
        return RECOVERY if used.rowcount == 1 else None
    return None


def _new_recovery_codes(session: Session, agent_id: int, now: datetime) -> list[str]:
    """Replace the agent's recovery codes with 10 new ones, returned once as "abcd-efgh-..."."""
    session.execute(delete(AgentRecoveryCode).where(AgentRecoveryCode.agent_id == agent_id)
                    .execution_options(synchronize_session=False))
    codes = [base64.b32encode(secrets.token_bytes(10)).decode("ascii").lower()
             for _ in range(RECOVERY_CODES)]
    session.add_all(AgentRecoveryCode(agent_id=agent_id, code_hash=_code_hash(code),
                                      created_at=now) for code in codes)
    return ["-".join(code[i:i + 4] for i in range(0, 16, 4)) for code in codes]


@dataclass(frozen=True)
class FactorStatus:
    enabled_at: datetime | None
    recovery_codes_left: int


class SecondFactorService:
    """Setting up, checking and resetting agents' second factor."""

    def __init__(self, sessions: sessionmaker, secret_key: bytes,
                 clock: Callable[[], datetime] = utc_now) -> None:
        if not secret_key:
            raise ValueError("secret_key must not be empty")
        self._sessions = sessions
        self._secret_key = secret_key
        self._clock = clock

    def _now(self) -> datetime:
        return as_utc(self._clock())

    def status(self, agent_id: int) -> FactorStatus:
        with self._sessions() as session:
            agent = session.get(Agent, agent_id)
            left = session.execute(
                select(func.count(AgentRecoveryCode.id))
                .where(AgentRecoveryCode.agent_id == agent_id, AgentRecoveryCode.used_at.is_(None))
            ).scalar_one()
            enabled = agent.totp_enabled_at if agent is not None and agent.totp_secret else None
        return FactorStatus(as_utc(enabled) if enabled is not None else None, left)

    def start_setup(self, agent_id: int) -> Enrollment | None:
        """A new secret for the agent to add to an app (kept, sealed, until confirmed); None
        when the agent has a factor on already (an admin resets it first)."""
        secret = pyotp.random_base32(32)  # 160 bits
        with self._sessions() as session, session.begin():
            agent = session.get(Agent, agent_id)
            if agent.totp_secret:
                return None
            agent.totp_pending_secret = _seal(self._secret_key, secret)
            return _enrollment(agent.username, secret)

    def pending_setup(self, agent_id: int) -> Enrollment | None:
        """The secret being set up, to show again after a mistyped code."""
        with self._sessions() as session:
            agent = session.get(Agent, agent_id)
            secret = _open(self._secret_key, agent.totp_pending_secret) if agent else None
            return _enrollment(agent.username, secret) if secret else None

    def confirm_setup(self, agent_id: int, code: str, client: str = "") -> list[str] | None:
        """Switch the factor on if `code` comes from the secret being set up; the 10 new
        recovery codes (to show once), or None for a wrong code."""
        now = self._now()
        with self._sessions() as session, session.begin():
            agent = session.execute(
                select(Agent).where(Agent.id == agent_id).with_for_update()
            ).scalar_one()
            secret = _open(self._secret_key, agent.totp_pending_secret)
            code = _normalised(code)
            if agent.totp_secret:  # already on
                return None
            step = (_totp_step(secret, code, now, None)
                    if secret and _DIGITS.fullmatch(code) else None)
            if step is None:
                return None
            agent.totp_secret, agent.totp_pending_secret = agent.totp_pending_secret, None
            agent.totp_last_step, agent.totp_enabled_at = step, now
            codes = _new_recovery_codes(session, agent.id, now)
            session.add(AuditEntry(agent_id=agent.id, action=SECOND_FACTOR_SET_UP,
                                   target=agent.username, detail="{}", created_at=now,
                                   client=client))
        return codes

    def reset(self, username: str) -> bool:
        """Remove the agent's second factor and recovery codes and end their sessions (a lost
        phone); False when there is no such agent."""
        now = self._now()
        with self._sessions() as session, session.begin():
            agent = session.execute(
                select(Agent).where(Agent.username == username).with_for_update()
            ).scalar_one_or_none()
            if agent is None:
                return False
            agent.totp_secret = agent.totp_pending_secret = None
            agent.totp_last_step = agent.totp_enabled_at = None
            session.execute(delete(AgentRecoveryCode)
                            .where(AgentRecoveryCode.agent_id == agent.id)
                            .execution_options(synchronize_session=False))
            session.execute(
                update(AgentSession)
                .where(AgentSession.agent_id == agent.id, AgentSession.revoked_at.is_(None))
                .values(revoked_at=now)
                .execution_options(synchronize_session=False)
            )
            session.add(AuditEntry(agent_id=agent.id, action=SECOND_FACTOR_RESET,
                                   target=username, detail="{}", created_at=now))
        return True
