"""What one user message is (as the NLU model read it) and what the bot does with it.

Plain data, built from Rasa's parse result and slots by the actions, so the decisions in
bot/dialogue are tested without Rasa.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Parsed:
    """A user message and the NLU model's reading of it."""

    text: str
    intent: str
    confidence: float = 1.0
    intents: tuple[tuple[str, float], ...] = ()  # the ranking, best first
    faqs: tuple[tuple[str, float], ...] = ()  # the ResponseSelector's FAQ ranking, best first
    entities: tuple[dict[str, Any], ...] = ()
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def from_rasa(cls, message: dict[str, Any]) -> Parsed:
        """From `tracker.latest_message` (or a `/model/parse` result)."""
        intent = message.get("intent") or {}
        ranking = tuple(
            (str(item.get("name")), float(item.get("confidence") or 0.0))
            for item in message.get("intent_ranking") or []
        )
        selector = (message.get("response_selector") or {}).get("faq") or {}
        faqs = tuple(
            (str(item.get("intent_response_key", "")).split("/", 1)[-1],
             float(item.get("confidence") or 0.0))
            for item in selector.get("ranking") or []
        )
        return cls(
            text=str(message.get("text") or ""),
            intent=str(intent.get("name") or "nlu_fallback"),
            confidence=float(intent.get("confidence") or 0.0),
            intents=ranking,
            faqs=faqs,
            entities=tuple(message.get("entities") or ()),
            raw=message,
        )

    @property
    def is_button(self) -> bool:
        """A button payload ("/affirm", '/choose_system{"system": "massone"}')."""
        return self.text.startswith("/")

    def values(self, entity: str) -> list[str]:
        return [str(e["value"]) for e in self.entities if e.get("entity") == entity
                and e.get("value")]


@dataclass(frozen=True)
class State:
    """What the conversation holds between messages (Rasa slots)."""

    system: str | None = None
    pending_question: str | None = None  # the entry waiting for "which system?"
    offered_request: str | None = None  # the request kind waiting for "did that solve it?"
    last_answer: str | None = None  # the entry answered last (for "and for massone?")
    last_flow: str | None = None  # the recovery flow finished last (for "send it again")
    misses: int = 0  # messages not understood in a row

    @classmethod
    def from_slots(cls, slots: dict[str, Any]) -> State:
        return cls(
            system=slots.get("system"),
            pending_question=slots.get("pending_question"),
            offered_request=slots.get("offered_request"),
            last_answer=slots.get("last_answer"),
            last_flow=slots.get("last_flow"),
            misses=int(slots.get("misses") or 0),
        )


@dataclass
class Reply:
    """One bot message: a text from knowledge/, a domain response, or a source payload."""

    text: str | None = None
    response: str | None = None
    buttons: list[dict[str, str]] = field(default_factory=list)
    custom: dict[str, Any] | None = None


@dataclass
class Turn:
    """Everything the bot does with one message outside a form."""

    replies: list[Reply] = field(default_factory=list)
    slots: dict[str, Any] = field(default_factory=dict)
    form: str | None = None  # a recovery form to open (username_form, password_form)
    form_slots: dict[str, str] = field(default_factory=dict)  # what it already knows
    request: str | None = None  # a request kind to open (knowledge/tickets.yml)
    request_facts: dict[str, str] = field(default_factory=dict)
    admins_of: str | None = None  # a district whose Directory Administrators to give
    outcome: str | None = None  # for the statistics: "answered" or "fallback"
    unanswered: str | None = None  # the text to keep as not understood
    live_chat: bool = False  # hand the conversation to a person now (bot.live)

    def say(self, text: str | None = None, **reply: Any) -> Turn:
        self.replies.append(Reply(text=text, **reply))
        return self
