"""Answer texts admins edited in the console, applied over the YAML knowledge at run time.

Edits are rows of `knowledge_changes` (written by `bot.console.knowledge_desk`). The newest edit
of an (entry, variant) replaces the YAML's text only while the YAML still holds the text the edit
replaced (`file_text`):

* the YAML still holds `file_text`: the edit is APPLIED (the bot gives the new text);
* the YAML holds the edit's own text: it was exported (`helpdesk knowledge export`) and
  deployed, nothing left to apply (IN_YAML);
* the YAML holds something else (someone changed the file since): CONFLICT, the YAML wins and
  the console says so;
* the entry or its placeholders no longer resolve: MISSING or INVALID, the YAML wins.

Every process reading the knowledge (action server, web app) sees an edit at once: the stored
edits are checked on every load (one small query) and re-applied only when they changed. When
the database cannot be read, the YAML answers alone are given (and a warning logged).
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from dataclasses import dataclass, field

from sqlalchemy import and_, func, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from bot.knowledge.entries import KnowledgeBase, KnowledgeError, squash
from bot.models import KnowledgeChange

log = logging.getLogger(__name__)

EDITED, REVIEWED = "edited", "reviewed"
APPLIED, IN_YAML, CONFLICT, MISSING, INVALID = (
    "applied", "in_yaml", "conflict", "missing", "invalid"
)
_CACHE_SIZE = 8


@dataclass(frozen=True)
class StoredEdit:
    """The newest edit of one answer."""

    id: int
    entry_id: str
    variant: str
    edit_number: int
    file_text: str
    new_text: str


@dataclass(frozen=True)
class EditState:
    edit: StoredEdit
    status: str  # APPLIED, IN_YAML, CONFLICT, MISSING or INVALID
    problem: str = ""


@dataclass(frozen=True)
class CurrentKnowledge:
    """The knowledge the bot answers from, and what became of each answer's newest edit."""

    knowledge: KnowledgeBase
    states: dict[tuple[str, str], EditState] = field(default_factory=dict)


def latest_edits(session: Session) -> list[StoredEdit]:
    """The newest edit of every (entry, variant) that was ever edited."""
    newest = (
        select(KnowledgeChange.entry_id, KnowledgeChange.variant,
               func.max(KnowledgeChange.edit_number).label("number"))
        .where(KnowledgeChange.action == EDITED)
        .group_by(KnowledgeChange.entry_id, KnowledgeChange.variant)
        .subquery()
    )
    rows = session.execute(
        select(KnowledgeChange).join(newest, and_(
            KnowledgeChange.entry_id == newest.c.entry_id,
            KnowledgeChange.variant == newest.c.variant,
            KnowledgeChange.edit_number == newest.c.number,
        )).order_by(KnowledgeChange.id)
    ).scalars()
    return [StoredEdit(row.id, row.entry_id, row.variant, row.edit_number,
                       row.file_text or "", row.new_text or "") for row in rows]


def resolve_edits(base: KnowledgeBase, edits: list[StoredEdit]) -> CurrentKnowledge:
    """`base` with the edits that still apply, and the state of each (see the module doc)."""
    templates: dict[tuple[str, str], str] = {}
    states: dict[tuple[str, str], EditState] = {}
    for edit in edits:
        key = (edit.entry_id, edit.variant)
        entry = base.entries.get(edit.entry_id)
        text = entry.text(edit.variant) if entry is not None else None
        if text is None:
            states[key] = EditState(edit, MISSING, "The YAML no longer has this answer.")
            continue
        in_file = squash(text.template)
        if in_file == squash(edit.new_text):
            states[key] = EditState(edit, IN_YAML)
        elif in_file != squash(edit.file_text):
            states[key] = EditState(edit, CONFLICT, "The YAML text changed since this edit, "
                                    "so the bot gives the YAML's text.")
        else:
            try:
                base.check_template(edit.entry_id, edit.new_text)
            except KnowledgeError as error:
                states[key] = EditState(edit, INVALID, str(error))
                continue
            templates[key] = edit.new_text
            states[key] = EditState(edit, APPLIED)
    knowledge = base.with_texts(templates) if templates else base
    return CurrentKnowledge(knowledge, states)


_cache: OrderedDict[sessionmaker, tuple[KnowledgeBase, tuple[int, int], CurrentKnowledge]] = (
    OrderedDict()
)


def with_stored_edits(base: KnowledgeBase, sessions: sessionmaker) -> CurrentKnowledge:
    """`base` with the edits stored in the database `sessions` opens (cached until the YAML or
    the edits change)."""
    try:
        with sessions() as session:
            count, last = session.execute(
                select(func.count(KnowledgeChange.id), func.max(KnowledgeChange.id))
                .where(KnowledgeChange.action == EDITED)
            ).one()
            stamp = (count, last or 0)
            cached = _cache.get(sessions)
            if cached is not None and cached[0] is base and cached[1] == stamp:
                return cached[2]
            edits = latest_edits(session) if count else []
    except SQLAlchemyError as error:
        log.warning("edited answers not read, giving the YAML's: %s", type(error).__name__)
        return CurrentKnowledge(base)
    current = resolve_edits(base, edits)
    _cache[sessions] = (base, stamp, current)
    _cache.move_to_end(sessions)
    while len(_cache) > _CACHE_SIZE:
        _cache.popitem(last=False)
    return current
