"""The agent's day in the console: ticket search, canned replies, and the queue keeping itself
current.

* `GET /console/search?q=...`: tickets by reference, e-mail, name or any text
  (`bot.console.ticket_search`); a reference of an existing ticket goes straight to it.
* `GET /console/canned` lists the canned replies; admins create (`POST /console/canned`),
  change (`GET`/`POST /console/canned/{id}`) and delete (`POST /console/canned/{id}/delete`)
  them (`bot.console.canned_replies`).
* `GET /console/queue/events?<the queue's filters>&since=<ticket id>`: server-sent events for
  the queue page (static/console.js). Every `QUEUE_POLL_KEY` seconds (2 by default) the stream
  checks the session, without sliding its idle timeout (watching is not acting), and whether
  any ticket was filed or changed; when something did, it sends the counts and tickets as the
  queue page renders them (`queue`), with how many matching tickets were filed after `since`.
  An ended session gets `ended`, and the stream closes. Tickets are filed by the action server,
  another process: the database is what every web process watches, so any number of them
  can serve the console. Without a session the answer is 204, which tells EventSource to stop.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time

from aiohttp import web
from multidict import MultiDict

from bot.console.agents import ConsoleSession
from bot.console.canned_replies import (
    MAX_TITLE,
    PLACEHOLDERS,
    CannedReplies,
    CannedReplyError,
)
from bot.console.ticket_desk import MAX_TEXT
from bot.console.ticket_search import MAX_QUERY, SearchError, TicketSearch
from bot.web.common import SESSIONS_KEY
from bot.web.console import (
    CLOCK_KEY,
    CONSOLE_HEADERS,
    _agents,
    _bad_query,
    _current,
    _desk,
    _message,
    _number,
    _page,
    _query_string,
    _queue_query,
    _redirect,
    _single_values,
    form,
    page,
    queue_context,
    status_label,
    system_name,
    when,
)
from bot.web.console_auth import SESSION_COOKIE
from bot.web.templating import environment

log = logging.getLogger(__name__)

QUEUE_POLL_KEY = web.AppKey("console_queue_poll", float)
STREAMS_STOP_KEY = web.AppKey("console_streams_stop", asyncio.Event)
HEARTBEAT_SECONDS = 15.0
RERENDER_SECONDS = 300  # "Overdue" marks change with time alone: render again this often
CANNED_DONE = {
    "created": "The canned reply was added.",
    "updated": "The canned reply was changed.",
    "unchanged": "Nothing changed: the canned reply already was like that.",
    "deleted": "The canned reply was deleted.",
}


# ----------------------------------------------------------------- search
@page
async def search_page(request: web.Request, current: ConsoleSession) -> web.StreamResponse:
    """GET /console/search: the form, and the tickets matching `q`."""
    problems: list[str] = []
    values = _single_values(request.query, ("q", "page"), problems)
    page_number = _number(values, "page", problems, low=1, high=999_999) or 1
    if problems:
        return _bad_query(current, problems, ("/console/search", "Back to the search"))
    text = values.get("q", "")
    if not text:
        return _page("search.html", current=current, section="search", q="", result=None,
                     problem=None, max_query=MAX_QUERY)
    search = TicketSearch(request.app[SESSIONS_KEY], request.app[CLOCK_KEY])
    try:
        result = await asyncio.to_thread(search.search, current.agent, text, page_number)
    except SearchError as error:
        return _page("search.html", current=current, section="search", status=400,
                     q=text[:MAX_QUERY], result=None, problem=str(error), max_query=MAX_QUERY)
    if result.reference is not None:
        return _redirect(f"/console/tickets/{result.reference}")
    return _page(
        "search.html", current=current, section="search", q=result.query, result=result,
        problem=None, max_query=MAX_QUERY,
        page_url=lambda number: "/console/search" + _query_string(
            {"q": result.query, "page": number if number > 1 else None}),
    )


# ----------------------------------------------------------------- canned replies
def _canned(request: web.Request) -> CannedReplies:
    return CannedReplies(request.app[SESSIONS_KEY], request.app[CLOCK_KEY])


def _admins_only(current: ConsoleSession) -> web.Response:
    log.info("console: canned reply change refused to agent %s (not an admin)",
             current.agent.id)
    return _message(403, "Only admins can do this",
                    "Canned replies are managed by admins. Nothing was changed.",
                    current=current, back=("/console/canned", "Back to the canned replies"))


def _reply_id(request: web.Request) -> int | None:
    text = request.match_info["reply_id"]
    return int(text) if text.isdigit() and len(text) <= 9 else None


def _gone(current: ConsoleSession) -> web.Response:
    return _message(404, "No such canned reply", "It may have been deleted.",
                    current=current, back=("/console/canned", "Back to the canned replies"))


async def _canned_list(
    request: web.Request, current: ConsoleSession, *, status: int = 200,
    problem: str | None = None, title: str = "", body: str = "",
) -> web.Response:
    replies = await asyncio.to_thread(_canned(request).replies)
    done = CANNED_DONE.get(request.query.get("done", "")) if status == 200 else None
    return _page("canned.html", current=current, section="canned", status=status,
                 replies=replies, problem=problem, done=done, title=title, body=body,
                 placeholders=PLACEHOLDERS, max_title=MAX_TITLE, max_text=MAX_TEXT)


@page
async def canned_page(request: web.Request, current: ConsoleSession) -> web.StreamResponse:
    """GET /console/canned: every canned reply; admins also get the form for a new one."""
    return await _canned_list(request, current)


@form
async def create_canned(
    request: web.Request, current: ConsoleSession, fields: dict[str, str]
) -> web.StreamResponse:
    """POST /console/canned (admins): a new canned reply."""
    if not current.agent.is_admin:
        return _admins_only(current)
    title, body = fields.get("title", ""), fields.get("body", "")
    try:
        await asyncio.to_thread(_canned(request).create, current.agent, title, body)
    except CannedReplyError as error:
        return await _canned_list(request, current, status=400, problem=str(error),
                                  title=title, body=body)
    return _redirect("/console/canned?done=created")


async def _canned_edit(
    request: web.Request, current: ConsoleSession, reply_id: int, *, status: int = 200,
    problem: str | None = None, typed: dict[str, str] | None = None,
) -> web.Response:
    reply = await asyncio.to_thread(_canned(request).get, reply_id)
    if reply is None:
        return _gone(current)
    return _page("canned_edit.html", current=current, section="canned", status=status,
                 reply=reply, problem=problem, title=(typed or {}).get("title", reply.title),
                 body=(typed or {}).get("body", reply.body), placeholders=PLACEHOLDERS,
                 max_title=MAX_TITLE, max_text=MAX_TEXT)


@page
async def canned_edit_page(request: web.Request, current: ConsoleSession) -> web.StreamResponse:
    """GET /console/canned/{reply_id} (admins): the form to change or delete it."""
    if not current.agent.is_admin:
        return _admins_only(current)
    reply_id = _reply_id(request)
    if reply_id is None:
        return _gone(current)
    return await _canned_edit(request, current, reply_id)


@form
async def update_canned(
    request: web.Request, current: ConsoleSession, fields: dict[str, str]
) -> web.StreamResponse:
    """POST /console/canned/{reply_id} (admins): change it."""
    if not current.agent.is_admin:
        return _admins_only(current)
    reply_id = _reply_id(request)
    if reply_id is None:
        return _gone(current)
    title, body = fields.get("title", ""), fields.get("body", "")
    try:
        changed = await asyncio.to_thread(_canned(request).update, current.agent, reply_id,
                                          title, body)
    except CannedReplyError as error:
        return await _canned_edit(request, current, reply_id, status=400, problem=str(error),
                                  typed={"title": title, "body": body})
    return _redirect("/console/canned?done=" + ("updated" if changed else "unchanged"))


@form
async def delete_canned(
    request: web.Request, current: ConsoleSession, fields: dict[str, str]
) -> web.StreamResponse:
    """POST /console/canned/{reply_id}/delete (admins)."""
    if not current.agent.is_admin:
        return _admins_only(current)
    reply_id = _reply_id(request)
    if reply_id is None:
        return _gone(current)
    try:
        await asyncio.to_thread(_canned(request).delete, current.agent, reply_id)
    except CannedReplyError:
        return _gone(current)
    return _redirect("/console/canned?done=deleted")


# ----------------------------------------------------------------- the live queue
def _event(name: str, data: dict[str, object]) -> bytes:
    """One server-sent event; JSON keeps `data` on one line."""
    return f"event: {name}\ndata: {json.dumps(data)}\n\n".encode()


async def queue_events(request: web.Request) -> web.StreamResponse:
    """GET /console/queue/events: the queue page's live updates (see the module doc)."""
    current = await _current(request)  # opening the page is activity: this one slides
    if current is None:
        return web.Response(status=204, headers=CONSOLE_HEADERS)
    since_text = request.query.get("since", "")
    filters = MultiDict((k, v) for k, v in request.query.items() if k != "since")
    query, problems = _queue_query(filters)
    if since_text and not (since_text.isdigit() and len(since_text) <= 10):
        problems.append("since must be a ticket id")
    if query is None or problems:
        return web.Response(status=400, text="; ".join(problems), headers=CONSOLE_HEADERS)
    response = web.StreamResponse(headers={
        **CONSOLE_HEADERS, "Content-Type": "text/event-stream", "X-Accel-Buffering": "no",
    })
    await response.prepare(request)
    token = request.cookies.get(SESSION_COOKIE)
    agents, desk = _agents(request), _desk(request)
    clock, stop = request.app[CLOCK_KEY], request.app[STREAMS_STOP_KEY]
    since = int(since_text) if since_text else None
    template = environment().get_template("console/queue_live.html")
    last_signature: tuple[object, ...] | None = None
    last_sent: tuple[str, int] | None = None
    last_write = time.monotonic()
    try:
        await response.write(b"retry: 5000\n\n")
        while not stop.is_set():
            if await asyncio.to_thread(agents.session, token, touch=False) is None:
                await response.write(_event("ended", {}))
                break
            signature = (await asyncio.to_thread(desk.queue_signature),
                         int(clock().timestamp() // RERENDER_SECONDS))
            if signature != last_signature:
                last_signature = signature
                result = await asyncio.to_thread(desk.queue, query, since)
                if since is None:
                    since = result.latest_id
                html = template.render(**queue_context(query, result, since), when=when,
                                       system_name=system_name, status_label=status_label)
                if (html, result.newer) != last_sent:  # not for a change nobody sees (a view)
                    last_sent = (html, result.newer)
                    await response.write(_event("queue", {
                        "html": html, "new": result.newer, "latest": result.latest_id}))
                    last_write = time.monotonic()
            if time.monotonic() - last_write > HEARTBEAT_SECONDS:
                await response.write(b": still here\n\n")  # finds a closed connection
                last_write = time.monotonic()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(stop.wait(), request.app[QUEUE_POLL_KEY])
    except ConnectionResetError:
        pass  # the page was closed or reloaded
    return response


async def _stop_streams(app: web.Application) -> None:
    app[STREAMS_STOP_KEY].set()


# ----------------------------------------------------------------- routes
def add_routes(app: web.Application) -> None:
    app.setdefault(QUEUE_POLL_KEY, 2.0)
    app[STREAMS_STOP_KEY] = asyncio.Event()
    app.on_shutdown.append(_stop_streams)
    app.router.add_get("/console/search", search_page)
    app.router.add_get("/console/canned", canned_page)
    app.router.add_post("/console/canned", create_canned)
    app.router.add_get("/console/canned/{reply_id}", canned_edit_page)
    app.router.add_post("/console/canned/{reply_id}", update_canned)
    app.router.add_post("/console/canned/{reply_id}/delete", delete_canned)
    app.router.add_get("/console/queue/events", queue_events)
