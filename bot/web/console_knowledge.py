"""The console's knowledge pages (admins only): every entry by review date with the signs that it
is out of date, and one entry's answers to edit, mark as reviewed, with the history of changes.

`GET /console/knowledge`, `GET /console/knowledge/{entry_id}`,
`POST /console/knowledge/{entry_id}/answer` (fields `variant`, `text`, `seen`) and
`POST /console/knowledge/{entry_id}/reviewed`. Services in `bot.console.knowledge_desk`; the same
sessions, CSRF checks and page frame as the rest of the console (`bot.web.console`).
"""

from __future__ import annotations

import asyncio
import logging
import urllib.parse
from datetime import date

from aiohttp import web

from bot import dates
from bot.console.agents import ConsoleSession
from bot.console.knowledge_desk import KnowledgeDesk, KnowledgeEditError, known_placeholders
from bot.knowledge.entries import load_knowledge
from bot.knowledge.overrides import APPLIED, CONFLICT, IN_YAML, INVALID, MISSING
from bot.web.common import SESSIONS_KEY
from bot.web.console import (
    CLOCK_KEY,
    _bad_query,
    _message,
    _page,
    _redirect,
    _single_values,
    form,
    page,
)

log = logging.getLogger(__name__)

DONE = {
    "edited": "The answer was saved: the bot gives it from now on. "
              "The command “helpdesk knowledge export” writes it to the YAML for review.",
    "reviewed": "The entry is marked as reviewed today.",
}
STATE_NOTES = {
    APPLIED: "The bot gives the text edited in the console; it is not in the YAML yet "
             "(the command “helpdesk knowledge export” writes it there).",
    IN_YAML: "The last edit made in the console is in the YAML now.",
    CONFLICT: "The YAML text changed after the last edit made here, so the bot gives the "
              "YAML's text. Edit it again here to replace it.",
    MISSING: "",
    INVALID: "The last edit made here no longer works with the contacts and links of "
             "sources.yml, so the bot gives the YAML's text.",
}
SHOW = {"": "Every entry", "flagged": "Only entries with signs of age"}


def long_date(day: date | None) -> str:
    """"November 27, 2007"; "Never" for None."""
    return dates.long_date(day, missing="Never")


def _desk(request: web.Request) -> KnowledgeDesk:
    return KnowledgeDesk(request.app[SESSIONS_KEY], request.app[CLOCK_KEY])


def _admins_only(current: ConsoleSession) -> web.Response:
    log.info("console: knowledge page refused to agent %s (not an admin)", current.agent.id)
    return _message(403, "Only admins can do this",
                    "Reviewing and editing the answers the bot gives is for admins only. "
                    "Nothing was changed.", current=current, back=("/console", "Back to the queue"))


@page
async def knowledge_page(request: web.Request, current: ConsoleSession) -> web.StreamResponse:
    """GET /console/knowledge: every entry, least recently reviewed first."""
    if not current.agent.is_admin:
        return _admins_only(current)
    problems: list[str] = []
    values = _single_values(request.query, ("show",), problems)
    show = values.get("show", "")
    if show not in SHOW:
        problems.append(f"“{show[:40]}” is not a show here: use flagged.")
    if problems:
        return _bad_query(current, problems, ("/console/knowledge", "Back to the knowledge"))
    reviews = await asyncio.to_thread(_desk(request).overview)
    shown = [review for review in reviews if review.reasons or show != "flagged"]
    return _page(
        "knowledge.html", current=current, section="knowledge", reviews=shown,
        total=len(reviews), flagged=sum(1 for review in reviews if review.reasons),
        never=sum(1 for review in reviews if review.reviewed is None), show=show, views=SHOW,
        long_date=long_date,
    )


async def _entry_response(
    request: web.Request, current: ConsoleSession, entry_id: str, *, status: int = 200,
    problem: str | None = None, typed: dict[str, str] | None = None,
) -> web.Response:
    review = await asyncio.to_thread(_desk(request).entry, entry_id)
    if review is None:
        return _message(404, "No such entry", f"The knowledge has no entry “{entry_id[:80]}”.",
                        current=current, back=("/console/knowledge", "Back to the knowledge"))
    done = DONE.get(request.query.get("done", "")) if status == 200 else None
    return _page(
        "knowledge_entry.html", current=current, status=status, section="knowledge",
        review=review, problem=problem, done=done, typed=typed or {}, notes=STATE_NOTES,
        placeholders=known_placeholders(load_knowledge()), long_date=long_date,
    )


@page
async def entry_page(request: web.Request, current: ConsoleSession) -> web.StreamResponse:
    """GET /console/knowledge/{entry_id}: its answers, the edit forms and the history."""
    if not current.agent.is_admin:
        return _admins_only(current)
    return await _entry_response(request, current, request.match_info["entry_id"])


def _entry_url(entry_id: str, done: str) -> str:
    return f"/console/knowledge/{urllib.parse.quote(entry_id)}?done={done}#top"


@form
async def edit_answer(
    request: web.Request, current: ConsoleSession, fields: dict[str, str]
) -> web.StreamResponse:
    """POST /console/knowledge/{entry_id}/answer: save an answer's new text."""
    if not current.agent.is_admin:
        return _admins_only(current)
    entry_id = request.match_info["entry_id"]
    variant, text = fields.get("variant", ""), fields.get("text", "")
    seen = fields.get("seen", "")
    try:
        if not seen.isdigit() or len(seen) > 9:
            raise KnowledgeEditError("The form is incomplete: reload the page and edit again. "
                                     "Nothing was saved.")
        await asyncio.to_thread(_desk(request).edit, current.agent, entry_id, variant, text,
                                int(seen))
    except KnowledgeEditError as error:
        return await _entry_response(request, current, entry_id, status=400,
                                     problem=str(error), typed={variant: text})
    return _redirect(_entry_url(entry_id, "edited"))


@form
async def mark_reviewed(
    request: web.Request, current: ConsoleSession, fields: dict[str, str]
) -> web.StreamResponse:
    """POST /console/knowledge/{entry_id}/reviewed: the entry was reviewed today."""
    if not current.agent.is_admin:
        return _admins_only(current)
    entry_id = request.match_info["entry_id"]
    try:
        await asyncio.to_thread(_desk(request).mark_reviewed, current.agent, entry_id)
    except KnowledgeEditError as error:
        return await _entry_response(request, current, entry_id, status=400, problem=str(error))
    return _redirect(_entry_url(entry_id, "reviewed"))


def add_routes(app: web.Application) -> None:
    app.router.add_get("/console/knowledge", knowledge_page)
    app.router.add_get("/console/knowledge/{entry_id}", entry_page)
    app.router.add_post("/console/knowledge/{entry_id}/answer", edit_answer)
    app.router.add_post("/console/knowledge/{entry_id}/reviewed", mark_reviewed)
