"""What the bot does with a message outside a form (bot.dialogue.manager), on the real
knowledge base, with parse results built as Rasa's NLU returns them."""

from __future__ import annotations

from typing import Any

import pytest

from bot.dialogue.manager import Manager
from bot.dialogue.turns import Parsed, State, Turn
from bot.knowledge.entries import KnowledgeBase
from bot.tickets.kinds import load_request_kinds


@pytest.fixture(scope="module")
def manager(kb: KnowledgeBase) -> Manager:
    return Manager(kb, load_request_kinds())


def parse(text: str, intent: str, confidence: float = 0.95, faq: str | None = None,
          entities: list[dict[str, Any]] | None = None,
          ranking: list[tuple[str, float]] | None = None,
          faqs: list[tuple[str, float]] | None = None) -> Parsed:
    message: dict[str, Any] = {
        "text": text,
        "intent": {"name": intent, "confidence": confidence},
        "intent_ranking": [{"name": n, "confidence": c}
                           for n, c in (ranking or [(intent, confidence)])],
        "entities": entities or [],
    }
    if faq or faqs:
        ranked = faqs or [(faq, 0.9)]
        message["response_selector"] = {"faq": {
            "response": {"intent_response_key": f"faq/{ranked[0][0]}",
                         "confidence": ranked[0][1]},
            "ranking": [{"intent_response_key": f"faq/{f}", "confidence": c} for f, c in ranked],
        }}
    return Parsed.from_rasa(message)


def system(text: str, value: str, label: str = "system") -> list[dict[str, Any]]:
    return [{"entity": label, "value": value, "start": text.lower().index(value.lower())}]


def texts(turn: Turn) -> str:
    return "\n".join(reply.text or reply.response or "" for reply in turn.replies)


def answered(turn: Turn) -> list[str]:
    return [reply.custom["faq_id"] for reply in turn.replies if reply.custom]


def test_an_answer_with_its_source(manager: Manager) -> None:
    turn = manager.respond(parse("is massone free", "faq", faq="massone_cost"), State())
    assert answered(turn) == ["massone_cost"]
    assert turn.slots["last_answer"] == "massone_cost"


def test_which_system_is_asked_then_a_typed_choice_answers(manager: Manager) -> None:
    turn = manager.respond(parse("forgot my password", "forgot_password"), State())
    assert turn.slots["pending_question"] == "forgot_password"
    assert len(turn.replies[0].buttons) == 2
    turn = manager.respond(parse("the second one", "choose_system", 0.6),
                           State(pending_question="forgot_password"))
    assert answered(turn) == ["forgot_password"]
    assert turn.slots["system"] == "massone"
    assert turn.form == "password_form"


def test_both_systems_are_taken_one_at_a_time(manager: Manager) -> None:
    turn = manager.respond(parse("both actually", "choose_system", 0.5),
                           State(pending_question="forgot_password"))
    assert turn.slots["pending_question"] == "forgot_password"
    assert "one at a time" in texts(turn)
    assert turn.form is None


def test_a_new_question_instead_of_a_system_is_answered(manager: Manager) -> None:
    turn = manager.respond(parse("is massone free", "faq", faq="massone_cost"),
                           State(pending_question="forgot_password"))
    assert answered(turn) == ["massone_cost"]
    assert turn.slots["pending_question"] is None


@pytest.mark.parametrize("reply", ["no, still says incorrect", "nah didn't help", "n"])
def test_advice_that_did_not_help_opens_the_ticket(manager: Manager, reply: str) -> None:
    turn = manager.respond(parse(reply, "deny", 0.6),
                           State(system="massone", offered_request="login_incorrect"))
    assert turn.request == "login_incorrect"
    assert turn.slots["offered_request"] is None


@pytest.mark.parametrize("reply", ["yes that fixed it thanks", "oh, caps lock. I'm in now"])
def test_advice_that_helped_files_nothing(manager: Manager, reply: str) -> None:
    turn = manager.respond(parse(reply, "thank", 0.6), State(offered_request="login_incorrect"))
    assert turn.request is None
    assert turn.slots["offered_request"] is None
    assert "glad" in texts(turn)


def test_send_it_again_reopens_the_same_flow_for_the_same_system(manager: Manager) -> None:
    turn = manager.respond(parse("send it again please", "retry"),
                           State(system="massone", last_flow="forgot_password"))
    assert turn.form == "password_form"
    assert turn.slots["system"] == "massone"
    assert not answered(turn)  # no second copy of the guidance


def test_now_the_other_one_switches_system(manager: Manager) -> None:
    turn = manager.respond(parse("now the other one", "retry"),
                           State(system="massone", last_flow="forgot_password"))
    assert turn.slots["system"] == "ese_portal"
    assert turn.form == "password_form"


def test_a_mail_that_did_not_come_gets_advice_and_a_resend_button(manager: Manager) -> None:
    turn = manager.respond(parse("nothing came", "not_received"),
                           State(system="ese_portal", last_flow="forgot_username"))
    assert "spam" in texts(turn)
    assert turn.replies[0].buttons == [{"title": "Send it again", "payload": "/retry"}]
    assert turn.form is None


def test_an_elliptical_follow_up_answers_for_the_other_system(manager: Manager) -> None:
    text = "and for massone?"
    turn = manager.respond(parse(text, "choose_system", 0.7, entities=system(text, "massone")),
                           State(system="ese_portal", last_answer="ese_customer_service"))
    assert answered(turn) == ["massone_helpdesk_contact"]


def test_a_follow_up_about_a_district_looks_up_its_administrators(manager: Manager) -> None:
    text = "what about lowell"
    entities = [{"entity": "district", "value": "lowell", "start": 11}]
    turn = manager.respond(parse(text, "inform", 0.5, entities=entities),
                           State(last_answer="find_directory_admin"))
    assert turn.admins_of == "Lowell"


def test_a_massone_only_procedure_asked_for_the_portal_says_who_helps(manager: Manager) -> None:
    text = "how do I change my email in ELAR"
    turn = manager.respond(
        parse(text, "faq", faq="massone_change_email", entities=system(text, "ELAR",
                                                                           "application")),
        State(),
    )
    assert "loginhelp@doe.mass.edu" in texts(turn)
    assert not answered(turn)


def test_a_portal_login_and_a_massone_login_are_not_duplicates(manager: Manager) -> None:
    text = "I have an ELAR login and a MassONE login, should they be merged"
    entities = system(text, "ELAR", "application") + system(text, "MassONE")
    turn = manager.respond(parse(text, "merge_duplicate_accounts", entities=entities), State())
    assert answered(turn) == ["massone_vs_ese_login"]
    assert turn.request is None


def test_a_massone_ticket_kind_for_the_portal_gives_the_portal_contacts(manager: Manager) -> None:
    text = "my name is misspelled in my ELAR profile"
    turn = manager.respond(
        parse(text, "report_name_misspelled", entities=system(text, "ELAR", "application")),
        State(),
    )
    assert turn.request is None
    assert "Directory Administrator" in texts(turn)


def test_the_opening_message_fills_in_what_it_says(manager: Manager) -> None:
    text = "forgot my massone password. username jdoe7, name Jo Doe, born 02/03/1981"
    turn = manager.respond(parse(text, "forgot_password", entities=system(text, "massone")),
                           State())
    assert turn.form == "password_form"
    assert turn.form_slots == {"account_identifier": "jdoe7", "first_name": "Jo",
                               "last_name": "Doe", "birth_date": "1981-02-03"}


def test_a_move_fills_in_both_districts(manager: Manager) -> None:
    text = "I moved from lowel to boston public schools, what about my massone account"
    turn = manager.respond(parse(text, "transfer_account", entities=system(text, "massone")),
                           State())
    assert turn.request == "transfer_account"
    assert turn.request_facts == {"old_district": "Lowell", "new_district": "Boston"}


def test_unsure_offers_the_likeliest_topics(manager: Manager) -> None:
    parsed = parse("pasword thingy", "nlu_fallback", 0.4,
                   ranking=[("nlu_fallback", 0.4), ("forgot_password", 0.35), ("faq", 0.3)],
                   faqs=[("massone_change_password", 0.5)])
    turn = manager.respond(parsed, State())
    titles = [button["title"] for button in turn.replies[0].buttons]
    assert titles == ["I forgot my password.", "How do I change my MassONE password?"]
    assert turn.outcome == "fallbacks"
    assert len(turn.replies[0].text) < 200


def test_out_of_scope_is_refused_and_a_second_miss_offers_a_person(manager: Manager) -> None:
    turn = manager.respond(parse("what's the weather", "out_of_scope"), State())
    assert "not something I can help with" in texts(turn)
    assert turn.slots["misses"] == 1
    turn = manager.respond(parse("who won the game", "out_of_scope"), State(misses=1))
    assert "massonehelp@doe.mass.edu" in texts(turn)
    assert turn.replies[-1].buttons[0]["payload"] == "/human_handoff"


def test_help_gets_a_menu(manager: Manager) -> None:
    turn = manager.respond(parse("help", "help"), State())
    assert turn.replies[0].response == "utter_help"
    assert "/forgot_password" in [b["payload"] for b in turn.replies[0].buttons]


# --- a person now: live chat when someone at the help desk is free --------------------------


def live_manager(kb: KnowledgeBase, wait: int | None) -> Manager:
    return Manager(kb, load_request_kinds(), person_now=lambda: wait)


def test_a_person_now_is_offered_next_to_a_request_when_someone_is_free(kb) -> None:
    turn = live_manager(kb, 2).respond(parse("can I talk to a real person", "human_handoff"),
                                       State())
    assert "can chat with you now (the wait is about 2 minutes)" in texts(turn)
    assert [b["title"] for b in turn.replies[-1].buttons] == [
        "Chat with someone now", "Leave a request"]
    assert turn.request is None and not turn.live_chat
    now, later = (b["payload"] for b in turn.replies[-1].buttons)
    chosen = live_manager(kb, 2).respond(parse(now, "human_handoff"), State())
    assert chosen.live_chat and chosen.request is None
    request = live_manager(kb, 2).respond(parse(later, "human_handoff"), State())
    assert request.request == "human_handoff" and not request.live_chat


def test_nobody_free_is_the_request_as_before(kb, manager: Manager) -> None:
    turn = live_manager(kb, None).respond(parse("can I talk to a real person", "human_handoff"),
                                          State())
    assert turn.request == "human_handoff" and not turn.live_chat
    gone = live_manager(kb, None).respond(
        parse('/human_handoff{"live": "now"}', "human_handoff"), State())
    assert "nobody from the help desk is free to chat any more" in texts(gone)
    assert gone.request == "human_handoff" and not gone.live_chat
    assert manager.respond(parse("can I talk to a real person", "human_handoff"),
                           State()).request == "human_handoff"


def test_two_misses_offer_a_live_chat_when_someone_is_free(kb) -> None:
    turn = live_manager(kb, 1).respond(parse("who won the game", "out_of_scope"), State(misses=1))
    assert [b["title"] for b in turn.replies[-1].buttons] == [
        "Chat with someone now", "Leave a request"]


def test_the_other_system_instead_after_a_flow(manager: Manager) -> None:
    text = "ah. then please reset my ELAR one instead"
    turn = manager.respond(parse(text, "forgot_password", 0.26,
                                 entities=system(text, "ELAR", "application")),
                           State(system="massone", last_flow="forgot_password"))
    assert (turn.form, turn.slots["system"]) == ("password_form", "ese_portal")


def test_a_correction_of_the_system_gives_the_last_answer_for_the_one_meant(
        manager: Manager) -> None:
    text = "oh wait, sorry, I mean the login I use for ELAR, not massone"
    entities = system(text, "ELAR", "application") + system(text, "massone")
    turn = manager.respond(parse(text, "faq", 0.99, faq="massone_vs_ese_login",
                                 entities=entities),
                           State(system="massone", last_answer="forgot_username"))
    assert (turn.form, turn.slots["system"]) == ("username_form", "ese_portal")


@pytest.mark.parametrize("text", ["elar pw same as massone?",
                                  "I reset my MassONE password. Do I have to do ELAR separately?"])
def test_a_question_comparing_the_two_systems_says_they_are_separate(
        manager: Manager, text: str) -> None:
    entities = system(text, "elar", "application") + system(text, "massone")
    turn = manager.respond(parse(text, "faq", 0.99, faq="massone_change_password",
                                 entities=entities), State())
    assert answered(turn) == ["massone_vs_ese_login"]


@pytest.mark.parametrize(("text", "district"), [
    ("who is the directory administrator for hudson right now?", "Hudson"),
    ("who's the directory administrator for cambrige schools?", "Cambridge"),
])
def test_the_district_asked_about_is_looked_up_when_the_ruler_missed_it(
        manager: Manager, text: str, district: str) -> None:
    turn = manager.respond(parse(text, "find_directory_admin", 0.93), State())
    assert turn.admins_of == district


def test_a_status_lookup_typed_with_its_reference_asks_only_for_the_address(
        manager: Manager) -> None:
    # The address is asked even when typed too: the lookup runs when the last fact is answered.
    text = "cool. can you look up HD-2026-000001 for me? same email, mgrady@example.org"
    turn = manager.respond(parse(text, "ticket_status", 0.73), State())
    assert turn.request_facts == {"reference": "HD-2026-000001"}
def test_a_question_of_its_own_after_advice_is_answered(manager: Manager) -> None:
    text = "also will massone work on my ipad?"
    turn = manager.respond(parse(text, "faq", 1.0, faqs=[("massone_browser_support", 0.98)],
                                 entities=system(text, "massone")),
                           State(system="massone", offered_request="login_incorrect",
                                 last_answer="login_incorrect"))
    assert answered(turn) == ["massone_browser_support"]


def test_and_on_the_other_system(manager: Manager) -> None:
    turn = manager.respond(parse("and on the other system?", "retry", 0.23),
                           State(system="massone", last_answer="massone_choose_username"))
    assert answered(turn) == ["ese_username_cannot_change"]
    assert turn.slots["system"] == "ese_portal"


def test_a_follow_up_inside_a_longer_message(manager: Manager) -> None:
    text = "thanks! and for somerville? my wife works there"
    entities = [{"entity": "district", "value": "somerville", "start": text.index("somerville")}]
    turn = manager.respond(parse(text, "out_of_scope", 0.93, entities=entities),
                           State(last_answer="find_directory_admin"))
    assert turn.admins_of == "Somerville"


def test_an_unsure_question_comparing_the_systems_says_they_are_separate(
        manager: Manager) -> None:
    text = "I only ever log into ELAR for my license. is massone a different account altogether?"
    entities = system(text, "ELAR", "application") + system(text, "massone")
    turn = manager.respond(parse(text, "faq", 1.0, faqs=[("massone_about", 0.1)],
                                 entities=entities), State(system="massone"))
    assert answered(turn) == ["massone_vs_ese_login"]


def test_both_systems_for_a_question_answers_for_each(manager: Manager) -> None:
    turn = manager.respond(parse("both honestly, I use ELAR and massone", "choose_system", 0.9),
                           State(pending_question="ese_customer_service"))
    assert sorted(answered(turn)) == ["ese_customer_service", "massone_helpdesk_contact"]
