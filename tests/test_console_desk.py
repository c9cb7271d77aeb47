"""The agent's day in the console, served for real and driven over HTTP (urllib with a cookie
jar, and a raw HTTP connection for the server-sent events), on SQLite and PostgreSQL: ticket
search, assigning to another agent, canned replies, the live queue, the transcript beside the
facts, and the admins' knowledge pages. Time is an injected clock."""

from __future__ import annotations

import http.client
import json
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import Clock, LiveServer
from sqlalchemy import select
from test_console import (
    BASE_URL,
    BOB_PASSWORD,
    ESCAPED_XSS,
    PASSWORD,
    SECRET,
    START,
    XSS,
    Browser,
    Console,
)

from bot.console.agents import AgentService
from bot.console.canned_replies import CannedReplies, CannedReplyError, fill
from bot.console.ticket_desk import TicketDesk
from bot.console.ticket_search import SearchError, TicketSearch
from bot.db import make_engine, session_factory
from bot.knowledge.entries import load_knowledge
from bot.models import AgentSession, CannedReply, KnowledgeChange
from bot.recovery.service import RecoveryService
from bot.settings import Settings, SmtpSettings
from bot.web import SECURITY_HEADERS, create_app
from bot.web.console import CLOCK_KEY, CONSOLE_CSP, NLU_ADDITIONS_KEY
from bot.web.console_desk import QUEUE_POLL_KEY

SCHOOL_FACTS = {"full_name": "Jane O'Brien", "school": "North High", "district": "Worcester",
                "contact_email": "jane@example.org"}


@pytest.fixture
def desk(database_url: str, tmp_path: Path) -> Iterator[Console]:
    """The console of test_console.py, with the live queue checking every 0.1 s."""
    engine = make_engine(database_url)
    sessions = session_factory(engine)
    clock = Clock(START)
    agents = AgentService(sessions, clock=clock)
    agents.create("alice", PASSWORD, display_name="Alice Admin", role="admin")
    agents.create("bob", BOB_PASSWORD, display_name="Bob <b>Agent</b>", role="agent")
    settings = Settings(database_url=database_url, public_base_url=BASE_URL, secret_key=SECRET,
                        smtp=SmtpSettings())
    app = create_app(RecoveryService(sessions, BASE_URL, SECRET, clock=clock), settings)
    app[CLOCK_KEY] = clock
    app[NLU_ADDITIONS_KEY] = tmp_path / "console_additions.yml"
    app[QUEUE_POLL_KEY] = 0.1
    server = LiveServer(app).start()
    running = Console(server, sessions, clock, tmp_path / "console_additions.yml")
    yield running
    server.stop()
    engine.dispose()
    for reply in running.replies:  # every response: no caching, the console's headers
        assert reply.headers.get("Cache-Control") == "no-store", reply.status
        for name, value in {**SECURITY_HEADERS, "Content-Security-Policy": CONSOLE_CSP}.items():
            assert reply.headers.get(name) == value, (reply.status, name)


def rows_of(page: str) -> list[str]:
    return re.findall(r'<th scope="row"><a href="/console/tickets/(HD-\d{4}-\d{6})">', page)


def reactivation(desk: Console, name: str = "Jane O'Brien", email: str = "jane@example.org",
                 transcript: list[dict[str, str]] | None = None) -> str:
    return desk.file("reactivate_account", "massone",
                     facts={**SCHOOL_FACTS, "full_name": name, "contact_email": email},
                     transcript=transcript, email=email)


# --- search -------------------------------------------------------------------------------


def test_search_finds_tickets_by_reference_email_name_and_any_text(desk: Console) -> None:
    jane = reactivation(desk, transcript=[
        {"from": "user", "text": "my roster vanished overnight", "at": ""},
        {"from": "bot", "text": "What is your full name?", "at": ""}])
    error = desk.file("report_error", "ese_portal", email="sam@example.net",
                      facts={"doing_what": "uploading", "error_message": f"Error 500 {XSS}",
                             "browser": "Chrome 131", "operating_system": "Windows 11"})
    alice = desk.signed_in()
    note_form = alice.get(f"/console/tickets/{error}")
    alice.post(f"/console/tickets/{error}/notes",
               {"csrf_token": note_form.csrf(), "text": "Called Jane's district office"})

    def found(query: str) -> list[str]:
        reply = alice.get("/console/search?" + urllib_query(q=query))
        assert reply.status == 200, reply.text
        return rows_of(reply.text)

    assert found("JANE@example") == [jane]
    assert found("o'brien") == [jane]
    assert found("jane north") == [jane]  # every word, anywhere in the ticket
    assert found("jane") == [error, jane]  # the note names her too; newest first
    assert found("vanished overnight") == [jane]  # what the user typed in the chat
    assert found("full name") == []  # the bot's own lines are not searched
    assert found("district office") == [error]  # agents' notes
    assert found("error_message") == []  # field names are not searched
    assert found("windows 11") == [error]
    assert found("100%") == []
    results = alice.get("/console/search?" + urllib_query(q=XSS))
    assert results.status == 200 and XSS not in results.text and ESCAPED_XSS in results.text
    assert rows_of(results.text) == [error]

    exact = alice.get("/console/search?" + urllib_query(q=f" {jane.lower()} "))
    assert exact.status == 303 and exact.location == f"/console/tickets/{jane}"
    missing = alice.get("/console/search?q=HD-2031-999999")
    assert missing.status == 200 and "0 tickets" in missing.text
    short = alice.get("/console/search?q=a")
    assert short.status == 400 and "at least 2 characters" in short.text
    assert alice.get("/console/search?q=ab&page=0").status == 400
    assert alice.get("/console/search").status == 200
    assert desk.browser().get("/console/search?q=jane").status == 303  # signed out: sign in

    searches = desk.audit("tickets_searched")
    assert json.loads(searches[0].detail) == {"query": "JANE@example", "results": 1, "page": 1}
    assert {entry.agent_id for entry in searches} == {
        AgentService(desk.sessions).get("alice").id}


def urllib_query(**values: str) -> str:
    from urllib.parse import urlencode

    return urlencode(values)


def test_search_pages_fifty_tickets_at_a_time(desk: Console) -> None:
    references = [reactivation(desk, email=f"user{n}@example.org") for n in range(52)]
    alice = desk.signed_in()
    first = alice.get("/console/search?q=worcester")
    assert "52 tickets" in first.text and rows_of(first.text) == references[::-1][:50]
    second = alice.get("/console/search?q=worcester&page=2")
    assert rows_of(second.text) == references[::-1][50:]


# --- assigning ------------------------------------------------------------------------------


def test_a_ticket_is_assigned_to_another_agent_or_to_nobody(desk: Console) -> None:
    reference = reactivation(desk)
    alice = desk.signed_in()
    page = alice.get(f"/console/tickets/{reference}")
    assert '<option value="bob">Bob &lt;b&gt;Agent&lt;/b&gt; (bob)</option>' in page.text
    token = page.csrf()
    to_bob = alice.post(f"/console/tickets/{reference}/assign",
                        {"csrf_token": token, "assignee": "bob"})
    assert to_bob.location == f"/console/tickets/{reference}?done=reassigned"
    bob_id = AgentService(desk.sessions).get("bob").id
    assert desk.ticket(reference).assignee_id == bob_id
    shown = alice.get(to_bob.location).text
    assert "The ticket&#39;s assignee was changed." in shown
    assert "<dd>Bob &lt;b&gt;Agent&lt;/b&gt;</dd>" in shown
    queue = alice.get("/console").text
    assert "<td>Bob &lt;b&gt;Agent&lt;/b&gt;</td>" in queue and "<b>Agent</b>" not in queue

    again = alice.post(f"/console/tickets/{reference}/assign",
                       {"csrf_token": token, "assignee": "bob"})
    assert again.location.endswith("?done=unchanged")
    unknown = alice.post(f"/console/tickets/{reference}/assign",
                         {"csrf_token": token, "assignee": "mallory"})
    assert unknown.status == 400 and "There is no active agent" in unknown.text
    AgentService(desk.sessions).create("carol", "a third long passphrase")
    AgentService(desk.sessions).deactivate("carol")
    gone = alice.post(f"/console/tickets/{reference}/assign",
                      {"csrf_token": token, "assignee": "carol"})
    assert gone.status == 400
    forged = alice.post(f"/console/tickets/{reference}/assign", {"assignee": "alice"})
    assert forged.status == 403
    assert desk.ticket(reference).assignee_id == bob_id

    nobody = alice.post(f"/console/tickets/{reference}/assign",
                        {"csrf_token": token, "assignee": ""})
    assert nobody.location.endswith("?done=reassigned")
    assert desk.ticket(reference).assignee_id is None
    mine = alice.post(f"/console/tickets/{reference}/assign", {"csrf_token": token})
    assert mine.location.endswith("?done=assigned")  # the "Assign to me" button
    details = [json.loads(event.detail) for event in desk.events(reference, "assigned")]
    assert details == [{"previous": None, "assignee": "bob"},
                       {"previous": "bob", "assignee": None},
                       {"previous": None, "assignee": "alice"}]
    assert {event.actor for event in desk.events(reference, "assigned")} == {"agent:alice"}
    history = alice.get(f"/console/tickets/{reference}").text
    assert "Unassigned (was bob)" in history


# --- canned replies -----------------------------------------------------------------------


def test_admins_manage_canned_replies_and_agents_insert_them_filled_in(desk: Console) -> None:
    named = reactivation(desk)
    nameless = desk.file("human_handoff", None, facts={"summary": "help"},
                         email="someone@example.org")
    bob = desk.signed_in("bob", BOB_PASSWORD)
    listing = bob.get("/console/canned")
    assert listing.status == 200 and "None yet." in listing.text
    assert 'action="/console/canned"' not in listing.text  # not an admin: no form
    refused = bob.post("/console/canned", {"csrf_token": listing.csrf(), "title": "Hi",
                                           "body": "Hello"})
    assert refused.status == 403 and "Only admins" in refused.text

    alice = desk.signed_in()
    form = alice.get("/console/canned")
    token = form.csrf()
    body = f"Hello {{first_name}},\n\nYour request {{reference}} is done. {XSS}"
    for fields, problem in (
        ({"title": "", "body": body}, "The title is empty"),
        ({"title": "Done", "body": "  "}, "The text is empty"),
        ({"title": "Done", "body": "Hello {name}"}, "“{name}” is not a placeholder"),
        ({"title": "Done", "body": "Hello {first_name"}, "has lost its pair"),
        ({"title": "x" * 81, "body": body}, "too long"),
    ):
        bad = alice.post("/console/canned", {"csrf_token": token, **fields})
        assert bad.status == 400 and problem in bad.text, fields
        assert "Nothing was saved." in bad.text
        assert f">{html_escape(fields['body'])}</textarea>" in bad.text  # kept
    assert alice.post("/console/canned", {"title": "Done", "body": body}).status == 403
    with desk.sessions() as session:
        assert session.execute(select(CannedReply)).first() is None

    created = alice.post("/console/canned", {"csrf_token": token, "title": f"Done {XSS}",
                                             "body": body})
    assert created.status == 303 and created.location == "/console/canned?done=created"
    shown = alice.get(created.location).text
    assert "The canned reply was added." in shown
    assert XSS not in shown and ESCAPED_XSS in shown
    duplicate = alice.post("/console/canned", {"csrf_token": token, "title": f"DONE {XSS}",
                                               "body": "x"})
    assert duplicate.status == 400 and "Another canned reply has this title" in duplicate.text
    with desk.sessions() as session:
        reply_id = session.execute(select(CannedReply.id)).scalar_one()

    page = bob.get(f"/console/tickets/{named}")
    filled = f"Hello Jane,\n\nYour request {named} is done. {XSS}"
    assert f'data-text="{html_escape(filled)}"' in page.text
    assert XSS not in page.text
    assert "No name is known" not in page.text
    no_script = bob.get(f"/console/tickets/{named}?canned={reply_id}")
    assert f">{html_escape(filled)}</textarea>" in no_script.text
    nameless_page = bob.get(f"/console/tickets/{nameless}?canned={reply_id}")
    assert f">{html_escape(f'Hello,{chr(10)}{chr(10)}Your request {nameless} is done. {XSS}')}" \
           f"</textarea>" in nameless_page.text
    assert "No name is known for this ticket" in nameless_page.text

    assert bob.get(f"/console/canned/{reply_id}").status == 403
    edit = alice.get(f"/console/canned/{reply_id}")
    assert edit.status == 200 and 'action="/console/canned/' in edit.text
    changed = alice.post(f"/console/canned/{reply_id}",
                         {"csrf_token": token, "title": "Done", "body": "Dear {first_name}."})
    assert changed.location == "/console/canned?done=updated"
    same = alice.post(f"/console/canned/{reply_id}",
                      {"csrf_token": token, "title": "Done", "body": "Dear {first_name}."})
    assert same.location == "/console/canned?done=unchanged"
    broken = alice.post(f"/console/canned/{reply_id}",
                        {"csrf_token": token, "title": "Done", "body": "Dear {firstname}."})
    assert broken.status == 400 and ">Dear {firstname}.</textarea>" in broken.text
    assert bob.post(f"/console/canned/{reply_id}/delete", {"csrf_token": token}).status == 403
    deleted = alice.post(f"/console/canned/{reply_id}/delete", {"csrf_token": token})
    assert deleted.location == "/console/canned?done=deleted"
    assert alice.get(f"/console/canned/{reply_id}").status == 404
    assert alice.post(f"/console/canned/{reply_id}/delete", {"csrf_token": token}).status == 404
    assert [len(desk.audit(action)) for action in (
        "canned_reply_created", "canned_reply_updated", "canned_reply_deleted")] == [1, 1, 1]
    assert json.loads(desk.audit("canned_reply_deleted")[0].detail)["body"] == "Dear {first_name}."


def html_escape(text: str) -> str:
    from markupsafe import escape

    return str(escape(text))


def test_canned_reply_placeholders() -> None:
    assert fill("Hi {first_name}, about {reference}.", "Jane", "HD-2031-000001") == (
        "Hi Jane, about HD-2031-000001.")
    assert fill("Hi {first_name}, about {reference}.", None, "HD-2031-000001") == (
        "Hi, about HD-2031-000001.")
    assert fill("{first_name}: {reference}", None, "HD-1") == ": HD-1"


def test_canned_replies_only_for_admins_in_the_service(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        sessions = session_factory(engine)
        agent = AgentService(sessions).create("dave", "yet another passphrase")
        with pytest.raises(PermissionError):
            CannedReplies(sessions).create(agent, "Title", "Body")
        admin = AgentService(sessions).create("erin", "yet another passphrase", role="admin")
        with pytest.raises(CannedReplyError, match="no longer exists"):
            CannedReplies(sessions).update(admin, 99, "Title", "Body")
        with pytest.raises(SearchError, match="at least 2"):
            TicketSearch(sessions).search(admin, " x ")
    finally:
        engine.dispose()


# --- the live queue -------------------------------------------------------------------------


class EventStream:
    """A real HTTP connection reading the queue's server-sent events."""

    def __init__(self, desk: Console, browser: Browser, query: str) -> None:
        cookies = "; ".join(f"{c.name}={c.value}" for c in browser.jar)
        self.connection = http.client.HTTPConnection("127.0.0.1", desk.server.port, timeout=10)
        self.connection.request("GET", f"/console/queue/events?{query}",
                                headers={"Cookie": cookies, "Accept": "text/event-stream"})
        self.response = self.connection.getresponse()

    def next_event(self) -> tuple[str, dict]:
        name, data = "message", ""
        while True:
            line = self.response.readline().decode("utf-8")
            if line == "":
                raise EOFError("the stream closed")
            line = line.rstrip("\n")
            if line == "" and data:
                return name, json.loads(data)
            if line.startswith("event: "):
                name = line[7:]
            elif line.startswith("data: "):
                data += line[6:]

    def close(self) -> None:
        self.connection.close()


def test_the_queue_streams_new_and_changed_tickets_until_the_session_ends(
    desk: Console,
) -> None:
    first = reactivation(desk, email="first@example.org")
    alice = desk.signed_in()
    page = alice.get("/console")
    since = re.search(r'id="queue-live" data-since="(\d+)"', page.text).group(1)
    assert '<script src="/static/console.js" defer></script>' in page.text
    assert desk.browser().get("/console/queue/events").status == 204  # no session: stop
    assert alice.get("/console/queue/events?status=nope").status == 400

    stream = EventStream(desk, alice, f"since={since}")
    try:
        assert stream.response.status == 200
        assert stream.response.getheader("Content-Type") == "text/event-stream"
        assert stream.response.getheader("Content-Security-Policy") == CONSOLE_CSP
        name, data = stream.next_event()
        assert name == "queue" and data["new"] == 0 and rows_of(data["html"]) == [first]

        with desk.sessions() as session:
            seen_before = session.execute(select(AgentSession.last_seen_at)).scalar_one()
        second = reactivation(desk, email="second@example.org")
        name, data = stream.next_event()
        assert name == "queue" and data["new"] == 1
        assert rows_of(data["html"]) == [second, first]
        assert data["latest"] == int(second.rsplit("-", 1)[1])
        assert re.search(rf'{second}</a> <strong class="new-flag">New</strong>', data["html"])
        assert f'{first}</a> <strong class="new-flag">' not in data["html"]
        assert 'data-status="unresolved">2<' in data["html"]

        TicketDesk(desk.sessions, desk.clock).assign(
            AgentService(desk.sessions).get("alice"), first, "bob")
        name, data = stream.next_event()  # a change to a ticket, not only new ones
        assert "<td>Bob &lt;b&gt;Agent&lt;/b&gt;</td>" in data["html"]
        assert "<b>Agent</b>" not in data["html"]

        time.sleep(0.5)  # several checks: watching does not keep the session alive
        with desk.sessions() as session:
            assert session.execute(select(AgentSession.last_seen_at)).scalar_one() == seen_before
        desk.clock.advance(minutes=31)
        assert stream.next_event()[0] == "ended"
        with pytest.raises(EOFError):
            stream.next_event()
    finally:
        stream.close()


def test_the_live_queue_keeps_to_the_filters(desk: Console) -> None:
    reactivation(desk, email="first@example.org")
    alice = desk.signed_in()
    stream = EventStream(desk, alice, "kind=report_error&since=1")
    try:
        assert rows_of(stream.next_event()[1]["html"]) == []
        error = desk.file("report_error", "massone")
        reactivation(desk, email="second@example.org")
        name, data = stream.next_event()
        while rows_of(data["html"]) != [error]:  # the two tickets may arrive in two events
            name, data = stream.next_event()
        assert data["new"] == 1
    finally:
        stream.close()


# --- the ticket page ----------------------------------------------------------------------


def test_the_transcript_sits_beside_the_facts(desk: Console) -> None:
    reference = reactivation(desk, transcript=[{"from": "user", "text": XSS, "at": ""}])
    page = desk.signed_in().get(f"/console/tickets/{reference}").text
    layout = page.index('<div class="ticket-layout">')
    assert layout < page.index('id="facts"') < page.index('id="transcript"')
    assert XSS not in page and ESCAPED_XSS in page
    css = Browser(desk.server.url, []).get("/static/console.css").text
    assert ".ticket-layout { display: grid; grid-template-columns: minmax(0, 1fr);" in css
    assert "@media (min-width: 64rem)" in css


# --- the knowledge pages --------------------------------------------------------------------


def test_admins_review_and_edit_answers_and_the_help_page_shows_them(desk: Console) -> None:
    bob = desk.signed_in("bob", BOB_PASSWORD)
    assert bob.get("/console/knowledge").status == 403
    assert bob.get("/console/knowledge/massone_cost").status == 403
    queue = bob.get("/console")
    assert 'href="/console/knowledge"' not in queue.text
    refused = bob.post("/console/knowledge/massone_cost/answer",
                       {"csrf_token": queue.csrf(), "variant": "", "text": "x", "seen": "0"})
    assert refused.status == 403

    alice = desk.signed_in()
    listing = alice.get("/console/knowledge")
    assert listing.status == 200
    ids = re.findall(r'<a href="/console/knowledge/([a-z_]+)">', listing.text)
    assert len(ids) == len(load_knowledge().entries)
    assert ids.index("ese_portal_about") < ids.index("massone_browser_support")  # never first
    assert "names Internet Explorer 6: Microsoft retired it in 2022" in listing.text
    assert "November 27, 2007" in listing.text
    flagged = alice.get("/console/knowledge?show=flagged")
    assert "massone_eligibility" not in flagged.text and "massone_browser_support" in flagged.text
    assert alice.get("/console/knowledge?show=all").status == 400
    assert alice.get("/console/knowledge/no_such_entry").status == 404

    entry = alice.get("/console/knowledge/massone_cost")
    assert entry.status == 200 and "{contact.massone_helpdesk.phone}" in entry.text
    token = entry.csrf()
    broken = "Free. Call {contact.massone_helpdesk.phon} " + XSS
    refused = alice.post("/console/knowledge/massone_cost/answer",
                         {"csrf_token": token, "variant": "", "text": broken, "seen": "0"})
    assert refused.status == 400
    assert "Did you mean {contact.massone_helpdesk.phone}?" in refused.text
    assert "Nothing was saved." in refused.text
    assert f">{html_escape(broken)}</textarea>" in refused.text and XSS not in refused.text
    no_token = alice.post("/console/knowledge/massone_cost/answer",
                          {"variant": "", "text": "Free.", "seen": "0"})
    assert no_token.status == 403
    with desk.sessions() as session:
        assert session.execute(select(KnowledgeChange)).first() is None

    text = f"No. MassONE is free; questions to {{contact.massone_helpdesk.phone}}. {XSS}"
    saved = alice.post("/console/knowledge/massone_cost/answer",
                       {"csrf_token": token, "variant": "", "text": text, "seen": "0"})
    assert saved.status == 303
    assert saved.location == "/console/knowledge/massone_cost?done=edited#top"
    after = alice.get(saved.location)
    assert "The answer was saved: the bot gives it from now on." in after.text
    assert "No. MassONE is free; questions to 781-338-3020." in after.text
    assert ("<ins>MassONE is free; questions to {contact.massone_helpdesk.phone}. "
            f"{ESCAPED_XSS}</ins>") in after.text
    assert XSS not in after.text
    stale = alice.post("/console/knowledge/massone_cost/answer",
                       {"csrf_token": token, "variant": "", "text": "Free.", "seen": "0"})
    assert stale.status == 400 and "Someone else changed this answer" in stale.text
    assert ">Free.</textarea>" in stale.text

    help_page = Browser(desk.server.url, []).get("/help/massone_faq")  # not a console page
    # the help page links the phone number (tel:)
    assert ('No. MassONE is free; questions to <a href="tel:+17813383020">781-338-3020</a>.'
            in help_page.text)
    assert XSS not in help_page.text

    reviewed = alice.post("/console/knowledge/massone_cost/reviewed", {"csrf_token": token})
    assert reviewed.location == "/console/knowledge/massone_cost?done=reviewed#top"
    assert "May 6, 2031 (in the console)" in alice.get(reviewed.location).text
    assert len(desk.audit("knowledge_edited")) == 1
    assert len(desk.audit("knowledge_reviewed")) == 1
