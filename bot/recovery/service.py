"""Self-service account recovery: user-name reminders and password resets, by e-mail only.

Follows the OWASP Forgot Password cheat sheet and NIST SP 800-63B:

* no user enumeration: callers get the same outcome word whether or not anything matched, and
  the matching work runs the same queries in every case;
* secrets (a user name, a reset link) go only by e-mail, to the address on file, through the
  outbox in the same transaction as the audit record;
* reset tokens carry 256 bits (`secrets.token_urlsafe(32)`), are stored only as SHA-256 hex,
  are single use, expire after 30 minutes and are void once a newer one is issued;
* reset links are built from the configured public base URL, never from a request's Host;
* the audit table (`RecoveryAttempt`) and the logs hold no names, dates of birth or e-mail
  addresses: an identity is recorded as an HMAC of its normalised name and date of birth.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

from bot.dates import clock, long_date
from bot.knowledge.contacts import help_desk_phrase
from bot.knowledge.entries import load_knowledge
from bot.mail.outbox import as_utc, enqueue, utc_now
from bot.models import SYSTEMS, Account, RecoveryAttempt, ResetToken
from bot.recovery.passwords import hash_password, password_problems
from bot.tickets.business_hours import HELP_DESK

log = logging.getLogger(__name__)

SENT_IF_MATCHED = "sent_if_matched"
RATE_LIMITED = "rate_limited"
EXACT, PARTIAL, NONE = "exact", "partial", "none"
USERNAME, PASSWORD = "username", "password"
ACTIVE = "active"
IDENTITY_WINDOW = timedelta(hours=1)
MAX_TOKEN_LENGTH = 128  # token_urlsafe(32) is 43 characters; anything much longer is junk
INVALID_TOKEN = (
    "This link has expired or was already used. Please ask for a new password reset link."
)


@dataclass(frozen=True)
class Identity:
    """What a person tells the bot about themselves.

    Names and e-mail addresses compare case-insensitively with surrounding (and repeated)
    whitespace ignored; user names are case-sensitive, as in both systems.
    """

    first_name: str
    last_name: str
    birth_date: date
    email: str | None = None
    user_name: str | None = None


@dataclass(frozen=True)
class RecoveryLimits:
    """How many attempts are allowed, and how long a reset link lives."""

    per_conversation: int = 3
    per_identity_per_hour: int = 5
    token_lifetime: timedelta = timedelta(minutes=30)


def fold(text: str) -> str:
    """Text for case-insensitive comparison: NFKC, whitespace trimmed and collapsed, casefolded."""
    return " ".join(unicodedata.normalize("NFKC", text).split()).casefold()


def _given(value: str | None) -> str | None:
    """The value trimmed, or None when it is missing or blank."""
    if value is None:
        return None
    value = value.strip()
    return value or None


def hash_token(token: str) -> str:
    """The SHA-256 hex digest under which a reset token is stored."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def identity_key(secret_key: bytes, identity: Identity) -> str:
    """HMAC-SHA256 of the normalised "first|last|YYYY-MM-DD": countable, but not reversible."""
    message = f"{fold(identity.first_name)}|{fold(identity.last_name)}|"
    message += identity.birth_date.isoformat()
    return hmac.new(secret_key, message.encode("utf-8"), hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class _Match:
    outcome: str  # exact, partial or none
    account: Account | None  # the exact match, or the lowest-id partial one for the help desk


def _classify(
    candidates: Sequence[Account], identity: Identity, *, by_user_name: bool, by_email: bool
) -> _Match:
    """Sort out the candidates (same system and birth date) without stopping early.

    Exact: exactly one active account matches the names and every identifier used (user name
    and/or e-mail; at least one must be given). Partial: an account matches the names but not
    the identifiers, or an identifier but not the names, or matches fully but is not active or
    not the only one. Otherwise none.
    """
    first, last = fold(identity.first_name), fold(identity.last_name)
    user_name = _given(identity.user_name) if by_user_name else None
    email = _given(identity.email) if by_email else None
    email = fold(email) if email is not None else None
    exact: list[Account] = []
    related: list[Account] = []
    for account in candidates:
        names = fold(account.first_name) == first and fold(account.last_name) == last
        checks = []
        if user_name is not None:
            checks.append(account.user_name == user_name)
        if email is not None:
            checks.append(fold(account.email) == email)
        full = names and bool(checks) and all(checks)
        if full and account.status == ACTIVE:
            exact.append(account)
        if full or names or any(checks):
            related.append(account)
    if len(exact) == 1:
        return _Match(EXACT, exact[0])
    if related:
        return _Match(PARTIAL, min(related, key=lambda account: account.id))
    return _Match(NONE, None)


class RecoveryService:
    """User-name reminders and password resets against the accounts directory."""

    def __init__(
        self,
        sessions: sessionmaker,
        public_base_url: str,
        secret_key: bytes,
        limits: RecoveryLimits = RecoveryLimits(),
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        if not secret_key:
            raise ValueError("secret_key must not be empty")
        self._sessions = sessions
        self._base_url = public_base_url.rstrip("/")
        self._secret_key = secret_key
        self.limits = limits
        self._clock = clock

    @property
    def sessions(self) -> sessionmaker:
        """The database sessions this service uses (the web app shares them)."""
        return self._sessions

    # ----------------------------------------------------------------- public API
    def retrieve_user_name(self, conversation_id: str, identity: Identity) -> str:
        """E-mail the ESE Security Portal user name to the address on file, if all matches.

        Returns "sent_if_matched" (whatever matched, even nothing) or "rate_limited".
        """
        system = "ese_portal"
        key = identity_key(self._secret_key, identity)
        now = self._now()
        with self._sessions() as session, session.begin():
            if self._rate_limited(session, conversation_id, key, now):
                self._record(session, USERNAME, system, RATE_LIMITED, conversation_id, key, None,
                             now)
                return RATE_LIMITED
            match = _classify(
                self._candidates(session, system, identity), identity,
                by_user_name=False, by_email=True,
            )
            subject, body = self._username_mail(system, match.account)
            if match.outcome == EXACT and match.account is not None:
                enqueue(session, kind="username_reminder", to_address=match.account.email,
                        subject=subject, body=body, now=now)
            self._record(session, USERNAME, system, match.outcome, conversation_id, key,
                         match.account, now)
        return SENT_IF_MATCHED

    def request_password_reset(self, conversation_id: str, system: str, identity: Identity) -> str:
        """E-mail a single-use reset link if names, birth date and every identifier given match.

        `identity` must carry a user name or an e-mail address (or both). Returns
        "sent_if_matched" (whatever matched, even nothing) or "rate_limited".
        """
        if system not in SYSTEMS:
            raise ValueError(f"unknown system {system!r}")
        if _given(identity.user_name) is None and _given(identity.email) is None:
            raise ValueError("a password reset needs a user name or an e-mail address")
        key = identity_key(self._secret_key, identity)
        now = self._now()
        with self._sessions() as session, session.begin():
            if self._rate_limited(session, conversation_id, key, now):
                self._record(session, PASSWORD, system, RATE_LIMITED, conversation_id, key, None,
                             now)
                return RATE_LIMITED
            match = _classify(
                self._candidates(session, system, identity), identity,
                by_user_name=True, by_email=True,
            )
            exact = match.account if match.outcome == EXACT else None
            token = secrets.token_urlsafe(32)
            # Runs whatever matched (id 0 never exists), so every outcome does the same work.
            self._revoke_tokens(session, exact.id if exact is not None else 0, now)
            subject, body = self._reset_mail(system, token)
            if exact is not None:
                session.add(ResetToken(
                    account_id=exact.id, token_hash=hash_token(token), created_at=now,
                    expires_at=now + self.limits.token_lifetime,
                ))
                enqueue(session, kind="password_reset", to_address=exact.email,
                        subject=subject, body=body, now=now)
            self._record(session, PASSWORD, system, match.outcome, conversation_id, key,
                         match.account, now)
        return SENT_IF_MATCHED

    def check_token(self, token: str) -> bool:
        """Whether a reset link's token is usable: known, unused, not revoked, not expired."""
        now = self._now()
        with self._sessions() as session:
            return self._valid_token(session, token, now) is not None

    def reset_password(self, token: str, new_password: str) -> list[str]:
        """Set a new password through a reset link; the reasons it was refused, or [] on success.

        An unusable link gives one sentence, the same whatever the reason. A refused password
        leaves the link usable. On success the password, the token's use, the revocation of the
        account's other tokens and the "password changed" notice are one transaction.
        """
        now = self._now()
        with self._sessions() as session, session.begin():
            found = self._valid_token(session, token, now)
            if found is None:
                log.info("password reset refused: invalid link")
                return [INVALID_TOKEN]
            reset_token, account = found
            problems = password_problems(
                new_password, user_name=account.user_name, email=account.email
            )
            if problems:
                log.info("password reset refused: %d password problem(s)", len(problems))
                return problems
            new_hash = hash_password(new_password)  # slow: before taking any write lock
            used = session.execute(
                update(ResetToken)
                .where(ResetToken.id == reset_token.id, ResetToken.used_at.is_(None),
                       ResetToken.revoked_at.is_(None))
                .values(used_at=now)
                .execution_options(synchronize_session=False)
            )
            if used.rowcount != 1:  # a concurrent request used (or voided) it first
                log.info("password reset refused: link used concurrently")
                return [INVALID_TOKEN]
            session.execute(
                update(Account)
                .where(Account.id == account.id)
                .values(password_hash=new_hash, updated_at=now)
                .execution_options(synchronize_session=False)
            )
            self._revoke_tokens(session, account.id, now)
            subject, body = self._changed_mail(account.system, now)
            enqueue(session, kind="password_changed", to_address=account.email,
                    subject=subject, body=body, now=now)
            log.info("password reset done for account %s", account.id)
        return []

    # ----------------------------------------------------------------- database
    def _now(self) -> datetime:
        return as_utc(self._clock())

    def _rate_limited(
        self, session: Session, conversation_id: str, key: str, now: datetime
    ) -> bool:
        """Whether this conversation or this identity has used up its attempts."""
        counted = RecoveryAttempt.outcome != RATE_LIMITED
        in_conversation = session.execute(
            select(func.count(RecoveryAttempt.id))
            .where(RecoveryAttempt.conversation_id == conversation_id, counted)
        ).scalar_one()
        for_identity = session.execute(
            select(func.count(RecoveryAttempt.id))
            .where(RecoveryAttempt.identity_key == key, counted,
                   RecoveryAttempt.created_at > now - IDENTITY_WINDOW)
        ).scalar_one()
        return (
            in_conversation >= self.limits.per_conversation
            or for_identity >= self.limits.per_identity_per_hour
        )

    @staticmethod
    def _candidates(session: Session, system: str, identity: Identity) -> list[Account]:
        """Every account of the system with that birth date (all statuses): one query, always."""
        return list(session.execute(
            select(Account)
            .where(Account.system == system, Account.birth_date == identity.birth_date)
            .order_by(Account.id)
        ).scalars())

    @staticmethod
    def _revoke_tokens(session: Session, account_id: int, now: datetime) -> None:
        """Void the account's tokens that are neither used nor revoked yet."""
        session.execute(
            update(ResetToken)
            .where(ResetToken.account_id == account_id, ResetToken.used_at.is_(None),
                   ResetToken.revoked_at.is_(None))
            .values(revoked_at=now)
            .execution_options(synchronize_session=False)
        )

    @staticmethod
    def _valid_token(
        session: Session, token: str, now: datetime
    ) -> tuple[ResetToken, Account] | None:
        """The token's row and its (active) account, if the token is usable now."""
        if not token or len(token) > MAX_TOKEN_LENGTH:
            return None
        row = session.execute(
            select(ResetToken, Account)
            .join(Account, Account.id == ResetToken.account_id)
            .where(ResetToken.token_hash == hash_token(token), ResetToken.used_at.is_(None),
                   ResetToken.revoked_at.is_(None), ResetToken.expires_at > now,
                   Account.status == ACTIVE)
        ).first()
        return None if row is None else (row[0], row[1])

    @staticmethod
    def _record(
        session: Session, kind: str, system: str, outcome: str, conversation_id: str, key: str,
        account: Account | None, now: datetime,
    ) -> None:
        """Add the audit record (no PII) and log the outcome."""
        session.add(RecoveryAttempt(
            kind=kind, system=system, outcome=outcome, conversation_id=conversation_id,
            identity_key=key, account_id=account.id if account is not None else None,
            created_at=now,
        ))
        log.info("recovery attempt: kind=%s system=%s outcome=%s", kind, system, outcome)

    # ----------------------------------------------------------------- mail
    @staticmethod
    def _system_name(system: str) -> str:
        return load_knowledge().system_name(system)

    def _username_mail(self, system: str, account: Account | None) -> tuple[str, str]:
        name = self._system_name(system)
        user_name = account.user_name if account is not None else ""
        body = (
            f"Hello,\n\n"
            f"You asked the help desk assistant for your {name} user name.\n\n"
            f"Your user name is: {user_name}\n\n"
            f"User names are case-sensitive: type it exactly as shown.\n\n"
            f"If you did not ask for this, you can ignore this e-mail: nothing about your "
            f"account was changed. Questions? Contact {help_desk_phrase(system)}.\n"
        )
        return f"Your {name} user name", body

    def _reset_mail(self, system: str, token: str) -> tuple[str, str]:
        name = self._system_name(system)
        minutes = int(self.limits.token_lifetime.total_seconds() // 60)
        body = (
            f"Hello,\n\n"
            f"Someone asked to reset the password of your {name} account. To choose a new "
            f"password, open this link:\n\n"
            f"{self._base_url}/reset/{token}\n\n"
            f"The link works once, and only within {minutes} minutes: use it within "
            f"{minutes} minutes to activate a new password. After that, ask for a new link.\n\n"
            f"If you did not ask for this, ignore this e-mail: your password stays the same. "
            f"Questions? Contact {help_desk_phrase(system)}.\n"
        )
        return f"Reset your {name} password", body

    def _changed_mail(self, system: str, now: datetime) -> tuple[str, str]:
        name = self._system_name(system)
        local = HELP_DESK.local(now)
        body = (
            f"Hello,\n\n"
            f"The password of your {name} account was changed on "
            f"{long_date(local)} at {clock(local)} {local.tzname()}.\n\n"
            f"If this was you, there is nothing else to do. If it was not you, contact "
            f"{help_desk_phrase(system)} right away.\n"
        )
        return f"Your {name} password was changed", body
