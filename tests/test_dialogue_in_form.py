"""What a message typed while a form waits is (bot.dialogue.in_form), on the real knowledge
base, with parse results built as Rasa's NLU returns them."""

from __future__ import annotations

from typing import Any

import pytest

from bot.dialogue import in_form
from bot.dialogue.in_form import Asked, read_answer
from bot.dialogue.turns import Parsed
from bot.knowledge.entries import KnowledgeBase

LABELS = {"account_identifier": ("user name",), "first_name": ("first name",),
          "last_name": ("last name",), "birth_date": ("birthday", "date of birth")}


def parse(text: str, intent: str = "inform", confidence: float = 0.6, faq: str | None = None,
          entities: list[dict[str, Any]] | None = None) -> Parsed:
    message: dict[str, Any] = {"text": text, "intent": {"name": intent, "confidence": confidence},
                               "entities": entities or []}
    if faq:
        message["response_selector"] = {"faq": {"response": {
            "intent_response_key": f"faq/{faq}", "confidence": 0.95}}}
    return Parsed.from_rasa(message)


def read(kb: KnowledgeBase, parsed: Parsed, field: str = "last_name", kind: str = "name",
         system: str | None = "massone", flow: str = "forgot_password") -> in_form.Reading:
    return read_answer(parsed, Asked(field, kind, labels=LABELS), kb, system, flow)


def test_a_plain_answer(kb: KnowledgeBase) -> None:
    assert read(kb, parse("Doe")) == in_form.Reading(in_form.ANSWER, "Doe")
    assert read(kb, parse("ok fine. Doe")).value == "Doe"


def test_a_name_that_looks_like_a_command_is_a_name(kb: KnowledgeBase) -> None:
    assert read(kb, parse("Deact", "stop", 0.7)).kind == in_form.ANSWER


@pytest.mark.parametrize("text", ["stop", "cancel that", "never mind, I'll do it later"])
def test_stop(kb: KnowledgeBase, text: str) -> None:
    assert read(kb, parse(text, "stop", 0.9)).kind == in_form.STOP


def test_a_question_is_answered_not_stored(kb: KnowledgeBase) -> None:
    reading = read(kb, parse("wait, what's a directory admin?", "faq", 0.95,
                             faq="ese_directory_admin_role"))
    assert (reading.kind, reading.entry_id) == (in_form.QUESTION, "ese_directory_admin_role")


def test_an_unrelated_request_is_not_a_name(kb: KnowledgeBase) -> None:
    reading = read(kb, parse("ugh this takes ages tell me something funny", "out_of_scope", 0.9))
    assert reading.kind == in_form.OFF_TOPIC


def test_i_dont_know_and_hold_on(kb: KnowledgeBase) -> None:
    assert read(kb, parse("no idea", "deny"), "account_identifier",
                "account_identifier").kind == in_form.DONT_KNOW
    assert read(kb, parse("one sec, let me look"), "account_identifier",
                "account_identifier").kind == in_form.WAIT


def test_an_address_inside_a_sentence_is_the_answer(kb: KnowledgeBase) -> None:
    reading = read(kb, parse("I think it's jo.doe@example.com"), "email", "email")
    assert (reading.kind, reading.value) == (in_form.ANSWER, "jo.doe@example.com")


def test_a_correction_of_an_earlier_answer(kb: KnowledgeBase) -> None:
    reading = read(kb, parse("oops my last name is wrong, it should be Doe"), "birth_date",
                   "birth_date")
    assert (reading.kind, reading.field, reading.value) == (in_form.CORRECTION, "last_name",
                                                            "Doe")


def test_switching_system(kb: KnowledgeBase) -> None:
    text = "sorry, it's my ESE account actually, not massone"
    entities = [{"entity": "system", "value": "ESE", "start": text.index("ESE")},
                {"entity": "system", "value": "massone", "start": text.index("massone")}]
    reading = read(kb, parse(text, "choose_system", 0.8, entities=entities),
                   "account_identifier", "account_identifier")
    assert (reading.kind, reading.system) == (in_form.SWITCH_SYSTEM, "ese_portal")


def test_changing_the_request(kb: KnowledgeBase) -> None:
    reading = read_answer(
        parse("oh wait, actually my real problem is my name is spelled wrong",
              "report_name_misspelled", 0.9),
        Asked("old_district", "district"), kb, "massone", "transfer_account",
    )
    assert (reading.kind, reading.entry_id) == (in_form.SWITCH_FLOW, "report_name_misspelled")


def test_free_text_keeps_what_is_typed(kb: KnowledgeBase) -> None:
    text = "I'm locked out of ELAR and my license runs out friday"
    reading = read_answer(parse(text, "forgot_password", 0.9), Asked("summary", "text"), kb,
                          None, "human_handoff")
    assert (reading.kind, reading.value) == (in_form.ANSWER, text)


def test_a_date_in_words_the_field_cannot_take_is_still_an_answer(kb: KnowledgeBase) -> None:
    reading = read(kb, parse("right after winter break", "out_of_scope", 0.95),
                   "effective_date", "date")
    assert reading.kind == in_form.ANSWER and "winter break" in str(reading.value)


@pytest.mark.parametrize(("text", "intent", "kind"), [
    ("ok thanks", "ticket_status", in_form.SMALL_TALK),  # whatever the model made of it
    ("thanks, I'll call them", "thank", in_form.STOP),
    ("ok bye", "inform", in_form.STOP),
])
def test_polite_words_at_a_question_are_not_an_answer(kb: KnowledgeBase, text: str, intent: str,
                                                      kind: str) -> None:
    assert read(kb, parse(text, intent, 0.99), "reference", "reference").kind == kind


def test_a_reference_inside_a_sentence(kb: KnowledgeBase) -> None:
    reading = read(kb, parse("found it in my email: HD-2026-000031", "ticket_status", 0.99),
                   "reference", "reference", flow="ticket_status")
    assert reading == in_form.Reading(in_form.ANSWER, "HD-2026-000031")


def test_an_answer_with_a_hedge_or_an_aside(kb: KnowledgeBase) -> None:
    assert read(kb, parse("mgrady3 i think"), "user_name", "user_name").value == "mgrady3"
    reading = read_answer(parse("Jess Whitaker idk my username", "deny", 0.97),
                          in_form.Asked("full_name", "name"), kb, "massone", "login_incorrect",
                          is_valid=lambda value: len(value.split()) == 2)
    assert reading == in_form.Reading(in_form.ANSWER, "Jess Whitaker")


def test_a_story_that_says_i_dont_know_is_a_free_text_answer(kb: KnowledgeBase) -> None:
    text = "Three long-term subs need MassONE accounts and I don't know who should request them"
    reading = read_answer(parse(text, "merge_duplicate_accounts", 0.22),
                          in_form.Asked("summary", "text"), kb, "massone", "human_handoff",
                          is_valid=lambda value: True)
    assert reading == in_form.Reading(in_form.ANSWER, text)
    short = read_answer(parse("I don't know", "deny", 0.9), in_form.Asked("summary", "text"), kb,
                        "massone", "human_handoff", is_valid=lambda value: True)
    assert short.kind == in_form.DONT_KNOW
