"""What a parsed user message asks for: one decision shared by the actions and `make eval`.

Rasa's FallbackClassifier only looks at the intent. A retrieval intent (`faq`) can win with high
confidence while the ResponseSelector is unsure which FAQ it is; answering then gives a confident
wrong answer, so a low sub-intent confidence falls back too.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Any

from bot.dialogue.reading import (
    NO,
    YES,
    asks_for_help,
    asks_for_person,
    asks_if_bot,
    asks_who_the_admin_is,
    closing,
    compares,
    forgotten_item,
    greets,
    is_stop,
    names_other_system,
    polarity,
    says_account_lapsed,
    says_login_rejected,
    words,
)
from bot.dialogue.systems import SYSTEM_ENTITIES, chosen_system
from bot.knowledge.entries import KnowledgeBase
from bot.validation import parse_spoken_birth_date

FALLBACK_INTENTS = frozenset({"nlu_fallback", "out_of_scope"})
FAQ_INTENT = "faq"
RECOVERY_FLOWS = ("forgot_password", "forgot_username")
SHORT_MESSAGE = 5  # words
CONFIDENT = 0.8  # sure enough to override how a reply to the bot's question reads
_NOT_RECOVERY = frozenset({"stop", "retry", "not_received", "deny", "out_of_scope"})
POLAR_INTENTS = {"affirm": YES, "deny": NO}
FIND_ADMIN = "find_directory_admin"
# Answers about Directory Administrators that a "who is ours?" question is not asking for.
_ABOUT_ADMINS = frozenset({"ese_data_tool_access", "ese_directory_admin_role"})
_LOGIN_TROUBLE = frozenset({"cant_log_in"})
LOGIN_INCORRECT = "login_incorrect"
REACTIVATE = "reactivate_account"
_LOGIN_FLOWS = frozenset({LOGIN_INCORRECT, "cant_log_in", *RECOVERY_FLOWS, "reactivate_account",
                          "human_handoff"})
# Answers about choosing or changing a password or user name, for someone who can log in: "I
# forgot my massone username", "I need a new password" are not asking them.
_SETTING_ANSWERS = frozenset({"ese_change_password", "massone_change_password",
                              "massone_choose_username", "ese_username_cannot_change"})
SHORT_STOP = 3  # words: "nvm", "never mind", "forget it"
GREETING_LENGTH = 12  # words: "hi, this is Mrs. Patel from the front office"


def intent_confidence_threshold() -> float:
    """Below this intent confidence a message is treated as not understood (the model's own
    FallbackClassifier is set lower, so this one can be tuned without retraining)."""
    return float(os.environ.get("INTENT_CONFIDENCE_THRESHOLD", "0.3"))


def faq_confidence_threshold() -> float:
    """Below this ResponseSelector confidence an FAQ prediction is treated as not understood."""
    return float(os.environ.get("FAQ_CONFIDENCE_THRESHOLD", "0.5"))


def faq_confidence_threshold_named() -> float:
    """The same for a message that names one of our systems, applications or terms (the entity
    ruler found it): the topic is plainly ours and only which answer is less certain, so the
    likeliest one is given sooner. Out-of-scope questions rarely name them."""
    return float(os.environ.get("FAQ_CONFIDENCE_THRESHOLD_NAMED", "0.2"))


@dataclass(frozen=True)
class Understanding:
    """`kind` is "faq", "flow", "fallback" or "other" (conversation intents)."""

    kind: str
    intent: str
    answer_id: str | None = None
    confidence: float = 0.0


def understand(parse: dict[str, Any], kb: KnowledgeBase) -> Understanding:
    """Classify a Rasa parse result (`tracker.latest_message` or `/model/parse` output).

    The model's reading first (`_classified`: thresholds), then the words check it where they
    are unambiguous, each check small and tested: what was forgotten, a person asked for,
    conversation intents the words contradict, a system that is not ours, "who is our admin",
    a refused or lapsed login, "help", small talk the model was unsure of."""
    understood = _recovery_named(parse, _classified(parse, kb))
    understood = _words_agree(parse, _person_asked(parse, understood), kb)
    understood = _admin_asked(parse, _not_ours(parse, understood, kb))
    understood = _lapsed(parse, _login_rejected(parse, understood))
    understood = _help_asked(parse, understood)
    return _small_talk_named(parse, understood)


def _small_talk_named(parse: dict[str, Any], understood: Understanding) -> Understanding:
    """A message the model was unsure of that plainly reads as small talk (bot/dialogue/
    reading.py's word lists): a short thanks, goodbye, yes or no; a greeting that asks nothing
    yet; a question about the bot; a bare date (an answer to a question)."""
    text = str(parse.get("text") or "")
    unsure = understood.kind == "fallback" or understood.intent == "human_handoff"
    if not unsure or understood.confidence >= CONFIDENT or text.startswith("/"):
        return understood
    found = words(text)
    named = None
    if asks_if_bot(text):
        named = "bot_challenge"
    elif understood.kind != "fallback":
        return understood
    elif len(found) <= SHORT_MESSAGE:
        named = closing(text) or {YES: "affirm", NO: "deny"}.get(polarity(text) or "")
    if not named and greets(text) and len(found) <= GREETING_LENGTH:
        named = "greet"
    if not named and _is_date(text):
        named = "inform"
    return Understanding("other", named, confidence=understood.confidence) if named else understood


def _carries_a_value(text: str, found: list[str]) -> bool:
    """An answer to a question carries a value: an address, a date, a reference or a user name
    (digits, dots, '@'), or a name as people type one (one or two capitalised words)."""
    if re.search(r"[\d@._]", text) or _is_date(text):
        return True
    names = text.strip(" .!").split()
    capitalised = 0 < len(names) <= 2 and all(word[:1].isupper() for word in names)
    return capitalised or len(found) == 1


def _is_date(text: str) -> bool:
    try:
        parse_spoken_birth_date(text.strip(" .!"))
    except ValueError:
        return False
    return True


def _words_agree(parse: dict[str, Any], understood: Understanding,
                 kb: KnowledgeBase) -> Understanding:
    """Conversation intents are short, plain replies: where their words say otherwise, the
    words win. A yes or no that the words contradict is turned round; a long message with no
    yes or no in it is not one; an answer must carry a value ("king of acid" does not); a
    system choice must name or point to a system; a short "nvm" is a stop."""
    text = str(parse.get("text") or "")
    if understood.kind not in ("other", "fallback") or text.startswith("/"):
        return understood
    found = words(text)
    confidence = understood.confidence
    if understood.intent in ("choose_system", "inform", "nlu_fallback") and \
            len(found) <= SHORT_STOP and is_stop(text):
        return Understanding("other", "stop", confidence=confidence)
    if understood.kind == "fallback":
        return understood
    expected = POLAR_INTENTS.get(understood.intent)
    if expected:
        said = polarity(text)
        if said is None and len(found) > SHORT_MESSAGE:
            return Understanding("fallback", understood.intent, confidence=confidence)
        if said is not None and said != expected and len(found) <= SHORT_MESSAGE:
            named = "affirm" if said == YES else "deny"
            return Understanding("other", named, confidence=confidence)
    if understood.intent == "inform" and not _carries_a_value(text, found):
        return Understanding("fallback", understood.intent, confidence=confidence)
    if understood.intent == "choose_system" and \
            chosen_system(text, parse.get("entities") or [], kb) is None:
        return Understanding("fallback", understood.intent, confidence=confidence)
    return understood


def _not_ours(parse: dict[str, Any], understood: Understanding,
              kb: KnowledgeBase) -> Understanding:
    """"I can't get into my school outlook email, can you reset that password?": a login
    problem with a system that is not ours is out of scope, however much it sounds like ours."""
    text = str(parse.get("text") or "")
    ours = understood.kind in ("flow", "faq") or understood.intent in _LOGIN_TROUBLE
    if not ours or text.startswith("/") or not names_other_system(text) or \
            _names_ours(parse, kb):
        return understood
    return Understanding("fallback", "out_of_scope", confidence=understood.confidence)


def _lapsed(parse: dict[str, Any], understood: Understanding) -> Understanding:
    """"I just came back from a sabbatical and MassONE won't take my old login": a login that
    stopped after a long time unused is a deactivated account, not a mistyped password."""
    text = str(parse.get("text") or "")
    if text.startswith("/") or not says_account_lapsed(text) or \
            understood.answer_id in (REACTIVATE, "human_handoff", *RECOVERY_FLOWS):
        return understood
    login_trouble = understood.answer_id == LOGIN_INCORRECT or understood.intent in _LOGIN_TROUBLE
    if login_trouble or understood.kind == "fallback" or understood.confidence < CONFIDENT:
        if understood.kind == "fallback" and understood.intent == "out_of_scope":
            return understood
        return Understanding("flow", REACTIVATE, REACTIVATE, CONFIDENT)
    return understood


def _help_asked(parse: dict[str, Any], understood: Understanding) -> Understanding:
    """"help" is a request for the menu only when it says no more than that ("what kinds of
    things can you help with"); "can you help me study for a history exam" is not."""
    text = str(parse.get("text") or "")
    if text.startswith("/"):
        return understood
    if asks_for_help(text):
        unsure = understood.kind in ("fallback", "other") or understood.confidence < CONFIDENT
        return Understanding("other", "help", confidence=understood.confidence) \
            if unsure else understood
    if understood.intent == "help" and understood.kind == "other":
        return Understanding("fallback", "help", confidence=understood.confidence)
    return understood


def _login_rejected(parse: dict[str, Any], understood: Understanding) -> Understanding:
    """"The DESE portal has said 'invalid login' for four days": a refused login, whatever
    answer the model leaned to, unless it already named a login problem."""
    text = str(parse.get("text") or "")
    if understood.intent in _LOGIN_FLOWS or understood.answer_id in _LOGIN_FLOWS or \
            text.startswith("/") or not says_login_rejected(text):
        return understood
    if understood.kind == "fallback" and understood.intent == "out_of_scope":
        return understood  # "my outlook password is wrong" (_not_ours)
    if understood.kind in ("fallback", "other") or understood.confidence < CONFIDENT:
        return Understanding("flow", LOGIN_INCORRECT, LOGIN_INCORRECT, CONFIDENT)
    return understood


def _admin_asked(parse: dict[str, Any], understood: Understanding) -> Understanding:
    """"who do I ask to get added to MDCS? need our directory admin": asking who the
    administrator is starts the lookup, rather than explaining what one does."""
    text = str(parse.get("text") or "")
    if understood.answer_id == FIND_ADMIN or text.startswith("/") or \
            not asks_who_the_admin_is(text):
        return understood
    if understood.kind in ("fallback", "other") or understood.answer_id in _ABOUT_ADMINS or \
            understood.confidence < CONFIDENT:
        return Understanding("flow", FIND_ADMIN, FIND_ADMIN, CONFIDENT)
    return understood


def _person_asked(parse: dict[str, Any], understood: Understanding) -> Understanding:
    """Someone who asks for a person gets one, whatever else their message says."""
    text = str(parse.get("text") or "")
    if understood.answer_id == "human_handoff" or text.startswith("/") or \
            not asks_for_person(text):
        return understood
    if understood.kind in ("fallback", "other") or understood.confidence < CONFIDENT:
        return Understanding("flow", "human_handoff", "human_handoff", CONFIDENT)
    return understood


def _recovery_named(parse: dict[str, Any], understood: Understanding) -> Understanding:
    """What the words say was forgotten ("my user name is x and I forgot my password") decides
    between the two recovery flows, names one the model was unsure about, and wins over an
    answer about choosing or changing one ("I need a new massone password")."""
    text = str(parse.get("text") or "")
    item = forgotten_item(text)
    said = words(text)
    if item is None and understood.answer_id == "forgot_username" and "reset" in said and \
            not {"username", "name", "id"} & set(said):
        item = "forgot_password"  # "how do I reset that?": a password is what gets reset
    if item is None or text.startswith("/"):
        return understood
    if understood.answer_id in RECOVERY_FLOWS or (
        understood.kind in ("fallback", "other") and understood.intent not in _NOT_RECOVERY
    ) or (understood.answer_id in _SETTING_ANSWERS and "change" not in words(text)
          and not compares(text)):
        return Understanding("flow", item, item, max(understood.confidence, CONFIDENT))
    return understood


def _classified(parse: dict[str, Any], kb: KnowledgeBase) -> Understanding:
    intent = (parse.get("intent") or {}).get("name") or "nlu_fallback"
    confidence = float((parse.get("intent") or {}).get("confidence") or 0.0)
    if intent in FALLBACK_INTENTS or (
        confidence < intent_confidence_threshold() and not _is_payload(parse)
    ):
        return Understanding("fallback", intent, confidence=confidence)
    if intent == FAQ_INTENT or intent.startswith(FAQ_INTENT + "/"):
        faq_id, faq_confidence = _selected_faq(parse, intent)
        # The lower threshold only where `faq` itself is clear: "my MassONE login keeps saying
        # incorrect" (faq 0.51, login_incorrect 0.46) is not a question about birth dates.
        named = _names_ours(parse, kb) and confidence >= CONFIDENT
        threshold = faq_confidence_threshold_named() if named else faq_confidence_threshold()
        if faq_id not in kb.entries or faq_confidence < threshold:
            return Understanding("fallback", intent, confidence=faq_confidence)
        return Understanding("faq", intent, faq_id, faq_confidence)
    if intent in kb.entries:
        return Understanding("flow", intent, intent, confidence)
    return Understanding("other", intent, confidence=confidence)


def _names_ours(parse: dict[str, Any], kb: KnowledgeBase) -> bool:
    """Whether the message names one of our systems, applications or terms."""
    return any(entity.get("entity") in SYSTEM_ENTITIES and
               kb.system_of_mention(str(entity.get("value", ""))) is not None
               for entity in parse.get("entities") or [])


def _is_payload(parse: dict[str, Any]) -> bool:
    return str(parse.get("text") or "").startswith("/")


def _selected_faq(parse: dict[str, Any], intent: str) -> tuple[str | None, float]:
    if "/" in intent:  # a button payload such as /faq/massone_cost names the FAQ itself
        return intent.split("/", 1)[1], 1.0
    selected = (parse.get("response_selector") or {}).get(FAQ_INTENT) or {}
    response = selected.get("response") or {}
    key = response.get("intent_response_key") or ""
    if not key.startswith(FAQ_INTENT + "/"):
        return None, 0.0
    return key.split("/", 1)[1], float(response.get("confidence") or 0.0)


def mentioned_system(entities: list[dict[str, Any]], kb: KnowledgeBase) -> str | None:
    """The one system the message names (by name, application or term); None if none or both."""
    systems = {
        kb.system_of_mention(str(entity.get("value", "")))
        for entity in entities
        if entity.get("entity") in SYSTEM_ENTITIES
    }
    systems.discard(None)
    return systems.pop() if len(systems) == 1 else None
