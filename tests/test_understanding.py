"""How a parsed message is decided, including Rasa's retrieval-intent confidence trap."""

from __future__ import annotations

from typing import Any

import pytest

from bot.knowledge.entries import KnowledgeBase
from bot.nlu.understanding import mentioned_system, understand


def parse(intent: str, confidence: float, faq: str | None = None, faq_confidence: float = 0.0):
    message: dict[str, Any] = {"intent": {"name": intent, "confidence": confidence}}
    if faq:
        message["response_selector"] = {
            "faq": {"response": {"intent_response_key": f"faq/{faq}", "confidence": faq_confidence}}
        }
    return message


def test_confident_faq_is_answered(kb: KnowledgeBase) -> None:
    understood = understand(parse("faq", 0.97, "massone_cost", 0.93), kb)
    assert (understood.kind, understood.answer_id) == ("faq", "massone_cost")


def test_confident_retrieval_intent_with_unsure_faq_falls_back(kb: KnowledgeBase) -> None:
    understood = understand(parse("faq", 0.99, "massone_cost", 0.21), kb)
    assert understood.kind == "fallback" and understood.answer_id is None


@pytest.mark.parametrize("intent", ["nlu_fallback", "out_of_scope"])
def test_fallback_intents(kb: KnowledgeBase, intent: str) -> None:
    assert understand(parse(intent, 0.9), kb).kind == "fallback"


def test_flows_and_conversation(kb: KnowledgeBase) -> None:
    assert understand(parse("forgot_password", 0.9), kb).answer_id == "forgot_password"
    assert understand(parse("greet", 0.9), kb).kind == "other"


def test_unknown_faq_key_falls_back(kb: KnowledgeBase) -> None:
    assert understand(parse("faq", 0.9, "lunch_menu", 0.99), kb).kind == "fallback"


def test_a_message_naming_both_systems_names_neither(kb: KnowledgeBase) -> None:
    massone = {"entity": "system", "value": "MassONE"}
    elar = {"entity": "application", "value": "ELAR"}
    assert mentioned_system([massone], kb) == "massone"
    assert mentioned_system([elar], kb) == "ese_portal"
    assert mentioned_system([massone, elar], kb) is None
    assert mentioned_system([{"entity": "district", "value": "MassONE"}], kb) is None


def said(text: str, intent: str, confidence: float, **extra: Any) -> dict[str, Any]:
    return {"text": text, **parse(intent, confidence, extra.get("faq"),
                                  extra.get("faq_confidence", 0.0)),
            "entities": extra.get("entities", [])}


def test_an_unsure_answer_is_given_sooner_when_the_message_names_our_system(
        kb: KnowledgeBase) -> None:
    named = said("how can I update my DOB in MassONE", "faq", 1.0, faq="massone_birth_date_wrong",
                 faq_confidence=0.3, entities=[{"entity": "system", "value": "MassONE"}])
    unnamed = said("how can I update my DOB", "faq", 1.0, faq="massone_birth_date_wrong",
                   faq_confidence=0.3)
    assert understand(named, kb).answer_id == "massone_birth_date_wrong"
    assert understand(unnamed, kb).kind == "fallback"


@pytest.mark.parametrize(("text", "intent", "decided"), [
    ("yes ma'am", "deny", "affirm"),        # the words contradict the model: the words win
    ("nuh uh", "affirm", "deny"),
    ("mhm", "deny", "affirm"),
    ("nvm", "choose_system", "stop"),
])
def test_short_replies_go_by_their_words(kb: KnowledgeBase, text: str, intent: str,
                                         decided: str) -> None:
    assert understand(said(text, intent, 0.5), kb).intent == decided


@pytest.mark.parametrize(("text", "intent"), [
    ("please find the capital of pakistan and its population", "affirm"),
    ("is it true that nicotine is harder to kick than heroin", "affirm"),
    ("suo2", "choose_system"),
])
def test_a_conversation_intent_the_words_do_not_bear_out_is_not_understood(
        kb: KnowledgeBase, text: str, intent: str) -> None:
    assert understand(said(text, intent, 0.4), kb).kind == "fallback"


def test_a_typed_system_choice_stands(kb: KnowledgeBase) -> None:
    assert understand(said("the first one", "choose_system", 0.6), kb).intent == "choose_system"


@pytest.mark.parametrize(("text", "intent", "decided"), [
    ("hi, this is Mrs. Patel from the front office", "nlu_fallback", "greet"),
    ("is this chatgpt or something", "nlu_fallback", "bot_challenge"),
    ("am i texting a real staff member", "human_handoff", "bot_challenge"),
    ("January 7, 1970", "nlu_fallback", "inform"),
])
def test_unsure_small_talk_is_read_from_its_words(kb: KnowledgeBase, text: str, intent: str,
                                                  decided: str) -> None:
    assert understand(said(text, intent, 0.4), kb).intent == decided


def test_a_greeting_that_asks_something_is_not_only_a_greeting(kb: KnowledgeBase) -> None:
    assert understand(said("hi, what's the weather in Boston?", "nlu_fallback", 0.4),
                      kb).kind == "fallback"


def test_a_login_problem_with_a_system_that_is_not_ours_is_out_of_scope(
        kb: KnowledgeBase) -> None:
    outlook = said("I can't get into my school outlook email, can you reset that password?",
                   "forgot_password", 0.9)
    assert understand(outlook, kb).kind == "fallback"
    ours = said("I forgot my MassONE password, the one like my outlook one", "forgot_password",
                0.9, entities=[{"entity": "system", "value": "MassONE"}])
    assert understand(ours, kb).answer_id == "forgot_password"


def test_asking_who_the_admin_is_starts_the_lookup(kb: KnowledgeBase) -> None:
    message = said("who do I ask to get added to MDCS? need our directory admin", "faq", 0.9,
                   faq="ese_data_tool_access", faq_confidence=0.7)
    assert understand(message, kb).answer_id == "find_directory_admin"
    role = said("what does a directory administrator do?", "faq", 0.9,
                faq="ese_directory_admin_role", faq_confidence=0.9)
    assert understand(role, kb).answer_id == "ese_directory_admin_role"


@pytest.mark.parametrize(("text", "faq"), [
    ("hi, I need a new massone password", "massone_change_password"),
    ("i forgot my massone username. can you email it to me?", "massone_choose_username"),
])
def test_a_forgotten_password_or_user_name_is_not_a_question_about_changing_one(
        kb: KnowledgeBase, text: str, faq: str) -> None:
    understood = understand(said(text, "faq", 0.99, faq=faq, faq_confidence=0.99), kb)
    assert understood.kind == "flow" and understood.answer_id in ("forgot_password",
                                                                  "forgot_username")


def test_how_to_change_a_password_stays_an_answer(kb: KnowledgeBase) -> None:
    message = said("how do I change my massone password", "faq", 0.99,
                   faq="massone_change_password", faq_confidence=0.9)
    assert understand(message, kb).answer_id == "massone_change_password"


@pytest.mark.parametrize("text", [
    "Could my MassONE password get reset? I'm stuck at the login page",
    "4got massone pw",
    "my password seems to have vanished, could you help me reset it",
])
def test_resets_asked_without_forgot(kb: KnowledgeBase, text: str) -> None:
    message = said(text, "faq", 0.99, faq="massone_change_password", faq_confidence=0.9)
    assert understand(message, kb).answer_id == "forgot_password"


def test_a_refused_login_is_a_login_problem(kb: KnowledgeBase) -> None:
    text = "Seriously?? The DESE portal has said 'invalid login' for FOUR days now"
    message = said(text, "faq", 1.0, faq="ese_portal_applications", faq_confidence=0.31,
                   entities=[{"entity": "system", "value": "DESE portal"}])
    assert understand(message, kb).answer_id == "login_incorrect"


def test_a_person_asked_for_in_more_words(kb: KnowledgeBase) -> None:
    text = "Honestly I'd rather talk this through with a person if that's possible."
    message = said(text, "faq", 0.8, faq="massone_eligibility", faq_confidence=0.79)
    assert understand(message, kb).answer_id == "human_handoff"


@pytest.mark.parametrize(("text", "intent", "kind"), [
    ("anybody able to help?", "nlu_fallback", "other"),
    ("what kinds of things can you help with", "faq", "other"),
    ("can you help me study for a history exam", "help", "fallback"),
    ("where can i see art", "help", "fallback"),
])
def test_help_is_asking_what_the_bot_does_and_nothing_else(kb: KnowledgeBase, text: str,
                                                           intent: str, kind: str) -> None:
    understood = understand(said(text, intent, 0.45, faq="ese_customer_service",
                                 faq_confidence=0.56), kb)
    assert understood.kind == kind
    assert kind == "fallback" or understood.intent == "help"


@pytest.mark.parametrize(("text", "kind"), [
    ("king of acid", "fallback"), ("Thompson", "other"), ("jgarcia5", "other"),
    ("ada.example@example.org", "other"),
])
def test_an_answer_must_carry_a_value(kb: KnowledgeBase, text: str, kind: str) -> None:
    assert understand(said(text, "inform", 0.8), kb).kind == kind


@pytest.mark.parametrize(("text", "intent", "faq"), [
    ("Hi there. I just came back from a sabbatical and MassONE won't take my old login at all.",
     "faq", "massone_eligibility"),
    ("I haven't used massone in two years and it says my password is wrong", "login_incorrect",
     None),
])
def test_a_login_that_lapsed_with_disuse_is_a_deactivated_account(
        kb: KnowledgeBase, text: str, intent: str, faq: str | None) -> None:
    message = said(text, intent, 0.7, faq=faq, faq_confidence=0.78,
                   entities=[{"entity": "system", "value": "MassONE"}])
    assert understand(message, kb).answer_id == "reactivate_account"


def test_a_forgotten_password_after_a_leave_is_still_a_reset(kb: KnowledgeBase) -> None:
    message = said("I was on maternity leave and forgot my massone password", "forgot_password",
                   0.9)
    assert understand(message, kb).answer_id == "forgot_password"


def test_a_new_user_is_not_a_lapsed_one(kb: KnowledgeBase) -> None:
    text = "I've never used the ESE portal. How do I create an account?"
    message = said(text, "faq", 1.0, faq="ese_create_profile", faq_confidence=0.6,
                   entities=[{"entity": "system", "value": "ESE portal"}])
    assert understand(message, kb).answer_id == "ese_create_profile"


def test_what_gets_reset_is_a_password(kb: KnowledgeBase) -> None:
    message = said("ok so I probably forgot my SIMS one then. how do I reset that?",
                   "forgot_username", 0.7)
    assert understand(message, kb).answer_id == "forgot_password"


def test_an_unsure_faq_naming_our_system_is_not_taken_when_a_flow_is_as_likely(
        kb: KnowledgeBase) -> None:
    text = "my MassONE login keeps saying incorrect but I type it right"
    message = said(text, "faq", 0.51, faq="massone_birth_date_wrong", faq_confidence=0.31,
                   entities=[{"entity": "system", "value": "MassONE"}])
    assert understand(message, kb).answer_id == "login_incorrect"
