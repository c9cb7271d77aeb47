"""Keeping the knowledge current from the console (admins): every entry with when it was last
reviewed and why it may be out of date, answer texts edited, entries marked as reviewed.

* An edit is a `knowledge_changes` row (who, when, the text before and after, a diff with one
  sentence a line) plus an `audit_log` row, in one transaction. The bot gives the new text at
  once (`bot.knowledge.overrides`); `helpdesk knowledge export` writes it to the YAML.
* An edit is refused, with nothing saved, when the text is empty or too long, when a
  placeholder is malformed or unknown, when it changes nothing, or when someone else changed the
  same answer since the admin opened it (each edit has the next number of its answer: two saves
  at once cannot both get it).
* An entry counts as reviewed on the newest of its YAML `reviewed:` date and the last edit or
  "reviewed" mark in the console (a day in the help desk's time zone).
"""

from __future__ import annotations

import difflib
import logging
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import sessionmaker

from bot.console.agents import AgentInfo, audit
from bot.knowledge.entries import (
    GENERIC,
    KNOWLEDGE_DIR,
    Entry,
    KnowledgeBase,
    KnowledgeError,
    load_knowledge,
    squash,
)
from bot.knowledge.overrides import (
    APPLIED,
    EDITED,
    REVIEWED,
    CurrentKnowledge,
    EditState,
    latest_edits,
    resolve_edits,
)
from bot.knowledge.staleness import stale_reasons
from bot.mail.outbox import as_utc, utc_now
from bot.models import KnowledgeChange
from bot.tickets.business_hours import HELP_DESK

log = logging.getLogger(__name__)

MAX_ANSWER = 2000
# audit_log actions
KNOWLEDGE_EDITED, KNOWLEDGE_REVIEWED = "knowledge_edited", "knowledge_reviewed"
CHANGED_MEANWHILE = (
    "Someone else changed this answer since you opened it. Their text is shown now; yours is "
    "kept in the box below, to compare and save again."
)
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z(\"“])")
_BRACED = re.compile(r"\{[^{}]*\}")


class KnowledgeEditError(ValueError):
    """The edit cannot be saved; the message says why in plain words. Nothing was saved."""


@dataclass(frozen=True)
class AnswerText:
    """One answer of an entry (its generic one or a system's) as the review page shows it."""

    variant: str  # GENERIC or a system
    label: str
    yaml_template: str
    template: str  # what the bot gives now: the console's edit when applied
    shown: str  # `template` with the placeholders filled
    source: str
    edit_number: int  # of the newest edit (0: never edited); the form sends it back
    state: str | None  # bot.knowledge.overrides state of the newest edit; None: never edited
    problem: str
    reasons: list[str]


@dataclass(frozen=True)
class DiffLine:
    kind: str  # "added", "removed", "same" or "hunk"
    text: str


@dataclass(frozen=True)
class ChangeView:
    at: datetime
    agent_name: str
    action: str  # EDITED or REVIEWED
    variant_label: str
    diff: list[DiffLine]


@dataclass(frozen=True)
class EntryReview:
    id: str
    question: str
    kind: str
    system: str
    reviewed: date | None
    reviewed_in_console: bool
    answers: list[AnswerText]
    history: list[ChangeView] = field(default_factory=list)

    @property
    def reasons(self) -> list[tuple[str, str]]:
        """(answer label, reason) for every sign of staleness."""
        return [(answer.label, reason) for answer in self.answers for reason in answer.reasons]

    @property
    def edited(self) -> bool:
        return any(answer.state == APPLIED for answer in self.answers)


# ------------------------------------------------------------------------- checking a text
def clean_answer(text: str) -> str:
    """An edited answer as the bot will give it: control characters out, whitespace single
    (the chat shows an answer as one paragraph); KnowledgeEditError when empty or too long."""
    kept = "".join(" " if unicodedata.category(char) in {"Cc", "Cf"} else char for char in text)
    cleaned = squash(kept)
    if not cleaned:
        raise KnowledgeEditError("The answer is empty. Nothing was saved.")
    if len(cleaned) > MAX_ANSWER:
        raise KnowledgeEditError(f"The answer is too long: {len(cleaned)} characters, at most "
                                 f"{MAX_ANSWER}. Nothing was saved.")
    return cleaned


def known_placeholders(kb: KnowledgeBase) -> list[tuple[str, str]]:
    """(placeholder, what it stands for) for every contact detail and link."""
    found = [(f"{{contact.{name}.{attribute}}}", value)
             for name, contact in kb.contacts.items() for attribute, value in contact.items()]
    return found + [(f"{{link.{name}}}", url) for name, url in kb.links.items()]


def placeholder_problems(kb: KnowledgeBase, text: str) -> list[str]:
    """What is wrong with the placeholders in `text`, as sentences; [] when all are right."""
    known = {placeholder for placeholder, _value in known_placeholders(kb)}
    problems = []
    for braced in dict.fromkeys(_BRACED.findall(text)):
        if braced not in known:
            near = difflib.get_close_matches(braced, known, n=1, cutoff=0.75)
            hint = f" Did you mean {near[0]}?" if near else ""
            problems.append(f"“{braced[:80]}” is not a placeholder this knowledge has.{hint}")
    leftover = _BRACED.sub("", text)
    if "{" in leftover or "}" in leftover:
        problems.append("A “{” or “}” has lost its pair: a placeholder looks like "
                        "{contact.massone_helpdesk.phone} or {link.massone_home}.")
    if not problems:
        try:  # the loader's own check, so that nothing it would refuse gets stored
            kb.check_template("edit", text)
        except KnowledgeError:
            problems.append("A placeholder is malformed.")
    return problems


def sentence_diff(old: str, new: str) -> str:
    """A unified diff of two answers, one sentence a line (prose reads better than wrapped
    lines, where one changed word shifts every line after it)."""
    return "\n".join(difflib.unified_diff(
        _SENTENCE_END.split(old), _SENTENCE_END.split(new), "before", "after", lineterm="", n=2,
    ))


def diff_lines(diff: str) -> list[DiffLine]:
    lines = []
    for line in diff.splitlines():
        if line.startswith(("---", "+++")):
            continue
        kind = {"+": "added", "-": "removed", "@": "hunk"}.get(line[:1], "same")
        lines.append(DiffLine(kind, line[1:] if kind != "hunk" else "…"))
    return lines


def variant_label(kb: KnowledgeBase, entry: Entry, variant: str) -> str:
    if variant == GENERIC:
        return "Answer" if not entry.variants else "Answer when the system is not known"
    return f"{kb.system_name(variant)} answer"


# ------------------------------------------------------------------------- the desk
class KnowledgeDesk:
    """The admins' review page, the edit form's data, and the edits and reviews themselves."""

    def __init__(
        self, sessions: sessionmaker, clock: Callable[[], datetime] = utc_now,
        directory: Path = KNOWLEDGE_DIR,
    ) -> None:
        self._sessions = sessions
        self._clock = clock
        self.directory = directory

    def _now(self) -> datetime:
        return as_utc(self._clock())

    def _current(self) -> tuple[KnowledgeBase, CurrentKnowledge, dict[str, datetime]]:
        """The YAML, what the bot gives now, and each entry's last change in the console."""
        base = load_knowledge(self.directory)
        with self._sessions() as session:
            current = resolve_edits(base, latest_edits(session))
            last_changes = dict(session.execute(
                select(KnowledgeChange.entry_id, func.max(KnowledgeChange.created_at))
                .group_by(KnowledgeChange.entry_id)
            ).all())
        return base, current, {key: as_utc(value) for key, value in last_changes.items()}

    def overview(self) -> list[EntryReview]:
        """Every entry, the least recently reviewed first (never reviewed before all)."""
        base, current, last_changes = self._current()
        today = HELP_DESK.local(self._now()).date()
        reviews = [self._review(base, current, entry, last_changes.get(entry.id), today)
                   for entry in base.entries.values()]
        return sorted(reviews, key=lambda r: (r.reviewed is not None, r.reviewed or date.min,
                                              r.id))

    def entry(self, entry_id: str) -> EntryReview | None:
        """One entry with its answers and the history of its changes; None if unknown."""
        base, current, last_changes = self._current()
        entry = base.entries.get(entry_id)
        if entry is None:
            return None
        today = HELP_DESK.local(self._now()).date()
        with self._sessions() as session:
            rows = session.execute(
                select(KnowledgeChange).where(KnowledgeChange.entry_id == entry_id)
                .order_by(KnowledgeChange.id.desc())
            ).scalars().all()
            history = [ChangeView(as_utc(row.created_at), row.agent_name, row.action,
                                  variant_label(base, entry, row.variant)
                                  if row.action == EDITED else "",
                                  diff_lines(row.diff or "")) for row in rows]
        review = self._review(base, current, entry, last_changes.get(entry_id), today)
        return replace(review, history=history)

    def _review(
        self, base: KnowledgeBase, current: CurrentKnowledge, entry: Entry,
        last_change: datetime | None, today: date,
    ) -> EntryReview:
        answers = []
        now_entry = current.knowledge.entries[entry.id]
        for variant, yaml_text in entry.texts():
            text = now_entry.text(variant) or yaml_text
            state: EditState | None = current.states.get((entry.id, variant))
            shown = squash(base.render(text.template))
            links = tuple(base.links[name] for name in text.links)
            document = base.documents[text.document]
            answers.append(AnswerText(
                variant=variant, label=variant_label(base, entry, variant),
                yaml_template=squash(yaml_text.template), template=squash(text.template),
                shown=shown, source=f"{document['title']} - {document['sections'][text.section]}",
                edit_number=state.edit.edit_number if state else 0,
                state=state.status if state else None, problem=state.problem if state else "",
                reasons=stale_reasons(shown, links, today),
            ))
        console_day = HELP_DESK.local(last_change).date() if last_change else None
        reviewed = max((day for day in (entry.reviewed, console_day) if day), default=None)
        return EntryReview(
            id=entry.id, question=entry.question, kind=entry.kind, system=entry.system,
            reviewed=reviewed, reviewed_in_console=bool(console_day and reviewed == console_day
                                                        and console_day != entry.reviewed),
            answers=answers,
        )

    # ----------------------------------------------------------------- changes
    def edit(
        self, agent: AgentInfo, entry_id: str, variant: str, text: str, seen_edit: int
    ) -> int:
        """Store `text` as the answer (entry, variant) gives from now on; the change's id.

        `seen_edit` is the newest edit number the admin's form showed (0: none).
        """
        if not agent.is_admin:
            raise PermissionError("only admins edit answers")
        base = load_knowledge(self.directory)
        entry = base.entries.get(entry_id)
        yaml_text = entry.text(variant) if entry is not None else None
        if entry is None or yaml_text is None:
            raise KnowledgeEditError("There is no such answer in the knowledge. Nothing was saved.")
        cleaned = clean_answer(text)
        problems = placeholder_problems(base, cleaned)
        if problems:
            raise KnowledgeEditError(" ".join(problems) + " Nothing was saved.")
        now = self._now()
        try:
            with self._sessions() as session, session.begin():
                newest = session.execute(
                    select(func.max(KnowledgeChange.edit_number)).where(
                        KnowledgeChange.entry_id == entry_id, KnowledgeChange.variant == variant,
                        KnowledgeChange.action == EDITED)
                ).scalar_one() or 0
                if newest != seen_edit:
                    raise KnowledgeEditError(CHANGED_MEANWHILE)
                current = resolve_edits(base, latest_edits(session))
                before = squash(current.knowledge.entries[entry_id].text(variant).template)
                if before == cleaned:
                    raise KnowledgeEditError("The text is the same as the answer the bot gives "
                                             "now. Nothing was saved.")
                change = KnowledgeChange(
                    entry_id=entry_id, variant=variant, action=EDITED, edit_number=newest + 1,
                    file_text=squash(yaml_text.template), old_text=before, new_text=cleaned,
                    diff=sentence_diff(before, cleaned), agent_id=agent.id,
                    agent_name=agent.username, created_at=now,
                )
                session.add(change)
                session.flush()
                audit(session, action=KNOWLEDGE_EDITED, now=now, agent_id=agent.id,
                      target=f"{entry_id}:{variant or 'generic'}",
                      detail={"change": change.id, "edit_number": newest + 1})
                change_id = change.id
        except IntegrityError:  # another admin's save got this edit number first
            raise KnowledgeEditError(CHANGED_MEANWHILE) from None
        log.info("knowledge %s edited by agent %s (change %s)", entry_id, agent.id, change_id)
        return change_id

    def mark_reviewed(self, agent: AgentInfo, entry_id: str) -> int:
        """Record that `agent` reviewed the entry today; the change's id."""
        if not agent.is_admin:
            raise PermissionError("only admins review the knowledge")
        if entry_id not in load_knowledge(self.directory).entries:
            raise KnowledgeEditError("There is no such entry in the knowledge.")
        now = self._now()
        with self._sessions() as session, session.begin():
            change = KnowledgeChange(entry_id=entry_id, variant=GENERIC, action=REVIEWED,
                                     agent_id=agent.id, agent_name=agent.username,
                                     created_at=now)
            session.add(change)
            session.flush()
            audit(session, action=KNOWLEDGE_REVIEWED, now=now, agent_id=agent.id,
                  target=entry_id, detail={"change": change.id})
            change_id = change.id
        log.info("knowledge %s marked reviewed by agent %s", entry_id, agent.id)
        return change_id
