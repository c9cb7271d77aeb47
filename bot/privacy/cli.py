"""`helpdesk conversations purge [--older-than 30d] [--tracker-store URL]`: delete old
conversations (`bot.privacy.retention`). Run it daily (cron, a systemd timer)."""

from __future__ import annotations

import argparse
import os
import re
from datetime import timedelta

from bot.db import make_engine, session_factory, upgrade
from bot.mail.outbox import utc_now
from bot.privacy.retention import purge_conversations
from bot.settings import Settings

_AGE = re.compile(r"([0-9]{1,5})\s*([dhw])")
_UNITS = {"h": "hours", "d": "days", "w": "weeks"}
SHORTEST = timedelta(hours=1)


def add_commands(topics: argparse._SubParsersAction) -> None:
    """Add the `conversations` topic to the `helpdesk` command."""
    conversations = topics.add_parser("conversations", help="chat conversations kept")
    commands = conversations.add_subparsers(dest="command", required=True)
    purge = commands.add_parser(
        "purge", help="delete conversations older than an age",
        description="Deletes the tracker store's events (TRACKER_STORE_URL, where Rasa keeps "
        "conversations) and the application's per-conversation rows older than the age. "
        "Tickets and the console's audit log are kept.",
    )
    purge.add_argument(
        "--older-than", type=age, default=None, metavar="AGE",
        help="e.g. 30d, 12h or 2w (default: CONVERSATION_RETENTION_DAYS, 30 days)",
    )
    purge.add_argument(
        "--tracker-store", metavar="URL", default=None,
        help="Rasa's SQL tracker store (default: TRACKER_STORE_URL; none when unset, as in "
        "`make run`, which keeps conversations in memory)",
    )
    purge.set_defaults(handler=purge_command)


def age(text: str) -> timedelta:
    """"30d", "12h", "2w" as a timedelta of at least an hour."""
    match = _AGE.fullmatch(text.strip().lower())
    if match is None:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not an age like 30d (days), 12h (hours) or 2w (weeks)"
        )
    span = timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})
    if span < SHORTEST:
        raise argparse.ArgumentTypeError("the age must be at least 1h")
    return span


def _spoken(span: timedelta) -> str:
    hours = span.days * 24 + span.seconds // 3600
    if hours % 24:
        return f"{hours} hour{'s' if hours != 1 else ''}"
    return f"{hours // 24} day{'s' if hours != 24 else ''}"


def purge_command(args: argparse.Namespace, database_url: str) -> int:
    settings = Settings.from_env()
    older_than = args.older_than or timedelta(days=settings.retention_days)
    tracker_url = args.tracker_store or os.environ.get("TRACKER_STORE_URL") or None
    upgrade(database_url)
    engine = make_engine(database_url)
    tracker = make_engine(tracker_url) if tracker_url else None
    try:
        report = purge_conversations(session_factory(engine), tracker, older_than, utc_now())
    finally:
        engine.dispose()
        if tracker is not None:
            tracker.dispose()
    print(f"Deleted what is older than {_spoken(older_than)} "
          f"(before {report.cutoff:%Y-%m-%d %H:%M} UTC):")
    if report.tracker_events is None:
        print("  tracker store: none configured (TRACKER_STORE_URL unset), nothing to delete")
    else:
        print(f"  tracker store: {report.tracker_events} events, "
              f"{report.tracker_conversations} conversations deleted whole")
    for what, count in report.app_rows.items():
        print(f"  {what}: {count}")
    return 0
