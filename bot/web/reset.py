"""The password-reset page: the link from the reset e-mail opens a form for a new password.

`GET /reset/{token}` shows the form while the link is usable, `POST /reset/{token}` sets the
password through `RecoveryService.reset_password`. Pages are the autoescaped templates in
templates/reset/ (the site's look, no chat, no inline style); the password is never put back
into a page; the token never reaches a log (the access log names the route, not the path).
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Iterable
from typing import Any

from aiohttp import web

from bot.recovery.passwords import MIN_LENGTH
from bot.recovery.service import INVALID_TOKEN, MAX_TOKEN_LENGTH, RecoveryService
from bot.web.common import MAX_BODY_BYTES, SERVICE_KEY
from bot.web.templating import render

log = logging.getLogger(__name__)

MISMATCH = "The two passwords are not the same."
CHANGED = "Your password was changed. A confirmation e-mail is on its way."
_TOKEN = re.compile(rf"[A-Za-z0-9_-]{{1,{MAX_TOKEN_LENGTH}}}")


# ----------------------------------------------------------------- pages
def _page(template: str, title: str, *, status: int = 200, **context: Any) -> web.Response:
    """A page from templates/reset/ (autoescaped: nothing in `context` is trusted as markup)."""
    return render(template, status=status, title=title, **context)


def _message(status: int, title: str, heading: str, *sentences: str) -> web.Response:
    return _page("reset/message.html", title, status=status, heading=heading,
                 sentences=sentences)


def form_page(problems: Iterable[str] = (), *, status: int = 200) -> web.Response:
    """The new-password form, with the problems of a refused attempt (never the password)."""
    problems = list(problems)
    title = "Error: choose a new password" if problems else "Choose a new password"
    return _page("reset/form.html", title, status=status, problems=problems,
                 min_length=MIN_LENGTH)


def invalid_link_page(service: RecoveryService) -> web.Response:
    """410: the link cannot be used, nothing was changed, and how to get a new one."""
    minutes = int(service.limits.token_lifetime.total_seconds() // 60)
    return _message(
        410, "Link no longer valid", "This link can no longer be used",
        "The link has expired, was already used, or is not valid.",
        "Nothing was changed just now. If you already chose a new password with this link, "
        "that new password is the one to use.",
        "To get a new link, ask the help-desk assistant again for a password reset. The new "
        f"link arrives by e-mail; it works once, and only for {minutes} minutes.",
    )


def success_page() -> web.Response:
    """200: the password was changed."""
    return _message(
        200, "Password changed", "Password changed",
        CHANGED, "You can now sign in with your new password. You can close this page.",
    )


def message_page(status: int, heading: str, *sentences: str) -> web.Response:
    """A plain page for errors that are not about the link (404, 400, 413, ...)."""
    return _message(status, heading, heading, *sentences)


def not_found_page() -> web.Response:
    """404 for any path that is not a reset link."""
    return message_page(
        404, "Page not found",
        "There is no page at this address. If you came here from a password reset e-mail, "
        "check that the whole link was copied.",
    )


# ----------------------------------------------------------------- handlers
def _service(request: web.Request) -> RecoveryService:
    return request.app[SERVICE_KEY]


def _token(request: web.Request) -> str | None:
    """The token from the path, or None when it cannot possibly be one (no database trip)."""
    token = request.match_info["token"]
    return token if _TOKEN.fullmatch(token) else None


async def _token_usable(service: RecoveryService, token: str | None) -> bool:
    return token is not None and await asyncio.to_thread(service.check_token, token)


async def show_form(request: web.Request) -> web.Response:
    """GET /reset/{token}: the form while the link is usable, else the 410 page."""
    service = _service(request)
    if not await _token_usable(service, _token(request)):
        log.info("reset page: link not usable")
        return invalid_link_page(service)
    log.info("reset page: form shown")
    return form_page()


async def submit_form(request: web.Request) -> web.Response:
    """POST /reset/{token}: check the two fields, then set the password through the service."""
    service = _service(request)
    token = _token(request)
    if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
        return too_large_page()
    try:
        form = await request.post()
    except web.HTTPRequestEntityTooLarge:
        return too_large_page()
    password, confirm = form.get("password"), form.get("confirm")
    if not isinstance(password, str) or not isinstance(confirm, str):
        log.info("reset form: fields missing")
        return message_page(
            400, "The form was incomplete",
            "The new password and its confirmation must both be sent. Nothing was changed.",
            "Open the link from your e-mail again and fill in both fields.",
        )
    if token is None:
        log.info("reset form: link not usable")
        return invalid_link_page(service)
    if password != confirm:
        if not await _token_usable(service, token):
            log.info("reset form: link not usable")
            return invalid_link_page(service)
        log.info("reset form: passwords differ")
        return form_page([MISMATCH], status=400)
    problems = await asyncio.to_thread(service.reset_password, token, password)
    if not problems:
        log.info("reset form: password changed")
        return success_page()
    if problems == [INVALID_TOKEN]:
        log.info("reset form: link not usable")
        return invalid_link_page(service)
    log.info("reset form: password refused (%d problem(s))", len(problems))
    return form_page(problems, status=400)


def too_large_page() -> web.Response:
    log.info("reset form: body too large")
    return message_page(
        413, "Too much data",
        f"The form sent more than {MAX_BODY_BYTES // 1024} KB, far more than any password "
        "needs. Nothing was changed.",
        "Open the link from your e-mail again and choose a shorter password.",
    )


def add_routes(app: web.Application) -> None:
    app.router.add_get("/reset/{token}", show_form)
    app.router.add_post("/reset/{token}", submit_form)
