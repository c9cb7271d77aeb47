"""The help pages: the two documents rendered from knowledge/, with the chat, and the chat's
rating endpoint.

`GET /` lists the documents, `GET /help/{document_id}` shows one by section: every question
with its answer (URLs and e-mail addresses as links), and what the assistant can do for the
reader. `POST /api/rating` stores whether a conversation was helpful. Pages carry their own
Content-Security-Policy: scripts and styles from this app only, connections to this app and the
Rasa server (`RASA_PUBLIC_URL`).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from bot.knowledge.entries import Answer, KnowledgeBase, load_knowledge
from bot.models import Rating
from bot.services import conversation_key
from bot.web.common import SESSIONS_KEY, SETTINGS_KEY
from bot.web.templating import render

log = logging.getLogger(__name__)

MAX_RATING_BYTES = 1024
_SESSION_ID = re.compile(r"[A-Za-z0-9_-]{8,128}")
# URLs (http and https only) and e-mail addresses; a URL's trailing punctuation is the sentence's.
_LINKABLE = re.compile(
    r"(?P<url>https?://[^\s<>\"']+)"
    r"|(?P<email>[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,})"
    r"|(?P<phone>(?:\+?1[-. ]?)?(?:\(\d{3}\) ?|\b\d{3}[-.])\d{3}[-.]\d{4}\b)"
)
_TRAILING = ".,;:!?"
_DEFAULT_PORTS = {"http": 80, "https": 443}


# ----------------------------------------------------------------- content
@dataclass(frozen=True)
class Segment:
    """A piece of answer text; with `href`, a link (the template escapes both)."""

    text: str
    href: str | None = None


def link_segments(text: str) -> list[Segment]:
    """`text` cut into plain pieces and links: http(s) URLs, e-mail addresses (mailto:) and US
    phone numbers (tel:)."""
    segments: list[Segment] = []
    position = 0
    for match in _LINKABLE.finditer(text):
        start, found = match.start(), match.group()
        if match.group("url"):
            found = _strip_trailing(found)
            href = found
        elif match.group("phone"):
            href = tel_href(found)
        else:
            href = f"mailto:{found}"
        end = start + len(found)
        if start > position:
            segments.append(Segment(text[position:start]))
        segments.append(Segment(found, href))
        position = end
    if position < len(text):
        segments.append(Segment(text[position:]))
    return segments


def tel_href(number: str) -> str:
    """"tel:+17813386600" for a US number as written ("(781) 338-6600")."""
    digits = re.sub(r"\D", "", number)
    return "tel:+" + ("1" + digits if len(digits) == 10 else digits)


def _strip_trailing(url: str) -> str:
    """Drop sentence punctuation after a URL, and a closing parenthesis it did not open."""
    while url and (url[-1] in _TRAILING or (url[-1] == ")" and url.count("(") < url.count(")"))):
        url = url[:-1]
    return url


# "Intro: A, B, C, or D." inside a sentence-ended text (a period inside a number is no end).
_SERIES = re.compile(
    r"(?P<lead>^|[.!?]\s+)(?P<intro>[^.!?:]{8,}:)\s+(?P<items>(?:[^.!?:;]|\.(?=\d))+?)"
    r"\.(?:\s+|$)"
)
LIST_MIN_CHARS = 200  # shorter answers stay one paragraph (as in the chat)


@dataclass(frozen=True)
class Block:
    """A paragraph (`items` empty) or a paragraph followed by a list of `items`."""

    segments: list[Segment]
    items: list[list[Segment]]


def answer_blocks(text: str) -> list[Block]:
    """An answer as paragraphs, with a series of three or more short things ("one of these
    browsers: A, B, C, or D.") shown as a list after its introduction, as the chat does."""
    match = _SERIES.search(text) if len(text) >= LIST_MIN_CHARS else None
    if match:
        items = [part.strip() for part in match.group("items").split(",")]
        last = re.fullmatch(r"(?:and|or)\s+(.*)", items[-1])
        if last:
            items[-1] = last.group(1)
        else:
            pair = re.fullmatch(r"(.*?)\s+(?:and|or)\s+(.*)", items[-1])
            if pair:
                items[-1:] = [pair.group(1), pair.group(2)]
        if len(items) >= 3 and all(0 < len(item) <= 60 for item in items):
            intro = text[:match.start("intro")] + match.group("intro")
            blocks = [Block(link_segments(intro), [link_segments(item) for item in items])]
            rest = text[match.end():].strip()
            return blocks + (answer_blocks(rest) if rest else [])
    return [Block(link_segments(text), [])]


@dataclass(frozen=True)
class Question:
    """A question on a help page: an FAQ with its answer, or something the assistant does."""

    id: str
    question: str
    segments: list[Segment]
    blocks: list[Block]


@dataclass(frozen=True)
class Section:
    id: str
    title: str
    questions: list[Question]
    tasks: list[Question]  # flow entries: "Ask the assistant: I forgot my password."


def document_sections(kb: KnowledgeBase, document_id: str) -> list[Section]:
    """The document's sections in order, each with its FAQ entries and the assistant's tasks."""
    by_section: dict[str, tuple[list[Question], list[Question]]] = {
        section_id: ([], []) for section_id in kb.documents[document_id]["sections"]
    }
    for answer in kb.document_answers(document_id):
        question = _question(kb, answer)
        faqs, tasks = by_section[answer.section_id]
        (faqs if answer.kind == "faq" else tasks).append(question)
    return [
        Section(section_id, title, *by_section[section_id])
        for section_id, title in kb.documents[document_id]["sections"].items()
    ]


def _question(kb: KnowledgeBase, answer: Answer) -> Question:
    return Question(answer.entry_id, kb.entries[answer.entry_id].question,
                    link_segments(answer.text), answer_blocks(answer.text))


# ----------------------------------------------------------------- headers
def _origin(url: str) -> str:
    """scheme://host[:port] of `url`, lower-cased, without the scheme's default port."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if ":" in host:  # an IPv6 address
        host = f"[{host}]"
    port = parts.port
    if port is None or port == _DEFAULT_PORTS.get(scheme):
        return f"{scheme}://{host}"
    return f"{scheme}://{host}:{port}"


@lru_cache(maxsize=8)
def content_security_policy(chat_url: str) -> str:
    """The help pages' policy: this app's scripts and styles, connections to the chat server."""
    parts = urlsplit(chat_url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"RASA_PUBLIC_URL must be an http(s) URL, not {chat_url!r}")
    http_origin = _origin(chat_url)
    socket_origin = ("wss" if parts.scheme == "https" else "ws") + http_origin[len(parts.scheme):]
    return (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        f"connect-src 'self' {socket_origin} {http_origin}; form-action 'self'; "
        "base-uri 'none'; frame-ancestors 'none'"
    )


def help_page_response(request: web.Request, template: str, **context: Any) -> web.Response:
    """A page with the chat, under the help pages' Content-Security-Policy."""
    chat_url = request.app[SETTINGS_KEY].chat_url
    return render(
        template,
        headers={"Content-Security-Policy": content_security_policy(chat_url)},
        chat_url=chat_url, **context,
    )


# ----------------------------------------------------------------- pages
async def index(request: web.Request) -> web.Response:
    """GET /: both documents, with their sections."""
    kb = load_knowledge()
    documents = [
        {"id": document_id, "title": document["title"],
         "sections": list(document["sections"].items())}
        for document_id, document in kb.documents.items()
    ]
    return help_page_response(request, "index.html", title="Help", documents=documents)


async def help_page(request: web.Request) -> web.Response:
    """GET /help/{document_id}: one document, section by section (with the answers admins
    edited in the console)."""
    kb = await asyncio.to_thread(load_knowledge, sessions=request.app[SESSIONS_KEY])
    document_id = request.match_info["document_id"]
    document = kb.documents.get(document_id)
    if document is None:
        raise web.HTTPNotFound()
    return help_page_response(
        request, "help.html", title=document["title"],
        sections=document_sections(kb, document_id),
    )


# ----------------------------------------------------------------- rating
class RatingError(ValueError):
    """The rating request is refused; the message is safe to show."""


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


async def _read_limited(request: web.Request, limit: int) -> bytes:
    """The body, or RatingError when it is longer than `limit` bytes (never reads much more)."""
    if request.content_length is not None and request.content_length > limit:
        raise RatingError(f"the body must be at most {limit} bytes")
    body = b""
    while len(body) <= limit:
        chunk = await request.content.read(limit + 1 - len(body))
        if not chunk:
            return body
        body += chunk
    raise RatingError(f"the body must be at most {limit} bytes")


def parse_rating(body: bytes) -> tuple[str, bool]:
    """(session_id, helpful) from a JSON body, or RatingError saying what is wrong."""
    try:
        data = json.loads(body)
    except (UnicodeDecodeError, ValueError):
        raise RatingError("the body is not valid JSON") from None
    if not isinstance(data, dict):
        raise RatingError("the body must be a JSON object")
    session_id = data.get("session_id")
    if not isinstance(session_id, str) or not _SESSION_ID.fullmatch(session_id):
        raise RatingError("session_id must be 8 to 128 letters, digits, '-' or '_'")
    helpful = data.get("helpful")
    if not isinstance(helpful, bool):
        raise RatingError("helpful must be true or false")
    return session_id, helpful


def store_rating(sessions: sessionmaker[Session], session_id: str, helpful: bool,
                 now: dt.datetime | None = None) -> None:
    """Record the rating of the conversation `session_id`; a later rating replaces it."""
    now = now or dt.datetime.now(dt.timezone.utc)
    conversation_id = conversation_key(session_id)
    for attempt in range(2):
        try:
            with sessions.begin() as session:
                rating = session.execute(
                    select(Rating).where(Rating.conversation_id == conversation_id)
                ).scalar_one_or_none()
                if rating is None:
                    session.add(Rating(conversation_id=conversation_id, helpful=int(helpful),
                                       created_at=now, updated_at=now))
                else:
                    rating.helpful = int(helpful)
                    rating.updated_at = now
            return
        except IntegrityError:  # a concurrent first rating won the insert: update it instead
            if attempt:
                raise


async def rate(request: web.Request) -> web.Response:
    """POST /api/rating {"session_id": ..., "helpful": true|false}: 204, or a JSON error."""
    origin = request.headers.get("Origin")
    own_origin = _origin(request.app[SETTINGS_KEY].public_base_url)
    if origin is not None and origin.strip().lower() != own_origin:
        log.info("rating refused: foreign origin")
        return _error(403, "requests from other sites are not accepted")
    try:
        if request.content_type != "application/json":
            raise RatingError("the body must be JSON (Content-Type: application/json)")
        session_id, helpful = parse_rating(await _read_limited(request, MAX_RATING_BYTES))
    except RatingError as error:
        log.info("rating refused: %s", error)
        return _error(400, str(error))
    await asyncio.to_thread(store_rating, request.app[SESSIONS_KEY], session_id, helpful)
    log.info("rating stored")
    return web.Response(status=204)


def add_routes(app: web.Application) -> None:
    content_security_policy(app[SETTINGS_KEY].chat_url)  # a bad RASA_PUBLIC_URL fails now
    app.router.add_get("/", index)
    app.router.add_get("/help/{document_id}", help_page)
    app.router.add_post("/api/rating", rate)
