"""Live chat with a person (bot.live): the state machine on a real database (SQLite and
PostgreSQL), with a settable clock."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from conftest import Clock

from bot.console.agents import AgentInfo, AgentService
from bot.db import make_engine, session_factory
from bot.live.service import (
    ACTIVE,
    RETURNED,
    TICKETED,
    WAITING,
    LiveChatError,
    LiveDesk,
)
from bot.models import Ticket
from bot.tickets.business_hours import HELP_DESK
from bot.tickets.service import TicketService

PASSWORD = "a long enough passphrase 1"
# A Tuesday at 10:00 Eastern: the desk is open.
OPEN_HOURS = dt.datetime(2026, 3, 3, 15, 0, tzinfo=dt.timezone.utc)


@pytest.fixture
def world(database_url: str):
    sessions = session_factory(make_engine(database_url))
    clock = Clock(OPEN_HOURS)
    agents = AgentService(sessions, clock=clock)
    jo = agents.create("jdoe", PASSWORD, display_name="Jo Doe")
    sam = agents.create("sam", PASSWORD, display_name="Sam Smith")
    desk = LiveDesk(sessions, clock=clock, agent_timeout=30)
    return desk, clock, jo, sam, sessions


def opened(desk: LiveDesk, conversation: str = "c1") -> int:
    return desk.open_chat(conversation, [{"from": "user", "text": "I need a person", "at": ""}],
                          {"summary": "roster"}, "massone").chat_id


def told(desk: LiveDesk, conversation: str = "c1", after: int = 0) -> list[str]:
    return [d.text for d in desk.deliveries([conversation], after)]


def test_offered_only_in_hours_with_an_agent_available(world) -> None:
    desk, clock, jo, _sam, _ = world
    assert not desk.can_offer()  # nobody available
    desk.set_available(jo.id, True)
    assert desk.can_offer()
    clock.advance(seconds=31)  # the live page stopped sending heartbeats
    assert not desk.can_offer()
    desk.heartbeat(jo.id)
    assert desk.can_offer()
    clock.now = dt.datetime(2026, 3, 7, 15, 0, tzinfo=dt.timezone.utc)  # a Saturday
    desk.heartbeat(jo.id)
    assert not desk.can_offer()
    assert LiveDesk(desk._sessions, clock=clock, always_open=True).can_offer()
    desk.set_available(jo.id, False)
    assert not LiveDesk(desk._sessions, clock=clock, always_open=True).can_offer()
    assert not HELP_DESK.is_open(clock.now)


def test_a_chat_is_taken_talked_in_and_handed_back(world) -> None:
    desk, clock, jo, sam, _ = world
    desk.set_available(jo.id, True)
    offered = desk.expected_wait()
    chat_id = opened(desk)
    assert desk.open_chat("c1", [], {}, None).wait_minutes == offered  # what was offered
    assert opened(desk) == chat_id  # asking twice opens one chat
    assert desk.open_chat("c2", [], {}, None).position == 2
    board = desk.board(jo.id)
    assert [c.id for c in board.waiting][0] == chat_id and board.available
    assert board.waiting[0].transcript[0]["text"] == "I need a person"

    desk.take(chat_id, jo)
    with pytest.raises(LiveChatError):
        desk.take(chat_id, sam)  # first come, first served
    assert told(desk) == ["You're now chatting with Jo from the help desk."]
    assert desk.latest_message_id("c1") == desk.deliveries(["c1"], 0)[-1].message_id
    assert desk.latest_message_id("nobody") == 0
    assert desk.user_says("c1", "my roster is empty")
    desk.agent_says(chat_id, jo, "Let me look.")
    with pytest.raises(LiveChatError):
        desk.agent_says(chat_id, sam, "Not mine")
    deliveries = desk.deliveries(["c1"], 0)
    assert [(d.sender, d.text, d.agent_name) for d in deliveries][-1] == (
        "agent", "Let me look.", "Jo")
    assert told(desk, after=deliveries[-1].message_id) == []
    chat = desk.chat(chat_id)
    assert chat.status == ACTIVE and [m.sender for m in chat.messages] == [
        "system", "user", "agent"]
    assert not desk.claim_resume("c1")  # still open: the bot stays quiet

    desk.hand_back(chat_id, jo)
    assert "handed you back to the assistant" in told(desk)[-1]
    assert desk.chat(chat_id).status == RETURNED
    assert not desk.user_says("c1", "thanks")  # the bot's again
    assert desk.claim_resume("c1") and not desk.claim_resume("c1")  # exactly once
    with pytest.raises(LiveChatError):
        desk.hand_back(chat_id, jo)


def test_a_dropped_agent_returns_the_chat_to_the_queue(world) -> None:
    desk, clock, jo, sam, _ = world
    desk.set_available(jo.id, True)
    desk.set_available(sam.id, True)
    chat_id = opened(desk)
    desk.take(chat_id, jo)
    clock.advance(seconds=20)
    desk.heartbeat(jo.id)
    desk.heartbeat(sam.id)
    assert desk.sweep() == 0
    clock.advance(seconds=35)
    desk.heartbeat(sam.id)  # Jo's browser is gone; Sam's is not
    assert desk.sweep() == 1
    assert "Jo from the help desk was disconnected" in told(desk)[-1]
    board = desk.board(sam.id)
    assert [c.id for c in board.waiting] == [chat_id] and board.agents_available == 1
    desk.take(chat_id, sam)
    assert told(desk)[-1] == "You're now chatting with Sam from the help desk."


def test_a_waiting_chat_nobody_can_take_goes_back_to_the_bot(world) -> None:
    desk, clock, jo, _sam, _ = world
    desk.set_available(jo.id, True)
    opened(desk)
    clock.advance(seconds=10)
    assert desk.sweep() == 0  # Jo may still take it
    clock.advance(seconds=30)
    assert desk.sweep() == 1
    assert "nobody from the help desk is free" in told(desk)[-1]
    assert desk.claim_resume("c1")


def test_the_user_leaving_shows_as_gone(world) -> None:
    desk, clock, jo, _sam, _ = world
    chat_id = opened(desk)
    assert not desk.chat(chat_id).user_gone
    desk.user_left("c1")
    assert desk.chat(chat_id).user_gone
    desk.user_here(["c1"])
    assert not desk.chat(chat_id).user_gone
    clock.advance(seconds=40)
    assert desk.chat(chat_id).user_gone


def test_a_chat_becomes_a_ticket_with_its_transcript(world) -> None:
    desk, clock, jo, _sam, sessions = world
    desk.set_available(jo.id, True)
    chat_id = opened(desk)
    desk.take(chat_id, jo)
    desk.user_says("c1", "I was born 03/14/1984, mail me at ada@example.org")
    desk.agent_says(chat_id, jo, "I'll file it.")
    reference = desk.to_ticket(chat_id, jo, "ada@example.org", "Empty roster",
                               TicketService(sessions, clock=clock))
    assert reference.startswith("HD-2026-")
    assert reference in told(desk)[-1]
    chat = desk.chat(chat_id)
    assert chat.status == TICKETED and chat.ticket_reference == reference
    with sessions() as session:
        ticket = session.get(Ticket, int(reference[-6:]))
        transcript = json.loads(ticket.transcript)
        assert json.loads(ticket.facts)["summary"] == "Empty roster"
    texts = [entry["text"] for entry in transcript]
    assert "I need a person" in texts
    assert "I was born [date], mail me at [e-mail]" in texts
    assert "Jo: I'll file it." in texts
    assert ticket.kind == "human_handoff" and ticket.contact_email == "ada@example.org"


def test_an_agent_message_is_checked(world) -> None:
    desk, _clock, jo, _sam, _ = world
    chat_id = opened(desk)
    desk.take(chat_id, jo)
    for text in ("   ", "x" * 2001):
        with pytest.raises(LiveChatError):
            desk.agent_says(chat_id, jo, text)
    assert desk.board_signature() != ()


def test_the_board_signature_changes_with_what_the_page_shows(world) -> None:
    desk, clock, jo, _sam, _ = world
    first = desk.board_signature()
    chat_id = opened(desk)
    second = desk.board_signature()
    assert second != first
    assert desk.board_signature() == second
    desk.user_says("c1", "hello?")
    assert desk.board_signature() != second
    assert desk.board(jo.id).waiting[0].id == chat_id
    assert isinstance(jo, AgentInfo) and WAITING == "waiting"
