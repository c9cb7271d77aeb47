"""The README's screenshots, taken again: `python -m bot.ops.screenshots [--out docs]`.

Starts the whole bot on free ports with a fresh SQLite database holding the fictional demo
directory (nothing of `make run`'s is touched), then in Chromium: the help page on a phone
(360 x 740) with the chat open on a long answer, and the console's ticket page (1280 x 800)
for a request filed in the chat. Needs the trained model (`make train`) and Chromium
(`make browser`; CHROMIUM=/path to use another). Writes docs/screenshots/*.png.
"""

from __future__ import annotations

import argparse
import os
import re
import secrets
import sys
import tempfile
from pathlib import Path

from playwright.sync_api import Browser, Page, expect, sync_playwright

from bot.cli import DEMO_ACCOUNTS
from bot.console.agents_cli import ensure_demo_agent
from bot.db import make_engine, session_factory, upgrade
from bot.directory.admins_import import import_admins
from bot.directory.cli import DEMO_ADMINS
from bot.ops.serve import ROOT, Stack, free_port
from bot.recovery.accounts_import import import_accounts, read_file

CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
OPENER = "Chat with the help desk assistant"
REFERENCE = re.compile(r"HD-\d{4}-\d{6}")


def _bot_turn(page: Page, message: str) -> None:
    """Type `message` and wait for the assistant's answer."""
    said = page.locator("#chat-log .chat-msg-bot").count()
    page.get_by_label("Message").fill(message)
    page.get_by_label("Message").press("Enter")
    expect(page.locator("#chat-log .chat-msg-bot").nth(said)).to_be_visible(timeout=30_000)
    expect(page.locator("#chat-typing")).to_be_hidden(timeout=30_000)


def phone_chat(browser: Browser, web: str, out: Path) -> Path:
    """The help page on a phone, the chat open on an answer with "More"."""
    context = browser.new_context(viewport={"width": 360, "height": 740}, is_mobile=True,
                                  has_touch=True, device_scale_factor=2)
    page = context.new_page()
    page.goto(f"{web}/help/massone_faq")
    page.get_by_role("button", name=OPENER).click()
    expect(page.get_by_role("log")).to_contain_text("Hi! I can help", timeout=30_000)
    _bot_turn(page, "who can get a massone account?")
    path = out / "chat-phone.png"
    page.get_by_label("Message").blur()  # the phone's keyboard is put away to read
    page.wait_for_timeout(300)  # the typing dots fade
    page.screenshot(path=path)
    context.close()
    return path


def console_ticket(browser: Browser, web: str, agent: tuple[str, str], out: Path) -> Path:
    """A request filed in the chat, then the console's ticket page an agent works from."""
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    page.goto(f"{web}/help/massone_faq")
    page.get_by_role("button", name=OPENER).click()
    expect(page.get_by_role("log")).to_contain_text("Hi! I can help", timeout=30_000)
    for message in ("I moved to a different district, how do I move my MassONE account?",
                    "Lincoln Elementary School, user name jon.smith", "Worcester Public Schools",
                    "Boston Latin School", "boston", "09/01/2026", "jon.smith@example.org"):
        _bot_turn(page, message)
    expect(page.get_by_role("button", name="Yes, send it")).to_be_visible(timeout=30_000)
    page.get_by_role("button", name="Yes, send it").click()
    expect(page.get_by_role("log")).to_contain_text("Done: your request is", timeout=30_000)
    reference = REFERENCE.search(page.get_by_role("log").inner_text()).group(0)
    page.goto(f"{web}/console")
    page.get_by_label("Username").fill(agent[0])
    page.get_by_label("Password").fill(agent[1])
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("link", name=reference).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(reference)
    path = out / "console-ticket.png"
    page.screenshot(path=path)
    context.close()
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="helpdesk-shots-") as home:
        database_url = f"sqlite:///{Path(home) / 'helpdesk.sqlite3'}"
        upgrade(database_url)
        engine = make_engine(database_url)
        with session_factory(engine)() as session:
            import_accounts(session, read_file(DEMO_ACCOUNTS))
            import_admins(session, read_file(DEMO_ADMINS))
        engine.dispose()
        agent = ensure_demo_agent(database_url)
        assert agent is not None
        stack = Stack(rasa_port=free_port(), action_port=free_port(), web_port=free_port(),
                      smtp_port=free_port(), inbound_port=free_port(),
                      mail_dir=Path(home) / "mail", log_dir=Path(home) / "logs",
                      env={"DATABASE_URL": database_url, "SECRET_KEY": secrets.token_hex(16)})
        print("starting the bot (a minute or two)...", flush=True)
        stack.start()
        web = f"http://127.0.0.1:{stack.web_port}"
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(
                    executable_path=os.environ.get("CHROMIUM", "/usr/bin/chromium"),
                    args=CHROMIUM_ARGS)
                for path in (phone_chat(browser, web, args.out),
                             console_ticket(browser, web, agent, args.out)):
                    print(f"wrote {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")
                browser.close()
        finally:
            stack.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
