"""What every chat channel does with a user's message before Rasa handles it.

`screened(on_new_message)` wraps the handler Rasa gives a channel:

* **Too long**: a message over CHAT_MESSAGE_MAX_CHARS (2,000) gets a short plain reply and is
  not handled at all. One 1 MB message kept a Rasa server busy for 15-20 s and 2 GB larger.
* **A password in it** ("my password is Summer2024!") is replaced by "[password]" before the
  NLU, the tracker, the ticket transcript or a log can see it (`bot.privacy.passwords`), and the
  user is told to change that password.
* **A failure** while handling it is logged by its class only: Rasa's REST channel would log the
  message's full text, which may hold anything a user typed.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from rasa.core.channels.channel import UserMessage

from bot.privacy.passwords import WARNING, hide_passwords
from bot.settings import chat_message_max_chars

log = logging.getLogger(__name__)

TOO_LONG = (
    "That message is too long for me: please ask in a few sentences ({limit:,} characters at "
    "most)."
)

Handler = Callable[[UserMessage], Awaitable[Any]]


def screened(on_new_message: Handler) -> Handler:
    """`on_new_message` behind the length limit, the password filter and a quiet failure."""
    limit = chat_message_max_chars()

    async def handle(message: UserMessage) -> None:
        text = message.text
        if isinstance(text, str) and len(text) > limit:
            await message.output_channel.send_text_message(
                message.sender_id, TOO_LONG.format(limit=limit))
            return
        if isinstance(text, str):
            hidden, found = hide_passwords(text)
            if found:
                message.text = hidden
                await message.output_channel.send_text_message(message.sender_id, WARNING)
        try:
            await on_new_message(message)
        except (Exception, asyncio.CancelledError) as error:
            log.error("a chat message was not handled: %s", type(error).__name__)

    return handle
