"""The console's second factor and its most sensitive page.

* `/console/sign-in/code`: after the password, an agent with a second factor types a code from
  their app (or a recovery code); the session, until then good for this step only, becomes a
  full one under a new cookie.
* `/console/second-factor`: an agent sets up (or, signed in, looks at) their second factor: a
  QR code and the secret as text for the authenticator app, a code to confirm, then 10
  recovery codes shown once. When `CONSOLE_REQUIRE_SECOND_FACTOR` is on, an agent without one
  is sent here after the password and can do nothing else until it is set up.
* `/console/matches`: partial identity matches, for admins only, with dates of birth masked
  until revealed (a POST with the CSRF token). Every view and every reveal is audited with the
  agent, the rows and the client's address.

Services: `bot.console.agents` (sessions, limits) and `bot.console.second_factor`.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from aiohttp import web

from bot.console.agents import CLIENT_LOCKED, CODE, LOCKED_OUT, SETUP, ConsoleSession
from bot.console.reports import ConsoleReports
from bot.console.second_factor import RECOVERY_CODES, SecondFactorService
from bot.web.common import SESSIONS_KEY, SETTINGS_KEY, client_address
from bot.web.console import (
    AGENT_LIMITS_KEY,
    CLOCK_KEY,
    _agents,
    _bad_query,
    _current,
    _fields,
    _message,
    _number,
    _page,
    _query_string,
    _redirect,
    _single_values,
    _to_sign_in,
    form,
    page,
    record_access,
)
from bot.web.console_auth import CSRF_FIELD, SESSION_COOKIE, safe_next, set_cookie, tokens_match

log = logging.getLogger(__name__)

CODE_PAGE = "/console/sign-in/code"
FACTOR_PAGE = "/console/second-factor"


def _factors(request: web.Request) -> SecondFactorService:
    return SecondFactorService(request.app[SESSIONS_KEY], request.app[SETTINGS_KEY].secret_key,
                               request.app[CLOCK_KEY])


def _signed_in(response: web.Response, request: web.Request, token: str) -> web.Response:
    """`response` carrying the new full session's cookie."""
    lifetime = request.app[AGENT_LIMITS_KEY].lifetime
    set_cookie(response, SESSION_COOKIE, token, int(lifetime.total_seconds()))
    return response


# ----------------------------------------------------------------- the code after the password
def _code_page(request: web.Request, csrf: str, next_url: str, *, status: int = 200,
               problem: str | None = None) -> web.Response:
    return _page("second_factor_code.html", current=None, status=status, form_csrf=csrf,
                 next_url=next_url, problem=problem)


async def code_form(request: web.Request) -> web.StreamResponse:
    """GET /console/sign-in/code: the form for the second factor."""
    next_url = safe_next(request.query.get("next"))
    pending = await asyncio.to_thread(_agents(request).pending,
                                      request.cookies.get(SESSION_COOKIE))
    if pending is None or pending.step != CODE:
        return _to_sign_in(request, come_back=False)
    return _code_page(request, pending.csrf_token, next_url)


async def give_code(request: web.Request) -> web.StreamResponse:
    """POST /console/sign-in/code: check the code; a full session on success."""
    token = request.cookies.get(SESSION_COOKIE)
    agents = _agents(request)
    pending = await asyncio.to_thread(agents.pending, token)
    if pending is None or pending.step != CODE:
        return _to_sign_in(request, come_back=False)
    fields = await _fields(request)
    if isinstance(fields, web.Response):
        return fields
    next_url = safe_next(fields.get("next"))
    if not tokens_match(pending.csrf_token, fields.get(CSRF_FIELD, "")):
        return _code_page(request, pending.csrf_token, next_url, status=403,
                          problem="This form was refused: please type the code again.")
    result = await asyncio.to_thread(agents.give_code, token, fields.get("code", ""),
                                     client_address(request))
    if result.outcome in (LOCKED_OUT, CLIENT_LOCKED):
        minutes = int(request.app[AGENT_LIMITS_KEY].failed_window.total_seconds() // 60)
        return _code_page(request, pending.csrf_token, next_url, status=429,
                          problem=f"Too many wrong codes. Wait {minutes} minutes and try "
                                  "again, or ask an admin to reset your second factor.")
    if result.token is None:
        return _code_page(request, pending.csrf_token, next_url, status=401,
                          problem="That code is not right (or was already used). Type the "
                                  "6-digit code your app shows now, or a recovery code.")
    return _signed_in(_redirect(next_url), request, result.token)


# ----------------------------------------------------------------- setting the factor up
async def _setup_session(request: web.Request) -> tuple[ConsoleSession | None, Any]:
    """The full session, or the pending one that must set a factor up; (None, None) when
    neither."""
    current = await _current(request)
    if current is not None:
        return current, None
    pending = await asyncio.to_thread(_agents(request).pending,
                                      request.cookies.get(SESSION_COOKIE))
    if pending is not None and pending.step == SETUP:
        return None, pending
    return None, None


def _factor_page(template: str, current: ConsoleSession | None, pending: Any, *,
                 status: int = 200, **context: Any) -> web.Response:
    csrf = current.csrf_token if current is not None else pending.csrf_token
    return _page(template, current=current, status=status, section="second_factor",
                 form_csrf=csrf, required=pending is not None, **context)


async def factor_page(request: web.Request) -> web.StreamResponse:
    """GET /console/second-factor: the agent's second factor, or how to set one up."""
    current, pending = await _setup_session(request)
    if current is None and pending is None:
        return _to_sign_in(request, come_back=True)
    agent = current.agent if current is not None else pending.agent
    factor = await asyncio.to_thread(_factors(request).status, agent.id)
    return _factor_page("second_factor.html", current, pending, factor=factor,
                        codes_total=RECOVERY_CODES,
                        next_url=safe_next(request.query.get("next")))


async def _setup_form(request: web.Request) -> tuple[Any, Any, dict[str, str] | web.Response]:
    current, pending = await _setup_session(request)
    if current is None and pending is None:
        return None, None, _to_sign_in(request, come_back=False)
    fields = await _fields(request)
    if isinstance(fields, web.Response):
        return current, pending, fields
    csrf = current.csrf_token if current is not None else pending.csrf_token
    if not tokens_match(csrf, fields.get(CSRF_FIELD, "")):
        return current, pending, _message(
            403, "This form was refused",
            "The form did not carry this session's security token, so nothing was done.",
            current=current, back=(FACTOR_PAGE, "Back to the second factor"))
    return current, pending, fields


async def start_setup(request: web.Request) -> web.StreamResponse:
    """POST /console/second-factor/setup: a new secret, as a QR code and as text."""
    current, pending, fields = await _setup_form(request)
    if isinstance(fields, web.Response):
        return fields
    agent = current.agent if current is not None else pending.agent
    enrollment = await asyncio.to_thread(_factors(request).start_setup, agent.id)
    if enrollment is None:  # already on: changing it goes through an admin's reset
        return _redirect(FACTOR_PAGE)
    return _factor_page("second_factor_setup.html", current, pending, enrollment=enrollment,
                        next_url=safe_next(fields.get("next")), problem=None)


async def confirm_setup(request: web.Request) -> web.StreamResponse:
    """POST /console/second-factor/confirm: a code from the app switches the factor on; the
    recovery codes are shown, once."""
    current, pending, fields = await _setup_form(request)
    if isinstance(fields, web.Response):
        return fields
    agent = current.agent if current is not None else pending.agent
    next_url = safe_next(fields.get("next"))
    factors = _factors(request)
    codes = await asyncio.to_thread(factors.confirm_setup, agent.id, fields.get("code", ""),
                                    client_address(request))
    if codes is None:
        enrollment = await asyncio.to_thread(factors.pending_setup, agent.id)
        if enrollment is None:
            return _redirect(FACTOR_PAGE)
        return _factor_page(
            "second_factor_setup.html", current, pending, status=400, enrollment=enrollment,
            next_url=next_url,
            problem="That code does not match. Type the 6-digit code your app shows now for "
                    "this console (the codes change every 30 seconds).")
    response = _factor_page("second_factor_codes.html", current, pending, codes=codes,
                            next_url=next_url)
    if pending is not None:  # the sign-in can go on: a full session from here
        result = await asyncio.to_thread(_agents(request).finish_setup,
                                         request.cookies.get(SESSION_COOKIE),
                                         client_address(request))
        if result.token is not None:
            _signed_in(response, request, result.token)
    return response


# ----------------------------------------------------------------- partial matches
def _reports(request: web.Request) -> ConsoleReports:
    return ConsoleReports(request.app[SESSIONS_KEY], request.app[CLOCK_KEY])


def _admins_only(current: ConsoleSession) -> web.Response:
    log.info("console: partial matches refused to agent %s (not an admin)", current.agent.id)
    return _message(403, "Only admins can see this",
                    "Partial matches show people's directory records, dates of birth "
                    "included, so they are for admins only.", current=current,
                    back=("/console", "Back to the queue"))


async def _matches(request: web.Request, current: ConsoleSession, page_number: int,
                   revealed: int | None = None) -> web.Response:
    listing = await asyncio.to_thread(_reports(request).partial_matches, page_number)
    rows = [match.id for match in listing.items]
    if revealed is not None and revealed not in rows:
        revealed = None
    await record_access(request, current, "viewed_matches", f"matches page {page_number}",
                        rows)
    if revealed is not None:
        await record_access(request, current, "revealed_birth_date", f"match {revealed}",
                            [revealed])
    return _page("matches.html", current=current, section="matches", listing=listing,
                 revealed=revealed, page_number=page_number,
                 page_url=lambda number: "/console/matches" + _query_string(
                     {"page": number if number > 1 else None}))


@page
async def matches_page(request: web.Request, current: ConsoleSession) -> web.StreamResponse:
    """GET /console/matches (admins): partial identity matches, newest first, dates of birth
    masked."""
    if not current.agent.is_admin:
        return _admins_only(current)
    problems: list[str] = []
    values = _single_values(request.query, ("page",), problems)
    page_number = _number(values, "page", problems, low=1, high=999_999) or 1
    if problems:
        return _bad_query(current, problems, ("/console/matches", "Back to the matches"))
    return await _matches(request, current, page_number)


@form
async def reveal(request: web.Request, current: ConsoleSession,
                 fields: dict[str, str]) -> web.StreamResponse:
    """POST /console/matches/reveal (admins): the page again, one date of birth shown."""
    if not current.agent.is_admin:
        return _admins_only(current)
    problems: list[str] = []
    page_number = _number(fields, "page", problems, low=1, high=999_999) or 1
    match = _number(fields, "match", problems, low=1, high=2**31 - 1)
    if problems or match is None:
        return _bad_query(current, problems or ["Which match? The form named none."],
                          ("/console/matches", "Back to the matches"))
    return await _matches(request, current, page_number, revealed=match)


def add_routes(app: web.Application) -> None:
    app.router.add_get(CODE_PAGE, code_form)
    app.router.add_post(CODE_PAGE, give_code)
    app.router.add_get(FACTOR_PAGE, factor_page)
    app.router.add_post(FACTOR_PAGE + "/setup", start_setup)
    app.router.add_post(FACTOR_PAGE + "/confirm", confirm_setup)
    app.router.add_get("/console/matches", matches_page)
    app.router.add_post("/console/matches/reveal", reveal)

