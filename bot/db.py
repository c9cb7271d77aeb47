"""Database engine, sessions and migrations (SQLAlchemy 1.4 in 2.0 style, Alembic)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from bot.settings import make_private

ROOT = Path(__file__).resolve().parent.parent
log = logging.getLogger(__name__)


def make_engine(url: str) -> Engine:
    """An engine for `url`. A SQLite file is created readable by this user only (0600; the
    journal SQLite writes beside it takes the same mode), and gets foreign keys switched on.
    Errors never carry the statement's parameters (`hide_parameters`): they are names, e-mail
    addresses and user names, and an error's text ends up in logs."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            make_private(Path(parsed.database))
        engine = create_engine(url, future=True, hide_parameters=True)
        event.listen(engine, "connect", _sqlite_foreign_keys)
        return engine
    return create_engine(url, future=True, pool_pre_ping=True, hide_parameters=True)


def _sqlite_foreign_keys(connection: object, _record: object) -> None:
    cursor = connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, future=True, expire_on_commit=False)


def alembic_config(url: str) -> Config:
    config = Config(str(ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(ROOT / "migrations"))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(url: str) -> None:
    """Apply every migration to the database at `url` (creating a SQLite file if needed)."""
    make_engine(url).dispose()
    command.upgrade(alembic_config(url), "head")


_T = TypeVar("_T")
FIRST_PAUSE, LONGEST_PAUSE = 0.1, 1.0  # s; the pauses between retries double up to the longest


def connection_lost(error: BaseException) -> bool:
    """A lost or refused database connection (a restart), not a fault of the statement."""
    return isinstance(error, OperationalError | InterfaceError) or (
        isinstance(error, DBAPIError) and error.connection_invalidated
    )


class _Backoff:
    """The pauses of one retried call: growing, and none left once `seconds` have passed."""

    def __init__(self, seconds: float) -> None:
        self.deadline = time.monotonic() + seconds
        self.pause = FIRST_PAUSE

    def next_pause(self, error: BaseException, what: str) -> float:
        """The pause before the next try; re-raises `error` when it is no lost connection or
        the time is up."""
        if not connection_lost(error) or time.monotonic() + self.pause > self.deadline:
            raise error
        pause, self.pause = self.pause, min(2 * self.pause, LONGEST_PAUSE)
        log.warning("%s failed (%s); retrying in %.1f s", what, type(error).__name__, pause)
        return pause


def retry_on_disconnect(
    operation: Callable[[], _T], seconds: float = 10.0, what: str = "database call"
) -> _T:
    """Run `operation`, again on a lost or refused database connection (a restart), for up to
    `seconds` with growing pauses; other errors, and the last one, are raised. Only for
    operations that are safe to repeat (one transaction, idempotent or rolled back)."""
    backoff = _Backoff(seconds)
    while True:
        try:
            return operation()
        except DBAPIError as error:
            time.sleep(backoff.next_pause(error, what))


async def retry_on_disconnect_async(
    operation: Callable[[], Awaitable[_T]], seconds: float = 10.0, what: str = "database call"
) -> _T:
    """`retry_on_disconnect` for a coroutine (the pauses do not block the event loop)."""
    backoff = _Backoff(seconds)
    while True:
        try:
            return await operation()
        except DBAPIError as error:
            await asyncio.sleep(backoff.next_pause(error, what))
