"""Handing a conversation to a person: open a live chat (bot.live) and pause the bot.

While the chat is waiting or active, Rasa's tracker is paused (ConversationPaused): the bot
predicts nothing, the user's messages are still logged, and the socket.io channel
(bot/rasa_plugins/socketio_channel.py) carries them to the agent and the agent's back. When the
chat is over the channel logs ConversationResumed.
"""

from __future__ import annotations

import asyncio
from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import ConversationPaused, EventType
from rasa_sdk.executor import CollectingDispatcher

from bot.knowledge.entries import KnowledgeBase
from bot.services import conversation_key, live_desk
from bot.tickets.transcript import masked_transcript

LIVE_CHANNEL = "socketio"  # the channel name of bot.rasa_plugins.socketio_channel


def collected_facts(tracker: Tracker, kb: KnowledgeBase) -> dict[str, str]:
    """What the bot knows that helps the agent: the system, the last topic, a request's facts
    (as a ticket holds them)."""
    facts: dict[str, str] = {}
    system = tracker.get_slot("system")
    if system in kb.systems:
        facts["System"] = kb.system_name(system)
    last = tracker.get_slot("last_answer")
    if last in kb.entries and last != "human_handoff":
        facts["Last topic"] = kb.entries[last].question
    requested: Any = tracker.get_slot("request_facts")
    if isinstance(requested, dict):
        facts.update({str(k): str(v) for k, v in requested.items() if v})
    return facts


async def start_live_chat(
    dispatcher: CollectingDispatcher, tracker: Tracker, kb: KnowledgeBase
) -> list[EventType]:
    """A waiting live chat with the transcript so far; the user is told their place."""
    opened = await asyncio.to_thread(
        live_desk().open_chat, conversation_key(tracker.sender_id),
        masked_transcript(tracker.events), collected_facts(tracker, kb),
        tracker.get_slot("system"),
    )
    wait = "1 minute" if opened.wait_minutes == 1 else f"{opened.wait_minutes} minutes"
    dispatcher.utter_message(
        text=kb.reply("live_waiting").format(position=opened.position, wait=wait),
        json_message={"live": {"state": "waiting"}},
    )
    return [ConversationPaused()]
