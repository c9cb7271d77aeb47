"""Sending what bot/dialogue decided: texts, domain responses, buttons and source payloads."""

from __future__ import annotations

from rasa_sdk.executor import CollectingDispatcher

from bot.dialogue.turns import Reply, Turn
from bot.knowledge.entries import Answer


def send(dispatcher: CollectingDispatcher, reply: Reply) -> None:
    if reply.custom is not None:
        dispatcher.utter_message(json_message=reply.custom)
    elif reply.response:
        dispatcher.utter_message(response=reply.response, buttons=reply.buttons or None)
    else:
        dispatcher.utter_message(text=reply.text, buttons=reply.buttons or None)


def send_turn(dispatcher: CollectingDispatcher, turn: Turn) -> None:
    for reply in turn.replies:
        send(dispatcher, reply)


def send_answer(dispatcher: CollectingDispatcher, answer: Answer) -> None:
    dispatcher.utter_message(text=answer.text)
    dispatcher.utter_message(json_message=answer.payload())
