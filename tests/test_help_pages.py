"""The help pages, their chat widget's files and the rating endpoint (`bot.web.help_pages`),
served for real and driven over HTTP with urllib.

Each test runs the app on a free 127.0.0.1 port in a background thread, against a migrated
database (SQLite and PostgreSQL); no mocks.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser

import pytest
from conftest import LiveServer
from sqlalchemy import select
from sqlalchemy.orm import sessionmaker

from bot.db import make_engine, session_factory
from bot.knowledge.entries import SYSTEMS, Answer, KnowledgeBase
from bot.models import Rating
from bot.recovery.service import RecoveryService
from bot.services import conversation_key
from bot.settings import DEFAULT_CHAT_URL, Settings, SmtpSettings
from bot.web import SECURITY_HEADERS, create_app
from bot.web.help_pages import Segment, content_security_policy, link_segments
from bot.web.templating import environment

BASE_URL = "https://help.example.org"
CHAT_URL = "https://chat.example.org"
SECRET = b"test-secret-key-not-for-production"
DOCUMENTS = ("ese_login_help", "massone_faq")
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self' wss://chat.example.org https://chat.example.org; form-action 'self'; "
    "base-uri 'none'; frame-ancestors 'none'"
)
SESSION = "0123456789abcdef0123456789abcdef"


# --- the server -----------------------------------------------------------------------------


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode("utf-8")

    def json(self) -> object:
        return json.loads(self.body)


@dataclass
class Site:
    url: str
    sessions: sessionmaker
    replies: list[Reply] = field(default_factory=list)

    def send(self, path: str, *, method: str = "GET", body: bytes | Iterable[bytes] | None = None,
             headers: dict[str, str] | None = None) -> Reply:
        request = urllib.request.Request(self.url + path, data=body, method=method,
                                         headers=headers or {})
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                reply = Reply(response.status, dict(response.headers), response.read())
        except urllib.error.HTTPError as error:
            with error:
                reply = Reply(error.code, dict(error.headers), error.read())
        self.replies.append(reply)
        return reply

    def get(self, path: str) -> Reply:
        return self.send(path)

    def rate(self, payload: object = None, *, body: bytes | None = None,
             content_type: str = "application/json", origin: str | None = BASE_URL) -> Reply:
        headers = {"Content-Type": content_type}
        if origin is not None:
            headers["Origin"] = origin
        data = body if body is not None else json.dumps(payload).encode()
        return self.send("/api/rating", method="POST", body=data, headers=headers)

    def ratings(self) -> list[Rating]:
        with self.sessions() as session:
            return list(session.execute(select(Rating).order_by(Rating.id)).scalars())


@pytest.fixture
def site(database_url: str) -> Iterator[Site]:
    engine = make_engine(database_url)
    sessions = session_factory(engine)
    service = RecoveryService(sessions, BASE_URL, SECRET)
    settings = Settings(database_url, BASE_URL, SECRET, SmtpSettings(), chat_url=CHAT_URL)
    server = LiveServer(create_app(service, settings)).start()
    running = Site(f"http://127.0.0.1:{server.port}", sessions)
    yield running
    server.stop()
    engine.dispose()
    for reply in running.replies:  # every response keeps the common security headers
        for name in ("Referrer-Policy", "Cache-Control", "X-Content-Type-Options",
                     "X-Frame-Options"):
            assert reply.headers.get(name) == SECURITY_HEADERS[name], (reply.status, name)
        assert "Content-Security-Policy" in reply.headers


# --- reading pages --------------------------------------------------------------------------


class Page(HTMLParser):
    """What the tests look at in a page: ids (with their enclosing section), links, scripts,
    styles and event-handler attributes."""

    VOID = {"meta", "link", "input", "br", "img", "hr"}

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.ids: list[str] = []
        self.section_of: dict[str, str | None] = {}
        self.links: list[tuple[str, str]] = []  # (href, text)
        self.scripts: list[dict[str, str | None]] = []
        self.script_text = ""
        self.styles = 0
        self.handlers: list[str] = []
        self.elements: dict[str, dict[str, str | None]] = {}
        self.labels: dict[str, str] = {}  # for= -> text
        self._stack: list[tuple[str, str | None]] = []  # (tag, section id)
        self._in: str | None = None
        self._href: str | None = None
        self._text = ""
        self._label: str | None = None
        self.feed(text)

    def _section(self) -> str | None:
        return next((section for _tag, section in reversed(self._stack) if section), None)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        element_id = attributes.get("id")
        if element_id:
            self.ids.append(element_id)
            self.section_of[element_id] = self._section()
            self.elements[element_id] = {"tag": tag, **attributes}
        self.handlers += [name for name in attributes if name.startswith("on")]
        if "style" in attributes:
            self.styles += 1
        if tag == "style":
            self.styles += 1
        if tag == "script":
            self.scripts.append(attributes)
            self._in = "script"
        if tag == "a":
            self._href, self._text = attributes.get("href"), ""
        if tag == "label":
            self._label, self._text = attributes.get("for"), ""
        if tag not in self.VOID:
            self._stack.append((tag, element_id if tag == "section" else None))

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in = None
        if tag == "a" and self._href is not None:
            self.links.append((self._href, self._text))
            self._href = None
        if tag == "label" and self._label is not None:
            self.labels[self._label] = self._text.strip()
            self._label = None
        while self._stack:
            if self._stack.pop()[0] == tag:
                break

    def handle_data(self, data: str) -> None:
        if self._in == "script":
            self.script_text += data
        self._text += data


@pytest.fixture
def pages(site: Site) -> dict[str, Page]:
    pages = {}
    for document_id in DOCUMENTS:
        reply = site.get(f"/help/{document_id}")
        assert reply.status == 200
        assert reply.headers["Content-Type"].startswith("text/html")
        pages[document_id] = Page(reply.text)
    return pages


def answers(kb: KnowledgeBase, entry_id: str) -> list[Answer]:
    """Every answer the bot can give for `entry_id`: without a system and for each system."""
    found = []
    for system in (None, *SYSTEMS):
        answer = kb.resolve(entry_id, system)
        if isinstance(answer, Answer):
            found.append(answer)
    return found


# --- the pages ------------------------------------------------------------------------------


def test_the_index_links_both_documents_and_their_sections(site: Site, kb: KnowledgeBase) -> None:
    reply = site.get("/")
    assert reply.status == 200
    assert reply.headers["Content-Security-Policy"] == CSP
    page = Page(reply.text)
    hrefs = {href for href, _text in page.links}
    for document_id, document in kb.documents.items():
        assert (f"/help/{document_id}", document["title"]) in page.links
        for section_id in document["sections"]:
            assert f"/help/{document_id}#{section_id}" in hrefs
    assert "chat-open" in page.ids


def test_every_faq_is_on_its_page_where_its_source_url_points(
    pages: dict[str, Page], kb: KnowledgeBase
) -> None:
    checked = 0
    for entry_id in kb.faq_ids():
        for answer in answers(kb, entry_id):
            source_url = answer.payload()["source_url"]
            assert source_url == f"/help/{answer.document_id}#{answer.section_id}"
            page = pages[answer.document_id]
            assert page.elements[answer.section_id]["tag"] == "section", source_url
            assert answer.entry_id in page.ids, (answer.entry_id, source_url)
            checked += 1
    assert checked >= len(kb.faq_ids())


def test_each_page_shows_every_faq_of_its_document_in_its_section(
    site: Site, pages: dict[str, Page], kb: KnowledgeBase
) -> None:
    for document_id in DOCUMENTS:
        page, text = pages[document_id], site.get(f"/help/{document_id}").text
        listed = kb.document_answers(document_id)
        assert {answer.kind for answer in listed} == {"faq", "flow"}
        for answer in listed:
            assert page.section_of[answer.entry_id] == answer.section_id, answer.entry_id
            if answer.kind == "faq":
                assert page.elements[answer.entry_id]["tag"] == "article"
                question = kb.entries[answer.entry_id].question
                assert question.replace("'", "&#39;") in text, answer.entry_id
        assert len(page.ids) == len(set(page.ids)), "ids must be unique"
        faq_ids = {answer.entry_id for answer in listed if answer.kind == "faq"}
        assert faq_ids == {
            entry_id for entry_id in kb.faq_ids()
            if any(a.entry_id == entry_id and a.document_id == document_id
                   for a in answers(kb, entry_id))
        }


def test_the_assistant_s_tasks_are_offered_as_questions_to_ask(
    site: Site, pages: dict[str, Page]
) -> None:
    page = pages["ese_login_help"]
    assert page.section_of["forgot_password"] == "find"
    text = site.get("/help/ese_login_help").text
    assert ('data-ask="I forgot my password.">Ask the assistant: “I forgot my password.”'
            in text)
    assert "forgot_password" in pages["massone_faq"].ids  # MassONE resets passwords too


def test_urls_and_email_addresses_in_answers_are_links(pages: dict[str, Page]) -> None:
    massone = set(pages["massone_faq"].links)
    assert ("mailto:massonehelp@doe.mass.edu", "massonehelp@doe.mass.edu") in massone
    assert ("http://massone.mass.edu/", "http://massone.mass.edu/") in massone
    ese = set(pages["ese_login_help"].links)
    directory = "http://www.doe.mass.edu/infoservices/data/diradmin/list.aspx"
    assert (directory, directory) in ese
    assert ("mailto:loginhelp@doe.mass.edu", "loginhelp@doe.mass.edu") in ese
    assert ("tel:+17813386600", "(781) 338-6600") in ese  # phone numbers to tap
    for page in pages.values():
        for href, text in page.links:
            assert href.startswith(("/", "#", "http://", "https://", "mailto:", "tel:+1")), href
            assert not href.endswith((".", ",", ")")), href
            if href.startswith(("http", "mailto:")):
                assert href.removeprefix("mailto:") == text


def test_link_segments_cut_text_into_plain_pieces_and_links() -> None:
    text = ("Mail help@example.org, see (http://example.org/a?b=1&c=2). "
            "Or https://example.org/x_(y). Not ftp://example.org or javascript:alert(1).")
    assert link_segments(text) == [
        Segment("Mail "),
        Segment("help@example.org", "mailto:help@example.org"),
        Segment(", see ("),
        Segment("http://example.org/a?b=1&c=2", "http://example.org/a?b=1&c=2"),
        Segment("). Or "),
        Segment("https://example.org/x_(y)", "https://example.org/x_(y)"),
        Segment(". Not ftp://example.org or javascript:alert(1)."),
    ]
    assert link_segments("no links here") == [Segment("no links here")]


def test_answer_text_is_escaped_even_inside_links() -> None:
    answer_text = environment().get_template("macros.html").module.answer_text
    html = str(answer_text([
        Segment("<b>bold</b> & "),
        Segment('http://x.org/"><script>', 'http://x.org/"><script>'),
    ]))
    assert html == ("&lt;b&gt;bold&lt;/b&gt; &amp; <a href=\"http://x.org/&#34;&gt;&lt;script&gt;\">"
                    "http://x.org/&#34;&gt;&lt;script&gt;</a>")


def test_pages_have_the_strict_policy_and_no_inline_script_or_style(site: Site) -> None:
    for path in ("/", "/help/ese_login_help", "/help/massone_faq"):
        reply = site.get(path)
        assert reply.headers["Content-Security-Policy"] == CSP
        page = Page(reply.text)
        assert page.scripts == [{"src": "/static/chat.js", "defer": None}]
        assert page.script_text.strip() == ""
        assert page.styles == 0 and page.handlers == []
        assert '<link rel="stylesheet" href="/static/site.css">' in reply.text
        assert '<link rel="stylesheet" href="/static/chat.css">' in reply.text


def test_the_policy_follows_the_chat_server_s_scheme() -> None:
    assert "connect-src 'self' ws://127.0.0.1:5005 http://127.0.0.1:5005;" in (
        content_security_policy(DEFAULT_CHAT_URL))
    assert "connect-src 'self' wss://bot.example.org https://bot.example.org;" in (
        content_security_policy("https://bot.example.org:443/rasa"))
    with pytest.raises(ValueError):
        content_security_policy("javascript:alert(1)")


def test_the_chat_widget_is_on_every_help_page_and_easy_to_find(pages: dict[str, Page]) -> None:
    for page in pages.values():
        assert page.elements["chat"]["data-chat-url"] == CHAT_URL
        assert page.elements["chat-open"]["tag"] == "button"
        assert page.elements["chat-log"]["role"] == "log"
        assert page.elements["chat-input"]["tag"] == "input"
        assert page.labels["chat-input"] == "Message"
        assert page.elements["chat-send"]["type"] == "submit"
        assert page.elements["chat-panel"]["role"] == "dialog"


def test_chat_widget_markup_names_its_controls(site: Site) -> None:
    text = site.get("/").text
    assert ">Chat with the help desk assistant</button>" in text
    assert '<button type="submit" id="chat-send" class="chat-send">Send</button>' in text


def test_settings_read_the_chat_url_from_the_environment(
    monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SECRET_KEY", "x")
    monkeypatch.delenv("RASA_PUBLIC_URL", raising=False)
    assert Settings.from_env().chat_url == "http://127.0.0.1:5005"
    monkeypatch.setenv("RASA_PUBLIC_URL", "https://bot.example.org/")
    assert Settings.from_env().chat_url == "https://bot.example.org"


def test_an_unknown_document_is_a_404(site: Site) -> None:
    reply = site.get("/help/no_such_document")
    assert reply.status == 404 and "Page not found" in reply.text


def test_the_widget_s_files_are_served_with_their_types(site: Site) -> None:
    script = site.get("/static/chat.js")
    assert script.status == 200
    assert script.headers["Content-Type"].split(";")[0] in {"text/javascript",
                                                            "application/javascript"}
    assert "innerHTML" not in script.text and "eval(" not in script.text
    assert "EIO=4&transport=websocket" in script.text
    for name in ("chat.css", "site.css"):
        style = site.get(f"/static/{name}")
        assert style.status == 200 and style.headers["Content-Type"].startswith("text/css")
    assert site.get("/static/").status in (403, 404)  # no directory listing


# --- the rating endpoint --------------------------------------------------------------------


def test_a_rating_is_stored_under_the_conversation_s_hash(site: Site) -> None:
    reply = site.rate({"session_id": SESSION, "helpful": True})
    assert reply.status == 204 and reply.body == b""
    [rating] = site.ratings()
    assert rating.conversation_id == conversation_key(SESSION)
    assert SESSION not in rating.conversation_id
    assert rating.helpful == 1
    assert rating.created_at is not None and rating.updated_at is not None


def test_a_second_rating_replaces_the_first(site: Site) -> None:
    assert site.rate({"session_id": SESSION, "helpful": True}).status == 204
    [first] = site.ratings()
    assert site.rate({"session_id": SESSION, "helpful": False}).status == 204
    [rating] = site.ratings()
    assert (rating.id, rating.helpful) == (first.id, 0)
    assert rating.updated_at >= first.updated_at
    assert site.rate({"session_id": "another-session", "helpful": True}).status == 204
    assert [r.helpful for r in site.ratings()] == [0, 1]


def test_a_request_without_an_origin_header_is_accepted(site: Site) -> None:
    assert site.rate({"session_id": SESSION, "helpful": False}, origin=None).status == 204
    assert site.rate({"session_id": SESSION, "helpful": True},
                     origin="HTTPS://Help.Example.org").status == 204
    assert [r.helpful for r in site.ratings()] == [1]


@pytest.mark.parametrize("origin", ["https://evil.example", "http://help.example.org",
                                    "https://help.example.org:8443", "null"])
def test_a_foreign_origin_is_refused(site: Site, origin: str) -> None:
    reply = site.rate({"session_id": SESSION, "helpful": True}, origin=origin)
    assert reply.status == 403
    assert reply.headers["Content-Type"].startswith("application/json")
    assert "error" in reply.json()
    assert site.ratings() == []


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"",
        b"\xff\xfe",
        b"[]",
        b'"text"',
        b'{"helpful": true}',
        b'{"session_id": "0123456789abcdef"}',
        b'{"session_id": "0123456789abcdef", "helpful": "true"}',
        b'{"session_id": "0123456789abcdef", "helpful": 1}',
        b'{"session_id": "0123456789abcdef", "helpful": null}',
        b'{"session_id": "short", "helpful": true}',
        json.dumps({"session_id": "x" * 129, "helpful": True}).encode(),
        b'{"session_id": "has space in it", "helpful": true}',
        b'{"session_id": "<script>alert(1)</script>", "helpful": true}',
        b'{"session_id": 12345678, "helpful": true}',
    ],
)
def test_bad_bodies_are_a_json_400(site: Site, body: bytes) -> None:
    reply = site.rate(body=body)
    assert reply.status == 400
    assert reply.headers["Content-Type"].startswith("application/json")
    assert isinstance(reply.json()["error"], str)
    assert b"<script>" not in reply.body
    assert site.ratings() == []


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded",
                                          "multipart/form-data; boundary=x"])
def test_only_json_is_accepted(site: Site, content_type: str) -> None:
    reply = site.rate({"session_id": SESSION, "helpful": True}, content_type=content_type)
    assert reply.status == 400 and "JSON" in reply.json()["error"]
    assert site.ratings() == []


def test_json_with_a_charset_is_fine(site: Site) -> None:
    reply = site.rate({"session_id": SESSION, "helpful": True},
                      content_type="application/json; charset=utf-8")
    assert reply.status == 204


def test_a_body_over_1_kb_is_refused(site: Site) -> None:
    padded = {"session_id": SESSION, "helpful": True, "padding": "x" * 1024}
    assert site.rate(padded).status == 400
    # the same without a Content-Length (chunked): refused after reading just past the limit
    body = json.dumps(padded).encode()
    chunks = (body[i:i + 100] for i in range(0, len(body), 100))
    reply = site.send("/api/rating", method="POST", body=chunks,
                      headers={"Content-Type": "application/json", "Origin": BASE_URL})
    assert reply.status == 400 and "1024 bytes" in reply.json()["error"]
    assert site.ratings() == []
    small = {"session_id": SESSION, "helpful": True, "padding": "x" * 900}
    assert site.rate(small).status == 204


def test_rating_only_takes_posts(site: Site) -> None:
    assert site.get("/api/rating").status == 405
