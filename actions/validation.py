"""Form validation that reads each message in context and can end its form early."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import ActiveLoop, EventType, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.replies import send_answer
from bot.knowledge.entries import Answer, KnowledgeBase

LEAVE_SLOT = "leave_form"  # the action to run after a form left early


class GuidedValidation:
    """Mixed into a FormValidationAction, lets it end its form early: a `validate_<slot>` method
    sets LEAVE_SLOT to the action to run next (stop, or answer the message as a new request).

    A mixin, not an Action: rasa-sdk registers every Action subclass it finds, and this one has
    no name of its own.
    """

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        events = await super().run(dispatcher, tracker, domain)  # type: ignore[misc]
        leave = next((e.get("value") for e in events
                      if e.get("event") == "slot" and e.get("name") == LEAVE_SLOT), None)
        if leave:
            events += [SlotSet("requested_slot", None), ActiveLoop(None), FollowupAction(leave)]
        return events


def leave(action: str, *slots: str) -> dict[str, Any]:
    """The slot changes that end a form early and run `action` next."""
    return {**{slot: None for slot in slots}, LEAVE_SLOT: action}


def answer_question(
    dispatcher: CollectingDispatcher, kb: KnowledgeBase, entry_id: str | None,
    system: str | None,
) -> dict[str, Any]:
    """Answer a question typed inside a form (the form then asks its question again); the slot
    changes that remember it for a follow-up after the form."""
    answer = kb.resolve(entry_id, system) if entry_id in kb.entries else None
    if isinstance(answer, Answer):
        send_answer(dispatcher, answer)
        return {"last_answer": answer.entry_id}
    dispatcher.utter_message(text=kb.reply("off_topic_in_form"))
    return {}
