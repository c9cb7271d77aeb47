"""Live chat in the chat widget's socket.io channel: the Rasa server's side of bot.live.

Each Rasa server relays for the chat windows connected to it, and keeps nothing else in memory:
chats and their messages are in the application database, so windows of one conversation on
two servers, a reload, or a restart all see the same chat.

- A user's message while their chat is waiting or active is stored for the agent (and still
  passed to Rasa, whose paused tracker logs it without answering).
- About once a second the relay reads the agents' and the desk's new messages for the
  conversations connected here and emits them as `bot_uttered` events, with
  `{"live": {"from": "agent" | "system", "name": ..., "state": ...}}` so the widget can show who
  is talking. It also runs the desk's sweep (a dropped agent's chat back to the queue).
- When a chat is over (handed back, ended, turned into a ticket, nobody free), the first
  server to claim it logs Rasa's ConversationResumed: the bot answers again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

from rasa.shared.core.constants import ACTION_LISTEN_NAME
from rasa.shared.core.events import ActionExecuted, ConversationResumed

from bot.live.service import SYSTEM, Delivery, LiveDesk
from bot.services import conversation_key, live_desk

log = logging.getLogger(__name__)

POLL_SECONDS = 1.0
PRESENCE_SECONDS = 2.0  # how often connected users are marked present
SWEEP_SECONDS = 2.0
# What the widget's state becomes after a message from the desk (bot.live.service texts).
OVER_MARKERS = ("back with the assistant", "ended the chat")


def live_state(delivery: Delivery) -> str:
    """"active", "waiting" or "over": the widget's state after this message."""
    if delivery.sender != SYSTEM:
        return "active"
    text = delivery.text
    if any(marker in text for marker in OVER_MARKERS):
        return "over"
    if "back in the queue" in text:
        return "waiting"
    return "active"


class LiveRelay:
    """The live-chat relay of one Rasa server (see the module doc)."""

    def __init__(self, sio: Any, namespace: str | None, event: str) -> None:
        self.sio = sio
        self.namespace = namespace
        self.event = event
        self.sessions: dict[str, str] = {}  # socket id -> session (sender) id
        self.last: dict[str, int] = {}  # session id -> the last message id sent to it
        self.app: Any = None  # the Sanic app (its ctx.agent is Rasa's Agent), once it runs
        self._task: asyncio.Task[None] | None = None

    @staticmethod
    def desk() -> LiveDesk:
        return live_desk()

    # ------------------------------------------------------------------ connections
    async def watch(self, sid: str, session_id: str) -> None:
        """A chat window joined: relay from the messages it has not seen (a reload keeps the
        ones shown before in the page's storage)."""
        try:
            if session_id not in self.last:
                self.last[session_id] = await asyncio.to_thread(
                    self.desk().latest_message_id, conversation_key(session_id))
            self.sessions[sid] = session_id
            await self._resume_if_over(session_id)
        except Exception as error:  # the bot works without the relay
            log.warning("live chat: window not watched: %s", type(error).__name__)

    async def unwatch(self, sid: str) -> None:
        session_id = self.sessions.pop(sid, None)
        if session_id is None or session_id in self.sessions.values():
            return
        self.last.pop(session_id, None)
        with contextlib.suppress(Exception):  # a user leaving must never raise
            await asyncio.to_thread(self.desk().user_left, conversation_key(session_id))

    async def before_message(self, session_id: str, text: str) -> None:
        """Store the message for the agent while a chat is open; after a chat, give the
        conversation back to the bot first."""
        try:
            stored = await asyncio.to_thread(self.desk().user_says,
                                             conversation_key(session_id), text)
            if not stored:
                await self._resume_if_over(session_id)
        except Exception as error:  # the bot still gets the message
            log.warning("live chat: message not relayed: %s", type(error).__name__)

    # ------------------------------------------------------------------ the poll loop
    def start(self, app: Any) -> None:
        self.app = app
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        last_presence = last_sweep = 0.0
        while True:
            await asyncio.sleep(POLL_SECONDS)
            if not self.sessions:
                continue
            try:
                now = time.monotonic()
                if now - last_sweep >= SWEEP_SECONDS:
                    last_sweep = now
                    await asyncio.to_thread(self.desk().sweep)
                if now - last_presence >= PRESENCE_SECONDS:
                    last_presence = now
                    await asyncio.to_thread(self.desk().user_here, [
                        conversation_key(s) for s in set(self.sessions.values())])
                await self.relay_once()
            except asyncio.CancelledError:
                raise
            except Exception as error:  # a database restart: try again next round
                log.warning("live chat relay: %s", type(error).__name__)

    async def relay_once(self) -> None:
        """Send every new message from the desk to the connected windows of its conversation."""
        keys = {conversation_key(s): s for s in set(self.sessions.values())}
        after = min((self.last.get(s, 0) for s in keys.values()), default=0)
        deliveries = await asyncio.to_thread(self.desk().deliveries, list(keys), after)
        over: set[str] = set()
        for delivery in deliveries:
            session_id = keys[delivery.conversation_id]
            if delivery.message_id <= self.last.get(session_id, 0):
                continue
            self.last[session_id] = delivery.message_id
            state = live_state(delivery)
            await self.sio.emit(self.event, {
                "text": delivery.text,
                "live": {"from": delivery.sender, "name": delivery.agent_name, "state": state},
            }, room=session_id, namespace=self.namespace)
            if state == "over":
                over.add(session_id)
        for session_id in over:
            await self._resume_if_over(session_id)

    async def _resume_if_over(self, session_id: str) -> None:
        """Log ConversationResumed once the conversation's chat is over (once, whichever
        server claims it first)."""
        agent = getattr(getattr(self.app, "ctx", None), "agent", None)
        if agent is None or agent.processor is None:
            return
        if not await asyncio.to_thread(self.desk().claim_resume, conversation_key(session_id)):
            return
        async with agent.lock_store.lock(session_id):
            tracker = await agent.processor.get_tracker(session_id)
            if tracker.is_paused():
                # Listening again: Rasa reads a user message only after action_listen (the
                # pause ended the turn without one).
                tracker.update(ConversationResumed())
                tracker.update(ActionExecuted(ACTION_LISTEN_NAME))
                await agent.processor.save_tracker(tracker)
        log.info("live chat over: the bot answers again")
