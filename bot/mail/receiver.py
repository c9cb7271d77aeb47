"""The inbound SMTP listener: users' replies by e-mail reach their ticket.

`python -m bot.mail.receiver [--port 8026]` listens on INBOUND_SMTP_HOST:INBOUND_SMTP_PORT
(127.0.0.1:8026) for the agency's mail relay to deliver replies to (`make run` starts it).
Only recipients at INBOUND_MAIL_ADDRESS (tagged or not) are taken; each message is handed to
`bot.tickets.mail_replies`, and the SMTP answer says what happened in plain words: 250 when
attached, 550 (552 when too large) with the reason when refused, so the sender's mail server
tells the sender. A database failure answers 451: the relay keeps the mail and tries again.

It does no spam, SPF or DKIM checking and asks for no login: put it behind the relay, never on
a public address. Runs until SIGINT/SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import logging
import signal
import sys
import threading
from types import FrameType, TracebackType
from typing import Any, AnyStr

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP

from bot.db import make_engine, session_factory, upgrade
from bot.settings import Settings
from bot.tickets.mail_replies import (
    ATTACHED,
    AUTOMATIC,
    DUPLICATE,
    EMPTY,
    NO_REFERENCE,
    NO_SENDER,
    NOT_MATCHED,
    TOO_LARGE,
    UNREADABLE,
    MailReplies,
    MailResult,
)

log = logging.getLogger("bot.mail.receiver")  # not __name__: that is "__main__" under `python -m`
AIOSMTPD_LOG = logging.getLogger("mail.log")

# SMTP reply codes (RFC 5321) and enhanced status codes (RFC 3463) per outcome.
SMTP_CODES = {
    ATTACHED: "250 2.0.0",
    DUPLICATE: "250 2.0.0",
    AUTOMATIC: "250 2.0.0",
    NO_REFERENCE: "550 5.1.1",
    NOT_MATCHED: "550 5.7.1",
    NO_SENDER: "550 5.7.1",
    EMPTY: "550 5.6.0",
    UNREADABLE: "550 5.6.0",
    TOO_LARGE: "552 5.3.4",
}
NOT_OURS = "550 5.1.1 This server only takes replies to help desk requests"
TRY_LATER = "451 4.3.0 The help desk cannot take mail just now; please try again later"


def smtp_line(code: str, text: str) -> str:
    """One SMTP reply line: printable ASCII, no line breaks, at most 512 characters."""
    plain = " ".join(text.split()).encode("ascii", "replace").decode("ascii")
    return f"{code} {plain}"[:510]


class ReplyHandler:
    """The aiosmtpd handler: recipients must be ours; each message goes to `replies`."""

    def __init__(self, replies: MailReplies) -> None:
        self.replies = replies

    async def handle_RCPT(  # noqa: N802 - the name aiosmtpd looks up
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]
    ) -> str:
        if not self.replies.is_ours(address):
            log.info("inbound mail refused: not_ours")
            return NOT_OURS
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        data = envelope.original_content
        if data is None:
            data = envelope.content
        if isinstance(data, str):
            data = data.encode("utf-8", "surrogateescape")
        receive = functools.partial(self.replies.receive, data, list(envelope.rcpt_tos), "smtp")
        try:  # the database work runs off the SMTP event loop
            result: MailResult = await asyncio.get_running_loop().run_in_executor(None, receive)
        except Exception as error:  # nothing was written: the relay keeps it and tries again
            log.error("inbound mail not processed: %s", type(error).__name__)
            return TRY_LATER
        return smtp_line(SMTP_CODES[result.outcome], self.replies.explain(result))


class _ReplySMTP(SMTP):
    """aiosmtpd's SMTP session, with its "too much mail data" answer said (and logged) as ours."""

    def __init__(self, handler: ReplyHandler, **kwargs: Any) -> None:
        super().__init__(handler, **kwargs)
        self.replies = handler.replies

    async def push(self, status: AnyStr) -> None:
        text = status.decode("ascii", "replace") if isinstance(status, bytes) else str(status)
        if text.startswith("552 "):  # over data_size_limit: refused before any handler runs
            log.info("inbound mail (smtp) refused: %s", TOO_LARGE)
            status = smtp_line(SMTP_CODES[TOO_LARGE],  # type: ignore[assignment]
                               self.replies.explain(MailResult(TOO_LARGE)))
        await super().push(status)


class _ReplyController(Controller):
    def factory(self) -> SMTP:
        return _ReplySMTP(self.handler, **self.SMTP_kwargs)


class MailReceiver:
    """The SMTP listener on host:port, handing every message to `replies`."""

    def __init__(self, replies: MailReplies, host: str = "127.0.0.1", port: int = 8026) -> None:
        self.replies = replies
        self.host = host
        self.port = port
        self._controller: Controller | None = None

    def start(self) -> MailReceiver:
        """Start listening; raises OSError if the port is taken."""
        if self._controller is not None:
            raise RuntimeError("the mail receiver is already running")
        # aiosmtpd logs every envelope address at INFO: addresses never go to our logs.
        AIOSMTPD_LOG.setLevel(max(logging.WARNING, AIOSMTPD_LOG.level))
        controller = _ReplyController(
            ReplyHandler(self.replies),
            hostname=self.host,
            port=self.port,
            server_hostname="localhost",  # not socket.getfqdn(), which can take seconds
            data_size_limit=self.replies.max_bytes,  # refuse early, and never buffer more
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

    def __enter__(self) -> MailReceiver:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


def main(argv: list[str] | None = None) -> None:
    """`python -m bot.mail.receiver`: migrate the database, then take replies until stopped."""
    settings = Settings.from_env()
    parser = argparse.ArgumentParser(
        prog="python -m bot.mail.receiver",
        description="Take users' replies by e-mail over SMTP and attach them to their tickets.",
    )
    parser.add_argument("--port", type=int, default=settings.inbound.port,
                        help=f"port on {settings.inbound.host} (%(default)s)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s %(message)s", force=True)
    upgrade(settings.database_url)
    engine = make_engine(settings.database_url)
    replies = MailReplies(session_factory(engine), settings.inbound.address,
                          settings.inbound.max_bytes)
    receiver = MailReceiver(replies, settings.inbound.host, args.port)
    stop = threading.Event()

    def request_stop(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    try:
        receiver.start()
    except OSError as error:
        parser.exit(1, f"cannot listen on {receiver.host}:{receiver.port}: {error}\n")
    try:
        log.info("taking replies by e-mail on %s:%s", receiver.host, receiver.port)
        while not stop.wait(0.5):
            pass
    finally:
        receiver.stop()
        engine.dispose()
    print("Mail receiver stopped", file=sys.stderr)


if __name__ == "__main__":
    main()
