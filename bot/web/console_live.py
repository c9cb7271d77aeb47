"""Live chats in the console (`bot.live`): agents take waiting chats and talk with users.

* `GET /console/live`: whether I am available, the waiting chats (oldest first) with "Take",
  mine, and the others'. `POST /console/live/available` switches availability.
* `GET /console/live/events`: server-sent events for that page: every `LIVE_POLL_KEY` seconds
  (1 by default) the stream refreshes the agent's presence (their heartbeat: an agent whose
  pages are all closed counts as gone after LIVE_AGENT_TIMEOUT_SECONDS, and their chats go back
  to the queue), runs the desk's sweep, and sends the board when it changed (`board`, with the
  number of waiting chats for the title badge).
* `GET /console/live/{id}`: one chat: the facts and the transcript the bot collected, the live
  messages, a box to type in, "Hand back to the bot" and "Turn into a ticket".
  `GET /console/live/{id}/events` streams its messages (`chat`) the same way.
* `POST /console/live/{id}/take | messages | hand-back | ticket`: the changes, each with the
  session's CSRF token; a script posts messages without reloading the page.

Everything is in the database, so any number of web processes can serve the console. Opening a
chat (what the user typed, unmasked, as an agent on the phone would hear it) is audited like a
ticket.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

from aiohttp import web

from bot.console.agents import ConsoleSession
from bot.live.service import MAX_MESSAGE, LiveChatError, LiveDesk
from bot.tickets.service import TicketService
from bot.validation import email_problem
from bot.web.common import SESSIONS_KEY, SETTINGS_KEY
from bot.web.console import (
    CLOCK_KEY,
    CONSOLE_HEADERS,
    _agents,
    _current,
    _message,
    _page,
    _redirect,
    form,
    page,
    record_access,
    system_name,
    when,
)
from bot.web.console_auth import CSRF_FIELD, SESSION_COOKIE
from bot.web.console_desk import STREAMS_STOP_KEY, _event
from bot.web.templating import environment

log = logging.getLogger(__name__)

LIVE_POLL_KEY = web.AppKey("console_live_poll", float)
HEARTBEAT_SECONDS = 15.0


def _desk(request: web.Request) -> LiveDesk:
    settings = request.app[SETTINGS_KEY]
    return LiveDesk(request.app[SESSIONS_KEY], clock=request.app[CLOCK_KEY],
                    agent_timeout=settings.live_agent_timeout,
                    always_open=settings.live_chat_always_open)


def _chat_id(request: web.Request) -> int | None:
    text = request.match_info["chat_id"]
    return int(text) if text.isdigit() and len(text) <= 9 else None


def _no_chat(current: ConsoleSession) -> web.Response:
    return _message(404, "No such live chat", "It may have ended.", current=current,
                    back=("/console/live", "Back to the live chats"))


def _refused(current: ConsoleSession, chat_id: int, error: LiveChatError) -> web.Response:
    return _message(409, "That did not work", str(error), current=current,
                    back=(f"/console/live/{chat_id}", "Back to the chat"))


# ----------------------------------------------------------------- the board
def _board_context(desk: LiveDesk, current: ConsoleSession) -> dict[str, Any]:
    return {"board": desk.board(current.agent.id), "open": desk.is_open(),
            "hours": desk.hours.describe()}


@page
async def live_page(request: web.Request, current: ConsoleSession) -> web.StreamResponse:
    """GET /console/live: the live chats."""
    desk = _desk(request)
    context = await asyncio.to_thread(_board_context, desk, current)
    return _page("live.html", current=current, section="live", **context)


@form
async def set_available(
    request: web.Request, current: ConsoleSession, fields: dict[str, str]
) -> web.StreamResponse:
    """POST /console/live/available: available=1 or 0."""
    await asyncio.to_thread(_desk(request).set_available, current.agent.id,
                            fields.get("available") == "1")
    return _redirect("/console/live")


async def _stream(
    request: web.Request, render: Any, signature: Any, name: str
) -> web.StreamResponse:
    """Server-sent events: `render()` -> data, sent whenever `signature()` changes; every round
    refreshes the agent's presence and sweeps the desk."""
    current = await _current(request)
    if current is None:
        return web.Response(status=204, headers=CONSOLE_HEADERS)
    response = web.StreamResponse(headers={
        **CONSOLE_HEADERS, "Content-Type": "text/event-stream", "X-Accel-Buffering": "no"})
    await response.prepare(request)
    token = request.cookies.get(SESSION_COOKIE)
    agents, desk = _agents(request), _desk(request)
    stop = request.app[STREAMS_STOP_KEY]
    last: Any = None
    last_write = time.monotonic()
    try:
        await response.write(b"retry: 2000\n\n")
        while not stop.is_set():
            if await asyncio.to_thread(agents.session, token, touch=False) is None:
                await response.write(_event("ended", {}))
                break
            await asyncio.to_thread(desk.heartbeat, current.agent.id)
            await asyncio.to_thread(desk.sweep)
            now = await asyncio.to_thread(signature, desk, current)
            if now != last:
                last = now
                data = await asyncio.to_thread(render, desk, current)
                await response.write(_event(name, data))
                last_write = time.monotonic()
            if time.monotonic() - last_write > HEARTBEAT_SECONDS:
                await response.write(b": still here\n\n")
                last_write = time.monotonic()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(stop.wait(), request.app[LIVE_POLL_KEY])
    except ConnectionResetError:
        pass  # the page was closed: the heartbeat stops with it
    return response


def _render_board(desk: LiveDesk, current: ConsoleSession) -> dict[str, Any]:
    context = _board_context(desk, current)
    html = environment().get_template("console/live_board.html").render(
        **context, agent=current.agent, csrf_token=current.csrf_token,
        csrf_field=CSRF_FIELD, when=when, system_name=system_name)
    return {"html": html, "waiting": len(context["board"].waiting)}


def _board_signature(desk: LiveDesk, current: ConsoleSession) -> Any:
    return (desk.board_signature(), desk.is_available(current.agent.id))


async def board_events(request: web.Request) -> web.StreamResponse:
    """GET /console/live/events."""
    return await _stream(request, _render_board, _board_signature, "board")


# ----------------------------------------------------------------- one chat
def _render_chat(chat_id: int) -> Any:
    def render(desk: LiveDesk, current: ConsoleSession) -> dict[str, Any]:
        chat = desk.chat(chat_id)
        html = environment().get_template("console/live_messages.html").render(
            chat=chat, agent=current.agent, when=when)
        return {"html": html, "status": chat.status if chat else "gone",
                "mine": bool(chat and chat.is_open and chat.agent_id == current.agent.id)}
    return render


def _chat_signature(chat_id: int) -> Any:
    def signature(desk: LiveDesk, _current: ConsoleSession) -> Any:
        chat = desk.chat(chat_id)
        return None if chat is None else (chat.status, chat.agent_id, chat.user_gone,
                                          len(chat.messages))
    return signature


async def chat_events(request: web.Request) -> web.StreamResponse:
    """GET /console/live/{chat_id}/events."""
    chat_id = _chat_id(request)
    if chat_id is None:
        return web.Response(status=404, headers=CONSOLE_HEADERS)
    return await _stream(request, _render_chat(chat_id), _chat_signature(chat_id), "chat")


@page
async def chat_page(request: web.Request, current: ConsoleSession) -> web.StreamResponse:
    """GET /console/live/{chat_id}."""
    chat_id = _chat_id(request)
    chat = await asyncio.to_thread(_desk(request).chat, chat_id) if chat_id else None
    if chat is None:
        return _no_chat(current)
    await record_access(request, current, "viewed_live_chat", f"live chat {chat.id}", [chat.id])
    return _page("live_chat.html", current=current, section="live", chat=chat,
                 max_message=MAX_MESSAGE, problem=request.query.get("problem"))


@form
async def take(
    request: web.Request, current: ConsoleSession, fields: dict[str, str]
) -> web.StreamResponse:
    """POST /console/live/{chat_id}/take."""
    chat_id = _chat_id(request)
    if chat_id is None:
        return _no_chat(current)
    try:
        await asyncio.to_thread(_desk(request).take, chat_id, current.agent)
    except LiveChatError as error:
        return _message(409, "This chat cannot be taken", str(error), current=current,
                        back=("/console/live", "Back to the live chats"))
    return _redirect(f"/console/live/{chat_id}")


@form
async def send(
    request: web.Request, current: ConsoleSession, fields: dict[str, str]
) -> web.StreamResponse:
    """POST /console/live/{chat_id}/messages: 204 for the page's script, else back to the chat."""
    chat_id = _chat_id(request)
    if chat_id is None:
        return _no_chat(current)
    scripted = request.headers.get("X-Requested-With") == "live-chat"
    try:
        await asyncio.to_thread(_desk(request).agent_says, chat_id, current.agent,
                                fields.get("text", ""))
    except LiveChatError as error:
        if scripted:
            return web.Response(status=409, text=str(error), headers=CONSOLE_HEADERS)
        return _refused(current, chat_id, error)
    if scripted:
        return web.Response(status=204, headers=CONSOLE_HEADERS)
    return _redirect(f"/console/live/{chat_id}")


@form
async def hand_back(
    request: web.Request, current: ConsoleSession, fields: dict[str, str]
) -> web.StreamResponse:
    """POST /console/live/{chat_id}/hand-back: the bot answers the user again."""
    chat_id = _chat_id(request)
    if chat_id is None:
        return _no_chat(current)
    try:
        await asyncio.to_thread(_desk(request).hand_back, chat_id, current.agent)
    except LiveChatError as error:
        return _refused(current, chat_id, error)
    return _redirect(f"/console/live/{chat_id}")


@form
async def to_ticket(
    request: web.Request, current: ConsoleSession, fields: dict[str, str]
) -> web.StreamResponse:
    """POST /console/live/{chat_id}/ticket: a ticket with the transcript, then the ticket."""
    chat_id = _chat_id(request)
    if chat_id is None:
        return _no_chat(current)
    address = fields.get("contact_email", "").strip()
    problem = email_problem(address)
    if problem:
        return _refused(current, chat_id, LiveChatError(
            "The ticket needs the user's e-mail address: " + problem))
    tickets = TicketService(request.app[SESSIONS_KEY], clock=request.app[CLOCK_KEY])
    try:
        reference = await asyncio.to_thread(
            _desk(request).to_ticket, chat_id, current.agent, address.lower(),
            fields.get("summary", ""), tickets)
    except LiveChatError as error:
        return _refused(current, chat_id, error)
    return _redirect(f"/console/tickets/{reference}")


# ----------------------------------------------------------------- routes
def add_routes(app: web.Application) -> None:
    app.setdefault(LIVE_POLL_KEY, 1.0)
    app.router.add_get("/console/live", live_page)
    app.router.add_post("/console/live/available", set_available)
    app.router.add_get("/console/live/events", board_events)
    app.router.add_get("/console/live/{chat_id}", chat_page)
    app.router.add_get("/console/live/{chat_id}/events", chat_events)
    app.router.add_post("/console/live/{chat_id}/take", take)
    app.router.add_post("/console/live/{chat_id}/messages", send)
    app.router.add_post("/console/live/{chat_id}/hand-back", hand_back)
    app.router.add_post("/console/live/{chat_id}/ticket", to_ticket)
