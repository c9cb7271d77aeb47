"""Writing the console's knowledge changes back to `knowledge/*.yml`, for review in version
control (`helpdesk knowledge export`).

Only the lines that change are touched: an edited answer's `answer:` block is rewritten as a
folded block (`answer: >-`, wrapped at 100 columns), a review date goes into the entry's
`reviewed:` line (added after `question:` when missing). Comments, order and the layout of
everything else stay as they were. Each file is checked before it is replaced: parsed again, it
must hold exactly the new texts and dates, and the whole knowledge must still load; a file is
replaced whole (temporary file and rename), never half-written.

Edits whose answer changed in the YAML since (a conflict) are not written: the report names
them for a person to settle.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import textwrap
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import yaml
from sqlalchemy import func, select
from sqlalchemy.orm import sessionmaker

from bot.knowledge.entries import (
    FAQ_FILES,
    FLOW_FILES,
    GENERIC,
    KNOWLEDGE_DIR,
    KnowledgeBase,
    KnowledgeError,
)
from bot.knowledge.overrides import APPLIED, CONFLICT, INVALID, MISSING, latest_edits, resolve_edits
from bot.mail.outbox import as_utc
from bot.models import KnowledgeChange
from bot.tickets.business_hours import HELP_DESK

WIDTH = 100
_ITEM = re.compile(r"^(?P<indent> *)- id: *(?P<id>[A-Za-z0-9_]+) *$")


class ExportError(RuntimeError):
    """The YAML could not be changed safely; nothing was written to that file."""


@dataclass(frozen=True)
class Written:
    file: str
    entry_id: str
    what: str  # "answer" (with the variant) or "reviewed YYYY-MM-DD"


@dataclass
class ExportReport:
    written: list[Written] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # sentences, one per edit not written


# ------------------------------------------------------------------------- line surgery
def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _value_end(lines: list[str], key_line: int, end: int) -> int:
    """The line after the value of the key on `key_line` (its continuation lines)."""
    own = _indent(lines[key_line])
    position = key_line + 1
    while position < end and (not lines[position].strip() or _indent(lines[position]) > own):
        position += 1
    while position > key_line + 1 and not lines[position - 1].strip():
        position -= 1  # blank lines after the value separate it from what follows
    return position


def _find_key(lines: list[str], start: int, end: int, indent: int, key: str) -> int | None:
    pattern = re.compile(rf"^ {{{indent}}}{re.escape(key)}:(?: |$)")
    for position in range(start, end):
        if pattern.match(lines[position]):
            return position
    return None


def entry_block(lines: list[str], entry_id: str) -> tuple[int, int, int] | None:
    """(first line, line after the last, indent of its keys) of the entry, or None."""
    for position, line in enumerate(lines):
        match = _ITEM.match(line)
        if match is None or match["id"] != entry_id:
            continue
        keys = len(match["indent"]) + 2
        end = position + 1
        while end < len(lines):
            text = lines[end]
            if text.strip() and not text.lstrip().startswith("#") and _indent(text) < keys:
                break
            end += 1
        return position, end, keys
    return None


def answer_lines(indent: int, text: str) -> list[str]:
    """`answer: >-` and the text folded at WIDTH columns (never at a hyphen, which folding
    would turn into "e- mail")."""
    body = textwrap.wrap(text, width=WIDTH - indent - 2, break_long_words=False,
                         break_on_hyphens=False)
    return [" " * indent + "answer: >-"] + [" " * (indent + 2) + line for line in body]


def replace_answer(lines: list[str], entry_id: str, variant: str, text: str) -> list[str]:
    """`lines` with the answer of (entry, variant) replaced by `text`."""
    block = entry_block(lines, entry_id)
    if block is None:
        raise ExportError(f"{entry_id}: not found")
    start, end, keys = block
    if variant == GENERIC:
        key_line, indent = _find_key(lines, start + 1, end, keys, "answer"), keys
    else:
        variants = _find_key(lines, start + 1, end, keys, "variants")
        if variants is None:
            raise ExportError(f"{entry_id}: no variants")
        variants_end = _value_end(lines, variants, end)
        own = _find_key(lines, variants + 1, variants_end, keys + 2, variant)
        if own is None:
            raise ExportError(f"{entry_id}: no variant {variant}")
        key_line = _find_key(lines, own + 1, _value_end(lines, own, variants_end), keys + 4,
                             "answer")
        indent = keys + 4
    if key_line is None:
        raise ExportError(f"{entry_id}: no answer for {variant or 'every system'}")
    return lines[:key_line] + answer_lines(indent, text) + lines[_value_end(lines, key_line, end):]


def set_reviewed(lines: list[str], entry_id: str, day: date) -> list[str]:
    """`lines` with the entry's `reviewed:` set to `day` (added after `question:`)."""
    block = entry_block(lines, entry_id)
    if block is None:
        raise ExportError(f"{entry_id}: not found")
    start, end, keys = block
    new_line = f"{' ' * keys}reviewed: {day.isoformat()}"
    existing = _find_key(lines, start + 1, end, keys, "reviewed")
    if existing is not None:
        return lines[:existing] + [new_line] + lines[_value_end(lines, existing, end):]
    question = _find_key(lines, start + 1, end, keys, "question")
    after = _value_end(lines, question, end) if question is not None else start + 1
    return lines[:after] + [new_line] + lines[after:]


# ------------------------------------------------------------------------- export
def _file_of(directory: Path, entry_id: str) -> Path | None:
    for name in (*FAQ_FILES, *FLOW_FILES):
        path = directory / name
        if entry_block(path.read_text(encoding="utf-8").splitlines(), entry_id) is not None:
            return path
    return None


def _check(text: str, entry_id: str, answers: dict[str, str], reviewed: date | None) -> None:
    """The changed file's entry must read back as intended."""
    data = yaml.safe_load(text)
    entry = next((e for e in data["entries"] if e.get("id") == entry_id), None)
    if entry is None:
        raise ExportError(f"{entry_id}: lost while writing")
    for variant, answer in answers.items():
        written = entry if variant == GENERIC else (entry.get("variants") or {}).get(variant, {})
        if written.get("answer") != answer:
            raise ExportError(f"{entry_id}: the {variant or 'generic'} answer did not read back")
    if reviewed is not None and entry.get("reviewed") != reviewed:
        raise ExportError(f"{entry_id}: the review date did not read back")


def _write_atomically(path: Path, text: str) -> None:
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            file.write(text)
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def export_changes(sessions: sessionmaker, directory: Path = KNOWLEDGE_DIR) -> ExportReport:
    """Write the edits that apply, and review dates newer than the YAML's, to `directory`."""
    base = KnowledgeBase(directory)
    with sessions() as session:
        current = resolve_edits(base, latest_edits(session))
        last_changes = session.execute(
            select(KnowledgeChange.entry_id, func.max(KnowledgeChange.created_at))
            .group_by(KnowledgeChange.entry_id)
        ).all()
    report = ExportReport()
    answers: dict[str, dict[str, str]] = {}
    for (entry_id, variant), state in current.states.items():
        if state.status == APPLIED:
            answers.setdefault(entry_id, {})[variant] = state.edit.new_text
        elif state.status in (CONFLICT, MISSING, INVALID):
            report.skipped.append(f"{entry_id} ({variant or 'generic'}): {state.problem} "
                                  "Edit it again in the console, or settle it in the YAML.")
    reviews: dict[str, date] = {}
    for entry_id, moment in last_changes:
        entry = base.entries.get(entry_id)
        day = HELP_DESK.local(as_utc(moment)).date()
        if entry is not None and (entry.reviewed is None or entry.reviewed < day):
            reviews[entry_id] = day

    changed: dict[Path, str] = {}
    for entry_id in sorted(set(answers) | set(reviews)):
        path = _file_of(directory, entry_id)
        if path is None:
            report.skipped.append(f"{entry_id}: not found in the YAML files.")
            continue
        lines = changed.get(path, path.read_text(encoding="utf-8")).splitlines()
        for variant, text in answers.get(entry_id, {}).items():
            lines = replace_answer(lines, entry_id, variant, text)
            report.written.append(Written(path.name, entry_id,
                                          f"answer ({variant or 'generic'})"))
        if entry_id in reviews:
            lines = set_reviewed(lines, entry_id, reviews[entry_id])
            report.written.append(Written(path.name, entry_id,
                                          f"reviewed {reviews[entry_id].isoformat()}"))
        text = "\n".join(lines) + "\n"
        _check(text, entry_id, answers.get(entry_id, {}), reviews.get(entry_id))
        changed[path] = text
    if changed:
        _check_whole(directory, changed)
    for path, text in changed.items():
        _write_atomically(path, text)
    return report


def _check_whole(directory: Path, changed: dict[Path, str]) -> None:
    """The knowledge must load with the changed files (in a scratch copy of `directory`)."""
    with tempfile.TemporaryDirectory(prefix="knowledge-export-") as scratch:
        copy = Path(scratch) / "knowledge"
        shutil.copytree(directory, copy, ignore=shutil.ignore_patterns("documents"))
        for path, text in changed.items():
            (copy / path.name).write_text(text, encoding="utf-8")
        try:
            KnowledgeBase(copy)
        except KnowledgeError as error:
            raise ExportError(f"the knowledge would not load: {error}") from None
