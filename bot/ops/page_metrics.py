"""Measure the help page in a real browser against `make run`: `python -m bot.ops.page_metrics`.

For each round, in a fresh browser context (nothing cached): the page weight (bytes of every
response the page loads, compressed as sent), the time to the load event, the time from
opening the chat to the greeting (socket connect + first turn), and from sending a question to
its answer on screen. Needs Chromium (`make browser`; CHROMIUM=/path to use another).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

from playwright.sync_api import Response, sync_playwright

CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
QUESTION = "does massone cost anything?"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="http://127.0.0.1:8000/help/massone_faq")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)
    chromium = os.environ.get("CHROMIUM", "/usr/bin/chromium")
    weights, loads, greetings, answers = [], [], [], []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        for _ in range(args.rounds):
            context = browser.new_context()
            page = context.new_page()
            sizes: list[int] = []

            def count(response: Response, sizes: list[int] = sizes) -> None:
                sizes.append(len(response.body()) if response.ok else 0)

            page.on("response", count)
            start = time.perf_counter()
            page.goto(args.url, wait_until="load")
            loads.append(time.perf_counter() - start)
            start = time.perf_counter()
            page.get_by_role("button", name="Chat with the help desk assistant").click()
            page.locator("#chat-log .chat-msg-bot").first.wait_for()
            greetings.append(time.perf_counter() - start)
            box = page.get_by_label("Message")
            box.fill(QUESTION)
            start = time.perf_counter()
            box.press("Enter")
            page.locator("#chat-log .chat-msg-bot").nth(1).wait_for()
            answers.append(time.perf_counter() - start)
            weights.append(sum(sizes))
            context.close()
        browser.close()
    print(f"page weight: {statistics.median(weights) / 1024:.1f} KB "
          f"({len(sizes)} responses, uncompressed bodies)")
    for label, values in (("load event", loads), ("open chat -> greeting", greetings),
                          ("question -> answer on screen", answers)):
        ms = sorted(1000 * value for value in values)
        print(f"{label}: median {statistics.median(ms):.0f} ms, max {ms[-1]:.0f} ms "
              f"({len(ms)} rounds)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
