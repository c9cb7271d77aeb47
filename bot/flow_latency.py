"""Time the password-reset flow end to end against `make run`: `python -m bot.flow_latency`.

For each demo identity: the chat turns over REST (latency per turn), then how long until the
reset e-mail lands in the mail catcher's folder, then opening the link and setting a password on
the reset page. Uses the fictional demo accounts; each run counts against their rate limit
(5 attempts per identity per hour).
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

from bot.serve import MAIL_DIR

PEOPLE = [
    ["I forgot my ELAR password", "ada.example", "Ada", "Example", "03/14/1984"],
    ["I forgot my ESE security portal password", "dan.sample", "Dan", "Sample", "01/30/1972"],
]
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


def wait_for_reset_mail(mail_dir: Path, seen: set[Path], timeout: float) -> EmailMessage:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for path in sorted(set(mail_dir.glob("*.eml")) - seen):
            message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
            if message["Subject"].startswith("Reset"):
                return message
        time.sleep(0.02)
    raise TimeoutError("no reset e-mail arrived (rate-limited? try again in an hour)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="http://127.0.0.1:5005")
    parser.add_argument("--mail-dir", type=Path, default=MAIL_DIR)
    args = parser.parse_args(argv)

    turns, to_mail, to_password = [], [], []
    for index, messages in enumerate(PEOPLE):
        sender = f"flow-latency-{time.time():.0f}-{index}"
        seen = set(args.mail_dir.glob("*.eml"))
        turns += [say(args.url, sender, message) for message in messages]
        start = time.perf_counter()
        mail = wait_for_reset_mail(args.mail_dir, seen, timeout=30)
        to_mail.append(time.perf_counter() - start)
        [link] = _LINK.findall(mail.get_content())
        start = time.perf_counter()
        urllib.request.urlopen(link, timeout=30).read()
        password = f"a long enough passphrase {time.time():.0f}"
        form = urllib.parse.urlencode({"password": password, "confirm": password}).encode()
        urllib.request.urlopen(link, data=form, timeout=30).read()
        to_password.append(time.perf_counter() - start)

    ms = sorted(1000 * seconds for seconds in turns)
    print(f"chat turns: {len(ms)}  median {statistics.median(ms):.0f} ms  "
          f"p95 {ms[int(0.95 * (len(ms) - 1))]:.0f} ms  max {ms[-1]:.0f} ms")
    print("last answer -> reset e-mail in the catcher: "
          + ", ".join(f"{seconds:.2f} s" for seconds in to_mail))
    print("open the link + set the password: "
          + ", ".join(f"{seconds:.2f} s" for seconds in to_password))
    return 0


if __name__ == "__main__":
    sys.exit(main())
