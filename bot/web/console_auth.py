"""The console's cookies and CSRF checks.

* `console_session`: the session token (`bot.console.agents`), `HttpOnly`, `SameSite=Strict`,
  `Path=/console`, `Secure`, `Max-Age` the session's absolute lifetime.
* `console_sign_in`: before there is a session, the sign-in form is protected by a signed
  double-submit token: the cookie holds a random nonce, the form a timestamp and an
  HMAC-SHA256 (keyed with the app's secret key) of the nonce and that timestamp; a POST needs
  both, matching, and the form at most an hour old. Same cookie attributes.
* Every other POST form carries the session's own CSRF token, compared with
  `hmac.compare_digest`.

`Secure` is always set: browsers accept and send Secure cookies on http://127.0.0.1 and
http://localhost (both are "potentially trustworthy" origins), so the console also works on
`make run` without TLS.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from datetime import datetime, timedelta

from aiohttp import web

SESSION_COOKIE = "console_session"
SIGN_IN_COOKIE = "console_sign_in"
CSRF_FIELD = "csrf_token"
COOKIE_PATH = "/console"
SIGN_IN_FORM_LIFETIME = timedelta(hours=1)
_NONCE = re.compile(r"[A-Za-z0-9_-]{43}")
_SIGNED = re.compile(r"([0-9]{1,12})\.([0-9a-f]{64})")
# A local console address to go back to after signing in: no scheme, no host, no "//".
_NEXT = re.compile(r"/console(?:/[A-Za-z0-9._~/-]*)?(?:\?[A-Za-z0-9._~=&%+-]*)?")


def set_cookie(response: web.StreamResponse, name: str, value: str, max_age: int) -> None:
    response.set_cookie(name, value, max_age=max_age, path=COOKIE_PATH, secure=True,
                        httponly=True, samesite="Strict")


def clear_cookie(response: web.StreamResponse, name: str) -> None:
    set_cookie(response, name, "", 0)


def tokens_match(expected: str, given: str) -> bool:
    """Constant-time comparison of a CSRF token (any non-ASCII input is a mismatch)."""
    try:
        return hmac.compare_digest(expected.encode("ascii"), given.encode("ascii"))
    except UnicodeEncodeError:
        return False


def new_nonce(existing: str | None) -> str:
    """The sign-in cookie's nonce: the browser's current one when well-formed (several tabs
    can hold a sign-in form), else a new 256-bit one."""
    return existing if existing and _NONCE.fullmatch(existing) else secrets.token_urlsafe(32)


def _mac(secret: bytes, nonce: str, issued: int) -> str:
    message = f"console-sign-in|{nonce}|{issued}".encode("ascii")
    return hmac.new(secret, message, hashlib.sha256).hexdigest()


def sign_in_token(secret: bytes, nonce: str, now: datetime) -> str:
    """The sign-in form's hidden field for the cookie's `nonce`."""
    issued = int(now.timestamp())
    return f"{issued}.{_mac(secret, nonce, issued)}"


def sign_in_token_valid(secret: bytes, nonce: str | None, token: str, now: datetime) -> bool:
    """Whether the form's token was made for the cookie's nonce, under an hour ago."""
    signed = _SIGNED.fullmatch(token)
    if not nonce or not _NONCE.fullmatch(nonce) or signed is None:
        return False
    issued = int(signed.group(1))
    age = now.timestamp() - issued
    fresh = -60 <= age <= SIGN_IN_FORM_LIFETIME.total_seconds()
    return hmac.compare_digest(_mac(secret, nonce, issued), signed.group(2)) and fresh


def safe_next(target: str | None) -> str:
    """Where to go after signing in: a console path from our own form, else the queue."""
    if target and _NEXT.fullmatch(target) and "//" not in target:
        return target
    return "/console"
