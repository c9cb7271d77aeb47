"""The chat widget's channel: Rasa's socket.io channel with its two defects fixed, and origins
checked.

Rasa 3.6's `SocketIOInput` (with python-socketio 5) never awaits `enter_room`, so with
`session_persistence` no reply reaches the browser, and it passes custom JSON to `emit` as
keyword arguments, which fails on every answer carrying a source payload. This channel
re-registers the two handlers: the session's room is joined properly, and custom JSON is sent as
`{"custom": {...}}`, like the REST channel does. Only pages from `CHAT_ALLOWED_ORIGINS` (default:
the web app's `PUBLIC_BASE_URL`) may open a socket; clients sending no Origin header (scripts,
tests) are not browsers and are let through, as python-engineio does. Every message is screened
like the REST channel's (`bot.rasa_plugins.incoming`), and a socket.io packet over
MAX_PACKET_BYTES closes the connection before it is read.

Live chat with a person (bot.live) goes through the same socket: `bot.rasa_plugins.live_relay`
stores what the user types while a chat is open and brings the agent's messages back.

credentials.yml names it `bot.rasa_plugins.socketio_channel.HelpdeskSocketIO`.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from rasa.core.channels.channel import UserMessage
from rasa.core.channels.socketio import SocketIOInput, SocketIOOutput
from sanic import Blueprint, Sanic

from bot.rasa_plugins.incoming import screened
from bot.rasa_plugins.live_relay import LiveRelay

SESSION_ID_MAX = 128
# The largest socket.io packet taken (python-engineio's default is 1 MB): a message at the
# length limit, escaped, with its session id and metadata, fits well within it.
MAX_PACKET_BYTES = 16 * 1024


class HelpdeskSocketIOOutput(SocketIOOutput):
    async def send_custom_json(
        self, recipient_id: str, json_message: dict[str, Any], **kwargs: Any
    ) -> None:
        await self._send_message(recipient_id, {"custom": json_message})


def allowed_origins() -> list[str]:
    configured = os.environ.get("CHAT_ALLOWED_ORIGINS") or os.environ.get(
        "PUBLIC_BASE_URL", "http://127.0.0.1:8000"
    )
    return [origin.strip().rstrip("/") for origin in configured.split(",") if origin.strip()]


class HelpdeskSocketIO(SocketIOInput):
    @classmethod
    def name(cls) -> str:
        return "socketio"

    def get_output_channel(self) -> HelpdeskSocketIOOutput | None:
        if self.sio is None:
            return None
        return HelpdeskSocketIOOutput(self.sio, self.bot_message_evt)

    def blueprint(
        self, on_new_message: Callable[[UserMessage], Awaitable[Any]]
    ) -> Blueprint:
        on_new_message = screened(on_new_message)
        socketio_webhook = super().blueprint(on_new_message)
        sio = self.sio
        sio.eio.cors_allowed_origins = allowed_origins()
        sio.eio.max_http_buffer_size = MAX_PACKET_BYTES
        relay = self._live_relay(socketio_webhook)

        async def session_request(sid: str, data: dict[str, Any] | None) -> None:
            requested = (data or {}).get("session_id")
            session_id = (
                requested if isinstance(requested, str) and 0 < len(requested) <= SESSION_ID_MAX
                else uuid.uuid4().hex
            )
            if self.session_persistence:
                await sio.enter_room(sid, session_id, namespace=self.namespace)
            await sio.emit("session_confirm", session_id, room=sid, namespace=self.namespace)
            if self.session_persistence:
                await relay.watch(sid, session_id)

        async def handle_message(sid: str, data: dict[str, Any]) -> None:
            if not isinstance(data, dict):
                return
            if self.session_persistence:
                sender_id = data.get("session_id")
                if not isinstance(sender_id, str) or not sender_id:
                    return  # no session: the widget always asks for one first
            else:
                sender_id = sid
            metadata = data.get(self.metadata_key) or {}
            if isinstance(metadata, str):
                metadata = json.loads(metadata)
            await relay.before_message(sender_id, str(data.get("message", "")))
            await on_new_message(UserMessage(
                str(data.get("message", "")),
                HelpdeskSocketIOOutput(sio, self.bot_message_evt),
                sender_id,
                input_channel=self.name(),
                metadata=metadata,
            ))

        sio.on("session_request", session_request, namespace=self.namespace)
        sio.on(self.user_message_evt, handle_message, namespace=self.namespace)
        return socketio_webhook

    def _live_relay(self, socketio_webhook: Blueprint) -> LiveRelay:
        """The live-chat relay, started with the server (it needs Rasa's agent to resume a
        conversation) and stopped with it; a closed socket counts as the user leaving."""
        relay = LiveRelay(self.sio, self.namespace, self.bot_message_evt)

        async def disconnect(sid: str) -> None:
            await relay.unwatch(sid)

        async def started(app: Sanic, _loop: Any) -> None:
            relay.start(app)

        async def stopping(_app: Sanic, _loop: Any) -> None:
            await relay.stop()

        self.sio.on("disconnect", disconnect, namespace=self.namespace)
        socketio_webhook.listener("after_server_start")(started)
        socketio_webhook.listener("before_server_stop")(stopping)
        return relay
