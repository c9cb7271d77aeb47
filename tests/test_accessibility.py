"""WCAG 2.1 A and AA checks by axe-core (Deque's engine, from the npm registry: `make test`
installs it into build/axe) on the pages people and agents read, in Debian's Chromium: the
help pages with the chat open at 360 px, the privacy notice, the accessibility statement and
the console's sign-in page.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect
from test_browser import browser, web  # noqa: F401 (the browser fixture)

from bot.ops.serve import ROOT, Stack

AXE = ROOT / "build" / "axe" / "node_modules" / "axe-core" / "axe.min.js"
WCAG = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
BOT = 30_000  # ms: turns are slow on a loaded 2-core machine


@pytest.fixture(scope="module")
def axe() -> Path:
    if not AXE.exists():
        reason = f"axe-core not found at {AXE} (`make test` installs it with npm)"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    return AXE


@pytest.fixture
def phone(browser: Browser) -> Iterator[Page]:  # noqa: F811
    # The pages forbid foreign scripts (Content-Security-Policy); axe is let in for the check.
    context = browser.new_context(viewport={"width": 360, "height": 740}, is_mobile=True,
                                  has_touch=True, bypass_csp=True)
    page = context.new_page()
    page.set_default_timeout(20_000)
    yield page
    context.close()


def violations(page: Page, axe: Path) -> list[str]:
    """axe-core's WCAG 2.1 A/AA violations on the page as it is now, one line each."""
    page.add_script_tag(path=str(axe))
    found = page.evaluate(
        "async (tags) => (await axe.run(document, {runOnly: {type: 'tag', values: tags}}))"
        ".violations.map(v => `${v.id} (${v.impact}): ${v.help} at `"
        " + v.nodes.map(n => n.target.join(' ')).slice(0, 3).join(', '))", WCAG)
    return list(found)


@pytest.mark.parametrize("path", ["/", "/help/massone_faq", "/privacy", "/accessibility",
                                  "/console/sign-in"])
def test_pages_have_no_wcag_violations(stack: Stack, phone: Page, axe: Path, path: str) -> None:
    phone.goto(web(stack, path))
    assert violations(phone, axe) == []


def test_the_open_chat_with_an_answer_has_no_wcag_violations(stack: Stack, phone: Page,
                                                             axe: Path) -> None:
    phone.goto(web(stack, "/help/massone_faq"))
    phone.get_by_role("button", name="Chat with the help desk assistant").click()
    expect(phone.get_by_role("log")).to_contain_text("Hi! I can help", timeout=BOT)
    box = phone.get_by_label("Message")
    box.fill("I forgot my password")
    box.press("Enter")
    expect(phone.get_by_role("button", name="MassONE")).to_be_visible(timeout=BOT)
    assert violations(phone, axe) == []


def test_the_check_finds_a_violation_where_there_is_one(phone: Page, axe: Path) -> None:
    phone.set_content('<html lang="en"><body><main><img src="x.png"></main></body></html>')
    assert any(line.startswith("image-alt") for line in violations(phone, axe))
