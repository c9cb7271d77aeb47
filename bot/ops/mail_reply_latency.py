"""Time replies by e-mail: `python -m bot.ops.mail_reply_latency [--replies 200] [--database-url
URL]`.

Files one ticket per reply in a migrated database (a temporary SQLite file unless given an
empty one), starts the inbound listener on a free port, sends each ticket's user a reply over
SMTP (one connection per mail, as a relay does; a quoted history and a signature to trim, a
small attachment), and prints the time from connecting to the listener's 250 (percentiles) and
the replies per second. Every reply must end up attached.
"""

from __future__ import annotations

import argparse
import smtplib
import statistics
import tempfile
import time
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from email.utils import make_msgid
from pathlib import Path

from sqlalchemy import func, select

from bot.db import make_engine, session_factory, upgrade
from bot.mail.inbound import tagged_address
from bot.mail.receiver import MailReceiver
from bot.models import TicketEvent
from bot.ops.serve import free_port
from bot.ops.stats import percentile
from bot.tickets.mail_replies import ACTION_EMAIL_REPLY, MailReplies
from bot.tickets.service import TicketLimits, TicketRequest, TicketService

INBOUND = "helpdesk@example.org"
QUOTED = "\n".join(f"> line {n} of the help desk's mail" for n in range(40))


def reply(reference: str, contact: str) -> EmailMessage:
    mail = EmailMessage()
    mail["From"] = contact
    mail["To"] = tagged_address(INBOUND, reference)
    mail["Subject"] = f"Re: About your help desk request {reference}"
    mail["Message-ID"] = make_msgid(domain="example.net")
    mail.set_content(f"It is Lincoln Elementary.\n\n-- \nA teacher\n\nOn Monday, the help desk "
                     f"wrote:\n{QUOTED}\n")
    mail.add_attachment(b"\x89PNG" + b"\0" * 20_000, maintype="image", subtype="png",
                        filename="screenshot.png")
    return mail


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replies", type=int, default=200)
    parser.add_argument("--database-url", help="an empty database (default: temporary SQLite)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="mail-replies-") as folder:
        url = args.database_url or f"sqlite:///{Path(folder) / 'helpdesk.sqlite3'}"
        upgrade(url)
        engine = make_engine(url)
        sessions = session_factory(engine)
        limits = TicketLimits(submissions_per_conversation=args.replies + 1,
                              submissions_per_contact=args.replies + 1)
        service = TicketService(sessions, limits)
        tickets = []
        for number in range(args.replies):
            contact = f"user{number}@example.net"
            request = TicketRequest(kind="human_handoff", system=None, contact_email=contact,
                                    facts={"summary": "help", "contact_email": contact},
                                    transcript=[])
            tickets.append((service.submit(f"bench-{number}", request).reference, contact))
        mails = [reply(reference, contact).as_bytes(policy=SMTP_POLICY)
                 for reference, contact in tickets]
        receiver = MailReceiver(MailReplies(sessions, INBOUND), port=free_port()).start()
        timings = []
        started = time.perf_counter()
        try:
            for (reference, contact), data in zip(tickets, mails, strict=True):
                sent = time.perf_counter()
                with smtplib.SMTP("127.0.0.1", receiver.port, timeout=30) as client:
                    client.sendmail(contact, [tagged_address(INBOUND, reference)], data)
                timings.append((time.perf_counter() - sent) * 1000)
        finally:
            elapsed = time.perf_counter() - started
            receiver.stop()
        with sessions() as session:
            attached = session.execute(select(func.count(TicketEvent.id)).where(
                TicketEvent.action == ACTION_EMAIL_REPLY)).scalar_one()
        engine.dispose()
    print(f"database: {url.split(':')[0]}, {args.replies} replies of {len(mails[0]):,} bytes, "
          f"{attached} attached")
    print(f"per reply (connect to 250): median {statistics.median(timings):.1f} ms, "
          f"p95 {percentile(timings, 0.95):.1f} ms, max {max(timings):.1f} ms")
    print(f"throughput: {args.replies / elapsed:.1f} replies/s, one client")
    return 0 if attached == args.replies else 1


if __name__ == "__main__":
    raise SystemExit(main())
