"""The offer of a person now, in action_respond on real rasa-sdk Trackers and a real database:
"Chat with someone now" opens a waiting live chat and pauses the bot."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from rasa_sdk import Tracker
from rasa_sdk.events import ConversationPaused
from rasa_sdk.executor import CollectingDispatcher

from actions.actions import ActionRespond
from bot import services
from bot.console.agents import AgentService
from bot.live.service import WAITING


@pytest.fixture
def agent_available(action_database: str, monkeypatch: pytest.MonkeyPatch) -> int:
    monkeypatch.setenv("LIVE_CHAT_HOURS", "always")
    services.settings.cache_clear()
    services.live_desk.cache_clear()
    agent = AgentService(services.sessions()).create(
        "jdoe", "a long enough passphrase 1", display_name="Jo Doe")
    services.live_desk().set_available(agent.id, True)
    return agent.id


def tracker(text: str, channel: str = "socketio", **slots: Any) -> Tracker:
    events = [
        {"event": "user", "text": "my roster is empty", "timestamp": 1_700_000_000,
         "input_channel": channel, "parse_data": {}},
        {"event": "bot", "text": "Sorry, I'm not sure I understood.", "timestamp": 1_700_000_001},
        {"event": "user", "text": text, "timestamp": 1_700_000_002, "input_channel": channel,
         "parse_data": {}},
    ]
    return Tracker(
        sender_id="live-user", slots={"system": "massone", "last_answer": "massone_cost", **slots},
        latest_message={"text": text, "intent": {"name": "human_handoff", "confidence": 0.99},
                        "entities": []},
        events=events, paused=False, followup_action=None, active_loop={},
        latest_action_name="action_listen",
    )


def run(tracker_: Tracker) -> tuple[list[dict[str, Any]], list[Any]]:
    dispatcher = CollectingDispatcher()
    events = asyncio.run(ActionRespond().run(dispatcher, tracker_, {}))
    return dispatcher.messages, events


def test_someone_free_is_offered_and_chosen(agent_available: int) -> None:
    messages, events = run(tracker("can I talk to a person"))
    assert "can chat with you now" in messages[-1]["text"]
    now = messages[-1]["buttons"][0]
    assert now["title"] == "Chat with someone now"
    assert services.live_desk().board(agent_available).waiting == []

    messages, events = run(tracker(now["payload"]))
    assert ConversationPaused() in events
    assert "you're number 1 in the queue" in messages[-1]["text"]
    assert messages[-1]["custom"] == {"live": {"state": "waiting"}}
    [chat] = services.live_desk().board(agent_available).waiting
    assert chat.status == WAITING
    assert chat.facts == {"System": "MassONE",
                          "Last topic": "Is there any cost involved in using MassONE?"}
    assert [entry["text"] for entry in chat.transcript][0] == "my roster is empty"


def opens_the_request(events: list[Any]) -> bool:
    return {"event": "action", "name": "request_form", "policy": None, "confidence": None,
            "action_text": None, "hide_rule_turn": False} in events or any(
        e.get("event") == "followup" and e.get("name") == "request_form" for e in events)


def test_nobody_free_gets_the_request(action_database: str) -> None:
    messages, events = run(tracker("can I talk to a person"))
    assert opens_the_request(events) and ConversationPaused() not in events
    assert "Chat with someone now" not in str(messages)


def test_the_rest_channel_gets_the_request(agent_available: int) -> None:
    messages, events = run(tracker("can I talk to a person", channel="rest"))
    assert opens_the_request(events) and ConversationPaused() not in events
