"""The agents' console under /console: sign-in, the ticket queue, tickets, unanswered questions
and the dashboard (the second factor and the partial identity matches are in
`bot.web.console_security`).

Every page but the sign-in form needs a valid session (`bot.console.agents`); without one a GET is
redirected to the sign-in form (and back afterwards), a POST to the sign-in form with nothing
done. Every POST form carries a CSRF token (`bot.web.console_auth`) and is refused with 403
without the right one. Query parameters are checked: anything unknown is a 400 page saying
what is accepted. Blocking work (database, argon2) runs in a thread. Pages come from the
templates in templates/console/, autoescaped; every response says `Cache-Control: no-store`.

`CLOCK_KEY` and `NLU_ADDITIONS_KEY` let tests inject a clock and the file that attached
unanswered questions are written to.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import re
import urllib.parse
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from aiohttp import web

from bot.console.agents import (
    CLIENT_LOCKED,
    CODE,
    LOCKED_OUT,
    REFUSED,
    SETUP,
    AgentLimits,
    AgentService,
    ConsoleSession,
)
from bot.console.faq_attach import DEFAULT_ADDITIONS, AttachError, FaqAttacher
from bot.console.reports import ConsoleReports
from bot.console.ticket_desk import (
    ALL,
    MAX_AGE_DAYS,
    MAX_TEXT,
    NEWEST,
    NO_SYSTEM,
    ORDERS,
    STATUS_FILTERS,
    STATUS_LABELS,
    SYSTEM_FILTERS,
    UNRESOLVED,
    ConsoleInputError,
    QueuePage,
    QueueQuery,
    TicketDesk,
    TicketNotFound,
)
from bot.dates import date_and_time
from bot.knowledge.entries import load_knowledge
from bot.mail.outbox import as_utc, utc_now
from bot.models import TICKET_KINDS, TICKET_STATUSES
from bot.tickets.business_hours import HELP_DESK
from bot.tickets.service import kind_title, parse_reference
from bot.web.common import (
    MAX_BODY_BYTES,
    SECURITY_HEADERS,
    SESSIONS_KEY,
    SETTINGS_KEY,
    client_address,
)
from bot.web.console_auth import (
    CSRF_FIELD,
    SESSION_COOKIE,
    SIGN_IN_COOKIE,
    SIGN_IN_FORM_LIFETIME,
    clear_cookie,
    new_nonce,
    safe_next,
    set_cookie,
    sign_in_token,
    sign_in_token_valid,
    tokens_match,
)
from bot.web.console_charts import bar_chart
from bot.web.console_helpers import ticket_helpers
from bot.web.templating import render

log = logging.getLogger(__name__)

CLOCK_KEY = web.AppKey("console_clock", object)  # a Callable[[], datetime]
NLU_ADDITIONS_KEY = web.AppKey("console_nlu_additions", Path)
AGENT_LIMITS_KEY = web.AppKey("console_agent_limits", AgentLimits)
# The console's own scripts (static/console.js: the live queue, canned replies) and its
# server-sent events; otherwise the app's strict policy.
CONSOLE_CSP = (SECURITY_HEADERS["Content-Security-Policy"]
               + "; script-src 'self'; connect-src 'self'")
CONSOLE_HEADERS = {"Cache-Control": "no-store", "Content-Security-Policy": CONSOLE_CSP}
SYSTEM_NAMES = {NO_SYSTEM: "Not stated"}
ORDER_LABELS = {"newest": "Newest first", "oldest": "Oldest first"}
FILTER_LABELS = {UNRESOLVED: "Not resolved", ALL: "All", **STATUS_LABELS}
DASHBOARD_PERIODS = {"": "All time", "7": "Last 7 days", "30": "Last 30 days",
                     "90": "Last 90 days", "365": "Last 365 days"}
UNANSWERED_VIEWS = {"waiting": "Waiting for an FAQ", "attached": "Attached to an FAQ"}
DONE = {
    "assigned": "The ticket is assigned to you.",
    "reassigned": "The ticket's assignee was changed.",
    "status": "The status was changed.",
    "note": "Your note was added.",
    "reply": "Your reply is queued for sending by e-mail.",
    "unchanged": "Nothing changed: the ticket already was like that.",
}
_DIGITS = re.compile(r"[0-9]{1,6}")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
PageHandler = Callable[[web.Request, ConsoleSession], Awaitable[web.StreamResponse]]
FormHandler = Callable[
    [web.Request, ConsoleSession, dict[str, str]], Awaitable[web.StreamResponse]
]


# ----------------------------------------------------------------- services from the app
def _now(request: web.Request) -> datetime:
    return as_utc(request.app[CLOCK_KEY]())


def _agents(request: web.Request) -> AgentService:
    settings = request.app[SETTINGS_KEY]
    return AgentService(request.app[SESSIONS_KEY], request.app[AGENT_LIMITS_KEY],
                        request.app[CLOCK_KEY], secret_key=settings.secret_key,
                        require_second_factor=settings.require_second_factor)


async def record_access(request: web.Request, current: ConsoleSession, action: str,
                        target: str, rows: list[Any]) -> None:
    """Audit a page showing personal data: the agent, the rows and the client's address."""
    await asyncio.to_thread(_agents(request).record_access, current.agent, action, target,
                            rows, client_address(request))


def _desk(request: web.Request) -> TicketDesk:
    return TicketDesk(request.app[SESSIONS_KEY], request.app[CLOCK_KEY])


def _reports(request: web.Request) -> ConsoleReports:
    return ConsoleReports(request.app[SESSIONS_KEY], request.app[CLOCK_KEY])


def _attacher(request: web.Request) -> FaqAttacher:
    return FaqAttacher(request.app[SESSIONS_KEY], request.app[NLU_ADDITIONS_KEY],
                       request.app[CLOCK_KEY])


# ----------------------------------------------------------------- formatting for templates
def when(moment: datetime | None) -> str:
    """A time in the help desk's zone, as people read it: "May 6, 2031, 9:00 am EDT"."""
    if moment is None:
        return "–"
    return date_and_time(HELP_DESK.local(as_utc(moment)))


def when_iso(text: str) -> str:
    """An ISO-8601 time from a transcript, shown like `when`; as given when not one."""
    try:
        return when(datetime.fromisoformat(text))
    except (TypeError, ValueError):
        return text


def duration(span: timedelta | None) -> str:
    """ "2 days 3 h", "3 h 20 min", "12 min"; "–" for none."""
    if span is None:
        return "–"
    minutes = int(span.total_seconds() // 60)
    days, minutes = divmod(minutes, 24 * 60)
    hours, minutes = divmod(minutes, 60)
    if days:
        return f"{days} day{'s' if days != 1 else ''} {hours} h"
    if hours:
        return f"{hours} h {minutes} min"
    return f"{minutes} min"


def percent(share: float | None) -> str:
    return "–" if share is None else f"{round(share * 100)}%"


def system_name(system: str | None) -> str:
    if system is None or system == NO_SYSTEM:
        return SYSTEM_NAMES[NO_SYSTEM]
    return load_knowledge().system_name(system)


def status_label(status: str) -> str:
    return FILTER_LABELS.get(status, status)


# ----------------------------------------------------------------- responses
def _page(
    template: str, *, current: ConsoleSession | None, status: int = 200, section: str = "",
    **context: Any,
) -> web.Response:
    return render(
        f"console/{template}", status=status, headers=dict(CONSOLE_HEADERS),
        agent=current.agent if current else None,
        csrf_token=current.csrf_token if current else "", csrf_field=CSRF_FIELD,
        section=section, when=when, when_iso=when_iso, duration=duration, percent=percent,
        system_name=system_name, status_label=status_label, kind_title=kind_title, **context,
    )


def _message(
    status: int, heading: str, *sentences: str, current: ConsoleSession | None = None,
    problems: list[str] | None = None, back: tuple[str, str] | None = None,
) -> web.Response:
    return _page("message.html", current=current, status=status, heading=heading,
                 sentences=sentences, problems=problems or [], back=back)


def _redirect(location: str) -> web.Response:
    return web.Response(status=303, headers={"Location": location, **CONSOLE_HEADERS})


def _to_sign_in(request: web.Request, *, come_back: bool) -> web.Response:
    """303 to the sign-in form; a stale session cookie is dropped and said so."""
    query: dict[str, str] = {}
    if come_back and request.method == "GET":
        query["next"] = request.path_qs
    if request.cookies.get(SESSION_COOKIE):
        query["reason"] = "expired"
    location = "/console/sign-in" + (f"?{urllib.parse.urlencode(query)}" if query else "")
    response = _redirect(location)
    if request.cookies.get(SESSION_COOKIE):
        clear_cookie(response, SESSION_COOKIE)
    return response


async def _current(request: web.Request) -> ConsoleSession | None:
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    return await asyncio.to_thread(_agents(request).session, token)


async def _fields(request: web.Request) -> dict[str, str] | web.Response:
    """The POSTed form's text fields (the first of each name), or a 413 page."""
    try:
        data = await request.post()
    except web.HTTPRequestEntityTooLarge:
        return _message(
            413, "Too much text",
            f"The form sent more than {MAX_BODY_BYTES // 1024} KB. Nothing was changed.",
            "Go back, shorten the text and send it again.",
        )
    fields: dict[str, str] = {}
    for name in data:
        value = data.get(name)
        if isinstance(value, str) and name not in fields:
            fields[name] = value
    return fields


def page(handler: PageHandler) -> Handler:
    """A console page: only with a valid session, else to the sign-in form and back."""

    @functools.wraps(handler)
    async def wrapped(request: web.Request) -> web.StreamResponse:
        current = await _current(request)
        if current is None:
            return _to_sign_in(request, come_back=True)
        return await handler(request, current)

    return wrapped


def form(handler: FormHandler) -> Handler:
    """A console POST: only with a valid session and its CSRF token (else 403)."""

    @functools.wraps(handler)
    async def wrapped(request: web.Request) -> web.StreamResponse:
        current = await _current(request)
        if current is None:
            return _to_sign_in(request, come_back=False)
        fields = await _fields(request)
        if isinstance(fields, web.Response):
            return fields
        if not tokens_match(current.csrf_token, fields.get(CSRF_FIELD, "")):
            log.info("console: form refused, CSRF token missing or wrong")
            return _message(
                403, "This form was refused",
                "The form did not carry this session's security token, so nothing was done.",
                "This happens when a form was opened before you signed in again, or came from "
                "another site. Go back, reload the page and try again.",
                current=current, back=("/console", "Back to the queue"),
            )
        return await handler(request, current, fields)

    return wrapped


def _single_values(
    query: Mapping[str, str], allowed: tuple[str, ...], problems: list[str]
) -> dict[str, str]:
    """Each parameter's value; unknown or repeated parameters are problems."""
    values: dict[str, str] = {}
    for name in query:
        shown = name[:40]
        if name not in allowed:
            problems.append(f"Unknown parameter “{shown}”: this page takes "
                            f"{', '.join(allowed)}.")
        elif name in values:
            problems.append(f"“{shown}” is given more than once.")
        else:
            values[name] = query[name].strip()
    return values


def _choice(
    values: dict[str, str], name: str, choices: Mapping[str, str] | tuple[str, ...],
    problems: list[str], default: str = "",
) -> str:
    value = values.get(name, "")
    if value == "":
        return default
    if value not in choices:
        problems.append(f"“{value[:40]}” is not a {name} here: use one of "
                        f"{', '.join(c for c in choices if c)}.")
        return default
    return value


def _number(
    values: dict[str, str], name: str, problems: list[str], *, low: int, high: int
) -> int | None:
    value = values.get(name, "")
    if value == "":
        return None
    if not _DIGITS.fullmatch(value) or not low <= int(value) <= high:
        problems.append(f"“{value[:40]}” is not a valid {name}: use a whole number from "
                        f"{low} to {high}.")
        return None
    return int(value)


def _bad_query(
    current: ConsoleSession, problems: list[str], back: tuple[str, str]
) -> web.Response:
    return _message(400, "This address has parameters the page does not understand",
                    "Nothing is shown, so that a mistyped filter is not mistaken for a result.",
                    current=current, problems=problems, back=back)


def _query_string(values: Mapping[str, Any]) -> str:
    kept = {name: value for name, value in values.items() if value not in ("", None)}
    return f"?{urllib.parse.urlencode(kept)}" if kept else ""


# ----------------------------------------------------------------- sign-in and sign-out
def _sign_in_page(
    request: web.Request, *, status: int = 200, problem: str | None = None,
    username: str = "", next_url: str = "/console", notice: str | None = None,
) -> web.Response:
    settings = request.app[SETTINGS_KEY]
    nonce = new_nonce(request.cookies.get(SIGN_IN_COOKIE))
    response = _page(
        "sign_in.html", current=None, status=status, problem=problem, notice=notice,
        username=username[:64], next_url=next_url,
        form_token=sign_in_token(settings.secret_key, nonce, _now(request)),
    )
    set_cookie(response, SIGN_IN_COOKIE, nonce, int(SIGN_IN_FORM_LIFETIME.total_seconds()))
    return response


SECOND_STEP = {CODE: "/console/sign-in/code", SETUP: "/console/second-factor"}
SIGN_IN_NOTICES = {
    "signed_out": "You are signed out.",
    "expired": "Your session has ended (30 minutes without activity, or 8 hours after "
               "signing in). Please sign in again.",
}


async def sign_in_form(request: web.Request) -> web.StreamResponse:
    """GET /console/sign-in."""
    next_url = safe_next(request.query.get("next"))
    if await _current(request) is not None:
        return _redirect(next_url)
    notice = SIGN_IN_NOTICES.get(request.query.get("reason", ""))
    return _sign_in_page(request, next_url=next_url, notice=notice)


async def sign_in(request: web.Request) -> web.StreamResponse:
    """POST /console/sign-in: check the form's token, then the username and password."""
    fields = await _fields(request)
    if isinstance(fields, web.Response):
        return fields
    next_url = safe_next(fields.get("next"))
    username = fields.get("username", "")
    settings = request.app[SETTINGS_KEY]
    if not sign_in_token_valid(settings.secret_key, request.cookies.get(SIGN_IN_COOKIE),
                               fields.get(CSRF_FIELD, ""), _now(request)):
        log.info("console sign-in: form token refused")
        return _sign_in_page(
            request, status=403, username=username, next_url=next_url,
            problem="This sign-in form has expired or your browser did not send it back "
                    "whole (cookies must be allowed for this site). Please sign in again.",
        )
    password = fields.get("password", "")
    if not username.strip() or not password:
        return _sign_in_page(request, status=400, username=username, next_url=next_url,
                             problem="Enter your username and your password.")
    result = await asyncio.to_thread(_agents(request).sign_in, username, password,
                                     client_address(request))
    if result.outcome in (LOCKED_OUT, CLIENT_LOCKED):
        minutes = int(request.app[AGENT_LIMITS_KEY].failed_window.total_seconds() // 60)
        who = "from your network" if result.outcome == CLIENT_LOCKED else "with this username"
        return _sign_in_page(
            request, status=429, username=username, next_url=next_url,
            problem=f"Too many failed sign-ins {who}. Wait {minutes} minutes "
                    "and try again, or ask an admin to check your account.",
        )
    if result.outcome == REFUSED or result.token is None:
        return _sign_in_page(request, status=401, username=username, next_url=next_url,
                             problem="The username or the password is not right.")
    previous = request.cookies.get(SESSION_COOKIE)
    if previous:
        await asyncio.to_thread(_agents(request).sign_out, previous)
    limits = request.app[AGENT_LIMITS_KEY]
    if result.pending is None:
        response, lifetime = _redirect(next_url), limits.lifetime
    else:  # the second factor next (bot.web.console_security)
        step = SECOND_STEP[result.pending] + _query_string({"next": next_url})
        response, lifetime = _redirect(step), limits.pending_lifetime
    set_cookie(response, SESSION_COOKIE, result.token, int(lifetime.total_seconds()))
    clear_cookie(response, SIGN_IN_COOKIE)
    return response


@form
async def sign_out(
    request: web.Request, current: ConsoleSession, fields: dict[str, str]
) -> web.StreamResponse:
    """POST /console/sign-out: end the session and drop its cookie."""
    await asyncio.to_thread(_agents(request).sign_out, request.cookies.get(SESSION_COOKIE))
    response = _redirect("/console/sign-in?reason=signed_out")
    clear_cookie(response, SESSION_COOKIE)
    return response


# ----------------------------------------------------------------- the queue
QUEUE_PARAMETERS = ("status", "kind", "system", "older_than", "order", "page")


def _queue_query(query: Mapping[str, str]) -> tuple[QueueQuery | None, list[str]]:
    problems: list[str] = []
    values = _single_values(query, QUEUE_PARAMETERS, problems)
    status = _choice(values, "status", STATUS_FILTERS, problems, UNRESOLVED)
    kind = _choice(values, "kind", TICKET_KINDS, problems) or None
    system = _choice(values, "system", SYSTEM_FILTERS, problems) or None
    older = _number(values, "older_than", problems, low=0, high=MAX_AGE_DAYS)
    order = _choice(values, "order", ORDERS, problems, NEWEST)
    page_number = _number(values, "page", problems, low=1, high=999_999) or 1
    if problems:
        return None, problems
    return QueueQuery(status, kind, system, older, order, page_number), []


def _queue_url(query: QueueQuery, **changes: Any) -> str:
    values = {"status": query.status, "kind": query.kind, "system": query.system,
              "older_than": query.older_than_days, "order": query.order, "page": query.page}
    values.update(changes)
    if values["status"] == UNRESOLVED:
        values["status"] = None
    if values["order"] == NEWEST:
        values["order"] = None
    if values["page"] == 1:
        values["page"] = None
    return "/console" + _query_string(values)


def queue_context(query: QueueQuery, result: QueuePage, since: int) -> dict[str, Any]:
    """What templates/console/queue_live.html needs besides the formatting helpers every
    console page has (the page, and its live updates)."""
    return dict(
        query=query, result=result, since=since, status_filters=STATUS_FILTERS,
        status_url=lambda status: _queue_url(query, status=status, page=1),
        page_url=lambda number: _queue_url(query, page=number),
    )


@page
async def queue_page(request: web.Request, current: ConsoleSession) -> web.StreamResponse:
    """GET /console: the tickets, filtered, sorted and paginated; static/console.js keeps them
    current (bot.web.console_desk's server-sent events)."""
    query, problems = _queue_query(request.query)
    if query is None:
        return _bad_query(current, problems, ("/console", "Back to the queue"))
    result = await asyncio.to_thread(_desk(request).queue, query)
    await record_access(request, current, "viewed_queue", "queue",
                        [row.reference for row in result.rows])
    context = queue_context(query, result, result.latest_id)
    return _page(
        "queue.html", current=current, section="queue", kinds=TICKET_KINDS,
        systems=SYSTEM_FILTERS, orders=ORDER_LABELS, **context,
    )


# ----------------------------------------------------------------- one ticket
async def _ticket_response(
    request: web.Request, current: ConsoleSession, reference: str, *, status: int = 200,
    problem: str | None = None, note_text: str = "", reply_text: str = "",
) -> web.Response:
    view = await asyncio.to_thread(_desk(request).ticket, reference)
    if view is None:
        return _not_found(current, reference)
    done = DONE.get(request.query.get("done", "")) if status == 200 else None
    helpers = await asyncio.to_thread(ticket_helpers, request, view)
    if not reply_text and status == 200:
        reply_text = helpers.chosen_text(request.query.get("canned", ""))
    return _page(
        "ticket.html", current=current, status=status, section="queue", ticket=view,
        statuses=TICKET_STATUSES, problem=problem, done=done, note_text=note_text,
        reply_text=reply_text, max_text=MAX_TEXT, helpers=helpers,
    )


def _not_found(current: ConsoleSession, reference: str) -> web.Response:
    return _message(404, "No such ticket",
                    f"There is no ticket {reference[:40]}. A reference looks like "
                    "HD-2026-000123.", current=current, back=("/console", "Back to the queue"))


@page
async def ticket_page(request: web.Request, current: ConsoleSession) -> web.StreamResponse:
    """GET /console/tickets/{reference}: the ticket, its history and the forms."""
    reference = request.match_info["reference"]
    if parse_reference(reference) is None:
        return _not_found(current, reference)
    await asyncio.to_thread(_desk(request).record_view, current.agent, reference)
    await record_access(request, current, "viewed_ticket", reference, [reference])
    return await _ticket_response(request, current, reference)


def _ticket_action(
    action: Callable[[TicketDesk, ConsoleSession, str, dict[str, str]], str | bool | None],
    done: str,
) -> Handler:
    """A POST on a ticket: do `action`, then back to the ticket page saying what happened
    (`done`, or the outcome `action` returns; "unchanged" when it returns False)."""

    @form
    async def handler(
        request: web.Request, current: ConsoleSession, fields: dict[str, str]
    ) -> web.StreamResponse:
        reference = request.match_info["reference"]
        if parse_reference(reference) is None:
            return _not_found(current, reference)
        try:
            changed = await asyncio.to_thread(action, _desk(request), current, reference,
                                              fields)
        except TicketNotFound:
            return _not_found(current, reference)
        except ConsoleInputError as error:
            texts = {f"{done}_text": fields.get("text", "")} if done in ("note", "reply") else {}
            return await _ticket_response(request, current, reference, status=400,
                                          problem=str(error), **texts)
        outcome = changed if isinstance(changed, str) else (
            done if changed is not False else "unchanged")
        return _redirect(f"/console/tickets/{urllib.parse.quote(reference)}?done={outcome}")

    return handler


def _assign(desk: TicketDesk, current: ConsoleSession, reference: str,
            fields: dict[str, str]) -> str | bool:
    """To the agent chosen (`assignee`: a username, "" for nobody), or to me without one."""
    assignee = fields.get("assignee", current.agent.username)
    if not desk.assign(current.agent, reference, assignee or None):
        return False
    return "assigned" if assignee == current.agent.username else "reassigned"


assign = _ticket_action(_assign, "assigned")
change_status = _ticket_action(
    lambda desk, current, reference, fields: desk.set_status(
        current.agent, reference, fields.get("status", "")),
    "status",
)
add_note = _ticket_action(
    lambda desk, current, reference, fields: desk.add_note(
        current.agent, reference, fields.get("text", "")),
    "note",
)
reply = _ticket_action(
    lambda desk, current, reference, fields: desk.reply(
        current.agent, reference, fields.get("text", "")),
    "reply",
)


# ----------------------------------------------------------------- unanswered questions
def _faq_choices() -> list[tuple[str, str]]:
    knowledge = load_knowledge()
    return [(faq_id, knowledge.entries[faq_id].question) for faq_id in knowledge.faq_ids()]


@page
async def unanswered_page(request: web.Request, current: ConsoleSession) -> web.StreamResponse:
    """GET /console/unanswered: what the bot could not answer, grouped."""
    return await _unanswered_response(request, current)


async def _unanswered_response(
    request: web.Request, current: ConsoleSession, *, status: int = 200,
    problem: str | None = None, done: str | None = None,
) -> web.Response:
    problems: list[str] = []
    values = _single_values(request.query, ("show", "page", "done"), problems)
    show = _choice(values, "show", UNANSWERED_VIEWS, problems, "waiting")
    page_number = _number(values, "page", problems, low=1, high=999_999) or 1
    if problems:
        return _bad_query(current, problems, ("/console/unanswered", "Back to the questions"))
    listing = await asyncio.to_thread(_reports(request).unanswered,
                                      attached=show == "attached", page=page_number)
    if done is None and status == 200:
        done = {"added": "The question was attached and added to the FAQ's examples.",
                "known": "The question was attached; its text already was an example, so "
                         "nothing was added to the training data.",
                }.get(values.get("done", ""))
    return _page(
        "unanswered.html", current=current, status=status, section="unanswered",
        listing=listing, show=show, views=UNANSWERED_VIEWS, problem=problem, done=done,
        faqs=_faq_choices() if current.agent.is_admin and show == "waiting" else [],
        page_url=lambda number: "/console/unanswered" + _query_string(
            {"show": show if show != "waiting" else None,
             "page": number if number > 1 else None}),
    )


@form
async def attach(
    request: web.Request, current: ConsoleSession, fields: dict[str, str]
) -> web.StreamResponse:
    """POST /console/unanswered/attach (admins): attach a group to an FAQ."""
    if not current.agent.is_admin:
        log.info("console: attach refused to agent %s (not an admin)", current.agent.id)
        return _message(403, "Only admins can do this",
                        "Attaching questions to the FAQ changes what the bot is trained on, "
                        "so it is for admins only. Nothing was changed.", current=current,
                        back=("/console/unanswered", "Back to the questions"))
    try:
        attachment = await asyncio.to_thread(
            _attacher(request).attach, current.agent, fields.get("normalised", ""),
            fields.get("faq_id", ""),
        )
    except AttachError as error:
        return await _unanswered_response(request, current, status=400, problem=str(error))
    return _redirect("/console/unanswered?done=" + ("added" if attachment.added else "known"))


# ----------------------------------------------------------------- dashboard
@page
async def dashboard_page(request: web.Request, current: ConsoleSession) -> web.StreamResponse:
    """GET /console/dashboard: the numbers, with bar charts."""
    problems: list[str] = []
    values = _single_values(request.query, ("days",), problems)
    days = _choice(values, "days", DASHBOARD_PERIODS, problems)
    if problems:
        return _bad_query(current, problems, ("/console/dashboard", "Back to the dashboard"))
    numbers = await asyncio.to_thread(_reports(request).dashboard, int(days) if days else None)
    charts = [
        bar_chart("kinds", "Tickets by kind of request",
                  [(title, count) for _kind, title, count in numbers.tickets_by_kind]),
        bar_chart("statuses", "Tickets by status",
                  [(status_label(status), count) for status, count in numbers.tickets_by_status]),
    ]
    return _page("dashboard.html", current=current, section="dashboard", numbers=numbers,
                 charts=charts, days=days, periods=DASHBOARD_PERIODS)


# ----------------------------------------------------------------- routes
def add_routes(app: web.Application) -> None:
    """The console's routes, and its defaults for the injectable clock, limits and file."""
    app.setdefault(CLOCK_KEY, utc_now)
    app.setdefault(NLU_ADDITIONS_KEY, DEFAULT_ADDITIONS)
    app.setdefault(AGENT_LIMITS_KEY, AgentLimits())
    app.router.add_get("/console", queue_page)
    app.router.add_get("/console/sign-in", sign_in_form)
    app.router.add_post("/console/sign-in", sign_in)
    app.router.add_post("/console/sign-out", sign_out)
    app.router.add_get("/console/tickets/{reference}", ticket_page)
    app.router.add_post("/console/tickets/{reference}/assign", assign)
    app.router.add_post("/console/tickets/{reference}/status", change_status)
    app.router.add_post("/console/tickets/{reference}/notes", add_note)
    app.router.add_post("/console/tickets/{reference}/replies", reply)
    app.router.add_get("/console/unanswered", unanswered_page)
    app.router.add_post("/console/unanswered/attach", attach)
    app.router.add_get("/console/dashboard", dashboard_page)
