"""The accounts directory import, on SQLite and PostgreSQL: all rows or none, updates not copies."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import func, select

from bot.cli import DEMO_ACCOUNTS
from bot.db import make_engine, session_factory
from bot.models import Account, Base
from bot.recovery.accounts_import import ImportRejected, import_accounts, read_file
from bot.validation import parse_birth_date

HEADER = "system,user_name,first_name,last_name,birth_date,email,district,school,status\n"
GOOD = [
    "massone,jdoe1,Jane,Doe,1985-03-14,Jane.Doe@Example.org,Worcester,Doherty High,active\n",
    "ese_portal,jane.doe,Jane,Doe,03/14/1985,jane.doe@example.org,Worcester,,\n",
    "massone,omalley2,Sean,O'Malley-Smith,1990-12-01,sean@example.net,Boston,Latin Academy,"
    "deactivated\n",
]


def count(url: str) -> int:
    with session_factory(make_engine(url))() as session:
        return session.execute(select(func.count(Account.id))).scalar_one()


def run_import(url: str, text: str):
    with session_factory(make_engine(url))() as session:
        return import_accounts(session, text)


def test_import_creates_accounts(database_url: str) -> None:
    report = run_import(database_url, HEADER + "".join(GOOD))
    assert (report.created, report.updated, report.unchanged) == (3, 0, 0)
    with session_factory(make_engine(database_url))() as session:
        jane = session.execute(select(Account).where(Account.user_name == "jdoe1")).scalar_one()
    assert jane.birth_date == dt.date(1985, 3, 14)
    assert jane.email == "jane.doe@example.org"
    assert (jane.district, jane.school, jane.status) == ("Worcester", "Doherty High", "active")
    assert jane.password_hash is None


def test_reimport_updates_instead_of_duplicating(database_url: str) -> None:
    run_import(database_url, HEADER + "".join(GOOD))
    assert run_import(database_url, HEADER + "".join(GOOD)).unchanged == 3
    moved = GOOD[0].replace("Doherty High", "South High")
    report = run_import(database_url, HEADER + moved + "".join(GOOD[1:]))
    assert (report.created, report.updated, report.unchanged) == (0, 1, 2)
    assert count(database_url) == 3


@pytest.mark.parametrize(
    ("row", "reason"),
    [
        ("massone,x1,<script>alert(1)</script>,Doe,1985-03-14,a@example.org,,,\n", "first_name"),
        ("massone,x1,Al,Doe,1850-01-01,a@example.org,,,\n", "not a plausible date"),
        ("massone,x1,Al,Doe,2999-01-01,a@example.org,,,\n", "not a plausible date"),
        ("massone,x1,Al,Doe,1990-02-30,a@example.org,,,\n", "not a date like"),
        ("massone,x1,Al,Doe,1985-03-14,al@nodomain,,,\n", "email"),
        ("massone,x1,Al,Doe,1985-03-14,.a..b@example.org,,,\n", "cannot start with a period"),
        ("lunch,x1,Al,Doe,1985-03-14,a@example.org,,,\n", "system must be one of"),
        ("massone,x 1,Al,Doe,1985-03-14,a@example.org,,,\n", "user_name"),
        ("massone,x1,Al,Doe,1985-03-14,a@example.org,,,retired\n", "status must be one of"),
        ("massone,x1,,Doe,1985-03-14,a@example.org,,,\n", "first_name is empty"),
        ("massone,x1,Al,Doe,1985-03-14,a@example.org,<b>Boston</b>,,\n", "district"),
        ("massone,x1,Al,Doe,1985-03-14,a@example.org,,,,extra\n", "more fields"),
        ("massone,x1,Al," + "D" * 81 + ",1985-03-14,a@example.org,,,\n", "last_name"),
    ],
)
def test_a_bad_row_is_reported_by_line_and_nothing_is_written(
    database_url: str, row: str, reason: str
) -> None:
    with pytest.raises(ImportRejected) as rejected:
        run_import(database_url, HEADER + "".join(GOOD) + row)
    [(line, message)] = rejected.value.problems
    assert line == 5 and reason in message
    assert count(database_url) == 0


def test_every_bad_row_is_reported(database_url: str) -> None:
    rows = HEADER + GOOD[0] + GOOD[0] + "massone,x1,Al,Doe,1850-01-01,bad,,,\n"
    with pytest.raises(ImportRejected) as rejected:
        run_import(database_url, rows)
    problems = rejected.value.problems
    assert [line for line, _ in problems] == [3, 4, 4]
    assert "duplicate of line 2" in problems[0][1]
    assert count(database_url) == 0


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("system,user_name,first_name\nmassone,a,b\n", "missing column 'last_name'"),
        (HEADER.replace("status", "salary"), "unknown column 'salary'"),
        (HEADER, "no accounts"),
        ("", "missing column 'system'"),
    ],
)
def test_a_bad_header_is_refused(database_url: str, text: str, reason: str) -> None:
    with pytest.raises(ImportRejected, match=reason):
        run_import(database_url, text)


def test_files_that_are_not_utf8_text_are_refused(tmp_path: Path) -> None:
    latin1 = tmp_path / "export.csv"
    latin1.write_bytes((HEADER + GOOD[0].replace("Jane", "Zoë")).encode("latin-1"))
    with pytest.raises(ImportRejected, match="not UTF-8"):
        read_file(latin1)
    excel = tmp_path / "excel.csv"
    excel.write_bytes(("\ufeff" + HEADER + GOOD[0]).encode("utf-8"))
    assert read_file(excel).startswith("system,")


def test_birth_dates_must_be_plausible() -> None:
    today = dt.date(2026, 11, 25)
    assert parse_birth_date("12/31/1999", today) == dt.date(1999, 12, 31)
    with pytest.raises(ValueError, match="plausible"):
        parse_birth_date("2025-01-01", today)


def test_migrations_match_the_models(database_url: str) -> None:
    with make_engine(database_url).connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert differences == []


def test_command_line_import(database_url: str, tmp_path: Path) -> None:
    env = {**os.environ, "DATABASE_URL": database_url}
    helpdesk = [sys.executable, "-m", "bot.cli", "accounts", "import"]
    bad = tmp_path / "bad.csv"
    bad.write_text(HEADER + GOOD[0] + "massone,x1,Al,Doe,1850-01-01,a@example.org,,,\n")
    refused = subprocess.run([*helpdesk, str(bad)], env=env, capture_output=True, text=True)
    assert refused.returncode == 1
    assert "nothing imported" in refused.stderr and "line 3:" in refused.stderr
    loaded = subprocess.run([*helpdesk, str(DEMO_ACCOUNTS)], env=env, capture_output=True,
                            text=True)
    assert loaded.returncode == 0, loaded.stderr
    assert "4 created" in loaded.stdout
    assert count(database_url) == 4
