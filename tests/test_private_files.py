"""Files that hold personal data or secrets are readable by their owner only: the SQLite
database, the generated secret key, the demo agent's login, and the local mail catcher's mails
(issue 11, item 10)."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from bot import settings
from bot.db import make_engine, upgrade
from bot.mail.catcher import MailCatcherHandler


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture(autouse=True)
def _usual_umask() -> Iterator[None]:
    """The common umask 022, under which files are created world-readable by default."""
    previous = os.umask(0o022)
    yield
    os.umask(previous)


def test_a_new_sqlite_database_is_for_its_owner_only(tmp_path: Path) -> None:
    database = tmp_path / "var" / "helpdesk.sqlite3"
    url = f"sqlite:///{database}"
    upgrade(url)
    engine = make_engine(url)
    with engine.begin() as connection:
        connection.execute(text("INSERT INTO agents (username, display_name, role, "
                                "password_hash, active, created_at) VALUES "
                                "('a', 'A', 'agent', 'x', 1, '2026-01-01')"))
    engine.dispose()
    assert mode(database) == 0o600
    assert mode(database.parent) == 0o700  # the folder it was created in


def test_an_existing_world_readable_database_is_tightened(tmp_path: Path) -> None:
    database = tmp_path / "pilot.sqlite3"
    upgrade(f"sqlite:///{database}")
    database.chmod(0o644)
    make_engine(f"sqlite:///{database}").dispose()
    assert mode(database) == 0o600


def test_secret_files_under_var_are_for_their_owner_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(settings, "VAR", tmp_path / "var")
    key = settings._secret_key(None)
    assert len(key) == 64
    assert mode(tmp_path / "var" / "secret_key") == 0o600
    assert mode(tmp_path / "var") == 0o700
    demo = tmp_path / "var" / "demo_agent.txt"
    demo.write_text("old")
    demo.chmod(0o644)
    settings.write_private(demo, "demo-agent secret\n")
    assert mode(demo) == 0o600 and demo.read_text() == "demo-agent secret\n"


def test_caught_mails_are_for_their_owner_only(tmp_path: Path) -> None:
    handler = MailCatcherHandler(tmp_path / "mail")
    saved = handler.save(b"Subject: Reset\r\n\r\nhttps://help.example.org/reset/abc\r\n")
    assert mode(saved) == 0o600
    assert mode(tmp_path / "mail") == 0o700


def test_mails_sent_before_the_upgrade_lose_their_body_too(tmp_path: Path) -> None:
    from alembic import command

    from bot.db import alembic_config

    url = f"sqlite:///{tmp_path / 'pilot.sqlite3'}"
    command.upgrade(alembic_config(url), "0004")
    engine = make_engine(url)
    with engine.begin() as connection:
        for sent in ("2026-01-01 10:00:00", None):
            connection.execute(text(
                "INSERT INTO outbox (kind, to_address, subject, body, created_at, attempts, "
                "next_attempt_at, sent_at) VALUES ('password_reset', 'a@example.org', 'Reset', "
                "'https://help.example.org/reset/secret-token', '2026-01-01', 0, '2026-01-01', "
                ":sent)"), {"sent": sent})
    upgrade(url)
    with engine.connect() as connection:
        bodies = connection.execute(text("SELECT body FROM outbox ORDER BY id")).scalars().all()
    engine.dispose()
    assert bodies == ["", "https://help.example.org/reset/secret-token"]  # the unsent waits
