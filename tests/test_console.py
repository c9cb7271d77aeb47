"""The agents' console (`bot.web.console`), served for real and driven over HTTP with urllib and
a cookie jar, on SQLite and PostgreSQL; no mocks. Time is an injected clock; the NLU file the
console writes goes to a temporary folder. Also the `helpdesk agents` commands."""

from __future__ import annotations

import datetime as dt
import hashlib
import html
import http.cookiejar
import io
import json
import re
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml
from conftest import Clock, LiveServer
from markupsafe import escape
from sqlalchemy import select
from sqlalchemy.orm import sessionmaker

from bot import cli
from bot.console.agents import AgentService
from bot.console.ticket_desk import TicketDesk
from bot.db import make_engine, session_factory
from bot.knowledge.entries import load_knowledge
from bot.models import (
    Account,
    AgentSession,
    AuditEntry,
    Conversation,
    OutboxMail,
    Rating,
    RecoveryAttempt,
    Ticket,
    TicketEvent,
    UnansweredMessage,
)
from bot.recovery.service import RecoveryService
from bot.settings import Settings, SmtpSettings
from bot.tickets.service import TicketRequest, TicketService
from bot.web import SECURITY_HEADERS, create_app
from bot.web.console import CLOCK_KEY, CONSOLE_CSP, NLU_ADDITIONS_KEY

BASE_URL = "https://help.example.org"
SECRET = b"test-secret-key-not-for-production"
# Tuesday 6 May 2031, 10:00 in Massachusetts: the desk is open.
START = dt.datetime(2031, 5, 6, 14, 0, tzinfo=dt.timezone.utc)
PASSWORD = "correct horse battery staple"
BOB_PASSWORD = "another long passphrase"
XSS = "<script>alert(1)</script>"
ESCAPED_XSS = "&lt;script&gt;alert(1)&lt;/script&gt;"
CSRF = re.compile(r'name="csrf_token" value="([^"]*)"')


class LocalIsSecure(http.cookiejar.DefaultCookiePolicy):
    """As browsers do, treat http://127.0.0.1 as a secure context for Secure cookies."""

    def return_ok_secure(self, cookie: http.cookiejar.Cookie, request: object) -> bool:
        return True


class NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None  # the 303 itself is the answer


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    set_cookies: list[str]
    text: str

    @property
    def location(self) -> str:
        return self.headers.get("Location", "")

    def csrf(self) -> str:
        match = CSRF.search(self.text)
        assert match, "no CSRF field in the page"
        return html.unescape(match.group(1))


@dataclass
class Browser:
    """One agent's browser: a cookie jar, no automatic redirects."""

    base: str
    replies: list[Reply]
    jar: http.cookiejar.CookieJar = field(
        default_factory=lambda: http.cookiejar.CookieJar(LocalIsSecure())
    )

    def _send(self, request: urllib.request.Request) -> Reply:
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar),
                                             NoRedirects())
        try:
            with opener.open(request, timeout=30) as response:
                reply = Reply(response.status, dict(response.headers),
                              response.headers.get_all("Set-Cookie") or [],
                              response.read().decode("utf-8"))
        except urllib.error.HTTPError as error:
            with error:
                reply = Reply(error.code, dict(error.headers),
                              error.headers.get_all("Set-Cookie") or [],
                              error.read().decode("utf-8"))
        self.replies.append(reply)
        return reply

    def get(self, path: str) -> Reply:
        return self._send(urllib.request.Request(self.base + path))

    def post(self, path: str, fields: dict[str, str]) -> Reply:
        request = urllib.request.Request(
            self.base + path, data=urllib.parse.urlencode(fields).encode(), method="POST",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        return self._send(request)

    def cookie(self, name: str) -> str | None:
        return next((cookie.value for cookie in self.jar if cookie.name == name), None)

    def sign_in(self, username: str, password: str, next_url: str = "/console") -> Reply:
        form = self.get("/console/sign-in")
        assert form.status == 200
        return self.post("/console/sign-in", {"csrf_token": form.csrf(), "username": username,
                                              "password": password, "next": next_url})


@dataclass
class Console:
    server: LiveServer
    sessions: sessionmaker
    clock: Clock
    additions: Path
    replies: list[Reply] = field(default_factory=list)
    tickets_filed: int = 0

    def browser(self) -> Browser:
        return Browser(self.server.url, self.replies)

    def signed_in(self, username: str = "alice", password: str = PASSWORD) -> Browser:
        browser = self.browser()
        reply = browser.sign_in(username, password)
        assert reply.status == 303, reply.text
        return browser

    def file(
        self, kind: str = "report_error", system: str | None = "massone",
        facts: dict[str, str] | None = None, transcript: list[dict[str, str]] | None = None,
        email: str | None = None,
    ) -> str:
        """A ticket filed through the ticket service now; its reference."""
        self.tickets_filed += 1
        number = self.tickets_filed
        service = TicketService(self.sessions, clock=self.clock)
        request = TicketRequest(
            kind=kind, system=system, contact_email=email or f"user{number}@example.org",
            facts=facts if facts is not None else {"error_message": f"error {number}"},
            transcript=transcript or [], )
        submission = service.submit(f"conversation-{number}", request)
        assert submission.reference is not None
        return submission.reference

    def ticket(self, reference: str) -> Ticket:
        with self.sessions() as session:
            return session.get(Ticket, int(reference.rsplit("-", 1)[1]))

    def events(self, reference: str, action: str | None = None) -> list[TicketEvent]:
        with self.sessions() as session:
            query = select(TicketEvent).where(
                TicketEvent.ticket_id == int(reference.rsplit("-", 1)[1])
            ).order_by(TicketEvent.id)
            if action is not None:
                query = query.where(TicketEvent.action == action)
            return list(session.execute(query).scalars())

    def mails(self, kind: str) -> list[OutboxMail]:
        with self.sessions() as session:
            return list(session.execute(
                select(OutboxMail).where(OutboxMail.kind == kind).order_by(OutboxMail.id)
            ).scalars())

    def audit(self, action: str) -> list[AuditEntry]:
        with self.sessions() as session:
            return list(session.execute(
                select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)
            ).scalars())

    def add(self, *rows: object) -> None:
        with self.sessions() as session, session.begin():
            session.add_all(rows)


@pytest.fixture
def console(database_url: str, tmp_path: Path) -> Iterator[Console]:
    engine = make_engine(database_url)
    sessions = session_factory(engine)
    clock = Clock(START)
    agents = AgentService(sessions, clock=clock)
    agents.create("alice", PASSWORD, display_name="Alice Admin", role="admin")
    agents.create("bob", BOB_PASSWORD, display_name="Bob <b>Agent</b>", role="agent")
    settings = Settings(database_url=database_url, public_base_url=BASE_URL, secret_key=SECRET,
                        smtp=SmtpSettings())
    app = create_app(RecoveryService(sessions, BASE_URL, SECRET, clock=clock), settings)
    additions = tmp_path / "nlu" / "console_additions.yml"
    app[CLOCK_KEY] = clock
    app[NLU_ADDITIONS_KEY] = additions
    server = LiveServer(app).start()
    running = Console(server, sessions, clock, additions)
    yield running
    server.stop()
    engine.dispose()
    for reply in running.replies:  # every console response, whatever its status
        assert reply.headers.get("Cache-Control") == "no-store", reply.status
        expected = dict(SECURITY_HEADERS)
        if not reply.headers.get("Content-Type", "").startswith("text/css"):
            expected["Content-Security-Policy"] = CONSOLE_CSP  # the console's own scripts
        for name, value in expected.items():
            assert reply.headers.get(name) == value, (reply.status, name)


def cookie_header(reply: Reply, name: str) -> str:
    found = [header for header in reply.set_cookies if header.startswith(f"{name}=")]
    assert len(found) == 1, reply.set_cookies
    return found[0]


def rows_of(page: str) -> list[str]:
    """The ticket references listed in the queue's table, in order."""
    return re.findall(r'<th scope="row"><a href="/console/tickets/(HD-\d{4}-\d{6})">', page)


# --- signing in -------------------------------------------------------------------------------


@pytest.mark.parametrize("path", [
    "/console", "/console/matches", "/console/unanswered", "/console/dashboard",
    "/console/tickets/HD-2031-000001", "/console?status=resolved",
])
def test_every_page_needs_a_session(console: Console, path: str) -> None:
    reply = console.browser().get(path)
    assert reply.status == 303
    assert reply.location == "/console/sign-in?" + urllib.parse.urlencode({"next": path})
    assert reply.text == ""


def test_signing_in_sets_a_strict_session_cookie_holding_a_token_stored_hashed(
    console: Console,
) -> None:
    browser = console.browser()
    form = browser.get("/console/sign-in")
    assert form.status == 200
    assert '<label for="username">Username</label>' in form.text
    assert 'autocomplete="current-password"' in form.text
    sign_in_cookie = cookie_header(form, "console_sign_in")
    for flag in ("HttpOnly", "Path=/console", "SameSite=Strict", "Secure"):
        assert flag in sign_in_cookie
    reply = browser.post("/console/sign-in", {"csrf_token": form.csrf(), "username": "alice",
                                              "password": PASSWORD, "next": "/console"})
    assert reply.status == 303 and reply.location == "/console"
    session_cookie = cookie_header(reply, "console_session")
    for flag in ("HttpOnly", "Path=/console", "SameSite=Strict", "Secure", "Max-Age=28800"):
        assert flag in session_cookie
    assert "Max-Age=0" in cookie_header(reply, "console_sign_in")  # used up
    token = browser.cookie("console_session")
    assert token and len(token) == 43
    with console.sessions() as session:
        stored = session.execute(select(AgentSession.token_hash)).scalar_one()
    assert stored == hashlib.sha256(token.encode()).hexdigest()
    queue = browser.get("/console")
    assert queue.status == 200
    assert "Signed in as <strong>Alice Admin</strong> (admin)" in queue.text
    assert 'action="/console/sign-out"' in queue.text
    assert PASSWORD not in reply.text + queue.text


def test_signing_in_goes_back_to_the_page_asked_for_and_only_inside_the_console(
    console: Console,
) -> None:
    reference = console.file()
    asked = console.browser().get(f"/console/tickets/{reference}")
    next_url = urllib.parse.parse_qs(urllib.parse.urlsplit(asked.location).query)["next"][0]
    reply = console.browser().sign_in("alice", PASSWORD, next_url)
    assert reply.location == f"/console/tickets/{reference}"
    for elsewhere in ("https://evil.example/console", "//evil.example/console",
                      "/console//evil.example", "/reset/abc", "/console\\@evil"):
        assert console.browser().sign_in("alice", PASSWORD, elsewhere).location == "/console"


def test_a_wrong_password_and_an_unknown_agent_get_the_same_answer(console: Console) -> None:
    wrong = console.browser().sign_in("alice", "not the right password")
    unknown = console.browser().sign_in("mallory", PASSWORD)
    odd = console.browser().sign_in(XSS, PASSWORD)
    for reply in (wrong, unknown, odd):
        assert reply.status == 401
        assert "The username or the password is not right." in reply.text
        assert not [c for c in reply.set_cookies if c.startswith("console_session=")]
        assert PASSWORD not in reply.text and "not the right password" not in reply.text
    assert 'value="mallory"' in unknown.text
    assert XSS not in odd.text and ESCAPED_XSS in odd.text
    assert [entry.target for entry in console.audit("sign_in_failed")] == [
        "alice", "mallory", "(malformed username)"]


def test_five_failed_sign_ins_lock_the_username_out(console: Console) -> None:
    browser = console.browser()
    for _ in range(5):
        assert browser.sign_in("alice", "not the right password").status == 401
    locked = browser.sign_in("alice", PASSWORD)
    assert locked.status == 429
    assert "Too many failed sign-ins" in locked.text and "15 minutes" in locked.text
    assert browser.cookie("console_session") is None
    assert len(console.audit("sign_in_failed")) == 5
    assert len(console.audit("sign_in_locked")) == 1
    console.clock.advance(minutes=16)
    assert browser.sign_in("alice", PASSWORD).status == 303


def test_the_sign_in_form_needs_its_own_csrf_token(console: Console) -> None:
    fields = {"username": "alice", "password": PASSWORD}
    browser = console.browser()
    form = browser.get("/console/sign-in")
    missing = browser.post("/console/sign-in", fields)
    wrong = browser.post("/console/sign-in", {**fields, "csrf_token": "1." + "0" * 64})
    other = console.browser()  # a valid token, but for another browser's cookie
    other.get("/console/sign-in")
    foreign = other.post("/console/sign-in", {**fields, "csrf_token": form.csrf()})
    no_cookie = console.browser().post("/console/sign-in", {**fields, "csrf_token": form.csrf()})
    console.clock.advance(hours=2)
    stale = browser.post("/console/sign-in", {**fields, "csrf_token": form.csrf()})
    for reply in (missing, wrong, foreign, no_cookie, stale):
        assert reply.status == 403
        assert "This sign-in form has expired" in reply.text
        assert not [c for c in reply.set_cookies if c.startswith("console_session=")]
    assert console.audit("sign_in") == [] and console.audit("sign_in_failed") == []
    with console.sessions() as session:
        assert session.execute(select(AgentSession)).first() is None


def test_an_idle_session_expires_and_the_page_says_so(console: Console) -> None:
    browser = console.signed_in()
    console.clock.advance(minutes=29)
    assert browser.get("/console").status == 200
    console.clock.advance(minutes=29)
    assert browser.get("/console/dashboard").status == 200  # the request slid the timeout
    console.clock.advance(minutes=31)
    expired = browser.get("/console/dashboard")
    assert expired.status == 303
    assert expired.location.startswith("/console/sign-in?")
    assert "reason=expired" in expired.location
    assert "Max-Age=0" in cookie_header(expired, "console_session")
    form = browser.get(expired.location)
    assert "Your session has ended" in form.text


def test_a_session_ends_eight_hours_after_signing_in(console: Console) -> None:
    browser = console.signed_in()
    for _ in range(15):
        console.clock.advance(minutes=29)
        assert browser.get("/console").status == 200
    console.clock.advance(minutes=25)  # 7 h 40 min after signing in
    assert browser.get("/console").status == 200
    console.clock.advance(minutes=21)
    assert browser.get("/console").status == 303


def test_signing_out_ends_the_session_for_good(console: Console) -> None:
    browser = console.signed_in()
    token = browser.cookie("console_session")
    page = browser.get("/console")
    refused = browser.post("/console/sign-out", {})
    assert refused.status == 403
    assert browser.get("/console").status == 200  # still signed in
    reply = browser.post("/console/sign-out", {"csrf_token": page.csrf()})
    assert reply.status == 303 and reply.location == "/console/sign-in?reason=signed_out"
    assert "Max-Age=0" in cookie_header(reply, "console_session")
    assert "You are signed out." in browser.get(reply.location).text
    replayed = console.browser()
    replayed.jar.set_cookie(http.cookiejar.Cookie(
        0, "console_session", token, None, False, "127.0.0.1", False, False, "/console", True,
        False, None, False, None, None, {}))
    assert replayed.get("/console").status == 303
    assert len(console.audit("sign_out")) == 1


# --- CSRF on the console's forms ----------------------------------------------------------


def test_forms_without_the_sessions_csrf_token_are_refused_and_change_nothing(
    console: Console,
) -> None:
    reference = console.file()
    alice = console.signed_in()
    bob = console.signed_in("bob", BOB_PASSWORD)
    bobs_token = bob.get("/console").csrf()
    before = len(console.events(reference))
    actions = {
        "assign": {}, "status": {"status": "resolved"}, "notes": {"text": "a note"},
        "replies": {"text": "a reply"},
    }
    for action, fields in actions.items():
        for token in (None, "", "wrong", bobs_token):
            sent = dict(fields) if token is None else {**fields, "csrf_token": token}
            reply = alice.post(f"/console/tickets/{reference}/{action}", sent)
            assert reply.status == 403, (action, token)
            assert "This form was refused" in reply.text
    ticket = console.ticket(reference)
    assert ticket.status == "open" and ticket.assignee_id is None
    assert len(console.events(reference)) == before
    assert console.mails("ticket_reply") == []


def test_a_post_without_a_session_goes_to_the_sign_in_form(console: Console) -> None:
    reference = console.file()
    reply = console.browser().post(f"/console/tickets/{reference}/status",
                                   {"status": "resolved", "csrf_token": "x"})
    assert reply.status == 303 and reply.location == "/console/sign-in"
    assert console.ticket(reference).status == "open"


# --- the queue ------------------------------------------------------------------------------


def test_the_queue_filters_sorts_counts_and_marks_overdue_tickets(console: Console) -> None:
    old = console.file("report_error", "massone")  # Tuesday 10:00: due Wednesday 16:00
    resolved_old = console.file("login_incorrect", "ese_portal")
    console.clock.advance(days=2, hours=1)  # Thursday 11:00
    recent = console.file("human_handoff", None, facts={"summary": "help"})
    waiting = console.file("report_error", "ese_portal")
    alice = console.signed_in()
    page = alice.get(f"/console/tickets/{resolved_old}")
    alice.post(f"/console/tickets/{resolved_old}/status",
               {"csrf_token": page.csrf(), "status": "resolved"})
    alice.post(f"/console/tickets/{waiting}/status",
               {"csrf_token": page.csrf(), "status": "waiting_on_user"})

    queue = alice.get("/console")
    assert queue.status == 200
    assert rows_of(queue.text) == [waiting, recent, old]  # not resolved, newest first
    counts = dict(re.findall(r'data-status="(\w+)">(\d+)<', queue.text))
    assert counts == {"unresolved": "3", "all": "4", "open": "2", "in_progress": "0",
                      "waiting_on_user": "1", "resolved": "1"}
    overdue_rows = re.findall(r'<tr class="overdue">\s*<th scope="row"><a href="[^"]*">([^<]+)<',
                              queue.text)
    assert overdue_rows == [old]
    assert "Overdue</strong> waiting more than one business day" in queue.text

    assert rows_of(alice.get("/console?order=oldest").text) == [old, recent, waiting]
    assert rows_of(alice.get("/console?status=all").text) == [waiting, recent, resolved_old, old]
    assert rows_of(alice.get("/console?status=resolved").text) == [resolved_old]
    resolved_page = alice.get("/console?status=resolved").text
    assert "Overdue</strong>" not in resolved_page  # resolved tickets are never overdue
    assert rows_of(alice.get("/console?kind=report_error").text) == [waiting, old]
    assert rows_of(alice.get("/console?system=ese_portal&status=all").text) == [
        waiting, resolved_old]
    assert rows_of(alice.get("/console?system=none").text) == [recent]
    assert rows_of(alice.get("/console?older_than=1").text) == [old]
    filtered = alice.get("/console?kind=report_error&status=open")
    assert rows_of(filtered.text) == [old]
    counts = dict(re.findall(r'data-status="(\w+)">(\d+)<', filtered.text))
    assert counts["open"] == "1" and counts["waiting_on_user"] == "1"
    assert "1 ticket</h2>" in filtered.text


@pytest.mark.parametrize("query, problem", [
    ("status=bogus", "“bogus” is not a status here"),
    ("kind=nope", "is not a kind here"),
    ("system=moodle", "is not a system here"),
    ("order=random", "is not a order here"),
    ("older_than=abc", "is not a valid older_than"),
    ("older_than=-1", "is not a valid older_than"),
    ("page=0", "is not a valid page"),
    ("colour=red", "Unknown parameter “colour”"),
    ("status=open&status=resolved", "“status” is given more than once"),
    ("kind=%3Cscript%3Ealert(1)%3C%2Fscript%3E", ESCAPED_XSS),
])
def test_unknown_queue_parameters_get_a_400_page_explaining(
    console: Console, query: str, problem: str
) -> None:
    reply = console.signed_in().get(f"/console?{query}")
    assert reply.status == 400
    assert problem in reply.text
    assert XSS not in reply.text
    assert 'href="/console">Back to the queue' in reply.text


def test_the_queue_shows_fifty_tickets_a_page(console: Console) -> None:
    references = []
    for _ in range(53):
        references.append(console.file())
        console.clock.advance(minutes=1)
    alice = console.signed_in()
    first = alice.get("/console")
    assert rows_of(first.text) == references[::-1][:50]
    assert "53 tickets</h2>" in first.text
    assert "Page 1 of 2" in first.text and 'href="/console?page=2" rel="next"' in first.text
    second = alice.get("/console?page=2")
    assert rows_of(second.text) == references[::-1][50:]
    assert 'href="/console" rel="prev"' in second.text
    oldest = alice.get("/console?order=oldest&page=2")
    assert rows_of(oldest.text) == references[50:]
    assert 'href="/console?order=oldest" rel="prev"' in oldest.text
    beyond = alice.get("/console?page=5")
    assert beyond.status == 200 and rows_of(beyond.text) == []


# --- a ticket -------------------------------------------------------------------------------


def test_a_ticket_shows_labelled_facts_the_masked_transcript_and_history_escaped(
    console: Console,
) -> None:
    transcript = [
        {"from": "user", "text": f"my error is {XSS}", "at": "2031-05-06T13:59:00+00:00"},
        {"from": "bot", "text": "Thanks.", "at": "2031-05-06T13:59:30+00:00"},
    ]
    reference = console.file("report_error", "massone",
                             facts={"doing_what": XSS, "error_message": "Code 7"},
                             transcript=transcript, email="jane.doe@example.org")
    page = console.signed_in().get(f"/console/tickets/{reference}")
    assert page.status == 200
    assert f"<h1>{reference}: Error report</h1>" in page.text
    assert "<dt>What they were doing</dt>" in page.text
    assert f"<dd>{ESCAPED_XSS}</dd>" in page.text
    assert "<dt>Error message</dt>\n  <dd>Code 7</dd>" in page.text
    assert f"my error is {ESCAPED_XSS}" in page.text
    assert XSS not in page.text
    assert "May 6, 2031, 9:59 am EDT" in page.text  # transcript times in the desk's zone, as read
    assert "jane.doe@example.org" in page.text
    assert "Ticket created" in page.text and "Viewed" in page.text
    for label in ("Assign to me", "Change status", "Add the note", "Send the reply"):
        assert label in page.text
    assert page.text.count('name="csrf_token"') == 6  # five ticket forms and sign-out


def test_an_unknown_or_malformed_reference_is_a_404(console: Console) -> None:
    reference = console.file()
    alice = console.signed_in()
    other_year = reference.replace("2031", "2030")
    for wanted in ("HD-2031-999999", other_year, "nonsense"):
        reply = alice.get(f"/console/tickets/{wanted}")
        assert reply.status == 404 and "No such ticket" in reply.text
    token = alice.get("/console").csrf()
    reply = alice.post("/console/tickets/HD-2031-999999/notes", {"csrf_token": token,
                                                               "text": "x"})
    assert reply.status == 404


def test_ticket_actions_are_recorded_as_events_of_the_agent(console: Console) -> None:
    reference = console.file(email="Jane.Doe@Example.org")
    alice = console.signed_in()
    token = alice.get(f"/console/tickets/{reference}").csrf()
    base = f"/console/tickets/{reference}"

    reply = alice.post(f"{base}/assign", {"csrf_token": token})
    assert reply.status == 303 and reply.location == f"{base}?done=assigned"
    assert "The ticket is assigned to you." in alice.get(reply.location).text
    assert console.ticket(reference).assignee_id is not None
    assert alice.post(f"{base}/assign", {"csrf_token": token}).location == f"{base}?done=unchanged"

    console.clock.advance(minutes=20)
    reply = alice.post(f"{base}/status", {"csrf_token": token, "status": "resolved"})
    assert reply.location == f"{base}?done=status"
    ticket = console.ticket(reference)
    assert ticket.status == "resolved" and ticket.resolved_at is not None
    alice.post(f"{base}/status", {"csrf_token": token, "status": "in_progress"})
    ticket = console.ticket(reference)
    assert ticket.status == "in_progress" and ticket.resolved_at is None
    bad = alice.post(f"{base}/status", {"csrf_token": token, "status": "closed"})
    assert bad.status == 400 and "Unknown status" in bad.text

    note = f"Called the district. {XSS}"
    assert alice.post(f"{base}/notes", {"csrf_token": token, "text": note}).status == 303
    empty = alice.post(f"{base}/notes", {"csrf_token": token, "text": "   "})
    assert empty.status == 400 and "The text is empty." in empty.text

    text = "Hello Jane,\nyour account is fixed. <b>Sign in again.</b>"
    reply = alice.post(f"{base}/replies", {"csrf_token": token, "text": text})
    assert reply.location == f"{base}?done=reply"
    mails = console.mails("ticket_reply")
    assert len(mails) == 1
    assert mails[0].to_address == "Jane.Doe@Example.org"
    assert reference in mails[0].subject
    assert text in mails[0].body and "Alice Admin" in mails[0].body

    events = [(event.actor, event.action, json.loads(event.detail))
              for event in console.events(reference) if event.actor != "bot"]
    assert [(actor, action) for actor, action, _ in events] == [
        ("agent:alice", "viewed"), ("agent:alice", "assigned"),
        ("agent:alice", "status_changed"), ("agent:alice", "status_changed"),
        ("agent:alice", "note"), ("agent:alice", "replied"),
    ]
    assert events[1][2] == {"previous": None, "assignee": "alice"}
    assert events[2][2] == {"previous": "open", "status": "resolved"}
    assert events[4][2] == {"text": note}
    assert events[5][2]["text"] == text and events[5][2]["mail_id"] == mails[0].id

    page = alice.get(base)
    assert f"Called the district. {ESCAPED_XSS}" in page.text and XSS not in page.text
    assert "&lt;b&gt;Sign in again.&lt;/b&gt;" in page.text
    assert "Status changed from Open to Resolved" in page.text
    assert "Assigned to alice" in page.text
    assert "Assign to me" not in page.text  # already mine


def test_viewing_is_recorded_at_most_every_ten_minutes_per_agent(console: Console) -> None:
    reference = console.file()
    alice = console.signed_in()
    bob = console.signed_in("bob", BOB_PASSWORD)
    alice.get(f"/console/tickets/{reference}")
    console.clock.advance(minutes=9)
    alice.get(f"/console/tickets/{reference}")
    bob.get(f"/console/tickets/{reference}")
    assert [e.actor for e in console.events(reference, "viewed")] == [
        "agent:alice", "agent:bob"]
    console.clock.advance(minutes=2)
    alice.get(f"/console/tickets/{reference}")
    assert [e.actor for e in console.events(reference, "viewed")] == [
        "agent:alice", "agent:bob", "agent:alice"]


# --- partial matches ------------------------------------------------------------------------


def test_partial_matches_show_the_conflicting_account_newest_first(console: Console) -> None:
    account = Account(system="massone", user_name="JDoe42", first_name="Jane",
                      last_name=f"Doe {XSS}", birth_date=dt.date(1985, 3, 14),
                      email="jane.doe@example.org", district="Worcester", school="North High",
                      status="inactive")
    console.add(account)
    with console.sessions() as session:
        account_id = session.execute(select(Account.id)).scalar_one()
    console.add(
        RecoveryAttempt(kind="password", system="massone", outcome="partial",
                        conversation_id="c1", identity_key="k" * 64, account_id=account_id,
                        created_at=START - dt.timedelta(hours=2)),
        RecoveryAttempt(kind="username", system="massone", outcome="partial",
                        conversation_id="c2", identity_key="k" * 64, account_id=None,
                        created_at=START - dt.timedelta(hours=1)),
        RecoveryAttempt(kind="username", system="massone", outcome="exact",
                        conversation_id="c3", identity_key="k" * 64, account_id=account_id,
                        created_at=START),
    )
    assert console.browser().get("/console/matches").status == 303
    assert console.signed_in("bob", BOB_PASSWORD).get("/console/matches").status == 403
    page = console.signed_in().get("/console/matches")  # admins only
    assert page.status == 200
    assert "2 partial matches</h2>" in page.text
    assert page.text.index("The account was deleted since.") < page.text.index("JDoe42")
    for shown in ("JDoe42", f"Jane Doe {ESCAPED_XSS}", "jane.doe@example.org",
                  "Worcester / North High", "inactive", "Password reset",
                  "User name reminder"):
        assert shown in page.text
    assert "1985-03-14" not in page.text  # until revealed (tests/test_console_security.py)
    assert XSS not in page.text
    assert console.signed_in().get("/console/matches?page=x").status == 400


# --- unanswered questions ---------------------------------------------------------------------


def unanswered(text: str, normalised: str, minutes: int) -> UnansweredMessage:
    return UnansweredMessage(conversation_id=f"c{minutes}", text=text, normalised=normalised,
                             created_at=START + dt.timedelta(minutes=minutes))


def test_unanswered_questions_are_grouped_and_admins_attach_them_to_an_faq(
    console: Console,
) -> None:
    faq_id = load_knowledge().faq_ids()[0]
    console.add(
        unanswered("How do I change my school?", "how do i change my school", 1),
        unanswered("how do i change my school", "how do i change my school", 2),
        unanswered("HOW do I change my school ??", "how do i change my school", 3),
        unanswered(f"what about {XSS}", "what about script alert 1 script", 4),
    )
    bob = console.signed_in("bob", BOB_PASSWORD)
    page = bob.get("/console/unanswered")
    assert page.status == 200
    assert "2 groups</h2>" in page.text
    assert page.text.index("HOW do I change my school ??") < page.text.index("what about")
    assert re.search(r"HOW do I change my school \?\?</th>\s*<td>3</td>", page.text)
    assert f"what about {ESCAPED_XSS}" in page.text and XSS not in page.text
    assert "/console/unanswered/attach" not in page.text  # not an admin: no form

    refused = bob.post("/console/unanswered/attach", {
        "csrf_token": page.csrf(), "normalised": "how do i change my school", "faq_id": faq_id})
    assert refused.status == 403 and "Only admins" in refused.text
    assert not console.additions.exists()

    alice = console.signed_in()
    page = alice.get("/console/unanswered")
    assert 'action="/console/unanswered/attach"' in page.text
    assert f'<option value="{faq_id}">' in page.text
    question = load_knowledge().entries[faq_id].question
    assert str(escape(question)) in page.text
    no_token = alice.post("/console/unanswered/attach", {
        "normalised": "how do i change my school", "faq_id": faq_id})
    assert no_token.status == 403
    unknown = alice.post("/console/unanswered/attach", {
        "csrf_token": page.csrf(), "normalised": "how do i change my school",
        "faq_id": "no_such_faq"})
    assert unknown.status == 400 and "There is no FAQ" in unknown.text
    assert not console.additions.exists()

    reply = alice.post("/console/unanswered/attach", {
        "csrf_token": page.csrf(), "normalised": "how do i change my school", "faq_id": faq_id})
    assert reply.status == 303 and reply.location == "/console/unanswered?done=added"
    after = alice.get(reply.location)
    assert "1 group</h2>" in after.text and "added to the FAQ" in after.text
    with console.sessions() as session:
        rows = session.execute(select(UnansweredMessage).where(
            UnansweredMessage.normalised == "how do i change my school")).scalars().all()
    assert {(row.attached_faq_id, row.attached_at is not None) for row in rows} == {
        (faq_id, True)}
    assert len({row.attached_by for row in rows}) == 1
    attached = alice.get("/console/unanswered?show=attached")
    assert faq_id in attached.text and "(by Alice Admin)" in attached.text

    text = console.additions.read_text()
    assert text.startswith("# Written by the agents' console")
    data = yaml.safe_load(text)
    assert data == {"version": "3.1", "nlu": [
        {"intent": f"faq/{faq_id}", "examples": "- HOW do I change my school ??\n"}]}
    audit = console.audit("unanswered_attached")
    assert len(audit) == 1 and audit[0].target == f"faq/{faq_id}"
    assert json.loads(audit[0].detail)["rows"] == 3

    # The same words again later: attached, but never a second example.
    console.add(unanswered("How do I change my SCHOOL", "how do i change my school", 9))
    again = alice.post("/console/unanswered/attach", {
        "csrf_token": page.csrf(), "normalised": "how do i change my school", "faq_id": faq_id})
    assert again.location == "/console/unanswered?done=known"
    assert console.additions.read_text() == text
    gone = alice.post("/console/unanswered/attach", {
        "csrf_token": page.csrf(), "normalised": "how do i change my school", "faq_id": faq_id})
    assert gone.status == 400 and "no longer waiting" in gone.text


def test_the_additions_file_stays_valid_rasa_training_data(console: Console) -> None:
    from rasa.shared.nlu.training_data.loading import load_data

    faq_ids = load_knowledge().faq_ids()
    console.add(
        unanswered("is [this](entity) a {question}? - # yes: \"quoted\" 'too'", "a", 1),
        unanswered("second one", "b", 2),
    )
    alice = console.signed_in()
    token = alice.get("/console/unanswered").csrf()
    alice.post("/console/unanswered/attach", {"csrf_token": token, "normalised": "a",
                                             "faq_id": faq_ids[0]})
    alice.post("/console/unanswered/attach", {"csrf_token": token, "normalised": "b",
                                             "faq_id": faq_ids[1]})
    examples = {(message.get("intent_response_key") or message.get("intent"), message.get("text"))
                for message in load_data(str(console.additions)).intent_examples}
    assert examples == {
        (f"faq/{faq_ids[0]}", "is [this] (entity) a {question}? - # yes: \"quoted\" 'too'"),
        (f"faq/{faq_ids[1]}", "second one"),
    }


# --- dashboard ------------------------------------------------------------------------------


def test_the_dashboard_counts_and_draws_an_svg_chart(console: Console) -> None:
    def conversation(name: str, answers: int, fallbacks: int, tickets: int) -> Conversation:
        return Conversation(conversation_id=name, started_at=START, last_seen_at=START,
                            answers=answers, fallbacks=fallbacks, tickets=tickets)

    def rating(name: str, helpful: int) -> Rating:
        return Rating(conversation_id=name, helpful=helpful, created_at=START,
                      updated_at=START)

    console.add(
        conversation("a", 2, 0, 0), conversation("b", 1, 0, 0), conversation("c", 1, 1, 0),
        conversation("d", 0, 0, 1), conversation("e", 0, 2, 0),
        rating("a", 1), rating("b", 1), rating("c", 1), rating("d", 0),
    )
    first = console.file("report_error")
    second = console.file("report_error")
    console.file("human_handoff", None, facts={"summary": "x"})
    desk = TicketDesk(console.sessions, console.clock)
    agent = AgentService(console.sessions).get("alice")
    console.clock.advance(hours=2)
    desk.set_status(agent, first, "resolved")
    console.clock.advance(hours=4)
    desk.set_status(agent, second, "resolved")
    alice = console.signed_in()

    page = alice.get("/console/dashboard")
    assert page.status == 200
    assert '<dd id="conversations">5</dd>' in page.text
    assert '<dd id="answered">40% <span class="hint">(2 of 5)</span>' in page.text
    assert '<dd id="helpful">75% <span class="hint">(3 helpful, 1 not helpful)</span>' in page.text
    assert '<dd id="tickets">3</dd>' in page.text
    assert '<dd id="median">4 h 0 min <span class="hint">(2 resolved)</span>' in page.text
    svg = re.search(r"<svg class=\"chart\".*?</svg>", page.text, re.DOTALL)
    assert svg is not None
    assert 'role="img"' in svg.group(0)
    assert '<title id="chart-kinds-title">Tickets by kind of request</title>' in svg.group(0)
    assert "Error report: 2" in svg.group(0) and "Request to talk to a person: 1" in svg.group(0)
    assert re.search(r'<th scope="row">Error report</th><td>2</td>', page.text)
    assert re.search(r'<th scope="row">Resolved</th><td>2</td>', page.text)
    assert "<script" not in page.text

    console.clock.advance(days=10)
    alice = console.signed_in()
    recent = alice.get("/console/dashboard?days=7")
    assert '<dd id="conversations">0</dd>' in recent.text
    assert alice.get("/console/dashboard?days=3").status == 400


def test_the_navigation_links_every_page(console: Console) -> None:
    alice = console.signed_in()
    for path, current in (("/console", "Ticket queue"), ("/console/unanswered",
                          "Unanswered questions"), ("/console/matches", "Partial matches"),
                          ("/console/dashboard", "Dashboard")):
        page = alice.get(path)
        assert page.status == 200
        assert f'href="{path}" aria-current="page">{current}</a>' in page.text
        for other in ("/console", "/console/unanswered", "/console/matches",
                      "/console/dashboard"):
            assert f'href="{other}"' in page.text
        assert '<a class="skip" href="#main">' in page.text
        assert '<link rel="stylesheet" href="/static/console.css">' in page.text
    css = alice.get("/static/console.css")
    assert css.status == 200 and ":focus-visible" in css.text


# --- the agents CLI ---------------------------------------------------------------------------


def test_the_agents_cli_creates_and_lists_agents(
    database_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("SECRET_KEY", "test-secret-key")
    monkeypatch.setattr("sys.stdin", io.StringIO(f"{PASSWORD}\n"))
    assert cli.main(["agents", "create", "carol", "--name", "Carol C", "--role", "admin",
                     "--password-stdin"]) == 0
    assert "created agent carol (Carol C), role admin" in capsys.readouterr().out

    answers = iter(["typed passphrase one", "typed passphrase two"])
    monkeypatch.setattr("getpass.getpass", lambda prompt="": next(answers))
    assert cli.main(["agents", "create", "dave"]) == 1
    assert "not the same" in capsys.readouterr().err
    answers = iter(["typed passphrase one", "typed passphrase one"])
    assert cli.main(["agents", "create", "dave"]) == 0
    monkeypatch.setattr("sys.stdin", io.StringIO("password123\n"))
    assert cli.main(["agents", "create", "erin", "--password-stdin"]) == 1
    assert "too common" in capsys.readouterr().err
    monkeypatch.setattr("sys.stdin", io.StringIO(f"{PASSWORD}\n"))
    assert cli.main(["agents", "create", "Bad Name", "--password-stdin"]) == 1

    assert cli.main(["agents", "list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["USERNAME", "NAME", "ROLE", "ACTIVE", "CREATED", "(UTC)",
                                "LAST", "SIGN-IN", "(UTC)"]
    assert [line.split()[0] for line in lines[1:]] == ["carol", "dave"]
    assert "admin" in lines[1] and "agent" in lines[2]
    assert PASSWORD not in "\n".join(lines)

    assert cli.main(["agents", "deactivate", "dave"]) == 0
    assert cli.main(["agents", "deactivate", "nobody"]) == 1
    engine = make_engine(database_url)
    try:
        service = AgentService(session_factory(engine))
        assert service.sign_in("carol", PASSWORD).outcome == "signed_in"
        assert service.sign_in("dave", "typed passphrase one").outcome == "refused"
    finally:
        engine.dispose()
