"""Custom actions: thin adapters between Rasa and the `bot` package."""

from __future__ import annotations

import json
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from bot.knowledge import Answer, KnowledgeBase, load_knowledge
from bot.understanding import mentioned_system, understand

CHOOSE_SYSTEM = "choose_system"


def system_buttons(kb: KnowledgeBase) -> list[dict[str, str]]:
    """Quick replies that answer "which system?"."""
    return [
        {"title": title, "payload": f"/{CHOOSE_SYSTEM}{json.dumps({'system': system})}"}
        for system, title in kb.replies["system_buttons"].items()
    ]


def send_answer(dispatcher: CollectingDispatcher, answer: Answer) -> None:
    dispatcher.utter_message(text=answer.text)
    dispatcher.utter_message(json_message=answer.payload())


class ActionAnswer(Action):
    """Answers an FAQ or a flow intent from `knowledge/`, asking for the system when it matters."""

    def name(self) -> str:
        return "action_answer"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        kb = load_knowledge()
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
                return [SlotSet("pending_question", None)]
            answer_id = understood.answer_id

        result = kb.resolve(answer_id, system)
        if isinstance(result, Answer):
            send_answer(dispatcher, result)
            events = [*remember, SlotSet("pending_question", None)]
            if result.starts and not tracker.active_loop:
                events.append(FollowupAction(result.starts))
            return events
        dispatcher.utter_message(text=kb.reply("ask_system"), buttons=system_buttons(kb))
        return [*remember, SlotSet("pending_question", answer_id)]


class ActionFallback(Action):
    """Says plainly what the bot cannot help with, what it can do, and how to reach a person."""

    def name(self) -> str:
        return "action_fallback"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        dispatcher.utter_message(text=load_knowledge().reply("out_of_scope"))
        return [SlotSet("pending_question", None)]
