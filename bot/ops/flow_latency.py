"""Time the flows end to end against `make run`: `python -m bot.ops.flow_latency [--tickets N]`.

Password reset, for each demo identity: the chat turns over REST (latency per turn), then how
long until the reset e-mail lands in the mail catcher's folder, then opening the link and
setting a password on the reset page. Uses the fictional demo accounts; each run counts against
their rate limit (5 attempts per identity per hour).

Tickets (`--tickets N`): N transfer requests, each a conversation of its own with a fresh
contact address: the question-and-answer turns, the confirming turn (which writes the ticket and
its mail), and how long until the confirmation e-mail is in the catcher.
"""

from __future__ import annotations

import argparse
import email
import email.policy
import json
import re
import statistics
import sys
import time
import urllib.parse
import urllib.request
from email.message import EmailMessage
from pathlib import Path

from bot.ops.serve import MAIL_DIR
from bot.ops.stats import percentile

PEOPLE = [
    ["I forgot my ELAR password", "ada.example", "Ada", "Example", "03/14/1984"],
    ["I forgot my ESE security portal password", "dan.sample", "Dan", "Sample", "01/30/1972"],
]
TRANSFER = ["I changed schools, can my MassONE account move with me?", "I don't know",
            "Lincoln Elementary School", "Worcester", "Boston Latin School", "Boston",
            "09/01/2026"]
_LINK = re.compile(r"https?://\S+/reset/\S+")


def say(url: str, sender: str, message: str) -> float:
    body = json.dumps({"sender": sender, "message": message}).encode()
    request = urllib.request.Request(
        f"{url}/webhooks/rest/webhook", data=body, headers={"Content-Type": "application/json"}
    )
    start = time.perf_counter()
    with urllib.request.urlopen(request, timeout=30) as response:
        response.read()
    return time.perf_counter() - start


def wait_for_mail(
    mail_dir: Path, seen: set[Path], subject: str, timeout: float
) -> EmailMessage:
    """The first new mail whose subject starts with `subject`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for path in sorted(set(mail_dir.glob("*.eml")) - seen):
            message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
            if message["Subject"].startswith(subject):
                return message
        time.sleep(0.02)
    raise TimeoutError(f"no {subject!r} e-mail arrived (rate-limited? try again later)")


def milliseconds(label: str, seconds: list[float]) -> str:
    ms = sorted(1000 * value for value in seconds)
    return (f"{label}: {len(ms)}  median {statistics.median(ms):.0f} ms  "
            f"p95 {percentile(ms, 0.95):.0f} ms  max {ms[-1]:.0f} ms")


def time_tickets(url: str, mail_dir: Path, rounds: int) -> None:
    questions, confirms, to_mail = [], [], []
    for index in range(rounds):
        sender = f"ticket-latency-{time.time():.0f}-{index}"
        seen = set(mail_dir.glob("*.eml"))
        questions += [say(url, sender, message) for message in TRANSFER]
        questions.append(say(url, sender, f"{sender}@example.org"))
        confirms.append(say(url, sender, "/affirm"))
        start = time.perf_counter()
        wait_for_mail(mail_dir, seen, "Your help desk request", timeout=30)
        to_mail.append(time.perf_counter() - start)
    print(milliseconds("ticket question turns", questions))
    print(milliseconds("confirming turn (ticket + outbox written)", confirms))
    print(milliseconds("confirmation -> e-mail in the catcher", to_mail))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="http://127.0.0.1:5005")
    parser.add_argument("--mail-dir", type=Path, default=MAIL_DIR)
    parser.add_argument("--tickets", type=int, default=0, metavar="N",
                        help="time N ticket conversations instead of password resets")
    args = parser.parse_args(argv)
    if args.tickets > 0:
        time_tickets(args.url, args.mail_dir, args.tickets)
        return 0

    turns, to_mail, to_password = [], [], []
    for index, messages in enumerate(PEOPLE):
        sender = f"flow-latency-{time.time():.0f}-{index}"
        seen = set(args.mail_dir.glob("*.eml"))
        turns += [say(args.url, sender, message) for message in messages]
        start = time.perf_counter()
        mail = wait_for_mail(args.mail_dir, seen, "Reset", timeout=30)
        to_mail.append(time.perf_counter() - start)
        [link] = _LINK.findall(mail.get_content())
        start = time.perf_counter()
        urllib.request.urlopen(link, timeout=30).read()
        password = f"a long enough passphrase {time.time():.0f}"
        form = urllib.parse.urlencode({"password": password, "confirm": password}).encode()
        urllib.request.urlopen(link, data=form, timeout=30).read()
        to_password.append(time.perf_counter() - start)

    print(milliseconds("chat turns", turns))
    print("last answer -> reset e-mail in the catcher: "
          + ", ".join(f"{seconds:.2f} s" for seconds in to_mail))
    print("open the link + set the password: "
          + ", ".join(f"{seconds:.2f} s" for seconds in to_password))
    return 0


if __name__ == "__main__":
    sys.exit(main())
