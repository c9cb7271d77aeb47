"""The recovery forms: read each message in the light of the question asked, check the answer,
then make the request through bot/."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import ActiveLoop, EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.replies import send_answer, technical_problem
from actions.requests import REQUEST_SLOTS
from actions.validation import LEAVE_SLOT, GuidedValidation, answer_question, leave
from bot.dialogue import in_form
from bot.dialogue.facts import split_full_name
from bot.dialogue.turns import Parsed
from bot.knowledge.entries import SYSTEMS, Answer, KnowledgeBase
from bot.recovery.service import RATE_LIMITED, Identity
from bot.services import conversation_key, knowledge, recovery_service
from bot.validation import (
    is_email,
    is_name,
    is_user_name,
    parse_birth_date,
    parse_spoken_birth_date,
)

log = logging.getLogger(__name__)

FORM_SLOTS = ("account_identifier", "first_name", "last_name", "birth_date", "email",
              "requested_slot")
MAX_ANSWER = 254
FIELD_TYPES = {"account_identifier": "account_identifier", "first_name": "name",
               "last_name": "name", "birth_date": "birth_date", "email": "email"}
# How people name each detail when they correct it ("I spelled my last name wrong").
FIELD_LABELS = {
    "account_identifier": ("user name", "username", "user id", "login"),
    "first_name": ("first name",),
    "last_name": ("last name", "surname", "family name"),
    "birth_date": ("birthday", "birth date", "date of birth", "dob", "birth year", "born"),
    "email": ("email", "e mail", "email address", "e mail address"),
}
FORM_FLOWS = {"username_form": "forgot_username", "password_form": "forgot_password"}


def _clean(value: Any) -> str:
    return " ".join(str(value or "").split())[: MAX_ANSWER + 1]


class _IdentityValidation(GuidedValidation):
    """A mixin (see GuidedValidation): each validate_<slot> reads the message
    (bot.dialogue.in_form), then keeps a good answer or says in plain words what is wrong; the
    form asks again for whatever is still missing."""

    def _read(
        self, slot: str, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker
    ) -> dict[str, Any]:
        message = tracker.latest_message or {}
        typed = tracker.get_slot("requested_slot") == slot and value == message.get("text")
        if not typed:  # given in the opening message: only checked
            return self._check(slot, _clean(value), dispatcher, tracker, quiet=True)
        kb = knowledge()  # with the answers edited in the console
        form = self.form_name()  # type: ignore[attr-defined]
        asked = in_form.Asked(
            slot, FIELD_TYPES[slot],
            labels={name: FIELD_LABELS[name] for name in _form_slots(form)},
        )
        reading = in_form.read_answer(
            Parsed.from_rasa(message), asked, kb, tracker.get_slot("system"), FORM_FLOWS[form],
            is_valid=lambda text: _is_valid(slot, text),
        )
        return self._act(reading, slot, dispatcher, tracker, kb, form)

    def _act(
        self, reading: in_form.Reading, slot: str, dispatcher: CollectingDispatcher,
        tracker: Tracker, kb: KnowledgeBase, form: str,
    ) -> dict[str, Any]:
        kind = reading.kind
        if kind == in_form.STOP:
            return leave("action_stop_flow", slot)
        if kind == in_form.SWITCH_FLOW:
            return leave("action_respond", *_form_slots(form))
        if kind == in_form.QUESTION:
            remembered = answer_question(dispatcher, kb, reading.entry_id,
                                         tracker.get_slot("system"))
            return {slot: None, **remembered}
        if kind == in_form.OFF_TOPIC:
            dispatcher.utter_message(text=kb.reply("off_topic_in_form"))
            return {slot: None}
        if kind == in_form.SMALL_TALK:
            dispatcher.utter_message(response=reading.entry_id)
            return {slot: None}
        if kind == in_form.WAIT:
            dispatcher.utter_message(text=kb.reply("take_your_time"))
            return {slot: None}
        if kind == in_form.DONT_KNOW:
            dispatcher.utter_message(text=kb.reply("dont_know", slot))
            return {slot: None}
        if kind == in_form.SWITCH_SYSTEM:
            return self._switch_system(reading.system, slot, dispatcher, kb, form)
        if kind == in_form.CORRECTION:
            return self._correct(reading, slot, dispatcher, tracker, kb)
        return self._check(slot, reading.value or "", dispatcher, tracker)

    def _switch_system(
        self, system: str | None, slot: str, dispatcher: CollectingDispatcher,
        kb: KnowledgeBase, form: str,
    ) -> dict[str, Any]:
        if system not in SYSTEMS:
            return {slot: None}
        answer = kb.resolve(FORM_FLOWS[form], system)
        if isinstance(answer, Answer) and answer.starts != form:  # no such flow there
            send_answer(dispatcher, answer)
            return {**leave("action_listen", *_form_slots(form)), "system": system}
        dispatcher.utter_message(
            text=kb.reply("system_switched").format(system=kb.system_name(system))
        )
        return {slot: None, "system": system}

    def _correct(
        self, reading: in_form.Reading, slot: str, dispatcher: CollectingDispatcher,
        tracker: Tracker, kb: KnowledgeBase,
    ) -> dict[str, Any]:
        field = reading.field or slot
        if reading.value:
            fixed = self._check(field, reading.value, dispatcher, tracker)
            if fixed.get(field):
                dispatcher.utter_message(text=kb.reply("detail_corrected"))
                return {**fixed, slot: None}
            return {slot: None}
        dispatcher.utter_message(text=kb.reply("detail_to_correct"))
        return {field: None, slot: None}

    def _check(
        self, slot: str, text: str, dispatcher: CollectingDispatcher, tracker: Tracker,
        quiet: bool = False,
    ) -> dict[str, Any]:
        """The value to keep, or the slot cleared with a plain-words reason."""
        kb = knowledge()  # with the answers edited in the console
        problem = None
        if slot in ("first_name", "last_name"):
            pair = split_full_name(text) if slot == "first_name" else None
            if pair and not tracker.get_slot("last_name") and not quiet:
                return {"first_name": pair.first, "last_name": pair.last}
            if is_name(text):
                return {slot: text}
            problem = "invalid_name"
        elif slot == "birth_date":
            try:
                return {slot: parse_spoken_birth_date(text).isoformat()}
            except ValueError as error:
                problem = ("implausible_birth_date" if "plausible" in str(error)
                           else "invalid_birth_date")
        elif slot == "email":
            if is_email(text.lower()):
                return {slot: text.lower()}
            problem = "invalid_email"
        else:  # account_identifier
            if is_email(text.lower()):
                return {slot: text.lower()}
            if is_user_name(text):
                return {slot: text}
            problem = "invalid_identifier"
        if not quiet:
            dispatcher.utter_message(text=kb.reply(problem))
        return {slot: None}

    def validate_first_name(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        return self._read("first_name", value, dispatcher, tracker)

    def validate_last_name(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        return self._read("last_name", value, dispatcher, tracker)

    def validate_birth_date(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        return self._read("birth_date", value, dispatcher, tracker)

    def validate_email(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        return self._read("email", value, dispatcher, tracker)

    def validate_account_identifier(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        return self._read("account_identifier", value, dispatcher, tracker)


def _is_valid(slot: str, text: str) -> bool:
    """Whether `text` would be kept for `slot` (the checks of _IdentityValidation._check)."""
    if slot in ("first_name", "last_name"):
        return is_name(text)
    if slot == "birth_date":
        try:
            parse_spoken_birth_date(text)
        except ValueError:
            return False
        return True
    if slot == "email":
        return is_email(text.lower())
    return is_email(text.lower()) or is_user_name(text)


def _form_slots(form: str) -> tuple[str, ...]:
    if form == "username_form":
        return ("first_name", "last_name", "birth_date", "email")
    return ("account_identifier", "first_name", "last_name", "birth_date")


class ValidateUsernameForm(_IdentityValidation, FormValidationAction):
    def name(self) -> str:
        return "validate_username_form"


class ValidatePasswordForm(_IdentityValidation, FormValidationAction):
    def name(self) -> str:
        return "validate_password_form"


def _identity(tracker: Tracker, needs: str) -> Identity | None:
    """The identity the form collected, checked again as if the user had just typed it (the
    slots come in the request from the Rasa server, and a forged one can say anything), or
    None when any detail fails its check. `needs` is the slot the flow cannot do without:
    `email` (user-name reminder) or `account_identifier` (password reset)."""
    slots = {name: tracker.get_slot(name) for name in FIELD_TYPES}
    if any(value is not None and not isinstance(value, str) for value in slots.values()):
        return None
    first, last = slots["first_name"], slots["last_name"]
    identifier, email = slots["account_identifier"] or "", slots["email"]
    if not (first and last and is_name(first) and is_name(last)) or not slots[needs]:
        return None
    if email is not None and not is_email(email):
        return None
    if identifier and not (is_email(identifier) or is_user_name(identifier)):
        return None
    try:
        birth_date = parse_birth_date(slots["birth_date"] or "")  # stored as YYYY-MM-DD
    except ValueError:
        return None
    return Identity(
        first_name=first,
        last_name=last,
        birth_date=birth_date,
        email=email or (identifier if "@" in identifier else None),
        user_name=None if "@" in identifier or not identifier else identifier,
    )


def _clear() -> list[EventType]:
    return [SlotSet(slot, None) for slot in (*FORM_SLOTS, LEAVE_SLOT)]


class ActionRequestUsername(Action):
    """E-mails the user name if everything matched; says the same thing whatever matched."""

    def name(self) -> str:
        return "action_request_username"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        identity = _identity(tracker, needs="email")
        if identity is None:
            log.warning("user-name reminder refused: the details did not pass the checks")
            dispatcher.utter_message(text=knowledge().reply("details_not_accepted"))
            return _clear()
        try:
            outcome = await asyncio.to_thread(
                recovery_service().retrieve_user_name,
                conversation_key(tracker.sender_id), identity,
            )
            reply = "rate_limited" if outcome == RATE_LIMITED else "username_sent"
            dispatcher.utter_message(text=knowledge().reply(reply))
        except Exception as error:
            technical_problem(dispatcher, "user-name reminder", error)
            return _clear()
        return [*_clear(), SlotSet("last_flow", "forgot_username")]


class ActionRequestPasswordReset(Action):
    """E-mails a reset link if everything matched; says the same thing whatever matched."""

    def name(self) -> str:
        return "action_request_password_reset"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        system = tracker.get_slot("system") or "ese_portal"
        identity = _identity(tracker, needs="account_identifier")
        if identity is None or system not in SYSTEMS:
            log.warning("password reset refused: the details did not pass the checks")
            dispatcher.utter_message(text=knowledge().reply("details_not_accepted"))
            return _clear()
        try:
            outcome = await asyncio.to_thread(
                recovery_service().request_password_reset,
                conversation_key(tracker.sender_id), system, identity,
            )
            kb = knowledge()  # with the answers edited in the console
            reply = kb.reply("rate_limited") if outcome == RATE_LIMITED else kb.reply(
                "reset_sent", system
            )
            dispatcher.utter_message(text=reply)
        except Exception as error:
            technical_problem(dispatcher, "password reset", error)
            return _clear()
        return [*_clear(), SlotSet("last_flow", "forgot_password")]


class ActionStopFlow(Action):
    """"Never mind": leaves any form, forgets what it collected, sends nothing."""

    def name(self) -> str:
        return "action_stop_flow"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        dispatcher.utter_message(text=knowledge().reply("flow_stopped"))
        return [
            ActiveLoop(None), *_clear(), SlotSet("pending_question", None),
            *(SlotSet(slot, None) for slot in REQUEST_SLOTS),
        ]
