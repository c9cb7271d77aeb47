"""The password-reset web page (`bot.web`), served for real and driven over HTTP with urllib.

Each test runs the app on a free 127.0.0.1 port in a background thread, against a migrated
database (SQLite and PostgreSQL); no mocks. Time is an injected clock.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from conftest import Clock, LiveServer
from sqlalchemy import select
from sqlalchemy.orm import sessionmaker

from bot.db import make_engine, session_factory
from bot.models import Account, OutboxMail
from bot.recovery.accounts_import import import_accounts
from bot.recovery.passwords import verify_password
from bot.recovery.service import SENT_IF_MATCHED, Identity, RecoveryLimits, RecoveryService
from bot.web import SECURITY_HEADERS, create_app

BASE_URL = "https://help.example.org"
SECRET = b"test-secret-key-not-for-production"
START = dt.datetime(2031, 5, 6, 9, 0, tzinfo=dt.timezone.utc)
GOOD_PASSWORD = "correct horse battery staple"
ACCOUNTS = """\
system,user_name,first_name,last_name,birth_date,email,district,school,status
ese_portal,JDoe42,Jane,Doe,1985-03-14,Jane.Doe@Example.org,Worcester,,active
"""
JANE = Identity("Jane", "Doe", dt.date(1985, 3, 14), email="jane.doe@example.org",
                user_name="JDoe42")
LINK = re.compile(re.escape(BASE_URL) + r"/reset/([A-Za-z0-9_-]+)")
CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
    "base-uri 'none'; frame-ancestors 'none'"
)


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    text: str


@dataclass
class Site:
    """The running page, its service and database, and every reply received."""

    server: LiveServer
    service: RecoveryService
    sessions: sessionmaker
    clock: Clock
    replies: list[Reply] = field(default_factory=list)

    def _send(self, request: urllib.request.Request) -> Reply:
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                reply = Reply(response.status, dict(response.headers),
                              response.read().decode("utf-8"))
        except urllib.error.HTTPError as error:
            with error:
                reply = Reply(error.code, dict(error.headers), error.read().decode("utf-8"))
        self.replies.append(reply)
        return reply

    def get(self, path: str) -> Reply:
        return self._send(urllib.request.Request(self.server.url + path))

    def post(self, path: str, fields: dict[str, str] | None = None, *,
             body: bytes | None = None) -> Reply:
        data = body if body is not None else urllib.parse.urlencode(fields or {}).encode()
        request = urllib.request.Request(
            self.server.url + path, data=data, method="POST",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        return self._send(request)

    def request_reset(self) -> str:
        """Ask for a reset link for Jane; the token from the queued e-mail's link."""
        assert self.service.request_password_reset("c1", "ese_portal", JANE) == SENT_IF_MATCHED
        match = LINK.search(self.mails("password_reset")[-1].body)
        assert match
        return match.group(1)

    def mails(self, kind: str) -> list[OutboxMail]:
        with self.sessions() as session:
            return list(session.execute(
                select(OutboxMail).where(OutboxMail.kind == kind).order_by(OutboxMail.id)
            ).scalars())

    def password_hash(self) -> str | None:
        with self.sessions() as session:
            return session.execute(
                select(Account.password_hash).where(Account.user_name == "JDoe42")
            ).scalar_one()


@pytest.fixture
def site(database_url: str, caplog: pytest.LogCaptureFixture) -> Iterator[Site]:
    caplog.set_level(logging.DEBUG)
    engine = make_engine(database_url)
    sessions = session_factory(engine)
    with sessions() as session:
        import_accounts(session, ACCOUNTS)
    clock = Clock(START)
    limits = RecoveryLimits(per_conversation=100, per_identity_per_hour=100)
    service = RecoveryService(sessions, BASE_URL, SECRET, limits, clock)
    server = LiveServer(create_app(service)).start()
    running = Site(server, service, sessions, clock)
    yield running
    server.stop()
    engine.dispose()
    for reply in running.replies:  # every response, whatever its status
        for name, value in SECURITY_HEADERS.items():
            assert reply.headers.get(name) == value, (reply.status, name)


def assert_link_refused(reply: Reply) -> None:
    assert reply.status == 410
    assert "expired, was already used, or is not valid" in reply.text
    assert "Nothing was changed" in reply.text
    assert "ask the help-desk assistant again" in reply.text
    assert "<form" not in reply.text


# --- the form -------------------------------------------------------------------------------


def test_the_link_shows_an_accessible_form_with_security_headers(site: Site) -> None:
    token = site.request_reset()
    reply = site.get(f"/reset/{token}")
    assert reply.status == 200
    assert reply.headers["Content-Type"].startswith("text/html")
    assert reply.headers["Referrer-Policy"] == "no-referrer"
    assert reply.headers["Cache-Control"] == "no-store"
    assert reply.headers["X-Content-Type-Options"] == "nosniff"
    assert reply.headers["X-Frame-Options"] == "DENY"
    assert reply.headers["Content-Security-Policy"] == CSP
    page = reply.text
    assert '<html lang="en">' in page
    assert "<h1>Choose a new password</h1>" in page
    assert '<form method="post">' in page
    for name in ("password", "confirm"):
        assert f'<label for="{name}">' in page
        assert re.search(rf'<input id="{name}" name="{name}" type="password" '
                         r'autocomplete="new-password"', page)
    assert "at least 8 characters" in page
    assert "passphrases are welcome" in page
    assert "do not need symbols" in page
    assert "Common passwords" in page and "refused" in page
    # the site's look comes from its stylesheet: no inline style, no script, no chat
    assert '<link rel="stylesheet" href="/static/site.css">' in page
    assert "<style" not in page and "style=" not in page
    assert "<script" not in page and "chat" not in page.lower()
    assert token not in page
    style = site.get("/static/site.css")
    assert style.status == 200 and style.headers["Content-Type"].startswith("text/css")
    assert "max-width: 36rem" in style.text and ":focus-visible" in style.text


def test_mismatched_confirmation_is_refused_with_the_form_again(site: Site) -> None:
    token = site.request_reset()
    reply = site.post(f"/reset/{token}", {"password": GOOD_PASSWORD, "confirm": "something else"})
    assert reply.status == 400
    assert "The two passwords are not the same." in reply.text
    assert "<h1>Choose a new password</h1>" in reply.text
    assert GOOD_PASSWORD not in reply.text and "something else" not in reply.text
    assert site.password_hash() is None
    assert site.service.check_token(token)


def test_a_common_password_is_refused_and_the_link_still_works(site: Site) -> None:
    token = site.request_reset()
    reply = site.post(f"/reset/{token}", {"password": "password123", "confirm": "password123"})
    assert reply.status == 400
    assert "too common" in reply.text
    assert "password123" not in reply.text.replace("(such as password123)", "")
    assert 'role="alert"' in reply.text
    assert site.password_hash() is None
    assert site.mails("password_changed") == []
    assert site.get(f"/reset/{token}").status == 200


def test_a_good_passphrase_changes_the_password_once(site: Site) -> None:
    token = site.request_reset()
    reply = site.post(f"/reset/{token}", {"password": GOOD_PASSWORD, "confirm": GOOD_PASSWORD})
    assert reply.status == 200
    assert "Your password was changed. A confirmation e-mail is on its way." in reply.text
    assert GOOD_PASSWORD not in reply.text
    stored = site.password_hash()
    assert stored and verify_password(stored, GOOD_PASSWORD)
    assert len(site.mails("password_changed")) == 1
    # the link is spent: a second POST or a GET gets the 410 page and changes nothing
    again = site.post(f"/reset/{token}", {"password": "another fine passphrase",
                                          "confirm": "another fine passphrase"})
    assert_link_refused(again)
    assert_link_refused(site.get(f"/reset/{token}"))
    assert verify_password(site.password_hash(), GOOD_PASSWORD)
    assert len(site.mails("password_changed")) == 1


# --- links that cannot be used --------------------------------------------------------------


@pytest.mark.parametrize("token", ["not-a-real-token", "x" * 500, "bad%20token%3Cb%3E"])
def test_an_unknown_link_gets_the_410_page(site: Site, token: str) -> None:
    assert_link_refused(site.get(f"/reset/{token}"))
    assert_link_refused(site.post(f"/reset/{token}",
                                  {"password": GOOD_PASSWORD, "confirm": GOOD_PASSWORD}))
    assert_link_refused(site.post(f"/reset/{token}",
                                  {"password": GOOD_PASSWORD, "confirm": "different"}))
    assert "<b>" not in site.replies[0].text


def test_an_expired_link_gets_the_410_page(site: Site) -> None:
    token = site.request_reset()
    site.clock.now = START + dt.timedelta(minutes=31)
    assert_link_refused(site.get(f"/reset/{token}"))
    assert_link_refused(site.post(f"/reset/{token}",
                                  {"password": GOOD_PASSWORD, "confirm": GOOD_PASSWORD}))
    assert site.password_hash() is None
    assert site.mails("password_changed") == []


def test_unknown_paths_get_a_plain_404_page(site: Site) -> None:
    for path in ("/reset/", "/reset/a/b", "/admin", "/help/no_such_document"):
        reply = site.get(path)
        assert reply.status == 404
        assert "Page not found" in reply.text and '<html lang="en">' in reply.text


# --- bad requests ---------------------------------------------------------------------------


def test_a_body_over_16_kb_is_refused_with_413(site: Site) -> None:
    token = site.request_reset()
    big = "x" * (20 * 1024)
    reply = site.post(f"/reset/{token}", {"password": big, "confirm": big[:10]})
    assert reply.status == 413
    assert "Too much data" in reply.text and "Nothing was changed" in reply.text
    assert big[:100] not in reply.text
    assert site.password_hash() is None
    assert site.get(f"/reset/{token}").status == 200


def test_missing_fields_are_a_plain_400(site: Site) -> None:
    token = site.request_reset()
    for fields in ({"password": GOOD_PASSWORD}, {"confirm": GOOD_PASSWORD}, {}):
        reply = site.post(f"/reset/{token}", fields)
        assert reply.status == 400
        assert "The form was incomplete" in reply.text
        assert GOOD_PASSWORD not in reply.text
    assert site.password_hash() is None


def test_a_script_in_the_password_is_never_reflected(site: Site) -> None:
    token = site.request_reset()
    script = "<script>alert('x')</script>"
    attempts = [
        {"password": script + " and more words", "confirm": script},  # mismatch
        {"password": "<script>JDoe42</script>", "confirm": "<script>JDoe42</script>"},  # refused
        {"password": script, "confirm": script},  # accepted
    ]
    statuses = [site.post(f"/reset/{token}", fields).status for fields in attempts]
    assert statuses == [400, 400, 200]
    for reply in site.replies:
        assert "<script" not in reply.text.lower()
        assert "alert(" not in reply.text
        assert "&lt;script" not in reply.text  # not even escaped: never echoed at all
    assert verify_password(site.password_hash(), script)


def test_neither_token_nor_password_reaches_the_logs(
    site: Site, caplog: pytest.LogCaptureFixture
) -> None:
    token = site.request_reset()
    site.get(f"/reset/{token}")
    site.post(f"/reset/{token}", {"password": "password123", "confirm": "password123"})
    site.post(f"/reset/{token}", {"password": GOOD_PASSWORD, "confirm": GOOD_PASSWORD})
    site.get(f"/reset/{token}")
    messages = [record.getMessage() for record in caplog.records]
    assert any("GET /reset/{token} 200" in message for message in messages)  # access log
    assert any("password changed" in message for message in messages)
    logged = "\n".join(messages) + caplog.text
    assert token not in logged
    assert GOOD_PASSWORD not in logged and "password123" not in logged
