"""Sending answers: the text, its source payload, and the "which system?" buttons."""

from __future__ import annotations

import json

from rasa_sdk.executor import CollectingDispatcher

from bot.knowledge.entries import Answer, KnowledgeBase

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
