"""`helpdesk mail ingest FILE`: attach the replies in a mailbox file to their tickets.

For deployments that fetch mail elsewhere (IMAP, POP, a mail server's local delivery): FILE is
an mbox (messages each starting with a "From " line) or a single message (.eml). Every message
goes through the same checks as the SMTP listener (`bot.tickets.mail_replies`) and gets a line
saying what happened. The file is only read, never changed, and running it again is safe: a
message already attached is recognised (by its Message-ID) and not added twice.
"""

from __future__ import annotations

import argparse
import mailbox
import re
import sys
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy.exc import SQLAlchemyError

from bot.db import make_engine, session_factory, upgrade
from bot.settings import Settings
from bot.tickets.mail_replies import ATTACHED, AUTOMATIC, DUPLICATE, MailReplies, MailResult
from bot.tickets.transcript import strip_controls

MBOX_START = b"From "
# mbox writers put ">" before a body line starting with "From " (and mboxrd before ">From "):
# one ">" comes off again, or the line would read as quoted and be trimmed.
_ESCAPED_FROM = re.compile(rb"^>(>*From )", re.MULTILINE)


def add_commands(topics: argparse._SubParsersAction) -> None:
    """Add the `mail` topic to the `helpdesk` command."""
    mail = topics.add_parser("mail", help="replies by e-mail")
    commands = mail.add_subparsers(dest="command", required=True)
    ingest = commands.add_parser(
        "ingest", help="attach the replies in a mailbox file (mbox, or one .eml) to their tickets"
    )
    ingest.add_argument("file", type=Path)
    ingest.set_defaults(handler=ingest_command)


def messages_in(path: Path, max_bytes: int) -> Iterator[bytes]:
    """The messages in the mbox or .eml file at `path`; a message over `max_bytes` comes as
    its first max_bytes + 1 bytes (enough to be refused as too large). Raises OSError."""
    with path.open("rb") as file:
        head = file.read(len(MBOX_START))
        if head != MBOX_START:
            file.seek(0)
            yield file.read(max_bytes + 1)
            return
    box = mailbox.mbox(path, create=False)
    try:
        for key in box.iterkeys():
            yield _ESCAPED_FROM.sub(rb"\1", box.get_bytes(key))
    finally:
        box.close()


def describe(number: int, result: MailResult, replies: MailReplies) -> str:
    if result.outcome == ATTACHED:
        reopened = " and reopened it" if result.reopened else ""
        return f"message {number}: added to {result.reference}{reopened}"
    if result.outcome == DUPLICATE:
        return f"message {number}: already added to {result.reference}, nothing changed"
    if result.outcome == AUTOMATIC:
        return f"message {number}: an automatic reply or a bounce, not added"
    return f"message {number}: refused ({result.outcome}): {replies.explain(result)}"


def ingest_command(args: argparse.Namespace, database_url: str) -> int:
    path: Path = args.file
    shown = strip_controls(str(path))
    if not path.is_file():
        print(f"error: {shown} is not a file", file=sys.stderr)
        return 2
    if path.stat().st_size == 0:
        print(f"error: {shown} is empty: no message to read", file=sys.stderr)
        return 2
    inbound = Settings.from_env().inbound
    upgrade(database_url)
    engine = make_engine(database_url)
    replies = MailReplies(session_factory(engine), inbound.address, inbound.max_bytes)
    counts: dict[str, int] = {}
    number = 0
    try:
        for number, data in enumerate(messages_in(path, inbound.max_bytes), start=1):
            result = replies.receive(data, via="file")
            counts[result.outcome] = counts.get(result.outcome, 0) + 1
            print(describe(number, result, replies))
    except OSError as error:
        print(f"error: cannot read {shown}: {error.strerror or type(error).__name__}",
              file=sys.stderr)
        return 2
    except SQLAlchemyError as error:
        print(f"error: database error ({type(error).__name__}) at message {number}; the "
              f"messages before it are done, run the command again for the rest",
              file=sys.stderr)
        return 1
    finally:
        engine.dispose()
    taken = sum(counts.get(outcome, 0) for outcome in (ATTACHED, DUPLICATE, AUTOMATIC))
    print(f"{number} message{'s' if number != 1 else ''}: {counts.get(ATTACHED, 0)} added, "
          f"{counts.get(DUPLICATE, 0)} already added, {counts.get(AUTOMATIC, 0)} automatic, "
          f"{number - taken} refused")
    return 0
