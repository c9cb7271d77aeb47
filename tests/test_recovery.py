"""User-name reminders and password resets in `bot.recovery.service`, on SQLite and PostgreSQL.

Every test runs against a real, migrated database (no mocks); time is an injected clock.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from conftest import Clock
from sqlalchemy import event, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from bot.db import make_engine, session_factory
from bot.models import Account, OutboxMail, RecoveryAttempt, ResetToken
from bot.recovery.accounts_import import import_accounts
from bot.recovery.passwords import verify_password
from bot.recovery.service import (
    INVALID_TOKEN,
    RATE_LIMITED,
    SENT_IF_MATCHED,
    Identity,
    RecoveryLimits,
    RecoveryService,
    identity_key,
)

BASE_URL = "https://help.example.org"
SECRET = b"test-secret-key-not-for-production"
START = dt.datetime(2031, 5, 6, 9, 0, tzinfo=dt.timezone.utc)
GOOD_PASSWORD = "correct horse battery staple"
GENEROUS = RecoveryLimits(per_conversation=100, per_identity_per_hour=100)

ACCOUNTS = """\
system,user_name,first_name,last_name,birth_date,email,district,school,status
ese_portal,JDoe42,Jane,Doe,1985-03-14,Jane.Doe@Example.org,Worcester,,active
massone,mjones7,Mary,Jones,1979-07-02,mary.jones@example.net,Boston,,active
ese_portal,bsmith,Robert,Smith,1970-01-01,bob.smith@example.com,Lowell,,deactivated
massone,jdoe.m1,Jane,Doe,1985-03-14,jane.doe@example.org,Worcester,,active
"""
JANE = Identity("Jane", "Doe", dt.date(1985, 3, 14), email="jane.doe@example.org")
JANE_ESE = Identity("Jane", "Doe", dt.date(1985, 3, 14), email="jane.doe@example.org",
                    user_name="JDoe42")
MARY = Identity("Mary", "Jones", dt.date(1979, 7, 2), email="mary.jones@example.net")
ROBERT = Identity("Robert", "Smith", dt.date(1970, 1, 1), email="bob.smith@example.com")
NOBODY = Identity("Nora", "Nobody", dt.date(1990, 2, 3), email="nora@example.com")
PII = ("jane", "doe", "mary", "jones", "robert", "smith", "nora", "nobody", "example.",
       "1985-03-14", "1979-07-02", "1970-01-01", "1990-02-03", "jdoe42", "mjones7", "bsmith")
LINK = re.compile(re.escape(BASE_URL) + r"/reset/([A-Za-z0-9_-]+)")



@dataclass
class Env:
    engine: Engine
    sessions: sessionmaker
    clock: Clock

    def service(self, limits: RecoveryLimits = GENEROUS) -> RecoveryService:
        # A trailing slash on the configured URL must not give "//reset".
        return RecoveryService(self.sessions, BASE_URL + "/", SECRET, limits, self.clock)

    def session(self) -> Session:
        return self.sessions()

    def mails(self, kind: str | None = None) -> list[OutboxMail]:
        with self.session() as session:
            query = select(OutboxMail).order_by(OutboxMail.id)
            if kind is not None:
                query = query.where(OutboxMail.kind == kind)
            return list(session.execute(query).scalars())

    def attempts(self) -> list[RecoveryAttempt]:
        with self.session() as session:
            query = select(RecoveryAttempt).order_by(RecoveryAttempt.id)
            return list(session.execute(query).scalars())

    def tokens(self) -> list[ResetToken]:
        with self.session() as session:
            return list(session.execute(select(ResetToken).order_by(ResetToken.id)).scalars())

    def account(self, system: str, user_name: str) -> Account:
        with self.session() as session:
            return session.execute(
                select(Account).where(Account.system == system, Account.user_name == user_name)
            ).scalar_one()


@pytest.fixture
def env(database_url: str) -> Iterator[Env]:
    engine = make_engine(database_url)
    sessions = session_factory(engine)
    with sessions() as session:
        import_accounts(session, ACCOUNTS)
    yield Env(engine, sessions, Clock(START))
    engine.dispose()


def reset_link_token(env: Env) -> str:
    """The token of the newest reset link in the outbox."""
    mail = env.mails("password_reset")[-1]
    match = LINK.search(mail.body)
    assert match, mail.body
    return match.group(1)


def request_jane_reset(env: Env, service: RecoveryService, conversation: str = "c1") -> str:
    assert service.request_password_reset(conversation, "ese_portal", JANE_ESE) == SENT_IF_MATCHED
    return reset_link_token(env)


# --- user-name retrieval --------------------------------------------------------------------


def test_exact_match_mails_the_user_name_to_the_address_on_file(env: Env) -> None:
    service = env.service()
    shouted = Identity("  JANE ", "doe", dt.date(1985, 3, 14), email=" JANE.DOE@example.ORG ")
    assert service.retrieve_user_name("c1", shouted) == SENT_IF_MATCHED
    [mail] = env.mails()
    assert mail.kind == "username_reminder"
    assert mail.to_address == env.account("ese_portal", "JDoe42").email
    assert "JDoe42" in mail.body
    assert "ESE Security Portal" in mail.body and "MassONE" not in mail.body
    assert "loginhelp@doe.mass.edu" in mail.body
    [attempt] = env.attempts()
    assert (attempt.kind, attempt.system, attempt.outcome) == ("username", "ese_portal", "exact")
    assert attempt.conversation_id == "c1"
    assert attempt.account_id == env.account("ese_portal", "JDoe42").id


def test_partial_and_no_match_send_nothing_and_answer_the_same(env: Env) -> None:
    service = env.service()
    other_email = Identity("Jane", "Doe", dt.date(1985, 3, 14), email="jd@example.com")
    other_name = Identity("Janet", "Doer", dt.date(1985, 3, 14), email="jane.doe@example.org")
    replies = {
        service.retrieve_user_name("c1", other_email),
        service.retrieve_user_name("c2", other_name),
        service.retrieve_user_name("c3", NOBODY),
        service.retrieve_user_name("c4", JANE),
    }
    assert replies == {SENT_IF_MATCHED}
    assert len(env.mails()) == 1  # only the exact one
    jane_id = env.account("ese_portal", "JDoe42").id
    outcomes = [(a.outcome, a.account_id) for a in env.attempts()]
    assert outcomes == [("partial", jane_id), ("partial", jane_id), ("none", None),
                        ("exact", jane_id)]


def test_massone_or_deactivated_account_is_not_an_exact_match(env: Env) -> None:
    service = env.service()
    assert service.retrieve_user_name("c1", MARY) == SENT_IF_MATCHED
    assert service.retrieve_user_name("c2", ROBERT) == SENT_IF_MATCHED
    mary, robert = env.attempts()
    assert (mary.outcome, mary.account_id) == ("none", None)
    robert_id = env.account("ese_portal", "bsmith").id
    assert (robert.outcome, robert.account_id) == ("deactivated", robert_id)
    # The address on file learns how to get the account back; no user name, no link.
    [mail] = env.mails()
    assert (mail.kind, mail.to_address) == ("reactivation_advice", "bob.smith@example.com")
    assert "not active" in mail.body and "reactivate" in mail.body
    assert "bsmith" not in mail.body and "/reset/" not in mail.body


def test_missing_email_is_never_exact(env: Env) -> None:
    service = env.service()
    no_email = Identity("Jane", "Doe", dt.date(1985, 3, 14))
    assert service.retrieve_user_name("c1", no_email) == SENT_IF_MATCHED
    assert env.mails() == []
    assert env.attempts()[0].outcome == "partial"


def test_audit_holds_no_pii(env: Env) -> None:
    service = env.service()
    for number, identity in enumerate((JANE, MARY, ROBERT, NOBODY)):
        service.retrieve_user_name(f"u{number}", identity)
    service.request_password_reset("p1", "ese_portal", JANE_ESE)
    service.request_password_reset("p2", "massone", MARY)
    attempts = env.attempts()
    assert len(attempts) == 6
    for attempt in attempts:
        values = " ".join(
            str(getattr(attempt, column.key)) for column in RecoveryAttempt.__table__.columns
        ).lower()
        for secret in PII:
            assert secret not in values, secret
        assert re.fullmatch(r"[0-9a-f]{64}", attempt.identity_key)


def test_identity_key_ignores_case_and_spacing(env: Env) -> None:
    service = env.service()
    service.retrieve_user_name("c1", JANE)
    service.retrieve_user_name("c2", Identity(" JANE", "DOE  ", dt.date(1985, 3, 14), "x@y.org"))
    service.retrieve_user_name("c3", Identity("Jane", "Doe", dt.date(1985, 3, 15), "x@y.org"))
    first, second, third = (a.identity_key for a in env.attempts())
    assert first == second == identity_key(SECRET, JANE)
    assert third != first
    assert identity_key(b"another key", JANE) != first


def test_every_outcome_runs_the_same_queries(env: Env) -> None:
    """Matching costs the same whatever the outcome: the same SELECTs, in the same order."""
    service = env.service()
    statements: list[str] = []

    def collect(_conn, _cursor, statement, _params, _context, _many) -> None:
        statements.append(statement)

    def reads(action) -> list[str]:
        statements.clear()
        event.listen(env.engine, "before_cursor_execute", collect)
        try:
            action()
        finally:
            event.remove(env.engine, "before_cursor_execute", collect)
        return [s for s in statements if s.lstrip().upper().startswith(("SELECT", "UPDATE"))]

    wrong_email = Identity("Jane", "Doe", dt.date(1985, 3, 14), email="jd@example.com")
    exact = reads(lambda: service.retrieve_user_name("a1", JANE))
    assert exact == reads(lambda: service.retrieve_user_name("a2", wrong_email))
    assert exact == reads(lambda: service.retrieve_user_name("a3", NOBODY))
    sent = reads(lambda: service.request_password_reset("b1", "ese_portal", JANE_ESE))
    wrong_user = Identity("Jane", "Doe", dt.date(1985, 3, 14), user_name="jdoe42")
    assert sent == reads(lambda: service.request_password_reset("b2", "ese_portal", wrong_user))
    assert sent == reads(lambda: service.request_password_reset("b3", "ese_portal", NOBODY))


# --- password reset requests ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("system", "identity", "sent"),
    [
        ("ese_portal", JANE_ESE, True),
        ("ese_portal", Identity("jane", "DOE", dt.date(1985, 3, 14), user_name="JDoe42"), True),
        ("ese_portal", Identity("Jane", "Doe", dt.date(1985, 3, 14), email="JANE.doe@example.org"),
         True),
        ("massone", Identity("Mary", "Jones", dt.date(1979, 7, 2), user_name="mjones7"), True),
        # every given field must match
        ("ese_portal", Identity("Jane", "Doe", dt.date(1985, 3, 14), user_name="jdoe42"), False),
        ("ese_portal", Identity("Jane", "Doe", dt.date(1985, 3, 14), email="jd@example.com",
                                user_name="JDoe42"), False),
        ("ese_portal", Identity("Janet", "Doe", dt.date(1985, 3, 14), user_name="JDoe42"), False),
        ("ese_portal", Identity("Jane", "Doe", dt.date(1985, 3, 15), user_name="JDoe42"), False),
        ("massone", Identity("Jane", "Doe", dt.date(1985, 3, 14), user_name="JDoe42"), False),
        ("ese_portal", Identity("Robert", "Smith", dt.date(1970, 1, 1), user_name="bsmith"),
         False),
        ("ese_portal", NOBODY, False),
    ],
)
def test_reset_request_needs_every_given_field_to_match(
    env: Env, system: str, identity: Identity, sent: bool
) -> None:
    service = env.service()
    assert service.request_password_reset("c1", system, identity) == SENT_IF_MATCHED
    assert len(env.mails("password_reset")) == int(sent)
    assert len(env.tokens()) == int(sent)
    [attempt] = env.attempts()
    assert attempt.kind == "password" and attempt.system == system
    assert (attempt.outcome == "exact") == sent


def test_reset_request_needs_a_user_name_or_email(env: Env) -> None:
    service = env.service()
    with pytest.raises(ValueError):
        service.request_password_reset("c1", "ese_portal", Identity("Jane", "Doe", JANE.birth_date))
    with pytest.raises(ValueError):
        service.request_password_reset("c1", "elsewhere", JANE_ESE)


def test_reset_mail_has_the_link_and_the_token_is_stored_only_hashed(env: Env) -> None:
    service = env.service()
    token = request_jane_reset(env, service)
    [mail] = env.mails()
    assert mail.kind == "password_reset"
    assert mail.to_address == env.account("ese_portal", "JDoe42").email
    assert f"{BASE_URL}/reset/{token}" in mail.body
    assert "//reset" not in mail.body.replace("https://", "")
    assert "30 minutes" in mail.body
    assert "did not ask" in mail.body
    assert "ESE Security Portal" in mail.body
    assert "jdoe42" not in mail.body.lower() and "jdoe42" not in mail.subject.lower()
    assert len(token) >= 43  # 32 random bytes
    [stored] = env.tokens()
    assert stored.token_hash == hashlib.sha256(token.encode()).hexdigest()
    for column in ResetToken.__table__.columns:
        assert token not in str(getattr(stored, column.key))
    assert stored.account_id == env.account("ese_portal", "JDoe42").id
    expires = stored.expires_at.replace(tzinfo=dt.timezone.utc)
    assert expires == START + dt.timedelta(minutes=30)
    assert service.check_token(token)


def test_massone_reset_mail_names_massone(env: Env) -> None:
    service = env.service()
    service.request_password_reset("c1", "massone", MARY)
    [mail] = env.mails()
    assert "MassONE" in mail.body and "ESE Security Portal" not in mail.body
    assert "massonehelp@doe.mass.edu" in mail.body


# --- using the link -------------------------------------------------------------------------


def test_reset_changes_the_password_and_sends_a_notice(env: Env) -> None:
    service = env.service()
    token = request_jane_reset(env, service)
    assert service.check_token(token)
    assert service.reset_password(token, GOOD_PASSWORD) == []
    jane = env.account("ese_portal", "JDoe42")
    assert jane.password_hash and verify_password(jane.password_hash, GOOD_PASSWORD)
    [notice] = env.mails("password_changed")
    assert notice.to_address == jane.email
    assert GOOD_PASSWORD not in notice.body
    assert "jdoe42" not in notice.body.lower()
    assert "not you" in notice.body and "loginhelp@doe.mass.edu" in notice.body
    [stored] = env.tokens()
    assert stored.used_at is not None and stored.revoked_at is None


def test_a_link_works_only_once(env: Env) -> None:
    service = env.service()
    token = request_jane_reset(env, service)
    assert service.reset_password(token, GOOD_PASSWORD) == []
    assert not service.check_token(token)
    assert service.reset_password(token, "another fine passphrase") == [INVALID_TOKEN]
    jane = env.account("ese_portal", "JDoe42")
    assert verify_password(jane.password_hash, GOOD_PASSWORD)
    assert len(env.mails("password_changed")) == 1


def test_unknown_links_get_the_same_sentence(env: Env) -> None:
    service = env.service()
    assert not service.check_token("not-a-real-token")
    assert not service.check_token("")
    assert service.reset_password("not-a-real-token", GOOD_PASSWORD) == [INVALID_TOKEN]
    assert service.reset_password("x" * 10_000, GOOD_PASSWORD) == [INVALID_TOKEN]
    assert len(INVALID_TOKEN.split(". ")) <= 2


def test_a_link_expires_after_30_minutes(env: Env) -> None:
    service = env.service()
    token = request_jane_reset(env, service)
    env.clock.advance(minutes=29)
    assert service.check_token(token)
    env.clock.advance(minutes=2)
    assert not service.check_token(token)
    assert service.reset_password(token, GOOD_PASSWORD) == [INVALID_TOKEN]
    assert env.account("ese_portal", "JDoe42").password_hash is None
    assert env.mails("password_changed") == []


def test_a_newer_link_voids_the_older_one(env: Env) -> None:
    service = env.service()
    older = request_jane_reset(env, service, "c1")
    env.clock.advance(minutes=1)
    newer = request_jane_reset(env, service, "c2")
    assert older != newer
    assert not service.check_token(older)
    assert service.check_token(newer)
    assert service.reset_password(older, GOOD_PASSWORD) == [INVALID_TOKEN]
    first, second = env.tokens()
    assert first.revoked_at is not None and second.revoked_at is None
    assert service.reset_password(newer, GOOD_PASSWORD) == []


def test_a_weak_password_is_refused_and_the_link_stays_usable(env: Env) -> None:
    service = env.service()
    token = request_jane_reset(env, service)
    problems = service.reset_password(token, "password123")
    assert problems and any("common" in problem for problem in problems)
    assert service.reset_password(token, "xJDoe42-and-more") == [
        "Your password cannot contain your user name."
    ]
    assert env.account("ese_portal", "JDoe42").password_hash is None
    assert env.mails("password_changed") == []
    assert service.check_token(token)
    assert service.reset_password(token, GOOD_PASSWORD) == []


def test_deactivating_the_account_voids_its_link(env: Env) -> None:
    service = env.service()
    token = request_jane_reset(env, service)
    with env.session() as session:
        deactivated = ACCOUNTS.replace("Worcester,,active", "Worcester,,deactivated", 1)
        import_accounts(session, deactivated)
    assert not service.check_token(token)
    assert service.reset_password(token, GOOD_PASSWORD) == [INVALID_TOKEN]


def test_two_concurrent_uses_cannot_both_succeed(env: Env) -> None:
    service = env.service()
    token = request_jane_reset(env, service)
    barrier = threading.Barrier(2)
    results: list[list[str]] = []

    def use(password: str) -> None:
        barrier.wait()
        results.append(service.reset_password(token, password))

    threads = [threading.Thread(target=use, args=(password,))
               for password in (GOOD_PASSWORD, "another fine passphrase")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results, key=len) == [[], [INVALID_TOKEN]]
    assert len(env.mails("password_changed")) == 1


# --- rate limits ----------------------------------------------------------------------------


def test_default_limits() -> None:
    limits = RecoveryLimits()
    assert (limits.per_conversation, limits.per_identity_per_hour) == (3, 5)
    assert limits.token_lifetime == dt.timedelta(minutes=30)


def test_fourth_attempt_in_a_conversation_is_rate_limited(env: Env) -> None:
    service = env.service(RecoveryLimits())
    assert service.retrieve_user_name("c1", NOBODY) == SENT_IF_MATCHED
    assert service.retrieve_user_name("c1", MARY) == SENT_IF_MATCHED
    assert service.request_password_reset("c1", "massone", NOBODY) == SENT_IF_MATCHED
    # the 4th, of either kind, is refused even for an exact match: nothing matched or sent
    assert service.retrieve_user_name("c1", JANE) == RATE_LIMITED
    assert service.request_password_reset("c1", "ese_portal", JANE_ESE) == RATE_LIMITED
    assert env.mails() == [] and env.tokens() == []
    outcomes = [(a.kind, a.outcome, a.account_id) for a in env.attempts()]
    assert outcomes[3:] == [("username", "rate_limited", None), ("password", "rate_limited", None)]
    # another conversation is not affected
    assert service.retrieve_user_name("c2", JANE) == SENT_IF_MATCHED
    assert len(env.mails("username_reminder")) == 1


def test_sixth_attempt_for_an_identity_within_an_hour_is_rate_limited(env: Env) -> None:
    service = env.service(RecoveryLimits())
    for number in range(5):
        assert service.retrieve_user_name(f"c{number}", NOBODY) == SENT_IF_MATCHED
        env.clock.advance(minutes=5)
    # 6th for this identity, in a fresh conversation (spelled differently, same identity)
    shouted = Identity("NORA ", "nobody", NOBODY.birth_date, email="other@example.com")
    assert service.retrieve_user_name("fresh", shouted) == RATE_LIMITED
    assert service.request_password_reset("fresh2", "massone", shouted) == RATE_LIMITED
    # other identities are not affected
    assert service.retrieve_user_name("c-jane", JANE) == SENT_IF_MATCHED
    # an hour after the first attempt it is counted no more: one attempt is allowed again
    env.clock.now = START + dt.timedelta(hours=1, seconds=1)
    assert service.retrieve_user_name("later", NOBODY) == SENT_IF_MATCHED
    assert service.retrieve_user_name("later2", NOBODY) == RATE_LIMITED
    env.clock.now = START + dt.timedelta(hours=3)
    assert service.retrieve_user_name("much-later", NOBODY) == SENT_IF_MATCHED
    outcomes = [a.outcome for a in env.attempts()]
    assert outcomes.count("rate_limited") == 3


# --- limits keyed on the target (issue 11, item 3) --------------------------------------------


def test_date_of_birth_guesses_for_one_address_are_limited(env: Env) -> None:
    """Each guessed date of birth is a new identity; the e-mail address given is the same."""
    service = env.service(RecoveryLimits())
    replies = [
        service.retrieve_user_name(f"guess{day}", Identity("Jane", "Doe", dt.date(1985, 3, day),
                                                           email="jane.doe@example.org"))
        for day in range(1, 11)
    ]
    assert replies == [SENT_IF_MATCHED] * 5 + [RATE_LIMITED] * 5
    # the real date was never tried within the limit: nothing went out
    assert env.mails() == []


def test_user_name_guesses_are_limited_per_user_name(env: Env) -> None:
    service = env.service(RecoveryLimits())
    replies = [
        service.request_password_reset(f"g{n}", "ese_portal",
                                       Identity(f"Name{'x' * n}", "Doe", dt.date(1980, 1, n + 1),
                                                user_name="JDoe42"))
        for n in range(7)
    ]
    assert replies == [SENT_IF_MATCHED] * 5 + [RATE_LIMITED] * 2
    # another system's "JDoe42" is another target
    other = Identity("Jane", "Doe", dt.date(1985, 3, 14), user_name="JDoe42")
    assert service.request_password_reset("g-m", "massone", other) == SENT_IF_MATCHED


def test_an_account_matched_too_often_gets_nothing_more_and_the_reply_is_the_same(
    env: Env,
) -> None:
    """Guesses spread over the user name and the e-mail address stay under each one's limit;
    the account they reach still counts, silently (a visible refusal would tell that the
    account exists)."""
    service = env.service()
    replies = [
        service.request_password_reset(f"u{day}", "ese_portal", Identity(
            "Jane", "Doe", dt.date(1985, 1, day), user_name="JDoe42"))
        for day in (1, 2, 3)
    ] + [
        service.request_password_reset(f"e{day}", "ese_portal", Identity(
            "Jane", "Doe", dt.date(1985, 2, day), email="jane.doe@example.org"))
        for day in (1, 2)
    ]
    # the sixth, the real one, would be an exact match
    replies.append(service.request_password_reset("real", "ese_portal", JANE_ESE))
    assert replies == [SENT_IF_MATCHED] * 6
    assert env.mails() == [] and env.tokens() == []
    outcomes = [a.outcome for a in env.attempts()]
    assert outcomes == ["birth_date_differs"] * 5 + ["account_limited"]
    # an hour later the account may be reset again
    env.clock.advance(hours=1, seconds=1)
    assert service.request_password_reset("later", "ese_portal", JANE_ESE) == SENT_IF_MATCHED
    assert len(env.mails("password_reset")) == 1


def test_global_ceilings_refuse_everyone(env: Env) -> None:
    service = env.service(RecoveryLimits(attempts_per_hour=3, per_identity_per_hour=100))
    for number in range(3):
        assert service.retrieve_user_name(f"c{number}", NOBODY) == SENT_IF_MATCHED
    assert service.retrieve_user_name("other", JANE) == RATE_LIMITED
    mails = env.service(RecoveryLimits(mails_per_hour=1, per_identity_per_hour=100))
    env.clock.advance(hours=2)
    assert mails.retrieve_user_name("m1", JANE) == SENT_IF_MATCHED
    assert mails.retrieve_user_name("m2", MARY) == RATE_LIMITED
    assert len(env.mails()) == 1


# --- exact flows (items 13 and 14) ----------------------------------------------------------


def test_curly_apostrophes_match_straight_ones(env: Env) -> None:
    with env.session() as session:
        import_accounts(session, ACCOUNTS + "ese_portal,soneil,Sean,O'Neil,1980-05-05,"
                                            "sean@example.org,Boston,,active\n")
    service = env.service()
    curly = Identity("Seán", "O\u2019Neil", dt.date(1980, 5, 5), email="sean@example.org")
    assert service.retrieve_user_name("c1", curly) == SENT_IF_MATCHED
    assert env.attempts()[-1].outcome == "partial"  # Seán is not Sean
    plain = Identity("Sean", "O\u2019neil", dt.date(1980, 5, 5), email="sean@example.org")
    assert service.retrieve_user_name("c2", plain) == SENT_IF_MATCHED
    assert env.attempts()[-1].outcome == "exact"
    assert "soneil" in env.mails("username_reminder")[-1].body


def test_a_record_that_differs_only_in_the_birth_date_is_recorded_for_agents(env: Env) -> None:
    service = env.service()
    wrong_birth = Identity("Jane", "Doe", dt.date(1985, 4, 14), email="jane.doe@example.org")
    assert service.retrieve_user_name("c1", wrong_birth) == SENT_IF_MATCHED
    assert env.mails() == []
    [attempt] = env.attempts()
    assert attempt.outcome == "birth_date_differs"
    assert attempt.account_id == env.account("ese_portal", "JDoe42").id


def test_deactivated_full_match_on_reset_is_told_how_to_reactivate(env: Env) -> None:
    service = env.service()
    robert = Identity("Robert", "Smith", dt.date(1970, 1, 1), user_name="bsmith")
    assert service.request_password_reset("c1", "ese_portal", robert) == SENT_IF_MATCHED
    assert env.tokens() == []
    [mail] = env.mails()
    assert mail.kind == "reactivation_advice" and mail.to_address == "bob.smith@example.com"
    assert env.attempts()[-1].outcome == "deactivated"


@pytest.mark.parametrize("name", ["O\u2019Neil", "O\u2018Neil", "O\u02bcNeil", "O'Neil",
                                  "Smith\u2010Jones"])
def test_names_typed_on_phones_are_names(name: str) -> None:
    from bot.validation import is_name

    assert is_name(name)
    assert not is_name("\u2019Neil") and not is_name("O\u2019Neil 3")
