"""The chat on a phone (360 px wide, a touch screen) and zoomed in, in Debian's Chromium driven
by Playwright against the running stack: what a person sees and can do.

Screenshots of each state go to tests/artifacts/screenshots/phone-*.png (not committed).
These checks are Playwright's own: roles, names, focus, geometry; axe-core's WCAG checks of the
same pages are in tests/test_accessibility.py.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, BrowserContext, Locator, Page, expect
from test_browser import SHOTS, browser, web  # noqa: F401 (the browser fixture)

from bot.ops.serve import Stack

PHONE = {"viewport": {"width": 360, "height": 740}, "is_mobile": True, "has_touch": True}
OPENER = "Chat with the help desk assistant"
LONG_QUESTION = "who can get a massone account"  # massone_eligibility: 480 characters
BOT = 30_000  # ms to wait for the bot: turns are slow on a loaded 2-core machine


def shot(page: Page, name: str) -> None:
    """What the screen shows now (not the whole page: the chat is fixed to the screen)."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SHOTS / f"{name}.png")


@pytest.fixture
def phone(browser: Browser) -> Iterator[Page]:  # noqa: F811
    context: BrowserContext = browser.new_context(**PHONE)
    page = context.new_page()
    page.set_default_timeout(20_000)
    yield page
    context.close()


def open_chat(page: Page, stack: Stack, path: str = "/help/massone_faq") -> None:
    page.goto(web(stack, path))
    page.get_by_role("button", name=OPENER).click()
    expect(page.get_by_role("log")).to_contain_text("Hi! I can help", timeout=BOT)


def say(page: Page, message: str) -> None:
    bot_said = page.locator("#chat-log .chat-msg-bot").count()
    box = page.get_by_label("Message")
    box.fill(message)
    box.press("Enter")
    expect(page.locator("#chat-log .chat-msg-bot").nth(bot_said)).to_be_visible(timeout=BOT)
    expect(page.locator("#chat-typing")).to_be_hidden(timeout=BOT)


def top_in_view(node: Locator) -> bool:
    """Whether the element's top is inside the chat log's visible area."""
    return node.evaluate(
        """(node) => {
            const log = document.getElementById('chat-log').getBoundingClientRect();
            const box = node.getBoundingClientRect();
            return box.top >= log.top - 1 && box.top < log.bottom;
        }""")


def test_a_long_answer_shows_its_start_and_more_on_request(stack: Stack, phone: Page) -> None:
    open_chat(phone, stack)
    say(phone, LONG_QUESTION)
    answer = phone.locator("#chat-log .chat-msg-bot").last
    expect(answer).to_contain_text("eligible for MassONE accounts")
    shown = answer.inner_text()
    assert len(shown) < 380, shown  # the first part only, cut at a sentence
    assert shown.rstrip().endswith(("More", ".")), shown
    more = answer.get_by_role("button", name="More")
    expect(more).to_have_attribute("aria-expanded", "false")
    # The start of the answer is on screen, not scrolled away under the rest.
    assert top_in_view(answer)
    # A series in the answer is a real list.
    expect(answer.get_by_role("list").first.get_by_role("listitem")).to_have_count(6)
    shot(phone, "phone-long-answer")
    more.click()
    expect(answer).to_contain_text("also eligible")
    expect(answer.locator(".chat-rest")).to_be_focused()
    assert len(answer.inner_text()) > len(shown)
    shot(phone, "phone-long-answer-more")


def test_phone_numbers_and_addresses_are_links_to_tap(stack: Stack, phone: Page) -> None:
    open_chat(phone, stack, "/help/ese_login_help")
    say(phone, "who do I call for ESE customer service?")
    log = phone.get_by_role("log")
    expect(log.get_by_role("link", name="(781) 338-6600")).to_have_attribute(
        "href", "tel:+17813386600")
    say(phone, "what is the email address of the massone help desk?")
    expect(log.get_by_role("link", name="massonehelp@doe.mass.edu").last).to_have_attribute(
        "href", "mailto:massonehelp@doe.mass.edu")
    shot(phone, "phone-links")


def test_a_touch_screen_gets_no_keyboard_hints(stack: Stack, phone: Page,
                                               browser: Browser) -> None:  # noqa: F811
    open_chat(phone, stack)
    hint = phone.locator("#chat-hint")
    expect(hint).to_have_text(re.compile("Never type a password here"))
    expect(hint.get_by_text("Press Enter to send")).to_be_hidden()
    # Opening on a touch screen does not pop the keyboard over the greeting.
    expect(phone.get_by_label("Message")).not_to_be_focused()
    desktop = browser.new_context(viewport={"width": 1280, "height": 900})
    page = desktop.new_page()
    open_chat(page, stack)
    expect(page.locator("#chat-hint").get_by_text("Press Enter to send, Escape to close.")
           ).to_be_visible()
    expect(page.get_by_label("Message")).to_be_focused()
    desktop.close()


def test_the_rating_is_asked_once_at_the_end_and_no_offers_a_person(
    stack: Stack, phone: Page
) -> None:
    open_chat(phone, stack)
    rating = phone.get_by_role("group", name=re.compile("Did this conversation help"))
    say(phone, "does massone cost anything?")
    expect(phone.get_by_role("log")).to_contain_text("no charge")
    expect(rating).to_have_count(0)  # no permanent bar under the answers
    say(phone, "thanks, bye")
    expect(rating).to_be_visible()
    shot(phone, "phone-rating")
    rating.get_by_role("button", name="No, it didn't help").click()
    group = phone.locator(".chat-rating-inline")
    expect(group).to_contain_text("a person at the help desk can take it from here")
    group.get_by_role("button", name="Talk to a person").click()
    expect(phone.get_by_role("log")).to_contain_text("what do you need help with?", timeout=BOT)
    shot(phone, "phone-rating-person")
    # Asked once: closing the chat now asks nothing more.
    phone.get_by_role("button", name="Close the chat").click()
    expect(phone.locator("#chat-rating-closed")).to_be_hidden()


def test_no_rating_after_only_a_refusal(stack: Stack, phone: Page) -> None:
    open_chat(phone, stack)
    say(phone, "what's the weather in boston tomorrow?")
    expect(phone.get_by_role("log")).to_contain_text("not something I can help with")
    say(phone, "ok bye")
    phone.wait_for_timeout(1500)
    expect(phone.get_by_role("group", name=re.compile("Did this conversation help"))
           ).to_have_count(0)
    phone.get_by_role("button", name="Close the chat").click()
    expect(phone.locator("#chat-rating-closed")).to_be_hidden()


def test_closing_after_an_answer_asks_once_beside_the_opener(stack: Stack, phone: Page) -> None:
    open_chat(phone, stack)
    say(phone, "does massone cost anything?")
    phone.get_by_role("button", name="Close the chat").click()
    box = phone.locator("#chat-rating-closed")
    expect(box).to_contain_text("Did this conversation help?")
    shot(phone, "phone-rating-on-close")
    box.get_by_role("button", name="Not now").click()
    expect(box).to_be_hidden()
    phone.get_by_role("button", name=OPENER).click()
    phone.get_by_role("button", name="Close the chat").click()
    expect(box).to_be_hidden()  # once


def test_the_full_screen_chat_keeps_focus_and_gives_it_back(stack: Stack, phone: Page) -> None:
    phone.goto(web(stack, "/help/massone_faq"))
    # A skip link, second after "Skip to the main content", reaches the chat opener.
    phone.keyboard.press("Tab")
    expect(phone.get_by_role("link", name="Skip to the main content")).to_be_focused()
    phone.keyboard.press("Tab")
    skip = phone.get_by_role("link", name="Skip to the chat")
    expect(skip).to_be_focused()
    shot(phone, "phone-skip-link")
    phone.keyboard.press("Enter")
    opener = phone.get_by_role("button", name=OPENER)
    expect(opener).to_be_focused()
    phone.keyboard.press("Enter")
    expect(phone.get_by_role("log")).to_contain_text("Hi! I can help")
    panel = phone.locator("#chat-panel")
    box = panel.bounding_box()
    assert box["width"] <= 360 and box["height"] >= 700  # the whole screen
    expect(panel).to_have_attribute("aria-modal", "true")
    for _ in range(12):  # round and round, never out to the page behind
        phone.keyboard.press("Tab")
        assert phone.evaluate("document.getElementById('chat-panel')"
                              ".contains(document.activeElement)")
    for _ in range(6):
        phone.keyboard.press("Shift+Tab")
        assert phone.evaluate("document.getElementById('chat-panel')"
                              ".contains(document.activeElement)")
    assert phone.evaluate("document.getElementById('main').inert")  # the page behind is inert
    phone.keyboard.press("Escape")
    expect(opener).to_be_focused()
    assert not phone.evaluate("document.getElementById('main').inert")


@pytest.mark.parametrize(("zoom", "viewport"), [
    ("200", {"width": 640, "height": 450}),  # 1280 x 900 at 200%
    ("400", {"width": 320, "height": 225}),  # 1280 x 900 at 400%
])
def test_the_chat_is_usable_zoomed_in(stack: Stack, browser: Browser, zoom: str,  # noqa: F811
                                      viewport: dict[str, int]) -> None:
    context = browser.new_context(viewport=viewport)
    page = context.new_page()
    page.set_default_timeout(20_000)
    open_chat(page, stack)
    say(page, "does massone cost anything?")
    expect(page.get_by_role("log")).to_contain_text("no charge")
    for control in (page.get_by_label("Message"), page.get_by_role("button", name="Send"),
                    page.get_by_role("button", name="Close the chat")):
        control.scroll_into_view_if_needed()
        box = control.bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= viewport["width"]
    # Nothing wider than the screen: no sideways scrolling.
    assert page.evaluate("document.documentElement.scrollWidth") <= viewport["width"]
    answer = page.locator("#chat-log .chat-msg-bot").last
    answer.scroll_into_view_if_needed()
    expect(answer).to_be_in_viewport()
    shot(page, f"zoom-{zoom}-chat")
    page.get_by_role("button", name="Close the chat").click()
    assert page.evaluate("document.documentElement.scrollWidth") <= viewport["width"]
    shot(page, f"zoom-{zoom}-page")
    context.close()


def test_the_date_of_birth_question_links_the_privacy_notice(stack: Stack, phone: Page) -> None:
    open_chat(phone, stack, "/help/ese_login_help")
    for message in ("I forgot my ESE security portal password", "dan.sample", "Dan", "Sample"):
        say(phone, message)
    question = phone.locator("#chat-log .chat-msg-bot").last
    expect(question).to_contain_text("What is your date of birth?")
    link = phone.get_by_role("link", name=re.compile("our privacy notice"))
    expect(link).to_have_count(1)  # once, at the question itself
    expect(question.get_by_role("link", name=re.compile("our privacy notice"))
           ).to_have_attribute("href", "/privacy")
    shot(phone, "phone-privacy-link")
    phone.goto(web(stack, "/privacy"))
    expect(phone.get_by_role("heading", level=1)).to_contain_text("Privacy notice")
    expect(phone.locator("main")).to_contain_text("Conversations are deleted after 30 days")
    expect(phone.get_by_role("dialog")).to_have_count(0)  # read on its own, no chat over it
    assert phone.evaluate("document.documentElement.scrollWidth") <= 360
    shot(phone, "phone-privacy-notice")
