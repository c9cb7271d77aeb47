"""Attaching a group of unanswered messages to an FAQ (admins, from the console).

The group's rows are marked attached (which FAQ, by whom, when), its newest text is added as an
example of intent `faq/<id>` to `data/nlu/console_additions.yml` for the next training, and an
`audit_log` row records it. The file is valid Rasa NLU YAML, rewritten whole through a temporary
file and an atomic rename; an example already in any NLU file of its folder (compared on its
words, case ignored) is never added again. Text that Rasa would read as an entity annotation
("[x](y)") is defused with a space.
"""

from __future__ import annotations

import logging
import os
import re
import tempfile
import threading
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import yaml
from sqlalchemy import select
from sqlalchemy.orm import sessionmaker

from bot.console.agents import AgentInfo, audit
from bot.knowledge.entries import load_knowledge
from bot.mail.outbox import as_utc, utc_now
from bot.models import UnansweredMessage
from bot.settings import ROOT

log = logging.getLogger(__name__)

DEFAULT_ADDITIONS = ROOT / "data" / "nlu" / "console_additions.yml"
HEADER = (
    "# Written by the agents' console (/console/unanswered): questions the bot could not\n"
    "# answer, attached by an admin to an FAQ. Used by the next training. The console rewrites\n"
    "# this file whole: keep to intents with examples, comments are not kept.\n"
)
ATTACHED = "unanswered_attached"
MAX_EXAMPLE = 300
_ANNOTATION = re.compile(r"\[([^\]]*)\](?:\([^)]*\)|\{[^}]*\})")
_DEFUSE = re.compile(r"\](?=[(\[{])")
_LOCK = threading.Lock()  # one writer at a time in this process


class AttachError(ValueError):
    """The group cannot be attached; the message says why."""


@dataclass(frozen=True)
class Attachment:
    faq_id: str
    rows: int  # messages marked attached
    example: str  # the text added (or that would have been)
    added: bool  # False when it was already in the training data, or empty
    existing_intent: str | None = None  # where it already was


# ------------------------------------------------------------------------- the YAML file
def example_text(text: str) -> str:
    """A message as one line of a Rasa example: no control or format characters, single
    spaces, annotations defused, at most MAX_EXAMPLE characters."""
    kept = "".join(
        " " if unicodedata.category(char) in {"Cc", "Cf", "Cs", "Co", "Zl", "Zp"} else char
        for char in text
    )
    line = " ".join(kept.split())[:MAX_EXAMPLE].strip()
    return _DEFUSE.sub("] ", line)


def example_key(text: str) -> str:
    """What makes two examples the same: their words, case ignored (annotations removed)."""
    plain = _ANNOTATION.sub(r"\1", text)
    return " ".join(re.findall(r"[^\W_]+", plain.casefold()))


def _intent_examples(path: Path) -> dict[str, list[str]]:
    """intent -> examples of one Rasa NLU YAML file (other items ignored)."""
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    found: dict[str, list[str]] = {}
    for item in data.get("nlu") or []:
        if isinstance(item, dict) and "intent" in item:
            lines = str(item.get("examples") or "").splitlines()
            found.setdefault(str(item["intent"]), []).extend(
                line.strip()[2:].strip() for line in lines if line.strip().startswith("- ")
            )
    return found


def read_additions(path: Path) -> dict[str, list[str]]:
    """The console's file as intent -> examples; {} when it does not exist yet.

    Anything else in it (synonyms, regexes...) would be lost on rewriting: refused.
    """
    if not path.exists():
        return {}
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    items = data.get("nlu") or []
    if not isinstance(items, list) or any(
        not isinstance(item, dict) or set(item) != {"intent", "examples"} for item in items
    ):
        raise AttachError(f"{path.name} holds more than intents with examples: fix it by hand")
    return _intent_examples(path)


def render_additions(additions: dict[str, list[str]]) -> str:
    """The file's text: the header, then each intent's examples as a literal block."""
    parts = [HEADER, 'version: "3.1"\n', "nlu:\n"]
    for intent, examples in additions.items():
        parts.append(f"- intent: {intent}\n  examples: |\n")
        parts.extend(f"    - {example}\n" for example in examples)
    return "".join(parts)


def _write_atomically(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            file.write(text)
            file.flush()
            os.fsync(file.fileno())
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def add_example(path: Path, intent: str, text: str) -> tuple[bool, str | None]:
    """Add `text` to `intent` in the file at `path` unless an NLU file of the same folder
    already has it: (added, the intent that already had it)."""
    key = example_key(text)
    with _LOCK:
        additions = read_additions(path)
        for other in sorted(path.parent.glob("*.yml")):
            known = additions if other == path else _intent_examples(other)
            for name, examples in known.items():
                if any(example_key(example) == key for example in examples):
                    return False, name
        additions.setdefault(intent, []).append(text)
        _write_atomically(path, render_additions(additions))
    return True, None


# ------------------------------------------------------------------------- attaching
class FaqAttacher:
    """Attaches unanswered groups to FAQ entries (admins only)."""

    def __init__(
        self, sessions: sessionmaker, additions: Path = DEFAULT_ADDITIONS,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._sessions = sessions
        self.additions = additions
        self._clock = clock

    def attach(self, agent: AgentInfo, normalised: str, faq_id: str) -> Attachment:
        """Mark every unattached message of the group attached to `faq_id` and add the
        group's newest text as a training example."""
        if not agent.is_admin:
            raise PermissionError("only admins attach questions to the FAQ")
        if faq_id not in load_knowledge().faq_ids():
            raise AttachError(f"There is no FAQ {faq_id!r}.")
        now = as_utc(self._clock())
        with self._sessions() as session, session.begin():
            rows = session.execute(
                select(UnansweredMessage)
                .where(UnansweredMessage.normalised == normalised,
                       UnansweredMessage.attached_faq_id.is_(None))
                .order_by(UnansweredMessage.created_at.desc(), UnansweredMessage.id.desc())
                .with_for_update()
            ).scalars().all()
            if not rows:
                raise AttachError("These questions are no longer waiting: "
                                  "someone attached them already.")
            example = example_text(rows[0].text)
            added, existing = False, None
            if example_key(example):
                added, existing = add_example(self.additions, f"faq/{faq_id}", example)
            for row in rows:
                row.attached_faq_id = faq_id
                row.attached_by = agent.id
                row.attached_at = now
            audit(session, action=ATTACHED, now=now, agent_id=agent.id, target=f"faq/{faq_id}",
                  detail={"normalised": normalised, "rows": len(rows), "example": example,
                          "example_added": added, "already_in": existing})
        log.info("unanswered group attached to faq %s by agent %s: rows=%d added=%s",
                 faq_id, agent.id, len(rows), added)
        return Attachment(faq_id, len(rows), example, added, existing)
