"""action_respond on real rasa-sdk Trackers and dispatchers: the adapter from Rasa to
bot/dialogue (whose decisions tests/test_dialogue_manager.py covers)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from rasa_sdk import Tracker
from rasa_sdk.events import FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import select

from actions.actions import ActionRespond
from bot.db import make_engine, session_factory
from bot.models import Conversation, UnansweredMessage


@pytest.fixture(autouse=True)
def _database(action_database: str) -> None:
    """Actions record conversation statistics: in a database of the test's own."""


def tracker(message: dict[str, Any], **slots: Any) -> Tracker:
    return Tracker(
        sender_id="test",
        slots={"system": None, "pending_question": None, **slots},
        latest_message={"entities": [], **message},
        events=[],
        paused=False,
        followup_action=None,
        active_loop={},
        latest_action_name="action_listen",
    )


def faq(faq_id: str, text: str = "", entities: list | None = None) -> dict[str, Any]:
    return {
        "text": text,
        "intent": {"name": "faq", "confidence": 0.95},
        "response_selector": {
            "faq": {"response": {"intent_response_key": f"faq/{faq_id}", "confidence": 0.9}}
        },
        "entities": entities or [],
    }


def run(action, tracker_: Tracker) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    dispatcher = CollectingDispatcher()
    events = asyncio.run(action.run(dispatcher, tracker_, {}))
    return dispatcher.messages, events


def test_answer_carries_its_source() -> None:
    messages, events = run(ActionRespond(), tracker(faq("massone_cost")))
    assert "no charge" in messages[0]["text"]
    assert messages[1]["custom"]["faq_id"] == "massone_cost"
    assert messages[1]["custom"]["source"] == "MassONE FAQ - Accounts"
    assert SlotSet("pending_question", None) in events
    assert SlotSet("last_answer", "massone_cost") in events


def test_ambiguous_question_asks_which_system_then_answers() -> None:
    ask = {"text": "I forgot my password", "intent": {"name": "forgot_password", "confidence": 0.9}}
    messages, events = run(ActionRespond(), tracker(ask))
    assert [b["payload"] for b in messages[0]["buttons"]] == [
        '/choose_system{"system": "ese_portal"}',
        '/choose_system{"system": "massone"}',
    ]
    assert SlotSet("pending_question", "forgot_password") in events

    choice = {
        "text": '/choose_system{"system": "massone"}',
        "intent": {"name": "choose_system", "confidence": 1.0},
        "entities": [{"entity": "system", "value": "massone"}],
    }
    messages, events = run(ActionRespond(), tracker(choice, pending_question="forgot_password"))
    assert "Forgot your password?" in messages[0]["text"]
    assert messages[1]["custom"]["faq_id"] == "forgot_password"
    assert SlotSet("system", "massone") in events


def test_remembered_system_picks_the_counterpart() -> None:
    remembered = tracker(faq("massone_helpdesk_contact"), system="ese_portal")
    messages, _ = run(ActionRespond(), remembered)
    assert messages[1]["custom"]["faq_id"] == "ese_customer_service"
    assert "(781) 338-6600" in messages[0]["text"]


def test_system_named_in_the_message_wins_over_the_slot() -> None:
    said = faq("massone_helpdesk_contact", entities=[{"entity": "system", "value": "MassONE"}])
    messages, events = run(ActionRespond(), tracker(said, system="ese_portal"))
    assert messages[1]["custom"]["faq_id"] == "massone_helpdesk_contact"
    assert SlotSet("system", "massone") in events


def test_unsure_faq_gets_the_honest_fallback() -> None:
    unsure = faq("massone_cost")
    unsure["response_selector"]["faq"]["response"]["confidence"] = 0.1
    messages, _ = run(ActionRespond(), tracker(unsure))
    assert "not something I can help with" in messages[0]["text"]
    assert not any("custom" in m and m["custom"] for m in messages)


def test_choosing_a_system_with_nothing_pending_acknowledges_it() -> None:
    choice = {"text": "ELAR", "intent": {"name": "choose_system"},
              "entities": [{"entity": "system", "value": "ELAR"}]}
    messages, events = run(ActionRespond(), tracker(choice))
    assert "ESE Security Portal" in messages[0]["text"]
    assert events == [SlotSet("system", "ese_portal")]


def test_fallback_says_what_the_bot_can_do() -> None:
    messages, events = run(ActionRespond(), tracker({"text": "what's for lunch",
                                                     "intent": {"name": "out_of_scope"}}))
    assert "not something I can help with" in messages[0]["text"]
    assert SlotSet("misses", 1) in events


def test_a_flow_opens_its_form_with_what_the_message_gave() -> None:
    message = {"text": "forgot my massone password, my username is jdoe7",
               "intent": {"name": "forgot_password", "confidence": 0.9},
               "entities": [{"entity": "system", "value": "massone", "start": 10}]}
    _, events = run(ActionRespond(), tracker(message))
    assert SlotSet("account_identifier", "jdoe7") in events
    assert events[-1] == FollowupAction("password_form")


def test_a_directory_administrator_is_looked_up(action_database: str) -> None:
    message = {"text": "who is the directory admin for lowell",
               "intent": {"name": "find_directory_admin", "confidence": 0.95},
               "entities": [{"entity": "district", "value": "lowell", "start": 31}]}
    messages, events = run(ActionRespond(), tracker(message))
    assert "Lowell" in messages[0]["text"]
    assert SlotSet("last_answer", "find_directory_admin") in events


def test_answers_and_fallbacks_are_counted_and_unanswered_kept(action_database: str) -> None:
    run(ActionRespond(), tracker(faq("massone_cost")))
    unknown = {"text": "can you renew my car registration? mail me at a@example.org",
               "intent": {"name": "out_of_scope", "confidence": 0.9}}
    run(ActionRespond(), tracker(unknown))
    with session_factory(make_engine(action_database))() as session:
        [conversation] = session.execute(select(Conversation)).scalars()
        [message] = session.execute(select(UnansweredMessage)).scalars()
    assert (conversation.answers, conversation.fallbacks, conversation.tickets) == (1, 1, 0)
    assert message.text == "can you renew my car registration? mail me at [e-mail]"
    assert message.normalised == "can you renew my car registration mail me at e mail"
