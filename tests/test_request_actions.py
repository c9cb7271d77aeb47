"""The request form's actions on real rasa-sdk Trackers: asking, checking, reading back,
correcting, and starting a request."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from rasa_sdk import Tracker
from rasa_sdk.events import FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.actions import ActionRespond
from actions.requests import (
    CONFIRMED,
    ActionAskRequestAnswer,
    ValidateRequestForm,
    start_request,
)
from bot.knowledge.entries import load_knowledge

MERGE_FACTS = {
    "first_account": "jsmith", "second_account": "jsmith2", "keep_account": "jsmith",
    "contact_email": "jon@example.org",
}


@pytest.fixture(autouse=True)
def _database(action_database: str) -> None:
    """Actions record conversation statistics: in a database of the test's own."""


def tracker(text: str | None, intent: str = "inform", entities: list | None = None,
            **slots: Any) -> Tracker:
    return Tracker(
        sender_id="test",
        slots={"system": None, "request_kind": "merge_duplicate_accounts", "request_facts": {},
               "request_stage": None, "offered_request": None, **slots},
        latest_message={"text": text, "intent": {"name": intent, "confidence": 0.9},
                        "entities": entities or []},
        events=[],
        paused=False,
        followup_action=None,
        active_loop={"name": "request_form"},
        latest_action_name="action_listen",
    )


def validate(tracker_: Tracker) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    dispatcher = CollectingDispatcher()
    slots = asyncio.run(ValidateRequestForm().validate_request_answer(
        tracker_.latest_message["text"], dispatcher, tracker_, {}
    ))
    return slots, dispatcher.messages


def ask(tracker_: Tracker) -> list[dict[str, Any]]:
    dispatcher = CollectingDispatcher()
    asyncio.run(ActionAskRequestAnswer().run(dispatcher, tracker_, {}))
    return dispatcher.messages


def test_asks_for_the_first_missing_fact() -> None:
    [message] = ask(tracker("", request_facts={"first_account": "jsmith"}))
    assert message["text"] == "And the second account?"


def test_optional_facts_offer_i_dont_know() -> None:
    [message] = ask(tracker("", request_kind="report_name_misspelled"))
    assert [b["title"] for b in message["buttons"]] == ["I don't know"]


def test_reads_everything_back_with_yes_change_cancel() -> None:
    [message] = ask(tracker("", request_facts=MERGE_FACTS))
    assert "- Second account: jsmith2" in message["text"]
    assert "- Contact e-mail: jon@example.org" in message["text"]
    assert [b["payload"] for b in message["buttons"]] == ["/affirm", "/deny", "/stop"]


def test_the_account_to_keep_is_offered_as_the_two_accounts_named() -> None:
    facts = {"first_account": "jsmith", "second_account": "jsmith2"}
    [message] = ask(tracker("", request_facts=facts))
    assert message["text"] == "Which of the two accounts do you want to keep?"
    assert message["buttons"] == [
        {"title": "jsmith", "payload": "the first account"},
        {"title": "jsmith2", "payload": "the second account"},
    ]
    slots, _ = validate(tracker("the second account", request_facts=facts))
    assert slots["request_facts"]["keep_account"] == "jsmith2"
    slots, [message] = validate(tracker("jsmith3", request_facts=facts))
    assert slots == {"request_answer": None}
    assert "which of the two accounts to keep" in message["text"]


def test_changing_an_account_asks_again_which_to_keep() -> None:
    entity = [{"entity": "ticket_field", "value": "second_account"}]
    slots, _ = validate(tracker('/inform{"ticket_field": "second_account"}', entities=entity,
                                request_facts=MERGE_FACTS))
    assert slots["request_facts"] == {"first_account": "jsmith",
                                      "contact_email": "jon@example.org"}


def test_a_good_answer_is_kept_and_the_next_is_asked() -> None:
    slots, messages = validate(tracker("jsmith"))
    assert slots == {"request_facts": {"first_account": "jsmith"}, "request_answer": None}
    assert messages == []


def test_a_bad_answer_is_explained_and_nothing_is_kept() -> None:
    facts = {k: v for k, v in MERGE_FACTS.items() if k != "contact_email"}
    slots, [message] = validate(tracker("jon@", request_facts=facts))
    assert slots == {"request_answer": None}
    assert "complete e-mail address" in message["text"]


def test_yes_confirms() -> None:
    slots, _ = validate(tracker("yes please", intent="affirm", request_facts=MERGE_FACTS))
    assert slots == {"request_answer": CONFIRMED, "request_stage": None}


def test_no_asks_which_detail_to_change() -> None:
    slots, messages = validate(tracker("/deny", intent="deny", request_facts=MERGE_FACTS))
    assert slots == {"request_answer": None, "request_stage": "choosing_field"}
    assert messages == []
    [message] = ask(tracker("", request_facts=MERGE_FACTS, request_stage="choosing_field"))
    assert message["text"] == "Which detail should I change?"
    assert [b["payload"] for b in message["buttons"]][-1] == (
        '/inform{"ticket_field": "contact_email"}'
    )


def test_yes_naming_a_field_still_confirms() -> None:
    slots, _ = validate(tracker("yes the e-mail is right", intent="affirm",
                                request_facts=MERGE_FACTS))
    assert slots == {"request_answer": CONFIRMED, "request_stage": None}


def test_a_field_named_in_words_while_choosing() -> None:
    slots, _ = validate(tracker("second account", request_facts=MERGE_FACTS,
                                request_stage="choosing_field"))
    assert "second_account" not in slots["request_facts"]


def test_a_name_shared_by_two_fields_is_not_guessed() -> None:
    facts = {"user_name": "", "old_school": "A", "old_district": "Boston", "new_school": "B",
             "new_district": "Worcester", "effective_date": "2026-09-01",
             "contact_email": "jon@example.org"}
    slots, [message] = validate(tracker("the school is wrong", request_kind="transfer_account",
                                        request_facts=facts, request_stage="choosing_field"))
    assert slots == {"request_answer": None}
    assert "choose the detail" in message["text"]
    slots, _ = validate(tracker("the new school is wrong", request_kind="transfer_account",
                                request_facts=facts))
    assert "new_school" not in slots["request_facts"]


def test_the_form_opening_says_nothing() -> None:
    assert validate(tracker(None)) == ({"request_answer": None}, [])


def test_a_field_button_clears_only_that_field() -> None:
    entity = [{"entity": "ticket_field", "value": "keep_account"}]
    slots, [message] = validate(
        tracker('/inform{"ticket_field": "keep_account"}', entities=entity,
                request_facts=MERGE_FACTS)
    )
    assert slots["request_facts"] == {k: v for k, v in MERGE_FACTS.items() if k != "keep_account"}
    assert slots["request_stage"] is None
    assert message["text"] == "OK, let's fix the account to keep."


def test_a_correction_in_words_names_the_field() -> None:
    slots, _ = validate(tracker("oops the e-mail is wrong", intent="deny",
                                request_facts=MERGE_FACTS))
    assert "contact_email" not in slots["request_facts"]
    assert slots["request_facts"]["keep_account"] == "jsmith"


def test_anything_else_at_the_read_back_is_guided() -> None:
    slots, [message] = validate(tracker("hmm", intent="out_of_scope", request_facts=MERGE_FACTS))
    assert slots == {"request_answer": None}
    assert '"yes" to send it' in message["text"]


def test_a_lookup_completes_without_a_read_back() -> None:
    slots, _ = validate(tracker("status.check@example.org", request_kind="ticket_status",
                                request_facts={"reference": "HD-2026-000001"}))
    assert slots["request_answer"] == CONFIRMED


def test_a_reference_in_the_opening_message_is_kept() -> None:
    events = start_request("ticket_status", {"reference": "HD-2026-000042"})
    assert SlotSet("request_facts", {"reference": "HD-2026-000042"}) in events
    assert events[-1] == FollowupAction("request_form")
    assert SlotSet("request_facts", {}) in start_request("ticket_status")


def reply_yes_no(intent: str, offered: str | None) -> tuple[list[dict], list]:
    dispatcher = CollectingDispatcher()
    events = asyncio.run(ActionRespond().run(
        dispatcher, tracker("", intent=intent, offered_request=offered), {}
    ))
    return dispatcher.messages, events


def test_no_after_advice_starts_the_offered_request() -> None:
    messages, events = reply_yes_no("deny", "login_incorrect")
    assert messages[0]["text"] == load_knowledge().reply("advice_did_not_help")
    assert SlotSet("request_kind", "login_incorrect") in events
    assert events[-1] == FollowupAction("request_form")


def test_yes_after_advice_closes_the_offer() -> None:
    messages, events = reply_yes_no("affirm", "login_incorrect")
    assert messages[0]["text"] == load_knowledge().reply("advice_helped")
    assert SlotSet("offered_request", None) in events
    assert not any(event.get("event") == "followup" for event in events)


def test_yes_and_no_without_an_offer_are_acknowledged() -> None:
    assert reply_yes_no("affirm", None)[0][0]["response"] == "utter_affirm"
    assert reply_yes_no("deny", None)[0][0]["response"] == "utter_deny"


def test_thats_correct_confirms() -> None:
    slots, _ = validate(tracker("yes that's correct", intent="affirm", request_facts=MERGE_FACTS))
    assert slots == {"request_answer": CONFIRMED, "request_stage": None}


def test_a_user_name_given_with_the_first_answer_is_kept() -> None:
    slots, _ = validate(tracker("Jo Doe, user name jdoe7", request_kind="reactivate_account",
                                request_facts={"user_name": ""}))
    assert slots["request_facts"] == {"user_name": "jdoe7", "full_name": "Jo Doe"}


def test_a_request_opens_with_the_user_name_not_given() -> None:
    events = start_request("login_incorrect")
    assert SlotSet("request_facts", {"user_name": ""}) in events


def test_a_district_suggestion_button_is_taken_as_named() -> None:
    """"Boxford" typed could also mean Masconomet; its button means the Boxford district."""
    typed = tracker("Boxford", request_kind="find_directory_admin")
    slots, [message] = validate(typed)
    assert slots["request_answer"] is None
    buttons = {button["title"]: button["payload"] for button in message["buttons"]}
    assert list(buttons) == ["Boxford", "Masconomet"]
    chosen = tracker(buttons["Boxford"], request_kind="find_directory_admin",
                     entities=[{"entity": "district", "value": "Boxford"}])
    slots, _ = validate(chosen)
    assert slots["request_facts"] == {"district": "Boxford"}
