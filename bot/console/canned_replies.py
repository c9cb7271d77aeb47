"""Canned replies: texts admins prepare for the e-mail replies agents send from a ticket.

A reply may hold two placeholders, filled for the ticket when an agent inserts it:
`{first_name}` (the first word of the name the user gave; left out, with the space before it,
when the ticket holds no name: "Hello {first_name}," becomes "Hello,") and `{reference}`.
Any other brace is refused when the reply is saved. Creating, changing and deleting are for
admins and each is an `audit_log` row (a deleted reply's text stays there).
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, aliased, sessionmaker

from bot.console.agents import AgentInfo, audit
from bot.console.ticket_desk import ConsoleInputError, clean_text
from bot.mail.outbox import as_utc, utc_now
from bot.models import Agent, CannedReply

log = logging.getLogger(__name__)

MAX_TITLE = 80
PLACEHOLDERS = {
    "{first_name}": "the user's first name, when the ticket holds a name",
    "{reference}": "the ticket's reference, such as HD-2026-000123",
}
CREATED, UPDATED, DELETED = "canned_reply_created", "canned_reply_updated", "canned_reply_deleted"
_BRACED = re.compile(r"\{[^{}]*\}")
_FIRST_NAME = re.compile(r"[ \t]?\{first_name\}")


class CannedReplyError(ValueError):
    """The canned reply cannot be saved; the message says why. Nothing was saved."""


@dataclass(frozen=True)
class CannedReplyView:
    id: int
    title: str
    body: str
    updated_at: datetime
    updated_by: str | None  # display name


def fill(body: str, first_name: str | None, reference: str) -> str:
    """The reply for one ticket, its placeholders filled."""
    text = body.replace("{first_name}", first_name) if first_name else _FIRST_NAME.sub("", body)
    return text.replace("{reference}", reference)


def _clean_title(title: str) -> str:
    kept = "".join(" " if unicodedata.category(char).startswith("C") else char for char in title)
    cleaned = " ".join(kept.split())
    if not cleaned:
        raise CannedReplyError("The title is empty. Nothing was saved.")
    if len(cleaned) > MAX_TITLE:
        raise CannedReplyError(f"The title is too long: at most {MAX_TITLE} characters. "
                               "Nothing was saved.")
    return cleaned


def _clean_body(body: str) -> str:
    try:
        cleaned = clean_text(body)
    except ConsoleInputError as error:
        raise CannedReplyError(f"{error} Nothing was saved.") from None
    unknown = [braced for braced in _BRACED.findall(cleaned) if braced not in PLACEHOLDERS]
    if unknown:
        raise CannedReplyError(
            f"“{unknown[0][:60]}” is not a placeholder: use {{first_name}} or {{reference}}. "
            "Nothing was saved.")
    if "{" in _BRACED.sub("", cleaned) or "}" in _BRACED.sub("", cleaned):
        raise CannedReplyError("A “{” or “}” has lost its pair: the placeholders are "
                               "{first_name} and {reference}. Nothing was saved.")
    return cleaned


class CannedReplies:
    """The canned replies: listed for every agent, managed by admins."""

    def __init__(self, sessions: sessionmaker, clock: Callable[[], datetime] = utc_now) -> None:
        self._sessions = sessions
        self._clock = clock

    def replies(self) -> list[CannedReplyView]:
        """Every canned reply, by title."""
        editor = aliased(Agent)
        with self._sessions() as session:
            rows = session.execute(
                select(CannedReply, editor.display_name)
                .outerjoin(editor, editor.id == CannedReply.updated_by)
                .order_by(func.lower(CannedReply.title))
            ).all()
        return [CannedReplyView(row.id, row.title, row.body, as_utc(row.updated_at), name)
                for row, name in rows]

    def get(self, reply_id: int) -> CannedReplyView | None:
        return next((reply for reply in self.replies() if reply.id == reply_id), None)

    def create(self, agent: AgentInfo, title: str, body: str) -> int:
        """A new canned reply; its id."""
        _admin(agent)
        title, body = _clean_title(title), _clean_body(body)
        now = as_utc(self._clock())
        try:
            with self._sessions() as session, session.begin():
                self._title_free(session, title, None)
                reply = CannedReply(title=title, body=body, created_by=agent.id,
                                    updated_by=agent.id, created_at=now, updated_at=now)
                session.add(reply)
                session.flush()
                audit(session, action=CREATED, now=now, agent_id=agent.id, target=title,
                      detail={"id": reply.id})
                reply_id = reply.id
        except IntegrityError:
            raise CannedReplyError(_TAKEN) from None
        log.info("canned reply %s created by agent %s", reply_id, agent.id)
        return reply_id

    def update(self, agent: AgentInfo, reply_id: int, title: str, body: str) -> bool:
        """Change a canned reply; False when nothing changed."""
        _admin(agent)
        title, body = _clean_title(title), _clean_body(body)
        now = as_utc(self._clock())
        try:
            with self._sessions() as session, session.begin():
                reply = session.get(CannedReply, reply_id, with_for_update=True)
                if reply is None:
                    raise CannedReplyError(_GONE)
                if (reply.title, reply.body) == (title, body):
                    return False
                self._title_free(session, title, reply_id)
                before = reply.title
                reply.title, reply.body = title, body
                reply.updated_by, reply.updated_at = agent.id, now
                audit(session, action=UPDATED, now=now, agent_id=agent.id, target=title,
                      detail={"id": reply_id, "previous_title": before})
        except IntegrityError:
            raise CannedReplyError(_TAKEN) from None
        log.info("canned reply %s changed by agent %s", reply_id, agent.id)
        return True

    def delete(self, agent: AgentInfo, reply_id: int) -> None:
        _admin(agent)
        now = as_utc(self._clock())
        with self._sessions() as session, session.begin():
            reply = session.get(CannedReply, reply_id, with_for_update=True)
            if reply is None:
                raise CannedReplyError(_GONE)
            audit(session, action=DELETED, now=now, agent_id=agent.id, target=reply.title,
                  detail={"id": reply_id, "body": reply.body})
            session.delete(reply)
        log.info("canned reply %s deleted by agent %s", reply_id, agent.id)

    @staticmethod
    def _title_free(session: Session, title: str, reply_id: int | None) -> None:
        taken = session.execute(
            select(CannedReply.id).where(func.lower(CannedReply.title) == title.lower())
        ).scalars().all()
        if any(found != reply_id for found in taken):
            raise CannedReplyError(_TAKEN)


_TAKEN = "Another canned reply has this title: choose another. Nothing was saved."
_GONE = "This canned reply no longer exists (someone deleted it). Nothing was saved."


def _admin(agent: AgentInfo) -> None:
    if not agent.is_admin:
        raise PermissionError("only admins manage canned replies")
