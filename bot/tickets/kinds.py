"""What each request collects: the kinds in knowledge/tickets.yml and their fields, in order."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml

from bot.knowledge.entries import KNOWLEDGE_DIR

FIELD_TYPES = (
    "email", "phone", "name", "district", "school", "date", "user_name", "reference", "text",
    "account_choice",
)
CHOICE = "account_choice"  # one of the answers to the fields named in `of`


@dataclass(frozen=True)
class RequestField:
    name: str
    type: str
    label: str
    prompt: str
    optional: bool = False
    of: tuple[str, ...] = ()  # account_choice: the earlier fields it chooses between
    offered_with: str | None = None  # not asked alone: this field's question invites it


@dataclass(frozen=True)
class RequestKind:
    id: str
    title: str
    fields: tuple[RequestField, ...]
    ticket: bool = True  # False: the answers are looked up, nothing goes to the help desk
    confirm: bool = True  # read the facts back before acting on them
    offer_after_advice: bool = False  # give the documents' advice first; a ticket if it fails
    # The systems whose help desk takes this request; for the other one the bot only advises.
    systems: tuple[str, ...] = ("ese_portal", "massone")

    def applies_to(self, system: str) -> bool:
        """Whether the request is filed for an answer about `system` ("both": any)."""
        return system == "both" or system in self.systems

    def field(self, name: str) -> RequestField:
        return next(field for field in self.fields if field.name == name)

    def opening_facts(self) -> dict[str, str]:
        """The facts a new request starts with: those offered with another question are
        "not given" until the user gives them there, or adds them at the read-back."""
        return {field.name: "" for field in self.fields if field.offered_with}

    def offered_with(self, name: str) -> RequestField | None:
        """The field whose question also invites this other one ("Jo Doe, user name jdoe7")."""
        return next((field for field in self.fields if field.offered_with == name), None)

    def next_missing(self, facts: dict[str, str]) -> RequestField | None:
        """The first field without an answer (a skipped optional field counts as answered)."""
        return next((field for field in self.fields if field.name not in facts), None)

    def dependents(self, name: str) -> tuple[str, ...]:
        """The fields whose answer chooses among `name`'s (asked again when it changes)."""
        return tuple(field.name for field in self.fields if name in field.of)


def load_request_kinds(path: Path = KNOWLEDGE_DIR / "tickets.yml") -> dict[str, RequestKind]:
    """The kinds, re-read when the file changes (no restart needed to edit a prompt)."""
    return _load(path, path.stat().st_mtime_ns)


@lru_cache(maxsize=4)
def _load(path: Path, _mtime: int) -> dict[str, RequestKind]:
    with path.open(encoding="utf-8") as handle:
        raw = yaml.safe_load(handle)["kinds"]
    kinds = {}
    for kind_id, data in raw.items():
        fields = tuple(
            RequestField(**{**field, "of": tuple(field.get("of", ()))}) for field in data["fields"]
        )
        for position, field in enumerate(fields):
            where = f"tickets.yml: {kind_id}.{field.name}"
            if field.type not in FIELD_TYPES:
                raise ValueError(f"{where}: unknown type {field.type}")
            earlier = {other.name for other in fields[:position]}
            if (field.type == CHOICE) != bool(field.of) or not set(field.of) <= earlier:
                raise ValueError(f"{where}: an {CHOICE} names the earlier fields it chooses "
                                 "between in `of` (and only it has `of`)")
        kinds[kind_id] = RequestKind(
            id=kind_id, title=data["title"], fields=fields,
            ticket=data.get("ticket", True), confirm=data.get("confirm", True),
            offer_after_advice=data.get("offer_after_advice", False),
            systems=tuple(data.get("systems", ("ese_portal", "massone"))),
        )
    return kinds
