"""The recovery forms: validate each answer as it comes, then make the request through bot/."""

from __future__ import annotations

import asyncio
from datetime import date
from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import ActiveLoop, EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.replies import send_answer
from actions.requests import REQUEST_SLOTS
from bot.knowledge.entries import Answer, load_knowledge
from bot.nlu.understanding import understand
from bot.recovery.service import RATE_LIMITED, Identity
from bot.services import conversation_key, knowledge, recovery_service
from bot.validation import is_email, is_name, is_user_name, parse_spoken_birth_date

FORM_SLOTS = ("account_identifier", "first_name", "last_name", "birth_date", "email",
              "requested_slot")
MAX_ANSWER = 254


def _clean(value: Any) -> str:
    return " ".join(str(value or "").split())[: MAX_ANSWER + 1]


class _IdentityValidation:
    """Each validate_<slot> keeps a good answer or clears the slot with a plain-words reason.

    A mixin, not an Action: rasa-sdk registers every Action subclass it finds, and this one has
    no name of its own.
    """

    def _refuse(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, reply: str, slot: str
    ) -> dict[str, Any]:
        """Explain what is wrong, unless the message was a question: then answer it instead.

        Either way the slot stays empty and the form asks for it again.
        """
        kb = knowledge()  # with the answers edited in the console
        understood = understand(tracker.latest_message, kb)
        answer = (
            kb.resolve(understood.answer_id, tracker.get_slot("system"))
            if understood.kind == "faq" else None
        )
        if isinstance(answer, Answer):
            send_answer(dispatcher, answer)
        else:
            dispatcher.utter_message(text=kb.reply(reply))
        return {slot: None}

    def _name(self, slot: str, value: Any, dispatcher: CollectingDispatcher,
              tracker: Tracker) -> dict[str, Any]:
        text = _clean(value)
        # "does massone cost anything" passes as letters and spaces: a confident question of
        # three words or more is taken as a question, not as a name.
        question = len(text.split()) >= 3 and understand(
            tracker.latest_message, load_knowledge()
        ).kind == "faq"
        if is_name(text) and not question:
            return {slot: text}
        return self._refuse(dispatcher, tracker, "invalid_name", slot)

    def validate_first_name(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        return self._name("first_name", value, dispatcher, tracker)

    def validate_last_name(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        return self._name("last_name", value, dispatcher, tracker)

    def validate_birth_date(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        try:
            return {"birth_date": parse_spoken_birth_date(_clean(value)).isoformat()}
        except ValueError as error:
            reply = "implausible_birth_date" if "plausible" in str(error) else "invalid_birth_date"
            return self._refuse(dispatcher, tracker, reply, "birth_date")

    def validate_email(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        text = _clean(value).lower()
        if is_email(text):
            return {"email": text}
        return self._refuse(dispatcher, tracker, "invalid_email", "email")

    def validate_account_identifier(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        text = _clean(value)
        if is_email(text.lower()):
            return {"account_identifier": text.lower()}
        if is_user_name(text):
            return {"account_identifier": text}
        return self._refuse(dispatcher, tracker, "invalid_identifier", "account_identifier")


class ValidateUsernameForm(_IdentityValidation, FormValidationAction):
    def name(self) -> str:
        return "validate_username_form"


class ValidatePasswordForm(_IdentityValidation, FormValidationAction):
    def name(self) -> str:
        return "validate_password_form"


def _identity(tracker: Tracker) -> Identity:
    identifier = tracker.get_slot("account_identifier") or ""
    email = tracker.get_slot("email") or (identifier if "@" in identifier else None)
    return Identity(
        first_name=tracker.get_slot("first_name"),
        last_name=tracker.get_slot("last_name"),
        birth_date=date.fromisoformat(tracker.get_slot("birth_date")),  # validated, stored ISO
        email=email,
        user_name=None if "@" in identifier or not identifier else identifier,
    )


def _clear() -> list[EventType]:
    return [SlotSet(slot, None) for slot in FORM_SLOTS]


class ActionRequestUsername(Action):
    """E-mails the user name if everything matched; says the same thing whatever matched."""

    def name(self) -> str:
        return "action_request_username"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        outcome = await asyncio.to_thread(
            recovery_service().retrieve_user_name,
            conversation_key(tracker.sender_id), _identity(tracker),
        )
        reply = "rate_limited" if outcome == RATE_LIMITED else "username_sent"
        dispatcher.utter_message(text=load_knowledge().reply(reply))
        return _clear()


class ActionRequestPasswordReset(Action):
    """E-mails a reset link if everything matched; says the same thing whatever matched."""

    def name(self) -> str:
        return "action_request_password_reset"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        system = tracker.get_slot("system") or "ese_portal"
        outcome = await asyncio.to_thread(
            recovery_service().request_password_reset,
            conversation_key(tracker.sender_id), system, _identity(tracker),
        )
        kb = load_knowledge()
        reply = kb.reply("rate_limited") if outcome == RATE_LIMITED else kb.reply(
            "reset_sent", system
        )
        dispatcher.utter_message(text=reply)
        return _clear()


class ActionStopFlow(Action):
    """"Never mind": leaves any form, forgets what it collected, sends nothing."""

    def name(self) -> str:
        return "action_stop_flow"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        active = (tracker.active_loop or {}).get("name")
        dispatcher.utter_message(
            text=load_knowledge().reply("flow_stopped" if active else "nothing_to_stop")
        )
        return [
            ActiveLoop(None), *_clear(), SlotSet("pending_question", None),
            *(SlotSet(slot, None) for slot in REQUEST_SLOTS),
        ]
