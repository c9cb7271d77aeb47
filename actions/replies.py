"""Sending what bot/dialogue decided: texts, domain responses, buttons and source payloads;
and the plain answer when something failed."""

from __future__ import annotations

import logging

from rasa_sdk.executor import CollectingDispatcher

from bot.dialogue.turns import Reply, Turn
from bot.knowledge.entries import Answer, load_knowledge

log = logging.getLogger(__name__)


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


def technical_problem(dispatcher: CollectingDispatcher, what: str, error: BaseException) -> None:
    """Say plainly that something failed, and log `what` failed with the error's class only:
    an error's text can carry what the user typed (a statement's parameters, a value)."""
    log.error("%s failed: %s", what, type(error).__name__)
    dispatcher.utter_message(text=load_knowledge().reply("technical_problem"))


def send_answer(dispatcher: CollectingDispatcher, answer: Answer) -> None:
    dispatcher.utter_message(text=answer.text)
    dispatcher.utter_message(json_message=answer.payload())
