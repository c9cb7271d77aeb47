"""REST reply latency of a running bot: `python -m bot.ops.latency [--url URL] [--rounds N]`.

Sends the canonical question of every FAQ, one at a time (an idle server, one user), through the
REST channel (NLU, policies, the action call and the answer) and prints latency percentiles. With
`--pid`, also prints that process's resident memory.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
import urllib.request
from pathlib import Path

from bot.knowledge.entries import load_knowledge
from bot.ops.stats import percentile


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise ValueError(f"no VmRSS for pid {pid}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="http://127.0.0.1:5005")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--pid", type=int, help="Rasa server process id, to report its memory")
    args = parser.parse_args(argv)

    kb = load_knowledge()
    questions = [kb.entries[faq_id].question for faq_id in kb.faq_ids()]
    seconds = []
    for round_number in range(args.rounds):
        for index, question in enumerate(questions):
            body = json.dumps({"sender": f"latency-{round_number}-{index}", "message": question})
            request = urllib.request.Request(
                f"{args.url}/webhooks/rest/webhook", data=body.encode(),
                headers={"Content-Type": "application/json"},
            )
            start = time.perf_counter()
            with urllib.request.urlopen(request, timeout=30) as response:
                response.read()
            seconds.append(time.perf_counter() - start)
    ms = [1000 * s for s in seconds]
    print(f"REST replies: {len(ms)}  median {statistics.median(ms):.1f} ms  "
          f"p95 {percentile(ms, 0.95):.1f} ms  p99 {percentile(ms, 0.99):.1f} ms  "
          f"max {max(ms):.1f} ms")
    if args.pid:
        print(f"Rasa server resident memory: {rss_mb(args.pid):.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
