"""The console hardened (issue 11, item 12), served for real and driven over HTTP on SQLite and
PostgreSQL: sign-in limits per client address (read from a trusted proxy only), a second factor
(TOTP, recovery codes, required for everyone by a setting), partial matches for admins with
dates of birth masked until revealed, views of personal data audited with the client's address,
and `helpdesk agents reset-second-factor`."""

from __future__ import annotations

import datetime as dt
import io
import json
import re
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pyotp
import pytest
from aiohttp import web
from conftest import Clock, LiveServer
from sqlalchemy import select
from sqlalchemy.orm import sessionmaker
from test_console import BOB_PASSWORD, PASSWORD, SECRET, START, Browser, Reply

from bot import cli
from bot.console.agents import AgentLimits, AgentService
from bot.db import make_engine, session_factory
from bot.models import Account, AgentRecoveryCode, AgentSession, AuditEntry, RecoveryAttempt
from bot.recovery.service import RecoveryService
from bot.settings import Settings, SmtpSettings
from bot.web import SECURITY_HEADERS, create_app
from bot.web.common import SETTINGS_KEY, client_address
from bot.web.console import AGENT_LIMITS_KEY, CLOCK_KEY, CONSOLE_CSP, NLU_ADDITIONS_KEY

BASE_URL = "https://help.example.org"
OFFICE, ATTACKER = "198.51.100.7", "203.0.113.5"
SECRET_TEXT = re.compile(r'<code id="secret">([A-Z2-7 ]+)</code>')
RECOVERY = re.compile(r"<li><code>([a-z2-7]{4}-[a-z2-7]{4}-[a-z2-7]{4}-[a-z2-7]{4})</code></li>")


@dataclass
class ProxiedBrowser(Browser):
    """A browser behind the trusted proxy, which tells the app the client's address."""

    client: str = ""

    def _send(self, request: urllib.request.Request) -> Reply:
        if self.client:
            request.add_header("X-Forwarded-For", self.client)
        return super()._send(request)


@dataclass
class Desk:
    server: LiveServer
    sessions: sessionmaker
    clock: Clock
    replies: list[Reply] = field(default_factory=list)

    def browser(self, client: str = "") -> ProxiedBrowser:
        return ProxiedBrowser(self.server.url, self.replies, client=client)

    def audit(self, action: str) -> list[AuditEntry]:
        with self.sessions() as session:
            return list(session.execute(
                select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)
            ).scalars())

    def code(self, secret: str, steps_ahead: int = 0) -> str:
        """The app's code at the desk's clock (a later step: as a phone slightly ahead)."""
        return pyotp.TOTP(secret).at(self.clock.now + dt.timedelta(seconds=30 * steps_ahead))


def make_desk(database_url: str, tmp_path: Path, **settings: object) -> Iterator[Desk]:
    engine = make_engine(database_url)
    sessions = session_factory(engine)
    clock = Clock(START)
    agents = AgentService(sessions, clock=clock)
    agents.create("alice", PASSWORD, display_name="Alice Admin", role="admin")
    agents.create("bob", BOB_PASSWORD, display_name="Bob Agent", role="agent")
    config = Settings(database_url=database_url, public_base_url=BASE_URL, secret_key=SECRET,
                      smtp=SmtpSettings(), trusted_proxies=("127.0.0.1/32",), **settings)
    app = create_app(RecoveryService(sessions, BASE_URL, SECRET, clock=clock), config)
    app[CLOCK_KEY] = clock
    app[NLU_ADDITIONS_KEY] = tmp_path / "console_additions.yml"
    app[AGENT_LIMITS_KEY] = AgentLimits(failed_per_client=8)
    server = LiveServer(app).start()
    desk = Desk(server, sessions, clock)
    yield desk
    server.stop()
    engine.dispose()
    for reply in desk.replies:
        assert reply.headers.get("Cache-Control") == "no-store", reply.status
        expected = {**SECURITY_HEADERS, "Content-Security-Policy": CONSOLE_CSP}
        for name, value in expected.items():
            assert reply.headers.get(name) == value, (reply.status, name)


@pytest.fixture
def desk(database_url: str, tmp_path: Path) -> Iterator[Desk]:
    yield from make_desk(database_url, tmp_path)


@pytest.fixture
def strict_desk(database_url: str, tmp_path: Path) -> Iterator[Desk]:
    """A console that requires a second factor of every agent."""
    yield from make_desk(database_url, tmp_path, require_second_factor=True)


def set_up_second_factor(desk: Desk, browser: Browser, first_page: str = "/console") -> tuple[
    str, list[str]
]:
    """Set the factor up from the console page at `first_page`; (secret, recovery codes)."""
    page = browser.get(first_page)
    started = browser.post("/console/second-factor/setup",
                           {"csrf_token": page.csrf(), "next": "/console"})
    assert started.status == 200, started.text
    secret = SECRET_TEXT.search(started.text).group(1).replace(" ", "")
    assert "<svg" in started.text and "QR code for your authenticator app" in started.text
    wrong = browser.post("/console/second-factor/confirm",
                         {"csrf_token": started.csrf(), "code": "000000", "next": "/console"})
    assert wrong.status == 400 and "does not match" in wrong.text
    assert SECRET_TEXT.search(wrong.text).group(1).replace(" ", "") == secret
    done = browser.post("/console/second-factor/confirm",
                        {"csrf_token": started.csrf(), "code": desk.code(secret),
                         "next": "/console"})
    assert done.status == 200, done.text
    codes = RECOVERY.findall(done.text)
    assert len(codes) == 10 and len(set(codes)) == 10
    return secret, codes


def password_step(browser: Browser, username: str = "alice",
                  password: str = PASSWORD) -> Reply:
    return browser.sign_in(username, password, next_url="/console/dashboard")


def code_step(browser: Browser, code: str) -> Reply:
    form = browser.get("/console/sign-in/code?next=/console/dashboard")
    assert form.status == 200, form.text
    return browser.post("/console/sign-in/code", {"csrf_token": form.csrf(), "code": code,
                                                  "next": "/console/dashboard"})


# --- sign-in limits per client ----------------------------------------------------------------


def test_one_client_cannot_lock_an_agent_out_everywhere(desk: Desk) -> None:
    attacker = desk.browser(ATTACKER)
    for _ in range(5):
        assert attacker.sign_in("alice", "not the right password").status == 401
    locked = attacker.sign_in("alice", PASSWORD)
    assert locked.status == 429 and "with this username" in locked.text
    assert desk.browser(OFFICE).sign_in("alice", PASSWORD).status == 303
    assert [entry.client for entry in desk.audit("sign_in_failed")] == [ATTACKER] * 5
    assert desk.audit("sign_in")[-1].client == OFFICE


def test_password_spraying_from_one_client_is_stopped(desk: Desk) -> None:
    attacker = desk.browser(ATTACKER)
    for number in range(8):  # a different username each time: no per-name lock helps
        assert attacker.sign_in(f"agent{number}", "Summer2024!").status == 401
    stopped = attacker.sign_in("alice", PASSWORD)
    assert stopped.status == 429 and "from your network" in stopped.text
    assert attacker.cookie("console_session") is None
    assert desk.browser(OFFICE).sign_in("bob", BOB_PASSWORD).status == 303
    desk.clock.advance(minutes=16)
    assert attacker.sign_in("alice", PASSWORD).status == 303


def test_x_forwarded_for_counts_only_from_a_trusted_proxy() -> None:
    def app_with(proxies: tuple[str, ...]) -> web.Application:
        async def show(request: web.Request) -> web.Response:
            return web.Response(text=client_address(request))

        app = web.Application()
        app[SETTINGS_KEY] = Settings(database_url="sqlite://", public_base_url=BASE_URL,
                                     secret_key=SECRET, smtp=SmtpSettings(),
                                     trusted_proxies=proxies)
        app.router.add_get("/", show)
        return app

    def seen(server: LiveServer, forwarded: str | None) -> str:
        request = urllib.request.Request(server.url + "/")
        if forwarded is not None:
            request.add_header("X-Forwarded-For", forwarded)
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.read().decode()

    direct = LiveServer(app_with(())).start()
    proxied = LiveServer(app_with(("127.0.0.0/8", "10.0.0.0/8"))).start()
    try:
        assert seen(direct, ATTACKER) == "127.0.0.1"  # anyone can write the header
        assert seen(proxied, None) == "127.0.0.1"
        assert seen(proxied, ATTACKER) == ATTACKER
        # What the client wrote further left is not believed; proxies are skipped.
        assert seen(proxied, f"1.2.3.4, {ATTACKER}, 10.1.2.3") == ATTACKER
        assert seen(proxied, "not-an-address") == "127.0.0.1"
    finally:
        direct.stop()
        proxied.stop()


def test_a_mistyped_trusted_proxy_stops_the_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRUSTED_PROXIES", "10.0.0.10, 10.0.0.300")
    with pytest.raises(ValueError, match="10.0.0.300"):
        Settings.from_env()
    monkeypatch.setenv("TRUSTED_PROXIES", " 10.0.0.10 ,fd00::/8")
    assert Settings.from_env().trusted_proxies == ("10.0.0.10/32", "fd00::/8")


# --- the second factor ------------------------------------------------------------------------


def test_an_agent_sets_up_totp_then_signs_in_with_a_code(desk: Desk) -> None:
    alice = desk.browser(OFFICE)
    assert password_step(alice).status == 303
    secret, _codes = set_up_second_factor(desk, alice, "/console/second-factor")
    status = alice.get("/console/second-factor")
    assert "Your second factor is on" in status.text and "10 of 10 recovery codes" in status.text
    assert alice.post("/console/second-factor/setup",  # changing it needs an admin
                      {"csrf_token": status.csrf()}).location == "/console/second-factor"
    with desk.sessions() as session:
        stored = json.dumps([row for row in session.execute(
            select(AgentRecoveryCode.code_hash)).scalars()])
        agent_row = session.execute(select(AuditEntry).where(
            AuditEntry.action == "second_factor_set_up")).scalar_one()
    assert secret not in stored and agent_row.client == OFFICE

    desk.clock.advance(minutes=1)
    browser = desk.browser(OFFICE)
    first = password_step(browser)
    assert first.status == 303
    assert first.location == "/console/sign-in/code?next=%2Fconsole%2Fdashboard"
    assert browser.get("/console").status == 303  # the password alone opens nothing
    browser = desk.browser(OFFICE)
    password_step(browser)
    pending_cookie = browser.cookie("console_session")
    assert code_step(browser, "123456").status == 401
    signed_in = code_step(browser, desk.code(secret))
    assert signed_in.status == 303 and signed_in.location == "/console/dashboard"
    assert browser.cookie("console_session") != pending_cookie  # a new session token
    assert browser.get("/console").status == 200
    # The same code does not open a second session (no replay); the next one does.
    again = desk.browser(OFFICE)
    password_step(again)
    assert code_step(again, desk.code(secret)).status == 401
    assert code_step(again, desk.code(secret, steps_ahead=1)).status == 303
    assert [entry.client for entry in desk.audit("second_factor_failed")] == [OFFICE, OFFICE]


def test_a_recovery_code_works_once(desk: Desk) -> None:
    alice = desk.browser()
    password_step(alice)
    _secret, codes = set_up_second_factor(desk, alice)
    first = desk.browser()
    password_step(first)
    assert code_step(first, codes[3].upper().replace("-", " ")).status == 303
    second = desk.browser()
    password_step(second)
    assert code_step(second, codes[3]).status == 401
    assert "9 of 10 recovery codes" in first.get("/console/second-factor").text
    assert len(desk.audit("recovery_code_used")) == 1


def test_wrong_codes_lock_the_code_step(desk: Desk) -> None:
    alice = desk.browser()
    password_step(alice)
    secret, _codes = set_up_second_factor(desk, alice)
    desk.clock.advance(minutes=1)
    guesser = desk.browser(ATTACKER)
    password_step(guesser)
    for guess in range(5):
        assert code_step(guesser, f"{guess:06d}").status == 401
    locked = code_step(guesser, desk.code(secret))
    assert locked.status == 429 and "Too many wrong codes" in locked.text


def test_a_console_can_require_a_second_factor_of_everyone(strict_desk: Desk) -> None:
    bob = strict_desk.browser(OFFICE)
    first = password_step(bob, "bob", BOB_PASSWORD)
    assert first.location == "/console/second-factor?next=%2Fconsole%2Fdashboard"
    assert bob.get("/console").status == 303  # nothing else until it is set up
    bob = strict_desk.browser(OFFICE)
    password_step(bob, "bob", BOB_PASSWORD)
    page = bob.get("/console/second-factor?next=/console/dashboard")
    assert "asks every agent for a second factor" in page.text
    secret, _codes = set_up_second_factor(strict_desk, bob, "/console/second-factor")
    assert bob.get("/console").status == 200  # the codes page came with a full session
    strict_desk.clock.advance(minutes=1)
    later = strict_desk.browser(OFFICE)
    assert password_step(later, "bob", BOB_PASSWORD).location.startswith("/console/sign-in/code")
    assert code_step(later, strict_desk.code(secret)).status == 303


def test_an_admin_resets_a_lost_second_factor(
    desk: Desk, database_url: str, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    alice = desk.browser()
    password_step(alice)
    set_up_second_factor(desk, alice)
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("SECRET_KEY", SECRET.decode())
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    assert cli.main(["agents", "reset-second-factor", "alice"]) == 0
    assert "reset the second factor of alice" in capsys.readouterr().out
    assert cli.main(["agents", "reset-second-factor", "nobody"]) == 1
    assert alice.get("/console").status == 303  # her sessions ended
    with desk.sessions() as session:
        assert session.execute(select(AgentRecoveryCode)).first() is None
        assert all(row.revoked_at for row in session.execute(select(AgentSession)).scalars())
    assert password_step(desk.browser()).location == "/console/dashboard"  # no code asked
    assert len(desk.audit("second_factor_reset")) == 1


# --- partial matches and audited views --------------------------------------------------------


def add_partial_match(desk: Desk) -> int:
    with desk.sessions() as session, session.begin():
        account = Account(system="massone", user_name="JDoe42", first_name="Jane",
                          last_name="Doe", birth_date=dt.date(1985, 3, 14),
                          email="jane.doe@example.org", district="Worcester", school="North")
        session.add(account)
        session.flush()
        attempt = RecoveryAttempt(kind="password", system="massone", outcome="partial",
                                  conversation_id="c1", identity_key="k" * 64,
                                  account_id=account.id, created_at=START)
        session.add(attempt)
        session.flush()
        return attempt.id


def test_partial_matches_are_for_admins_with_birth_dates_masked_until_revealed(
    desk: Desk,
) -> None:
    match = add_partial_match(desk)
    bob = desk.browser(OFFICE)
    assert bob.sign_in("bob", BOB_PASSWORD).status == 303
    refused = bob.get("/console/matches")
    assert refused.status == 403 and "1985" not in refused.text
    assert 'href="/console/matches"' not in bob.get("/console").text
    alice = desk.browser(OFFICE)
    alice.sign_in("alice", PASSWORD)
    listing = alice.get("/console/matches")
    assert listing.status == 200
    assert "JDoe42" in listing.text
    assert "1985" not in listing.text and "March 14" not in listing.text
    assert "Reveal" in listing.text
    forged = alice.post("/console/matches/reveal", {"match": str(match), "page": "1"})
    assert forged.status == 403 and "1985" not in forged.text
    shown = alice.post("/console/matches/reveal",
                       {"csrf_token": listing.csrf(), "match": str(match), "page": "1"})
    assert shown.status == 200
    assert '<span id="revealed">March 14, 1985</span>' in shown.text
    views = desk.audit("viewed_matches")
    reveals = desk.audit("revealed_birth_date")
    assert [(json.loads(v.detail)["rows"], v.client) for v in views] == [([match], OFFICE)] * 2
    assert [(json.loads(r.detail)["rows"], r.client, r.agent_id) for r in reveals] == [
        ([match], OFFICE, views[0].agent_id)]


def test_views_of_tickets_and_the_queue_are_audited_with_the_client(desk: Desk) -> None:
    from bot.tickets.service import TicketRequest, TicketService

    submission = TicketService(desk.sessions, clock=desk.clock).submit(
        "conversation-1", TicketRequest(kind="report_error", system="massone",
                                        contact_email="user@example.org",
                                        facts={"error_message": "error"}, transcript=[]))
    reference = submission.reference
    bob = desk.browser(OFFICE)
    bob.sign_in("bob", BOB_PASSWORD)
    assert bob.get(f"/console/tickets/{reference}").status == 200
    bob.get("/console")
    [ticket_view] = desk.audit("viewed_ticket")
    [queue_view] = desk.audit("viewed_queue")
    assert (ticket_view.target, ticket_view.client) == (reference, OFFICE)
    assert json.loads(queue_view.detail)["rows"] == [reference] and queue_view.client == OFFICE


def test_every_new_page_needs_a_session(desk: Desk) -> None:
    browser = desk.browser()
    for path in ("/console/second-factor", "/console/sign-in/code", "/console/matches"):
        assert browser.get(path).status == 303, path
    for path in ("/console/second-factor/setup", "/console/second-factor/confirm",
                 "/console/matches/reveal", "/console/sign-in/code"):
        assert browser.post(path, {"code": "123456"}).status == 303, path



def test_deactivated_and_birth_date_differs_reach_the_admins(desk: Desk) -> None:
    """Issue 11, item 14: outcomes an agent can act on, from the real recovery service."""
    with desk.sessions() as session, session.begin():
        session.add_all([
            Account(system="ese_portal", user_name="bsmith", first_name="Robert",
                    last_name="Smith", birth_date=dt.date(1970, 1, 1), email="bob@example.com",
                    status="deactivated"),
            Account(system="ese_portal", user_name="JDoe42", first_name="Jane", last_name="Doe",
                    birth_date=dt.date(1985, 3, 14), email="jane.doe@example.org"),
        ])
    from bot.recovery.service import Identity

    service = RecoveryService(desk.sessions, BASE_URL, SECRET, clock=desk.clock)
    service.retrieve_user_name("c1", Identity("Robert", "Smith", dt.date(1970, 1, 1),
                                              email="bob@example.com"))
    service.retrieve_user_name("c2", Identity("Jane", "Doe", dt.date(1985, 4, 14),
                                              email="jane.doe@example.org"))
    alice = desk.browser(OFFICE)
    alice.sign_in("alice", PASSWORD)
    listing = alice.get("/console/matches")
    assert "2 partial matches" in listing.text
    rows = re.findall(r'<td class="outcome">([^<]+)</td>.*?<td>(\w+)</td>\s*<td>', listing.text,
                      flags=re.S)
    assert sorted(rows) == [("Birth date differs", "JDoe42"), ("Deactivated", "bsmith")], rows


def test_a_ticket_filed_for_an_address_with_an_open_one_is_flagged(desk: Desk) -> None:
    """Issue 11, item 4: not merged; the agent sees the possible duplicate."""
    from bot.tickets.service import TicketRequest, TicketService

    service = TicketService(desk.sessions, clock=desk.clock)
    request = TicketRequest(kind="report_error", system="massone",
                            contact_email="user@example.org",
                            facts={"error_message": "error"}, transcript=[])
    first = service.submit("conversation-1", request).reference
    second = service.submit("conversation-2", request).reference
    assert first != second
    bob = desk.browser(OFFICE)
    bob.sign_in("bob", BOB_PASSWORD)
    page = bob.get(f"/console/tickets/{second}").text
    assert "Possible duplicate of" in page
    assert f'<a href="/console/tickets/{first}">{first}</a>' in page
    assert "Possible duplicate of" not in bob.get(f"/console/tickets/{first}").text
