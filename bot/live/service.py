"""Live chats, stored in the application database so that any Rasa server, action server and
web process can take part (nothing lives in one process's memory).

The state machine of a chat:

    waiting --take--> active --hand_back--> returned   (the bot answers again)
       ^                 |----to_ticket--> ticketed   (a ticket holds the transcript)
       |                 |----end--------> ended
       +--agent gone-----+                             (no heartbeat for `agent_timeout`)
    waiting --nobody available for `agent_timeout`--> returned

While a chat is waiting or active the bot stays quiet (the Rasa conversation is paused); once it
is over, the first process to `claim_resume` logs Rasa's ConversationResumed. Every change is a
conditional UPDATE, so two processes racing for the same change cannot both win.

Users' messages are stored masked only when the chat becomes a ticket (the ticket's rules);
the live view shows agents what the user typed, as a person on the phone would hear it.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

from bot.console.agents import AgentInfo
from bot.mail.outbox import as_utc, utc_now
from bot.models import Agent, LiveAgent, LiveChat, LiveMessage, Ticket
from bot.tickets.business_hours import HELP_DESK, BusinessHours
from bot.tickets.service import TicketRequest, TicketService, parse_reference, reference_of
from bot.tickets.transcript import mask_text

log = logging.getLogger(__name__)

WAITING, ACTIVE, RETURNED, ENDED, TICKETED = "waiting", "active", "returned", "ended", "ticketed"
OPEN = (WAITING, ACTIVE)
CLOSED = (RETURNED, ENDED, TICKETED)
USER, AGENT, SYSTEM = "user", "agent", "system"
MAX_MESSAGE = 2000  # characters of one live message
MINUTES_PER_CHAT = 3  # the expected wait per chat ahead, before any chat was taken today
STATUS_LABELS = {WAITING: "Waiting", ACTIVE: "Chatting", RETURNED: "Back with the bot",
                 ENDED: "Ended", TICKETED: "Turned into a ticket"}

# What the user is told, in the chat, at each change.
TAKEN = "You're now chatting with {name} from the help desk."
AGENT_GONE = ("{name} from the help desk was disconnected. You're back in the queue: the next "
              "person free will pick up your chat.")
HANDED_BACK = ("{name} handed you back to the assistant. Ask me anything, or say \"talk to a "
               "person\" to reach the help desk again.")
ENDED_TEXT = "{name} ended the chat. Thank you for contacting the help desk."
TICKETED_TEXT = ("{name} turned this chat into a request, {reference}: the help desk will answer "
                 "by e-mail. You're back with the assistant.")
NOBODY = ("Sorry, nobody from the help desk is free right now, so you're back with the "
          "assistant. Say \"talk to a person\" to leave a request they'll answer by e-mail.")


class LiveChatError(ValueError):
    """A change that does not apply: the chat is gone, over, or someone else's."""


@dataclass(frozen=True)
class Message:
    id: int
    sender: str  # user, agent or system
    text: str
    at: datetime


@dataclass(frozen=True)
class Chat:
    """A live chat as the console shows it."""

    id: int
    status: str
    agent_id: int | None
    agent_name: str | None
    system: str | None
    facts: dict[str, str]
    transcript: list[dict[str, str]]
    created_at: datetime
    taken_at: datetime | None
    user_gone: bool
    ticket_reference: str | None = None
    messages: list[Message] = field(default_factory=list)

    @property
    def status_label(self) -> str:
        return STATUS_LABELS[self.status]

    @property
    def is_open(self) -> bool:
        return self.status in OPEN


@dataclass(frozen=True)
class Opened:
    chat_id: int
    position: int  # 1: next to be taken
    wait_minutes: int  # the expected wait


@dataclass(frozen=True)
class Board:
    """The console's live page: waiting chats (oldest first), the agent's own, the others'."""

    available: bool
    agents_available: int
    waiting: list[Chat]
    mine: list[Chat]
    others: list[Chat]


@dataclass(frozen=True)
class Delivery:
    """A message for the user's chat window (from the agent or the desk)."""

    conversation_id: str
    message_id: int
    sender: str
    text: str
    agent_name: str | None


def first_name(display_name: str | None) -> str:
    """How the user is told who is chatting: the first word of the agent's name."""
    words = (display_name or "").split()
    return words[0] if words else "Someone"


class LiveDesk:
    """The live chats of the help desk (see the module doc)."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        clock: Callable[[], datetime] = utc_now,
        agent_timeout: float = 30.0,
        always_open: bool = False,
        hours: BusinessHours = HELP_DESK,
    ) -> None:
        self._sessions = sessions
        self._clock = clock
        self.agent_timeout = timedelta(seconds=agent_timeout)
        self.always_open = always_open
        self.hours = hours

    def _now(self) -> datetime:
        return as_utc(self._clock())

    # ------------------------------------------------------------------ availability
    def is_open(self) -> bool:
        """Within the desk's hours (or always, with LIVE_CHAT_HOURS=always)."""
        return self.always_open or self.hours.is_open(self._now())

    def _available_agents(self, session: Session, now: datetime) -> int:
        return session.execute(
            select(func.count()).select_from(LiveAgent).join(Agent, Agent.id == LiveAgent.agent_id)
            .where(LiveAgent.available == 1, LiveAgent.seen_at >= now - self.agent_timeout,
                   Agent.active == 1)
        ).scalar_one()

    def available_agents(self) -> int:
        with self._sessions() as session:
            return self._available_agents(session, self._now())

    def can_offer(self) -> bool:
        """Whether "Chat with someone now" may be offered: open hours and an agent available."""
        return self.is_open() and self.available_agents() > 0

    def expected_wait(self, position: int | None = None) -> int:
        """Minutes a chat at `position` in the queue (default: a new one, after those waiting)
        can expect to wait: its position times the recent median time to take a chat
        (MINUTES_PER_CHAT without any), shared by the available agents."""
        now = self._now()
        with self._sessions() as session:
            if position is None:
                position = 1 + session.execute(
                    select(func.count()).select_from(LiveChat).where(LiveChat.status == WAITING)
                ).scalar_one()
            agents = max(1, self._available_agents(session, now))
            recent = session.execute(
                select(LiveChat.created_at, LiveChat.taken_at).where(
                    LiveChat.taken_at.is_not(None), LiveChat.created_at >= now - timedelta(hours=8))
            ).all()
        waits = sorted((as_utc(taken) - as_utc(created)).total_seconds() / 60
                       for created, taken in recent)
        per_chat = waits[len(waits) // 2] if waits else MINUTES_PER_CHAT
        return max(1, round(position * max(per_chat, 0.5) / agents))

    def set_available(self, agent_id: int, available: bool) -> None:
        now = self._now()
        with self._sessions() as session, session.begin():
            row = session.get(LiveAgent, agent_id)
            if row is None:
                session.add(LiveAgent(agent_id=agent_id, available=int(available), seen_at=now))
            else:
                row.available, row.seen_at = int(available), now

    def is_available(self, agent_id: int) -> bool:
        with self._sessions() as session:
            row = session.get(LiveAgent, agent_id)
            return bool(row and row.available)

    def heartbeat(self, agent_id: int) -> None:
        """The agent's console is open: refresh their presence and their chats'."""
        now = self._now()
        with self._sessions() as session, session.begin():
            session.execute(update(LiveAgent).where(LiveAgent.agent_id == agent_id)
                            .values(seen_at=now))
            session.execute(update(LiveChat).where(LiveChat.agent_id == agent_id,
                                                   LiveChat.status == ACTIVE)
                            .values(agent_seen_at=now))

    # ------------------------------------------------------------------ the user's side
    def open_chat(self, conversation_id: str, transcript: list[dict[str, str]],
                  facts: dict[str, str], system: str | None) -> Opened:
        """A waiting chat for the conversation (its open one if it has one already)."""
        now = self._now()
        with self._sessions() as session, session.begin():
            chat = self._open_of(session, conversation_id)
            if chat is None:
                chat = LiveChat(conversation_id=conversation_id, status=WAITING, system=system,
                                facts=json.dumps(facts), transcript=json.dumps(transcript),
                                created_at=now, user_seen_at=now)
                session.add(chat)
                session.flush()
                log.info("live chat %s: waiting", chat.id)
            position = session.execute(
                select(func.count()).select_from(LiveChat).where(
                    LiveChat.status == WAITING, LiveChat.id <= chat.id)
            ).scalar_one()
            chat_id = chat.id
        return Opened(chat_id, max(position, 1), self.expected_wait(max(position, 1)))

    @staticmethod
    def _open_of(session: Session, conversation_id: str) -> LiveChat | None:
        return session.execute(
            select(LiveChat).where(LiveChat.conversation_id == conversation_id,
                                   LiveChat.status.in_(OPEN))
            .order_by(LiveChat.id.desc()).limit(1)
        ).scalar_one_or_none()

    def open_chat_id(self, conversation_id: str) -> int | None:
        """The conversation's waiting or active chat, if any."""
        with self._sessions() as session:
            chat = self._open_of(session, conversation_id)
            return chat.id if chat else None

    def user_says(self, conversation_id: str, text: str) -> bool:
        """Store a user's message in their open chat; False when there is none (the bot's)."""
        now = self._now()
        with self._sessions() as session, session.begin():
            chat = self._open_of(session, conversation_id)
            if chat is None:
                return False
            chat.user_seen_at, chat.user_left_at = now, None
            session.add(LiveMessage(chat_id=chat.id, sender=USER, text=text[:MAX_MESSAGE],
                                    created_at=now))
            return True

    def user_here(self, conversation_ids: Iterable[str]) -> None:
        """These users' chat windows are connected."""
        ids = list(conversation_ids)
        if not ids:
            return
        with self._sessions() as session, session.begin():
            chats = session.execute(select(LiveChat.id).where(
                LiveChat.conversation_id.in_(ids), LiveChat.status.in_(OPEN))).scalars().all()
            if chats:  # no write (SQLite's lock) for windows without a live chat
                session.execute(update(LiveChat).where(LiveChat.id.in_(chats))
                                .values(user_seen_at=self._now(), user_left_at=None))

    def user_left(self, conversation_id: str) -> None:
        """The user's chat window closed (the agent sees them as gone)."""
        with self._sessions() as session, session.begin():
            session.execute(update(LiveChat).where(
                LiveChat.conversation_id == conversation_id, LiveChat.status.in_(OPEN))
                .values(user_left_at=self._now()))

    def latest_message_id(self, conversation_id: str) -> int:
        with self._sessions() as session:
            return session.execute(
                select(func.max(LiveMessage.id)).select_from(LiveMessage)
                .join(LiveChat, LiveChat.id == LiveMessage.chat_id)
                .where(LiveChat.conversation_id == conversation_id)
            ).scalar_one() or 0

    def deliveries(self, conversation_ids: Iterable[str], after: int) -> list[Delivery]:
        """Agents' and the desk's messages after message id `after` for these conversations."""
        ids = list(conversation_ids)
        if not ids:
            return []
        with self._sessions() as session:
            rows = session.execute(
                select(LiveChat.conversation_id, LiveMessage.id, LiveMessage.sender,
                       LiveMessage.text, Agent.display_name)
                .join(LiveChat, LiveChat.id == LiveMessage.chat_id)
                .outerjoin(Agent, Agent.id == LiveChat.agent_id)
                .where(LiveChat.conversation_id.in_(ids), LiveMessage.id > after,
                       LiveMessage.sender != USER)
                .order_by(LiveMessage.id)
            ).all()
        return [Delivery(conversation, message_id, sender, text,
                         first_name(name) if name else None)
                for conversation, message_id, sender, text, name in rows]

    def claim_resume(self, conversation_id: str) -> bool:
        """True once per finished chat: the caller then gives the conversation back to the bot
        (Rasa's ConversationResumed). False while a chat is open or when already resumed."""
        unresumed = (LiveChat.conversation_id == conversation_id,
                     LiveChat.status.in_(CLOSED), LiveChat.resumed_at.is_(None))
        with self._sessions() as session, session.begin():
            # Reads first: most conversations never had a live chat, and a write would take
            # SQLite's lock on every message.
            if session.execute(select(LiveChat.id).where(*unresumed).limit(1)).first() is None:
                return False
            if self._open_of(session, conversation_id) is not None:
                return False
            claimed = session.execute(update(LiveChat).where(*unresumed)
                                      .values(resumed_at=self._now()))
            return claimed.rowcount > 0

    # ------------------------------------------------------------------ the agent's side
    def take(self, chat_id: int, agent: AgentInfo) -> None:
        now = self._now()
        with self._sessions() as session, session.begin():
            taken = session.execute(update(LiveChat).where(
                LiveChat.id == chat_id, LiveChat.status == WAITING).values(
                status=ACTIVE, agent_id=agent.id, taken_at=now, agent_seen_at=now))
            if taken.rowcount == 0:
                raise LiveChatError("This chat was taken by someone else or is over.")
            self._say(session, chat_id, SYSTEM, TAKEN.format(name=first_name(agent.display_name)))
        log.info("live chat %s: taken by agent %s", chat_id, agent.id)

    def agent_says(self, chat_id: int, agent: AgentInfo, text: str) -> None:
        text = text.strip()
        if not text:
            raise LiveChatError("Type a message first.")
        if len(text) > MAX_MESSAGE:
            raise LiveChatError(f"A message can have at most {MAX_MESSAGE} characters.")
        with self._sessions() as session, session.begin():
            chat = self._agents_chat(session, chat_id, agent)
            chat.agent_seen_at = self._now()
            self._say(session, chat_id, AGENT, text)

    def hand_back(self, chat_id: int, agent: AgentInfo) -> None:
        self._close(chat_id, agent, RETURNED, HANDED_BACK.format(
            name=first_name(agent.display_name)))

    def end(self, chat_id: int, agent: AgentInfo) -> None:
        self._close(chat_id, agent, ENDED, ENDED_TEXT.format(name=first_name(agent.display_name)))

    def to_ticket(self, chat_id: int, agent: AgentInfo, contact_email: str,
                  summary: str, tickets: TicketService) -> str:
        """File the chat as a "talk to a person" ticket with the whole transcript (masked);
        returns the reference. The e-mail address must be checked by the caller."""
        with self._sessions() as session:
            chat = self._agents_chat(session, chat_id, agent)
            facts = {"summary": summary.strip()[:1000] or "Live chat", **{
                k: v for k, v in json.loads(chat.facts).items() if k != "summary"}}
            facts["contact_email"] = contact_email
            transcript = json.loads(chat.transcript) + [
                {"from": "bot" if m.sender != USER else "user",
                 "text": mask_text(m.text if m.sender != AGENT
                                   else f"{first_name(agent.display_name)}: {m.text}"),
                 "at": as_utc(m.created_at).isoformat(timespec="seconds")}
                for m in self._messages(session, chat_id)]
            conversation, system = chat.conversation_id, chat.system
        submission = tickets.submit(conversation, TicketRequest(
            kind="human_handoff", system=system, contact_email=contact_email, facts=facts,
            transcript=transcript))
        if submission.reference is None:
            raise LiveChatError("Too many tickets for this conversation or e-mail today.")
        parsed = parse_reference(submission.reference)
        self._close(chat_id, agent, TICKETED, TICKETED_TEXT.format(
            name=first_name(agent.display_name), reference=submission.reference),
            ticket_id=parsed[1] if parsed else None)
        return submission.reference

    def _close(self, chat_id: int, agent: AgentInfo, status: str, told: str,
               ticket_id: int | None = None) -> None:
        now = self._now()
        with self._sessions() as session, session.begin():
            closed = session.execute(update(LiveChat).where(
                LiveChat.id == chat_id, LiveChat.status == ACTIVE, LiveChat.agent_id == agent.id)
                .values(status=status, closed_at=now, ticket_id=ticket_id))
            if closed.rowcount == 0:
                raise LiveChatError("This chat is not yours, or it is over.")
            self._say(session, chat_id, SYSTEM, told)
        log.info("live chat %s: %s by agent %s", chat_id, status, agent.id)

    @staticmethod
    def _agents_chat(session: Session, chat_id: int, agent: AgentInfo) -> LiveChat:
        chat = session.get(LiveChat, chat_id)
        if chat is None or chat.status != ACTIVE or chat.agent_id != agent.id:
            raise LiveChatError("This chat is not yours, or it is over.")
        return chat

    def _say(self, session: Session, chat_id: int, sender: str, text: str) -> None:
        session.add(LiveMessage(chat_id=chat_id, sender=sender, text=text,
                                created_at=self._now()))

    @staticmethod
    def _messages(session: Session, chat_id: int) -> list[LiveMessage]:
        return list(session.execute(select(LiveMessage).where(LiveMessage.chat_id == chat_id)
                                    .order_by(LiveMessage.id)).scalars())

    # ------------------------------------------------------------------ housekeeping
    def sweep(self) -> int:
        """Chats whose agent went silent go back to the queue; waiting chats nobody could take
        for `agent_timeout` go back to the bot. Returns how many chats changed."""
        now = self._now()
        stale = now - self.agent_timeout
        changed = 0
        with self._sessions() as session, session.begin():
            dropped = session.execute(
                select(LiveChat.id, Agent.display_name).join(Agent, Agent.id == LiveChat.agent_id)
                .where(LiveChat.status == ACTIVE, LiveChat.agent_seen_at < stale)).all()
            for chat_id, name in dropped:
                moved = session.execute(update(LiveChat).where(
                    LiveChat.id == chat_id, LiveChat.status == ACTIVE,
                    LiveChat.agent_seen_at < stale).values(
                    status=WAITING, agent_id=None, taken_at=None, agent_seen_at=None,
                    created_at=now))
                if moved.rowcount:
                    changed += 1
                    self._say(session, chat_id, SYSTEM, AGENT_GONE.format(name=first_name(name)))
                    log.info("live chat %s: agent gone, back in the queue", chat_id)
            if self._available_agents(session, now) == 0:
                forgotten = session.execute(select(LiveChat.id).where(
                    LiveChat.status == WAITING, LiveChat.created_at < stale)).scalars().all()
                for chat_id in forgotten:
                    moved = session.execute(update(LiveChat).where(
                        LiveChat.id == chat_id, LiveChat.status == WAITING)
                        .values(status=RETURNED, closed_at=now))
                    if moved.rowcount:
                        changed += 1
                        self._say(session, chat_id, SYSTEM, NOBODY)
                        log.info("live chat %s: nobody available, back to the bot", chat_id)
        return changed

    # ------------------------------------------------------------------ the console
    def board(self, agent_id: int) -> Board:
        now = self._now()
        with self._sessions() as session:
            rows = session.execute(
                select(LiveChat, Agent.display_name).outerjoin(Agent, Agent.id == LiveChat.agent_id)
                .where(LiveChat.status.in_(OPEN)).order_by(LiveChat.created_at, LiveChat.id)
            ).all()
            chats = [self._view(chat, name, now) for chat, name in rows]
            agents = self._available_agents(session, now)
            me = session.get(LiveAgent, agent_id)
        return Board(
            available=bool(me and me.available), agents_available=agents,
            waiting=[c for c in chats if c.status == WAITING],
            mine=[c for c in chats if c.status == ACTIVE and c.agent_id == agent_id],
            others=[c for c in chats if c.status == ACTIVE and c.agent_id != agent_id],
        )

    def board_signature(self) -> tuple[Any, ...]:
        """Changes whenever the live page would show something else (one small query)."""
        now = self._now()
        with self._sessions() as session:
            chats = session.execute(
                select(func.count(LiveChat.id), func.max(LiveChat.id),
                       func.max(LiveChat.taken_at), func.max(LiveChat.closed_at),
                       func.max(LiveChat.created_at))).one()
            last_message = session.execute(select(func.max(LiveMessage.id))).scalar_one()
            gone = session.execute(
                select(func.count()).select_from(LiveChat).where(
                    LiveChat.status.in_(OPEN),
                    (LiveChat.user_left_at.is_not(None))
                    | (LiveChat.user_seen_at < now - self.agent_timeout))).scalar_one()
            agents = self._available_agents(session, now)
        return (*chats, last_message, gone, agents)

    def chat(self, chat_id: int) -> Chat | None:
        with self._sessions() as session:
            row = session.execute(
                select(LiveChat, Agent.display_name).outerjoin(Agent, Agent.id == LiveChat.agent_id)
                .where(LiveChat.id == chat_id)).first()
            if row is None:
                return None
            messages = [Message(m.id, m.sender, m.text, as_utc(m.created_at))
                        for m in self._messages(session, chat_id)]
            ticket = session.get(Ticket, row[0].ticket_id) if row[0].ticket_id else None
            return self._view(row[0], row[1], self._now(), messages,
                              reference_of(ticket) if ticket else None)

    def _view(self, chat: LiveChat, agent_name: str | None, now: datetime,
              messages: list[Message] | None = None, reference: str | None = None) -> Chat:
        seen = as_utc(chat.user_seen_at) if chat.user_seen_at else None
        gone = chat.user_left_at is not None or seen is None or seen < now - self.agent_timeout
        return Chat(
            id=chat.id, status=chat.status, agent_id=chat.agent_id, agent_name=agent_name,
            system=chat.system, facts=json.loads(chat.facts),
            transcript=json.loads(chat.transcript),
            created_at=as_utc(chat.created_at),
            taken_at=as_utc(chat.taken_at) if chat.taken_at else None,
            user_gone=gone, ticket_reference=reference, messages=messages or [],
        )
