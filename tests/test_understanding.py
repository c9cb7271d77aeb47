"""How a parsed message is decided, including Rasa's retrieval-intent confidence trap."""

from __future__ import annotations

from typing import Any

import pytest

from bot.knowledge.entries import KnowledgeBase
from bot.nlu.understanding import mentioned_system, understand


def parse(intent: str, confidence: float, faq: str | None = None, faq_confidence: float = 0.0):
    message: dict[str, Any] = {"intent": {"name": intent, "confidence": confidence}}
    if faq:
        message["response_selector"] = {
            "faq": {"response": {"intent_response_key": f"faq/{faq}", "confidence": faq_confidence}}
        }
    return message


def test_confident_faq_is_answered(kb: KnowledgeBase) -> None:
    understood = understand(parse("faq", 0.97, "massone_cost", 0.93), kb)
    assert (understood.kind, understood.answer_id) == ("faq", "massone_cost")


def test_confident_retrieval_intent_with_unsure_faq_falls_back(kb: KnowledgeBase) -> None:
    understood = understand(parse("faq", 0.99, "massone_cost", 0.21), kb)
    assert understood.kind == "fallback" and understood.answer_id is None


@pytest.mark.parametrize("intent", ["nlu_fallback", "out_of_scope"])
def test_fallback_intents(kb: KnowledgeBase, intent: str) -> None:
    assert understand(parse(intent, 0.9), kb).kind == "fallback"


def test_flows_and_conversation(kb: KnowledgeBase) -> None:
    assert understand(parse("forgot_password", 0.9), kb).answer_id == "forgot_password"
    assert understand(parse("greet", 0.9), kb).kind == "other"


def test_unknown_faq_key_falls_back(kb: KnowledgeBase) -> None:
    assert understand(parse("faq", 0.9, "lunch_menu", 0.99), kb).kind == "fallback"


def test_a_message_naming_both_systems_names_neither(kb: KnowledgeBase) -> None:
    massone = {"entity": "system", "value": "MassONE"}
    elar = {"entity": "application", "value": "ELAR"}
    assert mentioned_system([massone], kb) == "massone"
    assert mentioned_system([elar], kb) == "ese_portal"
    assert mentioned_system([massone, elar], kb) is None
    assert mentioned_system([{"entity": "district", "value": "MassONE"}], kb) is None
