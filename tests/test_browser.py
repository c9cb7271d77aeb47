"""The two kinds of users in a real browser (Debian's Chromium driven by Playwright) against the
running stack: a person chatting on the help page, and a help-desk agent in the console.

Screenshots of the main screens go to tests/artifacts/screenshots/ (not committed).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pyotp
import pytest
from conftest import ARTIFACTS, Chat, converse, mails_to, texts
from playwright.sync_api import Browser, Dialog, Page, expect, sync_playwright

from bot.ops.serve import Stack

SHOTS = ARTIFACTS / "screenshots"
CHROMIUM = Path(os.environ.get("CHROMIUM", "/usr/bin/chromium"))
# Chromium here has no network beyond loopback: without these it keeps trying Google's hosts.
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
AGENT, AGENT_PASSWORD = "browser-agent", "a long browser test passphrase"
REFERENCE = re.compile(r"HD-\d{4}-\d{6}")


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        reason = f"Chromium not found at {CHROMIUM} (make test installs Debian's chromium)"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    opened = context.new_page()
    opened.set_default_timeout(20_000)
    yield opened
    context.close()


def shot(page: Page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SHOTS / f"{name}.png", full_page=True)


def web(stack: Stack, path: str) -> str:
    return f"http://127.0.0.1:{stack.web_port}{path}"


def chat_say(page: Page, message: str) -> None:
    box = page.get_by_label("Message")
    box.fill(message)
    box.press("Enter")


def last_bot_text(page: Page) -> str:
    return page.locator("#chat-log .chat-msg-bot").last.inner_text()


def open_chat(page: Page, stack: Stack, path: str = "/help/massone_faq") -> None:
    page.goto(web(stack, path))
    page.get_by_role("button", name="Chat with the help desk assistant").click()
    expect(page.get_by_role("log")).to_contain_text("Hi! I can help")


def test_a_user_gets_a_sourced_answer_that_survives_a_reload(stack: Stack, page: Page) -> None:
    open_chat(page, stack)
    chat_say(page, "does massone cost anything?")
    log = page.get_by_role("log")
    expect(log).to_contain_text("no charge")
    source = log.get_by_role("link", name=re.compile("MassONE FAQ - Accounts"))
    expect(source).to_have_attribute("href", re.compile(r"/help/massone_faq#accounts$"))
    shot(page, "help-page-chat")
    page.reload()
    if not page.get_by_role("log").is_visible():
        page.get_by_role("button", name="Chat with the help desk assistant").click()
    expect(page.get_by_role("log")).to_contain_text("no charge")
    source.first.click()
    expect(page).to_have_url(re.compile(r"/help/massone_faq#accounts$"))


def test_keyboard_alone_and_a_phone_screen(stack: Stack, browser: Browser) -> None:
    context = browser.new_context(viewport={"width": 360, "height": 740})
    page = context.new_page()
    page.goto(web(stack, "/help/ese_login_help"))
    opener = page.get_by_role("button", name="Chat with the help desk assistant")
    opener.focus()
    page.keyboard.press("Enter")
    expect(page.get_by_label("Message")).to_be_focused()
    expect(page.get_by_role("log")).to_contain_text("Hi! I can help")
    page.keyboard.type("who do I call for ESE customer service?")
    page.keyboard.press("Enter")
    expect(page.get_by_role("log")).to_contain_text("338-6600")
    panel_width = page.locator("#chat-panel").bounding_box()["width"]
    assert panel_width <= 360
    shot(page, "help-page-phone")
    page.keyboard.press("Escape")
    expect(opener).to_be_focused()
    context.close()


def test_a_demo_password_is_reset_through_the_emailed_link(stack: Stack, page: Page) -> None:
    address = "dan.sample@example.net"
    before = len(mails_to(stack, address, wait=0))
    open_chat(page, stack, "/help/ese_login_help")
    steps = [("I forgot my ESE security portal password", "What is your user name?"),
             ("dan.sample", "What is your first name"), ("Dan", "And your last name?"),
             ("Sample", "What is your date of birth?"),
             ("01/30/1972", "a link to choose a new password")]
    for message, reply in steps:
        bot_said = page.locator("#chat-log .chat-msg-bot").count()
        chat_say(page, message)
        expect(page.locator("#chat-log .chat-msg-bot").nth(bot_said)).to_be_visible()
        expect(page.locator("#chat-log .chat-msg-bot").last).to_contain_text(reply)
    body = mails_to(stack, address, after=before)[-1].get_content()
    [link] = re.findall(r"http://127\.0\.0\.1:\d+/reset/\S+", body)
    page.goto(link)
    shot(page, "reset-page")
    password = "correct horse battery staple 42"
    page.get_by_label("New password", exact=True).fill(password)
    page.get_by_label("Type the new password again").fill(password)
    page.get_by_role("button", name="Change my password").click()
    expect(page.locator("main")).to_contain_text("Your password was changed")


def create_agent(stack: Stack) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bot.cli", "agents", "create", AGENT, "--name", "Browser Agent",
         "--role", "admin", "--password-stdin"],
        input=AGENT_PASSWORD + "\n", text=True, capture_output=True,
        env={**os.environ, **stack.env}, check=False,
    )
    assert result.returncode == 0 or "already taken" in result.stderr, result.stderr


def sign_in(page: Page, stack: Stack) -> None:
    page.goto(web(stack, "/console"))
    page.get_by_label("Username").fill(AGENT)
    page.get_by_label("Password").fill(AGENT_PASSWORD)
    page.get_by_role("button", name="Sign in").click()


def test_a_ticket_from_the_chat_is_worked_by_an_agent(stack: Stack, page: Page) -> None:
    dialogs: list[Dialog] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog), dialog.dismiss()))
    open_chat(page, stack)
    chat_say(page, "can I talk to a real person please")
    expect(page.get_by_role("log")).to_contain_text("what do you need help with?")
    chat_say(page, "<script>alert('owned')</script> my MassONE roster is empty")
    chat_say(page, "browser.user@example.org")
    expect(page.get_by_role("log")).to_contain_text("Shall I send it?")
    page.get_by_role("button", name="Yes, send it").click()
    expect(page.get_by_role("log")).to_contain_text("Done: your request is")
    reference = REFERENCE.search(page.get_by_role("log").inner_text()).group(0)
    shot(page, "ticket-in-chat")

    create_agent(stack)
    sign_in(page, stack)
    expect(page.get_by_role("heading", level=1)).to_contain_text("Ticket queue")
    shot(page, "console-queue")
    page.get_by_role("link", name=reference).click()
    transcript = page.locator("main")
    expect(transcript).to_contain_text("<script>alert('owned')</script>")
    assert dialogs == []
    shot(page, "console-ticket")
    page.get_by_role("button", name="Assign to me").click()
    reply_box = page.get_by_label("Reply to the user by e-mail")
    reply_box.fill("We have re-synced your roster. Please check.")
    page.get_by_role("button", name="Send the reply").click()
    expect(page.locator("main")).to_contain_text("re-synced your roster")
    page.get_by_label("Status").select_option("resolved")
    page.get_by_role("button", name="Change status").click()
    expect(page.locator("main dd").first).to_contain_text("Resolved")
    reply = mails_to(stack, "browser.user@example.org", after=1)[-1]
    assert reference in reply["Subject"] and "re-synced" in reply.get_content()


def test_a_forged_form_without_csrf_token_is_refused(stack: Stack, page: Page) -> None:
    create_agent(stack)
    sign_in(page, stack)
    expect(page.get_by_role("heading", level=1)).to_contain_text("Ticket queue")
    forged = page.request.post(
        web(stack, "/console/tickets/HD-2026-000001/notes"), form={"text": "forged"},
        fail_on_status_code=False,
    )
    assert forged.status == 403


def test_an_agent_sets_up_a_second_factor_and_signs_in_with_a_code(
    stack: Stack, page: Page
) -> None:
    """TOTP from the console: the QR code and the key as text, a code from the "app" (pyotp
    here), the recovery codes once, then signing in takes the password and a code."""
    agent, password = "totp-agent", "a long totp test passphrase"
    created = subprocess.run(
        [sys.executable, "-m", "bot.cli", "agents", "create", agent, "--name", "TOTP Agent",
         "--password-stdin"],
        input=password + "\n", text=True, capture_output=True,
        env={**os.environ, **stack.env}, check=False,
    )
    assert created.returncode == 0, created.stderr

    def password_step() -> None:
        page.goto(web(stack, "/console"))
        page.get_by_label("Username").fill(agent)
        page.get_by_label("Password").fill(password)
        page.get_by_role("button", name="Sign in").click()

    password_step()
    page.get_by_role("link", name="Second factor").click()
    page.get_by_role("button", name="Set up a second factor").click()
    expect(page.get_by_role("img", name="QR code for your authenticator app")).to_be_visible()
    secret = page.locator("#secret").inner_text().replace(" ", "")
    shot(page, "console-second-factor-setup")
    app = pyotp.TOTP(secret)
    page.get_by_label("Code from the app").fill(app.now())
    page.get_by_role("button", name="Turn on the second factor").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Your second factor is on")
    expect(page.get_by_role("list", name="Recovery codes").locator("li")).to_have_count(10)
    page.get_by_role("link", name="Continue to the console").click()
    page.get_by_role("button", name="Sign out").click()

    password_step()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Type the code")
    page.get_by_label("Code", exact=True).fill("000000")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("That code is not right")
    # The next 30-second step's code: the one just used for the set-up is spent.
    page.get_by_label("Code", exact=True).fill(app.at(time.time() + app.interval))
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Ticket queue")
    shot(page, "console-signed-in-with-a-code")


# --- the agent's day: the live queue, canned replies, the ticket layout ---------------------


def test_the_queue_updates_itself_and_a_canned_reply_is_inserted(
    stack: Stack, browser: Browser, chat: Chat
) -> None:
    create_agent(stack)
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(20_000)
    sign_in(page, stack)
    expect(page.get_by_role("heading", level=1)).to_contain_text("Ticket queue")
    page.get_by_role("link", name="Canned replies").click()
    page.get_by_label("Title").fill(f"Reactivated {chat.sender}")
    page.get_by_label("Text").fill("Hello {first_name}, your account is active again "
                                   "({reference}).")
    page.get_by_role("button", name="Add the canned reply").click()
    expect(page.locator("main")).to_contain_text("The canned reply was added.")
    page.goto(web(stack, "/console"))
    expect(page).to_have_title(re.compile(r"^Ticket queue"))

    # A user files a ticket in the chat; the agent's queue shows it without a reload.
    converse(chat, "my MassONE account was deactivated because I haven't used it",
             "Jon Smith", "Lincoln Elementary School", "Springfield",
             "queue.watcher@example.org")
    reference = REFERENCE.search(texts(chat.say("/affirm"))).group(0)
    row = page.get_by_role("row", name=re.compile(reference))
    expect(row).to_be_visible()
    expect(row).to_contain_text("New")
    expect(page).to_have_title(re.compile(r"^\(1\) Ticket queue"))
    expect(page.locator("#queue-news")).to_contain_text("1 new ticket since you opened")
    shot(page, "console-queue-live")
    page.get_by_role("button", name="Mark as seen").click()
    expect(page).to_have_title(re.compile(r"^Ticket queue"))

    # The ticket: the transcript beside the facts, the canned reply filled in at the cursor.
    row.get_by_role("link", name=reference).click()
    facts = page.locator("#facts").bounding_box()
    transcript = page.locator("#transcript").bounding_box()
    assert transcript["x"] > facts["x"] + facts["width"] - 1  # beside
    assert transcript["y"] < facts["y"] + facts["height"]  # at the same height
    reply = page.get_by_label("Reply to the user by e-mail")
    reply.fill("Thanks. ")
    page.get_by_label("Canned reply").select_option(label=f"Reactivated {chat.sender}")
    page.get_by_role("button", name="Insert into the reply").click()
    expect(reply).to_have_value(
        f"Thanks. Hello Jon, your account is active again ({reference}).")
    expect(page).to_have_url(re.compile(rf"/console/tickets/{reference}$"))  # no reload
    shot(page, "console-ticket-wide")
    page.set_viewport_size({"width": 390, "height": 844})
    facts = page.locator("#facts").bounding_box()
    transcript = page.locator("#transcript").bounding_box()
    assert transcript["y"] >= facts["y"] + facts["height"]  # below, on a narrow screen
    assert transcript["width"] <= 390
    shot(page, "console-ticket-narrow")
    context.close()


def test_an_admin_edits_an_answer_and_the_bot_gives_it_in_the_chat(
    stack: Stack, page: Page
) -> None:
    create_agent(stack)
    sign_in(page, stack)
    page.get_by_role("link", name="Knowledge").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Knowledge review")
    expect(page.locator("main")).to_contain_text("names Internet Explorer 6")
    shot(page, "console-knowledge")
    page.get_by_role("link", name="Is there any cost involved in using MassONE?").click()
    box = page.get_by_label("New text")
    original = box.input_value()
    edited = ("No, there is no charge: MassONE is free for educators and students. Questions? "
              "Call {contact.massone_helpdesk.phone}.")
    try:
        box.fill("Free. Call {contact.massone_helpdesk.phon}")
        page.get_by_role("button", name="Save this answer").click()
        expect(page.get_by_role("alert")).to_contain_text("Did you mean")
        page.get_by_label("New text").fill(edited)
        page.get_by_role("button", name="Save this answer").click()
        expect(page.get_by_role("status")).to_contain_text("The answer was saved")
        shot(page, "console-knowledge-edited")

        open_chat(page, stack)
        chat_say(page, "does massone cost anything?")
        expect(page.get_by_role("log")).to_contain_text(
            "MassONE is free for educators and students. Questions? Call 781-338-3020.")
        shot(page, "chat-edited-answer")
    finally:  # the stack is shared: give the bot its YAML text back, through the console
        page.goto(web(stack, "/console/knowledge/massone_cost"))
        page.get_by_label("New text").fill(original)
        page.get_by_role("button", name="Save this answer").click()
        expect(page.get_by_role("status")).to_contain_text("The answer was saved")
