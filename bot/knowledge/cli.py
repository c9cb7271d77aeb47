"""`helpdesk knowledge check [--dir DIR]`: whether the knowledge YAML loads, and if not what is
wrong and where (for editors, before they commit). `helpdesk knowledge export [--dir DIR]`: write
the answers admins edited in the console, and their review dates, back to the knowledge YAML
for review in version control."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bot.db import make_engine, session_factory, upgrade
from bot.knowledge.entries import KNOWLEDGE_DIR, KnowledgeBase, KnowledgeError
from bot.knowledge.export import ExportError, export_changes


def add_commands(topics: argparse._SubParsersAction) -> None:
    """Add the `knowledge` topic to the `helpdesk` command."""
    knowledge = topics.add_parser("knowledge", help="the answers the bot gives")
    commands = knowledge.add_subparsers(dest="command", required=True)
    check = commands.add_parser("check", help="check that the knowledge YAML loads")
    check.add_argument("--dir", type=Path, default=KNOWLEDGE_DIR,
                       help="the knowledge folder (default: knowledge/ of this checkout)")
    check.set_defaults(handler=check_command)
    export = commands.add_parser(
        "export", help="write the console's edits and review dates to the knowledge YAML"
    )
    export.add_argument("--dir", type=Path, default=KNOWLEDGE_DIR,
                        help="the knowledge folder (default: knowledge/ of this checkout)")
    export.set_defaults(handler=export_command)


def export_command(args: argparse.Namespace, database_url: str) -> int:
    upgrade(database_url)
    engine = make_engine(database_url)
    try:
        report = export_changes(session_factory(engine), args.dir)
    except ExportError as error:
        print(f"Nothing was written: {error}", file=sys.stderr)
        return 1
    finally:
        engine.dispose()
    for written in report.written:
        print(f"{written.file}: {written.entry_id}: {written.what}")
    for sentence in report.skipped:
        print(f"Not written: {sentence}", file=sys.stderr)
    if report.written:
        files = len({written.file for written in report.written})
        print(f"Wrote {len(report.written)} change(s) to {files} file(s) in {args.dir}. "
              "Review them with `git diff` and commit them.")
    else:
        print("The knowledge YAML already holds every change made in the console.")
    return 1 if report.skipped else 0


def check_command(args: argparse.Namespace, _database_url: str) -> int:
    """Exit 0 when the knowledge loads, else 1 with one line: file, line and problem."""
    try:
        knowledge = KnowledgeBase(args.dir)
    except KnowledgeError as error:
        print(f"{error}", file=sys.stderr)
        print("The bot keeps answering from the last version that loaded until this is fixed.",
              file=sys.stderr)
        return 1
    print(f"{args.dir}: {len(knowledge.faq_ids())} answers and {len(knowledge.flow_ids())} "
          "flows load.")
    return 0
