"""Personal data in Rasa's tracker store (issue 11, item 9): the real SQL tracker store
(`bot.rasa_plugins.tracker_store`) on SQLite and PostgreSQL, fed the events of real
conversations turn by turn as the Rasa server does (read the tracker back, add the turn's
events, save), and `helpdesk conversations purge`.

A running form still gets its values back from the store; once it is done, stopped or abandoned
by a new session, no name, date of birth, e-mail address, user name or ticket fact is stored in
clear, and the agents' transcript built from the tracker stays readable.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from conftest import Chat, converse
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import (
    ActionExecuted,
    ActiveLoop,
    BotUttered,
    Event,
    SessionStarted,
    SlotSet,
    UserUttered,
)
from rasa.shared.core.trackers import DialogueStateTracker
from sqlalchemy import text

from bot import cli
from bot.db import make_engine, session_factory
from bot.models import Conversation, LiveChat, Rating, RecoveryAttempt, UnansweredMessage
from bot.ops.serve import Stack
from bot.privacy.redaction import redact_events
from bot.privacy.retention import purge_conversations
from bot.rasa_plugins.tracker_store import RetryingSQLTrackerStore
from bot.settings import ROOT
from bot.tickets.transcript import masked_transcript

DOMAIN = Domain.load(str(ROOT / "domain.yml"))
PERSONAL = ("ada.example", "Ada", "Example", "03/14/1984", "1984-03-14",
            "ada.example@example.org")


@pytest.fixture
def store(database_url: str) -> Iterator[RetryingSQLTrackerStore]:
    tracker_store = RetryingSQLTrackerStore(domain=DOMAIN, host=database_url)
    yield tracker_store
    tracker_store.engine.dispose()


def run(coroutine: Any) -> Any:
    return asyncio.run(coroutine)


def turn(store: RetryingSQLTrackerStore, sender: str, events: list[Event]) -> DialogueStateTracker:
    """One turn as the Rasa server runs it: read the conversation back, add the turn, save."""
    tracker = run(store.retrieve(sender)) or DialogueStateTracker(sender, DOMAIN.slots)
    for event in events:
        tracker.update(event)
    run(store.save(tracker))
    return tracker


def stored_rows(store: RetryingSQLTrackerStore, sender: str) -> list[dict[str, Any]]:
    with store.engine.connect() as connection:
        return [json.loads(data) for (data,) in connection.execute(
            text("SELECT data FROM events WHERE sender_id = :sender ORDER BY id"),
            {"sender": sender},
        )]


def user(message: str, intent: str = "inform") -> UserUttered:
    return UserUttered(message, intent={"name": intent, "confidence": 0.9},
                       parse_data={"intent": {"name": intent, "confidence": 0.9},
                                   "entities": [], "text": message})


def listen() -> ActionExecuted:
    return ActionExecuted("action_listen")


def answer(slot: str, typed: str, kept: str | None, next_slot: str | None,
           question: str, form: str = "password_form") -> list[Event]:
    """A form turn: the text lands in the slot, validation keeps `kept`, the form asks on."""
    return [user(typed), SlotSet(slot, typed), ActionExecuted(form),
            SlotSet(slot, kept), SlotSet("requested_slot", next_slot), BotUttered(question),
            listen()]


OPENING = [ActionExecuted("action_session_start"), SessionStarted(), listen(),
           user("I forgot my ELAR password", "forgot_password"),
           ActionExecuted("password_form"), ActiveLoop("password_form"),
           SlotSet("requested_slot", "account_identifier"),
           BotUttered("What is your user name? (Or, if you don't know it, the e-mail address "
                      "on file.)"), listen()]
MIDDLE = [
    answer("account_identifier", "ada.example", "ada.example", "first_name",
           "What is your first name, as it appears on your account?"),
    answer("first_name", "Ada", "Ada", "last_name", "And your last name?"),
    answer("last_name", "Example", "Example", "birth_date",
           "What is your date of birth? For example 03/14/1985."),
]
CLEARED = [SlotSet(slot, None) for slot in
           ("account_identifier", "first_name", "last_name", "birth_date", "email")]
LAST = [user("03/14/1984"), SlotSet("birth_date", "03/14/1984"),
        ActionExecuted("password_form"), SlotSet("birth_date", "1984-03-14"),
        ActiveLoop(None), SlotSet("requested_slot", None),
        ActionExecuted("action_request_password_reset"),
        BotUttered("If everything matched, a link is on its way to the e-mail on file."),
        *CLEARED, listen()]


def test_a_running_form_gets_its_values_back_and_nothing_else_is_kept(
    store: RetryingSQLTrackerStore,
) -> None:
    sender = "recovery"
    turn(store, sender, OPENING)
    for events in MIDDLE:
        turn(store, sender, events)
    running = run(store.retrieve(sender))
    assert running.active_loop_name == "password_form"
    assert {slot: running.get_slot(slot) for slot in
            ("account_identifier", "first_name", "last_name")} == {
        "account_identifier": "ada.example", "first_name": "Ada", "last_name": "Example"}
    rows = stored_rows(store, sender)
    said = [row["text"] for row in rows if row["event"] == "user"]
    assert said == ["I forgot my ELAR password", "[user name or e-mail]", "[first name]",
                    "[last name]"]
    # Each value is stored once: in the slot the running form reads back.
    assert sum(json.dumps(row).count('"Ada"') for row in rows) == 1


def test_a_finished_form_leaves_no_personal_data_in_the_store(
    store: RetryingSQLTrackerStore,
) -> None:
    sender = "finished"
    for events in (OPENING, *MIDDLE, LAST):
        turn(store, sender, events)
    rows = stored_rows(store, sender)
    stored = json.dumps(rows)
    for value in PERSONAL:
        assert value not in stored, value
    assert len(rows) == len(OPENING) + sum(len(events) for events in MIDDLE) + len(LAST)
    back = run(store.retrieve(sender))
    assert back.active_loop_name is None
    assert all(back.get_slot(slot) is None for slot in ("first_name", "birth_date"))
    transcript = [(entry["from"], entry["text"]) for entry in
                  masked_transcript([event.as_dict() for event in back.events])]
    assert transcript[:4] == [
        ("user", "I forgot my ELAR password"),
        ("bot", "What is your user name? (Or, if you don't know it, the e-mail address on "
                "file.)"),
        ("user", "[user name or e-mail]"),
        ("bot", "What is your first name, as it appears on your account?"),
    ]
    assert ("user", "[date of birth]") in transcript
    # The conversation goes on normally after the rewrite.
    turn(store, sender, [user("thanks", "thank"), BotUttered("You're welcome!"), listen()])
    assert len(stored_rows(store, sender)) == len(rows) + 3


MERGE_FACTS = {"first_account": "jsmith", "second_account": "jsmith2", "keep_account": "jsmith",
               "contact_email": "jon.smith@example.org"}


def request_turn(typed: str, facts: dict[str, str], question: str) -> list[Event]:
    return [user(typed), SlotSet("request_answer", typed), ActionExecuted("request_form"),
            SlotSet("request_facts", dict(facts)), SlotSet("request_answer", None),
            SlotSet("requested_slot", "request_answer"), BotUttered(question), listen()]


def test_a_ticket_request_leaves_its_facts_only_in_the_ticket(
    store: RetryingSQLTrackerStore,
) -> None:
    sender = "merge"
    turn(store, sender, [
        ActionExecuted("action_session_start"), SessionStarted(), listen(),
        user("I have two MassONE accounts", "merge_duplicate_accounts"),
        SlotSet("request_kind", "merge_duplicate_accounts"), SlotSet("request_facts", {}),
        ActionExecuted("request_form"), ActiveLoop("request_form"),
        SlotSet("requested_slot", "request_answer"),
        BotUttered("What is the user name of the first account?"), listen(),
    ])
    facts: dict[str, str] = {}
    steps = [("jsmith", "first_account", "And the second account?"),
             ("jsmith2", "second_account", "Which of the two accounts do you want to keep?"),
             ("the first one", "keep_account", "Which e-mail address should the help desk use?"),
             ("Jon.Smith@example.org", "contact_email",
              "Here is what I'll send to the help desk:\n- First account: jsmith\n"
              "- Second account: jsmith2\n- Account to keep: jsmith\n"
              "- Contact e-mail: jon.smith@example.org\n\nShall I send it?")]
    for typed, name, question in steps:
        facts[name] = MERGE_FACTS[name]
        turn(store, sender, request_turn(typed, facts, question))
    assert run(store.retrieve(sender)).get_slot("request_facts") == MERGE_FACTS
    # The confirming turn: the live tracker files the ticket with a transcript of what is
    # stored so far plus this turn, then clears the form.
    done = [user("yes", "affirm"), SlotSet("request_answer", "yes"),
            ActionExecuted("request_form"), SlotSet("request_answer", "confirmed"),
            ActiveLoop(None), SlotSet("requested_slot", None),
            ActionExecuted("action_complete_request")]
    live = run(store.retrieve(sender))
    for event in done:
        live.update(event)
    transcript = [entry["text"] for entry in
                  masked_transcript([event.as_dict() for event in live.events])]
    assert "What is the user name of the first account?" in transcript
    assert transcript.count("[answer]") == 4
    assert not any("jsmith" in line or "jon.smith" in line for line in transcript[:-2])
    turn(store, sender, [*done, BotUttered("Done: your request is HD-2026-000001. We'll write "
                                           "to jon.smith@example.org."),
                         *(SlotSet(slot, None) for slot in ("request_kind", "request_facts",
                                                            "request_answer")), listen()])
    stored = json.dumps(stored_rows(store, sender))
    for value in ("jsmith", "jon.smith", "Jon.Smith"):
        assert value not in stored, value
    last_bot = [row for row in stored_rows(store, sender) if row["event"] == "bot"][-1]
    assert last_bot["text"] == "Done: your request is HD-2026-000001. We'll write to [e-mail]."


def test_a_form_abandoned_for_a_new_session_is_redacted_then(
    store: RetryingSQLTrackerStore,
) -> None:
    sender = "abandoned"
    for events in (OPENING, *MIDDLE[:2]):
        turn(store, sender, events)
    assert "Ada" in json.dumps(stored_rows(store, sender))  # the running form needs it
    carried = [SlotSet("account_identifier", "ada.example"), SlotSet("first_name", "Ada")]
    turn(store, sender, [ActionExecuted("action_session_start"), SessionStarted(), *carried,
                         listen(), user("hello", "greet"), BotUttered("Hi!"), listen()])
    stored = json.dumps(stored_rows(store, sender))
    assert "Ada" not in stored and "ada.example" not in stored
    assert run(store.retrieve(sender)).get_slot("first_name") is None


def test_redaction_is_idempotent_and_keeps_button_intents() -> None:
    events = [event.as_dict() for event in [
        *OPENING, *MIDDLE[0],
        UserUttered('/inform{"district": "Worcester"}', intent={"name": "inform"},
                    parse_data={"intent": {"name": "inform"}, "text": "x",
                                "entities": [{"entity": "district", "value": "Worcester"}]}),
    ]]
    once = redact_events(events)
    assert redact_events(once) == once
    assert once[-1]["text"] == "/inform" and once[-1]["parse_data"]["entities"] == []
    assert events[-1]["parse_data"]["entities"]  # the input is not changed


def test_values_a_form_collected_are_redacted_where_else_they_were_typed() -> None:
    opening = user("I forgot my password. Ada Example, born 3/14/1984, user ada.example "
                   "(about HD-2026-000001)", "forgot_password")
    events = [event.as_dict() for event in [
        opening, *OPENING[4:], *(event for events in MIDDLE for event in events), *LAST,
        SlotSet("request_facts", {"reference": "HD-2026-000001"}),
    ]]
    [first] = [event for event in redact_events(events) if event["event"] == "user"][:1]
    assert first["text"] == ("I forgot my password. [first name] [last name], born "
                             "[date of birth], user [user name or e-mail] (about HD-2026-000001)")


def test_conversations_of_a_real_chat_are_stored_without_personal_data(
    stack: Stack, chat: Chat, tmp_path: Any,
) -> None:
    """The events the running Rasa server produced for a password reset, replayed turn by turn
    into the SQL tracker store, as a cluster member would have saved them."""
    converse(chat, "I forgot my ELAR password", "ada.example", "Ada", "Example", "03/14/1984")
    url = stack.api_url(f"/conversations/{chat.sender}/tracker?include_events=ALL")
    with urllib.request.urlopen(url, timeout=30) as response:
        events = json.loads(response.read())["events"]
    store = RetryingSQLTrackerStore(domain=DOMAIN, host=f"sqlite:///{tmp_path / 'rasa.db'}")
    starts = [n for n, event in enumerate(events) if event["event"] == "user"][1:]
    for begin, end in zip([0, *starts], [*starts, len(events)], strict=True):
        turn(store, chat.sender, [Event.from_parameters(event) for event in events[begin:end]])
    stored = json.dumps(stored_rows(store, chat.sender))
    store.engine.dispose()
    for value in PERSONAL:
        assert value not in stored, value
    assert "[date of birth]" in stored and "I forgot my ELAR password" in stored


# --- retention --------------------------------------------------------------------------------

NOW = dt.datetime(2026, 11, 26, 12, 0, tzinfo=dt.timezone.utc)


def timed(event: Event, moment: dt.datetime) -> Event:
    event.timestamp = moment.timestamp()
    return event


def test_purge_deletes_old_conversations_and_old_sessions_only(
    store: RetryingSQLTrackerStore, database_url: str,
) -> None:
    old, recent = NOW - dt.timedelta(days=40), NOW - dt.timedelta(days=2)
    turn(store, "idle", [timed(SessionStarted(), old), timed(user("hi old"), old)])
    turn(store, "ongoing", [timed(SessionStarted(), old), timed(user("first visit"), old),
                            timed(SessionStarted(), recent), timed(user("back again"), recent)])
    turn(store, "fresh", [timed(SessionStarted(), recent), timed(user("hello"), recent)])
    sessions = session_factory(make_engine(database_url))
    with sessions() as session, session.begin():
        session.add_all([
            Conversation(conversation_id="old", started_at=old, last_seen_at=old),
            Conversation(conversation_id="new", started_at=recent, last_seen_at=recent),
            Rating(conversation_id="old", helpful=1, created_at=old, updated_at=old),
            UnansweredMessage(conversation_id="old", text="x", normalised="x", created_at=old),
            RecoveryAttempt(kind="password", system="massone", outcome="none",
                            conversation_id="old", identity_key="k" * 64, created_at=old),
            LiveChat(conversation_id="old", status="ended", facts="{}", transcript="[]",
                     created_at=old),
        ])
    report = purge_conversations(sessions, store.engine, dt.timedelta(days=30), NOW)
    assert (report.tracker_conversations, report.tracker_events) == (1, 4)
    assert report.app_rows == {"conversations": 1, "ratings": 1, "unanswered messages": 1,
                               "ticket status lookups": 0, "recovery attempts": 1,
                               "live chats": 1}
    assert stored_rows(store, "idle") == []
    assert [row.get("text") for row in stored_rows(store, "ongoing")] == [None, "back again"]
    assert len(stored_rows(store, "fresh")) == 2
    assert run(store.retrieve("ongoing")).latest_message.text == "back again"
    with sessions() as session:
        assert [c.conversation_id for c in session.query(Conversation)] == ["new"]


def test_the_purge_command(
    database_url: str, tmp_path: Any, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    tracker_url = f"sqlite:///{tmp_path / 'tracker.db'}"
    store = RetryingSQLTrackerStore(domain=DOMAIN, host=tracker_url)
    long_ago = dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=31)
    turn(store, "gone", [timed(SessionStarted(), long_ago), timed(user("hi"), long_ago)])
    turn(store, "kept", [SessionStarted(), user("hi")])
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("TRACKER_STORE_URL", tracker_url)
    assert cli.main(["conversations", "purge", "--older-than", "30d"]) == 0
    output = capsys.readouterr().out
    assert "older than 30 days" in output and "tracker store: 2 events, 1 conversations" in output
    assert stored_rows(store, "gone") == [] and len(stored_rows(store, "kept")) == 2
    monkeypatch.setenv("CONVERSATION_RETENTION_DAYS", "1")
    monkeypatch.delenv("TRACKER_STORE_URL")
    assert cli.main(["conversations", "purge"]) == 0
    assert "older than 1 day " in capsys.readouterr().out
    with pytest.raises(SystemExit):
        cli.main(["conversations", "purge", "--older-than", "30 minutes"])
    assert "not an age like 30d" in capsys.readouterr().err
    store.engine.dispose()
