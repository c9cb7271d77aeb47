"""Live chat with a person, in Debian's Chromium with two pages at once: a user in the help
page's chat widget and an agent in the console (the whole stack runs for real: Rasa with the
socket.io channel, the action server, the web app, one SQLite database).

Prints the time from "Chat with someone now" to the agent's first message on the user's screen
(the agent's part is a script here, so this is the system's own delay: the bot pausing, the
console's live board, the relay).
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect
from test_browser import browser, create_agent, open_chat, shot, sign_in, web  # noqa: F401

from bot.ops.serve import Stack

AGENT_FIRST_NAME = "Browser"  # test_browser's agent is "Browser Agent"
expect.set_options(timeout=20_000)  # two Chromium pages and the stack share a loaded machine


@pytest.fixture
def two_pages(stack: Stack, browser: Browser) -> Iterator[tuple[Page, Page, BrowserContext]]:  # noqa: F811
    create_agent(stack)
    agent_context = browser.new_context(viewport={"width": 1280, "height": 900})
    user_context = browser.new_context(viewport={"width": 1280, "height": 900})
    agent, user = agent_context.new_page(), user_context.new_page()
    for page in (agent, user):
        page.set_default_timeout(30_000)
    yield user, agent, agent_context
    user_context.close()
    agent_context.close()


def say(page: Page, text: str) -> None:
    box = page.get_by_label("Message", exact=True)
    box.fill(text)
    box.press("Enter")


def test_a_user_chats_with_an_agent_who_hands_back_then_drops(
    stack: Stack, two_pages: tuple[Page, Page, BrowserContext]
) -> None:
    user, agent, agent_context = two_pages
    log = user.get_by_role("log")

    # The agent opens the live chats and says they are available.
    sign_in(agent, stack)
    agent.goto(web(stack, "/console/live"))
    agent.get_by_role("button", name="I'm available for chats").click()
    expect(agent.locator("main")).to_contain_text("You are available for live chats")
    expect(agent).to_have_title(re.compile(r"^Live chats"))

    # The user asks for a person: a live chat is offered next to a request.
    open_chat(user, stack)
    say(user, "can I talk to a real person please")
    expect(log).to_contain_text("can chat with you now")
    expect(user.get_by_role("button", name="Leave a request")).to_be_visible()
    shot(user, "live-offer")
    started = time.monotonic()
    user.get_by_role("button", name="Chat with someone now").click()
    expect(log).to_contain_text("you're number 1 in the queue")

    # The waiting chat appears on the agent's board without a reload, counted in the title.
    expect(agent).to_have_title(re.compile(r"^\(1\) Live chats"))
    shot(agent, "live-board-waiting")
    agent.get_by_role("button", name=re.compile(r"^Take chat \d+$")).click()
    expect(agent.locator("#facts")).to_contain_text("can I talk to a real person please")
    agent.get_by_label("Message to the user").fill("Hi, I'm here. What can I do for you?")
    sent = time.monotonic()
    agent.get_by_label("Message to the user").press("Enter")

    # The user sees who they are talking to and the agent's message, in the same widget.
    expect(log).to_contain_text("Hi, I'm here. What can I do for you?")
    shown = time.monotonic()
    expect(log).to_contain_text(f"You're now chatting with {AGENT_FIRST_NAME} from the help desk")
    print(f"\nlive chat: 'Chat with someone now' to the agent's first message on screen: "
          f"{shown - started:.2f} s (of which the agent's Send to the user's screen: "
          f"{shown - sent:.2f} s)")

    # The bot stays quiet; the user's messages reach the agent.
    bot_said = user.locator("#chat-log .chat-msg-bot").count()
    say(user, "my MassONE roster is empty")
    expect(agent.locator("#live-messages")).to_contain_text("my MassONE roster is empty")
    time.sleep(2)  # time enough for the bot to answer, were it not paused
    expect(user.locator("#chat-log .chat-msg-bot")).to_have_count(bot_said)
    shot(user, "live-chat-user")
    shot(agent, "live-chat-agent")

    # Handed back: the bot answers again.
    agent.get_by_role("button", name="Hand back to the bot").click()
    expect(agent.locator("#live-messages")).to_contain_text("Back with the bot")
    expect(log).to_contain_text("handed you back to the assistant")
    say(user, "does massone cost anything?")
    expect(log).to_contain_text("no charge")

    # A second chat; the agent's browser goes away: the chat returns to the queue, the user is
    # told, and with nobody else free the bot takes the conversation back.
    agent.goto(web(stack, "/console/live"))
    say(user, "I want to talk to a person")
    user.get_by_role("button", name="Chat with someone now").last.click()
    expect(log).to_contain_text("in the queue")
    agent.get_by_role("button", name=re.compile(r"^Take chat \d+$")).click()
    expect(log).to_contain_text(f"You're now chatting with {AGENT_FIRST_NAME}")
    expect(user.locator("#chat-log .chat-msg-desk").last).to_contain_text("now chatting with")
    agent_context.close()  # the agent's network or browser is gone: no more heartbeats
    expect(log).to_contain_text(f"{AGENT_FIRST_NAME} from the help desk was disconnected. "
                                "You're back in the queue", timeout=40_000)
    expect(log).to_contain_text("nobody from the help desk is free right now", timeout=40_000)
    shot(user, "live-agent-dropped")
    say(user, "is there any cost for massone?")
    expect(user.locator("#chat-log .chat-msg-bot").last).to_contain_text("no charge")
