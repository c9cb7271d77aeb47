"""The conversation evaluation (bot/ops/eval_conversations.py): each check on hand-written
replies and tracker states, the report, the development set's hygiene, and two conversations
played through the real stack."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from rasa.shared.nlu.training_data.loading import load_data

from bot.knowledge.entries import KnowledgeBase
from bot.ops.eval_conversations import (
    DEV_SET,
    EXPECT_KEYS,
    ConversationResult,
    Marks,
    Observation,
    Player,
    TurnResult,
    check_outcome,
    check_turn,
    format_report,
    load_set,
    mark_after_failure,
    observe,
    play_all,
    summarise,
)
from bot.ops.serve import Stack

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def marks(kb: KnowledgeBase) -> Marks:
    return Marks.load(kb)


def state(active_loop: str | None = None, **slots: Any) -> dict[str, Any]:
    return {"active_loop": active_loop, "slots": slots, "intent": "test", "confidence": 1.0}


def text(*texts: str, buttons: list[dict[str, str]] | None = None) -> list[dict[str, Any]]:
    replies: list[dict[str, Any]] = [{"text": t} for t in texts]
    if buttons:
        replies[-1]["buttons"] = buttons
    return replies


def seen(marks: Marks, replies: list[dict[str, Any]], before: dict | None = None,
         after: dict | None = None, events: list[dict] | None = None) -> Observation:
    return observe(replies, before or state(), after or state(), events or [], marks)


def activated(name: str, kind: str | None = None) -> list[dict[str, Any]]:
    events = [{"event": "slot", "name": "request_kind", "value": kind}] if kind else []
    return events + [{"event": "active_loop", "name": name}]


# ------------------------------------------------------------------ answers and flows
def test_answer_and_flow_are_read_from_the_custom_payload(marks: Marks, kb: KnowledgeBase) -> None:
    cost = kb.resolve("massone_cost", None)
    obs = seen(marks, [{"text": cost.text}, {"custom": cost.payload()}])
    assert check_turn({"answer": "massone_cost", "not": ["flow", "starts"]}, obs) == []
    assert check_turn({"answer": "massone_about"}, obs) == [
        "answer: expected massone_about, saw massone_cost"]
    assert check_turn({"flow": "forgot_password"}, obs) == [
        "flow: expected forgot_password, saw none"]
    assert check_turn({"not": ["answer:massone_cost"]}, obs) == [
        "not answer:massone_cost: it happened (massone_cost)"]


# ------------------------------------------------------------------ forms
def test_a_recovery_form_starts_and_asks_its_slot(marks: Marks, kb: KnowledgeBase) -> None:
    flow = kb.resolve("forgot_password", "massone")
    replies = [{"text": flow.text}, {"custom": flow.payload()},
               {"text": marks.recovery_prompts["account_identifier"]}]
    after = state("password_form", requested_slot="account_identifier", system="massone")
    obs = seen(marks, replies, after=after, events=activated("password_form"))
    expect = {"flow": "forgot_password", "system": "massone", "starts": "password_form",
              "asks": "account_identifier", "not": ["asks_system", "fallback"]}
    assert check_turn(expect, obs) == []
    assert check_turn({"asks": "first_name", "system": "ese_portal"}, obs) == [
        "asks: expected first_name, saw account_identifier",
        "system: expected ese_portal, saw massone",
    ]


def test_a_form_waiting_without_asking_does_not_ask(marks: Marks) -> None:
    after = state("password_form", requested_slot="first_name")
    obs = seen(marks, text("Thanks."), after=after)
    assert check_turn({"asks": "first_name"}, obs) == [
        "asks: expected first_name, saw none (the form waits for first_name without asking)"]
    assert check_turn({"not": ["asks"]}, obs) == []


def test_request_form_asks_the_first_missing_fact(marks: Marks) -> None:
    prompt = marks.kinds["transfer_account"].field("old_school").prompt
    after = state("request_form", request_kind="transfer_account",
                  request_facts={"user_name": ""}, requested_slot="request_answer")
    obs = seen(marks, text(prompt), after=after,
               events=activated("request_form", "transfer_account"))
    assert check_turn({"starts": "request_form/transfer_account", "asks": "old_school",
                       "not": ["asks:old_district"]}, obs) == []
    assert check_turn({"starts": "request_form/report_error"}, obs) == [
        "starts: expected request_form/report_error, saw request_form/transfer_account"]
    assert check_turn({"not": ["starts"]}, obs) == [
        "not starts: it happened (request_form/transfer_account)"]


def test_which_detail_to_change_is_choosing_field(marks: Marks, kb: KnowledgeBase) -> None:
    facts = {"summary": "Locked out", "contact_email": "jo@example.org"}
    after = state("request_form", request_kind="human_handoff", request_facts=facts,
                  request_stage="choosing_field")
    obs = seen(marks, text(kb.reply("which_detail")), after=after)
    assert check_turn({"asks": "choosing_field", "not": ["ticket_ref", "readback"]}, obs) == []
    readback = state("request_form", request_kind="human_handoff", request_facts=facts)
    obs = seen(marks, text("Here is what I'll send to the help desk:\n- Summary: Locked out\n\n"
                           "Shall I send it?"), after=readback)
    assert check_turn({"readback": True, "not": ["asks"]}, obs) == []
    assert check_turn({"asks": "choosing_field"}, obs) == [
        "asks: expected choosing_field, saw none"]


def test_takes_reads_form_slots_and_request_facts(marks: Marks) -> None:
    after = state("password_form", requested_slot="birth_date", first_name="Ada",
                  last_name="Example")
    obs = seen(marks, text(marks.recovery_prompts["birth_date"]), after=after)
    assert check_turn({"takes": {"first_name": "ada", "last_name": " EXAMPLE"}}, obs) == []
    assert check_turn({"takes": {"last_name": "Exmaple"}}, obs)[0].startswith("takes: expected")
    facts = state("request_form", request_kind="login_incorrect",
                  request_facts={"phone": "508-555-0147"})
    assert check_turn({"takes": {"phone": "508-555-0147"}},
                      seen(marks, text("ok"), after=facts)) == []


def test_refuses_is_the_same_question_again_with_a_reason(marks: Marks, kb: KnowledgeBase) -> None:
    before = state("request_form", request_kind="login_incorrect",
                   request_facts={"user_name": "", "full_name": "Marcus Lee",
                                  "school_or_district": "Fall River",
                                  "contact_email": "m@example.com"})
    prompt = marks.kinds["login_incorrect"].field("phone").prompt
    refused = seen(marks, text("That number is too short: please give the area code.", prompt),
                   before=before, after=before)
    assert check_turn({"refuses": "phone", "asks": "phone"}, refused) == []
    assert check_turn({"not": ["refuses"]}, refused) == ["not refuses: it happened (phone)"]
    off_topic = seen(marks, text(kb.reply("off_topic_in_form"), prompt), before=before,
                     after=before)
    assert check_turn({"refuses": "phone"}, off_topic) == ["refuses: expected phone, saw none"]
    assert check_turn({"fallback": True}, off_topic) == []


# ------------------------------------------------------------------ what the bot says
def test_asks_system_is_the_question_with_nothing_answered(marks: Marks, kb: KnowledgeBase) -> None:
    buttons = [{"title": "MassONE", "payload": '/choose_system{"system": "massone"}'}]
    obs = seen(marks, text(kb.reply("ask_system"), buttons=buttons))
    assert check_turn({"asks_system": True, "not": ["starts", "fallback"]}, obs) == []
    answered = seen(marks, [{"text": "An answer"},
                            {"custom": kb.resolve("massone_cost", None).payload()}])
    assert check_turn({"asks_system": True}, answered) == [
        "asks_system: expected True, saw none"]


def test_ticket_reference_only_from_a_filed_request(marks: Marks, kb: KnowledgeBase) -> None:
    filed = kb.reply("ticket_created").format(reference="HD-2026-000007", email="jo@example.org")
    obs = seen(marks, text(filed))
    assert check_turn({"ticket_ref": True}, obs) == []
    assert obs.ticket_refs == ["HD-2026-000007"]
    prompt = marks.kinds["ticket_status"].field("reference").prompt  # shows an example reference
    assert check_turn({"ticket_ref": True}, seen(marks, text(prompt))) == [
        "ticket_ref: expected True, saw none"]


def test_status_lookups_found_and_not_found(marks: Marks, kb: KnowledgeBase) -> None:
    found = kb.reply("ticket_status").format(reference="HD-2026-000007", title="Error report",
                                            status="open", updated="November 28, 2026")
    assert check_turn({"ticket_status": "found"}, seen(marks, text(found))) == []
    missing = seen(marks, text(kb.reply("ticket_not_found")))
    assert check_turn({"ticket_status": "not_found"}, missing) == []
    assert check_turn({"ticket_status": "found"}, missing) == [
        "ticket_status: expected found, saw not_found"]


def test_directory_administrators_by_district(marks: Marks, kb: KnowledgeBase) -> None:
    found = kb.reply("directory_admin_found").format(
        district="Worcester", people="Jo Doe, jo.doe@example.org")
    obs = seen(marks, text(found))
    assert check_turn({"admin_for": "Worcester", "not": ["admin_for:Springfield", "asks"]},
                      obs) == []
    assert check_turn({"admin_for": "Boston"}, obs) == [
        "admin_for: expected Boston, saw Worcester"]
    unknown = kb.reply("directory_admin_unknown").format(district="West Springfield")
    obs = seen(marks, text(unknown))
    assert check_turn({"admin_for": "West Springfield", "handoff": True}, obs) == []
    assert check_turn({"not": ["admin_for"]}, obs) == [
        "not admin_for: it happened (West Springfield)"]


def test_recovery_sent_and_stops(marks: Marks, kb: KnowledgeBase) -> None:
    sent = seen(marks, text(kb.reply("reset_sent", "massone")),
                before=state("password_form", requested_slot="birth_date"))
    assert check_turn({"recovery": "sent", "not": ["stops"]}, sent) == []
    assert check_turn({"recovery": "rate_limited"}, sent) == [
        "recovery: expected rate_limited, saw sent"]
    before = state("request_form", request_kind="report_error", request_facts={})
    stopped = seen(marks, text(kb.reply("flow_stopped")), before=before,
                   events=[{"event": "active_loop", "name": None}])
    assert check_turn({"stops": True, "not": ["ticket_ref"]}, stopped) == []
    no_form = seen(marks, text(kb.reply("flow_stopped")))
    assert check_turn({"stops": True}, no_form) == [
        "stops: expected True, saw the stop reply, but no form was left"]


def test_fallback_is_the_honest_refusal_only(marks: Marks, kb: KnowledgeBase) -> None:
    refusal = seen(marks, text(kb.reply("out_of_scope")))
    assert check_turn({"fallback": True, "not": ["starts", "asks_system"]}, refusal) == []
    unsure = seen(marks, text(kb.reply("did_you_mean"),
                              buttons=[{"title": "Is MassONE free?", "payload": "x"}]))
    assert unsure.did_you_mean
    assert check_turn({"fallback": True}, unsure) == ["fallback: expected True, saw none"]
    assert check_turn({"not": ["fallback"]}, unsure) == []


def test_handoff_smalltalk_suggestions_and_asks_solved(marks: Marks, kb: KnowledgeBase) -> None:
    assert check_turn({"handoff": True}, seen(marks, text(kb.reply("no_procedure", "massone"))))\
        == []
    assert check_turn({"handoff": True}, seen(marks, text("Great."))) == [
        "handoff: expected True, saw none"]
    thanks = seen(marks, text("You're welcome! Is there anything else I can help with?"))
    assert check_turn({"smalltalk": "thank"}, thanks) == []
    assert check_turn({"smalltalk": "ack"}, thanks) == []
    assert check_turn({"smalltalk": "goodbye"}, thanks) == [
        "smalltalk: expected goodbye, saw thank, ack"]
    helped = seen(marks, [{"text": kb.reply("advice_helped")},
                          {"custom": kb.resolve("massone_cost", None).payload()}])
    assert check_turn({"smalltalk": "ack"}, helped) == [
        "smalltalk: expected ack, saw ack (and massone_cost)"]
    menu = seen(marks, text("I can help you get back into the ESE Security Portal or MassONE. "
                            "What's the problem?"))
    assert check_turn({"smalltalk": "greet"}, menu) == []
    suggested = seen(marks, text("Which one?", buttons=[
        {"title": "Berkshire Hills", "payload": "a"}, {"title": "Central Berkshire",
                                                       "payload": "b"}]))
    assert check_turn({"suggests": ["Central Berkshire", "Berkshire Hills"]}, suggested) == []
    assert check_turn({"suggests": ["Southern Berkshire"]}, suggested) == [
        'suggests: expected ["Southern Berkshire"], saw ["Berkshire Hills", "Central Berkshire"]']
    solved = seen(marks, text(kb.reply("did_that_help")))
    assert check_turn({"asks_solved": True}, solved) == []
    assert check_turn({"asks_solved": True}, thanks) == ["asks_solved: expected True, saw none"]


def test_an_unknown_key_is_reported(marks: Marks) -> None:
    assert check_turn({"anwser": "x"}, seen(marks, text("hi"))) == [
        "anwser: not a key of the set's format"]


# ------------------------------------------------------------------ outcomes
def test_outcome_mails_and_tickets(marks: Marks) -> None:
    outcome = {
        "mail": [{"to": "T.Haddad@example.org", "kind": "ticket_created"}],
        "tickets": [{"kind": "report_error", "system": "massone",
                     "facts": {"error_message": "session expired", "browser": "chrome"}}],
    }
    ticket = {"kind": "report_error", "system": "massone",
              "facts": {"error_message": "Page says Session  Expired and kicks me out",
                        "browser": "Chrome"}}
    mails = [("t.haddad@example.org", "ticket_created")]
    assert check_outcome(outcome, mails, [ticket], marks) == []
    assert check_outcome(outcome, mails + mails, [ticket], marks) == [
        "mail: expected ticket_created to t.haddad@example.org, sent ticket_created to "
        "t.haddad@example.org x2"]
    other_system = {**ticket, "system": "ese_portal"}
    assert check_outcome(outcome, mails, [other_system], marks)[0].startswith("tickets:")
    # A district (not free text) is compared whole.
    transfer = {"tickets": [{"kind": "transfer_account", "facts": {"new_district": "Springfield"}}]}
    filed = [{"kind": "transfer_account", "system": "massone",
              "facts": {"new_district": "West Springfield"}}]
    assert check_outcome(transfer, [], filed, marks)[0].startswith("tickets:")
    assert check_outcome({"none": True}, [], [], marks) == []
    assert check_outcome({"none": True}, mails, [], marks) == [
        "mail: expected none, sent ticket_created to t.haddad@example.org"]
    # Mail kinds the set predates (the reactivation advice to a deactivated account's address)
    # are not counted against it.
    advice = [("t.haddad@example.org", "reactivation_advice")]
    assert check_outcome({"none": True}, advice, [], marks) == []


# ------------------------------------------------------------------ the report
def _turn(index: int, failures: list[str], users_need: bool = False) -> TurnResult:
    obs = Observation(**{name: [] for name in (
        "texts", "buttons", "answers", "flows", "starts", "ticket_refs", "references",
        "admin_for", "smalltalk")}, left_form=False, asked_before=None, waiting_for=None,
        asks=None, asks_system=False, system=None, values={}, refused=None, readback=False,
        ticket_status=None, asks_solved=False, recovery=None, stopped=False, fallback=False,
        did_you_mean=False, handoff=False, facts={"active_loop": None})
    obs.texts.append(f"bot reply {index}")
    return TurnResult(index, f"user says {index}", users_need, failures, False, obs)


def test_summary_counts_turns_after_a_failure_apart() -> None:
    failing = [_turn(1, []), _turn(2, ["asks: expected x, saw none"], users_need=True),
               _turn(3, []), _turn(4, ["flow: expected y, saw none"])]
    mark_after_failure(failing)
    results = [
        ConversationResult("C1", ["ticket", "opening"], "one", failing, []),
        ConversationResult("C2", ["opening"], "two", [_turn(1, [])], []),
        ConversationResult("C3", ["short"], "three", [_turn(1, [])], ["mail: expected a"]),
    ]
    summary = summarise(results)
    assert summary["fully_right"] == 1 and summary["outcomes_right"] == 2
    assert summary["turns"] == {"unmarked": {"passed": 3, "total": 3},
                                "users_need": {"passed": 0, "total": 1},
                                "after_failure": {"passed": 1, "total": 2}}
    assert summary["by_first_tag"]["ticket"]["conversations"] == 1
    assert summary["by_tag"]["opening"]["conversations"] == 2
    assert summary["first_failures_by_key"] == {"asks": 1}
    report = format_report(results, summary)
    assert "Conversations fully right: 1/3 (33.3%)" in report
    assert "turn 2 (users_need): 'user says 2'" in report
    assert "bot: 'bot reply 2'" in report
    assert "turn 4 (after a failure)" in report
    assert "outcome: mail: expected a" in report
    assert "C2" not in report.split("Failing conversations")[1]


# ------------------------------------------------------------------ the development set
def _normalised(text: str) -> str:
    return " ".join(re.sub(r"[^\w\s]|_", " ", text.lower()).split())


def test_development_set_uses_only_known_keys() -> None:
    conversations = load_set(DEV_SET)
    assert len(conversations) >= 90
    for conversation in conversations:
        for turn in conversation["turns"]:
            assert set(turn["expect"]) <= EXPECT_KEYS, (conversation["id"], turn["expect"])


def test_no_development_turn_is_trained_on() -> None:
    trained = set()
    for folder in ("data/nlu", "data/generated"):
        for path in sorted((ROOT / folder).glob("*.yml")):
            trained |= {_normalised(m.get("text")) for m in load_data(str(path)).intent_examples}
    typed = {_normalised(turn["user"]) for conversation in load_set(DEV_SET)
             for turn in conversation["turns"]}
    assert not sorted(typed & trained)


# ------------------------------------------------------------------ the real stack
PLAYED = """
version: 1
conversations:
  - id: T1
    tags: [faq]
    about: A price question.
    turns:
      - user: "how much does it cost to use massone"
        expect: {answer: massone_cost, not: [starts, fallback, asks_system]}
    outcome: {none: true, reason: an answer only}
  - id: T2
    tags: [happy_path]
    about: Dan gets his portal user name.
    turns:
      - user: "I can't remember the user name I use for ELAR"
        expect: {flow: forgot_username, system: ese_portal, starts: username_form, asks: first_name}
      - user: "Dan"
        expect: {asks: last_name}
      - user: "Sample"
        expect: {asks: birth_date, takes: {first_name: Dan, last_name: Sample}}
      - user: "January 30 1972"
        expect: {asks: email}
      - user: "dan.sample@example.net"
        expect: {recovery: sent, not: [stops]}
    outcome:
      mail: [{to: dan.sample@example.net, kind: username_reminder}]
"""


def test_conversations_played_through_the_real_stack(stack: Stack, marks: Marks,
                                                     tmp_path: Path) -> None:
    path = tmp_path / "set.yml"
    path.write_text(PLAYED)
    # The session's stack is shared with other tests: nothing is cleared, outcomes are read
    # from the rows each conversation added.
    player = Player(stack.url, stack.env["DATABASE_URL"], marks, reset=False,
                    token=stack.api_token)
    results = play_all(player, load_set(path), progress=False)
    summary = summarise(results)
    report = format_report(results, summary)
    assert summary["fully_right"] == 2, report
    assert "Conversations fully right: 2/2 (100.0%)" in report
    assert summary["turns"]["unmarked"] == {"passed": 6, "total": 6}
    assert results[1].mails == [("dan.sample@example.net", "username_reminder")]
    assert results[1].turns[0].observation.starts == ["username_form"]
