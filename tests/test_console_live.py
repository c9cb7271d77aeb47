"""Live chats in the console over real HTTP (bot/web/console_live.py): the board, taking a
chat, talking, handing back, a ticket from a chat, and the board's server-sent events."""

from __future__ import annotations

import datetime as dt
import http.client
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import Clock, LiveServer
from test_console import BASE_URL, BOB_PASSWORD, ESCAPED_XSS, PASSWORD, SECRET, XSS, Console

from bot.console.agents import AgentService
from bot.db import make_engine, session_factory, upgrade
from bot.live.service import LiveDesk
from bot.recovery.service import RecoveryService
from bot.settings import Settings, SmtpSettings
from bot.web import create_app
from bot.web.console import CLOCK_KEY, NLU_ADDITIONS_KEY
from bot.web.console_auth import SESSION_COOKIE
from bot.web.console_live import LIVE_POLL_KEY

OPEN_HOURS = dt.datetime(2026, 3, 3, 15, 0, tzinfo=dt.timezone.utc)  # a Tuesday, 10:00 Eastern


@pytest.fixture
def console(tmp_path: Path) -> Iterator[Console]:
    url = f"sqlite:///{tmp_path / 'live.sqlite3'}"
    upgrade(url)
    engine = make_engine(url)
    sessions = session_factory(engine)
    clock = Clock(OPEN_HOURS)
    agents = AgentService(sessions, clock=clock)
    agents.create("alice", PASSWORD, display_name="Alice Admin", role="admin")
    agents.create("bob", BOB_PASSWORD, display_name="Bob Agent", role="agent")
    settings = Settings(database_url=url, public_base_url=BASE_URL, secret_key=SECRET,
                        smtp=SmtpSettings())
    app = create_app(RecoveryService(sessions, BASE_URL, SECRET, clock=clock), settings)
    app[CLOCK_KEY] = clock
    app[NLU_ADDITIONS_KEY] = tmp_path / "console_additions.yml"
    app[LIVE_POLL_KEY] = 0.1
    server = LiveServer(app).start()
    yield Console(server, sessions, clock, tmp_path / "console_additions.yml")
    server.stop()
    engine.dispose()


def test_an_agent_takes_a_chat_talks_and_hands_it_back(console: Console) -> None:
    desk = LiveDesk(console.sessions, clock=console.clock)
    alice = console.signed_in()
    board = alice.get("/console/live")
    assert board.status == 200 and "You are <strong>not available</strong>" in board.text
    alice.post("/console/live/available", {"csrf_token": board.csrf(), "available": "1"})
    assert desk.can_offer()
    chat_id = desk.open_chat("c1", [{"from": "user", "text": XSS, "at": ""}],
                             {"System": "MassONE"}, "massone").chat_id
    board = alice.get("/console/live")
    assert f"Take chat {chat_id}" in board.text and "Waiting (1)" in board.text
    assert alice.post(f"/console/live/{chat_id}/take", {"text": "x"}).status == 403  # no CSRF
    taken = alice.post(f"/console/live/{chat_id}/take", {"csrf_token": board.csrf()})
    assert taken.location == f"/console/live/{chat_id}"
    page = alice.get(f"/console/live/{chat_id}")
    assert ESCAPED_XSS in page.text and XSS not in page.text  # what users type is escaped
    assert [entry.target for entry in console.audit("viewed_live_chat")] == [
        f"live chat {chat_id}"]
    assert "You&#39;re now chatting with Alice" in page.text
    desk.user_says("c1", "hello?")
    sent = alice.post(f"/console/live/{chat_id}/messages",
                      {"csrf_token": page.csrf(), "text": "Hi, I'm looking at it."})
    assert sent.status == 303
    assert [d.text for d in desk.deliveries(["c1"], 0)][-1] == "Hi, I'm looking at it."

    bob = console.signed_in("bob", BOB_PASSWORD)
    bob_page = bob.get(f"/console/live/{chat_id}")
    refused = bob.post(f"/console/live/{chat_id}/messages",
                       {"csrf_token": bob_page.csrf(), "text": "not my chat"})
    assert refused.status == 409

    desk.user_left("c1")  # the user closed the chat window
    assert "the user has left the chat" in alice.get(f"/console/live/{chat_id}").text
    desk.user_here(["c1"])
    assert "the user has left" not in alice.get(f"/console/live/{chat_id}").text
    back = alice.post(f"/console/live/{chat_id}/hand-back", {"csrf_token": page.csrf()})
    assert back.status == 303
    assert "Back with the bot" in alice.get(f"/console/live/{chat_id}").text
    assert desk.claim_resume("c1")


def test_a_chat_becomes_a_ticket(console: Console) -> None:
    desk = LiveDesk(console.sessions, clock=console.clock)
    alice = console.signed_in()
    chat_id = desk.open_chat("c2", [], {}, None).chat_id
    page = alice.get("/console/live")
    alice.post(f"/console/live/{chat_id}/take", {"csrf_token": page.csrf()})
    bad = alice.post(f"/console/live/{chat_id}/ticket", {
        "csrf_token": page.csrf(), "contact_email": "not an address", "summary": "x"})
    assert bad.status == 409 and "e-mail address" in bad.text
    made = alice.post(f"/console/live/{chat_id}/ticket", {
        "csrf_token": page.csrf(), "contact_email": "Ada@Example.org", "summary": "Roster"})
    reference = re.fullmatch(r"/console/tickets/(HD-\d{4}-\d{6})", made.location).group(1)
    ticket = alice.get(made.location)
    assert "Roster" in ticket.text and "ada@example.org" in ticket.text
    assert reference in desk.deliveries(["c2"], 0)[-1].text


def test_the_board_streams_waiting_chats(console: Console) -> None:
    desk = LiveDesk(console.sessions, clock=console.clock)
    alice = console.signed_in()
    desk.open_chat("c3", [], {}, None)
    connection = http.client.HTTPConnection("127.0.0.1", console.server.port, timeout=10)
    connection.request("GET", "/console/live/events",
                       headers={"Cookie": f"{SESSION_COOKIE}={alice.cookie(SESSION_COOKIE)}"})
    response = connection.getresponse()
    assert response.status == 200
    assert response.getheader("Content-Type") == "text/event-stream"
    seen = b""
    while b"event: board" not in seen:
        seen += response.readline()
    data = response.readline()
    assert b'"waiting": 1' in data and b"Take chat" in data
    connection.close()
