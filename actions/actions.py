"""The action that answers every message outside a form: a thin adapter to bot/dialogue."""

from __future__ import annotations

import asyncio
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.live import LIVE_CHANNEL, start_live_chat
from actions.replies import send_turn, technical_problem
from actions.requests import directory_admin_reply, start_request, with_database
from bot.dialogue.manager import Manager
from bot.dialogue.turns import Parsed, State, Turn
from bot.services import knowledge, live_wait, record_turn
from bot.tickets.kinds import load_request_kinds


class ActionRespond(Action):
    """Answers, asks, or starts a flow, reading the message in the light of the bot's last
    question (bot.dialogue.manager)."""

    def name(self) -> str:
        return "action_respond"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        try:
            kb = await asyncio.to_thread(knowledge)  # with the answers edited in the console
            # A live chat needs the chat widget's channel, which carries the agent's messages.
            live = live_wait if tracker.get_latest_input_channel() == LIVE_CHANNEL else None
            manager = Manager(kb, load_request_kinds(), person_now=live)
            # In a thread: asking whether someone is free to chat reads the database.
            turn = await asyncio.to_thread(
                manager.respond, Parsed.from_rasa(tracker.latest_message),
                State.from_slots(tracker.slots),
            )
            if turn.admins_of:
                turn.say(await with_database(directory_admin_reply, kb, turn.admins_of))
        except Exception as error:  # a plain answer; the error's text may hold what was typed
            technical_problem(dispatcher, "action_respond", error)
            return []
        send_turn(dispatcher, turn)
        if turn.outcome:
            await asyncio.to_thread(record_turn, tracker.sender_id, turn.outcome, turn.unanswered)
        if turn.live_chat:
            return events_of(turn) + await start_live_chat(dispatcher, tracker, kb)
        return events_of(turn)


def events_of(turn: Turn) -> list[EventType]:
    """The slots the turn changes, then the form or request it opens."""
    events: list[EventType] = [SlotSet(name, value) for name, value in turn.slots.items()]
    if turn.request:
        return events + start_request(turn.request, turn.request_facts)
    if turn.form:
        events += [SlotSet(name, value) for name, value in turn.form_slots.items()]
        events.append(FollowupAction(turn.form))
    return events
