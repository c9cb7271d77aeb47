"""What a message typed while a form waits for an answer is: the answer, or something else.

A form asks for one thing at a time. People answer it, but also ask a question ("wait, what's a
directory administrator?"), say they don't know, correct an earlier answer ("I spelled my last
name wrong, it's Example"), switch system ("actually it's my ESE account"), change the request
("the real problem is my name is misspelled"), joke, or leave. `read_answer` tells these apart;
the form's validation acts on the result. The answer itself is checked by the field's own
validator afterwards: this module only decides what the message is.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from bot.dialogue import facts, reading
from bot.dialogue.systems import affirmed_systems
from bot.dialogue.turns import Parsed
from bot.knowledge.entries import SYSTEMS, KnowledgeBase
from bot.nlu.understanding import CONFIDENT, RECOVERY_FLOWS, understand

# What the message is.
ANSWER, STOP, QUESTION, OFF_TOPIC, DONT_KNOW, WAIT, SWITCH_SYSTEM, SWITCH_FLOW, CORRECTION = (
    "answer", "stop", "question", "off_topic", "dont_know", "wait", "switch_system",
    "switch_flow", "correction",
)
DISTINCTIVE_TYPES = frozenset({"email", "phone", "date", "birth_date", "reference", "user_name",
                               "account_identifier"})
SMALL_TALK = "small_talk"  # "thanks", "hello", "are you a bot?": a reply, then the question again
SMALL_TALK_RESPONSES = {"thank": "utter_thank", "greet": "utter_greet",
                        "bot_challenge": "utter_iamabot"}
SWITCH_WHEN_SAID = 0.4  # a new request this likely, said with "actually", "the real problem"
QUESTION_FAQ = 0.3  # inside a form, a question whose likeliest FAQ is this sure is answered
MAX_NAME_WORDS = 4
DONT_KNOW_IN_STORY = 6  # words: a longer free-text answer that says "I don't know" is an answer
CLOSING_WORDS = 8  # "ok thanks", "thank you, I'll call them tomorrow"
# Said when changing the request altogether ("oh wait no, the real problem is ...").
_CHANGE_OF_MIND = re.compile(
    r"\b(actually|instead|real problem|real issue|wait no|oh wait|no wait|never mind that|"
    r"that's not it|not that|different problem|something else)\b"
)
# A date given in words the field cannot take ("right after winter break") is still an answer:
# the field's own check asks for a date it can read.
_TIME_WORDS = re.compile(
    r"\b(?:january|february|march|april|may|june|july|august|september|october|november|"
    r"december|jan|feb|mar|apr|jun|jul|aug|sept?|oct|nov|dec|monday|tuesday|wednesday|"
    r"thursday|friday|week|weeks|month|months|year|semester|term|break|vacation|holidays?|"
    r"spring|summer|fall|autumn|winter|tomorrow|today|yesterday|soon|asap|next|last)\b"
)
_VALUE_AFTER = re.compile(
    r"(?:\bit'?s|\bit\s+is|\bshould\s+be|\bis|\bwas|\bto|=|:)\s+(?P<value>[^,;!?]+?)\s*[.!]*$",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Asked:
    """The field a form is waiting for."""

    name: str
    type: str  # name, email, birth_date, account_identifier, user_name, text, district, ...
    optional: bool = False
    labels: dict[str, tuple[str, ...]] | None = None  # every field of the form -> its names


@dataclass(frozen=True)
class Reading:
    kind: str
    value: str | None = None  # the answer, or the corrected value
    field: str | None = None  # the field a correction is about
    entry_id: str | None = None  # the question's answer, or the new flow
    system: str | None = None  # the system switched to


def read_answer(
    parsed: Parsed, asked: Asked, kb: KnowledgeBase, current_system: str | None = None,
    current_flow: str | None = None, is_valid: Callable[[str], bool] | None = None,
) -> Reading:
    """What `parsed`, typed while `asked` is waiting, is. `is_valid` tells whether a text
    would pass the field's own check: a valid answer is never taken for small talk."""
    text = parsed.text.strip()
    if parsed.is_button:
        return Reading(ANSWER, text)
    found = reading.words(text)
    understood = understand(parsed.raw or _parse_of(parsed), kb)
    free_text = asked.type == "text"

    if reading.is_stop(text) and (
        parsed.intent in ("stop", "deny", "goodbye") or len(found) <= (8 if free_text else 12)
    ) and not _single_name(asked, text):
        return Reading(STOP)

    correction = _correction(text, asked)
    if correction is not None:
        return correction

    switched = _switched_system(parsed, kb, current_system)
    if switched is not None:
        return Reading(SWITCH_SYSTEM, system=switched)

    changing = reading.contains(text, _CHANGE_OF_MIND)
    if (understood.kind == "flow" and understood.answer_id not in (None, current_flow)
            and understood.answer_id not in RECOVERY_FLOWS and len(found) >= 5
            and understood.confidence >= (SWITCH_WHEN_SAID if changing else CONFIDENT)
            and (not free_text or changing)):
        return Reading(SWITCH_FLOW, entry_id=understood.answer_id)

    # In a free-text answer "I don't know who should request them" is part of the story.
    told = free_text and len(found) > DONT_KNOW_IN_STORY
    if reading.says_dont_know(text) and not _carries_value(text, asked) and not told:
        # "Jess Whitaker idk my username": the answer, with an aside about something else.
        before = facts.strip_filler(reading.before_dont_know(text))
        if before and is_valid and is_valid(before) and not free_text:
            return Reading(ANSWER, before)
        return Reading(WAIT if reading.asks_for_time(text) else DONT_KNOW)

    value = _value(text, asked, parsed)
    question = reading.is_question(text)
    # A question can pass a loose check (a school's name is any short text): only a value
    # that cannot be mistaken (an address, a date, a user name) counts inside a question.
    valid = bool(is_valid and is_valid(value)) and (
        not question or asked.type in DISTINCTIVE_TYPES
    )
    if question and not (free_text and not _confident_question(understood)):
        entry = understood.answer_id if understood.kind in ("faq", "flow") else _likely_faq(parsed)
        if entry and entry != current_flow:
            return Reading(QUESTION, entry_id=entry)
        if not free_text and not _carries_value(text, asked) and not valid:
            return Reading(OFF_TOPIC)

    # "ok thanks", "thanks, I'll call them": polite words, however the model read them.
    polite = reading.closing(text)
    if polite and not free_text and not valid and not _carries_value(text, asked) \
            and len(found) <= CLOSING_WORDS:
        if polite == "goodbye" or reading.will_contact_them(text):
            return Reading(STOP)
        return Reading(SMALL_TALK, entry_id=SMALL_TALK_RESPONSES[polite])
    if not free_text and not valid and parsed.confidence >= CONFIDENT:
        if parsed.intent == "goodbye":
            return Reading(STOP)
        if parsed.intent in SMALL_TALK_RESPONSES:
            return Reading(SMALL_TALK, entry_id=SMALL_TALK_RESPONSES[parsed.intent])
    # Something else altogether, said in a sentence; a short bad answer is just a bad answer.
    if not free_text and parsed.intent == "out_of_scope" and parsed.confidence >= CONFIDENT \
            and len(found) >= 4 and not _carries_value(text, asked) and not valid:
        return Reading(OFF_TOPIC)
    named = facts.strip_filler(facts.without_user_name(text))
    if asked.type == "name" and len(named.split()) > MAX_NAME_WORDS:
        return Reading(OFF_TOPIC)
    return Reading(ANSWER, value)


def _likely_faq(parsed: Parsed) -> str | None:
    """The FAQ a question typed inside a form most likely asks, if it is likely enough."""
    if parsed.intent != "faq" or not parsed.faqs:
        return None
    faq, confidence = parsed.faqs[0]
    return faq if confidence >= QUESTION_FAQ else None


def _confident_question(understood: object) -> bool:
    return getattr(understood, "kind", None) in ("faq", "flow") and \
        getattr(understood, "confidence", 0.0) >= CONFIDENT


def _single_name(asked: Asked, text: str) -> bool:
    """One word typed for a name is a name, even if it could be a command ("Deact"), unless
    it is the command itself ("stop")."""
    plain = text.strip(" .!").lower()
    return asked.type == "name" and len(plain.split()) == 1 and not reading.is_stop(plain)


def _value(text: str, asked: Asked, parsed: Parsed) -> str:
    if asked.type == "district":
        named = parsed.values("district")
        if len(named) == 1 and len(reading.words(text)) > len(reading.words(named[0])) + 1:
            return named[0]  # "it's in Worcester", "who is that for worcester?"
    if asked.type in ("email", "account_identifier"):
        email = facts.find_email(text)
        if email:
            return email
    if asked.type == "reference":  # "found it in my email: HD-2026-000031"
        reference = facts.find_reference(text)
        if reference:
            return reference
    if asked.type == "text":
        return text
    return facts.strip_filler(text)


def _carries_value(text: str, asked: Asked) -> bool:
    """The message holds a usable answer despite its wording ("probably ada@example.org")."""
    if asked.type in ("email", "account_identifier"):
        return facts.find_email(text) is not None
    if asked.type == "reference":
        return facts.find_reference(text) is not None
    if asked.type in ("birth_date", "date"):
        return bool(re.search(r"\d", text)) or reading.contains(text, _TIME_WORDS)
    return False


def _correction(text: str, asked: Asked) -> Reading | None:
    """"I spelled my last name wrong, it's Example": another field of the form, and its value."""
    if not asked.labels or not reading.is_correction(text):
        return None
    lowered = " ".join(reading.words(text))
    named = [
        field for field, labels in asked.labels.items()
        if field != asked.name and any(re.search(rf"\b{re.escape(label)}\b", lowered)
                                       for label in labels)
    ]
    if len(named) != 1:
        return None
    match = _VALUE_AFTER.search(text.strip())
    value = facts.strip_filler(match.group("value")) if match else None
    if value and value.lower() in ("wrong", "incorrect", "misspelled", "not right"):
        value = None
    return Reading(CORRECTION, value=value, field=named[0])


def _switched_system(parsed: Parsed, kb: KnowledgeBase, current: str | None) -> str | None:
    """"actually it's my ESE account, not MassONE": the system named instead of the current."""
    if current not in SYSTEMS:
        return None
    named = affirmed_systems(parsed.text, list(parsed.entities), kb)
    if len(named) != 1:
        return None
    system = named.pop()
    if system == current:
        return None
    cue = reading.is_correction(parsed.text) or " not " in f" {parsed.text.lower()} "
    return system if cue else None


def _parse_of(parsed: Parsed) -> dict:
    return {"text": parsed.text,
            "intent": {"name": parsed.intent, "confidence": parsed.confidence},
            "entities": list(parsed.entities)}
