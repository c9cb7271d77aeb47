"""Custom actions: thin adapters between Rasa and the `bot` package."""

from __future__ import annotations

import asyncio
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.replies import CHOOSE_SYSTEM, send_answer, system_buttons
from actions.requests import directory_admin_reply, start_request
from bot.console.conversation_stats import ANSWERED, FALLBACK
from bot.knowledge.entries import SYSTEMS, Answer, KnowledgeBase, load_knowledge
from bot.nlu.understanding import mentioned_system, understand
from bot.services import knowledge, record_turn
from bot.tickets.kinds import load_request_kinds

DISTRICT_ENTITY = "district"


class ActionAnswer(Action):
    """Answers an FAQ or a flow intent from `knowledge/`, asking for the system when it matters,
    then opens the flow's form if it has one."""

    def name(self) -> str:
        return "action_answer"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        kb = await asyncio.to_thread(knowledge)  # with the answers edited in the console
        message = tracker.latest_message
        said = mentioned_system(message.get("entities") or [], kb)
        remember = [SlotSet("system", said)] if said else []
        system: str | None = said or tracker.get_slot("system")

        if (message.get("intent") or {}).get("name") == CHOOSE_SYSTEM:
            pending = tracker.get_slot("pending_question")
            if said is None:
                dispatcher.utter_message(text=kb.reply("ask_system"), buttons=system_buttons(kb))
                return []
            if pending is None:
                dispatcher.utter_message(
                    text=kb.reply("system_noted").format(system=kb.system_name(said))
                )
                return remember
            answer_id = pending
        else:
            understood = understand(message, kb)
            if understood.answer_id is None:
                dispatcher.utter_message(text=kb.reply("out_of_scope"))
                await _count(tracker, FALLBACK, unanswered=message.get("text"))
                return [SlotSet("pending_question", None)]
            answer_id = understood.answer_id

        result = kb.resolve(answer_id, system)
        if not isinstance(result, Answer):
            dispatcher.utter_message(text=kb.reply("ask_system"), buttons=system_buttons(kb))
            return [*remember, SlotSet("pending_question", answer_id)]
        events = [*remember, SlotSet("pending_question", None)]
        await _count(tracker, ANSWERED)
        if tracker.active_loop:
            send_answer(dispatcher, result)
            return events
        return events + self._act_on(dispatcher, tracker, kb, result)

    @staticmethod
    def _act_on(
        dispatcher: CollectingDispatcher, tracker: Tracker, kb: KnowledgeBase, answer: Answer
    ) -> list[EventType]:
        """Answer, then start what the answer offers: a recovery form or a request."""
        kinds = load_request_kinds()
        kind = kinds.get(answer.entry_id)
        district = _district_mentioned(tracker)
        if answer.entry_id == "find_directory_admin" and district:
            dispatcher.utter_message(text=directory_admin_reply(kb, district))
            return []
        if kind is not None and kind.offer_after_advice:
            if tracker.get_slot("offered_request") == kind.id:  # the advice did not help
                return start_request(kind.id, tracker.latest_message)
            send_answer(dispatcher, answer)
            dispatcher.utter_message(
                text=kb.reply("did_that_help"),
                buttons=[
                    {"title": "Yes, that solved it", "payload": "/affirm"},
                    {"title": "No, I still need help", "payload": "/deny"},
                ],
            )
            return [SlotSet("offered_request", kind.id)]
        send_answer(dispatcher, answer)
        if kind is not None:
            # The ticket is about the system the answer was for (MassONE-only topics included).
            system = [SlotSet("system", answer.system)] if answer.system in SYSTEMS else []
            return system + start_request(kind.id, tracker.latest_message)
        if answer.starts:
            return [FollowupAction(answer.starts)]
        return []


async def _count(tracker: Tracker, what: str, unanswered: str | None = None) -> None:
    await asyncio.to_thread(record_turn, tracker.sender_id, what, unanswered)


def _district_mentioned(tracker: Tracker) -> str | None:
    """The district a message names confidently ("who is the directory admin in Worcester")."""
    from bot.knowledge.districts import match_district

    for entity in tracker.latest_message.get("entities") or []:
        if entity.get("entity") == DISTRICT_ENTITY:
            match = match_district(str(entity.get("value", "")))
            if match.name:
                return match.name
    return None


class ActionReplyYesNo(Action):
    """"Yes"/"no" outside a form: the answer to "did that solve it?", or just an acknowledgement."""

    def name(self) -> str:
        return "action_reply_yes_no"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        offered = tracker.get_slot("offered_request")
        intent = (tracker.latest_message.get("intent") or {}).get("name")
        kb = load_knowledge()
        if offered and intent == "deny":
            dispatcher.utter_message(text=kb.reply("advice_did_not_help"))
            return start_request(offered, tracker.latest_message)
        if offered:
            dispatcher.utter_message(text=kb.reply("advice_helped"))
            return [SlotSet("offered_request", None)]
        dispatcher.utter_message(response="utter_affirm" if intent == "affirm" else "utter_deny")
        return []


class ActionFallback(Action):
    """Says plainly what the bot cannot help with, what it can do, and how to reach a person."""

    def name(self) -> str:
        return "action_fallback"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        dispatcher.utter_message(text=load_knowledge().reply("out_of_scope"))
        await _count(tracker, FALLBACK, unanswered=tracker.latest_message.get("text"))
        return [SlotSet("pending_question", None)]
