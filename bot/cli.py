"""The `helpdesk` command: `helpdesk accounts import FILE.csv`, `helpdesk admins import FILE.csv`,
`helpdesk tickets list|show REF`, `helpdesk agents ...`, `helpdesk conversations purge`,
`helpdesk mail ingest FILE`, `helpdesk knowledge export`, `helpdesk db upgrade`,
`helpdesk demo load`.

Topics living in their own module add themselves through `add_commands(topics)`, setting a
`handler(args, database_url) -> exit code` default.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path

from sqlalchemy import func, select

from bot.console.agents_cli import ensure_demo_agent
from bot.csv_import import import_file
from bot.db import make_engine, session_factory, upgrade
from bot.directory.admins_import import import_admins, read_admins
from bot.directory.cli import DEMO_ADMINS
from bot.models import Account, DirectoryAdmin
from bot.recovery.accounts_import import import_accounts, read_accounts, read_file
from bot.settings import VAR, Settings, write_private

# Modules adding a topic of their own through `add_commands(topics)`.
COMMAND_MODULES = (
    "bot.directory.cli", "bot.tickets.cli", "bot.console.agents_cli", "bot.mail.cli",
    "bot.privacy.cli", "bot.knowledge.cli",
)
DEMO_AGENT_FILE = VAR / "demo_agent.txt"
DEMO_ACCOUNTS = Path(__file__).resolve().parent / "demo" / "accounts.csv"


def demo_load(url: str) -> int:
    """Load the fictional demo directories (accounts, Directory Administrators) into an empty
    database and show who to try."""
    upgrade(url)
    sessions = session_factory(make_engine(url))
    with sessions() as session:
        empty = session.execute(select(func.count(Account.id))).scalar_one() == 0
        no_admins = session.execute(select(func.count(DirectoryAdmin.id))).scalar_one() == 0
    if empty:
        with sessions() as session:
            import_accounts(session, read_file(DEMO_ACCOUNTS))
        print(f"Loaded the fictional demo accounts from {DEMO_ACCOUNTS.name}.")
    if no_admins:
        with sessions() as session:
            import_admins(session, read_file(DEMO_ADMINS))
        print(f"Loaded the fictional Directory Administrators from {DEMO_ADMINS.name}.")
    print("Demo identities to try (fictional):")
    for row in read_accounts(read_file(DEMO_ACCOUNTS))[:2]:
        print(f"  {row['system']}: {row['first_name']} {row['last_name']}, born "
              f"{row['birth_date']:%m/%d/%Y}, {row['email']}, user name {row['user_name']}")
    districts = sorted({row["district"] for row in read_admins(read_file(DEMO_ADMINS))})
    print(f"Districts with a demo Directory Administrator: {', '.join(districts)}")
    created = ensure_demo_agent(url)
    if created is not None:  # the demo login is kept for the next `make run` (local demo only)
        write_private(DEMO_AGENT_FILE, " ".join(created) + "\n")
    if DEMO_AGENT_FILE.exists():
        user, password = DEMO_AGENT_FILE.read_text().split()
        print(f"Demo agent for the console (admin): user name {user}, password {password}")
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
    for module in COMMAND_MODULES:
        importlib.import_module(module).add_commands(topics)
    args = parser.parse_args(argv)
    url = Settings.from_env().database_url
    if hasattr(args, "handler"):
        return args.handler(args, url)
    if args.topic == "accounts":
        return import_file(url, args.file, import_accounts)
    if args.topic == "db":
        upgrade(url)
        print("database is up to date")
        return 0
    return demo_load(url)


if __name__ == "__main__":
    sys.exit(main())
