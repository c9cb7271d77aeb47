"""A local mail catcher: the embedded default's "SMTP relay", for trying the bot on one machine.

`python -m bot.mail.catcher [--dir var/mail] [--port 8025]` listens on 127.0.0.1 (the default
SMTP_HOST/SMTP_PORT of `python -m bot.mail.worker`), saves every mail it receives as an .eml file
and prints its subject, file and links, so a password reset link can be clicked in the
terminal. Nothing is relayed anywhere. Runs until SIGINT/SIGTERM.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import itertools
import logging
import os
import re
import signal
import sys
import tempfile
import threading
from email.message import EmailMessage
from email.parser import BytesParser
from email.policy import default as default_policy
from pathlib import Path
from types import FrameType, TracebackType
from typing import Any

from aiosmtpd.controller import Controller

from bot.mail.inbound import part_text
from bot.settings import VAR, SmtpSettings, private_directory

log = logging.getLogger("bot.mail.catcher")  # not __name__: that is "__main__" under `python -m`

MAX_MESSAGE_BYTES = 1024 * 1024
DEFAULT_DIRECTORY = VAR / "mail"
LINK = re.compile(r"https?://[^\s<>\"'\x00-\x1f\x7f]+", re.IGNORECASE)
LINK_TRAILING = ".,;:!?)]}"  # sentence punctuation after a link is not part of it


def latest(directory: Path) -> Path | None:
    """The newest .eml file in `directory` (names sort by time of receipt), or None."""
    if not directory.is_dir():
        return None
    return max(directory.glob("*.eml"), key=lambda path: path.name, default=None)


def find_links(message: EmailMessage) -> list[str]:
    """The http(s) links in the message's text parts, in order, without duplicates."""
    links: dict[str, None] = {}
    for part in message.walk():
        if part.get_content_maintype() != "text" or part.is_attachment():
            continue
        for match in LINK.finditer(part_text(part)):
            links.setdefault(match.group().rstrip(LINK_TRAILING), None)
    return list(links)


def _printable(text: str) -> str:
    """`text` on one line, with control characters (newlines, terminal escapes) replaced."""
    return "".join(char if char.isprintable() else "\ufffd" for char in text)


def _display(path: Path) -> str:
    """`path` relative to the working directory if it is below it, else absolute."""
    absolute = path.resolve()
    try:
        return str(absolute.relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(absolute)


class MailCatcherHandler:
    """An aiosmtpd handler that saves each message to `directory` and prints a summary."""

    def __init__(self, directory: Path, max_bytes: int = MAX_MESSAGE_BYTES) -> None:
        self.directory = directory
        self.max_bytes = max_bytes
        self._counter = itertools.count(1)
        self._lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        """Save, then report; 552 if too large, 451 (sender retries) if it cannot be saved."""
        data = envelope.original_content
        if data is None:
            data = envelope.content
        if isinstance(data, str):
            data = data.encode("utf-8", "surrogateescape")
        if len(data) > self.max_bytes:
            return f"552 5.3.4 Message exceeds the {self.max_bytes} byte limit"
        try:
            path = self.save(data)
        except OSError as error:
            log.error("could not save a mail in %s: %s", self.directory, error)
            return "451 4.3.0 Could not save the message, try again later"
        try:
            self.report(data, path)
        except Exception:  # the mail is saved: a summary that fails must not make it resent
            log.exception("mail saved to %s but could not be summarised", path)
        return "250 Message accepted for delivery"

    def save(self, data: bytes) -> Path:
        """Write `data` to <directory>/<UTC timestamp>-<counter>.eml via a temporary file."""
        private_directory(self.directory)  # mails hold reset links
        with self._lock:
            number = next(self._counter)
        stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%S.%fZ")
        path = self.directory / f"{stamp}-{number:04d}.eml"
        # The dot prefix and .tmp suffix keep a partial file out of latest() and *.eml globs.
        handle, temporary = tempfile.mkstemp(
            dir=self.directory, prefix=f".{path.stem}.", suffix=".tmp"
        )
        try:
            with os.fdopen(handle, "wb") as file:
                file.write(data)
            os.replace(temporary, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
            raise
        return path

    def report(self, data: bytes, path: Path) -> None:
        """Print `Mail caught: <subject> -> <path>`, then each link on its own indented line."""
        message = BytesParser(policy=default_policy).parsebytes(data)
        assert isinstance(message, EmailMessage)
        subject = _printable(str(message.get("Subject", "")).strip()) or "(no subject)"
        lines = [f"Mail caught: {subject} -> {_display(path)}"]
        lines += [f"    {link}" for link in find_links(message)]
        text = "\n".join(lines)
        try:
            print(text, flush=True)
        except UnicodeEncodeError:  # a terminal that cannot show the subject's characters
            print(text.encode("ascii", "backslashreplace").decode("ascii"), flush=True)


class MailCatcher:
    """An SMTP server on host:port that saves every mail it receives into `directory`."""

    def __init__(
        self, directory: Path, host: str = SmtpSettings.host, port: int = SmtpSettings.port
    ) -> None:
        self.directory = Path(directory)
        self.host = host
        self.port = port
        self.handler = MailCatcherHandler(self.directory)
        self._controller: Controller | None = None

    def start(self) -> MailCatcher:
        """Create the directory and start listening; raises OSError if the port is taken."""
        if self._controller is not None:
            raise RuntimeError("the mail catcher is already running")
        private_directory(self.directory)  # mails hold reset links
        controller = Controller(
            self.handler,
            hostname=self.host,
            port=self.port,
            server_hostname="localhost",  # not socket.getfqdn(), which can take seconds
            data_size_limit=MAX_MESSAGE_BYTES,  # refuse early, and never buffer more
        )
        try:
            controller.start()
        except BaseException:
            controller.stop(no_assert=True)
            controller.loop.close()
            raise
        self._controller = controller
        return self

    def stop(self) -> None:
        """Stop listening; a no-op if not running."""
        controller, self._controller = self._controller, None
        if controller is not None:
            controller.stop()

    def __enter__(self) -> MailCatcher:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


def main(argv: list[str] | None = None) -> None:
    """`python -m bot.mail.catcher`: catch mail until SIGINT/SIGTERM."""
    parser = argparse.ArgumentParser(
        prog="python -m bot.mail.catcher",
        description="Catch the bot's mails locally: save them as .eml files and print links.",
    )
    parser.add_argument(
        "--dir", type=Path, default=DEFAULT_DIRECTORY, help="where to save mails (var/mail)"
    )
    parser.add_argument(
        "--port", type=int, default=SmtpSettings.port, help="port on 127.0.0.1 (%(default)s)"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s %(message)s")

    stop = threading.Event()

    def request_stop(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    catcher = MailCatcher(args.dir, port=args.port)
    try:
        catcher.start()
    except OSError as error:
        parser.exit(1, f"cannot listen on {catcher.host}:{catcher.port}: {error}\n")
    try:
        print(
            f"Catching mail on {catcher.host}:{catcher.port}, saving it to "
            f"{_display(catcher.directory)}/ (Ctrl+C to stop)",
            flush=True,
        )
        while not stop.wait(0.5):
            pass
    finally:
        catcher.stop()
    print("Mail catcher stopped", file=sys.stderr)


if __name__ == "__main__":
    main()
