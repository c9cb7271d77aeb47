"""Which of the two systems a message means, however it is said.

"elar", "the DESE one", "masone", "mass 1", "the first one", "the one where I renew my license",
"it's my ESE account, not MassONE", "both". Names come from knowledge/sources.yml (the same list
the spaCy entity ruler is built from); typos of them are matched by similarity; what a system is
used for ("my license", "my class") points to it too.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
from typing import Any

from bot.dialogue.reading import words
from bot.knowledge.entries import SYSTEMS, KnowledgeBase

BOTH = "both"
SYSTEM_ENTITIES = ("system", "application", "term")
# What people use each system for, when they describe it instead of naming it.
PURPOSES = {
    "ese_portal": frozenset(
        "license licence licenses licensure licensing renew renewal educator elar sims mdcs "
        "dropbox epims portal dese ese doe security".split()
    ),
    "massone": frozenset(
        "class classes classroom students student workgroup workgroups teaching folder "
        "homework massone".split()
    ),
}
_FIRST = frozenset("first 1st top former upper".split())
_SECOND = frozenset("second 2nd last latter bottom lower".split())
_BOTH = re.compile(r"\b(both|each|either|all of them|the two of them|two of them)\b")
_NEGATED = re.compile(r"\b(?:not|isn'?t|no|never)\s+(?:the\s+|my\s+|a\s+)?$")
# A system named as a guess: "... Edwin Analytics says my password is wrong. Is that a massone
# thing?" - the application named is the fact, the system asked about a guess.
_GUESSED = re.compile(r"\b(?:is (?:that|this|it)|or(?: is it)?)\s+(?:an?\s+|the\s+|my\s+)?$")
SIMILAR = 0.84


def mentioned_systems(entities: Iterable[dict[str, Any]], kb: KnowledgeBase) -> set[str]:
    """Every system the message's entities name (by name, application or term)."""
    found = {
        kb.system_of_mention(str(entity.get("value", "")))
        for entity in entities
        if entity.get("entity") in SYSTEM_ENTITIES
    }
    found.discard(None)
    return found  # type: ignore[return-value]


def affirmed_systems(text: str, entities: list[dict[str, Any]], kb: KnowledgeBase) -> set[str]:
    """The systems named and not negated ("my ESE account, not MassONE" -> ESE only); a system
    only guessed at in a question ("is that a massone thing?") counts when nothing else is
    named."""
    kept, guessed = set(), set()
    for entity in entities:
        if entity.get("entity") not in SYSTEM_ENTITIES:
            continue
        system = kb.system_of_mention(str(entity.get("value", "")))
        start = entity.get("start")
        before = text[:start].lower() if isinstance(start, int) else ""
        if not system or _NEGATED.search(before):
            continue
        (guessed if _GUESSED.search(before) else kept).add(system)
    return kept or guessed or mentioned_systems(entities, kb)


def _typed_names(kb: KnowledgeBase) -> dict[str, str]:
    names = {}
    for system, by_label in kb.mention_names().items():
        for name in [system, kb.system_name(system), *sum(by_label.values(), [])]:
            key = " ".join(words(name))
            if len(key) >= 4:
                names[key] = system
    return names


def _fuzzy(found: list[str], kb: KnowledgeBase) -> set[str]:
    """Systems whose names match one or two words of the text closely ("masone", "mass 1")."""
    names = _typed_names(kb)
    candidates = set(found) | {f"{a} {b}" for a, b in zip(found, found[1:], strict=False)}
    hits = set()
    for candidate in candidates:
        if len(candidate) < 4:
            continue
        if candidate in names:
            hits.add(names[candidate])
            continue
        close = difflib.get_close_matches(candidate, list(names), n=1, cutoff=SIMILAR)
        if close:
            hits.add(names[close[0]])
    return hits


def chosen_system(
    text: str, entities: list[dict[str, Any]], kb: KnowledgeBase,
    order: tuple[str, ...] = SYSTEMS,
) -> str | None:
    """The system a reply to "which system?" chooses, BOTH, or None if it does not say.

    `order` is the order the buttons were shown in ("the first one").
    """
    found = words(text)
    named = affirmed_systems(text, entities, kb) or _fuzzy(found, kb)
    if len(named) == 1:
        return named.pop()
    if _BOTH.search(" ".join(found)):
        return BOTH
    if named:
        return None
    described = {system for system, hints in PURPOSES.items() if hints & set(found)}
    if len(described) == 1:
        return described.pop()
    first, second = bool(set(found) & _FIRST), bool(set(found) & _SECOND)
    if first != second:
        return order[0] if first else order[1]
    return None
