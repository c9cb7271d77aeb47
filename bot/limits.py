"""Limits that hold when requests race: count-then-act under a lock on what is counted.

A limit ("5 attempts per identity per hour") is a read (how many so far?) followed by a write
(record this one). Two transactions that read at the same time both see 4 and both go on, so
every limit check runs after `serialise` has locked the keys it counts under:

* PostgreSQL: a transaction-scoped advisory lock per key (`pg_advisory_xact_lock(hashtext(key))`,
  released at commit or rollback). Keys are taken in sorted order, so two transactions wanting
  the same keys cannot deadlock; a hash collision only makes two unrelated keys wait for each
  other.
* SQLite: the transaction starts with `BEGIN IMMEDIATE`, which takes the database's write lock
  at once: writers run one after another anyway, and now so do their reads.

Keys name what is counted, never who: callers pass hashes or ids ("recovery:identity:<hmac>").
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime, timedelta

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from bot.models import OutboxMail

MAIL_WINDOW = timedelta(hours=1)


def serialise(session: Session, *keys: str) -> None:
    """Lock `keys` until `session`'s transaction ends (call it before counting).

    May be called again in the same transaction for keys known only later (an account found
    by the lookup); take such keys last, one call each, so lock order stays acyclic.
    """
    connection = session.connection()
    dialect = connection.dialect.name
    if dialect == "postgresql":
        for key in sorted(keys):  # a key twice is locked twice: harmless, same statements
            connection.execute(text("SELECT pg_advisory_xact_lock(hashtext(:key))"),
                               {"key": key})
    elif dialect == "sqlite":
        driver = connection.connection.driver_connection
        if not driver.in_transaction:  # else this transaction already holds the write lock
            connection.exec_driver_sql("BEGIN IMMEDIATE")


def keyed(secret_key: bytes, kind: str, value: str) -> str:
    """HMAC-SHA256 hex of "kind|value": a countable stand-in for an e-mail address or a user
    name that the database never holds in clear."""
    message = f"{kind}|{value}".encode()
    return hmac.new(secret_key, message, hashlib.sha256).hexdigest()


def plain_key(kind: str, value: str) -> str:
    """SHA-256 hex of "kind|value", for keys that need no secret (ticket references)."""
    return hashlib.sha256(f"{kind}|{value}".encode()).hexdigest()


def mails_in_last_hour(session: Session, now: datetime) -> int:
    """How many mails were queued in the hour before `now` (for the global mail ceiling)."""
    return session.execute(
        select(func.count(OutboxMail.id)).where(OutboxMail.created_at > now - MAIL_WINDOW)
    ).scalar_one()
