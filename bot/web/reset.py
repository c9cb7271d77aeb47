"""The password-reset page: the link from the reset e-mail opens a form for a new password.

`GET /reset/{token}` shows the form while the link is usable, `POST /reset/{token}` sets the
password through `RecoveryService.reset_password`. Anything dynamic in a page goes through
`html.escape`; the password is never put back into a page; the token never reaches a log (the
access log names the route, not the path).
"""

from __future__ import annotations

import asyncio
import html
import logging
import re
from collections.abc import Iterable

from aiohttp import web

from bot.passwords import MIN_LENGTH
from bot.recovery import INVALID_TOKEN, MAX_TOKEN_LENGTH, RecoveryService
from bot.web.common import MAX_BODY_BYTES, SERVICE_KEY, SITE_NAME

log = logging.getLogger(__name__)

MISMATCH = "The two passwords are not the same."
CHANGED = "Your password was changed. A confirmation e-mail is on its way."
_TOKEN = re.compile(rf"[A-Za-z0-9_-]{{1,{MAX_TOKEN_LENGTH}}}")


STYLE = """
body { margin: 0; padding: 1rem; background: #fff; color: #1b1b1b;
  font: 1.0625rem/1.5 system-ui, -apple-system, "Segoe UI", Roboto, Helvetica, Arial,
  sans-serif; }
main { max-width: 36rem; margin: 0 auto; }
h1 { font-size: 1.5rem; line-height: 1.25; margin: 1rem 0; }
h2 { font-size: 1.125rem; margin: 0 0 .5rem; }
ul { padding-left: 1.25rem; }
a { color: #0b4f8a; }
label { display: block; font-weight: 600; margin-top: 1.25rem; }
input { box-sizing: border-box; width: 100%; margin-top: .25rem; padding: .6rem;
  font: inherit; color: inherit; background: #fff; border: 2px solid #4a4a4a;
  border-radius: 4px; }
input[aria-invalid="true"] { border-color: #a3001b; }
button { margin-top: 1.5rem; padding: .7rem 1.4rem; font: inherit; font-weight: 600;
  color: #fff; background: #0b4f8a; border: 0; border-radius: 4px; cursor: pointer; }
:focus-visible { outline: 3px solid #b34700; outline-offset: 2px; }
.rules, .problems { padding: .75rem 1rem; border-left: 5px solid; border-radius: 2px; }
.rules { background: #f0f4f8; border-color: #0b4f8a; }
.problems { background: #fdecee; border-color: #a3001b; }
"""


# ----------------------------------------------------------------- pages
def _page(title: str, body: str, *, status: int = 200) -> web.Response:
    """A complete HTML page; `title` is escaped here, `body` must already be safe HTML."""
    document = (
        '<!doctype html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        '<meta name="referrer" content="no-referrer">\n'
        '<meta name="robots" content="noindex, nofollow">\n'
        f"<title>{html.escape(title)} – {html.escape(SITE_NAME)}</title>\n"
        f"<style>{STYLE}</style>\n</head>\n<body>\n<main>\n{body}\n</main>\n</body>\n</html>\n"
    )
    return web.Response(text=document, status=status, content_type="text/html",
                        charset="utf-8")


def _paragraphs(*sentences: str) -> str:
    """Each sentence as an escaped <p>."""
    return "\n".join(f"<p>{html.escape(sentence)}</p>" for sentence in sentences)


def form_page(problems: Iterable[str] = (), *, status: int = 200) -> web.Response:
    """The new-password form, with the problems of a refused attempt (never the password)."""
    problems = list(problems)
    described = "rules"
    invalid = ""
    alert = ""
    if problems:
        items = "\n".join(f"<li>{html.escape(problem)}</li>" for problem in problems)
        alert = (
            '<div class="problems" id="problems" role="alert">\n'
            "<h2>Your password was not changed</h2>\n"
            f"<ul>\n{items}\n</ul>\n</div>\n"
        )
        described = "problems rules"
        invalid = ' aria-invalid="true"'
    body = (
        "<h1>Choose a new password</h1>\n"
        f"{alert}"
        '<div class="rules" id="rules">\n'
        "<h2>What makes a good password</h2>\n<ul>\n"
        f"<li>Use at least {MIN_LENGTH} characters.</li>\n"
        "<li>Long passphrases are welcome: several words with spaces between them are easy "
        "to remember and hard to guess.</li>\n"
        "<li>You do not need symbols, numbers or capital letters.</li>\n"
        "<li>Common passwords (such as password123) are refused, and so are your user name "
        "and your e-mail address.</li>\n"
        "</ul>\n</div>\n"
        '<form method="post">\n'
        '<label for="password">New password</label>\n'
        '<input id="password" name="password" type="password" autocomplete="new-password" '
        f'required aria-describedby="{described}"{invalid}>\n'
        '<label for="confirm">Type the new password again</label>\n'
        '<input id="confirm" name="confirm" type="password" autocomplete="new-password" '
        f"required{invalid}>\n"
        '<button type="submit">Change my password</button>\n'
        "</form>"
    )
    title = "Error: choose a new password" if problems else "Choose a new password"
    return _page(title, body, status=status)


def invalid_link_page(service: RecoveryService) -> web.Response:
    """410: the link cannot be used, nothing was changed, and how to get a new one."""
    minutes = int(service.limits.token_lifetime.total_seconds() // 60)
    body = "<h1>This link can no longer be used</h1>\n" + _paragraphs(
        "The link has expired, was already used, or is not valid.",
        "Nothing was changed just now. If you already chose a new password with this link, "
        "that new password is the one to use.",
        "To get a new link, ask the help-desk assistant again for a password reset. The new "
        f"link arrives by e-mail; it works once, and only for {minutes} minutes.",
    )
    return _page("Link no longer valid", body, status=410)


def success_page() -> web.Response:
    """200: the password was changed."""
    body = "<h1>Password changed</h1>\n" + _paragraphs(
        CHANGED,
        "You can now sign in with your new password. You can close this page.",
    )
    return _page("Password changed", body)


def message_page(status: int, heading: str, *sentences: str) -> web.Response:
    """A plain page for errors that are not about the link (404, 400, 413, ...)."""
    body = f"<h1>{html.escape(heading)}</h1>\n" + _paragraphs(*sentences)
    return _page(heading, body, status=status)


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
