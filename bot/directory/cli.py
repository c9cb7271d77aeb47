"""The `helpdesk admins import FILE.csv` command: load the Directory Administrators list."""

from __future__ import annotations

import argparse
from pathlib import Path

from bot.csv_import import import_file
from bot.directory.admins_import import import_admins
from bot.settings import ROOT

DEMO_ADMINS = ROOT / "bot" / "demo" / "directory_admins.csv"


def add_commands(topics: argparse._SubParsersAction) -> None:
    """Add the `admins` topic and its `import` command to the `helpdesk` parser."""
    admins = topics.add_parser("admins", help="the Directory Administrators of each district")
    commands = admins.add_subparsers(dest="command", required=True)
    importing = commands.add_parser(
        "import",
        help="import a CSV file of Directory Administrators",
        description="Columns: district, first_name, last_name, email, phone (optional). "
        "All rows are imported or none; re-importing updates administrators matched on "
        "(district, email).",
    )
    importing.add_argument("file", type=Path, help="the CSV file (UTF-8)")
    importing.set_defaults(handler=import_command)


def import_command(args: argparse.Namespace, database_url: str) -> int:
    """Import `args.file`; 0 when imported, 1 when refused, 2 when there is no such file."""
    return import_file(database_url, args.file, import_admins)
