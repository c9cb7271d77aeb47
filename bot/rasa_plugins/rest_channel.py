"""The REST channel (`/webhooks/rest/webhook`) with every message screened first
(`bot.rasa_plugins.incoming`: length limit, passwords hidden, failures logged without the text).

credentials.yml names it `bot.rasa_plugins.rest_channel.HelpdeskRestInput`; it keeps Rasa's
name `rest`, so the address and the replies are Rasa's own.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from rasa.core.channels.channel import UserMessage
from rasa.core.channels.rest import RestInput
from sanic import Blueprint

from bot.rasa_plugins.incoming import screened


class HelpdeskRestInput(RestInput):
    @classmethod
    def name(cls) -> str:
        return "rest"

    def blueprint(
        self, on_new_message: Callable[[UserMessage], Awaitable[Any]]
    ) -> Blueprint:
        return super().blueprint(screened(on_new_message))
