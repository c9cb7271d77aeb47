"""Reading a mail someone sent to the help desk: who sent it, where to, and their answer as
plain text.

* Reply addresses are plus-addressed: `tagged_address("helpdesk@example.org", "HD-2026-000123")`
  is `helpdesk+HD-2026-000123@example.org`, and `address_tag` reads the tag back.
* The answer is the text/plain body, or else the text/html one turned into plain text (tags
  dropped, scripts and styles dropped, nothing rendered or fetched), with quoted history ("On
  ... wrote:", "> " lines, Outlook's "-----Original Message-----" or "From:/Sent:" block) and
  the signature (a "-- " line and what follows) trimmed.
* Attachments are listed (name, type, size); their content is never kept, opened or shown.
* Automatic mail (out-of-office replies, bounces) is recognised (RFC 3834 `Auto-Submitted`,
  delivery reports), so it never counts as a person's answer.
"""

from __future__ import annotations

import email.utils
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime
from email.message import EmailMessage
from email.parser import BytesParser
from email.policy import default as default_policy
from html.parser import HTMLParser

# Headers naming who a mail was delivered to, most specific first.
RECIPIENT_HEADERS = ("Delivered-To", "X-Original-To", "Envelope-To", "To", "Cc")
MAX_NAME = 200  # an attachment's name is cut to this many characters
# Formatting characters that reorder text on a page or a terminal.
_BIDI = frozenset("\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


class UnreadableMail(ValueError):
    """The bytes are not a mail this module can read."""


@dataclass(frozen=True)
class Attachment:
    name: str
    content_type: str
    size: int  # bytes, decoded


@dataclass(frozen=True)
class InboundMail:
    """What the help desk uses of a received mail."""

    message_id: str  # "" when the mail has none
    senders: list[str]  # the addresses in From (one, normally)
    recipients: list[str]  # from the headers in RECIPIENT_HEADERS, in that order
    subject: str
    sent_at: datetime | None  # the Date header, if readable
    answer: str  # the plain text without quoted history and signature
    trimmed_lines: int  # non-blank lines of quoted history and signature left out
    html_only: bool  # the answer was converted from HTML
    automatic: bool  # an auto-reply or a delivery report, not written by a person
    attachments: list[Attachment] = field(default_factory=list)


# ------------------------------------------------------------------------- addresses
def tagged_address(address: str, tag: str) -> str:
    """`local+tag@domain` for `address` `local@domain`."""
    local, _, domain = address.rpartition("@")
    return f"{local}+{tag}@{domain}"


def address_tag(ours: str, address: str) -> str | None:
    """The tag of `address` if it is `ours` with or without one ("" for none), else None.

    The local part and the domain compare without regard to case.
    """
    local, _, domain = address.strip().strip("<>").rpartition("@")
    our_local, _, our_domain = ours.rpartition("@")
    base, plus, tag = local.partition("+")
    if not local or base.casefold() != our_local.casefold():
        return None
    if domain.casefold() != our_domain.casefold():
        return None
    return tag if plus else ""


# ------------------------------------------------------------------------- reading
def read_mail(data: bytes) -> InboundMail:
    """Parse `data` (one RFC 5322 message); UnreadableMail if that fails."""
    try:
        message = BytesParser(policy=default_policy).parsebytes(data)
        assert isinstance(message, EmailMessage)
        return _read(message)
    except Exception as error:  # hostile input: any parser failure means "cannot read it"
        raise UnreadableMail(type(error).__name__) from error


def _read(message: EmailMessage) -> InboundMail:
    body = message.get_body(preferencelist=("plain", "html"))
    html_only = body is not None and body.get_content_type() == "text/html"
    text = "" if body is None else part_text(body)
    if html_only:
        text = html_to_text(text)
    answer, trimmed = trim_reply(text)
    return InboundMail(
        message_id=str(message.get("Message-ID", "")).strip(),
        senders=_addresses(message, "From"),
        recipients=[found for name in RECIPIENT_HEADERS for found in _addresses(message, name)],
        subject=" ".join(str(message.get("Subject", "")).split()),
        sent_at=_date(message),
        answer=answer,
        trimmed_lines=trimmed,
        html_only=html_only,
        automatic=is_automatic(message),
        attachments=_attachments(message, body),
    )


def part_text(part: EmailMessage) -> str:
    """A text part's decoded content; undecodable bytes become U+FFFD rather than an error."""
    try:
        return part.get_content()
    except (LookupError, UnicodeError):  # unknown or lying charset
        payload = part.get_payload(decode=True)
        return payload.decode("utf-8", "replace") if isinstance(payload, bytes) else ""


def _addresses(message: EmailMessage, header: str) -> list[str]:
    values = [str(value) for value in message.get_all(header, [])]
    return [address for _name, address in email.utils.getaddresses(values) if "@" in address]


def _date(message: EmailMessage) -> datetime | None:
    try:
        return email.utils.parsedate_to_datetime(str(message.get("Date", "")))
    except (TypeError, ValueError, IndexError):
        return None


def is_automatic(message: EmailMessage) -> bool:
    """An auto-reply (RFC 3834 and the common vendor headers) or a delivery status report."""
    auto_submitted = str(message.get("Auto-Submitted", "no")).strip().lower()
    precedence = str(message.get("Precedence", "")).strip().lower()
    return (
        auto_submitted != "no"
        or str(message.get("Return-Path", "")).strip() == "<>"  # a bounce
        or "X-Autoreply" in message
        or "X-Autorespond" in message
        or precedence in {"auto_reply", "bulk", "junk", "list"}
        or message.get_content_type() == "multipart/report"
    )


def _attachments(message: EmailMessage, body: EmailMessage | None) -> list[Attachment]:
    """Every part but the body, its text alternatives and the containers, as (name, type,
    size); a forwarded mail counts as one attachment."""
    found: list[Attachment] = []

    def visit(part: EmailMessage) -> None:
        if part is body:
            return
        content_type = part.get_content_type()
        if content_type == "message/rfc822":
            found.append(_attachment(part, len(part.as_bytes())))
        elif part.is_multipart():
            for inner in part.iter_parts():
                visit(inner)
        elif content_type in ("text/plain", "text/html") and not part.is_attachment():
            return  # another rendering of the body
        else:
            payload = part.get_payload(decode=True)
            found.append(_attachment(part, len(payload) if isinstance(payload, bytes) else 0))

    visit(message)
    return found


def _attachment(part: EmailMessage, size: int) -> Attachment:
    name = clean_line(part.get_filename() or "")[:MAX_NAME] or "(no name)"
    return Attachment(name=name, content_type=clean_line(part.get_content_type()), size=size)


def size_text(size: int) -> str:
    """A byte count as people read it: "900 bytes", "12 KB", "3.4 MB"."""
    if size < 1024:
        return f"{size} bytes"
    if size < 1024 * 1024:
        return f"{round(size / 1024)} KB"
    return f"{size / (1024 * 1024):.1f} MB".replace(".0 MB", " MB")


# ------------------------------------------------------------------------- plain text
def clean_line(text: str) -> str:
    """`text` on one line: control and text-reordering characters out, spaces collapsed."""
    return " ".join(clean_text(text).split())


def clean_text(text: str) -> str:
    """`text` with "\\n" line ends, without control or text-reordering characters."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return "".join(
        char for char in text
        if char in "\n\t" or (unicodedata.category(char) != "Cc" and char not in _BIDI)
    )


_WROTE = re.compile(r"On\b.{0,300}\bwrote:", re.IGNORECASE)
_ORIGINAL_MESSAGE = re.compile(r"-{2,}\s*Original Message\s*-{2,}", re.IGNORECASE)
_OUTLOOK_FROM = re.compile(r"\*?From:\*?\s", re.IGNORECASE)
_OUTLOOK_SENT = re.compile(r"\*?(?:Sent|Date):\*?\s", re.IGNORECASE)
_RULE = re.compile(r"_{10,}")
_SIGNATURE = re.compile(r"-- ?")


def _history_starts(lines: list[str], index: int) -> bool:
    """Whether the quoted history (or the signature) begins at lines[index]."""
    line = lines[index].strip()
    following = [other.strip() for other in lines[index + 1: index + 3]]
    if _SIGNATURE.fullmatch(lines[index]) or _ORIGINAL_MESSAGE.fullmatch(line):
        return True
    if line.lower().startswith("on ") or line.lower() == "on":
        # "On Mon, 2 Mar 2026, Help desk <helpdesk@...> wrote:", wrapped over up to 3 lines
        joined = line
        for other in following:
            if _WROTE.fullmatch(joined) or not other:
                break
            joined = f"{joined} {other}"
        if _WROTE.fullmatch(joined):
            return True
    if _OUTLOOK_FROM.match(line) and any(_OUTLOOK_SENT.match(other) for other in following):
        return True
    return bool(_RULE.fullmatch(line) and following and _OUTLOOK_FROM.match(following[0]))


def trim_reply(text: str) -> tuple[str, int]:
    """The writer's own words in `text`, and how many non-blank lines were left out.

    Everything from the first line of quoted history or signature on goes, and so does every
    "> " line before it (an answer written between quoted lines keeps its own lines).
    """
    lines = clean_text(text).split("\n")
    cut = next((i for i in range(len(lines)) if _history_starts(lines, i)), len(lines))
    kept = [line.rstrip() for line in lines[:cut] if not line.lstrip().startswith(">")]
    answer = re.sub(r"\n{3,}", "\n\n", "\n".join(kept)).strip()
    trimmed = sum(1 for line in lines if line.strip()) - sum(1 for line in kept if line.strip())
    return answer, trimmed


class _HtmlText(HTMLParser):
    """Plain text from HTML: text only, one line per block, blockquotes as "> " lines."""

    BLOCKS = frozenset({
        "address", "article", "aside", "blockquote", "br", "dd", "div", "dl", "dt", "footer",
        "form", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr", "li", "main", "nav", "ol",
        "p", "pre", "section", "table", "td", "th", "tr", "ul",
    })
    PARAGRAPHS = frozenset({"blockquote", "div", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "p",
                            "table", "ol", "ul"})
    HIDDEN = frozenset({"head", "script", "style", "template", "title", "noscript"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.lines: list[str] = []
        self._parts: list[str] = []
        self._depth = 0  # blockquote nesting
        self._line_depth = 0
        self._hidden = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self.HIDDEN:
            self._hidden += 1
        elif tag in self.BLOCKS:
            self._end_line(paragraph=tag in self.PARAGRAPHS)
            if tag == "blockquote":
                self._depth += 1
            elif tag == "li":
                self._parts.append("- ")
                self._line_depth = self._depth

    def handle_endtag(self, tag: str) -> None:
        if tag in self.HIDDEN:
            self._hidden = max(0, self._hidden - 1)
        elif tag in self.BLOCKS:
            self._end_line(paragraph=tag in self.PARAGRAPHS)
            if tag == "blockquote":
                self._depth = max(0, self._depth - 1)

    def handle_data(self, data: str) -> None:
        if self._hidden:
            return
        if not self._parts:
            self._line_depth = self._depth
        self._parts.append(data)

    def _end_line(self, paragraph: bool) -> None:
        text = " ".join("".join(self._parts).split())
        self._parts = []
        if text and text != "-":
            self.lines.append("> " * self._line_depth + text)
        if paragraph and self.lines and self.lines[-1]:
            self.lines.append("")

    def close(self) -> None:
        super().close()
        self._end_line(paragraph=False)


def html_to_text(html: str) -> str:
    """The text of an HTML mail body as plain lines; no tag or script survives."""
    parser = _HtmlText()
    parser.feed(html)
    parser.close()
    return "\n".join(parser.lines).strip()
