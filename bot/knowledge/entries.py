"""The knowledge base: every answer the bot gives, loaded from the YAML files in `knowledge/`.

`knowledge/` is the single source of truth. Contacts and links are stated once in
`sources.yml` and reused through placeholders (`{contact.massone_helpdesk.phone}`,
`{link.massone_home}`). Answers are read at run time, so editing a text needs no retraining.
Each entry may say when it was last `reviewed:` (a date; none means never).

`load_knowledge(sessions=...)` also applies the answer texts admins edited in the console,
stored in the database (`bot.knowledge.overrides`); without `sessions` it is the YAML alone.
"""

from __future__ import annotations

import copy
import datetime as dt
import logging
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from bot.settings import KNOWLEDGE_DIR, ROOT

if TYPE_CHECKING:
    from sqlalchemy.orm import sessionmaker

log = logging.getLogger(__name__)
SYSTEMS = ("ese_portal", "massone")
BOTH = "both"
GENERIC = ""  # the variant key of an entry's generic answer (else a system)
FAQ_FILES = ("ese_portal.yml", "massone.yml")
FLOW_FILES = ("flows.yml",)
_PLACEHOLDER = re.compile(r"\{(contact|link)\.([a-z0-9_]+)(?:\.([a-z0-9_]+))?\}")


class KnowledgeError(ValueError):
    """The knowledge files are inconsistent: the message says what, `path` and `line` where
    (when known; `key` is the entry id or reply name the problem is about)."""

    def __init__(self, message: str, *, path: Path | None = None, line: int | None = None,
                 key: str | None = None) -> None:
        super().__init__(message)
        self.message, self.path, self.line, self.key = message, path, line, key

    @property
    def where(self) -> str:
        """`knowledge/massone.yml, line 12`, or "" when no file is known."""
        if self.path is None:
            return ""
        shown = self.path.relative_to(ROOT) if self.path.is_relative_to(ROOT) else self.path
        return str(shown) if self.line is None else f"{shown}, line {self.line}"

    def __str__(self) -> str:
        return f"{self.where}: {self.message}" if self.where else self.message


@dataclass(frozen=True)
class Answer:
    """A rendered answer, ready to send, with where it comes from."""

    entry_id: str
    kind: str  # "faq" or "flow"
    system: str  # ese_portal, massone or both
    text: str
    document_id: str
    document_title: str
    section_id: str
    section_title: str
    links: tuple[str, ...] = ()
    starts: str | None = None  # the form this answer opens (e.g. username_form)

    @property
    def source_label(self) -> str:
        return f"{self.document_title} - {self.section_title}"

    @property
    def source_url(self) -> str:
        """Where the help pages show the section (a path on the web app)."""
        return f"/help/{self.document_id}#{self.section_id}"

    def payload(self) -> dict[str, Any]:
        """The `custom` payload a page shows as "Source: MassONE FAQ - Accounts"."""
        return {
            "faq_id": self.entry_id,
            "kind": self.kind,
            "system": self.system,
            "document_id": self.document_id,
            "document": self.document_title,
            "section_id": self.section_id,
            "section": self.section_title,
            "source": self.source_label,
            "source_url": self.source_url,
            "links": list(self.links),
        }


@dataclass(frozen=True)
class NeedsSystem:
    """The answer depends on the system and the user has not said which."""

    entry_id: str


@dataclass(frozen=True)
class _Text:
    template: str
    document: str
    section: str
    links: tuple[str, ...]
    starts: str | None = None


@dataclass(frozen=True)
class Entry:
    id: str
    kind: str
    system: str
    question: str
    generic: _Text | None
    variants: dict[str, _Text] = field(default_factory=dict)
    counterpart: str | None = None
    reviewed: dt.date | None = None  # when the agency last reviewed it; None: never

    def texts(self) -> list[tuple[str, _Text]]:
        """(variant, text) for each answer: GENERIC first, then the systems' variants."""
        generic = [(GENERIC, self.generic)] if self.generic is not None else []
        return generic + list(self.variants.items())

    def text(self, variant: str) -> _Text | None:
        return self.generic if variant == GENERIC else self.variants.get(variant)


class KnowledgeBase:
    """Entries, contacts, links and system names, with answer resolution."""

    def __init__(self, directory: Path = KNOWLEDGE_DIR) -> None:
        self.directory = directory
        self._origin: dict[str, str] = {}  # entry id -> the file it is in
        self._reading = "sources.yml"
        try:
            self._load()
        except KnowledgeError as error:
            raise self._located(error) from None
        except (KeyError, TypeError, AttributeError) as error:
            # A mapping where a list belongs, a key left out...: not the layout expected.
            raise KnowledgeError(
                f"not laid out as expected ({type(error).__name__}: {error}); compare it "
                "with an entry that works", path=directory / self._reading) from None

    def _load(self) -> None:
        directory = self.directory
        sources = _read_yaml(directory / "sources.yml")
        self.contacts: dict[str, dict[str, str]] = sources["contacts"]
        self.links: dict[str, str] = sources["links"]
        self.documents: dict[str, dict[str, Any]] = sources["documents"]
        self.systems: dict[str, dict[str, Any]] = sources["systems"]
        self._reading = "replies.yml"
        self.replies: dict[str, Any] = _read_yaml(directory / "replies.yml")
        self.entries: dict[str, Entry] = {}
        for kind, files in (("faq", FAQ_FILES), ("flow", FLOW_FILES)):
            for name in files:
                self._reading = name
                for raw in _read_yaml(directory / name)["entries"]:
                    entry = self._parse_entry(raw, kind, name)
                    if entry.id in self.entries:
                        line = _lines_of(directory / name, entry.id)[-1:] or [None]
                        raise KnowledgeError(f"duplicate id {entry.id!r}",
                                             path=directory / name, line=line[0])
                    self.entries[entry.id] = entry
                    self._origin[entry.id] = name
        self._reading = "sources.yml"
        self._mentions = self._build_mention_index()
        self._check()

    # ----------------------------------------------------------------- queries
    def faq_ids(self) -> list[str]:
        return [e.id for e in self.entries.values() if e.kind == "faq"]

    def flow_ids(self) -> list[str]:
        return [e.id for e in self.entries.values() if e.kind == "flow"]

    def render(self, template: str) -> str:
        """Fill `{contact.x.y}` and `{link.x}` placeholders."""

        def fill(match: re.Match[str]) -> str:
            group, name, attribute = match.groups()
            if group == "link":
                return self.links[name]
            return self.contacts[name][attribute]

        return _PLACEHOLDER.sub(fill, template)

    def reply(self, name: str, variant: str | None = None) -> str:
        """A reply from replies.yml; replies given per system (or per field) take `variant`."""
        reply = self.replies[name]
        return self.render(reply[variant] if isinstance(reply, dict) else reply)

    def system_name(self, system: str) -> str:
        return self.systems[system]["name"]

    def system_of_mention(self, text: str) -> str | None:
        """The system a name or term refers to ("Mass ONE", "ELAR", "massone"), if any."""
        return self._mentions.get(_normalise(text))

    def mention_names(self) -> dict[str, dict[str, list[str]]]:
        """Per system, the names users type for it, by entity label (for the spaCy ruler)."""
        return {
            system: {
                "system": list(info.get("aliases", [])),
                "application": list(info.get("applications", [])),
                "term": list(info.get("terms", [])),
            }
            for system, info in self.systems.items()
        }

    def resolve(self, entry_id: str, system: str | None) -> Answer | NeedsSystem:
        """The answer to `entry_id` for the user's system, or a request to ask for it.

        An entry answering differently per system (variants without a generic answer, or a
        counterpart entry for the other system) needs the system; everything else answers.
        """
        entry = self.entries[entry_id]
        if system is None:
            if entry.generic is not None and entry.counterpart is None:
                return self._answer(entry, entry.generic)
            return NeedsSystem(entry_id)
        if entry.system in (system, BOTH):
            text = entry.variants.get(system) or entry.generic
            if text is not None:
                return self._answer(entry, text, system)
        if entry.counterpart and self.entries[entry.counterpart].system == system:
            return self.resolve(entry.counterpart, system)
        text = entry.generic or next(iter(entry.variants.values()))
        return self._answer(entry, text)

    def document_answers(self, document_id: str) -> list[Answer]:
        """Every entry that cites `document_id`, once, in file order (for the help pages).

        An entry citing the document more than once shows the answer for the document's own
        system, else its generic answer, else the first variant that cites it.
        """
        own = self.documents[document_id]["system"]
        answers = []
        for entry in self.entries.values():
            candidates = [(own, entry.variants.get(own)), (None, entry.generic),
                          *entry.variants.items()]
            for system, text in candidates:
                if text is not None and text.document == document_id:
                    answers.append(self._answer(entry, text, system))
                    break
        return answers

    def check_template(self, where: str, template: str) -> None:
        """KnowledgeError unless every placeholder of `template` is well-formed and known."""
        self._check_placeholders(where, template)

    def with_texts(self, templates: dict[tuple[str, str], str]) -> KnowledgeBase:
        """A copy with the answer texts of some (entry id, variant) replaced; every new text
        is checked as a YAML one would be (KnowledgeError names the first problem)."""
        changed = copy.copy(self)
        changed.entries = dict(self.entries)
        for (entry_id, variant), template in templates.items():
            entry = changed.entries[entry_id]
            text = entry.text(variant)
            if text is None:
                raise KnowledgeError(f"{entry_id}: no answer {variant or 'generic'!r}")
            self._check_placeholders(entry_id, template)
            new_text = replace(text, template=template)
            if variant == GENERIC:
                entry = replace(entry, generic=new_text)
            else:
                entry = replace(entry, variants={**entry.variants, variant: new_text})
            changed.entries[entry_id] = entry
        return changed

    # ----------------------------------------------------------------- internals
    def _answer(self, entry: Entry, text: _Text, system: str | None = None) -> Answer:
        document = self.documents[text.document]
        return Answer(
            entry_id=entry.id,
            kind=entry.kind,
            system=system or entry.system,
            text=squash(self.render(text.template)),
            document_id=text.document,
            document_title=document["title"],
            section_id=text.section,
            section_title=document["sections"][text.section],
            links=tuple(self.links[name] for name in text.links),
            starts=text.starts,
        )

    def _located(self, error: KnowledgeError) -> KnowledgeError:
        """`error` with the file and line of the entry or reply it is about, when it has none."""
        if error.path is None and error.key in self._origin:
            error.path = self.directory / self._origin[error.key]
        elif error.path is None and error.key in getattr(self, "replies", {}):
            error.path = self.directory / "replies.yml"
        if error.path is not None and error.line is None and error.key:
            error.line = next(iter(_lines_of(error.path, error.key)), None)
        return error

    def _parse_entry(self, raw: dict[str, Any], kind: str, file: str) -> Entry:
        if not isinstance(raw, dict):
            raise KnowledgeError(f"an entry should be a mapping (id:, system:...), not {raw!r}",
                                 path=self.directory / file)
        where = str(raw.get("id", "?"))
        for key in ("id", "system", "question"):
            if not raw.get(key):
                raise KnowledgeError(f"{where}: missing {key!r}", path=self.directory / file,
                                     key=raw.get("id"))

        def text(data: dict[str, Any], inherit: dict[str, Any] | None = None) -> _Text:
            inherit = inherit or {}
            document = data.get("document", inherit.get("document"))
            section = data.get("section", inherit.get("section"))
            if not document or not section:
                raise KnowledgeError(f"{where}: an answer needs a document and a section",
                                     key=where)
            links = data.get("links", inherit.get("links", []))
            return _Text(
                data["answer"].strip(), document, section, tuple(links), data.get("starts")
            )

        generic = text(raw) if raw.get("answer") else None
        variants = {s: text(v, raw) for s, v in (raw.get("variants") or {}).items()}
        return Entry(
            id=raw["id"],
            kind=kind,
            system=raw["system"],
            question=raw["question"].strip(),
            generic=generic,
            variants=variants,
            counterpart=raw.get("counterpart"),
            reviewed=_review_date(raw.get("reviewed"), where),
        )

    def _build_mention_index(self) -> dict[str, str]:
        index: dict[str, str] = {}
        for system, names in self.mention_names().items():
            for name in [system, self.system_name(system), *sum(names.values(), [])]:
                key = _normalise(name)
                if index.get(key, system) != system:
                    raise KnowledgeError(f"{name!r} names both systems",
                                         path=self.directory / "sources.yml")
                index[key] = system
        return index

    def _check(self) -> None:
        """Fail loudly on references that do not resolve, rather than at answer time."""
        for entry in self.entries.values():
            if entry.system not in (*SYSTEMS, BOTH):
                raise KnowledgeError(f"{entry.id}: unknown system {entry.system!r}", key=entry.id)
            if entry.generic is None and set(entry.variants) != set(SYSTEMS):
                raise KnowledgeError(f"{entry.id}: needs an answer or a variant per system",
                                     key=entry.id)
            if entry.counterpart:
                other = self.entries.get(entry.counterpart)
                if other is None or other.counterpart != entry.id:
                    raise KnowledgeError(f"{entry.id}: counterpart must point back to it",
                                         key=entry.id)
                if other.system == entry.system:
                    raise KnowledgeError(f"{entry.id}: counterpart is about the same system",
                                         key=entry.id)
            for text in [entry.generic, *entry.variants.values()]:
                if text is None:
                    continue
                sections = self.documents.get(text.document, {}).get("sections", {})
                if text.section not in sections:
                    source = f"{text.document}#{text.section}"
                    raise KnowledgeError(f"{entry.id}: unknown source {source}", key=entry.id)
                for name in text.links:
                    if name not in self.links:
                        raise KnowledgeError(f"{entry.id}: unknown link {name!r}", key=entry.id)
                self._check_placeholders(entry.id, text.template)
        for name, reply in self.replies.items():
            for text in reply.values() if isinstance(reply, dict) else [reply]:
                # {reference}, {email}... are filled by the action that sends the reply.
                fields_removed = re.sub(r"\{[a-z_]+\}", "", text)
                self._check_placeholders(name, fields_removed)

    def _check_placeholders(self, where: str, template: str) -> None:
        for group, name, attribute in _PLACEHOLDER.findall(template):
            if group == "link" and name not in self.links:
                raise KnowledgeError(f"{where}: unknown link {name!r}", key=where)
            if group == "contact" and attribute not in self.contacts.get(name, {}):
                raise KnowledgeError(f"{where}: unknown contact {name}.{attribute}", key=where)
        leftover = re.sub(_PLACEHOLDER, "", template)
        if "{" in leftover or "}" in leftover:
            raise KnowledgeError(f"{where}: malformed placeholder in {template[:60]!r}...",
                                 key=where)


def _read_yaml(path: Path) -> Any:
    """The YAML in `path`; KnowledgeError with the line of a syntax error."""
    try:
        with path.open(encoding="utf-8") as handle:
            return yaml.safe_load(handle)
    except OSError as error:
        raise KnowledgeError(f"cannot be read ({error.strerror})", path=path) from None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        problem = getattr(error, "problem", None) or str(error)
        context = getattr(error, "context", None)
        message = f"not valid YAML: {problem}" + (f" ({context})" if context else "")
        raise KnowledgeError(message, path=path,
                             line=mark.line + 1 if mark is not None else None) from None


def _lines_of(path: Path, key: str) -> list[int]:
    """The lines (from 1) where entry `id: key` or the top-level `key:` is written in `path`."""
    name = re.escape(key)
    pattern = re.compile(rf"^(?:\s*-?\s*id:\s*['\"]?{name}['\"]?\s*|{name}:.*)$")
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError:
        return []
    return [number for number, line in enumerate(lines, 1) if pattern.match(line)]


def _review_date(value: Any, where: str) -> dt.date | None:
    """An entry's `reviewed:` (YAML reads 2026-11-28 as a date); None when absent."""
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        value = value.date()
    elif isinstance(value, str):
        try:
            value = dt.date.fromisoformat(value.strip())
        except ValueError:
            raise KnowledgeError(f"{where}: reviewed must be a date like 2026-11-28",
                                 key=where) from None
    if not isinstance(value, dt.date):
        raise KnowledgeError(f"{where}: reviewed must be a date like 2026-11-28", key=where)
    if value > dt.date.today() + dt.timedelta(days=1):
        raise KnowledgeError(f"{where}: reviewed {value} is in the future", key=where)
    return value


def squash(text: str) -> str:
    """Whitespace as the chat shows it: single spaces, none at the ends."""
    return " ".join(text.split())


def _normalise(text: str) -> str:
    return " ".join(re.sub(r"[^a-z0-9.]+", " ", text.lower()).split())


_cache: dict[Path, tuple[tuple, KnowledgeBase]] = {}


def _stamp(directory: Path) -> tuple:
    """Changes whenever a knowledge file is edited, added or removed."""
    return tuple(sorted((p.name, p.stat().st_mtime_ns) for p in directory.glob("*.yml")))


def load_knowledge(
    directory: Path = KNOWLEDGE_DIR, sessions: sessionmaker | None = None
) -> KnowledgeBase:
    """The knowledge base, re-read whenever a file in `directory` changed (no restart needed).

    A change that does not load (a YAML slip, a broken reference) is logged as an error with
    its file and line, once, and the knowledge loaded before it keeps being served until the
    files load again; only a first load that fails raises KnowledgeError.

    With `sessions`, the answer texts admins edited in the console and stored in that
    database are applied (`bot.knowledge.overrides`), also at once.
    """
    stamp = _stamp(directory)
    cached = _cache.get(directory)
    if cached is None or cached[0] != stamp:
        try:
            _cache[directory] = (stamp, KnowledgeBase(directory))
        except KnowledgeError as error:
            if cached is None:
                raise
            log.error("knowledge not reloaded, the bot keeps the last version that loaded: %s",
                      error)
            _cache[directory] = (stamp, cached[1])  # not read again until the next change
    base = _cache[directory][1]
    if sessions is None:
        return base
    from bot.knowledge.overrides import with_stored_edits  # it builds on this module

    return with_stored_edits(base, sessions).knowledge
