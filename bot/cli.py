"""The `helpdesk` command: `helpdesk accounts import FILE.csv`, `helpdesk db upgrade`,
`helpdesk demo load`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from sqlalchemy import func, select

from bot.accounts_import import ImportRejected, import_accounts, read_accounts, read_file
from bot.db import make_engine, session_factory, upgrade
from bot.models import Account
from bot.settings import Settings

DEMO_ACCOUNTS = Path(__file__).resolve().parent / "demo" / "accounts.csv"


def accounts_import(url: str, path: Path) -> int:
    try:
        text = read_file(path)
        upgrade(url)
        with session_factory(make_engine(url))() as session:
            report = import_accounts(session, text)
    except FileNotFoundError:
        print(f"error: no file at {path}", file=sys.stderr)
        return 2
    except ImportRejected as rejected:
        print(f"{path}: nothing imported, {len(rejected.problems)} problem(s):", file=sys.stderr)
        print(rejected, file=sys.stderr)
        return 1
    print(f"{path}: {report.created} created, {report.updated} updated, "
          f"{report.unchanged} unchanged")
    return 0


def demo_load(url: str) -> int:
    """Load the fictional demo directory into an empty database and show who to try."""
    upgrade(url)
    sessions = session_factory(make_engine(url))
    with sessions() as session:
        empty = session.execute(select(func.count(Account.id))).scalar_one() == 0
    if empty:
        with sessions() as session:
            import_accounts(session, read_file(DEMO_ACCOUNTS))
        print(f"Loaded the fictional demo accounts from {DEMO_ACCOUNTS.name}.")
    print("Demo identities to try (fictional):")
    for row in read_accounts(read_file(DEMO_ACCOUNTS))[:2]:
        print(f"  {row['system']}: {row['first_name']} {row['last_name']}, born "
              f"{row['birth_date']:%m/%d/%Y}, {row['email']}, user name {row['user_name']}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="helpdesk", description="Help-desk administration.")
    topics = parser.add_subparsers(dest="topic", required=True)
    accounts = topics.add_parser("accounts", help="the accounts directory")
    accounts_commands = accounts.add_subparsers(dest="command", required=True)
    importing = accounts_commands.add_parser("import", help="import a CSV export (README)")
    importing.add_argument("file", type=Path)
    database = topics.add_parser("db", help="the database")
    database.add_subparsers(dest="command", required=True).add_parser(
        "upgrade", help="apply migrations"
    )
    demo = topics.add_parser("demo", help="the fictional demo directory")
    demo.add_subparsers(dest="command", required=True).add_parser(
        "load", help="load it into an empty database"
    )
    args = parser.parse_args(argv)
    url = Settings.from_env().database_url
    if args.topic == "accounts":
        return accounts_import(url, args.file)
    if args.topic == "db":
        upgrade(url)
        print("database is up to date")
        return 0
    return demo_load(url)


if __name__ == "__main__":
    sys.exit(main())
