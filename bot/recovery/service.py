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
  addresses: an identity is recorded as an HMAC of its normalised name and date of birth, the
  e-mail address and user name given as HMACs too;
* limits hold under concurrency (`bot.limits.serialise` locks what is counted) and are keyed
  on what is attacked: per conversation, per identity, per e-mail address and per user name
  given (a visible "rate_limited", since they depend only on what was typed), per matched
  account (silent: nothing is sent, the reply stays the same, so it reveals no account), and
  global ceilings per hour on attempts and on queued mail;
* a full match on an account that is not active is recorded as "deactivated" and the address
  on file is told how to get it reactivated; a record agreeing on everything but the date of
  birth is recorded as "birth_date_differs", for agents.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import unicodedata
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from bot.dates import clock, long_date
from bot.knowledge.contacts import help_desk_phrase
from bot.knowledge.entries import load_knowledge
from bot.limits import keyed, mails_in_last_hour, serialise
from bot.mail.outbox import as_utc, enqueue, utc_now
from bot.models import SYSTEMS, Account, RecoveryAttempt, ResetToken
from bot.recovery.passwords import hash_password, password_problems
from bot.tickets.business_hours import HELP_DESK

log = logging.getLogger(__name__)

SENT_IF_MATCHED = "sent_if_matched"
RATE_LIMITED = "rate_limited"
EXACT, PARTIAL, NONE = "exact", "partial", "none"
DEACTIVATED, BIRTH_DATE_DIFFERS = "deactivated", "birth_date_differs"
ACCOUNT_LIMITED = "account_limited"  # the matched account had its attempts: nothing sent
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
    per_target_per_hour: int = 5  # per e-mail address, per user name given, per account
    attempts_per_hour: int = 1000  # every attempt together (RECOVERY_ATTEMPTS_PER_HOUR)
    mails_per_hour: int = 1000  # every queued mail together (MAIL_PER_HOUR)
    token_lifetime: timedelta = timedelta(minutes=30)


# Apostrophes and hyphens as phones and word processors type them ("O’Neil", "Smith‐Jones").
_LOOKALIKES = {
    **dict.fromkeys(map(ord, "\u2018\u2019\u201b\u02bc\u02b9\u2032\u00b4\u0060"), "'"),
    **dict.fromkeys(map(ord, "\u2010\u2011\u2012\u2013\u2212"), "-"),
}


def fold(text: str) -> str:
    """Text for case-insensitive comparison: NFKC, curly apostrophes and typographic hyphens
    made plain, whitespace trimmed and collapsed, casefolded."""
    plain = unicodedata.normalize("NFKC", text).translate(_LOOKALIKES)
    return " ".join(plain.split()).casefold()


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


def target_keys(secret_key: bytes, system: str, identity: Identity) -> tuple[str | None,
                                                                            str | None]:
    """HMACs of the e-mail address and of the user name given (None when not given)."""
    email = _given(identity.email)
    user_name = _given(identity.user_name)
    return (
        keyed(secret_key, "email", fold(email)) if email is not None else None,
        keyed(secret_key, f"user_name:{system}", user_name) if user_name is not None else None,
    )


@dataclass(frozen=True)
class _Match:
    outcome: str  # exact, deactivated, birth_date_differs, partial or none
    account: Account | None  # the one matched, or the lowest-id related one for the help desk


def _classify(
    candidates: Sequence[Account], identity: Identity, *, by_user_name: bool, by_email: bool
) -> _Match:
    """Sort out the candidates (same system; same birth date or same identifier) without
    stopping early.

    Exact: exactly one active account matches the names, the birth date and every identifier
    used (user name and/or e-mail; at least one must be given). Deactivated: no such active
    account, and exactly one that is not active. Birth date differs: none of those, and one
    account matches everything but the birth date. Partial: an account with that birth date
    matches the names but not the identifiers, or an identifier but not the names, or several
    match fully. Otherwise none.
    """
    first, last = fold(identity.first_name), fold(identity.last_name)
    user_name = _given(identity.user_name) if by_user_name else None
    email = _given(identity.email) if by_email else None
    email = fold(email) if email is not None else None
    exact: list[Account] = []
    inactive: list[Account] = []
    born_otherwise: list[Account] = []
    related: list[Account] = []
    for account in candidates:
        names = fold(account.first_name) == first and fold(account.last_name) == last
        checks = []
        if user_name is not None:
            checks.append(account.user_name == user_name)
        if email is not None:
            checks.append(fold(account.email) == email)
        full = names and bool(checks) and all(checks)
        if account.birth_date != identity.birth_date:
            if full:
                born_otherwise.append(account)
            continue
        if full and account.status == ACTIVE:
            exact.append(account)
        elif full:
            inactive.append(account)
        if full or names or any(checks):
            related.append(account)
    if len(exact) == 1:
        return _Match(EXACT, exact[0])
    if not exact and len(inactive) == 1:
        return _Match(DEACTIVATED, inactive[0])
    if not exact and not inactive and born_otherwise:
        return _Match(BIRTH_DATE_DIFFERS, min(born_otherwise, key=lambda account: account.id))
    if related:
        return _Match(PARTIAL, min(related, key=lambda account: account.id))
    return _Match(NONE, None)


@dataclass(frozen=True)
class _Keys:
    """What an attempt is counted under: HMACs of the identity and of the targets given."""

    identity: str
    email: str | None
    user_name: str | None

    def __iter__(self) -> Iterator[str | None]:
        return iter((self.identity, self.email, self.user_name))


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
        identity = Identity(identity.first_name, identity.last_name, identity.birth_date,
                            email=identity.email)  # the user name plays no part here
        keys = self._keys(system, identity)
        now = self._now()
        with self._sessions() as session, session.begin():
            if self._rate_limited(session, conversation_id, keys, now):
                self._record(session, USERNAME, system, RATE_LIMITED, conversation_id, keys, None,
                             now)
                return RATE_LIMITED
            match = self._match(session, system, identity, keys, now, by_user_name=False)
            subject, body = self._username_mail(system, match.account)
            if match.outcome == EXACT and match.account is not None:
                enqueue(session, kind="username_reminder", to_address=match.account.email,
                        subject=subject, body=body, now=now)
            self._tell_if_deactivated(session, match, system, now)
            self._record(session, USERNAME, system, match.outcome, conversation_id, keys,
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
        keys = self._keys(system, identity)
        now = self._now()
        with self._sessions() as session, session.begin():
            if self._rate_limited(session, conversation_id, keys, now):
                self._record(session, PASSWORD, system, RATE_LIMITED, conversation_id, keys, None,
                             now)
                return RATE_LIMITED
            match = self._match(session, system, identity, keys, now, by_user_name=True)
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
            self._tell_if_deactivated(session, match, system, now)
            self._record(session, PASSWORD, system, match.outcome, conversation_id, keys,
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

    def _keys(self, system: str, identity: Identity) -> _Keys:
        email_key, user_name_key = target_keys(self._secret_key, system, identity)
        return _Keys(identity_key(self._secret_key, identity), email_key, user_name_key)

    def _rate_limited(
        self, session: Session, conversation_id: str, keys: _Keys, now: datetime
    ) -> bool:
        """Whether this conversation, this identity, the e-mail address or the user name given
        used up its attempts, or every attempt together (or every mail) hit its ceiling.

        Locks what it counts first, so racing attempts are counted one after another (the
        global ceilings are not locked: they may be passed by the requests in flight).
        """
        # A target not given is stood in for by the identity: the same statements every time.
        serialise(session, f"recovery:conversation:{conversation_id}",
                  *(f"recovery:{key or keys.identity}" for key in keys))
        counted = RecoveryAttempt.outcome != RATE_LIMITED
        since = now - IDENTITY_WINDOW

        def attempts(*where: Any) -> int:
            return session.execute(
                select(func.count(RecoveryAttempt.id)).where(counted, *where)
            ).scalar_one()

        limits = self.limits
        if attempts(RecoveryAttempt.conversation_id == conversation_id) >= (
                limits.per_conversation):
            return True
        if attempts(RecoveryAttempt.identity_key == keys.identity,
                    RecoveryAttempt.created_at > since) >= limits.per_identity_per_hour:
            return True
        for column, key in ((RecoveryAttempt.email_key, keys.email),
                            (RecoveryAttempt.user_name_key, keys.user_name)):
            # Counted even when not given (no row has key ""): the same queries every time.
            if attempts(column == (key or ""), RecoveryAttempt.created_at > since) >= (
                    limits.per_target_per_hour):
                return True
        if attempts(RecoveryAttempt.created_at > since) >= limits.attempts_per_hour:
            log.warning("recovery: the hourly ceiling of %d attempts is reached",
                        limits.attempts_per_hour)
            return True
        if mails_in_last_hour(session, now) >= limits.mails_per_hour:
            log.warning("recovery: the hourly ceiling of %d mails is reached",
                        limits.mails_per_hour)
            return True
        return False

    def _match(
        self, session: Session, system: str, identity: Identity, keys: _Keys, now: datetime,
        *, by_user_name: bool,
    ) -> _Match:
        """The lookup, then the per-account limit: an account matched too often in the hour
        gets nothing more (ACCOUNT_LIMITED), silently. The same queries whatever matched."""
        match = _classify(self._candidates(session, system, identity), identity,
                          by_user_name=by_user_name, by_email=True)
        account_id = match.account.id if match.account is not None else 0
        # Locked last, one key: lock order stays acyclic. No match: the identity, locked already.
        serialise(session, f"recovery:account:{account_id}" if account_id
                  else f"recovery:{keys.identity}")
        matched_before = session.execute(
            select(func.count(RecoveryAttempt.id)).where(
                RecoveryAttempt.account_id == account_id,
                RecoveryAttempt.outcome != RATE_LIMITED,
                RecoveryAttempt.created_at > now - IDENTITY_WINDOW,
            )
        ).scalar_one()
        if match.account is not None and matched_before >= self.limits.per_target_per_hour:
            return _Match(ACCOUNT_LIMITED, match.account)
        return match

    def _tell_if_deactivated(
        self, session: Session, match: _Match, system: str, now: datetime
    ) -> None:
        """A full match on an account that is not active: tell the address on file how to get
        it reactivated (the chat reply is the same as for everyone)."""
        if match.outcome == DEACTIVATED and match.account is not None:
            subject, body = self._reactivation_mail(system)
            enqueue(session, kind="reactivation_advice", to_address=match.account.email,
                    subject=subject, body=body, now=now)

    @staticmethod
    def _candidates(session: Session, system: str, identity: Identity) -> list[Account]:
        """Every account of the system with that birth date, or with the e-mail address or
        user name given (all statuses): one query, always."""
        email = _given(identity.email)
        user_name = _given(identity.user_name)
        return list(session.execute(
            select(Account)
            .where(Account.system == system, or_(
                Account.birth_date == identity.birth_date,
                func.lower(Account.email) == (email or "").lower(),
                Account.user_name == (user_name or ""),
            ))
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
        session: Session, kind: str, system: str, outcome: str, conversation_id: str,
        keys: _Keys, account: Account | None, now: datetime,
    ) -> None:
        """Add the audit record (no PII) and log the outcome."""
        session.add(RecoveryAttempt(
            kind=kind, system=system, outcome=outcome, conversation_id=conversation_id,
            identity_key=keys.identity, email_key=keys.email, user_name_key=keys.user_name,
            account_id=account.id if account is not None else None, created_at=now,
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

    def _reactivation_mail(self, system: str) -> tuple[str, str]:
        name = self._system_name(system)
        body = (
            f"Hello,\n\n"
            f"Someone asked the help desk assistant for the user name or a new password of your "
            f"{name} account. Your account is not active, so nothing was sent.\n\n"
            f"To have it reactivated, ask the assistant on the help page to reactivate your "
            f"account, or contact {help_desk_phrase(system)}.\n\n"
            f"If you did not ask for this, you can ignore this e-mail: nothing about your "
            f"account was changed.\n"
        )
        return f"Your {name} account is not active", body

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
