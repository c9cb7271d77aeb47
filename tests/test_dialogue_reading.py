"""Reading short replies in context (bot.dialogue.reading, .systems, .facts): the words people
use to answer the bot's questions. Phrasings are our own, not the evaluation set's."""

from __future__ import annotations

import pytest

from bot.dialogue import facts, reading
from bot.dialogue.systems import BOTH, affirmed_systems, chosen_system
from bot.knowledge.districts import match_district
from bot.knowledge.entries import KnowledgeBase
from bot.validation import parse_spoken_birth_date


@pytest.mark.parametrize(
    "text",
    ["no", "nope", "n", "nah, same problem", "still not working", "it still says incorrect",
     "didn't work", "that didn't help at all", "no I already tried that", "not really",
     "doesn't work", "no luck, locked out still"],
)
def test_a_no_to_did_that_help(text: str) -> None:
    assert reading.polarity(text) == reading.NO


@pytest.mark.parametrize(
    "text",
    ["yes", "y", "yep that fixed it", "it worked, thank you", "all good now", "I'm in!",
     "that was it, caps lock", "sorted thanks", "yes send it", "looks right to me", "correct",
     "oh never mind, I got in"],
)
def test_a_yes_to_did_that_help(text: str) -> None:
    assert reading.polarity(text) == reading.YES


def test_an_unclear_reply_is_left_to_the_intent() -> None:
    assert reading.polarity("hmm") is None
    assert reading.polarity("hmm", "affirm") == reading.YES
    assert reading.polarity("hmm", "deny") == reading.NO


@pytest.mark.parametrize(
    ("text", "stop"),
    [("stop", True), ("cancel please", True), ("never mind, I'll call them", True),
     ("forget it", True), ("gotta go, later", True), ("no thanks, I'll email them myself", True),
     ("Deact", False), ("Stopford", False), ("Example", False), ("the portal", False)],
)
def test_stop(text: str, stop: bool) -> None:
    assert reading.is_stop(text) is stop


@pytest.mark.parametrize(
    ("text", "expected"),
    [("I don't know", True), ("no clue", True), ("not sure which one", True), ("idk", True),
     ("can't remember it", True), ("hang on, let me look it up", True), ("Ada", False),
     ("ada@example.org", False)],
)
def test_dont_know(text: str, expected: bool) -> None:
    assert reading.says_dont_know(text) is expected


def test_waiting_is_told_apart_from_not_knowing() -> None:
    assert reading.asks_for_time("one sec, let me find it")
    assert not reading.asks_for_time("I really don't know it")


@pytest.mark.parametrize(
    ("text", "question"),
    [("what's a directory admin?", True), ("wait, which browsers work", True),
     ("is this the same login", True), ("Ada", False), ("uploading a file to my class", False)],
)
def test_questions(text: str, question: bool) -> None:
    assert reading.is_question(text) is question


@pytest.mark.parametrize(
    ("text", "elliptical"),
    [("and for massone?", True), ("what about boston", True), ("same for the portal?", True),
     ("how do I reset my password for the portal please", False), ("massone", False)],
)
def test_follow_ups(text: str, elliptical: bool) -> None:
    assert reading.is_elliptical(text) is elliptical


def _entity(text: str, value: str) -> dict:
    """A system entity as the spaCy entity ruler reports it."""
    return {"entity": "system", "value": value, "start": text.index(value)}


@pytest.mark.parametrize(
    ("text", "system"),
    [("the first one", "ese_portal"), ("the 2nd", "massone"), ("ELAR", "ese_portal"),
     ("maas one", "massone"), ("the dese one", "ese_portal"),
     ("the one for my license renewal", "ese_portal"), ("the one my class uses", "massone"),
     ("both of them", BOTH), ("what?", None)],
)
def test_which_system(kb: KnowledgeBase, text: str, system: str | None) -> None:
    assert chosen_system(text, [], kb) == system


def test_a_negated_system_does_not_count(kb: KnowledgeBase) -> None:
    text = "the ESE one, not MassONE"
    entities = [_entity(text, "ESE"), _entity(text, "MassONE")]
    assert chosen_system(text, entities, kb) == "ese_portal"


def test_facts_given_up_front() -> None:
    text = "forgot my pw. user name: jdoe7, I'm Jo Doe, dob 02/03/1981"
    assert facts.find_user_name(text) == "jdoe7"
    assert facts.find_full_name(text) == ("Jo", "Doe")
    assert facts.find_birth_date(text) == "1981-02-03"
    assert facts.find_user_name("my username is wrong") is None
    assert facts.find_user_name("my account was deactivated") is None
    assert facts.find_email("maybe jo.doe@example.com?") == "jo.doe@example.com"
    assert facts.find_email("a@example.org or b@example.org") is None


@pytest.mark.parametrize(
    ("text", "answer"),
    [("ok fine. Jo", "Jo"), ("it's Doe", "Doe"), ("my last name is Doe", "Doe"),
     ("sure, 02/03/1981", "02/03/1981"), ("Jo", "Jo")],
)
def test_filler_before_an_answer(text: str, answer: str) -> None:
    assert facts.strip_filler(text) == answer


def test_a_full_name_where_the_first_is_asked() -> None:
    pair = facts.split_full_name("Jo Doe")
    assert (pair.first, pair.last) == ("Jo", "Doe")
    assert facts.split_full_name("Jo") is None
    assert facts.split_full_name("Jo Ann Doe") is None


def test_a_move_between_districts() -> None:
    assert facts.find_move("we moved from lowel to boston public schools in june",
                           match_district) == ("Lowell", "Boston")
    assert facts.find_move("I moved to a new school", match_district) == (None, None)


@pytest.mark.parametrize(
    ("text", "iso"),
    [("2/3/81", "1981-02-03"), ("12-25-99", "1999-12-25"), ("Feb 3rd, 1981", "1981-02-03")],
)
def test_birth_dates_as_typed(text: str, iso: str) -> None:
    assert parse_spoken_birth_date(text).isoformat() == iso


def test_a_system_only_guessed_at_gives_way_to_the_application_named(kb: KnowledgeBase) -> None:
    text = "can't log in to Edwin Analytics, it says my password is wrong. Is that a massone thing?"
    entities = [{**_entity(text, "Edwin Analytics"), "entity": "application"},
                _entity(text, "massone")]
    assert affirmed_systems(text, entities, kb) == {"ese_portal"}
    alone = "is that a massone thing?"
    assert affirmed_systems(alone, [_entity(alone, "massone")], kb) == {"massone"}


@pytest.mark.parametrize(("text", "asks"), [
    ("who is the DA for newton", False),  # "DA" is the district lookup's own reading
    ("who do I ask to get added to MDCS? need our directory admin", True),
    ("who is the massone admin for newton then?", True),
    ("who's our directory administrator", True),
    ("what does a directory administrator do?", False),
    ("it says my profile is a partial match and to contact my directory administrator", False),
])
def test_asking_who_the_admin_is(text: str, asks: bool) -> None:
    assert reading.asks_who_the_admin_is(text) is asks


@pytest.mark.parametrize(("text", "other"), [
    ("I can't get into my school outlook email, can you reset that password?", True),
    ("forgot my google classroom password", True),
    ("my wi-fi password doesn't work", True),
    ("I forgot my MassONE password", False),
    ("my e-mail on file is wrong", False),
])
def test_systems_that_are_not_ours(text: str, other: bool) -> None:
    assert reading.names_other_system(text) is other


def test_a_user_name_appended_as_the_prompts_show_it() -> None:
    text = "Harold Brightwater, user name hbrightwater"
    assert facts.find_user_name(text) == "hbrightwater"
    assert facts.without_user_name(text) == "Harold Brightwater"
    assert facts.find_user_name("my username is wrong") is None
