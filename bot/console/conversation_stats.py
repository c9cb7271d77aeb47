"""What happens in conversations, counted for the agents' dashboard: answers from the documents,
fallbacks ("not something I can help with") and tickets per conversation, plus the messages the
bot could not answer (masked), which agents review as "unanswered questions"."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from bot.mail.outbox import utc_now
from bot.models import Conversation, UnansweredMessage
from bot.tickets.transcript import mask_text

log = logging.getLogger(__name__)

ANSWERED, FALLBACK, TICKET = "answers", "fallbacks", "tickets"
MAX_TEXT = 500
MAX_NORMALISED = 200


def normalise(text: str) -> str:
    """The grouping key of an unanswered message: lower case, words only, single spaces."""
    return " ".join(re.findall(r"[^\W_]+", text.lower()))[:MAX_NORMALISED]


def record(
    sessions: sessionmaker[Session], conversation_id: str, what: str,
    unanswered: str | None = None, clock: Callable[[], datetime] = utc_now,
) -> None:
    """Count one `what` (ANSWERED, FALLBACK or TICKET) for the conversation; with `unanswered`,
    also keep that message (masked, cut to 500 characters) for the console."""
    if what not in (ANSWERED, FALLBACK, TICKET):
        raise ValueError(f"unknown counter {what!r}")
    now = clock()
    for attempt in range(2):  # a concurrent first turn may insert the row first
        try:
            with sessions() as session, session.begin():
                counted = session.execute(
                    update(Conversation)
                    .where(Conversation.conversation_id == conversation_id)
                    .values({what: getattr(Conversation, what) + 1, "last_seen_at": now})
                    .execution_options(synchronize_session=False)
                ).rowcount
                if not counted:
                    row = Conversation(conversation_id=conversation_id, started_at=now,
                                       last_seen_at=now, answers=0, fallbacks=0, tickets=0)
                    setattr(row, what, 1)
                    session.add(row)
                text = (unanswered or "").strip()
                if text and not text.startswith("/"):  # button payloads are not questions
                    masked = mask_text(text)[:MAX_TEXT]
                    session.add(UnansweredMessage(
                        conversation_id=conversation_id, text=masked,
                        normalised=normalise(masked), created_at=now,
                    ))
            return
        except IntegrityError:
            if attempt:
                raise
